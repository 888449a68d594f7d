//! The runtime builder and handle: readiness, ordered shutdown, the tree ending by itself.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::os::unix::net::UnixDatagram;
use std::time::Duration;

use common::*;
use ores_runtime::exit::ExitCode;
use ores_runtime::runtime::{RunOutcome, Runtime};
use ores_runtime::supervisor::{Backoff, Intensity, TreeExit};

fn recv(sock: &UnixDatagram) -> String {
    let mut buf = [0u8; 256];
    let n = sock
        .recv(&mut buf)
        .expect("a notification within the socket's read timeout");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[tokio::test]
async fn start_reports_ready_and_a_requested_stop_shuts_down_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&path).unwrap();
    sock.set_read_timeout(Some(WAIT)).unwrap();

    let journal = Journal::default();
    let rt = Runtime::builder("rt")
        .child(Worker::new("a", &journal).spec())
        .child(Worker::new("b", &journal).spec())
        .notify_socket(path.as_os_str())
        .start()
        .await
        .unwrap();
    assert_eq!(recv(&sock), "READY=1");
    assert_eq!(journal.take(), ["start:a", "start:b"]);

    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let run = tokio::spawn(rt.run_until(async move {
        let _ = rx.await;
    }));
    tx.send(()).unwrap();
    let outcome = run.await.unwrap();
    assert!(matches!(outcome, RunOutcome::Requested), "{outcome:?}");
    assert_eq!(outcome.exit_code(), ExitCode::Ok);
    assert_eq!(recv(&sock), "STOPPING=1");
    assert_eq!(journal.take(), ["stop:b", "stop:a"]);
}

#[tokio::test]
async fn a_root_that_gives_up_ends_the_run_with_a_failure_exit_code() {
    let journal = Journal::default();
    let spec = Worker::new("w", &journal).spec();
    let h = spec.handle();
    let rt = Runtime::builder("rt")
        .intensity(Intensity::new(0, Duration::from_secs(60)).unwrap())
        .backoff(Backoff::none())
        .child(spec)
        .without_systemd_notify()
        .start()
        .await
        .unwrap();
    let run = tokio::spawn(rt.run_until(std::future::pending()));
    h.send(WorkerMsg::Panic).await.unwrap();
    let outcome = tokio::time::timeout(WAIT, run).await.unwrap().unwrap();
    assert!(
        matches!(outcome, RunOutcome::TreeEnded(TreeExit::Failed(_))),
        "{outcome:?}"
    );
    assert_eq!(outcome.exit_code(), ExitCode::General);
}

#[tokio::test]
async fn a_child_failing_at_start_fails_the_runtime_start() {
    let journal = Journal::default();
    let w = Worker::new("db", &journal);
    w.fail_starts.store(1, std::sync::atomic::Ordering::SeqCst);
    let err = Runtime::builder("rt")
        .child(w.spec())
        .without_systemd_notify()
        .start()
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("supervisor `rt` could not start child `db`"),
        "{err}"
    );
}
