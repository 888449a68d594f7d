//! Database triggers that record [`EntityChangeEvent`](super::EntityChangeEvent)s in the log:
//! [`EventBus::attach_entity_trigger`] attaches the log's generic trigger function,
//! `<schema>.record_entity_change()` (migration 3), to a table.
//!
//! The function runs once per statement (`FOR EACH STATEMENT`, with transition tables) and
//! writes **one event per statement and tenant**, whose `entity_ids` are the distinct keys of
//! the rows the statement inserted, updated (old and new keys) or deleted; a statement that
//! changes no row writes nothing. It then wakes readers with one NOTIFY on the bus's channel,
//! which PostgreSQL folds into one per transaction. The events are rows of the log written in
//! the same transaction as the change: durable, and gone with it on rollback — ORE's per-row
//! `pg_notify` without the loss.
//!
//! Details: keys and tenants are compared as text (`key::text`); `entity_ids` are sorted as
//! text (`10` before `2`) and have no `NULL` key; tenants' events are written in tenant order
//! (no tenant first). The timestamp is the transaction's start (`now()`, like ORE's
//! triggers), in UTC. Event ids are UUIDv7 built in SQL from `gen_random_uuid()` with the
//! millisecond clock over its first 48 bits. `TRUNCATE` is not recorded (PostgreSQL gives
//! its triggers no transition tables).

use sqlx::{AssertSqlSafe, PgConnection};

use super::bus::EventBus;
use super::error::EventError;
use super::event::EntityChangeEvent;
use super::record::check_topic;
use super::schema::BusSchema;

/// The three operations, each with its own trigger (PostgreSQL refuses transition tables on a
/// trigger with several events), and the transition tables each one declares.
const OPERATIONS: [(&str, &str); 3] = [
    ("insert", "REFERENCING NEW TABLE AS new_rows"),
    (
        "update",
        "REFERENCING NEW TABLE AS new_rows OLD TABLE AS old_rows",
    ),
    ("delete", "REFERENCING OLD TABLE AS old_rows"),
];

/// A checked identifier: ASCII letters, digits, `_` and `$`, not starting with a digit or
/// `$`, at most 63 bytes. Taken as written (quoted), so case matters: `Currencies` is not
/// `currencies`.
fn identifier<'a>(what: &str, name: &'a str) -> Result<&'a str, EventError> {
    let ok_start = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    let ok_chars = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
    if ok_start && ok_chars && name.len() <= 63 {
        Ok(name)
    } else {
        Err(EventError::Config(format!(
            "`{name}` is not a usable {what} name for an entity trigger: use ASCII letters, \
             digits, `_` and `$`, starting with a letter or `_`, at most 63 bytes"
        )))
    }
}

fn quote_ident(name: &str) -> String {
    format!("\"{name}\"")
}

fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// What an entity trigger is attached to, checked.
struct EntityTrigger<'a> {
    /// The table, quoted (`"schema"."table"` or `"table"`).
    table: String,
    entity: &'a str,
    key_column: &'a str,
    tenant_column: Option<&'a str>,
}

impl<'a> EntityTrigger<'a> {
    fn new(
        table: &str,
        entity: &'a str,
        key_column: &'a str,
        tenant_column: Option<&'a str>,
    ) -> Result<Self, EventError> {
        let parts: Vec<&str> = table.split('.').collect();
        let table = match parts.as_slice() {
            [t] => quote_ident(identifier("table", t)?),
            [s, t] => format!(
                "{}.{}",
                quote_ident(identifier("schema", s)?),
                quote_ident(identifier("table", t)?)
            ),
            _ => {
                return Err(EventError::Config(format!(
                    "`{table}` is not a table name: write `table` or `schema.table`"
                )));
            }
        };
        if entity.is_empty() {
            return Err(EventError::Config(
                "an entity trigger needs an entity name, such as `ores.refdata.currency`".into(),
            ));
        }
        check_topic(&EntityChangeEvent::topic_of(entity)).map_err(|e| {
            EventError::Config(format!(
                "entity `{entity}` does not give a usable topic: {e}"
            ))
        })?;
        Ok(Self {
            table,
            entity,
            key_column: identifier("key column", key_column)?,
            tenant_column: tenant_column
                .map(|c| identifier("tenant column", c))
                .transpose()?,
        })
    }

    fn sql(&self, schema: &BusSchema) -> String {
        let mut args = vec![quote_literal(self.entity), quote_literal(self.key_column)];
        args.extend(self.tenant_column.map(quote_literal));
        let args = args.join(", ");
        let mut sql = drop_sql(schema, &self.table);
        for (op, referencing) in OPERATIONS {
            sql.push_str(&format!(
                "CREATE TRIGGER {name} AFTER {upper} ON {table} {referencing} \
                 FOR EACH STATEMENT EXECUTE FUNCTION {function}({args});\n",
                name = trigger_name(schema, op),
                upper = op.to_ascii_uppercase(),
                table = self.table,
                function = schema.table("record_entity_change"),
            ));
        }
        sql
    }
}

/// The trigger for `op` of the bus in `schema` (so that buses with logs in different schemas
/// can each attach to one table): `ores_bus_<schema>_<op>`, at most 56 bytes.
fn trigger_name(schema: &BusSchema, op: &str) -> String {
    format!("ores_bus_{}_{op}", schema.as_str())
}

fn drop_sql(schema: &BusSchema, table: &str) -> String {
    OPERATIONS
        .iter()
        .map(|(op, _)| {
            format!(
                "DROP TRIGGER IF EXISTS {} ON {table};\n",
                trigger_name(schema, op)
            )
        })
        .collect()
}

impl EventBus {
    /// Attaches the log's trigger function to `table` (`table` or `schema.table`; unqualified,
    /// it is found through the connection's `search_path`), so that every statement that
    /// inserts, updates or deletes rows records one [`EntityChangeEvent`] per tenant: `entity`
    /// (`ores.refdata.currency`, topic `ores.refdata.currency_changed`), the distinct values of
    /// `key_column` as `entity_ids`, the value of `tenant_column` (if given) as `tenant_id`.
    ///
    /// Idempotent: the bus's triggers on `table` are dropped and created again, in one
    /// transaction (pass `&mut *tx` to make it part of your own migration). Names are taken
    /// as written (quoted). The log's migrations must have run (the bus's writer applies them
    /// when it starts, or call [`schema::migrate`](super::schema::migrate)). Whoever writes
    /// to `table` then also needs `INSERT` on the log's `events` table (the function runs
    /// with the writer's rights).
    ///
    /// ```no_run
    /// # async fn demo(bus: ores_actors::eventing::EventBus, pool: sqlx::PgPool) -> Result<(), Box<dyn std::error::Error>> {
    /// let mut conn = pool.acquire().await?;
    /// bus.attach_entity_trigger(
    ///     &mut conn,
    ///     "public.ores_refdata_currencies_tbl",
    ///     "ores.refdata.currency",
    ///     "iso_code",
    ///     Some("tenant_id"),
    /// )
    /// .await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`EventError::Config`] for an unusable name, a table or column that does not exist, or
    /// a log whose migrations have not run; [`EventError::Database`] when a statement fails.
    pub async fn attach_entity_trigger(
        &self,
        conn: &mut PgConnection,
        table: &str,
        entity: &str,
        key_column: &str,
        tenant_column: Option<&str>,
    ) -> Result<(), EventError> {
        let schema = &self.config().schema;
        let trigger = EntityTrigger::new(table, entity, key_column, tenant_column)?;
        check_function(&mut *conn, schema).await?;
        let columns: Option<Vec<String>> = sqlx::query_scalar(
            "SELECT array_agg(attname::text) FROM pg_attribute \
             WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped",
        )
        .bind(&trigger.table)
        .fetch_one(&mut *conn)
        .await?;
        let columns = columns.ok_or_else(|| {
            EventError::Config(format!(
                "table `{table}` does not exist (or is not visible on this connection)"
            ))
        })?;
        for column in std::iter::once(trigger.key_column).chain(trigger.tenant_column) {
            if !columns.iter().any(|c| c == column) {
                return Err(EventError::Config(format!(
                    "table `{table}` has no column `{column}`"
                )));
            }
        }
        sqlx::raw_sql(AssertSqlSafe(trigger.sql(schema)))
            .execute(&mut *conn)
            .await?;
        tracing::info!(target: "ores_actors::eventing", %table, %entity, schema = schema.as_str(), "entity change triggers attached");
        Ok(())
    }

    /// Removes the triggers [`attach_entity_trigger`](Self::attach_entity_trigger) put on
    /// `table` (none there: nothing happens).
    ///
    /// # Errors
    /// [`EventError::Config`] for an unusable name; [`EventError::Database`] when a statement
    /// fails (e.g. the table does not exist).
    pub async fn detach_entity_trigger(
        &self,
        conn: &mut PgConnection,
        table: &str,
    ) -> Result<(), EventError> {
        // Any valid entity and column: only the table is used.
        let trigger = EntityTrigger::new(table, "ores.x.y", "id", None)?;
        sqlx::raw_sql(AssertSqlSafe(drop_sql(
            &self.config().schema,
            &trigger.table,
        )))
        .execute(&mut *conn)
        .await?;
        Ok(())
    }
}

async fn check_function(conn: &mut PgConnection, schema: &BusSchema) -> Result<(), EventError> {
    let exists: bool = sqlx::query_scalar("SELECT to_regprocedure($1) IS NOT NULL")
        .bind(format!("{}()", schema.table("record_entity_change")))
        .fetch_one(&mut *conn)
        .await?;
    if exists {
        Ok(())
    } else {
        Err(EventError::Config(format!(
            "the event log in schema `{schema}` has no `record_entity_change()` function yet: \
             start the bus first (its writer applies the log's migrations) or call \
             `eventing::schema::migrate`"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_and_quoted() {
        let t = EntityTrigger::new("s1.cur", "ores.refdata.currency", "iso", Some("tenant"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.table, "\"s1\".\"cur\"");
        let sql = t.sql(&BusSchema::new("bus").unwrap_or_else(|e| panic!("{e}")));
        assert!(sql.contains(
            "CREATE TRIGGER ores_bus_bus_update AFTER UPDATE ON \"s1\".\"cur\" REFERENCING NEW \
             TABLE AS new_rows OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION \
             bus.record_entity_change('ores.refdata.currency', 'iso', 'tenant');"
        ));
        for bad in ["a.b.c", "x\"y", "1abc", "", "a;drop"] {
            assert!(
                EntityTrigger::new(bad, "ores.a.b", "id", None).is_err(),
                "{bad}"
            );
        }
        assert!(EntityTrigger::new("t", "ores.a.b", "i d", None).is_err());
        assert!(EntityTrigger::new("t", "ores.a b", "id", None).is_err());
        assert!(EntityTrigger::new("t", "", "id", None).is_err());
        assert_eq!(quote_literal("a'b"), "'a''b'");
    }
}
