#![cfg(feature = "eventing")]
#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The event bus's database side against the machine's PostgreSQL, each test in its own
//! schema: the entity trigger (one event per statement and tenant, in the writing
//! transaction) and the adapter for ORE's NOTIFY channels.

mod common;
use common::bus;

use std::time::Duration;

use ores_actors::eventing::{
    Delivered, EntityChangeEvent, EventBus, EventError, OreChannelAdapter, Subscription,
};
use ores_testkit::TestKit;

const WAIT: Duration = Duration::from_secs(5);

async fn next(sub: &mut Subscription<EntityChangeEvent>) -> Delivered<EntityChangeEvent> {
    tokio::time::timeout(WAIT, sub.recv())
        .await
        .expect("no event within 5 s")
        .expect("subscription closed")
}

/// The next event's (entity ids, tenant), checking its entity, topic and key.
async fn change(sub: &mut Subscription<EntityChangeEvent>) -> (Vec<String>, Option<String>) {
    let got = next(sub).await;
    assert_eq!(got.event.entity, "ores.refdata.currency");
    assert_eq!(got.meta.topic, "ores.refdata.currency_changed");
    assert_eq!(got.meta.key.as_deref(), Some("ores.refdata.currency"));
    assert_eq!(got.meta.tenant, got.event.tenant_id);
    (got.event.entity_ids, got.event.tenant_id)
}

fn ids(tenant: Option<&str>, ids: &[&str]) -> (Vec<String>, Option<String>) {
    (
        ids.iter().map(|s| s.to_string()).collect(),
        tenant.map(str::to_string),
    )
}

async fn currencies(kit: &TestKit, bus: &EventBus) {
    sqlx::query("CREATE TABLE currencies (iso_code text PRIMARY KEY, tenant_id text, name text)")
        .execute(kit.db())
        .await
        .unwrap();
    let mut conn = kit.db().acquire().await.unwrap();
    bus.attach_entity_trigger(
        &mut conn,
        "currencies",
        "ores.refdata.currency",
        "iso_code",
        Some("tenant_id"),
    )
    .await
    .unwrap();
}

#[ores_testkit::test]
async fn the_trigger_records_one_event_per_statement_and_tenant(
    kit: TestKit,
) -> anyhow::Result<()> {
    let bus = bus(&kit).await;
    currencies(&kit, &bus).await;
    // Attaching again replaces the triggers (one event per statement still).
    let mut conn = kit.db().acquire().await?;
    bus.attach_entity_trigger(
        &mut conn,
        &format!("{}.currencies", kit.schema().as_str()),
        "ores.refdata.currency",
        "iso_code",
        Some("tenant_id"),
    )
    .await?;
    let mut sub = bus.subscribe::<EntityChangeEvent>("ores.>")?;

    // One statement, two tenants: one event each.
    sqlx::query(
        "INSERT INTO currencies VALUES ('USD', 't1', 'dollar'), ('EUR', 't1', 'euro'), \
         ('GBP', 't2', 'pound')",
    )
    .execute(kit.db())
    .await?;
    assert_eq!(change(&mut sub).await, ids(Some("t1"), &["EUR", "USD"]));
    assert_eq!(change(&mut sub).await, ids(Some("t2"), &["GBP"]));

    // One transaction, several statements: one event per statement, in order.
    let mut tx = kit.db().begin().await?;
    sqlx::query("INSERT INTO currencies VALUES ('JPY', 't1', 'yen')")
        .execute(&mut *tx)
        .await?;
    sqlx::query("INSERT INTO currencies VALUES ('CHF', 't1', 'franc'), ('SEK', 't1', 'krona')")
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    assert_eq!(change(&mut sub).await, ids(Some("t1"), &["JPY"]));
    assert_eq!(change(&mut sub).await, ids(Some("t1"), &["CHF", "SEK"]));

    // An update lists old and new keys; one that changes no row records nothing.
    sqlx::query("UPDATE currencies SET name = 'nothing' WHERE false")
        .execute(kit.db())
        .await?;
    sqlx::query("UPDATE currencies SET iso_code = 'SEX' WHERE iso_code = 'SEK'")
        .execute(kit.db())
        .await?;
    assert_eq!(change(&mut sub).await, ids(Some("t1"), &["SEK", "SEX"]));

    // A rolled-back transaction records nothing: the next event is the delete after it.
    let mut tx = kit.db().begin().await?;
    sqlx::query("INSERT INTO currencies VALUES ('NOK', 't1', 'krone')")
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM currencies")
        .execute(&mut *tx)
        .await?;
    tx.rollback().await?;
    sqlx::query("DELETE FROM currencies WHERE iso_code IN ('GBP', 'JPY')")
        .execute(kit.db())
        .await?;
    assert_eq!(change(&mut sub).await, ids(Some("t1"), &["JPY"]));
    assert_eq!(change(&mut sub).await, ids(Some("t2"), &["GBP"]));

    // The log holds what was delivered, with ORE's payload and UUIDv7 ids.
    let rows: Vec<(String, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT id::text, payload::text FROM {}.events ORDER BY xid, position",
        kit.schema().as_str()
    )))
    .fetch_all(kit.db())
    .await?;
    assert_eq!(rows.len(), 7);
    for (id, payload) in &rows {
        assert_eq!(id.as_bytes()[14], b'7', "not a UUIDv7: {id}");
        let v: serde_json::Value = serde_json::from_str(payload)?;
        let ts = v["timestamp"].as_str().unwrap();
        assert!(
            ts.parse::<ores_actors::nats::OreTimestamp>().is_ok(),
            "{ts}"
        );
    }

    // Detached: changes record nothing more.
    bus.detach_entity_trigger(&mut conn, "currencies").await?;
    sqlx::query("DELETE FROM currencies")
        .execute(kit.db())
        .await?;
    assert!(
        tokio::time::timeout(Duration::from_millis(300), sub.recv())
            .await
            .is_err(),
        "an event after the trigger was detached"
    );
    Ok(())
}

#[ores_testkit::test]
async fn the_trigger_without_a_tenant_column_and_bad_arguments(kit: TestKit) -> anyhow::Result<()> {
    let bus = bus(&kit).await;
    sqlx::query("CREATE TABLE countries (code int PRIMARY KEY)")
        .execute(kit.db())
        .await?;
    let mut conn = kit.db().acquire().await?;
    for (table, key, tenant) in [
        ("nowhere", "code", None),
        ("countries", "nope", None),
        ("countries", "code", Some("tenant_id")),
        ("countries\"; DROP TABLE x; --", "code", None),
    ] {
        let err = bus
            .attach_entity_trigger(&mut conn, table, "ores.refdata.country", key, tenant)
            .await
            .unwrap_err();
        assert!(matches!(err, EventError::Config(_)), "{err}");
    }
    bus.attach_entity_trigger(&mut conn, "countries", "ores.refdata.country", "code", None)
        .await?;
    let mut sub = bus.subscribe::<EntityChangeEvent>("ores.refdata.country_changed")?;
    sqlx::query("INSERT INTO countries SELECT generate_series(1, 3)")
        .execute(kit.db())
        .await?;
    let got = next(&mut sub).await;
    assert_eq!(got.event.entity_ids, ["1", "2", "3"]);
    assert_eq!(got.event.tenant_id, None);
    Ok(())
}

#[ores_testkit::test]
async fn the_ore_adapter_publishes_ore_notifications(kit: TestKit) -> anyhow::Result<()> {
    let bus = bus(&kit).await;
    let adapter = OreChannelAdapter::new(
        bus.clone(),
        ["ores_refdata_currencies", "ores_refdata_countries"],
    )?;
    kit.spawn(adapter.child_spec()).await?;
    let mut sub = bus.subscribe::<EntityChangeEvent>("ores.>")?;
    let notify = |channel: &'static str, payload: &'static str| {
        let db = kit.db().clone();
        async move {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(channel)
                .bind(payload)
                .execute(&db)
                .await
                .unwrap();
        }
    };
    notify(
        "ores_refdata_currencies",
        r#"{"entity": "ores.refdata.currency", "timestamp": "2025-03-04 05:06:07", "entity_ids": ["EUR"], "tenant_id": "t1"}"#,
    )
    .await;
    let got = next(&mut sub).await;
    assert_eq!(got.meta.topic, "ores.refdata.currency_changed");
    assert_eq!(got.meta.tenant.as_deref(), Some("t1"));
    assert_eq!(got.event.entity_ids, ["EUR"]);
    assert_eq!(got.event.timestamp.to_string(), "2025-03-04T05:06:07Z");

    // Malformed payloads are skipped; the next good one still arrives.
    notify("ores_refdata_currencies", "not json").await;
    notify("ores_refdata_currencies", r#"{"entity_ids": ["EUR"]}"#).await;
    notify(
        "ores_refdata_countries",
        r#"{"entity": "ores.refdata.country", "timestamp": "2025-03-04T05:06:07.123Z", "entity_ids": ["PT", "ES"]}"#,
    )
    .await;
    let got = next(&mut sub).await;
    assert_eq!(got.meta.topic, "ores.refdata.country_changed");
    assert_eq!(got.event.entity_ids, ["PT", "ES"]);
    assert_eq!(got.event.tenant_id, None);

    assert!(OreChannelAdapter::new(bus.clone(), Vec::<String>::new()).is_err());
    assert!(OreChannelAdapter::new(bus, ["bad channel"]).is_err());
    Ok(())
}
