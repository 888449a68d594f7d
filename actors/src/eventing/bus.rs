//! [`EventBus`]: publish events (durably acknowledged, or inside the caller's transaction) and
//! subscribe to them; the supervised actors behind it ([`EventBus::child_spec`]).

use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use ores_runtime::supervisor::{ChildContext, ChildSpec, Strategy, Supervisor, SupervisorMsg};
use ractor::ActorRef;
use serde::de::DeserializeOwned;
use sqlx::PgPool;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use super::config::EventBusConfig;
use super::error::EventError;
use super::event::Event;
use super::group::{GroupBuilder, Start};
use super::listener::NotifyListener;
use super::reader::EventReader;
use super::record::{NewEvent, Offset, StoredEvent, insert};
use super::subscription::{Delivered, Registry, Subscription};
use super::writer::{EventWriter, WriteRequest};

/// What the bus's actors and its handles share.
#[derive(Debug)]
pub(crate) struct BusShared {
    pub(crate) pool: PgPool,
    pub(crate) config: EventBusConfig,
    writer: Mutex<Option<mpsc::Sender<WriteRequest>>>,
    writer_changed: watch::Sender<u64>,
    /// Bumped for every NOTIFY the listener hears: readers look at the log.
    pub(crate) wake: watch::Sender<u64>,
    pub(crate) registry: Arc<Registry>,
    /// Where the in-process reader is (kept across its restarts, so none skips events).
    pub(crate) offset: Mutex<Option<Offset>>,
    pub(crate) notify_works: AtomicBool,
}

impl BusShared {
    pub(crate) fn set_writer(&self, writer: Option<mpsc::Sender<WriteRequest>>) {
        *self.writer.lock().unwrap_or_else(|p| p.into_inner()) = writer;
        self.writer_changed.send_modify(|n| *n += 1);
    }

    fn writer(&self) -> Option<mpsc::Sender<WriteRequest>> {
        self.writer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub(crate) fn offset(&self) -> Option<Offset> {
        *self.offset.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn set_offset(&self, offset: Offset) {
        *self.offset.lock().unwrap_or_else(|p| p.into_inner()) = Some(offset);
    }
}

/// The event bus: events are actor messages, persisted to a PostgreSQL log before anyone gets
/// them.
///
/// `publish` returns once the event is committed in the log; `publish_in_tx` writes it in the
/// caller's own transaction (the outbox), so the business write and the event commit together
/// or not at all. Subscribers (streams, actors, closures) get events in log order, only after
/// commit, from the moment they subscribe.
///
/// ```no_run
/// use ores_actors::eventing::{EntityChangeEvent, EventBus, EventBusConfig};
/// use ores_runtime::supervisor::Supervisor;
///
/// # async fn demo(pool: sqlx::PgPool) -> Result<(), Box<dyn std::error::Error>> {
/// let bus = EventBus::new(pool, EventBusConfig::new("ores_events")?)?;
/// let tree = Supervisor::builder("app").child(bus.child_spec()).spawn().await?;
/// let mut changes = bus.subscribe::<EntityChangeEvent>("ores.refdata.*")?;
/// bus.publish(&EntityChangeEvent::new("ores.refdata.currency", ["EUR"])).await?;
/// let got = changes.recv().await;
/// # let _ = (tree, got); Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct EventBus {
    shared: Arc<BusShared>,
}

impl EventBus {
    /// A bus on `pool` with its log in `config.schema`. Nothing runs until
    /// [`child_spec`](Self::child_spec) is started under a supervisor.
    ///
    /// # Errors
    /// [`EventError::Config`] when the configuration is not usable.
    pub fn new(pool: PgPool, config: EventBusConfig) -> Result<Self, EventError> {
        config.validate()?;
        Ok(Self {
            shared: Arc::new(BusShared {
                pool,
                config,
                writer: Mutex::new(None),
                writer_changed: watch::channel(0).0,
                wake: watch::channel(0).0,
                registry: Arc::new(Registry::default()),
                offset: Mutex::new(None),
                notify_works: AtomicBool::new(false),
            }),
        })
    }

    /// What the bus's actors share (for the NATS bridge's actors).
    pub(crate) fn shared(&self) -> &Arc<BusShared> {
        &self.shared
    }

    /// The configuration.
    pub fn config(&self) -> &EventBusConfig {
        &self.shared.config
    }

    /// The pool the bus writes and reads with.
    pub fn pool(&self) -> &PgPool {
        &self.shared.pool
    }

    /// Whether the listener heard its own test NOTIFY at start (`false`: readers poll).
    pub fn notify_works(&self) -> bool {
        self.shared.notify_works.load(Ordering::Relaxed)
    }

    /// The bus's actors as one supervised subtree (id `eventing`, rest-for-one): the writer
    /// (which applies the log's migrations first), the NOTIFY listener, the in-process
    /// reader, and retention maintenance (`event-maintenance`: day partitions made ahead, old
    /// days dropped; see [`maintain`](super::maintain)). A failure (the database link cut)
    /// restarts the failed actor and those after it, with the tree's backoff.
    pub fn child_spec(&self) -> ChildSpec<SupervisorMsg> {
        let shared = Arc::clone(&self.shared);
        let writer = {
            let shared = Arc::clone(&shared);
            ChildSpec::new("event-writer", move |ctx: ChildContext| {
                let shared = Arc::clone(&shared);
                async move { ctx.spawn(EventWriter, shared).await }
            })
        };
        let listener = {
            let shared = Arc::clone(&shared);
            ChildSpec::new("event-listener", move |ctx: ChildContext| {
                let shared = Arc::clone(&shared);
                async move { ctx.spawn(NotifyListener, shared).await }
            })
        };
        let reader = {
            let shared = Arc::clone(&shared);
            ChildSpec::new("event-reader", move |ctx: ChildContext| {
                let shared = Arc::clone(&shared);
                async move { ctx.spawn(EventReader, shared).await }
            })
        };
        let maintenance = ChildSpec::new("event-maintenance", move |ctx: ChildContext| {
            let shared = Arc::clone(&shared);
            async move { ctx.spawn(super::retention::Maintenance, shared).await }
        });
        Supervisor::builder("eventing")
            .strategy(Strategy::RestForOne)
            .child(writer)
            .child(listener)
            .child(reader)
            .child(maintenance)
            .into_child_spec()
    }

    /// Publishes `event`: returns its id once it is committed in the log.
    ///
    /// # Errors
    /// [`EventError::Topic`], [`EventError::Encode`], [`EventError::TooLarge`] for a bad event
    /// (nothing written); [`EventError::Unavailable`] when the log could not be reached within
    /// `publish_timeout` (nothing acknowledged: publish again).
    pub async fn publish<E: Event>(&self, event: &E) -> Result<String, EventError> {
        let new = NewEvent::encode(event, self.shared.config.max_payload)?;
        let id = new.id.clone();
        self.write(vec![new]).await?;
        Ok(id)
    }

    /// As [`publish`](Self::publish), with `headers` stored with the event (e.g. the correlation
    /// id and `traceparent` of the request that caused it); subscribers read them with
    /// [`StoredEvent::header_map`].
    ///
    /// # Errors
    /// As [`publish`](Self::publish).
    pub async fn publish_with_headers<E: Event>(
        &self,
        event: &E,
        headers: &[(&str, &str)],
    ) -> Result<String, EventError> {
        let new = NewEvent::encode(event, self.shared.config.max_payload)?.with_headers(headers);
        let id = new.id.clone();
        self.write(vec![new]).await?;
        Ok(id)
    }

    /// Publishes `events` in one transaction: all or none; returns their ids in order.
    ///
    /// # Errors
    /// As [`publish`](Self::publish); one bad event refuses them all.
    pub async fn publish_all<E: Event>(&self, events: &[E]) -> Result<Vec<String>, EventError> {
        let new = events
            .iter()
            .map(|e| NewEvent::encode(e, self.shared.config.max_payload))
            .collect::<Result<Vec<_>, _>>()?;
        let ids = new.iter().map(|e| e.id.clone()).collect();
        self.write(new).await?;
        Ok(ids)
    }

    /// Writes `event` in the caller's transaction (the transactional outbox): it is published
    /// when, and only if, that transaction commits. Pass `&mut *tx`.
    ///
    /// # Errors
    /// As [`publish`](Self::publish) for a bad event; [`EventError::Database`] when the
    /// statement fails (the caller's transaction is then aborted, as for any failed statement).
    pub async fn publish_in_tx<E: Event>(
        &self,
        tx: &mut sqlx::PgConnection,
        event: &E,
    ) -> Result<String, EventError> {
        let new = NewEvent::encode(event, self.shared.config.max_payload)?;
        insert(&mut *tx, &self.shared.config.schema, &[&new]).await?;
        Ok(new.id)
    }

    async fn write(&self, events: Vec<NewEvent>) -> Result<(), EventError> {
        let events = Arc::new(events);
        let timeout = self.shared.config.publish_timeout;
        let deadline = Instant::now() + timeout;
        let unavailable = || EventError::Unavailable { waited: timeout };
        let mut changed = self.shared.writer_changed.subscribe();
        loop {
            changed.borrow_and_update();
            if let Some(writer) = self.shared.writer() {
                let (ack, acked) = oneshot::channel();
                let request = WriteRequest {
                    events: Arc::clone(&events),
                    ack,
                };
                match tokio::time::timeout_at(deadline, writer.send(request)).await {
                    Err(_) => return Err(unavailable()),
                    Ok(Err(_)) => {}
                    Ok(Ok(())) => match tokio::time::timeout_at(deadline, acked).await {
                        Err(_) => return Err(unavailable()),
                        Ok(Ok(Ok(()))) => return Ok(()),
                        // The batch failed, or the writer went away: the next writer retries.
                        Ok(Ok(Err(_)) | Err(_)) => {}
                    },
                }
            }
            if tokio::time::timeout_at(deadline, changed.changed())
                .await
                .is_err()
            {
                return Err(unavailable());
            }
        }
    }

    /// Events on topics matching `pattern` (`*` one token, `>` the rest), decoded as `T`, as
    /// a stream: `recv().await` them. Dropping the subscription unsubscribes.
    ///
    /// # Errors
    /// [`EventError::Topic`] for an invalid pattern.
    pub fn subscribe<T>(&self, pattern: &str) -> Result<Subscription<T>, EventError>
    where
        T: DeserializeOwned + Send + 'static,
    {
        self.subscribe_tenant(pattern, None)
    }

    /// As [`subscribe`](Self::subscribe), only events of `tenant` (when `Some`).
    ///
    /// # Errors
    /// [`EventError::Topic`] for an invalid pattern.
    pub fn subscribe_tenant<T>(
        &self,
        pattern: &str,
        tenant: Option<&str>,
    ) -> Result<Subscription<T>, EventError>
    where
        T: DeserializeOwned + Send + 'static,
    {
        let (tx, rx) = mpsc::unbounded_channel();
        let guard = self.add::<T>(pattern, tenant, move |d| tx.send(d).is_ok())?;
        Ok(Subscription {
            guard,
            rx: Some(rx),
            _t: PhantomData,
        })
    }

    /// Events on topics matching `pattern`, decoded as `T`, sent to `actor` as `M` (built
    /// from [`Delivered<T>`]). Dropping the subscription unsubscribes; so does the actor's end.
    ///
    /// # Errors
    /// [`EventError::Topic`] for an invalid pattern.
    pub fn subscribe_actor<T, M>(
        &self,
        pattern: &str,
        tenant: Option<&str>,
        actor: ActorRef<M>,
    ) -> Result<Subscription, EventError>
    where
        T: DeserializeOwned + Send + 'static,
        M: ractor::Message + From<Delivered<T>>,
    {
        let guard = self.add::<T>(pattern, tenant, move |d| {
            actor.send_message(M::from(d)).is_ok()
        })?;
        Ok(Subscription {
            guard,
            rx: None,
            _t: PhantomData,
        })
    }

    /// Events on topics matching `pattern`, decoded as `T`, handed to `f` (on the reader's
    /// task: keep it short, or send the work elsewhere).
    ///
    /// # Errors
    /// [`EventError::Topic`] for an invalid pattern.
    pub fn subscribe_fn<T>(
        &self,
        pattern: &str,
        tenant: Option<&str>,
        f: impl Fn(Delivered<T>) + Send + Sync + 'static,
    ) -> Result<Subscription, EventError>
    where
        T: DeserializeOwned + Send + 'static,
    {
        let guard = self.add::<T>(pattern, tenant, move |d| {
            f(d);
            true
        })?;
        Ok(Subscription {
            guard,
            rx: None,
            _t: PhantomData,
        })
    }

    /// A durable subscription: consumer group `name` gets the events on topics matching
    /// `pattern`, decoded as `T`, in log order, from its stored offset in
    /// `{schema}.consumer_groups` (so it resumes after a crash or a restart). Delivery is at
    /// least once; the event id ([`Delivered::meta`]`.id`) makes effects exactly once. Finish
    /// with [`GroupBuilder::handler`](super::GroupBuilder::handler) or
    /// [`GroupBuilder::deliver_to`](super::GroupBuilder::deliver_to), which give the supervised
    /// consumer's child spec. Run one consumer per group.
    ///
    /// # Errors
    /// [`EventError::Topic`] for an invalid pattern; [`EventError::Config`] for an empty name
    /// (or one over 200 characters, or with control characters).
    pub fn group<T>(&self, name: &str, pattern: &str) -> Result<GroupBuilder<T>, EventError>
    where
        T: DeserializeOwned + Send + 'static,
    {
        GroupBuilder::new(Arc::clone(&self.shared), name, pattern)
    }

    /// Moves consumer group `name` to `start` (creating it if need be): its consumer delivers
    /// the events after that offset next. A running consumer in this process sees it at once,
    /// one elsewhere at its next batch or poll; a batch in progress is left (its offset is
    /// not stored over the replay). [`Start::Now`] skips everything written so far, and an
    /// [`Start::Offset`] past a failing event skips that event. Returns the offset set.
    ///
    /// # Errors
    /// [`EventError::Database`] when the log is unreachable; [`EventError::Config`] for a
    /// bad name.
    pub async fn replay_group(&self, name: &str, start: Start) -> Result<Offset, EventError> {
        super::group::replay(&self.shared, name, start).await
    }

    /// Consumer group `name`'s stored offset (`None` before it first started): everything up
    /// to it is done.
    ///
    /// # Errors
    /// [`EventError::Database`] when the log is unreachable.
    pub async fn group_offset(&self, name: &str) -> Result<Option<Offset>, EventError> {
        super::group::stored_offset(&self.shared, name).await
    }

    fn add<T>(
        &self,
        pattern: &str,
        tenant: Option<&str>,
        deliver: impl Fn(Delivered<T>) -> bool + Send + Sync + 'static,
    ) -> Result<super::subscription::SubscriptionGuard, EventError>
    where
        T: DeserializeOwned + Send + 'static,
    {
        let pattern = super::record::topic_pattern(pattern)?;
        let sink = Box::new(move |event: &StoredEvent| match event.decode::<T>() {
            Ok(value) => deliver(Delivered {
                event: value,
                meta: Arc::new(event.clone()),
            }),
            Err(e) => {
                tracing::warn!(target: "ores_actors::eventing", error = %e, "event skipped: it does not decode for this subscriber");
                true
            }
        });
        Ok(self
            .shared
            .registry
            .add(pattern, tenant.map(str::to_owned), sink))
    }
}
