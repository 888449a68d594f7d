//! Layered configuration: defaults < TOML files < environment < explicit values.
//!
//! [`ConfigLoader`] merges the layers with [figment] and deserializes them into [`OresConfig`]
//! (the NATS, database and log settings every ORE service shares) or into any type of yours.
//! Environment variables follow ORE Studio's names: `ORES_<SECTION>_<FIELD>` is the key
//! `<section>.<field>` (`ORES_NATS_SUBJECT_PREFIX` -> `nats.subject_prefix`), and a per-application
//! `ORES_<APP>_<SECTION>_<FIELD>` beats it. Errors name the key, the layer it came from (down to
//! the file or the variable) and what was expected; see [`ConfigError`].
//!
//! The user guide is `docs/configuration.md`.

mod env;
mod error;
mod file;
mod layer;
mod loader;
mod settings;

pub use error::{ConfigError, ConfigSource};
pub use loader::ConfigLoader;
pub use settings::{
    DatabaseSettings, LogFormat, LogSettings, NatsSettings, OresConfig, Redacted, WireFormat,
};
