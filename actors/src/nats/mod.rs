//! The NATS side of ores-rs: the supervised connection actor, its configuration and state
//! stream, and the subtree layout that makes services restart after their connection.

mod client_error;
mod config;
mod connection;
mod state;
mod subtree;

pub mod jetstream;

pub use client_error::NatsError;
pub use config::{Credentials, NatsConfig, NatsConfigError, Secret, TlsFiles};
pub use connection::{ConnectionState, Nats, NatsConnection, NatsMsg};
pub use state::{ConnectionEvent, ConnectionEvents, LinkStatus};
pub use subtree::nats_subtree;
