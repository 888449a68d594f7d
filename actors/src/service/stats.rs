//! Per-endpoint statistics for `STATS`: [`EndpointCounters`] counts requests, errors and
//! processing time from any number of tasks, and turns them into the protocol's
//! [`EndpointStats`] on demand.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use super::protocol::EndpointStats;

/// The running counts of one endpoint; thread-safe, shared by reference (or `Arc`) between the
/// tasks that handle its requests.
///
/// Counts are atomics; a lock guards only the last error's text, never across an `.await`.
///
/// ```
/// use std::time::Duration;
/// use ores_actors::service::stats::EndpointCounters;
///
/// let counters = EndpointCounters::default();
/// counters.record(Duration::from_nanos(300), None);
/// counters.record(Duration::from_nanos(400), Some("500:database unreachable"));
/// let stats = counters.snapshot("get", "refdata.get", Some("ores.refdata.service"));
/// assert_eq!((stats.num_requests, stats.num_errors), (2, 1));
/// assert_eq!(stats.average_processing_time, Duration::from_nanos(350));
/// assert_eq!(stats.last_error, "500:database unreachable");
/// ```
#[derive(Debug, Default)]
pub struct EndpointCounters {
    num_requests: AtomicU64,
    num_errors: AtomicU64,
    /// Nanoseconds (a `u64` holds 584 years).
    processing_nanos: AtomicU64,
    /// Taken only on errors and snapshots.
    last_error: Mutex<String>,
}

impl EndpointCounters {
    /// A poisoned lock only means a panic elsewhere while counting; the text stays usable.
    fn last_error(&self) -> MutexGuard<'_, String> {
        self.last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts one request that took `elapsed` (from arrival to reply); with `error`, also counts
    /// an error and keeps `error` as the last one. Other implementations write the last error
    /// as `"{code}:{message}"` (e.g. `"500:database unreachable"`).
    ///
    /// Lock-free for successful requests: endpoints are counted from every worker thread.
    pub fn record(&self, elapsed: Duration, error: Option<&str>) {
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.processing_nanos.fetch_add(nanos, Ordering::Relaxed);
        if let Some(error) = error {
            error.clone_into(&mut self.last_error());
            self.num_errors.fetch_add(1, Ordering::Relaxed);
        }
        self.num_requests.fetch_add(1, Ordering::Relaxed);
    }

    /// The statistics as `STATS` reports them, for the endpoint `name` on `subject` with
    /// `queue_group` (`None`, a plain subscription, is written `""`). The average is the total
    /// divided by the number of requests, truncated to the nanosecond; 0 when there were none.
    /// `data` is left `None` for the service's stats hook to fill.
    pub fn snapshot(
        &self,
        name: impl Into<String>,
        subject: impl Into<String>,
        queue_group: Option<&str>,
    ) -> EndpointStats {
        let num_requests = self.num_requests.load(Ordering::Relaxed);
        let num_errors = self.num_errors.load(Ordering::Relaxed);
        let total = self.processing_nanos.load(Ordering::Relaxed);
        let average = total.checked_div(num_requests).unwrap_or(0);
        EndpointStats {
            name: name.into(),
            subject: subject.into(),
            queue_group: queue_group.unwrap_or_default().to_owned(),
            num_requests,
            num_errors,
            last_error: self.last_error().clone(),
            data: None,
            processing_time: nanos_to_duration(u128::from(total)),
            average_processing_time: nanos_to_duration(u128::from(average)),
        }
    }

    /// Clears every count and the last error (the protocol's `reset`).
    pub fn reset(&self) {
        let mut last = self.last_error();
        self.num_requests.store(0, Ordering::Relaxed);
        self.num_errors.store(0, Ordering::Relaxed);
        self.processing_nanos.store(0, Ordering::Relaxed);
        last.clear();
    }

    /// Requests counted since the start or the last reset.
    pub fn num_requests(&self) -> u64 {
        self.num_requests.load(Ordering::Relaxed)
    }

    /// Errors counted since the start or the last reset.
    pub fn num_errors(&self) -> u64 {
        self.num_errors.load(Ordering::Relaxed)
    }
}

/// `nanos` as a `Duration`, saturating at `u64::MAX` nanoseconds (~584 years), which is also
/// the most the wire's integer can carry.
fn nanos_to_duration(nanos: u128) -> Duration {
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}
