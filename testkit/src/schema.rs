//! Per-test schema names, and the sweep of schemas left by earlier runs.

use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The prefix of every schema the kit creates.
pub const SCHEMA_PREFIX: &str = "ores_t_";

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A test schema's name: `ores_t_<unix seconds>_<pid>_<counter>`, unique across the
/// processes and tests of a machine, safe to use unquoted in SQL (lowercase ASCII letters,
/// digits and `_`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SchemaName(String);

impl SchemaName {
    /// A new unique name.
    pub fn unique() -> Self {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        Self(format!("{SCHEMA_PREFIX}{secs}_{}_{n}", std::process::id()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// When the schema was named (seconds since the Unix epoch), read back from a name made
    /// by [`unique`](Self::unique); `None` for any other name.
    pub fn created_at(name: &str) -> Option<SystemTime> {
        let rest = name.strip_prefix(SCHEMA_PREFIX)?;
        let secs: u64 = rest.split('_').next()?.parse().ok()?;
        Some(UNIX_EPOCH + Duration::from_secs(secs))
    }

    /// The NATS subject prefix that goes with this schema: `ores.test.<unique>`.
    pub fn subject_prefix(&self) -> String {
        format!("ores.test.{}", &self.0[SCHEMA_PREFIX.len()..])
    }
}

impl fmt::Display for SchemaName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for SchemaName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Whether a schema called `name` is a kit schema older than `max_age` at `now`.
pub(crate) fn is_stale(name: &str, now: SystemTime, max_age: Duration) -> bool {
    SchemaName::created_at(name)
        .and_then(|t| now.duration_since(t).ok())
        .is_some_and(|age| age > max_age)
}
