//! A TCP proxy that injects network faults between a client and a real server.
//!
//! Put a [`FaultProxy`] in front of NATS or PostgreSQL, point the client at
//! [`FaultProxy::url_for`], then break the network under it:
//!
//! - [`FaultProxy::cut`] closes every live connection at once (both directions) and refuses new
//!   ones (accepts and drops them) until [`FaultProxy::restore`];
//! - [`FaultProxy::pause`] stops forwarding bytes (they are held, not dropped) until
//!   [`FaultProxy::resume`];
//! - [`FaultProxy::slow`] delays each forwarded chunk, in both directions;
//! - [`FaultProxy::restore`] (or its alias [`FaultProxy::normal`]) goes back to forwarding
//!   normally.
//!
//! Changes take effect on live connections immediately. Dropping the proxy closes its listener
//! and every connection through it.
//!
//! ```no_run
//! use ores_testkit::proxy::FaultProxy;
//!
//! # async fn test() -> Result<(), Box<dyn std::error::Error>> {
//! let proxy = FaultProxy::start("127.0.0.1:5432").await?;
//! let url = proxy.url_for("postgres://postgres@127.0.0.1:5432/test");
//! // connect a client to `url` ...
//! proxy.cut(); // the client's next query fails with an I/O error
//! proxy.restore(); // new connections work again
//! # let _ = url;
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream, ToSocketAddrs};
use tokio::sync::watch;
use tokio::task::JoinHandle;

const BUFFER: usize = 16 * 1024;

/// Errors from starting a [`FaultProxy`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyError {
    /// The proxy's target could not be resolved.
    #[error("could not resolve proxy target `{target}`")]
    Resolve {
        /// The target as given.
        target: String,
        /// Why it failed.
        #[source]
        source: io::Error,
    },
    /// The proxy's target resolved to no address.
    #[error("proxy target `{target}` resolved to no address")]
    NoAddress {
        /// The target as given.
        target: String,
    },
    /// The proxy could not listen on `127.0.0.1`.
    #[error("could not listen on 127.0.0.1:0 for a proxy to `{target}`")]
    Bind {
        /// The target address.
        target: SocketAddr,
        /// Why it failed.
        #[source]
        source: io::Error,
    },
}

/// What a [`FaultProxy`] does to the bytes it forwards, as returned by [`FaultProxy::faults`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Faults {
    /// Live connections are closed and new ones are refused.
    pub cut: bool,
    /// Bytes are held, not forwarded.
    pub paused: bool,
    /// Each forwarded chunk is delayed by this much.
    pub latency: Option<Duration>,
}

/// A TCP proxy on `127.0.0.1` in front of a target address, with fault injection.
///
/// Every connection accepted is forwarded to the target over a new connection. Dropping the
/// proxy stops its listener and closes every connection through it.
pub struct FaultProxy {
    addr: SocketAddr,
    target: SocketAddr,
    faults: watch::Sender<Faults>,
    connections: watch::Sender<usize>,
    accept: JoinHandle<()>,
}

impl fmt::Debug for FaultProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FaultProxy")
            .field("addr", &self.addr)
            .field("target", &self.target)
            .field("faults", &*self.faults.borrow())
            .field("connections", &*self.connections.borrow())
            .finish()
    }
}

impl FaultProxy {
    /// Starts a proxy on a free `127.0.0.1` port in front of `target` (a [`SocketAddr`] or a
    /// `"host:port"` string, resolved once, here).
    ///
    /// The target need not be up yet: each accepted connection connects to it afresh, and is
    /// dropped when that fails.
    ///
    /// # Errors
    ///
    /// When `target` does not resolve, or the proxy cannot listen.
    pub async fn start<T>(target: T) -> Result<FaultProxy, ProxyError>
    where
        T: ToSocketAddrs + fmt::Display,
    {
        let name = target.to_string();
        let target = tokio::net::lookup_host(target)
            .await
            .map_err(|source| ProxyError::Resolve {
                target: name.clone(),
                source,
            })?
            .next()
            .ok_or(ProxyError::NoAddress { target: name })?;
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .and_then(|listener| Ok((listener.local_addr()?, listener)))
            .map_err(|source| ProxyError::Bind { target, source });
        let (addr, listener) = listener?;
        let (faults, _) = watch::channel(Faults::default());
        let (connections, _) = watch::channel(0);
        let accept = tokio::spawn(accept_loop(
            listener,
            target,
            faults.subscribe(),
            connections.clone(),
        ));
        tracing::debug!(%addr, %target, "fault proxy started");
        Ok(FaultProxy {
            addr,
            target,
            faults,
            connections,
            accept,
        })
    }

    /// The address clients connect to, `127.0.0.1:PORT`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The port clients connect to.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The address the proxy forwards to.
    pub fn target(&self) -> SocketAddr {
        self.target
    }

    /// `url` with its `host:port` replaced by the proxy's, keeping the scheme, the user info,
    /// the path and the query: `postgres://u@db:5432/test?x=1` becomes
    /// `postgres://u@127.0.0.1:PORT/test?x=1`. A `nats://` URL with several servers
    /// (`nats://a:4222,b:4222`) becomes one with the proxy alone.
    ///
    /// ```
    /// # fn check(proxy: &ores_testkit::proxy::FaultProxy) {
    /// let url = proxy.url_for("nats://127.0.0.1:4222");
    /// assert_eq!(url, format!("nats://127.0.0.1:{}", proxy.port()));
    /// # }
    /// ```
    pub fn url_for(&self, url: &str) -> String {
        replace_authority(url, self.addr)
    }

    /// Closes every live connection (both directions) and refuses new ones, accepting and
    /// dropping them at once, until [`FaultProxy::restore`].
    pub fn cut(&self) {
        self.faults.send_modify(|f| f.cut = true);
    }

    /// Stops forwarding bytes in both directions: they are held, not dropped, until
    /// [`FaultProxy::resume`] or [`FaultProxy::restore`]. New connections are accepted.
    pub fn pause(&self) {
        self.faults.send_modify(|f| f.paused = true);
    }

    /// Forwards the bytes held since [`FaultProxy::pause`], and goes on forwarding.
    pub fn resume(&self) {
        self.faults.send_modify(|f| f.paused = false);
    }

    /// Delays each forwarded chunk by `latency`, in both directions (so a request and its
    /// answer take at least twice `latency`). `Duration::ZERO` removes the delay.
    pub fn slow(&self, latency: Duration) {
        self.faults
            .send_modify(|f| f.latency = (!latency.is_zero()).then_some(latency));
    }

    /// Back to forwarding normally: no cut, no pause, no latency. Connections closed by
    /// [`FaultProxy::cut`] stay closed; clients reconnect.
    pub fn restore(&self) {
        self.faults.send_replace(Faults::default());
    }

    /// The same as [`FaultProxy::restore`].
    pub fn normal(&self) {
        self.restore();
    }

    /// The faults in force.
    pub fn faults(&self) -> Faults {
        *self.faults.borrow()
    }

    /// The number of live connections through the proxy.
    pub fn connections(&self) -> usize {
        *self.connections.borrow()
    }

    /// Waits until the number of live connections is `n` (for example `0` after
    /// [`FaultProxy::cut`], or `1` once a client has reconnected). Wrap it in a timeout.
    pub async fn wait_for_connections(&self, n: usize) {
        let mut rx = self.connections.subscribe();
        // The sender lives in `self`, so the channel cannot close while we wait.
        let _ = rx.wait_for(|&live| live == n).await;
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        // Connection tasks end when they see the `faults` sender dropped with `self`.
        self.accept.abort();
    }
}

async fn accept_loop(
    listener: TcpListener,
    target: SocketAddr,
    faults: watch::Receiver<Faults>,
    connections: watch::Sender<usize>,
) {
    loop {
        let (client, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(err) => {
                // Per-connection errors (the peer gave up, too many open files): keep serving,
                // without spinning on an error that repeats.
                tracing::debug!(%err, "fault proxy accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        if faults.borrow().cut {
            tracing::debug!(%peer, "fault proxy is cut, dropping a new connection");
            drop(client);
            continue;
        }
        tokio::spawn(connection(
            client,
            target,
            faults.clone(),
            connections.clone(),
        ));
    }
}

/// Counts a live connection while it is held.
struct Live(watch::Sender<usize>);

impl Live {
    fn new(connections: watch::Sender<usize>) -> Live {
        connections.send_modify(|n| *n += 1);
        Live(connections)
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n = n.saturating_sub(1));
    }
}

async fn connection(
    client: TcpStream,
    target: SocketAddr,
    faults: watch::Receiver<Faults>,
    connections: watch::Sender<usize>,
) {
    let _live = Live::new(connections);
    let mut cut = faults.clone();
    let forward = async {
        let server = match TcpStream::connect(target).await {
            Ok(server) => server,
            Err(err) => {
                tracing::debug!(%target, %err, "fault proxy could not reach its target");
                return;
            }
        };
        let _ = client.set_nodelay(true);
        let _ = server.set_nodelay(true);
        let (client_read, client_write) = client.into_split();
        let (server_read, server_write) = server.into_split();
        let _ = tokio::join!(
            pump(client_read, server_write, faults.clone()),
            pump(server_read, client_write, faults),
        );
    };
    tokio::select! {
        () = forward => {}
        // Ends on a cut, and when the proxy is dropped (the sender closes).
        _ = cut.wait_for(|f| f.cut) => {}
    }
    // Dropping the halves closes both sockets.
}

/// Forwards `from` to `to` until end of file or an error, holding bytes while paused and
/// delaying each chunk by the latency in force when it was read.
async fn pump(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    mut faults: watch::Receiver<Faults>,
) -> io::Result<()> {
    let mut buf = vec![0; BUFFER];
    loop {
        let n = from.read(&mut buf).await?;
        if n == 0 {
            // Half-close: pass the end of file on, keep the other direction going.
            return to.shutdown().await;
        }
        let latency = faults.borrow().latency;
        if let Some(latency) = latency {
            tokio::time::sleep(latency).await;
        }
        if faults.wait_for(|f| !f.paused).await.is_err() {
            return Ok(());
        }
        to.write_all(&buf[..n]).await?;
    }
}

/// Replaces the `host:port` part of `url` with `addr`.
fn replace_authority(url: &str, addr: SocketAddr) -> String {
    let (scheme, rest) = match url.find("://") {
        Some(i) => url.split_at(i + 3),
        None => ("", url),
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let userinfo = match authority.rfind('@') {
        Some(i) => &authority[..=i],
        None => "",
    };
    format!("{scheme}{userinfo}{addr}{tail}")
}

#[cfg(test)]
mod tests {
    use super::replace_authority;
    use std::net::SocketAddr;

    #[test]
    fn replaces_host_and_port_only() {
        let addr = SocketAddr::from(([127, 0, 0, 1], 9));
        let cases = [
            (
                "postgres://postgres@127.0.0.1:5432/test",
                "postgres://postgres@127.0.0.1:9/test",
            ),
            (
                "postgres://u:p@w@db.example:5432/test?sslmode=disable",
                "postgres://u:p@w@127.0.0.1:9/test?sslmode=disable",
            ),
            ("nats://127.0.0.1:4222", "nats://127.0.0.1:9"),
            ("nats://a:4222,b:4223", "nats://127.0.0.1:9"),
            ("nats://[::1]:4222", "nats://127.0.0.1:9"),
            ("postgres://localhost/test", "postgres://127.0.0.1:9/test"),
            ("127.0.0.1:4222", "127.0.0.1:9"),
        ];
        for (url, want) in cases {
            assert_eq!(replace_authority(url, addr), want, "{url}");
        }
    }
}
