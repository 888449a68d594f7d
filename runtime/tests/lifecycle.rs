//! Ordered start, reverse-order shutdown, failing starts and dynamic children.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use ores_runtime::supervisor::{
    ChildStatus, HandleError, Restart, Shutdown, Supervisor, SupervisorError, SupervisorEvent,
    TreeExit,
};

#[tokio::test(start_paused = true)]
async fn children_start_one_after_another_and_stop_in_reverse_order() {
    let journal = Journal::default();
    let mut builder = Supervisor::builder("ordered");
    for name in ["a", "b", "c"] {
        let mut w = Worker::new(name, &journal);
        w.start_delay = Duration::from_millis(50);
        builder = builder.child(w.spec());
    }
    let tree = builder.spawn().await.unwrap();
    assert_eq!(
        journal.take(),
        [
            "begin:a", "start:a", "begin:b", "start:b", "begin:c", "start:c"
        ],
        "each pre_start finished before the next began"
    );
    let mut events = tree.events();
    tree.shutdown(WAIT).await.unwrap();
    assert_eq!(
        journal.take(),
        ["stop:c", "stop:b", "stop:a"],
        "every post_stop ran, in reverse"
    );
    let mut stopped = Vec::new();
    while let Some(ev) = events.try_recv() {
        if let SupervisorEvent::Stopped { child, killed, .. } = ev {
            assert!(!killed);
            stopped.push(child.to_string());
        }
    }
    assert_eq!(stopped, ["c", "b", "a"]);
    assert_eq!(tree.wait().await, TreeExit::Stopped);
}

#[tokio::test(start_paused = true)]
async fn a_child_that_does_not_stop_in_time_is_killed_and_shutdown_goes_on() {
    let journal = Journal::default();
    let a = Worker::new("a", &journal).spec();
    let mut slow = Worker::new("slow", &journal);
    slow.stop_delay = Duration::from_secs(3600);
    let slow = slow
        .spec()
        .shutdown(Shutdown::Graceful(Duration::from_millis(200)));
    let mut events_tree = Supervisor::builder("timeouts").child(a).child(slow);
    events_tree = events_tree.child(
        Worker::new("killed", &journal)
            .spec()
            .shutdown(Shutdown::Kill),
    );
    let tree = events_tree.spawn().await.unwrap();
    let mut events = tree.events();
    journal.take();
    tree.shutdown(WAIT).await.unwrap();
    assert_eq!(
        journal.take(),
        ["stop:a"],
        "`killed` and `slow` were killed: no post_stop"
    );
    let mut killed = Vec::new();
    while let Some(ev) = events.try_recv() {
        if let SupervisorEvent::Stopped {
            child, killed: k, ..
        } = ev
        {
            killed.push((child.to_string(), k));
        }
    }
    assert_eq!(
        killed,
        [
            ("killed".into(), true),
            ("slow".into(), true),
            ("a".into(), false)
        ]
    );
}

#[tokio::test]
async fn a_child_failing_to_start_fails_the_tree_start_and_names_the_child() {
    let journal = Journal::default();
    let a = Worker::new("a", &journal).spec();
    let b = Worker::new("b", &journal);
    b.fail_starts.store(1, std::sync::atomic::Ordering::SeqCst);
    let c = Worker::new("c", &journal).spec();
    let err = Supervisor::builder("broken")
        .child(a)
        .child(b.spec())
        .child(c)
        .spawn()
        .await
        .unwrap_err();
    match &err {
        SupervisorError::ChildStartFailed {
            child, supervisor, ..
        } => {
            assert_eq!((child.as_str(), supervisor.as_str()), ("b", "broken"));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(
        err.to_string()
            .starts_with("supervisor `broken` could not start child `b`: "),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "supervisor `broken` could not start child `b`: b cannot open its resource"
    );
    // The child's own error is kept, not just its text.
    let SupervisorError::ChildStartFailed { error, .. } = &err else {
        unreachable!()
    };
    assert_eq!(error.to_string(), "b cannot open its resource");
    assert_eq!(
        journal.take(),
        ["start:a", "failstart:b", "stop:a"],
        "c never started"
    );
}

#[tokio::test]
async fn duplicate_child_ids_are_refused() {
    let journal = Journal::default();
    let err = Supervisor::builder("dup")
        .child(Worker::new("a", &journal).spec())
        .child(Worker::new("a", &journal).spec())
        .spawn()
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "supervisor `dup` already has a child `a`; child ids must be unique"
    );
    assert!(journal.take().is_empty(), "nothing starts when ids clash");
}

#[tokio::test]
async fn children_can_be_started_and_terminated_at_runtime() {
    let journal = Journal::default();
    let tree = Supervisor::builder("dynamic")
        .child(Worker::new("a", &journal).spec())
        .spawn()
        .await
        .unwrap();
    let b = tree
        .start_child(Worker::new("b", &journal).spec())
        .await
        .unwrap();
    assert_eq!(b.status(), ChildStatus::Running);
    let ids: Vec<_> = tree
        .children()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(ids, ["a", "b"]);

    let dup = tree
        .start_child(Worker::new("b", &journal).spec())
        .await
        .unwrap_err();
    assert!(matches!(dup, SupervisorError::DuplicateChild { .. }));

    let bad = Worker::new("bad", &journal);
    bad.fail_starts
        .store(1, std::sync::atomic::Ordering::SeqCst);
    let err = tree.start_child(bad.spec()).await.unwrap_err();
    assert!(matches!(err, SupervisorError::ChildStartFailed { ref child, .. } if child == "bad"));

    let temp = tree
        .start_child(
            Worker::new("temp", &journal)
                .spec()
                .restart(Restart::Temporary),
        )
        .await
        .unwrap();
    tree.terminate_child("b").await.unwrap();
    assert_eq!(b.status(), ChildStatus::Gone);
    assert!(matches!(
        b.send(WorkerMsg::Stop).await,
        Err(HandleError::Gone { .. })
    ));
    assert!(matches!(
        tree.terminate_child("nope").await,
        Err(SupervisorError::NoSuchChild { .. })
    ));
    journal.take();
    tree.shutdown(WAIT).await.unwrap();
    assert_eq!(
        journal.take(),
        ["stop:temp", "stop:a"],
        "dynamic children stop first"
    );
    assert_eq!(temp.status(), ChildStatus::Gone);
    assert!(matches!(
        tree.start_child(Worker::new("late", &journal).spec()).await,
        Err(SupervisorError::NotRunning { .. })
    ));
}
