//! systemd readiness notification (`sd_notify`), written without `libsystemd`.
//!
//! A service started by systemd with `Type=notify` tells the manager it is ready by sending the
//! datagram `READY=1` to the Unix socket named in `$NOTIFY_SOCKET`, and `STOPPING=1` when it
//! begins to shut down. Outside systemd the variable is unset and the calls do nothing.
//!
//! `$NOTIFY_SOCKET` is either an absolute filesystem path or, starting with `@`, the name of a
//! socket in Linux's abstract namespace.
//!
//! ```no_run
//! use ores_runtime::notify;
//!
//! # fn main() -> Result<(), notify::NotifyError> {
//! // ... connect to NATS and PostgreSQL, register handlers, start the heartbeat ...
//! if notify::notify_ready()? {
//!     tracing::info!("told systemd we are ready");
//! }
//! // ... wait for a signal ...
//! notify::notify_stopping()?;
//! # Ok(())
//! # }
//! ```
#![cfg(unix)]

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};

use crate::exit::{ExitCode, ToExitCode};

/// The environment variable systemd sets to the notification socket.
pub const NOTIFY_SOCKET_ENV: &str = "NOTIFY_SOCKET";

/// The state sent by [`notify_ready`].
pub const READY: &str = "READY=1";

/// The state sent by [`notify_stopping`].
pub const STOPPING: &str = "STOPPING=1";

/// Why a notification could not be sent.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// The socket path is neither absolute nor `@abstract`, or is too long for a socket address.
    #[error(
        "invalid notification socket `{path}`: expected an absolute path or `@name` \
         (at most 107 bytes)"
    )]
    InvalidSocketPath {
        /// The socket path as given (lossily converted to UTF-8).
        path: String,
    },
    /// An abstract socket was given on a platform without an abstract namespace.
    #[error("abstract notification socket `{path}` is not supported on this platform")]
    AbstractUnsupported {
        /// The socket path as given.
        path: String,
    },
    /// The state to send is empty.
    #[error("empty notification state for socket `{path}`: expected e.g. `READY=1`")]
    EmptyState {
        /// The socket path as given.
        path: String,
    },
    /// The local datagram socket could not be created.
    #[error("cannot create a unix datagram socket to notify `{path}`")]
    Socket {
        /// The socket path as given.
        path: String,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// Sending failed, e.g. nothing listens at the path.
    #[error("cannot send `{state}` to the service manager at `{path}`")]
    Send {
        /// The socket path as given.
        path: String,
        /// The state that was being sent.
        state: String,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// Only part of the datagram was sent.
    #[error("sent only {sent} of {len} bytes of `{state}` to `{path}`")]
    ShortWrite {
        /// The socket path as given.
        path: String,
        /// The state that was being sent.
        state: String,
        /// Bytes sent.
        sent: usize,
        /// Bytes in the datagram.
        len: usize,
    },
}

impl NotifyError {
    /// The socket path the error is about.
    pub fn path(&self) -> &str {
        match self {
            NotifyError::InvalidSocketPath { path }
            | NotifyError::AbstractUnsupported { path }
            | NotifyError::EmptyState { path }
            | NotifyError::Socket { path, .. }
            | NotifyError::Send { path, .. }
            | NotifyError::ShortWrite { path, .. } => path,
        }
    }
}

impl ToExitCode for NotifyError {
    fn exit_code(&self) -> ExitCode {
        ExitCode::General
    }
}

/// Sends `READY=1` to the socket in `$NOTIFY_SOCKET`.
///
/// Returns `Ok(false)`, sending nothing, when the variable is unset or empty (not running
/// under systemd), and `Ok(true)` when the datagram was sent.
///
/// # Errors
///
/// See [`notify_to`].
pub fn notify_ready() -> Result<bool, NotifyError> {
    notify(READY)
}

/// Sends `STOPPING=1` to the socket in `$NOTIFY_SOCKET`; `Ok(false)` when it is unset.
///
/// # Errors
///
/// See [`notify_to`].
pub fn notify_stopping() -> Result<bool, NotifyError> {
    notify(STOPPING)
}

/// Sends `state` (one or more newline-separated `KEY=VALUE` assignments) to the socket in
/// `$NOTIFY_SOCKET`; `Ok(false)`, sending nothing, when it is unset or empty.
///
/// # Errors
///
/// See [`notify_to`].
pub fn notify(state: &str) -> Result<bool, NotifyError> {
    match notify_socket_from_env() {
        Some(path) => notify_to(&path, state).map(|()| true),
        None => Ok(false),
    }
}

/// The value of `$NOTIFY_SOCKET`, if set and not empty.
pub fn notify_socket_from_env() -> Option<OsString> {
    std::env::var_os(NOTIFY_SOCKET_ENV).filter(|value| !value.is_empty())
}

/// Sends `READY=1` to the socket at `path` (an absolute path or `@abstract-name`).
///
/// ```no_run
/// # fn main() -> Result<(), ores_runtime::notify::NotifyError> {
/// ores_runtime::notify::notify_ready_to("/run/systemd/notify")?;
/// # Ok(())
/// # }
/// ```
///
/// # Errors
///
/// See [`notify_to`].
pub fn notify_ready_to(path: impl AsRef<OsStr>) -> Result<(), NotifyError> {
    notify_to(path, READY)
}

/// Sends `state` as one datagram to the socket at `path`: an absolute filesystem path, or
/// `@name` for a socket in Linux's abstract namespace.
///
/// # Errors
///
/// [`NotifyError::InvalidSocketPath`] for a relative or over-long path,
/// [`NotifyError::AbstractUnsupported`] for `@name` off Linux, [`NotifyError::EmptyState`]
/// for an empty `state`, and [`NotifyError::Socket`], [`NotifyError::Send`] or
/// [`NotifyError::ShortWrite`] when the operating system refuses; each names the path.
pub fn notify_to(path: impl AsRef<OsStr>, state: &str) -> Result<(), NotifyError> {
    let raw = path.as_ref();
    let shown = || raw.to_string_lossy().into_owned();
    if state.is_empty() {
        return Err(NotifyError::EmptyState { path: shown() });
    }
    let addr = socket_addr(raw)?;
    let socket = UnixDatagram::unbound().map_err(|source| NotifyError::Socket {
        path: shown(),
        source,
    })?;
    let sent = socket
        .send_to_addr(state.as_bytes(), &addr)
        .map_err(|source| NotifyError::Send {
            path: shown(),
            state: state.to_owned(),
            source,
        })?;
    if sent != state.len() {
        return Err(NotifyError::ShortWrite {
            path: shown(),
            state: state.to_owned(),
            sent,
            len: state.len(),
        });
    }
    Ok(())
}

/// Turns a `$NOTIFY_SOCKET`-style value into a socket address.
fn socket_addr(raw: &OsStr) -> Result<SocketAddr, NotifyError> {
    let bytes = raw.as_bytes();
    let invalid = || NotifyError::InvalidSocketPath {
        path: raw.to_string_lossy().into_owned(),
    };
    match bytes.first() {
        Some(b'/') => SocketAddr::from_pathname(raw).map_err(|_| invalid()),
        Some(b'@') if bytes.len() > 1 => abstract_addr(raw, &bytes[1..]),
        _ => Err(invalid()),
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn abstract_addr(raw: &OsStr, name: &[u8]) -> Result<SocketAddr, NotifyError> {
    #[cfg(target_os = "android")]
    use std::os::android::net::SocketAddrExt;
    #[cfg(target_os = "linux")]
    use std::os::linux::net::SocketAddrExt;

    SocketAddr::from_abstract_name(name).map_err(|_| NotifyError::InvalidSocketPath {
        path: raw.to_string_lossy().into_owned(),
    })
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn abstract_addr(raw: &OsStr, _name: &[u8]) -> Result<SocketAddr, NotifyError> {
    Err(NotifyError::AbstractUnsupported {
        path: raw.to_string_lossy().into_owned(),
    })
}
