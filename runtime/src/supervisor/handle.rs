//! [`ChildHandle`]: a stable reference to a supervised child that follows it across restarts.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwapOption;
use ractor::{ActorCell, ActorRef, Message, MessagingErr, RpcReplyPort};
use tokio::sync::watch;

use super::error::HandleError;

/// Where a child is in its life, as seen by its handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChildStatus {
    /// Not started yet, or waiting for its (re)start after a failure.
    Restarting,
    /// Running and accepting messages.
    Running,
    /// Removed from its supervisor, or the supervisor stopped: it will not come back.
    Gone,
}

/// The shared cell behind every handle of one child. The supervisor writes it; handles read.
pub(crate) struct Slot<M> {
    child: Arc<str>,
    current: ArcSwapOption<ActorRef<M>>,
    status: watch::Sender<ChildStatus>,
}

impl<M> std::fmt::Debug for Slot<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Slot")
            .field("child", &self.child)
            .field("status", &*self.status.borrow())
            .finish_non_exhaustive()
    }
}

impl<M: Message> Slot<M> {
    pub(crate) fn new(child: Arc<str>) -> Self {
        let (status, _) = watch::channel(ChildStatus::Restarting);
        Self {
            child,
            current: ArcSwapOption::empty(),
            status,
        }
    }
}

/// What the supervisor needs from a slot, without knowing the message type.
pub(crate) trait SlotControl: Send + Sync + std::fmt::Debug {
    fn running(&self, cell: &ActorCell);
    fn restarting(&self);
    fn gone(&self);
}

impl<M: Message> SlotControl for Slot<M> {
    fn running(&self, cell: &ActorCell) {
        self.current
            .store(Some(Arc::new(ActorRef::<M>::from(cell.clone()))));
        self.status.send_replace(ChildStatus::Running);
    }

    fn restarting(&self) {
        self.current.store(None);
        self.status.send_replace(ChildStatus::Restarting);
    }

    fn gone(&self) {
        self.current.store(None);
        self.status.send_replace(ChildStatus::Gone);
    }
}

/// A stable handle to a supervised child, typed by the child's message type.
///
/// Unlike an [`ActorRef`], which dies with the actor, the handle follows the child across
/// restarts: it always sends to the current incarnation. It is a cheap clone.
///
/// **While the child is restarting, [`send`](Self::send) waits** for it to be running again,
/// for at most the handle's wait bound (5 s by default, see [`with_wait`](Self::with_wait)),
/// and then fails with [`HandleError::Timeout`], giving the message back.
/// [`try_send`](Self::try_send) never waits: it fails at once with
/// [`HandleError::Restarting`]. A child that was removed, or whose supervisor stopped, fails
/// both at once with [`HandleError::Gone`].
///
/// Delivery is at most once, as with any actor: a message accepted by an incarnation that
/// then fails before handling it is lost with that incarnation.
pub struct ChildHandle<M> {
    slot: Arc<Slot<M>>,
    wait: Duration,
}

impl<M> std::fmt::Debug for ChildHandle<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChildHandle")
            .field("slot", &self.slot)
            .field("wait", &self.wait)
            .finish()
    }
}

impl<M> Clone for ChildHandle<M> {
    fn clone(&self) -> Self {
        Self {
            slot: Arc::clone(&self.slot),
            wait: self.wait,
        }
    }
}

impl<M: Message> ChildHandle<M> {
    pub(crate) fn new(slot: Arc<Slot<M>>) -> Self {
        Self {
            slot,
            wait: Duration::from_secs(5),
        }
    }

    /// The same handle, but [`send`](Self::send) and [`call`](Self::call) wait at most `wait`
    /// for a restarting child.
    pub fn with_wait(mut self, wait: Duration) -> Self {
        self.wait = wait;
        self
    }

    /// The child's id.
    pub fn id(&self) -> &str {
        &self.slot.child
    }

    /// Where the child is now.
    pub fn status(&self) -> ChildStatus {
        *self.slot.status.borrow()
    }

    /// The current incarnation, if the child is running.
    pub fn current(&self) -> Option<ActorRef<M>> {
        self.slot.current.load_full().map(|r| (*r).clone())
    }

    /// Send a message to the current incarnation without waiting.
    ///
    /// # Errors
    /// [`HandleError::Restarting`] while the child is down, [`HandleError::Gone`] when it will
    /// not come back; each gives the message back.
    #[inline]
    pub fn try_send(&self, msg: M) -> Result<(), HandleError<M>> {
        let guard = self.slot.current.load();
        match guard.as_deref() {
            Some(actor) => actor.send_message(msg).map_err(|e| match e {
                MessagingErr::SendErr(msg) => self.down(msg),
                _ => HandleError::WrongType {
                    child: self.id().into(),
                },
            }),
            None => Err(self.down(msg)),
        }
    }

    /// Send a message to the current incarnation, waiting (bounded) while the child restarts.
    ///
    /// # Errors
    /// [`HandleError::Timeout`] when the child is not running again within the wait bound,
    /// [`HandleError::Gone`] when it will not come back; each gives the message back.
    ///
    /// # Cancel safety
    /// Not cancel safe: dropping the future while it waits drops the message.
    #[inline]
    pub async fn send(&self, msg: M) -> Result<(), HandleError<M>> {
        // Fast path: the child is running.
        let (msg, dead) = {
            let guard = self.slot.current.load();
            match guard.as_deref() {
                Some(actor) => match actor.send_message(msg) {
                    Ok(()) => return Ok(()),
                    Err(MessagingErr::SendErr(m)) => (m, Some(actor.get_id())),
                    Err(_) => {
                        return Err(HandleError::WrongType {
                            child: self.id().into(),
                        });
                    }
                },
                None => (msg, None),
            }
        };
        self.send_slow(msg, dead).await
    }

    async fn send_slow(
        &self,
        mut msg: M,
        mut dead: Option<ractor::ActorId>,
    ) -> Result<(), HandleError<M>> {
        let deadline = tokio::time::Instant::now() + self.wait;
        let mut status = self.slot.status.subscribe();
        loop {
            match self.ready_ref(&mut status, dead, deadline).await {
                Ok(actor) => match actor.send_message(msg) {
                    Ok(()) => return Ok(()),
                    Err(MessagingErr::SendErr(m)) => {
                        msg = m;
                        dead = Some(actor.get_id());
                    }
                    Err(_) => {
                        return Err(HandleError::WrongType {
                            child: self.id().into(),
                        });
                    }
                },
                Err(kind) => return Err(kind.with_msg(self.id(), msg)),
            }
        }
    }

    /// Wait (bounded) until the child is running and return its current incarnation.
    ///
    /// # Errors
    /// [`HandleError::Timeout`] or [`HandleError::Gone`], without a message.
    pub async fn ready(&self) -> Result<ActorRef<M>, HandleError<()>> {
        let deadline = tokio::time::Instant::now() + self.wait;
        let mut status = self.slot.status.subscribe();
        self.ready_ref(&mut status, None, deadline)
            .await
            .map_err(|k| k.with_msg(self.id(), ()))
    }

    /// Call the child (request/response through an [`RpcReplyPort`]): the request is sent
    /// as with [`send`](Self::send), waiting (bounded) while the child restarts, then the
    /// reply is awaited for at most `timeout`.
    ///
    /// # Errors
    /// [`HandleError::Timeout`] / [`HandleError::Gone`] as for [`send`](Self::send) (without
    /// the message, which holds the reply port); [`HandleError::NoReply`] when the reply did
    /// not come within `timeout` or the child dropped the reply port (for instance because
    /// it failed while handling the call).
    pub async fn call<R, F>(&self, build: F, timeout: Duration) -> Result<R, HandleError<()>>
    where
        R: Send + 'static,
        F: FnOnce(RpcReplyPort<R>) -> M,
    {
        let (tx, rx) = ractor::concurrency::oneshot();
        if let Err(e) = self.send(build(RpcReplyPort::from(tx))).await {
            return Err(match e {
                HandleError::Restarting { child, .. } => HandleError::Restarting { child, msg: () },
                HandleError::Timeout { child, waited, .. } => HandleError::Timeout {
                    child,
                    waited,
                    msg: (),
                },
                HandleError::Gone { child, .. } => HandleError::Gone { child, msg: () },
                HandleError::NoReply { child } => HandleError::NoReply { child },
                HandleError::WrongType { child } => HandleError::WrongType { child },
            });
        }
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(reply)) => Ok(reply),
            _ => Err(HandleError::NoReply {
                child: self.id().into(),
            }),
        }
    }

    async fn ready_ref(
        &self,
        status: &mut watch::Receiver<ChildStatus>,
        dead: Option<ractor::ActorId>,
        deadline: tokio::time::Instant,
    ) -> Result<ActorRef<M>, WaitFailure> {
        loop {
            status.borrow_and_update();
            if let Some(actor) = self.slot.current.load_full() {
                if Some(actor.get_id()) != dead {
                    return Ok((*actor).clone());
                }
            } else if *status.borrow() == ChildStatus::Gone {
                return Err(WaitFailure::Gone);
            }
            match tokio::time::timeout_at(deadline, status.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return Err(WaitFailure::Gone),
                Err(_) => return Err(WaitFailure::Timeout(self.wait)),
            }
        }
    }

    fn down(&self, msg: M) -> HandleError<M> {
        let child = self.id().into();
        if *self.slot.status.borrow() == ChildStatus::Gone {
            HandleError::Gone { child, msg }
        } else {
            HandleError::Restarting { child, msg }
        }
    }
}

#[derive(Debug)]
enum WaitFailure {
    Timeout(Duration),
    Gone,
}

impl WaitFailure {
    fn with_msg<T>(self, child: &str, msg: T) -> HandleError<T> {
        let child = child.into();
        match self {
            WaitFailure::Timeout(waited) => HandleError::Timeout { child, waited, msg },
            WaitFailure::Gone => HandleError::Gone { child, msg },
        }
    }
}
