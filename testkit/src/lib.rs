//! # ores-testkit
//!
//! Test isolation for ores-rs, for ores-rs itself and for the services built on it. Every test
//! gets its own world:
//!
//! - its own **PostgreSQL schema** in the test database (`ORES_TEST_DATABASE_URL`, default
//!   `postgres://postgres@127.0.0.1:5432/test`), created and migrated for it, behind a pool whose
//!   every connection has `search_path` set to that schema alone;
//! - its own **NATS subject prefix** `ores.test.<unique>` and the NATS URL
//!   (`ORES_TEST_NATS_URL`, default `nats://127.0.0.1:4222`);
//! - a **supervised tree** to which the test adds children;
//! - **probes** on messages and on supervision events;
//! - its **tracing output captured**, printed only when it fails;
//! - a **watchdog** (`ORES_TEST_TIMEOUT_SECONDS`, default 60 s);
//! - **fault injection**: a private [`nats_server::NatsServer`] to stop, restart and put in
//!   lame-duck mode, and a [`proxy::FaultProxy`] to cut, pause or slow a link to NATS or
//!   PostgreSQL.
//!
//! On success the tree is shut down and the schema dropped; on failure the schema is kept and
//! the failure says how to open it with `psql`.
//!
//! ```no_run
//! use ores_testkit::{Migrations, TestKit};
//!
//! fn migrations() -> Migrations {
//!     Migrations::new().add(1, "currencies", "CREATE TABLE currencies (iso_code text PRIMARY KEY)")
//! }
//!
//! #[ores_testkit::test(migrations = migrations())]
//! async fn stores_a_currency(kit: TestKit) -> Result<(), sqlx::Error> {
//!     sqlx::query("INSERT INTO currencies VALUES ('EUR')").execute(kit.db()).await?;
//!     let n: i64 = sqlx::query_scalar("SELECT count(*) FROM currencies").fetch_one(kit.db()).await?;
//!     assert_eq!(n, 1);
//!     Ok(())
//! }
//! ```
//!
//! Besides, [`ore_studio`] writes ORE Studio `connections.db` files in ORE's exact format, for
//! the tests of the ORE importer.
//!
//! The guide is `docs/testing.md`.

#![deny(missing_docs)]

mod budget;
mod database;
mod error;
mod kit;
mod logs;
mod migrations;
pub mod nats_server;
pub mod ore_studio;
mod probe;
pub mod proxy;
mod run;
mod schema;
mod settings;

pub use budget::DEFAULT_MAX_CONNECTIONS;
pub use database::sweep;
pub use error::KitError;
pub use kit::TestKit;
pub use logs::LogCapture;
pub use migrations::{Migration, Migrations, project_migrations};
/// Turns `async fn name(kit: TestKit)` into a test that runs in its own world; see the crate
/// docs. Write it in full, `#[ores_testkit::test]` (a glob import would clash with `#[test]`).
pub use ores_testkit_macros::test;
pub use probe::{DEFAULT_PROBE_WAIT, Probe, ProbeError, SupervisionProbe};
pub use run::{TestOptions, TestResult, run};
pub use schema::{SCHEMA_PREFIX, SchemaName};
pub use settings::{DEFAULT_DATABASE_URL, DEFAULT_NATS_URL, KitSettings};

#[doc(hidden)]
pub mod __private {
    pub use crate::run::{TestOptions, run};
}
