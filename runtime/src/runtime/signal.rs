//! Waiting for the shutdown signals: SIGINT, SIGTERM and SIGQUIT.

use std::fmt;

use tokio::signal::unix::{SignalKind, signal};

/// A signal that asks the runtime to shut down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShutdownSignal {
    /// SIGINT (Ctrl-C).
    Interrupt,
    /// SIGTERM (systemd, Kubernetes, `kill`).
    Terminate,
    /// SIGQUIT.
    Quit,
}

impl fmt::Display for ShutdownSignal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Interrupt => "SIGINT",
            Self::Terminate => "SIGTERM",
            Self::Quit => "SIGQUIT",
        })
    }
}

/// Listeners for the three shutdown signals, installed at once so that no signal that
/// arrives after installation is missed.
#[derive(Debug)]
pub(crate) struct SignalListener {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
    quit: tokio::signal::unix::Signal,
}

impl SignalListener {
    pub(crate) fn install() -> std::io::Result<Self> {
        Ok(Self {
            int: signal(SignalKind::interrupt())?,
            term: signal(SignalKind::terminate())?,
            quit: signal(SignalKind::quit())?,
        })
    }

    /// The next shutdown signal.
    pub(crate) async fn recv(&mut self) -> ShutdownSignal {
        tokio::select! {
            _ = self.int.recv() => ShutdownSignal::Interrupt,
            _ = self.term.recv() => ShutdownSignal::Terminate,
            _ = self.quit.recv() => ShutdownSignal::Quit,
        }
    }
}
