//! Test-isolation benchmark: checks the two "Test isolation" targets of `TARGETS.md` in one run.
//!
//! 1. **Per-test setup + teardown** of a [`TestKit`] (target ≤ 1/3 of database-per-test in the
//!    same run). Per kit sample: `TestKit::start` (connection slot, schema creation and
//!    migrations, supervision tree), one trivial query through `kit.db()`, `kit.finish()`
//!    (ordered shutdown, schema drop, pool close). Per baseline sample, what `#[sqlx::test]`
//!    does: on one admin connection kept across samples (sqlx keeps a master pool),
//!    `CREATE DATABASE`, connect to it, run the same migrations with sqlx's `Migrator`, the
//!    same query, close, `DROP DATABASE ... WITH (FORCE)`. Both use the same four migrations
//!    (three tables with primary and foreign keys, an index, a seed insert), written once as
//!    `<version>_<name>.sql` files into a temporary directory. Kit and baseline samples are
//!    interleaved within each round (alternating which goes first), so both see the same
//!    noise; the ratio is the median of the per-round ratios of medians.
//! 2. **Many kits in parallel** (target: 200 against a server with `max_connections = 100`,
//!    no pool time-outs): 200 tasks on the runtime, each `TestKit::start` + an insert + a
//!    count + `finish`; failures, wall time, and the peak number of kit connections sampled
//!    from `pg_stat_activity` on a separate connection.
//!
//! Every database and schema the run created is checked for (and dropped) at the end, also
//! when a measurement failed.
//!
//! Run with `cargo bench -p ores-testkit --bench setup`; set `ORES_BENCH_QUICK=1` for a smoke
//! run with fewer samples and 50 parallel kits. Needs the test database
//! (`ORES_TEST_DATABASE_URL`, default `postgres://postgres@127.0.0.1:5432/test`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use ores_runtime::supervisor::Supervisor;
use ores_testkit::{KitSettings, Migrations, TestKit};
use sqlx::migrate::Migrator;
use sqlx::postgres::PgConnectOptions;
use sqlx::{AssertSqlSafe, Connection, PgConnection};

/// The migrations of both sides, as sqlx's `<version>_<name>.sql` files.
const MIGRATIONS: &[(&str, &str)] = &[
    (
        "1_accounts.sql",
        "CREATE TABLE accounts (\n    id bigserial PRIMARY KEY,\n    name text NOT NULL UNIQUE,\n    created_at timestamptz NOT NULL DEFAULT now()\n);\n",
    ),
    (
        "2_currencies.sql",
        "CREATE TABLE currencies (\n    iso_code char(3) PRIMARY KEY,\n    name text NOT NULL,\n    minor_units smallint NOT NULL DEFAULT 2\n);\n",
    ),
    (
        "3_balances.sql",
        "CREATE TABLE balances (\n    account_id bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,\n    iso_code char(3) NOT NULL REFERENCES currencies (iso_code),\n    amount numeric(20, 4) NOT NULL DEFAULT 0,\n    updated_at timestamptz NOT NULL DEFAULT now(),\n    PRIMARY KEY (account_id, iso_code)\n);\nCREATE INDEX balances_iso_code_idx ON balances (iso_code);\n",
    ),
    (
        "4_seed_currencies.sql",
        "INSERT INTO currencies (iso_code, name, minor_units) VALUES\n    ('EUR', 'Euro', 2), ('USD', 'US Dollar', 2), ('GBP', 'Pound Sterling', 2),\n    ('JPY', 'Yen', 0), ('CHF', 'Swiss Franc', 2);\n",
    ),
];
/// Rows the seed migration inserts; the trivial query checks it.
const SEEDED: i64 = 5;
/// The trivial query of both sides.
const QUERY: &str = "SELECT count(*) FROM currencies";

/// The run's sizes.
#[derive(Debug, Clone, Copy)]
struct Sizes {
    warm_up: usize,
    rounds: usize,
    per_round: usize,
    parallel: usize,
}

impl Sizes {
    fn from_env() -> Self {
        let quick = std::env::var("ORES_BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0");
        if quick {
            Self {
                warm_up: 2,
                rounds: 2,
                per_round: 4,
                parallel: 50,
            }
        } else {
            Self {
                warm_up: 5,
                rounds: 5,
                per_round: 20,
                parallel: 200,
            }
        }
    }
}

/// One kit sample, by phase.
#[derive(Debug, Clone, Copy)]
struct KitSample {
    start: Duration,
    query: Duration,
    finish: Duration,
    /// Connections the kit's pool held after the query (more than one: the query did not
    /// get the connection `start` used, and opened another).
    connections: u32,
}

impl KitSample {
    fn total(&self) -> Duration {
        self.start + self.query + self.finish
    }
}

/// One baseline sample, by phase.
#[derive(Debug, Clone, Copy)]
struct BaseSample {
    create: Duration,
    connect: Duration,
    migrate: Duration,
    query: Duration,
    close: Duration,
    drop: Duration,
}

impl BaseSample {
    fn total(&self) -> Duration {
        self.create + self.connect + self.migrate + self.query + self.close + self.drop
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The `q` quantile (nearest rank) of `xs`.
fn quantile(xs: &[f64], q: f64) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return f64::NAN;
    }
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}

/// The median of `xs` (the mean of the two middle values when there is an even number).
fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn main() -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(run())
}

async fn run() -> anyhow::Result<()> {
    let sizes = Sizes::from_env();
    let settings = KitSettings::from_env()?;
    let dir = tempfile::tempdir()?;
    for (file, sql) in MIGRATIONS {
        std::fs::write(dir.path().join(file), sql)?;
    }
    let migrator = Migrator::new(dir.path()).await?;
    let migrations = Migrations::from_dir(dir.path())?;
    assert_eq!(migrations.len(), MIGRATIONS.len());
    assert_eq!(migrator.iter().count(), MIGRATIONS.len());

    let base = PgConnectOptions::from_str(&settings.database_url)?;
    let mut admin = PgConnection::connect_with(&base)
        .await
        .context("cannot connect to the test database")?;
    let version: String = sqlx::query_scalar("SHOW server_version")
        .fetch_one(&mut admin)
        .await?;
    let max: String = sqlx::query_scalar("SHOW max_connections")
        .fetch_one(&mut admin)
        .await?;
    println!(
        "ores-testkit setup bench: PostgreSQL {version} at {} (max_connections {max}); \
         {} migrations; 2 runtime workers{}",
        settings.database_url_redacted(),
        MIGRATIONS.len(),
        if sizes.parallel < 200 {
            "; QUICK run"
        } else {
            ""
        }
    );

    let measured = measure(
        &sizes,
        &settings,
        &migrations,
        &migrator,
        &mut admin,
        &base,
        &max,
    )
    .await;
    let cleaned = clean_up(&mut admin).await;
    admin.close().await.ok();
    measured?;
    cleaned
}

async fn measure(
    sizes: &Sizes,
    settings: &KitSettings,
    migrations: &Migrations,
    migrator: &Migrator,
    admin: &mut PgConnection,
    base: &PgConnectOptions,
    max: &str,
) -> anyhow::Result<()> {
    let mut seq = 0usize;
    // Warm-up, not reported: the first kit of the process also sweeps stale schemas and
    // installs the public-schema guard.
    for _ in 0..sizes.warm_up {
        kit_once(settings, migrations, seq).await?;
        baseline_once(admin, base, migrator, seq).await?;
        seq += 1;
    }

    println!(
        "\n1. per-test setup + teardown: {} rounds x {} samples of each, interleaved",
        sizes.rounds, sizes.per_round
    );
    let mut kits: Vec<KitSample> = Vec::new();
    let mut bases: Vec<BaseSample> = Vec::new();
    let mut ratios = Vec::new();
    for round in 0..sizes.rounds {
        let mut k = Vec::with_capacity(sizes.per_round);
        let mut b = Vec::with_capacity(sizes.per_round);
        for i in 0..sizes.per_round {
            if (round + i) % 2 == 0 {
                k.push(kit_once(settings, migrations, seq).await?);
                b.push(baseline_once(admin, base, migrator, seq).await?);
            } else {
                b.push(baseline_once(admin, base, migrator, seq).await?);
                k.push(kit_once(settings, migrations, seq).await?);
            }
            seq += 1;
        }
        let km = median(&k.iter().map(|s| ms(s.total())).collect::<Vec<_>>());
        let bm = median(&b.iter().map(|s| ms(s.total())).collect::<Vec<_>>());
        let ratio = km / bm;
        println!(
            "   round {}: kit {km:7.2} ms   database-per-test {bm:7.2} ms   ratio {ratio:.3}",
            round + 1
        );
        ratios.push(ratio);
        kits.extend(k);
        bases.extend(b);
    }

    let col = |xs: Vec<f64>| (median(&xs), quantile(&xs, 0.9));
    let (k50, k90) = col(kits.iter().map(|s| ms(s.total())).collect());
    let (b50, b90) = col(bases.iter().map(|s| ms(s.total())).collect());
    let ratio = median(&ratios);
    println!(
        "   kit (start + query + finish):   median {k50:7.2} ms   p90 {k90:7.2} ms   (n = {})",
        kits.len()
    );
    println!(
        "   database-per-test (sqlx::test): median {b50:7.2} ms   p90 {b90:7.2} ms   (n = {})",
        bases.len()
    );
    let phase = |name: &str, xs: Vec<f64>| format!("{name} {:.2}", median(&xs));
    println!(
        "   kit phases, median ms:      {}, {}, {}",
        phase("start", kits.iter().map(|s| ms(s.start)).collect()),
        phase("query", kits.iter().map(|s| ms(s.query)).collect()),
        phase("finish", kits.iter().map(|s| ms(s.finish)).collect()),
    );
    let opened_two = kits.iter().filter(|s| s.connections > 1).count();
    println!(
        "   kit pools that held more than one connection after the query: {opened_two} of {}",
        kits.len()
    );
    println!(
        "   baseline phases, median ms: {}, {}, {}, {}, {}, {}",
        phase("create db", bases.iter().map(|s| ms(s.create)).collect()),
        phase("connect", bases.iter().map(|s| ms(s.connect)).collect()),
        phase("migrate", bases.iter().map(|s| ms(s.migrate)).collect()),
        phase("query", bases.iter().map(|s| ms(s.query)).collect()),
        phase("close", bases.iter().map(|s| ms(s.close)).collect()),
        phase("drop db", bases.iter().map(|s| ms(s.drop)).collect()),
    );
    println!(
        "   ratio kit / baseline (median of per-round ratios): {ratio:.3} (1/{:.1}); target <= 1/3: {}",
        1.0 / ratio,
        if ratio <= 1.0 / 3.0 { "met" } else { "not met" }
    );

    anatomy(sizes.per_round, base).await?;

    parallel(sizes.parallel, settings, migrations, max).await
}

/// Parts of the kit's cost measured alone: the supervision tree (spawn + ordered shutdown of
/// an empty tree) and one fresh connection (connect + close), which each kit pays at least
/// once.
async fn anatomy(samples: usize, base: &PgConnectOptions) -> anyhow::Result<()> {
    let mut tree = Vec::with_capacity(samples);
    let mut connect = Vec::with_capacity(samples);
    for i in 0..samples {
        let t0 = Instant::now();
        let sup = Supervisor::builder(format!("bench-tree-{i}"))
            .spawn()
            .await?;
        sup.shutdown(Duration::from_secs(30)).await?;
        tree.push(ms(t0.elapsed()));
        let t0 = Instant::now();
        PgConnection::connect_with(base).await?.close().await?;
        connect.push(ms(t0.elapsed()));
    }
    println!(
        "   alone, median ms: tree spawn + shutdown {:.2}, fresh connection connect + close {:.2} (n = {samples})",
        median(&tree),
        median(&connect)
    );
    Ok(())
}

/// One kit sample: start, one query, finish.
async fn kit_once(
    settings: &KitSettings,
    migrations: &Migrations,
    seq: usize,
) -> anyhow::Result<KitSample> {
    let t0 = Instant::now();
    let kit = TestKit::start(&format!("bench-{seq}"), settings.clone(), migrations).await?;
    let t1 = Instant::now();
    let n = sqlx::query_scalar::<_, i64>(QUERY)
        .fetch_one(kit.db())
        .await;
    let t2 = Instant::now();
    let connections = kit.db().size();
    // Finish even when the query failed, so that the schema is dropped.
    let finished = kit.finish().await;
    let t3 = Instant::now();
    let n = n.context("kit: the query failed")?;
    finished.context("kit: finish failed")?;
    if n != SEEDED {
        bail!("kit: {n} seeded rows, expected {SEEDED}");
    }
    Ok(KitSample {
        start: t1 - t0,
        query: t2 - t1,
        finish: t3 - t2,
        connections,
    })
}

/// The name of the baseline's `seq`th database (unique to this process).
fn database_name(seq: usize) -> String {
    format!("{}{seq}", database_prefix())
}

fn database_prefix() -> String {
    format!("ores_bench_{}_", std::process::id())
}

/// One baseline sample, as `#[sqlx::test]`: create a database, connect, migrate, query,
/// close, drop the database.
async fn baseline_once(
    admin: &mut PgConnection,
    base: &PgConnectOptions,
    migrator: &Migrator,
    seq: usize,
) -> anyhow::Result<BaseSample> {
    let name = database_name(seq);
    let t0 = Instant::now();
    // `name` is made here of lowercase letters, digits and `_`.
    sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut *admin)
        .await
        .with_context(|| format!("baseline: cannot create database {name}"))?;
    let t1 = Instant::now();
    let body = async {
        let mut conn = PgConnection::connect_with(&base.clone().database(&name)).await?;
        let c = Instant::now();
        migrator.run(&mut conn).await?;
        let m = Instant::now();
        let n: i64 = sqlx::query_scalar(QUERY).fetch_one(&mut conn).await?;
        let q = Instant::now();
        conn.close().await?;
        let cl = Instant::now();
        anyhow::Ok((c, m, q, cl, n))
    }
    .await;
    // Drop the database even when the body failed (FORCE ends a connection left open).
    let dropped = sqlx::raw_sql(AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(&mut *admin)
    .await;
    let t2 = Instant::now();
    let (c, m, q, cl, n) = body.with_context(|| format!("baseline: database {name}"))?;
    dropped.with_context(|| format!("baseline: cannot drop database {name}"))?;
    if n != SEEDED {
        bail!("baseline: {n} seeded rows, expected {SEEDED}");
    }
    Ok(BaseSample {
        create: t1 - t0,
        connect: c - t1,
        migrate: m - c,
        query: q - m,
        close: cl - q,
        drop: t2 - cl,
    })
}

/// `n` kits at once, each start + insert + count + finish.
async fn parallel(
    n: usize,
    settings: &KitSettings,
    migrations: &Migrations,
    max: &str,
) -> anyhow::Result<()> {
    println!("\n2. {n} kits in parallel (start + insert + count + finish each)");
    let mut monitor_conn = PgConnection::connect(&settings.database_url).await?;
    let peak = Arc::new(AtomicI64::new(0));
    let (stop_tx, mut stop_rx) = tokio::sync::oneshot::channel::<()>();
    let monitor = {
        let peak = peak.clone();
        tokio::spawn(async move {
            loop {
                let c: i64 = sqlx::query_scalar(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'ores-testkit:%'",
                )
                .fetch_one(&mut monitor_conn)
                .await?;
                peak.fetch_max(c, Ordering::SeqCst);
                tokio::select! {
                    _ = &mut stop_rx => break,
                    () = tokio::time::sleep(Duration::from_millis(2)) => {}
                }
            }
            monitor_conn.close().await?;
            anyhow::Ok(())
        })
    };

    let t0 = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..n {
        let (settings, migrations) = (settings.clone(), migrations.clone());
        tasks.spawn(async move {
            let kit = TestKit::start(&format!("parallel-{i}"), settings, &migrations).await?;
            let body = async {
                sqlx::query("INSERT INTO accounts (name) VALUES ($1)")
                    .bind(format!("account-{i}"))
                    .execute(kit.db())
                    .await?;
                let c: i64 = sqlx::query_scalar("SELECT count(*) FROM accounts")
                    .fetch_one(kit.db())
                    .await?;
                anyhow::Ok(c)
            }
            .await;
            let finished = kit.finish().await;
            let c = body?;
            finished?;
            if c != 1 {
                bail!("kit {i} sees {c} accounts, expected its own 1");
            }
            anyhow::Ok(())
        });
    }
    let mut failures = Vec::new();
    while let Some(r) = tasks.join_next().await {
        match r {
            Ok(Ok(())) => {}
            Ok(Err(e)) => failures.push(format!("{e:#}")),
            Err(e) => failures.push(format!("task: {e}")),
        }
    }
    let wall = t0.elapsed();
    let _ = stop_tx.send(());
    monitor.await??;
    let peak = peak.load(Ordering::SeqCst);
    let budget = settings.max_connections;
    println!(
        "   {n} parallel kits: {} failures, {:.2} s wall, peak kit connections {peak} (budget {budget}, server max_connections {max})",
        failures.len(),
        wall.as_secs_f64()
    );
    if let Some(first) = failures.first() {
        println!("   first failure: {first}");
    }
    let within = peak <= i64::from(budget);
    println!(
        "   target (no failures, within the budget): {}",
        if failures.is_empty() && within {
            "met"
        } else {
            "not met"
        }
    );
    Ok(())
}

/// Drop whatever this process left behind: baseline databases and kit schemas (the kit's
/// schema names carry the process id: `ores_t_<secs>_<pid>_<n>`). Prints what it found.
async fn clean_up(admin: &mut PgConnection) -> anyhow::Result<()> {
    let pid = std::process::id();
    let databases: Vec<String> =
        sqlx::query_scalar("SELECT datname::text FROM pg_database WHERE starts_with(datname, $1)")
            .bind(database_prefix())
            .fetch_all(&mut *admin)
            .await?;
    for name in &databases {
        sqlx::raw_sql(AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
            name.replace('"', "\"\"")
        )))
        .execute(&mut *admin)
        .await?;
    }
    let schemas: Vec<String> = sqlx::query_scalar(
        "SELECT nspname::text FROM pg_namespace WHERE nspname ~ ('^ores_t_[0-9]+_' || $1 || '_[0-9]+$')",
    )
    .bind(pid.to_string())
    .fetch_all(&mut *admin)
    .await?;
    for name in &schemas {
        sqlx::raw_sql(AssertSqlSafe(format!(
            "DROP SCHEMA IF EXISTS \"{}\" CASCADE",
            name.replace('"', "\"\"")
        )))
        .execute(&mut *admin)
        .await?;
    }
    println!(
        "\nclean-up: {} databases and {} schemas of this run were left behind{}",
        databases.len(),
        schemas.len(),
        if databases.is_empty() && schemas.is_empty() {
            ""
        } else {
            " (now dropped)"
        }
    );
    Ok(())
}
