//! Service runner benchmark: [`ServiceActor`] against a raw async-nats responder and async-nats's
//! own `service` endpoint, in one process run, on the same NATS server, called by the same client.
//!
//! Three responders, each on its own subject and its own connection, each doing the same work
//! (decode the 128-byte msgpack request into `Req`, encode it again, reply with it):
//!
//! - **raw**: a plain async-nats queue subscriber; for each message, `rmp_serde` decode and
//!   encode, then `client.publish(reply, bytes)`, inline in its read loop;
//! - **nats-svc**: async-nats's `service` module (`client.service_builder().start(..)`,
//!   `service.endpoint(subject)`); for each request, the same decode and encode, then
//!   `request.respond(Ok(bytes))`, inline in its read loop (as its docs do);
//! - **ores**: a [`ServiceActor`] under `nats_subtree`, one endpoint whose handler takes `Req` and
//!   returns it: the runner's decode, in-flight bound, deadline, panic catching, stats, encode and
//!   reply (with its `Content-Type` header), one task per request.
//!
//! Two diagnostic variants (reported, not judged) split the gap between ores and raw:
//!
//! - **raw-spawn**: the raw responder serving each request in a task of its own, as the
//!   ServiceActor does;
//! - **raw-spawn-ct**: the same, replying with a `Content-Type: application/msgpack` header, as
//!   the ServiceActor does: what is left between it and ores is the runner's own bookkeeping.
//!
//! The caller is one plain `async_nats::Client` for all three: `client.request(subject, payload)`
//! with the 128 bytes encoded once up front and no headers, so only the responder differs.
//!
//! Measured per round, the variants interleaved (their order reversed every other round):
//! 1 in flight, p50 and p99 latency of 2,000 sequential requests; 64 and 256 in flight, requests
//! per second of 40,000 requests made by 64 or 256 tasks, in 8 slices interleaved with the other
//! variants' (the order rotating). 15 rounds after a warm-up; reported: the
//! medians over the rounds and the medians of the per-round ratios. Targets (`TARGETS.md`,
//! section "NATS request/reply"): ores p50 ≤ 1.1× raw; ores req/s ≥ 0.9× raw and ≥ 1.0×
//! nats-svc at 64 and at 256 in flight.
//!
//! Then overload: a second service with `max_in_flight` = B = 256 whose handler holds each
//! request 50 ms receives bursts of 4×B concurrent requests; reported: how many were served and
//! how many got 503 (`Nats-Service-Error-Code: 503`) and how fast, and the process's RSS before
//! and its peak (VmHWM, reset through `/proc/self/clear_refs` when the kernel allows) during the
//! bursts. The caller runs in the same process, so its memory is in these figures too.
//!
//! Run with `cargo bench -p ores-actors --bench service` (NATS at `ORES_NATS_URL`, default
//! `nats://127.0.0.1:4222`); `ORES_BENCH_QUICK=1` cuts the sizes by 10×; `ORES_BENCH_ONLY=ores,raw`
//! (names, comma-separated) runs only those variants. See `docs/benchmarks.md`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::{Req, median, micros, percentile, sample_request};

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_nats::service::ServiceExt;
use bytes::Bytes;
use futures::StreamExt;
use ores_actors::nats::{Nats, NatsConfig, nats_subtree};
use ores_actors::service::{Service, ServiceActor, ServiceError};

/// Rounds of each measurement (plus one warm-up round that is not reported).
const ROUNDS: usize = 15;
/// Sequential requests per variant per round at 1 in flight (full size).
const SEQUENTIAL: usize = 2_000;
/// Requests per variant per round at each in-flight level (full size).
const CONCURRENT: usize = 40_000;
/// Slices each variant's throughput measurement is cut into, interleaved with the others'.
const SLICES: usize = 8;
/// The in-flight levels of the throughput measurement.
const IN_FLIGHT: [usize; 2] = [64, 256];
/// Target: ores p50 / raw p50 at most this.
const TARGET_P50: f64 = 1.1;
/// Target: ores req/s / raw req/s at least this.
const TARGET_VS_RAW: f64 = 0.9;
/// Target: ores req/s / nats-svc req/s at least this.
const TARGET_VS_SVC: f64 = 1.0;
/// The in-flight bound of the overload measurement.
const BOUND: usize = 256;
/// How long the overload handler holds each request.
const HOLD: Duration = Duration::from_millis(50);
/// Bursts of 4×BOUND in the overload measurement (full size; 1 in quick mode).
const BURSTS: usize = 5;

/// The ServiceActor's handler: the request back.
async fn echo(req: Req) -> Result<Req, ServiceError> {
    Ok(req)
}

/// The overload handler: holds the request, then echoes it.
async fn slow_echo(req: Req) -> Result<Req, ServiceError> {
    tokio::time::sleep(HOLD).await;
    Ok(req)
}

/// What the raw and async-nats responders do per request: decode and encode again.
fn reencode(payload: &[u8]) -> Bytes {
    let req: Req = rmp_serde::from_slice(payload).unwrap();
    rmp_serde::to_vec_named(&req).unwrap().into()
}

/// The variants measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    Raw,
    NatsService,
    Ores,
    RawSpawn,
    RawSpawnHeader,
}

impl Variant {
    const ALL: [Variant; 5] = [
        Variant::Raw,
        Variant::NatsService,
        Variant::Ores,
        Variant::RawSpawn,
        Variant::RawSpawnHeader,
    ];

    fn name(self) -> &'static str {
        match self {
            Variant::Raw => "raw",
            Variant::NatsService => "nats-svc",
            Variant::Ores => "ores",
            Variant::RawSpawn => "raw-spawn",
            Variant::RawSpawnHeader => "raw-spawn-ct",
        }
    }
}

/// Everything a request needs.
struct Ctx {
    caller: async_nats::Client,
    /// The full subject of each variant, by `Variant as usize`.
    subjects: [String; 5],
    payload: Bytes,
    /// Replies that were not a 128-byte echo (error replies), by variant.
    bad: [AtomicU64; 5],
}

impl Ctx {
    async fn call(&self, variant: Variant) {
        let i = variant as usize;
        let msg = self
            .caller
            .request(self.subjects[i].clone(), self.payload.clone())
            .await
            .unwrap();
        if msg.payload.len() != self.payload.len() {
            self.bad[i].fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// p50 and p99 (µs) of `n` sequential requests.
async fn sequential(ctx: &Ctx, variant: Variant, n: usize) -> (f64, f64) {
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        ctx.call(variant).await;
        samples.push(t.elapsed());
    }
    samples.sort_unstable();
    (
        micros(percentile(&samples, 0.50)),
        micros(percentile(&samples, 0.99)),
    )
}

/// Requests per second of `n` requests made by `in_flight` tasks.
async fn concurrent(ctx: &Arc<Ctx>, variant: Variant, n: usize, in_flight: usize) -> (usize, f64) {
    let per_task = (n / in_flight).max(1);
    let t = Instant::now();
    let tasks: Vec<_> = (0..in_flight)
        .map(|_| {
            let ctx = Arc::clone(ctx);
            tokio::spawn(async move {
                for _ in 0..per_task {
                    ctx.call(variant).await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    (per_task * in_flight, t.elapsed().as_secs_f64())
}

fn fmt_list(v: &[f64]) -> String {
    v.iter()
        .map(|x| format!("{x:.2}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn met(ok: bool) -> &'static str {
    if ok { "met" } else { "MISSED" }
}

/// The raw responder: a queue subscriber on its own client, decoding and re-encoding inline.
/// With `spawn`, each request is served by a task of its own (as the ServiceActor does); with
/// `content_type`, the reply carries `Content-Type: application/msgpack` (as ours does).
async fn raw_responder(
    url: &str,
    subject: String,
    spawn: bool,
    content_type: bool,
) -> tokio::task::JoinHandle<()> {
    let client = async_nats::connect(url).await.unwrap();
    let mut sub = client
        .queue_subscribe(subject, "bench".to_string())
        .await
        .unwrap();
    client.flush().await.unwrap();
    let client = Arc::new(client);
    tokio::spawn(async move {
        while let Some(msg) = sub.next().await {
            let client = Arc::clone(&client);
            let serve = async move {
                let Some(reply) = msg.reply else { return };
                let body = reencode(&msg.payload);
                if content_type {
                    let mut headers = async_nats::HeaderMap::new();
                    headers.insert("Content-Type", "application/msgpack");
                    client
                        .publish_with_headers(reply, headers, body)
                        .await
                        .unwrap();
                } else {
                    client.publish(reply, body).await.unwrap();
                }
            };
            if spawn {
                tokio::spawn(serve);
            } else {
                serve.await;
            }
        }
    })
}

/// async-nats's own service, one endpoint on its own client, decoding and re-encoding inline.
async fn nats_service(
    url: &str,
    name: String,
    subject: String,
) -> (async_nats::service::Service, tokio::task::JoinHandle<()>) {
    let client = async_nats::connect(url).await.unwrap();
    let service = client
        .service_builder()
        .description("ores-rs service benchmark: async-nats baseline")
        .start(name, "1.0.0")
        .await
        .unwrap();
    let mut endpoint = service.endpoint(subject).await.unwrap();
    client.flush().await.unwrap();
    let task = tokio::spawn(async move {
        while let Some(request) = endpoint.next().await {
            let body = reencode(&request.message.payload);
            request.respond(Ok(body)).await.unwrap();
        }
    });
    (service, task)
}

/// `VmRSS` and `VmHWM` of this process, in KiB.
fn rss_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Resets VmHWM to the current RSS (Linux ≥ 4.0); false when not allowed.
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// One request's outcome in the overload burst.
enum Outcome {
    Served(Duration),
    Rejected(Duration),
    Other,
}

/// Bursts of 4×`BOUND` concurrent requests against the bounded slow endpoint.
async fn overload(caller: &async_nats::Client, subject: &str, payload: &Bytes, bursts: usize) {
    let n = 4 * BOUND;
    let (rss_before, _) = rss_kib();
    let reset = reset_peak_rss();
    let (_, hwm_start) = rss_kib();
    println!(
        "\noverload: max_in_flight {BOUND}, handler holds {} ms, {bursts} burst(s) of {n} \
         concurrent requests; RSS before {rss_before} KiB{}",
        HOLD.as_millis(),
        if reset {
            ""
        } else {
            " (VmHWM could not be reset: the peak may predate this measurement)"
        },
    );
    let mut served_all = Vec::new();
    let mut rejected_all = Vec::new();
    for burst in 0..bursts {
        let t = Instant::now();
        let tasks: Vec<_> = (0..n)
            .map(|_| {
                let caller = caller.clone();
                let subject = subject.to_string();
                let payload = payload.clone();
                tokio::spawn(async move {
                    let t = Instant::now();
                    let msg = caller.request(subject, payload).await.unwrap();
                    let elapsed = t.elapsed();
                    let code = msg
                        .headers
                        .as_ref()
                        .and_then(|h| h.get("Nats-Service-Error-Code"))
                        .map(|v| v.as_str().to_string());
                    match code.as_deref() {
                        None if !msg.payload.is_empty() => Outcome::Served(elapsed),
                        Some("503") => Outcome::Rejected(elapsed),
                        _ => Outcome::Other,
                    }
                })
            })
            .collect();
        let (mut served, mut rejected, mut other) = (Vec::new(), Vec::new(), 0);
        for task in tasks {
            match task.await.unwrap() {
                Outcome::Served(d) => served.push(d),
                Outcome::Rejected(d) => rejected.push(d),
                Outcome::Other => other += 1,
            }
        }
        let wall = t.elapsed();
        served.sort_unstable();
        rejected.sort_unstable();
        let (rss, hwm) = rss_kib();
        println!(
            "  burst {burst}: served {} (p50 {:.1} ms, max {:.1} ms), rejected with 503 {} \
             (p50 {:.2} ms, max {:.2} ms), other {other}; burst took {:.1} ms; RSS {rss} KiB, \
             peak {hwm} KiB",
            served.len(),
            ms(&served, 0.5),
            ms(&served, 1.0),
            rejected.len(),
            ms(&rejected, 0.5),
            ms(&rejected, 1.0),
            wall.as_secs_f64() * 1e3,
        );
        served_all.extend(served);
        rejected_all.extend(rejected);
    }
    served_all.sort_unstable();
    rejected_all.sort_unstable();
    let (rss_after, hwm) = rss_kib();
    let total = bursts * n;
    println!(
        "\noverload at 4x the in-flight bound ({BOUND}): {total} requests, served {} ({:.1} per \
         burst, p50 {:.1} ms), rejected with 503 {} ({:.1} per burst, p50 {:.2} ms, max {:.2} ms)",
        served_all.len(),
        served_all.len() as f64 / bursts as f64,
        ms(&served_all, 0.5),
        rejected_all.len(),
        rejected_all.len() as f64 / bursts as f64,
        ms(&rejected_all, 0.5),
        ms(&rejected_all, 1.0),
    );
    println!(
        "overload memory: RSS before {rss_before} KiB, peak {hwm} KiB (peak growth {:+} KiB{}), \
         after {rss_after} KiB",
        hwm as i64 - rss_before as i64,
        if reset {
            String::new()
        } else {
            format!(", VmHWM not reset; at start {hwm_start} KiB")
        },
    );
}

/// The `q` quantile of sorted durations, in ms (NaN when empty).
fn ms(sorted: &[Duration], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    percentile(sorted, q).as_secs_f64() * 1e3
}

async fn run() -> anyhow::Result<()> {
    let quick = std::env::var("ORES_BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0");
    let scale = if quick { 10 } else { 1 };
    let sequential_n = SEQUENTIAL / scale;
    let concurrent_n = CONCURRENT / scale;
    let bursts = if quick { 1 } else { BURSTS };
    let url = std::env::var("ORES_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into());
    let pid = std::process::id();
    let prefix = format!("ores.bench.{pid}");
    let srv_prefix = format!("$SRV.bench{pid}");

    // Ours: a ServiceActor under the NATS subtree, plus the bounded slow one for overload.
    let nats = Nats::new(NatsConfig::new(&url, prefix.clone()))?;
    let service = Service::builder("ores.bench.service", "1.0.0")
        .srv_prefix(srv_prefix.clone())
        .heartbeat(None)
        .handle("bench.v1.echo.get", echo)
        .build()?;
    let slow = Service::builder("ores.bench.slow", "1.0.0")
        .srv_prefix(srv_prefix.clone())
        .heartbeat(None)
        .max_in_flight(BOUND)
        .handle("bench.v1.slow.get", slow_echo)
        .build()?;
    let (spec, handle) = ServiceActor::child_spec(service, &nats);
    let (slow_spec, slow_handle) = ServiceActor::child_spec(slow, &nats);
    let tree = nats_subtree("bench", &nats)
        .child(spec)
        .child(slow_spec)
        .spawn()
        .await?;
    handle.wait_ready(Duration::from_secs(10)).await?;
    slow_handle.wait_ready(Duration::from_secs(10)).await?;

    let ores_subject = nats.full_subject("bench.v1.echo.get");
    let slow_subject = nats.full_subject("bench.v1.slow.get");
    let raw_subject = format!("{prefix}.bench.v1.raw.get");
    let svc_subject = format!("{prefix}.bench.v1.natsvc.get");
    let spawn_subject = format!("{prefix}.bench.v1.rawspawn.get");
    let spawn_ct_subject = format!("{prefix}.bench.v1.rawspawnct.get");
    let _raw = raw_responder(&url, raw_subject.clone(), false, false).await;
    let _raw_spawn = raw_responder(&url, spawn_subject.clone(), true, false).await;
    let _raw_spawn_ct = raw_responder(&url, spawn_ct_subject.clone(), true, true).await;
    let (_svc, _svc_task) =
        nats_service(&url, format!("ores-bench-{pid}"), svc_subject.clone()).await;

    let caller = async_nats::connect(&url).await?;
    let payload: Bytes = rmp_serde::to_vec_named(&sample_request())?.into();
    let mut subjects: [String; 5] = Default::default();
    subjects[Variant::Raw as usize] = raw_subject;
    subjects[Variant::NatsService as usize] = svc_subject;
    subjects[Variant::Ores as usize] = ores_subject;
    subjects[Variant::RawSpawn as usize] = spawn_subject;
    subjects[Variant::RawSpawnHeader as usize] = spawn_ct_subject;
    let ctx = Arc::new(Ctx {
        caller,
        subjects,
        payload,
        bad: Default::default(),
    });
    println!(
        "service benchmark: {url}, prefix {prefix}, payload {} B msgpack, {ROUNDS} rounds + 1 \
         warm-up, {sequential_n} sequential / {concurrent_n} at {} in flight per variant{}",
        ctx.payload.len(),
        IN_FLIGHT.map(|n| n.to_string()).join(" and "),
        if quick { " (quick)" } else { "" },
    );

    let only: Option<Vec<String>> = std::env::var("ORES_BENCH_ONLY")
        .ok()
        .map(|v| v.split(',').map(|s| s.trim().to_string()).collect());
    let nv = Variant::ALL.len();
    let mut p50 = vec![Vec::new(); nv];
    let mut p99 = vec![Vec::new(); nv];
    // rps[level][variant]
    let mut rps = vec![vec![Vec::new(); nv]; IN_FLIGHT.len()];
    for round in 0..=ROUNDS {
        let mut order: Vec<Variant> = Variant::ALL
            .into_iter()
            .filter(|v| {
                only.as_ref()
                    .is_none_or(|o| o.iter().any(|n| n == v.name()))
            })
            .collect();
        if round % 2 == 1 {
            order.reverse();
        }
        let mut line = format!(
            "round {round}{}:",
            if round == 0 { " (warm-up)" } else { "" }
        );
        for &v in &order {
            let i = v as usize;
            let (a, b) = sequential(&ctx, v, sequential_n).await;
            line.push_str(&format!("  {} p50 {a:.0} p99 {b:.0} µs;", v.name()));
            if round > 0 {
                p50[i].push(a);
                p99[i].push(b);
            }
        }
        // Throughput in SLICES interleaved slices per variant (the order rotating from slice to
        // slice), so that a burst of load from elsewhere on the machine hits every variant
        // alike instead of the one measured at that moment.
        for (l, &in_flight) in IN_FLIGHT.iter().enumerate() {
            let mut done = vec![(0usize, 0f64); nv];
            for slice in 0..SLICES {
                for k in 0..order.len() {
                    let v = order[(k + slice) % order.len()];
                    let (count, secs) = concurrent(&ctx, v, concurrent_n / SLICES, in_flight).await;
                    done[v as usize].0 += count;
                    done[v as usize].1 += secs;
                }
            }
            for &v in &order {
                let (count, secs) = done[v as usize];
                let r = count as f64 / secs;
                line.push_str(&format!(" {} {:.1}k@{in_flight}", v.name(), r / 1e3));
                if round > 0 {
                    rps[l][v as usize].push(r);
                }
            }
            line.push(';');
        }
        println!("{line}");
    }

    let m = |v: &[Vec<f64>], x: Variant| median(&v[x as usize]);
    println!("\nall variants (median of {ROUNDS} rounds):");
    for v in Variant::ALL
        .into_iter()
        .filter(|v| !p50[*v as usize].is_empty())
    {
        let i = v as usize;
        let mut line = format!(
            "  {:<9} p50 {:>5.0} µs  p99 {:>5.0} µs",
            v.name(),
            m(&p50, v),
            m(&p99, v)
        );
        for (l, &in_flight) in IN_FLIGHT.iter().enumerate() {
            line.push_str(&format!(
                "  {in_flight} in flight {:>6.1} k req/s ({:.1}-{:.1})",
                m(&rps[l], v) / 1e3,
                rps[l][i].iter().copied().fold(f64::MAX, f64::min) / 1e3,
                rps[l][i].iter().copied().fold(0.0, f64::max) / 1e3,
            ));
        }
        line.push_str(&format!(
            "  (p50 range {:.0}-{:.0} µs)",
            p50[i].iter().copied().fold(f64::MAX, f64::min),
            p50[i].iter().copied().fold(0.0, f64::max),
        ));
        println!("{line}");
    }
    for v in Variant::ALL {
        let bad = ctx.bad[v as usize].load(Ordering::Relaxed);
        if bad > 0 {
            println!(
                "  WARNING: {} got {bad} replies that were not the echo",
                v.name()
            );
        }
    }

    let ran = |v: Variant| !p50[v as usize].is_empty();
    if [Variant::Raw, Variant::NatsService, Variant::Ores]
        .into_iter()
        .all(ran)
    {
        // Per-round ratios (interleaved in the same round), then their median: robust to drift.
        let ratio = |a: &[f64], b: &[f64]| -> Vec<f64> {
            a.iter().zip(b).map(|(x, y)| x / y).collect::<Vec<_>>()
        };
        let (ores, raw, svc) = (
            Variant::Ores as usize,
            Variant::Raw as usize,
            Variant::NatsService as usize,
        );
        let p50_raw = ratio(&p50[ores], &p50[raw]);
        let p50_svc = ratio(&p50[ores], &p50[svc]);
        println!(
            "per-round ratios p50 ores/raw {}; ores/nats-svc {}",
            fmt_list(&p50_raw),
            fmt_list(&p50_svc)
        );
        let mut thr = Vec::new();
        for (l, &in_flight) in IN_FLIGHT.iter().enumerate() {
            let vs_raw = ratio(&rps[l][ores], &rps[l][raw]);
            let vs_svc = ratio(&rps[l][ores], &rps[l][svc]);
            println!(
                "per-round ratios req/s at {in_flight} in flight ores/raw {}; ores/nats-svc {}",
                fmt_list(&vs_raw),
                fmt_list(&vs_svc)
            );
            thr.push((in_flight, l, median(&vs_raw), median(&vs_svc)));
        }
        if ran(Variant::RawSpawn) && ran(Variant::RawSpawnHeader) {
            let (sp, ct) = (Variant::RawSpawn as usize, Variant::RawSpawnHeader as usize);
            println!(
                "diagnostic (not judged), medians of per-round ratios: p50 raw-spawn/raw {:.2}, \
                 raw-spawn-ct/raw {:.2}, ores/raw-spawn-ct {:.2}",
                median(&ratio(&p50[sp], &p50[raw])),
                median(&ratio(&p50[ct], &p50[raw])),
                median(&ratio(&p50[ores], &p50[ct])),
            );
            for (l, &in_flight) in IN_FLIGHT.iter().enumerate() {
                println!(
                    "diagnostic (not judged), req/s at {in_flight} in flight: raw-spawn/raw \
                     {:.2}, raw-spawn-ct/raw {:.2}, ores/raw-spawn-ct {:.2}",
                    median(&ratio(&rps[l][sp], &rps[l][raw])),
                    median(&ratio(&rps[l][ct], &rps[l][raw])),
                    median(&ratio(&rps[l][ores], &rps[l][ct])),
                );
            }
        }

        println!(
            "\nservice benchmark (median of {ROUNDS} rounds, payload {} B)",
            ctx.payload.len()
        );
        let r = median(&p50_raw);
        println!(
            "1 in flight    p50 ores {:.0} / raw {:.0} / nats-svc {:.0} µs  p99 {:.0} / {:.0} / {:.0} µs  \
             ratio p50 ores/raw {r:.2} (target <= {TARGET_P50}: {})  ores/nats-svc {:.2}",
            m(&p50, Variant::Ores),
            m(&p50, Variant::Raw),
            m(&p50, Variant::NatsService),
            m(&p99, Variant::Ores),
            m(&p99, Variant::Raw),
            m(&p99, Variant::NatsService),
            met(r <= TARGET_P50),
            median(&p50_svc),
        );
        for (in_flight, l, vs_raw, vs_svc) in thr {
            println!(
                "{in_flight:>3} in flight  ores {:.1} / raw {:.1} / nats-svc {:.1} k req/s  \
                 ores/raw {vs_raw:.2} (target >= {TARGET_VS_RAW}: {})  ores/nats-svc {vs_svc:.2} \
                 (target >= {TARGET_VS_SVC}: {})",
                m(&rps[l], Variant::Ores) / 1e3,
                m(&rps[l], Variant::Raw) / 1e3,
                m(&rps[l], Variant::NatsService) / 1e3,
                met(vs_raw >= TARGET_VS_RAW),
                met(vs_svc >= TARGET_VS_SVC),
            );
        }
    } else {
        println!("(not all of raw, nats-svc and ores run: no ratios)");
    }

    if only
        .as_ref()
        .is_none_or(|o| o.iter().any(|n| n == "overload"))
    {
        overload(&ctx.caller, &slow_subject, &ctx.payload, bursts).await;
        println!(
            "ores stats: slow endpoint dropped {}, in flight now {}",
            slow_handle.dropped(),
            slow_handle.in_flight()
        );
    }

    tree.shutdown(Duration::from_secs(5)).await?;
    Ok(())
}

fn main() -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?
        .block_on(run())
}
