//! [`DurableConsumer`]: a durable pull consumer as a supervised actor that hands each message
//! to a handler and acks it only after the handler succeeded.

use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::{self, AckKind, consumer::pull};
use bytes::Bytes;
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use ores_runtime::supervisor::{Backoff, ChildContext, ChildSpec};
use ractor::rpc::CallResult;
use ractor::{Actor, ActorProcessingErr, ActorRef, Message, RpcReplyPort};
use tokio::task::JoinHandle;

use super::admin::{JetStreamError, get_stream};
use super::stream_name;
use crate::nats::{ConnectionEvent, LinkStatus, Nats};

/// Dead-letter header: the subject the message was first published to.
pub const DEAD_LETTER_SUBJECT: &str = "X-Dead-Letter-Subject";
/// Dead-letter header: the stream it was stored in.
pub const DEAD_LETTER_STREAM: &str = "X-Dead-Letter-Stream";
/// Dead-letter header: its sequence in that stream.
pub const DEAD_LETTER_SEQUENCE: &str = "X-Dead-Letter-Sequence";
/// Dead-letter header: the consumer (durable name) that gave up on it.
pub const DEAD_LETTER_CONSUMER: &str = "X-Dead-Letter-Consumer";
/// Dead-letter header: how many times it was delivered.
pub const DEAD_LETTER_DELIVERIES: &str = "X-Dead-Letter-Deliveries";
/// Dead-letter header: the last handler error (one line, at most 1024 bytes).
pub const DEAD_LETTER_ERROR: &str = "X-Dead-Letter-Error";

/// The longest error text put in a header.
const MAX_ERROR_HEADER: usize = 1024;

/// Why a handler did not process a message; the message will be redelivered (or
/// dead-lettered after the last delivery).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct HandlerError(String);

impl HandlerError {
    /// A handler error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.0
    }
}

/// One delivery of a stored message to a handler.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Delivery {
    /// The stream's name.
    pub stream: String,
    /// The subject the message was published to (full, prefixed).
    pub subject: String,
    /// Its headers.
    pub headers: HeaderMap,
    /// Its payload.
    pub payload: Bytes,
    /// Its sequence in the stream.
    pub stream_sequence: u64,
    /// Which delivery this is: 1 the first time, 2 for the first redelivery, …
    pub delivered: u64,
}

type HandlerFn = Arc<dyn Fn(Delivery) -> BoxFuture<'static, Result<(), String>> + Send + Sync>;

/// A durable pull consumer on a stream, run as a supervised actor: build it, then turn it into
/// a [`ChildSpec`] with [`handler`](Self::handler) or [`actor`](Self::actor).
///
/// Each message goes to the handler; it is acked **only after the handler succeeded**. A
/// failure (an `Err`, a panic, or no answer within the handler timeout) naks it with a delay
/// from the backoff, so that it is redelivered. On the `max_deliver`-th delivery a failure
/// sends it to the dead-letter subject, with the `X-Dead-Letter-*` headers
/// ([`DEAD_LETTER_SUBJECT`] …) beside its own, and terminates it, so that it never blocks
/// the consumer. Without a dead-letter subject it is terminated and logged.
///
/// The actor fails, and its supervisor restarts it, when its pull subscription fails or the
/// connection is declared lost; put it after the connection in a
/// [`nats_subtree`](crate::nats::nats_subtree) so that it restarts after the connection.
///
/// ```no_run
/// use std::time::Duration;
/// use ores_actors::nats::jetstream::{DurableConsumer, HandlerError};
/// use ores_runtime::supervisor::Backoff;
/// # fn demo(nats: ores_actors::nats::Nats) -> Result<(), Box<dyn std::error::Error>> {
/// let spec = DurableConsumer::new(&nats, "workflow", "runner")
///     .filter("workflow.v1.steps.>")
///     .max_deliver(5)
///     .backoff(Backoff::exponential(Duration::from_millis(500), Duration::from_secs(30))?)
///     .dead_letter("workflow.v1.steps.dead")
///     .handler(|d| async move {
///         if d.payload.is_empty() {
///             return Err(HandlerError::new("empty step"));
///         }
///         Ok(())
///     });
/// # let _ = spec; Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct DurableConsumer {
    nats: Nats,
    settings: Settings,
}

#[derive(Debug, Clone)]
struct Settings {
    stream: String,
    durable: String,
    filter: Option<String>,
    max_deliver: u32,
    backoff: Backoff,
    dead_letter: Option<String>,
    ack_wait: Duration,
    handler_timeout: Option<Duration>,
    batch: usize,
    start_wait: Duration,
}

impl DurableConsumer {
    /// A consumer named `durable` on the stream `stream_suffix` (named
    /// [`stream_name`]`(prefix, stream_suffix)`, as [`StreamSpec`](super::StreamSpec) names
    /// it), over all its subjects; at most 5 deliveries, redelivery after 1 s doubling up to
    /// 60 s, ack wait 30 s, no dead-letter subject.
    pub fn new(nats: &Nats, stream_suffix: &str, durable: impl Into<String>) -> Self {
        Self {
            settings: Settings {
                stream: stream_name(nats.prefix(), stream_suffix),
                durable: durable.into(),
                filter: None,
                max_deliver: 5,
                backoff: Backoff::exponential(Duration::from_secs(1), Duration::from_secs(60))
                    .unwrap_or_default(),
                dead_letter: None,
                ack_wait: Duration::from_secs(30),
                handler_timeout: None,
                batch: 16,
                start_wait: Duration::from_secs(10),
            },
            nats: nats.clone(),
        }
    }

    /// Only the messages whose subject matches `relative` (prefixed; wildcards allowed).
    pub fn filter(mut self, relative: &str) -> Self {
        self.settings.filter = Some(self.nats.full_subject(relative));
        self
    }

    /// How many times a message is delivered before it is dead-lettered (at least 1).
    pub fn max_deliver(mut self, n: u32) -> Self {
        self.settings.max_deliver = n.max(1);
        self
    }

    /// The delay before a failed message is redelivered: after the `n`-th delivery failed,
    /// [`Backoff::base_delay`]`(n - 1)` (jitter is not applied).
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.settings.backoff = backoff;
        self
    }

    /// Where messages go after their last failed delivery (relative; prefixed).
    pub fn dead_letter(mut self, relative: &str) -> Self {
        self.settings.dead_letter = Some(self.nats.full_subject(relative));
        self
    }

    /// How long the server waits for an ack before it redelivers (default 30 s).
    pub fn ack_wait(mut self, ack_wait: Duration) -> Self {
        self.settings.ack_wait = ack_wait;
        self
    }

    /// How long a handler may take before its delivery counts as failed (default: the ack
    /// wait).
    pub fn handler_timeout(mut self, timeout: Duration) -> Self {
        self.settings.handler_timeout = Some(timeout);
        self
    }

    /// How many messages a pull asks for at once (default 16).
    pub fn batch(mut self, batch: usize) -> Self {
        self.settings.batch = batch.max(1);
        self
    }

    /// How long the actor's start waits for the connection to be up (default 10 s); past it
    /// the start fails and the supervisor retries.
    pub fn start_wait(mut self, wait: Duration) -> Self {
        self.settings.start_wait = wait;
        self
    }

    /// The stream's full name.
    pub fn stream(&self) -> &str {
        &self.settings.stream
    }

    /// The child spec (id `consumer:{durable}`) of a consumer that hands each message to
    /// `handler`, an async fn returning `Result<(), E>`.
    pub fn handler<F, Fut, E>(self, handler: F) -> ChildSpec<ConsumerMsg>
    where
        F: Fn(Delivery) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: fmt::Display + Send + 'static,
    {
        let handler: HandlerFn = Arc::new(move |d| {
            let fut = handler(d);
            Box::pin(async move { fut.await.map_err(|e| e.to_string()) })
        });
        self.spec(handler)
    }

    /// The child spec (id `consumer:{durable}`) of a consumer that hands each message to the
    /// actor `target` as `build(delivery, reply)`; the actor answers on `reply`. A dropped
    /// reply (the actor stopped or panicked) or a stopped actor counts as a failure.
    pub fn actor<M, B>(self, target: ActorRef<M>, build: B) -> ChildSpec<ConsumerMsg>
    where
        M: Message,
        B: Fn(Delivery, RpcReplyPort<Result<(), HandlerError>>) -> M + Send + Sync + 'static,
    {
        let build = Arc::new(build);
        let timeout = self.effective_timeout();
        let handler: HandlerFn = Arc::new(move |d| {
            let target = target.clone();
            let build = Arc::clone(&build);
            Box::pin(async move {
                match target.call(|reply| build(d, reply), Some(timeout)).await {
                    Ok(CallResult::Success(Ok(()))) => Ok(()),
                    Ok(CallResult::Success(Err(e))) => Err(e.0),
                    Ok(CallResult::Timeout) => Err(format!(
                        "actor `{}` did not answer within {timeout:?}",
                        target.get_id()
                    )),
                    Ok(CallResult::SenderError) => Err(format!(
                        "actor `{}` dropped the reply (it stopped or panicked)",
                        target.get_id()
                    )),
                    Err(e) => Err(format!("actor `{}` is not running: {e}", target.get_id())),
                }
            })
        });
        self.spec(handler)
    }

    fn effective_timeout(&self) -> Duration {
        self.settings
            .handler_timeout
            .unwrap_or(self.settings.ack_wait)
    }

    fn spec(self, handler: HandlerFn) -> ChildSpec<ConsumerMsg> {
        let args = Args {
            timeout: self.effective_timeout(),
            nats: self.nats,
            settings: Arc::new(self.settings),
            handler,
        };
        let id = format!("consumer:{}", args.settings.durable);
        ChildSpec::new(id, move |ctx: ChildContext| {
            let args = args.clone();
            async move { ctx.spawn(ConsumerActor, args).await }
        })
    }
}

/// The consumer actor's messages (opaque).
#[derive(Debug)]
pub struct ConsumerMsg(Inner);

#[derive(Debug)]
enum Inner {
    /// The pull loop or the link watcher ended: the actor fails with this reason.
    Stopped(String),
}

struct ConsumerActor;

#[derive(Clone)]
struct Args {
    nats: Nats,
    settings: Arc<Settings>,
    handler: HandlerFn,
    timeout: Duration,
}

struct State {
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for State {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl Actor for ConsumerActor {
    type Msg = ConsumerMsg;
    type State = State;
    type Arguments = Args;

    async fn pre_start(
        &self,
        myself: ActorRef<ConsumerMsg>,
        args: Args,
    ) -> Result<State, ActorProcessingErr> {
        let s = &args.settings;
        // Subscribe before looking, so that a loss right after the check is not missed.
        let mut events = args.nats.events();
        wait_connected(&args.nats, s.start_wait).await?;
        let client = args.nats.client(s.start_wait).await?;
        let context = jetstream::new(client.clone());
        let stream = get_stream(&context, &s.stream).await?;
        let config = pull::Config {
            durable_name: Some(s.durable.clone()),
            filter_subject: s.filter.clone().unwrap_or_default(),
            ack_policy: jetstream::consumer::AckPolicy::Explicit,
            ack_wait: s.ack_wait,
            // Enforced here, so that a message is dead-lettered rather than dropped.
            max_deliver: -1,
            ..Default::default()
        };
        let consumer = stream
            .create_consumer(config)
            .await
            .map_err(|e| JetStreamError::api("create consumer", &s.stream, e))?;
        let messages = consumer
            .stream()
            .max_messages_per_batch(s.batch)
            .expires(Duration::from_secs(20))
            .heartbeat(Duration::from_secs(5))
            .messages()
            .await
            .map_err(|e| JetStreamError::api("pull", &s.stream, e))?;
        tracing::info!(
            target: "ores_actors::nats",
            stream = %s.stream, durable = %s.durable, "JetStream consumer started"
        );
        let worker = Worker {
            args: args.clone(),
            context,
        };
        let me = myself.clone();
        let pump = tokio::spawn(async move {
            let reason = worker.run(messages).await;
            let _ = me.send_message(ConsumerMsg(Inner::Stopped(reason)));
        });
        let watcher = tokio::spawn(async move {
            while let Some(e) = events.recv().await {
                if let ConnectionEvent::Lost { reason } = e {
                    let _ = myself.send_message(ConsumerMsg(Inner::Stopped(format!(
                        "the NATS connection was lost: {reason}"
                    ))));
                    return;
                }
            }
        });
        Ok(State {
            tasks: vec![pump, watcher],
        })
    }

    async fn handle(
        &self,
        _myself: ActorRef<ConsumerMsg>,
        ConsumerMsg(msg): ConsumerMsg,
        _state: &mut State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            Inner::Stopped(reason) => Err(format!("JetStream consumer stopped: {reason}").into()),
        }
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<ConsumerMsg>,
        state: &mut State,
    ) -> Result<(), ActorProcessingErr> {
        for t in &state.tasks {
            t.abort();
        }
        Ok(())
    }
}

async fn wait_connected(nats: &Nats, wait: Duration) -> Result<(), ActorProcessingErr> {
    let mut events = nats.events();
    if nats.status() == LinkStatus::Connected {
        return Ok(());
    }
    let up = events
        .wait_for(wait, |e| {
            matches!(e, ConnectionEvent::Connected | ConnectionEvent::Reconnected)
        })
        .await;
    if up.is_some() || nats.status() == LinkStatus::Connected {
        Ok(())
    } else {
        Err(format!(
            "NATS is not connected (status {:?} after waiting {wait:?})",
            nats.status()
        )
        .into())
    }
}

/// The pull loop: handle, then ack, nak or dead-letter.
struct Worker {
    args: Args,
    context: jetstream::Context,
}

impl Worker {
    /// Runs until the pull subscription fails or ends; returns why.
    async fn run(&self, mut messages: pull::Stream) -> String {
        loop {
            match messages.next().await {
                Some(Ok(msg)) => self.process(msg).await,
                Some(Err(e)) => return format!("pulling from `{}` failed: {e}", self.stream()),
                None => return format!("the pull subscription on `{}` ended", self.stream()),
            }
        }
    }

    fn stream(&self) -> &str {
        &self.args.settings.stream
    }

    async fn process(&self, msg: jetstream::Message) {
        let s = &self.args.settings;
        let (sequence, delivered) = match msg.info() {
            Ok(info) => (
                info.stream_sequence,
                u64::try_from(info.delivered).unwrap_or(1),
            ),
            Err(e) => {
                tracing::warn!(target: "ores_actors::nats", stream = %s.stream, error = %e, "JetStream message without delivery info: skipped");
                return;
            }
        };
        let delivery = Delivery {
            stream: s.stream.clone(),
            subject: msg.subject.to_string(),
            headers: msg.headers.clone().unwrap_or_default(),
            payload: msg.payload.clone(),
            stream_sequence: sequence,
            delivered,
        };
        let max = u64::from(s.max_deliver);
        if delivered > max {
            // A previous attempt ended without an answer (e.g. a crash mid-handler).
            let error = format!("delivered {delivered} times, more than max_deliver {max}");
            self.dead_letter(&msg, &delivery, &error).await;
            return;
        }
        match self.call_handler(delivery.clone()).await {
            Ok(()) => {
                if let Err(e) = msg.double_ack().await {
                    tracing::warn!(target: "ores_actors::nats", stream = %s.stream, sequence, error = %e, "JetStream ack failed: the message will be redelivered");
                }
            }
            Err(error) if delivered >= max => {
                self.dead_letter(&msg, &delivery, &error).await;
            }
            Err(error) => {
                let attempt = u32::try_from(delivered.saturating_sub(1)).unwrap_or(u32::MAX);
                let delay = s.backoff.base_delay(attempt);
                tracing::warn!(
                    target: "ores_actors::nats",
                    stream = %s.stream, durable = %s.durable, sequence, delivered, %error, ?delay,
                    "JetStream handler failed: the message will be redelivered"
                );
                if let Err(e) = msg.ack_with(AckKind::Nak(Some(delay))).await {
                    tracing::warn!(target: "ores_actors::nats", stream = %s.stream, sequence, error = %e, "JetStream nak failed: the message will be redelivered after the ack wait");
                }
            }
        }
    }

    /// The handler's verdict; a panic or a timeout is a failure.
    async fn call_handler(&self, delivery: Delivery) -> Result<(), String> {
        let fut = AssertUnwindSafe((self.args.handler)(delivery)).catch_unwind();
        match tokio::time::timeout(self.args.timeout, fut).await {
            Ok(Ok(result)) => result,
            Ok(Err(panic)) => Err(format!("the handler panicked: {}", panic_message(&*panic))),
            Err(_) => Err(format!(
                "the handler did not finish within {:?}",
                self.args.timeout
            )),
        }
    }

    async fn dead_letter(&self, msg: &jetstream::Message, delivery: &Delivery, error: &str) {
        let s = &self.args.settings;
        let sequence = delivery.stream_sequence;
        let Some(subject) = &s.dead_letter else {
            tracing::error!(
                target: "ores_actors::nats",
                stream = %s.stream, durable = %s.durable, sequence, delivered = delivery.delivered, %error,
                "JetStream message failed its last delivery and no dead-letter subject is set: terminated"
            );
            self.terminate(msg, sequence).await;
            return;
        };
        let mut headers = HeaderMap::new();
        for (name, values) in delivery.headers.iter() {
            // The `Nats-*` headers (message id, expectations) belong to the original publish.
            if name.to_string().to_ascii_lowercase().starts_with("nats-") {
                continue;
            }
            for v in values {
                headers.append(name.clone(), v.clone());
            }
        }
        headers.insert(DEAD_LETTER_SUBJECT, delivery.subject.as_str());
        headers.insert(DEAD_LETTER_STREAM, s.stream.as_str());
        headers.insert(DEAD_LETTER_SEQUENCE, sequence.to_string());
        headers.insert(DEAD_LETTER_CONSUMER, s.durable.as_str());
        headers.insert(DEAD_LETTER_DELIVERIES, delivery.delivered.to_string());
        headers.insert(DEAD_LETTER_ERROR, header_text(error));
        if let Err(e) = self
            .publish_dead_letter(subject, headers, delivery.payload.clone())
            .await
        {
            let delay = s.backoff.base_delay(u32::MAX);
            tracing::error!(
                target: "ores_actors::nats",
                stream = %s.stream, sequence, dead_letter = %subject, error = %e, ?delay,
                "JetStream dead-letter publish failed: the message will be redelivered"
            );
            let _ = msg.ack_with(AckKind::Nak(Some(delay))).await;
            return;
        }
        tracing::warn!(
            target: "ores_actors::nats",
            stream = %s.stream, durable = %s.durable, sequence, delivered = delivery.delivered,
            dead_letter = %subject, %error, "JetStream message dead-lettered"
        );
        self.terminate(msg, sequence).await;
    }

    /// Through JetStream (waiting for the stream's ack) when a stream stores `subject`, else
    /// as a plain publish, flushed.
    async fn publish_dead_letter(
        &self,
        subject: &str,
        headers: HeaderMap,
        payload: Bytes,
    ) -> Result<(), String> {
        use jetstream::context::GetStreamByNameErrorKind as K;
        let stored = match self.context.stream_by_subject(subject).await {
            Ok(_) => true,
            Err(e) if e.kind() == K::NotFound => false,
            Err(e) => return Err(format!("cannot tell which stream stores `{subject}`: {e}")),
        };
        if stored {
            let ack = self
                .context
                .publish_with_headers(subject.to_string(), headers, payload)
                .await
                .map_err(|e| e.to_string())?;
            ack.await.map(|_| ()).map_err(|e| e.to_string())
        } else {
            let client = self.context.client();
            client
                .publish_with_headers(subject.to_string(), headers, payload)
                .await
                .map_err(|e| e.to_string())?;
            client.flush().await.map_err(|e| e.to_string())
        }
    }

    async fn terminate(&self, msg: &jetstream::Message, sequence: u64) {
        if let Err(e) = msg.double_ack_with(AckKind::Term).await {
            tracing::warn!(target: "ores_actors::nats", stream = %self.stream(), sequence, error = %e, "JetStream term failed");
        }
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    ores_runtime::panic::message(panic)
        .unwrap_or("(no message)")
        .to_string()
}

/// One line, at most [`MAX_ERROR_HEADER`] bytes.
fn header_text(error: &str) -> String {
    let mut out: String = error
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if out.len() > MAX_ERROR_HEADER {
        let mut cut = MAX_ERROR_HEADER;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_text_is_one_line_and_bounded() {
        assert_eq!(header_text("bad\r\ninput\t!"), "bad  input !");
        let long = "é".repeat(MAX_ERROR_HEADER);
        let cut = header_text(&long);
        assert!(cut.len() <= MAX_ERROR_HEADER);
        assert!(cut.chars().all(|c| c == 'é'));
    }

    #[test]
    fn panic_messages_are_recovered() {
        let p: Box<dyn std::any::Any + Send> = Box::new("boom");
        assert_eq!(panic_message(&*p), "boom");
        let p: Box<dyn std::any::Any + Send> = Box::new(String::from("bang"));
        assert_eq!(panic_message(&*p), "bang");
        let p: Box<dyn std::any::Any + Send> = Box::new(7_u8);
        assert_eq!(panic_message(&*p), "(no message)");
    }
}
