//! The supervisor actor: starts children in order, watches them, applies the strategy,
//! intensity and backoff, and stops them in reverse order.

use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures::FutureExt;
use ractor::{
    Actor, ActorCell, ActorId, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::watch;
use tokio::time::Instant;

use super::backoff::Backoff;
use super::error::SupervisorError;
use super::events::{EventSender, SupervisorEvent};
use super::handle::ChildStatus;
use super::policy::{Intensity, Restart, Shutdown, Strategy};
use super::spec::{ChildContext, ErasedChild};
use super::{ChildInfo, TreeExit};

/// The message type of a supervisor actor. Opaque: talk to a supervisor through
/// [`Supervisor`](super::Supervisor).
#[derive(Debug)]
pub struct SupervisorMsg(pub(crate) Command);

#[derive(Debug)]
pub(crate) enum Command {
    StartChild(ErasedChild, RpcReplyPort<Result<(), SupervisorError>>),
    TerminateChild(String, RpcReplyPort<Result<(), SupervisorError>>),
    RestartDue(u64),
    Children(RpcReplyPort<Vec<ChildInfo>>),
    Shutdown(RpcReplyPort<()>),
}

/// Everything a supervisor is started with.
#[derive(Debug, Clone)]
pub(crate) struct SupervisorArgs {
    pub(crate) name: Arc<str>,
    pub(crate) strategy: Strategy,
    pub(crate) intensity: Intensity,
    pub(crate) backoff: Backoff,
    pub(crate) children: Vec<ErasedChild>,
    pub(crate) events: EventSender,
    pub(crate) rng_seed: Option<u64>,
    pub(crate) nested: bool,
    pub(crate) exit: Arc<watch::Sender<Option<TreeExit>>>,
}

#[derive(Debug)]
pub(crate) struct SupervisorActor;

#[derive(Debug)]
struct Child {
    spec: ErasedChild,
    cell: Option<ActorCell>,
    /// When the current or last incarnation started; `None` after a failed start, so that a
    /// child that keeps failing to start never counts as having been quiet.
    started_at: Option<Instant>,
    attempt: u32,
    pending: Option<u64>,
}

#[derive(Debug)]
pub(crate) struct State {
    name: Arc<str>,
    strategy: Strategy,
    intensity: Intensity,
    backoff: Backoff,
    events: EventSender,
    children: Vec<Child>,
    restarts: VecDeque<Instant>,
    rng: StdRng,
    next_token: u64,
    stopping: bool,
    /// A nested supervisor's parent may start it again, so when it stops, its children's
    /// handles wait for them (`Restarting`) instead of reporting them `Gone`.
    nested: bool,
    exit: Arc<watch::Sender<Option<TreeExit>>>,
}

enum Exit {
    Normal(Option<String>),
    Abnormal(String),
}

impl Actor for SupervisorActor {
    type Msg = SupervisorMsg;
    type State = State;
    type Arguments = SupervisorArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<SupervisorMsg>,
        args: SupervisorArgs,
    ) -> Result<State, ActorProcessingErr> {
        let mut state = State {
            name: args.name,
            strategy: args.strategy,
            intensity: args.intensity,
            backoff: args.backoff,
            events: args.events,
            children: Vec::with_capacity(args.children.len()),
            restarts: VecDeque::new(),
            rng: match args.rng_seed {
                Some(seed) => StdRng::seed_from_u64(seed),
                None => StdRng::from_os_rng(),
            },
            next_token: 0,
            stopping: false,
            nested: args.nested,
            exit: args.exit,
        };
        // Refuse duplicate ids before anything starts.
        for (i, spec) in args.children.iter().enumerate() {
            if args.children[..i].iter().any(|c| c.id == spec.id) {
                return Err(Box::new(SupervisorError::DuplicateChild {
                    supervisor: state.name.to_string(),
                    child: spec.id.to_string(),
                }));
            }
        }
        for spec in args.children {
            let id = Arc::clone(&spec.id);
            state.children.push(Child::new(spec));
            let idx = state.children.len() - 1;
            if let Err(error) = state.start_one(&myself, idx).await {
                state.stop_all().await;
                let error = SupervisorError::ChildStartFailed {
                    supervisor: state.name.to_string(),
                    child: id.to_string(),
                    error,
                };
                state
                    .exit
                    .send_replace(Some(TreeExit::Failed(error.to_string())));
                return Err(Box::new(error));
            }
        }
        Ok(state)
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<SupervisorMsg>,
        state: &mut State,
    ) -> Result<(), ActorProcessingErr> {
        state.stop_all().await;
        state.exit.send_if_modified(|e| {
            if e.is_none() {
                *e = Some(TreeExit::Stopped);
                true
            } else {
                false
            }
        });
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<SupervisorMsg>,
        SupervisorMsg(cmd): SupervisorMsg,
        state: &mut State,
    ) -> Result<(), ActorProcessingErr> {
        match cmd {
            Command::StartChild(spec, reply) => {
                let result = state.add_child(&myself, spec).await;
                let _ = reply.send(result);
            }
            Command::TerminateChild(id, reply) => {
                let result = state.terminate_child(&id).await;
                let _ = reply.send(result);
            }
            Command::RestartDue(token) => state.restart_pending(&myself, token).await?,
            Command::Children(reply) => {
                let _ = reply.send(state.children.iter().map(Child::info).collect());
            }
            Command::Shutdown(reply) => {
                state.stop_all().await;
                state.exit.send_replace(Some(TreeExit::Stopped));
                myself.stop(Some("shutdown".into()));
                let _ = reply.send(());
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<SupervisorMsg>,
        event: SupervisionEvent,
        state: &mut State,
    ) -> Result<(), ActorProcessingErr> {
        let (id, exit) = match event {
            SupervisionEvent::ActorTerminated(cell, _, reason) => {
                let exit = match reason.as_deref() {
                    Some("killed") | Some("actor_task_cancelled") => {
                        Exit::Abnormal(reason.unwrap_or_default())
                    }
                    _ => Exit::Normal(reason),
                };
                (cell.get_id(), exit)
            }
            SupervisionEvent::ActorFailed(cell, err) => {
                (cell.get_id(), Exit::Abnormal(err.to_string()))
            }
            _ => return Ok(()),
        };
        state.child_down(&myself, id, exit).await
    }
}

impl Child {
    fn new(spec: ErasedChild) -> Self {
        Self {
            spec,
            cell: None,
            started_at: None,
            attempt: 0,
            pending: None,
        }
    }

    fn info(&self) -> ChildInfo {
        ChildInfo {
            id: self.spec.id.to_string(),
            status: if self.cell.is_some() {
                ChildStatus::Running
            } else {
                ChildStatus::Restarting
            },
            restart: self.spec.restart,
            actor: self.cell.as_ref().map(ActorCell::get_id),
        }
    }
}

impl State {
    fn emit(&self, event: SupervisorEvent) {
        self.events.emit(event);
    }

    fn index_of(&self, id: &str) -> Option<usize> {
        self.children.iter().position(|c| &*c.spec.id == id)
    }

    /// Start child `idx` (its pre_start has finished when this returns).
    async fn start_one(
        &mut self,
        myself: &ActorRef<SupervisorMsg>,
        idx: usize,
    ) -> Result<(), ActorProcessingErr> {
        let child = &mut self.children[idx];
        let ctx = ChildContext {
            supervisor: myself.get_cell(),
            supervisor_name: Arc::clone(&self.name),
            child: Arc::clone(&child.spec.id),
            events: self.events.clone(),
        };
        let started = AssertUnwindSafe((child.spec.start)(ctx))
            .catch_unwind()
            .await;
        let cell = match started {
            Ok(Ok(cell)) => cell,
            Ok(Err(e)) => {
                child.started_at = None;
                return Err(unwrap_spawn_err(e));
            }
            Err(panic) => {
                child.started_at = None;
                let text = crate::panic::message(&*panic).map_or_else(
                    || "start function panicked".to_string(),
                    |m| format!("start function panicked: {m}"),
                );
                return Err(text.into());
            }
        };
        let linked = cell.try_get_supervisor().map(|s| s.get_id()) == Some(myself.get_id());
        if !linked {
            cell.link(myself.get_cell());
        }
        child.started_at = Some(Instant::now());
        child.spec.slot.running(&cell);
        child.cell = Some(cell);
        let event = SupervisorEvent::Started {
            supervisor: Arc::clone(&self.name),
            child: Arc::clone(&child.spec.id),
        };
        self.emit(event);
        Ok(())
    }

    /// Stop child `idx` according to its shutdown spec, and emit `Stopped` saying whether it
    /// had to be killed.
    async fn stop_one(&mut self, idx: usize) {
        let child = &mut self.children[idx];
        child.pending = None;
        let Some(cell) = child.cell.take() else {
            return;
        };
        child.spec.slot.restarting();
        let killed = match child.spec.shutdown {
            Shutdown::Graceful(timeout) => {
                match cell
                    .stop_and_wait(Some("shutdown".into()), Some(timeout))
                    .await
                {
                    Err(ractor::RactorErr::Timeout) => {
                        let _ = cell.kill_and_wait(Some(timeout)).await;
                        true
                    }
                    _ => false,
                }
            }
            Shutdown::Kill => {
                let _ = cell
                    .kill_and_wait(Some(std::time::Duration::from_secs(5)))
                    .await;
                true
            }
        };
        let event = SupervisorEvent::Stopped {
            supervisor: Arc::clone(&self.name),
            child: Arc::clone(&child.spec.id),
            killed,
        };
        self.emit(event);
    }

    /// Stop every child in reverse start order; their handles report them gone (or, under a
    /// nested supervisor that its parent may restart, restarting).
    async fn stop_all(&mut self) {
        self.stopping = true;
        for idx in (0..self.children.len()).rev() {
            self.stop_one(idx).await;
            if !self.nested {
                self.children[idx].spec.slot.gone();
            }
        }
    }

    fn remove(&mut self, idx: usize) {
        let child = self.children.remove(idx);
        child.spec.slot.gone();
        self.emit(SupervisorEvent::Removed {
            supervisor: Arc::clone(&self.name),
            child: child.spec.id,
        });
    }

    async fn add_child(
        &mut self,
        myself: &ActorRef<SupervisorMsg>,
        spec: ErasedChild,
    ) -> Result<(), SupervisorError> {
        if self.stopping {
            return Err(SupervisorError::NotRunning {
                supervisor: self.name.to_string(),
            });
        }
        if self.index_of(&spec.id).is_some() {
            return Err(SupervisorError::DuplicateChild {
                supervisor: self.name.to_string(),
                child: spec.id.to_string(),
            });
        }
        self.children.push(Child::new(spec));
        let idx = self.children.len() - 1;
        if let Err(error) = self.start_one(myself, idx).await {
            let child = self.children.remove(idx);
            child.spec.slot.gone();
            return Err(SupervisorError::ChildStartFailed {
                supervisor: self.name.to_string(),
                child: child.spec.id.to_string(),
                error,
            });
        }
        Ok(())
    }

    async fn terminate_child(&mut self, id: &str) -> Result<(), SupervisorError> {
        let Some(idx) = self.index_of(id) else {
            return Err(SupervisorError::NoSuchChild {
                supervisor: self.name.to_string(),
                child: id.to_string(),
            });
        };
        self.stop_one(idx).await;
        self.remove(idx);
        Ok(())
    }

    async fn child_down(
        &mut self,
        myself: &ActorRef<SupervisorMsg>,
        actor: ActorId,
        exit: Exit,
    ) -> Result<(), ActorProcessingErr> {
        if self.stopping {
            return Ok(());
        }
        let Some(idx) = self
            .children
            .iter()
            .position(|c| c.cell.as_ref().map(ActorCell::get_id) == Some(actor))
        else {
            return Ok(()); // an incarnation we stopped ourselves, or not our child
        };
        self.children[idx].cell = None;
        let child_id = Arc::clone(&self.children[idx].spec.id);
        let abnormal = matches!(exit, Exit::Abnormal(_));
        self.emit(match exit {
            Exit::Abnormal(reason) => SupervisorEvent::Failed {
                supervisor: Arc::clone(&self.name),
                child: child_id,
                reason,
            },
            Exit::Normal(reason) => SupervisorEvent::Exited {
                supervisor: Arc::clone(&self.name),
                child: child_id,
                reason,
            },
        });
        let restart = match self.children[idx].spec.restart {
            Restart::Permanent => true,
            Restart::Transient => abnormal,
            Restart::Temporary => false,
        };
        if !restart {
            self.remove(idx);
            return Ok(());
        }
        self.schedule_restart(myself, idx).await
    }

    /// Count a restart of child `idx` against the intensity, stop the siblings the strategy
    /// names, and schedule their common restart after the child's backoff.
    async fn schedule_restart(
        &mut self,
        myself: &ActorRef<SupervisorMsg>,
        idx: usize,
    ) -> Result<(), ActorProcessingErr> {
        let now = Instant::now();
        self.restarts.push_back(now);
        while let Some(&first) = self.restarts.front() {
            if now.duration_since(first) >= self.intensity.within() {
                self.restarts.pop_front();
            } else {
                break;
            }
        }
        if self.restarts.len() > self.intensity.max_restarts() as usize {
            return Err(self.give_up(idx).await);
        }

        let failed_id = Arc::clone(&self.children[idx].spec.id);
        let group: Vec<Arc<str>> = match self.strategy {
            Strategy::OneForOne => vec![Arc::clone(&failed_id)],
            Strategy::OneForAll => self
                .children
                .iter()
                .map(|c| Arc::clone(&c.spec.id))
                .collect(),
            Strategy::RestForOne => self.children[idx..]
                .iter()
                .map(|c| Arc::clone(&c.spec.id))
                .collect(),
        };
        // Stop the siblings in reverse start order; temporary ones are not restarted.
        for id in group.iter().rev() {
            if **id == *failed_id {
                continue;
            }
            if let Some(i) = self.index_of(id) {
                self.stop_one(i).await;
                if self.children[i].spec.restart == Restart::Temporary {
                    self.remove(i);
                }
            }
        }

        let token = self.next_token;
        self.next_token += 1;
        for id in &group {
            if let Some(i) = self.index_of(id) {
                self.children[i].pending = Some(token);
                self.children[i].spec.slot.restarting();
            }
        }

        let Some(idx) = self.index_of(&failed_id) else {
            return Ok(());
        };
        let unit: f64 = self.rng.random();
        let child = &mut self.children[idx];
        let backoff = child.spec.backoff.unwrap_or(self.backoff);
        if child
            .started_at
            .is_some_and(|t| now.duration_since(t) >= backoff.reset_period())
        {
            child.attempt = 0;
        }
        let delay = backoff.delay(child.attempt, unit);
        child.attempt = child.attempt.saturating_add(1);
        let event = SupervisorEvent::Restarting {
            supervisor: Arc::clone(&self.name),
            child: failed_id,
            delay,
            attempt: child.attempt,
        };
        self.emit(event);
        if delay.is_zero() {
            // Through the mailbox, so that the supervisor stays responsive even when a child
            // keeps failing at once.
            myself.send_message(SupervisorMsg(Command::RestartDue(token)))?;
        } else {
            myself.send_after(delay, move || SupervisorMsg(Command::RestartDue(token)));
        }
        Ok(())
    }

    /// Start, in order, the children waiting for restart `token`.
    async fn restart_pending(
        &mut self,
        myself: &ActorRef<SupervisorMsg>,
        token: u64,
    ) -> Result<(), ActorProcessingErr> {
        if self.stopping {
            return Ok(());
        }
        let due: Vec<Arc<str>> = self
            .children
            .iter()
            .filter(|c| c.pending == Some(token))
            .map(|c| Arc::clone(&c.spec.id))
            .collect();
        let mut failed = Vec::new();
        for id in due {
            let Some(idx) = self.index_of(&id) else {
                continue;
            };
            if self.children[idx].pending != Some(token) {
                continue; // re-scheduled by a failure earlier in this loop
            }
            self.children[idx].pending = None;
            if let Err(error) = self.start_one(myself, idx).await {
                self.emit(SupervisorEvent::Failed {
                    supervisor: Arc::clone(&self.name),
                    child: Arc::clone(&id),
                    reason: error_chain(&*error),
                });
                if self.strategy != Strategy::OneForOne {
                    // The children after it depend on it: do not start them now. The new
                    // restart (after backoff) takes in the group again.
                    self.children[idx].spec.slot.restarting();
                    return self.schedule_restart(myself, idx).await;
                }
                failed.push(id);
            }
        }
        for id in failed {
            if let Some(idx) = self.index_of(&id)
                && self.children[idx].cell.is_none()
                && self.children[idx].pending.is_none()
            {
                self.schedule_restart(myself, idx).await?;
            }
        }
        Ok(())
    }

    async fn give_up(&mut self, idx: usize) -> ActorProcessingErr {
        let child = Arc::clone(&self.children[idx].spec.id);
        self.emit(SupervisorEvent::GaveUp {
            supervisor: Arc::clone(&self.name),
            child: Arc::clone(&child),
            max_restarts: self.intensity.max_restarts(),
            within: self.intensity.within(),
        });
        self.stop_all().await;
        let reason = format!(
            "supervisor `{}` gave up: more than {} restarts within {:?}, the last of child `{}`",
            self.name,
            self.intensity.max_restarts(),
            self.intensity.within(),
            child
        );
        self.exit
            .send_replace(Some(TreeExit::Failed(reason.clone())));
        reason.into()
    }
}

impl Drop for State {
    /// A supervisor that is killed (or panics) does not leave orphans behind.
    fn drop(&mut self) {
        for child in &mut self.children {
            if let Some(cell) = child.cell.take() {
                cell.kill();
            }
            child.spec.slot.gone();
        }
        self.exit.send_if_modified(|e| {
            if e.is_none() {
                *e = Some(TreeExit::Failed("supervisor was killed".into()));
                true
            } else {
                false
            }
        });
    }
}

/// A `pre_start` failure reaches us wrapped in ractor's `SpawnErr::StartupFailed`; keep the
/// actor's own error, so that callers can downcast it.
pub(crate) fn unwrap_spawn_err(e: ActorProcessingErr) -> ActorProcessingErr {
    match e.downcast::<ractor::SpawnErr>() {
        Ok(spawn) => match *spawn {
            ractor::SpawnErr::StartupFailed(inner) => inner,
            other => Box::new(other),
        },
        Err(e) => e,
    }
}

/// An error and its sources, joined by `: `, without repeating a source already printed.
pub(crate) fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut msg = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        let text = e.to_string();
        if !msg.contains(&text) {
            msg.push_str(": ");
            msg.push_str(&text);
        }
        source = e.source();
    }
    msg
}
