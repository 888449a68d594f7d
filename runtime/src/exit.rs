//! ORE's process exit codes.
//!
//! Every ores-rs binary exits with one of the codes ORE Studio's services use, so that
//! supervisors (systemd, scripts, CI) can tell a bad configuration from an unreachable database
//! without reading logs:
//!
//! | code | variant                           | meaning                                        |
//! |-----:|-----------------------------------|------------------------------------------------|
//! | 0    | [`ExitCode::Ok`]                  | clean exit                                     |
//! | 1    | [`ExitCode::General`]             | any other failure                              |
//! | 2    | [`ExitCode::Config`]              | configuration missing or invalid               |
//! | 3    | [`ExitCode::DatabaseConnection`]  | could not connect to the database              |
//! | 4    | [`ExitCode::NatsConnection`]      | could not connect to NATS                      |
//! | 5    | [`ExitCode::StartupTimeout`]      | start-up did not finish in time                |
//! | 6    | [`ExitCode::Auth`]                | authentication or authorisation failure        |
//!
//! Error types say which code they map to by implementing [`ToExitCode`]; `main` then returns
//! [`std::process::ExitCode`]:
//!
//! ```
//! use ores_runtime::exit::{ExitCode, ToExitCode};
//!
//! #[derive(Debug)]
//! enum StartError {
//!     BadConfig(String),
//!     NoDatabase,
//! }
//!
//! impl ToExitCode for StartError {
//!     fn exit_code(&self) -> ExitCode {
//!         match self {
//!             StartError::BadConfig(_) => ExitCode::Config,
//!             StartError::NoDatabase => ExitCode::DatabaseConnection,
//!         }
//!     }
//! }
//!
//! fn run() -> Result<(), StartError> {
//!     // ... load the configuration, connect to PostgreSQL and NATS, serve ...
//!     Ok(())
//! }
//!
//! fn main() -> std::process::ExitCode {
//! #   assert_eq!(StartError::NoDatabase.exit_code().code(), 3);
//! #   assert_eq!(StartError::BadConfig("x".into()).exit_code(), ExitCode::Config);
//!     match run() {
//!         Ok(()) => ExitCode::Ok.into(),
//!         Err(err) => {
//!             eprintln!("service: {err:?}");
//!             err.exit_code().into()
//!         }
//!     }
//! }
//! ```

use std::fmt;

/// A process exit code with ORE's meaning. The discriminant is the numeric code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum ExitCode {
    /// `0`: the process finished cleanly.
    Ok = 0,
    /// `1`: a failure that has no more specific code.
    General = 1,
    /// `2`: the configuration is missing or invalid.
    Config = 2,
    /// `3`: the database could not be reached or refused the connection.
    DatabaseConnection = 3,
    /// `4`: NATS could not be reached or refused the connection.
    NatsConnection = 4,
    /// `5`: start-up did not complete within its deadline.
    StartupTimeout = 5,
    /// `6`: authentication or authorisation failed.
    Auth = 6,
}

impl ExitCode {
    /// Every exit code, in numeric order.
    pub const ALL: [ExitCode; 7] = [
        ExitCode::Ok,
        ExitCode::General,
        ExitCode::Config,
        ExitCode::DatabaseConnection,
        ExitCode::NatsConnection,
        ExitCode::StartupTimeout,
        ExitCode::Auth,
    ];

    /// The numeric code the process exits with.
    ///
    /// ```
    /// use ores_runtime::exit::ExitCode;
    /// assert_eq!(ExitCode::NatsConnection.code(), 4);
    /// ```
    pub const fn code(self) -> u8 {
        self as u8
    }

    /// The exit code with numeric value `code`, if ORE defines one.
    ///
    /// ```
    /// use ores_runtime::exit::ExitCode;
    /// assert_eq!(ExitCode::from_code(2), Some(ExitCode::Config));
    /// assert_eq!(ExitCode::from_code(42), None);
    /// ```
    pub const fn from_code(code: u8) -> Option<ExitCode> {
        match code {
            0 => Some(ExitCode::Ok),
            1 => Some(ExitCode::General),
            2 => Some(ExitCode::Config),
            3 => Some(ExitCode::DatabaseConnection),
            4 => Some(ExitCode::NatsConnection),
            5 => Some(ExitCode::StartupTimeout),
            6 => Some(ExitCode::Auth),
            _ => None,
        }
    }

    /// Whether this is [`ExitCode::Ok`].
    pub const fn is_success(self) -> bool {
        matches!(self, ExitCode::Ok)
    }

    /// A short lowercase description, as shown by [`Display`](fmt::Display).
    pub const fn description(self) -> &'static str {
        match self {
            ExitCode::Ok => "ok",
            ExitCode::General => "general failure",
            ExitCode::Config => "configuration error",
            ExitCode::DatabaseConnection => "database connection failure",
            ExitCode::NatsConnection => "nats connection failure",
            ExitCode::StartupTimeout => "start-up timeout",
            ExitCode::Auth => "authentication failure",
        }
    }
}

impl fmt::Display for ExitCode {
    /// Writes the description followed by the code, e.g. `configuration error (exit code 2)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (exit code {})", self.description(), self.code())
    }
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(code: ExitCode) -> Self {
        std::process::ExitCode::from(code.code())
    }
}

impl From<ExitCode> for u8 {
    fn from(code: ExitCode) -> Self {
        code.code()
    }
}

impl From<ExitCode> for i32 {
    fn from(code: ExitCode) -> Self {
        i32::from(code.code())
    }
}

impl std::process::Termination for ExitCode {
    fn report(self) -> std::process::ExitCode {
        self.into()
    }
}

/// Implemented by error types to say which [`ExitCode`] the process exits with when the error
/// ends it.
///
/// Errors that wrap other errors usually delegate to the inner error's code.
pub trait ToExitCode {
    /// The exit code for this value.
    fn exit_code(&self) -> ExitCode;
}

impl ToExitCode for ExitCode {
    fn exit_code(&self) -> ExitCode {
        *self
    }
}

impl<T: ToExitCode + ?Sized> ToExitCode for &T {
    fn exit_code(&self) -> ExitCode {
        (**self).exit_code()
    }
}

impl<T: ToExitCode + ?Sized> ToExitCode for Box<T> {
    fn exit_code(&self) -> ExitCode {
        (**self).exit_code()
    }
}

impl<T, E: ToExitCode> ToExitCode for Result<T, E> {
    /// [`ExitCode::Ok`] for `Ok`, the error's code for `Err`.
    fn exit_code(&self) -> ExitCode {
        match self {
            Ok(_) => ExitCode::Ok,
            Err(err) => err.exit_code(),
        }
    }
}

impl ToExitCode for std::io::Error {
    /// I/O errors have no more specific meaning than [`ExitCode::General`].
    fn exit_code(&self) -> ExitCode {
        ExitCode::General
    }
}
