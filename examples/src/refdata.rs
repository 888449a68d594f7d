//! A refdata-style currency service backed by PostgreSQL: the worked example of
//! [`ores_actors::service`].
//!
//! Four endpoints, ORE-style subjects, service `ores.refdata.service`:
//!
//! | subject | request | reply |
//! |---|---|---|
//! | `refdata.v1.currencies.list` | `()` | `Vec<Currency>`, by ISO code |
//! | `refdata.v1.currencies.get` | [`GetCurrency`] | [`Currency`], or 404 |
//! | `refdata.v1.currencies.save` | [`Currency`] | [`Saved`] (insert or update) |
//! | `refdata.v1.currencies.delete` | [`DeleteCurrency`] | [`Deleted`], or 404 |
//!
//! The shared state is a [`Refdata`]: the pool and the (schema-qualified) table. Invalid input
//! answers 400 with what is wrong, a missing currency 404, a database failure 500 with a
//! message that names the operation and the correlation id, never the database's text (which
//! is logged instead).
//!
//! ```no_run
//! use ores_examples::refdata::{DEFAULT_SCHEMA, Refdata};
//!
//! # async fn demo(pool: sqlx::PgPool) -> Result<(), Box<dyn std::error::Error>> {
//! let refdata = Refdata::new(pool, Some(DEFAULT_SCHEMA))?;
//! refdata.ensure_schema().await?;
//! let service = refdata.service().build()?; // run it with ServiceActor::child_spec
//! # let _ = service; Ok(()) }
//! ```

use std::sync::Arc;

use ores_actors::service::{RequestContext, Service, ServiceBuilder, ServiceError, State};
use serde::{Deserialize, Serialize};
use sqlx::postgres::PgRow;
use sqlx::{AssertSqlSafe, PgPool, Row};

/// The service's dotted name (its default queue group; the protocol name is
/// `ores-refdata-service`).
pub const SERVICE_NAME: &str = "ores.refdata.service";
/// The service's version.
pub const VERSION: &str = "0.1.0";
/// The schema the demo keeps its table in.
pub const DEFAULT_SCHEMA: &str = "ores_refdata_example";

/// `refdata.v1.currencies.list`: every currency, by ISO code.
pub const LIST: &str = "refdata.v1.currencies.list";
/// `refdata.v1.currencies.get`: one currency.
pub const GET: &str = "refdata.v1.currencies.get";
/// `refdata.v1.currencies.save`: insert or update a currency.
pub const SAVE: &str = "refdata.v1.currencies.save";
/// `refdata.v1.currencies.delete`: remove a currency.
pub const DELETE: &str = "refdata.v1.currencies.delete";

/// A currency, as stored and as sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Currency {
    /// ISO 4217 code: three uppercase letters, e.g. `EUR`.
    pub iso_code: String,
    /// Its name, e.g. `Euro`.
    pub name: String,
    /// Its symbol, e.g. `€`, when it has one.
    pub symbol: Option<String>,
    /// Digits after the decimal point (0 to 4), e.g. 2.
    pub fraction_digits: i16,
}

impl Currency {
    /// A currency with no symbol and two fraction digits.
    pub fn new(iso_code: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            iso_code: iso_code.into(),
            name: name.into(),
            symbol: None,
            fraction_digits: 2,
        }
    }

    /// With `symbol`.
    #[must_use]
    pub fn symbol(mut self, symbol: impl Into<String>) -> Self {
        self.symbol = Some(symbol.into());
        self
    }

    /// With `digits` fraction digits.
    #[must_use]
    pub fn fraction_digits(mut self, digits: i16) -> Self {
        self.fraction_digits = digits;
        self
    }

    fn validate(&self) -> Result<(), ServiceError> {
        check_iso_code(&self.iso_code)?;
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(ServiceError::bad_request(format!(
                "currency `{}`: the name must have 1 to 100 characters",
                self.iso_code
            )));
        }
        if let Some(symbol) = &self.symbol
            && (symbol.trim().is_empty() || symbol.chars().count() > 8)
        {
            return Err(ServiceError::bad_request(format!(
                "currency `{}`: the symbol must have 1 to 8 characters (or be absent)",
                self.iso_code
            )));
        }
        if !(0..=4).contains(&self.fraction_digits) {
            return Err(ServiceError::bad_request(format!(
                "currency `{}`: fraction_digits must be 0 to 4, not {}",
                self.iso_code, self.fraction_digits
            )));
        }
        Ok(())
    }

    fn from_row(row: &PgRow) -> Result<Self, sqlx::Error> {
        Ok(Self {
            iso_code: row.try_get("iso_code")?,
            name: row.try_get("name")?,
            symbol: row.try_get("symbol")?,
            fraction_digits: row.try_get("fraction_digits")?,
        })
    }
}

/// The request of `get`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetCurrency {
    /// The ISO code.
    pub iso_code: String,
}

/// The request of `delete`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteCurrency {
    /// The ISO code.
    pub iso_code: String,
}

/// The reply of `save`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Saved {
    /// The ISO code.
    pub iso_code: String,
    /// Whether the currency is new (else it was updated).
    pub created: bool,
}

/// The reply of `delete`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deleted {
    /// The ISO code.
    pub iso_code: String,
}

/// A schema name that is not a plain lowercase SQL identifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidSchema(pub String);

impl std::fmt::Display for InvalidSchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "invalid schema name `{}`: use 1 to 63 characters a-z 0-9 _, starting with a letter \
             or _",
            self.0
        )
    }
}

impl std::error::Error for InvalidSchema {}

/// The service's shared state: the pool and the table (`{schema}.currencies`, or
/// `currencies` on the pool's `search_path`). Cheap to clone.
#[derive(Debug, Clone)]
pub struct Refdata {
    pool: PgPool,
    schema: Option<Arc<str>>,
    table: Arc<str>,
}

impl Refdata {
    /// The store on `pool`, its table in `schema` (created by
    /// [`ensure_schema`](Self::ensure_schema)); with `None`, the table is unqualified and
    /// lives in the first schema of the pool's `search_path` (as in a testkit pool).
    ///
    /// # Errors
    /// [`InvalidSchema`] when `schema` is not a plain lowercase identifier.
    pub fn new(pool: PgPool, schema: Option<&str>) -> Result<Self, InvalidSchema> {
        let schema = match schema {
            None => None,
            Some(s) => {
                let ok = (1..=63).contains(&s.len())
                    && s.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
                    && s.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
                if !ok {
                    return Err(InvalidSchema(s.to_string()));
                }
                Some(Arc::<str>::from(s))
            }
        };
        let table = match &schema {
            Some(s) => format!("{s}.currencies"),
            None => "currencies".to_string(),
        };
        Ok(Self {
            pool,
            schema,
            table: table.into(),
        })
    }

    /// The table's name as queries use it.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Creates the schema (when one was given) and the table, if they do not exist.
    ///
    /// # Errors
    /// The database's error.
    pub async fn ensure_schema(&self) -> Result<(), sqlx::Error> {
        if let Some(schema) = &self.schema {
            sqlx::query(AssertSqlSafe(format!(
                "CREATE SCHEMA IF NOT EXISTS {schema}"
            )))
            .execute(&self.pool)
            .await?;
        }
        sqlx::query(AssertSqlSafe(format!(
            "CREATE TABLE IF NOT EXISTS {} (
                 iso_code        text PRIMARY KEY CHECK (iso_code ~ '^[A-Z]{{3}}$'),
                 name            text NOT NULL,
                 symbol          text,
                 fraction_digits smallint NOT NULL DEFAULT 2
                                 CHECK (fraction_digits BETWEEN 0 AND 4),
                 updated_at      timestamptz NOT NULL DEFAULT now()
             )",
            self.table
        )))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The service definition: the four endpoints on this state. Add settings (limits,
    /// middleware, a discovery prefix) before `build()`.
    pub fn service(self) -> ServiceBuilder<Refdata> {
        Service::with_state(SERVICE_NAME, VERSION, self)
            .description("Reference data: currencies (ores-rs example, PostgreSQL)")
            .metadata("example", "refdata_demo")
            .handle(LIST, list)
            .handle(GET, get)
            .handle(SAVE, save)
            .handle(DELETE, delete)
    }
}

/// A database failure as the caller sees it: what failed and the correlation id to find the
/// log line, never the database's own text (which can hold names and values).
fn db_error(ctx: &RequestContext, operation: &str, err: &sqlx::Error) -> ServiceError {
    tracing::error!(
        correlation_id = ctx.correlation_id(),
        operation,
        error = %err,
        "currency store failed"
    );
    ServiceError::internal(format!(
        "the currency store failed to {operation} (correlation id {})",
        ctx.correlation_id()
    ))
}

fn check_iso_code(code: &str) -> Result<(), ServiceError> {
    if code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(())
    } else {
        Err(ServiceError::bad_request(format!(
            "invalid iso_code `{code}`: expected three uppercase letters, e.g. `EUR`"
        )))
    }
}

async fn list(
    State(db): State<Refdata>,
    ctx: RequestContext,
    _req: (),
) -> Result<Vec<Currency>, ServiceError> {
    let sql = format!(
        "SELECT iso_code, name, symbol, fraction_digits FROM {} ORDER BY iso_code",
        db.table
    );
    let rows = sqlx::query(AssertSqlSafe(sql))
        .fetch_all(&db.pool)
        .await
        .map_err(|e| db_error(&ctx, "list currencies", &e))?;
    rows.iter()
        .map(Currency::from_row)
        .collect::<Result<_, _>>()
        .map_err(|e| db_error(&ctx, "read currencies", &e))
}

async fn get(
    State(db): State<Refdata>,
    ctx: RequestContext,
    req: GetCurrency,
) -> Result<Currency, ServiceError> {
    check_iso_code(&req.iso_code)?;
    let sql = format!(
        "SELECT iso_code, name, symbol, fraction_digits FROM {} WHERE iso_code = $1",
        db.table
    );
    let row = sqlx::query(AssertSqlSafe(sql))
        .bind(&req.iso_code)
        .fetch_optional(&db.pool)
        .await
        .map_err(|e| db_error(&ctx, "get a currency", &e))?;
    match row {
        Some(row) => Currency::from_row(&row).map_err(|e| db_error(&ctx, "read a currency", &e)),
        None => Err(ServiceError::not_found(format!(
            "no currency `{}`",
            req.iso_code
        ))),
    }
}

async fn save(
    State(db): State<Refdata>,
    ctx: RequestContext,
    currency: Currency,
) -> Result<Saved, ServiceError> {
    currency.validate()?;
    // `xmax = 0` holds for a row this statement inserted, not for one it updated.
    let sql = format!(
        "INSERT INTO {} AS c (iso_code, name, symbol, fraction_digits)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (iso_code) DO UPDATE
            SET name = EXCLUDED.name, symbol = EXCLUDED.symbol,
                fraction_digits = EXCLUDED.fraction_digits, updated_at = now()
         RETURNING (c.xmax = 0) AS created",
        db.table
    );
    let created: bool = sqlx::query_scalar(AssertSqlSafe(sql))
        .bind(&currency.iso_code)
        .bind(currency.name.trim())
        .bind(currency.symbol.as_deref().map(str::trim))
        .bind(currency.fraction_digits)
        .fetch_one(&db.pool)
        .await
        .map_err(|e| db_error(&ctx, "save a currency", &e))?;
    Ok(Saved {
        iso_code: currency.iso_code,
        created,
    })
}

async fn delete(
    State(db): State<Refdata>,
    ctx: RequestContext,
    req: DeleteCurrency,
) -> Result<Deleted, ServiceError> {
    check_iso_code(&req.iso_code)?;
    let sql = format!("DELETE FROM {} WHERE iso_code = $1", db.table);
    let done = sqlx::query(AssertSqlSafe(sql))
        .bind(&req.iso_code)
        .execute(&db.pool)
        .await
        .map_err(|e| db_error(&ctx, "delete a currency", &e))?;
    if done.rows_affected() == 0 {
        return Err(ServiceError::not_found(format!(
            "no currency `{}`",
            req.iso_code
        )));
    }
    Ok(Deleted {
        iso_code: req.iso_code,
    })
}
