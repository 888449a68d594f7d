//! Migrations applied to every test schema: the project's, then the test's own.

use std::path::Path;

use crate::KitError;

/// One migration: a version, a description and its SQL (any number of statements).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    /// Its version; migrations run in ascending order.
    pub version: i64,
    /// What it does.
    pub description: String,
    /// The SQL, run with the test schema as the only schema on the `search_path`, so that
    /// unqualified names land in the test schema.
    pub sql: String,
}

/// An ordered set of migrations.
///
/// ```
/// use ores_testkit::Migrations;
///
/// let m = Migrations::new()
///     .add(1, "currencies", "CREATE TABLE currencies (iso_code text PRIMARY KEY, name text NOT NULL);")
///     .add(2, "seed", "INSERT INTO currencies VALUES ('EUR', 'Euro'), ('USD', 'US Dollar');");
/// assert_eq!(m.len(), 2);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Migrations {
    items: Vec<Migration>,
}

impl Migrations {
    /// No migrations.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add a migration.
    pub fn add(
        mut self,
        version: i64,
        description: impl Into<String>,
        sql: impl Into<String>,
    ) -> Self {
        self.items.push(Migration {
            version,
            description: description.into(),
            sql: sql.into(),
        });
        self.items.sort_by_key(|m| m.version);
        self
    }

    /// The migrations of a `sqlx::migrate::Migrator` (e.g. `sqlx::migrate!("./migrations")`),
    /// up-migrations only. All run inside the schema's one transaction, so a migration that
    /// cannot run in a transaction (sqlx's `-- no-transaction`, e.g. `CREATE INDEX
    /// CONCURRENTLY`) fails here.
    pub fn from_migrator(migrator: &sqlx::migrate::Migrator) -> Self {
        let mut out = Self::new();
        for m in migrator
            .iter()
            .filter(|m| m.migration_type.is_up_migration())
        {
            out = out.add(
                m.version,
                m.description.to_string(),
                m.sql.as_ref().to_string(),
            );
        }
        out
    }

    /// Read `<version>_<description>.sql` files from a directory (sqlx's layout; `.down.sql`
    /// files are skipped).
    ///
    /// # Errors
    /// [`KitError::MigrationSource`] when the directory cannot be read or a file name has no
    /// numeric version.
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<Self, KitError> {
        let dir = dir.as_ref();
        let err = |message: String| KitError::MigrationSource {
            path: dir.display().to_string(),
            message,
        };
        let entries = std::fs::read_dir(dir).map_err(|e| err(e.to_string()))?;
        let mut out = Self::new();
        for entry in entries {
            let path = entry.map_err(|e| err(e.to_string()))?.path();
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            if !name.ends_with(".sql") || name.ends_with(".down.sql") {
                continue;
            }
            let stem = name.trim_end_matches(".sql").trim_end_matches(".up");
            let (version, description) = stem.split_once('_').unwrap_or((stem, ""));
            let version: i64 = version.parse().map_err(|_| {
                err(format!(
                    "`{name}` does not start with a numeric version (`<version>_<description>.sql`)"
                ))
            })?;
            let sql = std::fs::read_to_string(&path).map_err(|e| err(format!("`{name}`: {e}")))?;
            out = out.add(version, description.replace('_', " "), sql);
        }
        Ok(out)
    }

    /// These migrations followed by `other`'s (each set in its own version order; the project's
    /// run before the test's whatever their versions).
    pub fn merge(mut self, other: &Migrations) -> Self {
        self.items.extend(other.items.iter().cloned());
        self
    }

    /// The migrations, in order.
    pub fn iter(&self) -> impl Iterator<Item = &Migration> {
        self.items.iter()
    }

    /// How many.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// The migrations of ores-rs itself, applied to every test schema before the test's own.
/// (The event bus adds its tables here.)
pub fn project_migrations() -> Migrations {
    Migrations::new()
}
