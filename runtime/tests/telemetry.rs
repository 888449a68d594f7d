//! Tests for telemetry set-up.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

use std::io;
use std::process::Command;
use std::sync::{Arc, Mutex};

use ores_runtime::exit::{ExitCode, ToExitCode};
use ores_runtime::telemetry::{self, Format, Telemetry, TelemetryError};

/// A `MakeWriter` whose output the test can read.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

impl io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn capture(telemetry: Telemetry, emit: impl FnOnce()) -> String {
    let out = Captured::default();
    let writer = out.clone();
    let subscriber = telemetry
        .writer(move || writer.clone())
        .into_subscriber()
        .unwrap();
    tracing::subscriber::with_default(subscriber, emit);
    out.text()
}

#[test]
fn json_writes_one_object_per_line() {
    let text = capture(
        Telemetry::default().format(Format::Json).ignore_env(),
        || {
            let span = tracing::info_span!("request", subject = "refdata.v1.currencies.list");
            let _entered = span.enter();
            tracing::info!(count = 3, "listed currencies");
            tracing::warn!(reason = "slow", "took long");
        },
    );
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    let first: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(first["level"], "INFO");
    assert_eq!(first["fields"]["message"], "listed currencies");
    assert_eq!(first["fields"]["count"], 3);
    assert_eq!(first["target"], "telemetry");
    assert_eq!(first["span"]["subject"], "refdata.v1.currencies.list");
    assert_eq!(first["spans"][0]["name"], "request");
    assert!(first["timestamp"].is_string());
    let second: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
    assert_eq!(second["level"], "WARN");
    assert_eq!(second["fields"]["reason"], "slow");
}

#[test]
fn default_directive_filters_levels() {
    let text = capture(Telemetry::default().ignore_env(), || {
        tracing::debug!("hidden");
        tracing::info!("shown");
    });
    assert!(text.contains("shown"), "{text}");
    assert!(!text.contains("hidden"), "{text}");

    let text = capture(
        Telemetry::default()
            .ignore_env()
            .default_directive("warn,telemetry=debug"),
        || tracing::debug!("now visible"),
    );
    assert!(text.contains("now visible"), "{text}");

    let text = capture(
        Telemetry::default().ignore_env().default_directive("error"),
        || tracing::warn!("dropped"),
    );
    assert_eq!(text, "");
}

#[test]
fn compact_and_pretty_write_plain_text_without_ansi_to_a_custom_writer() {
    for format in [Format::Compact, Format::Pretty] {
        let text = capture(Telemetry::default().format(format).ignore_env(), || {
            tracing::info!(key = "value", "plain text")
        });
        assert!(text.contains("plain text"), "{format}: {text}");
        assert!(text.contains("key"), "{format}: {text}");
        assert!(
            !text.contains('\u{1b}'),
            "{format} has ANSI escapes: {text:?}"
        );
        assert!(serde_json::from_str::<serde_json::Value>(text.trim()).is_err());
    }
}

#[test]
fn invalid_default_directive_names_it() {
    let err = Telemetry::default()
        .ignore_env()
        .default_directive("info,ores=loud,sqlx=warn")
        .filter()
        .unwrap_err();
    let TelemetryError::InvalidFilter {
        directive, origin, ..
    } = &err
    else {
        panic!("unexpected error {err:?}");
    };
    assert_eq!(directive, "ores=loud");
    assert_eq!(origin, "the default directive");
    let message = err.to_string();
    assert!(
        message.starts_with("invalid log filter directive `ores=loud` in the default directive: "),
        "{message}"
    );
    assert_eq!(err.exit_code(), ExitCode::Config);

    assert!(
        Telemetry::default()
            .ignore_env()
            .default_directive("info")
            .into_subscriber()
            .is_ok()
    );
    assert!(
        Telemetry::default()
            .ignore_env()
            .default_directive("[")
            .into_subscriber()
            .is_err()
    );
}

#[test]
fn format_parses_from_strings() {
    assert_eq!("pretty".parse::<Format>().unwrap(), Format::Pretty);
    assert_eq!("json".parse::<Format>().unwrap(), Format::Json);
    assert_eq!(" Compact ".parse::<Format>().unwrap(), Format::Compact);
    assert_eq!(Format::default(), Format::Compact);
    for format in [Format::Pretty, Format::Json, Format::Compact] {
        assert_eq!(format.to_string().parse::<Format>().unwrap(), format);
    }
    let err = "xml".parse::<Format>().unwrap_err();
    assert_eq!(err.input(), "xml");
    assert_eq!(
        err.to_string(),
        "unknown log format `xml`: expected `pretty`, `json` or `compact`"
    );
    assert_eq!(err.exit_code(), ExitCode::Config);
}

// The environment and the global subscriber are process-wide, and Rust 2024 makes changing the
// environment `unsafe` (forbidden here), so those cases run in a child copy of this test binary.
const CHILD_ENV: &str = "ORES_TELEMETRY_TEST_CHILD";

fn run_child(mode: &str, env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", "child", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, mode)
        .env_remove("RUST_LOG");
    for (key, value) in env {
        cmd.env(key, value);
    }
    let output = cmd.output().unwrap();
    assert!(
        output.status.success(),
        "child {mode} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

#[test]
fn child() {
    let Ok(mode) = std::env::var(CHILD_ENV) else {
        return;
    };
    match mode.as_str() {
        "init-twice" => {
            telemetry::init(Telemetry::default().format(Format::Json)).unwrap();
            tracing::info!(marker = "from-global", "global subscriber works");
            let err = telemetry::init(Telemetry::default()).unwrap_err();
            assert!(
                matches!(err, TelemetryError::AlreadyInitialized(_)),
                "{err:?}"
            );
            assert_eq!(
                err.to_string(),
                "a global tracing subscriber is already set: call `telemetry::init` once, early in main"
            );
            assert!(std::error::Error::source(&err).is_some());
        }
        "env-filter" => {
            let text = capture(Telemetry::default(), || {
                tracing::debug!("debug from env");
                tracing::trace!("trace hidden");
            });
            assert!(text.contains("debug from env"), "{text}");
            assert!(!text.contains("trace hidden"), "{text}");
        }
        "bad-env" => {
            let err = Telemetry::default().filter().unwrap_err();
            assert!(
                err.to_string()
                    .starts_with("invalid log filter directive `=nope` in `RUST_LOG`"),
                "{err}"
            );
        }
        "custom-env" => {
            let text = capture(Telemetry::default().env_var("ORES_LOG"), || {
                tracing::info!("info hidden by ORES_LOG");
                tracing::error!("error shown");
            });
            assert!(text.contains("error shown"), "{text}");
            assert!(!text.contains("info hidden"), "{text}");
        }
        "blank-env" => {
            let text = capture(Telemetry::default(), || {
                tracing::debug!("debug hidden");
                tracing::info!("info shown");
            });
            assert!(text.contains("info shown"), "{text}");
            assert!(!text.contains("debug hidden"), "{text}");
        }
        other => panic!("unknown child mode {other}"),
    }
}

#[test]
fn init_installs_once() {
    let output = run_child("init-twice", &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let line = stderr
        .lines()
        .find(|line| line.contains("from-global"))
        .unwrap();
    let event: serde_json::Value = serde_json::from_str(line).unwrap();
    assert_eq!(event["fields"]["message"], "global subscriber works");
}

#[test]
fn rust_log_overrides_the_default_directive() {
    run_child("env-filter", &[("RUST_LOG", "debug")]);
    run_child("bad-env", &[("RUST_LOG", "info,=nope")]);
    // Another variable replaces RUST_LOG; a blank one falls back to the default directive.
    run_child(
        "custom-env",
        &[("ORES_LOG", "error"), ("RUST_LOG", "trace")],
    );
    run_child("blank-env", &[("RUST_LOG", "  ")]);
}
