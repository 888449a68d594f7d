//! The refdata demo: a currency service backed by PostgreSQL, run as a supervised actor under
//! the NATS subtree, called over NATS, discovered with the NATS service protocol, then shut
//! down in order.
//!
//! Run it with (NATS and PostgreSQL up: `scripts/ensure-services.sh` starts them)
//!
//! ```text
//! cargo run -p ores-examples --bin refdata_demo
//! ```
//!
//! It reads `ORES_NATS_URL` (default `nats://127.0.0.1:4222`) and `ORES_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`), keeps its table in the schema
//! `ores_refdata_example`, sends its subjects under `ores.demo.<pid>`, and prints (ids and
//! times vary):
//!
//! ```text
//! database: postgres://postgres@127.0.0.1:5432/test, table ores_refdata_example.currencies
//! nats:     nats://127.0.0.1:4222, subject prefix ores.demo.12345
//! tree `refdata_demo` > `nats` (rest-for-one): nats, ores.refdata.service
//! service ores.refdata.service 0.1.0 ready (instance 0199…), 4 endpoints
//! save   EUR -> created        (`updated` on later runs: the table is kept)
//! ...
//! list   -> EUR Euro (€, 2), GBP Pound sterling (£, 2), JPY Yen (¥, 0), USD US dollar ($, 2)
//! get    JPY -> Currency { iso_code: "JPY", name: "Yen", symbol: Some("¥"), fraction_digits: 0 }
//! delete GBP -> deleted
//! get    GBP -> error 404: no currency `GBP`
//! save   eur -> error 400: invalid iso_code `eur`: expected three uppercase letters, e.g. `EUR`
//! $SRV.INFO.ores-refdata-service.0199… ->
//! { "type": "io.nats.micro.v1.info_response", "name": "ores-refdata-service", ... }
//! $SRV.STATS.ores-refdata-service.0199… ->
//! { "type": "io.nats.micro.v1.stats_response", ..., "endpoints": [ ... "num_requests": 5 ... ] }
//! discovered ores-refdata-service 0.1.0 with 4 endpoints; 9 requests served, 2 of them errors
//! shutting down in reverse start order
//! shutdown complete: ok (exit code 0)
//! ```
//!
//! Exit codes: 0 done; 2 a bad `ORES_NATS_URL`; 3 PostgreSQL unreachable; 4 NATS unreachable;
//! 1 anything else.

use std::time::Duration;

use ores_actors::nats::{LinkStatus, Nats, NatsConfig, NatsError, Subject, nats_subtree};
use ores_actors::service::ServiceActor;
use ores_actors::service::protocol::{InfoResponse, StatsResponse};
use ores_examples::refdata::{
    self, Currency, DEFAULT_SCHEMA, DeleteCurrency, Deleted, GetCurrency, Refdata, Saved,
};
use ores_runtime::exit::ExitCode;
use ores_runtime::runtime::Runtime;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::postgres::PgPoolOptions;

const DEFAULT_NATS_URL: &str = "nats://127.0.0.1:4222";
const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
/// How long the demo waits for PostgreSQL, for NATS, and for the service.
const WAIT: Duration = Duration::from_secs(5);
const START_SERVICES: &str =
    "scripts/ensure-services.sh checks NATS and PostgreSQL and starts them";

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(code) => code,
        Err((code, message)) => {
            eprintln!("refdata_demo: {message}");
            eprintln!("refdata_demo: exiting with {code}");
            code
        }
    }
}

/// The demo's failures: the exit code and what to tell the user.
type Failure = (ExitCode, String);

fn general(what: &str) -> impl FnOnce(NatsError) -> Failure + '_ {
    move |e| (ExitCode::General, format!("{what}: {e}"))
}

async fn run() -> Result<ExitCode, Failure> {
    let nats_url = env_or("ORES_NATS_URL", DEFAULT_NATS_URL);
    let database_url = env_or("ORES_DATABASE_URL", DEFAULT_DATABASE_URL);

    // PostgreSQL first: without it there is nothing to serve.
    let pool = PgPoolOptions::new()
        .max_connections(4)
        .acquire_timeout(WAIT)
        .connect(&database_url)
        .await
        .map_err(|e| {
            (
                ExitCode::DatabaseConnection,
                format!(
                    "cannot connect to PostgreSQL at {} ({e}); is it running? {START_SERVICES}, \
                     or set ORES_DATABASE_URL",
                    redact(&database_url)
                ),
            )
        })?;
    let store = Refdata::new(pool.clone(), Some(DEFAULT_SCHEMA))
        .map_err(|e| (ExitCode::Config, e.to_string()))?;
    store.ensure_schema().await.map_err(|e| {
        (
            ExitCode::General,
            format!("cannot create the table {}: {e}", store.table()),
        )
    })?;
    println!(
        "database: {}, table {}",
        redact(&database_url),
        store.table()
    );

    // NATS: a unique prefix, so that parallel runs never share a subject.
    let prefix = format!("ores.demo.{}", std::process::id());
    let config = NatsConfig::new(&nats_url, prefix.clone())
        .name("refdata_demo")
        .connect_timeout(WAIT);
    let nats = Nats::new(config).map_err(|e| {
        (
            ExitCode::Config,
            format!("ORES_NATS_URL `{nats_url}` is not usable: {e}"),
        )
    })?;
    println!("nats:     {}, subject prefix {prefix}", redact(&nats_url));

    let service = store
        .service()
        .build()
        .map_err(|e| (ExitCode::Config, format!("the service is refused: {e}")))?;
    let (spec, handle) = ServiceActor::child_spec(service, &nats);
    let subtree = nats_subtree("nats", &nats).child(spec).into_child_spec();
    println!(
        "tree `refdata_demo` > `nats` (rest-for-one): nats, {}",
        refdata::SERVICE_NAME
    );
    // The connection actor starts whether or not NATS is up (it keeps trying); the service
    // subscribes once it is connected. So NATS that does not answer shows as a start or a
    // readiness that does not finish in time.
    let nats_down = || {
        (
            ExitCode::NatsConnection,
            format!(
                "cannot connect to NATS at {} within {WAIT:?}; is it running? {START_SERVICES}, \
                 or set ORES_NATS_URL",
                redact(&nats_url)
            ),
        )
    };
    let runtime = Runtime::builder("refdata_demo")
        .child(subtree)
        .without_systemd_notify()
        .start();
    let runtime = match tokio::time::timeout(WAIT, runtime).await {
        Ok(Ok(rt)) => rt,
        Ok(Err(e)) => return Err((ExitCode::General, format!("the tree did not start: {e}"))),
        Err(_) => return Err(nats_down()),
    };
    if handle.wait_ready(WAIT).await.is_err() {
        let failure = if nats.status() == LinkStatus::Connected {
            (
                ExitCode::StartupTimeout,
                format!("the service was not ready within {WAIT:?}"),
            )
        } else {
            nats_down()
        };
        let _ = runtime.shutdown().await;
        return Err(failure);
    }
    println!(
        "service {} {} ready (instance {}), {} endpoints",
        handle.name(),
        refdata::VERSION,
        handle.id(),
        handle.info().endpoints.len()
    );

    let outcome = client(&nats, handle.protocol_name(), handle.id()).await;
    println!("shutting down in reverse start order");
    let ended = runtime.run_until(std::future::ready(())).await;
    pool.close().await;
    println!("shutdown complete: {}", ended.exit_code());
    outcome?;
    Ok(ended.exit_code())
}

/// The client side: typed requests to every endpoint, errors included, then discovery.
async fn client(nats: &Nats, protocol_name: &str, id: &str) -> Result<(), Failure> {
    let subject = |s: &str| Subject::new(s).map_err(|e| (ExitCode::General, e.to_string()));
    let (list, get, save, delete) = (
        subject(refdata::LIST)?,
        subject(refdata::GET)?,
        subject(refdata::SAVE)?,
        subject(refdata::DELETE)?,
    );

    let currencies = [
        Currency::new("EUR", "Euro").symbol("€"),
        Currency::new("USD", "US dollar").symbol("$"),
        Currency::new("GBP", "Pound sterling").symbol("£"),
        Currency::new("JPY", "Yen").symbol("¥").fraction_digits(0),
    ];
    for currency in &currencies {
        let saved: Saved = nats
            .request(&save, currency)
            .await
            .map_err(general("save"))?;
        let what = if saved.created { "created" } else { "updated" };
        println!("save   {} -> {what}", saved.iso_code);
    }

    let all: Vec<Currency> = nats.request(&list, &()).await.map_err(general("list"))?;
    let shown: Vec<String> = all
        .iter()
        .map(|c| {
            format!(
                "{} {} ({}, {})",
                c.iso_code,
                c.name,
                c.symbol.as_deref().unwrap_or("-"),
                c.fraction_digits
            )
        })
        .collect();
    println!("list   -> {}", shown.join(", "));

    let jpy: Currency = nats
        .request(
            &get,
            &GetCurrency {
                iso_code: "JPY".into(),
            },
        )
        .await
        .map_err(general("get"))?;
    println!("get    JPY -> {jpy:?}");

    let gone: Deleted = nats
        .request(
            &delete,
            &DeleteCurrency {
                iso_code: "GBP".into(),
            },
        )
        .await
        .map_err(general("delete"))?;
    println!("delete {} -> deleted", gone.iso_code);

    // Errors come back typed: the code and the message the handler gave.
    let missing = nats
        .request::<_, Currency>(
            &get,
            &GetCurrency {
                iso_code: "GBP".into(),
            },
        )
        .await;
    println!("get    GBP -> {}", outcome(missing));
    let invalid = nats
        .request::<_, Saved>(&save, &Currency::new("eur", "lowercase euro"))
        .await;
    println!("save   eur -> {}", outcome(invalid));

    // Discovery, as any NATS tool does it: plain requests on `$SRV.*`, JSON replies. The
    // instance id in the subject picks this process's service among any others running.
    let raw = nats
        .client(WAIT)
        .await
        .map_err(general("the NATS client"))?;
    let info: InfoResponse = discover(&raw, &format!("$SRV.INFO.{protocol_name}.{id}")).await?;
    let stats: StatsResponse = discover(&raw, &format!("$SRV.STATS.{protocol_name}.{id}")).await?;
    let requests: u64 = stats.endpoints.iter().map(|e| e.num_requests).sum();
    let errors: u64 = stats.endpoints.iter().map(|e| e.num_errors).sum();
    println!(
        "discovered {} {} with {} endpoints; {requests} requests served, {errors} of them errors",
        info.identity.name,
        info.identity.version,
        info.endpoints.len()
    );
    Ok(())
}

/// A plain request on a discovery subject; prints the JSON reply (pretty) and reads it as `T`.
async fn discover<T: DeserializeOwned + Serialize>(
    client: &async_nats::Client,
    subject: &str,
) -> Result<T, Failure> {
    let fail = |what: String| (ExitCode::General, format!("{subject}: {what}"));
    let reply = tokio::time::timeout(WAIT, client.request(subject.to_string(), "".into()))
        .await
        .map_err(|_| fail(format!("no reply within {WAIT:?}")))?
        .map_err(|e| fail(e.to_string()))?;
    let doc: T = serde_json::from_slice(&reply.payload)
        .map_err(|e| fail(format!("not a protocol document: {e}")))?;
    // Printed from the typed document: the fields in the protocol's order.
    let pretty = serde_json::to_string_pretty(&doc).map_err(|e| fail(e.to_string()))?;
    println!("{subject} ->\n{pretty}");
    Ok(doc)
}

/// A reply shown as `ok` or `error <code>: <message>`.
fn outcome<T: std::fmt::Debug>(reply: Result<T, NatsError>) -> String {
    match reply {
        Ok(v) => format!("unexpectedly ok: {v:?}"),
        Err(NatsError::Remote { code, message, .. }) => {
            format!("error {}: {message}", code.as_deref().unwrap_or("?"))
        }
        Err(e) => format!("error: {e}"),
    }
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| default.to_string())
}

/// `scheme://user:secret@host` → `scheme://user:***@host`: URLs are printed, passwords not.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let Some((userinfo, host)) = rest.rsplit_once('@') else {
        return url.to_string();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
    }
}
