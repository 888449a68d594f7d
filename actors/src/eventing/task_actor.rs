//! The shape the bus's writer, reader and listener share: a task does the work, and the actor is
//! what fails (so that its supervisor restarts it) when the task reports an error.

use ractor::ActorProcessingErr;
use tokio::task::JoinHandle;

use super::error::EventError;

/// The actor's one message: its task failed.
#[derive(Debug)]
pub(crate) struct TaskFailed(pub(crate) EventError);

impl TaskFailed {
    /// The actor's answer: fail with the task's error.
    pub(crate) fn into_failure(self) -> Result<(), ActorProcessingErr> {
        Err(Box::new(self.0))
    }
}

/// The actor's state: its task, stopped when the actor ends (whatever way).
#[derive(Debug)]
pub(crate) struct TaskState(pub(crate) JoinHandle<()>);

impl Drop for TaskState {
    fn drop(&mut self) {
        self.0.abort();
    }
}
