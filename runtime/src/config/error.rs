//! The configuration error and the source of a configuration value.

use std::fmt;
use std::io;
use std::path::PathBuf;

use figment::error::{Actual, Kind};

use super::{env, layer};

/// Where a configuration value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigSource {
    /// The defaults given to [`ConfigLoader::defaults`](super::ConfigLoader::defaults).
    Default,
    /// A TOML file, by the path it was given as.
    File(PathBuf),
    /// An environment variable, by name.
    Env(String),
    /// A value given to [`ConfigLoader::set`](super::ConfigLoader::set).
    Explicit,
    /// A value whose source figment did not report.
    Unknown,
}

impl fmt::Display for ConfigSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Default => f.write_str("default"),
            Self::File(path) => write!(f, "TOML file `{}`", path.display()),
            Self::Env(name) => write!(f, "environment variable `{name}`"),
            Self::Explicit => f.write_str("explicit value"),
            Self::Unknown => f.write_str("an unknown source"),
        }
    }
}

/// Why configuration could not be loaded.
///
/// Each variant carries structured fields so that callers can match on them; the `Display`
/// text is a complete, user-facing message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A file given to [`ConfigLoader::file`](super::ConfigLoader::file) does not exist.
    #[error("configuration file `{}` not found", path.display())]
    FileNotFound {
        /// The path as given to the loader.
        path: PathBuf,
    },
    /// A configuration file exists but could not be read.
    #[error("cannot read configuration file `{}`: {error}", path.display())]
    FileUnreadable {
        /// The path as given to the loader.
        path: PathBuf,
        /// The I/O error (printed in the message, so not returned as `source()`).
        error: io::Error,
    },
    /// A configuration file is not valid TOML.
    #[error("malformed TOML in `{}` at line {line}, column {column}: {message}", path.display())]
    MalformedToml {
        /// The path as given to the loader.
        path: PathBuf,
        /// The 1-based line of the error.
        line: usize,
        /// The 1-based column of the error.
        column: usize,
        /// What the TOML parser expected.
        message: String,
    },
    /// A value has the wrong type or is not one of the accepted values.
    #[error("invalid configuration: `{key}` from {origin}: expected {expected}, found {found}")]
    InvalidValue {
        /// The dotted key, e.g. `nats.wire_format`.
        key: String,
        /// Where the value came from.
        origin: ConfigSource,
        /// What was expected, e.g. ``one of `json`, `msgpack` ``.
        expected: String,
        /// What was found, e.g. `` `xml` ``.
        found: String,
    },
    /// A value that has no default was given by no layer.
    #[error("missing configuration value `{key}`")]
    MissingValue {
        /// The dotted key.
        key: String,
    },
    /// A value was rejected for another reason, e.g. by a custom deserializer.
    #[error("invalid configuration: `{key}` from {origin}: {message}")]
    Rejected {
        /// The dotted key.
        key: String,
        /// Where the value came from.
        origin: ConfigSource,
        /// Why it was rejected.
        message: String,
    },
}

impl ConfigError {
    /// Converts figment's error (possibly a chain of several) into one clear error, the first
    /// one figment reports.
    pub(crate) fn from_figment(error: figment::Error) -> Self {
        let mut errors = error.into_iter();
        match errors.next() {
            Some(first) => Self::from_one(first),
            None => Self::Rejected {
                key: String::new(),
                origin: ConfigSource::Unknown,
                message: "unknown error".to_owned(),
            },
        }
    }

    /// Whether the error lost its key and its source (as inside `#[serde(flatten)]`).
    pub(crate) fn is_unattributed(&self) -> bool {
        match self {
            Self::InvalidValue { key, origin, .. } | Self::Rejected { key, origin, .. } => {
                key.is_empty() && *origin == ConfigSource::Unknown
            }
            _ => false,
        }
    }

    /// Whether `self` and `other` report the same bad value, ignoring key and source.
    pub(crate) fn is_same_problem(&self, other: &Self) -> bool {
        match (self, other) {
            (
                Self::InvalidValue {
                    expected, found, ..
                },
                Self::InvalidValue {
                    expected: e,
                    found: f,
                    ..
                },
            ) => expected == e && found == f,
            (Self::Rejected { message, .. }, Self::Rejected { message: m, .. }) => message == m,
            _ => false,
        }
    }

    fn from_one(error: figment::Error) -> Self {
        let origin = origin(&error);
        let mut key = error.path.join(".");
        match error.kind {
            Kind::InvalidType(actual, expected) | Kind::InvalidValue(actual, expected) => {
                Self::InvalidValue {
                    key,
                    origin,
                    expected: describe_expected(&expected),
                    found: describe_actual(&actual),
                }
            }
            Kind::UnknownVariant(found, expected) | Kind::UnknownField(found, expected) => {
                Self::InvalidValue {
                    key,
                    origin,
                    expected: one_of(expected),
                    found: format!("`{found}`"),
                }
            }
            Kind::InvalidLength(len, expected) => Self::InvalidValue {
                key,
                origin,
                expected,
                found: format!("{len} items"),
            },
            Kind::MissingField(field) => {
                if !key.is_empty() {
                    key.push('.');
                }
                key.push_str(&field);
                Self::MissingValue { key }
            }
            other => Self::Rejected {
                key,
                origin,
                message: other.to_string(),
            },
        }
    }
}

/// Maps figment's metadata back to the layer that produced the value.
fn origin(error: &figment::Error) -> ConfigSource {
    let Some(metadata) = &error.metadata else {
        return ConfigSource::Unknown;
    };
    match metadata.name.as_ref() {
        layer::DEFAULT_NAME => ConfigSource::Default,
        layer::EXPLICIT_NAME => ConfigSource::Explicit,
        layer::FILE_NAME => match metadata.source.as_ref().and_then(|s| s.file_path()) {
            Some(path) => ConfigSource::File(path.to_path_buf()),
            None => ConfigSource::Unknown,
        },
        env::METADATA_NAME => {
            let profile = error.profile.clone().unwrap_or_default();
            ConfigSource::Env(metadata.interpolate(&profile, &error.path))
        }
        _ => ConfigSource::Unknown,
    }
}

/// `` `a` `` for one choice, ``one of `a`, `b` `` for several, sorted.
fn one_of(choices: &[&str]) -> String {
    let mut choices: Vec<&str> = choices.to_vec();
    choices.sort_unstable();
    let quoted: Vec<String> = choices.iter().map(|c| format!("`{c}`")).collect();
    match quoted.as_slice() {
        [] => "nothing".to_owned(),
        [one] => one.clone(),
        many => format!("one of {}", many.join(", ")),
    }
}

/// Serde's "expected" text, with Rust type names turned into words.
fn describe_expected(expected: &str) -> String {
    match expected {
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" => "a non-negative integer".to_owned(),
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => "an integer".to_owned(),
        "f32" | "f64" => "a number".to_owned(),
        "bool" => "a boolean".to_owned(),
        other if other.starts_with("struct ") => "a table".to_owned(),
        other => other.to_owned(),
    }
}

/// The offending value in backticks, or what kind of value it was.
fn describe_actual(actual: &Actual) -> String {
    match actual {
        Actual::Bool(v) => format!("`{v}`"),
        Actual::Unsigned(v) => format!("`{v}`"),
        Actual::Signed(v) => format!("`{v}`"),
        Actual::Float(v) => format!("`{v}`"),
        Actual::Char(v) => format!("`{v}`"),
        Actual::Str(v) => format!("`{v}`"),
        Actual::Seq => "a list".to_owned(),
        Actual::Map => "a table".to_owned(),
        Actual::Unit => "an empty value".to_owned(),
        other => format!("{other}"),
    }
}

impl crate::exit::ToExitCode for ConfigError {
    /// Every configuration error exits with ORE's configuration code, 2.
    fn exit_code(&self) -> crate::exit::ExitCode {
        crate::exit::ExitCode::Config
    }
}
