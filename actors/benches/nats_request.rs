//! NATS request/reply benchmark: the typed [`Nats::request`] against a raw async-nats
//! `Client::request`, in one process run, against the same raw responder.
//!
//! The responder is a plain async-nats queue subscriber on its own client that replies with
//! the request's payload bytes unchanged, so both clients get the same 128-byte msgpack answer.
//!
//! - **raw**: `client.request(full_subject, payload)` on its own `async_nats::Client`, with the
//!   128 payload bytes encoded once up front and no headers: the strict floor.
//! - **hand-wired**: the same request made with async-nats alone, doing what `Nats::request`
//!   does: the ORE headers made per request (a UUIDv7 `Nats-Correlation-Id`, a root
//!   `traceparent`, `Content-Type`, the deadline `X-Timeout-Ms`), the body encoded per request with rmp-serde, the reply
//!   decoded. The same bytes go on the wire as ours.
//! - **ores**: `nats.request::<Req, Resp>(&subject, &req)`: codec encode, ORE headers,
//!   prefixing, the fail-fast select on the link state, and decoding of the reply.
//!
//! The target (overhead ratio ≤ 1.1) is judged against **hand-wired**: the overhead of this
//! client is what it costs over doing the same request by hand. The ratio against **raw** is
//! printed too; most of that gap is the headers the conventions require, which two
//! diagnostic variants split out (reported, not judged):
//!
//! - **raw + hdrs**: the raw client sending a pre-built header map of the size ours sends, with
//!   the pre-encoded body: the wire cost of the headers alone;
//! - **ores bytes**: `nats.request_bytes(relative, HeaderMap::new(), payload, None)`, i.e. the
//!   connection wrapper (client lookup, size check, link-state watch, `select!`) without codec
//!   or headers.
//!
//! Measured per round, the variants interleaved (their order alternates between rounds):
//! 1 in flight, p50 and p99 latency of 2,000 sequential requests; 64 in flight, requests per
//! second of 20,000 requests made by 64 tasks. Reported: the median over the rounds. Then the
//! CPU cost of the typed path's parts is timed alone, without the network.
//!
//! Run with `cargo bench -p ores-actors --bench nats_request` (NATS at `ORES_NATS_URL`, default
//! `nats://127.0.0.1:4222`); `ORES_BENCH_QUICK=1` cuts the sizes by 10×. See
//! `docs/benchmarks.md`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::{Req, median, micros, percentile, sample_request};

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::HeaderMap;
use bytes::Bytes;
use futures::StreamExt;
use ores_actors::nats::headers::{CORRELATION_ID, TRACEPARENT};
use ores_actors::nats::{
    Codec, ConnectionEvent, Nats, NatsConfig, RequestHeaders, Subject, TraceParent,
};
use ores_runtime::supervisor::Supervisor;
use serde::{Deserialize, Serialize};

/// Rounds of each measurement (plus one warm-up round that is not reported).
const ROUNDS: usize = 9;
/// Sequential requests per variant per round at 1 in flight (full size).
const SEQUENTIAL: usize = 2_000;
/// Requests per variant per round at 64 in flight (full size).
const CONCURRENT: usize = 20_000;
/// Requests in flight in the throughput measurement.
const IN_FLIGHT: usize = 64;
/// Target ratios (ours / raw time).
const TARGET: f64 = 1.1;

/// The reply body: the same shape (the responder echoes the request).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Resp {
    id: u64,
    iso_code: String,
    name: String,
    amount: f64,
    active: bool,
    tags: Vec<String>,
}

/// The variants measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    Raw,
    Ores,
    OresBytes,
    RawHeaders,
    HandWired,
}

impl Variant {
    const ALL: [Variant; 5] = [
        Variant::Raw,
        Variant::Ores,
        Variant::OresBytes,
        Variant::RawHeaders,
        Variant::HandWired,
    ];

    fn name(self) -> &'static str {
        match self {
            Variant::Raw => "raw",
            Variant::Ores => "ores",
            Variant::OresBytes => "ores bytes",
            Variant::RawHeaders => "raw + hdrs",
            Variant::HandWired => "hand-wired",
        }
    }
}

/// Everything a request needs.
struct Ctx {
    nats: Nats,
    raw: async_nats::Client,
    subject: Subject,
    full_subject: String,
    req: Req,
    payload: Bytes,
    /// Headers like those `Nats::request` sends (for `raw + hdrs`).
    headers: HeaderMap,
}

impl Ctx {
    async fn call(&self, variant: Variant) {
        match variant {
            Variant::Raw => {
                let msg = self
                    .raw
                    .request(self.full_subject.clone(), self.payload.clone())
                    .await
                    .unwrap();
                assert_eq!(msg.payload.len(), self.payload.len());
            }
            Variant::Ores => {
                let resp: Resp = self.nats.request(&self.subject, &self.req).await.unwrap();
                assert_eq!(resp.id, self.req.id);
            }
            Variant::OresBytes => {
                let msg = self
                    .nats
                    .request_bytes(
                        self.subject.as_str(),
                        HeaderMap::new(),
                        self.payload.clone(),
                        None,
                    )
                    .await
                    .unwrap();
                assert_eq!(msg.payload.len(), self.payload.len());
            }
            Variant::HandWired => {
                // What a user writes with async-nats alone to send the same request: the same
                // ORE headers made per request (as async-nats's docs insert them), the body
                // encoded per request with the same serde, the reply decoded.
                let mut headers = HeaderMap::new();
                headers.insert(CORRELATION_ID, uuid::Uuid::now_v7().to_string());
                headers.insert(
                    TRACEPARENT,
                    format!(
                        "00-{:032x}-{:016x}-01",
                        rand::random::<u128>(),
                        rand::random::<u64>()
                    ),
                );
                headers.insert("Content-Type", "application/msgpack");
                headers.insert("X-Timeout-Ms", "10000");
                let body = rmp_serde::to_vec_named(&self.req).unwrap();
                let request = async_nats::Request::new()
                    .headers(headers)
                    .payload(body.into());
                let msg = self
                    .raw
                    .send_request(self.full_subject.clone(), request)
                    .await
                    .unwrap();
                let resp: Resp = rmp_serde::from_slice(&msg.payload).unwrap();
                assert_eq!(resp.id, self.req.id);
            }
            Variant::RawHeaders => {
                let request = async_nats::Request::new()
                    .headers(self.headers.clone())
                    .payload(self.payload.clone());
                let msg = self
                    .raw
                    .send_request(self.full_subject.clone(), request)
                    .await
                    .unwrap();
                assert_eq!(msg.payload.len(), self.payload.len());
            }
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

/// Requests per second of `n` requests made by `IN_FLIGHT` tasks.
async fn concurrent(ctx: &Arc<Ctx>, variant: Variant, n: usize) -> f64 {
    let per_task = n / IN_FLIGHT;
    let t = Instant::now();
    let tasks: Vec<_> = (0..IN_FLIGHT)
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
    (per_task * IN_FLIGHT) as f64 / t.elapsed().as_secs_f64()
}

fn verdict(ratio: f64) -> &'static str {
    if ratio <= TARGET { "met" } else { "MISSED" }
}

/// The raw responder: a queue subscriber on its own client, echoing the payload.
async fn responder(url: &str, full_subject: String) -> tokio::task::JoinHandle<()> {
    let client = async_nats::connect(url).await.unwrap();
    let mut sub = client
        .queue_subscribe(full_subject, "bench".to_string())
        .await
        .unwrap();
    client.flush().await.unwrap();
    tokio::spawn(async move {
        while let Some(msg) = sub.next().await {
            if let Some(reply) = msg.reply {
                client.publish(reply, msg.payload).await.unwrap();
            }
        }
    })
}

/// Times `f` over `n` iterations; ns per iteration.
fn time_ns(n: usize, mut f: impl FnMut()) -> f64 {
    let t = Instant::now();
    for _ in 0..n {
        f();
    }
    t.elapsed().as_secs_f64() * 1e9 / n as f64
}

/// A named piece of work to time.
type Part<'a> = (&'static str, Box<dyn FnMut() + 'a>);

/// The CPU cost of the typed path's parts, without the network (median of 5 runs each).
fn cpu_costs(ctx: &Ctx, n: usize) {
    let codec = Codec::default();
    let req = &ctx.req;
    let body = ctx.payload.clone();
    let reply_headers: Option<&HeaderMap> = None;
    let parts: Vec<Part<'_>> = vec![
        (
            "RequestHeaders::default().for_downstream() (UUIDv7 + traceparent)",
            Box::new(|| {
                black_box(RequestHeaders::default().for_downstream());
            }),
        ),
        (
            "uuid::Uuid::now_v7() alone",
            Box::new(|| {
                black_box(uuid::Uuid::now_v7());
            }),
        ),
        (
            "uuid::Uuid::now_v7().to_string() (new_correlation_id)",
            Box::new(|| {
                black_box(uuid::Uuid::now_v7().to_string());
            }),
        ),
        (
            "RequestHeaders::new() (clone-free: UUIDv7 only)",
            Box::new(|| {
                black_box(RequestHeaders::new());
            }),
        ),
        (
            "TraceParent::to_string() (write! per byte)",
            Box::new({
                let tp = TraceParent::new_root();
                move || {
                    black_box(black_box(&tp).to_string());
                }
            }),
        ),
        (
            "TraceParent::new_root() alone",
            Box::new(|| {
                black_box(TraceParent::new_root());
            }),
        ),
        (
            "headers.to_header_map() + encoded.write_headers()",
            Box::new({
                let headers = RequestHeaders::default().for_downstream();
                let encoded = codec.encode(req).unwrap();
                move || {
                    let mut map = headers.to_header_map();
                    encoded.write_headers(&mut map);
                    black_box(map);
                }
            }),
        ),
        (
            "HeaderMap::new() + 3 inserts of static names (the map alone)",
            Box::new(|| {
                let mut map = HeaderMap::new();
                map.insert(
                    "Nats-Correlation-Id",
                    "0196a3b2-7c4d-7e8f-9a0b-1c2d3e4f5a6b",
                );
                map.insert(
                    "traceparent",
                    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                );
                map.insert("Content-Type", "application/msgpack");
                black_box(map);
            }),
        ),
        (
            "codec.encode(&req) (msgpack, named)",
            Box::new(|| {
                black_box(codec.encode(black_box(req)).unwrap());
            }),
        ),
        (
            "codec.decode::<Resp>(reply)",
            Box::new(|| {
                black_box(
                    codec
                        .decode::<Resp>(reply_headers, black_box(&body))
                        .unwrap(),
                );
            }),
        ),
        (
            "nats.full_subject(relative)",
            Box::new(|| {
                black_box(ctx.nats.full_subject(ctx.subject.as_str()));
            }),
        ),
        (
            "all of the typed path's CPU work above, together",
            Box::new(|| {
                let headers = RequestHeaders::default().for_downstream();
                let encoded = codec.encode(black_box(req)).unwrap();
                let mut map = headers.to_header_map();
                encoded.write_headers(&mut map);
                black_box((map, ctx.nats.full_subject(ctx.subject.as_str())));
                black_box(
                    codec
                        .decode::<Resp>(reply_headers, black_box(&body))
                        .unwrap(),
                );
            }),
        ),
    ];
    println!("\nCPU cost of the typed path's parts, no network (median of 5 runs of {n}):");
    for (name, mut f) in parts {
        let runs: Vec<f64> = (0..5).map(|_| time_ns(n, &mut f)).collect();
        println!("  {:>8.0} ns  {name}", median(&runs));
    }
}

async fn run() -> anyhow::Result<()> {
    let quick = std::env::var("ORES_BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0");
    let scale = if quick { 10 } else { 1 };
    let sequential_n = SEQUENTIAL / scale;
    let concurrent_n = CONCURRENT / scale;
    let url = std::env::var("ORES_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into());
    let prefix = format!("ores.bench.{}", std::process::id());

    let nats = Nats::new(NatsConfig::new(&url, prefix.clone()))?;
    let mut events = nats.events();
    let tree = Supervisor::builder("bench")
        .child(nats.child_spec())
        .spawn()
        .await?;
    events
        .wait_for(Duration::from_secs(10), |e| {
            matches!(e, ConnectionEvent::Connected)
        })
        .await
        .expect("the NATS connection actor did not connect within 10 s");

    let subject = Subject::service("bench", "v1", "echo", "get")?;
    let full_subject = nats.full_subject(subject.as_str());
    let _responder = responder(&url, full_subject.clone()).await;
    let raw = async_nats::connect(&url).await?;

    let req = sample_request();
    let payload = Codec::default().encode(&req)?.body;
    let mut headers = RequestHeaders::default().for_downstream().to_header_map();
    headers.insert("X-Timeout-Ms", "10000");
    Codec::default().encode(&req)?.write_headers(&mut headers);
    let ctx = Arc::new(Ctx {
        nats: nats.clone(),
        raw,
        subject,
        full_subject,
        req,
        payload,
        headers,
    });
    println!(
        "nats request benchmark: {url}, subject {}, payload {} B msgpack, ores headers {} B on the wire, \
         {} rounds + 1 warm-up, {sequential_n} sequential / {concurrent_n} at {IN_FLIGHT} in flight per variant{}",
        ctx.full_subject,
        ctx.payload.len(),
        header_wire_len(&ctx.headers),
        ROUNDS,
        if quick { " (quick)" } else { "" },
    );

    // `ORES_BENCH_ONLY=ores` (a comma-separated list of names) runs only those variants, e.g.
    // under `perf record`; the summary then needs `raw` and `ores`.
    let only: Option<Vec<String>> = std::env::var("ORES_BENCH_ONLY")
        .ok()
        .map(|v| v.split(',').map(|s| s.trim().to_string()).collect());
    let nv = Variant::ALL.len();
    let mut p50 = vec![Vec::new(); nv];
    let mut p99 = vec![Vec::new(); nv];
    let mut rps = vec![Vec::new(); nv];
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
            let (a, b) = sequential(&ctx, v, sequential_n).await;
            let r = concurrent(&ctx, v, concurrent_n).await;
            let i = v as usize;
            if round > 0 {
                p50[i].push(a);
                p99[i].push(b);
                rps[i].push(r);
            }
            line.push_str(&format!(
                "  {} p50 {a:.0} p99 {b:.0} µs {:.1} k/s;",
                v.name(),
                r / 1e3
            ));
        }
        println!("{line}");
    }

    let m = |v: &[Vec<f64>], x: Variant| median(&v[x as usize]);
    println!("\nall variants (median of {ROUNDS} rounds):");
    for v in Variant::ALL
        .into_iter()
        .filter(|v| !p50[*v as usize].is_empty())
    {
        println!(
            "  {:<11} p50 {:>5.0} µs  p99 {:>5.0} µs  {:>6.1} k req/s  (p50 range {:.0}-{:.0} µs, k req/s range {:.1}-{:.1})",
            v.name(),
            m(&p50, v),
            m(&p99, v),
            m(&rps, v) / 1e3,
            p50[v as usize].iter().copied().fold(f64::MAX, f64::min),
            p50[v as usize].iter().copied().fold(0.0, f64::max),
            rps[v as usize].iter().copied().fold(f64::MAX, f64::min) / 1e3,
            rps[v as usize].iter().copied().fold(0.0, f64::max) / 1e3,
        );
    }
    let ran = |v: Variant| !p50[v as usize].is_empty();
    if !(ran(Variant::Raw) && ran(Variant::Ores) && ran(Variant::HandWired)) {
        println!("(raw, hand-wired or ores not run: no ratios)");
        tree.shutdown(Duration::from_secs(5)).await?;
        return Ok(());
    }
    // Per-round ratios (interleaved in the same round), then their median: robust to drift.
    let ratios = |base: Variant| -> (Vec<f64>, Vec<f64>) {
        let p: Vec<f64> = (0..ROUNDS)
            .map(|r| p50[Variant::Ores as usize][r] / p50[base as usize][r])
            .collect();
        let t: Vec<f64> = (0..ROUNDS)
            .map(|r| rps[base as usize][r] / rps[Variant::Ores as usize][r])
            .collect();
        (p, t)
    };
    let (hand_p50, hand_rps) = ratios(Variant::HandWired);
    let (raw_p50, raw_rps) = ratios(Variant::Raw);
    println!(
        "per-round ratios ores/hand-wired: p50 {}; time at {IN_FLIGHT} in flight {}",
        fmt_list(&hand_p50),
        fmt_list(&hand_rps)
    );
    println!(
        "per-round ratios ores/raw:        p50 {}; time at {IN_FLIGHT} in flight {}",
        fmt_list(&raw_p50),
        fmt_list(&raw_rps)
    );

    cpu_costs(&ctx, 100_000 / scale);
    let n = 100_000 / scale;
    let mut runs = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        for _ in 0..n {
            black_box(ctx.nats.client(Duration::from_secs(1)).await.unwrap());
        }
        runs.push(t.elapsed().as_secs_f64() * 1e9 / n as f64);
    }
    println!(
        "  {:>8.0} ns  nats.client(wait).await (ArcSwap load + async_nats::Client clone)",
        median(&runs)
    );

    println!(
        "\nnats request benchmark (median of {ROUNDS} rounds, payload {} B, headers {} B)",
        ctx.payload.len(),
        header_wire_len(&ctx.headers),
    );
    for (base, p, t) in [
        (Variant::HandWired, &hand_p50, &hand_rps),
        (Variant::Raw, &raw_p50, &raw_rps),
    ] {
        let (r1, r64) = (median(p), median(t));
        let judged = base == Variant::HandWired;
        let verdict = |r: f64| {
            if judged {
                format!("target <= {TARGET}: {}", verdict(r))
            } else {
                "(not judged: no headers, body pre-encoded)".to_string()
            }
        };
        println!(
            "vs {:<10} 1 in flight  p50 {:.0} / {:.0} µs  p99 {:.0} / {:.0} µs  ratio p50 {r1:.2}  {}",
            base.name(),
            m(&p50, Variant::Ores),
            m(&p50, base),
            m(&p99, Variant::Ores),
            m(&p99, base),
            verdict(r1),
        );
        println!(
            "vs {:<10} {IN_FLIGHT} in flight  {:.1} / {:.1} k req/s  time ratio {r64:.2}  {}",
            base.name(),
            m(&rps, Variant::Ores) / 1e3,
            m(&rps, base) / 1e3,
            verdict(r64),
        );
    }

    tree.shutdown(Duration::from_secs(5)).await?;
    Ok(())
}

fn fmt_list(v: &[f64]) -> String {
    v.iter()
        .map(|x| format!("{x:.2}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The size of `headers` in an `HPUB` (`NATS/1.0\r\n`, `name: value\r\n` each, `\r\n`).
fn header_wire_len(headers: &HeaderMap) -> usize {
    let mut n = "NATS/1.0\r\n".len() + 2;
    for (name, values) in headers.iter() {
        for value in values {
            n += AsRef::<str>::as_ref(name).len() + 2 + value.as_str().len() + 2;
        }
    }
    n
}

fn main() -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?
        .block_on(run())
}
