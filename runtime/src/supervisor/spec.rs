//! [`ChildSpec`]: how a supervisor starts, restarts and stops one child.

use std::future::Future;
use std::sync::Arc;

use futures::future::BoxFuture;
use ractor::{Actor, ActorCell, ActorProcessingErr, ActorRef, Message};

use super::backoff::Backoff;
use super::events::EventSender;
use super::handle::{ChildHandle, Slot, SlotControl};
use super::policy::{Restart, Shutdown};

/// What a start function gets: the supervisor to link the new actor to.
#[derive(Debug, Clone)]
pub struct ChildContext {
    pub(crate) supervisor: ActorCell,
    pub(crate) supervisor_name: Arc<str>,
    pub(crate) child: Arc<str>,
    pub(crate) events: EventSender,
}

impl ChildContext {
    /// The supervisor's actor cell: pass it to [`Actor::spawn_linked`].
    pub fn supervisor(&self) -> ActorCell {
        self.supervisor.clone()
    }

    /// The supervisor's name.
    pub fn supervisor_name(&self) -> &str {
        &self.supervisor_name
    }

    /// The id of the child being started.
    pub fn child_id(&self) -> &str {
        &self.child
    }

    /// The supervision event stream of the tree (nested supervisors share it).
    pub fn events(&self) -> &EventSender {
        &self.events
    }

    /// Spawn `actor` with `args`, linked to the supervisor. Returns once its `pre_start` has
    /// finished.
    ///
    /// # Errors
    /// The error `pre_start` returned (or a message, when it panicked).
    pub async fn spawn<A: Actor>(
        &self,
        actor: A,
        args: A::Arguments,
    ) -> Result<ActorRef<A::Msg>, ActorProcessingErr> {
        match Actor::spawn_linked(None, actor, args, self.supervisor()).await {
            Ok((r, _join)) => Ok(r),
            // Keep the actor's own error, so that it can be downcast.
            Err(ractor::SpawnErr::StartupFailed(e)) => Err(e),
            Err(e) => Err(Box::new(e)),
        }
    }
}

type StartFn<M> = Arc<
    dyn Fn(ChildContext) -> BoxFuture<'static, Result<ActorRef<M>, ActorProcessingErr>>
        + Send
        + Sync,
>;

/// How to start one child, and what to do when it exits.
///
/// The start function is called again on every restart, so the child starts from a fresh
/// state each time. It must spawn the actor linked to [`ChildContext::supervisor`] (use
/// [`ChildContext::spawn`]); an actor spawned unlinked is linked by the supervisor after it
/// started.
///
/// ```
/// use ractor::{Actor, ActorProcessingErr, ActorRef};
/// use ores_runtime::supervisor::{ChildSpec, Restart};
///
/// struct Echo;
/// impl Actor for Echo {
///     type Msg = String;
///     type State = ();
///     type Arguments = ();
///     async fn pre_start(&self, _: ActorRef<String>, _: ()) -> Result<(), ActorProcessingErr> {
///         Ok(())
///     }
/// }
///
/// // With a start function (called on every restart):
/// let spec = ChildSpec::new("echo", |ctx| async move { ctx.spawn(Echo, ()).await })
///     .restart(Restart::Transient);
/// // Or, for an actor whose value and arguments can be cloned:
/// let spec2 = ChildSpec::actor("echo2", Echo, ());
/// let handle = spec2.handle(); // follows the child across restarts
/// # let _ = (spec, handle);
/// # struct _Clone; impl Clone for Echo { fn clone(&self) -> Self { Echo } }
/// ```
pub struct ChildSpec<M> {
    id: Arc<str>,
    start: StartFn<M>,
    restart: Restart,
    shutdown: Shutdown,
    backoff: Option<Backoff>,
    slot: Arc<Slot<M>>,
}

impl<M> std::fmt::Debug for ChildSpec<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChildSpec")
            .field("id", &self.id)
            .field("restart", &self.restart)
            .field("shutdown", &self.shutdown)
            .field("backoff", &self.backoff)
            .finish_non_exhaustive()
    }
}

impl<M: Message> ChildSpec<M> {
    /// A child with id `id`, started by `start`. Permanent, graceful shutdown within 5 s,
    /// and the supervisor's backoff.
    pub fn new<F, Fut>(id: impl Into<String>, start: F) -> Self
    where
        F: Fn(ChildContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<ActorRef<M>, ActorProcessingErr>> + Send + 'static,
    {
        let id: Arc<str> = Arc::from(id.into());
        Self {
            slot: Arc::new(Slot::new(Arc::clone(&id))),
            id,
            start: Arc::new(move |ctx| Box::pin(start(ctx))),
            restart: Restart::default(),
            shutdown: Shutdown::default(),
            backoff: None,
        }
    }

    /// A child that spawns a clone of `actor` with a clone of `args` on every (re)start.
    pub fn actor<A>(id: impl Into<String>, actor: A, args: A::Arguments) -> Self
    where
        A: Actor<Msg = M> + Clone + Sync,
        A::Arguments: Clone + Sync,
    {
        Self::new(id, move |ctx: ChildContext| {
            let actor = actor.clone();
            let args = args.clone();
            async move { ctx.spawn(actor, args).await }
        })
    }

    /// The restart type (default [`Restart::Permanent`]).
    pub fn restart(mut self, restart: Restart) -> Self {
        self.restart = restart;
        self
    }

    /// How the child is stopped (default graceful within 5 s).
    pub fn shutdown(mut self, shutdown: Shutdown) -> Self {
        self.shutdown = shutdown;
        self
    }

    /// The backoff before this child's restarts, instead of the supervisor's.
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = Some(backoff);
        self
    }

    /// The child's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// A stable handle to the child, valid before it starts and across its restarts.
    pub fn handle(&self) -> ChildHandle<M> {
        ChildHandle::new(Arc::clone(&self.slot))
    }

    pub(crate) fn erase(self) -> ErasedChild {
        let start = self.start;
        ErasedChild {
            id: self.id,
            restart: self.restart,
            shutdown: self.shutdown,
            backoff: self.backoff,
            slot: self.slot,
            start: Arc::new(move |ctx| {
                let fut = start(ctx);
                Box::pin(async move { fut.await.map(|r| r.get_cell()) })
            }),
        }
    }
}

type ErasedStart = Arc<
    dyn Fn(ChildContext) -> BoxFuture<'static, Result<ActorCell, ActorProcessingErr>> + Send + Sync,
>;

/// A child spec with its message type erased, as the supervisor keeps it.
#[derive(Clone)]
pub(crate) struct ErasedChild {
    pub(crate) id: Arc<str>,
    pub(crate) restart: Restart,
    pub(crate) shutdown: Shutdown,
    pub(crate) backoff: Option<Backoff>,
    pub(crate) slot: Arc<dyn SlotControl>,
    pub(crate) start: ErasedStart,
}

impl std::fmt::Debug for ErasedChild {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ErasedChild")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}
