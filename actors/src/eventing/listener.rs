//! The NOTIFY listener: one wake-up per writing transaction, turned into a nudge for the
//! readers. At start it checks that its own NOTIFY reaches it, and says so when it does not
//! (behind a pooler in transaction mode, say): readers then rely on polling.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef};
use sqlx::postgres::PgListener;

use super::bus::BusShared;
use super::error::EventError;
use super::task_actor::{TaskFailed, TaskState};

const SELF_CHECK: &str = "ores-bus-self-check";

/// The listener actor.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct NotifyListener;

impl Actor for NotifyListener {
    type Msg = TaskFailed;
    type State = TaskState;
    type Arguments = Arc<BusShared>;

    async fn pre_start(
        &self,
        myself: ActorRef<TaskFailed>,
        shared: Arc<BusShared>,
    ) -> Result<TaskState, ActorProcessingErr> {
        let channel = shared.config.schema.channel();
        let mut listener = PgListener::connect_with(&shared.pool).await?;
        listener.listen(&channel).await?;
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(&channel)
            .bind(SELF_CHECK)
            .execute(&shared.pool)
            .await?;
        let heard = tokio::time::timeout(Duration::from_secs(2), async {
            loop {
                match listener.recv().await {
                    Ok(n) if n.payload() == SELF_CHECK => return true,
                    Ok(_) => {}
                    Err(_) => return false,
                }
            }
        })
        .await
        .unwrap_or(false);
        shared.notify_works.store(heard, Ordering::Relaxed);
        if heard {
            tracing::debug!(target: "ores_actors::eventing", %channel, "NOTIFY reaches the listener");
        } else {
            tracing::warn!(
                target: "ores_actors::eventing",
                %channel,
                poll = ?shared.config.poll_interval,
                "NOTIFY does not reach the listener (a connection pooler in transaction mode?): \
                 readers poll the log instead"
            );
        }
        let task = tokio::spawn(listen_loop(listener, shared, myself));
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

async fn listen_loop(
    mut listener: PgListener,
    shared: Arc<BusShared>,
    myself: ActorRef<TaskFailed>,
) {
    loop {
        // `try_recv` reports a lost connection instead of reconnecting quietly: the actor
        // fails and is restarted (and readers poll meanwhile).
        match listener.try_recv().await {
            Ok(Some(_)) => {
                shared.wake.send_modify(|n| *n = n.wrapping_add(1));
            }
            Ok(None) => {
                let _ = myself.cast(TaskFailed(EventError::Database(
                    "the NOTIFY listener's connection was lost".into(),
                )));
                return;
            }
            Err(e) => {
                let _ = myself.cast(TaskFailed(e.into()));
                return;
            }
        }
    }
}
