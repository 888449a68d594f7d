//! The SQLite storage of the bookmark store: [`Store`] opens (or creates) the file, checks that
//! it is ours, migrates it, and offers synchronous operations on folders, tags, environments,
//! connections, recent parties and the vault row.
//!
//! Unlike ORE Studio, foreign keys are switched on for every connection the store opens, so the
//! cascades (a folder takes its subfolders, environments and connections with it; a tag its
//! links) do fire. Secrets are opaque: passwords are sealed blobs and the vault holds a wrapped
//! key, both produced by the crypto layer.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{Connection as Db, ErrorCode, OptionalExtension, Row, params};

use super::model::{
    Connection, ConnectionId, ConnectionSpec, DEFAULT_HTTP_PORT, Environment, EnvironmentId,
    EnvironmentSpec, Folder, FolderId, FolderNode, RECENT_PARTIES_CAP, RecentParty,
    ResolvedConnection, SearchResults, Tag, TagId, TreeLevel, Vault,
};
use super::schema::{APPLICATION_ID, MIGRATIONS};

/// What can go wrong with the bookmark store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The file (or its directory) could not be created or opened.
    #[error("cannot create or open `{path}`: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not a SQLite database at all.
    #[error("`{path}` is not a SQLite database")]
    NotADatabase {
        /// The path.
        path: PathBuf,
    },
    /// The file is a SQLite database, but not an ores bookmark store.
    #[error(
        "`{path}` is a SQLite database but not an ores bookmark store \
         (application_id {application_id:#010x})"
    )]
    Foreign {
        /// The path.
        path: PathBuf,
        /// The `application_id` found in it.
        application_id: i32,
    },
    /// The store was written by a newer version of ores.
    #[error("`{path}` has schema version {found}, newer than the {supported} this build knows")]
    TooNew {
        /// The path.
        path: PathBuf,
        /// The schema version found.
        found: i64,
        /// The newest schema version this build knows.
        supported: usize,
    },
    /// No record of that kind has that id.
    #[error("no {kind} with id {id}")]
    NotFound {
        /// `"folder"`, `"tag"`, `"environment"` or `"connection"`.
        kind: &'static str,
        /// The id looked for.
        id: i64,
    },
    /// No record of that kind has that name.
    #[error("no {kind} named `{name}`")]
    NoSuchName {
        /// `"folder"`, `"tag"`, `"environment"` or `"connection"`.
        kind: &'static str,
        /// The name looked for.
        name: String,
    },
    /// The name is already used (tags, environments and connections: anywhere; folders: among
    /// the siblings).
    #[error("{} {kind} named `{name}` already exists", article(kind))]
    NameTaken {
        /// `"folder"`, `"tag"`, `"environment"` or `"connection"`.
        kind: &'static str,
        /// The name.
        name: String,
    },
    /// A name was empty (or only white space).
    #[error("{} {kind} name must not be empty", article(kind))]
    EmptyName {
        /// `"folder"`, `"tag"`, `"environment"` or `"connection"`.
        kind: &'static str,
    },
    /// A folder was asked to move into itself.
    #[error("folder `{folder}` cannot move under itself")]
    FolderIntoItself {
        /// The folder's name.
        folder: String,
    },
    /// A folder was asked to move under one of its descendants.
    #[error("folder `{folder}` cannot move under its own descendant `{descendant}`")]
    FolderIntoDescendant {
        /// The folder's name.
        folder: String,
        /// The descendant's name.
        descendant: String,
    },
    /// A connection has no environment and lacks its own host or port.
    #[error("connection `{name}` has neither an environment nor its own host and port")]
    Unresolvable {
        /// The connection's name.
        name: String,
    },
    /// SQLite's integrity check found the file damaged.
    #[error("`{path}` is damaged: {detail}")]
    Corrupt {
        /// The path.
        path: PathBuf,
        /// What `PRAGMA integrity_check` reported (its first lines).
        detail: String,
    },
    /// Any other SQLite error.
    #[error("SQLite error: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

fn article(kind: &str) -> &'static str {
    if kind.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

/// The result type of the store.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

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

/// The bookmark store: one SQLite connection to one file.
#[derive(Debug)]
pub struct Store {
    db: Db,
    path: PathBuf,
}

fn is_code(e: &rusqlite::Error, code: ErrorCode) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == code)
}

fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _)
        if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
            || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY)
}

/// Maps a UNIQUE violation to [`StoreError::NameTaken`].
fn taken(kind: &'static str, name: &str) -> impl FnOnce(rusqlite::Error) -> StoreError {
    let name = name.to_owned();
    move |e| {
        if is_unique_violation(&e) {
            StoreError::NameTaken { kind, name }
        } else {
            StoreError::Sqlite(e)
        }
    }
}

fn checked_name<'a>(kind: &'static str, name: &'a str) -> Result<&'a str> {
    let name = name.trim();
    if name.is_empty() {
        Err(StoreError::EmptyName { kind })
    } else {
        Ok(name)
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
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

const FOLDER_COLUMNS: &str = "id, name, parent_id, description";
const ENVIRONMENT_COLUMNS: &str =
    "id, folder_id, name, host, port, http_port, subject_prefix, description";
const CONNECTION_COLUMNS: &str = "id, folder_id, environment_id, name, host, port, username, \
                                  password_sealed, description";

fn folder_from_row(row: &Row<'_>) -> rusqlite::Result<Folder> {
    Ok(Folder {
        id: FolderId(row.get(0)?),
        name: row.get(1)?,
        parent_id: row.get::<_, Option<i64>>(2)?.map(FolderId),
        description: row.get(3)?,
    })
}

fn environment_from_row(row: &Row<'_>) -> rusqlite::Result<Environment> {
    Ok(Environment {
        id: EnvironmentId(row.get(0)?),
        spec: EnvironmentSpec {
            folder_id: row.get::<_, Option<i64>>(1)?.map(FolderId),
            name: row.get(2)?,
            host: row.get(3)?,
            port: row.get(4)?,
            http_port: row.get(5)?,
            subject_prefix: row.get(6)?,
            description: row.get(7)?,
            tags: Vec::new(),
        },
    })
}

fn connection_from_row(row: &Row<'_>) -> rusqlite::Result<Connection> {
    Ok(Connection {
        id: ConnectionId(row.get(0)?),
        spec: ConnectionSpec {
            folder_id: row.get::<_, Option<i64>>(1)?.map(FolderId),
            environment_id: row.get::<_, Option<i64>>(2)?.map(EnvironmentId),
            name: row.get(3)?,
            host: row.get(4)?,
            port: row.get(5)?,
            username: row.get(6)?,
            password_sealed: row.get(7)?,
            description: row.get(8)?,
            tags: Vec::new(),
        },
    })
}

/// Tag names by owner id, from `environment_tags` or `connection_tags`, sorted.
fn tag_map(db: &Db, link_table: &str, owner_column: &str) -> Result<HashMap<i64, Vec<String>>> {
    let mut stmt = db.prepare(&format!(
        "SELECT l.{owner_column}, t.name FROM {link_table} l JOIN tags t ON t.id = l.tag_id \
         ORDER BY t.name"
    ))?;
    let mut map: HashMap<i64, Vec<String>> = HashMap::new();
    let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?;
    for row in rows {
        let (owner, tag) = row?;
        map.entry(owner).or_default().push(tag);
    }
    Ok(map)
}

/// Replaces the tags of one owner, creating tags on demand.
fn set_tags(
    db: &Db,
    link_table: &str,
    owner_column: &str,
    owner: i64,
    tags: &[String],
) -> Result<()> {
    db.execute(
        &format!("DELETE FROM {link_table} WHERE {owner_column} = ?1"),
        [owner],
    )?;
    for tag in tags {
        let tag = checked_name("tag", tag)?;
        db.execute("INSERT OR IGNORE INTO tags (name) VALUES (?1)", [tag])?;
        db.execute(
            &format!(
                "INSERT OR IGNORE INTO {link_table} ({owner_column}, tag_id) \
                 SELECT ?1, id FROM tags WHERE name = ?2"
            ),
            params![owner, tag],
        )?;
    }
    Ok(())
}

fn folder_exists(db: &Db, id: FolderId) -> Result<()> {
    let found: Option<i64> = db
        .query_row("SELECT 1 FROM folders WHERE id = ?1", [id.0], |r| r.get(0))
        .optional()?;
    found.map(|_| ()).ok_or(StoreError::NotFound {
        kind: "folder",
        id: id.0,
    })
}

fn environment_exists(db: &Db, id: EnvironmentId) -> Result<()> {
    let found: Option<i64> = db
        .query_row("SELECT 1 FROM environments WHERE id = ?1", [id.0], |r| {
            r.get(0)
        })
        .optional()?;
    found.map(|_| ()).ok_or(StoreError::NotFound {
        kind: "environment",
        id: id.0,
    })
}

fn check_changed(kind: &'static str, id: i64, changed: usize) -> Result<()> {
    if changed == 0 {
        Err(StoreError::NotFound { kind, id })
    } else {
        Ok(())
    }
}

fn contains_ci(haystack: &str, needle: &str) -> bool {
    haystack.to_lowercase().contains(needle)
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
    /// [`StoreError::Io`] when the file cannot be created.
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
        store.migrate()?;
        Ok(store)
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
    /// undone if it returns an error. Calls nest (savepoints).
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
        match f(self) {
            Ok(value) => {
                self.db
                    .execute_batch("RELEASE ores_store_tx")
                    .map_err(sqlite)?;
                Ok(value)
            }
            Err(e) => {
                // Best effort: the error of `f` is the one to report.
                let _ = self
                    .db
                    .execute_batch("ROLLBACK TO ores_store_tx; RELEASE ores_store_tx");
                Err(e)
            }
        }
    }

    /// Runs SQLite's integrity check over the whole file.
    ///
    /// # Errors
    ///
    /// [`StoreError::Corrupt`] with what the check reported; a SQLite error (for a file too
    /// damaged to be read at all).
    pub fn check_integrity(&self) -> Result<()> {
        let mut stmt = self.db.prepare("PRAGMA integrity_check(5)")?;
        let lines = stmt
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        if lines.len() == 1 && lines[0] == "ok" {
            Ok(())
        } else {
            Err(StoreError::Corrupt {
                path: self.path.clone(),
                detail: lines.join("; "),
            })
        }
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

    // ---------------------------------------------------------------- folders

    /// Creates a folder under `parent` (or at the top level).
    ///
    /// # Errors
    ///
    /// [`StoreError::NameTaken`] if a sibling has that name, [`StoreError::NotFound`] for a
    /// missing parent, [`StoreError::EmptyName`].
    pub fn create_folder(
        &mut self,
        name: &str,
        parent: Option<FolderId>,
        description: &str,
    ) -> Result<FolderId> {
        let name = checked_name("folder", name)?;
        let tx = self.db.savepoint()?;
        if let Some(parent) = parent {
            folder_exists(&tx, parent)?;
        }
        tx.execute(
            "INSERT INTO folders (name, parent_id, description) VALUES (?1, ?2, ?3)",
            params![name, parent.map(|p| p.0), description],
        )
        .map_err(taken("folder", name))?;
        let id = FolderId(tx.last_insert_rowid());
        tx.commit()?;
        Ok(id)
    }

    /// The folder with that id.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`].
    pub fn folder(&self, id: FolderId) -> Result<Folder> {
        self.db
            .query_row(
                &format!("SELECT {FOLDER_COLUMNS} FROM folders WHERE id = ?1"),
                [id.0],
                folder_from_row,
            )
            .optional()?
            .ok_or(StoreError::NotFound {
                kind: "folder",
                id: id.0,
            })
    }

    /// All folders, by name.
    ///
    /// # Errors
    ///
    /// A SQLite error.
    pub fn folders(&self) -> Result<Vec<Folder>> {
        let mut stmt = self.db.prepare(&format!(
            "SELECT {FOLDER_COLUMNS} FROM folders ORDER BY name, id"
        ))?;
        let rows = stmt.query_map([], folder_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Renames a folder and replaces its description.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`], [`StoreError::NameTaken`], [`StoreError::EmptyName`].
    pub fn update_folder(&mut self, id: FolderId, name: &str, description: &str) -> Result<()> {
        let name = checked_name("folder", name)?;
        let changed = self
            .db
            .execute(
                "UPDATE folders SET name = ?2, description = ?3 WHERE id = ?1",
                params![id.0, name, description],
            )
            .map_err(taken("folder", name))?;
        check_changed("folder", id.0, changed)
    }

    /// Moves a folder (with everything in it) under `new_parent`, or to the top level.
    ///
    /// # Errors
    ///
    /// [`StoreError::FolderIntoItself`], [`StoreError::FolderIntoDescendant`],
    /// [`StoreError::NotFound`], [`StoreError::NameTaken`] if the new parent already has a
    /// folder of that name.
    pub fn move_folder(&mut self, id: FolderId, new_parent: Option<FolderId>) -> Result<()> {
        let folder = self.folder(id)?;
        let tx = self.db.savepoint()?;
        if let Some(target) = new_parent {
            folder_exists(&tx, target)?;
            if target == id {
                return Err(StoreError::FolderIntoItself {
                    folder: folder.name,
                });
            }
            let descendant: Option<String> = tx
                .query_row(
                    "WITH RECURSIVE sub(id) AS ( \
                         SELECT id FROM folders WHERE parent_id = ?1 \
                         UNION SELECT f.id FROM folders f JOIN sub ON f.parent_id = sub.id) \
                     SELECT name FROM folders WHERE id = ?2 AND id IN (SELECT id FROM sub)",
                    params![id.0, target.0],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(descendant) = descendant {
                return Err(StoreError::FolderIntoDescendant {
                    folder: folder.name,
                    descendant,
                });
            }
        }
        tx.execute(
            "UPDATE folders SET parent_id = ?2 WHERE id = ?1",
            params![id.0, new_parent.map(|p| p.0)],
        )
        .map_err(taken("folder", &folder.name))?;
        tx.commit()?;
        Ok(())
    }

    /// Deletes a folder with its subfolders and every environment and connection in them.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`].
    pub fn delete_folder(&mut self, id: FolderId) -> Result<()> {
        let changed = self
            .db
            .execute("DELETE FROM folders WHERE id = ?1", [id.0])?;
        check_changed("folder", id.0, changed)
    }

    // ------------------------------------------------------------------- tags

    /// Creates a tag.
    ///
    /// # Errors
    ///
    /// [`StoreError::NameTaken`], [`StoreError::EmptyName`].
    pub fn create_tag(&mut self, name: &str) -> Result<TagId> {
        let name = checked_name("tag", name)?;
        self.db
            .execute("INSERT INTO tags (name) VALUES (?1)", [name])
            .map_err(taken("tag", name))?;
        Ok(TagId(self.db.last_insert_rowid()))
    }

    /// All tags, by name.
    ///
    /// # Errors
    ///
    /// A SQLite error.
    pub fn tags(&self) -> Result<Vec<Tag>> {
        let mut stmt = self.db.prepare("SELECT id, name FROM tags ORDER BY name")?;
        let rows = stmt.query_map([], |r| {
            Ok(Tag {
                id: TagId(r.get(0)?),
                name: r.get(1)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The tag with that name.
    ///
    /// # Errors
    ///
    /// [`StoreError::NoSuchName`].
    pub fn tag_by_name(&self, name: &str) -> Result<Tag> {
        self.db
            .query_row(
                "SELECT id, name FROM tags WHERE name = ?1",
                [name.trim()],
                |r| {
                    Ok(Tag {
                        id: TagId(r.get(0)?),
                        name: r.get(1)?,
                    })
                },
            )
            .optional()?
            .ok_or_else(|| StoreError::NoSuchName {
                kind: "tag",
                name: name.to_owned(),
            })
    }

    /// Renames a tag (its links stay).
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`], [`StoreError::NameTaken`], [`StoreError::EmptyName`].
    pub fn rename_tag(&mut self, id: TagId, name: &str) -> Result<()> {
        let name = checked_name("tag", name)?;
        let changed = self
            .db
            .execute(
                "UPDATE tags SET name = ?2 WHERE id = ?1",
                params![id.0, name],
            )
            .map_err(taken("tag", name))?;
        check_changed("tag", id.0, changed)
    }

    /// Deletes a tag and its links to environments and connections.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`].
    pub fn delete_tag(&mut self, id: TagId) -> Result<()> {
        let changed = self.db.execute("DELETE FROM tags WHERE id = ?1", [id.0])?;
        check_changed("tag", id.0, changed)
    }

    // ----------------------------------------------------------- environments

    fn write_environment(
        db: &Db,
        id: Option<EnvironmentId>,
        spec: &EnvironmentSpec,
    ) -> Result<i64> {
        let name = checked_name("environment", &spec.name)?;
        if let Some(folder) = spec.folder_id {
            folder_exists(db, folder)?;
        }
        let values = params![
            name,
            spec.folder_id.map(|f| f.0),
            spec.host,
            spec.port,
            spec.http_port,
            spec.subject_prefix,
            spec.description,
            id.map(|i| i.0),
        ];
        let id = match id {
            None => {
                db.execute(
                    "INSERT INTO environments \
                     (name, folder_id, host, port, http_port, subject_prefix, description) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    &values[..7],
                )
                .map_err(taken("environment", name))?;
                db.last_insert_rowid()
            }
            Some(id) => {
                let changed = db
                    .execute(
                        "UPDATE environments SET name = ?1, folder_id = ?2, host = ?3, \
                         port = ?4, http_port = ?5, subject_prefix = ?6, description = ?7 \
                         WHERE id = ?8",
                        values,
                    )
                    .map_err(taken("environment", name))?;
                check_changed("environment", id.0, changed)?;
                id.0
            }
        };
        set_tags(db, "environment_tags", "environment_id", id, &spec.tags)?;
        Ok(id)
    }

    /// Creates an environment with its tags.
    ///
    /// # Errors
    ///
    /// [`StoreError::NameTaken`], [`StoreError::NotFound`] for a missing folder,
    /// [`StoreError::EmptyName`].
    pub fn create_environment(&mut self, spec: &EnvironmentSpec) -> Result<EnvironmentId> {
        let tx = self.db.savepoint()?;
        let id = Self::write_environment(&tx, None, spec)?;
        tx.commit()?;
        Ok(EnvironmentId(id))
    }

    /// Replaces every field (and the tags) of an environment.
    ///
    /// # Errors
    ///
    /// As [`Store::create_environment`], and [`StoreError::NotFound`] for a missing id.
    pub fn update_environment(&mut self, id: EnvironmentId, spec: &EnvironmentSpec) -> Result<()> {
        let tx = self.db.savepoint()?;
        Self::write_environment(&tx, Some(id), spec)?;
        tx.commit()?;
        Ok(())
    }

    fn query_environments(
        &self,
        filter: &str,
        value: &dyn rusqlite::ToSql,
    ) -> Result<Vec<Environment>> {
        let mut stmt = self.db.prepare(&format!(
            "SELECT {ENVIRONMENT_COLUMNS} FROM environments {filter} ORDER BY name"
        ))?;
        let mut envs = if filter.is_empty() {
            stmt.query_map([], environment_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?
        } else {
            stmt.query_map([value], environment_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?
        };
        let mut tags = tag_map(&self.db, "environment_tags", "environment_id")?;
        for env in &mut envs {
            env.spec.tags = tags.remove(&env.id.0).unwrap_or_default();
        }
        Ok(envs)
    }

    /// The environment with that id.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`].
    pub fn environment(&self, id: EnvironmentId) -> Result<Environment> {
        self.query_environments("WHERE id = ?1", &id.0)?
            .pop()
            .ok_or(StoreError::NotFound {
                kind: "environment",
                id: id.0,
            })
    }

    /// The environment with that name.
    ///
    /// # Errors
    ///
    /// [`StoreError::NoSuchName`].
    pub fn environment_by_name(&self, name: &str) -> Result<Environment> {
        self.query_environments("WHERE name = ?1", &name.trim())?
            .pop()
            .ok_or_else(|| StoreError::NoSuchName {
                kind: "environment",
                name: name.to_owned(),
            })
    }

    /// All environments, by name.
    ///
    /// # Errors
    ///
    /// A SQLite error.
    pub fn environments(&self) -> Result<Vec<Environment>> {
        self.query_environments("", &0)
    }

    /// Moves an environment into a folder (or to the top level).
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`] for a missing environment or folder.
    pub fn move_environment(&mut self, id: EnvironmentId, folder: Option<FolderId>) -> Result<()> {
        let tx = self.db.savepoint()?;
        if let Some(folder) = folder {
            folder_exists(&tx, folder)?;
        }
        let changed = tx.execute(
            "UPDATE environments SET folder_id = ?2 WHERE id = ?1",
            params![id.0, folder.map(|f| f.0)],
        )?;
        check_changed("environment", id.0, changed)?;
        tx.commit()?;
        Ok(())
    }

    /// Deletes an environment; connections linked to it lose the link (and keep their own
    /// host and port, if any).
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`].
    pub fn delete_environment(&mut self, id: EnvironmentId) -> Result<()> {
        let changed = self
            .db
            .execute("DELETE FROM environments WHERE id = ?1", [id.0])?;
        check_changed("environment", id.0, changed)
    }

    // ------------------------------------------------------------ connections

    fn write_connection(db: &Db, id: Option<ConnectionId>, spec: &ConnectionSpec) -> Result<i64> {
        let name = checked_name("connection", &spec.name)?;
        if let Some(folder) = spec.folder_id {
            folder_exists(db, folder)?;
        }
        if let Some(env) = spec.environment_id {
            environment_exists(db, env)?;
        }
        let values = params![
            name,
            spec.folder_id.map(|f| f.0),
            spec.environment_id.map(|e| e.0),
            spec.host,
            spec.port,
            spec.username,
            spec.password_sealed,
            spec.description,
            id.map(|i| i.0),
        ];
        let id = match id {
            None => {
                db.execute(
                    "INSERT INTO connections (name, folder_id, environment_id, host, port, \
                     username, password_sealed, description) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    &values[..8],
                )
                .map_err(taken("connection", name))?;
                db.last_insert_rowid()
            }
            Some(id) => {
                let changed = db
                    .execute(
                        "UPDATE connections SET name = ?1, folder_id = ?2, environment_id = ?3, \
                         host = ?4, port = ?5, username = ?6, password_sealed = ?7, \
                         description = ?8 WHERE id = ?9",
                        values,
                    )
                    .map_err(taken("connection", name))?;
                check_changed("connection", id.0, changed)?;
                id.0
            }
        };
        set_tags(db, "connection_tags", "connection_id", id, &spec.tags)?;
        Ok(id)
    }

    /// Creates a connection with its tags.
    ///
    /// # Errors
    ///
    /// [`StoreError::NameTaken`], [`StoreError::NotFound`] for a missing folder or
    /// environment, [`StoreError::EmptyName`].
    pub fn create_connection(&mut self, spec: &ConnectionSpec) -> Result<ConnectionId> {
        let tx = self.db.savepoint()?;
        let id = Self::write_connection(&tx, None, spec)?;
        tx.commit()?;
        Ok(ConnectionId(id))
    }

    /// Replaces every field (the sealed password and the tags included) of a connection.
    ///
    /// # Errors
    ///
    /// As [`Store::create_connection`], and [`StoreError::NotFound`] for a missing id.
    pub fn update_connection(&mut self, id: ConnectionId, spec: &ConnectionSpec) -> Result<()> {
        let tx = self.db.savepoint()?;
        Self::write_connection(&tx, Some(id), spec)?;
        tx.commit()?;
        Ok(())
    }

    /// Replaces only the sealed password of a connection (`None` forgets it).
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`].
    pub fn set_connection_password(
        &mut self,
        id: ConnectionId,
        password_sealed: Option<&[u8]>,
    ) -> Result<()> {
        let changed = self.db.execute(
            "UPDATE connections SET password_sealed = ?2 WHERE id = ?1",
            params![id.0, password_sealed],
        )?;
        check_changed("connection", id.0, changed)
    }

    fn query_connections(
        &self,
        filter: &str,
        value: &dyn rusqlite::ToSql,
    ) -> Result<Vec<Connection>> {
        let mut stmt = self.db.prepare(&format!(
            "SELECT {CONNECTION_COLUMNS} FROM connections {filter} ORDER BY name"
        ))?;
        let mut conns = if filter.is_empty() {
            stmt.query_map([], connection_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?
        } else {
            stmt.query_map([value], connection_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?
        };
        let mut tags = tag_map(&self.db, "connection_tags", "connection_id")?;
        for conn in &mut conns {
            conn.spec.tags = tags.remove(&conn.id.0).unwrap_or_default();
        }
        Ok(conns)
    }

    /// The connection with that id.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`].
    pub fn connection(&self, id: ConnectionId) -> Result<Connection> {
        self.query_connections("WHERE id = ?1", &id.0)?
            .pop()
            .ok_or(StoreError::NotFound {
                kind: "connection",
                id: id.0,
            })
    }

    /// The connection with that name.
    ///
    /// # Errors
    ///
    /// [`StoreError::NoSuchName`].
    pub fn connection_by_name(&self, name: &str) -> Result<Connection> {
        self.query_connections("WHERE name = ?1", &name.trim())?
            .pop()
            .ok_or_else(|| StoreError::NoSuchName {
                kind: "connection",
                name: name.to_owned(),
            })
    }

    /// All connections, by name.
    ///
    /// # Errors
    ///
    /// A SQLite error.
    pub fn connections(&self) -> Result<Vec<Connection>> {
        self.query_connections("", &0)
    }

    /// Moves a connection into a folder (or to the top level).
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`] for a missing connection or folder.
    pub fn move_connection(&mut self, id: ConnectionId, folder: Option<FolderId>) -> Result<()> {
        let tx = self.db.savepoint()?;
        if let Some(folder) = folder {
            folder_exists(&tx, folder)?;
        }
        let changed = tx.execute(
            "UPDATE connections SET folder_id = ?2 WHERE id = ?1",
            params![id.0, folder.map(|f| f.0)],
        )?;
        check_changed("connection", id.0, changed)?;
        tx.commit()?;
        Ok(())
    }

    /// Copies a connection (sealed password and tags included) into the same folder, named
    /// `"<name> (copy)"`, or `"<name> (copy 2)"`, `"<name> (copy 3)"`… if that is taken.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`].
    pub fn duplicate_connection(&mut self, id: ConnectionId) -> Result<ConnectionId> {
        let original = self.connection(id)?;
        let tx = self.db.savepoint()?;
        let mut spec = original.spec;
        let base = spec.name.clone();
        let mut n = 1u32;
        loop {
            spec.name = if n == 1 {
                format!("{base} (copy)")
            } else {
                format!("{base} (copy {n})")
            };
            let exists: Option<i64> = tx
                .query_row(
                    "SELECT 1 FROM connections WHERE name = ?1",
                    [&spec.name],
                    |r| r.get(0),
                )
                .optional()?;
            if exists.is_none() {
                break;
            }
            n += 1;
        }
        let new = Self::write_connection(&tx, None, &spec)?;
        tx.commit()?;
        Ok(ConnectionId(new))
    }

    /// Deletes a connection and its tag links.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`].
    pub fn delete_connection(&mut self, id: ConnectionId) -> Result<()> {
        let changed = self
            .db
            .execute("DELETE FROM connections WHERE id = ?1", [id.0])?;
        check_changed("connection", id.0, changed)
    }

    fn resolve_connection(&self, conn: Connection) -> Result<ResolvedConnection> {
        let spec = conn.spec;
        let (host, port, http_port, subject_prefix) = match spec.environment_id {
            Some(env) => {
                let env = self.environment(env)?.spec;
                (env.host, env.port, env.http_port, env.subject_prefix)
            }
            None => match (spec.host, spec.port) {
                (Some(host), Some(port)) if !host.trim().is_empty() => {
                    (host, port, DEFAULT_HTTP_PORT, String::new())
                }
                _ => return Err(StoreError::Unresolvable { name: spec.name }),
            },
        };
        Ok(ResolvedConnection {
            name: spec.name,
            host,
            port,
            http_port,
            subject_prefix,
            username: spec.username,
            password_sealed: spec.password_sealed,
        })
    }

    /// Where and as whom the connection logs in: its environment's host, ports and subject
    /// prefix when linked, else its own host and port; its user name and sealed password.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`], [`StoreError::Unresolvable`].
    pub fn resolve(&self, id: ConnectionId) -> Result<ResolvedConnection> {
        self.resolve_connection(self.connection(id)?)
    }

    /// [`Store::resolve`] by name.
    ///
    /// # Errors
    ///
    /// [`StoreError::NoSuchName`], [`StoreError::Unresolvable`].
    pub fn resolve_by_name(&self, name: &str) -> Result<ResolvedConnection> {
        self.resolve_connection(self.connection_by_name(name)?)
    }

    // ------------------------------------------------------- search and tree

    /// The environments and connections whose name, host or one of whose tags contains
    /// `query`, ignoring case. A connection linked to an environment matches on the
    /// environment's host too. An empty query matches everything.
    ///
    /// # Errors
    ///
    /// A SQLite error.
    pub fn search(&self, query: &str) -> Result<SearchResults> {
        let needle = query.trim().to_lowercase();
        let environments = self.environments()?;
        let env_hosts: HashMap<EnvironmentId, String> = environments
            .iter()
            .map(|e| (e.id, e.spec.host.clone()))
            .collect();
        let matches = |name: &str, hosts: &[&str], tags: &[String]| {
            contains_ci(name, &needle)
                || hosts.iter().any(|h| contains_ci(h, &needle))
                || tags.iter().any(|t| contains_ci(t, &needle))
        };
        let connections = self
            .connections()?
            .into_iter()
            .filter(|c| {
                let mut hosts: Vec<&str> = Vec::new();
                if let Some(h) = &c.spec.host {
                    hosts.push(h);
                }
                if let Some(h) = c.spec.environment_id.and_then(|e| env_hosts.get(&e)) {
                    hosts.push(h);
                }
                matches(&c.spec.name, &hosts, &c.spec.tags)
            })
            .collect();
        let environments = environments
            .into_iter()
            .filter(|e| matches(&e.spec.name, &[&e.spec.host], &e.spec.tags))
            .collect();
        Ok(SearchResults {
            environments,
            connections,
        })
    }

    /// Everything in the store as a tree: the top level's folders (each with its contents,
    /// recursively), environments and connections, each sorted by name.
    ///
    /// # Errors
    ///
    /// A SQLite error.
    pub fn tree(&self) -> Result<TreeLevel> {
        let mut folders: BTreeMap<Option<FolderId>, Vec<Folder>> = BTreeMap::new();
        for folder in self.folders()? {
            folders.entry(folder.parent_id).or_default().push(folder);
        }
        let mut environments: HashMap<Option<FolderId>, Vec<Environment>> = HashMap::new();
        for env in self.environments()? {
            environments
                .entry(env.spec.folder_id)
                .or_default()
                .push(env);
        }
        let mut connections: HashMap<Option<FolderId>, Vec<Connection>> = HashMap::new();
        for conn in self.connections()? {
            connections
                .entry(conn.spec.folder_id)
                .or_default()
                .push(conn);
        }

        fn level(
            at: Option<FolderId>,
            folders: &mut BTreeMap<Option<FolderId>, Vec<Folder>>,
            environments: &mut HashMap<Option<FolderId>, Vec<Environment>>,
            connections: &mut HashMap<Option<FolderId>, Vec<Connection>>,
        ) -> TreeLevel {
            let children = folders.remove(&at).unwrap_or_default();
            TreeLevel {
                folders: children
                    .into_iter()
                    .map(|folder| {
                        let contents = level(Some(folder.id), folders, environments, connections);
                        FolderNode { folder, contents }
                    })
                    .collect(),
                environments: environments.remove(&at).unwrap_or_default(),
                connections: connections.remove(&at).unwrap_or_default(),
            }
        }
        Ok(level(
            None,
            &mut folders,
            &mut environments,
            &mut connections,
        ))
    }

    // --------------------------------------------------------- recent parties

    /// Records that a party was selected: it becomes the newest, and only the
    /// [`RECENT_PARTIES_CAP`] newest are kept.
    ///
    /// # Errors
    ///
    /// A SQLite error.
    pub fn add_recent_party(&mut self, party_id: &str, party_name: &str) -> Result<()> {
        let tx = self.db.savepoint()?;
        tx.execute(
            "INSERT INTO recent_parties (party_id, party_name, last_selected_at, seq) \
             VALUES (?1, ?2, ?3, (SELECT COALESCE(MAX(seq), 0) + 1 FROM recent_parties)) \
             ON CONFLICT (party_id) DO UPDATE SET party_name = excluded.party_name, \
             last_selected_at = excluded.last_selected_at, seq = excluded.seq",
            params![party_id, party_name, now_ms()],
        )?;
        tx.execute(
            "DELETE FROM recent_parties WHERE party_id NOT IN \
             (SELECT party_id FROM recent_parties ORDER BY seq DESC LIMIT ?1)",
            [RECENT_PARTIES_CAP as i64],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// The recently selected parties, newest first (at most [`RECENT_PARTIES_CAP`]).
    ///
    /// # Errors
    ///
    /// A SQLite error.
    pub fn recent_parties(&self) -> Result<Vec<RecentParty>> {
        let mut stmt = self.db.prepare(
            "SELECT party_id, party_name, last_selected_at FROM recent_parties \
             ORDER BY seq DESC",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(RecentParty {
                party_id: r.get(0)?,
                party_name: r.get(1)?,
                last_selected_at_ms: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Forgets every recent party.
    ///
    /// # Errors
    ///
    /// A SQLite error.
    pub fn clear_recent_parties(&mut self) -> Result<()> {
        self.db.execute("DELETE FROM recent_parties", [])?;
        Ok(())
    }

    // ------------------------------------------------------------------ vault

    /// The vault row, if the store has one yet.
    ///
    /// # Errors
    ///
    /// A SQLite error.
    pub fn get_vault(&self) -> Result<Option<Vault>> {
        Ok(self
            .db
            .query_row("SELECT wrapped, params FROM vault WHERE id = 1", [], |r| {
                Ok(Vault {
                    wrapped: r.get(0)?,
                    params: r.get(1)?,
                })
            })
            .optional()?)
    }

    /// Writes (or replaces) the vault row, in one transaction.
    ///
    /// # Errors
    ///
    /// A SQLite error.
    pub fn set_vault(&mut self, vault: &Vault) -> Result<()> {
        let tx = self.db.savepoint()?;
        tx.execute(
            "INSERT INTO vault (id, wrapped, params) VALUES (1, ?1, ?2) \
             ON CONFLICT (id) DO UPDATE SET wrapped = excluded.wrapped, params = excluded.params",
            params![vault.wrapped, vault.params],
        )?;
        tx.commit()?;
        Ok(())
    }
}
