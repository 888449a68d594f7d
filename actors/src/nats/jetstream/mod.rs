//! JetStream on the supervised connection: stream administration and durable pull consumers
//! that deliver into a handler (an async closure or an actor).
//!
//! Two things differ from ORE's C++ layer on purpose:
//! - [`JetStreamAdmin::ensure_stream`] creates a missing stream *and updates* an existing one
//!   whose subjects or limits differ (ORE created it and never updated it);
//! - a [`DurableConsumer`] acks a message only after its handler succeeded: a failure (an
//!   error, a panic, a timeout) naks it with a backoff delay so that it is redelivered, and
//!   after `max_deliver` deliveries the message goes to a dead-letter subject and is
//!   terminated, so that a poison message never blocks the consumer.
//!
//! Streams are named from the subject prefix: [`stream_name`]`("ores.dev.local2",
//! "workflow")` is `ores_dev_local2_workflow`. Subjects are given relative and sent prefixed,
//! as everywhere in [`crate::nats`].
//!
//! ```no_run
//! use std::time::Duration;
//! use ores_actors::nats::jetstream::{DurableConsumer, HandlerError, JetStreamAdmin, StreamSpec};
//! use ores_actors::nats::{Nats, NatsConfig, nats_subtree};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let nats = Nats::new(NatsConfig::new("nats://127.0.0.1:4222", "ores.dev.local1"))?;
//! let consumer = DurableConsumer::new(&nats, "workflow", "workflow-runner")
//!     .filter("workflow.v1.steps.>")
//!     .max_deliver(5)
//!     .dead_letter("workflow.v1.steps.dead")
//!     .handler(|delivery| async move {
//!         println!("step {} ({} bytes)", delivery.subject, delivery.payload.len());
//!         Ok::<(), HandlerError>(())
//!     });
//! let tree = nats_subtree("nats", &nats).child(consumer).spawn().await?;
//! JetStreamAdmin::new(&nats)
//!     .ensure_stream(&StreamSpec::new("workflow", ["workflow.v1.>"]))
//!     .await?;
//! # let _ = tree; Ok(()) }
//! ```

mod admin;
mod consumer;

pub use admin::{
    ConsumerSummary, EnsureOutcome, EnsuredStream, JetStreamAdmin, JetStreamError, PeekedMessage,
    Storage, StreamSpec, StreamSummary,
};
pub use consumer::{
    ConsumerMsg, DEAD_LETTER_CONSUMER, DEAD_LETTER_DELIVERIES, DEAD_LETTER_ERROR,
    DEAD_LETTER_SEQUENCE, DEAD_LETTER_STREAM, DEAD_LETTER_SUBJECT, Delivery, DurableConsumer,
    HandlerError,
};

/// The stream name for `suffix` under the subject prefix `prefix`, as ORE names them: the
/// prefix with `.` replaced by `_`, then `_`, then the suffix.
///
/// ```
/// use ores_actors::nats::jetstream::stream_name;
/// assert_eq!(stream_name("ores.dev.local2", "workflow"), "ores_dev_local2_workflow");
/// ```
pub fn stream_name(prefix: &str, suffix: &str) -> String {
    super::subject::join_stream_name(prefix, suffix)
}
