//! Supervision events: a typed stream that any actor, test or metrics exporter can follow.

use std::sync::Arc;
use std::time::Duration;

use ractor::{ActorRef, Message};
use tokio::sync::broadcast;

/// Something a supervisor did or saw. Every event is also logged with `tracing`
/// (target `ores_runtime::supervisor`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SupervisorEvent {
    /// A child started (first start or restart) and finished its `pre_start`.
    Started {
        /// The supervisor's name.
        supervisor: Arc<str>,
        /// The child's id.
        child: Arc<str>,
    },
    /// A child exited abnormally: it panicked or a handler returned an error.
    Failed {
        /// The supervisor's name.
        supervisor: Arc<str>,
        /// The child's id.
        child: Arc<str>,
        /// What the child failed with.
        reason: String,
    },
    /// A child stopped by itself, normally.
    Exited {
        /// The supervisor's name.
        supervisor: Arc<str>,
        /// The child's id.
        child: Arc<str>,
        /// The stop reason it gave, if any.
        reason: Option<String>,
    },
    /// A child will be started again after `delay`.
    Restarting {
        /// The supervisor's name.
        supervisor: Arc<str>,
        /// The child's id.
        child: Arc<str>,
        /// How long the supervisor waits before starting it.
        delay: Duration,
        /// The consecutive restart number (1 for the first restart after a quiet period).
        attempt: u32,
    },
    /// A child was stopped by its supervisor (shutdown, `terminate_child`, or a strategy that
    /// stops siblings).
    Stopped {
        /// The supervisor's name.
        supervisor: Arc<str>,
        /// The child's id.
        child: Arc<str>,
        /// Whether it had to be killed because it did not stop within its timeout.
        killed: bool,
    },
    /// A child was removed: a temporary child that exited, a transient child that stopped
    /// normally, or a child terminated at runtime.
    Removed {
        /// The supervisor's name.
        supervisor: Arc<str>,
        /// The child's id.
        child: Arc<str>,
    },
    /// The supervisor exceeded its restart intensity, stopped its children and failed.
    GaveUp {
        /// The supervisor's name.
        supervisor: Arc<str>,
        /// The child whose failure tipped it over.
        child: Arc<str>,
        /// The intensity's restart count.
        max_restarts: u32,
        /// The intensity's window.
        within: Duration,
    },
}

impl SupervisorEvent {
    /// The name of the supervisor that emitted the event.
    pub fn supervisor(&self) -> &str {
        match self {
            Self::Started { supervisor, .. }
            | Self::Failed { supervisor, .. }
            | Self::Exited { supervisor, .. }
            | Self::Restarting { supervisor, .. }
            | Self::Stopped { supervisor, .. }
            | Self::Removed { supervisor, .. }
            | Self::GaveUp { supervisor, .. } => supervisor,
        }
    }

    /// The child the event is about.
    pub fn child(&self) -> &str {
        match self {
            Self::Started { child, .. }
            | Self::Failed { child, .. }
            | Self::Exited { child, .. }
            | Self::Restarting { child, .. }
            | Self::Stopped { child, .. }
            | Self::Removed { child, .. }
            | Self::GaveUp { child, .. } => child,
        }
    }

    pub(crate) fn log(&self) {
        match self {
            Self::Started { supervisor, child } => {
                tracing::info!(target: "ores_runtime::supervisor", %supervisor, %child, "child started");
            }
            Self::Failed {
                supervisor,
                child,
                reason,
            } => {
                tracing::warn!(target: "ores_runtime::supervisor", %supervisor, %child, %reason, "child failed");
            }
            Self::Exited {
                supervisor,
                child,
                reason,
            } => {
                tracing::info!(target: "ores_runtime::supervisor", %supervisor, %child, reason = reason.as_deref().unwrap_or(""), "child exited");
            }
            Self::Restarting {
                supervisor,
                child,
                delay,
                attempt,
            } => {
                tracing::info!(target: "ores_runtime::supervisor", %supervisor, %child, delay_ms = delay.as_secs_f64() * 1e3, attempt, "restarting child after backoff");
            }
            Self::Stopped {
                supervisor,
                child,
                killed,
            } => {
                tracing::debug!(target: "ores_runtime::supervisor", %supervisor, %child, killed, "child stopped");
            }
            Self::Removed { supervisor, child } => {
                tracing::debug!(target: "ores_runtime::supervisor", %supervisor, %child, "child removed");
            }
            Self::GaveUp {
                supervisor,
                child,
                max_restarts,
                within,
            } => {
                tracing::error!(target: "ores_runtime::supervisor", %supervisor, %child, max_restarts, within_ms = within.as_millis() as u64, "restart intensity exceeded, supervisor gives up");
            }
        }
    }
}

/// The sending side of an event stream, shared by a supervisor and its nested supervisors.
#[derive(Debug, Clone)]
pub struct EventSender {
    tx: broadcast::Sender<SupervisorEvent>,
}

impl EventSender {
    /// A new event stream that keeps up to `capacity` events for slow subscribers.
    pub fn new(capacity: usize) -> Self {
        let (tx, _) = broadcast::channel(capacity.max(1));
        Self { tx }
    }

    /// A new subscription: it sees every event emitted from now on.
    pub fn subscribe(&self) -> SupervisorEvents {
        SupervisorEvents {
            rx: self.tx.subscribe(),
        }
    }

    pub(crate) fn emit(&self, event: SupervisorEvent) {
        event.log();
        // No subscriber is not an error.
        let _ = self.tx.send(event);
    }
}

impl Default for EventSender {
    /// A stream with room for 1024 events.
    fn default() -> Self {
        Self::new(1024)
    }
}

/// Why [`SupervisorEvents::recv`] returned no event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EventsError {
    /// The subscriber fell behind and this many events were dropped; the next `recv` goes on
    /// with the oldest event still kept.
    #[error("supervision event subscriber fell behind; {0} events were dropped")]
    Lagged(u64),
    /// Every sender is gone: the tree has stopped and no `Supervisor` or `EventSender` value
    /// of it is left.
    #[error("supervision event stream closed: every sender is gone")]
    Closed,
}

/// A subscription to supervision events.
#[derive(Debug)]
pub struct SupervisorEvents {
    rx: broadcast::Receiver<SupervisorEvent>,
}

impl SupervisorEvents {
    /// The next event.
    ///
    /// # Errors
    /// [`EventsError::Lagged`] when events were dropped because this subscriber fell behind,
    /// [`EventsError::Closed`] when the tree is gone.
    ///
    /// # Cancel safety
    /// Cancel safe: an event is not lost if the future is dropped before it completes.
    pub async fn recv(&mut self) -> Result<SupervisorEvent, EventsError> {
        self.rx.recv().await.map_err(|e| match e {
            broadcast::error::RecvError::Lagged(n) => EventsError::Lagged(n),
            broadcast::error::RecvError::Closed => EventsError::Closed,
        })
    }

    /// The next event if one is already waiting, without blocking.
    pub fn try_recv(&mut self) -> Option<SupervisorEvent> {
        loop {
            match self.rx.try_recv() {
                Ok(ev) => return Some(ev),
                Err(broadcast::error::TryRecvError::Lagged(_)) => {}
                Err(_) => return None,
            }
        }
    }

    /// Wait for the first event for which `pred` holds, skipping the others, for at most
    /// `timeout`. Returns `None` on timeout or when the stream closed.
    pub async fn wait_for(
        &mut self,
        timeout: Duration,
        mut pred: impl FnMut(&SupervisorEvent) -> bool,
    ) -> Option<SupervisorEvent> {
        tokio::time::timeout(timeout, async {
            loop {
                match self.recv().await {
                    Ok(ev) if pred(&ev) => return Some(ev),
                    Ok(_) | Err(EventsError::Lagged(_)) => {}
                    Err(EventsError::Closed) => return None,
                }
            }
        })
        .await
        .ok()
        .flatten()
    }

    /// Turn the subscription into a [`futures::Stream`]; lagged gaps are skipped.
    pub fn into_stream(self) -> impl futures::Stream<Item = SupervisorEvent> + Send + Unpin {
        use futures::StreamExt;
        tokio_stream::wrappers::BroadcastStream::new(self.rx)
            .filter_map(|r| futures::future::ready(r.ok()))
    }

    /// Deliver every event to an actor, converted into its message type, until the actor or
    /// the tree stops. Returns the task that forwards them.
    pub fn forward_to<M>(mut self, actor: ActorRef<M>) -> tokio::task::JoinHandle<()>
    where
        M: Message + From<SupervisorEvent>,
    {
        tokio::spawn(async move {
            loop {
                match self.recv().await {
                    Ok(ev) => {
                        if actor.send_message(M::from(ev)).is_err() {
                            return;
                        }
                    }
                    Err(EventsError::Lagged(_)) => {}
                    Err(EventsError::Closed) => return,
                }
            }
        })
    }
}
