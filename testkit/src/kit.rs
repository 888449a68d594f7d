//! [`TestKit`]: one test's world.

use std::sync::Arc;
use std::time::Duration;

use ores_runtime::supervisor::{ChildHandle, ChildSpec, EventSender, Supervisor, SupervisorError};
use ractor::Message;
use sqlx::PgPool;

use crate::KitError;
use crate::budget::{Budget, Slot};
use crate::database;
use crate::migrations::{Migrations, project_migrations};
use crate::probe::{Probe, SupervisionProbe};
use crate::schema::SchemaName;
use crate::settings::{KitSettings, redact};

/// One test's world: its own PostgreSQL schema (migrated, behind a pool confined to it), its
/// own NATS subject prefix, and a supervised tree to which the test adds children.
///
/// Usually made by `#[ores_testkit::test]`; [`TestKit::start`] and [`TestKit::finish`] are
/// the same by hand.
#[derive(Debug)]
pub struct TestKit {
    name: String,
    settings: KitSettings,
    schema: SchemaName,
    subject_prefix: String,
    pool: PgPool,
    tree: Supervisor,
    events: EventSender,
    slot: Arc<Slot>,
    nats: tokio::sync::OnceCell<ores_actors::nats::Nats>,
    event_bus: tokio::sync::OnceCell<ores_actors::eventing::EventBus>,
}

impl TestKit {
    /// Set up the world of the test called `name`: wait for a connection slot, create and
    /// migrate the schema (the project's migrations, then `migrations`), start the tree.
    ///
    /// # Errors
    /// [`KitError`] naming what could not be set up.
    pub async fn start(
        name: &str,
        settings: KitSettings,
        migrations: &Migrations,
    ) -> Result<Self, KitError> {
        let budget = Budget::new(
            &settings.database_url,
            settings.max_connections,
            settings.connections_per_test,
        );
        let slot = budget.acquire(settings.timeout).await?;
        let schema = SchemaName::unique();
        let pool = database::pool_for(
            &settings.database_url,
            &schema,
            budget.per_slot(),
            settings.timeout,
        )?;
        database::prepare_database(&pool, settings.schema_max_age).await;
        let all = project_migrations().merge(migrations);
        database::create_schema(&pool, &settings.database_url, &schema, &all).await?;
        let events = EventSender::default();
        let tree = match Supervisor::builder(format!("test:{name}"))
            .events(events.clone())
            .spawn()
            .await
        {
            Ok(tree) => tree,
            Err(e) => {
                let _ = database::drop_schema(&pool, &settings.database_url, &schema).await;
                return Err(e.into());
            }
        };
        tracing::debug!(target: "ores_testkit", test = name, %schema, slot = slot.index(), "test world ready");
        Ok(Self {
            name: name.to_string(),
            subject_prefix: schema.subject_prefix(),
            settings,
            schema,
            pool,
            tree,
            events,
            slot: Arc::new(slot),
            nats: tokio::sync::OnceCell::new(),
            event_bus: tokio::sync::OnceCell::new(),
        })
    }

    /// The test's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A pool on the test database whose every connection has `search_path` set to the
    /// test's schema alone: unqualified names are the test's tables.
    pub fn db(&self) -> &PgPool {
        &self.pool
    }

    /// The test's schema, for code that takes a schema explicitly.
    pub fn schema(&self) -> &SchemaName {
        &self.schema
    }

    /// The test database's URL.
    pub fn database_url(&self) -> &str {
        &self.settings.database_url
    }

    /// The test's NATS subject prefix, `ores.test.<unique>`: parallel tests never share a
    /// subject.
    pub fn subject_prefix(&self) -> &str {
        &self.subject_prefix
    }

    /// The NATS server tests use (`ORES_TEST_NATS_URL`).
    pub fn nats_url(&self) -> &str {
        &self.settings.nats_url
    }

    /// The kit's settings.
    pub fn settings(&self) -> &KitSettings {
        &self.settings
    }

    /// The test's supervision tree.
    pub fn tree(&self) -> &Supervisor {
        &self.tree
    }

    /// Start a child in the test's tree.
    ///
    /// # Errors
    /// As [`Supervisor::start_child`].
    pub async fn spawn<M: Message>(
        &self,
        spec: ChildSpec<M>,
    ) -> Result<ChildHandle<M>, SupervisorError> {
        self.tree.start_child(spec).await
    }

    /// Start a supervised NATS connection in the test's tree, on the test's NATS URL and
    /// subject prefix, and wait (at most 10 s) until it is connected. Services the test adds
    /// afterwards use the returned handle.
    ///
    /// # Errors
    /// [`KitError::Nats`] when the configuration is refused or the connection does not come
    /// up; [`KitError::Tree`] when the child cannot be started.
    pub async fn nats(&self) -> Result<ores_actors::nats::Nats, KitError> {
        self.nats
            .get_or_try_init(|| self.start_nats())
            .await
            .cloned()
    }

    async fn start_nats(&self) -> Result<ores_actors::nats::Nats, KitError> {
        use ores_actors::nats::{ConnectionEvent, LinkStatus, Nats, NatsConfig};
        let url = self.settings.nats_url.clone();
        let nats = Nats::new(NatsConfig::new(&url, self.subject_prefix.clone())).map_err(|e| {
            KitError::Nats {
                url: url.clone(),
                message: e.to_string(),
            }
        })?;
        let mut events = nats.events();
        self.tree.start_child(nats.child_spec()).await?;
        let up = events
            .wait_for(Duration::from_secs(10), |e| {
                matches!(e, ConnectionEvent::Connected)
            })
            .await
            .is_some()
            || nats.status() == LinkStatus::Connected;
        if !up {
            return Err(KitError::Nats {
                url,
                message: "not connected within 10s".into(),
            });
        }
        Ok(nats)
    }

    /// Start an event bus in the test's tree, on the test's pool with its log in the test's
    /// schema (default configuration), and return it once its actors have started (the log's
    /// tables made, the listener listening, the reader at the head of the log). Started once:
    /// later calls return the same bus.
    ///
    /// # Errors
    /// [`KitError::EventBus`] when the configuration is refused; [`KitError::Tree`] when the
    /// bus's actors cannot be started.
    pub async fn event_bus(&self) -> Result<ores_actors::eventing::EventBus, KitError> {
        self.event_bus
            .get_or_try_init(|| self.start_event_bus())
            .await
            .cloned()
    }

    async fn start_event_bus(&self) -> Result<ores_actors::eventing::EventBus, KitError> {
        use ores_actors::eventing::{EventBus, EventBusConfig};
        let bus = EventBusConfig::new(self.schema.as_str())
            .and_then(|config| EventBus::new(self.pool.clone(), config))
            .map_err(|e| KitError::EventBus(e.to_string()))?;
        self.tree.start_child(bus.child_spec()).await?;
        Ok(bus)
    }

    /// The test's own discovery prefix for the NATS service protocol, used instead of `$SRV` by
    /// services added with [`TestKit::service`], so that parallel tests never discover each
    /// other's services: `$SRV.<the test's unique token>`.
    pub fn srv_prefix(&self) -> String {
        let token = self
            .subject_prefix
            .rsplit('.')
            .next()
            .unwrap_or(&self.subject_prefix);
        format!("$SRV.{token}")
    }

    /// Runs `service` in the test's tree on the test's NATS connection (started by
    /// [`TestKit::nats`] if need be), with the test's discovery prefix
    /// ([`TestKit::srv_prefix`]), and waits (at most 10 s) until it serves.
    ///
    /// # Errors
    /// [`KitError::Service`] when the definition is refused or the service does not become
    /// ready; [`KitError::Nats`] and [`KitError::Tree`] as for [`TestKit::nats`].
    pub async fn service<S: Clone + Send + Sync + 'static>(
        &self,
        service: ores_actors::service::ServiceBuilder<S>,
    ) -> Result<ores_actors::service::ServiceHandle, KitError> {
        use ores_actors::service::ServiceActor;
        let nats = self.nats().await?;
        let name = service.name().to_string();
        let service =
            service
                .srv_prefix(self.srv_prefix())
                .build()
                .map_err(|e| KitError::Service {
                    service: name,
                    message: e.to_string(),
                })?;
        let (spec, handle) = ServiceActor::child_spec(service, &nats);
        self.tree.start_child(spec).await?;
        handle
            .wait_ready(Duration::from_secs(10))
            .await
            .map_err(|e| KitError::Service {
                service: handle.name().to_string(),
                message: e.to_string(),
            })?;
        Ok(handle)
    }

    /// A probe actor that records the messages it receives.
    ///
    /// # Errors
    /// ractor's spawn error.
    pub async fn probe<M: Message>(&self, name: &str) -> Result<Probe<M>, ractor::SpawnErr> {
        Probe::spawn(name).await
    }

    /// A probe on the tree's supervision events, from now on.
    pub fn supervision(&self) -> SupervisionProbe {
        SupervisionProbe::new(self.events.subscribe())
    }

    /// A `psql` command line that opens the test's schema.
    pub fn psql_command(&self) -> String {
        self.teardown().psql_command()
    }

    /// Tear down after a passing test: shut the tree down in order, drop the schema, close the
    /// pool, free the connection slot.
    ///
    /// # Errors
    /// [`KitError`] when the tree did not stop in time or the schema could not be dropped.
    pub async fn finish(self) -> Result<(), KitError> {
        self.teardown().finish().await
    }

    /// Tear down after a failing test: shut the tree down, but keep the schema for inspection.
    /// Returns a message that says how to inspect it.
    pub async fn keep(self) -> String {
        self.teardown().keep().await
    }

    pub(crate) fn teardown(&self) -> Teardown {
        Teardown {
            tree: self.tree.clone(),
            pool: self.pool.clone(),
            url: self.settings.database_url.clone(),
            schema: self.schema.clone(),
            max_age: self.settings.schema_max_age,
            _slot: Arc::clone(&self.slot),
        }
    }
}

/// What the clean-up needs, kept by the harness while the test body owns the kit.
#[derive(Debug)]
pub(crate) struct Teardown {
    tree: Supervisor,
    pool: PgPool,
    url: String,
    schema: SchemaName,
    max_age: Duration,
    /// The connection slot stays taken until the clean-up is over.
    _slot: Arc<Slot>,
}

impl Teardown {
    pub(crate) fn psql_command(&self) -> String {
        let url = redact(&self.url);
        let sep = if url.contains('?') { '&' } else { '?' };
        format!("psql '{url}{sep}options=-csearch_path%3D{}'", self.schema)
    }

    pub(crate) async fn finish(self) -> Result<(), KitError> {
        let stopped = self.tree.shutdown(Duration::from_secs(30)).await;
        let dropped = database::drop_schema(&self.pool, &self.url, &self.schema).await;
        self.pool.close().await;
        stopped?;
        dropped
    }

    pub(crate) async fn keep(self) -> String {
        let _ = self.tree.shutdown(Duration::from_secs(30)).await;
        self.pool.close().await;
        format!(
            "the test's schema `{}` was kept for inspection: {}\n(schemas older than {} s are swept when a later test starts)",
            self.schema,
            self.psql_command(),
            self.max_age.as_secs()
        )
    }
}
