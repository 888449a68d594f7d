//! Backoff between restarts, on tokio's paused clock (no real waiting).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use ores_runtime::supervisor::{Backoff, Intensity, InvalidPolicy, Supervisor, SupervisorEvent};
use tokio::time::Instant;

const MS: fn(u64) -> Duration = Duration::from_millis;

/// Make the child fail once, and return (announced delay, time from failure to restart).
async fn fail_once(
    h: &ores_runtime::supervisor::ChildHandle<WorkerMsg>,
    events: &mut ores_runtime::supervisor::SupervisorEvents,
) -> (Duration, Duration) {
    h.send(WorkerMsg::Panic).await.unwrap();
    expect(events, "failure", |e| {
        matches!(e, SupervisorEvent::Failed { .. })
    })
    .await;
    let failed_at = Instant::now();
    let SupervisorEvent::Restarting { delay, .. } = expect(events, "restarting", |e| {
        matches!(e, SupervisorEvent::Restarting { .. })
    })
    .await
    else {
        unreachable!()
    };
    expect(events, "restarted", is_started("w")).await;
    (delay, failed_at.elapsed())
}

#[tokio::test(start_paused = true)]
async fn delays_grow_exponentially_up_to_the_maximum_and_are_honoured() {
    let journal = Journal::default();
    let spec = Worker::new("w", &journal).spec();
    let h = spec.handle();
    let tree = Supervisor::builder("backoff")
        .intensity(Intensity::new(100, Duration::from_secs(3600)).unwrap())
        .backoff(
            Backoff::exponential(MS(100), MS(1000))
                .unwrap()
                .reset_after(Duration::from_secs(60)),
        )
        .child(spec)
        .spawn()
        .await
        .unwrap();
    let mut events = tree.events();
    let mut seen = Vec::new();
    for _ in 0..6 {
        let (announced, waited) = fail_once(&h, &mut events).await;
        assert!(
            waited >= announced,
            "restarted after {waited:?}, before its delay {announced:?}"
        );
        assert!(
            waited < announced + MS(5),
            "restart took {waited:?} for a delay of {announced:?}"
        );
        seen.push(announced);
    }
    assert_eq!(
        seen,
        [MS(100), MS(200), MS(400), MS(800), MS(1000), MS(1000)]
    );
    tree.shutdown(WAIT).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn the_delay_resets_after_a_quiet_period() {
    let journal = Journal::default();
    let spec = Worker::new("w", &journal).spec();
    let h = spec.handle();
    let tree = Supervisor::builder("reset")
        .backoff(
            Backoff::exponential(MS(100), MS(10_000))
                .unwrap()
                .reset_after(Duration::from_secs(5)),
        )
        .child(spec)
        .spawn()
        .await
        .unwrap();
    let mut events = tree.events();
    assert_eq!(fail_once(&h, &mut events).await.0, MS(100));
    assert_eq!(fail_once(&h, &mut events).await.0, MS(200));
    assert_eq!(fail_once(&h, &mut events).await.0, MS(400));
    tokio::time::sleep(Duration::from_secs(5)).await; // the child runs quietly (paused clock)
    assert_eq!(fail_once(&h, &mut events).await.0, MS(100));
    tree.shutdown(WAIT).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn jitter_stretches_delays_within_bounds_and_a_seed_makes_them_reproducible() {
    async fn delays(seed: u64) -> Vec<Duration> {
        let journal = Journal::default();
        let spec = Worker::new("w", &journal).spec();
        let h = spec.handle();
        let tree = Supervisor::builder("jitter")
            .backoff(
                Backoff::exponential(MS(100), MS(100))
                    .unwrap()
                    .jitter(0.5)
                    .unwrap(),
            )
            .rng_seed(seed)
            .child(spec)
            .spawn()
            .await
            .unwrap();
        let mut events = tree.events();
        let mut out = Vec::new();
        for _ in 0..5 {
            out.push(fail_once(&h, &mut events).await.0);
        }
        tree.shutdown(WAIT).await.unwrap();
        out
    }
    let first = delays(7).await;
    assert!(
        first.iter().all(|d| *d >= MS(100) && *d <= MS(150)),
        "{first:?}"
    );
    assert!(
        first.windows(2).any(|w| w[0] != w[1]),
        "jitter varies the delay: {first:?}"
    );
    assert_eq!(delays(7).await, first);
}

#[tokio::test(start_paused = true)]
async fn a_child_that_keeps_failing_to_start_is_retried_with_backoff_until_intensity() {
    let journal = Journal::default();
    let worker = Worker::new("w", &journal);
    let fail_starts = worker.fail_starts.clone();
    let spec = worker.spec();
    let h = spec.handle();
    let tree = Supervisor::builder("flaky")
        .intensity(Intensity::new(3, Duration::from_secs(60)).unwrap())
        .backoff(Backoff::exponential(MS(50), MS(1000)).unwrap())
        .child(spec)
        .spawn()
        .await
        .unwrap();
    let mut events = tree.events();
    fail_starts.store(2, std::sync::atomic::Ordering::SeqCst);
    let start = Instant::now();
    h.send(WorkerMsg::Panic).await.unwrap();
    expect(
        &mut events,
        "started after two failed starts",
        is_started("w"),
    )
    .await;
    // 50 ms, then 100 ms, then 200 ms: no tight loop.
    assert!(start.elapsed() >= MS(350), "{:?}", start.elapsed());
    assert_eq!(
        journal.take(),
        ["start:w", "failstart:w", "failstart:w", "start:w"]
    );
    fail_starts.store(10, std::sync::atomic::Ordering::SeqCst);
    h.send(WorkerMsg::Panic).await.unwrap();
    expect(&mut events, "gives up", |e| {
        matches!(e, SupervisorEvent::GaveUp { .. })
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn failed_starts_after_a_quiet_period_still_back_off_exponentially() {
    let journal = Journal::default();
    let worker = Worker::new("w", &journal);
    let fail_starts = worker.fail_starts.clone();
    let spec = worker.spec();
    let h = spec.handle();
    let tree = Supervisor::builder("quiet-then-down")
        .backoff(
            Backoff::exponential(MS(100), MS(10_000))
                .unwrap()
                .reset_after(Duration::from_secs(5)),
        )
        .child(spec)
        .spawn()
        .await
        .unwrap();
    let mut events = tree.events();
    tokio::time::sleep(Duration::from_secs(60)).await; // a long healthy run
    fail_starts.store(3, std::sync::atomic::Ordering::SeqCst);
    h.send(WorkerMsg::Panic).await.unwrap();
    let mut delays = Vec::new();
    for _ in 0..4 {
        let ev = expect(&mut events, "restarting", |e| {
            matches!(e, SupervisorEvent::Restarting { .. })
        })
        .await;
        let SupervisorEvent::Restarting { delay, .. } = ev else {
            unreachable!()
        };
        delays.push(delay);
    }
    assert_eq!(
        delays,
        [MS(100), MS(200), MS(400), MS(800)],
        "a failed start is not a quiet period"
    );
    expect(&mut events, "up again", is_started("w")).await;
    tree.shutdown(WAIT).await.unwrap();
}

#[test]
fn policy_values_are_checked() {
    assert_eq!(
        Backoff::exponential(Duration::ZERO, MS(5)).unwrap_err(),
        InvalidPolicy::ZeroMin
    );
    assert_eq!(
        Backoff::exponential(MS(10), MS(5)).unwrap_err().to_string(),
        "backoff minimum `10ms` is larger than its maximum `5ms`"
    );
    assert_eq!(
        Backoff::default().jitter(1.5).unwrap_err(),
        InvalidPolicy::Jitter(1.5)
    );
    assert!(Backoff::default().factor(0.5).is_err());
    assert!(Backoff::default().factor(f64::NAN).is_err());
    assert_eq!(
        Intensity::new(1, Duration::ZERO).unwrap_err().to_string(),
        "restart intensity window must be longer than zero, found `0ns`"
    );
    assert_eq!(Backoff::none().delay(10, 0.9), Duration::ZERO);
}
