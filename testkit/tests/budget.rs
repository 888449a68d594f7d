//! The connection budget is shared across processes (as under cargo-nextest): with one slot,
//! a second process waits for it, and gets it once the first test ends.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use ores_testkit::{KitSettings, Migrations, TestKit};

/// A database URL of its own, so that this test's one-slot budget has its own lock files.
fn url() -> String {
    let base = KitSettings::from_env().unwrap().database_url;
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}connect_timeout=10")
}

fn one_slot() -> KitSettings {
    KitSettings::from_vars(|k| match k {
        "ORES_TEST_DATABASE_URL" => Some(url()),
        "ORES_TEST_MAX_CONNECTIONS" => Some("4".into()),
        "ORES_TEST_TIMEOUT_SECONDS" => Some("2".into()),
        _ => std::env::var(k).ok(),
    })
    .unwrap()
}

/// Run in a child process by `a_second_process_waits_for_the_only_slot`.
#[tokio::test]
#[ignore = "run by a_second_process_waits_for_the_only_slot"]
async fn child_takes_the_only_slot() {
    match TestKit::start("child", one_slot(), &Migrations::new()).await {
        Ok(kit) => {
            kit.finish().await.unwrap();
            println!("CHILD: got the slot");
        }
        Err(e) => println!("CHILD: {e}"),
    }
}

fn child() -> String {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "child_takes_the_only_slot",
            "--nocapture",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout
        .lines()
        .find(|l| l.starts_with("CHILD: "))
        .unwrap_or("CHILD: no answer")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_process_waits_for_the_only_slot() {
    let kit = TestKit::start("parent", one_slot(), &Migrations::new())
        .await
        .unwrap();
    let blocked = tokio::task::spawn_blocking(child).await.unwrap();
    assert_eq!(
        blocked,
        "CHILD: no database connection slot became free within 2s (budget: 1 slot(s) of 4 connections; `ORES_TEST_MAX_CONNECTIONS` sets the total)"
    );
    kit.finish().await.unwrap();
    let got = tokio::task::spawn_blocking(child).await.unwrap();
    assert_eq!(got, "CHILD: got the slot");
}
