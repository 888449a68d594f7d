//! The typed client API on [`Nats`]: requests, publishing, subscriptions and scatter/gather,
//! with ORE's headers, the wire codec and W3C trace context.

use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use async_nats::HeaderMap;
use futures::{Stream, StreamExt};
use ractor::{ActorRef, Message};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::Instrument;

use super::client_error::NatsError;
use super::codec::Codec;
use super::connection::Nats;
use super::error::{CodecError, HeaderError};
use super::headers::{ERROR, RequestHeaders, SERVICE_ERROR, SERVICE_ERROR_CODE, TIMEOUT_MS, name};
use super::state::LinkStatus;
use super::subject::{Subject, SubjectPattern};

/// Options of one request.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct RequestOptions {
    /// The headers to send (a new correlation id and trace when `None`). Their trace context
    /// is continued: the request carries a child span of `traceparent`, or a new trace.
    pub headers: Option<RequestHeaders>,
    /// The deadline (the configured request timeout when `None`).
    pub timeout: Option<Duration>,
}

impl RequestOptions {
    /// Send these headers (e.g. the incoming request's, to propagate the correlation id,
    /// tenant, tokens and trace).
    pub fn headers(mut self, headers: RequestHeaders) -> Self {
        self.headers = Some(headers);
        self
    }

    /// Use this deadline instead of the configured one.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
}

/// A decoded reply, with its headers.
#[derive(Debug, Clone)]
pub struct Reply<T> {
    /// The body.
    pub body: T,
    /// The reply's headers.
    pub headers: Option<HeaderMap>,
}

/// When scatter/gather stops collecting replies; whichever comes first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gather {
    /// Stop after this many replies.
    pub max_replies: usize,
    /// Stop after this long in all.
    pub max_wait: Duration,
    /// Stop when no reply came for this long (after the first one).
    pub quiet_gap: Option<Duration>,
}

impl Gather {
    /// Collect for at most `max_wait`.
    pub fn within(max_wait: Duration) -> Self {
        Self {
            max_replies: usize::MAX,
            max_wait,
            quiet_gap: None,
        }
    }

    /// Stop after `n` replies.
    pub fn replies(mut self, n: usize) -> Self {
        self.max_replies = n;
        self
    }

    /// Stop after a quiet gap.
    pub fn quiet_gap(mut self, gap: Duration) -> Self {
        self.quiet_gap = Some(gap);
        self
    }
}

/// One message of a [`Subscription`], decoded.
#[derive(Debug)]
pub struct Delivery<T> {
    /// The subject it was sent to, without the prefix.
    pub subject: String,
    /// Where to reply, for a request.
    pub reply: Option<String>,
    /// Its headers.
    pub headers: Option<HeaderMap>,
    /// The decoded body, or why it could not be decoded (the message is not lost: its raw
    /// body is in the error's context).
    pub body: Result<T, CodecError>,
}

impl<T> Delivery<T> {
    /// The ORE request headers of this message: correlation id, session, workspace, tenant,
    /// tokens and trace context.
    ///
    /// # Errors
    /// [`HeaderError`] when an authorization header is malformed.
    pub fn request_headers(&self) -> Result<RequestHeaders, HeaderError> {
        match &self.headers {
            Some(h) => RequestHeaders::from_header_map(h),
            None => Ok(RequestHeaders::new()),
        }
    }

    /// A `nats.handle` tracing span for handling this message, in the sender's trace: it
    /// records the subject, the correlation id and a child `traceparent` of the sender's, so a
    /// request is one trace across services (`nats.request` on the sending side).
    pub fn span(&self) -> tracing::Span {
        let headers = self.request_headers().unwrap_or_default().for_downstream();
        tracing::info_span!(
            target: "ores_actors::nats",
            "nats.handle",
            subject = %self.subject,
            correlation_id = %headers.correlation_id,
            traceparent = %headers.traceparent.map(|t| t.to_string()).unwrap_or_default(),
        )
    }
}

/// A subscription whose messages are decoded into `T`. A [`Stream`]; dropping it
/// unsubscribes.
#[derive(Debug)]
pub struct Subscription<T> {
    inner: async_nats::Subscriber,
    codec: Codec,
    prefix_len: usize,
    _t: PhantomData<fn() -> T>,
}

impl<T: DeserializeOwned> Subscription<T> {
    fn deliver(&self, msg: async_nats::Message) -> Delivery<T> {
        let subject = msg.subject.as_str();
        let relative = if subject.starts_with("_INBOX") {
            subject.to_string()
        } else {
            subject
                .get(self.prefix_len..)
                .unwrap_or(subject)
                .to_string()
        };
        Delivery {
            body: self.codec.decode(msg.headers.as_ref(), &msg.payload),
            subject: relative,
            reply: msg.reply.map(|r| r.to_string()),
            headers: msg.headers,
        }
    }

    /// Deliver every message into `actor`'s mailbox (converted with `From`), until the actor
    /// stops or the subscription ends. Returns the forwarding task; aborting it unsubscribes.
    pub fn deliver_to<M>(mut self, actor: ActorRef<M>) -> tokio::task::JoinHandle<()>
    where
        T: Send + 'static,
        M: Message + From<Delivery<T>>,
    {
        tokio::spawn(async move {
            while let Some(d) = self.next().await {
                if actor.send_message(M::from(d)).is_err() {
                    return;
                }
            }
        })
    }
}

impl<T: DeserializeOwned> Stream for Subscription<T> {
    type Item = Delivery<T>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match Pin::new(&mut self.inner).poll_next(cx) {
            Poll::Ready(Some(msg)) => Poll::Ready(Some(self.deliver(msg))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T> Unpin for Subscription<T> {}

impl Nats {
    /// The codec for the configured wire format.
    pub fn codec(&self) -> Codec {
        Codec::new(self.config().wire_format)
    }

    /// Send `request` to `{prefix}.{subject}` and decode the reply. A new correlation id and
    /// trace; the configured deadline.
    ///
    /// # Errors
    /// [`NatsError`]: encoding, not connected, link lost, no responders, timeout, a remote
    /// error reply, or a reply that does not decode.
    pub async fn request<Req, Resp>(
        &self,
        subject: &Subject,
        request: &Req,
    ) -> Result<Resp, NatsError>
    where
        Req: Serialize + ?Sized,
        Resp: DeserializeOwned,
    {
        self.request_with(subject, request, RequestOptions::default())
            .await
            .map(|r| r.body)
    }

    /// [`request`](Self::request) with headers and a deadline of the caller's.
    ///
    /// # Errors
    /// As [`request`](Self::request).
    pub async fn request_with<Req, Resp>(
        &self,
        subject: &Subject,
        request: &Req,
        options: RequestOptions,
    ) -> Result<Reply<Resp>, NatsError>
    where
        Req: Serialize + ?Sized,
        Resp: DeserializeOwned,
    {
        let mut headers = options.headers.unwrap_or_default();
        // Continue the caller's trace as a child span, or start one (in place: no clone).
        let traceparent = headers
            .traceparent
            .map_or_else(super::headers::TraceParent::new_root, |t| t.child());
        headers.traceparent = Some(traceparent);
        let span = tracing::debug_span!(
            target: "ores_actors::nats",
            "nats.request",
            subject = %subject,
            correlation_id = %headers.correlation_id,
            traceparent = %traceparent,
        );
        let codec = self.codec();
        let encoded = codec.encode(request)?;
        let mut map = headers.into_header_map();
        encoded.write_headers(&mut map);
        // The deadline travels with the request, so a service stops working on it when the
        // caller has given up.
        let timeout = options.timeout.unwrap_or(self.config().request_timeout);
        map.insert(name(TIMEOUT_MS), timeout.as_millis().to_string());
        let in_flight = self.request_bytes(subject.as_str(), map, encoded.body, Some(timeout));
        // A disabled span (the usual case in production) costs nothing to skip.
        let msg = if span.is_disabled() {
            in_flight.await?
        } else {
            in_flight.instrument(span).await?
        };
        if let Some(error) =
            remote_error(|| self.full_subject(subject.as_str()), msg.headers.as_ref())
        {
            return Err(error);
        }
        let body = codec.decode(msg.headers.as_ref(), &msg.payload)?;
        Ok(Reply {
            body,
            headers: msg.headers,
        })
    }

    /// Publish `value` to `{prefix}.{subject}`, with a new correlation id.
    ///
    /// # Errors
    /// [`NatsError`]: encoding, not connected, payload too large.
    pub async fn publish<T: Serialize + ?Sized>(
        &self,
        subject: &Subject,
        value: &T,
    ) -> Result<(), NatsError> {
        let encoded = self.codec().encode(value)?;
        let mut map = RequestHeaders::new().to_header_map();
        encoded.write_headers(&mut map);
        self.publish_bytes(subject.as_str(), map, encoded.body)
            .await
    }

    /// Subscribe to `{prefix}.{pattern}`; messages are decoded into `T`.
    ///
    /// # Errors
    /// [`NatsError`]: not connected, client error.
    pub async fn subscribe<T: DeserializeOwned>(
        &self,
        pattern: &SubjectPattern,
    ) -> Result<Subscription<T>, NatsError> {
        self.typed(pattern, None).await
    }

    /// Subscribe to `{prefix}.{pattern}` in queue group `queue` (one member of the group gets
    /// each message).
    ///
    /// # Errors
    /// [`NatsError`]: not connected, client error.
    pub async fn queue_subscribe<T: DeserializeOwned>(
        &self,
        pattern: &SubjectPattern,
        queue: &str,
    ) -> Result<Subscription<T>, NatsError> {
        self.typed(pattern, Some(queue)).await
    }

    async fn typed<T: DeserializeOwned>(
        &self,
        pattern: &SubjectPattern,
        queue: Option<&str>,
    ) -> Result<Subscription<T>, NatsError> {
        let inner = self.subscribe_raw(pattern.as_str(), queue).await?;
        Ok(Subscription {
            inner,
            codec: self.codec(),
            prefix_len: self.prefix().len() + 1,
            _t: PhantomData,
        })
    }

    /// Scatter/gather: send `request` to `{prefix}.{subject}` and collect the replies of every
    /// responder until `gather` says stop. Replies that do not decode are skipped (and logged).
    ///
    /// # Errors
    /// [`NatsError`]: encoding, not connected, client error.
    pub async fn request_many<Req, Resp>(
        &self,
        subject: &Subject,
        request: &Req,
        gather: Gather,
    ) -> Result<Vec<Resp>, NatsError>
    where
        Req: Serialize + ?Sized,
        Resp: DeserializeOwned,
    {
        let client = self.client(self.config().request_timeout).await?;
        let codec = self.codec();
        let encoded = codec.encode(request)?;
        let mut map = RequestHeaders::new().for_downstream().to_header_map();
        encoded.write_headers(&mut map);
        let full = self.full_subject(subject.as_str());
        let inbox = client.new_inbox();
        let mut replies = client
            .subscribe(inbox.clone())
            .await
            .map_err(|e| NatsError::Client {
                operation: "subscribe",
                subject: inbox.clone(),
                message: e.to_string(),
            })?;
        client
            .publish_with_reply_and_headers(full.clone(), inbox, map, encoded.body)
            .await
            .map_err(|e| NatsError::Client {
                operation: "publish",
                subject: full.clone(),
                message: e.to_string(),
            })?;
        let deadline = tokio::time::Instant::now() + gather.max_wait;
        let mut out = Vec::new();
        let mut status = self.status_watch();
        while out.len() < gather.max_replies {
            let now = tokio::time::Instant::now();
            let mut until = deadline;
            if let Some(gap) = gather.quiet_gap.filter(|_| !out.is_empty()) {
                until = until.min(now + gap);
            }
            let next = tokio::select! {
                next = tokio::time::timeout_at(until, replies.next()) => next,
                // Replies cannot come over a dropped link: fail at once, as requests do.
                _ = status.wait_for(|s| matches!(s, LinkStatus::Disconnected | LinkStatus::Closed)) => {
                    return Err(NatsError::LinkLost { subject: full });
                }
            };
            match next {
                Ok(Some(msg)) => {
                    if msg.status == Some(async_nats::StatusCode::NO_RESPONDERS) {
                        break;
                    }
                    match codec.decode(msg.headers.as_ref(), &msg.payload) {
                        Ok(v) => out.push(v),
                        Err(e) => {
                            tracing::warn!(target: "ores_actors::nats", subject = %full, error = %e, "skipping a reply that does not decode")
                        }
                    }
                }
                _ => break,
            }
        }
        Ok(out)
    }
}

fn remote_error(
    subject: impl FnOnce() -> String,
    headers: Option<&HeaderMap>,
) -> Option<NatsError> {
    let headers = headers?;
    let text = |header: &'static str| headers.get(name(header)).map(|v| v.as_str().to_string());
    if let Some(message) = text(SERVICE_ERROR) {
        return Some(NatsError::Remote {
            subject: subject(),
            code: text(SERVICE_ERROR_CODE),
            message,
        });
    }
    text(ERROR).map(|code| NatsError::Remote {
        subject: subject(),
        message: format!("ORE error `{code}`"),
        code: Some(code),
    })
}
