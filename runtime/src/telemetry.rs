//! Telemetry: one call sets up [`tracing`] output for a service.
//!
//! [`init`] installs a global subscriber that writes events in the chosen [`Format`] to standard
//! error, filtered by `RUST_LOG` when it is set, else by a default directive (`info` unless
//! changed). [`Telemetry`] is the builder; [`Telemetry::into_layer`] and
//! [`Telemetry::into_subscriber`] build the same output without installing it, to compose with
//! other layers or to capture output in tests.
//!
//! ```
//! use ores_runtime::telemetry::{self, Format, Telemetry};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let format: Format = "json".parse()?;
//! telemetry::init(Telemetry::default().format(format).default_directive("info,sqlx=warn"))?;
//! tracing::info!(service = "refdata", "started");
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::io::{self, IsTerminal};
use std::str::FromStr;

use tracing::Subscriber;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::{SubscriberInitExt, TryInitError};

use crate::exit::{ExitCode, ToExitCode};

/// The environment variable read for the filter unless [`Telemetry::env_var`] names another.
pub const DEFAULT_ENV_VAR: &str = "RUST_LOG";

/// The filter used when the environment variable is unset or empty, unless
/// [`Telemetry::default_directive`] gives another.
pub const DEFAULT_DIRECTIVE: &str = "info";

/// How events are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Format {
    /// Multi-line, human-oriented output for development.
    Pretty,
    /// One JSON object per line, for log collectors.
    Json,
    /// One line per event with the span context: the default.
    #[default]
    Compact,
}

impl Format {
    /// The lowercase name accepted by [`FromStr`]: `pretty`, `json` or `compact`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Format::Pretty => "pretty",
            Format::Json => "json",
            Format::Compact => "compact",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Format {
    type Err = ParseFormatError;

    /// Parses `pretty`, `json` or `compact`, ignoring ASCII case and surrounding blanks.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "pretty" => Ok(Format::Pretty),
            "json" => Ok(Format::Json),
            "compact" => Ok(Format::Compact),
            _ => Err(ParseFormatError {
                input: s.to_owned(),
            }),
        }
    }
}

/// A string that names no [`Format`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown log format `{input}`: expected `pretty`, `json` or `compact`")]
pub struct ParseFormatError {
    input: String,
}

impl ParseFormatError {
    /// The string that was given.
    pub fn input(&self) -> &str {
        &self.input
    }
}

impl ToExitCode for ParseFormatError {
    fn exit_code(&self) -> ExitCode {
        ExitCode::Config
    }
}

/// Why telemetry could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// A filter directive does not parse.
    #[error("invalid log filter directive `{directive}` in {origin}: {reason}")]
    InvalidFilter {
        /// The directive that failed (one comma-separated part of the filter).
        directive: String,
        /// Where the filter came from: the environment variable or the default directive.
        origin: String,
        /// The parser's explanation.
        reason: String,
    },
    /// A global subscriber was installed before.
    #[error(
        "a global tracing subscriber is already set: call `telemetry::init` once, early in main"
    )]
    AlreadyInitialized(#[source] TryInitError),
}

impl ToExitCode for TelemetryError {
    fn exit_code(&self) -> ExitCode {
        match self {
            TelemetryError::InvalidFilter { .. } => ExitCode::Config,
            TelemetryError::AlreadyInitialized(_) => ExitCode::General,
        }
    }
}

/// The writer used by default: standard error.
pub type StderrWriter = fn() -> io::Stderr;

/// Telemetry settings: format, filter and writer. Build with [`Telemetry::default`] and the
/// chained setters, then call [`init`] (or [`Telemetry::init`]).
///
/// `W` is where events go; by default standard error. Any [`MakeWriter`] works, such as a
/// closure returning an [`io::Write`] value.
pub struct Telemetry<W = StderrWriter> {
    format: Format,
    default_directive: String,
    env_var: Option<String>,
    ansi: Option<bool>,
    writer: W,
    default_writer: bool,
}

impl Default for Telemetry {
    /// Compact format, `RUST_LOG` else `info`, standard error, ANSI colours when it is a
    /// terminal and `NO_COLOR` is unset.
    fn default() -> Self {
        Telemetry {
            format: Format::default(),
            default_directive: DEFAULT_DIRECTIVE.to_owned(),
            env_var: Some(DEFAULT_ENV_VAR.to_owned()),
            ansi: None,
            writer: io::stderr,
            default_writer: true,
        }
    }
}

impl Telemetry {
    /// The same as [`Telemetry::default`].
    pub fn new() -> Self {
        Telemetry::default()
    }
}

impl<W> fmt::Debug for Telemetry<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Telemetry")
            .field("format", &self.format)
            .field("default_directive", &self.default_directive)
            .field("env_var", &self.env_var)
            .field("ansi", &self.ansi)
            .field("default_writer", &self.default_writer)
            .finish_non_exhaustive()
    }
}

impl<W> Telemetry<W>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    /// Sets the output format.
    pub fn format(mut self, format: Format) -> Self {
        self.format = format;
        self
    }

    /// Sets the filter used when the environment variable is unset or empty, in `RUST_LOG`
    /// syntax (e.g. `"info,sqlx=warn"`). Checked when the subscriber is built.
    pub fn default_directive(mut self, directive: impl Into<String>) -> Self {
        self.default_directive = directive.into();
        self
    }

    /// Reads the filter from the variable `name` instead of `RUST_LOG`.
    pub fn env_var(mut self, name: impl Into<String>) -> Self {
        self.env_var = Some(name.into());
        self
    }

    /// Ignores the environment: only the default directive filters.
    pub fn ignore_env(mut self) -> Self {
        self.env_var = None;
        self
    }

    /// Forces ANSI colours on or off (the JSON format never uses them).
    ///
    /// Unset, colours are used only with the default writer when standard error is a terminal
    /// and `NO_COLOR` is unset.
    pub fn ansi(mut self, ansi: bool) -> Self {
        self.ansi = Some(ansi);
        self
    }

    /// Writes events to `writer` instead of standard error.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use ores_runtime::telemetry::{Format, Telemetry};
    ///
    /// # fn main() -> Result<(), ores_runtime::telemetry::TelemetryError> {
    /// #[derive(Clone, Default)]
    /// struct Buf(Arc<Mutex<Vec<u8>>>);
    /// impl std::io::Write for Buf {
    ///     fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
    ///         self.0.lock().map_err(|_| std::io::Error::other("poisoned"))?.extend_from_slice(b);
    ///         Ok(b.len())
    ///     }
    ///     fn flush(&mut self) -> std::io::Result<()> { Ok(()) }
    /// }
    ///
    /// let buf = Buf::default();
    /// let out = buf.clone();
    /// let subscriber = Telemetry::default()
    ///     .format(Format::Json)
    ///     .ignore_env()
    ///     .writer(move || out.clone())
    ///     .into_subscriber()?;
    /// tracing::subscriber::with_default(subscriber, || tracing::info!(answer = 42, "hello"));
    /// let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    /// assert!(text.contains(r#""answer":42"#));
    /// # Ok(())
    /// # }
    /// ```
    pub fn writer<W2>(self, writer: W2) -> Telemetry<W2>
    where
        W2: for<'w> MakeWriter<'w> + Send + Sync + 'static,
    {
        Telemetry {
            format: self.format,
            default_directive: self.default_directive,
            env_var: self.env_var,
            ansi: self.ansi,
            writer,
            default_writer: false,
        }
    }

    /// Builds the filter: the environment variable when set and not blank, else the default
    /// directive.
    ///
    /// # Errors
    ///
    /// [`TelemetryError::InvalidFilter`] naming the first directive that does not parse.
    pub fn filter(&self) -> Result<EnvFilter, TelemetryError> {
        let from_env = self.env_var.as_deref().and_then(|name| {
            std::env::var(name)
                .ok()
                .filter(|value| !value.trim().is_empty())
                .map(|value| (value, format!("`{name}`")))
        });
        let (directives, origin) = match from_env {
            Some(found) => found,
            None => (
                self.default_directive.clone(),
                "the default directive".to_owned(),
            ),
        };
        parse_filter(&directives, &origin)
    }

    /// Builds the formatting layer with its filter attached, for a subscriber assembled by the
    /// caller (e.g. beside an OpenTelemetry layer on a [`tracing_subscriber::Registry`]).
    ///
    /// # Errors
    ///
    /// [`TelemetryError::InvalidFilter`] if the filter does not parse.
    pub fn into_layer<S>(self) -> Result<Box<dyn Layer<S> + Send + Sync + 'static>, TelemetryError>
    where
        S: Subscriber + for<'a> LookupSpan<'a> + Send + Sync,
    {
        let filter = self.filter()?;
        let ansi = self.ansi.unwrap_or_else(|| {
            self.default_writer
                && io::stderr().is_terminal()
                && std::env::var_os("NO_COLOR").is_none()
        });
        let base = tracing_subscriber::fmt::layer().with_writer(self.writer);
        let layer: Box<dyn Layer<S> + Send + Sync + 'static> = match self.format {
            Format::Pretty => base.pretty().with_ansi(ansi).with_filter(filter).boxed(),
            Format::Compact => base.compact().with_ansi(ansi).with_filter(filter).boxed(),
            Format::Json => base
                .json()
                .with_ansi(false)
                .with_current_span(true)
                .with_span_list(true)
                .with_filter(filter)
                .boxed(),
        };
        Ok(layer)
    }

    /// Builds a complete subscriber without installing it, e.g. for
    /// [`tracing::subscriber::with_default`] in a test.
    ///
    /// # Errors
    ///
    /// [`TelemetryError::InvalidFilter`] if the filter does not parse.
    pub fn into_subscriber(
        self,
    ) -> Result<Box<dyn Subscriber + Send + Sync + 'static>, TelemetryError> {
        let layer = self.into_layer()?;
        Ok(Box::new(tracing_subscriber::registry().with(layer)))
    }

    /// Installs the subscriber globally; the same as [`init`].
    ///
    /// # Errors
    ///
    /// [`TelemetryError::InvalidFilter`] if the filter does not parse;
    /// [`TelemetryError::AlreadyInitialized`] if a global subscriber is already set.
    pub fn init(self) -> Result<(), TelemetryError> {
        let layer = self.into_layer()?;
        tracing_subscriber::registry()
            .with(layer)
            .try_init()
            .map_err(TelemetryError::AlreadyInitialized)
    }
}

/// Installs `telemetry` as the global subscriber. Call once, early in `main`.
///
/// ```
/// use ores_runtime::telemetry::{self, Telemetry};
///
/// # fn main() -> Result<(), telemetry::TelemetryError> {
/// telemetry::init(Telemetry::default())?;
/// // A second call fails: the first subscriber stays.
/// assert!(telemetry::init(Telemetry::default()).is_err());
/// # Ok(())
/// # }
/// ```
///
/// # Errors
///
/// [`TelemetryError::InvalidFilter`] if the filter does not parse (the message names the bad
/// directive); [`TelemetryError::AlreadyInitialized`] if a global subscriber is already set.
pub fn init<W>(telemetry: Telemetry<W>) -> Result<(), TelemetryError>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    telemetry.init()
}

/// Parses `directives`, naming the first comma-separated part that fails.
fn parse_filter(directives: &str, origin: &str) -> Result<EnvFilter, TelemetryError> {
    let builder = EnvFilter::builder();
    builder.parse(directives).map_err(|whole| {
        let (directive, reason) = directives
            .split(',')
            .filter(|part| !part.is_empty())
            .find_map(|part| builder.parse(part).err().map(|err| (part, err)))
            .unwrap_or((directives, whole));
        TelemetryError::InvalidFilter {
            directive: directive.to_owned(),
            origin: origin.to_owned(),
            reason: reason.to_string(),
        }
    })
}
