//! Retention without DELETE bloat: the log's `events` table is partitioned by day
//! (`{schema}.events_YYYYMMDD`, UTC days) and old days are dropped whole.
//!
//! [`maintain`] (run by the bus's `event-maintenance` actor at start, then every
//! `maintenance_interval`) does, each step under an advisory lock on the schema (several
//! processes may run it at once):
//!
//! 1. creates the partitions of today and of the next `partitions_ahead` days (dates from the
//!    database's clock, which also stamps `created_at`), each in its own transaction;
//! 2. drops the day partitions whose whole day ended more than `retention` ago (`DROP TABLE`,
//!    no row-by-row delete, no vacuum debt);
//! 3. deletes the rows of the DEFAULT partition older than `retention` (normally none: rows
//!    land there only before their day's partition exists).
//!
//! Rows already in the DEFAULT partition for a day would block creating that day's
//! partition (PostgreSQL refuses a partition whose range the DEFAULT partition holds rows
//! of). So a day's partition is created in one transaction that locks the log, moves that
//! day's rows out of the DEFAULT partition into a temporary table, creates the partition and
//! puts the rows back through the parent (they land in the new partition). The rows keep
//! their id, `xid`, position and time, so readers neither miss nor repeat them; the lock holds
//! publishers and readers for the moment it takes. This happens for today on the first run
//! after installing (or after maintenance was down for longer than `partitions_ahead` days);
//! later runs find the days ahead already made, and move nothing.

use std::sync::Arc;

use ractor::{Actor, ActorProcessingErr, ActorRef};
use sqlx::{AssertSqlSafe, PgPool, Postgres, Transaction};
use tokio::task::JoinHandle;

use super::bus::BusShared;
use super::config::EventBusConfig;
use super::error::EventError;
use super::schema::BusSchema;

/// What one run of [`maintain`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MaintenanceReport {
    /// The partitions created (`events_YYYYMMDD`), oldest first.
    pub created: Vec<String>,
    /// The rows moved out of the DEFAULT partition into the partitions created.
    pub moved: u64,
    /// The partitions dropped (whole days older than the retention), oldest first.
    pub dropped: Vec<String>,
    /// The rows deleted from the DEFAULT partition for being older than the retention.
    pub expired: u64,
}

/// Runs retention maintenance on the log in `config.schema` once: creates the day partitions
/// of today and the `config.partitions_ahead` days after it (moving any rows of those days out
/// of the DEFAULT partition), drops the day partitions older than `config.retention`, and
/// deletes DEFAULT-partition rows older than it. The log's tables must exist (the bus's writer
/// creates them at start; see also [`schema::migrate`](super::schema::migrate)).
///
/// # Errors
/// [`EventError::Database`] when a statement fails (what was done before stays done).
pub async fn maintain(
    pool: &PgPool,
    config: &EventBusConfig,
) -> Result<MaintenanceReport, EventError> {
    let schema = &config.schema;
    let mut report = MaintenanceReport::default();
    let days: Vec<String> = sqlx::query_scalar(
        "SELECT to_char((now() AT TIME ZONE 'UTC')::date + i, 'YYYYMMDD')
         FROM generate_series(0, $1::int) AS i
         ORDER BY i",
    )
    .bind(i32::try_from(config.partitions_ahead).unwrap_or(i32::MAX))
    .fetch_all(pool)
    .await?;
    for day in &days {
        if let Some(moved) = create_day(pool, schema, day).await? {
            report.created.push(partition_name(day));
            report.moved += moved;
        }
    }

    let retention = config.retention.as_secs_f64();
    let mut tx = locked(pool, schema).await?;
    // The first day still (partly) within the retention: partitions of days before it ended
    // at or before the cut-off.
    let keep_from: String = sqlx::query_scalar(
        "SELECT to_char((now() - make_interval(secs => $1)) AT TIME ZONE 'UTC', 'YYYYMMDD')",
    )
    .bind(retention)
    .fetch_one(&mut *tx)
    .await?;
    let mut old: Vec<String> = partitions(&mut tx, schema)
        .await?
        .into_iter()
        .filter(|day| day.as_str() < keep_from.as_str())
        .collect();
    old.sort();
    for day in old {
        let name = partition_name(&day);
        sqlx::raw_sql(AssertSqlSafe(format!(
            "DROP TABLE IF EXISTS {}",
            schema.table(&name)
        )))
        .execute(&mut *tx)
        .await?;
        tracing::info!(target: "ores_actors::eventing", %schema, partition = %name, "event log partition dropped: past the retention");
        report.dropped.push(name);
    }
    report.expired = sqlx::query(AssertSqlSafe(format!(
        "DELETE FROM {} WHERE created_at < now() - make_interval(secs => $1)",
        schema.table("events_default")
    )))
    .bind(retention)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    Ok(report)
}

/// `events_YYYYMMDD`.
fn partition_name(day: &str) -> String {
    format!("events_{day}")
}

/// A transaction holding the schema's maintenance lock.
async fn locked<'a>(
    pool: &'a PgPool,
    schema: &BusSchema,
) -> Result<Transaction<'a, Postgres>, EventError> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
        .bind(format!("ores_bus_maintenance:{schema}"))
        .execute(&mut *tx)
        .await?;
    Ok(tx)
}

/// The days (`YYYYMMDD`) of the log's day partitions.
async fn partitions(
    tx: &mut Transaction<'_, Postgres>,
    schema: &BusSchema,
) -> Result<Vec<String>, EventError> {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = to_regclass($1)",
    )
    .bind(schema.table("events"))
    .fetch_all(&mut **tx)
    .await?;
    Ok(names
        .into_iter()
        .filter_map(|n| n.strip_prefix("events_").map(str::to_owned))
        .filter(|d| d.len() == 8 && d.bytes().all(|b| b.is_ascii_digit()))
        .collect())
}

/// Creates the partition of `day` (`YYYYMMDD`) unless it exists, moving that day's rows out of
/// the DEFAULT partition into it, all in one transaction. `Some(rows moved)` when created.
async fn create_day(
    pool: &PgPool,
    schema: &BusSchema,
    day: &str,
) -> Result<Option<u64>, EventError> {
    if day.len() != 8 || !day.bytes().all(|b| b.is_ascii_digit()) {
        return Err(EventError::Database(format!(
            "unexpected day `{day}` from the database"
        )));
    }
    let name = partition_name(day);
    let table = schema.table(&name);
    let mut tx = locked(pool, schema).await?;
    let exists: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
        .bind(&table)
        .fetch_one(&mut *tx)
        .await?;
    if exists {
        return Ok(None);
    }
    let from = format!("{}-{}-{} 00:00:00+00", &day[..4], &day[4..6], &day[6..]);
    let events = schema.table("events");
    // Publishers and readers wait for the moment this takes: nothing is written into the
    // DEFAULT partition for this day between the move and the creation.
    sqlx::raw_sql(AssertSqlSafe(format!(
        "LOCK TABLE {events} IN ACCESS EXCLUSIVE MODE;
         CREATE TEMPORARY TABLE ores_bus_moving (LIKE {events}) ON COMMIT DROP;"
    )))
    .execute(&mut *tx)
    .await?;
    let moved = sqlx::query(AssertSqlSafe(format!(
        "WITH moved AS (
             DELETE FROM {default} WHERE created_at >= $1::timestamptz
               AND created_at < $1::timestamptz + interval '24 hours'
             RETURNING *
         )
         INSERT INTO pg_temp.ores_bus_moving SELECT * FROM moved",
        default = schema.table("events_default"),
    )))
    .bind(&from)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    sqlx::raw_sql(AssertSqlSafe(format!(
        "CREATE TABLE {table} PARTITION OF {events}
             FOR VALUES FROM ('{from}') TO (('{from}'::timestamptz + interval '24 hours'));
         INSERT INTO {events} SELECT * FROM pg_temp.ores_bus_moving;"
    )))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    tracing::info!(target: "ores_actors::eventing", %schema, partition = %name, moved, "event log partition created");
    Ok(Some(moved))
}

/// The maintenance actor: runs [`maintain`] at start (failing the start when the log is
/// unreachable), then every `maintenance_interval` on its task; a failed run fails the actor,
/// and the supervisor restarts it (which runs it again).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Maintenance;

/// The maintenance actor's messages.
#[derive(Debug)]
pub(crate) enum MaintenanceMsg {
    /// A periodic run failed.
    Failed(EventError),
}

/// The maintenance actor's state: its task.
#[derive(Debug)]
pub(crate) struct MaintenanceState {
    task: JoinHandle<()>,
}

impl Drop for MaintenanceState {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Actor for Maintenance {
    type Msg = MaintenanceMsg;
    type State = MaintenanceState;
    type Arguments = Arc<BusShared>;

    async fn pre_start(
        &self,
        myself: ActorRef<MaintenanceMsg>,
        shared: Arc<BusShared>,
    ) -> Result<MaintenanceState, ActorProcessingErr> {
        super::schema::migrate(&shared.pool, &shared.config.schema).await?;
        run(&shared).await?;
        let task = tokio::spawn(async move {
            loop {
                tokio::time::sleep(shared.config.maintenance_interval).await;
                if let Err(e) = run(&shared).await {
                    let _ = myself.cast(MaintenanceMsg::Failed(e));
                    return;
                }
            }
        });
        Ok(MaintenanceState { task })
    }

    async fn handle(
        &self,
        _myself: ActorRef<MaintenanceMsg>,
        msg: MaintenanceMsg,
        _state: &mut MaintenanceState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            MaintenanceMsg::Failed(e) => Err(Box::new(e)),
        }
    }
}

async fn run(shared: &BusShared) -> Result<(), EventError> {
    match maintain(&shared.pool, &shared.config).await {
        Ok(report) => {
            tracing::debug!(target: "ores_actors::eventing", schema = %shared.config.schema, ?report, "event log maintenance done");
            Ok(())
        }
        Err(e) => {
            tracing::warn!(target: "ores_actors::eventing", schema = %shared.config.schema, error = %e, "event log maintenance failed");
            Err(e)
        }
    }
}
