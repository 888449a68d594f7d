//! OTP-grade supervision on top of [ractor]: strategies, restart types, restart intensity
//! with escalation, exponential backoff with jitter, ordered start and reverse-order graceful
//! shutdown, dynamic children, stable child handles and a typed event stream.
//!
//! The contract is written out in `docs/supervision.md`.
//!
//! ```
//! use std::time::Duration;
//! use ractor::{Actor, ActorProcessingErr, ActorRef};
//! use ores_runtime::supervisor::{Backoff, ChildSpec, Intensity, Strategy, Supervisor};
//!
//! #[derive(Clone)]
//! struct Counter;
//! impl Actor for Counter {
//!     type Msg = u64;
//!     type State = u64;
//!     type Arguments = ();
//!     async fn pre_start(&self, _: ActorRef<u64>, _: ()) -> Result<u64, ActorProcessingErr> {
//!         Ok(0)
//!     }
//!     async fn handle(&self, _: ActorRef<u64>, n: u64, sum: &mut u64) -> Result<(), ActorProcessingErr> {
//!         *sum += n;
//!         Ok(())
//!     }
//! }
//!
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let counter = ChildSpec::actor("counter", Counter, ());
//! let handle = counter.handle();
//! let tree = Supervisor::builder("example")
//!     .strategy(Strategy::RestForOne)
//!     .intensity(Intensity::new(5, Duration::from_secs(10))?)
//!     .backoff(Backoff::exponential(Duration::from_millis(10), Duration::from_secs(5))?.jitter(0.2)?)
//!     .child(counter)
//!     .spawn()
//!     .await?;
//! handle.send(42).await?;
//! tree.shutdown(Duration::from_secs(5)).await?;
//! # Ok(()) }
//! ```

mod actor;
mod backoff;
mod error;
mod events;
mod handle;
mod policy;
mod spec;

use std::sync::Arc;
use std::time::Duration;

use ractor::rpc::CallResult;
use ractor::{Actor, ActorId, ActorRef, SpawnErr};
use tokio::sync::watch;

pub use actor::SupervisorMsg;
pub use backoff::Backoff;
pub use error::{HandleError, SupervisorError};
pub use events::{EventSender, EventsError, SupervisorEvent, SupervisorEvents};
pub use handle::{ChildHandle, ChildStatus};
pub use policy::{Intensity, InvalidPolicy, Restart, Shutdown, Strategy};
pub use spec::{ChildContext, ChildSpec};

use actor::{Command, SupervisorActor, SupervisorArgs};
use spec::ErasedChild;

/// How long a call to a supervisor (start or terminate a child, list children) may take
/// before it is reported as not running.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// One child as its supervisor sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChildInfo {
    /// The child's id.
    pub id: String,
    /// Running, or waiting for a restart.
    pub status: ChildStatus,
    /// Its restart type.
    pub restart: Restart,
    /// The actor id of its current incarnation, if running.
    pub actor: Option<ActorId>,
}

/// How a supervision tree ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TreeExit {
    /// It was shut down (or its actor stopped normally).
    Stopped,
    /// It failed: it gave up after too many restarts, a child failed to start, or it was
    /// killed. The reason says which.
    Failed(String),
}

/// A running supervisor. A cheap clone; dropping it does not stop the supervisor.
#[derive(Debug, Clone)]
pub struct Supervisor {
    name: Arc<str>,
    actor: ActorRef<SupervisorMsg>,
    events: EventSender,
    exit: watch::Receiver<Option<TreeExit>>,
}

impl Supervisor {
    /// Start describing a supervisor named `name` (used in events, logs and errors).
    pub fn builder(name: impl Into<String>) -> SupervisorBuilder {
        SupervisorBuilder {
            name: Arc::from(name.into()),
            strategy: Strategy::default(),
            intensity: Intensity::default(),
            backoff: Backoff::default(),
            children: Vec::new(),
            events: None,
            rng_seed: None,
        }
    }

    /// The supervisor's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The supervisor's actor (to link or monitor it).
    pub fn actor(&self) -> &ActorRef<SupervisorMsg> {
        &self.actor
    }

    /// Subscribe to the tree's supervision events (from now on).
    pub fn events(&self) -> SupervisorEvents {
        self.events.subscribe()
    }

    /// The sending side of the tree's event stream.
    pub fn event_sender(&self) -> &EventSender {
        &self.events
    }

    /// Add a child at runtime, after the others; it is stopped first on shutdown. Returns
    /// once it has started.
    ///
    /// # Errors
    /// [`SupervisorError::ChildStartFailed`], [`SupervisorError::DuplicateChild`], or
    /// [`SupervisorError::NotRunning`].
    pub async fn start_child<M: ractor::Message>(
        &self,
        spec: ChildSpec<M>,
    ) -> Result<ChildHandle<M>, SupervisorError> {
        let handle = spec.handle();
        let erased = spec.erase();
        self.call(|reply| Command::StartChild(erased, reply))
            .await??;
        Ok(handle)
    }

    /// Stop a child (according to its shutdown spec) and remove it; its handles then report
    /// it gone.
    ///
    /// # Errors
    /// [`SupervisorError::NoSuchChild`] or [`SupervisorError::NotRunning`].
    pub async fn terminate_child(&self, id: &str) -> Result<(), SupervisorError> {
        let id = id.to_string();
        self.call(|reply| Command::TerminateChild(id, reply))
            .await?
    }

    /// The children, in start order.
    ///
    /// # Errors
    /// [`SupervisorError::NotRunning`].
    pub async fn children(&self) -> Result<Vec<ChildInfo>, SupervisorError> {
        self.call(Command::Children).await
    }

    /// Whether the supervisor is still running.
    pub fn is_running(&self) -> bool {
        self.exit.borrow().is_none()
            && matches!(
                self.actor.get_status(),
                ractor::ActorStatus::Running | ractor::ActorStatus::Starting
            )
    }

    /// Shut the tree down: children are stopped in reverse start order, each within its own
    /// shutdown timeout (their `post_stop` runs), then the supervisor stops. `timeout`
    /// bounds the whole operation.
    ///
    /// # Errors
    /// [`SupervisorError::ShutdownTimeout`] when the tree did not stop in time; the
    /// supervisor is then killed, and kills the children still running (their `post_stop`
    /// does not run).
    pub async fn shutdown(&self, timeout: Duration) -> Result<(), SupervisorError> {
        let done = async {
            if self.exit.borrow().is_none() {
                let _ = self
                    .actor
                    .call(|r| SupervisorMsg(Command::Shutdown(r)), None)
                    .await;
            }
            self.actor.get_cell().wait(None).await.ok();
        };
        tokio::time::timeout(timeout, done).await.map_err(|_| {
            // Out of time: kill the supervisor; it kills the children still running.
            self.actor.kill();
            SupervisorError::ShutdownTimeout {
                supervisor: self.name.to_string(),
                timeout,
            }
        })
    }

    /// Wait until the tree has ended, and say how.
    pub async fn wait(&self) -> TreeExit {
        let mut exit = self.exit.clone();
        let ended = exit
            .wait_for(Option::is_some)
            .await
            .ok()
            .and_then(|e| e.clone());
        self.actor.get_cell().wait(None).await.ok();
        ended.unwrap_or(TreeExit::Stopped)
    }

    async fn call<R: Send + 'static>(
        &self,
        build: impl FnOnce(ractor::RpcReplyPort<R>) -> Command,
    ) -> Result<R, SupervisorError> {
        match self
            .actor
            .call(|r| SupervisorMsg(build(r)), Some(CALL_TIMEOUT))
            .await
        {
            Ok(CallResult::Success(r)) => Ok(r),
            _ => Err(SupervisorError::NotRunning {
                supervisor: self.name.to_string(),
            }),
        }
    }
}

/// A supervisor being described; [`spawn`](Self::spawn) starts it.
#[derive(Debug, Clone)]
pub struct SupervisorBuilder {
    name: Arc<str>,
    strategy: Strategy,
    intensity: Intensity,
    backoff: Backoff,
    children: Vec<ErasedChild>,
    events: Option<EventSender>,
    rng_seed: Option<u64>,
}

impl SupervisorBuilder {
    /// The restart strategy (default [`Strategy::OneForOne`]).
    pub fn strategy(mut self, strategy: Strategy) -> Self {
        self.strategy = strategy;
        self
    }

    /// The restart intensity (default 10 restarts within 60 s).
    pub fn intensity(mut self, intensity: Intensity) -> Self {
        self.intensity = intensity;
        self
    }

    /// The backoff for children that do not set their own (default: 100 ms doubling to
    /// 30 s, 20 % jitter, reset after 60 s). [`Backoff::none`] restarts at once.
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// Add a child; children start in the order they are added.
    pub fn child<M: ractor::Message>(mut self, spec: ChildSpec<M>) -> Self {
        self.children.push(spec.erase());
        self
    }

    /// Emit events into this stream (to share one stream across trees). By default a
    /// top-level supervisor makes its own, and a nested one uses its parent's.
    pub fn events(mut self, events: EventSender) -> Self {
        self.events = Some(events);
        self
    }

    /// Seed the jitter's random numbers, for reproducible tests.
    pub fn rng_seed(mut self, seed: u64) -> Self {
        self.rng_seed = Some(seed);
        self
    }

    /// Start the supervisor and its children, in order. Returns when every child has
    /// finished its `pre_start`.
    ///
    /// # Errors
    /// [`SupervisorError::ChildStartFailed`] naming the child that failed to start (the
    /// children started before it are stopped again, in reverse order), or
    /// [`SupervisorError::DuplicateChild`].
    pub async fn spawn(self) -> Result<Supervisor, SupervisorError> {
        self.spawn_inner(None).await
    }

    /// Like [`spawn`](Self::spawn), but linked to `parent`, which receives the supervisor's
    /// failure (escalation).
    ///
    /// # Errors
    /// As [`spawn`](Self::spawn).
    pub async fn spawn_linked(
        self,
        parent: ractor::ActorCell,
    ) -> Result<Supervisor, SupervisorError> {
        self.spawn_inner(Some(parent)).await
    }

    async fn spawn_inner(
        self,
        parent: Option<ractor::ActorCell>,
    ) -> Result<Supervisor, SupervisorError> {
        let name = Arc::clone(&self.name);
        let events = self.events.clone().unwrap_or_default();
        let (exit_tx, exit_rx) = watch::channel(None);
        let args = self.into_args(events.clone(), Arc::new(exit_tx), false);
        let spawned = match parent {
            Some(p) => Actor::spawn_linked(None, SupervisorActor, args, p).await,
            None => Actor::spawn(None, SupervisorActor, args).await,
        };
        let (actor, _join) = spawned.map_err(|e| spawn_error(&name, e))?;
        Ok(Supervisor {
            name,
            actor,
            events,
            exit: exit_rx,
        })
    }

    fn into_args(
        self,
        events: EventSender,
        exit: Arc<watch::Sender<Option<TreeExit>>>,
        nested: bool,
    ) -> SupervisorArgs {
        SupervisorArgs {
            name: self.name,
            strategy: self.strategy,
            intensity: self.intensity,
            backoff: self.backoff,
            children: self.children,
            events,
            rng_seed: self.rng_seed,
            nested,
            exit,
        }
    }

    /// This supervisor as a child of another: a nested subtree. When the nested supervisor
    /// gives up, its parent sees it fail and applies its own strategy (escalation). It uses
    /// its parent's event stream unless [`events`](Self::events) was set.
    ///
    /// Its shutdown is graceful with a long timeout (one hour, as OTP gives supervisors
    /// `infinity`): stopping it stops its whole subtree in order, each child within its own
    /// timeout. Set a shorter one with [`ChildSpec::shutdown`]. While the subtree is down,
    /// handles to its children report them restarting, since the parent may start it again.
    pub fn into_child_spec(self) -> ChildSpec<SupervisorMsg> {
        let id = self.name.to_string();
        ChildSpec::new(id, move |ctx: ChildContext| {
            let builder = self.clone();
            async move {
                let events = builder
                    .events
                    .clone()
                    .unwrap_or_else(|| ctx.events().clone());
                let (exit_tx, _) = watch::channel(None);
                let args = builder.into_args(events, Arc::new(exit_tx), true);
                let (actor, _) =
                    Actor::spawn_linked(None, SupervisorActor, args, ctx.supervisor()).await?;
                Ok(actor)
            }
        })
        .shutdown(Shutdown::Graceful(Duration::from_secs(3600)))
    }
}

fn spawn_error(name: &str, err: SpawnErr) -> SupervisorError {
    match err {
        SpawnErr::StartupFailed(inner) => match inner.downcast::<SupervisorError>() {
            Ok(e) => *e,
            Err(other) => SupervisorError::Spawn {
                supervisor: name.to_string(),
                reason: other.to_string(),
            },
        },
        other => SupervisorError::Spawn {
            supervisor: name.to_string(),
            reason: other.to_string(),
        },
    }
}
