//! Creating and opening the file, checking that it is ours, migrating it; transactions and the
//! integrity check.

use std::path::{Path, PathBuf};

use rusqlite::{Connection as Db, ErrorCode};

use super::Store;
use super::error::{Result, StoreError};
use crate::connections::schema::{APPLICATION_ID, MIGRATIONS};

/// The default location of the store: `$XDG_DATA_HOME/ores/connections.db`, else
/// `~/.local/share/ores/connections.db`; `None` when neither variable gives an absolute path.
pub fn default_path() -> Option<PathBuf> {
    let data_home = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            std::env::var_os("HOME")
                .map(PathBuf::from)
                .filter(|p| p.is_absolute())
                .map(|home| home.join(".local").join("share"))
        })?;
    Some(data_home.join("ores").join("connections.db"))
}

fn is_code(e: &rusqlite::Error, code: ErrorCode) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == code)
}

/// Creates the file (and its directories) owner-only, or opens it if it exists.
fn create_file(path: &Path) -> Result<()> {
    let io = |source| StoreError::Io {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(dir).map_err(io)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.read(true).write(true).create(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path).map_err(io)?;
    Ok(())
}

impl Store {
    /// Opens the store at `path`, creating it (and its directories) if needed.
    ///
    /// A new file is created with owner-only permissions (0600 on Unix) before anything is
    /// written to it; an existing store's permissions are tightened to 0600. Every opening
    /// switches foreign keys on and uses WAL journaling, then applies pending migrations.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotADatabase`] for a file that is not SQLite, [`StoreError::Foreign`] for
    /// another application's database, [`StoreError::TooNew`] for a newer schema,
    /// [`StoreError::Io`] when the file cannot be created, [`StoreError::Corrupt`] when SQLite's
    /// quick check finds it damaged.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_owned();
        create_file(&path)?;
        let not_a_db = |e: rusqlite::Error| {
            if is_code(&e, ErrorCode::NotADatabase) {
                StoreError::NotADatabase { path: path.clone() }
            } else {
                StoreError::Sqlite(e)
            }
        };
        let db = Db::open(&path).map_err(not_a_db)?;
        let application_id: i32 = db
            .pragma_query_value(None, "application_id", |r| r.get(0))
            .map_err(not_a_db)?;
        if application_id != APPLICATION_ID {
            let objects: i64 = db
                .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
                .map_err(not_a_db)?;
            let version: i64 = db.pragma_query_value(None, "user_version", |r| r.get(0))?;
            if application_id != 0 || objects != 0 || version != 0 {
                return Err(StoreError::Foreign {
                    path,
                    application_id,
                });
            }
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).map_err(
                |source| StoreError::Io {
                    path: path.clone(),
                    source,
                },
            )?;
        }
        db.pragma_update(None, "foreign_keys", true)?;
        let _mode: String =
            db.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
        db.busy_timeout(std::time::Duration::from_secs(5))?;
        let mut store = Self { db, path };
        store.migrate().map_err(|e| store.corrupt_or(e))?;
        store.quick_check()?;
        Ok(store)
    }

    /// SQLite's quick check (page structure, not index contents), run at every opening so a
    /// damaged file is reported as such before any operation half-reads it.
    fn quick_check(&self) -> Result<()> {
        self.run_check("PRAGMA quick_check(5)")
    }

    /// Runs an integrity pragma: `ok`, or [`StoreError::Corrupt`] with its first lines.
    fn run_check(&self, pragma: &str) -> Result<()> {
        let lines = (|| {
            let mut stmt = self.db.prepare(pragma)?;
            stmt.query_map([], |r| r.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()
        })()
        .map_err(|e| self.corrupt_or(StoreError::Sqlite(e)))?;
        if lines.len() == 1 && lines[0] == "ok" {
            Ok(())
        } else {
            Err(StoreError::Corrupt {
                path: self.path.clone(),
                detail: lines.join("; "),
            })
        }
    }

    /// `e` as [`StoreError::Corrupt`] when SQLite said the file is malformed.
    pub(super) fn corrupt_or(&self, e: StoreError) -> StoreError {
        match e {
            StoreError::Sqlite(inner) if is_code(&inner, ErrorCode::DatabaseCorrupt) => {
                StoreError::Corrupt {
                    path: self.path.clone(),
                    detail: inner.to_string(),
                }
            }
            other => other,
        }
    }

    /// Opens the store at [`default_path`].
    ///
    /// # Errors
    ///
    /// As [`Store::open`]; [`StoreError::Io`] when there is no home directory.
    pub fn open_default() -> Result<Self> {
        let path = default_path().ok_or_else(|| StoreError::Io {
            path: PathBuf::from("~/.local/share/ores/connections.db"),
            source: std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "neither XDG_DATA_HOME nor HOME is set",
            ),
        })?;
        Self::open(path)
    }

    fn migrate(&mut self) -> Result<()> {
        let version: i64 = self
            .db
            .pragma_query_value(None, "user_version", |r| r.get(0))?;
        let known = MIGRATIONS.len();
        if version > known as i64 {
            return Err(StoreError::TooNew {
                path: self.path.clone(),
                found: version,
                supported: known,
            });
        }
        for (index, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let tx = self.db.transaction()?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "application_id", APPLICATION_ID)?;
            tx.pragma_update(None, "user_version", index as i64 + 1)?;
            tx.commit()?;
        }
        Ok(())
    }

    /// Runs `f` as one transaction: everything it writes is kept if it returns `Ok`, and
    /// undone if it returns an error or panics (the panic then continues). Calls nest
    /// (savepoints).
    ///
    /// ```no_run
    /// # use ores_actors::connections::store::{Store, StoreError};
    /// # fn demo(store: &mut Store) -> Result<(), StoreError> {
    /// store.transaction(|s| {
    ///     let prod = s.create_folder("prod", None, "")?;
    ///     s.create_folder("emea", Some(prod), "")?;
    ///     Ok::<_, StoreError>(())
    /// })?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// What `f` returns, or a SQLite error opening or closing the transaction.
    pub fn transaction<T, E: From<StoreError>>(
        &mut self,
        f: impl FnOnce(&mut Self) -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E> {
        let sqlite = |e: rusqlite::Error| E::from(StoreError::Sqlite(e));
        self.db
            .execute_batch("SAVEPOINT ores_store_tx")
            .map_err(sqlite)?;
        // A panic in `f` must not leave the savepoint open on this connection.
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(self)));
        let outcome = match outcome {
            Ok(outcome) => outcome,
            Err(panic) => {
                self.roll_back("ores_store_tx");
                std::panic::resume_unwind(panic);
            }
        };
        match outcome {
            Ok(value) => match self.db.execute_batch("RELEASE ores_store_tx") {
                Ok(()) => Ok(value),
                Err(e) => {
                    self.roll_back("ores_store_tx");
                    Err(sqlite(e))
                }
            },
            Err(e) => {
                // The error of `f` is the one to report.
                self.roll_back("ores_store_tx");
                Err(e)
            }
        }
    }

    /// Undoes and closes the savepoint `name`, best effort (the caller reports its own error).
    fn roll_back(&self, name: &str) {
        let _ = self
            .db
            .execute_batch(&format!("ROLLBACK TO {name}; RELEASE {name}"));
    }

    /// Runs SQLite's integrity check over the whole file.
    ///
    /// # Errors
    ///
    /// [`StoreError::Corrupt`] with what the check reported; a SQLite error (for a file too
    /// damaged to be read at all).
    pub fn check_integrity(&self) -> Result<()> {
        self.run_check("PRAGMA integrity_check(5)")
    }

    /// The file this store uses.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version (`PRAGMA user_version`).
    ///
    /// # Errors
    ///
    /// A SQLite error.
    pub fn schema_version(&self) -> Result<i64> {
        Ok(self
            .db
            .pragma_query_value(None, "user_version", |r| r.get(0))?)
    }

    /// Whether foreign keys are enforced on this store's connection (always, once open).
    ///
    /// # Errors
    ///
    /// A SQLite error.
    pub fn foreign_keys_enabled(&self) -> Result<bool> {
        Ok(self
            .db
            .pragma_query_value(None, "foreign_keys", |r| r.get(0))?)
    }
}
