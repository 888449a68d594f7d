//! `FaultProxy` against a local echo server and the real PostgreSQL at 127.0.0.1:5432
//! (`ORES_TEST_DATABASE_URL` overrides `postgres://postgres@127.0.0.1:5432/test`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ores_testkit::proxy::{FaultProxy, Faults, ProxyError};
use sqlx::{Connection, PgConnection};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;

const WAIT: Duration = Duration::from_secs(10);

/// Spawns an echo server on a free port; it lives until the test's runtime ends.
async fn echo_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let (mut read, mut write) = socket.split();
                let _ = tokio::io::copy(&mut read, &mut write).await;
            });
        }
    });
    addr
}

async fn round_trip(stream: &mut TcpStream, msg: &[u8]) -> Vec<u8> {
    stream.write_all(msg).await.unwrap();
    let mut buf = vec![0; msg.len()];
    timeout(WAIT, stream.read_exact(&mut buf))
        .await
        .expect("echo timed out")
        .expect("echo failed");
    buf
}

fn database_url() -> String {
    std::env::var("ORES_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

async fn proxy_to_postgres() -> (FaultProxy, String) {
    let url = database_url();
    let authority = url
        .split("://")
        .nth(1)
        .and_then(|rest| rest.split(['/', '?']).next())
        .map(|auth| auth.rsplit('@').next().unwrap_or(auth).to_owned())
        .unwrap();
    let proxy = FaultProxy::start(authority).await.unwrap();
    let proxied = proxy.url_for(&url);
    (proxy, proxied)
}

async fn connect(url: &str) -> Result<PgConnection, sqlx::Error> {
    timeout(WAIT, PgConnection::connect(url))
        .await
        .expect("connect hung")
}

async fn select_one(conn: &mut PgConnection) -> Result<i32, sqlx::Error> {
    let row: (i32,) = timeout(WAIT, sqlx::query_as("SELECT 1").fetch_one(conn))
        .await
        .expect("query hung")?;
    Ok(row.0)
}

#[tokio::test]
async fn bytes_flow_both_ways() {
    let echo = echo_server().await;
    let proxy = FaultProxy::start(echo).await.unwrap();
    assert_eq!(proxy.target(), echo);
    assert_eq!(proxy.addr().port(), proxy.port());
    assert_eq!(proxy.faults(), Faults::default());

    let mut client = TcpStream::connect(proxy.addr()).await.unwrap();
    assert_eq!(round_trip(&mut client, b"hello").await, b"hello");
    let big: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
    assert_eq!(round_trip(&mut client, &big).await, big);
    timeout(WAIT, proxy.wait_for_connections(1)).await.unwrap();

    drop(client);
    timeout(WAIT, proxy.wait_for_connections(0)).await.unwrap();
}

#[tokio::test]
async fn accepts_host_port_strings() {
    let echo = echo_server().await;
    let proxy = FaultProxy::start(format!("localhost:{}", echo.port()))
        .await
        .unwrap();
    assert_eq!(proxy.target().port(), echo.port());
    let mut client = TcpStream::connect(proxy.addr()).await.unwrap();
    assert_eq!(round_trip(&mut client, b"hi").await, b"hi");
}

#[tokio::test]
async fn unresolvable_target_names_it() {
    let err = FaultProxy::start("no-such-host.invalid:5432")
        .await
        .unwrap_err();
    assert!(matches!(err, ProxyError::Resolve { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "could not resolve proxy target `no-such-host.invalid:5432`"
    );
}

#[tokio::test]
async fn cut_closes_live_connections_and_refuses_new_ones() {
    let echo = echo_server().await;
    let proxy = FaultProxy::start(echo).await.unwrap();
    let mut client = TcpStream::connect(proxy.addr()).await.unwrap();
    assert_eq!(round_trip(&mut client, b"a").await, b"a");

    proxy.cut();
    let mut buf = [0; 1];
    let n = timeout(WAIT, client.read(&mut buf)).await.expect("not cut");
    assert!(matches!(n, Ok(0) | Err(_)), "{n:?}");
    timeout(WAIT, proxy.wait_for_connections(0)).await.unwrap();

    let mut refused = TcpStream::connect(proxy.addr()).await.unwrap();
    let n = timeout(WAIT, refused.read(&mut buf))
        .await
        .expect("not refused");
    assert!(matches!(n, Ok(0) | Err(_)), "{n:?}");

    proxy.restore();
    let mut client = TcpStream::connect(proxy.addr()).await.unwrap();
    assert_eq!(round_trip(&mut client, b"b").await, b"b");
}

#[tokio::test]
async fn dropping_the_proxy_closes_its_connections() {
    let echo = echo_server().await;
    let proxy = FaultProxy::start(echo).await.unwrap();
    let addr = proxy.addr();
    let mut client = TcpStream::connect(addr).await.unwrap();
    assert_eq!(round_trip(&mut client, b"a").await, b"a");

    drop(proxy);
    let mut buf = [0; 1];
    let n = timeout(WAIT, client.read(&mut buf))
        .await
        .expect("still open");
    assert!(matches!(n, Ok(0) | Err(_)), "{n:?}");
    assert!(TcpStream::connect(addr).await.is_err(), "still listening");
}

#[tokio::test]
async fn cut_breaks_a_live_postgres_connection() {
    let (proxy, url) = proxy_to_postgres().await;
    let mut conn = connect(&url).await.unwrap();
    assert_eq!(select_one(&mut conn).await.unwrap(), 1);
    // At least ours: a stray client that lands on the proxy's port (another test's server
    // once had it) may be counted too, so the exact number is not the point here.
    assert!(proxy.connections() >= 1, "{}", proxy.connections());

    proxy.cut();
    let err = select_one(&mut conn).await.unwrap_err();
    assert!(
        matches!(err, sqlx::Error::Io(_)),
        "expected an I/O error, got {err:?}"
    );
    timeout(WAIT, proxy.wait_for_connections(0)).await.unwrap();

    let err = connect(&url).await.unwrap_err();
    assert!(
        matches!(err, sqlx::Error::Io(_)),
        "expected an I/O error, got {err:?}"
    );

    proxy.restore();
    let mut conn = connect(&url).await.unwrap();
    assert_eq!(select_one(&mut conn).await.unwrap(), 1);
}

#[tokio::test]
async fn pause_holds_a_postgres_query_until_resume() {
    let (proxy, url) = proxy_to_postgres().await;
    let mut conn = connect(&url).await.unwrap();
    assert_eq!(select_one(&mut conn).await.unwrap(), 1);

    proxy.pause();
    let query = sqlx::query_as::<_, (i32,)>("SELECT 2").fetch_one(&mut conn);
    tokio::pin!(query);
    assert!(
        timeout(Duration::from_millis(200), &mut query)
            .await
            .is_err(),
        "the query completed while paused"
    );

    proxy.resume();
    let row = timeout(WAIT, query).await.expect("still held").unwrap();
    assert_eq!(row.0, 2);
}

#[tokio::test]
async fn slow_adds_latency_to_postgres_queries() {
    let (proxy, url) = proxy_to_postgres().await;
    let mut conn = connect(&url).await.unwrap();
    assert_eq!(select_one(&mut conn).await.unwrap(), 1);

    let latency = Duration::from_millis(100);
    proxy.slow(latency);
    assert_eq!(proxy.faults().latency, Some(latency));
    let started = Instant::now();
    assert_eq!(select_one(&mut conn).await.unwrap(), 1);
    let took = started.elapsed();
    assert!(took >= latency, "round trip took {took:?}");

    proxy.normal();
    assert_eq!(proxy.faults(), Faults::default());
    assert_eq!(select_one(&mut conn).await.unwrap(), 1);
}

#[tokio::test]
async fn cut_and_pause_a_private_nats_server() {
    let Some(server) = ores_testkit::nats_server::NatsServer::start_or_skip().await else {
        return;
    };
    let proxy = FaultProxy::start(server.addr()).await.unwrap();
    let url = proxy.url_for(&server.url());
    assert_eq!(url, format!("nats://{}", proxy.addr()));

    let stream = TcpStream::connect(proxy.addr()).await.unwrap();
    let mut reader = tokio::io::BufReader::new(stream);
    let mut line = String::new();
    timeout(WAIT, reader.read_line(&mut line))
        .await
        .unwrap()
        .unwrap();
    assert!(line.starts_with("INFO "), "{line:?}");
    reader
        .get_mut()
        .write_all(b"CONNECT {\"verbose\":false,\"protocol\":1}\r\n")
        .await
        .unwrap();

    proxy.pause();
    reader.get_mut().write_all(b"PING\r\n").await.unwrap();
    line.clear();
    {
        let pong = reader.read_line(&mut line);
        tokio::pin!(pong);
        assert!(
            timeout(Duration::from_millis(200), &mut pong)
                .await
                .is_err(),
            "PONG while paused: {line:?}"
        );
        proxy.resume();
        timeout(WAIT, pong).await.expect("still held").unwrap();
    }
    assert_eq!(line, "PONG\r\n");

    proxy.cut();
    line.clear();
    let n = timeout(WAIT, reader.read_line(&mut line))
        .await
        .expect("not cut");
    assert!(matches!(n, Ok(0) | Err(_)), "{n:?} {line:?}");
    assert!(
        server.is_running(),
        "the cut is in the proxy, not the server"
    );
}
