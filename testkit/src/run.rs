//! The harness behind `#[ores_testkit::test]`: a runtime per test, captured logs, the
//! watchdog, and the clean-up that depends on the outcome.

use std::fmt::Debug;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::kit::TestKit;
use crate::logs::LogCapture;
use crate::migrations::Migrations;
use crate::settings::KitSettings;

/// Options of one test, set by `#[ores_testkit::test(..)]`.
#[derive(Debug, Clone, Default)]
pub struct TestOptions {
    timeout: Option<Duration>,
    migrations: Migrations,
}

impl TestOptions {
    /// Defaults: the timeout of `ORES_TEST_TIMEOUT_SECONDS` (60 s), no migrations of the test's
    /// own.
    pub fn new() -> Self {
        Self::default()
    }

    /// This test's own timeout.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Migrations of the test's own, applied after the project's.
    pub fn migrations(mut self, migrations: Migrations) -> Self {
        self.migrations = self.migrations.merge(&migrations);
        self
    }
}

/// What a test body may return: `()` or `Result<(), E>`.
pub trait TestResult {
    /// `Err` with a description of the failure.
    fn into_outcome(self) -> Result<(), String>;
}

impl TestResult for () {
    fn into_outcome(self) -> Result<(), String> {
        Ok(())
    }
}

impl<E: Debug> TestResult for Result<(), E> {
    fn into_outcome(self) -> Result<(), String> {
        self.map_err(|e| format!("{e:?}"))
    }
}

/// Run the test `name`: set up its [`TestKit`], run `body` under the watchdog, and clean up
/// (on success, shut the tree down and drop the schema; on failure, keep the schema, print the
/// captured logs and say how to inspect it). Panics when the test fails, as a test does.
///
/// The body runs on a current-thread tokio runtime, so that the per-test log capture sees
/// every actor of the test.
pub fn run<F, Fut, R>(name: &'static str, options: TestOptions, body: F)
where
    F: FnOnce(TestKit) -> Fut,
    Fut: Future<Output = R>,
    R: TestResult,
{
    let settings = match KitSettings::from_env() {
        Ok(s) => s,
        Err(e) => panic!("ores-testkit: {e}"),
    };
    let timeout = options.timeout.unwrap_or(settings.timeout);
    let logs = LogCapture::default();
    let _subscriber = tracing::subscriber::set_default(logs.subscriber(&settings.log_filter));
    let finished = Arc::new(AtomicBool::new(false));
    // Disarmed when `run` returns or unwinds, whatever happens in between.
    let _disarm = Disarm {
        finished: Arc::clone(&finished),
        watchdog: spawn_backstop(name, timeout, Arc::clone(&finished)),
    };

    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => panic!("ores-testkit: cannot build a tokio runtime for `{name}`: {e}"),
    };
    let failure = runtime.block_on(async {
        let setup = tokio::time::timeout(timeout, TestKit::start(name, settings, &options.migrations)).await;
        let kit = match setup {
            Ok(Ok(kit)) => kit,
            Ok(Err(e)) => return Some(format!("could not set up the test's world: {e}")),
            Err(_) => return Some(format!("setting up the test's world took longer than its timeout of {timeout:?}")),
        };
        // The body owns the kit; the harness keeps what it needs for the clean-up.
        let teardown = kit.teardown();
        // A panicking body (a failed `assert!`) is a failure like any other: caught here, so
        // that the schema is kept, the logs are shown and the watchdog is disarmed.
        let body = futures::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(body(kit)));
        match tokio::time::timeout(timeout, body).await {
            Ok(Err(panic)) => Some(format!("the test panicked: {}\n{}", ores_runtime::panic::message(&*panic).unwrap_or("a panic without a message"), teardown.keep().await)),
            Ok(Ok(result)) => match result.into_outcome() {
                Ok(()) => teardown.finish().await.err().map(|e| format!("the test passed, but its clean-up failed: {e}")),
                Err(e) => Some(format!("{e}\n{}", teardown.keep().await)),
            },
            Err(_) => Some(format!(
                "test `{name}` ran past its timeout of {timeout:?} (set `#[ores_testkit::test(timeout = N)]` or ORES_TEST_TIMEOUT_SECONDS)\n{}",
                teardown.keep().await
            )),
        }
    });
    drop(runtime);
    if let Some(message) = failure {
        let captured = logs.contents();
        if !captured.is_empty() {
            eprintln!(
                "---- captured logs of `{name}` ----\n{captured}---- end of captured logs ----"
            );
        }
        panic!("ores-testkit: {message}");
    }
}

struct Disarm {
    finished: Arc<AtomicBool>,
    watchdog: Option<std::thread::Thread>,
}

impl Drop for Disarm {
    fn drop(&mut self) {
        self.finished.store(true, Ordering::SeqCst);
        if let Some(w) = &self.watchdog {
            w.unpark();
        }
    }
}

/// A thread that ends the process if the test is still running well past its timeout
/// (a body that blocks its thread cannot be stopped by the async timeout). Set-up and body
/// each have the timeout, and a clean-up may take 30 s more, so it fires only after all of
/// that and a further 10 s.
fn spawn_backstop(
    name: &'static str,
    timeout: Duration,
    finished: Arc<AtomicBool>,
) -> Option<std::thread::Thread> {
    let limit = timeout * 2 + Duration::from_secs(40);
    let started = std::time::Instant::now();
    let spawned = std::thread::Builder::new().name("ores-testkit-watchdog".into()).spawn(move || {
        loop {
            if finished.load(Ordering::SeqCst) {
                return;
            }
            let elapsed = started.elapsed();
            if elapsed >= limit {
                break;
            }
            std::thread::park_timeout(limit - elapsed);
        }
        eprintln!(
            "ores-testkit: test `{name}` is still running {limit:?} after it started, past its timeout of {timeout:?}, and does not yield (blocking code?); ending the test process"
        );
        std::process::exit(101);
    });
    spawned.ok().map(|h| h.thread().clone())
}
