//! The service runner: [`ServiceActor`](self) answers requests on NATS endpoints with async
//! handlers, speaking the NATS service protocol (ADR-32) so standard NATS tooling can discover,
//! call and monitor it, and keeping ORE's conventions (queue group = the dotted service name,
//! `X-Error`, heartbeats).
//!
//! Guide: `docs/services.md`.

pub mod auth;
mod error;
pub mod protocol;
pub mod stats;

pub use error::{ServiceError, ServiceSetupError};
