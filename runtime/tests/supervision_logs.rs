//! Every supervision event is also logged with tracing, in order, with its fields.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::{Arc, Mutex};

use common::*;
use ores_runtime::supervisor::{Backoff, Supervisor};
use ores_runtime::telemetry::{Format, Telemetry};

#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test] // current-thread: the subscriber set below sees every actor of the test
async fn a_restart_is_logged_as_failed_restarting_started() {
    let buf = Buf::default();
    let out = buf.clone();
    let subscriber = Telemetry::default()
        .format(Format::Json)
        .ignore_env()
        .default_directive("ores_runtime::supervisor=info")
        .writer(move || out.clone())
        .into_subscriber()
        .unwrap();
    let _guard = tracing::subscriber::set_default(subscriber);

    let journal = Journal::default();
    let spec = Worker::new("w", &journal).spec();
    let h = spec.handle();
    let tree = Supervisor::builder("logged")
        .backoff(Backoff::none())
        .child(spec)
        .spawn()
        .await
        .unwrap();
    let mut events = tree.events();
    h.send(WorkerMsg::Fail).await.unwrap();
    expect(&mut events, "restart", is_started("w")).await;
    tree.shutdown(WAIT).await.unwrap();

    let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let messages: Vec<&str> = lines
        .iter()
        .map(|l| l["fields"]["message"].as_str().unwrap())
        .collect();
    assert_eq!(
        messages,
        [
            "child started",
            "child failed",
            "restarting child after backoff",
            "child started"
        ],
        "{text}"
    );
    assert_eq!(lines[1]["level"], "WARN");
    assert_eq!(lines[1]["fields"]["child"], "w");
    assert_eq!(lines[1]["fields"]["supervisor"], "logged");
    assert!(
        lines[1]["fields"]["reason"]
            .as_str()
            .unwrap()
            .contains("w was told to fail")
    );
    assert_eq!(lines[2]["fields"]["attempt"], 1);
}
