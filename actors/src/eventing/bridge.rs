//! The NATS bridge of the event bus.
//!
//! - Out: a [`Relay`] follows the log from its own stored offset (row `relay:<name>` in
//!   `{schema}.consumer_groups`) and publishes every event whose topic matches its pattern to
//!   `{prefix}.{topic}`, as a NATS core message or into a JetStream stream (with `Nats-Msg-Id`
//!   = the event id, so that the server drops what a relay publishes twice). Exactly one relay
//!   of a name publishes across all replicas: it holds a lease (row `relay:<name>` in
//!   `{schema}.leases`) that it renews every third of its TTL; the others wait, and take over
//!   from the stored offset once the lease has expired (or was released by a graceful stop).
//! - In: a [`BridgeIn`] subscribes to `{prefix}.{pattern}` and hands each message to the bus's
//!   local subscribers, as an event that is **not** written to the local log (it is another
//!   system's event: it has no offset here, is not replayed, and durable consumers of this
//!   log never see it).
//!
//! Delivery to NATS is at least once (the offset is stored after publishing; a relay that
//! dies between the two publishes the same events again), and exactly once in a JetStream
//! stream within the stream's duplicate window.
//!
//! ```no_run
//! use ores_actors::eventing::{EventBus, EventBusConfig};
//! use ores_actors::nats::{Nats, NatsConfig, nats_subtree};
//! use ores_runtime::supervisor::Supervisor;
//!
//! # async fn demo(pool: sqlx::PgPool) -> Result<(), Box<dyn std::error::Error>> {
//! let nats = Nats::new(NatsConfig::new("nats://127.0.0.1:4222", "ores.dev.local1"))?;
//! let bus = EventBus::new(pool, EventBusConfig::new("ores_events")?)?;
//! let tree = Supervisor::builder("app")
//!     .child(bus.child_spec())
//!     .child(
//!         nats_subtree("nats", &nats)
//!             // `ores.refdata.currency_changed` goes out on `ores.dev.local1.ores.refdata.currency_changed`.
//!             .child(bus.relay("refdata", "ores.refdata.>", &nats)?.core())
//!             // Remote changes of another domain reach this process's subscribers.
//!             .child(bus.bridge_in(&nats, "ores.trading.>")?)
//!             .into_child_spec(),
//!     )
//!     .spawn()
//!     .await?;
//! # let _ = tree; Ok(()) }
//! ```

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_nats::{HeaderMap, HeaderName, HeaderValue};
use futures::StreamExt;
use ores_runtime::supervisor::{ChildContext, ChildSpec};
use ractor::{Actor, ActorProcessingErr, ActorRef};
use sqlx::AssertSqlSafe;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::nats::headers::{CONTENT_TYPE, CORRELATION_ID, TENANT_ID};
use crate::nats::{Nats, NatsError, SubjectPattern};

use super::bus::{BusShared, EventBus};
use super::error::EventError;
use super::record::{Offset, StoredEvent, fetch, head, topic_pattern};

/// The header carrying the event id (JetStream's de-duplication id).
pub const MSG_ID: &str = "Nats-Msg-Id";
/// The header carrying the event's key, when it has one.
pub const EVENT_KEY: &str = "X-Event-Key";
/// The header naming the log an event was relayed from (`{database}.{schema}`): a
/// [`BridgeIn`] on the same log skips such messages, whose events its subscribers already got
/// from the log.
pub const EVENT_ORIGIN: &str = "X-Event-Origin";
/// The content type of relayed events: their payload is the event's JSON.
pub const JSON: &str = "application/json";

/// The default lease TTL of a relay.
pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(5);

/// How long a graceful stop waits for the relay to finish the batch in hand.
const STOP_WAIT: Duration = Duration::from_secs(3);

/// Where a relay publishes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Mode {
    /// NATS core subjects `{prefix}.{topic}`.
    Core,
    /// JetStream, into the stream of this full name (checked with `Nats-Expected-Stream`).
    JetStream(String),
}

/// Builds a [`Relay`]'s child spec: [`EventBus::relay`], then options, then
/// [`core`](Self::core) or [`jetstream`](Self::jetstream).
#[derive(Debug, Clone)]
pub struct RelayBuilder {
    shared: Arc<BusShared>,
    nats: Nats,
    name: String,
    pattern: SubjectPattern,
    ttl: Duration,
    holder: String,
    id: Option<String>,
}

impl EventBus {
    /// A relay named `name` of the events on topics matching `topics` (`*` one token, `>` the
    /// rest) to NATS through `nats`. One relay of a name publishes at a time across every
    /// process on this log; it starts, the first time, from the head of the log.
    ///
    /// # Errors
    /// [`EventError::Topic`] for an invalid pattern; [`EventError::Config`] for an empty name.
    pub fn relay(
        &self,
        name: impl Into<String>,
        topics: &str,
        nats: &Nats,
    ) -> Result<RelayBuilder, EventError> {
        let name = name.into();
        if name.trim().is_empty() {
            return Err(EventError::Config("a relay needs a name".into()));
        }
        Ok(RelayBuilder {
            shared: Arc::clone(self.shared()),
            nats: nats.clone(),
            name,
            pattern: topic_pattern(topics)?,
            ttl: DEFAULT_LEASE_TTL,
            holder: format!("{}-{}", std::process::id(), uuid::Uuid::now_v7()),
            id: None,
        })
    }

    /// An actor that subscribes to `{prefix}.{pattern}` on `nats` and hands every message to
    /// this bus's local subscribers whose pattern and tenant match, as a [`StoredEvent`]
    /// built from it (id from `Nats-Msg-Id`, else a new one; tenant from `X-Tenant-Id`; key
    /// from `X-Event-Key`; the payload must be JSON; the offset is zero). These events are
    /// not written to the local log. Messages a relay of this same log published are
    /// skipped (the subscribers had them from the log). Child id `bridge-in:{pattern}`.
    ///
    /// # Errors
    /// [`EventError::Topic`] for an invalid pattern.
    pub fn bridge_in(
        &self,
        nats: &Nats,
        pattern_text: &str,
    ) -> Result<ChildSpec<BridgeInMsg>, EventError> {
        let pattern = topic_pattern(pattern_text)?;
        let args = Arc::new(BridgeArgs {
            shared: Arc::clone(self.shared()),
            nats: nats.clone(),
            pattern,
        });
        Ok(ChildSpec::new(
            format!("bridge-in:{pattern_text}"),
            move |ctx: ChildContext| {
                let args = Arc::clone(&args);
                async move { ctx.spawn(BridgeIn, args).await }
            },
        ))
    }
}

impl RelayBuilder {
    /// The lease's time to live (default [`DEFAULT_LEASE_TTL`]): how long a dead holder
    /// blocks the others. It is renewed every third of it, and the holder stops publishing a
    /// tenth of it before it would expire unrenewed. A TTL under 30 ms is raised to 30 ms.
    #[must_use]
    pub fn lease_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl.max(Duration::from_millis(30));
        self
    }

    /// The holder's identity in the lease (default the process id and a UUIDv7, one per
    /// builder: a restarted relay of this spec gets its own lease back at once).
    #[must_use]
    pub fn holder(mut self, holder: impl Into<String>) -> Self {
        self.holder = holder.into();
        self
    }

    /// The child id (default `relay:{name}`), e.g. to run two replicas in one tree.
    #[must_use]
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// The relay publishing to NATS core subjects `{prefix}.{topic}`.
    pub fn core(self) -> ChildSpec<RelayMsg> {
        self.spec(Mode::Core)
    }

    /// The relay publishing through JetStream into the stream `stream` (the suffix after the
    /// prefix, as in [`StreamSpec`](crate::nats::jetstream::StreamSpec); create it with
    /// [`JetStreamAdmin::ensure_stream`](crate::nats::jetstream::JetStreamAdmin::ensure_stream)
    /// over the relayed topics). Each publish carries `Nats-Msg-Id` = the event id and waits
    /// for the stream's acknowledgement; the server drops an id it already holds within the
    /// stream's duplicate window.
    pub fn jetstream(self, stream: &str) -> ChildSpec<RelayMsg> {
        let name = crate::nats::jetstream::stream_name(self.nats.prefix(), stream);
        self.spec(Mode::JetStream(name))
    }

    fn spec(self, mode: Mode) -> ChildSpec<RelayMsg> {
        let id = self
            .id
            .clone()
            .unwrap_or_else(|| format!("relay:{}", self.name));
        let args = Arc::new(RelayArgs {
            key: format!("relay:{}", self.name),
            shared: self.shared,
            nats: self.nats,
            name: self.name,
            pattern: self.pattern,
            ttl: self.ttl,
            holder: self.holder,
            mode,
        });
        ChildSpec::new(id, move |ctx: ChildContext| {
            let args = Arc::clone(&args);
            async move { ctx.spawn(Relay, args).await }
        })
    }
}

/// What a [`Relay`] runs with (built by [`RelayBuilder`]).
#[derive(Debug)]
pub struct RelayArgs {
    shared: Arc<BusShared>,
    nats: Nats,
    name: String,
    /// Its row in `consumer_groups` and in `leases`.
    key: String,
    pattern: SubjectPattern,
    ttl: Duration,
    holder: String,
    mode: Mode,
}

/// A relay of the log to NATS: a supervised actor whose task holds the lease and publishes.
/// A database or NATS error fails it (its supervisor restarts it, and it resumes from the
/// stored offset).
#[derive(Debug, Clone, Copy, Default)]
pub struct Relay;

/// A relay's messages (opaque).
#[derive(Debug)]
pub struct RelayMsg(Failure);

/// A bridge-in's messages (opaque).
#[derive(Debug)]
pub struct BridgeInMsg(Failure);

#[derive(Debug)]
struct Failure(EventError);

/// A relay's state: its task, and how to stop it between batches.
#[derive(Debug)]
pub struct RelayState {
    task: Option<JoinHandle<()>>,
    stop: watch::Sender<bool>,
    args: Arc<RelayArgs>,
}

impl Drop for RelayState {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

impl Actor for Relay {
    type Msg = RelayMsg;
    type State = RelayState;
    type Arguments = Arc<RelayArgs>;

    async fn pre_start(
        &self,
        myself: ActorRef<RelayMsg>,
        args: Arc<RelayArgs>,
    ) -> Result<RelayState, ActorProcessingErr> {
        let shared = &args.shared;
        super::schema::migrate(&shared.pool, &shared.config.schema).await?;
        // The first relay of this name starts at the head of the log; later ones (and this
        // one after a restart) where the last holder stopped.
        init_offset(&args).await?;
        let origin = origin(shared).await?;
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn({
            let args = Arc::clone(&args);
            async move {
                if let Err(e) = run(&args, &origin, stopped).await {
                    tracing::warn!(target: "ores_actors::eventing", relay = %args.name, error = %e, "relay failed");
                    let _ = myself.cast(RelayMsg(Failure(e)));
                }
            }
        });
        Ok(RelayState {
            task: Some(task),
            stop,
            args,
        })
    }

    async fn handle(
        &self,
        _myself: ActorRef<RelayMsg>,
        msg: RelayMsg,
        _state: &mut RelayState,
    ) -> Result<(), ActorProcessingErr> {
        Err(Box::new(msg.0.0))
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<RelayMsg>,
        state: &mut RelayState,
    ) -> Result<(), ActorProcessingErr> {
        // Finish the batch in hand (published and its offset stored), then hand the lease
        // over at once instead of making the others wait for its expiry.
        let _ = state.stop.send(true);
        if let Some(mut task) = state.task.take()
            && tokio::time::timeout(STOP_WAIT, &mut task).await.is_err()
        {
            task.abort();
        }
        let args = &state.args;
        let sql = format!(
            "DELETE FROM {} WHERE name = $1 AND holder = $2",
            args.shared.config.schema.table("leases")
        );
        let released = sqlx::query(AssertSqlSafe(sql))
            .bind(&args.key)
            .bind(&args.holder)
            .execute(&args.shared.pool);
        if let Ok(Err(e)) = tokio::time::timeout(Duration::from_secs(2), released).await {
            tracing::debug!(target: "ores_actors::eventing", relay = %args.name, error = %e, "relay lease not released: it expires");
        }
        Ok(())
    }
}

/// `{database}.{schema}`: which log an event was relayed from.
async fn origin(shared: &BusShared) -> Result<String, EventError> {
    let db: String = sqlx::query_scalar("SELECT current_database()::text")
        .fetch_one(&shared.pool)
        .await?;
    Ok(format!("{db}.{}", shared.config.schema))
}

async fn init_offset(args: &RelayArgs) -> Result<(), EventError> {
    let start = head(&args.shared.pool).await?;
    let sql = format!(
        "INSERT INTO {} (name, xid, position) VALUES ($1, $2::text::xid8, $3)
         ON CONFLICT (name) DO NOTHING",
        args.shared.config.schema.table("consumer_groups")
    );
    sqlx::query(AssertSqlSafe(sql))
        .bind(&args.key)
        .bind(start.xid.to_string())
        .bind(start.position)
        .execute(&args.shared.pool)
        .await?;
    Ok(())
}

async fn load_offset(args: &RelayArgs) -> Result<Offset, EventError> {
    let sql = format!(
        "SELECT xid::text, position FROM {} WHERE name = $1",
        args.shared.config.schema.table("consumer_groups")
    );
    let mut row: Option<(String, i64)> = None;
    for _ in 0..2 {
        row = sqlx::query_as(AssertSqlSafe(sql.clone()))
            .bind(&args.key)
            .fetch_optional(&args.shared.pool)
            .await?;
        if row.is_some() {
            break;
        }
        // Removed meanwhile (by hand): start again from the head.
        init_offset(args).await?;
    }
    let Some((xid, position)) = row else {
        return Err(EventError::Database(format!(
            "relay `{}`: its offset row cannot be created",
            args.name
        )));
    };
    let xid = xid
        .parse()
        .map_err(|_| EventError::Database(format!("unexpected xid8 text `{xid}`")))?;
    Ok(Offset { xid, position })
}

/// Stores `offset` if this holder still holds an unexpired lease; `false` when it does not.
async fn store_offset(args: &RelayArgs, offset: Offset) -> Result<bool, EventError> {
    let schema = &args.shared.config.schema;
    let sql = format!(
        "UPDATE {groups} SET xid = $2::text::xid8, position = $3, updated_at = now()
         WHERE name = $1
           AND EXISTS (SELECT 1 FROM {leases}
                       WHERE name = $1 AND holder = $4 AND expires_at > now())",
        groups = schema.table("consumer_groups"),
        leases = schema.table("leases"),
    );
    let done = sqlx::query(AssertSqlSafe(sql))
        .bind(&args.key)
        .bind(offset.xid.to_string())
        .bind(offset.position)
        .bind(&args.holder)
        .execute(&args.shared.pool)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// The lease as this holder sees it, on its own clock.
#[derive(Debug, Clone, Copy)]
struct Lease {
    /// Publishing stops here: before the expiry the database recorded (measured from before
    /// the statement was sent), less a margin.
    valid_until: Instant,
    /// When to renew it.
    renew_at: Instant,
}

impl Lease {
    fn valid(&self) -> bool {
        Instant::now() < self.valid_until
    }
}

/// Takes or renews the lease; `None` while another holder has an unexpired one.
async fn acquire(args: &RelayArgs) -> Result<Option<Lease>, EventError> {
    let sent = Instant::now();
    let sql = format!(
        "INSERT INTO {leases} AS l (name, holder, expires_at)
         VALUES ($1, $2, now() + $3 * interval '1 millisecond')
         ON CONFLICT (name) DO UPDATE
             SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
             WHERE l.expires_at < now() OR l.holder = EXCLUDED.holder
         RETURNING holder",
        leases = args.shared.config.schema.table("leases"),
    );
    let ttl_ms = i64::try_from(args.ttl.as_millis()).unwrap_or(i64::MAX);
    let got: Option<String> = sqlx::query_scalar(AssertSqlSafe(sql))
        .bind(&args.key)
        .bind(&args.holder)
        .bind(ttl_ms)
        .fetch_optional(&args.shared.pool)
        .await?;
    Ok(got.map(|_| Lease {
        valid_until: sent + args.ttl - args.ttl / 10,
        renew_at: sent + args.ttl / 3,
    }))
}

/// The relay's loop: wait for the lease, then publish from the stored offset while it is
/// held; return only on an error (or `Ok` when asked to stop).
async fn run(
    args: &RelayArgs,
    origin: &str,
    mut stop: watch::Receiver<bool>,
) -> Result<(), EventError> {
    let shared = &args.shared;
    let mut wake = shared.wake.subscribe();
    let retry = args.ttl / 3;
    let publisher = Publisher::new(args, origin);
    loop {
        // Standby: try for the lease every third of its TTL.
        let mut lease = loop {
            if *stop.borrow() {
                return Ok(());
            }
            if let Some(lease) = acquire(args).await? {
                break lease;
            }
            let _ = tokio::time::timeout(retry, stop.changed()).await;
        };
        tracing::info!(target: "ores_actors::eventing", relay = %args.name, holder = %args.holder, "relay holds its lease: publishing");
        let mut offset = load_offset(args).await?;
        loop {
            if *stop.borrow() {
                return Ok(());
            }
            wake.borrow_and_update();
            if Instant::now() >= lease.renew_at {
                match acquire(args).await? {
                    Some(renewed) => lease = renewed,
                    None => break,
                }
            }
            let events = fetch(
                &shared.pool,
                &shared.config.schema,
                offset,
                shared.config.read_batch,
            )
            .await?;
            if events.is_empty() {
                let until = lease
                    .renew_at
                    .min(Instant::now() + shared.config.poll_interval);
                tokio::select! {
                    _ = tokio::time::sleep_until(until) => {}
                    _ = wake.changed() => {}
                    _ = stop.changed() => {}
                }
                continue;
            }
            let mut done = None;
            for event in &events {
                if !lease.valid() {
                    // Not renewed in time: stop at once; the rest waits for the lease.
                    break;
                }
                if args.pattern.matches(&event.topic) {
                    publisher.publish(event).await?;
                }
                done = Some(event.offset);
            }
            let Some(done) = done else { continue };
            publisher.flush().await?;
            if !store_offset(args, done).await? {
                break;
            }
            offset = done;
        }
        tracing::warn!(target: "ores_actors::eventing", relay = %args.name, holder = %args.holder, "relay lost its lease: publishing stopped");
    }
}

/// Publishes events to NATS in the relay's mode.
struct Publisher<'a> {
    args: &'a RelayArgs,
    origin: &'a str,
}

impl<'a> Publisher<'a> {
    fn new(args: &'a RelayArgs, origin: &'a str) -> Self {
        Self { args, origin }
    }

    fn wait(&self) -> Duration {
        self.args.nats.config().request_timeout
    }

    fn nats_error(&self, subject: &str, e: impl std::fmt::Display) -> EventError {
        EventError::Nats(format!(
            "relay `{}`: publishing to `{subject}` failed: {e}",
            self.args.name
        ))
    }

    async fn publish(&self, event: &StoredEvent) -> Result<(), EventError> {
        let headers = headers_of(event, self.origin);
        let payload = bytes::Bytes::from(event.payload.clone());
        match &self.args.mode {
            Mode::Core => self
                .args
                .nats
                .publish_bytes(&event.topic, headers, payload)
                .await
                .map_err(|e: NatsError| self.nats_error(&event.topic, e)),
            Mode::JetStream(stream) => {
                let subject = self.args.nats.full_subject(&event.topic);
                // The connection actor's current client (a new one after its restart).
                let client = self
                    .args
                    .nats
                    .client(self.wait())
                    .await
                    .map_err(|e| self.nats_error(&subject, e))?;
                let js = async_nats::jetstream::new(client);
                let message = async_nats::jetstream::message::PublishMessage::build()
                    .headers(headers)
                    .payload(payload)
                    .expected_stream(stream);
                let ack = tokio::time::timeout(self.wait(), async {
                    js.send_publish(subject.clone(), message)
                        .await
                        .map_err(|e| e.to_string())?
                        .await
                        .map_err(|e| e.to_string())
                })
                .await
                .map_err(|_| self.nats_error(&subject, "no acknowledgement in time"))?
                .map_err(|e| self.nats_error(&subject, e))?;
                if ack.duplicate {
                    tracing::debug!(target: "ores_actors::eventing", relay = %self.args.name, id = %event.id, "the stream already had this event");
                }
                Ok(())
            }
        }
    }

    /// Makes sure what was published reached the server (core mode; JetStream acks did).
    async fn flush(&self) -> Result<(), EventError> {
        if self.args.mode != Mode::Core {
            return Ok(());
        }
        let client = self
            .args
            .nats
            .client(self.wait())
            .await
            .map_err(|e| self.nats_error(self.args.nats.prefix(), e))?;
        match tokio::time::timeout(self.wait(), client.flush()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(self.nats_error(self.args.nats.prefix(), e)),
            Err(_) => Err(self.nats_error(self.args.nats.prefix(), "flush timed out")),
        }
    }
}

/// The NATS headers of a relayed event: the string entries of its stored headers, then
/// `Nats-Msg-Id` (the event id), `Content-Type`, the correlation id (the stored one, else the
/// event id), the tenant, the key and the origin.
fn headers_of(event: &StoredEvent, origin: &str) -> HeaderMap {
    let mut map = HeaderMap::new();
    if let Ok(serde_json::Value::Object(stored)) =
        serde_json::from_str::<serde_json::Value>(&event.headers)
    {
        for (k, v) in stored {
            if let (Ok(name), Some(Ok(value))) = (
                k.parse::<HeaderName>(),
                v.as_str().map(str::parse::<HeaderValue>),
            ) {
                map.insert(name, value);
            }
        }
    }
    let mut set = |name: &str, value: &str| {
        if let (Ok(n), Ok(v)) = (name.parse::<HeaderName>(), value.parse::<HeaderValue>()) {
            map.insert(n, v);
        }
    };
    set(MSG_ID, &event.id);
    set(CONTENT_TYPE, JSON);
    set(EVENT_ORIGIN, origin);
    if let Some(tenant) = &event.tenant {
        set(TENANT_ID, tenant);
    }
    if let Some(key) = &event.key {
        set(EVENT_KEY, key);
    }
    if map.get(CORRELATION_ID).is_none() {
        map.insert(CORRELATION_ID, event.id.as_str());
    }
    map
}

/// What a [`BridgeIn`] runs with (built by [`EventBus::bridge_in`]).
#[derive(Debug)]
pub struct BridgeArgs {
    shared: Arc<BusShared>,
    nats: Nats,
    pattern: SubjectPattern,
}

/// Brings remote events from NATS to the bus's local subscribers (see
/// [`EventBus::bridge_in`]). Fails (and is restarted) when its subscription ends.
#[derive(Debug, Clone, Copy, Default)]
pub struct BridgeIn;

/// A bridge-in's state: its task.
#[derive(Debug)]
pub struct BridgeInState {
    task: JoinHandle<()>,
}

impl Drop for BridgeInState {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Actor for BridgeIn {
    type Msg = BridgeInMsg;
    type State = BridgeInState;
    type Arguments = Arc<BridgeArgs>;

    async fn pre_start(
        &self,
        myself: ActorRef<BridgeInMsg>,
        args: Arc<BridgeArgs>,
    ) -> Result<BridgeInState, ActorProcessingErr> {
        let origin = origin(&args.shared).await?;
        // Subscribed before the start returns: what is published afterwards arrives.
        let mut sub = args.nats.subscribe_raw(args.pattern.as_str(), None).await?;
        let skip = args.nats.prefix().len() + 1;
        let task = tokio::spawn(async move {
            while let Some(msg) = sub.next().await {
                let full = msg.subject.as_str();
                let topic = full.get(skip..).unwrap_or(full);
                if let Some(event) = incoming(topic, &msg, &origin) {
                    args.shared.registry.dispatch(&event);
                }
            }
            let _ = myself.cast(BridgeInMsg(Failure(EventError::Nats(format!(
                "the NATS subscription to `{}` ended",
                args.pattern.as_str()
            )))));
        });
        Ok(BridgeInState { task })
    }

    async fn handle(
        &self,
        _myself: ActorRef<BridgeInMsg>,
        msg: BridgeInMsg,
        _state: &mut BridgeInState,
    ) -> Result<(), ActorProcessingErr> {
        Err(Box::new(msg.0.0))
    }
}

/// The event a NATS message carries; `None` for one relayed from this same log, or whose
/// payload is not JSON.
fn incoming(topic: &str, msg: &async_nats::Message, origin: &str) -> Option<StoredEvent> {
    let headers = msg.headers.as_ref();
    let header = |name: &str| {
        headers
            .and_then(|h| h.get(name))
            .map(|v| v.as_str().to_string())
            .filter(|v| !v.is_empty())
    };
    if header(EVENT_ORIGIN).as_deref() == Some(origin) {
        return None;
    }
    let payload = match std::str::from_utf8(&msg.payload)
        .ok()
        .filter(|p| serde_json::from_str::<serde::de::IgnoredAny>(p).is_ok())
    {
        Some(p) => p.to_string(),
        None => {
            tracing::warn!(target: "ores_actors::eventing", %topic, "bridged message skipped: its payload is not JSON");
            return None;
        }
    };
    let mut stored = serde_json::Map::new();
    if let Some(h) = headers {
        for (name, values) in h.iter() {
            if let Some(v) = values.last() {
                stored.insert(
                    name.to_string(),
                    serde_json::Value::String(v.as_str().to_string()),
                );
            }
        }
    }
    Some(StoredEvent {
        id: header(MSG_ID).unwrap_or_else(|| uuid::Uuid::now_v7().to_string()),
        offset: Offset::default(),
        topic: topic.to_string(),
        key: header(EVENT_KEY),
        tenant: header(TENANT_ID),
        payload,
        headers: serde_json::Value::Object(stored).to_string(),
        created_at: SystemTime::now(),
    })
}
