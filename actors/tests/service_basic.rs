//! The service runner end to end against the machine's NATS: handlers of every shape, typed
//! replies, discovery with plain async-nats, error replies.
#![cfg(feature = "service")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use ores_actors::nats::{NatsError, Subject};
use ores_actors::service::protocol::{InfoResponse, PingResponse, StatsResponse};
use ores_actors::service::{RequestContext, Service, ServiceError, State};
use ores_testkit::TestKit;
use serde::{Deserialize, Serialize};

const WAIT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Currency {
    iso_code: String,
    name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Get {
    iso_code: String,
}

type Book = Arc<Vec<Currency>>;

fn book() -> Book {
    Arc::new(vec![
        Currency {
            iso_code: "EUR".into(),
            name: "Euro".into(),
        },
        Currency {
            iso_code: "USD".into(),
            name: "US Dollar".into(),
        },
    ])
}

async fn list(State(book): State<Book>, _req: ()) -> Result<Vec<Currency>, ServiceError> {
    Ok(book.to_vec())
}

async fn get(State(book): State<Book>, req: Get) -> Result<Currency, ServiceError> {
    book.iter()
        .find(|c| c.iso_code == req.iso_code)
        .cloned()
        .ok_or_else(|| ServiceError::not_found(format!("no currency `{}`", req.iso_code)))
}

async fn whoami(ctx: RequestContext, _req: ()) -> Result<String, ServiceError> {
    Ok(ctx.correlation_id().to_string())
}

async fn echo(text: String) -> Result<String, ServiceError> {
    Ok(text)
}

fn refdata() -> ores_actors::service::ServiceBuilder<Book> {
    Service::with_state("ores.refdata.service", "1.2.3", book())
        .description("Reference data")
        .metadata("team", "refdata")
        .handle("refdata.v1.currencies.list", list)
        .handle("refdata.v1.currencies.get", get)
        .handle("refdata.v1.whoami.get", whoami)
        .handle("refdata.v1.echo.get", echo)
}

#[ores_testkit::test]
async fn typed_requests_are_answered(kit: TestKit) -> anyhow::Result<()> {
    let service = kit.service(refdata()).await?;
    assert!(service.is_ready());
    let nats = kit.nats().await?;

    let all: Vec<Currency> = nats
        .request(&Subject::new("refdata.v1.currencies.list")?, &())
        .await?;
    assert_eq!(all, *book());

    let eur: Currency = nats
        .request(
            &Subject::new("refdata.v1.currencies.get")?,
            &Get {
                iso_code: "EUR".into(),
            },
        )
        .await?;
    assert_eq!(eur.name, "Euro");

    let echoed: String = nats
        .request(&Subject::new("refdata.v1.echo.get")?, "hello")
        .await?;
    assert_eq!(echoed, "hello");

    // The handler sees the caller's correlation id.
    let headers = ores_actors::nats::RequestHeaders::new();
    let sent = headers.correlation_id.clone();
    let reply = nats
        .request_with::<_, String>(
            &Subject::new("refdata.v1.whoami.get")?,
            &(),
            ores_actors::nats::RequestOptions::default().headers(headers),
        )
        .await?;
    assert_eq!(reply.body, sent);
    Ok(())
}

#[ores_testkit::test]
async fn a_handler_error_reaches_the_caller_with_its_code(kit: TestKit) -> anyhow::Result<()> {
    kit.service(refdata()).await?;
    let nats = kit.nats().await?;
    let err = nats
        .request::<_, Currency>(
            &Subject::new("refdata.v1.currencies.get")?,
            &Get {
                iso_code: "XYZ".into(),
            },
        )
        .await
        .unwrap_err();
    match err {
        NatsError::Remote { code, message, .. } => {
            assert_eq!(code.as_deref(), Some("404"));
            assert_eq!(message, "no currency `XYZ`");
        }
        other => panic!("expected a remote error, got {other:?}"),
    }
    Ok(())
}

/// A plain async-nats client, knowing nothing of ores-rs, discovers the service, calls an
/// endpoint and reads its stats.
#[ores_testkit::test]
async fn a_plain_nats_client_discovers_calls_and_reads_stats(kit: TestKit) -> anyhow::Result<()> {
    let handle = kit.service(refdata()).await?;
    let client = async_nats::connect(kit.nats_url()).await?;
    let srv = kit.srv_prefix();

    let ping = client
        .request(format!("{srv}.PING.ores-refdata-service"), Bytes::new())
        .await?;
    let ping: PingResponse = serde_json::from_slice(&ping.payload)?;
    assert_eq!(ping.identity.name, "ores-refdata-service");
    assert_eq!(ping.identity.id, handle.id());
    assert_eq!(ping.identity.version, "1.2.3");

    let info = client
        .request(
            format!("{srv}.INFO.ores-refdata-service.{}", handle.id()),
            Bytes::new(),
        )
        .await?;
    let info: InfoResponse = serde_json::from_slice(&info.payload)?;
    assert_eq!(info.description, "Reference data");
    assert_eq!(
        info.identity.metadata.get("team").map(String::as_str),
        Some("refdata")
    );
    let get = info
        .endpoints
        .iter()
        .find(|e| e.name == "refdata-v1-currencies-get")
        .expect("the get endpoint");
    assert_eq!(
        get.subject,
        format!("{}.refdata.v1.currencies.get", kit.subject_prefix())
    );
    assert_eq!(get.queue_group, "ores.refdata.service");

    // Call the endpoint as discovered, with a msgpack body and no ores-rs headers.
    let body = rmp_serde::to_vec_named(&Get {
        iso_code: "USD".into(),
    })?;
    let reply = client.request(get.subject.clone(), body.into()).await?;
    let usd: Currency = rmp_serde::from_slice(&reply.payload)?;
    assert_eq!(usd.name, "US Dollar");
    // An error comes back with the ADR-32 headers.
    let bad = client
        .request(get.subject.clone(), Bytes::from_static(b"\xc1not msgpack"))
        .await?;
    let headers = bad.headers.expect("error headers");
    assert_eq!(
        headers.get("Nats-Service-Error-Code").unwrap().as_str(),
        "400"
    );
    assert_eq!(headers.get("X-Error").unwrap().as_str(), "bad_request");
    assert!(
        headers
            .get("Nats-Service-Error")
            .unwrap()
            .as_str()
            .contains("does not decode as Get"),
        "{headers:?}"
    );

    let stats = client.request(format!("{srv}.STATS"), Bytes::new()).await?;
    let stats: StatsResponse = serde_json::from_slice(&stats.payload)?;
    let get = stats
        .endpoints
        .iter()
        .find(|e| e.name == "refdata-v1-currencies-get")
        .unwrap();
    assert_eq!(get.num_requests, 2);
    assert_eq!(get.num_errors, 1);
    assert!(
        get.last_error.contains("does not decode"),
        "{}",
        get.last_error
    );
    assert!(get.processing_time > Duration::ZERO);
    assert_eq!(
        get.average_processing_time,
        get.processing_time / 2,
        "average = total / requests"
    );
    // The protocol's reset clears the counters.
    handle.reset_stats();
    assert!(handle.stats().endpoints.iter().all(|e| e.num_requests == 0
        && e.num_errors == 0
        && e.last_error.is_empty()
        && e.processing_time == Duration::ZERO));
    let _ = WAIT;
    Ok(())
}

/// Counts the requests it sees and the replies that came back.
#[derive(Debug, Default)]
struct Count(
    std::sync::atomic::AtomicUsize,
    std::sync::atomic::AtomicUsize,
);

#[derive(Debug, Clone, Default)]
struct Counting(Arc<Count>);

impl ores_actors::service::Middleware for Counting {
    fn call<'a>(
        &'a self,
        req: ores_actors::service::ServiceRequest,
        next: ores_actors::service::Next<'a>,
    ) -> ores_actors::service::BoxFuture<'a, ores_actors::service::ServiceResult> {
        use std::sync::atomic::Ordering;
        self.0.0.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            let reply = next.run(req).await;
            if reply.is_ok() {
                self.0.1.fetch_add(1, Ordering::SeqCst);
            }
            reply
        })
    }
}

async fn slow_echo(text: String) -> Result<String, ServiceError> {
    // Waits once, so the request continues in a task of its own.
    tokio::task::yield_now().await;
    Ok(text)
}

#[ores_testkit::test]
async fn middleware_runs_around_handlers_that_wait(kit: TestKit) -> anyhow::Result<()> {
    let counting = Counting::default();
    kit.service(
        Service::builder("ores.echo.service", "1.0.0")
            .middleware(counting.clone())
            .handle("echo.v1.text.get", slow_echo)
            .handle("echo.v1.fast.get", echo),
    )
    .await?;
    let nats = kit.nats().await?;
    for i in 0..5 {
        let text = format!("hello {i}");
        let got: String = nats
            .request(&Subject::new("echo.v1.text.get")?, &text)
            .await?;
        assert_eq!(got, text);
    }
    let got: String = nats
        .request(&Subject::new("echo.v1.fast.get")?, "x")
        .await?;
    assert_eq!(got, "x");
    use std::sync::atomic::Ordering;
    assert_eq!(counting.0.0.load(Ordering::SeqCst), 6);
    assert_eq!(counting.0.1.load(Ordering::SeqCst), 6);
    Ok(())
}
