//! Self-tests of the kit: isolation, clean-up, the sweep, the public guard, the watchdog,
//! probes and captured logs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use futures::StreamExt;
use ores_runtime::supervisor::{Backoff, ChildSpec};
use ores_testkit::{KitSettings, Migrations, SchemaName, TestKit, TestOptions};
use ractor::{Actor, ActorProcessingErr, ActorRef};
use sqlx::Connection;

fn table() -> Migrations {
    Migrations::new().add(
        1,
        "rows",
        "CREATE TABLE rows (id int PRIMARY KEY, owner text NOT NULL)",
    )
}

async fn admin() -> sqlx::PgConnection {
    let url = KitSettings::from_env().unwrap().database_url;
    sqlx::PgConnection::connect(&url).await.unwrap()
}

async fn schema_exists(name: &str) -> bool {
    let mut c = admin().await;
    sqlx::query_scalar::<_, bool>("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)")
        .bind(name)
        .fetch_one(&mut c)
        .await
        .unwrap()
}

#[ores_testkit::test(migrations = table())]
async fn the_pool_is_confined_to_the_tests_own_schema(kit: TestKit) -> anyhow::Result<()> {
    let path: String = sqlx::query_scalar("SHOW search_path")
        .fetch_one(kit.db())
        .await?;
    assert_eq!(path, kit.schema().as_str());
    let current: String = sqlx::query_scalar("SELECT current_schema()::text")
        .fetch_one(kit.db())
        .await?;
    assert_eq!(current, kit.schema().as_str());
    let owner: String = sqlx::query_scalar(
        "SELECT table_schema::text FROM information_schema.tables WHERE table_name = 'rows'",
    )
    .fetch_one(kit.db())
    .await?;
    assert_eq!(
        owner,
        kit.schema().as_str(),
        "the migration created its table in the test schema"
    );
    assert!(kit.subject_prefix().starts_with("ores.test."));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_tests_running_at_once_see_neither_each_others_rows_nor_subjects() {
    let settings = KitSettings::from_env().unwrap();
    let migrations = table();
    let (a, b) = tokio::join!(
        TestKit::start("iso-a", settings.clone(), &migrations),
        TestKit::start("iso-b", settings.clone(), &migrations)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_ne!(a.schema(), b.schema());
    assert_ne!(a.subject_prefix(), b.subject_prefix());
    for (kit, owner, ids) in [(&a, "a", 1..=3), (&b, "b", 1..=5)] {
        for id in ids {
            sqlx::query("INSERT INTO rows VALUES ($1, $2)")
                .bind(id)
                .bind(owner)
                .execute(kit.db())
                .await
                .unwrap();
        }
    }
    let seen = |kit: &TestKit| {
        let pool = kit.db().clone();
        async move {
            sqlx::query_scalar::<_, String>("SELECT DISTINCT owner FROM rows")
                .fetch_all(&pool)
                .await
                .unwrap()
        }
    };
    assert_eq!(seen(&a).await, ["a"]);
    assert_eq!(seen(&b).await, ["b"]);

    // Subjects: a subscriber under a's prefix gets a's messages only.
    let nats = async_nats::connect(a.nats_url()).await.unwrap();
    let mut sub_a = nats
        .subscribe(format!("{}.>", a.subject_prefix()))
        .await
        .unwrap();
    nats.publish(
        format!("{}.refdata.v1.currencies.changed", b.subject_prefix()),
        "b".into(),
    )
    .await
    .unwrap();
    nats.publish(
        format!("{}.refdata.v1.currencies.changed", a.subject_prefix()),
        "a".into(),
    )
    .await
    .unwrap();
    let first = tokio::time::timeout(Duration::from_secs(5), sub_a.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        &first.payload[..],
        b"a",
        "b's message never reached a's subscriber"
    );

    a.finish().await.unwrap();
    b.finish().await.unwrap();
}

#[tokio::test]
async fn a_passing_test_drops_its_schema_and_a_failing_one_keeps_it() {
    let settings = KitSettings::from_env().unwrap();
    let kit = TestKit::start("passes", settings.clone(), &table())
        .await
        .unwrap();
    let passed = kit.schema().to_string();
    assert!(schema_exists(&passed).await);
    kit.finish().await.unwrap();
    assert!(!schema_exists(&passed).await, "dropped after success");

    // Through the harness: a body that fails.
    let schema = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let seen = schema.clone();
    let outcome = std::thread::spawn(move || {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            ores_testkit::run(
                "kit::fails_on_purpose",
                TestOptions::new().migrations(table()),
                |kit| async move {
                    *seen.lock().unwrap() = kit.schema().to_string();
                    Err::<(), _>("the assertion that failed")
                },
            )
        }))
    })
    .join()
    .unwrap();
    let message = *outcome.unwrap_err().downcast::<String>().unwrap();
    let kept = schema.lock().unwrap().clone();
    assert!(message.contains("the assertion that failed"), "{message}");
    assert!(
        message.contains(&format!(
            "the test's schema `{kept}` was kept for inspection: psql '"
        )),
        "{message}"
    );
    assert!(
        message.contains(&format!("options=-csearch_path%3D{kept}'")),
        "{message}"
    );
    assert!(schema_exists(&kept).await, "kept after failure");
    let mut c = admin().await;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP SCHEMA {kept} CASCADE")))
        .execute(&mut c)
        .await
        .unwrap();
}

#[tokio::test]
async fn the_sweep_drops_stale_kit_schemas_only() {
    let mut c = admin().await;
    let stale = "ores_t_1000000_1_0";
    let fresh = SchemaName::unique();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DROP SCHEMA IF EXISTS {stale} CASCADE; CREATE SCHEMA {stale}; CREATE TABLE {stale}.x (id int); CREATE SCHEMA {fresh}; CREATE SCHEMA IF NOT EXISTS ores_t_other"
    )))
    .execute(&mut c)
    .await
    .unwrap();
    let pool = sqlx::PgPool::connect(&KitSettings::from_env().unwrap().database_url)
        .await
        .unwrap();
    let dropped = ores_testkit::sweep(&pool, Duration::from_secs(3600))
        .await
        .unwrap();
    assert!(dropped >= 1);
    assert!(
        !schema_exists(stale).await,
        "a schema named in 1970 is stale"
    );
    assert!(
        schema_exists(fresh.as_str()).await,
        "a fresh schema is kept"
    );
    assert!(
        schema_exists("ores_t_other").await,
        "a name without a time is not the kit's to drop"
    );
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DROP SCHEMA {fresh}; DROP SCHEMA ores_t_other"
    )))
    .execute(&mut c)
    .await
    .unwrap();
}

#[ores_testkit::test]
async fn nothing_can_be_created_in_public(kit: TestKit) -> anyhow::Result<()> {
    let err = sqlx::query("CREATE TABLE public.ores_testkit_oops (id int)")
        .execute(kit.db())
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains(
            "ores-testkit: table public.ores_testkit_oops would be created in schema public"
        ),
        "{text}"
    );
    assert!(
        text.contains(kit.schema().as_str()),
        "the message names the test: {text}"
    );
    let exists: bool =
        sqlx::query_scalar("SELECT to_regclass('public.ores_testkit_oops') IS NOT NULL")
            .fetch_one(kit.db())
            .await?;
    assert!(!exists);
    // Other sessions (not the kit's) are not affected.
    let mut c = admin().await;
    sqlx::query("CREATE TEMP TABLE not_public (id int)")
        .execute(&mut c)
        .await?;
    Ok(())
}

#[test]
fn the_watchdog_fails_a_test_that_runs_past_its_timeout_and_names_it() {
    let outcome = std::panic::catch_unwind(|| {
        ores_testkit::run(
            "kit::hangs_forever",
            TestOptions::new().timeout(Duration::from_millis(300)),
            |_kit| std::future::pending::<()>(),
        )
    });
    let message = *outcome.unwrap_err().downcast::<String>().unwrap();
    assert!(
        message.contains("test `kit::hangs_forever` ran past its timeout of 300ms"),
        "{message}"
    );
    assert!(message.contains("kept for inspection"), "{message}");
}

#[derive(Clone)]
struct Crashy;

impl Actor for Crashy {
    type Msg = bool;
    type State = ();
    type Arguments = ();
    async fn pre_start(&self, _: ActorRef<bool>, _: ()) -> Result<(), ActorProcessingErr> {
        Ok(())
    }
    async fn handle(
        &self,
        _: ActorRef<bool>,
        crash: bool,
        _: &mut (),
    ) -> Result<(), ActorProcessingErr> {
        if crash {
            Err("told to crash".into())
        } else {
            Ok(())
        }
    }
}

#[ores_testkit::test]
async fn probes_record_messages_and_restarts_and_time_out_clearly(
    kit: TestKit,
) -> anyhow::Result<()> {
    let mut probe = kit
        .probe::<String>("greetings")
        .await?
        .within(Duration::from_millis(200));
    probe.actor().send_message("hello".into())?;
    assert_eq!(probe.expect_msg().await?, "hello");
    probe.actor().send_message("bye".into())?;
    let got = probe.expect_msg_eq(&"hello".to_string()).await.unwrap_err();
    assert_eq!(
        got.to_string(),
        "probe `greetings`: the next message did not match: expected \"hello\", got \"bye\""
    );
    let none = probe.expect_msg().await.unwrap_err();
    assert_eq!(
        none.to_string(),
        "probe `greetings` received no message within 200ms"
    );
    probe.actor().send_message("late".into())?;
    let unwanted = probe
        .expect_no_msg(Duration::from_millis(200))
        .await
        .unwrap_err();
    assert!(
        unwanted.to_string().starts_with(
            "probe `greetings` received a message within 200ms when none was expected"
        )
    );

    let mut supervision = kit.supervision().within(Duration::from_millis(300));
    let crashy = kit
        .spawn(ChildSpec::actor("crashy", Crashy, ()).backoff(Backoff::none()))
        .await?;
    crashy.send(true).await?;
    supervision.expect_restart("crashy").await?;
    let missing = supervision.expect_restart("crashy").await.unwrap_err();
    assert!(
        missing
            .to_string()
            .starts_with("supervision probe: no failure of `crashy` within 300ms"),
        "{missing}"
    );
    Ok(())
}

/// Run by `captured_logs_are_printed_only_when_a_test_fails` in a child process.
#[ores_testkit::test]
#[ignore = "run by captured_logs_are_printed_only_when_a_test_fails"]
async fn inner_logs_then_maybe_fails(_kit: TestKit) -> Result<(), String> {
    tracing::info!(target: "ores_selftest", "a line only a failure should show");
    if std::env::var("ORES_SELFTEST_FAIL").is_ok() {
        Err("failing on purpose".into())
    } else {
        Ok(())
    }
}

#[test]
fn captured_logs_are_printed_only_when_a_test_fails() {
    let run = |fail: bool| {
        let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
        cmd.args([
            "--ignored",
            "--exact",
            "inner_logs_then_maybe_fails",
            "--nocapture",
        ]);
        if fail {
            cmd.env("ORES_SELFTEST_FAIL", "1");
        }
        let out = cmd.output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, stderr) = run(false);
    assert!(ok, "{stderr}");
    assert!(
        !stderr.contains("a line only a failure should show"),
        "{stderr}"
    );
    let (ok, stderr) = run(true);
    assert!(!ok);
    assert!(
        stderr.contains("---- captured logs of `kit::inner_logs_then_maybe_fails` ----"),
        "{stderr}"
    );
    assert!(
        stderr.contains("a line only a failure should show"),
        "{stderr}"
    );
    assert!(stderr.contains("failing on purpose"), "{stderr}");
}

#[test]
fn settings_reject_bad_values_with_the_variable_named() {
    let err =
        KitSettings::from_vars(|k| (k == "ORES_TEST_TIMEOUT_SECONDS").then(|| "soon".to_string()))
            .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid test configuration: `ORES_TEST_TIMEOUT_SECONDS` = `soon`: expected a positive integer"
    );
}

#[ores_testkit::test(migrations = Migrations::new().add(7, "broken", "CREATE TABLE x (id nonsense_type)"))]
#[should_panic(expected = "migration 7 `broken` failed in schema `ores_t_")]
async fn a_failing_migration_is_named(_kit: TestKit) {}

#[ores_testkit::test]
#[should_panic(expected = "the test panicked: assertion `left == right` failed")]
async fn a_failed_assert_in_the_body_is_reported_as_a_failure(_kit: TestKit) {
    assert_eq!(1 + 1, 3);
}

#[test]
fn migrations_of_the_project_run_before_the_tests_own_whatever_their_versions() {
    let project = Migrations::new().add(100, "p", "SELECT 1");
    let own = Migrations::new()
        .add(2, "b", "SELECT 2")
        .add(1, "a", "SELECT 3");
    let order: Vec<i64> = project.merge(&own).iter().map(|m| m.version).collect();
    assert_eq!(order, [100, 1, 2]);
}

#[ores_testkit::test]
async fn one_call_adds_a_connected_nats_connection_under_the_tests_prefix(
    kit: TestKit,
) -> anyhow::Result<()> {
    use ores_actors::nats::{LinkStatus, Subject, SubjectPattern};
    let nats = kit.nats().await?;
    assert_eq!(nats.status(), LinkStatus::Connected);
    assert_eq!(nats.prefix(), kit.subject_prefix());
    let mut sub = nats
        .subscribe::<String>(&SubjectPattern::new("greetings.>")?)
        .await?;
    nats.client(Duration::from_secs(5)).await?.flush().await?;
    nats.publish(&Subject::new("greetings.hello")?, "hi")
        .await?;
    let got = tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await?
        .expect("a message");
    assert_eq!(got.body?, "hi");
    assert!(kit.tree().children().await?.iter().any(|c| c.id == "nats"));
    Ok(())
}
