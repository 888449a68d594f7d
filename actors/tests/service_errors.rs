//! The service runner under stress and bad input: overload, deadlines, oversized and
//! undecodable bodies, requests without a reply subject, panics, and drain on shutdown.
#![cfg(feature = "service")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use async_nats::HeaderMap;
use bytes::Bytes;
use ores_actors::nats::{NatsError, RequestOptions, Subject};
use ores_actors::service::{Service, ServiceError, State};
use ores_testkit::TestKit;
use tokio::sync::{Semaphore, mpsc};

const WAIT: Duration = Duration::from_secs(5);

/// What a gated handler shares with the test: it reports entering, then waits for a permit.
#[derive(Clone)]
struct Gate {
    entered: mpsc::UnboundedSender<()>,
    open: Arc<Semaphore>,
}

fn gate() -> (Gate, mpsc::UnboundedReceiver<()>) {
    let (entered, rx) = mpsc::unbounded_channel();
    (
        Gate {
            entered,
            open: Arc::new(Semaphore::new(0)),
        },
        rx,
    )
}

async fn gated(State(gate): State<Gate>, n: u32) -> Result<u32, ServiceError> {
    let _ = gate.entered.send(());
    let permit = gate
        .open
        .acquire()
        .await
        .map_err(|e| ServiceError::internal(e.to_string()))?;
    permit.forget();
    Ok(n)
}

/// Sends `n` as a msgpack request with a plain client and returns the reply.
async fn raw_request(client: &async_nats::Client, subject: String, n: u32) -> async_nats::Message {
    client
        .request(subject, rmp_serde::to_vec(&n).unwrap().into())
        .await
        .unwrap()
}

fn error_code(msg: &async_nats::Message) -> Option<String> {
    msg.headers
        .as_ref()
        .and_then(|h| h.get("Nats-Service-Error-Code"))
        .map(|v| v.as_str().to_string())
}

#[ores_testkit::test]
async fn past_the_in_flight_bound_requests_get_503_at_once(kit: TestKit) -> anyhow::Result<()> {
    let (gate, mut entered) = gate();
    let open = Arc::clone(&gate.open);
    kit.service(
        Service::with_state("ores.gate.service", "1.0.0", gate)
            .max_in_flight(2)
            .handle("gate.v1.work.run", gated),
    )
    .await?;
    let client = async_nats::connect(kit.nats_url()).await?;
    let subject = format!("{}.gate.v1.work.run", kit.subject_prefix());
    let held: Vec<_> = (0..2)
        .map(|n| {
            let client = client.clone();
            let subject = subject.clone();
            tokio::spawn(async move { raw_request(&client, subject, n).await })
        })
        .collect();
    for _ in 0..2 {
        tokio::time::timeout(WAIT, entered.recv()).await?;
    }
    // Both slots are taken: the third is refused at once, without waiting for them.
    let refused = tokio::time::timeout(WAIT, raw_request(&client, subject.clone(), 9)).await?;
    assert_eq!(error_code(&refused).as_deref(), Some("503"));
    assert!(refused.payload.is_empty());
    open.add_permits(2);
    for task in held {
        let reply = task.await?;
        assert_eq!(error_code(&reply), None);
    }
    // Slots are given back: it serves again.
    open.add_permits(1);
    let ok = raw_request(&client, subject, 7).await;
    assert_eq!(rmp_serde::from_slice::<u32>(&ok.payload)?, 7);
    Ok(())
}

/// Signals when the handler's future is dropped (cancelled).
struct OnDrop(Cancelled);

impl Drop for OnDrop {
    fn drop(&mut self) {
        let _ = self.0.send(());
    }
}

type Cancelled = mpsc::UnboundedSender<()>;

async fn forever(State(cancelled): State<Cancelled>, _req: ()) -> Result<(), ServiceError> {
    let _guard = OnDrop(cancelled);
    std::future::pending::<()>().await;
    Ok(())
}

#[ores_testkit::test]
async fn past_the_deadline_the_caller_gets_504_and_the_handler_is_cancelled(
    kit: TestKit,
) -> anyhow::Result<()> {
    let (cancelled, mut rx) = mpsc::unbounded_channel();
    kit.service(
        Service::with_state("ores.slow.service", "1.0.0", cancelled)
            .deadline(Duration::from_millis(200))
            .handle("slow.v1.work.run", forever),
    )
    .await?;
    let nats = kit.nats().await?;
    let err = nats
        .request::<_, ()>(&Subject::new("slow.v1.work.run")?, &())
        .await
        .unwrap_err();
    match &err {
        NatsError::Remote { code, message, .. } => {
            assert_eq!(code.as_deref(), Some("504"), "{err}");
            assert!(message.contains("deadline"), "{message}");
        }
        other => panic!("expected 504, got {other:?}"),
    }
    tokio::time::timeout(WAIT, rx.recv()).await?;
    Ok(())
}

#[ores_testkit::test]
async fn the_callers_deadline_wins_when_shorter(kit: TestKit) -> anyhow::Result<()> {
    let (cancelled, mut rx) = mpsc::unbounded_channel();
    // The service would wait 30 s; the caller gives 300 ms, sent as X-Timeout-Ms.
    kit.service(
        Service::with_state("ores.slow.service", "1.0.0", cancelled)
            .handle("slow.v1.work.run", forever),
    )
    .await?;
    let client = async_nats::connect(kit.nats_url()).await?;
    let mut headers = HeaderMap::new();
    headers.insert("X-Timeout-Ms", "300");
    let request = async_nats::Request::new()
        .headers(headers)
        .payload(rmp_serde::to_vec(&())?.into())
        .timeout(Some(WAIT));
    let reply = client
        .send_request(
            format!("{}.slow.v1.work.run", kit.subject_prefix()),
            request,
        )
        .await?;
    assert_eq!(error_code(&reply).as_deref(), Some("504"));
    tokio::time::timeout(WAIT, rx.recv()).await?;

    // The typed client sends its own timeout the same way: when it gives up, so does the
    // handler.
    let nats = kit.nats().await?;
    let err = nats
        .request_with::<_, ()>(
            &Subject::new("slow.v1.work.run")?,
            &(),
            RequestOptions::default().timeout(Duration::from_millis(300)),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, NatsError::Timeout { .. } | NatsError::Remote { .. }),
        "{err:?}"
    );
    tokio::time::timeout(WAIT, rx.recv()).await?;
    Ok(())
}

async fn size(body: Vec<u8>) -> Result<usize, ServiceError> {
    Ok(body.len())
}

#[ores_testkit::test]
async fn oversized_undecodable_and_replyless_requests(kit: TestKit) -> anyhow::Result<()> {
    let handle = kit
        .service(
            Service::builder("ores.size.service", "1.0.0")
                .max_payload(64)
                .handle("size.v1.body.measure", size),
        )
        .await?;
    let client = async_nats::connect(kit.nats_url()).await?;
    let subject = format!("{}.size.v1.body.measure", kit.subject_prefix());

    let ok = client
        .request(subject.clone(), rmp_serde::to_vec(&vec![1u8; 10])?.into())
        .await?;
    assert_eq!(rmp_serde::from_slice::<usize>(&ok.payload)?, 10);

    let big = client
        .request(subject.clone(), Bytes::from(vec![0u8; 100]))
        .await?;
    assert_eq!(error_code(&big).as_deref(), Some("413"));
    let text = big
        .headers
        .as_ref()
        .unwrap()
        .get("Nats-Service-Error")
        .unwrap()
        .as_str()
        .to_string();
    assert!(text.contains("100 bytes") && text.contains("64"), "{text}");

    let corrupt = client
        .request(subject.clone(), Bytes::from_static(b"\xc1"))
        .await?;
    assert_eq!(error_code(&corrupt).as_deref(), Some("400"));

    let mut gz = HeaderMap::new();
    gz.insert("X-Content-Encoding", "gzip");
    let corrupt_gzip = client
        .send_request(
            subject.clone(),
            async_nats::Request::new()
                .headers(gz)
                .payload(Bytes::from_static(b"not gzip")),
        )
        .await?;
    assert_eq!(error_code(&corrupt_gzip).as_deref(), Some("400"));

    // No reply subject: nothing to answer; dropped and counted.
    client
        .publish(subject.clone(), rmp_serde::to_vec(&vec![1u8])?.into())
        .await?;
    client.flush().await?;
    tokio::time::timeout(WAIT, async {
        while handle.dropped() == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await?;
    let stats = handle.stats();
    assert_eq!(stats.endpoints[0].num_requests, 5);
    assert_eq!(stats.endpoints[0].num_errors, 4);
    Ok(())
}

async fn fragile(n: u32) -> Result<u32, ServiceError> {
    if n == 0 {
        panic!("zero is not allowed here");
    }
    Ok(n)
}

#[ores_testkit::test]
async fn a_panic_answers_500_and_the_service_keeps_serving(kit: TestKit) -> anyhow::Result<()> {
    let handle = kit
        .service(
            Service::builder("ores.fragile.service", "1.0.0").handle("fragile.v1.n.get", fragile),
        )
        .await?;
    let nats = kit.nats().await?;
    let subject = Subject::new("fragile.v1.n.get")?;
    let err = nats.request::<_, u32>(&subject, &0u32).await.unwrap_err();
    match &err {
        NatsError::Remote { code, message, .. } => {
            assert_eq!(code.as_deref(), Some("500"));
            assert!(message.contains("zero is not allowed here"), "{message}");
        }
        other => panic!("expected 500, got {other:?}"),
    }
    assert_eq!(nats.request::<_, u32>(&subject, &5u32).await?, 5);
    let stats = handle.stats();
    assert_eq!(stats.endpoints[0].num_requests, 2);
    assert_eq!(stats.endpoints[0].num_errors, 1);
    assert!(stats.endpoints[0].last_error.starts_with("500:"));
    Ok(())
}

#[ores_testkit::test]
async fn more_panics_than_the_intensity_restart_the_service(kit: TestKit) -> anyhow::Result<()> {
    let mut supervision = kit.supervision();
    let handle = kit
        .service(
            Service::builder("ores.fragile.service", "1.0.0")
                .panic_intensity(1, Duration::from_secs(60))
                .handle("fragile.v1.n.get", fragile),
        )
        .await?;
    let nats = kit.nats().await?;
    let subject = Subject::new("fragile.v1.n.get")?;
    for _ in 0..2 {
        let err = nats.request::<_, u32>(&subject, &0u32).await.unwrap_err();
        assert!(
            matches!(&err, NatsError::Remote { code: Some(c), .. } if c == "500"),
            "{err:?}"
        );
    }
    supervision.expect_restart("ores.fragile.service").await?;
    handle.wait_ready(WAIT).await?;
    assert_eq!(nats.request::<_, u32>(&subject, &3u32).await?, 3);
    Ok(())
}

#[ores_testkit::test]
async fn stopping_drains_the_requests_in_flight(kit: TestKit) -> anyhow::Result<()> {
    let (gate, mut entered) = gate();
    let open = Arc::clone(&gate.open);
    let handle = kit
        .service(
            Service::with_state("ores.gate.service", "1.0.0", gate)
                .drain_timeout(Duration::from_secs(10))
                .handle("gate.v1.work.run", gated),
        )
        .await?;
    let client = async_nats::connect(kit.nats_url()).await?;
    let subject = format!("{}.gate.v1.work.run", kit.subject_prefix());
    let accepted: Vec<_> = (0..3)
        .map(|n| {
            let client = client.clone();
            let subject = subject.clone();
            tokio::spawn(async move { raw_request(&client, subject, n).await })
        })
        .collect();
    for _ in 0..3 {
        tokio::time::timeout(WAIT, entered.recv()).await?;
    }
    // Stop the service while three requests are in flight.
    let tree = kit.tree().clone();
    let stopping = tokio::spawn(async move { tree.terminate_child("ores.gate.service").await });
    handle.wait_not_ready(WAIT).await?;
    // It no longer accepts new requests...
    let refused = client
        .request(subject.clone(), rmp_serde::to_vec(&9u32)?.into())
        .await;
    assert!(
        matches!(&refused, Err(e) if e.kind() == async_nats::RequestErrorKind::NoResponders),
        "{refused:?}"
    );
    // ...but answers every one it accepted before stopping.
    open.add_permits(3);
    let mut answers = Vec::new();
    for task in accepted {
        let reply = task.await?;
        assert_eq!(error_code(&reply), None);
        answers.push(rmp_serde::from_slice::<u32>(&reply.payload)?);
    }
    answers.sort_unstable();
    assert_eq!(answers, [0, 1, 2]);
    tokio::time::timeout(WAIT, stopping).await???;
    Ok(())
}
