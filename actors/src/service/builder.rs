//! Defining a service: [`Service::builder`], its endpoints, limits and middleware.

use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use crate::nats::{Codec, Subject};

use super::context::EndpointMeta;
use super::error::ServiceSetupError;
use super::handler::Handler;
use super::middleware::{Endpoint, Middleware, Typed};
use super::protocol::{DEFAULT_SRV_PREFIX, protocol_name, validate_version};

/// Where an endpoint's subscription sits: ORE's default is a queue group named after the
/// service (one instance of the service gets each request).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum QueueGroup {
    /// The group of the level above: the service's dotted name at the top.
    #[default]
    Inherit,
    /// This queue group.
    Named(String),
    /// No queue group: a plain subscription (every instance gets every request).
    None,
}

impl QueueGroup {
    fn resolve(&self, parent: Option<&str>) -> Option<String> {
        match self {
            Self::Inherit => parent.map(str::to_owned),
            Self::Named(name) => Some(name.clone()),
            Self::None => None,
        }
    }
}

/// The limits a service enforces; [`Default`] gives the documented defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Requests in flight per endpoint; past it requests get 503 at once. Default 256.
    pub max_in_flight: usize,
    /// The largest request body accepted; past it 413. Default 1 MiB (NATS's default
    /// `max_payload`).
    pub max_payload: usize,
    /// The time a handler gets when the caller sends no shorter `X-Timeout-Ms`; past it the
    /// handler is cancelled and the caller gets 504. Default 30 s.
    pub deadline: Duration,
    /// How long a stopping service waits for requests in flight. Default 10 s.
    pub drain_timeout: Duration,
    /// Handler panics tolerated within `panic_window`; one more and the service actor fails
    /// (its supervisor restarts it). Default 10.
    pub max_panics: u32,
    /// The window of `max_panics`. Default 60 s.
    pub panic_window: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_in_flight: 256,
            max_payload: 1024 * 1024,
            deadline: Duration::from_secs(30),
            drain_timeout: Duration::from_secs(10),
            max_panics: 10,
            panic_window: Duration::from_secs(60),
        }
    }
}

/// ORE's heartbeat: every `interval` on `telemetry.v1.services.heartbeat` (under the prefix).
pub const HEARTBEAT_SUBJECT: &str = "telemetry.v1.services.heartbeat";

/// One endpoint, ready to run.
pub(crate) struct EndpointDef {
    pub(crate) meta: Arc<EndpointMeta>,
    pub(crate) queue_group: Option<String>,
    pub(crate) metadata: BTreeMap<String, String>,
    pub(crate) endpoint: Arc<dyn Endpoint>,
}

impl std::fmt::Debug for EndpointDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EndpointDef")
            .field("meta", &self.meta)
            .field("queue_group", &self.queue_group)
            .field("metadata", &self.metadata)
            .finish_non_exhaustive()
    }
}

/// A service definition, checked: what [`ServiceActor`](super::ServiceActor) runs. Build one
/// with [`Service::builder`].
#[derive(Debug)]
pub struct Service {
    pub(crate) name: String,
    pub(crate) protocol_name: String,
    pub(crate) version: String,
    pub(crate) description: String,
    pub(crate) metadata: BTreeMap<String, String>,
    pub(crate) id: String,
    pub(crate) srv_prefix: String,
    pub(crate) limits: Limits,
    pub(crate) heartbeat: Option<Duration>,
    pub(crate) endpoints: Vec<EndpointDef>,
    pub(crate) middleware: Vec<Arc<dyn Middleware>>,
}

impl Service {
    /// Starts defining the service `name` (ORE's dotted name, e.g. `ores.refdata.service`: the
    /// default queue group; the protocol name is derived from it) at SemVer `version`, with no
    /// shared state.
    pub fn builder(name: impl Into<String>, version: impl Into<String>) -> ServiceBuilder<()> {
        ServiceBuilder::new(name.into(), version.into(), ())
    }

    /// As [`builder`](Self::builder), with `state` handed to handlers that take
    /// [`State<S>`](super::State).
    pub fn with_state<S: Clone + Send + Sync + 'static>(
        name: impl Into<String>,
        version: impl Into<String>,
        state: S,
    ) -> ServiceBuilder<S> {
        ServiceBuilder::new(name.into(), version.into(), state)
    }

    /// ORE's dotted name (the default queue group).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The protocol name (`A-Za-z0-9-_`), as discovery reports it.
    pub fn protocol_name(&self) -> &str {
        &self.protocol_name
    }

    /// The SemVer version.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The instance id: a UUIDv7 made when the service was built, kept across restarts.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The discovery prefix (`$SRV` by default).
    pub fn srv_prefix(&self) -> &str {
        &self.srv_prefix
    }

    /// The limits.
    pub fn limits(&self) -> Limits {
        self.limits
    }
}

/// Collects a service's definition; [`build`](Self::build) checks it.
///
/// ```
/// use ores_actors::service::{RequestContext, Service, ServiceError, State};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Deserialize)]
/// struct Get { code: String }
/// #[derive(Serialize)]
/// struct Currency { code: String, name: String }
///
/// async fn get(State(names): State<Vec<(String, String)>>, ctx: RequestContext, req: Get)
///     -> Result<Currency, ServiceError> {
///     tracing::debug!(correlation_id = ctx.correlation_id(), "get {}", req.code);
///     names.iter().find(|(c, _)| *c == req.code)
///         .map(|(code, name)| Currency { code: code.clone(), name: name.clone() })
///         .ok_or_else(|| ServiceError::not_found(format!("no currency `{}`", req.code)))
/// }
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let names = vec![("EUR".to_string(), "Euro".to_string())];
/// let service = Service::with_state("ores.refdata.service", "1.0.0", names)
///     .description("Reference data")
///     .handle("refdata.v1.currencies.get", get)
///     .build()?;
/// assert_eq!(service.protocol_name(), "ores-refdata-service");
/// # Ok(()) }
/// ```
pub struct ServiceBuilder<S> {
    name: String,
    version: String,
    state: S,
    description: String,
    metadata: BTreeMap<String, String>,
    queue_group: QueueGroup,
    srv_prefix: String,
    limits: Limits,
    heartbeat: Option<Duration>,
    codec: Codec,
    endpoints: Vec<PendingEndpoint>,
    middleware: Vec<Arc<dyn Middleware>>,
    errors: Vec<ServiceSetupError>,
}

impl<S> std::fmt::Debug for ServiceBuilder<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceBuilder")
            .field("name", &self.name)
            .field("version", &self.version)
            .field("endpoints", &self.endpoints.len())
            .finish_non_exhaustive()
    }
}

struct PendingEndpoint {
    name: Option<String>,
    subject: String,
    queue_group: QueueGroup,
    group_queue: Option<QueueGroup>,
    metadata: BTreeMap<String, String>,
    permission: Option<String>,
    endpoint: Arc<dyn Endpoint>,
}

/// Options of one endpoint, given to [`ServiceBuilder::endpoint`].
#[derive(Debug, Clone, Default)]
pub struct EndpointOptions {
    name: Option<String>,
    queue_group: QueueGroup,
    metadata: BTreeMap<String, String>,
    permission: Option<String>,
}

impl EndpointOptions {
    /// The defaults: name from the subject, the service's queue group, no metadata, no
    /// permission.
    pub fn new() -> Self {
        Self::default()
    }

    /// The endpoint's protocol name (default: the subject with `.` turned into `-`).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The endpoint's queue group.
    pub fn queue_group(mut self, group: QueueGroup) -> Self {
        self.queue_group = group;
        self
    }

    /// A metadata entry reported by `$SRV.INFO`.
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }

    /// The permission a caller needs (checked by [`BearerAuth`](super::auth::BearerAuth)).
    pub fn permission(mut self, permission: impl Into<String>) -> Self {
        self.permission = Some(permission.into());
        self
    }
}

impl<S: Clone + Send + Sync + 'static> ServiceBuilder<S> {
    fn new(name: String, version: String, state: S) -> Self {
        Self {
            name,
            version,
            state,
            description: String::new(),
            metadata: BTreeMap::new(),
            queue_group: QueueGroup::Inherit,
            srv_prefix: DEFAULT_SRV_PREFIX.to_string(),
            limits: Limits::default(),
            heartbeat: Some(Duration::from_secs(15)),
            codec: Codec::default(),
            endpoints: Vec::new(),
            middleware: Vec::new(),
            errors: Vec::new(),
        }
    }

    /// The service's dotted name, as given.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A description, reported by `$SRV.INFO`.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }

    /// A metadata entry, reported by discovery.
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }

    /// The service's queue group (default: its dotted name; [`QueueGroup::None`] for plain
    /// subscriptions).
    pub fn queue_group(mut self, group: QueueGroup) -> Self {
        self.queue_group = group;
        self
    }

    /// The discovery prefix (default `$SRV`). The testkit gives each test its own.
    pub fn srv_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.srv_prefix = prefix.into();
        self
    }

    /// All limits at once.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Requests in flight per endpoint (default 256); past it, 503 at once.
    pub fn max_in_flight(mut self, n: usize) -> Self {
        self.limits.max_in_flight = n;
        self
    }

    /// The largest request body (default 1 MiB); past it, 413.
    pub fn max_payload(mut self, bytes: usize) -> Self {
        self.limits.max_payload = bytes;
        self
    }

    /// The handlers' deadline when the caller gives none shorter (default 30 s).
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.limits.deadline = deadline;
        self
    }

    /// How long stopping waits for requests in flight (default 10 s).
    pub fn drain_timeout(mut self, timeout: Duration) -> Self {
        self.limits.drain_timeout = timeout;
        self
    }

    /// Handler panics tolerated within `window` before the actor fails (default 10 in 60 s).
    pub fn panic_intensity(mut self, max_panics: u32, window: Duration) -> Self {
        self.limits.max_panics = max_panics;
        self.limits.panic_window = window;
        self
    }

    /// The heartbeat interval (default 15 s); `None` sends none.
    pub fn heartbeat(mut self, interval: Option<Duration>) -> Self {
        self.heartbeat = interval;
        self
    }

    /// The codec of replies to callers that do not mark their format, and of unmarked
    /// requests (default: msgpack, ORE's default).
    pub fn codec(mut self, codec: Codec) -> Self {
        self.codec = codec;
        self
    }

    /// Adds a middleware around every handler; the first added runs outermost.
    pub fn middleware(mut self, middleware: impl Middleware) -> Self {
        self.middleware.push(Arc::new(middleware));
        self
    }

    /// Adds an endpoint on `subject` (relative, e.g. `refdata.v1.currencies.list`) served by
    /// `handler`, with default options.
    pub fn handle<H, T>(self, subject: impl Into<String>, handler: H) -> Self
    where
        H: Handler<T, S>,
        T: 'static,
    {
        self.endpoint(subject, handler, EndpointOptions::default())
    }

    /// Adds an endpoint on `subject` served by `handler`, with `options`.
    pub fn endpoint<H, T>(
        mut self,
        subject: impl Into<String>,
        handler: H,
        options: EndpointOptions,
    ) -> Self
    where
        H: Handler<T, S>,
        T: 'static,
    {
        let endpoint: Arc<dyn Endpoint> = Arc::new(Typed {
            handler,
            state: self.state.clone(),
            codec: self.codec,
            _shape: PhantomData,
        });
        self.endpoints.push(PendingEndpoint {
            name: options.name,
            subject: subject.into(),
            queue_group: options.queue_group,
            group_queue: None,
            metadata: options.metadata,
            permission: options.permission,
            endpoint,
        });
        self
    }

    /// Adds the endpoints `define` adds to a [`Group`]: their subjects are prefixed with
    /// `prefix` (`{prefix}.{subject}`), and they inherit the group's queue group.
    pub fn group(
        mut self,
        prefix: impl Into<String>,
        queue_group: QueueGroup,
        define: impl FnOnce(Group<S>) -> Group<S>,
    ) -> Self {
        let group = define(Group {
            prefix: prefix.into(),
            queue_group,
            builder: ServiceBuilder {
                endpoints: Vec::new(),
                middleware: Vec::new(),
                errors: Vec::new(),
                ..self.shallow()
            },
        });
        for mut e in group.builder.endpoints {
            e.subject = format!("{}.{}", group.prefix, e.subject);
            if e.group_queue.is_none() {
                e.group_queue = Some(group.queue_group.clone());
            }
            self.endpoints.push(e);
        }
        self.errors.extend(group.builder.errors);
        self
    }

    fn shallow(&self) -> ServiceBuilder<S> {
        ServiceBuilder {
            name: self.name.clone(),
            version: self.version.clone(),
            state: self.state.clone(),
            description: String::new(),
            metadata: BTreeMap::new(),
            queue_group: QueueGroup::Inherit,
            srv_prefix: String::new(),
            limits: self.limits,
            heartbeat: None,
            codec: self.codec,
            endpoints: Vec::new(),
            middleware: Vec::new(),
            errors: Vec::new(),
        }
    }

    /// Checks the definition: name, version, endpoint names and subjects (valid and unique),
    /// queue groups, limits.
    ///
    /// # Errors
    /// [`ServiceSetupError`] naming what is wrong.
    pub fn build(self) -> Result<Service, ServiceSetupError> {
        if let Some(err) = self.errors.into_iter().next() {
            return Err(err);
        }
        let protocol_name = protocol_name(&self.name)?;
        validate_version(&self.version)?;
        check_limits(&self.limits)?;
        if self.srv_prefix.is_empty() || self.srv_prefix.contains([' ', '*', '>']) {
            return Err(ServiceSetupError::InvalidSetting {
                setting: "srv_prefix",
                reason: format!(
                    "`{}` is not a literal subject prefix (e.g. `$SRV`)",
                    self.srv_prefix
                ),
            });
        }
        let service_queue = self.queue_group.resolve(Some(&self.name));
        let mut names = std::collections::HashSet::new();
        let mut subjects = std::collections::HashSet::new();
        let mut endpoints = Vec::with_capacity(self.endpoints.len());
        for e in self.endpoints {
            let invalid = |reason: String| ServiceSetupError::InvalidEndpoint {
                endpoint: e.subject.clone(),
                reason,
            };
            Subject::new(e.subject.as_str()).map_err(|err| invalid(err.to_string()))?;
            let name = e
                .name
                .clone()
                .unwrap_or_else(|| e.subject.replace('.', "-"));
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(invalid(format!(
                    "endpoint name `{name}` may hold only A-Z a-z 0-9 - _"
                )));
            }
            let group_queue = match &e.group_queue {
                Some(g) => g.resolve(service_queue.as_deref()),
                None => service_queue.clone(),
            };
            let queue_group = e.queue_group.resolve(group_queue.as_deref());
            if let Some(q) = &queue_group
                && (q.is_empty() || q.contains([' ', '\t', '*', '>']))
            {
                return Err(invalid(format!("queue group `{q}` is not valid")));
            }
            if !names.insert(name.clone()) {
                return Err(ServiceSetupError::DuplicateEndpoint {
                    what: "name",
                    value: name,
                });
            }
            if !subjects.insert(e.subject.clone()) {
                return Err(ServiceSetupError::DuplicateEndpoint {
                    what: "subject",
                    value: e.subject,
                });
            }
            endpoints.push(EndpointDef {
                meta: Arc::new(EndpointMeta {
                    name,
                    subject: e.subject,
                    permission: e.permission,
                }),
                queue_group,
                metadata: e.metadata,
                endpoint: e.endpoint,
            });
        }
        Ok(Service {
            name: self.name,
            protocol_name,
            version: self.version,
            description: self.description,
            metadata: self.metadata,
            id: uuid::Uuid::now_v7().to_string(),
            srv_prefix: self.srv_prefix,
            limits: self.limits,
            heartbeat: self.heartbeat,
            endpoints,
            middleware: self.middleware,
        })
    }
}

/// Endpoints sharing a subject prefix and a default queue group; see
/// [`ServiceBuilder::group`].
#[derive(Debug)]
pub struct Group<S> {
    prefix: String,
    queue_group: QueueGroup,
    builder: ServiceBuilder<S>,
}

impl<S: Clone + Send + Sync + 'static> Group<S> {
    /// Adds an endpoint on `{prefix}.{subject}`.
    pub fn handle<H, T>(mut self, subject: impl Into<String>, handler: H) -> Self
    where
        H: Handler<T, S>,
        T: 'static,
    {
        self.builder = self.builder.handle(subject, handler);
        self
    }

    /// Adds an endpoint on `{prefix}.{subject}` with `options`.
    pub fn endpoint<H, T>(
        mut self,
        subject: impl Into<String>,
        handler: H,
        options: EndpointOptions,
    ) -> Self
    where
        H: Handler<T, S>,
        T: 'static,
    {
        self.builder = self.builder.endpoint(subject, handler, options);
        self
    }

    /// A nested group: `{prefix}.{sub_prefix}`.
    pub fn group(
        mut self,
        prefix: impl Into<String>,
        queue_group: QueueGroup,
        define: impl FnOnce(Group<S>) -> Group<S>,
    ) -> Self {
        self.builder = self.builder.group(prefix, queue_group, define);
        self
    }
}

fn check_limits(limits: &Limits) -> Result<(), ServiceSetupError> {
    let zero = |setting: &'static str| ServiceSetupError::InvalidSetting {
        setting,
        reason: "must be greater than zero".into(),
    };
    if limits.max_in_flight == 0 {
        return Err(zero("max_in_flight"));
    }
    if limits.max_payload == 0 {
        return Err(zero("max_payload"));
    }
    if limits.deadline.is_zero() {
        return Err(zero("deadline"));
    }
    if limits.panic_window.is_zero() {
        return Err(zero("panic_window"));
    }
    Ok(())
}
