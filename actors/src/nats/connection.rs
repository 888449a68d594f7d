//! The [`NatsConnection`] actor and the [`Nats`] handle that actors and plain code use.
//!
//! The actor owns the async-nats client. async-nats rides out short blips by itself; the actor
//! adds a typed state stream, fail-fast of requests in flight when the link drops, and a clear
//! point at which the connection is declared lost: down longer than `lost_after`, closed, or an
//! authorization failure. Then the actor fails, and its supervisor restarts it with backoff
//! (and, in a [`nats_subtree`](super::nats_subtree), the services after it).

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwapOption;
use async_nats::{ConnectOptions, Event, HeaderMap, Message};
use bytes::Bytes;
use ores_runtime::supervisor::{ChildContext, ChildSpec};
use ractor::{Actor, ActorProcessingErr, ActorRef};
use tokio::sync::watch;

use super::client_error::NatsError;
use super::config::{Credentials, NatsConfig, NatsConfigError};
use super::state::{ConnectionEvent, ConnectionEvents, LinkStatus, StateCell};

/// Shared by the actor (which owns the client) and every [`Nats`] handle.
#[derive(Debug)]
struct Shared {
    config: NatsConfig,
    state: StateCell,
    current: ArcSwapOption<async_nats::Client>,
    /// Bumped whenever a new client is stored, so that waiters can wake.
    generation: watch::Sender<u64>,
    /// The subject of each subscription made through this handle, by the client's
    /// subscription id, so that a slow-consumer report can name its subject.
    subjects: std::sync::Mutex<std::collections::HashMap<u64, String>>,
    /// The server's `max_payload`, read once per connection (0 while unknown): reading
    /// `server_info()` on every request would clone the whole server info.
    max_payload: std::sync::atomic::AtomicUsize,
}

/// A handle on the supervised NATS connection: a cheap clone, valid across restarts of the
/// connection actor (it always uses the current client).
///
/// ```no_run
/// use ores_actors::nats::{Nats, NatsConfig};
/// use ores_runtime::supervisor::Supervisor;
///
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let nats = Nats::new(NatsConfig::new("nats://127.0.0.1:4222", "ores.dev.local1"))?;
/// let tree = Supervisor::builder("svc").child(nats.child_spec()).spawn().await?;
/// let reply = nats.request_bytes("refdata.v1.currencies.list", Default::default(), "{}".into(), None).await?;
/// # let _ = (tree, reply); Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Nats {
    shared: Arc<Shared>,
}

impl Nats {
    /// A handle for `config`, checked up front (URLs, prefix, TLS and credentials files).
    ///
    /// # Errors
    /// [`NatsConfigError`] naming what is wrong.
    pub fn new(config: NatsConfig) -> Result<Self, NatsConfigError> {
        config.validate()?;
        let (generation, _) = watch::channel(0);
        Ok(Self {
            shared: Arc::new(Shared {
                config,
                state: StateCell::new(),
                current: ArcSwapOption::empty(),
                generation,
                subjects: Default::default(),
                max_payload: std::sync::atomic::AtomicUsize::new(0),
            }),
        })
    }

    /// The connection actor's child spec (id `nats`), to put first in a rest-for-one
    /// supervisor so that what depends on it restarts after it.
    pub fn child_spec(&self) -> ChildSpec<NatsMsg> {
        let nats = self.clone();
        ChildSpec::new("nats", move |ctx: ChildContext| {
            let nats = nats.clone();
            async move { ctx.spawn(NatsConnection, nats).await }
        })
    }

    /// The configuration.
    pub fn config(&self) -> &NatsConfig {
        &self.shared.config
    }

    /// The subject prefix.
    pub fn prefix(&self) -> &str {
        &self.shared.config.subject_prefix
    }

    /// The link's status now.
    pub fn status(&self) -> LinkStatus {
        self.shared.state.status()
    }

    /// Subscribe to connection events (from now on).
    pub fn events(&self) -> ConnectionEvents {
        self.shared.state.subscribe()
    }

    /// `{prefix}.{relative}`, except `_INBOX` subjects, which are never prefixed.
    pub fn full_subject(&self, relative: &str) -> String {
        if relative.starts_with("_INBOX") {
            relative.to_string()
        } else {
            format!("{}.{relative}", self.prefix())
        }
    }

    /// The current async-nats client, waiting at most `wait` while the actor starts or
    /// restarts.
    ///
    /// # Errors
    /// [`NatsError::NotConnected`].
    pub async fn client(&self, wait: Duration) -> Result<async_nats::Client, NatsError> {
        self.shared_client(wait).await.map(|c| (*c).clone())
    }

    /// As [`client`](Self::client), sharing the client instead of cloning it (one reference
    /// count instead of the client's many).
    async fn shared_client(&self, wait: Duration) -> Result<Arc<async_nats::Client>, NatsError> {
        if let Some(c) = self.shared.current.load_full() {
            return Ok(c);
        }
        let mut generation = self.shared.generation.subscribe();
        let found = tokio::time::timeout(wait, async {
            loop {
                if let Some(c) = self.shared.current.load_full() {
                    return Some(c);
                }
                if generation.changed().await.is_err() {
                    return None;
                }
            }
        })
        .await;
        match found {
            Ok(Some(c)) => Ok(c),
            _ => Err(NatsError::NotConnected {
                status: format!("{:?}", self.status()).to_lowercase(),
                waited: wait,
            }),
        }
    }

    /// Send a request to `{prefix}.{relative}` and wait for the reply, at most `timeout`
    /// (default: the configured request timeout). Fails at once with
    /// [`NatsError::LinkLost`] if the link drops meanwhile.
    ///
    /// # Errors
    /// [`NatsError`]: not connected, link lost, no responders, timeout, payload too large.
    pub async fn request_bytes(
        &self,
        relative: &str,
        headers: HeaderMap,
        payload: Bytes,
        timeout: Option<Duration>,
    ) -> Result<Message, NatsError> {
        let subject = self.full_subject(relative);
        let timeout = timeout.unwrap_or(self.shared.config.request_timeout);
        // One deadline for the whole call: waiting for a client counts against it.
        let deadline = tokio::time::Instant::now() + timeout;
        let client = self.shared_client(timeout).await?;
        let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
        self.check_payload(&subject, payload.len())?;
        let mut status = self.shared.state.watch();
        if *status.borrow_and_update() == LinkStatus::Disconnected {
            return Err(NatsError::LinkLost { subject });
        }
        let request = async_nats::Request::new()
            .headers(headers)
            .payload(payload)
            .timeout(Some(remaining));
        // The subject moves into the request; errors (rare) rebuild it.
        let in_flight = client.send_request(subject, request);
        tokio::select! {
            result = in_flight => result.map_err(|e| request_error(e, self.full_subject(relative), timeout)),
            _ = status.wait_for(|s| matches!(s, LinkStatus::Disconnected | LinkStatus::Closed)) => {
                Err(NatsError::LinkLost { subject: self.full_subject(relative) })
            }
        }
    }

    /// Publish to `{prefix}.{relative}`.
    ///
    /// # Errors
    /// [`NatsError`]: not connected, payload too large, client error.
    pub async fn publish_bytes(
        &self,
        relative: &str,
        headers: HeaderMap,
        payload: Bytes,
    ) -> Result<(), NatsError> {
        let subject = self.full_subject(relative);
        let timeout = self.shared.config.request_timeout;
        let client = self.client(timeout).await?;
        self.check_payload(&subject, payload.len())?;
        // While the link is down async-nats queues publishes; once its queue is full a publish
        // waits for the reconnect. Bound that by the request timeout.
        let published = client.publish_with_headers(subject.clone(), headers, payload);
        match tokio::time::timeout(timeout, published).await {
            Ok(result) => result.map_err(|e| NatsError::Client {
                operation: "publish",
                subject,
                message: e.to_string(),
            }),
            Err(_) => Err(NatsError::Timeout { subject, timeout }),
        }
    }

    /// The server's `max_payload` (async-nats checks it too, but with a generic error).
    fn check_payload(&self, subject: &str, size: usize) -> Result<(), NatsError> {
        let max = self
            .shared
            .max_payload
            .load(std::sync::atomic::Ordering::Relaxed);
        if max > 0 && size > max {
            return Err(NatsError::PayloadTooLarge {
                subject: subject.to_string(),
                size,
                max,
            });
        }
        Ok(())
    }

    /// A receiver of the link status, to fail fast when it drops.
    pub(crate) fn status_watch(&self) -> watch::Receiver<LinkStatus> {
        self.shared.state.watch()
    }

    /// Subscribe to `{prefix}.{relative}` (wildcards allowed), in queue group `queue` if
    /// given.
    ///
    /// # Errors
    /// [`NatsError`]: not connected, client error.
    pub async fn subscribe_raw(
        &self,
        relative: &str,
        queue: Option<&str>,
    ) -> Result<async_nats::Subscriber, NatsError> {
        let subject = self.full_subject(relative);
        let client = self.client(self.shared.config.request_timeout).await?;
        let result = match queue {
            Some(q) => client.queue_subscribe(subject.clone(), q.to_string()).await,
            None => client.subscribe(subject.clone()).await,
        };
        let subscriber = result.map_err(|e| NatsError::Client {
            operation: "subscribe",
            subject: subject.clone(),
            message: e.to_string(),
        })?;
        if let Some(sid) = subscription_id(&subscriber) {
            self.shared
                .subjects
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(sid, subject);
        }
        Ok(subscriber)
    }
}

/// The client's id of a subscription. async-nats keeps it private; its derived `Debug` shows
/// it (`Subscriber { sid: 7, .. }`), and a test pins that, so a change in async-nats is caught.
fn subscription_id(subscriber: &async_nats::Subscriber) -> Option<u64> {
    let text = format!("{subscriber:?}");
    let rest = text.split_once("sid: ")?.1;
    rest.split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

fn request_error(e: async_nats::RequestError, subject: String, timeout: Duration) -> NatsError {
    use async_nats::RequestErrorKind as K;
    match e.kind() {
        K::NoResponders => NatsError::NoResponders { subject },
        K::TimedOut => NatsError::Timeout { subject, timeout },
        K::InvalidSubject => NatsError::Subject(format!("`{subject}` is not a valid subject")),
        _ => NatsError::Client {
            operation: "request",
            subject,
            message: e.to_string(),
        },
    }
}

/// The connection actor's messages (opaque).
#[derive(Debug)]
pub struct NatsMsg(Inner);

#[derive(Debug)]
enum Inner {
    Event(Event),
    CheckLost(u64),
}

/// The supervised actor that owns the async-nats client. Spawn it through
/// [`Nats::child_spec`].
#[derive(Debug, Clone, Copy)]
pub struct NatsConnection;

/// The actor's state.
#[derive(Debug)]
pub struct ConnectionState {
    nats: Nats,
    ever_connected: bool,
    /// Counts disconnections, so that a stale lost-check is ignored.
    drops: u64,
}

impl Drop for ConnectionState {
    fn drop(&mut self) {
        // However the actor ends, its client goes with it: drained and closed, so that a
        // clone still held elsewhere (a subscription, a forwarding task) does not keep an old
        // connection alive beside the next incarnation's.
        if let Some(client) = self.nats.shared.current.swap(None)
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            rt.spawn(async move {
                let _ = client.drain().await;
            });
        }
        self.nats.shared.state.set(LinkStatus::Closed);
    }
}

fn connect_options(config: &NatsConfig, myself: ActorRef<NatsMsg>) -> ConnectOptions {
    let max_delay = config.reconnect_max_delay;
    let mut options = match &config.credentials {
        Credentials::None => ConnectOptions::new(),
        Credentials::UserPassword { user, password } => {
            ConnectOptions::with_user_and_password(user.clone(), password.expose().to_string())
        }
        Credentials::Token(token) => ConnectOptions::with_token(token.expose().to_string()),
        Credentials::NKeySeed(seed) => ConnectOptions::with_nkey(seed.expose().to_string()),
        Credentials::CredsFile(_) => ConnectOptions::new(),
    };
    if let Some(tls) = &config.tls {
        options = options
            .add_root_certificates(tls.ca.clone())
            .add_client_certificate(tls.cert.clone(), tls.key.clone())
            .require_tls(true);
    }
    options
        .name(&config.name)
        .retry_on_initial_connect()
        .max_reconnects(None)
        .reconnect_delay_callback(move |attempts| reconnect_delay(attempts, max_delay))
        .connection_timeout(config.connect_timeout)
        .subscription_capacity(config.subscription_capacity)
        .request_timeout(Some(config.request_timeout))
        .event_callback(move |event| {
            let myself = myself.clone();
            async move {
                let _ = myself.send_message(NatsMsg(Inner::Event(event)));
            }
        })
}

/// The wait before reconnect attempt `attempts`: none for the first, then 10 ms doubling up to
/// `max`, each with up to 25 % jitter.
fn reconnect_delay(attempts: usize, max: Duration) -> Duration {
    if attempts <= 1 {
        return Duration::ZERO;
    }
    let exp = u32::try_from(attempts - 2).unwrap_or(u32::MAX).min(16);
    let base = Duration::from_millis(10u64.saturating_mul(1 << exp)).min(max);
    let jitter = base.mul_f64(rand::random::<f64>() * 0.25);
    (base + jitter).min(max)
}

impl Actor for NatsConnection {
    type Msg = NatsMsg;
    type State = ConnectionState;
    type Arguments = Nats;

    async fn pre_start(
        &self,
        myself: ActorRef<NatsMsg>,
        nats: Nats,
    ) -> Result<ConnectionState, ActorProcessingErr> {
        let config = &nats.shared.config;
        let mut options = connect_options(config, myself);
        if let Credentials::CredsFile(path) = &config.credentials {
            options = options.credentials_file(path.clone()).await.map_err(|e| {
                format!(
                    "cannot use the NATS credentials file `{}`: {e}",
                    path.display()
                )
            })?;
        }
        nats.shared.state.set(LinkStatus::Connecting);
        let client = options.connect(config.servers.clone()).await.map_err(|e| {
            format!(
                "cannot set up the NATS client for {}: {e}",
                config.servers.join(",")
            )
        })?;
        nats.shared
            .subjects
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        nats.shared.current.store(Some(Arc::new(client)));
        nats.shared.generation.send_modify(|g| *g += 1);
        Ok(ConnectionState {
            nats,
            ever_connected: false,
            drops: 0,
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<NatsMsg>,
        NatsMsg(msg): NatsMsg,
        state: &mut ConnectionState,
    ) -> Result<(), ActorProcessingErr> {
        let cell = &state.nats.shared.state;
        match msg {
            Inner::Event(Event::Connected) => {
                if let Some(client) = state.nats.shared.current.load_full() {
                    let max = client.server_info().max_payload;
                    state
                        .nats
                        .shared
                        .max_payload
                        .store(max, std::sync::atomic::Ordering::Relaxed);
                }
                cell.set(LinkStatus::Connected);
                cell.emit(if state.ever_connected {
                    ConnectionEvent::Reconnected
                } else {
                    ConnectionEvent::Connected
                });
                state.ever_connected = true;
            }
            Inner::Event(Event::Disconnected) => {
                state.drops += 1;
                cell.set(LinkStatus::Disconnected);
                cell.emit(ConnectionEvent::Disconnected);
                let drop = state.drops;
                myself.send_after(state.nats.shared.config.lost_after, move || {
                    NatsMsg(Inner::CheckLost(drop))
                });
            }
            Inner::CheckLost(drop) => {
                if drop == state.drops && cell.status() == LinkStatus::Disconnected {
                    return Err(lost(
                        cell,
                        format!(
                            "disconnected for more than {:?}",
                            state.nats.shared.config.lost_after
                        ),
                    ));
                }
            }
            Inner::Event(Event::LameDuckMode) => cell.emit(ConnectionEvent::LameDuck),
            Inner::Event(Event::SlowConsumer(sid)) => {
                let known = state
                    .nats
                    .shared
                    .subjects
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .get(&sid)
                    .cloned();
                cell.emit(ConnectionEvent::SlowConsumer {
                    subject: known.unwrap_or_else(|| format!("subscription {sid}")),
                });
            }
            Inner::Event(Event::ServerError(async_nats::ServerError::AuthorizationViolation)) => {
                return Err(lost(
                    cell,
                    "authorization violation: the server refused the credentials".into(),
                ));
            }
            Inner::Event(Event::ServerError(e)) => {
                cell.emit(ConnectionEvent::ServerError(e.to_string()))
            }
            Inner::Event(Event::Closed) => {
                cell.set(LinkStatus::Closed);
                cell.emit(ConnectionEvent::Closed);
                return Err(lost(cell, "the connection was closed".into()));
            }
            Inner::Event(Event::ClientError(e)) => {
                let text = e.to_string();
                // A connect attempt the server refused for its credentials: retrying the same
                // credentials cannot help, so the connection is lost.
                if text.contains("authorization violation")
                    || text.contains("authentication")
                    || text.contains("failed signing nonce")
                {
                    return Err(lost(
                        cell,
                        format!("{text}: the server refused the credentials"),
                    ));
                }
                cell.emit(ConnectionEvent::ServerError(format!(
                    "client error: {text}"
                )));
            }
            Inner::Event(Event::Draining) => {}
        }
        Ok(())
    }
}

fn lost(cell: &StateCell, reason: String) -> ActorProcessingErr {
    cell.set(LinkStatus::Closed);
    cell.emit(ConnectionEvent::Lost {
        reason: reason.clone(),
    });
    format!("NATS connection lost: {reason}").into()
}
