//! The event bus: in-process events as actor messages, persisted to a PostgreSQL log before
//! anyone gets them, so nothing is lost when a listener reconnects, a service restarts or
//! nobody is listening.
//!
//! - [`Event`] gives a serde type its topic; [`EntityChangeEvent`] is ORE's
//!   `entity_change_event`;
//! - [`EventBus`] publishes (acknowledged once committed; or inside the caller's transaction,
//!   the outbox) and subscribes streams, actors and closures by topic pattern and tenant;
//! - [`EventBus::child_spec`] runs the supervised writer (group commit), NOTIFY listener and
//!   log reader, and retention maintenance ([`maintain`]: day partitions, old days dropped
//!   whole);
//! - [`EventBus::attach_entity_trigger`] makes a table record an [`EntityChangeEvent`] per
//!   statement and tenant in the log, in the changing transaction (ORE's per-table triggers,
//!   made durable);
//! - [`OreChannelAdapter`] publishes what ORE's own triggers NOTIFY, for databases that still
//!   have them;
//! - [`EventBus::group`] builds a durable subscription (a consumer group): its offset is
//!   stored, it resumes after a restart, delivery is at least once, and
//!   [`EventBus::replay_group`] moves it back (or forward);
//! - [`EventBus::relay`] and [`EventBus::bridge_in`]: the NATS bridge (one relay per name
//!   across replicas, by a lease; remote events in to local subscribers).
//!
//! Guide: `docs/eventing.md`.

mod bridge;
mod bus;
mod config;
mod error;
mod event;
mod group;
mod listener;
mod ore_adapter;
mod reader;
mod record;
mod retention;
pub mod schema;
mod subscription;
mod task_actor;
mod trigger;
mod writer;

pub use bridge::{
    BridgeArgs, BridgeIn, BridgeInMsg, BridgeInState, DEFAULT_LEASE_TTL, EVENT_KEY, EVENT_ORIGIN,
    JSON, MSG_ID, Relay, RelayArgs, RelayBuilder, RelayMsg, RelayState,
};
pub use bus::EventBus;
pub use config::EventBusConfig;
pub use error::EventError;
pub use event::{EntityChangeEvent, Event};
pub use group::{Ack, GroupBuilder, GroupConsumer, GroupDelivery, GroupMsg, GroupState, Start};
pub use ore_adapter::{AdapterMsg, OreChannelAdapter};
pub use record::{Offset, StoredEvent};
pub use retention::{MaintenanceReport, maintain};
pub use subscription::{Delivered, Subscription};
