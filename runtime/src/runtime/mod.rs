//! [`Runtime`]: assembles the root supervisor, reports readiness to systemd, and shuts the
//! tree down in order on SIGINT, SIGTERM or SIGQUIT.
//!
//! ```no_run
//! use ores_runtime::runtime::Runtime;
//! use ores_runtime::supervisor::{ChildSpec, Strategy};
//! # use ractor::{Actor, ActorProcessingErr, ActorRef};
//! # #[derive(Clone)] struct Worker;
//! # impl Actor for Worker { type Msg = (); type State = (); type Arguments = ();
//! #   async fn pre_start(&self, _: ActorRef<()>, _: ()) -> Result<(), ActorProcessingErr> { Ok(()) } }
//!
//! #[tokio::main]
//! async fn main() -> ores_runtime::exit::ExitCode {
//!     let runtime = Runtime::builder("ores.refdata")
//!         .strategy(Strategy::RestForOne)
//!         .child(ChildSpec::actor("worker", Worker, ()))
//!         .start()
//!         .await;
//!     match runtime {
//!         Ok(rt) => rt.run_until_signal().await.exit_code(),
//!         Err(e) => {
//!             eprintln!("ores-refdata: {e}");
//!             ores_runtime::exit::ExitCode::General
//!         }
//!     }
//! }
//! ```

mod signal;

use std::ffi::OsString;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Mutex;

pub use signal::ShutdownSignal;

use crate::exit::{ExitCode, ToExitCode};
use crate::notify;
use crate::supervisor::{
    Backoff, ChildSpec, EventSender, Intensity, Strategy, Supervisor, SupervisorBuilder,
    SupervisorError, SupervisorEvents, TreeExit,
};
use signal::SignalListener;

/// Why the runtime could not start or stop.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RuntimeError {
    /// The root supervisor or one of its children failed to start.
    #[error(transparent)]
    Start(SupervisorError),
    /// The tree did not shut down cleanly.
    #[error(transparent)]
    Shutdown(SupervisorError),
    /// The signal handlers could not be installed.
    #[error("cannot listen for shutdown signals: {0}")]
    Signals(std::io::Error),
}

impl ToExitCode for RuntimeError {
    fn exit_code(&self) -> ExitCode {
        ExitCode::General
    }
}

/// How a run ended.
#[derive(Debug)]
#[non_exhaustive]
pub enum RunOutcome {
    /// A shutdown signal arrived and the tree was shut down in order.
    Signalled(ShutdownSignal),
    /// The caller's shutdown future completed and the tree was shut down in order.
    Requested,
    /// The tree ended by itself (it was shut down elsewhere, or the root gave up).
    TreeEnded(TreeExit),
    /// Shutting down failed.
    Error(RuntimeError),
}

impl RunOutcome {
    /// The process exit code for this outcome: 0 after an orderly shutdown, 1 when the tree
    /// failed or could not be shut down.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Self::Signalled(_) | Self::Requested | Self::TreeEnded(TreeExit::Stopped) => {
                ExitCode::Ok
            }
            Self::TreeEnded(_) => ExitCode::General,
            Self::Error(e) => e.exit_code(),
        }
    }
}

/// Entry point: `Runtime::builder(name)`.
#[derive(Debug, Clone, Copy)]
pub struct Runtime;

impl Runtime {
    /// Describe a runtime whose root supervisor is called `name`.
    pub fn builder(name: impl Into<String>) -> RuntimeBuilder {
        RuntimeBuilder {
            root: Supervisor::builder(name),
            shutdown_timeout: Duration::from_secs(30),
            notify: NotifyTarget::FromEnv,
        }
    }
}

#[derive(Debug, Clone)]
enum NotifyTarget {
    FromEnv,
    Socket(OsString),
    Off,
}

/// A runtime being described; [`start`](Self::start) starts it.
#[derive(Debug, Clone)]
pub struct RuntimeBuilder {
    root: SupervisorBuilder,
    shutdown_timeout: Duration,
    notify: NotifyTarget,
}

impl RuntimeBuilder {
    /// The root supervisor's strategy (default one-for-one).
    pub fn strategy(mut self, strategy: Strategy) -> Self {
        self.root = self.root.strategy(strategy);
        self
    }

    /// The root supervisor's restart intensity (default 10 within 60 s).
    pub fn intensity(mut self, intensity: Intensity) -> Self {
        self.root = self.root.intensity(intensity);
        self
    }

    /// The default backoff for the root's children.
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.root = self.root.backoff(backoff);
        self
    }

    /// Add a child to the root supervisor; children start in the order added.
    pub fn child<M: ractor::Message>(mut self, spec: ChildSpec<M>) -> Self {
        self.root = self.root.child(spec);
        self
    }

    /// Emit supervision events into this stream.
    pub fn events(mut self, events: EventSender) -> Self {
        self.root = self.root.events(events);
        self
    }

    /// How long an orderly shutdown of the whole tree may take (default 30 s).
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// Send `READY=1` / `STOPPING=1` to this socket instead of `$NOTIFY_SOCKET`.
    pub fn notify_socket(mut self, path: impl Into<OsString>) -> Self {
        self.notify = NotifyTarget::Socket(path.into());
        self
    }

    /// Do not talk to systemd at all.
    pub fn without_systemd_notify(mut self) -> Self {
        self.notify = NotifyTarget::Off;
        self
    }

    /// Start the tree (every child has finished `pre_start` when this returns), then tell
    /// systemd `READY=1` when `$NOTIFY_SOCKET` is set.
    ///
    /// The SIGINT, SIGTERM and SIGQUIT listeners are installed before the tree starts, so a
    /// signal that arrives at any time after `start` is seen by
    /// [`RuntimeHandle::run_until_signal`], and does not kill the process.
    ///
    /// # Errors
    /// [`RuntimeError::Signals`] when the signal listeners cannot be installed;
    /// [`RuntimeError::Start`] naming the child that failed to start.
    pub async fn start(self) -> Result<RuntimeHandle, RuntimeError> {
        let signals = SignalListener::install().map_err(RuntimeError::Signals)?;
        let root = self.root.spawn().await.map_err(RuntimeError::Start)?;
        let handle = RuntimeHandle {
            root,
            shutdown_timeout: self.shutdown_timeout,
            notify: self.notify,
            signals: Arc::new(Mutex::new(signals)),
        };
        handle.notify(notify::READY);
        tracing::info!(target: "ores_runtime", supervisor = handle.root.name(), "runtime ready");
        Ok(handle)
    }
}

/// A running runtime.
#[derive(Debug, Clone)]
pub struct RuntimeHandle {
    root: Supervisor,
    shutdown_timeout: Duration,
    notify: NotifyTarget,
    signals: Arc<Mutex<SignalListener>>,
}

impl RuntimeHandle {
    /// The root supervisor: add or terminate children, list them.
    pub fn supervisor(&self) -> &Supervisor {
        &self.root
    }

    /// Subscribe to the tree's supervision events.
    pub fn events(&self) -> SupervisorEvents {
        self.root.events()
    }

    /// Shut the tree down in reverse start order, each child within its own shutdown
    /// timeout, the whole within the runtime's shutdown timeout. Tells systemd
    /// `STOPPING=1` first.
    ///
    /// # Errors
    /// [`RuntimeError::Shutdown`] when the tree did not stop in time.
    pub async fn shutdown(&self) -> Result<(), RuntimeError> {
        self.notify(notify::STOPPING);
        self.root
            .shutdown(self.shutdown_timeout)
            .await
            .map_err(RuntimeError::Shutdown)
    }

    /// Run until SIGINT, SIGTERM or SIGQUIT arrives, then shut down in order. Also returns
    /// when the tree ends by itself (for instance when the root supervisor gives up).
    pub async fn run_until_signal(self) -> RunOutcome {
        let signals = Arc::clone(&self.signals);
        let mut signals = signals.lock().await;
        tokio::select! {
            sig = signals.recv() => {
                tracing::info!(target: "ores_runtime", signal = %sig, "shutdown signal received; stopping the tree in order");
                match self.shutdown().await {
                    Ok(()) => RunOutcome::Signalled(sig),
                    Err(e) => RunOutcome::Error(e),
                }
            }
            exit = self.root.wait() => self.ended(exit),
        }
    }

    /// Run until `stop` completes, then shut down in order; also returns when the tree ends
    /// by itself.
    pub async fn run_until(self, stop: impl Future<Output = ()>) -> RunOutcome {
        tokio::select! {
            () = stop => match self.shutdown().await {
                Ok(()) => RunOutcome::Requested,
                Err(e) => RunOutcome::Error(e),
            },
            exit = self.root.wait() => self.ended(exit),
        }
    }

    fn ended(&self, exit: TreeExit) -> RunOutcome {
        if let TreeExit::Failed(reason) = &exit {
            tracing::error!(target: "ores_runtime", %reason, "supervision tree failed");
        }
        self.notify(notify::STOPPING);
        RunOutcome::TreeEnded(exit)
    }

    fn notify(&self, state: &str) {
        let result = match &self.notify {
            NotifyTarget::FromEnv => notify::notify(state).map(|_| ()),
            NotifyTarget::Socket(path) => notify::notify_to(path, state),
            NotifyTarget::Off => Ok(()),
        };
        if let Err(e) = result {
            tracing::warn!(target: "ores_runtime", error = %e, state, "could not notify systemd");
        }
    }
}
