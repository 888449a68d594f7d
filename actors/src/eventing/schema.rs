//! The event log's tables, in a schema named in the configuration and written into every
//! statement (never found through `search_path`), and the migrations that create them.

use sqlx::AssertSqlSafe;
use sqlx::PgPool;

use super::error::EventError;

/// A PostgreSQL schema name for the bus's tables: lowercase letters, digits and `_`, starting
/// with a letter or `_`, at most 40 characters (so that derived names fit PostgreSQL's 63).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BusSchema(String);

impl BusSchema {
    /// Checks `name`.
    ///
    /// # Errors
    /// [`EventError::Config`] saying what is wrong.
    pub fn new(name: impl Into<String>) -> Result<Self, EventError> {
        let name = name.into();
        let ok_start = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_');
        let ok_chars = name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !ok_start || !ok_chars || name.len() > 40 {
            return Err(EventError::Config(format!(
                "`{name}` is not a usable schema name for the event log: use lowercase letters, \
                 digits and `_`, starting with a letter or `_`, at most 40 characters"
            )));
        }
        if name == "public" {
            return Err(EventError::Config(
                "the event log does not go in schema `public`: name a schema of its own".into(),
            ));
        }
        Ok(Self(name))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `schema.table`.
    pub fn table(&self, table: &str) -> String {
        format!("{}.{table}", self.0)
    }

    /// The NOTIFY channel that wakes readers once per writing transaction.
    pub fn channel(&self) -> String {
        format!("ores_bus_{}", self.0)
    }
}

impl std::fmt::Display for BusSchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// One migration: its version, name and SQL (with `{s}` standing for the schema and `{ch}`
/// for the NOTIFY channel).
struct Migration {
    version: i32,
    name: &'static str,
    sql: &'static str,
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "event log",
        sql: r#"
CREATE SEQUENCE {s}.events_position;
CREATE TABLE {s}.events (
    id          uuid        NOT NULL,
    xid         xid8        NOT NULL DEFAULT pg_current_xact_id(),
    position    bigint      NOT NULL DEFAULT nextval('{s}.events_position'),
    topic       text        NOT NULL,
    key         text,
    tenant      text,
    payload     jsonb       NOT NULL,
    headers     jsonb       NOT NULL DEFAULT '{}'::jsonb,
    created_at  timestamptz NOT NULL DEFAULT now()
) PARTITION BY RANGE (created_at);
CREATE TABLE {s}.events_default PARTITION OF {s}.events DEFAULT;
CREATE INDEX events_order ON {s}.events (xid, position);
CREATE INDEX events_created ON {s}.events (created_at);
"#,
    },
    Migration {
        version: 2,
        name: "consumer groups, dead letters, leases",
        sql: r#"
CREATE TABLE {s}.consumer_groups (
    name        text        PRIMARY KEY,
    xid         xid8        NOT NULL DEFAULT '0'::xid8,
    position    bigint      NOT NULL DEFAULT 0,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE {s}.dead_letters (
    group_name  text        NOT NULL,
    event_id    uuid        NOT NULL,
    xid         xid8        NOT NULL,
    position    bigint      NOT NULL,
    topic       text        NOT NULL,
    payload     jsonb       NOT NULL,
    reason      text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE {s}.leases (
    name        text        PRIMARY KEY,
    holder      text        NOT NULL,
    expires_at  timestamptz NOT NULL
);
"#,
    },
    Migration {
        version: 3,
        name: "entity change trigger function",
        sql: r#"
-- Attach with `EventBus::attach_entity_trigger` (one AFTER ... FOR EACH STATEMENT trigger per
-- event: PostgreSQL refuses transition tables on a trigger with several events). Arguments:
-- the entity (`ores.refdata.currency`), the key column, optionally the tenant column. Writes
-- one `EntityChangeEvent` per statement and tenant, then wakes readers (one NOTIFY per
-- transaction: PostgreSQL folds identical ones). Ids are UUIDv7 (a random v4 with the
-- millisecond clock written over its first 48 bits and the version set to 7).
CREATE OR REPLACE FUNCTION {s}.record_entity_change() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    entity     text;
    key_col    text;
    tenant_col text;
    changed    text;
    ts         text;
    written    bigint;
BEGIN
    IF TG_LEVEL <> 'STATEMENT' OR TG_WHEN <> 'AFTER' OR TG_NARGS < 2 THEN
        RAISE EXCEPTION '{s}.record_entity_change() runs AFTER ... FOR EACH STATEMENT with the arguments (entity, key column[, tenant column]); trigger % on %.% is not',
            TG_NAME, TG_TABLE_SCHEMA, TG_TABLE_NAME;
    END IF;
    entity := TG_ARGV[0];
    key_col := TG_ARGV[1];
    tenant_col := CASE WHEN TG_NARGS > 2 THEN nullif(TG_ARGV[2], '') END;
    changed := CASE TG_OP
        WHEN 'INSERT' THEN format('SELECT %I::text AS k, %s AS t FROM new_rows', key_col,
            coalesce(quote_ident(tenant_col) || '::text', 'NULL::text'))
        WHEN 'DELETE' THEN format('SELECT %I::text AS k, %s AS t FROM old_rows', key_col,
            coalesce(quote_ident(tenant_col) || '::text', 'NULL::text'))
        WHEN 'UPDATE' THEN format('SELECT %I::text AS k, %s AS t FROM new_rows UNION ALL SELECT %I::text, %s FROM old_rows',
            key_col, coalesce(quote_ident(tenant_col) || '::text', 'NULL::text'),
            key_col, coalesce(quote_ident(tenant_col) || '::text', 'NULL::text'))
    END;
    IF changed IS NULL THEN
        RAISE EXCEPTION '{s}.record_entity_change() does not handle % (trigger % on %.%)',
            TG_OP, TG_NAME, TG_TABLE_SCHEMA, TG_TABLE_NAME;
    END IF;
    ts := to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"');
    EXECUTE format($q$
        WITH changed AS (%s),
        per_tenant AS (
            SELECT t, array_agg(DISTINCT k ORDER BY k) AS ids
            FROM changed WHERE k IS NOT NULL GROUP BY t
        ),
        written AS (
            INSERT INTO {s}.events (id, topic, key, tenant, payload)
            SELECT encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid())
                       PLACING substring(int8send(floor(extract(epoch FROM clock_timestamp()) * 1000)::int8) FROM 3)
                       FROM 1 FOR 6), 52, 1), 53, 1), 'hex')::uuid,
                   $1 || '_changed', $1, t,
                   jsonb_build_object('entity', $1, 'timestamp', $2, 'entity_ids', to_jsonb(ids), 'tenant_id', t)
            FROM per_tenant
            ORDER BY t NULLS FIRST
            RETURNING 1
        )
        SELECT count(*) FROM written$q$, changed)
    INTO written
    USING entity, ts;
    IF written > 0 THEN
        PERFORM pg_notify('{ch}', '');
    END IF;
    RETURN NULL;
END
$fn$;
"#,
    },
    Migration {
        version: 4,
        name: "no created_at index on the hot table",
        sql: r#"
-- Every insert paid for it; retention drops whole day partitions and replay-from-time reads
-- the (xid, position) order, so nothing needs it.
DROP INDEX IF EXISTS {s}.events_created;
"#,
    },
    Migration {
        version: 5,
        name: "payloads as json text, positions cached per session",
        sql: r#"
-- `json` is checked and kept as written; `jsonb` is parsed into a binary form on every write
-- and printed back on every read, which the log never needs. Positions only order events of
-- one transaction (one session), so each session may take them 1,000 at a time.
ALTER TABLE {s}.events
    ALTER COLUMN payload TYPE json USING payload::json,
    ALTER COLUMN headers TYPE json USING headers::json,
    ALTER COLUMN headers SET DEFAULT '{}'::json;
ALTER SEQUENCE {s}.events_position CACHE 1000;
"#,
    },
];

/// Creates the schema and applies the migrations not applied yet, each in its own
/// transaction, under an advisory lock on the schema (several processes may start at once).
///
/// # Errors
/// [`EventError::Database`] when a statement fails.
pub async fn migrate(pool: &PgPool, schema: &BusSchema) -> Result<(), EventError> {
    let s = schema.as_str();
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
        .bind(format!("ores_bus:{s}"))
        .execute(&mut *tx)
        .await?;
    sqlx::raw_sql(AssertSqlSafe(format!(
        "CREATE SCHEMA IF NOT EXISTS {s};
         CREATE TABLE IF NOT EXISTS {s}.bus_migrations (
             version int PRIMARY KEY,
             name text NOT NULL,
             applied_at timestamptz NOT NULL DEFAULT now()
         );"
    )))
    .execute(&mut *tx)
    .await?;
    let applied: Vec<i32> = sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT version FROM {s}.bus_migrations"
    )))
    .fetch_all(&mut *tx)
    .await?;
    for m in MIGRATIONS.iter().filter(|m| !applied.contains(&m.version)) {
        let sql = m.sql.replace("{s}", s).replace("{ch}", &schema.channel());
        sqlx::raw_sql(AssertSqlSafe(sql))
            .execute(&mut *tx)
            .await
            .map_err(|e| {
                EventError::Database(format!("migration {} ({}) failed: {e}", m.version, m.name))
            })?;
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO {s}.bus_migrations (version, name) VALUES ($1, $2)"
        )))
        .bind(m.version)
        .bind(m.name)
        .execute(&mut *tx)
        .await?;
        tracing::info!(target: "ores_actors::eventing", schema = s, version = m.version, name = m.name, "event log migration applied");
    }
    tx.commit().await?;
    Ok(())
}
