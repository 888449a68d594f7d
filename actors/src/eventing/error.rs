//! [`EventError`]: what publishing, subscribing and the log can fail with.

use std::time::Duration;

/// An event-bus error, with a message a user can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EventError {
    /// The bus's configuration is not usable.
    #[error("event bus configuration: {0}")]
    Config(String),
    /// A statement on the event log failed.
    #[error("event log: {0}")]
    Database(String),
    /// The event log could not be reached within the publish bound; the event was not
    /// published (nothing was acknowledged).
    #[error(
        "the event log is unreachable: not acknowledged within {waited:?}; the event was not \
         published, publish it again"
    )]
    Unavailable {
        /// How long the publisher waited.
        waited: Duration,
    },
    /// The event could not be encoded as JSON.
    #[error("event on topic `{topic}` does not encode as JSON: {reason}")]
    Encode {
        /// The topic.
        topic: String,
        /// serde's message.
        reason: String,
    },
    /// The event's JSON is larger than the configured limit.
    #[error("event on topic `{topic}` is {size} bytes of JSON, over the limit of {max}")]
    TooLarge {
        /// The topic.
        topic: String,
        /// Its size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// The topic is not a valid dotted name (or pattern).
    #[error("invalid topic `{topic}`: {reason}")]
    Topic {
        /// The topic given.
        topic: String,
        /// What is wrong.
        reason: String,
    },
    /// A stored event does not decode as the subscriber's type.
    #[error("event {id} on `{topic}` does not decode as {target}: {reason}")]
    Decode {
        /// The event id.
        id: String,
        /// The topic.
        topic: String,
        /// The type wanted.
        target: &'static str,
        /// serde's message.
        reason: String,
    },
    /// Publishing to NATS, or a NATS subscription, failed (the bridge).
    #[error("NATS: {0}")]
    Nats(String),
    /// The bus has stopped.
    #[error("the event bus has stopped")]
    Stopped,
}

impl From<sqlx::Error> for EventError {
    fn from(e: sqlx::Error) -> Self {
        Self::Database(e.to_string())
    }
}
