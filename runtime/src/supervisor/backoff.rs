//! Exponential backoff between restarts, with jitter and a reset after a quiet period.

use std::time::Duration;

use super::policy::InvalidPolicy;

/// The delay before a child is restarted.
///
/// The `n`-th consecutive restart of a child (counting from 0) waits
/// `min(max, min_delay × factor^n)`, then stretched by a random fraction of up to `jitter`
/// (so up to `max × (1 + jitter)` in all). A child that ran for at least `reset_after` since
/// its last start counts as healthy again: its next restart starts from `min_delay`.
///
/// ```
/// use std::time::Duration;
/// use ores_runtime::supervisor::Backoff;
///
/// let b = Backoff::exponential(Duration::from_millis(100), Duration::from_secs(30))?
///     .jitter(0.2)?
///     .reset_after(Duration::from_secs(60));
/// assert_eq!(b.base_delay(0), Duration::from_millis(100));
/// assert_eq!(b.base_delay(3), Duration::from_millis(800));
/// assert_eq!(b.base_delay(20), Duration::from_secs(30));
/// # Ok::<(), ores_runtime::supervisor::InvalidPolicy>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    factor: f64,
    jitter: f64,
    reset_after: Duration,
}

impl Backoff {
    /// Exponential backoff from `min` to `max`, doubling each time, no jitter, reset after
    /// 60 seconds of quiet.
    ///
    /// # Errors
    /// [`InvalidPolicy::ZeroMin`] when `min` is zero, [`InvalidPolicy::MinAboveMax`] when
    /// `min > max`.
    pub fn exponential(min: Duration, max: Duration) -> Result<Self, InvalidPolicy> {
        if min.is_zero() {
            return Err(InvalidPolicy::ZeroMin);
        }
        if min > max {
            return Err(InvalidPolicy::MinAboveMax { min, max });
        }
        Ok(Self {
            min,
            max,
            factor: 2.0,
            jitter: 0.0,
            reset_after: Duration::from_secs(60),
        })
    }

    /// No delay at all: a failed child is restarted at once. Restart intensity still bounds
    /// how often.
    pub fn none() -> Self {
        Self {
            min: Duration::ZERO,
            max: Duration::ZERO,
            factor: 1.0,
            jitter: 0.0,
            reset_after: Duration::ZERO,
        }
    }

    /// Stretch each delay by a random fraction in `0.0..jitter` of itself.
    ///
    /// # Errors
    /// [`InvalidPolicy::Jitter`] unless `0.0 <= jitter <= 1.0`.
    pub fn jitter(mut self, jitter: f64) -> Result<Self, InvalidPolicy> {
        if !(0.0..=1.0).contains(&jitter) {
            return Err(InvalidPolicy::Jitter(jitter));
        }
        self.jitter = jitter;
        Ok(self)
    }

    /// The growth factor between consecutive delays (default 2.0).
    ///
    /// # Errors
    /// [`InvalidPolicy::Factor`] unless the factor is finite and at least 1.0.
    pub fn factor(mut self, factor: f64) -> Result<Self, InvalidPolicy> {
        if !factor.is_finite() || factor < 1.0 {
            return Err(InvalidPolicy::Factor(factor));
        }
        self.factor = factor;
        Ok(self)
    }

    /// After a child has run this long, its next restart starts again from the minimum.
    pub fn reset_after(mut self, quiet: Duration) -> Self {
        self.reset_after = quiet;
        self
    }

    /// The quiet period after which the delay resets.
    pub fn reset_period(&self) -> Duration {
        self.reset_after
    }

    /// Whether this backoff never waits.
    pub fn is_none(&self) -> bool {
        self.max.is_zero()
    }

    /// The delay before the `attempt`-th consecutive restart (from 0), before jitter.
    pub fn base_delay(&self, attempt: u32) -> Duration {
        if self.is_none() {
            return Duration::ZERO;
        }
        let exp = i32::try_from(attempt).unwrap_or(i32::MAX);
        let secs = self.min.as_secs_f64() * self.factor.powi(exp);
        if !secs.is_finite() || secs >= self.max.as_secs_f64() {
            self.max
        } else {
            Duration::from_secs_f64(secs)
        }
    }

    /// The delay before the `attempt`-th consecutive restart, with jitter drawn from
    /// `unit`, a number in `0.0..1.0` (injected so that tests are deterministic).
    pub fn delay(&self, attempt: u32, unit: f64) -> Duration {
        let base = self.base_delay(attempt);
        if self.jitter == 0.0 {
            return base;
        }
        base.mul_f64(1.0 + self.jitter * unit.clamp(0.0, 1.0))
    }
}

impl Default for Backoff {
    /// 100 ms doubling up to 30 s, 20 % jitter, reset after 60 s of quiet.
    fn default() -> Self {
        Self {
            min: Duration::from_millis(100),
            max: Duration::from_secs(30),
            factor: 2.0,
            jitter: 0.2,
            reset_after: Duration::from_secs(60),
        }
    }
}
