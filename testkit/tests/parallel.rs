//! 200 tests' worlds at once, against a server with `max_connections = 100`: they wait for a
//! connection slot instead of timing out, and the kit's connections stay within the budget.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use ores_testkit::{KitSettings, Migrations, TestKit};
use sqlx::Connection;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_kits_in_parallel_wait_their_turn_without_time_outs() {
    let settings = KitSettings::from_env().unwrap();
    let mut admin = sqlx::PgConnection::connect(&settings.database_url)
        .await
        .unwrap();
    let max: String = sqlx::query_scalar("SHOW max_connections")
        .fetch_one(&mut admin)
        .await
        .unwrap();
    let budget = i64::from(settings.max_connections);
    assert!(
        budget < max.parse::<i64>().unwrap(),
        "the budget ({budget}) fits the server ({max})"
    );

    let migrations = Migrations::new().add(1, "t", "CREATE TABLE t (id int PRIMARY KEY)");
    let peak = Arc::new(AtomicI64::new(0));
    let done = Arc::new(tokio::sync::Notify::new());
    let monitor = {
        let (peak, done) = (peak.clone(), done.clone());
        tokio::spawn(async move {
            loop {
                let n: i64 = sqlx::query_scalar(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'ores-testkit:%'",
                )
                .fetch_one(&mut admin)
                .await
                .unwrap();
                peak.fetch_max(n, Ordering::SeqCst);
                tokio::select! {
                    _ = done.notified() => return,
                    _ = tokio::task::yield_now() => {}
                }
            }
        })
    };

    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..200 {
        let (settings, migrations) = (settings.clone(), migrations.clone());
        tasks.spawn(async move {
            let kit = TestKit::start(&format!("parallel-{i}"), settings, &migrations).await?;
            sqlx::query("INSERT INTO t VALUES ($1)")
                .bind(i)
                .execute(kit.db())
                .await
                .map_err(|e| ores_testkit::KitError::Database {
                    context: "insert".into(),
                    url: String::new(),
                    source: e,
                })?;
            let n: i64 = sqlx::query_scalar("SELECT count(*) FROM t")
                .fetch_one(kit.db())
                .await
                .map_err(|e| ores_testkit::KitError::Database {
                    context: "count".into(),
                    url: String::new(),
                    source: e,
                })?;
            assert_eq!(n, 1, "each kit sees its own row only");
            kit.finish().await
        });
    }
    let mut failures = Vec::new();
    while let Some(r) = tasks.join_next().await {
        if let Err(e) = r.unwrap() {
            failures.push(e.to_string());
        }
    }
    done.notify_one();
    monitor.await.unwrap();
    assert!(
        failures.is_empty(),
        "{} of 200 failed, e.g. {:?}",
        failures.len(),
        failures.first()
    );
    let peak = peak.load(Ordering::SeqCst);
    assert!(
        peak <= budget,
        "kit connections peaked at {peak}, over the budget of {budget}"
    );
    println!(
        "200 kits: peak {peak} kit connections (budget {budget}, server max_connections {max})"
    );
}
