//! Tests for systemd readiness notification, against real Unix datagram sockets.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::process::Command;
use std::time::Duration;

use ores_runtime::notify::{self, NotifyError};

fn recv(socket: &UnixDatagram) -> String {
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut buf = [0u8; 256];
    let n = socket.recv(&mut buf).unwrap();
    String::from_utf8(buf[..n].to_vec()).unwrap()
}

#[test]
fn ready_to_a_path_sends_one_datagram() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notify.sock");
    let manager = UnixDatagram::bind(&path).unwrap();

    notify::notify_ready_to(&path).unwrap();
    assert_eq!(recv(&manager), "READY=1");

    notify::notify_to(&path, notify::STOPPING).unwrap();
    assert_eq!(recv(&manager), "STOPPING=1");

    notify::notify_to(&path, "STATUS=draining\nEXTEND_TIMEOUT_USEC=5000000").unwrap();
    assert_eq!(
        recv(&manager),
        "STATUS=draining\nEXTEND_TIMEOUT_USEC=5000000"
    );
}

#[test]
fn ready_to_an_abstract_socket() {
    let name = format!("ores-notify-test-{}", std::process::id());
    let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    let manager = UnixDatagram::bind_addr(&addr).unwrap();

    notify::notify_ready_to(format!("@{name}")).unwrap();
    assert_eq!(recv(&manager), "READY=1");
}

#[test]
fn errors_name_the_socket() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nobody-listens.sock");
    let err = notify::notify_ready_to(&missing).unwrap_err();
    assert!(matches!(err, NotifyError::Send { .. }), "{err:?}");
    assert_eq!(err.path(), missing.to_str().unwrap());
    assert_eq!(
        err.to_string(),
        format!(
            "cannot send `READY=1` to the service manager at `{}`",
            missing.display()
        )
    );
    assert!(std::error::Error::source(&err).is_some());

    for bad in ["relative.sock", "", "@"] {
        let err = notify::notify_ready_to(bad).unwrap_err();
        assert!(
            matches!(err, NotifyError::InvalidSocketPath { .. }),
            "{bad}: {err:?}"
        );
        assert_eq!(
            err.to_string(),
            format!(
                "invalid notification socket `{bad}`: expected an absolute path or `@name` \
                 (at most 107 bytes)"
            )
        );
    }

    let too_long = format!("/{}", "x".repeat(200));
    assert!(matches!(
        notify::notify_ready_to(&too_long).unwrap_err(),
        NotifyError::InvalidSocketPath { .. }
    ));

    let err = notify::notify_to(&missing, "").unwrap_err();
    assert!(matches!(err, NotifyError::EmptyState { .. }), "{err:?}");
}

// `notify_ready()` reads $NOTIFY_SOCKET; changing the environment is `unsafe` in Rust 2024
// (forbidden here), so it runs in a child copy of this test binary.
const CHILD_ENV: &str = "ORES_NOTIFY_TEST_CHILD";

#[test]
fn child() {
    let Ok(mode) = std::env::var(CHILD_ENV) else {
        return;
    };
    match mode.as_str() {
        "absent" => {
            assert_eq!(notify::notify_socket_from_env(), None);
            assert!(!notify::notify_ready().unwrap());
            assert!(!notify::notify_stopping().unwrap());
        }
        "present" => {
            assert!(notify::notify_ready().unwrap());
            assert!(notify::notify_stopping().unwrap());
        }
        other => panic!("unknown child mode {other}"),
    }
}

fn run_child(mode: &str, socket: Option<&str>) {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", "child", "--test-threads=1"])
        .env(CHILD_ENV, mode);
    match socket {
        Some(path) => cmd.env(notify::NOTIFY_SOCKET_ENV, path),
        None => cmd.env_remove(notify::NOTIFY_SOCKET_ENV),
    };
    let output = cmd.output().unwrap();
    assert!(
        output.status.success(),
        "child {mode} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn without_notify_socket_nothing_is_sent() {
    run_child("absent", None);
    run_child("absent", Some(""));
}

#[test]
fn notify_ready_uses_notify_socket() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("systemd.sock");
    let manager = UnixDatagram::bind(&path).unwrap();
    run_child("present", path.to_str());
    assert_eq!(recv(&manager), "READY=1");
    assert_eq!(recv(&manager), "STOPPING=1");
}
