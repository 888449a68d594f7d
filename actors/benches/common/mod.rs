//! Small statistics shared by the benchmarks of this crate (`mod common;` in each).
#![allow(dead_code)] // each bench uses what it needs

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The `q` quantile (0.0..=1.0) of sorted samples, nearest rank.
pub(crate) fn percentile(sorted: &[Duration], q: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// The median of `values` (NaN when empty).
pub(crate) fn median(values: &[f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// A duration in microseconds.
pub(crate) fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// A duration in milliseconds.
pub(crate) fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The request body of the NATS benchmarks: about 128 bytes as msgpack with named fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Req {
    pub(crate) id: u64,
    pub(crate) iso_code: String,
    pub(crate) name: String,
    pub(crate) amount: f64,
    pub(crate) active: bool,
    pub(crate) tags: Vec<String>,
}

/// The request every NATS benchmark sends.
pub(crate) fn sample_request() -> Req {
    Req {
        id: 1_234_567,
        iso_code: "EUR".into(),
        name: "Euro, single currency of the euro area; ISO 4217.".into(),
        amount: 1_234.56,
        active: true,
        tags: vec!["fiat".into(), "g10".into(), "europe".into(), "ecb".into()],
    }
}
