//! The typed client API against the machine's NATS, each test under its own prefix.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use futures::StreamExt;
use ores_actors::nats::{
    Codec, ConnectionEvent, Gather, Nats, NatsConfig, NatsError, RequestHeaders, RequestOptions,
    Subject, SubjectPattern,
};
use ores_runtime::config::WireFormat;
use ores_testkit::TestKit;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Currency {
    iso_code: String,
    name: String,
}

async fn connect(kit: &TestKit, format: WireFormat) -> Nats {
    let nats = Nats::new(NatsConfig::new(kit.nats_url(), kit.subject_prefix()).wire_format(format))
        .unwrap();
    let mut events = nats.events();
    kit.spawn(nats.child_spec()).await.unwrap();
    events
        .wait_for(Duration::from_secs(10), |e| {
            matches!(e, ConnectionEvent::Connected)
        })
        .await
        .unwrap();
    nats
}

/// A responder that decodes whatever format it gets, answers in JSON, and echoes the
/// correlation id and traceparent it saw.
async fn responder(kit: &TestKit, relative: &str) -> tokio::task::JoinHandle<()> {
    let client = async_nats::connect(kit.nats_url()).await.unwrap();
    let subject = format!("{}.{relative}", kit.subject_prefix());
    let mut sub = client.subscribe(subject.clone()).await.unwrap();
    client.flush().await.unwrap();
    let task = tokio::spawn(async move {
        let codec = Codec::new(WireFormat::Json);
        while let Some(msg) = sub.next().await {
            let asked: String = codec.decode(msg.headers.as_ref(), &msg.payload).unwrap();
            let seen = RequestHeaders::from_header_map(msg.headers.as_ref().unwrap()).unwrap();
            let reply = Currency {
                iso_code: asked,
                name: format!(
                    "{}|{}",
                    seen.correlation_id,
                    seen.traceparent.map(|t| t.to_string()).unwrap_or_default()
                ),
            };
            let (mut headers, body) = codec.encode(&reply).unwrap().into_parts();
            if seen.tenant_id.as_deref() == Some("forbidden-tenant") {
                headers.insert("X-Error", "forbidden");
            }
            if let Some(to) = msg.reply {
                client
                    .publish_with_headers(to, headers, body)
                    .await
                    .unwrap();
            }
        }
    });
    // `flush` only writes: wait until the server routes another connection's requests to it.
    let probe = async_nats::connect(kit.nats_url()).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while tokio::time::Instant::now() < deadline {
        let asked = probe.request_with_headers(
            subject.clone(),
            RequestHeaders::new().to_header_map(),
            "\"ping\"".into(),
        );
        if let Ok(Ok(_)) = tokio::time::timeout(Duration::from_millis(500), asked).await {
            break;
        }
    }
    task
}

#[ores_testkit::test]
async fn a_typed_request_round_trips_across_wire_formats_with_headers(
    kit: TestKit,
) -> anyhow::Result<()> {
    let nats = connect(&kit, WireFormat::Msgpack).await;
    let _r = responder(&kit, "refdata.v1.currencies.get").await;
    let subject = Subject::service("refdata", "v1", "currencies", "get")?;
    // Sent as msgpack, answered as JSON: each side reads the other's Content-Type.
    let got: Currency = nats.request(&subject, "EUR").await?;
    assert_eq!(got.iso_code, "EUR");
    let (correlation, traceparent) = got.name.split_once('|').unwrap();
    assert_eq!(
        &correlation[14..15],
        "7",
        "a new UUIDv7 correlation id: {correlation}"
    );
    assert!(
        traceparent.starts_with("00-"),
        "a trace was started: {traceparent}"
    );

    // The caller's correlation id is propagated, and its trace continued as a child span.
    let mut headers = RequestHeaders::new();
    headers.correlation_id = "corr-42".into();
    let parent: ores_actors::nats::TraceParent =
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".parse()?;
    headers.traceparent = Some(parent);
    let reply = nats
        .request_with::<_, Currency>(
            &subject,
            "USD",
            RequestOptions::default()
                .headers(headers)
                .timeout(Duration::from_secs(2)),
        )
        .await?;
    let (correlation, traceparent) = reply.body.name.split_once('|').unwrap();
    assert_eq!(correlation, "corr-42");
    assert!(
        traceparent.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"),
        "same trace: {traceparent}"
    );
    assert!(
        !traceparent.contains("00f067aa0ba902b7"),
        "a child span: {traceparent}"
    );
    Ok(())
}

#[ores_testkit::test]
async fn error_replies_and_undecodable_replies_are_typed_errors(
    kit: TestKit,
) -> anyhow::Result<()> {
    let nats = connect(&kit, WireFormat::Json).await;
    let _r = responder(&kit, "refdata.v1.currencies.get").await;
    let subject = Subject::service("refdata", "v1", "currencies", "get")?;
    let mut headers = RequestHeaders::new();
    headers.tenant_id = Some("forbidden-tenant".into());
    let err = nats
        .request_with::<_, Currency>(&subject, "EUR", RequestOptions::default().headers(headers))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "`{}.{subject}` answered with an error forbidden: ORE error `forbidden`",
            kit.subject_prefix()
        )
    );
    let err = nats
        .request::<_, Vec<u64>>(&subject, "EUR")
        .await
        .unwrap_err();
    assert!(matches!(err, NatsError::Codec(_)), "{err:?}");
    Ok(())
}

#[ores_testkit::test]
async fn subscriptions_decode_and_deliver_into_an_actor(kit: TestKit) -> anyhow::Result<()> {
    let nats = connect(&kit, WireFormat::Msgpack).await;
    let pattern = SubjectPattern::new("ores.refdata.*")?;
    let mut stream = nats.subscribe::<Currency>(&pattern).await?;
    let mut probe = kit.probe::<Probed>("deliveries").await?;
    nats.queue_subscribe::<Currency>(&pattern, "ores.refdata.service")
        .await?
        .deliver_to(probe.actor());
    nats.client(Duration::from_secs(5)).await?.flush().await?;
    let eur = Currency {
        iso_code: "EUR".into(),
        name: "Euro".into(),
    };
    nats.publish(&Subject::new("ores.refdata.currency_changed")?, &eur)
        .await?;
    let d = tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await?
        .unwrap();
    assert_eq!(
        d.subject, "ores.refdata.currency_changed",
        "the prefix is taken off"
    );
    assert_eq!(d.body?, eur);
    let Probed(got) = probe.expect_msg().await?;
    assert_eq!(got, eur);
    // A body that does not decode is delivered as an error, not dropped.
    nats.publish_bytes(
        "ores.refdata.currency_changed",
        Default::default(),
        "not msgpack \u{1}".into(),
    )
    .await?;
    let bad = tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await?
        .unwrap();
    assert!(bad.body.is_err());
    Ok(())
}

#[derive(Debug)]
struct Probed(Currency);

impl From<ores_actors::nats::Delivery<Currency>> for Probed {
    fn from(d: ores_actors::nats::Delivery<Currency>) -> Self {
        Probed(d.body.unwrap_or(Currency {
            iso_code: "???".into(),
            name: String::new(),
        }))
    }
}

#[ores_testkit::test]
async fn request_many_gathers_every_responders_reply(kit: TestKit) -> anyhow::Result<()> {
    let nats = connect(&kit, WireFormat::Json).await;
    let _a = responder(&kit, "telemetry.v1.services.ping").await;
    let _b = responder(&kit, "telemetry.v1.services.ping").await;
    let _c = responder(&kit, "telemetry.v1.services.ping").await;
    let subject = Subject::service("telemetry", "v1", "services", "ping")?;
    // The three subscriptions reach the server in their own time: gather until all answer.
    let mut all: Vec<Currency> = Vec::new();
    for _ in 0..10 {
        all = nats
            .request_many(
                &subject,
                "X",
                Gather::within(Duration::from_secs(1)).replies(3),
            )
            .await?;
        if all.len() == 3 {
            break;
        }
    }
    assert_eq!(all.len(), 3);
    let started = std::time::Instant::now();
    let some: Vec<Currency> = nats
        .request_many(
            &subject,
            "X",
            Gather::within(Duration::from_secs(10)).quiet_gap(Duration::from_millis(200)),
        )
        .await?;
    assert_eq!(some.len(), 3);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the quiet gap ended it, not max_wait"
    );
    let none: Vec<Currency> = nats
        .request_many(
            &Subject::new("nobody.v1.here.ping")?,
            "X",
            Gather::within(Duration::from_secs(5)),
        )
        .await?;
    assert!(none.is_empty());
    Ok(())
}

#[test]
fn invalid_subjects_are_refused_with_the_token_named() {
    let err = Subject::new("refdata..list").unwrap_err();
    assert!(err.to_string().contains("token 2"), "{err}");
    assert!(Subject::new("refdata.*.list").is_err());
    assert!(SubjectPattern::new("refdata.>.list").is_err());
}

#[ores_testkit::test]
async fn the_receiving_side_continues_the_senders_trace(kit: TestKit) -> anyhow::Result<()> {
    let nats = connect(&kit, WireFormat::Json).await;
    let mut sub = nats
        .subscribe::<String>(&SubjectPattern::new("work.v1.items.do")?)
        .await?;
    nats.client(Duration::from_secs(5)).await?.flush().await?;
    let subject = Subject::service("work", "v1", "items", "do")?;
    let sender = nats.clone();
    let mut headers = RequestHeaders::new();
    headers.correlation_id = "corr-7".into();
    let root: ores_actors::nats::TraceParent =
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".parse()?;
    headers.traceparent = Some(root);
    tokio::spawn(async move {
        let _ = sender
            .request_with::<_, String>(
                &subject,
                "x",
                RequestOptions::default()
                    .headers(headers)
                    .timeout(Duration::from_secs(1)),
            )
            .await;
    });
    let delivery = tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await?
        .unwrap();
    let seen = delivery.request_headers()?;
    assert_eq!(seen.correlation_id, "corr-7");
    assert_eq!(
        seen.traceparent.unwrap().trace_id(),
        root.trace_id(),
        "one trace across both sides"
    );
    let span = delivery.span();
    assert_eq!(span.metadata().map(|m| m.name()), Some("nats.handle"));
    Ok(())
}
