//! Per-endpoint statistics for `STATS`: [`EndpointCounters`] counts requests, errors and
//! processing time from any number of tasks, and turns them into the protocol's
//! [`EndpointStats`] on demand.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use super::protocol::EndpointStats;

/// The running counts of one endpoint; thread-safe, shared by reference (or `Arc`) between the
/// tasks that handle its requests.
///
/// The lock is held only to add to or copy the counts, never across an `.await`.
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
    inner: Mutex<Counts>,
}

#[derive(Debug, Default, Clone)]
struct Counts {
    num_requests: u64,
    num_errors: u64,
    /// Nanoseconds; `u128` cannot overflow in practice.
    processing_nanos: u128,
    last_error: String,
}

impl EndpointCounters {
    /// A poisoned lock only means a panic elsewhere while counting; the counts stay usable.
    fn lock(&self) -> MutexGuard<'_, Counts> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts one request that took `elapsed` (from arrival to reply); with `error`, also counts
    /// an error and keeps `error` as the last one. Other implementations write the last error
    /// as `"{code}:{message}"` (e.g. `"500:database unreachable"`).
    pub fn record(&self, elapsed: Duration, error: Option<&str>) {
        let mut counts = self.lock();
        counts.num_requests = counts.num_requests.saturating_add(1);
        counts.processing_nanos = counts.processing_nanos.saturating_add(elapsed.as_nanos());
        if let Some(error) = error {
            counts.num_errors = counts.num_errors.saturating_add(1);
            error.clone_into(&mut counts.last_error);
        }
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
        let counts = self.lock().clone();
        let average = counts
            .processing_nanos
            .checked_div(u128::from(counts.num_requests))
            .unwrap_or(0);
        EndpointStats {
            name: name.into(),
            subject: subject.into(),
            queue_group: queue_group.unwrap_or_default().to_owned(),
            num_requests: counts.num_requests,
            num_errors: counts.num_errors,
            last_error: counts.last_error,
            data: None,
            processing_time: nanos_to_duration(counts.processing_nanos),
            average_processing_time: nanos_to_duration(average),
        }
    }

    /// Clears every count and the last error (the protocol's `reset`).
    pub fn reset(&self) {
        *self.lock() = Counts::default();
    }

    /// Requests counted since the start or the last reset.
    pub fn num_requests(&self) -> u64 {
        self.lock().num_requests
    }

    /// Errors counted since the start or the last reset.
    pub fn num_errors(&self) -> u64 {
        self.lock().num_errors
    }
}

/// `nanos` as a `Duration`, saturating at `u64::MAX` nanoseconds (~584 years), which is also
/// the most the wire's integer can carry.
fn nanos_to_duration(nanos: u128) -> Duration {
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}
