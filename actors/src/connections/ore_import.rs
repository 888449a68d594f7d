//! Reading an ORE Studio `connections.db` into a [`Document`], given its master password.
//!
//! ORE Studio (the C++ application whose `ores.connections` model the bookmark store follows)
//! keeps its bookmarks in a SQLite file of six tables: `folders`, `tags`, `environments`,
//! `connections`, `environment_tags` and `connection_tags`, keyed by UUID strings. Each saved
//! password is encrypted on its own:
//!
//! - a random 16-byte salt; key = PBKDF2-HMAC-SHA256(master password as UTF-8, salt,
//!   600,000 iterations, 32 bytes);
//! - AES-256-GCM under that key with a random 12-byte IV, no associated data, a 16-byte tag;
//! - stored as standard base64 (with padding) of `salt ‖ iv ‖ tag ‖ ciphertext`; an empty
//!   string (or `NULL`) means no password.
//!
//! The primitives come from the RustCrypto crates (`pbkdf2` with its `sha2` feature,
//! `aes-gcm`) and `base64`. Every password costs one PBKDF2 run (about a quarter of a second).
//! The derived key, the HMAC states, the AES key schedule and the decrypted bytes are
//! zeroized when dropped; each password ends up in a [`Secret`].
//!
//! [`read_ore_file`] opens the file read-only (it is never created nor written), checks that it
//! has ORE's tables and columns, and maps ORE's ids to names and folder paths. How it treats
//! what ORE does not forbid:
//!
//! - **The master password.** ORE has no key check: it tries the first stored password. So
//!   does this: if the first password fails to authenticate and the next one does too (or there
//!   is no other), the master password is wrong ([`OreImportError::WrongPassword`]); if any
//!   other password opens, the one that failed is corrupt
//!   ([`OreImportError::CorruptPassword`], naming the connection).
//! - **Duplicate names.** ORE does not keep environment and connection names unique, nor folder
//!   names among siblings; the bookmark store does. The first record of a name (in the file's
//!   row order, normally creation order) keeps it; the next ones become `name (2)`,
//!   `name (3)`, … skipping any name already taken. Names are trimmed, and an empty name
//!   becomes `(unnamed)` (then made unique the same way). Tag names are trimmed; empty ones
//!   are dropped.
//! - **Broken links.** ORE switches foreign keys on only while creating its schema (its
//!   repositories open connections without them), so a file can hold links to records that
//!   are gone. A folder whose parent is missing goes to the top level;
//!   so does, for a parent cycle, the cycle's first folder in row order (the others keep their
//!   places under it). An environment or connection in a missing folder goes to the top level
//!   (ORE's `ON DELETE SET NULL`), a connection linked to a missing environment loses the link,
//!   and tag links to missing tags or records are ignored.
//! - **Older files.** A missing `description` column reads as empty, a missing
//!   `environments.subject_prefix` as empty, a missing `environments.http_port` as
//!   [`DEFAULT_HTTP_PORT`].
//!
//! A connection's empty host reads as no host. ORE's recently selected parties are not
//! imported (a [`Document`] does not carry them).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

use aes_gcm::aead::{Nonce, Tag};
use aes_gcm::{AeadInOut, Aes256Gcm, KeyInit};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use pbkdf2::sha2::Sha256;
use pbkdf2::{Algorithm, Params};
use rusqlite::{Connection as Db, ErrorCode, OpenFlags};
use zeroize::Zeroizing;

use super::document::{DocConnection, DocEnvironment, DocFolder, Document, FolderPath};
use super::model::DEFAULT_HTTP_PORT;
use super::vault::Secret;

/// PBKDF2 iterations of ORE's format.
pub const PBKDF2_ITERATIONS: u32 = 600_000;
/// Bytes of the PBKDF2 salt in front of each encrypted password.
pub const SALT_LEN: usize = 16;
/// Bytes of the AES-GCM IV after the salt.
pub const IV_LEN: usize = 12;
/// Bytes of the AES-GCM tag after the IV (the ciphertext follows it).
pub const TAG_LEN: usize = 16;
/// Bytes of the AES-256 key derived from the master password.
const KEY_LEN: usize = 32;
/// The name given to a record whose name is empty.
const UNNAMED: &str = "(unnamed)";

/// What can go wrong reading an ORE Studio file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OreImportError {
    /// There is no file at that path (nothing is created).
    #[error("`{path}` does not exist (give the path of ORE Studio's `connections.db`)")]
    NotFound {
        /// The path.
        path: PathBuf,
    },
    /// The file cannot be opened.
    #[error("cannot open `{path}`: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not a SQLite database at all.
    #[error("`{path}` is not a SQLite database, so not an ORE Studio connections database")]
    NotADatabase {
        /// The path.
        path: PathBuf,
    },
    /// The file is SQLite but lacks one of ORE's tables or columns.
    #[error("`{path}` is not an ORE Studio connections database: missing {missing}")]
    NotOre {
        /// The path.
        path: PathBuf,
        /// What is missing: ``table `x` `` or ``column `x.y` ``.
        missing: String,
    },
    /// SQLite failed while reading (e.g. a value of an unexpected type, or a locked file).
    #[error("cannot read `{path}`: {source}")]
    Sqlite {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: rusqlite::Error,
    },
    /// The master password does not decrypt the file's passwords.
    #[error("wrong master password: it does not decrypt the passwords of this ORE Studio file")]
    WrongPassword,
    /// One password fails to decrypt while others (with the same master password) succeed.
    #[error(
        "the saved password of connection `{connection}` (ORE id {id}) is corrupt: it fails \
         authentication although the master password opens the others; clear it in ORE Studio \
         and import again"
    )]
    CorruptPassword {
        /// The connection's name in ORE.
        connection: String,
        /// The connection's ORE id.
        id: String,
    },
    /// A stored password is not valid base64.
    #[error("the saved password of connection `{connection}` (ORE id {id}) is not valid base64")]
    NotBase64 {
        /// The connection's name in ORE.
        connection: String,
        /// The connection's ORE id.
        id: String,
    },
    /// A stored password is shorter than salt, IV and tag.
    #[error(
        "the saved password of connection `{connection}` (ORE id {id}) is {len} bytes, shorter \
         than the {min} of ORE's format (salt, IV and tag)"
    )]
    TooShort {
        /// The connection's name in ORE.
        connection: String,
        /// The connection's ORE id.
        id: String,
        /// Its decoded length.
        len: usize,
        /// The least length of the format.
        min: usize,
    },
    /// A password decrypts, but not to UTF-8 text.
    #[error(
        "the saved password of connection `{connection}` (ORE id {id}) decrypts to bytes that \
         are not UTF-8 text"
    )]
    PasswordNotText {
        /// The connection's name in ORE.
        connection: String,
        /// The connection's ORE id.
        id: String,
    },
    /// A port outside 0–65535.
    #[error("{kind} `{name}` (ORE id {id}) has {field} {value}, outside 0–65535")]
    PortOutOfRange {
        /// `"environment"` or `"connection"`.
        kind: &'static str,
        /// The record's name in ORE.
        name: String,
        /// The record's ORE id.
        id: String,
        /// `"port"` or `"http_port"`.
        field: &'static str,
        /// The value found.
        value: i64,
    },
}

/// Reads the ORE Studio bookmarks file at `path`, decrypting its passwords with `master`.
///
/// The file is opened read-only and is neither created nor modified. See the
/// [module documentation](self) for how names, broken links and older files are handled.
///
/// ```no_run
/// use std::path::Path;
/// use ores_actors::connections::ore_import::read_ore_file;
/// use ores_actors::connections::vault::Secret;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let master = Secret::from("the ORE Studio master password");
/// let doc = read_ore_file(Path::new("connections.db"), &master)?;
/// for conn in &doc.connections {
///     println!("{} in {:?}", conn.name, conn.folder);
/// }
/// # Ok(())
/// # }
/// ```
///
/// # Errors
///
/// [`OreImportError::NotFound`] for a missing file, [`OreImportError::NotADatabase`] for a
/// file that is not SQLite, [`OreImportError::NotOre`] for another schema,
/// [`OreImportError::WrongPassword`], [`OreImportError::CorruptPassword`],
/// [`OreImportError::NotBase64`], [`OreImportError::TooShort`] and
/// [`OreImportError::PasswordNotText`] for passwords (naming the connection),
/// [`OreImportError::PortOutOfRange`], and [`OreImportError::Sqlite`] or
/// [`OreImportError::Io`] when reading fails.
pub fn read_ore_file(path: &Path, master: &Secret) -> Result<Document, OreImportError> {
    let raw = read_raw(path)?;
    build_document(raw, Some(master))
}

/// Reads the ORE Studio bookmarks file at `path` leaving every password out (no master
/// password needed, nothing decrypted): for importing the bookmarks alone, or for checking
/// that a file is ORE's before asking for its master password.
///
/// # Errors
///
/// As [`read_ore_file`], less the password errors.
pub fn read_ore_file_without_secrets(path: &Path) -> Result<Document, OreImportError> {
    let raw = read_raw(path)?;
    build_document(raw, None)
}

/// How many connections of the ORE Studio file at `path` have a saved password (so whether
/// its master password is needed), without decrypting any.
///
/// # Errors
///
/// As [`read_ore_file_without_secrets`].
pub fn count_saved_passwords(path: &Path) -> Result<usize, OreImportError> {
    Ok(read_raw(path)?
        .connections
        .iter()
        .filter(|c| {
            c.encrypted_password
                .as_deref()
                .is_some_and(|v| !v.is_empty())
        })
        .count())
}

// ------------------------------------------------------------------ reading the file

struct RawFolder {
    id: String,
    name: String,
    parent_id: Option<String>,
    description: String,
}

struct RawEnvironment {
    id: String,
    folder_id: Option<String>,
    name: String,
    host: String,
    port: i64,
    http_port: i64,
    subject_prefix: String,
    description: String,
}

struct RawConnection {
    id: String,
    folder_id: Option<String>,
    environment_id: Option<String>,
    name: String,
    host: Option<String>,
    port: Option<i64>,
    username: String,
    encrypted_password: Option<String>,
    description: String,
}

#[derive(Default)]
struct Raw {
    folders: Vec<RawFolder>,
    /// `(id, name)`.
    tags: Vec<(String, String)>,
    environments: Vec<RawEnvironment>,
    connections: Vec<RawConnection>,
    /// `(environment_id, tag_id)`.
    environment_tags: Vec<(String, String)>,
    /// `(connection_id, tag_id)`.
    connection_tags: Vec<(String, String)>,
}

/// The tables and columns ORE has always had.
const REQUIRED: &[(&str, &[&str])] = &[
    ("folders", &["id", "name", "parent_id"]),
    ("tags", &["id", "name"]),
    ("environments", &["id", "folder_id", "name", "host", "port"]),
    (
        "connections",
        &[
            "id",
            "folder_id",
            "environment_id",
            "name",
            "host",
            "port",
            "username",
            "encrypted_password",
        ],
    ),
    ("environment_tags", &["environment_id", "tag_id"]),
    ("connection_tags", &["connection_id", "tag_id"]),
];

fn read_raw(path: &Path) -> Result<Raw, OreImportError> {
    let owned = || path.to_owned();
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(OreImportError::NotFound { path: owned() });
        }
        Err(source) => {
            return Err(OreImportError::Io {
                path: owned(),
                source,
            });
        }
        Ok(meta) if meta.is_dir() => {
            return Err(OreImportError::Io {
                path: owned(),
                source: std::io::Error::other("it is a directory, not a file"),
            });
        }
        Ok(_) => {}
    }
    let sqlite = |source: rusqlite::Error| {
        if matches!(&source, rusqlite::Error::SqliteFailure(f, _) if f.code == ErrorCode::NotADatabase)
        {
            OreImportError::NotADatabase { path: owned() }
        } else {
            OreImportError::Sqlite {
                path: owned(),
                source,
            }
        }
    };
    // Read-only and without SQLITE_OPEN_CREATE: a missing file is not created, and nothing is
    // written (query_only guards against any statement that would).
    let db = Db::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(sqlite)?;
    db.pragma_update(None, "query_only", true).map_err(sqlite)?;

    let mut columns: HashMap<&str, HashSet<String>> = HashMap::new();
    for (table, required) in REQUIRED {
        let cols = table_columns(&db, table).map_err(sqlite)?;
        if cols.is_empty() {
            return Err(OreImportError::NotOre {
                path: owned(),
                missing: format!("table `{table}`"),
            });
        }
        if let Some(col) = required.iter().find(|c| !cols.contains(**c)) {
            return Err(OreImportError::NotOre {
                path: owned(),
                missing: format!("column `{table}.{col}`"),
            });
        }
        columns.insert(table, cols);
    }
    let has = |table: &str, column: &str| columns.get(table).is_some_and(|c| c.contains(column));
    let optional = |table: &str, column: &'static str| {
        if has(table, column) { column } else { "NULL" }
    };

    let mut raw = Raw::default();
    let sql = format!(
        "SELECT id, name, parent_id, {} FROM folders ORDER BY rowid",
        optional("folders", "description")
    );
    raw.folders = query(&db, &sql, |r| {
        Ok(RawFolder {
            id: r.get(0)?,
            name: r.get(1)?,
            parent_id: r.get(2)?,
            description: r.get::<_, Option<String>>(3)?.unwrap_or_default(),
        })
    })
    .map_err(sqlite)?;
    raw.tags = query(&db, "SELECT id, name FROM tags ORDER BY rowid", |r| {
        Ok((r.get(0)?, r.get(1)?))
    })
    .map_err(sqlite)?;
    let sql = format!(
        "SELECT id, folder_id, name, host, port, {}, {}, {} FROM environments ORDER BY rowid",
        optional("environments", "http_port"),
        optional("environments", "subject_prefix"),
        optional("environments", "description"),
    );
    raw.environments = query(&db, &sql, |r| {
        Ok(RawEnvironment {
            id: r.get(0)?,
            folder_id: r.get(1)?,
            name: r.get(2)?,
            host: r.get(3)?,
            port: r.get(4)?,
            http_port: r
                .get::<_, Option<i64>>(5)?
                .unwrap_or(i64::from(DEFAULT_HTTP_PORT)),
            subject_prefix: r.get::<_, Option<String>>(6)?.unwrap_or_default(),
            description: r.get::<_, Option<String>>(7)?.unwrap_or_default(),
        })
    })
    .map_err(sqlite)?;
    let sql = format!(
        "SELECT id, folder_id, environment_id, name, host, port, username, encrypted_password, \
         {} FROM connections ORDER BY rowid",
        optional("connections", "description"),
    );
    raw.connections = query(&db, &sql, |r| {
        Ok(RawConnection {
            id: r.get(0)?,
            folder_id: r.get(1)?,
            environment_id: r.get(2)?,
            name: r.get(3)?,
            host: r.get(4)?,
            port: r.get(5)?,
            username: r.get(6)?,
            encrypted_password: r.get(7)?,
            description: r.get::<_, Option<String>>(8)?.unwrap_or_default(),
        })
    })
    .map_err(sqlite)?;
    raw.environment_tags = query(
        &db,
        "SELECT environment_id, tag_id FROM environment_tags ORDER BY rowid",
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .map_err(sqlite)?;
    raw.connection_tags = query(
        &db,
        "SELECT connection_id, tag_id FROM connection_tags ORDER BY rowid",
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .map_err(sqlite)?;
    Ok(raw)
}

/// The column names of `table`; empty when there is no such table.
fn table_columns(db: &Db, table: &str) -> rusqlite::Result<HashSet<String>> {
    let mut stmt = db.prepare("SELECT name FROM pragma_table_info(?1)")?;
    let names = stmt.query_map([table], |r| r.get::<_, String>(0))?;
    names.collect()
}

fn query<T>(
    db: &Db,
    sql: &str,
    map: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<Vec<T>> {
    let mut stmt = db.prepare(sql)?;
    let rows = stmt.query_map([], map)?;
    rows.collect()
}

// ------------------------------------------------------------------ building the document

/// Hands out unique names: the first of a name keeps it, the next get `name (2)`, `name (3)`,
/// …, never one that another record has as its own.
struct UniqueNames {
    /// Every name the records have (trimmed), so a suffix never takes one of them.
    own: HashSet<String>,
    given: HashSet<String>,
}

impl UniqueNames {
    fn new<'a>(names: impl IntoIterator<Item = &'a str>) -> Self {
        Self {
            own: names.into_iter().map(clean_name).collect(),
            given: HashSet::new(),
        }
    }

    fn give(&mut self, name: &str) -> String {
        let name = clean_name(name);
        if self.given.insert(name.clone()) {
            return name;
        }
        let mut n = 2u64;
        loop {
            let candidate = format!("{name} ({n})");
            if !self.own.contains(&candidate) && self.given.insert(candidate.clone()) {
                return candidate;
            }
            n += 1;
        }
    }
}

fn clean_name(name: &str) -> String {
    let name = name.trim();
    if name.is_empty() {
        UNNAMED.to_owned()
    } else {
        name.to_owned()
    }
}

fn port(
    kind: &'static str,
    name: &str,
    id: &str,
    field: &'static str,
    value: i64,
) -> Result<u16, OreImportError> {
    u16::try_from(value).map_err(|_| OreImportError::PortOutOfRange {
        kind,
        name: name.to_owned(),
        id: id.to_owned(),
        field,
        value,
    })
}

/// The folder paths by ORE id, after lifting dangling parents and breaking cycles.
fn folder_paths(folders: &[RawFolder]) -> HashMap<String, FolderPath> {
    let index: HashMap<&str, usize> = folders
        .iter()
        .enumerate()
        .map(|(i, f)| (f.id.as_str(), i))
        .collect();
    let mut parent: Vec<Option<usize>> = folders
        .iter()
        .map(|f| f.parent_id.as_deref().and_then(|p| index.get(p).copied()))
        .collect();

    // Break parent cycles: walk up from each folder; meeting a folder of the current walk
    // closes a cycle, whose first folder in row order goes to the top level.
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Walking,
        Done,
    }
    let mut mark = vec![Mark::New; folders.len()];
    for start in 0..folders.len() {
        let mut walk = Vec::new();
        let mut at = Some(start);
        while let Some(i) = at {
            match mark[i] {
                Mark::Done => break,
                Mark::Walking => {
                    let from = walk.iter().position(|&w| w == i).unwrap_or(0);
                    if let Some(&first) = walk[from..].iter().min() {
                        parent[first] = None;
                    }
                    break;
                }
                Mark::New => {
                    mark[i] = Mark::Walking;
                    walk.push(i);
                    at = parent[i];
                }
            }
        }
        for w in walk {
            mark[w] = Mark::Done;
        }
    }

    // Unique names among siblings.
    let mut siblings: HashMap<Option<usize>, Vec<usize>> = HashMap::new();
    for (i, p) in parent.iter().enumerate() {
        siblings.entry(*p).or_default().push(i);
    }
    let mut names = vec![String::new(); folders.len()];
    for members in siblings.values() {
        let mut unique = UniqueNames::new(members.iter().map(|&i| folders[i].name.as_str()));
        for &i in members {
            names[i] = unique.give(&folders[i].name);
        }
    }

    // Paths, top down (the parents are now acyclic).
    let mut paths: Vec<Option<FolderPath>> = vec![None; folders.len()];
    for start in 0..folders.len() {
        let mut chain = Vec::new();
        let mut at = Some(start);
        while let Some(i) = at {
            if paths[i].is_some() {
                break;
            }
            chain.push(i);
            at = parent[i];
        }
        for &i in chain.iter().rev() {
            let mut path = parent[i].and_then(|p| paths[p].clone()).unwrap_or_default();
            path.push(names[i].clone());
            paths[i] = Some(path);
        }
    }
    folders
        .iter()
        .zip(paths)
        .map(|(f, p)| (f.id.clone(), p.unwrap_or_default()))
        .collect()
}

/// Tag names by owner id, sorted, for links whose tag exists.
fn tag_links(
    links: &[(String, String)],
    tag_names: &HashMap<&str, String>,
) -> HashMap<String, BTreeSet<String>> {
    let mut map: HashMap<String, BTreeSet<String>> = HashMap::new();
    for (owner, tag) in links {
        if let Some(name) = tag_names.get(tag.as_str()) {
            map.entry(owner.clone()).or_default().insert(name.clone());
        }
    }
    map
}

fn build_document(raw: Raw, master: Option<&Secret>) -> Result<Document, OreImportError> {
    let paths = folder_paths(&raw.folders);
    let folder_of = |id: &Option<String>| -> FolderPath {
        id.as_deref()
            .and_then(|id| paths.get(id).cloned())
            .unwrap_or_default()
    };

    let tag_names: HashMap<&str, String> = raw
        .tags
        .iter()
        .map(|(id, name)| (id.as_str(), name.trim().to_owned()))
        .filter(|(_, name)| !name.is_empty())
        .collect();
    let tags: BTreeSet<String> = tag_names.values().cloned().collect();
    let mut env_tags = tag_links(&raw.environment_tags, &tag_names);
    let mut conn_tags = tag_links(&raw.connection_tags, &tag_names);

    let mut unique = UniqueNames::new(raw.environments.iter().map(|e| e.name.as_str()));
    let mut env_names: HashMap<&str, String> = HashMap::new();
    let mut environments = Vec::with_capacity(raw.environments.len());
    for env in &raw.environments {
        let name = unique.give(&env.name);
        env_names.insert(env.id.as_str(), name.clone());
        environments.push(DocEnvironment {
            name,
            folder: folder_of(&env.folder_id),
            host: env.host.clone(),
            port: port("environment", &env.name, &env.id, "port", env.port)?,
            http_port: port(
                "environment",
                &env.name,
                &env.id,
                "http_port",
                env.http_port,
            )?,
            subject_prefix: env.subject_prefix.clone(),
            description: env.description.clone(),
            tags: env_tags
                .remove(&env.id)
                .map(|t| t.into_iter().collect())
                .unwrap_or_default(),
        });
    }

    let mut passwords = match master {
        Some(master) => decrypt_all(&raw.connections, master)?,
        None => HashMap::new(),
    };
    let mut unique = UniqueNames::new(raw.connections.iter().map(|c| c.name.as_str()));
    let mut connections = Vec::with_capacity(raw.connections.len());
    for (i, conn) in raw.connections.iter().enumerate() {
        connections.push(DocConnection {
            name: unique.give(&conn.name),
            folder: folder_of(&conn.folder_id),
            environment: conn
                .environment_id
                .as_deref()
                .and_then(|id| env_names.get(id).cloned()),
            host: conn.host.clone().filter(|h| !h.trim().is_empty()),
            port: conn
                .port
                .map(|p| port("connection", &conn.name, &conn.id, "port", p))
                .transpose()?,
            username: conn.username.clone(),
            description: conn.description.clone(),
            tags: conn_tags
                .remove(&conn.id)
                .map(|t| t.into_iter().collect())
                .unwrap_or_default(),
            password: passwords.remove(&i),
        });
    }

    let mut folders: Vec<DocFolder> = raw
        .folders
        .iter()
        .map(|f| DocFolder {
            path: paths.get(&f.id).cloned().unwrap_or_default(),
            description: f.description.clone(),
        })
        .collect();
    // Sorting by path puts every parent before its children.
    folders.sort_by(|a, b| a.path.cmp(&b.path));
    environments.sort_by(|a, b| a.name.cmp(&b.name));
    connections.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Document {
        folders,
        tags: tags.into_iter().collect(),
        environments,
        connections,
    })
}

// ------------------------------------------------------------------ the passwords

/// A stored password, decoded: `salt ‖ iv ‖ tag ‖ ciphertext`.
struct Sealed(Zeroizing<Vec<u8>>);

impl Sealed {
    fn decode(conn: &RawConnection, value: &str) -> Result<Self, OreImportError> {
        let bytes = STANDARD
            .decode(value.trim())
            .map_err(|_| OreImportError::NotBase64 {
                connection: conn.name.clone(),
                id: conn.id.clone(),
            })?;
        let min = SALT_LEN + IV_LEN + TAG_LEN;
        if bytes.len() < min {
            return Err(OreImportError::TooShort {
                connection: conn.name.clone(),
                id: conn.id.clone(),
                len: bytes.len(),
                min,
            });
        }
        Ok(Self(Zeroizing::new(bytes)))
    }

    /// The plaintext, or `None` when authentication fails.
    fn open(&self, master: &Secret) -> Option<Zeroizing<Vec<u8>>> {
        let (salt, rest) = self.0.split_at(SALT_LEN);
        let (iv, rest) = rest.split_at(IV_LEN);
        let (tag, ciphertext) = rest.split_at(TAG_LEN);
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        derive_key(master.expose().as_bytes(), salt, key.as_mut_slice());
        let cipher = Aes256Gcm::new_from_slice(key.as_slice()).ok()?;
        let nonce = Nonce::<Aes256Gcm>::try_from(iv).ok()?;
        let tag = Tag::<Aes256Gcm>::try_from(tag).ok()?;
        let mut buffer = Zeroizing::new(ciphertext.to_vec());
        cipher
            .decrypt_inout_detached(&nonce, &[], buffer.as_mut_slice().into(), &tag)
            .ok()?;
        Some(buffer)
    }
}

/// PBKDF2-HMAC-SHA256 at [`PBKDF2_ITERATIONS`] into `key`.
fn derive_key(password: &[u8], salt: &[u8], key: &mut [u8]) {
    let params = Params::recommended_for(Algorithm::Pbkdf2Sha256);
    if params.rounds() == PBKDF2_ITERATIONS {
        // The same computation, but instantiated inside pbkdf2 rather than here, so that it
        // runs optimized even in a debug build of this crate (see the root Cargo.toml).
        pbkdf2::pbkdf2_hmac_with_params(password, salt, Algorithm::Pbkdf2Sha256, params, key);
    } else {
        pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, PBKDF2_ITERATIONS, key);
    }
}

/// Decrypts every saved password, by the connection's index.
fn decrypt_all(
    connections: &[RawConnection],
    master: &Secret,
) -> Result<HashMap<usize, Secret>, OreImportError> {
    // Decode them all first (cheap), so a malformed value is reported before any key
    // derivation.
    let mut sealed = Vec::new();
    for (i, conn) in connections.iter().enumerate() {
        if let Some(value) = conn.encrypted_password.as_deref().filter(|v| !v.is_empty()) {
            sealed.push((i, Sealed::decode(conn, value)?));
        }
    }
    let corrupt = |i: usize| OreImportError::CorruptPassword {
        connection: connections[i].name.clone(),
        id: connections[i].id.clone(),
    };
    let mut opened = HashMap::new();
    let mut first_failure: Option<usize> = None;
    for (i, value) in &sealed {
        let Some(plain) = value.open(master) else {
            if !opened.is_empty() {
                return Err(corrupt(*i));
            }
            if first_failure.is_some() {
                // The first two tried both fail: the master password is wrong.
                return Err(OreImportError::WrongPassword);
            }
            first_failure = Some(*i);
            continue;
        };
        if let Some(failed) = first_failure {
            // The master password opens this one, so the first was corrupt.
            return Err(corrupt(failed));
        }
        let text = match std::str::from_utf8(&plain) {
            Ok(text) => Secret::from(text),
            Err(_) => {
                return Err(OreImportError::PasswordNotText {
                    connection: connections[*i].name.clone(),
                    id: connections[*i].id.clone(),
                });
            }
        };
        opened.insert(*i, text);
    }
    if first_failure.is_some() {
        return Err(OreImportError::WrongPassword);
    }
    Ok(opened)
}
