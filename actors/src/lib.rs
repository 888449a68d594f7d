//! # ores-actors
//!
//! The infrastructure actors of ores-rs, one module (and cargo feature) each:
//!
//! - `nats`: the supervised NATS connection and ORE's conventions (subjects, codec, headers,
//!   JetStream) — guide `docs/nats.md`;
//! - `service`: the `ServiceActor` service runner speaking the NATS service protocol — guide
//!   `docs/services.md`;
//! - `eventing`: the event bus on a PostgreSQL log, bridged to NATS — guide `docs/eventing.md`;
//! - `connections`: the encrypted connection-bookmark store (vault, SQLite store, the
//!   supervised `BookmarkStore` actor and its handle, JSON export/import, ORE Studio import)
//!   — guide `docs/bookmarks.md`.

#![deny(missing_docs)]

#[cfg(feature = "connections")]
pub mod connections;
#[cfg(feature = "eventing")]
pub mod eventing;
#[cfg(feature = "nats")]
pub mod nats;
#[cfg(feature = "service")]
pub mod service;
