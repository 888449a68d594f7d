//! Test actors shared by the supervision tests.
#![allow(
    dead_code,
    missing_docs,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used
)]

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ores_runtime::supervisor::{ChildSpec, SupervisorEvent, SupervisorEvents};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

/// A shared, ordered record of what the workers did.
#[derive(Clone, Default)]
pub struct Journal(Arc<Mutex<Vec<String>>>);

impl Journal {
    pub fn push(&self, s: impl Into<String>) {
        self.0.lock().unwrap().push(s.into());
    }
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
    pub fn snapshot(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

static INCARNATION: AtomicU64 = AtomicU64::new(1);

pub enum WorkerMsg {
    Panic,
    Fail,
    Stop,
    Ping(RpcReplyPort<u64>),
    Record(String),
}

/// A worker that records its start and stop, and fails on demand.
#[derive(Clone)]
pub struct Worker {
    pub name: &'static str,
    pub journal: Journal,
    /// Fail this many starts before succeeding.
    pub fail_starts: Arc<AtomicU32>,
    /// Time its pre_start takes (with tokio's clock).
    pub start_delay: Duration,
    /// Time its post_stop takes.
    pub stop_delay: Duration,
}

impl Worker {
    pub fn new(name: &'static str, journal: &Journal) -> Self {
        Self {
            name,
            journal: journal.clone(),
            fail_starts: Arc::new(AtomicU32::new(0)),
            start_delay: Duration::ZERO,
            stop_delay: Duration::ZERO,
        }
    }

    pub fn spec(self) -> ChildSpec<WorkerMsg> {
        ChildSpec::actor(self.name, self, ())
    }
}

impl Actor for Worker {
    type Msg = WorkerMsg;
    type State = u64;
    type Arguments = ();

    async fn pre_start(&self, _: ActorRef<WorkerMsg>, _: ()) -> Result<u64, ActorProcessingErr> {
        if !self.start_delay.is_zero() {
            self.journal.push(format!("begin:{}", self.name));
            tokio::time::sleep(self.start_delay).await;
        }
        let remaining = self.fail_starts.load(Ordering::SeqCst);
        if remaining > 0 {
            self.fail_starts.store(remaining - 1, Ordering::SeqCst);
            self.journal.push(format!("failstart:{}", self.name));
            return Err(format!("{} cannot open its resource", self.name).into());
        }
        self.journal.push(format!("start:{}", self.name));
        Ok(INCARNATION.fetch_add(1, Ordering::SeqCst))
    }

    async fn post_stop(
        &self,
        _: ActorRef<WorkerMsg>,
        _: &mut u64,
    ) -> Result<(), ActorProcessingErr> {
        if !self.stop_delay.is_zero() {
            tokio::time::sleep(self.stop_delay).await;
        }
        self.journal.push(format!("stop:{}", self.name));
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<WorkerMsg>,
        msg: WorkerMsg,
        incarnation: &mut u64,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            WorkerMsg::Panic => panic!("{} was told to panic", self.name),
            WorkerMsg::Fail => return Err(format!("{} was told to fail", self.name).into()),
            WorkerMsg::Stop => myself.stop(Some("done".into())),
            WorkerMsg::Ping(reply) => {
                let _ = reply.send(*incarnation);
            }
            WorkerMsg::Record(s) => self.journal.push(format!("{}:{}", self.name, s)),
        }
        Ok(())
    }
}

pub const WAIT: Duration = Duration::from_secs(10);

/// Wait for the event matching `pred`, failing the test with `what` on timeout.
pub async fn expect(
    events: &mut SupervisorEvents,
    what: &str,
    pred: impl FnMut(&SupervisorEvent) -> bool,
) -> SupervisorEvent {
    match events.wait_for(WAIT, pred).await {
        Some(ev) => ev,
        None => panic!("timed out waiting for {what}"),
    }
}

pub fn is_started(child: &'static str) -> impl FnMut(&SupervisorEvent) -> bool {
    move |e| matches!(e, SupervisorEvent::Started { .. }) && e.child() == child
}

pub fn is_removed(child: &'static str) -> impl FnMut(&SupervisorEvent) -> bool {
    move |e| matches!(e, SupervisorEvent::Removed { .. }) && e.child() == child
}

pub async fn ping(actor: &ores_runtime::supervisor::ChildHandle<WorkerMsg>) -> u64 {
    actor
        .call(WorkerMsg::Ping, WAIT)
        .await
        .expect("ping answered")
}
