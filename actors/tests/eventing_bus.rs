//! The event bus against the machine's PostgreSQL, each test in its own schema: publish and
//! subscribe, ordering, the outbox, other writers, tenants, bad events.
#![cfg(feature = "eventing")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::{Tick, bus, tick};

use std::borrow::Cow;
use std::time::Duration;

use ores_actors::eventing::{
    Delivered, EntityChangeEvent, Event, EventBus, EventBusConfig, EventError,
};
use ores_testkit::TestKit;
use serde::{Deserialize, Serialize};

const WAIT: Duration = Duration::from_secs(5);

async fn next<T>(sub: &mut ores_actors::eventing::Subscription<T>) -> Delivered<T> {
    tokio::time::timeout(WAIT, sub.recv())
        .await
        .expect("no event within 5 s")
        .expect("subscription closed")
}

#[ores_testkit::test]
async fn published_events_arrive_in_order(kit: TestKit) -> anyhow::Result<()> {
    let bus = bus(&kit).await;
    assert!(bus.notify_works());
    let mut sub = bus.subscribe::<Tick>("ores.test.*")?;
    let mut ids = Vec::new();
    for n in 0..20 {
        ids.push(bus.publish(&tick(n)).await?);
    }
    ids.extend(bus.publish_all(&[tick(20), tick(21)]).await?);
    ids.push(
        bus.publish_with_headers(&tick(22), &[("Nats-Correlation-Id", "corr-22")])
            .await?,
    );
    for (n, id) in ids.iter().enumerate() {
        let got = next(&mut sub).await;
        assert_eq!(got.event.n, n as u32);
        assert_eq!(&got.meta.id, id);
        assert_eq!(got.meta.topic, "ores.test.tick");
        if n == 22 {
            assert_eq!(
                got.meta
                    .header_map()
                    .get("Nats-Correlation-Id")
                    .map(String::as_str),
                Some("corr-22")
            );
        }
    }
    Ok(())
}

#[ores_testkit::test]
async fn the_outbox_publishes_on_commit_only(kit: TestKit) -> anyhow::Result<()> {
    let bus = bus(&kit).await;
    let mut sub = bus.subscribe::<Tick>("ores.test.tick")?;
    let mut tx = kit.db().begin().await?;
    bus.publish_in_tx(&mut tx, &tick(1)).await?;
    tx.rollback().await?;
    let mut tx = kit.db().begin().await?;
    sqlx::query("CREATE TABLE IF NOT EXISTS business (n int)")
        .execute(&mut *tx)
        .await?;
    sqlx::query("INSERT INTO business VALUES (2)")
        .execute(&mut *tx)
        .await?;
    bus.publish_in_tx(&mut tx, &tick(2)).await?;
    tx.commit().await?;
    // Only the committed one, and never the rolled-back one before it.
    assert_eq!(next(&mut sub).await.event.n, 2);
    bus.publish(&tick(3)).await?;
    assert_eq!(next(&mut sub).await.event.n, 3);
    Ok(())
}

#[ores_testkit::test]
async fn another_writers_events_arrive(kit: TestKit) -> anyhow::Result<()> {
    let bus = bus(&kit).await;
    let mut sub = bus.subscribe::<EntityChangeEvent>("ores.refdata.>")?;
    // Another process: its own connection, its own bus handle, no actors of its own.
    let other = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(kit.database_url())
        .await?;
    let writer = EventBus::new(other.clone(), bus.config().clone())?;
    let mut conn = other.acquire().await?;
    let event = EntityChangeEvent::new("ores.refdata.currency", ["EUR", "USD"]).tenant("t1");
    writer.publish_in_tx(&mut conn, &event).await?;
    let got = next(&mut sub).await;
    assert_eq!(got.event, event);
    assert_eq!(got.meta.topic, "ores.refdata.currency_changed");
    assert_eq!(got.meta.tenant.as_deref(), Some("t1"));
    Ok(())
}

#[ores_testkit::test]
async fn tenant_filters_and_patterns(kit: TestKit) -> anyhow::Result<()> {
    let bus = bus(&kit).await;
    let mut t1 = bus.subscribe_tenant::<Tick>("ores.test.tick", Some("t1"))?;
    let mut other_topic = bus.subscribe::<Tick>("ores.other.*")?;
    bus.publish(&Tick {
        n: 1,
        tenant: Some("t2".into()),
    })
    .await?;
    bus.publish(&Tick {
        n: 2,
        tenant: Some("t1".into()),
    })
    .await?;
    assert_eq!(next(&mut t1).await.event.n, 2);
    assert!(
        tokio::time::timeout(Duration::from_millis(200), other_topic.recv())
            .await
            .is_err(),
        "a pattern that does not match got an event"
    );
    Ok(())
}

#[ores_testkit::test]
async fn bad_events_are_refused_with_a_reason(kit: TestKit) -> anyhow::Result<()> {
    #[derive(Serialize, Deserialize)]
    struct Big(String);
    impl Event for Big {
        fn topic(&self) -> Cow<'_, str> {
            Cow::Borrowed("ores.test.big")
        }
    }
    #[derive(Serialize, Deserialize)]
    struct Bad;
    impl Event for Bad {
        fn topic(&self) -> Cow<'_, str> {
            Cow::Borrowed("ores.bad topic")
        }
    }
    let bus = EventBus::new(
        kit.db().clone(),
        EventBusConfig::new(kit.schema().as_str())?.max_payload(100),
    )?;
    kit.spawn(bus.child_spec()).await?;
    let err = bus.publish(&Big("x".repeat(200))).await.unwrap_err();
    assert!(
        matches!(
            err,
            EventError::TooLarge {
                size: 202,
                max: 100,
                ..
            }
        ),
        "{err}"
    );
    let err = bus.publish(&Bad).await.unwrap_err();
    assert!(matches!(err, EventError::Topic { .. }), "{err}");
    assert!(err.to_string().contains("ores.bad topic"), "{err}");
    let err = bus.subscribe::<Tick>("ores.>.x").unwrap_err();
    assert!(matches!(err, EventError::Topic { .. }), "{err}");
    let err = EventBusConfig::new("Bad-Schema").unwrap_err();
    assert!(err.to_string().contains("Bad-Schema"), "{err}");
    Ok(())
}

/// What the probe actor receives.
#[derive(Debug, Clone, PartialEq)]
struct Got(u32);

impl From<Delivered<Tick>> for Got {
    fn from(d: Delivered<Tick>) -> Self {
        Got(d.event.n)
    }
}

#[ores_testkit::test]
async fn actors_subscribe_and_unsubscribe_by_dropping(kit: TestKit) -> anyhow::Result<()> {
    let bus = bus(&kit).await;
    let mut probe = kit.probe::<Got>("ticks").await?;
    let sub = bus.subscribe_actor::<Tick, Got>("ores.test.tick", None, probe.actor())?;
    bus.publish(&tick(7)).await?;
    assert_eq!(probe.expect_msg().await?, Got(7));
    drop(sub);
    bus.publish(&tick(8)).await?;
    probe.expect_no_msg(Duration::from_millis(300)).await?;
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Note {
    text: String,
}

impl Event for Note {
    fn topic(&self) -> Cow<'_, str> {
        Cow::Borrowed("ores.test.note")
    }
    fn key(&self) -> Option<Cow<'_, str>> {
        Some(Cow::Borrowed("tab\there\\and\nnewline"))
    }
}

#[ores_testkit::test]
async fn any_text_survives_the_log(kit: TestKit) -> anyhow::Result<()> {
    let bus = bus(&kit).await;
    let mut sub = bus.subscribe::<Note>("ores.test.note")?;
    let tricky = Note {
        text: "tab\there, newline\nthere, \\N, back\\slash, \"quotes\", ünïcödé, \u{1F600}, \r"
            .into(),
    };
    bus.publish_with_headers(&tricky, &[("x-weird", "a\tb\\c")])
        .await?;
    let got = next(&mut sub).await;
    assert_eq!(got.event, tricky);
    assert_eq!(got.meta.key.as_deref(), Some("tab\there\\and\nnewline"));
    assert_eq!(
        got.meta.header_map().get("x-weird").map(String::as_str),
        Some("a\tb\\c")
    );
    Ok(())
}

/// Runs `sql` in a separate OS process (`psql`); `false` when `psql` cannot be run here.
async fn psql(kit: &TestKit, sql: &str) -> bool {
    match tokio::process::Command::new("psql")
        .arg(kit.database_url())
        .args(["-v", "ON_ERROR_STOP=1", "-q", "-c", sql])
        .status()
        .await
    {
        Ok(status) => {
            assert!(status.success(), "psql failed: {status}");
            true
        }
        Err(e) => {
            eprintln!("skipped: `psql` cannot be run here ({e}); install PostgreSQL's client");
            false
        }
    }
}

fn insert_tick(kit: &TestKit, n: u32) -> String {
    format!(
        "INSERT INTO {}.events (id, topic, payload) \
         VALUES (gen_random_uuid(), 'ores.test.tick', '{{\"n\": {n}, \"tenant\": null}}');",
        kit.schema().as_str()
    )
}

/// A separate OS process (`psql`) writes an event into the log, as another service or a
/// script would: the bus's subscriber gets it.
#[ores_testkit::test]
async fn an_event_written_by_another_process_arrives(kit: TestKit) -> anyhow::Result<()> {
    let bus = bus(&kit).await;
    let mut sub = bus.subscribe::<Tick>("ores.test.tick")?;
    let sql = format!(
        "{} SELECT pg_notify('{}', '');",
        insert_tick(&kit, 41),
        bus.config().schema.channel()
    );
    if psql(&kit, &sql).await {
        assert_eq!(next(&mut sub).await.event.n, 41);
    }
    Ok(())
}

/// A writer that sends no NOTIFY (a pooler may drop them): readers find its event by polling.
#[ores_testkit::test]
async fn without_a_notify_readers_poll(kit: TestKit) -> anyhow::Result<()> {
    let bus = bus(&kit).await;
    let mut sub = bus.subscribe::<Tick>("ores.test.tick")?;
    if psql(&kit, &insert_tick(&kit, 43)).await {
        assert_eq!(next(&mut sub).await.event.n, 43);
    }
    Ok(())
}
