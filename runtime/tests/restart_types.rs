//! Permanent, transient and temporary children; restart intensity and escalation.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use ores_runtime::supervisor::{
    Backoff, ChildStatus, HandleError, Intensity, Restart, Strategy, Supervisor, SupervisorEvent,
    TreeExit,
};

async fn single(
    restart: Restart,
    journal: &Journal,
) -> (Supervisor, ores_runtime::supervisor::ChildHandle<WorkerMsg>) {
    let spec = Worker::new("w", journal).spec().restart(restart);
    let h = spec.handle();
    let tree = Supervisor::builder("types")
        .backoff(Backoff::none())
        .child(spec)
        .spawn()
        .await
        .unwrap();
    (tree, h)
}

#[tokio::test]
async fn permanent_child_restarts_after_failure_and_after_normal_stop() {
    let journal = Journal::default();
    let (tree, h) = single(Restart::Permanent, &journal).await;
    let mut events = tree.events();
    h.send(WorkerMsg::Panic).await.unwrap();
    expect(&mut events, "restart after panic", is_started("w")).await;
    h.send(WorkerMsg::Stop).await.unwrap();
    let exited = expect(&mut events, "normal exit", |e| {
        matches!(e, SupervisorEvent::Exited { .. })
    })
    .await;
    assert!(matches!(exited, SupervisorEvent::Exited { reason: Some(ref r), .. } if r == "done"));
    expect(&mut events, "restart after normal stop", is_started("w")).await;
    assert_eq!(h.status(), ChildStatus::Running);
    tree.shutdown(WAIT).await.unwrap();
}

#[tokio::test]
async fn transient_child_restarts_after_failure_only() {
    let journal = Journal::default();
    let (tree, h) = single(Restart::Transient, &journal).await;
    let mut events = tree.events();
    h.send(WorkerMsg::Fail).await.unwrap();
    let failed = expect(&mut events, "failure", |e| {
        matches!(e, SupervisorEvent::Failed { .. })
    })
    .await;
    assert!(
        matches!(failed, SupervisorEvent::Failed { ref reason, .. } if reason.contains("w was told to fail"))
    );
    expect(&mut events, "restart after failure", is_started("w")).await;
    h.send(WorkerMsg::Stop).await.unwrap();
    expect(&mut events, "removal after normal stop", is_removed("w")).await;
    assert_eq!(h.status(), ChildStatus::Gone);
    assert!(matches!(
        h.try_send(WorkerMsg::Stop),
        Err(HandleError::Gone { .. })
    ));
    assert!(tree.children().await.unwrap().is_empty());
    tree.shutdown(WAIT).await.unwrap();
}

#[tokio::test]
async fn temporary_child_is_never_restarted() {
    let journal = Journal::default();
    let (tree, h) = single(Restart::Temporary, &journal).await;
    let mut events = tree.events();
    h.send(WorkerMsg::Panic).await.unwrap();
    expect(&mut events, "removal after panic", is_removed("w")).await;
    assert!(matches!(
        h.send(WorkerMsg::Stop).await,
        Err(HandleError::Gone { .. })
    ));
    assert_eq!(journal.take(), ["start:w"]);
    tree.shutdown(WAIT).await.unwrap();
}

#[tokio::test]
async fn exceeding_the_intensity_stops_the_children_and_fails_the_supervisor() {
    let journal = Journal::default();
    let a = Worker::new("a", &journal).spec();
    let b = Worker::new("b", &journal).spec();
    let hb = b.handle();
    let tree = Supervisor::builder("fragile")
        .intensity(Intensity::new(2, Duration::from_secs(60)).unwrap())
        .backoff(Backoff::none())
        .child(a)
        .child(b)
        .spawn()
        .await
        .unwrap();
    let mut events = tree.events();
    for n in 1..=2 {
        hb.send(WorkerMsg::Panic).await.unwrap();
        expect(&mut events, &format!("restart {n}"), is_started("b")).await;
    }
    journal.take();
    hb.send(WorkerMsg::Panic).await.unwrap();
    let gave_up = expect(&mut events, "give up", |e| {
        matches!(e, SupervisorEvent::GaveUp { .. })
    })
    .await;
    assert!(
        matches!(gave_up, SupervisorEvent::GaveUp { max_restarts: 2, ref child, .. } if &**child == "b")
    );
    match tree.wait().await {
        TreeExit::Failed(reason) => assert_eq!(
            reason,
            "supervisor `fragile` gave up: more than 2 restarts within 60s, the last of child `b`"
        ),
        other => panic!("expected failure, got {other:?}"),
    }
    assert_eq!(
        journal.take(),
        ["stop:a"],
        "the surviving child is stopped gracefully"
    );
    assert_eq!(hb.status(), ChildStatus::Gone);
}

#[tokio::test]
async fn a_nested_supervisor_that_gives_up_escalates_to_its_parent() {
    let journal = Journal::default();
    let inner_worker = Worker::new("inner-worker", &journal).spec();
    let inner_handle = inner_worker.handle();
    let inner = Supervisor::builder("inner")
        .intensity(Intensity::new(0, Duration::from_secs(60)).unwrap())
        .backoff(Backoff::none())
        .child(inner_worker);
    let sibling = Worker::new("sibling", &journal).spec();
    let parent = Supervisor::builder("parent")
        .strategy(Strategy::OneForOne)
        .backoff(Backoff::none())
        .child(sibling)
        .child(inner.into_child_spec())
        .spawn()
        .await
        .unwrap();
    let mut events = parent.events();
    let first = ping(&inner_handle).await;
    inner_handle.send(WorkerMsg::Panic).await.unwrap();
    expect(&mut events, "inner gives up", |e| {
        matches!(e, SupervisorEvent::GaveUp { .. }) && e.supervisor() == "inner"
    })
    .await;
    let failed = expect(&mut events, "parent sees inner fail", |e| {
        matches!(e, SupervisorEvent::Failed { .. }) && e.supervisor() == "parent"
    })
    .await;
    assert_eq!(failed.child(), "inner");
    expect(&mut events, "parent restarts inner", |e| {
        matches!(e, SupervisorEvent::Started { .. })
            && e.supervisor() == "parent"
            && e.child() == "inner"
    })
    .await;
    assert_ne!(
        ping(&inner_handle).await,
        first,
        "the handle follows into the new subtree"
    );
    parent.shutdown(WAIT).await.unwrap();
    let log = journal.take();
    assert_eq!(&log[log.len() - 2..], ["stop:inner-worker", "stop:sibling"]);
}
