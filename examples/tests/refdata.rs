//! The refdata example service end to end: each test runs it in its own schema (the testkit's)
//! and subject prefix, and calls it over NATS like any client.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use ores_actors::nats::{Nats, NatsError, Subject};
use ores_examples::refdata::{
    self, Currency, DeleteCurrency, Deleted, GetCurrency, Refdata, Saved,
};
use ores_testkit::TestKit;
use serde::Serialize;
use serde::de::DeserializeOwned;

async fn call<Req: Serialize, Resp: DeserializeOwned>(
    nats: &Nats,
    subject: &str,
    req: &Req,
) -> Result<Resp, NatsError> {
    nats.request(&Subject::new(subject).unwrap(), req).await
}

/// The code and message of a remote error.
fn remote<T: std::fmt::Debug>(reply: Result<T, NatsError>) -> (String, String) {
    match reply {
        Err(NatsError::Remote { code, message, .. }) => (code.unwrap_or_default(), message),
        other => panic!("expected an error reply, got {other:?}"),
    }
}

fn get(code: &str) -> GetCurrency {
    GetCurrency {
        iso_code: code.into(),
    }
}

#[ores_testkit::test]
async fn save_list_get_delete(kit: TestKit) -> anyhow::Result<()> {
    // No schema: the table lives on the kit pool's search_path, the test's own schema.
    let store = Refdata::new(kit.db().clone(), None)?;
    store.ensure_schema().await?;
    kit.service(store.service()).await?;
    let nats = kit.nats().await?;

    let eur = Currency::new("EUR", "Euro").symbol("€");
    let jpy = Currency::new("JPY", "Yen").symbol("¥").fraction_digits(0);
    let saved: Saved = call(&nats, refdata::SAVE, &eur).await?;
    assert_eq!(
        saved,
        Saved {
            iso_code: "EUR".into(),
            created: true
        }
    );
    let saved: Saved = call(&nats, refdata::SAVE, &jpy).await?;
    assert!(saved.created);

    // Saving again updates.
    let renamed = Currency::new("EUR", "Euro (EMU)").symbol("€");
    let saved: Saved = call(&nats, refdata::SAVE, &renamed).await?;
    assert!(!saved.created, "a second save is an update");

    let all: Vec<Currency> = call(&nats, refdata::LIST, &()).await?;
    assert_eq!(all, vec![renamed.clone(), jpy.clone()], "by ISO code");

    let got: Currency = call(&nats, refdata::GET, &get("JPY")).await?;
    assert_eq!(got, jpy);

    let gone: Deleted = call(
        &nats,
        refdata::DELETE,
        &DeleteCurrency {
            iso_code: "JPY".into(),
        },
    )
    .await?;
    assert_eq!(gone.iso_code, "JPY");
    let all: Vec<Currency> = call(&nats, refdata::LIST, &()).await?;
    assert_eq!(all, vec![renamed]);

    // The rows are in the test's schema.
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM currencies")
        .fetch_one(kit.db())
        .await?;
    assert_eq!(rows, 1);
    Ok(())
}

#[ores_testkit::test]
async fn missing_currencies_are_not_found(kit: TestKit) -> anyhow::Result<()> {
    let store = Refdata::new(kit.db().clone(), None)?;
    store.ensure_schema().await?;
    kit.service(store.service()).await?;
    let nats = kit.nats().await?;

    let (code, message) = remote(call::<_, Currency>(&nats, refdata::GET, &get("XYZ")).await);
    assert_eq!(code, "404");
    assert_eq!(message, "no currency `XYZ`");

    let (code, message) = remote(
        call::<_, Deleted>(
            &nats,
            refdata::DELETE,
            &DeleteCurrency {
                iso_code: "XYZ".into(),
            },
        )
        .await,
    );
    assert_eq!(code, "404");
    assert_eq!(message, "no currency `XYZ`");
    Ok(())
}

#[ores_testkit::test]
async fn invalid_input_is_a_bad_request(kit: TestKit) -> anyhow::Result<()> {
    let store = Refdata::new(kit.db().clone(), None)?;
    store.ensure_schema().await?;
    kit.service(store.service()).await?;
    let nats = kit.nats().await?;

    for code in ["eur", "EU", "EURO", "E1R", ""] {
        let (status, message) =
            remote(call::<_, Saved>(&nats, refdata::SAVE, &Currency::new(code, "x")).await);
        assert_eq!(status, "400", "{code:?}");
        assert!(
            message.contains("expected three uppercase letters"),
            "{code:?}: {message}"
        );
        let (status, _) = remote(call::<_, Currency>(&nats, refdata::GET, &get(code)).await);
        assert_eq!(status, "400", "get {code:?}");
    }
    let (status, message) =
        remote(call::<_, Saved>(&nats, refdata::SAVE, &Currency::new("CHF", "  ")).await);
    assert_eq!(status, "400");
    assert!(message.contains("name"), "{message}");
    let (status, message) = remote(
        call::<_, Saved>(
            &nats,
            refdata::SAVE,
            &Currency::new("CHF", "Swiss franc").fraction_digits(7),
        )
        .await,
    );
    assert_eq!(status, "400");
    assert!(message.contains("fraction_digits"), "{message}");
    // A body that is not a currency at all.
    let (status, message) = remote(call::<_, Saved>(&nats, refdata::SAVE, &42).await);
    assert_eq!(status, "400");
    assert!(message.contains("does not decode as Currency"), "{message}");

    let all: Vec<Currency> = call(&nats, refdata::LIST, &()).await?;
    assert!(all.is_empty(), "nothing invalid was stored: {all:?}");
    Ok(())
}

/// With a schema, the table is qualified and the schema is created if need be.
#[ores_testkit::test]
async fn the_table_lives_in_the_named_schema(kit: TestKit) -> anyhow::Result<()> {
    let store = Refdata::new(kit.db().clone(), Some(kit.schema().as_str()))?;
    assert_eq!(store.table(), format!("{}.currencies", kit.schema()));
    store.ensure_schema().await?;
    store.ensure_schema().await?; // idempotent
    kit.service(store.service()).await?;
    let nats = kit.nats().await?;
    let _: Saved = call(&nats, refdata::SAVE, &Currency::new("CHF", "Swiss franc")).await?;
    let names: Vec<String> =
        sqlx::query_scalar("SELECT name FROM currencies WHERE iso_code = 'CHF'")
            .fetch_all(kit.db())
            .await?;
    assert_eq!(names, ["Swiss franc"]);

    assert!(Refdata::new(kit.db().clone(), Some("public; drop table x")).is_err());
    assert!(Refdata::new(kit.db().clone(), Some("Upper")).is_err());
    Ok(())
}

/// The demo binary, as README's command runs it, against the test's servers.
#[ores_testkit::test]
async fn the_demo_runs_end_to_end(kit: TestKit) -> anyhow::Result<()> {
    let out = tokio::task::spawn_blocking({
        let nats_url = kit.nats_url().to_string();
        let database_url = kit.database_url().to_string();
        move || {
            Command::new(env!("CARGO_BIN_EXE_refdata_demo"))
                .env("ORES_NATS_URL", nats_url)
                .env("ORES_DATABASE_URL", database_url)
                .output()
        }
    })
    .await??;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    for expected in [
        "delete GBP -> deleted",
        "get    GBP -> error 404: no currency `GBP`",
        "save   eur -> error 400: invalid iso_code `eur`",
        "\"type\": \"io.nats.micro.v1.info_response\"",
        "\"type\": \"io.nats.micro.v1.stats_response\"",
        "shutdown complete: ok (exit code 0)",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in\n{stdout}"
        );
    }
    Ok(())
}

/// PostgreSQL unreachable: exit code 3, and a message that says what to start.
#[test]
fn the_demo_exits_3_without_a_database() {
    let out = Command::new(env!("CARGO_BIN_EXE_refdata_demo"))
        .env("ORES_DATABASE_URL", "postgres://postgres@127.0.0.1:1/test")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("scripts/ensure-services.sh"), "{stderr}");
}

/// NATS unreachable: exit code 4, and a message that says what to start.
#[test]
fn the_demo_exits_4_without_nats() {
    let out = Command::new(env!("CARGO_BIN_EXE_refdata_demo"))
        .env("ORES_NATS_URL", "nats://127.0.0.1:1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(stderr.contains("scripts/ensure-services.sh"), "{stderr}");
}
