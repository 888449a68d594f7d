//! [`NatsError`]: why a request, publish or subscription failed.

use std::time::Duration;

/// Why an operation through the NATS connection failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NatsError {
    /// The connection actor has no client yet (it is starting or restarting) and none came
    /// within the wait.
    #[error("not connected to NATS: the connection is {status} (waited {waited:?})")]
    NotConnected {
        /// The link status seen.
        status: String,
        /// How long the call waited.
        waited: Duration,
    },
    /// The link dropped while the request was in flight; it failed at once instead of waiting
    /// for its timeout.
    #[error("the NATS link dropped while the request to `{subject}` was in flight")]
    LinkLost {
        /// The request's subject.
        subject: String,
    },
    /// No service listens on the subject.
    #[error("no responders on `{subject}`: no service is subscribed to it")]
    NoResponders {
        /// The subject.
        subject: String,
    },
    /// No reply within the deadline.
    #[error("request to `{subject}` timed out after {timeout:?}")]
    Timeout {
        /// The subject.
        subject: String,
        /// The deadline.
        timeout: Duration,
    },
    /// The payload is larger than the server accepts.
    #[error(
        "payload of {size} bytes to `{subject}` exceeds the server's max_payload of {max} bytes"
    )]
    PayloadTooLarge {
        /// The subject.
        subject: String,
        /// The payload size.
        size: usize,
        /// The server's limit.
        max: usize,
    },
    /// A subject was rejected.
    #[error("invalid subject: {0}")]
    Subject(String),
    /// A body could not be encoded or decoded.
    #[error(transparent)]
    Codec(#[from] super::error::CodecError),
    /// The responder answered with an error (`Nats-Service-Error` or ORE's `X-Error`).
    #[error("`{subject}` answered with an error{}: {message}", code.as_ref().map(|c| format!(" {c}")).unwrap_or_default())]
    Remote {
        /// The subject.
        subject: String,
        /// The error code (the service protocol's numeric code, or ORE's `X-Error` code).
        code: Option<String>,
        /// The message.
        message: String,
    },
    /// async-nats reported another error.
    #[error("NATS {operation} on `{subject}` failed: {message}")]
    Client {
        /// What was being done.
        operation: &'static str,
        /// The subject.
        subject: String,
        /// The client's message.
        message: String,
    },
}
