#![cfg(feature = "eventing")]
#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Consumer groups (durable subscriptions) against the machine's PostgreSQL, each test in its
//! own schema: resume after a restart, retries, dead letters, start positions, replay,
//! tenants, delivery to an actor.

mod common;
use common::{Tick, bus, tick};

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use ores_actors::eventing::{Delivered, Event, EventBus, GroupDelivery, Offset, Start};
use ores_testkit::TestKit;
use ractor::{Actor, ActorProcessingErr, ActorRef};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

const WAIT: Duration = Duration::from_secs(10);

/// What a recording handler saw: the tick number, the event id, its offset.
type Seen = (u32, String, Offset);

/// A handler that records each event on a channel and succeeds.
fn recorder(
    tx: mpsc::UnboundedSender<Seen>,
) -> impl Fn(Delivered<Tick>) -> std::future::Ready<Result<(), String>> + Send + Sync + 'static {
    move |d| {
        let _ = tx.send((d.event.n, d.meta.id.clone(), d.meta.offset));
        std::future::ready(Ok(()))
    }
}

async fn next(rx: &mut mpsc::UnboundedReceiver<Seen>) -> Seen {
    tokio::time::timeout(WAIT, rx.recv())
        .await
        .expect("no delivery in time")
        .expect("channel closed")
}

async fn next_n(rx: &mut mpsc::UnboundedReceiver<Seen>, count: usize) -> Vec<u32> {
    let mut out = Vec::new();
    for _ in 0..count {
        out.push(next(rx).await.0);
    }
    out
}

async fn publish(bus: &EventBus, range: std::ops::Range<u32>) -> Vec<String> {
    let mut ids = Vec::new();
    for n in range {
        ids.push(bus.publish(&tick(n)).await.unwrap());
    }
    ids
}

#[ores_testkit::test]
async fn a_group_resumes_after_a_restart_with_nothing_lost(kit: TestKit) -> anyhow::Result<()> {
    let bus = bus(&kit).await;
    let mut ids = publish(&bus, 0..10).await;
    let seen_ids = Arc::new(Mutex::new(HashSet::new()));

    // First run: handles 0..5, then hangs on 5 until it is stopped.
    let (tx1, mut rx1) = mpsc::unbounded_channel();
    let seen = Arc::clone(&seen_ids);
    let spec = bus
        .group::<Tick>("resume", "ores.test.*")?
        .start(Start::Beginning)
        .batch(3)
        .handler(move |d: Delivered<Tick>| {
            let tx = tx1.clone();
            let seen = Arc::clone(&seen);
            async move {
                let _ = tx.send(d.event.n);
                if d.event.n == 5 {
                    std::future::pending::<()>().await;
                }
                seen.lock().unwrap().insert(d.meta.id.clone());
                Ok::<_, String>(())
            }
        });
    assert_eq!(spec.id(), "group:resume");
    kit.spawn(spec).await?;
    let mut first = Vec::new();
    while first.last() != Some(&5) {
        first.push(
            tokio::time::timeout(WAIT, rx1.recv())
                .await?
                .expect("closed"),
        );
    }
    assert_eq!(first, (0..=5).collect::<Vec<_>>());
    kit.tree().terminate_child("group:resume").await?;
    let stored = bus
        .group_offset("resume")
        .await?
        .expect("an offset is stored");

    // Meanwhile more events; the second run resumes from the stored offset.
    ids.extend(publish(&bus, 10..15).await);
    let (tx2, mut rx2) = mpsc::unbounded_channel();
    let seen = Arc::clone(&seen_ids);
    let spec = bus
        .group::<Tick>("resume", "ores.test.*")?
        .start(Start::Now) // ignored: the group has an offset
        .batch(3)
        .handler(move |d: Delivered<Tick>| {
            let _ = tx2.send((d.event.n, d.meta.offset));
            seen.lock().unwrap().insert(d.meta.id.clone());
            std::future::ready(Ok::<_, String>(()))
        });
    kit.spawn(spec).await?;
    let mut second = Vec::new();
    while second.last().map(|(n, _)| *n) != Some(14) {
        second.push(
            tokio::time::timeout(WAIT, rx2.recv())
                .await?
                .expect("closed"),
        );
    }
    // In order, from just after the stored offset, and never past 5 (its handler never
    // finished): no gap, at least once.
    let (from, _) = second[0];
    assert!(from <= 5, "resumed at {from}, past the unfinished 5");
    assert!(second[0].1 > stored, "resumed before the stored offset");
    assert_eq!(
        second.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
        (from..15).collect::<Vec<_>>()
    );
    let seen = seen_ids.lock().unwrap().clone();
    assert_eq!(seen, ids.into_iter().collect::<HashSet<_>>());
    Ok(())
}

#[ores_testkit::test]
async fn a_failing_handler_is_retried_and_the_offset_waits(kit: TestKit) -> anyhow::Result<()> {
    let bus = bus(&kit).await;
    publish(&bus, 0..3).await;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let failures = Arc::new(AtomicU32::new(0));
    let spec = bus
        .group::<Tick>("retry", "ores.test.tick")?
        .start(Start::Beginning)
        .retry_backoff(Duration::from_millis(10), Duration::from_millis(40))
        .handler(move |d: Delivered<Tick>| {
            let tx = tx.clone();
            let failures = Arc::clone(&failures);
            async move {
                let fail = d.event.n == 1 && failures.fetch_add(1, Ordering::SeqCst) < 3;
                let _ = tx.send((d.event.n, fail, d.meta.offset));
                if fail {
                    Err(format!("tick {} refused", d.event.n))
                } else {
                    Ok(())
                }
            }
        });
    kit.spawn(spec).await?;
    let mut got = Vec::new();
    for _ in 0..6 {
        let (n, failed, offset) = tokio::time::timeout(WAIT, rx.recv())
            .await?
            .expect("closed");
        got.push((n, failed));
        if failed && got.iter().filter(|(_, f)| *f).count() == 2 {
            // While 1 fails, the stored offset never passes it.
            let stored = bus.group_offset("retry").await?.expect("stored");
            assert!(
                stored < offset,
                "offset {stored:?} passed the failing event"
            );
        }
    }
    assert_eq!(
        got,
        vec![
            (0, false),
            (1, true),
            (1, true),
            (1, true),
            (1, false),
            (2, false)
        ]
    );
    Ok(())
}

#[ores_testkit::test]
async fn undecodable_events_go_to_dead_letters(kit: TestKit) -> anyhow::Result<()> {
    #[derive(Serialize, Deserialize)]
    struct Odd {
        n: String,
    }
    impl Event for Odd {
        fn topic(&self) -> Cow<'_, str> {
            Cow::Borrowed("ores.test.tick")
        }
    }
    let bus = bus(&kit).await;
    bus.publish(&tick(0)).await?;
    let bad = bus.publish(&Odd { n: "x".into() }).await?;
    bus.publish(&tick(2)).await?;
    let (tx, mut rx) = mpsc::unbounded_channel();
    kit.spawn(
        bus.group::<Tick>("dlq", "ores.test.tick")?
            .start(Start::Beginning)
            .handler(recorder(tx)),
    )
    .await?;
    assert_eq!(next_n(&mut rx, 2).await, vec![0, 2]);
    let rows: Vec<(String, String, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT event_id::text, topic, reason FROM {}.dead_letters WHERE group_name = 'dlq'",
        kit.schema().as_str()
    )))
    .fetch_all(kit.db())
    .await?;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].0, bad);
    assert_eq!(rows[0].1, "ores.test.tick");
    assert!(rows[0].2.contains("Tick"), "reason: {}", rows[0].2);
    Ok(())
}

#[ores_testkit::test]
async fn start_beginning_or_now(kit: TestKit) -> anyhow::Result<()> {
    let bus = bus(&kit).await;
    publish(&bus, 0..2).await;
    let (tx_all, mut all) = mpsc::unbounded_channel();
    let (tx_new, mut new) = mpsc::unbounded_channel();
    kit.spawn(
        bus.group::<Tick>("from-start", "ores.test.tick")?
            .start(Start::Beginning)
            .handler(recorder(tx_all)),
    )
    .await?;
    // Delivered: 0 and 1 are below the snapshot horizon, so `Now` is past them.
    assert_eq!(next_n(&mut all, 2).await, vec![0, 1]);
    kit.spawn(
        bus.group::<Tick>("from-now", "ores.test.tick")?
            .start(Start::Now)
            .handler(recorder(tx_new)),
    )
    .await?;
    publish(&bus, 2..3).await;
    assert_eq!(next_n(&mut all, 1).await, vec![2]);
    assert_eq!(next_n(&mut new, 1).await, vec![2]);
    Ok(())
}

#[ores_testkit::test]
async fn replay_from_an_offset_or_a_time(kit: TestKit) -> anyhow::Result<()> {
    let bus = bus(&kit).await;
    publish(&bus, 0..3).await;
    let (tx, mut rx) = mpsc::unbounded_channel();
    kit.spawn(
        bus.group::<Tick>("replay", "ores.test.tick")?
            .start(Start::Beginning)
            .handler(recorder(tx)),
    )
    .await?;
    let mut offsets = Vec::new();
    for n in 0..3 {
        let (got, _, offset) = next(&mut rx).await;
        assert_eq!(got, n);
        offsets.push(offset);
    }
    let at = SystemTime::now();
    publish(&bus, 3..5).await;
    assert_eq!(next_n(&mut rx, 2).await, vec![3, 4]);

    // After event 1: 2, 3, 4 again.
    bus.replay_group("replay", Start::Offset(offsets[1]))
        .await?;
    assert_eq!(next_n(&mut rx, 3).await, vec![2, 3, 4]);
    // From the time 3 and 4 were written.
    bus.replay_group("replay", Start::Time(at)).await?;
    assert_eq!(next_n(&mut rx, 2).await, vec![3, 4]);
    // From the beginning.
    bus.replay_group("replay", Start::Beginning).await?;
    assert_eq!(next_n(&mut rx, 5).await, vec![0, 1, 2, 3, 4]);
    Ok(())
}

#[ores_testkit::test]
async fn a_group_filters_by_tenant(kit: TestKit) -> anyhow::Result<()> {
    let bus = bus(&kit).await;
    let (tx, mut rx) = mpsc::unbounded_channel();
    kit.spawn(
        bus.group::<Tick>("tenant", "ores.test.tick")?
            .tenant(Some("t1"))
            .handler(recorder(tx)),
    )
    .await?;
    for (n, tenant) in [(0, Some("t2")), (1, Some("t1")), (2, None), (3, Some("t1"))] {
        bus.publish(&Tick {
            n,
            tenant: tenant.map(str::to_owned),
        })
        .await?;
    }
    // 3 comes after 0 and 2 in the log: had they been delivered, they would come first.
    assert_eq!(next_n(&mut rx, 2).await, vec![1, 3]);
    Ok(())
}

/// An actor that fails the first delivery of each event and acknowledges the second.
struct Acker;

impl Actor for Acker {
    type Msg = GroupDelivery<Tick>;
    type State = (mpsc::UnboundedSender<(u32, bool)>, HashSet<u32>);
    type Arguments = mpsc::UnboundedSender<(u32, bool)>;

    async fn pre_start(
        &self,
        _: ActorRef<Self::Msg>,
        tx: Self::Arguments,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok((tx, HashSet::new()))
    }

    async fn handle(
        &self,
        _: ActorRef<Self::Msg>,
        msg: Self::Msg,
        (tx, tried): &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let n = msg.delivered.event.n;
        if tried.insert(n) {
            let _ = tx.send((n, false));
            msg.ack.fail("first try");
        } else {
            let _ = tx.send((n, true));
            msg.ack.done();
        }
        Ok(())
    }
}

#[ores_testkit::test]
async fn a_group_delivers_to_an_actor_that_acknowledges(kit: TestKit) -> anyhow::Result<()> {
    let bus = bus(&kit).await;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (actor, _join) = Actor::spawn(None, Acker, tx).await?;
    kit.spawn(
        bus.group::<Tick>("actor", "ores.test.tick")?
            .retry_backoff(Duration::from_millis(10), Duration::from_millis(20))
            .deliver_to(actor.clone()),
    )
    .await?;
    publish(&bus, 0..2).await;
    let mut got = Vec::new();
    for _ in 0..4 {
        got.push(
            tokio::time::timeout(WAIT, rx.recv())
                .await?
                .expect("closed"),
        );
    }
    assert_eq!(got, vec![(0, false), (0, true), (1, false), (1, true)]);
    actor.stop(None);
    Ok(())
}
