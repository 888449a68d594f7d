//! The service runner: [`ServiceActor`] answers requests on NATS endpoints with plain async
//! functions ([`Handler`]s) taking typed, decoded requests, in the style of axum. It speaks the
//! NATS service protocol (ADR-32: `$SRV.PING|INFO|STATS`, endpoint stats, the
//! `Nats-Service-Error` headers) so standard NATS tooling can discover, call and monitor it, and
//! keeps ORE's conventions (queue group = the dotted service name, `X-Error`, heartbeats on
//! `telemetry.v1.services.heartbeat`).
//!
//! - [`Service::builder`] defines a service: endpoints, groups, limits, middleware;
//! - [`ServiceActor::child_spec`] runs it under a supervisor (put it in the NATS subtree);
//! - [`ServiceHandle`] tells readiness and reports the protocol documents;
//! - [`ServiceError`] is what a failed request answers; [`Middleware`] runs around handlers,
//!   [`auth::BearerAuth`] being the worked example.
//!
//! Guide: `docs/services.md`.

mod actor;
pub mod auth;
mod builder;
mod context;
mod discovery;
mod error;
mod handle;
mod handler;
mod middleware;
pub mod protocol;
pub mod stats;

pub use actor::{ServiceActor, ServiceArgs, ServiceMsg, ServiceState};
pub use builder::{
    EndpointOptions, Group, HEARTBEAT_SUBJECT, Limits, QueueGroup, Service, ServiceBuilder,
};
pub use context::{EndpointMeta, RequestContext};
pub use error::{ServiceError, ServiceSetupError};
pub use handle::{NotReady, ServiceHandle};
pub use handler::{BoxFuture, Handler, HandlerFuture, State};
pub use middleware::{Middleware, Next, ServiceReply, ServiceRequest, ServiceResult};
