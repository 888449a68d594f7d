//! Policy values: [`Strategy`], [`Restart`], [`Shutdown`], [`Intensity`], with checked
//! constructors.

use std::time::Duration;

use thiserror::Error;

/// Which children a supervisor restarts when one of them fails (Erlang/OTP strategies).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Strategy {
    /// Restart only the child that failed.
    #[default]
    OneForOne,
    /// Stop every other child (in reverse start order), then restart them all in start order.
    OneForAll,
    /// Stop the children started after the failed one (in reverse order), then restart the
    /// failed child and those after it, in start order.
    RestForOne,
}

/// When a child is restarted after it exits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Restart {
    /// Always restarted, whether it failed or stopped normally.
    #[default]
    Permanent,
    /// Restarted only after an abnormal exit (a panic or an error from a handler); a normal
    /// stop removes it from the supervisor.
    Transient,
    /// Never restarted; removed from the supervisor when it exits for any reason.
    Temporary,
}

/// How a child is stopped by its supervisor (on shutdown, on `terminate_child`, or when a
/// strategy stops its siblings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shutdown {
    /// Ask the child to stop: it finishes the message in hand, then runs `post_stop`. If it
    /// has not stopped within the timeout, it is killed (and `post_stop` does not run).
    Graceful(Duration),
    /// Kill the child at once; its `post_stop` does not run.
    Kill,
}

impl Default for Shutdown {
    /// Graceful, with 5 seconds to stop.
    fn default() -> Self {
        Shutdown::Graceful(Duration::from_secs(5))
    }
}

/// A policy value was out of its range.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum InvalidPolicy {
    /// `within` of an intensity was zero.
    #[error("restart intensity window must be longer than zero, found `{0:?}`")]
    ZeroWindow(Duration),
    /// The minimum backoff exceeded the maximum.
    #[error("backoff minimum `{min:?}` is larger than its maximum `{max:?}`")]
    MinAboveMax {
        /// The minimum given.
        min: Duration,
        /// The maximum given.
        max: Duration,
    },
    /// The minimum backoff was zero (use `Backoff::none()` to restart at once).
    #[error("backoff minimum must be longer than zero (use `Backoff::none()` for no delay)")]
    ZeroMin,
    /// The jitter fraction was not within 0.0..=1.0.
    #[error("backoff jitter must be between 0.0 and 1.0, found `{0}`")]
    Jitter(f64),
    /// The growth factor was below 1.0 or not finite.
    #[error("backoff factor must be a finite number of at least 1.0, found `{0}`")]
    Factor(f64),
}

/// Restart intensity: at most `max_restarts` restarts within `within`. One more failure in
/// that window and the supervisor gives up: it stops its children, fails, and its own parent
/// decides what happens next (escalation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Intensity {
    max_restarts: u32,
    within: Duration,
}

impl Intensity {
    /// At most `max_restarts` restarts within `within`.
    ///
    /// # Errors
    /// [`InvalidPolicy::ZeroWindow`] when `within` is zero.
    ///
    /// ```
    /// use std::time::Duration;
    /// use ores_runtime::supervisor::Intensity;
    ///
    /// let i = Intensity::new(5, Duration::from_secs(10))?;
    /// assert_eq!(i.max_restarts(), 5);
    /// # Ok::<(), ores_runtime::supervisor::InvalidPolicy>(())
    /// ```
    pub fn new(max_restarts: u32, within: Duration) -> Result<Self, InvalidPolicy> {
        if within.is_zero() {
            return Err(InvalidPolicy::ZeroWindow(within));
        }
        Ok(Self {
            max_restarts,
            within,
        })
    }

    /// The number of restarts allowed within the window.
    pub fn max_restarts(&self) -> u32 {
        self.max_restarts
    }

    /// The length of the window.
    pub fn within(&self) -> Duration {
        self.within
    }
}

impl Default for Intensity {
    /// 10 restarts within 60 seconds.
    fn default() -> Self {
        Self {
            max_restarts: 10,
            within: Duration::from_secs(60),
        }
    }
}
