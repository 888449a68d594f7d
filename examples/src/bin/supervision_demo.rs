//! The supervision demo: a supervised tree whose middle child fails on purpose, printing
//! every failure and restart with its backoff, then an orderly shutdown.
//!
//! Run it with
//!
//! ```text
//! cargo run -p ores-examples --bin supervision_demo
//! ```
//!
//! and it prints (times and jittered delays vary):
//!
//! ```text
//! tree `demo`: config, flaky, reporter (rest-for-one, backoff 50 ms doubling to 2 s, 20 % jitter)
//! [ 0.000s] started     config
//! [ 0.000s] started     flaky
//! [ 0.000s] started     reporter
//! [ 0.001s] failed      flaky: injected fault 1 of 4
//! [ 0.001s] post_stop   reporter
//! [ 0.001s] stopped     reporter
//! [ 0.001s] restarting  flaky in 50 ms (attempt 1)
//! [ 0.052s] started     flaky
//! [ 0.052s] started     reporter
//! ...       (attempts 2, 3 and 4 wait about 100, 200 and 400 ms, plus jitter)
//! shutting down in reverse start order
//! [ 0.870s] post_stop   reporter
//! [ 0.870s] post_stop   flaky
//! [ 0.870s] post_stop   config
//! shutdown complete: ok (exit code 0)
//! ```
//!
//! With `--serve` it keeps running after the failures, until SIGINT, SIGTERM or SIGQUIT,
//! and then shuts down in the same order (it tells systemd `READY=1` when `NOTIFY_SOCKET`
//! is set). `--failures N` sets the number of injected faults.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use ores_runtime::exit::ExitCode;
use ores_runtime::runtime::{RunOutcome, Runtime};
use ores_runtime::supervisor::{Backoff, ChildSpec, Strategy, SupervisorEvent, SupervisorEvents};
use ractor::{Actor, ActorProcessingErr, ActorRef};

/// Command-line options of the demo.
#[derive(Debug, Parser)]
#[command(
    name = "supervision_demo",
    about = "A supervised tree that fails on purpose"
)]
struct Options {
    /// How many faults to inject into the `flaky` child.
    #[arg(long, default_value_t = 4)]
    failures: u32,
    /// Keep running after the faults until SIGINT, SIGTERM or SIGQUIT.
    #[arg(long)]
    serve: bool,
}

/// A child that prints its `post_stop`, and fails on `Tick` while faults remain.
#[derive(Clone)]
struct Child {
    name: &'static str,
    faults: Arc<AtomicU32>,
    total: u32,
    clock: Instant,
}

impl Actor for Child {
    type Msg = ();
    type State = ();
    type Arguments = ();

    async fn pre_start(&self, _: ActorRef<()>, _: ()) -> Result<(), ActorProcessingErr> {
        Ok(())
    }

    async fn handle(&self, _: ActorRef<()>, _: (), _: &mut ()) -> Result<(), ActorProcessingErr> {
        let left = self.faults.load(Ordering::SeqCst);
        if left > 0 {
            self.faults.store(left - 1, Ordering::SeqCst);
            let n = self.total - left + 1;
            return Err(format!("injected fault {n} of {}", self.total).into());
        }
        Ok(())
    }

    async fn post_stop(&self, _: ActorRef<()>, _: &mut ()) -> Result<(), ActorProcessingErr> {
        println!("{} post_stop   {}", stamp(self.clock), self.name);
        Ok(())
    }
}

fn stamp(clock: Instant) -> String {
    format!("[{:>6.3}s]", clock.elapsed().as_secs_f64())
}

fn describe(event: &SupervisorEvent) -> Option<String> {
    Some(match event {
        SupervisorEvent::Started { child, .. } => format!("started     {child}"),
        SupervisorEvent::Failed { child, reason, .. } => format!("failed      {child}: {reason}"),
        SupervisorEvent::Exited { child, .. } => format!("exited      {child}"),
        SupervisorEvent::Restarting {
            child,
            delay,
            attempt,
            ..
        } => {
            format!(
                "restarting  {child} in {} ms (attempt {attempt})",
                delay.as_millis()
            )
        }
        SupervisorEvent::Stopped {
            child,
            killed: false,
            ..
        } => format!("stopped     {child}"),
        SupervisorEvent::Stopped {
            child,
            killed: true,
            ..
        } => format!("killed      {child}"),
        SupervisorEvent::GaveUp { child, .. } => format!("gave up     after {child}"),
        _ => return None,
    })
}

/// Print events until the one for which `until` holds (inclusive).
async fn print_until(
    events: &mut SupervisorEvents,
    clock: Instant,
    mut until: impl FnMut(&SupervisorEvent) -> bool,
) -> bool {
    loop {
        match tokio::time::timeout(Duration::from_secs(30), events.recv()).await {
            Ok(Ok(ev)) => {
                if let Some(line) = describe(&ev) {
                    println!("{} {line}", stamp(clock));
                }
                if until(&ev) {
                    return true;
                }
            }
            _ => return false,
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let options = Options::parse();
    let clock = Instant::now();
    let faults = Arc::new(AtomicU32::new(options.failures));
    let child = |name| Child {
        name,
        faults: Arc::new(AtomicU32::new(0)),
        total: 0,
        clock,
    };
    let flaky = Child {
        name: "flaky",
        faults: Arc::clone(&faults),
        total: options.failures,
        clock,
    };
    let flaky = ChildSpec::actor("flaky", flaky, ());
    let flaky_handle = flaky.handle();

    let backoff = Backoff::exponential(Duration::from_millis(50), Duration::from_secs(2))
        .and_then(|b| b.jitter(0.2));
    let Ok(backoff) = backoff else {
        return ExitCode::Config;
    };
    let events = ores_runtime::supervisor::EventSender::default();
    let mut printer = events.subscribe();
    println!(
        "tree `demo`: config, flaky, reporter (rest-for-one, backoff 50 ms doubling to 2 s, 20 % jitter)"
    );
    let runtime = Runtime::builder("demo")
        .strategy(Strategy::RestForOne)
        .backoff(backoff)
        .events(events)
        .child(ChildSpec::actor("config", child("config"), ()))
        .child(flaky)
        .child(ChildSpec::actor("reporter", child("reporter"), ()))
        .start()
        .await;
    let runtime = match runtime {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("supervision_demo: {e}");
            return ExitCode::General;
        }
    };
    print_until(&mut printer, clock, |e| e.child() == "reporter").await;

    for _ in 0..options.failures {
        if flaky_handle.send(()).await.is_err() {
            eprintln!("supervision_demo: the flaky child did not come back");
            return ExitCode::General;
        }
        // Wait for the tree to be whole again: the reporter restarts after flaky.
        let whole = print_until(
            &mut printer,
            clock,
            |e| matches!(e, SupervisorEvent::Started { child, .. } if &**child == "reporter"),
        )
        .await;
        if !whole {
            eprintln!("supervision_demo: the tree did not recover");
            return ExitCode::General;
        }
    }

    let outcome = if options.serve {
        println!("serving; send SIGINT, SIGTERM or SIGQUIT to stop");
        let printing = tokio::spawn(async move {
            print_until(&mut printer, clock, |_| false).await;
        });
        let outcome = runtime.run_until_signal().await;
        if let RunOutcome::Signalled(sig) = &outcome {
            println!("{sig} received");
        }
        printing.abort();
        outcome
    } else {
        println!("shutting down in reverse start order");
        runtime.run_until(std::future::ready(())).await
    };
    println!("shutdown complete: {}", outcome.exit_code());
    outcome.exit_code()
}
