#![cfg(feature = "eventing")]
#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The event bus's NATS bridge against the machine's PostgreSQL and NATS: the relay to core
//! subjects and to JetStream, one publishing relay per name across replicas (and the takeover
//! when the holder goes), remote events in to local subscribers.

mod common;
use common::{Tick, bus, tick};

use std::collections::HashSet;
use std::time::Duration;

use futures::StreamExt;
use ores_actors::eventing::{EntityChangeEvent, Event, EventBus, MSG_ID};
use ores_actors::nats::Nats;
use ores_actors::nats::jetstream::{JetStreamAdmin, Storage, StreamSpec};
use ores_runtime::supervisor::Restart;
use ores_testkit::TestKit;

const WAIT: Duration = Duration::from_secs(10);
/// How long "nothing more arrives" is watched for.
const QUIET: Duration = Duration::from_millis(400);
const TTL: Duration = Duration::from_millis(900);

async fn publish_ticks(bus: &EventBus, range: std::ops::Range<u32>) -> Vec<String> {
    let mut ids = Vec::new();
    for n in range {
        ids.push(bus.publish(&tick(n)).await.unwrap());
    }
    ids
}

/// The next message, within `WAIT`.
async fn next(sub: &mut async_nats::Subscriber) -> async_nats::Message {
    tokio::time::timeout(WAIT, sub.next())
        .await
        .expect("no message within the wait")
        .expect("subscription ended")
}

fn header(msg: &async_nats::Message, name: &str) -> String {
    msg.headers
        .as_ref()
        .and_then(|h| h.get(name))
        .map(|v| v.as_str().to_string())
        .unwrap_or_default()
}

/// Receives one message per id in `ids`, in that order, then nothing more for a while.
async fn expect_exactly(sub: &mut async_nats::Subscriber, ids: &[String], from: u32) {
    for (i, id) in ids.iter().enumerate() {
        let msg = next(sub).await;
        assert_eq!(
            &header(&msg, MSG_ID),
            id,
            "message {i} out of order or repeated"
        );
        let tick: Tick = serde_json::from_slice(&msg.payload).unwrap();
        assert_eq!(tick.n, from + i as u32);
    }
    assert!(
        tokio::time::timeout(QUIET, sub.next()).await.is_err(),
        "a message more than expected (a duplicate)"
    );
}

async fn lease_holder(kit: &TestKit, name: &str) -> Option<String> {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT holder FROM {}.leases WHERE name = $1",
        kit.schema().as_str()
    )))
    .bind(format!("relay:{name}"))
    .fetch_optional(kit.db())
    .await
    .unwrap()
}

#[ores_testkit::test(timeout = 60)]
async fn events_go_out_on_core_subjects_in_order(kit: TestKit) -> anyhow::Result<()> {
    let nats = kit.nats().await?;
    let bus = bus(&kit).await;
    let mut sub = nats.subscribe_raw("ores.test.>", None).await?;
    kit.spawn(
        bus.relay("ticks", "ores.test.>", &nats)?
            .lease_ttl(TTL)
            .core(),
    )
    .await?;
    let ids = publish_ticks(&bus, 0..20).await;
    // Another topic, not relayed.
    bus.publish(&EntityChangeEvent::new("ores.other.thing", ["1"]))
        .await?;
    for (i, id) in ids.iter().enumerate() {
        let msg = next(&mut sub).await;
        assert_eq!(msg.subject.as_str(), nats.full_subject("ores.test.tick"));
        assert_eq!(&header(&msg, MSG_ID), id);
        assert_eq!(header(&msg, "Content-Type"), "application/json");
        assert_eq!(header(&msg, "Nats-Correlation-Id"), *id);
        let tick: Tick = serde_json::from_slice(&msg.payload)?;
        assert_eq!(tick.n, i as u32);
    }
    Ok(())
}

#[ores_testkit::test(timeout = 90)]
async fn one_relay_per_name_publishes_and_the_other_takes_over(kit: TestKit) -> anyhow::Result<()> {
    let nats = kit.nats().await?;
    let bus = bus(&kit).await;
    let mut sub = nats.subscribe_raw("ores.test.>", None).await?;
    // Two replicas of one relay (as two processes would run them).
    for replica in ["a", "b"] {
        kit.spawn(
            bus.relay("ticks", "ores.test.>", &nats)?
                .lease_ttl(TTL)
                .holder(replica)
                .id(format!("relay-{replica}"))
                .core(),
        )
        .await?;
    }
    let first = publish_ticks(&bus, 0..30).await;
    expect_exactly(&mut sub, &first, 0).await;
    let holder = lease_holder(&kit, "ticks").await.expect("a lease holder");
    let other = if holder == "a" { "b" } else { "a" };

    // The holder stops: the other continues from the stored offset, no gap, no repeat.
    kit.tree()
        .terminate_child(&format!("relay-{holder}"))
        .await?;
    let second = publish_ticks(&bus, 30..60).await;
    expect_exactly(&mut sub, &second, 30).await;
    assert_eq!(
        lease_holder(&kit, "ticks").await.as_deref(),
        Some(other),
        "the other replica holds the lease"
    );
    Ok(())
}

#[ores_testkit::test(timeout = 90)]
async fn a_dead_holders_lease_expires_and_the_other_resumes(kit: TestKit) -> anyhow::Result<()> {
    let nats = kit.nats().await?;
    let bus = bus(&kit).await;
    let mut sub = nats.subscribe_raw("ores.test.>", None).await?;
    let mut handles = Vec::new();
    for replica in ["a", "b"] {
        let spec = bus
            .relay("ticks", "ores.test.>", &nats)?
            .lease_ttl(TTL)
            .holder(replica)
            .id(format!("relay-{replica}"))
            .core()
            .restart(Restart::Temporary);
        handles.push(kit.spawn(spec).await?);
    }
    let first = publish_ticks(&bus, 0..10).await;
    expect_exactly(&mut sub, &first, 0).await;
    let holder = lease_holder(&kit, "ticks").await.expect("a lease holder");
    let index = usize::from(holder != "a");

    // Killed: no graceful stop, the lease stays until it expires.
    handles[index].current().expect("running").kill();
    let second = publish_ticks(&bus, 10..20).await;
    // At least once: the dead holder may have published before storing its offset; every
    // event arrives, in order (repeats allowed only before the first new one).
    let mut seen = HashSet::new();
    let mut expected = second.iter().peekable();
    while let Some(want) = expected.peek() {
        let msg = next(&mut sub).await;
        let id = header(&msg, MSG_ID);
        if &&id == want {
            seen.insert(id);
            expected.next();
        } else {
            assert!(
                first.contains(&id),
                "unexpected or out-of-order message {id}"
            );
        }
    }
    assert_eq!(seen.len(), second.len());
    assert_ne!(lease_holder(&kit, "ticks").await, Some(holder));
    Ok(())
}

/// Deletes the test's stream when dropped, whether the test passed or panicked.
struct DropStream {
    url: String,
    name: String,
}

impl Drop for DropStream {
    fn drop(&mut self) {
        let url = self.url.clone();
        let name = self.name.clone();
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                if let Ok(client) = async_nats::connect(url).await {
                    let _ = async_nats::jetstream::new(client)
                        .delete_stream(&name)
                        .await;
                }
            });
        })
        .join();
    }
}

#[ores_testkit::test(timeout = 60)]
async fn jetstream_mode_stores_each_event_once(kit: TestKit) -> anyhow::Result<()> {
    let nats: Nats = kit.nats().await?;
    let bus = bus(&kit).await;
    let admin = JetStreamAdmin::new(&nats);
    let ensured = admin
        .ensure_stream(&StreamSpec::new("bridge", ["ores.test.>"]).storage(Storage::Memory))
        .await?;
    let _guard = DropStream {
        url: kit.nats_url().to_string(),
        name: ensured.name.clone(),
    };
    kit.spawn(
        bus.relay("ticks", "ores.test.>", &nats)?
            .lease_ttl(TTL)
            .jetstream("bridge"),
    )
    .await?;
    let ids = publish_ticks(&bus, 0..5).await;

    let js = async_nats::jetstream::new(nats.client(WAIT).await?);
    let stream = js.get_stream(&ensured.name).await?;
    let consumer = stream
        .create_consumer(async_nats::jetstream::consumer::pull::OrderedConfig::default())
        .await?;
    let mut messages = consumer.messages().await?;
    for (i, id) in ids.iter().enumerate() {
        let msg = tokio::time::timeout(WAIT, messages.next())
            .await
            .expect("no stream message within the wait")
            .expect("stream ended")?;
        assert_eq!(msg.info().unwrap().stream_sequence, i as u64 + 1);
        let got = msg
            .headers
            .as_ref()
            .and_then(|h| h.get(MSG_ID))
            .map(|v| v.as_str().to_string());
        assert_eq!(got.as_deref(), Some(id.as_str()));
        let tick: Tick = serde_json::from_slice(&msg.payload)?;
        assert_eq!(tick.n, i as u32);
    }

    // The same event again (as a relay taking over from a stale offset would send it).
    let mut headers = async_nats::HeaderMap::new();
    headers.insert(MSG_ID, ids[0].as_str());
    let ack = js
        .publish_with_headers(
            nats.full_subject("ores.test.tick"),
            headers,
            r#"{"n":0}"#.into(),
        )
        .await?
        .await?;
    assert!(ack.duplicate, "the stream did not drop a repeated event id");
    assert_eq!(admin.stream_info(&ensured.name).await?.messages, 5);
    Ok(())
}

#[ores_testkit::test(timeout = 60)]
async fn remote_events_reach_local_subscribers(kit: TestKit) -> anyhow::Result<()> {
    let nats = kit.nats().await?;
    let bus = bus(&kit).await;
    kit.spawn(bus.bridge_in(&nats, "ores.x.>")?).await?;
    let mut local = bus.subscribe::<EntityChangeEvent>("ores.x.*")?;

    let event = EntityChangeEvent::new("ores.x.y", ["42"]).tenant("t1");
    assert_eq!(event.topic(), "ores.x.y_changed");
    let mut headers = async_nats::HeaderMap::new();
    headers.insert(MSG_ID, "remote-1");
    headers.insert("X-Tenant-Id", "t1");
    headers.insert("Content-Type", "application/json");
    nats.publish_bytes(
        "ores.x.y_changed",
        headers,
        serde_json::to_vec(&event)?.into(),
    )
    .await?;

    let got = tokio::time::timeout(WAIT, local.recv())
        .await
        .expect("no bridged event within the wait")
        .expect("subscription closed");
    assert_eq!(got.event, event);
    assert_eq!(got.meta.id, "remote-1");
    assert_eq!(got.meta.topic, "ores.x.y_changed");
    assert_eq!(got.meta.tenant.as_deref(), Some("t1"));
    Ok(())
}

#[ores_testkit::test(timeout = 60)]
async fn events_relayed_from_this_log_are_not_bridged_back(kit: TestKit) -> anyhow::Result<()> {
    let nats = kit.nats().await?;
    let bus = bus(&kit).await;
    let mut wire = nats.subscribe_raw("ores.test.>", None).await?;
    kit.spawn(bus.bridge_in(&nats, "ores.test.>")?).await?;
    kit.spawn(
        bus.relay("ticks", "ores.test.>", &nats)?
            .lease_ttl(TTL)
            .core(),
    )
    .await?;
    let mut local = bus.subscribe::<Tick>("ores.test.*")?;
    let id = bus.publish(&tick(7)).await?;
    let got = tokio::time::timeout(WAIT, local.recv()).await?.unwrap();
    assert_eq!(got.meta.id, id);
    // It went out on NATS, and the bridge-in (same log) left it alone.
    assert_eq!(header(&next(&mut wire).await, MSG_ID), id);
    assert!(
        tokio::time::timeout(QUIET, local.recv()).await.is_err(),
        "the relayed event came back in through the bridge"
    );
    Ok(())
}
