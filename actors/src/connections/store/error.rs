//! [`StoreError`], the store's [`Result`], and the mapping of SQLite errors and bad input to it.

use std::path::PathBuf;

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

pub(super) fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _)
        if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
            || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY)
}

/// Maps a UNIQUE violation to [`StoreError::NameTaken`].
pub(super) fn taken(kind: &'static str, name: &str) -> impl FnOnce(rusqlite::Error) -> StoreError {
    let name = name.to_owned();
    move |e| {
        if is_unique_violation(&e) {
            StoreError::NameTaken { kind, name }
        } else {
            StoreError::Sqlite(e)
        }
    }
}

pub(super) fn checked_name<'a>(kind: &'static str, name: &'a str) -> Result<&'a str> {
    let name = name.trim();
    if name.is_empty() {
        Err(StoreError::EmptyName { kind })
    } else {
        Ok(name)
    }
}

pub(super) fn check_changed(kind: &'static str, id: i64, changed: usize) -> Result<()> {
    if changed == 0 {
        Err(StoreError::NotFound { kind, id })
    } else {
        Ok(())
    }
}
