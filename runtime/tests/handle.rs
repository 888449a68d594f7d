//! The stable child handle across restarts: `send` waits (bounded), `try_send` fails fast,
//! both give the message back; and the event stream delivered to an actor.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use ores_runtime::supervisor::{Backoff, ChildStatus, HandleError, Supervisor, SupervisorEvent};
use ractor::{Actor, ActorProcessingErr, ActorRef};

#[tokio::test]
async fn the_handle_follows_the_child_across_restarts() {
    let journal = Journal::default();
    let spec = Worker::new("w", &journal).spec();
    let h = spec.handle();
    assert_eq!(h.status(), ChildStatus::Restarting, "not started yet");
    let tree = Supervisor::builder("follow")
        .backoff(Backoff::none())
        .child(spec)
        .spawn()
        .await
        .unwrap();
    let mut events = tree.events();
    let first = h.current().unwrap().get_id();
    let mut incarnations = vec![ping(&h).await];
    for _ in 0..3 {
        h.send(WorkerMsg::Panic).await.unwrap();
        expect(&mut events, "restart", is_started("w")).await;
        incarnations.push(ping(&h).await);
    }
    incarnations.dedup();
    assert_eq!(incarnations.len(), 4, "each ping reached a new incarnation");
    assert_ne!(h.current().unwrap().get_id(), first);
    h.send(WorkerMsg::Record("hello".into())).await.unwrap();
    ping(&h).await;
    assert!(journal.snapshot().contains(&"w:hello".to_string()));
    tree.shutdown(WAIT).await.unwrap();
    assert_eq!(h.status(), ChildStatus::Gone);
}

#[tokio::test(start_paused = true)]
async fn send_waits_for_a_restarting_child_and_try_send_fails_fast() {
    let journal = Journal::default();
    let spec = Worker::new("w", &journal)
        .spec()
        .backoff(Backoff::exponential(Duration::from_secs(2), Duration::from_secs(2)).unwrap());
    let h = spec.handle();
    let tree = Supervisor::builder("wait")
        .child(spec)
        .spawn()
        .await
        .unwrap();
    let mut events = tree.events();
    h.send(WorkerMsg::Panic).await.unwrap();
    expect(&mut events, "restarting", |e| {
        matches!(e, SupervisorEvent::Restarting { .. })
    })
    .await;
    assert_eq!(h.status(), ChildStatus::Restarting);

    // Fail fast: the message comes back at once.
    match h.try_send(WorkerMsg::Record("early".into())) {
        Err(HandleError::Restarting {
            child,
            msg: WorkerMsg::Record(m),
        }) => {
            assert_eq!((child.as_str(), m.as_str()), ("w", "early"));
        }
        other => panic!("expected Restarting, got {other:?}"),
    }
    // Waiting: delivered to the new incarnation once it is up, 2 s later (paused clock).
    let t0 = tokio::time::Instant::now();
    h.send(WorkerMsg::Record("waited".into())).await.unwrap();
    assert!(
        t0.elapsed() >= Duration::from_millis(1900),
        "{:?}",
        t0.elapsed()
    );
    ping(&h).await;
    assert!(journal.snapshot().contains(&"w:waited".to_string()));
    assert!(!journal.snapshot().contains(&"w:early".to_string()));
    tree.shutdown(WAIT).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn send_gives_the_message_back_when_the_wait_bound_passes() {
    let journal = Journal::default();
    let spec = Worker::new("w", &journal)
        .spec()
        .backoff(Backoff::exponential(Duration::from_secs(60), Duration::from_secs(60)).unwrap());
    let h = spec.handle().with_wait(Duration::from_secs(1));
    let tree = Supervisor::builder("bound")
        .child(spec)
        .spawn()
        .await
        .unwrap();
    let mut events = tree.events();
    h.send(WorkerMsg::Panic).await.unwrap();
    expect(&mut events, "restarting", |e| {
        matches!(e, SupervisorEvent::Restarting { .. })
    })
    .await;
    let err = h.send(WorkerMsg::Record("late".into())).await.unwrap_err();
    assert_eq!(err.to_string(), "child `w` was not running again within 1s");
    assert!(matches!(err.into_msg(), Some(WorkerMsg::Record(m)) if m == "late"));
    tree.shutdown(WAIT).await.unwrap();
}

#[tokio::test]
async fn a_waiting_send_fails_at_once_when_the_child_goes_away() {
    let journal = Journal::default();
    let spec = Worker::new("w", &journal)
        .spec()
        .backoff(Backoff::exponential(Duration::from_secs(60), Duration::from_secs(60)).unwrap());
    let h = spec.handle().with_wait(Duration::from_secs(600));
    let tree = Supervisor::builder("gone")
        .child(spec)
        .spawn()
        .await
        .unwrap();
    let mut events = tree.events();
    h.send(WorkerMsg::Panic).await.unwrap();
    expect(&mut events, "restarting", |e| {
        matches!(e, SupervisorEvent::Restarting { .. })
    })
    .await;
    let waiting = tokio::spawn({
        let h = h.clone();
        async move { h.send(WorkerMsg::Record("x".into())).await }
    });
    tree.terminate_child("w").await.unwrap();
    let result = tokio::time::timeout(WAIT, waiting).await.unwrap().unwrap();
    assert!(
        matches!(result, Err(HandleError::Gone { .. })),
        "{result:?}"
    );
}

/// An actor that collects the supervision events it is sent.
struct Listener;

enum ListenerMsg {
    Event(SupervisorEvent),
    Seen(ractor::RpcReplyPort<Vec<String>>),
}

impl From<SupervisorEvent> for ListenerMsg {
    fn from(e: SupervisorEvent) -> Self {
        ListenerMsg::Event(e)
    }
}

impl Actor for Listener {
    type Msg = ListenerMsg;
    type State = (Vec<String>, Option<tokio::sync::oneshot::Sender<()>>);
    type Arguments = tokio::sync::oneshot::Sender<()>;

    async fn pre_start(
        &self,
        _: ActorRef<ListenerMsg>,
        done: tokio::sync::oneshot::Sender<()>,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok((Vec::new(), Some(done)))
    }

    async fn handle(
        &self,
        _: ActorRef<ListenerMsg>,
        msg: ListenerMsg,
        (seen, done): &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            ListenerMsg::Event(e) => {
                let started_again = matches!(e, SupervisorEvent::Started { .. });
                seen.push(match e {
                    SupervisorEvent::Failed { .. } => "failed".into(),
                    SupervisorEvent::Restarting { .. } => "restarting".into(),
                    SupervisorEvent::Started { .. } => "started".into(),
                    other => format!("{other:?}"),
                });
                if started_again && let Some(done) = done.take() {
                    let _ = done.send(());
                }
            }
            ListenerMsg::Seen(reply) => {
                let _ = reply.send(seen.clone());
            }
        }
        Ok(())
    }
}

#[tokio::test]
async fn events_can_be_delivered_to_an_actor_in_order() {
    let journal = Journal::default();
    let spec = Worker::new("w", &journal).spec();
    let h = spec.handle();
    let tree = Supervisor::builder("observed")
        .backoff(Backoff::none())
        .child(spec)
        .spawn()
        .await
        .unwrap();
    let (done_tx, done) = tokio::sync::oneshot::channel();
    let (listener, _) = Actor::spawn(None, Listener, done_tx).await.unwrap();
    tree.events().forward_to(listener.clone());
    h.send(WorkerMsg::Fail).await.unwrap();
    tokio::time::timeout(WAIT, done).await.unwrap().unwrap();
    let seen = listener
        .call(ListenerMsg::Seen, Some(WAIT))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(seen, ["failed", "restarting", "started"]);
    tree.shutdown(WAIT).await.unwrap();
    listener.stop(None);
}
