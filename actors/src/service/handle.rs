//! [`ServiceHandle`]: readiness, statistics and description of a running service, valid
//! across its restarts.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::sync::{Notify, watch};

use super::builder::Service;
use super::protocol::{EndpointInfo, Identity, InfoResponse, PingResponse, StatsResponse};
use super::stats::EndpointCounters;

/// What the actor, its tasks and the handle share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) service: Service,
    pub(crate) counters: Vec<EndpointCounters>,
    /// The prefix endpoint subjects are sent under (set at each start).
    prefix: Mutex<String>,
    ready: watch::Sender<bool>,
    started: Mutex<SystemTime>,
    /// Per endpoint: the requests in flight and their bound (across restarts of the actor).
    pub(crate) permits: Vec<InFlightLimit>,
    dropped: AtomicU64,
}

impl Shared {
    pub(crate) fn new(service: Service) -> Self {
        let counters = service
            .endpoints
            .iter()
            .map(|_| EndpointCounters::default())
            .collect();
        let permits = (0..service.endpoints.len())
            .map(|_| InFlightLimit::new(service.limits.max_in_flight))
            .collect();
        Self {
            service,
            counters,
            permits,
            prefix: Mutex::new(String::new()),
            ready: watch::channel(false).0,
            started: Mutex::new(SystemTime::now()),
            dropped: AtomicU64::new(0),
        }
    }

    pub(crate) fn set_prefix(&self, prefix: &str) {
        *self.prefix.lock().unwrap_or_else(|p| p.into_inner()) = prefix.to_string();
    }

    pub(crate) fn full_subject(&self, relative: &str) -> String {
        let prefix = self.prefix.lock().unwrap_or_else(|p| p.into_inner());
        if prefix.is_empty() {
            relative.to_string()
        } else {
            format!("{prefix}.{relative}")
        }
    }

    pub(crate) fn set_ready(&self, ready: bool) {
        self.ready.send_replace(ready);
    }

    pub(crate) fn mark_started(&self) {
        *self.started.lock().unwrap_or_else(|p| p.into_inner()) = SystemTime::now();
    }

    pub(crate) fn count_dropped(&self) {
        self.dropped.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn in_flight(&self) -> usize {
        self.permits.iter().map(InFlightLimit::count).sum()
    }

    /// Resolves once no request is in flight.
    pub(crate) async fn in_flight_done(&self) {
        for limit in &self.permits {
            limit.idle().await;
        }
    }

    fn identity(&self) -> Identity {
        let s = &self.service;
        Identity::new(&s.protocol_name, &s.id, &s.version).with_metadata(s.metadata.clone())
    }

    pub(crate) fn ping(&self) -> PingResponse {
        PingResponse::new(self.identity())
    }

    pub(crate) fn info(&self) -> InfoResponse {
        let endpoints = self
            .service
            .endpoints
            .iter()
            .map(|e| {
                EndpointInfo::new(
                    &e.meta.name,
                    self.full_subject(&e.meta.subject),
                    e.queue_group.as_deref(),
                    e.metadata.clone(),
                )
            })
            .collect();
        InfoResponse::new(self.identity(), &self.service.description, endpoints)
    }

    pub(crate) fn stats(&self) -> StatsResponse {
        let endpoints = self
            .service
            .endpoints
            .iter()
            .zip(&self.counters)
            .map(|(e, c)| {
                c.snapshot(
                    &e.meta.name,
                    self.full_subject(&e.meta.subject),
                    e.queue_group.as_deref(),
                )
            })
            .collect();
        let started = *self.started.lock().unwrap_or_else(|p| p.into_inner());
        StatsResponse::new(self.identity(), started, endpoints)
    }
}

/// An endpoint's requests in flight, bounded: lock-free on the request path (a mutex-guarded
/// semaphore would be taken twice per request from every worker).
#[derive(Debug)]
pub(crate) struct InFlightLimit {
    count: AtomicUsize,
    max: usize,
    /// Set once somebody waits for the endpoint to be idle (a drain): only then is the last
    /// request out worth a notification.
    draining: AtomicBool,
    idle: Notify,
}

impl InFlightLimit {
    fn new(max: usize) -> Self {
        Self {
            count: AtomicUsize::new(0),
            max,
            draining: AtomicBool::new(false),
            idle: Notify::new(),
        }
    }

    /// Takes a slot, if one is free.
    pub(crate) fn try_enter(&self) -> bool {
        self.count
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max).then_some(n + 1)
            })
            .is_ok()
    }

    /// Gives a slot back.
    pub(crate) fn leave(&self) {
        if self.count.fetch_sub(1, Ordering::SeqCst) == 1 && self.draining.load(Ordering::SeqCst) {
            self.idle.notify_waiters();
        }
    }

    fn count(&self) -> usize {
        self.count.load(Ordering::Acquire)
    }

    async fn idle(&self) {
        self.draining.store(true, Ordering::SeqCst);
        loop {
            let idle = self.idle.notified();
            if self.count() == 0 {
                return;
            }
            idle.await;
        }
    }
}

/// The service did not become ready in time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("service `{service}` not ready after {waited:?} (is NATS up, and the actor started?)")]
pub struct NotReady {
    /// The service.
    pub service: String,
    /// How long was waited.
    pub waited: Duration,
}

/// A handle on a service: readiness, the protocol documents, statistics. Cheap to clone;
/// follows the service across restarts.
#[derive(Debug, Clone)]
pub struct ServiceHandle {
    shared: Arc<Shared>,
}

impl ServiceHandle {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }

    /// ORE's dotted name.
    pub fn name(&self) -> &str {
        &self.shared.service.name
    }

    /// The protocol name.
    pub fn protocol_name(&self) -> &str {
        &self.shared.service.protocol_name
    }

    /// The instance id (fixed for the life of the process, across restarts).
    pub fn id(&self) -> &str {
        &self.shared.service.id
    }

    /// Whether the service is subscribed and serving now.
    pub fn is_ready(&self) -> bool {
        *self.shared.ready.borrow()
    }

    /// Waits until the service is serving (every endpoint subscribed on the server).
    ///
    /// # Errors
    /// [`NotReady`] after `timeout`.
    pub async fn wait_ready(&self, timeout: Duration) -> Result<(), NotReady> {
        let mut ready = self.shared.ready.subscribe();
        match tokio::time::timeout(timeout, ready.wait_for(|r| *r)).await {
            Ok(Ok(_)) => Ok(()),
            _ => Err(NotReady {
                service: self.name().to_string(),
                waited: timeout,
            }),
        }
    }

    /// Waits until the service is not serving (stopped, or restarting).
    ///
    /// # Errors
    /// [`NotReady`] (naming the wait) when it is still serving after `timeout`.
    pub async fn wait_not_ready(&self, timeout: Duration) -> Result<(), NotReady> {
        let mut ready = self.shared.ready.subscribe();
        match tokio::time::timeout(timeout, ready.wait_for(|r| !*r)).await {
            Ok(Ok(_)) => Ok(()),
            _ => Err(NotReady {
                service: self.name().to_string(),
                waited: timeout,
            }),
        }
    }

    /// The `PING` document.
    pub fn ping(&self) -> PingResponse {
        self.shared.ping()
    }

    /// The `INFO` document.
    pub fn info(&self) -> InfoResponse {
        self.shared.info()
    }

    /// The `STATS` document.
    pub fn stats(&self) -> StatsResponse {
        self.shared.stats()
    }

    /// Clears the statistics (the protocol's `reset`).
    pub fn reset_stats(&self) {
        for c in &self.shared.counters {
            c.reset();
        }
        self.shared.dropped.store(0, Ordering::Relaxed);
    }

    /// Requests dropped because they had no reply subject.
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// Requests being served now.
    pub fn in_flight(&self) -> usize {
        self.shared.in_flight()
    }
}
