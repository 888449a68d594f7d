//! The NATS connection actor against real servers: the machine's, and private ones that the
//! tests stop and restart.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use futures::StreamExt;
use ores_actors::nats::{ConnectionEvent, LinkStatus, Nats, NatsConfig, NatsError, nats_subtree};
use ores_runtime::supervisor::Backoff;
use ores_testkit::TestKit;
use ores_testkit::nats_server::NatsServer;

const WAIT: Duration = Duration::from_secs(10);

/// A responder on `{prefix}.echo` that replies with the request's payload.
async fn echo(url: &str, prefix: &str) -> tokio::task::JoinHandle<()> {
    let client = async_nats::connect(url).await.unwrap();
    let mut sub = client.subscribe(format!("{prefix}.echo")).await.unwrap();
    client.flush().await.unwrap();
    let task = tokio::spawn(async move {
        while let Some(msg) = sub.next().await {
            if let Some(reply) = msg.reply {
                let _ = client.publish(reply, msg.payload).await;
            }
        }
    });
    // `flush` only writes: wait until the server routes another connection's requests to it.
    let probe = async_nats::connect(url).await.unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    while tokio::time::Instant::now() < deadline {
        let asked = probe.request(format!("{prefix}.echo"), "ready?".into());
        if let Ok(Ok(_)) = tokio::time::timeout(Duration::from_millis(500), asked).await {
            break;
        }
    }
    task
}

async fn connected(events: &mut ores_actors::nats::ConnectionEvents) {
    events
        .wait_for(WAIT, |e| {
            matches!(e, ConnectionEvent::Connected | ConnectionEvent::Reconnected)
        })
        .await
        .expect("connected");
}

#[ores_testkit::test]
async fn requests_go_to_the_prefixed_subject_and_come_back(kit: TestKit) -> anyhow::Result<()> {
    let nats = Nats::new(NatsConfig::new(kit.nats_url(), kit.subject_prefix()))?;
    let mut events = nats.events();
    kit.spawn(nats.child_spec()).await?;
    connected(&mut events).await;
    let _responder = echo(kit.nats_url(), kit.subject_prefix()).await;
    let reply = nats
        .request_bytes("echo", Default::default(), "ping".into(), None)
        .await?;
    assert_eq!(&reply.payload[..], b"ping");
    assert!(reply.subject.as_str().starts_with("_INBOX"));
    assert_eq!(nats.status(), LinkStatus::Connected);
    let none = nats
        .request_bytes("nobody.home", Default::default(), "x".into(), None)
        .await
        .unwrap_err();
    assert_eq!(
        none.to_string(),
        format!(
            "no responders on `{}.nobody.home`: no service is subscribed to it",
            kit.subject_prefix()
        )
    );
    Ok(())
}

#[ores_testkit::test]
async fn an_oversized_payload_is_a_typed_error(kit: TestKit) -> anyhow::Result<()> {
    let nats = Nats::new(NatsConfig::new(kit.nats_url(), kit.subject_prefix()))?;
    let mut events = nats.events();
    kit.spawn(nats.child_spec()).await?;
    connected(&mut events).await;
    let big = bytes::Bytes::from(vec![0u8; 2 * 1024 * 1024]);
    match nats.publish_bytes("big", Default::default(), big).await {
        Err(NatsError::PayloadTooLarge { size, max, .. }) => {
            assert_eq!(size, 2 * 1024 * 1024);
            assert!(max < size);
        }
        other => panic!("expected PayloadTooLarge, got {other:?}"),
    }
    Ok(())
}

#[ores_testkit::test(timeout = 60)]
async fn starts_while_nats_is_down_and_connects_when_it_comes_up(
    kit: TestKit,
) -> anyhow::Result<()> {
    let Some(mut server) = NatsServer::start_or_skip().await else {
        return Ok(());
    };
    server.stop().await?;
    let nats = Nats::new(NatsConfig::new(&server.url(), kit.subject_prefix()))?;
    let mut events = nats.events();
    // The tree starts although the server is down.
    kit.spawn(nats.child_spec()).await?;
    assert_eq!(nats.status(), LinkStatus::Connecting);
    server.restart().await?;
    events
        .wait_for(Duration::from_secs(20), |e| {
            matches!(e, ConnectionEvent::Connected)
        })
        .await
        .expect("connected");
    assert_eq!(nats.status(), LinkStatus::Connected);
    Ok(())
}

#[ores_testkit::test(timeout = 60)]
async fn requests_in_flight_fail_at_once_when_the_link_drops_and_subscriptions_resume(
    kit: TestKit,
) -> anyhow::Result<()> {
    let Some(mut server) = NatsServer::start_or_skip().await else {
        return Ok(());
    };
    let nats = Nats::new(
        NatsConfig::new(&server.url(), kit.subject_prefix()).lost_after(Duration::from_secs(30)),
    )?;
    let mut events = nats.events();
    kit.spawn(nats.child_spec()).await?;
    connected(&mut events).await;

    // A subscriber that never answers: the request would wait for its 30 s timeout.
    let _silent = nats.subscribe_raw("silent", None).await?;
    let mut subscription = nats.subscribe_raw("news", None).await?;
    nats.client(WAIT).await?.flush().await?;
    let requester = nats.clone();
    let started = Instant::now();
    let in_flight = tokio::spawn(async move {
        requester
            .request_bytes(
                "silent",
                Default::default(),
                "?".into(),
                Some(Duration::from_secs(30)),
            )
            .await
    });
    // Let the request reach the server before cutting the link.
    tokio::task::yield_now().await;
    server.stop().await?;
    let result = tokio::time::timeout(WAIT, in_flight).await??;
    assert!(
        matches!(result, Err(NatsError::LinkLost { .. })),
        "{result:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "failed at once, not after its timeout"
    );
    events
        .wait_for(WAIT, |e| matches!(e, ConnectionEvent::Disconnected))
        .await
        .expect("disconnected reported");

    server.restart().await?;
    events
        .wait_for(Duration::from_secs(20), |e| {
            matches!(e, ConnectionEvent::Reconnected)
        })
        .await
        .expect("reconnected");
    nats.publish_bytes("news", Default::default(), "after the restart".into())
        .await?;
    let msg = tokio::time::timeout(WAIT, subscription.next())
        .await?
        .expect("subscription still open");
    assert_eq!(&msg.payload[..], b"after the restart");
    Ok(())
}

#[ores_testkit::test(timeout = 60)]
async fn down_past_the_grace_the_connection_fails_and_restarts_with_its_dependents(
    kit: TestKit,
) -> anyhow::Result<()> {
    use ores_runtime::supervisor::ChildSpec;
    let Some(mut server) = NatsServer::start_or_skip().await else {
        return Ok(());
    };
    let nats = Nats::new(
        NatsConfig::new(&server.url(), kit.subject_prefix()).lost_after(Duration::from_millis(300)),
    )?;
    let mut events = nats.events();
    let mut probe = kit.probe::<u32>("dependent").await?;
    let started = probe.actor();
    let dependent = ChildSpec::new("dependent", move |ctx| {
        let started = started.clone();
        async move {
            let _ = started.send_message(1);
            ctx.spawn(Idle, ()).await
        }
    });
    let subtree = nats_subtree("nats-subtree", &nats)
        .backoff(Backoff::exponential(
            Duration::from_millis(50),
            Duration::from_millis(200),
        )?)
        .child(dependent);
    let mut supervision = kit.supervision().within(Duration::from_secs(20));
    kit.spawn(subtree.into_child_spec()).await?;
    connected(&mut events).await;
    probe.expect_msg().await?;

    server.stop().await?;
    let reason = supervision.expect_failure("nats").await?;
    assert!(
        reason.contains("NATS connection lost: disconnected for more than 300ms"),
        "{reason}"
    );
    events
        .wait_for(WAIT, |e| matches!(e, ConnectionEvent::Lost { .. }))
        .await
        .expect("lost reported");
    supervision.expect_started("nats").await?;
    supervision.expect_started("dependent").await?;
    probe.expect_msg().await?; // the dependent was started again, after the connection
    server.restart().await?;
    events
        .wait_for(Duration::from_secs(20), |e| {
            matches!(e, ConnectionEvent::Connected)
        })
        .await
        .expect("connected again");
    Ok(())
}

#[derive(Clone)]
struct Idle;

impl ractor::Actor for Idle {
    type Msg = ();
    type State = ();
    type Arguments = ();
    async fn pre_start(
        &self,
        _: ractor::ActorRef<()>,
        _: (),
    ) -> Result<(), ractor::ActorProcessingErr> {
        Ok(())
    }
}

#[test]
fn bad_configuration_is_refused_up_front_with_a_clear_message() {
    let err = Nats::new(NatsConfig::new("http://x:4222", "ores.dev.a")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid NATS server URL `http://x:4222`: unknown scheme `http`, expected `nats`, `tls`, `ws` or `wss`"
    );
    let err = Nats::new(NatsConfig::new("nats://x:99999", "ores.dev.a")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid NATS server URL `nats://x:99999`: port `99999` is not a number from 0 to 65535"
    );
    let err = Nats::new(NatsConfig::new("nats://x:4222", "")).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("invalid NATS subject prefix ``: it is required"),
        "{err}"
    );
    let err = Nats::new(NatsConfig::new("nats://x:4222", "ores..a")).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("invalid NATS subject prefix `ores..a`: token 2 is empty"),
        "{err}"
    );
    let err =
        ores_actors::nats::TlsFiles::from_parts(Some("/ca.pem".into()), None, None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "TLS needs a CA, a client certificate and a client key, or none of them; missing: cert, key"
    );
    let tls = ores_actors::nats::TlsFiles {
        ca: "/nonexistent/ca.pem".into(),
        cert: "/nonexistent/c.pem".into(),
        key: "/nonexistent/k.pem".into(),
    };
    let err = Nats::new(NatsConfig::new("tls://x:4222", "ores.dev.a").tls(tls)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot read the NATS CA file `/nonexistent/ca.pem`: No such file or directory (os error 2)"
    );
}

#[ores_testkit::test(timeout = 60)]
async fn wrong_credentials_fail_the_connection_with_a_clear_reason(
    kit: TestKit,
) -> anyhow::Result<()> {
    use ores_actors::nats::{Credentials, Secret};
    let server = match NatsServer::start_with_args(["--user", "app", "--pass", "right"]).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("skipped: {e}");
            return Ok(());
        }
    };
    let config = NatsConfig::new(&server.url(), kit.subject_prefix()).credentials(
        Credentials::UserPassword {
            user: "app".into(),
            password: Secret::new("wrong"),
        },
    );
    let nats = Nats::new(config)?;
    let mut supervision = kit.supervision().within(Duration::from_secs(20));
    kit.spawn(nats.child_spec().backoff(Backoff::exponential(
        Duration::from_secs(5),
        Duration::from_secs(5),
    )?))
    .await?;
    let reason = supervision.expect_failure("nats").await?;
    assert!(reason.contains("authorization violation"), "{reason}");
    assert!(
        !format!("{:?}", nats.config()).contains("wrong"),
        "the password never shows in Debug"
    );
    Ok(())
}

#[test]
fn ipv6_urls_are_accepted_with_or_without_a_port() {
    Nats::new(NatsConfig::new("nats://[::1]", "ores.dev.a")).unwrap();
    Nats::new(NatsConfig::new("nats://[::1]:4222", "ores.dev.a")).unwrap();
    assert!(Nats::new(NatsConfig::new("nats://[::1]:x", "ores.dev.a")).is_err());
}

#[ores_testkit::test(timeout = 60)]
async fn lame_duck_mode_is_reported_on_the_state_stream(kit: TestKit) -> anyhow::Result<()> {
    let Some(server) = NatsServer::start_or_skip().await else {
        return Ok(());
    };
    let nats = Nats::new(NatsConfig::new(&server.url(), kit.subject_prefix()))?;
    let mut events = nats.events();
    kit.spawn(nats.child_spec()).await?;
    connected(&mut events).await;
    server.lame_duck().await?;
    events
        .wait_for(WAIT, |e| matches!(e, ConnectionEvent::LameDuck))
        .await
        .expect("lame duck reported");
    Ok(())
}

#[ores_testkit::test]
async fn a_request_without_a_reply_times_out_with_its_deadline(kit: TestKit) -> anyhow::Result<()> {
    let nats = Nats::new(NatsConfig::new(kit.nats_url(), kit.subject_prefix()))?;
    let mut events = nats.events();
    kit.spawn(nats.child_spec()).await?;
    connected(&mut events).await;
    let _silent = nats.subscribe_raw("silent", None).await?;
    nats.client(WAIT).await?.flush().await?;
    let err = nats
        .request_bytes(
            "silent",
            Default::default(),
            "?".into(),
            Some(Duration::from_millis(200)),
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "request to `{}.silent` timed out after 200ms",
            kit.subject_prefix()
        )
    );
    Ok(())
}

#[ores_testkit::test]
async fn a_slow_consumer_is_reported_with_its_subject(kit: TestKit) -> anyhow::Result<()> {
    let nats =
        Nats::new(NatsConfig::new(kit.nats_url(), kit.subject_prefix()).subscription_capacity(4))?;
    let mut events = nats.events();
    kit.spawn(nats.child_spec()).await?;
    connected(&mut events).await;
    let _never_read = nats.subscribe_raw("firehose", None).await?;
    for i in 0..200u32 {
        nats.publish_bytes("firehose", Default::default(), i.to_string().into())
            .await?;
    }
    nats.client(WAIT).await?.flush().await?;
    let event = events
        .wait_for(WAIT, |e| matches!(e, ConnectionEvent::SlowConsumer { .. }))
        .await
        .expect("slow consumer reported");
    assert_eq!(
        event,
        ConnectionEvent::SlowConsumer {
            subject: format!("{}.firehose", kit.subject_prefix())
        }
    );
    Ok(())
}

#[test]
fn credentials_and_tls_come_from_the_layered_configuration() {
    use ores_actors::nats::Credentials;
    use ores_runtime::config::{ConfigLoader, OresConfig};
    let load = |vars: &[(&str, &str)]| {
        let cfg: OresConfig = ConfigLoader::for_app("refdata")
            .env_vars(vars.iter().copied())
            .load()
            .unwrap();
        NatsConfig::from_settings(&cfg.nats)
    };
    let config = load(&[
        ("ORES_NATS_SUBJECT_PREFIX", "ores.dev.local1"),
        ("ORES_NATS_USER", "app"),
        ("ORES_REFDATA_NATS_PASSWORD", "s3cret"),
        ("ORES_NATS_LOST_AFTER_MS", "2500"),
        ("ORES_NATS_NAME", "refdata"),
    ])
    .unwrap();
    assert!(
        matches!(&config.credentials, Credentials::UserPassword { user, password } if user == "app" && password.expose() == "s3cret")
    );
    assert_eq!(config.lost_after, Duration::from_millis(2500));
    assert_eq!(config.name, "refdata");
    assert!(!format!("{config:?}").contains("s3cret"));

    let err = load(&[
        ("ORES_NATS_SUBJECT_PREFIX", "ores.dev.a"),
        ("ORES_NATS_TLS_CA", "/ca.pem"),
    ])
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "TLS needs a CA, a client certificate and a client key, or none of them; missing: cert, key"
    );
    let err = load(&[
        ("ORES_NATS_SUBJECT_PREFIX", "ores.dev.a"),
        ("ORES_NATS_TOKEN", "t"),
        ("ORES_NATS_USER", "u"),
    ])
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "NATS credentials: give one of `user` with `password`, `token`, `nkey_seed` or `creds_file`"
    );
    let err = load(&[]).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("invalid NATS subject prefix ``: it is required"),
        "{err}"
    );
}

#[ores_testkit::test(timeout = 60)]
async fn gathering_and_publishing_during_an_outage_fail_instead_of_hanging(
    kit: TestKit,
) -> anyhow::Result<()> {
    use ores_actors::nats::{Gather, Subject};
    let Some(mut server) = NatsServer::start_or_skip().await else {
        return Ok(());
    };
    let config = NatsConfig::new(&server.url(), kit.subject_prefix())
        .lost_after(Duration::from_secs(30))
        .request_timeout(Duration::from_millis(300));
    let nats = Nats::new(config)?;
    let mut events = nats.events();
    kit.spawn(nats.child_spec()).await?;
    connected(&mut events).await;
    let _silent = nats.subscribe_raw("census", None).await?;
    nats.client(WAIT).await?.flush().await?;

    let gatherer = nats.clone();
    let started = Instant::now();
    let gathering = tokio::spawn(async move {
        gatherer
            .request_many::<_, String>(
                &Subject::new("census")?,
                "?",
                Gather::within(Duration::from_secs(30)),
            )
            .await
            .map_err(anyhow::Error::from)
    });
    tokio::task::yield_now().await;
    server.stop().await?;
    let gathered = tokio::time::timeout(WAIT, gathering).await??;
    assert!(
        matches!(
            gathered.as_ref().map_err(|e| e.downcast_ref::<NatsError>()),
            Err(Some(NatsError::LinkLost { .. }))
        ),
        "{gathered:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));

    // Publishing while the link is down is queued by the client; once its queue is full, a
    // publish ends with a timeout instead of waiting for the server's return.
    let body = bytes::Bytes::from(vec![0u8; 1024]);
    let outcome = tokio::time::timeout(Duration::from_secs(30), async {
        for _ in 0..100_000 {
            if let Err(e) = nats
                .publish_bytes("firehose", Default::default(), body.clone())
                .await
            {
                return Some(e);
            }
        }
        None
    })
    .await?;
    assert!(
        matches!(outcome, Some(NatsError::Timeout { .. })),
        "{outcome:?}"
    );
    Ok(())
}

#[ores_testkit::test(timeout = 60)]
async fn token_and_user_password_credentials_connect(kit: TestKit) -> anyhow::Result<()> {
    use ores_actors::nats::{Credentials, Secret};
    for (args, credentials) in [
        (
            vec!["--auth", "s3cret-token"],
            Credentials::Token(Secret::new("s3cret-token")),
        ),
        (
            vec!["--user", "app", "--pass", "right"],
            Credentials::UserPassword {
                user: "app".into(),
                password: Secret::new("right"),
            },
        ),
    ] {
        let server = match NatsServer::start_with_args(args).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("skipped: {e}");
                return Ok(());
            }
        };
        let nats = Nats::new(
            NatsConfig::new(&server.url(), kit.subject_prefix()).credentials(credentials),
        )?;
        let mut events = nats.events();
        let handle = kit
            .spawn(
                nats.child_spec()
                    .restart(ores_runtime::supervisor::Restart::Temporary),
            )
            .await?;
        connected(&mut events).await;
        assert_eq!(nats.status(), LinkStatus::Connected);
        kit.tree().terminate_child(handle.id()).await?;
    }
    Ok(())
}

#[ores_testkit::test(timeout = 60)]
async fn an_nkey_seed_connects_to_a_server_that_requires_it(kit: TestKit) -> anyhow::Result<()> {
    use ores_actors::nats::{Credentials, Secret};
    let user = nkeys::KeyPair::new_user();
    let dir = tempfile::tempdir()?;
    let conf = dir.path().join("nkey.conf");
    std::fs::write(
        &conf,
        format!(
            "authorization {{ users = [ {{ nkey: \"{}\" }} ] }}\n",
            user.public_key()
        ),
    )?;
    let server = match NatsServer::start_with_args(["-c", conf.to_str().unwrap_or_default()]).await
    {
        Ok(s) => s,
        Err(e) => {
            eprintln!("skipped: {e}");
            return Ok(());
        }
    };
    let seed = user.seed()?;
    let nats = Nats::new(
        NatsConfig::new(&server.url(), kit.subject_prefix())
            .credentials(Credentials::NKeySeed(Secret::new(seed))),
    )?;
    let mut events = nats.events();
    kit.spawn(nats.child_spec()).await?;
    connected(&mut events).await;
    assert_eq!(nats.status(), LinkStatus::Connected);
    Ok(())
}
