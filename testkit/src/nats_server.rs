//! A private `nats-server` per test: free port, JetStream in a temp dir, cleanup on drop.
//!
//! [`NatsServer::start`] spawns the `nats-server` binary found on `PATH` (the environment
//! variable [`BIN_ENV`] overrides it) on a free `127.0.0.1` port, with JetStream storing into a
//! temp dir and the server's log written to a file in that dir. It returns once the server
//! answers with its `INFO` line. The server can then be stopped, restarted on the same port with
//! the same JetStream store, or put in lame-duck mode, so that tests can watch clients survive
//! a server going away.
//!
//! Dropping a [`NatsServer`] kills the process (and reaps it) and removes the temp dir.
//!
//! When the binary is missing, [`NatsServer::start`] fails with
//! [`NatsServerError::BinaryNotFound`], whose message says what to install;
//! [`NatsServer::start_or_skip`] turns that into a skipped test:
//!
//! ```no_run
//! use ores_testkit::nats_server::NatsServer;
//!
//! # async fn test() -> Result<(), Box<dyn std::error::Error>> {
//! let Some(mut server) = NatsServer::start_or_skip().await else {
//!     return Ok(()); // printed `skipped: ...` to stderr
//! };
//! let url = server.url(); // nats://127.0.0.1:PORT
//! server.stop().await?;
//! server.restart().await?; // same port, same JetStream store
//! # let _ = url;
//! # Ok(())
//! # }
//! ```

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tempfile::TempDir;

/// The environment variable that, when set, names the `nats-server` binary to run instead of
/// the one found on `PATH`.
pub const BIN_ENV: &str = "ORES_TEST_NATS_SERVER_BIN";

/// The binary looked up on `PATH` when [`BIN_ENV`] is not set.
pub const DEFAULT_BIN: &str = "nats-server";

/// How long [`NatsServer::start`] and [`NatsServer::restart`] wait for the server to answer.
pub const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// How long [`NatsServer::stop`] waits after `SIGTERM` before it sends `SIGKILL`.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// How many times [`NatsServer::start`] picks a new free port when the server it spawned
/// exited before answering (another process may have taken the port in between).
const START_ATTEMPTS: usize = 3;

const LOG_FILE: &str = "nats-server.log";
const OUTPUT_FILE: &str = "nats-server.out";
const STORE_DIR: &str = "jetstream";

/// Errors from starting, stopping and signalling a [`NatsServer`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NatsServerError {
    /// The `nats-server` binary could not be found.
    #[error(
        "`{}` not found: install it with `apt-get install nats-server`, \
         or set {BIN_ENV} to the path of a nats-server binary",
        bin.display()
    )]
    BinaryNotFound {
        /// The binary that was looked up.
        bin: PathBuf,
    },
    /// The temp dir for the JetStream store and the log could not be created.
    #[error("could not create a temp dir for nats-server")]
    TempDir(#[source] io::Error),
    /// No free port could be reserved on `127.0.0.1`.
    #[error("could not reserve a free port on 127.0.0.1")]
    FreePort(#[source] io::Error),
    /// The binary was found but could not be spawned.
    #[error("could not spawn `{}`", bin.display())]
    Spawn {
        /// The binary that was spawned.
        bin: PathBuf,
        /// Why it failed.
        #[source]
        source: io::Error,
    },
    /// The server exited before it answered.
    #[error(
        "nats-server on 127.0.0.1:{port} exited before it was ready ({status}); its log:\n{log}"
    )]
    Exited {
        /// The port it was started on.
        port: u16,
        /// How it exited.
        status: ExitStatus,
        /// Its log file and output.
        log: String,
    },
    /// The server did not answer in time; it has been killed.
    #[error("nats-server on 127.0.0.1:{port} did not answer within {timeout:?}; its log:\n{log}")]
    NotReady {
        /// The port it was started on.
        port: u16,
        /// How long it was waited for.
        timeout: Duration,
        /// Its log file and output.
        log: String,
    },
    /// The operation needs a running server, and it is stopped.
    #[error("nats-server on 127.0.0.1:{port} is not running")]
    NotRunning {
        /// The port it was started on.
        port: u16,
    },
    /// A signal could not be sent to the server.
    #[error("could not send {signal} to nats-server (pid {pid})")]
    Signal {
        /// The signal.
        signal: Signal,
        /// The server's process id.
        pid: i32,
        /// Why it failed.
        #[source]
        source: nix::Error,
    },
    /// Waiting for the server's process failed.
    #[error("could not wait for nats-server (pid {pid})")]
    Wait {
        /// The server's process id.
        pid: i32,
        /// Why it failed.
        #[source]
        source: io::Error,
    },
}

/// A private `nats-server` process with JetStream, on a free `127.0.0.1` port.
///
/// Killed and reaped on drop; its temp dir (JetStream store and log) is removed on drop.
#[derive(Debug)]
pub struct NatsServer {
    bin: PathBuf,
    port: u16,
    dir: TempDir,
    extra_args: Vec<String>,
    child: Mutex<Option<Child>>,
}

impl NatsServer {
    /// Starts a server and waits until it answers with its `INFO` line.
    ///
    /// # Errors
    ///
    /// [`NatsServerError::BinaryNotFound`] when the binary is missing (see [`BIN_ENV`]);
    /// [`NatsServerError::Exited`] or [`NatsServerError::NotReady`] (with the server's log)
    /// when it does not come up within [`READY_TIMEOUT`].
    pub async fn start() -> Result<NatsServer, NatsServerError> {
        NatsServer::start_with_binary(binary()).await
    }

    /// As [`NatsServer::start`], with an explicit binary instead of [`BIN_ENV`] or `PATH`.
    ///
    /// # Errors
    ///
    /// As [`NatsServer::start`].
    pub async fn start_with_binary(bin: impl Into<PathBuf>) -> Result<NatsServer, NatsServerError> {
        NatsServer::start_inner(bin.into(), Vec::new()).await
    }

    /// As [`NatsServer::start`], with more command-line arguments for the server, e.g.
    /// `["--user", "app", "--pass", "secret"]` for a server that requires credentials.
    ///
    /// # Errors
    ///
    /// As [`NatsServer::start`].
    pub async fn start_with_args<I, S>(args: I) -> Result<NatsServer, NatsServerError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        NatsServer::start_inner(binary(), args.into_iter().map(Into::into).collect()).await
    }

    async fn start_inner(
        bin: PathBuf,
        extra_args: Vec<String>,
    ) -> Result<NatsServer, NatsServerError> {
        let dir = tempfile::Builder::new()
            .prefix("ores-nats-server-")
            .tempdir()
            .map_err(NatsServerError::TempDir)?;
        let mut server = NatsServer {
            bin,
            port: free_port()?,
            dir,
            extra_args,
            child: Mutex::new(None),
        };
        let mut attempt = 1;
        loop {
            match server.spawn_and_wait().await {
                Ok(()) => return Ok(server),
                // The port may have been taken between reserving and binding: try another.
                Err(err @ NatsServerError::Exited { .. }) if attempt < START_ATTEMPTS => {
                    tracing::debug!(%err, "nats-server exited at start, retrying on a new port");
                    attempt += 1;
                    server.port = free_port()?;
                }
                Err(err) => return Err(err),
            }
        }
    }

    /// Starts a server, or prints `skipped: <why>` to stderr and returns `None` when the
    /// binary is missing, so that a test can skip cleanly:
    ///
    /// ```no_run
    /// # async fn test() {
    /// let Some(server) = ores_testkit::nats_server::NatsServer::start_or_skip().await else {
    ///     return;
    /// };
    /// # let _ = server;
    /// # }
    /// ```
    ///
    /// # Panics
    ///
    /// When the binary is present but the server does not start: that is a failure, not a skip.
    pub async fn start_or_skip() -> Option<NatsServer> {
        match NatsServer::start().await {
            Ok(server) => Some(server),
            Err(err @ NatsServerError::BinaryNotFound { .. }) => {
                eprintln!("skipped: {err}");
                None
            }
            Err(err) => panic!("{err}"),
        }
    }

    /// The client URL, `nats://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// The client port; it stays the same across [`NatsServer::restart`].
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The client address, `127.0.0.1:PORT`.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// The process id of the running server, or `None` when it is stopped.
    pub fn pid(&self) -> Option<i32> {
        let mut child = self.child();
        let running = child.as_mut()?.try_wait().ok()?.is_none();
        let pid = child.as_ref()?.id();
        running.then(|| i32::try_from(pid).ok()).flatten()
    }

    /// The temp dir that holds the JetStream store and the log.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Whether the server process is alive (it may be in lame-duck mode).
    pub fn is_running(&self) -> bool {
        self.pid().is_some()
    }

    /// The server's log file (and anything it printed), for failure messages.
    pub fn log(&self) -> String {
        read_log(self.dir.path())
    }

    /// Stops the server: `SIGTERM`, then `SIGKILL` if it has not exited within
    /// [`STOP_TIMEOUT`]. Does nothing when it is already stopped.
    ///
    /// # Errors
    ///
    /// When the process cannot be signalled or waited for.
    pub async fn stop(&mut self) -> Result<(), NatsServerError> {
        let Some(pid) = self.pid() else {
            self.reap();
            return Ok(());
        };
        send(pid, Signal::SIGTERM)?;
        let deadline = Instant::now() + STOP_TIMEOUT;
        let mut backoff = Duration::from_millis(5);
        loop {
            if self.try_wait(pid)?.is_some() {
                break;
            }
            if Instant::now() >= deadline {
                tracing::warn!(pid, "nats-server did not exit on SIGTERM, sending SIGKILL");
                self.kill_and_reap();
                break;
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_millis(100));
        }
        *self.child() = None;
        Ok(())
    }

    /// Starts the server again on the same port with the same JetStream store, stopping it
    /// first if it is running, and waits until it answers.
    ///
    /// # Errors
    ///
    /// As [`NatsServer::start`]; [`NatsServerError::Exited`] when the port was taken meanwhile.
    pub async fn restart(&mut self) -> Result<(), NatsServerError> {
        self.stop().await?;
        self.spawn_and_wait().await
    }

    /// Puts the server in lame-duck mode: it stops accepting new clients, sends connected
    /// clients an `INFO` with `"ldm":true`, then closes their connections over its lame-duck
    /// duration (2 minutes by default) and exits.
    ///
    /// Sends `SIGUSR2`, which is what `nats-server --signal ldm=<pid>` does on Unix (v2.9).
    ///
    /// # Errors
    ///
    /// [`NatsServerError::NotRunning`] when the server is stopped.
    pub async fn lame_duck(&self) -> Result<(), NatsServerError> {
        let pid = self
            .pid()
            .ok_or(NatsServerError::NotRunning { port: self.port })?;
        send(pid, Signal::SIGUSR2)
    }

    fn child(&self) -> MutexGuard<'_, Option<Child>> {
        self.child
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn try_wait(&self, pid: i32) -> Result<Option<ExitStatus>, NatsServerError> {
        match self.child().as_mut() {
            Some(child) => child
                .try_wait()
                .map_err(|source| NatsServerError::Wait { pid, source }),
            None => Ok(None),
        }
    }

    fn reap(&self) {
        if let Some(child) = self.child().as_mut() {
            let _ = child.try_wait();
        }
    }

    fn kill_and_reap(&self) {
        if let Some(mut child) = self.child().take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    async fn spawn_and_wait(&self) -> Result<(), NatsServerError> {
        let dir = self.dir.path();
        let output = File::options()
            .create(true)
            .append(true)
            .open(dir.join(OUTPUT_FILE))
            .map_err(NatsServerError::TempDir)?;
        let output2 = output.try_clone().map_err(NatsServerError::TempDir)?;
        let child = Command::new(&self.bin)
            .arg("-a")
            .arg("127.0.0.1")
            .arg("-p")
            .arg(self.port.to_string())
            .arg("-js")
            .arg("-sd")
            .arg(dir.join(STORE_DIR))
            .arg("-l")
            .arg(dir.join(LOG_FILE))
            .args(&self.extra_args)
            .stdin(Stdio::null())
            .stdout(output)
            .stderr(output2)
            .spawn()
            .map_err(|source| {
                if source.kind() == io::ErrorKind::NotFound {
                    NatsServerError::BinaryNotFound {
                        bin: self.bin.clone(),
                    }
                } else {
                    NatsServerError::Spawn {
                        bin: self.bin.clone(),
                        source,
                    }
                }
            })?;
        *self.child() = Some(child);

        let deadline = Instant::now() + READY_TIMEOUT;
        let mut backoff = Duration::from_millis(5);
        loop {
            // Take the lock in a statement of its own: a guard in an `if let` condition lives
            // through the block, and locking again there would deadlock.
            let exited = self
                .child()
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if let Some(status) = exited {
                *self.child() = None;
                return Err(NatsServerError::Exited {
                    port: self.port,
                    status,
                    log: self.log(),
                });
            }
            let addr = self.addr();
            let answered = tokio::task::spawn_blocking(move || read_info(addr))
                .await
                .ok()
                .and_then(Result::ok);
            if answered.is_some() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                self.kill_and_reap();
                return Err(NatsServerError::NotReady {
                    port: self.port,
                    timeout: READY_TIMEOUT,
                    log: self.log(),
                });
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_millis(100));
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill_and_reap();
    }
}

/// Connects to `addr` and reads the server's `INFO` line, with short timeouts.
fn read_info(addr: SocketAddr) -> io::Result<String> {
    let stream = TcpStream::connect_timeout(&addr, Duration::from_millis(200))?;
    stream.set_read_timeout(Some(Duration::from_millis(500)))?;
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line)?;
    if line.starts_with("INFO ") {
        Ok(line)
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "expected an INFO line from {addr}, got `{}`",
                line.trim_end()
            ),
        ))
    }
}

fn binary() -> PathBuf {
    std::env::var_os(BIN_ENV)
        .filter(|bin| !bin.is_empty())
        .unwrap_or_else(|| OsString::from(DEFAULT_BIN))
        .into()
}

fn free_port() -> Result<u16, NatsServerError> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .map_err(NatsServerError::FreePort)
}

fn send(pid: i32, signal: Signal) -> Result<(), NatsServerError> {
    kill(Pid::from_raw(pid), signal).map_err(|source| NatsServerError::Signal {
        signal,
        pid,
        source,
    })
}

fn read_log(dir: &Path) -> String {
    let mut log = std::fs::read_to_string(dir.join(LOG_FILE)).unwrap_or_default();
    let output = std::fs::read_to_string(dir.join(OUTPUT_FILE)).unwrap_or_default();
    if !output.trim().is_empty() {
        log.push_str(&output);
    }
    log
}
