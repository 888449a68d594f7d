//! The test's PostgreSQL side: its pool (every connection confined to the test's schema), the
//! schema's creation and migration, its removal, the sweep of stale schemas, and the guard that
//! refuses objects created in `public`.

use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{AssertSqlSafe, Connection, PgPool};

use crate::KitError;
use crate::migrations::Migrations;
use crate::schema::{SCHEMA_PREFIX, SchemaName, is_stale};
use crate::settings::redact;

/// The `application_name` prefix of every kit connection; the public-schema guard acts only
/// on sessions that carry it.
pub(crate) const APPLICATION_NAME: &str = "ores-testkit";

fn db_err(url: &str, context: impl Into<String>) -> impl FnOnce(sqlx::Error) -> KitError {
    let url = redact(url);
    let context = context.into();
    move |source| KitError::Database {
        context,
        url,
        source,
    }
}

/// A pool whose every connection has `search_path` set to `schema` alone, at connect time.
pub(crate) fn pool_for(
    url: &str,
    schema: &SchemaName,
    max_connections: u32,
    acquire_timeout: Duration,
) -> Result<PgPool, KitError> {
    let options = PgConnectOptions::from_str(url)
        .map_err(db_err(url, "the test database URL does not parse"))?
        // Test data need not survive a crash of the server: not waiting for the WAL flush at
        // each commit makes the schema's creation and drop (and the test's own writes) cheap.
        .options([
            ("search_path", schema.as_str()),
            ("synchronous_commit", "off"),
        ])
        .application_name(&format!("{APPLICATION_NAME}:{schema}"));
    Ok(PgPoolOptions::new()
        .max_connections(max_connections)
        .min_connections(0)
        .acquire_timeout(acquire_timeout)
        .connect_lazy_with(options))
}

/// Create the schema and apply the migrations in it, in one transaction.
pub(crate) async fn create_schema(
    pool: &PgPool,
    url: &str,
    schema: &SchemaName,
    migrations: &Migrations,
) -> Result<(), KitError> {
    let mut conn = pool
        .acquire()
        .await
        .map_err(db_err(url, "cannot connect to the test database"))?;
    let mut tx = conn
        .begin()
        .await
        .map_err(db_err(url, "cannot begin the schema's transaction"))?;
    // The name is made by `SchemaName::unique`: lowercase letters, digits and `_` only.
    sqlx::raw_sql(AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&mut *tx)
        .await
        .map_err(db_err(url, format!("cannot create schema `{schema}`")))?;
    for m in migrations.iter() {
        sqlx::raw_sql(AssertSqlSafe(m.sql.as_str()))
            .execute(&mut *tx)
            .await
            .map_err(|source| KitError::Migration {
                version: m.version,
                description: m.description.clone(),
                schema: schema.to_string(),
                source,
            })?;
    }
    tx.commit()
        .await
        .map_err(db_err(url, format!("cannot commit schema `{schema}`")))?;
    // Hand the connection back now rather than from a background task, so that the test's
    // first query reuses it instead of opening a second one.
    conn.return_to_pool().await;
    Ok(())
}

/// Drop the schema and everything in it.
pub(crate) async fn drop_schema(
    pool: &PgPool,
    url: &str,
    schema: &SchemaName,
) -> Result<(), KitError> {
    sqlx::raw_sql(AssertSqlSafe(format!(
        "DROP SCHEMA IF EXISTS {schema} CASCADE"
    )))
    .execute(pool)
    .await
    .map(|_| ())
    .map_err(db_err(url, format!("cannot drop schema `{schema}`")))
}

static GUARDED: AtomicBool = AtomicBool::new(false);
static SWEPT: AtomicBool = AtomicBool::new(false);
static PREPARING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Once per process: drop kit schemas older than `max_age`, and install the guard that
/// refuses objects created in `public` by kit sessions. Tests that start meanwhile wait for
/// it; a failed attempt is logged and tried again by the next test.
pub(crate) async fn prepare_database(pool: &PgPool, max_age: Duration) {
    if GUARDED.load(Ordering::SeqCst) && SWEPT.load(Ordering::SeqCst) {
        return;
    }
    let _one_at_a_time = PREPARING.lock().await;
    if !SWEPT.load(Ordering::SeqCst) {
        match sweep(pool, max_age).await {
            Ok(_) => SWEPT.store(true, Ordering::SeqCst),
            Err(e) => {
                tracing::warn!(target: "ores_testkit", error = %e, "could not sweep stale test schemas");
            }
        }
    }
    if !GUARDED.load(Ordering::SeqCst) {
        match install_public_guard(pool).await {
            Ok(()) => GUARDED.store(true, Ordering::SeqCst),
            Err(e) => {
                tracing::warn!(target: "ores_testkit", error = %e, "could not install the guard on schema `public`; tests may create objects there unnoticed");
            }
        }
    }
}

/// Drop kit schemas older than `max_age` (by the time in their name). Returns how many.
///
/// # Errors
/// The database error that stopped the sweep.
pub async fn sweep(pool: &PgPool, max_age: Duration) -> Result<usize, sqlx::Error> {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT nspname::text FROM pg_namespace WHERE starts_with(nspname, $1) ORDER BY nspname",
    )
    .bind(SCHEMA_PREFIX)
    .fetch_all(pool)
    .await?;
    let now = SystemTime::now();
    let mut dropped = 0;
    for name in names.iter().filter(|n| is_stale(n, now, max_age)) {
        // `name` matched the kit's prefix and carries a parsable time: quote it all the same.
        let quoted = name.replace('"', "\"\"");
        sqlx::raw_sql(AssertSqlSafe(format!(
            "DROP SCHEMA IF EXISTS \"{quoted}\" CASCADE"
        )))
        .execute(pool)
        .await?;
        dropped += 1;
        tracing::debug!(target: "ores_testkit", schema = %name, "dropped stale test schema");
    }
    Ok(dropped)
}

const GUARD_SQL: &str = r#"
SELECT pg_advisory_xact_lock(hashtext('ores_testkit_public_guard'));
CREATE SCHEMA IF NOT EXISTS ores_testkit;
CREATE OR REPLACE FUNCTION ores_testkit.refuse_public() RETURNS event_trigger
LANGUAGE plpgsql AS $fn$
DECLARE obj record;
BEGIN
  IF coalesce(current_setting('application_name', true), '') NOT LIKE 'ores-testkit%' THEN
    RETURN;
  END IF;
  FOR obj IN SELECT * FROM pg_event_trigger_ddl_commands() LOOP
    IF obj.schema_name = 'public' THEN
      RAISE EXCEPTION 'ores-testkit: % % would be created in schema public; a test creates objects only in its own schema (%)',
        obj.object_type, obj.object_identity, current_setting('application_name')
        USING ERRCODE = 'insufficient_privilege';
    END IF;
  END LOOP;
END
$fn$;
DO $do$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_event_trigger WHERE evtname = 'ores_testkit_refuse_public') THEN
    CREATE EVENT TRIGGER ores_testkit_refuse_public ON ddl_command_end
      EXECUTE FUNCTION ores_testkit.refuse_public();
  END IF;
END
$do$;
"#;

/// Install (idempotently) an event trigger that makes any DDL creating an object in `public`
/// from a kit session fail, naming the object and the test's schema. Sessions of other
/// programs are not affected.
async fn install_public_guard(pool: &PgPool) -> Result<(), sqlx::Error> {
    let mut conn = pool.acquire().await?;
    let mut tx = conn.begin().await?;
    sqlx::raw_sql(GUARD_SQL).execute(&mut *tx).await?;
    tx.commit().await
}
