//! The in-process reader: follows the log in commit-safe order and hands each event to the
//! bus's subscribers.

use std::sync::Arc;

use ractor::{Actor, ActorProcessingErr, ActorRef};

use super::bus::BusShared;
use super::record::{fetch, head};
use super::task_actor::{TaskFailed, TaskState};

/// How often an idle reader (no subscribers) moves its offset to the head of the log.
const IDLE_HEAD_EVERY: std::time::Duration = std::time::Duration::from_millis(50);

/// The reader actor (its task reads; the actor fails and restarts when the log is
/// unreachable, and resumes where it was).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct EventReader;

impl Actor for EventReader {
    type Msg = TaskFailed;
    type State = TaskState;
    type Arguments = Arc<BusShared>;

    async fn pre_start(
        &self,
        myself: ActorRef<TaskFailed>,
        shared: Arc<BusShared>,
    ) -> Result<TaskState, ActorProcessingErr> {
        if shared.offset().is_none() {
            // Subscribers get events from now on: start at the head of the log.
            shared.set_offset(head(&shared.pool).await?);
        }
        let task = tokio::spawn(read_loop(shared, myself));
        Ok(TaskState(task))
    }

    async fn handle(
        &self,
        _myself: ActorRef<TaskFailed>,
        msg: TaskFailed,
        _state: &mut TaskState,
    ) -> Result<(), ActorProcessingErr> {
        msg.into_failure()
    }
}

async fn read_loop(shared: Arc<BusShared>, myself: ActorRef<TaskFailed>) {
    let mut wake = shared.wake.subscribe();
    let poll = shared.config.poll_interval;
    loop {
        // Marked seen before reading: a NOTIFY during the read wakes the next wait.
        wake.borrow_and_update();
        if shared.registry.len() == 0 {
            // Nobody to hand events to: move to the head instead of reading them all back (a
            // subscriber gets events from the moment it subscribes). The head is taken before
            // looking again, so one who subscribes meanwhile misses nothing.
            let now = match head(&shared.pool).await {
                Ok(now) => now,
                Err(e) => {
                    let _ = myself.cast(TaskFailed(e));
                    return;
                }
            };
            if shared.registry.len() == 0 {
                if shared.offset().is_none_or(|o| o < now) {
                    shared.set_offset(now);
                }
                // Not on every commit (a subscriber that comes meanwhile starts at most this
                // much earlier than the moment it subscribed), and not at all while nothing is
                // written: until a commit, a subscriber or the poll interval.
                let added = shared.registry.added.notified();
                tokio::pin!(added);
                if tokio::time::timeout(IDLE_HEAD_EVERY.min(poll), added.as_mut())
                    .await
                    .is_err()
                {
                    tokio::select! {
                        _ = wake.changed() => {}
                        () = added.as_mut() => {}
                        () = tokio::time::sleep(poll) => {}
                    }
                }
                continue;
            }
        }
        let Some(after) = shared.offset() else { return };
        match fetch(
            &shared.pool,
            &shared.config.schema,
            after,
            shared.config.read_batch,
        )
        .await
        {
            Ok(events) if !events.is_empty() => {
                for event in &events {
                    shared.registry.dispatch(event);
                }
                if let Some(last) = events.last() {
                    shared.set_offset(last.offset);
                }
            }
            Ok(_) => {
                let _ = tokio::time::timeout(poll, wake.changed()).await;
            }
            Err(e) => {
                tracing::warn!(target: "ores_actors::eventing", error = %e, "event log read failed");
                let _ = myself.cast(TaskFailed(e));
                return;
            }
        }
    }
}
