//! # ores-actors
//!
//! The infrastructure actors of ores-rs, one module (and cargo feature) each. They are filled
//! in by later milestones; today [`nats`] holds ORE's NATS conventions (validated subjects,
//! the wire codec, typed headers) and the other modules only reserve their places.

#![deny(missing_docs)]

#[cfg(feature = "connections")]
pub mod connections;
#[cfg(feature = "eventing")]
pub mod eventing;
#[cfg(feature = "nats")]
pub mod nats;
#[cfg(feature = "service")]
pub mod service;
