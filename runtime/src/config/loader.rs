//! The layered loader: defaults < TOML files < environment < explicit values.

use std::path::PathBuf;

use figment::Figment;
use figment::value::{Dict, Value};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::env::OresEnv;
use super::error::{ConfigError, ConfigSource};
use super::file;
use super::layer::Layer;
use super::settings::OresConfig;

/// Builds a configuration from layers, each beating the ones before it:
///
/// 1. defaults: `#[serde(default)]` on the target type, or [`defaults`](Self::defaults);
/// 2. TOML files, in the order they were added ([`file`](Self::file),
///    [`optional_file`](Self::optional_file));
/// 3. the environment: `ORES_<SECTION>_<FIELD>`, beaten by `ORES_<APP>_<SECTION>_<FIELD>` when
///    the loader was made [`for_app`](Self::for_app);
/// 4. explicit values ([`set`](Self::set)), in the order they were set.
///
/// Environment values are strings; they are converted when the target field is a number or a
/// boolean (`true`/`false`, `yes`/`no`, `on`/`off`, `1`/`0`).
///
/// # Example
///
/// ```
/// use ores_runtime::config::{ConfigLoader, OresConfig, WireFormat};
///
/// # fn main() -> Result<(), ores_runtime::config::ConfigError> {
/// let cfg: OresConfig = ConfigLoader::for_app("refdata")
///     .optional_file("/etc/ores/refdata.toml") // skipped when absent
///     .env_vars([
///         ("ORES_NATS_WIRE_FORMAT", "json"),
///         ("ORES_NATS_URL", "nats://shared:4222"),
///         ("ORES_REFDATA_NATS_URL", "nats://refdata:4222"), // beats ORES_NATS_URL
///     ])
///     .set("nats.subject_prefix", "ores.dev.local1") // beats everything
///     .load()?;
///
/// assert_eq!(cfg.nats.url, "nats://refdata:4222");
/// assert_eq!(cfg.nats.wire_format, WireFormat::Json);
/// assert_eq!(cfg.nats.subject_prefix.as_deref(), Some("ores.dev.local1"));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct ConfigLoader {
    app: Option<String>,
    defaults: Option<Result<Value, String>>,
    files: Vec<(PathBuf, bool)>,
    env: Option<Vec<(String, String)>>,
    explicit: Vec<(String, Result<Value, String>)>,
}

impl ConfigLoader {
    /// A loader that reads only the shared `ORES_<SECTION>_<FIELD>` variables.
    pub fn new() -> Self {
        Self::default()
    }

    /// A loader for application `app` (e.g. `refdata`): `ORES_REFDATA_NATS_URL` beats
    /// `ORES_NATS_URL`. The name is upper-cased, and characters other than ASCII letters and
    /// digits become `_` (`my-app` -> `ORES_MY_APP_...`).
    pub fn for_app(app: impl Into<String>) -> Self {
        Self {
            app: Some(app.into()),
            ..Self::default()
        }
    }

    /// Sets the lowest layer to `defaults`, which must serialize to a table. Only needed for
    /// types without `#[serde(default)]`; values from it are reported as from `default`.
    pub fn defaults(mut self, defaults: impl Serialize) -> Self {
        self.defaults = Some(Value::serialize(defaults).map_err(|e| e.to_string()));
        self
    }

    /// Adds the TOML file at `path`, which must exist: [`load`](Self::load) fails with
    /// [`ConfigError::FileNotFound`] when it does not.
    pub fn file(mut self, path: impl Into<PathBuf>) -> Self {
        self.files.push((path.into(), true));
        self
    }

    /// Adds the TOML file at `path` if it exists. The path is used as given: parent directories
    /// are not searched.
    pub fn optional_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.files.push((path.into(), false));
        self
    }

    /// Reads environment variables from `vars` instead of the process environment, e.g. in
    /// tests. An empty iterator turns the environment layer off.
    pub fn env_vars<I, K, V>(mut self, vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        self.env = Some(
            vars.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        );
        self
    }

    /// Sets the value at the dotted `key` (e.g. `nats.subject_prefix`), beating every other
    /// layer.
    pub fn set(mut self, key: impl Into<String>, value: impl Serialize) -> Self {
        let value = Value::serialize(value).map_err(|e| e.to_string());
        self.explicit.push((key.into(), value));
        self
    }

    /// Merges the layers and deserializes them into `T`, e.g. [`OresConfig`](super::OresConfig)
    /// or an application's own struct that embeds its sections.
    ///
    /// # Errors
    ///
    /// [`ConfigError::FileNotFound`], [`ConfigError::FileUnreadable`] or
    /// [`ConfigError::MalformedToml`] for a file; [`ConfigError::InvalidValue`],
    /// [`ConfigError::MissingValue`] or [`ConfigError::Rejected`] when the merged values do not
    /// fit `T`. Only the first error is reported.
    ///
    /// Serde's `#[serde(flatten)]` hides the key and the source of a bad value from the
    /// loader; when `T` flattens [`OresConfig`](super::OresConfig), errors in the ORE sections
    /// are still reported with both.
    pub fn load<T: DeserializeOwned>(&self) -> Result<T, ConfigError> {
        let figment = self.figment()?;
        figment.extract_lossy().map_err(|error| {
            let error = ConfigError::from_figment(error);
            if !error.is_unattributed() {
                return error;
            }
            // Serde's `flatten` hides the key and the source of a bad value. When `T` flattens
            // `OresConfig` and the same problem shows in the ORE sections alone, report that
            // attributed copy instead.
            match figment.extract_lossy::<OresConfig>() {
                Err(ores) => {
                    let ores = ConfigError::from_figment(ores);
                    if ores.is_same_problem(&error) {
                        ores
                    } else {
                        error
                    }
                }
                Ok(_) => error,
            }
        })
    }

    fn figment(&self) -> Result<Figment, ConfigError> {
        let mut figment = Figment::new();
        if let Some(defaults) = &self.defaults {
            let dict = table(defaults, "", ConfigSource::Default)?;
            figment = figment.merge(Layer::defaults(dict));
        }
        for (path, required) in &self.files {
            if let Some(layer) = file::read(path, *required)? {
                figment = figment.merge(layer);
            }
        }
        let app = self.app.as_deref();
        figment = figment.merge(match &self.env {
            Some(vars) => OresEnv::new(app, vars.iter().cloned()),
            None => OresEnv::from_process(app),
        });
        for (key, value) in &self.explicit {
            figment = figment.merge(Layer::explicit(explicit(key, value)?));
        }
        Ok(figment)
    }
}

/// The explicit `value` nested under the dotted `key`.
fn explicit(key: &str, value: &Result<Value, String>) -> Result<Dict, ConfigError> {
    if key.split('.').any(str::is_empty) {
        return Err(ConfigError::Rejected {
            key: key.to_owned(),
            origin: ConfigSource::Explicit,
            message: "a key is one or more non-empty names separated by `.`".to_owned(),
        });
    }
    let value = value.as_ref().map(|v| figment::util::nest(key, v.clone()));
    table(&value.map_err(Clone::clone), key, ConfigSource::Explicit)
}

/// `value` as a table, or why it is not one.
fn table(
    value: &Result<Value, String>,
    key: &str,
    origin: ConfigSource,
) -> Result<Dict, ConfigError> {
    let rejected = |message: String| ConfigError::Rejected {
        key: key.to_owned(),
        origin: origin.clone(),
        message,
    };
    match value {
        Ok(Value::Dict(_, dict)) => Ok(dict.clone()),
        Ok(_) => Err(rejected("expected a table".to_owned())),
        Err(message) => Err(rejected(message.clone())),
    }
}
