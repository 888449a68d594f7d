//! The service runner's features: bearer-token middleware, heartbeat, groups and queue groups,
//! definitions refused up front, and recovery when the NATS server goes away and comes back.
#![cfg(feature = "service")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures::StreamExt;
use ores_actors::nats::{
    Nats, NatsConfig, NatsError, RequestHeaders, RequestOptions, Subject, Token, nats_subtree,
};
use ores_actors::service::auth::{BearerAuth, Claims};
use ores_actors::service::protocol::{InfoResponse, PingResponse};
use ores_actors::service::{
    EndpointOptions, QueueGroup, RequestContext, Service, ServiceActor, ServiceError,
    ServiceSetupError,
};
use ores_testkit::TestKit;
use ores_testkit::nats_server::NatsServer;

const WAIT: Duration = Duration::from_secs(5);
const SECRET: &[u8] = b"test-only shared secret for HS256";

async fn tenant(ctx: RequestContext, _req: ()) -> Result<String, ServiceError> {
    Ok(ctx
        .principal
        .as_ref()
        .and_then(|p| p.tenant_id.clone())
        .unwrap_or_default())
}

fn token(permissions: &[&str], expires_in: i64) -> Token {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let claims = Claims {
        sub: "alice".into(),
        exp: (now + expires_in) as u64,
        iat: Some(now as u64),
        iss: None,
        aud: Vec::new(),
        tenant_id: Some("tenant-1".into()),
        party_id: None,
        roles: Vec::new(),
        permissions: permissions.iter().map(|p| p.to_string()).collect(),
    };
    let jwt = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(SECRET).unwrap(),
    )
    .unwrap();
    Token::new(jwt)
}

async fn call(
    nats: &Nats,
    bearer: Option<Token>,
    delegated: Option<Token>,
) -> Result<String, NatsError> {
    let mut headers = RequestHeaders::new();
    headers.bearer_token = bearer;
    headers.delegated_token = delegated;
    nats.request_with::<_, String>(
        &Subject::new("iam.v1.tenant.get").unwrap(),
        &(),
        RequestOptions::default().headers(headers),
    )
    .await
    .map(|r| r.body)
}

fn ore_error(result: Result<String, NatsError>) -> (String, String) {
    match result {
        Err(NatsError::Remote { code, message, .. }) => (code.unwrap_or_default(), message),
        other => panic!("expected an error reply, got {other:?}"),
    }
}

#[ores_testkit::test]
async fn bearer_tokens_are_checked_by_middleware(kit: TestKit) -> anyhow::Result<()> {
    kit.service(
        Service::builder("ores.iam.service", "1.0.0")
            .middleware(BearerAuth::hs256(SECRET))
            .endpoint(
                "iam.v1.tenant.get",
                tenant,
                EndpointOptions::new().permission("iam::tenant:read"),
            ),
    )
    .await?;
    let nats = kit.nats().await?;

    assert_eq!(
        call(&nats, Some(token(&["iam::tenant:read"], 60)), None).await?,
        "tenant-1"
    );
    assert_eq!(
        call(&nats, Some(token(&["iam::*"], 60)), None).await?,
        "tenant-1"
    );

    let (code, message) = ore_error(call(&nats, None, None).await);
    assert_eq!(code, "401", "{message}");
    let (code, _) = ore_error(call(&nats, Some(token(&["iam::tenant:read"], -120)), None).await);
    assert_eq!(code, "401");
    let (code, message) = ore_error(call(&nats, Some(token(&["refdata::*"], 60)), None).await);
    assert_eq!(code, "403");
    assert!(message.contains("iam::tenant:read"), "{message}");
    let (code, _) = ore_error(call(&nats, Some(token(&[], 60)), None).await);
    assert_eq!(code, "403", "an empty permission list grants nothing");
    // The delegated token wins over Authorization.
    assert_eq!(
        call(&nats, Some(token(&[], 60)), Some(token(&["*"], 60))).await?,
        "tenant-1"
    );
    let (code, _) = ore_error(call(&nats, Some(token(&["*"], 60)), Some(token(&[], 60))).await);
    assert_eq!(code, "403");

    // ORE's codes travel in X-Error.
    let client = async_nats::connect(kit.nats_url()).await?;
    let mut headers = async_nats::HeaderMap::new();
    let expired = token(&["*"], -120);
    headers.insert("Authorization", format!("Bearer {}", expired.expose()));
    let reply = client
        .send_request(
            format!("{}.iam.v1.tenant.get", kit.subject_prefix()),
            async_nats::Request::new()
                .headers(headers)
                .payload(Bytes::new()),
        )
        .await?;
    let h = reply.headers.unwrap();
    assert_eq!(h.get("X-Error").unwrap().as_str(), "token_expired");
    assert_eq!(h.get("Nats-Service-Error-Code").unwrap().as_str(), "401");
    assert!(
        !h.get("Nats-Service-Error")
            .unwrap()
            .as_str()
            .contains(expired.expose())
    );
    Ok(())
}

async fn nothing(_req: ()) -> Result<(), ServiceError> {
    Ok(())
}

#[ores_testkit::test]
async fn heartbeats_carry_name_instance_and_version(kit: TestKit) -> anyhow::Result<()> {
    let client = async_nats::connect(kit.nats_url()).await?;
    let mut beats = client
        .subscribe(format!(
            "{}.telemetry.v1.services.heartbeat",
            kit.subject_prefix()
        ))
        .await?;
    client.flush().await?;
    let handle = kit
        .service(
            Service::builder("ores.beat.service", "2.0.1")
                .heartbeat(Some(Duration::from_millis(50)))
                .handle("beat.v1.nothing.get", nothing),
        )
        .await?;
    for _ in 0..2 {
        let beat = tokio::time::timeout(WAIT, beats.next()).await?.unwrap();
        let beat: serde_json::Value = rmp_serde::from_slice(&beat.payload)?;
        assert_eq!(beat["service_name"], "ores.beat.service");
        assert_eq!(beat["instance_id"], handle.id());
        assert_eq!(beat["version"], "2.0.1");
    }
    // A UUIDv7, fixed for the process.
    assert_eq!(handle.id().as_bytes()[14], b'7', "{}", handle.id());
    Ok(())
}

#[ores_testkit::test]
async fn groups_and_queue_groups_are_reported_as_used(kit: TestKit) -> anyhow::Result<()> {
    let handle = kit
        .service(
            Service::builder("ores.refdata.service", "1.0.0")
                .handle("refdata.v1.ping.get", nothing)
                .group(
                    "refdata.v1.currencies",
                    QueueGroup::Named("currency-workers".into()),
                    |g| {
                        g.handle("list", nothing).endpoint(
                            "get",
                            nothing,
                            EndpointOptions::new()
                                .name("get-currency")
                                .queue_group(QueueGroup::None)
                                .metadata("cache", "none"),
                        )
                    },
                )
                .group("refdata.v1.audit", QueueGroup::None, |g| {
                    g.handle("list", nothing)
                }),
        )
        .await?;
    let client = async_nats::connect(kit.nats_url()).await?;
    let info = client
        .request(
            format!("{}.INFO.ores-refdata-service", kit.srv_prefix()),
            Bytes::new(),
        )
        .await?;
    let info: InfoResponse = serde_json::from_slice(&info.payload)?;
    let p = kit.subject_prefix();
    let got: Vec<(String, String, String)> = info
        .endpoints
        .iter()
        .map(|e| (e.name.clone(), e.subject.clone(), e.queue_group.clone()))
        .collect();
    let want: Vec<(String, String, String)> = [
        (
            "refdata-v1-ping-get",
            format!("{p}.refdata.v1.ping.get"),
            "ores.refdata.service",
        ),
        (
            // A name not given is the subject (group prefix included), `.` turned into `-`.
            "refdata-v1-currencies-list",
            format!("{p}.refdata.v1.currencies.list"),
            "currency-workers",
        ),
        ("get-currency", format!("{p}.refdata.v1.currencies.get"), ""),
        (
            "refdata-v1-audit-list",
            format!("{p}.refdata.v1.audit.list"),
            "",
        ),
    ]
    .into_iter()
    .map(|(n, s, q)| (n.to_string(), s, q.to_string()))
    .collect();
    assert_eq!(got, want, "{info:?}");
    let _ = handle;
    Ok(())
}

#[test]
fn bad_definitions_are_refused_with_what_is_wrong() {
    let err = Service::builder("ores refdata", "1.0.0")
        .build()
        .unwrap_err();
    assert!(
        matches!(err, ServiceSetupError::InvalidName { .. }),
        "{err}"
    );
    let err = Service::builder("ores.refdata.service", "1.0")
        .build()
        .unwrap_err();
    assert!(
        matches!(err, ServiceSetupError::InvalidVersion { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("SemVer"), "{err}");
    let err = Service::builder("ores.refdata.service", "1.0.0")
        .handle("refdata.v1.*.get", nothing)
        .build()
        .unwrap_err();
    assert!(
        matches!(err, ServiceSetupError::InvalidEndpoint { .. }),
        "{err}"
    );
    let err = Service::builder("ores.refdata.service", "1.0.0")
        .handle("refdata.v1.ping.get", nothing)
        .handle("refdata.v1.ping.get", nothing)
        .build()
        .unwrap_err();
    assert!(
        matches!(
            err,
            ServiceSetupError::DuplicateEndpoint { what: "name", .. }
        ),
        "{err}"
    );
    let err = Service::builder("ores.refdata.service", "1.0.0")
        .max_in_flight(0)
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("max_in_flight"), "{err}");
}

async fn ping_answered(client: &async_nats::Client, subject: &str) -> bool {
    matches!(
        tokio::time::timeout(
            Duration::from_millis(200),
            client.request(subject.to_string(), Bytes::new())
        )
        .await,
        Ok(Ok(msg)) if serde_json::from_slice::<PingResponse>(&msg.payload).is_ok()
    )
}

/// The private server goes away for a moment and comes back: async-nats re-subscribes and the
/// service answers `$SRV.PING` within 1 s of the server's return.
#[ores_testkit::test(timeout = 60)]
async fn after_the_server_returns_ping_is_answered_within_a_second(
    kit: TestKit,
) -> anyhow::Result<()> {
    let Some(mut server) = NatsServer::start_or_skip().await else {
        return Ok(());
    };
    let nats = Nats::new(
        NatsConfig::new(&server.url(), kit.subject_prefix()).lost_after(Duration::from_secs(30)),
    )?;
    let service = Service::builder("ores.refdata.service", "1.0.0")
        .srv_prefix(kit.srv_prefix())
        .handle("refdata.v1.ping.get", nothing)
        .build()?;
    let (spec, handle) = ServiceActor::child_spec(service, &nats);
    kit.spawn(
        nats_subtree("nats-subtree", &nats)
            .child(spec)
            .into_child_spec(),
    )
    .await?;
    handle.wait_ready(Duration::from_secs(10)).await?;
    let ping = format!("{}.PING.ores-refdata-service", kit.srv_prefix());
    let client = async_nats::connect(server.url()).await?;
    assert!(ping_answered(&client, &ping).await);

    server.stop().await?;
    server.restart().await?;
    // A fresh plain client: its own reconnect is not what is measured.
    let client = async_nats::connect(server.url()).await?;
    tokio::time::timeout(Duration::from_secs(1), async {
        while !ping_answered(&client, &ping).await {}
    })
    .await
    .map_err(|_| anyhow::anyhow!("$SRV.PING not answered within 1 s of the server's return"))?;
    Ok(())
}

/// Down past the grace: the connection actor fails and restarts, the service restarts after it
/// (rest-for-one), and once the server is back the service answers again.
#[ores_testkit::test(timeout = 60)]
async fn when_the_connection_restarts_the_service_restarts_and_resubscribes(
    kit: TestKit,
) -> anyhow::Result<()> {
    use ores_runtime::supervisor::Backoff;
    let Some(mut server) = NatsServer::start_or_skip().await else {
        return Ok(());
    };
    let nats = Nats::new(
        NatsConfig::new(&server.url(), kit.subject_prefix()).lost_after(Duration::from_millis(300)),
    )?;
    let service = Service::builder("ores.refdata.service", "1.0.0")
        .srv_prefix(kit.srv_prefix())
        .handle("refdata.v1.ping.get", nothing)
        .build()?;
    let (spec, handle) = ServiceActor::child_spec(service, &nats);
    let mut supervision = kit.supervision().within(Duration::from_secs(20));
    kit.spawn(
        nats_subtree("nats-subtree", &nats)
            .backoff(Backoff::exponential(
                Duration::from_millis(50),
                Duration::from_millis(200),
            )?)
            .child(spec)
            .into_child_spec(),
    )
    .await?;
    handle.wait_ready(Duration::from_secs(10)).await?;

    server.stop().await?;
    supervision.expect_failure("nats").await?;
    supervision.expect_started("ores.refdata.service").await?;
    server.restart().await?;
    handle.wait_ready(Duration::from_secs(20)).await?;
    let client = async_nats::connect(server.url()).await?;
    let ping = format!("{}.PING.ores-refdata-service", kit.srv_prefix());
    tokio::time::timeout(Duration::from_secs(10), async {
        while !ping_answered(&client, &ping).await {}
    })
    .await?;
    let nats_client = Nats::clone(&nats);
    let () = nats_client
        .request(&Subject::new("refdata.v1.ping.get")?, &())
        .await?;
    Ok(())
}
