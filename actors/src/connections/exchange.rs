//! Export and import: the whole store as a [`Document`], the JSON exchange format, and an
//! import that is previewed first and applied in one transaction with a choice per clash.
//!
//! - [`export_document`] reads the store into a [`Document`] (passwords opened only with the
//!   vault key); [`to_json`] writes it as pretty JSON, leaving passwords out unless an export
//!   passphrase is given, in which case they are sealed with a fresh export key wrapped by
//!   that passphrase (Argon2id, XChaCha20-Poly1305; each password bound to its connection's
//!   name).
//! - [`from_json`] reads such a file back (typed errors for what is not JSON, not an ores
//!   bookmark export or of another version; a [`Document`] whose references all hold);
//!   [`from_json_without_secrets`] reads it leaving the sealed passwords behind.
//! - [`preview_import`] tells, record by record, what is new, what is already there
//!   unchanged, and what clashes with an existing record (and in which fields);
//!   [`apply_import`] then writes the document, all or nothing, following an
//!   [`ImportChoices`] ([`ClashChoice::Skip`], [`ClashChoice::Replace`] or
//!   [`ClashChoice::KeepBoth`], per record or by default).
//!
//! Any [`Document`] can be previewed and applied, not only one read from JSON (the ORE Studio
//! importer produces one too): it is checked and normalized by [`normalize`] first.
//!
//! # The JSON format (version 1)
//!
//! ```json
//! {
//!   "format": "ores-bookmarks",
//!   "version": 1,
//!   "exported_at": "2025-01-31T12:00:00Z",
//!   "folders": [{ "path": ["prod"], "description": "" },
//!               { "path": ["prod", "emea"], "description": "Europe" }],
//!   "tags": ["critical"],
//!   "environments": [{ "name": "prod-emea", "folder": ["prod", "emea"], "host": "nats.example",
//!                      "port": 4222, "http_port": 8080, "subject_prefix": "",
//!                      "description": "", "tags": ["critical"] }],
//!   "connections": [{ "name": "alice@prod", "folder": ["prod"], "environment": "prod-emea",
//!                     "host": null, "port": null, "username": "alice", "description": "",
//!                     "tags": [], "password_sealed": "<base64>" }],
//!   "secrets": { "cipher": "xchacha20poly1305",
//!                "kdf": { "algorithm": "argon2id", "memory_kib": 19456, "iterations": 2,
//!                         "parallelism": 1 },
//!                "salt": "<base64>", "wrapped_key": "<base64>" }
//! }
//! ```
//!
//! `secrets` is `null` and no connection has `password_sealed` when the export carries no
//! passwords. With secrets, `wrapped_key` is a random export key sealed by a key derived from
//! the passphrase (the KDF parameters and salt are bound to it), and each `password_sealed`
//! is nonce ‖ ciphertext ‖ tag under the export key, for record
//! `export-connection:<connection name>` and field `password`: a sealed password moved onto
//! another connection does not open. Bytes are standard base64 with padding.
//!
//! ```no_run
//! use ores_actors::connections::exchange::{self, ClashChoice, ImportChoices};
//! use ores_actors::connections::store::Store;
//! use ores_actors::connections::vault::{KdfParams, Secret};
//!
//! # fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let mut from = Store::open("/tmp/a.db")?;
//! let json = exchange::to_json(&exchange::export_document(&from, None)?, None)?;
//!
//! let mut into = Store::open("/tmp/b.db")?;
//! let doc = exchange::from_json(&json, None)?;
//! let preview = exchange::preview_import(&into, &doc)?;
//! println!("{} new, {} clashes", preview.counts().new, preview.counts().clashes);
//! let choices = ImportChoices::new(ClashChoice::KeepBoth);
//! let report = exchange::apply_import(&mut into, None, &doc, &choices)?;
//! println!("{} created, {} renamed", report.created, report.renamed.len());
//! # let _ = &mut from;
//! # Ok(()) }
//! ```

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};

use super::actor::{self, BookmarkError, Bookmarks, PASSWORD_FIELD, open_password, seal_password};
use super::document::{DocConnection, DocEnvironment, DocFolder, Document, FolderPath};
use super::model::{
    Connection, ConnectionId, ConnectionSpec, Environment, EnvironmentId, EnvironmentSpec, Folder,
    FolderId,
};
use super::store::{Store, StoreError};
use super::vault::{self, KdfParams, SALT_LEN, Secret, VaultError, VaultKey, WrappedKey};

/// The `format` of an export file.
pub const FORMAT: &str = "ores-bookmarks";
/// The `version` of the export format this build writes and reads.
pub const VERSION: u64 = 1;
/// The cipher named in an export's `secrets`.
const CIPHER: &str = "xchacha20poly1305";
/// The key-derivation function named in an export's `secrets`.
const KDF_ALGORITHM: &str = "argon2id";

/// The record a connection's password is sealed for in an export: `export-connection:<name>`.
pub fn export_record(connection_name: &str) -> String {
    format!("export-connection:{connection_name}")
}

// ------------------------------------------------------------------ errors

/// What can go wrong reading or writing an export, or with a [`Document`] to import.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExchangeError {
    /// The text is not JSON at all.
    #[error("not JSON: {message}")]
    NotJson {
        /// The line of the error (1-based).
        line: usize,
        /// The column of the error (1-based).
        column: usize,
        /// serde's message, with the line and column.
        message: String,
    },
    /// JSON, but not an ores bookmark export.
    #[error(
        "not an ores bookmark export (expected \"format\": \"{FORMAT}\"; found {found}): \
         export the bookmarks with `ores bookmarks export`"
    )]
    NotAnExport {
        /// What was found instead.
        found: String,
    },
    /// An ores bookmark export of a version this build does not read.
    #[error(
        "unsupported ores bookmark export version {found}: this build reads version {VERSION} \
         only; use the ores version that wrote the file, or export again"
    )]
    UnsupportedVersion {
        /// The version found (as JSON).
        found: String,
    },
    /// An ores bookmark export of the right version whose content does not fit the format.
    #[error("malformed ores bookmark export: {message}")]
    Malformed {
        /// The line of the error (1-based).
        line: usize,
        /// The column of the error (1-based).
        column: usize,
        /// serde's message, with the line and column.
        message: String,
    },
    /// A record without a name (or a folder path with an empty part).
    #[error("{} {kind} has an empty name ({place}): give it a name", article(*kind))]
    EmptyName {
        /// The kind of record.
        kind: RecordKind,
        /// Where it is (e.g. `connection #3`, `the tags of environment \`prod\``).
        place: String,
    },
    /// Two records of one kind with the same name (folders: the same path).
    #[error("{kind} `{name}` appears twice: names must be unique")]
    DuplicateName {
        /// The kind of record.
        kind: RecordKind,
        /// The name (folders: the path joined by `/`).
        name: String,
    },
    /// A folder whose parent folder is not in the document.
    #[error("folder `{folder}` is listed but its parent folder `{parent}` is not")]
    MissingParentFolder {
        /// The folder's path joined by `/`.
        folder: String,
        /// The parent's path joined by `/`.
        parent: String,
    },
    /// An environment or connection in a folder that is not in the document.
    #[error("{kind} `{name}` is in folder `{folder}`, which is not in the document")]
    MissingFolder {
        /// The kind of record.
        kind: RecordKind,
        /// Its name.
        name: String,
        /// The folder's path joined by `/`.
        folder: String,
    },
    /// A connection naming an environment that is not in the document.
    #[error(
        "connection `{connection}` uses environment `{environment}`, which is not in the document"
    )]
    MissingEnvironment {
        /// The connection's name.
        connection: String,
        /// The environment it names.
        environment: String,
    },
    /// The export carries sealed passwords and no passphrase was given.
    #[error(
        "this export carries sealed passwords: give its export passphrase to import them, \
         or import it without secrets (its passwords are then left out)"
    )]
    PassphraseRequired,
    /// The passphrase does not open the export's key.
    #[error(
        "wrong export passphrase: it does not open this export's passwords (nothing was \
         imported); give the passphrase the export was made with"
    )]
    WrongPassphrase,
    /// An empty export passphrase was given.
    #[error("the export passphrase must not be empty")]
    EmptyPassphrase,
    /// A connection's sealed password does not open: it was altered, or it was moved from
    /// another connection.
    #[error(
        "the sealed password of connection `{connection}` was tampered with or belongs to \
         another connection; import without secrets, or export again"
    )]
    TamperedPassword {
        /// The connection's name.
        connection: String,
    },
    /// The `secrets` section, or a sealed password, is not what this build reads.
    #[error("malformed secrets in the export: {0}")]
    MalformedSecrets(String),
    /// The cryptography failed (e.g. the OS random source, or the KDF parameters).
    #[error(transparent)]
    Vault(#[from] VaultError),
    /// The JSON could not be written.
    #[error("cannot write the export as JSON: {0}")]
    Serialize(serde_json::Error),
}

fn article(kind: RecordKind) -> &'static str {
    match kind {
        RecordKind::Environment => "an",
        _ => "a",
    }
}

fn malformed(e: &serde_json::Error) -> ExchangeError {
    ExchangeError::Malformed {
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    }
}

// ----------------------------------------------------------- record kinds

/// The kinds of record an import deals with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RecordKind {
    /// A folder (named by its path joined by `/`).
    Folder,
    /// A tag.
    Tag,
    /// An environment.
    Environment,
    /// A connection.
    Connection,
}

impl fmt::Display for RecordKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Folder => "folder",
            Self::Tag => "tag",
            Self::Environment => "environment",
            Self::Connection => "connection",
        })
    }
}

/// A folder path as one name: its parts joined by `/` (the name a folder has in an
/// [`ImportPreview`], an [`ImportChoices`] and an [`ImportReport`]).
pub fn folder_name(path: &[String]) -> String {
    path.join("/")
}

// ---------------------------------------------------------- normalization

fn clean(
    kind: RecordKind,
    name: &str,
    place: impl FnOnce() -> String,
) -> Result<String, ExchangeError> {
    let name = name.trim();
    if name.is_empty() {
        Err(ExchangeError::EmptyName {
            kind,
            place: place(),
        })
    } else {
        Ok(name.to_owned())
    }
}

fn clean_path(path: &[String], place: impl Fn() -> String) -> Result<FolderPath, ExchangeError> {
    path.iter()
        .map(|part| clean(RecordKind::Folder, part, &place))
        .collect()
}

fn clean_tags(tags: &[String], owner: impl Fn() -> String) -> Result<Vec<String>, ExchangeError> {
    let mut out = tags
        .iter()
        .map(|t| clean(RecordKind::Tag, t, || format!("the tags of {}", owner())))
        .collect::<Result<Vec<_>, _>>()?;
    out.sort();
    out.dedup();
    Ok(out)
}

/// Checks a document and returns it normalized, as import and export expect it:
///
/// - names, folder-path parts, tag names and environment references trimmed (as the store
///   trims them), none empty;
/// - folder paths, tag names, environment names and connection names unique;
/// - every folder's parent listed, folders ordered parents first (otherwise in their order);
/// - every environment and connection in a listed folder, every environment a connection
///   names listed;
/// - each record's tags sorted without repeats; a tag used by a record but missing from
///   [`Document::tags`] is added to it.
///
/// Environments and connections keep their order; passwords are kept.
///
/// ```
/// use ores_actors::connections::document::{DocConnection, Document};
/// use ores_actors::connections::exchange::{self, ExchangeError};
///
/// let mut doc = Document::default();
/// doc.connections.push(DocConnection {
///     name: " alice ".into(),
///     folder: vec![],
///     environment: Some("prod".into()),
///     host: None,
///     port: None,
///     username: "alice".into(),
///     description: String::new(),
///     tags: vec![],
///     password: None,
/// });
/// match exchange::normalize(&doc) {
///     Err(ExchangeError::MissingEnvironment { connection, environment }) => {
///         assert_eq!((connection.as_str(), environment.as_str()), ("alice", "prod"));
///     }
///     other => panic!("{other:?}"),
/// }
/// ```
///
/// # Errors
/// [`ExchangeError::EmptyName`], [`ExchangeError::DuplicateName`],
/// [`ExchangeError::MissingParentFolder`], [`ExchangeError::MissingFolder`],
/// [`ExchangeError::MissingEnvironment`].
pub fn normalize(doc: &Document) -> Result<Document, ExchangeError> {
    // Folders.
    let mut folders = Vec::with_capacity(doc.folders.len());
    let mut paths: HashSet<FolderPath> = HashSet::new();
    for (i, f) in doc.folders.iter().enumerate() {
        let place = || format!("folder #{}", i + 1);
        let path = clean_path(&f.path, place)?;
        if path.is_empty() {
            return Err(ExchangeError::EmptyName {
                kind: RecordKind::Folder,
                place: place(),
            });
        }
        if !paths.insert(path.clone()) {
            return Err(ExchangeError::DuplicateName {
                kind: RecordKind::Folder,
                name: folder_name(&path),
            });
        }
        folders.push(DocFolder {
            path,
            description: f.description.clone(),
        });
    }
    for f in &folders {
        let parent = &f.path[..f.path.len() - 1];
        if !parent.is_empty() && !paths.contains(parent) {
            return Err(ExchangeError::MissingParentFolder {
                folder: folder_name(&f.path),
                parent: folder_name(parent),
            });
        }
    }
    folders.sort_by_key(|f| f.path.len());
    let check_folder = |kind: RecordKind, name: &str, folder: &[String]| {
        let folder = clean_path(folder, || format!("the folder of {kind} `{name}`"))?;
        if !folder.is_empty() && !paths.contains(&folder) {
            return Err(ExchangeError::MissingFolder {
                kind,
                name: name.to_owned(),
                folder: folder_name(&folder),
            });
        }
        Ok(folder)
    };

    // Tags.
    let mut tags = Vec::with_capacity(doc.tags.len());
    let mut tag_set: HashSet<String> = HashSet::new();
    for (i, t) in doc.tags.iter().enumerate() {
        let tag = clean(RecordKind::Tag, t, || format!("tag #{}", i + 1))?;
        if !tag_set.insert(tag.clone()) {
            return Err(ExchangeError::DuplicateName {
                kind: RecordKind::Tag,
                name: tag,
            });
        }
        tags.push(tag);
    }
    let mut use_tags = |record_tags: &[String]| {
        for t in record_tags {
            if tag_set.insert(t.clone()) {
                tags.push(t.clone());
            }
        }
    };

    // Environments.
    let mut environments = Vec::with_capacity(doc.environments.len());
    let mut env_names: HashSet<String> = HashSet::new();
    for (i, e) in doc.environments.iter().enumerate() {
        let name = clean(RecordKind::Environment, &e.name, || {
            format!("environment #{}", i + 1)
        })?;
        if !env_names.insert(name.clone()) {
            return Err(ExchangeError::DuplicateName {
                kind: RecordKind::Environment,
                name,
            });
        }
        let folder = check_folder(RecordKind::Environment, &name, &e.folder)?;
        let env_tags = clean_tags(&e.tags, || format!("environment `{name}`"))?;
        use_tags(&env_tags);
        environments.push(DocEnvironment {
            name,
            folder,
            tags: env_tags,
            ..e.clone()
        });
    }

    // Connections.
    let mut connections = Vec::with_capacity(doc.connections.len());
    let mut conn_names: HashSet<String> = HashSet::new();
    for (i, c) in doc.connections.iter().enumerate() {
        let name = clean(RecordKind::Connection, &c.name, || {
            format!("connection #{}", i + 1)
        })?;
        if !conn_names.insert(name.clone()) {
            return Err(ExchangeError::DuplicateName {
                kind: RecordKind::Connection,
                name,
            });
        }
        let folder = check_folder(RecordKind::Connection, &name, &c.folder)?;
        let environment = match &c.environment {
            None => None,
            Some(env) => {
                let env = clean(RecordKind::Environment, env, || {
                    format!("the environment of connection `{name}`")
                })?;
                if !env_names.contains(&env) {
                    return Err(ExchangeError::MissingEnvironment {
                        connection: name,
                        environment: env,
                    });
                }
                Some(env)
            }
        };
        let conn_tags = clean_tags(&c.tags, || format!("connection `{name}`"))?;
        use_tags(&conn_tags);
        connections.push(DocConnection {
            name,
            folder,
            environment,
            tags: conn_tags,
            ..c.clone()
        });
    }

    Ok(Document {
        folders,
        tags,
        environments,
        connections,
    })
}

// ----------------------------------------------------------------- export

/// What the store holds, indexed for export, preview and import.
struct Existing {
    folders: Vec<Folder>,
    folder_paths: HashMap<FolderId, FolderPath>,
    folders_by_path: HashMap<FolderPath, usize>,
    tags: Vec<String>,
    environments: Vec<Environment>,
    environments_by_name: HashMap<String, usize>,
    connections: Vec<Connection>,
    connections_by_name: HashMap<String, usize>,
}

impl Existing {
    fn load(store: &Store) -> Result<Self, StoreError> {
        let folders = store.folders()?;
        let by_id: HashMap<FolderId, &Folder> = folders.iter().map(|f| (f.id, f)).collect();
        let mut folder_paths = HashMap::with_capacity(folders.len());
        for f in &folders {
            let mut path = vec![f.name.clone()];
            let mut parent = f.parent_id;
            // Bounded: the store forbids cycles, but a damaged file must not hang us.
            while let Some(p) = parent.and_then(|id| by_id.get(&id)) {
                if path.len() > folders.len() {
                    break;
                }
                path.push(p.name.clone());
                parent = p.parent_id;
            }
            path.reverse();
            folder_paths.insert(f.id, path);
        }
        let folders_by_path = folders
            .iter()
            .enumerate()
            .filter_map(|(i, f)| folder_paths.get(&f.id).map(|p| (p.clone(), i)))
            .collect();
        let environments = store.environments()?;
        let environments_by_name = environments
            .iter()
            .enumerate()
            .map(|(i, e)| (e.spec.name.clone(), i))
            .collect();
        let connections = store.connections()?;
        let connections_by_name = connections
            .iter()
            .enumerate()
            .map(|(i, c)| (c.spec.name.clone(), i))
            .collect();
        Ok(Self {
            folders,
            folder_paths,
            folders_by_path,
            tags: store.tags()?.into_iter().map(|t| t.name).collect(),
            environments,
            environments_by_name,
            connections,
            connections_by_name,
        })
    }

    fn path_of(&self, folder: Option<FolderId>) -> FolderPath {
        folder
            .and_then(|id| self.folder_paths.get(&id))
            .cloned()
            .unwrap_or_default()
    }

    fn folder(&self, path: &[String]) -> Option<&Folder> {
        self.folders_by_path
            .get(path)
            .and_then(|&i| self.folders.get(i))
    }

    fn environment(&self, name: &str) -> Option<&Environment> {
        self.environments_by_name
            .get(name)
            .and_then(|&i| self.environments.get(i))
    }

    fn environment_name(&self, id: Option<EnvironmentId>) -> Option<String> {
        let id = id?;
        self.environments
            .iter()
            .find(|e| e.id == id)
            .map(|e| e.spec.name.clone())
    }

    fn connection(&self, name: &str) -> Option<&Connection> {
        self.connections_by_name
            .get(name)
            .and_then(|&i| self.connections.get(i))
    }
}

/// The whole store as a [`Document`]: folders (parents first, by path), every tag (the
/// unused ones included), environments and connections by name. Passwords are opened with
/// `key` when it is given, and left out (`None`) otherwise.
///
/// ```no_run
/// # use ores_actors::connections::{exchange, store::Store};
/// # fn demo(store: &Store) -> Result<(), ores_actors::connections::actor::BookmarkError> {
/// let doc = exchange::export_document(store, None)?;
/// assert!(doc.connections.iter().all(|c| c.password.is_none()));
/// # Ok(()) }
/// ```
///
/// # Errors
/// A store error; [`VaultError::Tampered`] (in [`BookmarkError::Vault`]) naming
/// `connection:<id>` when a stored password does not open with `key`.
pub fn export_document(store: &Store, key: Option<&VaultKey>) -> Result<Document, BookmarkError> {
    let existing = Existing::load(store)?;
    let mut folders: Vec<DocFolder> = existing
        .folders
        .iter()
        .map(|f| DocFolder {
            path: existing.path_of(Some(f.id)),
            description: f.description.clone(),
        })
        .collect();
    folders.sort_by(|a, b| a.path.cmp(&b.path));
    let environments = existing
        .environments
        .iter()
        .map(|e| DocEnvironment {
            name: e.spec.name.clone(),
            folder: existing.path_of(e.spec.folder_id),
            host: e.spec.host.clone(),
            port: e.spec.port,
            http_port: e.spec.http_port,
            subject_prefix: e.spec.subject_prefix.clone(),
            description: e.spec.description.clone(),
            tags: e.spec.tags.clone(),
        })
        .collect();
    let connections = existing
        .connections
        .iter()
        .map(|c| {
            let password = match (key, &c.spec.password_sealed) {
                (Some(key), Some(sealed)) => Some(open_password(key, c.id, sealed)?),
                _ => None,
            };
            Ok(DocConnection {
                name: c.spec.name.clone(),
                folder: existing.path_of(c.spec.folder_id),
                environment: existing.environment_name(c.spec.environment_id),
                host: c.spec.host.clone(),
                port: c.spec.port,
                username: c.spec.username.clone(),
                description: c.spec.description.clone(),
                tags: c.spec.tags.clone(),
                password,
            })
        })
        .collect::<Result<Vec<_>, BookmarkError>>()?;
    Ok(Document {
        folders,
        tags: existing.tags.clone(),
        environments,
        connections,
    })
}

// ------------------------------------------------------------------- JSON

#[derive(Serialize, Deserialize)]
struct ExportFile {
    format: String,
    version: u64,
    #[serde(default)]
    exported_at: Option<serde_json::Value>,
    #[serde(default)]
    folders: Vec<DocFolder>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    environments: Vec<DocEnvironment>,
    #[serde(default)]
    connections: Vec<FileConnection>,
    #[serde(default)]
    secrets: Option<FileSecrets>,
}

#[derive(Serialize, Deserialize)]
struct FileConnection {
    name: String,
    #[serde(default)]
    folder: FolderPath,
    #[serde(default)]
    environment: Option<String>,
    #[serde(default)]
    host: Option<String>,
    #[serde(default)]
    port: Option<u16>,
    #[serde(default)]
    username: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    password_sealed: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct FileSecrets {
    cipher: String,
    kdf: FileKdf,
    salt: String,
    wrapped_key: String,
}

#[derive(Serialize, Deserialize)]
struct FileKdf {
    algorithm: String,
    memory_kib: u32,
    iterations: u32,
    parallelism: u32,
}

/// Now as RFC 3339 in UTC, to the second.
fn rfc3339_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Days since 1970-01-01 to a civil date (H. Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3_600,
        rem % 3_600 / 60,
        rem % 60
    )
}

/// Writes `doc` as a pretty-printed export (format [`FORMAT`], version [`VERSION`]).
///
/// Without `secrets`, passwords are left out entirely (even those the document carries) and
/// `secrets` is `null`. With `Some((passphrase, kdf))`, a fresh random export key is wrapped
/// with the passphrase (Argon2id under `kdf`: [`KdfParams::POLICY`] outside tests) and every
/// password the document carries is sealed with it for its connection's name.
///
/// The document is checked and normalized first ([`normalize`]).
///
/// ```no_run
/// use ores_actors::connections::document::Document;
/// use ores_actors::connections::exchange;
/// use ores_actors::connections::vault::{KdfParams, Secret};
///
/// # fn demo(doc: &Document) -> Result<(), exchange::ExchangeError> {
/// let plain = exchange::to_json(doc, None)?;
/// let passphrase = Secret::from("export passphrase");
/// let sealed = exchange::to_json(doc, Some((&passphrase, KdfParams::POLICY)))?;
/// # Ok(()) }
/// ```
///
/// # Errors
/// As [`normalize`]; [`ExchangeError::EmptyPassphrase`]; [`ExchangeError::Vault`] for KDF
/// parameters outside the vault's limits or a failing random source.
pub fn to_json(
    doc: &Document,
    secrets: Option<(&Secret, KdfParams)>,
) -> Result<String, ExchangeError> {
    let doc = normalize(doc)?;
    let sealing = match secrets {
        None => None,
        Some((passphrase, kdf)) => {
            if passphrase.expose().is_empty() {
                return Err(ExchangeError::EmptyPassphrase);
            }
            let key = VaultKey::generate()?;
            let wrapped = vault::wrap(&key, passphrase, kdf)?;
            Some((key, wrapped))
        }
    };
    let connections = doc
        .connections
        .iter()
        .map(|c| {
            let password_sealed = match (&sealing, &c.password) {
                (Some((key, _)), Some(password)) => Some(BASE64.encode(vault::seal(
                    key,
                    &export_record(&c.name),
                    PASSWORD_FIELD,
                    password.expose().as_bytes(),
                )?)),
                _ => None,
            };
            Ok(FileConnection {
                name: c.name.clone(),
                folder: c.folder.clone(),
                environment: c.environment.clone(),
                host: c.host.clone(),
                port: c.port,
                username: c.username.clone(),
                description: c.description.clone(),
                tags: c.tags.clone(),
                password_sealed,
            })
        })
        .collect::<Result<Vec<_>, ExchangeError>>()?;
    let file = ExportFile {
        format: FORMAT.to_owned(),
        version: VERSION,
        exported_at: Some(serde_json::Value::String(rfc3339_now())),
        folders: doc.folders,
        tags: doc.tags,
        environments: doc.environments,
        connections,
        secrets: sealing.map(|(_, wrapped)| FileSecrets {
            cipher: CIPHER.to_owned(),
            kdf: FileKdf {
                algorithm: KDF_ALGORITHM.to_owned(),
                memory_kib: wrapped.params.memory_kib,
                iterations: wrapped.params.iterations,
                parallelism: wrapped.params.parallelism,
            },
            salt: BASE64.encode(wrapped.salt),
            wrapped_key: BASE64.encode(&wrapped.sealed),
        }),
    };
    serde_json::to_string_pretty(&file).map_err(ExchangeError::Serialize)
}

/// What to do with the sealed passwords of a file being read.
enum SecretsMode<'a> {
    Open(&'a Secret),
    Required,
    LeaveOut,
}

/// Reads an export written by [`to_json`] into a checked, normalized [`Document`]
/// (see [`normalize`]).
///
/// With `passphrase`, the sealed passwords are opened into the document; a file without
/// secrets reads as well (its connections have no password). Without one, a file that
/// carries sealed passwords is refused with [`ExchangeError::PassphraseRequired`]: to import
/// it without its passwords, use [`from_json_without_secrets`].
///
/// ```no_run
/// use ores_actors::connections::exchange::{self, ExchangeError};
/// use ores_actors::connections::vault::Secret;
///
/// # fn demo(json: &str) -> Result<(), ExchangeError> {
/// let doc = match exchange::from_json(json, None) {
///     Err(ExchangeError::PassphraseRequired) => {
///         exchange::from_json(json, Some(&Secret::from("export passphrase")))?
///     }
///     other => other?,
/// };
/// # Ok(()) }
/// ```
///
/// # Errors
/// [`ExchangeError::NotJson`], [`ExchangeError::NotAnExport`],
/// [`ExchangeError::UnsupportedVersion`], [`ExchangeError::Malformed`] (with serde's line and
/// column); the errors of [`normalize`]; [`ExchangeError::PassphraseRequired`],
/// [`ExchangeError::WrongPassphrase`], [`ExchangeError::TamperedPassword`] naming the
/// connection, [`ExchangeError::MalformedSecrets`].
pub fn from_json(json: &str, passphrase: Option<&Secret>) -> Result<Document, ExchangeError> {
    read(
        json,
        match passphrase {
            Some(p) => SecretsMode::Open(p),
            None => SecretsMode::Required,
        },
    )
}

/// Reads an export as [`from_json`] does, leaving its sealed passwords (if any) out: every
/// connection of the document has no password.
///
/// # Errors
/// As [`from_json`], except the passphrase errors.
pub fn from_json_without_secrets(json: &str) -> Result<Document, ExchangeError> {
    read(json, SecretsMode::LeaveOut)
}

fn describe(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Null => "null".into(),
        serde_json::Value::Bool(_) => "a boolean".into(),
        serde_json::Value::Number(_) => "a number".into(),
        serde_json::Value::String(_) => "a string".into(),
        serde_json::Value::Array(_) => "an array".into(),
        serde_json::Value::Object(_) => "an object".into(),
    }
}

fn read(json: &str, mode: SecretsMode<'_>) -> Result<Document, ExchangeError> {
    let value: serde_json::Value =
        serde_json::from_str(json).map_err(|e| ExchangeError::NotJson {
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })?;
    let object = value
        .as_object()
        .ok_or_else(|| ExchangeError::NotAnExport {
            found: describe(&value),
        })?;
    match object.get("format") {
        Some(serde_json::Value::String(f)) if f == FORMAT => {}
        Some(other) => {
            return Err(ExchangeError::NotAnExport {
                found: format!("\"format\": {other}"),
            });
        }
        None => {
            return Err(ExchangeError::NotAnExport {
                found: "no \"format\"".into(),
            });
        }
    }
    match object.get("version") {
        Some(v) if v.as_u64() == Some(VERSION) => {}
        Some(other) => {
            return Err(ExchangeError::UnsupportedVersion {
                found: other.to_string(),
            });
        }
        None => {
            return Err(ExchangeError::NotAnExport {
                found: "no \"version\"".into(),
            });
        }
    }
    // Parsed again from the text, so that errors carry their line and column.
    let file: ExportFile = serde_json::from_str(json).map_err(|e| malformed(&e))?;

    let sealed: Vec<Option<String>> = file
        .connections
        .iter()
        .map(|c| c.password_sealed.clone())
        .collect();
    let raw = Document {
        folders: file.folders,
        tags: file.tags,
        environments: file.environments,
        connections: file
            .connections
            .into_iter()
            .map(|c| DocConnection {
                name: c.name,
                folder: c.folder,
                environment: c.environment,
                host: c.host,
                port: c.port,
                username: c.username,
                description: c.description,
                tags: c.tags,
                password: None,
            })
            .collect(),
    };
    // Connections keep their order through `normalize`, so `sealed[i]` is connection i's.
    let mut doc = normalize(&raw)?;

    let Some(secrets) = file.secrets else {
        if let Some(c) = doc
            .connections
            .iter()
            .zip(&sealed)
            .find_map(|(c, s)| s.as_ref().map(|_| c))
        {
            return Err(ExchangeError::MalformedSecrets(format!(
                "connection `{}` has a sealed password but the file has no \"secrets\"",
                c.name
            )));
        }
        return Ok(doc);
    };
    if sealed.iter().all(Option::is_none) {
        // Exported with a passphrase, but no connection had a password.
        return Ok(doc);
    }
    let passphrase = match mode {
        SecretsMode::LeaveOut => return Ok(doc),
        SecretsMode::Required => return Err(ExchangeError::PassphraseRequired),
        SecretsMode::Open(p) => p,
    };
    let key = export_key(&secrets, passphrase)?;
    for (conn, sealed) in doc.connections.iter_mut().zip(&sealed) {
        let Some(sealed) = sealed else { continue };
        let tampered = || ExchangeError::TamperedPassword {
            connection: conn.name.clone(),
        };
        let bytes = BASE64.decode(sealed).map_err(|_| tampered())?;
        let password = vault::open(&key, &export_record(&conn.name), PASSWORD_FIELD, &bytes)
            .map_err(|_| tampered())?;
        conn.password = Some(password);
    }
    Ok(doc)
}

/// Opens the export key of a file's `secrets` with the passphrase.
fn export_key(secrets: &FileSecrets, passphrase: &Secret) -> Result<VaultKey, ExchangeError> {
    if secrets.cipher != CIPHER {
        return Err(ExchangeError::MalformedSecrets(format!(
            "unknown cipher `{}` (this build knows `{CIPHER}`)",
            secrets.cipher
        )));
    }
    if secrets.kdf.algorithm != KDF_ALGORITHM {
        return Err(ExchangeError::MalformedSecrets(format!(
            "unknown key derivation `{}` (this build knows `{KDF_ALGORITHM}`)",
            secrets.kdf.algorithm
        )));
    }
    let salt: [u8; SALT_LEN] = BASE64
        .decode(&secrets.salt)
        .ok()
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| {
            ExchangeError::MalformedSecrets(format!("the salt is not {SALT_LEN} bytes of base64"))
        })?;
    let sealed = BASE64
        .decode(&secrets.wrapped_key)
        .map_err(|_| ExchangeError::MalformedSecrets("the wrapped key is not base64".into()))?;
    let wrapped = WrappedKey {
        params: KdfParams {
            memory_kib: secrets.kdf.memory_kib,
            iterations: secrets.kdf.iterations,
            parallelism: secrets.kdf.parallelism,
        },
        salt,
        sealed,
    };
    vault::unwrap(&wrapped, passphrase).map_err(|e| match e {
        VaultError::WrongPassword => ExchangeError::WrongPassphrase,
        VaultError::InvalidParams(m) => ExchangeError::MalformedSecrets(m),
        VaultError::Malformed(m) => ExchangeError::MalformedSecrets(m.to_owned()),
        other => ExchangeError::Vault(other),
    })
}

// ---------------------------------------------------------------- preview

/// What importing a record would do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordStatus {
    /// No record of that kind and name exists: it will be created.
    New,
    /// The same record exists with the same values: nothing to do.
    Unchanged,
    /// A record of that kind and name exists with other values: the [`ImportChoices`] decide.
    Clash {
        /// The fields that differ (`"description"`, `"host"`, `"tags"`, `"password"`...).
        differences: Vec<String>,
    },
}

/// One record of an [`ImportPreview`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviewItem {
    /// Its kind.
    pub kind: RecordKind,
    /// Its name (folders: the path joined by `/`), as the [`ImportChoices`] name it.
    pub name: String,
    /// What importing it would do.
    pub status: RecordStatus,
}

/// How many records of an [`ImportPreview`] are new, unchanged or clashing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PreviewCounts {
    /// Records to create.
    pub new: usize,
    /// Records already there with the same values.
    pub unchanged: usize,
    /// Records clashing with an existing one.
    pub clashes: usize,
}

/// What importing a document would do, record by record: folders (parents first), tags,
/// environments, then connections, each in the document's order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportPreview {
    /// Every record of the document.
    pub items: Vec<PreviewItem>,
    /// How many connections carry a password (importing them needs the vault unlocked).
    pub passwords: usize,
}

impl ImportPreview {
    /// The counts of new, unchanged and clashing records.
    pub fn counts(&self) -> PreviewCounts {
        let mut counts = PreviewCounts::default();
        for item in &self.items {
            match item.status {
                RecordStatus::New => counts.new += 1,
                RecordStatus::Unchanged => counts.unchanged += 1,
                RecordStatus::Clash { .. } => counts.clashes += 1,
            }
        }
        counts
    }

    /// The clashing records.
    pub fn clashes(&self) -> impl Iterator<Item = &PreviewItem> {
        self.items
            .iter()
            .filter(|i| matches!(i.status, RecordStatus::Clash { .. }))
    }

    /// The record of that kind and name, if the document has it.
    pub fn item(&self, kind: RecordKind, name: &str) -> Option<&PreviewItem> {
        self.items.iter().find(|i| i.kind == kind && i.name == name)
    }
}

fn sorted(tags: &[String]) -> Vec<&String> {
    let mut v: Vec<&String> = tags.iter().collect();
    v.sort();
    v.dedup();
    v
}

fn folder_differences(doc: &DocFolder, old: &Folder) -> Vec<String> {
    if doc.description == old.description {
        Vec::new()
    } else {
        vec!["description".into()]
    }
}

fn environment_differences(
    doc: &DocEnvironment,
    old: &Environment,
    existing: &Existing,
) -> Vec<String> {
    let s = &old.spec;
    let checks = [
        ("folder", existing.path_of(s.folder_id) == doc.folder),
        ("host", s.host == doc.host),
        ("port", s.port == doc.port),
        ("http_port", s.http_port == doc.http_port),
        ("subject_prefix", s.subject_prefix == doc.subject_prefix),
        ("description", s.description == doc.description),
        ("tags", sorted(&s.tags) == sorted(&doc.tags)),
    ];
    checks
        .iter()
        .filter(|(_, same)| !same)
        .map(|(field, _)| (*field).to_owned())
        .collect()
}

fn connection_differences(
    doc: &DocConnection,
    old: &Connection,
    existing: &Existing,
    key: Option<&VaultKey>,
) -> Vec<String> {
    let s = &old.spec;
    let same_password = match (&doc.password, &s.password_sealed, key) {
        // The document does not carry it: the stored one is kept.
        (None, _, _) => true,
        (Some(_), None, _) => false,
        // Locked: the stored password cannot be compared.
        (Some(_), Some(_), None) => false,
        (Some(new), Some(sealed), Some(key)) => open_password(key, old.id, sealed)
            .map(|old| old.expose() == new.expose())
            .unwrap_or(false),
    };
    let checks = [
        ("folder", existing.path_of(s.folder_id) == doc.folder),
        (
            "environment",
            existing.environment_name(s.environment_id) == doc.environment,
        ),
        ("host", s.host == doc.host),
        ("port", s.port == doc.port),
        ("username", s.username == doc.username),
        ("description", s.description == doc.description),
        ("tags", sorted(&s.tags) == sorted(&doc.tags)),
        ("password", same_password),
    ];
    checks
        .iter()
        .filter(|(_, same)| !same)
        .map(|(field, _)| (*field).to_owned())
        .collect()
}

fn status(differences: Vec<String>) -> RecordStatus {
    if differences.is_empty() {
        RecordStatus::Unchanged
    } else {
        RecordStatus::Clash { differences }
    }
}

/// What importing `doc` into `store` would do, without the vault key (see
/// [`preview_import_with_key`]). Records are matched by kind and name (folders by path):
/// a folder clashes only on its description (folders are merged), a tag never clashes.
///
/// A connection carrying a password whose existing namesake has one too is listed as
/// differing in `"password"`, since the stored password cannot be read without the key; a
/// connection carrying no password never differs in it (importing it keeps the stored one).
///
/// ```no_run
/// # use ores_actors::connections::{document::Document, exchange, store::Store};
/// # fn demo(store: &Store, doc: &Document) -> Result<(), ores_actors::connections::actor::BookmarkError> {
/// let preview = exchange::preview_import(store, doc)?;
/// for item in preview.clashes() {
///     println!("{} `{}`: {:?}", item.kind, item.name, item.status);
/// }
/// # Ok(()) }
/// ```
///
/// # Errors
/// The errors of [`normalize`] (in [`BookmarkError::Exchange`]); a store error.
pub fn preview_import(store: &Store, doc: &Document) -> Result<ImportPreview, BookmarkError> {
    preview_import_with_key(store, None, doc)
}

/// [`preview_import`], with the vault key when it is at hand, so that passwords are compared.
///
/// # Errors
/// As [`preview_import`].
pub fn preview_import_with_key(
    store: &Store,
    key: Option<&VaultKey>,
    doc: &Document,
) -> Result<ImportPreview, BookmarkError> {
    let doc = normalize(doc)?;
    let existing = Existing::load(store)?;
    let mut items = Vec::new();
    for f in &doc.folders {
        items.push(PreviewItem {
            kind: RecordKind::Folder,
            name: folder_name(&f.path),
            status: match existing.folder(&f.path) {
                None => RecordStatus::New,
                Some(old) => status(folder_differences(f, old)),
            },
        });
    }
    for t in &doc.tags {
        items.push(PreviewItem {
            kind: RecordKind::Tag,
            name: t.clone(),
            status: if existing.tags.contains(t) {
                RecordStatus::Unchanged
            } else {
                RecordStatus::New
            },
        });
    }
    for e in &doc.environments {
        items.push(PreviewItem {
            kind: RecordKind::Environment,
            name: e.name.clone(),
            status: match existing.environment(&e.name) {
                None => RecordStatus::New,
                Some(old) => status(environment_differences(e, old, &existing)),
            },
        });
    }
    for c in &doc.connections {
        items.push(PreviewItem {
            kind: RecordKind::Connection,
            name: c.name.clone(),
            status: match existing.connection(&c.name) {
                None => RecordStatus::New,
                Some(old) => status(connection_differences(c, old, &existing, key)),
            },
        });
    }
    Ok(ImportPreview {
        items,
        passwords: doc
            .connections
            .iter()
            .filter(|c| c.password.is_some())
            .count(),
    })
}

// ---------------------------------------------------------------- choices

/// What to do with a record that clashes with an existing one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum ClashChoice {
    /// Keep the existing record as it is (the default).
    #[default]
    Skip,
    /// Overwrite the existing record's fields (its id, and so its links, stay), tags and
    /// password included; a connection whose document entry carries no password keeps its
    /// stored one.
    Replace,
    /// Import the record under a new name, `"<name> (imported)"` (or `"(imported 2)"`...),
    /// beside the existing one. For a folder this is [`ClashChoice::Skip`]: folders are
    /// merged, so their contents meet in the existing folder.
    KeepBoth,
}

/// The choices for the clashes of an import: one per record, and a default for the rest.
///
/// ```
/// use ores_actors::connections::exchange::{ClashChoice, ImportChoices, RecordKind};
///
/// let choices = ImportChoices::new(ClashChoice::Skip)
///     .with(RecordKind::Connection, "alice@prod", ClashChoice::Replace)
///     .with(RecordKind::Folder, "prod/emea", ClashChoice::Replace);
/// assert_eq!(choices.choice_for(RecordKind::Connection, "alice@prod"), ClashChoice::Replace);
/// assert_eq!(choices.choice_for(RecordKind::Connection, "bob@prod"), ClashChoice::Skip);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportChoices {
    /// The choice for a clash without its own.
    pub default: ClashChoice,
    /// The choices per record: kind and name (folders: the path joined by `/`).
    pub per_record: HashMap<(RecordKind, String), ClashChoice>,
}

impl ImportChoices {
    /// `default` for every clash.
    pub fn new(default: ClashChoice) -> Self {
        Self {
            default,
            per_record: HashMap::new(),
        }
    }

    /// The same choices, with `choice` for the record of that kind and name.
    pub fn with(mut self, kind: RecordKind, name: impl Into<String>, choice: ClashChoice) -> Self {
        self.set(kind, name, choice);
        self
    }

    /// Sets the choice for the record of that kind and name.
    pub fn set(&mut self, kind: RecordKind, name: impl Into<String>, choice: ClashChoice) {
        self.per_record.insert((kind, name.into()), choice);
    }

    /// The choice for the record of that kind and name: its own, else the default.
    pub fn choice_for(&self, kind: RecordKind, name: &str) -> ClashChoice {
        self.per_record
            .get(&(kind, name.to_owned()))
            .copied()
            .unwrap_or(self.default)
    }
}

// ------------------------------------------------------------------ apply

/// What an import did with one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportAction {
    /// Created.
    Created,
    /// Already there with the same values.
    Unchanged,
    /// Clashed and kept as it was ([`ClashChoice::Skip`]).
    Skipped,
    /// Clashed and overwritten ([`ClashChoice::Replace`]).
    Replaced,
    /// Clashed and imported beside the existing one ([`ClashChoice::KeepBoth`]).
    Renamed {
        /// The name it was imported under.
        new_name: String,
    },
}

/// One record of an [`ImportReport`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedRecord {
    /// Its kind.
    pub kind: RecordKind,
    /// Its name in the document (folders: the path joined by `/`).
    pub name: String,
    /// What was done with it.
    pub action: ImportAction,
}

/// A record imported under a new name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Renamed {
    /// Its kind.
    pub kind: RecordKind,
    /// Its name in the document.
    pub original: String,
    /// The name it was imported under.
    pub new_name: String,
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Every record of the document, in the order of [`ImportPreview::items`].
    pub records: Vec<ImportedRecord>,
    /// Records created.
    pub created: usize,
    /// Records already there with the same values.
    pub unchanged: usize,
    /// Clashing records kept as they were.
    pub skipped: usize,
    /// Clashing records overwritten.
    pub replaced: usize,
    /// Clashing records imported under a new name.
    pub renamed: Vec<Renamed>,
    /// Passwords sealed into the store.
    pub passwords_imported: usize,
}

impl ImportReport {
    fn push(&mut self, kind: RecordKind, name: &str, action: ImportAction) {
        match &action {
            ImportAction::Created => self.created += 1,
            ImportAction::Unchanged => self.unchanged += 1,
            ImportAction::Skipped => self.skipped += 1,
            ImportAction::Replaced => self.replaced += 1,
            ImportAction::Renamed { new_name } => self.renamed.push(Renamed {
                kind,
                original: name.to_owned(),
                new_name: new_name.clone(),
            }),
        }
        self.records.push(ImportedRecord {
            kind,
            name: name.to_owned(),
            action,
        });
    }
}

/// The first of `"<base> (imported)"`, `"<base> (imported 2)"`... not in `taken` (which
/// then holds it).
fn free_name(base: &str, taken: &mut HashSet<String>) -> String {
    let mut n = 1u32;
    loop {
        let name = if n == 1 {
            format!("{base} (imported)")
        } else {
            format!("{base} (imported {n})")
        };
        if taken.insert(name.clone()) {
            return name;
        }
        n += 1;
    }
}

fn folder_id(
    ids: &HashMap<FolderPath, FolderId>,
    kind: RecordKind,
    name: &str,
    path: &[String],
) -> Result<Option<FolderId>, ExchangeError> {
    if path.is_empty() {
        return Ok(None);
    }
    ids.get(path)
        .copied()
        .map(Some)
        .ok_or_else(|| ExchangeError::MissingFolder {
            kind,
            name: name.to_owned(),
            folder: folder_name(path),
        })
}

/// Seals `password` for connection `id` and stores it.
fn store_password(
    s: &mut Store,
    key: Option<&VaultKey>,
    id: ConnectionId,
    password: &Secret,
) -> Result<(), BookmarkError> {
    let key = key.ok_or(BookmarkError::Locked)?;
    let sealed = seal_password(key, id, password)?;
    s.set_connection_password(id, Some(&sealed))?;
    Ok(())
}

/// Imports `doc` into `store` in one transaction: everything is written, or (on any error)
/// nothing.
///
/// - Folders are created along their paths; an existing folder at the same path is reused
///   (a clash is only about its description: [`ClashChoice::Replace`] overwrites it, the
///   other choices keep it).
/// - Tags are created when missing.
/// - A clashing environment or connection follows `choices`: [`ClashChoice::Skip`] keeps the
///   existing record, [`ClashChoice::Replace`] overwrites its fields, tags and (when the
///   document carries one) password, keeping its id; [`ClashChoice::KeepBoth`] imports it as
///   `"<name> (imported)"` (`"(imported 2)"`... if taken). The document's connections that
///   use an environment imported under a new name use the renamed copy; those that use a
///   skipped one use the existing one. A connection left as it is (skipped or unchanged)
///   keeps its own links.
/// - Passwords the document carries are sealed with `key` for their new records
///   ([`seal_password`]).
///
/// ```no_run
/// # use ores_actors::connections::{document::Document, exchange, store::Store};
/// use ores_actors::connections::exchange::{ClashChoice, ImportChoices, RecordKind};
/// # fn demo(store: &mut Store, doc: &Document) -> Result<(), ores_actors::connections::actor::BookmarkError> {
/// let choices = ImportChoices::new(ClashChoice::Skip)
///     .with(RecordKind::Environment, "prod", ClashChoice::KeepBoth);
/// let report = exchange::apply_import(store, None, doc, &choices)?;
/// for r in &report.renamed {
///     println!("{} `{}` imported as `{}`", r.kind, r.original, r.new_name);
/// }
/// # Ok(()) }
/// ```
///
/// # Errors
/// [`BookmarkError::Locked`] when the document carries a password and `key` is `None`
/// (nothing is written); the errors of [`normalize`] (in [`BookmarkError::Exchange`]); a
/// store error (the import is then undone).
pub fn apply_import(
    store: &mut Store,
    key: Option<&VaultKey>,
    doc: &Document,
    choices: &ImportChoices,
) -> Result<ImportReport, BookmarkError> {
    let doc = normalize(doc)?;
    if key.is_none() && doc.connections.iter().any(|c| c.password.is_some()) {
        return Err(BookmarkError::Locked);
    }
    store.transaction(|s| apply_normalized(s, key, &doc, choices))
}

fn apply_normalized(
    s: &mut Store,
    key: Option<&VaultKey>,
    doc: &Document,
    choices: &ImportChoices,
) -> Result<ImportReport, BookmarkError> {
    let existing = Existing::load(s)?;
    let mut report = ImportReport::default();

    // Folders, parents first (as `normalize` orders them).
    let mut folder_ids: HashMap<FolderPath, FolderId> = existing
        .folders
        .iter()
        .filter_map(|f| existing.folder_paths.get(&f.id).map(|p| (p.clone(), f.id)))
        .collect();
    for f in &doc.folders {
        let name = folder_name(&f.path);
        let action = match existing.folder(&f.path) {
            None => {
                let (leaf, parent) =
                    f.path
                        .split_last()
                        .ok_or_else(|| ExchangeError::EmptyName {
                            kind: RecordKind::Folder,
                            place: "a folder path".into(),
                        })?;
                let parent_id = if parent.is_empty() {
                    None
                } else {
                    Some(folder_ids.get(parent).copied().ok_or_else(|| {
                        ExchangeError::MissingParentFolder {
                            folder: name.clone(),
                            parent: folder_name(parent),
                        }
                    })?)
                };
                let id = s.create_folder(leaf, parent_id, &f.description)?;
                folder_ids.insert(f.path.clone(), id);
                ImportAction::Created
            }
            Some(old) if folder_differences(f, old).is_empty() => ImportAction::Unchanged,
            Some(old) => match choices.choice_for(RecordKind::Folder, &name) {
                ClashChoice::Replace => {
                    s.update_folder(old.id, &old.name, &f.description)?;
                    ImportAction::Replaced
                }
                ClashChoice::Skip | ClashChoice::KeepBoth => ImportAction::Skipped,
            },
        };
        report.push(RecordKind::Folder, &name, action);
    }

    // Tags.
    for t in &doc.tags {
        let action = if existing.tags.contains(t) {
            ImportAction::Unchanged
        } else {
            s.create_tag(t)?;
            ImportAction::Created
        };
        report.push(RecordKind::Tag, t, action);
    }

    // Environments.
    let mut env_ids: HashMap<&str, EnvironmentId> = HashMap::new();
    let mut env_taken: HashSet<String> = existing
        .environments
        .iter()
        .map(|e| e.spec.name.clone())
        .chain(doc.environments.iter().map(|e| e.name.clone()))
        .collect();
    for e in &doc.environments {
        let mut spec = EnvironmentSpec {
            name: e.name.clone(),
            folder_id: folder_id(&folder_ids, RecordKind::Environment, &e.name, &e.folder)?,
            host: e.host.clone(),
            port: e.port,
            http_port: e.http_port,
            subject_prefix: e.subject_prefix.clone(),
            description: e.description.clone(),
            tags: e.tags.clone(),
        };
        let (id, action) = match existing.environment(&e.name) {
            None => (s.create_environment(&spec)?, ImportAction::Created),
            Some(old) if environment_differences(e, old, &existing).is_empty() => {
                (old.id, ImportAction::Unchanged)
            }
            Some(old) => match choices.choice_for(RecordKind::Environment, &e.name) {
                ClashChoice::Skip => (old.id, ImportAction::Skipped),
                ClashChoice::Replace => {
                    s.update_environment(old.id, &spec)?;
                    (old.id, ImportAction::Replaced)
                }
                ClashChoice::KeepBoth => {
                    spec.name = free_name(&e.name, &mut env_taken);
                    let id = s.create_environment(&spec)?;
                    (
                        id,
                        ImportAction::Renamed {
                            new_name: spec.name,
                        },
                    )
                }
            },
        };
        env_ids.insert(&e.name, id);
        report.push(RecordKind::Environment, &e.name, action);
    }

    // Connections.
    let mut conn_taken: HashSet<String> = existing
        .connections
        .iter()
        .map(|c| c.spec.name.clone())
        .chain(doc.connections.iter().map(|c| c.name.clone()))
        .collect();
    for c in &doc.connections {
        let environment_id = match &c.environment {
            None => None,
            Some(env) => Some(env_ids.get(env.as_str()).copied().ok_or_else(|| {
                ExchangeError::MissingEnvironment {
                    connection: c.name.clone(),
                    environment: env.clone(),
                }
            })?),
        };
        let mut spec = ConnectionSpec {
            name: c.name.clone(),
            folder_id: folder_id(&folder_ids, RecordKind::Connection, &c.name, &c.folder)?,
            environment_id,
            host: c.host.clone(),
            port: c.port,
            username: c.username.clone(),
            password_sealed: None,
            description: c.description.clone(),
            tags: c.tags.clone(),
        };
        let (written, action) = match existing.connection(&c.name) {
            None => (Some(s.create_connection(&spec)?), ImportAction::Created),
            Some(old) if connection_differences(c, old, &existing, key).is_empty() => {
                (None, ImportAction::Unchanged)
            }
            Some(old) => match choices.choice_for(RecordKind::Connection, &c.name) {
                ClashChoice::Skip => (None, ImportAction::Skipped),
                ClashChoice::Replace => {
                    spec.password_sealed = old.spec.password_sealed.clone();
                    s.update_connection(old.id, &spec)?;
                    (Some(old.id), ImportAction::Replaced)
                }
                ClashChoice::KeepBoth => {
                    spec.name = free_name(&c.name, &mut conn_taken);
                    let id = s.create_connection(&spec)?;
                    (
                        Some(id),
                        ImportAction::Renamed {
                            new_name: spec.name,
                        },
                    )
                }
            },
        };
        if let (Some(id), Some(password)) = (written, &c.password) {
            store_password(s, key, id, password)?;
            report.passwords_imported += 1;
        }
        report.push(RecordKind::Connection, &c.name, action);
    }
    Ok(report)
}

// ----------------------------------------------------------------- handle

fn carries_passwords(doc: &Document) -> bool {
    doc.connections.iter().any(|c| c.password.is_some())
}

impl Bookmarks {
    /// The whole store as a [`Document`] ([`export_document`]), with the passwords opened
    /// when `with_secrets` (the vault must then be unlocked), else without passwords.
    ///
    /// ```no_run
    /// # use ores_actors::connections::{actor::Bookmarks, exchange};
    /// # use ores_actors::connections::vault::{KdfParams, Secret};
    /// # async fn demo(bookmarks: Bookmarks) -> Result<(), Box<dyn std::error::Error>> {
    /// let doc = bookmarks.export(true).await?;
    /// let json = exchange::to_json(&doc, Some((&Secret::from("passphrase"), KdfParams::POLICY)))?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`BookmarkError::Locked`] with `with_secrets` while locked; as [`export_document`].
    pub async fn export(&self, with_secrets: bool) -> actor::Result<Document> {
        if with_secrets {
            self.with_vault(|s, key| export_document(s, Some(key)))
                .await
        } else {
            self.with_store(|s| export_document(s, None)).await
        }
    }

    /// What importing `doc` would do ([`preview_import`]); passwords are compared when the
    /// vault is unlocked.
    ///
    /// # Errors
    /// As [`preview_import`].
    pub async fn preview_import(&self, doc: Document) -> actor::Result<ImportPreview> {
        if carries_passwords(&doc) {
            let with_key = doc.clone();
            match self
                .with_vault(move |s, key| preview_import_with_key(s, Some(key), &with_key))
                .await
            {
                Err(BookmarkError::Locked) => {}
                other => return other,
            }
        }
        self.with_store(move |s| preview_import(s, &doc)).await
    }

    /// Imports `doc` following `choices`, all or nothing ([`apply_import`]); the vault must be
    /// unlocked when the document carries passwords.
    ///
    /// ```no_run
    /// # use ores_actors::connections::{actor::Bookmarks, exchange};
    /// use ores_actors::connections::exchange::{ClashChoice, ImportChoices};
    /// # async fn demo(bookmarks: Bookmarks, json: &str) -> Result<(), Box<dyn std::error::Error>> {
    /// let doc = exchange::from_json_without_secrets(json)?;
    /// let preview = bookmarks.preview_import(doc.clone()).await?;
    /// let report = bookmarks.import(doc, ImportChoices::new(ClashChoice::Skip)).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`BookmarkError::Locked`] (nothing written); as [`apply_import`].
    pub async fn import(
        &self,
        doc: Document,
        choices: ImportChoices,
    ) -> actor::Result<ImportReport> {
        if carries_passwords(&doc) {
            self.with_vault(move |s, key| apply_import(s, Some(key), &doc, &choices))
                .await
        } else {
            self.with_store(move |s| apply_import(s, None, &doc, &choices))
                .await
        }
    }
}
