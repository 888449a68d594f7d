//! Retention of the event log: day partitions made ahead, old days dropped whole, rows of the
//! DEFAULT partition moved into their day; events keep flowing throughout.
#![cfg(feature = "eventing")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::{Tick, tick};

use std::time::Duration;

use ores_actors::eventing::{Delivered, EventBus, Subscription, maintain};
use ores_testkit::TestKit;

const WAIT: Duration = Duration::from_secs(5);
const DAY: Duration = Duration::from_secs(24 * 3600);

async fn next(sub: &mut Subscription<Tick>) -> Delivered<Tick> {
    tokio::time::timeout(WAIT, sub.recv())
        .await
        .expect("no event within 5 s")
        .expect("subscription closed")
}

/// `YYYYMMDD` of the UTC day `offset` days from today, by the database's clock.
async fn day(kit: &TestKit, offset: i32) -> String {
    sqlx::query_scalar("SELECT to_char((now() AT TIME ZONE 'UTC')::date + $1, 'YYYYMMDD')")
        .bind(offset)
        .fetch_one(kit.db())
        .await
        .unwrap()
}

/// The days of the log's partitions, sorted.
async fn partitions(kit: &TestKit) -> Vec<String> {
    let mut days: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = to_regclass($1)",
    )
    .bind(format!("{}.events", kit.schema().as_str()))
    .fetch_all(kit.db())
    .await
    .unwrap();
    days.sort();
    days
}

async fn count(kit: &TestKit, table: &str) -> i64 {
    let sql = format!("SELECT count(*) FROM {}.{table}", kit.schema().as_str());
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .fetch_one(kit.db())
        .await
        .unwrap()
}

/// Makes the partition of the day `offset` days from today (as an earlier day's maintenance
/// did) with one event in it.
async fn old_partition(kit: &TestKit, bus: &EventBus, offset: i32) -> String {
    let s = kit.schema().as_str();
    let (name, from): (String, String) = sqlx::query_as(
        "SELECT to_char(d, 'YYYYMMDD'), to_char(d, 'YYYY-MM-DD')
         FROM (SELECT (now() AT TIME ZONE 'UTC')::date + $1 AS d) AS x",
    )
    .bind(offset)
    .fetch_one(kit.db())
    .await
    .unwrap();
    let sql = format!(
        "CREATE TABLE {s}.events_{name} PARTITION OF {s}.events
             FOR VALUES FROM ('{from} 00:00:00+00') TO (('{from} 00:00:00+00'::timestamptz + interval '24 hours'));
         INSERT INTO {s}.events (id, topic, payload, created_at)
             VALUES (gen_random_uuid(), 'ores.test.old', '{{}}', '{from} 12:00:00+00');"
    );
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(bus.pool())
        .await
        .unwrap();
    format!("events_{name}")
}

#[ores_testkit::test]
async fn old_days_are_dropped_whole_and_recent_ones_kept(kit: TestKit) -> anyhow::Result<()> {
    let bus = kit.event_bus().await?;
    // The maintenance at start made today and the days ahead.
    let mut expected = vec!["events_default".to_string()];
    for offset in 0..=bus.config().partitions_ahead as i32 {
        expected.push(format!("events_{}", day(&kit, offset).await));
    }
    expected.sort();
    assert_eq!(partitions(&kit).await, expected);

    let mut sub = bus.subscribe::<Tick>("ores.test.tick")?;
    bus.publish(&tick(1)).await?;
    assert_eq!(next(&mut sub).await.event.n, 1);
    assert_eq!(count(&kit, "events_default").await, 0);
    assert_eq!(
        count(&kit, &format!("events_{}", day(&kit, 0).await)).await,
        1
    );

    let mut dropped = Vec::new();
    for offset in [-10, -3] {
        dropped.push(old_partition(&kit, &bus, offset).await);
    }
    let mut kept = Vec::new();
    for offset in [-2, -1] {
        kept.push(old_partition(&kit, &bus, offset).await);
    }

    // Two days: every day that ended more than two days ago goes.
    let config = bus.config().clone().retention(2 * DAY);
    let report = maintain(bus.pool(), &config).await?;
    assert_eq!(report.dropped, dropped);
    assert!(report.created.is_empty(), "{report:?}");
    assert_eq!((report.moved, report.expired), (0, 0));
    let now = partitions(&kit).await;
    for name in &dropped {
        assert!(!now.contains(name), "{name} kept: {now:?}");
    }
    for name in kept.iter().chain(&expected) {
        assert!(now.contains(name), "{name} dropped: {now:?}");
    }
    assert_eq!(count(&kit, "events").await, 1 + 2);

    // Again: nothing left to do.
    assert_eq!(
        maintain(bus.pool(), &config).await?,
        Default::default(),
        "a second run changed something"
    );

    bus.publish(&tick(2)).await?;
    assert_eq!(next(&mut sub).await.event.n, 2);
    Ok(())
}

#[ores_testkit::test]
async fn rows_in_the_default_partition_move_into_their_day(kit: TestKit) -> anyhow::Result<()> {
    let bus = kit.event_bus().await?;
    let s = kit.schema().as_str();
    let today = format!("events_{}", day(&kit, 0).await);
    // As before the first maintenance: today's events land in the DEFAULT partition.
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP TABLE {s}.{today}")))
        .execute(kit.db())
        .await?;
    let mut sub = bus.subscribe::<Tick>("ores.test.tick")?;
    for n in 0..5 {
        bus.publish(&tick(n)).await?;
    }
    for n in 0..5 {
        assert_eq!(next(&mut sub).await.event.n, n);
    }
    // And one from long ago, past any retention.
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "INSERT INTO {s}.events (id, topic, payload, created_at)
             VALUES (gen_random_uuid(), 'ores.test.old', '{{}}', now() - interval '30 days')"
    )))
    .execute(kit.db())
    .await?;
    assert_eq!(count(&kit, "events_default").await, 6);

    let report = maintain(bus.pool(), bus.config()).await?;
    assert_eq!(report.created, vec![today.clone()]);
    assert_eq!(report.moved, 5);
    assert_eq!(report.expired, 1);
    assert_eq!(count(&kit, "events_default").await, 0);
    assert_eq!(count(&kit, &today).await, 5);

    // Flowing on, and the moved events are not delivered again.
    bus.publish(&tick(5)).await?;
    assert_eq!(next(&mut sub).await.event.n, 5);
    assert_eq!(count(&kit, &today).await, 6);
    Ok(())
}

#[ores_testkit::test]
async fn maintenance_runs_in_the_bus_subtree(kit: TestKit) -> anyhow::Result<()> {
    let mut supervision = kit.supervision();
    let bus = kit.event_bus().await?;
    supervision.expect_started("event-maintenance").await?;
    // The same bus on a second call.
    assert!(std::ptr::eq(kit.event_bus().await?.config(), bus.config()));
    Ok(())
}
