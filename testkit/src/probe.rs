//! Probes: an actor that records what it receives, and a probe on supervision events.

use std::fmt;
use std::time::Duration;

use ores_runtime::supervisor::{SupervisorEvent, SupervisorEvents};
use ractor::{Actor, ActorProcessingErr, ActorRef, Message};
use tokio::sync::mpsc;

/// The default time a probe waits for a message or an event.
pub const DEFAULT_PROBE_WAIT: Duration = Duration::from_secs(3);

/// What a probe expected and did not get.
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum ProbeError<M> {
    /// No message arrived in time.
    #[error("probe `{probe}` received no message within {within:?}")]
    NoMessage {
        /// The probe's name.
        probe: String,
        /// How long it waited.
        within: Duration,
    },
    /// The next message did not match; it is given back.
    #[error("probe `{probe}`: the next message did not match: {shown}")]
    Unexpected {
        /// The probe's name.
        probe: String,
        /// The message, as `Debug` shows it when available.
        shown: String,
        /// The message.
        msg: M,
    },
    /// A message arrived when none was expected; it is given back.
    #[error("probe `{probe}` received a message within {within:?} when none was expected: {shown}")]
    UnwantedMessage {
        /// The probe's name.
        probe: String,
        /// The window.
        within: Duration,
        /// The message, as `Debug` shows it.
        shown: String,
        /// The message.
        msg: M,
    },
    /// The supervision event awaited did not come.
    #[error("supervision probe: no {what} within {within:?}; events seen meanwhile: {seen:?}")]
    NoEvent {
        /// What was awaited.
        what: String,
        /// How long it waited.
        within: Duration,
        /// The events seen while waiting (their `Debug` form).
        seen: Vec<String>,
    },
}

impl<M> fmt::Debug for ProbeError<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// An actor that records every message it receives, for a test to assert on.
///
/// ```no_run
/// # async fn demo(kit: &ores_testkit::TestKit) -> Result<(), Box<dyn std::error::Error>> {
/// let mut probe = kit.probe::<String>("greetings").await?;
/// probe.actor().send_message("hello".to_string())?;
/// assert_eq!(probe.expect_msg().await?, "hello");
/// probe.expect_no_msg(std::time::Duration::from_millis(100)).await?;
/// # Ok(()) }
/// ```
pub struct Probe<M: Message> {
    name: String,
    actor: ActorRef<M>,
    rx: mpsc::UnboundedReceiver<M>,
    wait: Duration,
}

impl<M: Message> fmt::Debug for Probe<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Probe")
            .field("name", &self.name)
            .field("wait", &self.wait)
            .finish()
    }
}

struct ProbeActor<M>(std::marker::PhantomData<fn() -> M>);

impl<M: Message> Actor for ProbeActor<M> {
    type Msg = M;
    type State = mpsc::UnboundedSender<M>;
    type Arguments = mpsc::UnboundedSender<M>;

    async fn pre_start(
        &self,
        _: ActorRef<M>,
        tx: mpsc::UnboundedSender<M>,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(tx)
    }

    async fn handle(
        &self,
        _: ActorRef<M>,
        msg: M,
        tx: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let _ = tx.send(msg);
        Ok(())
    }
}

fn shown<M>(_msg: &M) -> String {
    // `Debug` is not required of messages; show the type when it is all we know.
    format!("a `{}`", std::any::type_name::<M>())
}

impl<M: Message> Probe<M> {
    /// Spawn a probe called `name`.
    ///
    /// # Errors
    /// ractor's spawn error (only when the runtime is shutting down).
    pub async fn spawn(name: impl Into<String>) -> Result<Self, ractor::SpawnErr> {
        let (tx, rx) = mpsc::unbounded_channel();
        let (actor, _) = Actor::spawn(None, ProbeActor(std::marker::PhantomData), tx).await?;
        Ok(Self {
            name: name.into(),
            actor,
            rx,
            wait: DEFAULT_PROBE_WAIT,
        })
    }

    /// The probe's actor: hand it to the code under test.
    pub fn actor(&self) -> ActorRef<M> {
        self.actor.clone()
    }

    /// Wait at most `wait` in `expect_msg` and `expect_msg_matching` (default 3 s).
    pub fn within(mut self, wait: Duration) -> Self {
        self.wait = wait;
        self
    }

    /// The next message.
    ///
    /// # Errors
    /// [`ProbeError::NoMessage`] when none arrives within the probe's wait.
    pub async fn expect_msg(&mut self) -> Result<M, ProbeError<M>> {
        match tokio::time::timeout(self.wait, self.rx.recv()).await {
            Ok(Some(m)) => Ok(m),
            _ => Err(ProbeError::NoMessage {
                probe: self.name.clone(),
                within: self.wait,
            }),
        }
    }

    /// The next message, which must satisfy `pred`.
    ///
    /// # Errors
    /// [`ProbeError::NoMessage`], or [`ProbeError::Unexpected`] giving the message back.
    pub async fn expect_msg_matching(
        &mut self,
        pred: impl FnOnce(&M) -> bool,
    ) -> Result<M, ProbeError<M>> {
        let msg = self.expect_msg().await?;
        if pred(&msg) {
            Ok(msg)
        } else {
            Err(ProbeError::Unexpected {
                probe: self.name.clone(),
                shown: shown(&msg),
                msg,
            })
        }
    }

    /// Succeeds when no message arrives within `within`.
    ///
    /// # Errors
    /// [`ProbeError::UnwantedMessage`] giving the message back.
    pub async fn expect_no_msg(&mut self, within: Duration) -> Result<(), ProbeError<M>> {
        match tokio::time::timeout(within, self.rx.recv()).await {
            Ok(Some(msg)) => Err(ProbeError::UnwantedMessage {
                probe: self.name.clone(),
                within,
                shown: shown(&msg),
                msg,
            }),
            _ => Ok(()),
        }
    }
}

impl<M: Message + PartialEq + fmt::Debug> Probe<M> {
    /// The next message, which must equal `expected`.
    ///
    /// # Errors
    /// [`ProbeError::NoMessage`], or [`ProbeError::Unexpected`] showing what came instead.
    pub async fn expect_msg_eq(&mut self, expected: &M) -> Result<M, ProbeError<M>> {
        let msg = self.expect_msg().await?;
        if &msg == expected {
            Ok(msg)
        } else {
            Err(ProbeError::Unexpected {
                probe: self.name.clone(),
                shown: format!("expected {expected:?}, got {msg:?}"),
                msg,
            })
        }
    }
}

impl<M: Message> Drop for Probe<M> {
    fn drop(&mut self) {
        self.actor.stop(None);
    }
}

/// A probe on the supervision events of the test's tree.
#[derive(Debug)]
pub struct SupervisionProbe {
    events: SupervisorEvents,
    wait: Duration,
}

impl SupervisionProbe {
    pub(crate) fn new(events: SupervisorEvents) -> Self {
        Self {
            events,
            wait: Duration::from_secs(5),
        }
    }

    /// Wait at most `wait` for each expected event (default 5 s).
    pub fn within(mut self, wait: Duration) -> Self {
        self.wait = wait;
        self
    }

    /// Wait for the first event that satisfies `pred` (described by `what` in the error).
    ///
    /// # Errors
    /// [`ProbeError::NoEvent`] listing the events seen while waiting.
    pub async fn expect_event(
        &mut self,
        what: &str,
        mut pred: impl FnMut(&SupervisorEvent) -> bool,
    ) -> Result<SupervisorEvent, ProbeError<()>> {
        let mut seen = Vec::new();
        let found = tokio::time::timeout(self.wait, async {
            loop {
                match self.events.recv().await {
                    Ok(ev) if pred(&ev) => return Some(ev),
                    Ok(ev) => seen.push(format!("{ev:?}")),
                    Err(ores_runtime::supervisor::EventsError::Lagged(_)) => {}
                    Err(_) => return None,
                }
            }
        })
        .await;
        match found {
            Ok(Some(ev)) => Ok(ev),
            _ => Err(ProbeError::NoEvent {
                what: what.to_string(),
                within: self.wait,
                seen,
            }),
        }
    }

    /// Wait until `child` has failed (or exited) and been started again.
    ///
    /// # Errors
    /// [`ProbeError::NoEvent`].
    pub async fn expect_restart(&mut self, child: &str) -> Result<(), ProbeError<()>> {
        self.expect_event(&format!("failure of `{child}`"), |e| {
            matches!(
                e,
                SupervisorEvent::Failed { .. } | SupervisorEvent::Exited { .. }
            ) && e.child() == child
        })
        .await?;
        self.expect_started(child).await.map(|_| ())
    }

    /// Wait until `child` has started.
    ///
    /// # Errors
    /// [`ProbeError::NoEvent`].
    pub async fn expect_started(&mut self, child: &str) -> Result<SupervisorEvent, ProbeError<()>> {
        self.expect_event(&format!("start of `{child}`"), |e| {
            matches!(e, SupervisorEvent::Started { .. }) && e.child() == child
        })
        .await
    }

    /// Wait until `child` has failed; returns the failure's reason.
    ///
    /// # Errors
    /// [`ProbeError::NoEvent`].
    pub async fn expect_failure(&mut self, child: &str) -> Result<String, ProbeError<()>> {
        match self
            .expect_event(&format!("failure of `{child}`"), |e| {
                matches!(e, SupervisorEvent::Failed { .. }) && e.child() == child
            })
            .await?
        {
            SupervisorEvent::Failed { reason, .. } => Ok(reason),
            _ => Ok(String::new()),
        }
    }

    /// Wait until a supervisor of the tree gives up.
    ///
    /// # Errors
    /// [`ProbeError::NoEvent`].
    pub async fn expect_gave_up(&mut self) -> Result<SupervisorEvent, ProbeError<()>> {
        self.expect_event("give-up", |e| matches!(e, SupervisorEvent::GaveUp { .. }))
            .await
    }
}
