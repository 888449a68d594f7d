//! # ores-testkit
//!
//! Test isolation for ores-rs: a supervised tree per test, in its own PostgreSQL schema and
//! NATS subject prefix. Filled in by the testkit milestone.

#![deny(missing_docs)]

pub mod nats_server;
pub mod proxy;
