//! `NatsServer` against the real `nats-server` binary, with raw TCP only.
//!
//! Each test skips (printing `skipped: ...`) when the binary is not installed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use nix::sys::signal::kill;
use nix::unistd::Pid;
use ores_testkit::nats_server::{NatsServer, NatsServerError};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::time::timeout;

const WAIT: Duration = Duration::from_secs(10);

/// Connects and returns the reader positioned after the server's INFO line, and that line.
async fn connect(port: u16) -> (BufReader<TcpStream>, String) {
    let stream = timeout(WAIT, TcpStream::connect(("127.0.0.1", port)))
        .await
        .expect("connect timed out")
        .expect("connect failed");
    let mut reader = BufReader::new(stream);
    let line = read_line(&mut reader).await;
    assert!(line.starts_with("INFO "), "expected INFO, got {line:?}");
    (reader, line)
}

async fn read_line(reader: &mut BufReader<TcpStream>) -> String {
    let mut line = String::new();
    let n = timeout(WAIT, reader.read_line(&mut line))
        .await
        .expect("read timed out")
        .expect("read failed");
    assert!(n > 0, "connection closed");
    line
}

#[tokio::test]
async fn info_line_says_jetstream() {
    let Some(server) = NatsServer::start_or_skip().await else {
        return;
    };
    assert_eq!(server.url(), format!("nats://127.0.0.1:{}", server.port()));
    assert!(server.is_running());
    let (_reader, info) = connect(server.port()).await;
    assert!(
        info.contains(r#""jetstream":true"#),
        "no jetstream in {info}\nlog:\n{}",
        server.log()
    );
    assert!(server.log().contains("Server is ready"), "{}", server.log());
}

#[tokio::test]
async fn stop_refuses_connections_and_restart_answers_on_the_same_port() {
    let Some(mut server) = NatsServer::start_or_skip().await else {
        return;
    };
    let port = server.port();
    let store = server.dir().join("jetstream");

    server.stop().await.unwrap();
    assert!(!server.is_running());
    let refused = TcpStream::connect(("127.0.0.1", port)).await;
    assert!(
        refused.is_err(),
        "port {port} still accepts after stop\nlog:\n{}",
        server.log()
    );
    // Stopping twice is fine.
    server.stop().await.unwrap();

    server.restart().await.unwrap();
    assert_eq!(server.port(), port);
    assert!(server.is_running());
    let (_reader, info) = connect(port).await;
    assert!(info.contains(r#""jetstream":true"#), "{info}");
    assert!(store.is_dir(), "JetStream store dir {store:?} is gone");
}

/// Sends a JetStream API request over raw NATS protocol and returns the reply's payload.
async fn js_request(port: u16, subject: &str, payload: &str) -> String {
    let (mut reader, _info) = connect(port).await;
    let request = format!(
        "CONNECT {{\"verbose\":false,\"protocol\":1}}\r\nSUB _INBOX.test 1\r\n\
         PUB {subject} _INBOX.test {}\r\n{payload}\r\nPING\r\n",
        payload.len()
    );
    reader
        .get_mut()
        .write_all(request.as_bytes())
        .await
        .unwrap();
    loop {
        let line = read_line(&mut reader).await;
        if line.starts_with("MSG _INBOX.test ") {
            return read_line(&mut reader).await;
        }
        assert!(
            line == "PONG\r\n" || line.starts_with("INFO ") || line == "PING\r\n",
            "unexpected {line:?}"
        );
    }
}

#[tokio::test]
async fn restart_keeps_the_jetstream_store() {
    let Some(mut server) = NatsServer::start_or_skip().await else {
        return;
    };
    let created = js_request(
        server.port(),
        "$JS.API.STREAM.CREATE.ORDERS",
        r#"{"name":"ORDERS","subjects":["orders.>"],"storage":"file"}"#,
    )
    .await;
    assert!(!created.contains(r#""error""#), "{created}");

    server.restart().await.unwrap();

    let info = js_request(server.port(), "$JS.API.STREAM.INFO.ORDERS", "").await;
    assert!(
        info.contains(r#""name":"ORDERS""#) && !info.contains(r#""error""#),
        "stream lost across restart: {info}\nlog:\n{}",
        server.log()
    );
}

#[tokio::test]
async fn lame_duck_tells_connected_clients() {
    let Some(server) = NatsServer::start_or_skip().await else {
        return;
    };
    let (mut reader, _info) = connect(server.port()).await;
    reader
        .get_mut()
        .write_all(b"CONNECT {\"verbose\":false,\"protocol\":1}\r\nPING\r\n")
        .await
        .unwrap();
    assert_eq!(read_line(&mut reader).await, "PONG\r\n");

    server.lame_duck().await.unwrap();

    let ldm = timeout(WAIT, async {
        loop {
            let line = read_line(&mut reader).await;
            if line.starts_with("INFO ") && line.contains(r#""ldm":true"#) {
                return line;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no INFO with ldm\nlog:\n{}", server.log()));
    assert!(ldm.contains(r#""ldm":true"#));
    assert!(server.is_running(), "lame duck is not exit");
}

#[tokio::test]
async fn drop_kills_the_process_and_removes_the_dir() {
    let Some(server) = NatsServer::start_or_skip().await else {
        return;
    };
    let pid = server.pid().unwrap();
    let dir = server.dir().to_path_buf();
    assert!(kill(Pid::from_raw(pid), None).is_ok());

    drop(server);

    assert_eq!(
        kill(Pid::from_raw(pid), None),
        Err(nix::errno::Errno::ESRCH)
    );
    assert!(!dir.exists(), "{dir:?} still exists");
}

#[tokio::test]
async fn lame_duck_on_a_stopped_server_is_an_error() {
    let Some(mut server) = NatsServer::start_or_skip().await else {
        return;
    };
    server.stop().await.unwrap();
    let err = server.lame_duck().await.unwrap_err();
    assert!(matches!(err, NatsServerError::NotRunning { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!("nats-server on 127.0.0.1:{} is not running", server.port())
    );
}

#[test]
fn missing_binary_message_says_what_to_install() {
    let err = NatsServerError::BinaryNotFound {
        bin: "nats-server".into(),
    };
    assert_eq!(
        err.to_string(),
        "`nats-server` not found: install it with `apt-get install nats-server`, \
         or set ORES_TEST_NATS_SERVER_BIN to the path of a nats-server binary"
    );
}

#[tokio::test]
async fn missing_binary_is_a_typed_error() {
    let err = NatsServer::start_with_binary("/nonexistent/nats-server")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, NatsServerError::BinaryNotFound { bin } if bin.ends_with("nats-server")),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("apt-get install nats-server"),
        "{err}"
    );
}

#[tokio::test]
async fn a_server_that_exits_at_start_is_an_error_not_a_hang() {
    let started = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        ores_testkit::nats_server::NatsServer::start_with_binary("/bin/false"),
    )
    .await
    .expect("start returns instead of hanging");
    let err = started.unwrap_err();
    assert!(err.to_string().contains("exited"), "{err}");
}
