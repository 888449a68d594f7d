//! The testkit's errors.

use std::time::Duration;

/// Why the kit could not set up, run or tear down a test's world.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KitError {
    /// A configuration value (an `ORES_TEST_*` variable) is malformed.
    #[error("invalid test configuration: `{key}` = `{value}`: {expected}")]
    Config {
        /// The environment variable.
        key: &'static str,
        /// Its value.
        value: String,
        /// What was expected.
        expected: &'static str,
    },
    /// PostgreSQL refused or failed an operation of the kit.
    #[error("{context} (database `{url}`): {source}")]
    Database {
        /// What the kit was doing.
        context: String,
        /// The database URL, without password.
        url: String,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// A migration failed in the test's schema.
    #[error("migration {version} `{description}` failed in schema `{schema}`: {source}")]
    Migration {
        /// The migration's version.
        version: i64,
        /// Its description.
        description: String,
        /// The schema being migrated.
        schema: String,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// Reading migration files failed.
    #[error("cannot read migrations from `{path}`: {message}")]
    MigrationSource {
        /// The directory.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// No connection slot became free within the wait bound.
    #[error(
        "no database connection slot became free within {waited:?} (budget: {slots} slot(s) of {per_slot} connections; `ORES_TEST_MAX_CONNECTIONS` sets the total)"
    )]
    Budget {
        /// How long the kit waited.
        waited: Duration,
        /// Number of slots.
        slots: usize,
        /// Connections per slot.
        per_slot: u32,
    },
    /// The connection budget's lock files could not be used.
    #[error("cannot use the connection budget's lock files in `{dir}`: {source}")]
    BudgetFiles {
        /// The directory of the lock files.
        dir: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The test's NATS connection could not be set up, or did not connect in time.
    #[error("test NATS connection to `{url}`: {message}")]
    Nats {
        /// The NATS URL.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// A service added with `TestKit::service` was refused or did not become ready.
    #[error("test service `{service}`: {message}")]
    Service {
        /// The service.
        service: String,
        /// What went wrong.
        message: String,
    },
    /// The event bus of `TestKit::event_bus` was refused.
    #[error("test event bus: {0}")]
    EventBus(String),
    /// The test's supervision tree could not be started or stopped.
    #[error("test supervision tree: {0}")]
    Tree(#[from] ores_runtime::supervisor::SupervisorError),
}
