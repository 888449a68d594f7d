//! [`JetStreamAdmin`]: ensure, list, inspect and purge streams; peek at and delete messages.

use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::{self, stream};
use bytes::Bytes;
use futures::TryStreamExt;

use super::stream_name;
use crate::nats::{Nats, NatsError};

/// How long an admin call waits for the connection actor to have a client.
const DEFAULT_WAIT: Duration = Duration::from_secs(10);

/// Why a JetStream operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JetStreamError {
    /// No client: the connection is not up.
    #[error(transparent)]
    Nats(#[from] NatsError),
    /// The stream does not exist.
    #[error("stream `{stream}` does not exist")]
    StreamNotFound {
        /// The stream's name.
        stream: String,
    },
    /// No message with that sequence in the stream (never stored, deleted or purged).
    #[error("no message with sequence {sequence} in stream `{stream}`")]
    MessageNotFound {
        /// The stream's name.
        stream: String,
        /// The sequence asked for.
        sequence: u64,
    },
    /// A [`StreamSpec`] or a consumer spec cannot be used as it is.
    #[error("invalid spec for stream `{stream}`: {reason}")]
    InvalidSpec {
        /// The stream's name.
        stream: String,
        /// What is wrong.
        reason: String,
    },
    /// The server or the client reported another error.
    #[error("JetStream {operation} on stream `{stream}` failed: {message}")]
    Api {
        /// What was being done.
        operation: &'static str,
        /// The stream's name (empty when listing).
        stream: String,
        /// The server's or client's message.
        message: String,
    },
}

impl JetStreamError {
    pub(crate) fn api(operation: &'static str, stream: &str, e: impl std::fmt::Display) -> Self {
        Self::Api {
            operation,
            stream: stream.to_string(),
            message: e.to_string(),
        }
    }
}

/// Where a stream keeps its messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Storage {
    /// On disk (the default).
    #[default]
    File,
    /// In memory.
    Memory,
}

impl From<Storage> for stream::StorageType {
    fn from(s: Storage) -> Self {
        match s {
            Storage::File => stream::StorageType::File,
            Storage::Memory => stream::StorageType::Memory,
        }
    }
}

impl From<stream::StorageType> for Storage {
    fn from(s: stream::StorageType) -> Self {
        match s {
            stream::StorageType::File => Storage::File,
            stream::StorageType::Memory => Storage::Memory,
        }
    }
}

/// The stream wanted: name suffix, relative subjects, storage and limits. The stream is named
/// [`stream_name`]`(prefix, suffix)` and its subjects are prefixed.
///
/// ```
/// use std::time::Duration;
/// use ores_actors::nats::jetstream::{Storage, StreamSpec};
/// let spec = StreamSpec::new("workflow", ["workflow.v1.>"])
///     .storage(Storage::Memory)
///     .max_age(Duration::from_secs(3600));
/// assert_eq!(spec.name, "workflow");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSpec {
    /// The name's suffix (after the prefix): letters, digits, `_` and `-`.
    pub name: String,
    /// The subjects, relative to the prefix (wildcards allowed).
    pub subjects: Vec<String>,
    /// Where messages are kept. It cannot change once the stream exists.
    pub storage: Storage,
    /// How long messages are kept; `None`: for ever.
    pub max_age: Option<Duration>,
    /// How many messages are kept at most; `None`: no limit.
    pub max_messages: Option<u64>,
    /// How many bytes are kept at most; `None`: no limit.
    pub max_bytes: Option<u64>,
}

impl StreamSpec {
    /// A file stream named `suffix` over the relative `subjects`, without limits.
    pub fn new<S: Into<String>>(
        suffix: impl Into<String>,
        subjects: impl IntoIterator<Item = S>,
    ) -> Self {
        Self {
            name: suffix.into(),
            subjects: subjects.into_iter().map(Into::into).collect(),
            storage: Storage::File,
            max_age: None,
            max_messages: None,
            max_bytes: None,
        }
    }

    /// Where messages are kept.
    pub fn storage(mut self, storage: Storage) -> Self {
        self.storage = storage;
        self
    }

    /// How long messages are kept.
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = Some(max_age);
        self
    }

    /// How many messages are kept at most.
    pub fn max_messages(mut self, max: u64) -> Self {
        self.max_messages = Some(max);
        self
    }

    /// How many bytes are kept at most.
    pub fn max_bytes(mut self, max: u64) -> Self {
        self.max_bytes = Some(max);
        self
    }

    fn validate(&self, full_name: &str) -> Result<(), JetStreamError> {
        let invalid = |reason: String| JetStreamError::InvalidSpec {
            stream: full_name.to_string(),
            reason,
        };
        if self.name.is_empty()
            || !self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(invalid(format!(
                "the name suffix `{}` must be non-empty letters, digits, `_` or `-`",
                self.name
            )));
        }
        if self.subjects.is_empty() {
            return Err(invalid("a stream needs at least one subject".into()));
        }
        for s in &self.subjects {
            if s.split('.')
                .any(|t| t.is_empty() || t.chars().any(char::is_whitespace))
            {
                return Err(invalid(format!(
                    "subject `{s}` has an empty token or whitespace"
                )));
            }
        }
        if self.max_age == Some(Duration::ZERO) {
            return Err(invalid(
                "max_age of zero: leave it unset to keep messages for ever".into(),
            ));
        }
        Ok(())
    }
}

/// What [`JetStreamAdmin::ensure_stream`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnsureOutcome {
    /// The stream did not exist and was created.
    Created,
    /// The stream existed with other subjects or limits, and was updated.
    Updated {
        /// What changed, e.g. `subjects`, `max_age`.
        changed: Vec<&'static str>,
    },
    /// The stream existed as specified.
    Unchanged,
}

/// The result of [`JetStreamAdmin::ensure_stream`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnsuredStream {
    /// The stream's full name.
    pub name: String,
    /// What was done.
    pub outcome: EnsureOutcome,
}

/// A stream's configuration and state, in short.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StreamSummary {
    /// The stream's name.
    pub name: String,
    /// Its subjects (full, prefixed).
    pub subjects: Vec<String>,
    /// Its storage.
    pub storage: Storage,
    /// Its maximum message age (`None`: for ever).
    pub max_age: Option<Duration>,
    /// How many messages it holds.
    pub messages: u64,
    /// How many bytes it holds.
    pub bytes: u64,
    /// The first sequence still held.
    pub first_sequence: u64,
    /// The last sequence assigned.
    pub last_sequence: u64,
    /// How many consumers it has.
    pub consumer_count: usize,
}

impl From<stream::Info> for StreamSummary {
    fn from(info: stream::Info) -> Self {
        Self {
            name: info.config.name,
            subjects: info.config.subjects,
            storage: info.config.storage.into(),
            max_age: (!info.config.max_age.is_zero()).then_some(info.config.max_age),
            messages: info.state.messages,
            bytes: info.state.bytes,
            first_sequence: info.state.first_sequence,
            last_sequence: info.state.last_sequence,
            consumer_count: info.state.consumer_count,
        }
    }
}

/// A consumer of a stream, in short.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConsumerSummary {
    /// The consumer's name (the durable name for durable consumers).
    pub name: String,
    /// Whether it is durable.
    pub durable: bool,
    /// Its filter subjects (full).
    pub filter_subjects: Vec<String>,
    /// Its server-side delivery limit (`-1`: none).
    pub max_deliver: i64,
    /// Messages not yet delivered.
    pub pending: u64,
    /// Messages delivered and not yet acknowledged.
    pub ack_pending: usize,
    /// Messages delivered more than once.
    pub redelivered: usize,
    /// The stream sequence up to which every message is acknowledged.
    pub ack_floor: u64,
    /// The last stream sequence delivered.
    pub delivered: u64,
}

impl From<jetstream::consumer::Info> for ConsumerSummary {
    fn from(info: jetstream::consumer::Info) -> Self {
        let mut filter_subjects = info.config.filter_subjects;
        if !info.config.filter_subject.is_empty() {
            filter_subjects.insert(0, info.config.filter_subject);
        }
        Self {
            name: info.name,
            durable: info.config.durable_name.is_some(),
            filter_subjects,
            max_deliver: info.config.max_deliver,
            pending: info.num_pending,
            ack_pending: info.num_ack_pending,
            redelivered: info.num_redelivered,
            ack_floor: info.ack_floor.stream_sequence,
            delivered: info.delivered.stream_sequence,
        }
    }
}

/// One stored message, as [`JetStreamAdmin::peek_message`] returns it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PeekedMessage {
    /// The stream's name.
    pub stream: String,
    /// The stream sequence.
    pub sequence: u64,
    /// The subject it was published to (full).
    pub subject: String,
    /// Its headers.
    pub headers: HeaderMap,
    /// Its payload.
    pub payload: Bytes,
}

/// Stream administration through the supervised connection: a cheap clone of the [`Nats`]
/// handle.
///
/// ```no_run
/// use ores_actors::nats::jetstream::{EnsureOutcome, JetStreamAdmin, StreamSpec};
/// # async fn demo(nats: ores_actors::nats::Nats) -> Result<(), Box<dyn std::error::Error>> {
/// let admin = JetStreamAdmin::new(&nats);
/// let ensured = admin.ensure_stream(&StreamSpec::new("workflow", ["workflow.v1.>"])).await?;
/// if ensured.outcome != EnsureOutcome::Unchanged {
///     println!("{}: {:?}", ensured.name, ensured.outcome);
/// }
/// let first = admin.peek_message(&ensured.name, 1).await?;
/// println!("{} {} bytes", first.subject, first.payload.len());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct JetStreamAdmin {
    nats: Nats,
    wait: Duration,
}

impl JetStreamAdmin {
    /// An admin on `nats`; calls wait up to 10 s for the connection to have a client.
    pub fn new(nats: &Nats) -> Self {
        Self {
            nats: nats.clone(),
            wait: DEFAULT_WAIT,
        }
    }

    /// How long calls wait for the connection to have a client.
    pub fn wait(mut self, wait: Duration) -> Self {
        self.wait = wait;
        self
    }

    /// The full name of the stream `suffix` under this connection's prefix.
    pub fn stream_name(&self, suffix: &str) -> String {
        stream_name(self.nats.prefix(), suffix)
    }

    pub(crate) async fn context(&self) -> Result<jetstream::Context, JetStreamError> {
        Ok(jetstream::new(self.nats.client(self.wait).await?))
    }

    async fn stream(&self, name: &str) -> Result<jetstream::stream::Stream, JetStreamError> {
        get_stream(&self.context().await?, name).await
    }

    /// Create the stream when it is missing; update it when its subjects or limits differ
    /// from `spec` (other settings made elsewhere are kept).
    ///
    /// # Errors
    /// [`JetStreamError::InvalidSpec`] for a bad spec or a storage change (the server cannot
    /// change a stream's storage), else not connected or the server's refusal (e.g. subjects
    /// that overlap another stream's).
    pub async fn ensure_stream(&self, spec: &StreamSpec) -> Result<EnsuredStream, JetStreamError> {
        let name = self.stream_name(&spec.name);
        spec.validate(&name)?;
        let subjects: Vec<String> = spec
            .subjects
            .iter()
            .map(|s| self.nats.full_subject(s))
            .collect();
        let max_messages = limit(spec.max_messages);
        let max_bytes = limit(spec.max_bytes);
        let max_age = spec.max_age.unwrap_or(Duration::ZERO);
        let context = self.context().await?;
        let existing = match context.get_stream(&name).await {
            Ok(mut s) => Some(
                s.info()
                    .await
                    .map_err(|e| JetStreamError::api("stream info", &name, e))?
                    .config
                    .clone(),
            ),
            Err(e) => match stream_error(&name, "stream info", e) {
                JetStreamError::StreamNotFound { .. } => None,
                other => return Err(other),
            },
        };
        let Some(mut config) = existing else {
            let config = stream::Config {
                name: name.clone(),
                subjects,
                storage: spec.storage.into(),
                max_age,
                max_messages,
                max_bytes,
                duplicate_window: duplicate_window(max_age, Duration::from_secs(120)),
                ..Default::default()
            };
            context
                .create_stream(config)
                .await
                .map_err(|e| JetStreamError::api("create", &name, e))?;
            tracing::info!(target: "ores_actors::nats", stream = %name, "JetStream stream created");
            return Ok(EnsuredStream {
                name,
                outcome: EnsureOutcome::Created,
            });
        };
        let storage: Storage = config.storage.into();
        if storage != spec.storage {
            return Err(JetStreamError::InvalidSpec {
                stream: name,
                reason: format!(
                    "storage cannot change from {storage:?} to {:?}; delete the stream to recreate it",
                    spec.storage
                ),
            });
        }
        let mut changed = Vec::new();
        let mut want = subjects.clone();
        want.sort();
        want.dedup();
        let mut have = config.subjects.clone();
        have.sort();
        if want != have {
            changed.push("subjects");
            config.subjects = subjects;
        }
        if config.max_age != max_age {
            changed.push("max_age");
            config.max_age = max_age;
            config.duplicate_window = duplicate_window(max_age, config.duplicate_window);
        }
        if limit_of(config.max_messages) != limit_of(max_messages) {
            changed.push("max_messages");
            config.max_messages = max_messages;
        }
        if limit_of(config.max_bytes) != limit_of(max_bytes) {
            changed.push("max_bytes");
            config.max_bytes = max_bytes;
        }
        if changed.is_empty() {
            return Ok(EnsuredStream {
                name,
                outcome: EnsureOutcome::Unchanged,
            });
        }
        context
            .update_stream(config)
            .await
            .map_err(|e| JetStreamError::api("update", &name, e))?;
        tracing::info!(target: "ores_actors::nats", stream = %name, ?changed, "JetStream stream updated");
        Ok(EnsuredStream {
            name,
            outcome: EnsureOutcome::Updated { changed },
        })
    }

    /// The streams whose names start with this connection's prefix (`ores_dev_local1_…`).
    ///
    /// # Errors
    /// Not connected, or the server's error.
    pub async fn list_streams(&self) -> Result<Vec<StreamSummary>, JetStreamError> {
        let own = stream_name(self.nats.prefix(), "");
        Ok(self
            .list_all_streams()
            .await?
            .into_iter()
            .filter(|s| s.name.starts_with(&own))
            .collect())
    }

    /// Every stream on the server (of this account), sorted by name.
    ///
    /// # Errors
    /// Not connected, or the server's error.
    pub async fn list_all_streams(&self) -> Result<Vec<StreamSummary>, JetStreamError> {
        let context = self.context().await?;
        let mut all: Vec<StreamSummary> = context
            .streams()
            .map_ok(StreamSummary::from)
            .try_collect()
            .await
            .map_err(|e| JetStreamError::api("list", "", e))?;
        all.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(all)
    }

    /// The stream `name`'s configuration and state.
    ///
    /// # Errors
    /// [`JetStreamError::StreamNotFound`], not connected, or the server's error.
    pub async fn stream_info(&self, name: &str) -> Result<StreamSummary, JetStreamError> {
        let stream = self.stream(name).await?;
        Ok(stream.cached_info().clone().into())
    }

    /// Remove every message of the stream `name`; returns how many were removed.
    ///
    /// # Errors
    /// [`JetStreamError::StreamNotFound`], not connected, or the server's error.
    pub async fn purge_stream(&self, name: &str) -> Result<u64, JetStreamError> {
        let stream = self.stream(name).await?;
        let response = stream
            .purge()
            .await
            .map_err(|e| JetStreamError::api("purge", name, e))?;
        Ok(response.purged)
    }

    /// Delete the stream `name` with its messages and consumers; `false` if it did not exist.
    ///
    /// # Errors
    /// Not connected, or the server's error.
    pub async fn delete_stream(&self, name: &str) -> Result<bool, JetStreamError> {
        let context = self.context().await?;
        match context.delete_stream(name).await {
            Ok(status) => Ok(status.success),
            Err(e) => match stream_error(name, "delete", e) {
                JetStreamError::StreamNotFound { .. } => Ok(false),
                other => Err(other),
            },
        }
    }

    /// The consumers of the stream `name`, sorted by name.
    ///
    /// # Errors
    /// [`JetStreamError::StreamNotFound`], not connected, or the server's error.
    pub async fn list_consumers(&self, name: &str) -> Result<Vec<ConsumerSummary>, JetStreamError> {
        let stream = self.stream(name).await?;
        let mut all: Vec<ConsumerSummary> = stream
            .consumers()
            .map_ok(ConsumerSummary::from)
            .try_collect()
            .await
            .map_err(|e| JetStreamError::api("list consumers", name, e))?;
        all.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(all)
    }

    /// The message at `sequence` in the stream `name`, left in place.
    ///
    /// # Errors
    /// [`JetStreamError::StreamNotFound`], [`JetStreamError::MessageNotFound`], not
    /// connected, or the server's error.
    pub async fn peek_message(
        &self,
        name: &str,
        sequence: u64,
    ) -> Result<PeekedMessage, JetStreamError> {
        use jetstream::stream::LastRawMessageErrorKind as K;
        let stream = self.stream(name).await?;
        let not_found = || JetStreamError::MessageNotFound {
            stream: name.to_string(),
            sequence,
        };
        match stream.get_raw_message(sequence).await {
            Ok(m) => Ok(PeekedMessage {
                stream: name.to_string(),
                sequence: m.sequence,
                subject: m.subject.to_string(),
                headers: m.headers,
                payload: m.payload,
            }),
            Err(e) => match e.kind() {
                K::NoMessageFound => Err(not_found()),
                K::JetStream(j) if is_no_message(&j) => Err(not_found()),
                _ => Err(JetStreamError::api("peek", name, e)),
            },
        }
    }

    /// Delete the message at `sequence` from the stream `name`.
    ///
    /// # Errors
    /// [`JetStreamError::StreamNotFound`], [`JetStreamError::MessageNotFound`], not
    /// connected, or the server's error.
    pub async fn delete_message(&self, name: &str, sequence: u64) -> Result<(), JetStreamError> {
        use jetstream::stream::DeleteMessageErrorKind as K;
        let stream = self.stream(name).await?;
        let not_found = || JetStreamError::MessageNotFound {
            stream: name.to_string(),
            sequence,
        };
        match stream.delete_message(sequence).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(not_found()),
            Err(e) => match e.kind() {
                K::JetStream(j) if is_no_message(&j) => Err(not_found()),
                _ => Err(JetStreamError::api("delete message", name, e)),
            },
        }
    }
}

/// Get a stream (with its info), mapping "not found" to its own error.
pub(crate) async fn get_stream(
    context: &jetstream::Context,
    name: &str,
) -> Result<jetstream::stream::Stream, JetStreamError> {
    context
        .get_stream(name)
        .await
        .map_err(|e| stream_error(name, "stream info", e))
}

fn stream_error(
    name: &str,
    operation: &'static str,
    e: jetstream::context::GetStreamError,
) -> JetStreamError {
    use jetstream::context::GetStreamErrorKind as K;
    match e.kind() {
        K::JetStream(j) if j.error_code() == jetstream::ErrorCode::STREAM_NOT_FOUND => {
            JetStreamError::StreamNotFound {
                stream: name.to_string(),
            }
        }
        _ => JetStreamError::api(operation, name, e),
    }
}

/// The server's codes for a missing message: 10037 "no message found", 10043 "sequence not
/// found" (what deleting an absent sequence answers).
fn is_no_message(e: &jetstream::Error) -> bool {
    const SEQUENCE_NOT_FOUND: jetstream::ErrorCode = jetstream::ErrorCode(10043);
    let code = e.error_code();
    code == jetstream::ErrorCode::NO_MESSAGE_FOUND || code == SEQUENCE_NOT_FOUND
}

/// `None` → `-1` (the server's "no limit").
fn limit(v: Option<u64>) -> i64 {
    v.map_or(-1, |v| i64::try_from(v).unwrap_or(i64::MAX))
}

/// The server reports "no limit" as `-1` (or `0` when never set).
fn limit_of(v: i64) -> Option<i64> {
    (v > 0).then_some(v)
}

/// The duplicate window may not exceed the maximum age.
fn duplicate_window(max_age: Duration, current: Duration) -> Duration {
    if max_age.is_zero() || current <= max_age {
        current
    } else {
        max_age
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_map_none_to_the_servers_unlimited() {
        assert_eq!(limit(None), -1);
        assert_eq!(limit(Some(10)), 10);
        assert_eq!(limit_of(-1), None);
        assert_eq!(limit_of(0), None);
        assert_eq!(limit_of(5), Some(5));
    }

    #[test]
    fn the_duplicate_window_never_exceeds_max_age() {
        let two_min = Duration::from_secs(120);
        assert_eq!(duplicate_window(Duration::ZERO, two_min), two_min);
        assert_eq!(
            duplicate_window(Duration::from_secs(60), two_min),
            Duration::from_secs(60)
        );
        assert_eq!(duplicate_window(Duration::from_secs(600), two_min), two_min);
    }

    #[test]
    fn specs_are_checked_before_anything_is_sent() {
        let ok = StreamSpec::new("workflow", ["workflow.v1.>"]);
        assert!(ok.validate("s").is_ok());
        for bad in [
            StreamSpec::new("", ["a"]),
            StreamSpec::new("a.b", ["a"]),
            StreamSpec::new("a", Vec::<String>::new()),
            StreamSpec::new("a", ["a..b"]),
            StreamSpec::new("a", ["a b"]),
            StreamSpec::new("a", ["a"]).max_age(Duration::ZERO),
        ] {
            let err = bad.validate("s").err();
            assert!(
                matches!(err, Some(JetStreamError::InvalidSpec { .. })),
                "{bad:?}"
            );
        }
    }
}
