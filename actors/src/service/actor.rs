//! [`ServiceActor`]: runs a [`Service`]: subscribes its endpoints and the discovery subjects,
//! serves requests (bounded, with deadlines, panics caught), sends heartbeats, and drains on
//! stop.

use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use async_nats::{HeaderMap, Message};
use bytes::Bytes;
use futures::{FutureExt, StreamExt};
use ores_runtime::supervisor::{ChildContext, ChildSpec, Shutdown};
use ractor::{Actor, ActorProcessingErr, ActorRef};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::Instrument;

use crate::nats::headers::{TIMEOUT_MS, name};
use crate::nats::{Nats, RequestHeaders, Subject};

use super::builder::{EndpointDef, HEARTBEAT_SUBJECT, Service};
use super::context::RequestContext;
use super::discovery;
use super::error::ServiceError;
use super::handle::{ServiceHandle, Shared};
use super::middleware::{Next, ServiceRequest, ServiceResult};

/// The service runner actor. Start it through [`ServiceActor::child_spec`] under the NATS
/// subtree (`nats_subtree`), after the connection, so that it restarts and re-subscribes
/// when the connection does.
///
/// ```no_run
/// use ores_actors::nats::{Nats, NatsConfig, nats_subtree};
/// use ores_actors::service::{Service, ServiceActor, ServiceError};
///
/// async fn ping(_: ()) -> Result<String, ServiceError> { Ok("pong".into()) }
///
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let nats = Nats::new(NatsConfig::new("nats://127.0.0.1:4222", "ores.dev.local1"))?;
/// let service = Service::builder("ores.demo.service", "1.0.0")
///     .handle("demo.v1.ping.get", ping)
///     .build()?;
/// let (spec, handle) = ServiceActor::child_spec(service, &nats);
/// let tree = nats_subtree("demo", &nats).child(spec).spawn().await?;
/// handle.wait_ready(std::time::Duration::from_secs(10)).await?;
/// # let _ = tree; Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct ServiceActor;

/// The actor's messages (sent by its own tasks).
#[derive(Debug)]
pub enum ServiceMsg {
    /// A handler panicked (counted against the panic intensity).
    Panicked,
    /// A subscription ended while the service was not stopping: the connection is gone.
    SubscriptionEnded(String),
}

/// What [`ServiceActor`] is started with.
#[derive(Debug, Clone)]
pub struct ServiceArgs {
    shared: Arc<Shared>,
    nats: Nats,
}

/// The running service's state.
#[derive(Debug)]
pub struct ServiceState {
    shared: Arc<Shared>,
    stop: watch::Sender<Phase>,
    /// One per dispatcher: fired (or dropped) to make it stop accepting.
    draining: Vec<tokio::sync::oneshot::Sender<()>>,
    dispatchers: Vec<JoinHandle<()>>,
    background: Vec<JoinHandle<()>>,
    panics: VecDeque<Instant>,
}

/// Where the service is in its life, as its tasks see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Serving,
    /// Stop accepting; finish what was accepted.
    Draining,
    /// The drain timeout passed: cancel what is left.
    Abort,
}

impl Drop for ServiceState {
    fn drop(&mut self) {
        // Whatever way the actor ends (a failure included), its tasks end with it.
        for task in self.dispatchers.iter().chain(&self.background) {
            task.abort();
        }
    }
}

impl ServiceActor {
    /// The child spec (id = the service's dotted name, graceful shutdown within the drain
    /// timeout plus 5 s) and a handle on the service (readiness, stats, info) that stays valid
    /// across restarts.
    pub fn child_spec(service: Service, nats: &Nats) -> (ChildSpec<ServiceMsg>, ServiceHandle) {
        let shared = Arc::new(Shared::new(service));
        let handle = ServiceHandle::new(Arc::clone(&shared));
        let drain = shared.service.limits.drain_timeout;
        let args = ServiceArgs {
            shared,
            nats: nats.clone(),
        };
        let id = handle.name().to_string();
        let spec = ChildSpec::new(id, move |ctx: ChildContext| {
            let args = args.clone();
            async move { ctx.spawn(ServiceActor, args).await }
        })
        .shutdown(Shutdown::Graceful(drain + Duration::from_secs(5)));
        (spec, handle)
    }
}

impl Actor for ServiceActor {
    type Msg = ServiceMsg;
    type State = ServiceState;
    type Arguments = ServiceArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<ServiceMsg>,
        args: ServiceArgs,
    ) -> Result<ServiceState, ActorProcessingErr> {
        let ServiceArgs { shared, nats } = args;
        let service = &shared.service;
        shared.set_ready(false);
        shared.set_prefix(nats.prefix());
        let (stop, phase) = watch::channel(Phase::Serving);
        let client = Arc::new(nats.client(nats.config().request_timeout).await?);
        let mut dispatchers = Vec::with_capacity(service.endpoints.len() + 1);
        let mut draining = Vec::with_capacity(service.endpoints.len());
        for (index, endpoint) in service.endpoints.iter().enumerate() {
            let subscriber = nats
                .subscribe_raw(&endpoint.meta.subject, endpoint.queue_group.as_deref())
                .await?;
            let (drain_tx, drain_rx) = tokio::sync::oneshot::channel();
            draining.push(drain_tx);
            let dispatcher = Dispatcher {
                shared: Arc::clone(&shared),
                client: Arc::clone(&client),
                index,
                phase: phase.clone(),
                actor: myself.clone(),
            };
            dispatchers.push(tokio::spawn(dispatcher.run(subscriber, drain_rx)));
        }
        let discovery = discovery::subscribe(&client, Arc::clone(&shared), phase.clone()).await?;
        let mut background = vec![discovery];
        // The server has every subscription before anyone is told the service is ready. While
        // the link is down the subscriptions wait in the client, and the service is ready when
        // it comes back (start-up does not block the supervisor meanwhile).
        let flush_wait = nats.config().request_timeout.min(Duration::from_secs(2));
        let flushed = matches!(
            tokio::time::timeout(flush_wait, client.flush()).await,
            Ok(Ok(()))
        );
        if !flushed {
            tracing::warn!(
                target: "ores_actors::service",
                service = %service.name,
                "NATS is not reachable: the service will serve once the link is back"
            );
            let (shared, client) = (Arc::clone(&shared), Arc::clone(&client));
            background.push(tokio::spawn(async move {
                while client.flush().await.is_err() {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                shared.set_ready(true);
            }));
        }
        if let Some(interval) = service.heartbeat {
            background.push(tokio::spawn(heartbeat(
                nats.clone(),
                Arc::clone(&shared),
                interval,
            )));
        }
        shared.mark_started();
        shared.set_ready(flushed);
        tracing::info!(
            target: "ores_actors::service",
            service = %service.name,
            id = %service.id,
            version = %service.version,
            endpoints = service.endpoints.len(),
            "service ready"
        );
        Ok(ServiceState {
            shared,
            stop,
            draining,
            dispatchers,
            background,
            panics: VecDeque::new(),
        })
    }

    async fn handle(
        &self,
        _myself: ActorRef<ServiceMsg>,
        msg: ServiceMsg,
        state: &mut ServiceState,
    ) -> Result<(), ActorProcessingErr> {
        let limits = state.shared.service.limits;
        match msg {
            ServiceMsg::Panicked => {
                let now = Instant::now();
                state.panics.push_back(now);
                while state
                    .panics
                    .front()
                    .is_some_and(|t| now.duration_since(*t) > limits.panic_window)
                {
                    state.panics.pop_front();
                }
                if state.panics.len() > limits.max_panics as usize {
                    return Err(Box::new(ServiceError::internal(format!(
                        "{} handler panics within {:?} (at most {} allowed): restarting the \
                         service",
                        state.panics.len(),
                        limits.panic_window,
                        limits.max_panics
                    ))));
                }
                Ok(())
            }
            ServiceMsg::SubscriptionEnded(subject) => Err(Box::new(ServiceError::internal(
                format!("the subscription to `{subject}` ended: the NATS connection is gone"),
            ))),
        }
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<ServiceMsg>,
        state: &mut ServiceState,
    ) -> Result<(), ActorProcessingErr> {
        let service = &state.shared.service;
        let deadline = Instant::now() + service.limits.drain_timeout;
        // Stop accepting: each dispatcher unsubscribes (on the server, flushed), then serves
        // what it had already received.
        let _ = state.stop.send(Phase::Draining);
        for drain in state.draining.drain(..) {
            let _ = drain.send(());
        }
        for task in state.dispatchers.drain(..) {
            let _ = tokio::time::timeout_at(deadline, task).await;
        }
        state.shared.set_ready(false);
        let drained = tokio::time::timeout_at(deadline, state.shared.in_flight_done()).await;
        if drained.is_err() {
            tracing::warn!(
                target: "ores_actors::service",
                service = %service.name,
                left = state.shared.in_flight(),
                "drain timeout passed: cancelling the requests still in flight"
            );
            let _ = state.stop.send(Phase::Abort);
            let _ =
                tokio::time::timeout(Duration::from_secs(1), state.shared.in_flight_done()).await;
        }
        tracing::info!(target: "ores_actors::service", service = %service.name, "service stopped");
        Ok(())
    }
}

/// Resolves once the phase satisfies `pred` (or the actor is gone), holding no borrow of the
/// watch across an await.
pub(crate) async fn until(phase: &mut watch::Receiver<Phase>, pred: impl Fn(Phase) -> bool) {
    let _ = phase.wait_for(|p| pred(*p)).await.map(|_| ());
}

/// One in-flight slot of an endpoint, given back on drop.
struct Slot<'a>(&'a super::handle::InFlightLimit);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.0.leave();
    }
}

/// Reads one endpoint's subscription and serves its requests: each is polled once right
/// away, and only a request whose handler waits gets a task of its own.
struct Dispatcher {
    shared: Arc<Shared>,
    client: Arc<async_nats::Client>,
    index: usize,
    phase: watch::Receiver<Phase>,
    actor: ActorRef<ServiceMsg>,
}

impl Dispatcher {
    fn endpoint(&self) -> &EndpointDef {
        &self.shared.service.endpoints[self.index]
    }

    fn counters(&self) -> &super::stats::EndpointCounters {
        &self.shared.counters[self.index]
    }

    async fn run(
        self,
        mut subscriber: async_nats::Subscriber,
        mut stop: tokio::sync::oneshot::Receiver<()>,
    ) {
        let this = Arc::new(self);
        // A oneshot, not the phase watch: it is polled for every message, and a watch's
        // waiter takes a lock on each poll.
        loop {
            tokio::select! {
                biased;
                _ = &mut stop => break,
                msg = subscriber.next() => match msg {
                    Some(msg) => {
                        // No per-message future: serve, then send the reply right here.
                        if let Some((reply, result, received)) = this.prepare(msg) {
                            this.finish(reply, result, received).await;
                        }
                    }
                    None => {
                        if *this.phase.borrow() == Phase::Serving {
                            let subject = this.endpoint().meta.subject.clone();
                            let _ = this.actor.cast(ServiceMsg::SubscriptionEnded(subject));
                        }
                        return;
                    }
                },
            }
        }
        // Draining: no new requests; serve the ones already received.
        let _ = subscriber.unsubscribe().await;
        let _ = tokio::time::timeout(Duration::from_secs(1), this.client.flush()).await;
        while let Ok(Some(msg)) =
            tokio::time::timeout(Duration::from_millis(200), subscriber.next()).await
        {
            if let Some((reply, result, received)) = this.prepare(msg) {
                this.finish(reply, result, received).await;
            }
        }
    }

    /// Checks the request and serves it: returns the reply to send now, or `None` when there is
    /// nothing to send (no reply subject) or a task took the request over.
    fn prepare(
        self: &Arc<Self>,
        msg: Message,
    ) -> Option<(async_nats::Subject, ServiceResult, Instant)> {
        let received = Instant::now();
        let Some(reply) = msg.reply.clone() else {
            self.counters().record(
                received.elapsed(),
                Some("400:a request without a reply subject was dropped"),
            );
            self.shared.count_dropped();
            return None;
        };
        let limits = self.shared.service.limits;
        if msg.payload.len() > limits.max_payload {
            let err = ServiceError::payload_too_large(msg.payload.len(), limits.max_payload);
            return Some((reply, Err(err), received));
        }
        if !self.shared.permits[self.index].try_enter() {
            let err = ServiceError::overloaded(limits.max_in_flight);
            return Some((reply, Err(err), received));
        }
        let (ctx, body) = match request_context(msg, self.endpoint(), received, limits.deadline) {
            Ok(parts) => parts,
            Err(err) => {
                self.shared.permits[self.index].leave();
                return Some((reply, Err(err), received));
            }
        };
        let deadline = ctx.deadline;
        let span = self.span(&ctx);
        let request = ServiceRequest { ctx, body };
        if self.shared.service.middleware.is_empty() {
            // The handler's own future, polled once here: most answer at once, and are
            // replied to without a task, a timer or a second allocation.
            let mut call = self.endpoint().endpoint.call(request);
            let first = {
                let _entered = span.enter();
                let waker = futures::task::noop_waker();
                let mut cx = std::task::Context::from_waker(&waker);
                std::panic::catch_unwind(AssertUnwindSafe(|| call.as_mut().poll(&mut cx)))
            };
            match first {
                Ok(std::task::Poll::Ready(result)) => {
                    self.shared.permits[self.index].leave();
                    Some((reply, result, received))
                }
                Err(panic) => {
                    self.shared.permits[self.index].leave();
                    Some((reply, Err(self.panicked(&*panic)), received))
                }
                Ok(std::task::Poll::Pending) => {
                    let this = Arc::clone(self);
                    tokio::spawn(async move {
                        let _slot = Slot(&this.shared.permits[this.index]);
                        let call = AssertUnwindSafe(call).catch_unwind().instrument(span);
                        let result = this.wait(call, deadline, received).await;
                        this.finish(reply, result, received).await;
                    });
                    None
                }
            }
        } else {
            // Middleware borrows the service's chain: the whole request is one future, polled
            // once here and continued in a task if it waits.
            let this = Arc::clone(self);
            let mut serving = Box::pin(async move {
                let _slot = Slot(&this.shared.permits[this.index]);
                let chain = &this.shared.service.middleware;
                let endpoint = &*this.endpoint().endpoint;
                let call =
                    AssertUnwindSafe(async move { Next::new(chain, endpoint).run(request).await })
                        .catch_unwind()
                        .instrument(span);
                let result = this.wait(call, deadline, received).await;
                this.finish(reply, result, received).await;
            });
            let pending = {
                let waker = futures::task::noop_waker();
                let mut cx = std::task::Context::from_waker(&waker);
                serving.as_mut().poll(&mut cx).is_pending()
            };
            if pending {
                tokio::spawn(serving);
            }
            None
        }
    }

    /// The request's span (debug level; fields filled only when it is enabled).
    fn span(&self, ctx: &RequestContext) -> tracing::Span {
        let span = tracing::debug_span!(
            target: "ores_actors::service",
            "service.request",
            service = %self.shared.service.name,
            endpoint = %self.endpoint().meta.name,
            correlation_id = tracing::field::Empty,
            traceparent = tracing::field::Empty,
        );
        if !span.is_disabled() {
            span.record("correlation_id", ctx.correlation_id());
            if let Some(tp) = &ctx.headers.traceparent {
                span.record("traceparent", tracing::field::display(tp.child()));
            }
        }
        span
    }

    /// Waits for a handler that did not answer at once: within the deadline, cancelled when
    /// the drain times out, its panic caught.
    async fn wait<F>(&self, call: F, deadline: Instant, received: Instant) -> ServiceResult
    where
        F: Future<Output = Result<ServiceResult, Box<dyn std::any::Any + Send>>>,
    {
        let mut phase = self.phase.clone();
        let result = tokio::select! {
            biased;
            result = tokio::time::timeout_at(deadline, call) => match result {
                Ok(result) => result,
                Err(_) => {
                    return Err(ServiceError::deadline_exceeded(
                        deadline.saturating_duration_since(received),
                    ));
                }
            },
            () = until(&mut phase, |p| p == Phase::Abort) => {
                return Err(ServiceError::new(
                    503,
                    "the service stopped before the request finished (drain timeout)",
                ));
            }
        };
        result.unwrap_or_else(|panic| Err(self.panicked(&*panic)))
    }

    /// A handler's panic: logged, reported to the actor (panic intensity), answered 500.
    fn panicked(&self, panic: &(dyn std::any::Any + Send)) -> ServiceError {
        let text = ores_runtime::panic::message(panic)
            .unwrap_or("a non-text panic payload")
            .to_string();
        tracing::error!(
            target: "ores_actors::service",
            service = %self.shared.service.name,
            endpoint = %self.endpoint().meta.name,
            panic = %text,
            "handler panicked"
        );
        let _ = self.actor.cast(ServiceMsg::Panicked);
        ServiceError::internal(format!("the handler panicked: {text}"))
    }

    /// Replies (the result, or the error's headers on an empty body) and counts the request.
    async fn finish(&self, reply: async_nats::Subject, result: ServiceResult, received: Instant) {
        match result {
            Ok(ok) => {
                let sent = if ok.headers.is_empty() {
                    self.client.publish(reply, ok.body).await
                } else {
                    self.client
                        .publish_with_headers(reply, ok.headers, ok.body)
                        .await
                };
                if let Err(e) = sent {
                    tracing::warn!(target: "ores_actors::service", error = %e, "reply not sent");
                }
                self.counters().record(received.elapsed(), None);
            }
            Err(err) => {
                send_error(&self.client, reply, &err).await;
                self.counters()
                    .record(received.elapsed(), Some(&stats_error(&err)));
            }
        }
    }
}

/// The request's context (ORE headers, deadline: the service's, or the caller's when shorter)
/// and its body.
fn request_context(
    msg: Message,
    endpoint: &EndpointDef,
    received: Instant,
    service_deadline: Duration,
) -> Result<(RequestContext, Bytes), ServiceError> {
    let headers = match &msg.headers {
        Some(h) => RequestHeaders::from_header_map(h)
            .map_err(|e| ServiceError::unauthorized(e.to_string()))?,
        // Generated only if something asks for it (`RequestContext::correlation_id`).
        None => RequestHeaders::blank(),
    };
    let caller = msg
        .headers
        .as_ref()
        .and_then(|h| h.get(name(TIMEOUT_MS)))
        .and_then(|v| v.as_str().trim().parse::<u64>().ok())
        .map(Duration::from_millis);
    let budget = caller.map_or(service_deadline, |c| c.min(service_deadline));
    let ctx = RequestContext {
        headers,
        subject: msg.subject,
        principal: None,
        endpoint: Arc::clone(&endpoint.meta),
        deadline: received + budget,
        received,
        raw_headers: msg.headers,
        generated_id: std::sync::OnceLock::new(),
    };
    Ok((ctx, msg.payload))
}

/// An error as `last_error` holds it: `code:message`, which async-nats's service client parses.
fn stats_error(err: &ServiceError) -> String {
    format!("{}:{}", err.code(), err.message())
}

/// Sends an error reply: an empty body with the error headers.
pub(crate) async fn send_error(
    client: &async_nats::Client,
    reply: async_nats::Subject,
    err: &ServiceError,
) {
    let headers: HeaderMap = err.to_header_map();
    if let Err(e) = client
        .publish_with_headers(reply, headers, Bytes::new())
        .await
    {
        tracing::warn!(target: "ores_actors::service", error = %e, "error reply not sent");
    }
}

/// ORE's heartbeat document.
#[derive(Debug, serde::Serialize)]
struct Heartbeat<'a> {
    service_name: &'a str,
    instance_id: &'a str,
    version: &'a str,
}

async fn heartbeat(nats: Nats, shared: Arc<Shared>, interval: Duration) {
    let Ok(subject) = Subject::new(HEARTBEAT_SUBJECT) else {
        return;
    };
    let mut ticks = tokio::time::interval(interval);
    loop {
        ticks.tick().await;
        let service = &shared.service;
        let beat = Heartbeat {
            service_name: &service.name,
            instance_id: &service.id,
            version: &service.version,
        };
        if let Err(e) = nats.publish(&subject, &beat).await {
            tracing::debug!(target: "ores_actors::service", error = %e, "heartbeat not sent");
        }
    }
}
