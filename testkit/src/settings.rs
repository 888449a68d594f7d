//! The kit's settings, from `ORES_TEST_*` environment variables.

use std::time::Duration;

use crate::KitError;
use crate::budget::DEFAULT_MAX_CONNECTIONS;

/// Default test database.
pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
/// Default NATS server.
pub const DEFAULT_NATS_URL: &str = "nats://127.0.0.1:4222";

/// Where the kit connects and how long things may take. Read once per test from the
/// environment ([`TestOptions`](crate::TestOptions) sets a test's own timeout; build one by
/// hand with [`KitSettings::from_vars`] for [`TestKit::start`](crate::TestKit::start)).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct KitSettings {
    /// `ORES_TEST_DATABASE_URL`, default [`DEFAULT_DATABASE_URL`].
    pub database_url: String,
    /// `ORES_TEST_NATS_URL`, default [`DEFAULT_NATS_URL`].
    pub nats_url: String,
    /// `ORES_TEST_TIMEOUT_SECONDS`, default 60: the watchdog's limit for one test.
    pub timeout: Duration,
    /// `ORES_TEST_MAX_CONNECTIONS`, default 64: connections all tests of a run may hold.
    pub max_connections: u32,
    /// Connections one test may hold (default 4).
    pub connections_per_test: u32,
    /// `ORES_TEST_SCHEMA_MAX_AGE_SECONDS`, default 3600: schemas older than this, left by
    /// earlier runs (failed tests keep theirs), are dropped when a kit starts.
    pub schema_max_age: Duration,
    /// `ORES_TEST_LOG`, else `RUST_LOG`, else `debug`: what is captured per test.
    pub log_filter: String,
}

impl KitSettings {
    /// Read the settings from the process environment.
    ///
    /// # Errors
    /// [`KitError::Config`] naming the variable whose value is not a positive integer.
    pub fn from_env() -> Result<Self, KitError> {
        Self::from_vars(|k| std::env::var(k).ok())
    }

    /// Read the settings from `get` (a stand-in for the environment, for tests).
    ///
    /// # Errors
    /// As [`from_env`](Self::from_env).
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Result<Self, KitError> {
        let number = |key: &'static str, default: u64| -> Result<u64, KitError> {
            match get(key) {
                None => Ok(default),
                Some(v) if v.trim().is_empty() => Ok(default),
                Some(v) => match v.trim().parse::<u64>() {
                    Ok(n) if n > 0 => Ok(n),
                    _ => Err(KitError::Config {
                        key,
                        value: v,
                        expected: "expected a positive integer",
                    }),
                },
            }
        };
        let text = |key: &str| get(key).filter(|v| !v.trim().is_empty());
        Ok(Self {
            database_url: text("ORES_TEST_DATABASE_URL")
                .unwrap_or_else(|| DEFAULT_DATABASE_URL.into()),
            nats_url: text("ORES_TEST_NATS_URL").unwrap_or_else(|| DEFAULT_NATS_URL.into()),
            timeout: Duration::from_secs(number("ORES_TEST_TIMEOUT_SECONDS", 60)?),
            max_connections: u32::try_from(number(
                "ORES_TEST_MAX_CONNECTIONS",
                u64::from(DEFAULT_MAX_CONNECTIONS),
            )?)
            .unwrap_or(u32::MAX),
            connections_per_test: 4,
            schema_max_age: Duration::from_secs(number("ORES_TEST_SCHEMA_MAX_AGE_SECONDS", 3600)?),
            log_filter: text("ORES_TEST_LOG")
                .or_else(|| text("RUST_LOG"))
                .unwrap_or_else(|| "debug".into()),
        })
    }

    /// The database URL without its password, for messages.
    pub fn database_url_redacted(&self) -> String {
        redact(&self.database_url)
    }
}

pub(crate) fn redact(url: &str) -> String {
    // scheme://user:password@host -> scheme://user:***@host
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let Some((auth, host)) = rest.split_once('@') else {
        return url.to_string();
    };
    match auth.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
    }
}
