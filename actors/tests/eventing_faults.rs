#![cfg(feature = "eventing")]
#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The event bus while its link to PostgreSQL is cut (through the testkit's `FaultProxy`):
//! its actors fail and are restarted, publishers get `EventError::Unavailable` meanwhile, and
//! every acknowledged event is in the log and delivered once the link is back.

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ores_actors::eventing::{Event, EventBus, EventBusConfig, EventError};
use ores_testkit::TestKit;
use ores_testkit::proxy::FaultProxy;
use serde::{Deserialize, Serialize};
use sqlx::postgres::PgPoolOptions;
use tokio::sync::watch;
use tokio::time::timeout;

const WAIT: Duration = Duration::from_secs(15);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Tick {
    n: u64,
}

impl Event for Tick {
    fn topic(&self) -> Cow<'_, str> {
        Cow::Borrowed("ores.test.tick")
    }
}

/// What the publisher has seen so far.
#[derive(Debug, Clone, Default)]
struct Published {
    acked: Vec<String>,
    unavailable: usize,
}

/// `host:port` of a `postgres://` URL.
fn authority(url: &str) -> String {
    url.split("://")
        .nth(1)
        .and_then(|rest| rest.split(['/', '?']).next())
        .map(|auth| auth.rsplit('@').next().unwrap_or(auth).to_owned())
        .expect("a postgres:// URL")
}

#[ores_testkit::test(timeout = 90)]
async fn a_cut_link_loses_no_acknowledged_event(kit: TestKit) -> anyhow::Result<()> {
    let proxy = FaultProxy::start(authority(kit.database_url())).await?;
    // The bus's statements name their schema: a plain pool through the proxy will do.
    let pool = PgPoolOptions::new()
        .max_connections(4)
        .acquire_timeout(Duration::from_secs(2))
        .connect_lazy(&proxy.url_for(kit.database_url()))?;
    let config = EventBusConfig::new(kit.schema().as_str())?
        .publish_timeout(Duration::from_millis(300))
        .poll_interval(Duration::from_millis(100));
    let bus = EventBus::new(pool, config)?;
    let mut supervision = kit.supervision().within(WAIT);
    kit.spawn(bus.child_spec()).await?;
    let mut sub = bus.subscribe::<Tick>("ores.test.tick")?;

    // One publisher, publishing back to back, keeping every acknowledged id.
    let (progress, mut seen) = watch::channel(Published::default());
    let stop = Arc::new(AtomicBool::new(false));
    let publisher = tokio::spawn({
        let bus = bus.clone();
        let stop = Arc::clone(&stop);
        async move {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                match bus.publish(&Tick { n }).await {
                    Ok(id) => progress.send_modify(|p| p.acked.push(id)),
                    Err(EventError::Unavailable { .. }) => {
                        progress.send_modify(|p| p.unavailable += 1);
                    }
                    Err(e) => panic!("publish failed otherwise than `Unavailable`: {e}"),
                }
            }
        }
    });
    timeout(WAIT, seen.wait_for(|p| p.acked.len() >= 50))
        .await
        .expect("no publishes acknowledged")?;

    proxy.cut();
    let reason = supervision.expect_failure("event-writer").await?;
    assert!(!reason.is_empty());
    let before = timeout(WAIT, seen.wait_for(|p| p.unavailable >= 1))
        .await
        .expect("no publisher got `Unavailable` while the link was cut")?
        .acked
        .len();

    proxy.restore();
    // The writer comes back (after its failed restarts while cut), then those after it.
    supervision.expect_started("event-writer").await?;
    supervision.expect_started("event-reader").await?;
    supervision.expect_started("event-maintenance").await?;
    timeout(WAIT, seen.wait_for(|p| p.acked.len() >= before + 50))
        .await
        .expect("publishes not acknowledged again after the link came back")?;
    stop.store(true, Ordering::Relaxed);
    timeout(WAIT, publisher).await??;
    let published = seen.borrow().clone();
    assert!(published.unavailable >= 1);

    // Every acknowledged event is in the log (read directly, not through the proxy)...
    let sql = format!("SELECT id::text FROM {}.events", kit.schema().as_str());
    let in_log: HashSet<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .fetch_all(kit.db())
        .await?
        .into_iter()
        .collect();
    let missing: Vec<&String> = published
        .acked
        .iter()
        .filter(|id| !in_log.contains(*id))
        .collect();
    assert!(
        missing.is_empty(),
        "acknowledged, not in the log: {missing:?}"
    );

    // ... and delivered to the subscriber (duplicates allowed).
    let mut waiting: HashSet<String> = published.acked.iter().cloned().collect();
    let total = waiting.len();
    timeout(WAIT, async {
        while !waiting.is_empty() {
            let got = sub.recv().await.expect("subscription closed");
            waiting.remove(&got.meta.id);
        }
    })
    .await
    .unwrap_or_else(|_| {
        panic!(
            "{} of {total} acknowledged events not delivered",
            waiting.len()
        )
    });
    Ok(())
}
