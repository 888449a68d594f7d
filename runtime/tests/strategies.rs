//! One-for-one, one-for-all and rest-for-one.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use ores_runtime::supervisor::{Backoff, Strategy, Supervisor};

async fn three(
    strategy: Strategy,
    journal: &Journal,
) -> (
    Supervisor,
    Vec<ores_runtime::supervisor::ChildHandle<WorkerMsg>>,
) {
    let specs: Vec<_> = ["a", "b", "c"]
        .iter()
        .map(|n| Worker::new(n, journal).spec())
        .collect();
    let handles = specs.iter().map(|s| s.handle()).collect();
    let mut builder = Supervisor::builder("strategies")
        .strategy(strategy)
        .backoff(Backoff::none());
    for s in specs {
        builder = builder.child(s);
    }
    (builder.spawn().await.expect("tree starts"), handles)
}

#[tokio::test]
async fn one_for_one_restarts_only_the_failed_child() {
    let journal = Journal::default();
    let (tree, h) = three(Strategy::OneForOne, &journal).await;
    let before: Vec<u64> = [ping(&h[0]).await, ping(&h[1]).await, ping(&h[2]).await].into();
    journal.take();
    let mut events = tree.events();
    h[1].send(WorkerMsg::Panic).await.unwrap();
    expect(&mut events, "b restarted", is_started("b")).await;
    assert_eq!(
        journal.take(),
        ["start:b"],
        "a panicking actor skips post_stop; only b restarts"
    );
    assert_eq!(ping(&h[0]).await, before[0]);
    assert_ne!(ping(&h[1]).await, before[1]);
    assert_eq!(ping(&h[2]).await, before[2]);
    tree.shutdown(WAIT).await.unwrap();
}

#[tokio::test]
async fn one_for_all_restarts_every_child_in_order() {
    let journal = Journal::default();
    let (tree, h) = three(Strategy::OneForAll, &journal).await;
    let before: Vec<u64> = [ping(&h[0]).await, ping(&h[1]).await, ping(&h[2]).await].into();
    journal.take();
    let mut events = tree.events();
    h[1].send(WorkerMsg::Fail).await.unwrap();
    expect(&mut events, "c restarted", is_started("c")).await;
    assert_eq!(
        journal.take(),
        ["stop:c", "stop:a", "start:a", "start:b", "start:c"],
        "siblings stop in reverse order, all start again in order"
    );
    for (i, h) in h.iter().enumerate() {
        assert_ne!(ping(h).await, before[i]);
    }
    tree.shutdown(WAIT).await.unwrap();
}

#[tokio::test]
async fn rest_for_one_restarts_the_failed_child_and_those_after_it() {
    let journal = Journal::default();
    let (tree, h) = three(Strategy::RestForOne, &journal).await;
    let before: Vec<u64> = [ping(&h[0]).await, ping(&h[1]).await, ping(&h[2]).await].into();
    journal.take();
    let mut events = tree.events();
    h[1].send(WorkerMsg::Panic).await.unwrap();
    expect(&mut events, "c restarted", is_started("c")).await;
    assert_eq!(journal.take(), ["stop:c", "start:b", "start:c"]);
    assert_eq!(ping(&h[0]).await, before[0]);
    assert_ne!(ping(&h[1]).await, before[1]);
    assert_ne!(ping(&h[2]).await, before[2]);
    tree.shutdown(WAIT).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn rest_for_one_does_not_start_later_children_while_an_earlier_one_cannot_start() {
    let journal = Journal::default();
    let a = Worker::new("a", &journal);
    let b = Worker::new("b", &journal);
    let b_fails = b.fail_starts.clone();
    let c = Worker::new("c", &journal);
    let b_spec = b.spec();
    let hb = b_spec.handle();
    let tree = Supervisor::builder("deps")
        .strategy(Strategy::RestForOne)
        .backoff(
            Backoff::exponential(
                std::time::Duration::from_millis(10),
                std::time::Duration::from_secs(1),
            )
            .unwrap(),
        )
        .child(a.spec())
        .child(b_spec)
        .child(c.spec())
        .spawn()
        .await
        .unwrap();
    let mut events = tree.events();
    journal.take();
    b_fails.store(2, std::sync::atomic::Ordering::SeqCst);
    hb.send(WorkerMsg::Panic).await.unwrap();
    expect(&mut events, "c back", is_started("c")).await;
    assert_eq!(
        journal.take(),
        ["stop:c", "failstart:b", "failstart:b", "start:b", "start:c"],
        "c waits for b"
    );
    tree.shutdown(WAIT).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn call_through_a_handle_waits_for_the_restarting_child() {
    let journal = Journal::default();
    let spec = Worker::new("a", &journal).spec().backoff(
        Backoff::exponential(
            std::time::Duration::from_secs(1),
            std::time::Duration::from_secs(1),
        )
        .unwrap(),
    );
    let h = spec.handle();
    let tree = Supervisor::builder("call")
        .child(spec)
        .spawn()
        .await
        .unwrap();
    let mut events = tree.events();
    let before = ping(&h).await;
    h.send(WorkerMsg::Panic).await.unwrap();
    expect(&mut events, "failure", |e| {
        matches!(e, ores_runtime::supervisor::SupervisorEvent::Failed { .. })
    })
    .await;
    // The child is down for a second: the call waits for the next incarnation.
    let t0 = tokio::time::Instant::now();
    assert_ne!(ping(&h).await, before);
    assert!(t0.elapsed() >= std::time::Duration::from_millis(900));
    tree.shutdown(WAIT).await.unwrap();
}
