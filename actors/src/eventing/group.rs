//! Durable subscriptions: consumer groups. A named group keeps its offset in
//! `{schema}.consumer_groups`; its supervised consumer ([`GroupConsumer`]) hands the group's
//! events to a handler in log order and stores the offset as handlers succeed, so after a
//! crash or a restart it resumes where it was.
//!
//! Delivery is **at least once**: an event whose handler succeeded may be delivered again
//! when the consumer stops before it stored the offset (at most one batch), and after a
//! replay. Make the effect exactly once with the event id ([`Delivered::meta`]`.id`, a UUID
//! unique per event): record it with the effect, in the same transaction, and skip ids already
//! recorded (e.g. `INSERT INTO processed (event_id) … ON CONFLICT DO NOTHING` and act only when
//! a row was inserted).

use std::future::Future;
use std::marker::PhantomData;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::FutureExt;
use futures::future::BoxFuture;
use ores_runtime::supervisor::{ChildContext, ChildSpec};
use ractor::rpc::CallResult;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use serde::de::DeserializeOwned;
use sqlx::postgres::PgRow;
use sqlx::{AssertSqlSafe, Row};
use tokio::task::JoinHandle;

use crate::nats::SubjectPattern;

use super::bus::BusShared;
use super::error::EventError;
use super::record::{COLUMNS, Offset, StoredEvent, head};
use super::subscription::Delivered;

/// Where a consumer group starts when it has no stored offset yet (and where
/// [`EventBus::replay_group`](super::EventBus::replay_group) moves it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// From the first event the log still holds.
    Beginning,
    /// From events written from now on (the default).
    Now,
    /// From the events after this offset (e.g. a [`StoredEvent::offset`]).
    Offset(Offset),
    /// From the events written at or after this time (and perhaps a few written just before
    /// it: the log is in commit order, not time order; none at or after it is missed).
    Time(SystemTime),
}

type Handler<T> = Arc<dyn Fn(Delivered<T>) -> BoxFuture<'static, Result<(), String>> + Send + Sync>;

/// Builds a consumer group's supervised consumer: [`EventBus::group`](super::EventBus::group).
///
/// ```no_run
/// use std::time::Duration;
/// use ores_actors::eventing::{EntityChangeEvent, EventBus, Start};
/// use ores_runtime::supervisor::Supervisor;
///
/// # async fn demo(bus: EventBus, tree: Supervisor) -> Result<(), Box<dyn std::error::Error>> {
/// let pool = bus.pool().clone();
/// let spec = bus
///     .group::<EntityChangeEvent>("refdata-cache", "ores.refdata.>")?
///     .tenant(Some("t1"))
///     .start(Start::Beginning)
///     .batch(100)
///     .retry_backoff(Duration::from_millis(100), Duration::from_secs(30))
///     .handler(move |d| {
///         let pool = pool.clone();
///         async move {
///             // Exactly-once effect: the event id is recorded with the effect.
///             let mut tx = pool.begin().await?;
///             let fresh = sqlx::query(
///                 "INSERT INTO app.processed (event_id) VALUES ($1::uuid) ON CONFLICT DO NOTHING",
///             )
///             .bind(&d.meta.id)
///             .execute(&mut *tx)
///             .await?
///             .rows_affected()
///                 == 1;
///             if fresh {
///                 // … apply d.event …
///             }
///             tx.commit().await
///         }
///     });
/// tree.start_child(spec).await?;
/// # Ok(()) }
/// ```
#[must_use = "a group builder does nothing until `handler` or `deliver_to` gives its child spec"]
pub struct GroupBuilder<T> {
    shared: Arc<BusShared>,
    name: String,
    pattern: SubjectPattern,
    tenant: Option<String>,
    start: Start,
    batch: usize,
    backoff: (Duration, Duration),
    _t: PhantomData<fn() -> T>,
}

impl<T> std::fmt::Debug for GroupBuilder<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupBuilder")
            .field("name", &self.name)
            .field("pattern", &self.pattern)
            .field("tenant", &self.tenant)
            .field("start", &self.start)
            .field("batch", &self.batch)
            .field("backoff", &self.backoff)
            .finish_non_exhaustive()
    }
}

impl<T> GroupBuilder<T>
where
    T: DeserializeOwned + Send + 'static,
{
    pub(crate) fn new(
        shared: Arc<BusShared>,
        name: &str,
        pattern: &str,
    ) -> Result<Self, EventError> {
        check_name(name)?;
        let pattern = super::record::topic_pattern(pattern)?;
        Ok(Self {
            shared,
            name: name.to_string(),
            pattern,
            tenant: None,
            start: Start::Now,
            batch: 100,
            backoff: (Duration::from_millis(100), Duration::from_secs(30)),
            _t: PhantomData,
        })
    }

    /// Only events of `tenant` (when `Some`; default all).
    pub fn tenant(mut self, tenant: Option<&str>) -> Self {
        self.tenant = tenant.map(str::to_owned);
        self
    }

    /// Where the group starts when it has no stored offset yet (default [`Start::Now`]);
    /// ignored once it has one.
    pub fn start(mut self, start: Start) -> Self {
        self.start = start;
        self
    }

    /// How many events are read per query, and the most that are delivered again after a
    /// crash: the offset is stored once per batch (and before a failed event is retried).
    /// Default 100; `1` stores it after every event. Zero counts as one.
    pub fn batch(mut self, events: usize) -> Self {
        self.batch = events.max(1);
        self
    }

    /// The wait before retrying an event whose handler failed: `min`, doubling on each
    /// failure up to `max` (default 100 ms to 30 s).
    pub fn retry_backoff(mut self, min: Duration, max: Duration) -> Self {
        self.backoff = (min, max.max(min));
        self
    }

    /// The consumer, calling `f` for each of the group's events in log order: a supervised
    /// [`GroupConsumer`] with id `group:<name>`, to start under a supervisor.
    ///
    /// `Ok` stores the event as done. `Err` (or a panic) is logged and the same event is
    /// retried with backoff, for as long as it takes: the group does not pass it (a
    /// [`replay_group`](super::EventBus::replay_group) past it skips it). An event that does
    /// not decode as `T` goes to `{schema}.dead_letters` with the reason, and the group moves
    /// on.
    pub fn handler<F, Fut, E>(self, f: F) -> ChildSpec<GroupMsg>
    where
        F: Fn(Delivered<T>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: std::fmt::Display,
    {
        let handler: Handler<T> = Arc::new(move |d| {
            let fut = f(d);
            Box::pin(async move { fut.await.map_err(|e| e.to_string()) })
        });
        let group = Arc::new(Group {
            shared: self.shared,
            name: self.name,
            pattern: self.pattern,
            tenant: self.tenant,
            start: self.start,
            batch: self.batch,
            backoff: self.backoff,
            handler,
        });
        ChildSpec::new(format!("group:{}", group.name), move |ctx: ChildContext| {
            let group = Arc::clone(&group);
            async move {
                ctx.spawn(GroupConsumer::<T> { _t: PhantomData }, group)
                    .await
            }
        })
    }

    /// The consumer, delivering each event to `actor` as an `M` built from a
    /// [`GroupDelivery`]: the event is done when the actor answers its [`Ack`] with
    /// [`Ack::done`]; [`Ack::fail`], or dropping the `Ack`, or the actor being gone, retries
    /// it with backoff. Events are delivered one at a time: the next once this one is done.
    /// An actor that keeps the `Ack` without answering holds the group.
    pub fn deliver_to<M>(self, actor: ActorRef<M>) -> ChildSpec<GroupMsg>
    where
        M: ractor::Message + From<GroupDelivery<T>>,
    {
        self.handler(move |delivered| {
            let actor = actor.clone();
            async move {
                let sent = actor
                    .call(
                        |port| {
                            M::from(GroupDelivery {
                                delivered,
                                ack: Ack(port),
                            })
                        },
                        None,
                    )
                    .await;
                match sent {
                    Ok(CallResult::Success(outcome)) => outcome,
                    Ok(CallResult::Timeout) => Err("no acknowledgement in time".to_string()),
                    Ok(CallResult::SenderError) => {
                        Err("the actor dropped the acknowledgement without answering".to_string())
                    }
                    Err(_) => Err(format!("actor {} is not running", actor.get_id())),
                }
            }
        })
    }
}

/// An event delivered to an actor by a consumer group
/// ([`GroupBuilder::deliver_to`]), with the acknowledgement to answer.
#[derive(Debug)]
pub struct GroupDelivery<T> {
    /// The event.
    pub delivered: Delivered<T>,
    /// Answer it once the event is handled.
    pub ack: Ack,
}

/// The acknowledgement of a [`GroupDelivery`]: [`done`](Ack::done) moves the group on;
/// [`fail`](Ack::fail), or dropping it unanswered, has the event delivered again after a
/// backoff.
#[derive(Debug)]
pub struct Ack(RpcReplyPort<Result<(), String>>);

impl Ack {
    /// The event is handled.
    pub fn done(self) {
        let _ = self.0.send(Ok(()));
    }

    /// The event could not be handled (`reason` is logged): it is delivered again.
    pub fn fail(self, reason: impl std::fmt::Display) {
        let _ = self.0.send(Err(reason.to_string()));
    }
}

/// A group's settings and handler, as its [`GroupConsumer`] runs them.
pub struct Group<T> {
    shared: Arc<BusShared>,
    name: String,
    pattern: SubjectPattern,
    tenant: Option<String>,
    start: Start,
    batch: usize,
    backoff: (Duration, Duration),
    handler: Handler<T>,
}

impl<T> std::fmt::Debug for Group<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Group")
            .field("name", &self.name)
            .field("pattern", &self.pattern)
            .field("tenant", &self.tenant)
            .finish_non_exhaustive()
    }
}

impl<T> Group<T> {
    fn wants(&self, event: &StoredEvent) -> bool {
        self.pattern.matches(&event.topic)
            && self
                .tenant
                .as_deref()
                .is_none_or(|t| event.tenant.as_deref() == Some(t))
    }

    fn delay(&self, failures: u32) -> Duration {
        let (min, max) = self.backoff;
        min.saturating_mul(2u32.saturating_pow(failures.saturating_sub(1).min(20)))
            .min(max)
    }
}

/// A consumer group's supervised consumer (see [`GroupBuilder::handler`]). Its task reads the
/// log after the stored offset and delivers; when the database fails, the actor fails, and
/// the supervisor restarts it with backoff: it resumes from the stored offset.
pub struct GroupConsumer<T> {
    _t: PhantomData<fn() -> T>,
}

impl<T> std::fmt::Debug for GroupConsumer<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GroupConsumer")
    }
}

/// A [`GroupConsumer`]'s message (internal: its task reports a failure with it).
#[derive(Debug)]
pub struct GroupMsg(EventError);

/// A [`GroupConsumer`]'s state: its task, stopped with it.
#[derive(Debug)]
pub struct GroupState {
    task: JoinHandle<()>,
}

impl Drop for GroupState {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl<T> Actor for GroupConsumer<T>
where
    T: DeserializeOwned + Send + 'static,
{
    type Msg = GroupMsg;
    type State = GroupState;
    type Arguments = Arc<Group<T>>;

    async fn pre_start(
        &self,
        myself: ActorRef<GroupMsg>,
        group: Arc<Group<T>>,
    ) -> Result<GroupState, ActorProcessingErr> {
        super::schema::migrate(&group.shared.pool, &group.shared.config.schema).await?;
        let offset = ensure(&group).await?;
        tracing::debug!(target: "ores_actors::eventing", group = %group.name, ?offset, "consumer group starts");
        let task = tokio::spawn(async move {
            if let Err(e) = consume(&group).await {
                tracing::warn!(target: "ores_actors::eventing", group = %group.name, error = %e, "consumer group failed");
                let _ = myself.cast(GroupMsg(e));
            }
        });
        Ok(GroupState { task })
    }

    async fn handle(
        &self,
        _myself: ActorRef<GroupMsg>,
        msg: GroupMsg,
        _state: &mut GroupState,
    ) -> Result<(), ActorProcessingErr> {
        Err(Box::new(msg.0))
    }
}

fn check_name(name: &str) -> Result<(), EventError> {
    if name.is_empty() || name.len() > 200 || name.chars().any(char::is_control) {
        return Err(EventError::Config(format!(
            "`{name}` is not a usable consumer group name: 1 to 200 characters, no control \
             characters"
        )));
    }
    Ok(())
}

/// Reads and delivers until the database fails.
async fn consume<T>(group: &Group<T>) -> Result<(), EventError>
where
    T: DeserializeOwned + Send + 'static,
{
    let shared = &group.shared;
    let mut wake = shared.wake.subscribe();
    loop {
        // Marked seen before reading: a NOTIFY (or a replay) during the read wakes the next
        // wait.
        wake.borrow_and_update();
        let Some((stored, events)) = fetch(group).await? else {
            // The group's row was deleted: start again as a new group.
            ensure(group).await?;
            continue;
        };
        if events.is_empty() {
            let _ = tokio::time::timeout(shared.config.poll_interval, wake.changed()).await;
            continue;
        }
        deliver(group, stored, events).await?;
    }
}

/// Delivers one batch read after `stored`. Returns early (the next batch starts from the
/// stored offset again) when the stored offset was moved meanwhile (a replay).
async fn deliver<T>(
    group: &Group<T>,
    mut stored: Offset,
    events: Vec<StoredEvent>,
) -> Result<(), EventError>
where
    T: DeserializeOwned + Send + 'static,
{
    let mut done = stored;
    for event in events {
        if !group.wants(&event) {
            done = event.offset;
            continue;
        }
        if let Err(e) = event.decode::<T>() {
            tracing::warn!(target: "ores_actors::eventing", group = %group.name, id = %event.id, topic = %event.topic, error = %e, "event does not decode: moved to dead letters");
            if !commit(group, stored, event.offset, Some((&event, &e.to_string()))).await? {
                return Ok(());
            }
            stored = event.offset;
            done = stored;
            continue;
        }
        let meta = Arc::new(event);
        let mut failures = 0u32;
        loop {
            let value = meta.decode::<T>()?;
            let delivered = Delivered {
                event: value,
                meta: Arc::clone(&meta),
            };
            let outcome = AssertUnwindSafe((group.handler)(delivered))
                .catch_unwind()
                .await
                .unwrap_or_else(|_| Err("the handler panicked".to_string()));
            let Err(reason) = outcome else { break };
            failures += 1;
            let wait = group.delay(failures);
            tracing::warn!(target: "ores_actors::eventing", group = %group.name, id = %meta.id, topic = %meta.topic, failures, retry_in = ?wait, error = %reason, "event handler failed: retrying the event");
            if failures == 1 && done != stored {
                // Keep what succeeded before the failing event.
                if !commit(group, stored, done, None).await? {
                    return Ok(());
                }
                stored = done;
            }
            tokio::time::sleep(wait).await;
            if stored_offset(&group.shared, &group.name).await? != Some(stored) {
                tracing::info!(target: "ores_actors::eventing", group = %group.name, "consumer group offset moved (replay): the failing event is left");
                return Ok(());
            }
        }
        done = meta.offset;
    }
    if done != stored {
        commit(group, stored, done, None).await?;
    }
    Ok(())
}

fn parse_xid(xid: &str) -> Result<u64, EventError> {
    xid.parse()
        .map_err(|_| EventError::Database(format!("unexpected xid8 text `{xid}`")))
}

fn offset_from(row: &PgRow, xid: &str, position: &str) -> Result<Offset, EventError> {
    let x: String = row.try_get(xid)?;
    Ok(Offset {
        xid: parse_xid(&x)?,
        position: row.try_get(position)?,
    })
}

/// The group's stored offset and up to `batch` events after it, below the snapshot horizon,
/// in one statement (so a replay is seen at the next batch); `None` when the group has no row.
async fn fetch<T>(group: &Group<T>) -> Result<Option<(Offset, Vec<StoredEvent>)>, EventError> {
    let schema = &group.shared.config.schema;
    let sql = format!(
        "SELECT g.xid::text AS group_xid, g.position AS group_position, e.*
         FROM {groups} g
         LEFT JOIN LATERAL (
             SELECT {COLUMNS} FROM {events}
             WHERE (xid, position) > (g.xid, g.position)
               AND xid < pg_snapshot_xmin(pg_current_snapshot())
             ORDER BY xid, position
             LIMIT $2
         ) e ON true
         WHERE g.name = $1",
        groups = schema.table("consumer_groups"),
        events = schema.table("events"),
    );
    let rows = sqlx::query(AssertSqlSafe(sql))
        .bind(&group.name)
        .bind(i64::try_from(group.batch).unwrap_or(i64::MAX))
        .fetch_all(&group.shared.pool)
        .await?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let stored = offset_from(first, "group_xid", "group_position")?;
    let mut events = Vec::with_capacity(rows.len());
    for row in &rows {
        if row.try_get::<Option<String>, _>("id")?.is_some() {
            events.push(StoredEvent::from_row(row)?);
        }
    }
    Ok(Some((stored, events)))
}

/// Moves the stored offset from `from` to `to` (with a dead letter, in the same
/// transaction), only if it is still `from`: `false` when it was moved meanwhile (a replay),
/// and then nothing is written.
async fn commit<T>(
    group: &Group<T>,
    from: Offset,
    to: Offset,
    dead: Option<(&StoredEvent, &str)>,
) -> Result<bool, EventError> {
    let schema = &group.shared.config.schema;
    let mut tx = group.shared.pool.begin().await?;
    let moved = sqlx::query(AssertSqlSafe(format!(
        "UPDATE {groups} SET xid = $2::text::xid8, position = $3, updated_at = now()
         WHERE name = $1 AND xid = $4::text::xid8 AND position = $5",
        groups = schema.table("consumer_groups"),
    )))
    .bind(&group.name)
    .bind(to.xid.to_string())
    .bind(to.position)
    .bind(from.xid.to_string())
    .bind(from.position)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if !moved {
        tx.rollback().await?;
        tracing::info!(target: "ores_actors::eventing", group = %group.name, "consumer group offset moved (replay): the batch is left");
        return Ok(false);
    }
    if let Some((event, reason)) = dead {
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO {dead} (group_name, event_id, xid, position, topic, payload, reason)
             VALUES ($1, $2::uuid, $3::text::xid8, $4, $5, $6::jsonb, $7)",
            dead = schema.table("dead_letters"),
        )))
        .bind(&group.name)
        .bind(&event.id)
        .bind(event.offset.xid.to_string())
        .bind(event.offset.position)
        .bind(&event.topic)
        .bind(&event.payload)
        .bind(reason)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(true)
}

/// The group's stored offset, creating its row at its start when it has none.
async fn ensure<T>(group: &Group<T>) -> Result<Offset, EventError> {
    if let Some(offset) = stored_offset(&group.shared, &group.name).await? {
        return Ok(offset);
    }
    let start = resolve(&group.shared, group.start).await?;
    let schema = &group.shared.config.schema;
    sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO {groups} (name, xid, position) VALUES ($1, $2::text::xid8, $3)
         ON CONFLICT (name) DO NOTHING",
        groups = schema.table("consumer_groups"),
    )))
    .bind(&group.name)
    .bind(start.xid.to_string())
    .bind(start.position)
    .execute(&group.shared.pool)
    .await?;
    stored_offset(&group.shared, &group.name)
        .await?
        .ok_or_else(|| EventError::Database(format!("consumer group `{}` vanished", group.name)))
}

/// The stored offset of group `name`, if it has one.
pub(crate) async fn stored_offset(
    shared: &BusShared,
    name: &str,
) -> Result<Option<Offset>, EventError> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT xid::text AS xid, position FROM {groups} WHERE name = $1",
        groups = shared.config.schema.table("consumer_groups"),
    )))
    .bind(name)
    .fetch_optional(&shared.pool)
    .await?;
    row.map(|r| offset_from(&r, "xid", "position")).transpose()
}

/// The offset `start` stands for now.
async fn resolve(shared: &BusShared, start: Start) -> Result<Offset, EventError> {
    match start {
        Start::Beginning => Ok(Offset::default()),
        Start::Now => head(&shared.pool).await,
        Start::Offset(offset) => Ok(offset),
        Start::Time(at) => {
            let micros = at
                .duration_since(UNIX_EPOCH)
                .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
                .unwrap_or(0);
            let row = sqlx::query(AssertSqlSafe(format!(
                "SELECT xid::text AS xid, position FROM {events}
                 WHERE created_at >= 'epoch'::timestamptz + $1 * interval '1 microsecond'
                 ORDER BY xid, position
                 LIMIT 1",
                events = shared.config.schema.table("events"),
            )))
            .bind(micros)
            .fetch_optional(&shared.pool)
            .await?;
            // A transaction still open may yet write events at or after `at`: never start
            // past the head.
            let head = head(&shared.pool).await?;
            Ok(match row {
                Some(r) => {
                    let first = offset_from(&r, "xid", "position")?;
                    let before = Offset {
                        xid: first.xid,
                        position: first.position.saturating_sub(1),
                    };
                    before.min(head)
                }
                None => head,
            })
        }
    }
}

/// Sets group `name`'s stored offset to `start` (creating the group if need be), and wakes
/// this process's consumers.
pub(crate) async fn replay(
    shared: &BusShared,
    name: &str,
    start: Start,
) -> Result<Offset, EventError> {
    check_name(name)?;
    let offset = resolve(shared, start).await?;
    sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO {groups} (name, xid, position) VALUES ($1, $2::text::xid8, $3)
         ON CONFLICT (name) DO UPDATE
         SET xid = EXCLUDED.xid, position = EXCLUDED.position, updated_at = now()",
        groups = shared.config.schema.table("consumer_groups"),
    )))
    .bind(name)
    .bind(offset.xid.to_string())
    .bind(offset.position)
    .execute(&shared.pool)
    .await?;
    tracing::info!(target: "ores_actors::eventing", group = name, ?offset, "consumer group offset reset (replay)");
    shared.wake.send_modify(|n| *n = n.wrapping_add(1));
    Ok(offset)
}
