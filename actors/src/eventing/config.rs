//! [`EventBusConfig`]: where the log lives and how the bus behaves.

use std::time::Duration;

use super::error::EventError;
use super::schema::BusSchema;

/// The event bus's configuration. [`EventBusConfig::new`] gives the documented defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventBusConfig {
    /// The schema of the log's tables (explicit in every statement).
    pub schema: BusSchema,
    /// The largest event payload, as JSON (default 256 KiB).
    pub max_payload: usize,
    /// How long `publish` waits for the log's acknowledgement, the log being unreachable
    /// meanwhile, before [`EventError::Unavailable`] (default 5 s).
    pub publish_timeout: Duration,
    /// The most events written in one transaction (default 1,000).
    pub batch_max: usize,
    /// How often readers look at the log without a NOTIFY (default 500 ms; the fallback when
    /// NOTIFY does not reach the listener, e.g. behind a pooler).
    pub poll_interval: Duration,
    /// The most events a reader fetches per query (default 1,000).
    pub read_batch: usize,
    /// How long events are kept: whole day partitions older than this are dropped (default
    /// 7 days, ORE's stream age).
    pub retention: Duration,
    /// How many day partitions of the log are made ahead of today (default 3: retention
    /// maintenance may miss that many days before events land in the DEFAULT partition).
    pub partitions_ahead: u32,
    /// How often retention maintenance runs after its run at start (default hourly).
    pub maintenance_interval: Duration,
}

impl EventBusConfig {
    /// The defaults, with the log in `schema`.
    ///
    /// # Errors
    /// [`EventError::Config`] when `schema` is not a usable schema name.
    pub fn new(schema: impl Into<String>) -> Result<Self, EventError> {
        Ok(Self {
            schema: BusSchema::new(schema)?,
            max_payload: 256 * 1024,
            publish_timeout: Duration::from_secs(5),
            batch_max: 1_000,
            poll_interval: Duration::from_millis(500),
            read_batch: 1_000,
            retention: Duration::from_secs(7 * 24 * 3600),
            partitions_ahead: 3,
            maintenance_interval: Duration::from_secs(3600),
        })
    }

    /// Sets the payload limit.
    #[must_use]
    pub fn max_payload(mut self, bytes: usize) -> Self {
        self.max_payload = bytes;
        self
    }

    /// Sets how long `publish` waits while the log is unreachable.
    #[must_use]
    pub fn publish_timeout(mut self, timeout: Duration) -> Self {
        self.publish_timeout = timeout;
        self
    }

    /// Sets the polling interval.
    #[must_use]
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }

    /// Sets the retention.
    #[must_use]
    pub fn retention(mut self, retention: Duration) -> Self {
        self.retention = retention;
        self
    }

    /// Sets how many day partitions are made ahead of today.
    #[must_use]
    pub fn partitions_ahead(mut self, days: u32) -> Self {
        self.partitions_ahead = days;
        self
    }

    /// Sets how often retention maintenance runs.
    #[must_use]
    pub fn maintenance_interval(mut self, interval: Duration) -> Self {
        self.maintenance_interval = interval;
        self
    }

    pub(crate) fn validate(&self) -> Result<(), EventError> {
        let zero = |what: &str| EventError::Config(format!("`{what}` must be greater than zero"));
        if self.max_payload == 0 {
            return Err(zero("max_payload"));
        }
        if self.batch_max == 0 {
            return Err(zero("batch_max"));
        }
        if self.read_batch == 0 {
            return Err(zero("read_batch"));
        }
        if self.poll_interval.is_zero() {
            return Err(zero("poll_interval"));
        }
        if self.publish_timeout.is_zero() {
            return Err(zero("publish_timeout"));
        }
        if self.maintenance_interval.is_zero() {
            return Err(zero("maintenance_interval"));
        }
        if self.retention.is_zero() {
            return Err(zero("retention"));
        }
        Ok(())
    }
}
