//! The settings every ORE service shares: NATS, PostgreSQL and logging.

use std::fmt;

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};

/// The configuration every ORE service shares.
///
/// Each section has a default, so an empty configuration is valid; keys a section does not know
/// are ignored. Load it with [`ConfigLoader`](super::ConfigLoader), or embed its sections in
/// your own configuration struct.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct OresConfig {
    /// The `[nats]` section.
    pub nats: NatsSettings,
    /// The `[database]` section.
    pub database: DatabaseSettings,
    /// The `[log]` section.
    pub log: LogSettings,
}

/// The `[nats]` section: how to reach NATS and how to name and encode messages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NatsSettings {
    /// Server URL (`nats.url`, `ORES_NATS_URL`); default `nats://127.0.0.1:4222`.
    pub url: String,
    /// Subject prefix such as `ores.dev.local1` (`nats.subject_prefix`,
    /// `ORES_NATS_SUBJECT_PREFIX`); no default.
    pub subject_prefix: Option<String>,
    /// Wire format of message bodies (`nats.wire_format`, `ORES_NATS_WIRE_FORMAT`); default
    /// [`WireFormat::Msgpack`].
    pub wire_format: WireFormat,
    /// Default request timeout in milliseconds (`nats.request_timeout_ms`,
    /// `ORES_NATS_REQUEST_TIMEOUT_MS`); `None` leaves the choice to the NATS client layer.
    #[serde(deserialize_with = "millis")]
    pub request_timeout_ms: Option<u64>,
    /// How long the link may stay down before the connection is declared lost, in
    /// milliseconds (`nats.lost_after_ms`, `ORES_NATS_LOST_AFTER_MS`).
    #[serde(deserialize_with = "millis")]
    pub lost_after_ms: Option<u64>,
    /// The connection name the server shows (`nats.name`, `ORES_NATS_NAME`).
    pub name: Option<String>,
    /// User, with `password` (`nats.user`, `ORES_NATS_USER`).
    pub user: Option<String>,
    /// Password, with `user` (`nats.password`, `ORES_NATS_PASSWORD`).
    pub password: Option<Redacted>,
    /// Token (`nats.token`, `ORES_NATS_TOKEN`).
    pub token: Option<Redacted>,
    /// NKey seed (`nats.nkey_seed`, `ORES_NATS_NKEY_SEED`).
    pub nkey_seed: Option<Redacted>,
    /// Credentials file (`nats.creds_file`, `ORES_NATS_CREDS_FILE`).
    pub creds_file: Option<std::path::PathBuf>,
    /// TLS CA certificate (`nats.tls_ca`, `ORES_NATS_TLS_CA`); with `tls_cert` and `tls_key`,
    /// all three or none.
    pub tls_ca: Option<std::path::PathBuf>,
    /// TLS client certificate (`nats.tls_cert`, `ORES_NATS_TLS_CERT`).
    pub tls_cert: Option<std::path::PathBuf>,
    /// TLS client key (`nats.tls_key`, `ORES_NATS_TLS_KEY`).
    pub tls_key: Option<std::path::PathBuf>,
}

/// A secret configuration value (a password, a token, a seed): `Debug` never shows it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Redacted(pub String);

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"***\"")
    }
}

impl NatsSettings {
    /// The default server URL, `nats://127.0.0.1:4222`.
    pub const DEFAULT_URL: &'static str = "nats://127.0.0.1:4222";
}

impl Default for NatsSettings {
    fn default() -> Self {
        Self {
            url: Self::DEFAULT_URL.to_owned(),
            subject_prefix: None,
            wire_format: WireFormat::default(),
            request_timeout_ms: None,
            lost_after_ms: None,
            name: None,
            user: None,
            password: None,
            token: None,
            nkey_seed: None,
            creds_file: None,
            tls_ca: None,
            tls_cert: None,
            tls_key: None,
        }
    }
}

/// An optional number of milliseconds, from an integer or a string of digits. Strings are
/// accepted here rather than left to the loader's conversion so that the value also loads when
/// [`OresConfig`] is `#[serde(flatten)]`ed into another struct, where that conversion is lost.
fn millis<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    struct Millis;

    impl de::Visitor<'_> for Millis {
        type Value = Option<u64>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a non-negative integer")
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v))
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            u64::try_from(v)
                .map(Some)
                .map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            v.trim()
                .parse()
                .map(Some)
                .map_err(|_| E::invalid_value(de::Unexpected::Str(v), &self))
        }

        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }

    deserializer.deserialize_any(Millis)
}

/// The encoding of message bodies on NATS; both sides must agree.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WireFormat {
    /// JSON (`json`).
    Json,
    /// MessagePack (`msgpack`), ORE's default.
    #[default]
    Msgpack,
}

/// The `[database]` section: the PostgreSQL connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DatabaseSettings {
    /// Connection URL (`database.url`, `ORES_DATABASE_URL`); default
    /// `postgres://postgres@127.0.0.1:5432/test`.
    pub url: String,
}

impl DatabaseSettings {
    /// The default connection URL, `postgres://postgres@127.0.0.1:5432/test`.
    pub const DEFAULT_URL: &'static str = "postgres://postgres@127.0.0.1:5432/test";
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: Self::DEFAULT_URL.to_owned(),
        }
    }
}

/// The `[log]` section: how log lines look and which are kept.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LogSettings {
    /// Output format (`log.format`, `ORES_LOG_FORMAT`); default [`LogFormat::Pretty`].
    pub format: LogFormat,
    /// A `tracing` filter directive such as `info,ores=debug` (`log.filter`,
    /// `ORES_LOG_FILTER`); `None` keeps the telemetry module's default.
    pub filter: Option<String>,
}

/// The format of log lines.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Multi-line, human-friendly output (`pretty`), the default.
    #[default]
    Pretty,
    /// One JSON object per line (`json`).
    Json,
    /// One short line per event (`compact`).
    Compact,
}
