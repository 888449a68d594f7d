//! Expansion tests: `#[ores_testkit_macros::test(crate = crate::fake)]` compiled and run against
//! a fake `ores_testkit` (module `fake` below) with the same `__private` surface as the real one.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use fake::{Migrations, TestKit};

/// A stand-in for `ores_testkit`: `run` blocks on the body with a tiny executor, hands it a
/// `TestKit` that records what `run` was given, and panics on `Err` like the real one.
mod fake {
    use std::fmt::Debug;
    use std::future::Future;
    use std::pin::pin;
    use std::sync::Arc;
    use std::task::{Context, Poll, Wake, Waker};
    use std::thread::{self, Thread};
    use std::time::Duration;

    /// The fake migrations: just a label.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub(crate) struct Migrations(pub(crate) &'static str);

    /// What the body receives: the name, timeout and migrations that `run` got.
    #[derive(Debug)]
    pub(crate) struct TestKit {
        pub(crate) name: &'static str,
        pub(crate) timeout: Duration,
        pub(crate) migrations: Option<Migrations>,
    }

    /// The body's outcome, as in the real testkit.
    pub(crate) trait TestResult {
        fn into_result(self) -> Result<(), String>;
    }

    impl TestResult for () {
        fn into_result(self) -> Result<(), String> {
            Ok(())
        }
    }

    impl<E: Debug> TestResult for Result<(), E> {
        fn into_result(self) -> Result<(), String> {
            self.map_err(|e| format!("{e:?}"))
        }
    }

    pub(crate) mod __private {
        use super::*;

        /// The fake options, same builder as the real one.
        #[derive(Debug)]
        pub(crate) struct TestOptions {
            timeout: Duration,
            migrations: Option<Migrations>,
        }

        impl TestOptions {
            #[allow(clippy::new_without_default)]
            pub(crate) fn new() -> Self {
                Self {
                    timeout: Duration::from_secs(60),
                    migrations: None,
                }
            }

            pub(crate) fn timeout(mut self, d: Duration) -> Self {
                self.timeout = d;
                self
            }

            pub(crate) fn migrations(mut self, m: Migrations) -> Self {
                self.migrations = Some(m);
                self
            }
        }

        /// Same signature as the real `run`.
        pub(crate) fn run<F, Fut, R>(name: &'static str, options: TestOptions, body: F)
        where
            F: FnOnce(TestKit) -> Fut,
            Fut: Future<Output = R>,
            R: TestResult,
        {
            let kit = TestKit {
                name,
                timeout: options.timeout,
                migrations: options.migrations,
            };
            if let Err(error) = block_on(body(kit)).into_result() {
                panic!("test {name} failed: {error}");
            }
        }
    }

    struct ThreadWaker(Thread);

    impl Wake for ThreadWaker {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }

    fn block_on<F: Future>(future: F) -> F::Output {
        let mut future = pin!(future);
        let waker = Waker::from(Arc::new(ThreadWaker(thread::current())));
        let mut cx = Context::from_waker(&waker);
        loop {
            match future.as_mut().poll(&mut cx) {
                Poll::Ready(output) => return output,
                Poll::Pending => thread::park(),
            }
        }
    }
}

/// A future that is pending once, so the body really suspends.
async fn yield_once() {
    let mut yielded = false;
    std::future::poll_fn(move |cx| {
        if yielded {
            std::task::Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        }
    })
    .await;
}

fn my_migrations() -> Migrations {
    Migrations("currencies")
}

static BODY_RAN: AtomicBool = AtomicBool::new(false);

#[ores_testkit_macros::test(crate = crate::fake)]
async fn body_runs_with_defaults(kit: TestKit) {
    yield_once().await;
    BODY_RAN.store(true, Ordering::SeqCst);
    assert_eq!(kit.name, "expand::body_runs_with_defaults");
    assert_eq!(kit.timeout, Duration::from_secs(60));
    assert_eq!(kit.migrations, None);
}

/// Checks that the body of `body_runs_with_defaults` was really called, by calling the
/// generated `#[test]` fn directly.
#[test]
fn generated_fn_calls_the_body() {
    body_runs_with_defaults();
    assert!(BODY_RAN.load(Ordering::SeqCst));
}

#[ores_testkit_macros::test(timeout = 30, crate = crate::fake)]
async fn timeout_in_seconds(kit: TestKit) -> Result<(), String> {
    assert_eq!(kit.timeout, Duration::from_secs(30));
    Ok(())
}

#[ores_testkit_macros::test(crate = "crate::fake", timeout_ms = 500)]
async fn timeout_in_milliseconds(kit: TestKit) {
    assert_eq!(kit.timeout, Duration::from_millis(500));
}

#[ores_testkit_macros::test(crate = crate::fake, migrations = my_migrations(), timeout = 5)]
async fn migrations_expression(kit: TestKit) -> Result<(), std::io::Error> {
    assert_eq!(kit.migrations, Some(Migrations("currencies")));
    assert_eq!(kit.timeout, Duration::from_secs(5));
    Ok(())
}

#[derive(Debug)]
#[allow(dead_code)]
struct MyError(&'static str);

/// The fake `run` panics with the `Err`'s `Debug`; `#[should_panic]` stays on the test.
#[ores_testkit_macros::test(crate = crate::fake)]
#[should_panic(expected = "test expand::err_is_reported failed: MyError(\"boom\")")]
async fn err_is_reported(_kit: TestKit) -> Result<(), MyError> {
    yield_once().await;
    Err(MyError("boom"))
}

#[ores_testkit_macros::test(crate = crate::fake)]
async fn underscore_argument(_: TestKit) -> Result<(), std::convert::Infallible> {
    yield_once().await;
    Ok(())
}

/// Fails if run: passes only because `#[ignore]` stays on the generated test.
#[ores_testkit_macros::test(crate = crate::fake)]
#[ignore = "checks that #[ignore] is kept"]
async fn ignore_is_preserved(_: TestKit) {
    panic!("an #[ignore]d test ran");
}

mod nested {
    use super::fake::TestKit;

    #[ores_testkit_macros::test(crate = crate::fake)]
    async fn name_includes_module_path(kit: TestKit) {
        assert_eq!(kit.name, "expand::nested::name_includes_module_path");
    }
}
