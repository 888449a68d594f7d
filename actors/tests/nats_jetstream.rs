//! JetStream administration and durable consumers against the machine's NATS server. Every
//! stream is named from the test's unique prefix and deleted when the test ends (pass or
//! fail).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use ores_actors::nats::jetstream::{
    DEAD_LETTER_CONSUMER, DEAD_LETTER_DELIVERIES, DEAD_LETTER_ERROR, DEAD_LETTER_SEQUENCE,
    DEAD_LETTER_STREAM, DEAD_LETTER_SUBJECT, Delivery, DurableConsumer, EnsureOutcome,
    HandlerError, JetStreamAdmin, JetStreamError, Storage, StreamSpec, stream_name,
};
use ores_actors::nats::{ConnectionEvent, LinkStatus, Nats, NatsConfig};
use ores_runtime::supervisor::Backoff;
use ores_testkit::TestKit;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

const WAIT: Duration = Duration::from_secs(10);

/// Deletes the test's streams when dropped, whether the test passed or panicked.
struct Streams {
    url: String,
    names: Vec<String>,
}

impl Drop for Streams {
    fn drop(&mut self) {
        let url = self.url.clone();
        let names = std::mem::take(&mut self.names);
        // Our own runtime on our own thread: this also runs while a failed test unwinds.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let client = async_nats::connect(url).await.unwrap();
                let js = async_nats::jetstream::new(client);
                for name in names {
                    let _ = js.delete_stream(&name).await;
                }
            });
        })
        .join();
    }
}

/// A connected `Nats` handle in the test's tree, its admin, and the clean-up guard.
async fn connect(kit: &TestKit) -> anyhow::Result<(Nats, JetStreamAdmin, Streams)> {
    let nats = Nats::new(NatsConfig::new(kit.nats_url(), kit.subject_prefix()))?;
    let mut events = nats.events();
    kit.spawn(nats.child_spec()).await?;
    if nats.status() != LinkStatus::Connected {
        events
            .wait_for(WAIT, |e| matches!(e, ConnectionEvent::Connected))
            .await
            .expect("connected");
    }
    let admin = JetStreamAdmin::new(&nats);
    let guard = Streams {
        url: kit.nats_url().to_string(),
        names: Vec::new(),
    };
    Ok((nats, admin, guard))
}

/// Publish to `{prefix}.{relative}` through JetStream and wait for the stream's ack.
async fn publish(nats: &Nats, relative: &str, payload: &'static str) -> anyhow::Result<u64> {
    let js = async_nats::jetstream::new(nats.client(WAIT).await?);
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("X-Test", payload);
    let ack = js
        .publish_with_headers(nats.full_subject(relative), headers, payload.into())
        .await?
        .await?;
    Ok(ack.sequence)
}

/// Wait (polling, bounded) until the consumer has nothing pending nor unacknowledged.
async fn wait_all_acked(admin: &JetStreamAdmin, stream: &str, last: u64) -> anyhow::Result<()> {
    let deadline = Instant::now() + WAIT;
    loop {
        let consumers = admin.list_consumers(stream).await?;
        let c = &consumers[0];
        if c.ack_pending == 0 && c.pending == 0 && c.ack_floor == last {
            return Ok(());
        }
        anyhow::ensure!(Instant::now() < deadline, "not all acked: {c:?}");
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn fast_backoff() -> Backoff {
    Backoff::exponential(Duration::from_millis(50), Duration::from_millis(200)).unwrap()
}

#[test]
fn stream_names_follow_ore() {
    assert_eq!(
        stream_name("ores.dev.local2", "workflow"),
        "ores_dev_local2_workflow"
    );
}

#[ores_testkit::test(timeout = 60)]
async fn ensure_stream_creates_then_updates_subjects_then_reports_unchanged(
    kit: TestKit,
) -> anyhow::Result<()> {
    let (nats, admin, mut streams) = connect(&kit).await?;
    let name = admin.stream_name("events");
    assert_eq!(name, stream_name(kit.subject_prefix(), "events"));
    streams.names.push(name.clone());
    let p = kit.subject_prefix();

    let spec = StreamSpec::new("events", ["a.>"]).storage(Storage::Memory);
    let created = admin.ensure_stream(&spec).await?;
    assert_eq!(created.name, name);
    assert_eq!(created.outcome, EnsureOutcome::Created);
    let info = admin.stream_info(&name).await?;
    assert_eq!(info.subjects, vec![format!("{p}.a.>")]);
    assert_eq!(info.storage, Storage::Memory);

    // ORE's bug: new subjects were never applied to an existing stream.
    let wider = StreamSpec::new("events", ["a.>", "b.>"]).storage(Storage::Memory);
    let updated = admin.ensure_stream(&wider).await?;
    assert_eq!(
        updated.outcome,
        EnsureOutcome::Updated {
            changed: vec!["subjects"]
        }
    );
    let mut subjects = admin.stream_info(&name).await?.subjects;
    subjects.sort();
    assert_eq!(subjects, vec![format!("{p}.a.>"), format!("{p}.b.>")]);
    // Messages on the new subject are now stored.
    publish(&nats, "b.one", "x").await?;
    assert_eq!(admin.stream_info(&name).await?.messages, 1);

    assert_eq!(
        admin.ensure_stream(&wider).await?.outcome,
        EnsureOutcome::Unchanged
    );

    // Limits are updated too.
    let aged = wider.clone().max_age(Duration::from_secs(3600));
    assert_eq!(
        admin.ensure_stream(&aged).await?.outcome,
        EnsureOutcome::Updated {
            changed: vec!["max_age"]
        }
    );
    assert_eq!(
        admin.stream_info(&name).await?.max_age,
        Some(Duration::from_secs(3600))
    );
    assert_eq!(
        admin.ensure_stream(&aged).await?.outcome,
        EnsureOutcome::Unchanged
    );

    // Storage cannot change: a typed error naming the stream.
    let on_disk = aged.clone().storage(Storage::File);
    let err = admin.ensure_stream(&on_disk).await.unwrap_err();
    assert!(matches!(err, JetStreamError::InvalidSpec { .. }), "{err:?}");
    assert!(err.to_string().contains(&format!("`{name}`")), "{err}");

    // A bad spec is refused before anything is sent.
    let err = admin
        .ensure_stream(&StreamSpec::new("bad.name", ["x"]))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("bad.name"), "{err}");
    Ok(())
}

#[ores_testkit::test(timeout = 60)]
async fn admin_lists_inspects_peeks_deletes_and_purges(kit: TestKit) -> anyhow::Result<()> {
    let (nats, admin, mut streams) = connect(&kit).await?;
    let ensured = admin
        .ensure_stream(&StreamSpec::new("audit", ["audit.>"]).storage(Storage::Memory))
        .await?;
    let name = ensured.name;
    streams.names.push(name.clone());

    for payload in ["one", "two", "three"] {
        publish(&nats, "audit.created", payload).await?;
    }

    let listed = admin.list_streams().await?;
    assert_eq!(
        listed.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
        vec![name.as_str()],
        "only this prefix's streams"
    );
    assert!(
        admin
            .list_all_streams()
            .await?
            .iter()
            .any(|s| s.name == name)
    );
    let info = admin.stream_info(&name).await?;
    assert_eq!(
        (info.messages, info.first_sequence, info.last_sequence),
        (3, 1, 3)
    );

    let peeked = admin.peek_message(&name, 2).await?;
    assert_eq!(peeked.sequence, 2);
    assert_eq!(
        peeked.subject,
        format!("{}.audit.created", kit.subject_prefix())
    );
    assert_eq!(&peeked.payload[..], b"two");
    assert_eq!(peeked.headers.get("X-Test").unwrap().as_str(), "two");

    admin.delete_message(&name, 2).await?;
    let gone = admin.peek_message(&name, 2).await.unwrap_err();
    assert!(
        matches!(gone, JetStreamError::MessageNotFound { sequence: 2, .. }),
        "{gone:?}"
    );
    assert_eq!(
        gone.to_string(),
        format!("no message with sequence 2 in stream `{name}`")
    );
    let again = admin.delete_message(&name, 2).await.unwrap_err();
    assert!(
        matches!(again, JetStreamError::MessageNotFound { sequence: 2, .. }),
        "{again:?}"
    );
    assert_eq!(admin.stream_info(&name).await?.messages, 2);

    assert!(admin.list_consumers(&name).await?.is_empty());
    let js = async_nats::jetstream::new(nats.client(WAIT).await?);
    js.get_stream(&name)
        .await?
        .create_consumer(async_nats::jetstream::consumer::pull::Config {
            durable_name: Some("reader".into()),
            ..Default::default()
        })
        .await?;
    let consumers = admin.list_consumers(&name).await?;
    assert_eq!(consumers.len(), 1);
    assert_eq!(consumers[0].name, "reader");
    assert!(consumers[0].durable);
    assert_eq!(consumers[0].pending, 2);

    assert_eq!(admin.purge_stream(&name).await?, 2);
    assert_eq!(admin.stream_info(&name).await?.messages, 0);

    let missing = stream_name(kit.subject_prefix(), "missing");
    let err = admin.stream_info(&missing).await.unwrap_err();
    assert!(
        matches!(err, JetStreamError::StreamNotFound { .. }),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!("stream `{missing}` does not exist")
    );
    assert!(!admin.delete_stream(&missing).await?);
    Ok(())
}

/// What a test handler saw.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    payload: String,
    delivered: u64,
    ok: bool,
}

#[ores_testkit::test(timeout = 60)]
async fn a_handler_that_fails_twice_then_succeeds_sees_three_deliveries_and_one_ack(
    kit: TestKit,
) -> anyhow::Result<()> {
    let (nats, admin, mut streams) = connect(&kit).await?;
    let name = admin
        .ensure_stream(&StreamSpec::new("jobs", ["jobs.>"]).storage(Storage::Memory))
        .await?
        .name;
    streams.names.push(name.clone());
    let mut probe = kit.probe::<Seen>("deliveries").await?.within(WAIT);
    let report = probe.actor();
    let calls = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&calls);
    let spec = DurableConsumer::new(&nats, "jobs", "worker")
        .filter("jobs.>")
        .max_deliver(5)
        .backoff(fast_backoff())
        .handler(move |d: Delivery| {
            let report = report.clone();
            let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
            async move {
                let ok = n > 2;
                report
                    .send_message(Seen {
                        payload: String::from_utf8_lossy(&d.payload).into(),
                        delivered: d.delivered,
                        ok,
                    })
                    .unwrap();
                if ok {
                    Ok(())
                } else {
                    Err(HandlerError::new(format!("failure {n}")))
                }
            }
        });
    kit.spawn(spec).await?;
    let seq = publish(&nats, "jobs.run", "job").await?;

    for (delivered, ok) in [(1, false), (2, false), (3, true)] {
        probe
            .expect_msg_eq(&Seen {
                payload: "job".into(),
                delivered,
                ok,
            })
            .await?;
    }
    wait_all_acked(&admin, &name, seq).await?;
    // Acked once: no further delivery, even after the longest backoff has passed.
    probe.expect_no_msg(Duration::from_millis(600)).await?;
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    Ok(())
}

#[ores_testkit::test(timeout = 60)]
async fn a_poison_message_is_dead_lettered_and_the_next_one_is_still_processed(
    kit: TestKit,
) -> anyhow::Result<()> {
    let (nats, admin, mut streams) = connect(&kit).await?;
    let name = admin
        .ensure_stream(&StreamSpec::new("orders", ["orders.>"]).storage(Storage::Memory))
        .await?
        .name;
    streams.names.push(name.clone());
    let mut dlq = nats.subscribe_raw("dead.orders", None).await?;
    nats.client(WAIT).await?.flush().await?;

    let mut probe = kit.probe::<Seen>("deliveries").await?.within(WAIT);
    let report = probe.actor();
    let spec = DurableConsumer::new(&nats, "orders", "orders-worker")
        .max_deliver(3)
        .backoff(fast_backoff())
        .dead_letter("dead.orders")
        .handler(move |d: Delivery| {
            let report = report.clone();
            async move {
                let payload = String::from_utf8_lossy(&d.payload).to_string();
                let ok = payload != "poison";
                report
                    .send_message(Seen {
                        payload,
                        delivered: d.delivered,
                        ok,
                    })
                    .unwrap();
                if ok {
                    Ok(())
                } else {
                    Err(HandlerError::new("cannot parse\r\nthe order"))
                }
            }
        });
    kit.spawn(spec).await?;
    let poison = publish(&nats, "orders.new", "poison").await?;
    let good = publish(&nats, "orders.new", "good").await?;

    let mut poison_deliveries = Vec::new();
    let mut good_seen = false;
    while poison_deliveries.len() < 3 || !good_seen {
        let seen = probe.expect_msg().await?;
        if seen.payload == "poison" {
            assert!(!seen.ok);
            poison_deliveries.push(seen.delivered);
        } else {
            assert_eq!((seen.payload.as_str(), seen.ok), ("good", true));
            good_seen = true;
        }
    }
    assert_eq!(poison_deliveries, vec![1, 2, 3]);

    let dead = tokio::time::timeout(WAIT, dlq.next())
        .await?
        .expect("a dead letter");
    assert_eq!(&dead.payload[..], b"poison");
    let h = dead.headers.expect("headers");
    let header = |n: &str| h.get(n).map(|v| v.as_str().to_string());
    assert_eq!(
        header(DEAD_LETTER_SUBJECT),
        Some(format!("{}.orders.new", kit.subject_prefix()))
    );
    assert_eq!(header(DEAD_LETTER_STREAM), Some(name.clone()));
    assert_eq!(header(DEAD_LETTER_SEQUENCE), Some(poison.to_string()));
    assert_eq!(header(DEAD_LETTER_CONSUMER), Some("orders-worker".into()));
    assert_eq!(header(DEAD_LETTER_DELIVERIES), Some("3".into()));
    assert_eq!(
        header(DEAD_LETTER_ERROR),
        Some("cannot parse  the order".into())
    );
    // The original headers travel along.
    assert_eq!(header("X-Test"), Some("poison".into()));

    wait_all_acked(&admin, &name, good).await?;
    probe.expect_no_msg(Duration::from_millis(600)).await?;
    Ok(())
}

/// An actor handler that fails the first delivery of each message.
struct Flaky;

enum FlakyMsg {
    Handle(Delivery, RpcReplyPort<Result<(), HandlerError>>),
}

impl Actor for Flaky {
    type Msg = FlakyMsg;
    type State = ActorRef<Seen>;
    type Arguments = ActorRef<Seen>;

    async fn pre_start(
        &self,
        _: ActorRef<FlakyMsg>,
        report: ActorRef<Seen>,
    ) -> Result<ActorRef<Seen>, ActorProcessingErr> {
        Ok(report)
    }

    async fn handle(
        &self,
        _: ActorRef<FlakyMsg>,
        FlakyMsg::Handle(d, reply): FlakyMsg,
        report: &mut ActorRef<Seen>,
    ) -> Result<(), ActorProcessingErr> {
        let ok = d.delivered > 1;
        report.send_message(Seen {
            payload: String::from_utf8_lossy(&d.payload).into(),
            delivered: d.delivered,
            ok,
        })?;
        let _ = reply.send(if ok {
            Ok(())
        } else {
            Err(HandlerError::new("not yet"))
        });
        Ok(())
    }
}

#[ores_testkit::test(timeout = 60)]
async fn an_actor_handler_failure_is_not_acked_and_the_message_comes_back(
    kit: TestKit,
) -> anyhow::Result<()> {
    let (nats, admin, mut streams) = connect(&kit).await?;
    let name = admin
        .ensure_stream(&StreamSpec::new("mail", ["mail.>"]).storage(Storage::Memory))
        .await?
        .name;
    streams.names.push(name.clone());
    let mut probe = kit.probe::<Seen>("deliveries").await?.within(WAIT);
    let (flaky, _) = Actor::spawn(None, Flaky, probe.actor()).await?;
    let spec = DurableConsumer::new(&nats, "mail", "mailer")
        .backoff(fast_backoff())
        .actor(flaky.clone(), FlakyMsg::Handle);
    kit.spawn(spec).await?;
    let seq = publish(&nats, "mail.send", "hello").await?;

    probe
        .expect_msg_eq(&Seen {
            payload: "hello".into(),
            delivered: 1,
            ok: false,
        })
        .await?;
    // Not acked after the failure: the server still counts it as unacknowledged, and it
    // comes back as the second delivery.
    probe
        .expect_msg_eq(&Seen {
            payload: "hello".into(),
            delivered: 2,
            ok: true,
        })
        .await?;
    wait_all_acked(&admin, &name, seq).await?;
    probe.expect_no_msg(Duration::from_millis(600)).await?;
    flaky.stop(None);
    Ok(())
}

#[ores_testkit::test(timeout = 60)]
async fn a_handler_panic_counts_as_a_failure(kit: TestKit) -> anyhow::Result<()> {
    let (nats, admin, mut streams) = connect(&kit).await?;
    let name = admin
        .ensure_stream(&StreamSpec::new("risky", ["risky.>"]).storage(Storage::Memory))
        .await?
        .name;
    streams.names.push(name.clone());
    let mut probe = kit.probe::<Seen>("deliveries").await?.within(WAIT);
    let report = probe.actor();
    let spec = DurableConsumer::new(&nats, "risky", "risky-worker")
        .backoff(fast_backoff())
        .handler(move |d: Delivery| {
            let report = report.clone();
            async move {
                let ok = d.delivered > 1;
                report
                    .send_message(Seen {
                        payload: String::from_utf8_lossy(&d.payload).into(),
                        delivered: d.delivered,
                        ok,
                    })
                    .unwrap();
                assert!(ok, "boom on the first delivery");
                Ok::<(), HandlerError>(())
            }
        });
    let mut supervision = kit.supervision().within(Duration::from_millis(500));
    kit.spawn(spec).await?;
    let seq = publish(&nats, "risky.go", "x").await?;
    probe
        .expect_msg_eq(&Seen {
            payload: "x".into(),
            delivered: 1,
            ok: false,
        })
        .await?;
    probe
        .expect_msg_eq(&Seen {
            payload: "x".into(),
            delivered: 2,
            ok: true,
        })
        .await?;
    wait_all_acked(&admin, &name, seq).await?;
    // The panic was caught: the consumer did not fail.
    assert!(
        supervision
            .expect_failure("consumer:risky-worker")
            .await
            .is_err()
    );
    Ok(())
}

#[ores_testkit::test(timeout = 90)]
async fn the_consumer_restarts_after_its_connection_and_resumes(
    kit: TestKit,
) -> anyhow::Result<()> {
    use ores_actors::nats::nats_subtree;
    use ores_testkit::nats_server::NatsServer;
    // A private server, which the test stops and restarts (its store survives the restart).
    let Some(mut server) = NatsServer::start_or_skip().await else {
        return Ok(());
    };
    let nats = Nats::new(
        NatsConfig::new(&server.url(), kit.subject_prefix()).lost_after(Duration::from_millis(300)),
    )?;
    let mut events = nats.events();
    let mut probe = kit
        .probe::<Seen>("deliveries")
        .await?
        .within(Duration::from_secs(20));
    let report = probe.actor();
    let consumer = DurableConsumer::new(&nats, "jobs", "worker")
        .backoff(fast_backoff())
        .start_wait(Duration::from_secs(30))
        .handler(move |d: Delivery| {
            let report = report.clone();
            async move {
                report
                    .send_message(Seen {
                        payload: String::from_utf8_lossy(&d.payload).into(),
                        delivered: d.delivered,
                        ok: true,
                    })
                    .unwrap();
                Ok::<(), HandlerError>(())
            }
        });
    let subtree = nats_subtree("nats-subtree", &nats)
        .backoff(Backoff::exponential(
            Duration::from_millis(50),
            Duration::from_millis(200),
        )?)
        .child(consumer);
    // The stream must exist before the consumer starts: make it with a plain client.
    {
        let client = async_nats::connect(server.url()).await?;
        let js = async_nats::jetstream::new(client);
        js.create_stream(async_nats::jetstream::stream::Config {
            name: stream_name(kit.subject_prefix(), "jobs"),
            subjects: vec![format!("{}.jobs.>", kit.subject_prefix())],
            ..Default::default()
        })
        .await?;
    }
    let mut supervision = kit.supervision().within(Duration::from_secs(30));
    kit.spawn(subtree.into_child_spec()).await?;
    supervision.expect_started("consumer:worker").await?;
    if nats.status() != LinkStatus::Connected {
        events
            .wait_for(WAIT, |e| matches!(e, ConnectionEvent::Connected))
            .await
            .expect("connected");
    }
    publish(&nats, "jobs.one", "before").await?;
    probe
        .expect_msg_eq(&Seen {
            payload: "before".into(),
            delivered: 1,
            ok: true,
        })
        .await?;

    server.stop().await?;
    supervision.expect_failure("nats").await?;
    server.restart().await?;
    // Restarted after the connection, on the new client.
    supervision.expect_started("consumer:worker").await?;
    publish(&nats, "jobs.two", "after").await?;
    probe
        .expect_msg_eq(&Seen {
            payload: "after".into(),
            delivered: 1,
            ok: true,
        })
        .await?;
    // The first message was acked before the drop: it does not come back.
    probe.expect_no_msg(Duration::from_millis(300)).await?;
    Ok(())
}
