//! Supervision benchmark: checks the two supervision targets of `TARGETS.md` in one run.
//!
//! 1. **Panic to serving again** (backoff disabled, target p50 < 1 ms): a supervisor with one
//!    child; per sample the child is told to panic, and the time is taken until a request
//!    sent through the child's stable [`ChildHandle`] is answered by the *new* incarnation.
//! 2. **Throughput through the stable handle vs a raw `ActorRef`** (target ≤ 1.1× the raw
//!    time): one task sends N messages to the same supervised child, through its raw
//!    `ActorRef`, through [`ChildHandle::try_send`] and through [`ChildHandle::send`], and
//!    waits until the child has handled all of them. The variants are interleaved within
//!    each round, so the baseline is measured in the same run and under the same noise.
//!
//! Run with `cargo bench -p ores-runtime --bench supervision`; set `ORES_BENCH_QUICK=1` for a
//! smoke run with sizes cut by 10×. See `docs/benchmarks.md`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ores_runtime::supervisor::{Backoff, ChildHandle, ChildSpec, Intensity, Supervisor};
use ractor::{Actor, ActorProcessingErr, ActorRef};
use tokio::sync::oneshot;

/// Rounds of each measurement (plus one warm-up round that is not reported).
const ROUNDS: usize = 7;
/// Panic samples per round (full size).
const PANICS_PER_ROUND: usize = 200;
/// Messages per throughput variant per round (full size).
const MESSAGES: u64 = 1_000_000;
/// How long one request may wait for its reply before it is retried (and counted).
const REPLY_TIMEOUT: Duration = Duration::from_secs(2);

/// The child's messages.
enum Msg {
    /// Count one message (the throughput payload).
    Inc,
    /// Panic in the handler.
    Panic,
    /// Reply with the incarnation number.
    Ping(oneshot::Sender<u64>),
    /// Reply with the number of `Inc` handled by this incarnation.
    Count(oneshot::Sender<u64>),
}

/// The child: counts `Inc`, knows its incarnation, panics on demand.
#[derive(Clone)]
struct Bencher {
    incarnations: Arc<AtomicU64>,
}

/// The child's state.
struct State {
    incarnation: u64,
    count: u64,
}

impl Actor for Bencher {
    type Msg = Msg;
    type State = State;
    type Arguments = ();

    async fn pre_start(&self, _: ActorRef<Msg>, _: ()) -> Result<State, ActorProcessingErr> {
        Ok(State {
            incarnation: self.incarnations.fetch_add(1, Ordering::Relaxed) + 1,
            count: 0,
        })
    }

    async fn handle(
        &self,
        _: ActorRef<Msg>,
        msg: Msg,
        state: &mut State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            Msg::Inc => state.count += 1,
            Msg::Panic => panic!("told to panic"),
            Msg::Ping(reply) => {
                let _ = reply.send(state.incarnation);
            }
            Msg::Count(reply) => {
                let _ = reply.send(state.count);
            }
        }
        Ok(())
    }
}

/// A supervisor with one `Bencher` child, restarting at once and never giving up.
async fn tree(name: &str) -> (Supervisor, ChildHandle<Msg>) {
    let spec = ChildSpec::actor(
        "bencher",
        Bencher {
            incarnations: Arc::new(AtomicU64::new(0)),
        },
        (),
    );
    let handle = spec.handle();
    let sup = Supervisor::builder(name)
        .backoff(Backoff::none())
        .intensity(Intensity::new(u32::MAX, Duration::from_secs(1)).expect("valid intensity"))
        .child(spec)
        .spawn()
        .await
        .expect("supervisor starts");
    (sup, handle)
}

/// The incarnation answering a ping sent through the handle (waits while it restarts).
async fn ping(handle: &ChildHandle<Msg>) -> u64 {
    let (tx, rx) = oneshot::channel();
    handle
        .send(Msg::Ping(tx))
        .await
        .map_err(|e| e.to_string())
        .expect("child reachable");
    tokio::time::timeout(REPLY_TIMEOUT, rx)
        .await
        .expect("ping answered in time")
        .expect("ping answered")
}

/// Latency samples of one round, in µs.
#[derive(Default)]
struct PanicRound {
    /// Panic → answered by the new incarnation.
    recovery: Vec<f64>,
    /// Baseline: a ping round trip to the running child, through the handle.
    round_trip: Vec<f64>,
    /// Requests dropped by the dying incarnation and sent again.
    retries: u64,
    /// Requests that timed out (should be 0).
    timeouts: u64,
}

/// One round of `samples` panic-to-serving measurements.
async fn panic_round(handle: &ChildHandle<Msg>, samples: usize) -> PanicRound {
    let mut round = PanicRound::default();
    for _ in 0..samples {
        // Baseline, and the incarnation that is about to die.
        let t = Instant::now();
        let old = ping(handle).await;
        round.round_trip.push(micros(t.elapsed()));

        let t0 = Instant::now();
        handle
            .try_send(Msg::Panic)
            .map_err(|e| e.to_string())
            .expect("child running");
        loop {
            let (tx, rx) = oneshot::channel();
            handle
                .send(Msg::Ping(tx))
                .await
                .map_err(|e| e.to_string())
                .expect("child comes back");
            match tokio::time::timeout(REPLY_TIMEOUT, rx).await {
                Ok(Ok(incarnation)) if incarnation != old => break,
                Ok(Ok(_)) => round.retries += 1, // cannot happen: the panic was queued first
                Ok(Err(_)) => round.retries += 1, // dropped with the dying incarnation's mailbox
                Err(_) => round.timeouts += 1,
            }
        }
        round.recovery.push(micros(t0.elapsed()));
    }
    round
}

/// How the messages reach the child.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Via {
    /// `ActorRef::send_message` on the current incarnation's raw ref.
    Raw,
    /// `ChildHandle::try_send`.
    TrySend,
    /// `ChildHandle::send(..).await`.
    Send,
}

impl Via {
    const ALL: [Via; 3] = [Via::Raw, Via::TrySend, Via::Send];
}

/// Send `n` messages via `via`, wait until the child handled them all. Returns the elapsed
/// time until then, and the time the sending loop alone took (the sender's cost).
async fn throughput(handle: &ChildHandle<Msg>, via: Via, n: u64) -> (Duration, Duration) {
    let raw = handle
        .ready()
        .await
        .map_err(|e| e.to_string())
        .expect("ready");
    let before = count(&raw).await;
    let t0 = Instant::now();
    match via {
        Via::Raw => {
            for _ in 0..n {
                raw.send_message(Msg::Inc)
                    .map_err(|_| "send")
                    .expect("raw send");
            }
        }
        Via::TrySend => {
            for _ in 0..n {
                handle
                    .try_send(Msg::Inc)
                    .map_err(|_| "try_send")
                    .expect("handle try_send");
            }
        }
        Via::Send => {
            for _ in 0..n {
                handle
                    .send(Msg::Inc)
                    .await
                    .map_err(|_| "send")
                    .expect("handle send");
            }
        }
    }
    let enqueued = t0.elapsed();
    // The final request goes the same way as the payload, so it queues behind it.
    let (tx, rx) = oneshot::channel();
    match via {
        Via::Raw => raw
            .send_message(Msg::Count(tx))
            .map_err(|_| "send")
            .expect("count"),
        Via::TrySend => handle
            .try_send(Msg::Count(tx))
            .map_err(|_| "send")
            .expect("count"),
        Via::Send => handle
            .send(Msg::Count(tx))
            .await
            .map_err(|_| "send")
            .expect("count"),
    }
    let after = rx.await.expect("count answered");
    let elapsed = t0.elapsed();
    assert_eq!(
        after - before,
        n,
        "every message handled by one incarnation"
    );
    (elapsed, enqueued)
}

async fn count(raw: &ActorRef<Msg>) -> u64 {
    let (tx, rx) = oneshot::channel();
    raw.send_message(Msg::Count(tx))
        .map_err(|_| "send")
        .expect("count");
    rx.await.expect("count answered")
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// The `p`-th percentile (nearest rank) of sorted `v`.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    if s.is_empty() {
        return f64::NAN;
    }
    let m = s.len() / 2;
    if s.len().is_multiple_of(2) {
        (s[m - 1] + s[m]) / 2.0
    } else {
        s[m]
    }
}

fn met(ok: bool) -> &'static str {
    if ok { "met" } else { "MISSED" }
}

/// Everything printed in the final table.
struct Report {
    samples_per_round: usize,
    messages: u64,
    recovery: Vec<f64>,
    recovery_round_p50: Vec<f64>,
    round_trip: Vec<f64>,
    retries: u64,
    timeouts: u64,
    rate: [Vec<f64>; 3],
    ratio: [Vec<f64>; 3],
    /// Sender-side cost, ns per message.
    enqueue: [Vec<f64>; 3],
    /// Sender-side time / raw sender-side time, per round.
    enqueue_ratio: [Vec<f64>; 3],
}

async fn run(quick: bool) -> Report {
    let scale = if quick { 10 } else { 1 };
    let samples = PANICS_PER_ROUND / scale;
    let messages = MESSAGES / scale as u64;

    // 1. Panic -> serving again.
    let (sup, handle) = tree("bench-panic").await;
    let previous_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let warm_up = samples / 4 + 1;
    let _ = panic_round(&handle, warm_up).await;
    let mut recovery = Vec::new();
    let mut recovery_round_p50 = Vec::new();
    let mut round_trip = Vec::new();
    let (mut retries, mut timeouts) = (0, 0);
    for r in 1..=ROUNDS {
        let mut round = panic_round(&handle, samples).await;
        round.recovery.sort_by(f64::total_cmp);
        let p50 = percentile(&round.recovery, 50.0);
        println!(
            "panic round {r}/{ROUNDS}: {samples} samples, p50 {p50:.0} µs, max {:.0} µs",
            round.recovery.last().copied().unwrap_or(f64::NAN)
        );
        recovery_round_p50.push(p50);
        recovery.extend(round.recovery);
        round_trip.extend(round.round_trip);
        retries += round.retries;
        timeouts += round.timeouts;
    }
    std::panic::set_hook(previous_hook);
    // Sanity: every sample killed exactly one incarnation and was answered by the next.
    let incarnation = ping(&handle).await;
    assert_eq!(
        incarnation,
        1 + (warm_up + ROUNDS * samples) as u64,
        "one restart per sample"
    );
    sup.shutdown(Duration::from_secs(5))
        .await
        .expect("tree stops");

    // 2. Throughput, the variants interleaved in each round (order rotated per round).
    let (sup, handle) = tree("bench-throughput").await;
    for via in Via::ALL {
        let _ = throughput(&handle, via, messages / 4).await; // warm-up
    }
    let mut rate: [Vec<f64>; 3] = Default::default();
    let mut ratio: [Vec<f64>; 3] = Default::default();
    let mut enqueue: [Vec<f64>; 3] = Default::default();
    let mut enqueue_ratio: [Vec<f64>; 3] = Default::default();
    for r in 0..ROUNDS {
        let mut times = [(Duration::ZERO, Duration::ZERO); 3];
        for k in 0..Via::ALL.len() {
            let i = (r + k) % Via::ALL.len();
            times[i] = throughput(&handle, Via::ALL[i], messages).await;
        }
        let raw = times[0].0.as_secs_f64();
        let raw_enqueue = times[0].1.as_secs_f64();
        for i in 0..3 {
            let (total, sending) = (times[i].0.as_secs_f64(), times[i].1.as_secs_f64());
            rate[i].push(messages as f64 / total);
            ratio[i].push(total / raw);
            enqueue[i].push(sending * 1e9 / messages as f64);
            enqueue_ratio[i].push(sending / raw_enqueue);
        }
        println!(
            "throughput round {}/{ROUNDS}: raw {:.2} M/s, try_send {:.2} M/s ({:.3}), send {:.2} M/s ({:.3}); \
             sender ns/msg raw {:.0}, try_send {:.0}, send {:.0}",
            r + 1,
            rate[0][r] / 1e6,
            rate[1][r] / 1e6,
            ratio[1][r],
            rate[2][r] / 1e6,
            ratio[2][r],
            enqueue[0][r],
            enqueue[1][r],
            enqueue[2][r],
        );
    }
    sup.shutdown(Duration::from_secs(5))
        .await
        .expect("tree stops");

    recovery.sort_by(f64::total_cmp);
    round_trip.sort_by(f64::total_cmp);
    Report {
        samples_per_round: samples,
        messages,
        recovery,
        recovery_round_p50,
        round_trip,
        retries,
        timeouts,
        rate,
        ratio,
        enqueue,
        enqueue_ratio,
    }
}

fn main() {
    let quick = std::env::var("ORES_BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    // Run on a worker, not on the main thread, so that only the 2 workers compete.
    let report = rt
        .block_on(async { tokio::spawn(run(quick)).await })
        .expect("benchmark task");
    // Size of the future `ChildHandle::send` returns (it lives in the caller's task).
    let send_future = {
        let (sup, handle) = rt.block_on(tree("bench-size"));
        let size = std::mem::size_of_val(&handle.send(Msg::Inc));
        let _ = rt.block_on(sup.shutdown(Duration::from_secs(5)));
        size
    };
    rt.shutdown_timeout(Duration::from_secs(5));

    let r = &report;
    let p50 = percentile(&r.recovery, 50.0);
    println!();
    println!(
        "supervision benchmark (median of {ROUNDS} rounds{}; 2 tokio workers)",
        if quick { ", ORES_BENCH_QUICK" } else { "" }
    );
    println!(
        "panic -> serving again (no backoff): p50 {:.0} µs  p90 {:.0} µs  p99 {:.0} µs  max {:.0} µs   target < 1 ms: {}",
        p50,
        percentile(&r.recovery, 90.0),
        percentile(&r.recovery, 99.0),
        r.recovery.last().copied().unwrap_or(f64::NAN),
        met(p50 < 1000.0),
    );
    println!(
        "  ({} samples = {ROUNDS} x {}; per-round p50 {:.0}..{:.0} µs; dropped requests re-sent {}, timeouts {})",
        r.recovery.len(),
        r.samples_per_round,
        r.recovery_round_p50
            .iter()
            .copied()
            .fold(f64::INFINITY, f64::min),
        r.recovery_round_p50
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max),
        r.retries,
        r.timeouts,
    );
    println!(
        "baseline ping round trip (running):  p50 {:.0} µs  p90 {:.0} µs  p99 {:.0} µs  max {:.0} µs",
        percentile(&r.round_trip, 50.0),
        percentile(&r.round_trip, 90.0),
        percentile(&r.round_trip, 99.0),
        r.round_trip.last().copied().unwrap_or(f64::NAN),
    );
    let names = [
        "raw ActorRef:          ",
        "ChildHandle::try_send: ",
        "ChildHandle::send:     ",
    ];
    for (i, name) in names.iter().enumerate() {
        let rate = median(&r.rate[i]) / 1e6;
        if i == 0 {
            println!(
                "throughput {name} {rate:.2} M msg/s   ({} msgs per run)",
                r.messages
            );
        } else {
            let ratio = median(&r.ratio[i]);
            println!(
                "throughput {name} {rate:.2} M msg/s   ratio {ratio:.3}  target <= 1.1: {}",
                met(ratio <= 1.1)
            );
        }
    }
    println!(
        "sender side only (time of the send loop, ns/msg): raw {:.0}  try_send {:.0} (ratio {:.3})  send {:.0} (ratio {:.3})",
        median(&r.enqueue[0]),
        median(&r.enqueue[1]),
        median(&r.enqueue_ratio[1]),
        median(&r.enqueue[2]),
        median(&r.enqueue_ratio[2]),
    );
    println!(
        "  (size of the ChildHandle::send future: {send_future} bytes; of the message: {} bytes)",
        std::mem::size_of::<Msg>()
    );
}
