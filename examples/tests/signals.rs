//! Signal-driven shutdown of a real process: the demo in `--serve` mode reports READY=1,
//! then SIGINT, SIGTERM or SIGQUIT shut its tree down in reverse start order, exit code 0.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::os::unix::net::UnixDatagram;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

const WAIT: Duration = Duration::from_secs(30);

fn shuts_down_in_order_on(signal: Signal) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&path).unwrap();
    sock.set_read_timeout(Some(WAIT)).unwrap();

    let mut child = Command::new(env!("CARGO_BIN_EXE_supervision_demo"))
        .args(["--serve", "--failures", "1"])
        .env("NOTIFY_SOCKET", &path)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (lines_tx, lines) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });

    let mut buf = [0u8; 64];
    let n = sock.recv(&mut buf).expect("READY=1 from the demo");
    assert_eq!(&buf[..n], b"READY=1");
    // Wait until it serves, then signal it.
    let mut seen = Vec::new();
    loop {
        let line = lines.recv_timeout(WAIT).expect("the demo prints `serving`");
        let serving = line.starts_with("serving");
        seen.push(line);
        if serving {
            break;
        }
    }
    kill(Pid::from_raw(child.id() as i32), signal).unwrap();

    let (status_tx, status) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = status_tx.send(child.wait());
    });
    let status = status
        .recv_timeout(WAIT)
        .expect("the demo exits after the signal")
        .unwrap();
    let n = sock.recv(&mut buf).expect("STOPPING=1 from the demo");
    assert_eq!(&buf[..n], b"STOPPING=1");
    // Everything it printed up to its exit (the reader ends at end of file).
    let mut rest = Vec::new();
    while let Ok(line) = lines.recv_timeout(WAIT) {
        rest.push(line);
    }
    assert!(
        status.success(),
        "exit status {status:?}; output: {seen:?} {rest:?}"
    );
    let post_stops: Vec<&str> = rest
        .iter()
        .filter_map(|l| l.split("post_stop").nth(1).map(str::trim))
        .collect();
    assert_eq!(
        post_stops,
        ["reporter", "flaky", "config"],
        "output: {rest:?}"
    );
    assert!(
        rest.iter().any(|l| l == &format!("{signal} received")),
        "{rest:?}"
    );
}

#[test]
fn sigterm_shuts_the_tree_down_in_reverse_order() {
    shuts_down_in_order_on(Signal::SIGTERM);
}

#[test]
fn sigint_shuts_the_tree_down_in_reverse_order() {
    shuts_down_in_order_on(Signal::SIGINT);
}

#[test]
fn sigquit_shuts_the_tree_down_in_reverse_order() {
    shuts_down_in_order_on(Signal::SIGQUIT);
}
