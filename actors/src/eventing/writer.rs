//! The log writer: a supervised actor whose task takes publishes from a queue and writes them
//! in batches, one transaction (and one NOTIFY) per batch: group commit.

use std::sync::Arc;

use ractor::{Actor, ActorProcessingErr, ActorRef};
use tokio::sync::{mpsc, oneshot};

use super::bus::BusShared;
use super::error::EventError;
use super::record::{NewEvent, insert};
use super::task_actor::{TaskFailed, TaskState};

/// One publish waiting for the log: its events and where to acknowledge them.
#[derive(Debug)]
pub(crate) struct WriteRequest {
    /// Shared with the publisher, which sends the same events again to the next writer if
    /// this one fails.
    pub(crate) events: Arc<Vec<NewEvent>>,
    pub(crate) ack: oneshot::Sender<Result<(), EventError>>,
}

/// How many publishes may wait for the writer.
const QUEUE: usize = 16_384;

/// The writer actor (its work is done by its task; the actor is what fails and restarts).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct EventWriter;

impl Actor for EventWriter {
    type Msg = TaskFailed;
    type State = TaskState;
    type Arguments = Arc<BusShared>;

    async fn pre_start(
        &self,
        myself: ActorRef<TaskFailed>,
        shared: Arc<BusShared>,
    ) -> Result<TaskState, ActorProcessingErr> {
        super::schema::migrate(&shared.pool, &shared.config.schema).await?;
        let (tx, rx) = mpsc::channel(QUEUE);
        shared.set_writer(Some(tx));
        let task = tokio::spawn(write_loop(Arc::clone(&shared), rx, myself));
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

    async fn post_stop(
        &self,
        _myself: ActorRef<TaskFailed>,
        _state: &mut TaskState,
    ) -> Result<(), ActorProcessingErr> {
        Ok(())
    }
}

/// Statements the writer keeps in flight at once, at most: a batch is being committed
/// (waiting for the WAL flush) while the next fills and is written; more only made batches
/// smaller and the server busier here. Fewer on a small pool, so
/// that the listener and the readers always find a connection.
const PIPELINE: usize = 2;

fn pipeline(pool: &sqlx::PgPool) -> usize {
    let max = usize::try_from(pool.options().get_max_connections()).unwrap_or(1);
    max.saturating_sub(2).clamp(1, PIPELINE)
}

async fn write_loop(
    shared: Arc<BusShared>,
    mut rx: mpsc::Receiver<WriteRequest>,
    myself: ActorRef<TaskFailed>,
) {
    let batch_max = shared.config.batch_max;
    let slots = Arc::new(tokio::sync::Semaphore::new(pipeline(&shared.pool)));
    while let Some(first) = rx.recv().await {
        // A slot first: while all are taken, publishes keep queueing and join this batch.
        let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
            return;
        };
        let mut count = first.events.len();
        let mut batch = vec![first];
        while count < batch_max {
            match rx.try_recv() {
                Ok(next) => {
                    count += next.events.len();
                    batch.push(next);
                }
                Err(_) => break,
            }
        }
        let shared = Arc::clone(&shared);
        let myself = myself.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let events: Vec<&NewEvent> = batch.iter().flat_map(|r| r.events.iter()).collect();
            let written = write(&shared, &events).await;
            drop(events);
            match written {
                Ok(()) => {
                    // In-process readers need not wait for the NOTIFY's round trip.
                    shared.wake.send_modify(|n| *n = n.wrapping_add(1));
                    for request in batch {
                        let _ = request.ack.send(Ok(()));
                    }
                }
                Err(e) => {
                    tracing::warn!(target: "ores_actors::eventing", error = %e, events = count, "event log write failed");
                    for request in batch {
                        let _ = request.ack.send(Err(e.clone()));
                    }
                    // Publishers retry on the next writer; this one fails and is restarted.
                    shared.set_writer(None);
                    let _ = myself.cast(TaskFailed(e));
                }
            }
        });
    }
}

async fn write(shared: &BusShared, events: &[&NewEvent]) -> Result<(), EventError> {
    // One statement in its own implicit transaction: the rows and the NOTIFY commit together,
    // in one round trip (BEGIN, COPY, NOTIFY, COMMIT would take five).
    insert(&shared.pool, &shared.config.schema, events).await?;
    Ok(())
}
