//! The interchange [`Document`]: bookmarks as a self-contained set of records named by name
//! and folder path (no row ids), with passwords in clear as zeroizing [`Secret`]s.
//!
//! It is what an export is made from and what an import applies: the JSON exchange format and
//! the ORE Studio importer both read into it, and the store is written from it. Passwords are
//! in clear only in memory; they are sealed again (with the vault key, or with an export
//! passphrase) before anything is written.

use serde::{Deserialize, Serialize};

use super::vault::Secret;

/// A folder's place in the tree: the names from the top level down to the folder itself
/// (`["prod", "emea"]` is the folder `emea` inside the top-level folder `prod`). Empty means
/// the top level.
pub type FolderPath = Vec<String>;

/// Bookmarks as a self-contained set of records.
#[derive(Debug, Clone, Default)]
pub struct Document {
    /// Every folder, each parent before its children.
    pub folders: Vec<DocFolder>,
    /// Every tag name, the unused ones included.
    pub tags: Vec<String>,
    /// The environments.
    pub environments: Vec<DocEnvironment>,
    /// The connections.
    pub connections: Vec<DocConnection>,
}

/// A folder of a [`Document`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocFolder {
    /// Its path, its own name last (never empty).
    pub path: FolderPath,
    /// Its description.
    #[serde(default)]
    pub description: String,
}

/// An environment of a [`Document`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocEnvironment {
    /// Its name (unique among environments).
    pub name: String,
    /// The folder it sits in (empty: the top level).
    #[serde(default)]
    pub folder: FolderPath,
    /// The server's host.
    pub host: String,
    /// The NATS port.
    pub port: u16,
    /// The HTTP port.
    #[serde(default = "default_http_port")]
    pub http_port: u16,
    /// The subject prefix.
    #[serde(default)]
    pub subject_prefix: String,
    /// Its description.
    #[serde(default)]
    pub description: String,
    /// Its tag names.
    #[serde(default)]
    pub tags: Vec<String>,
}

fn default_http_port() -> u16 {
    super::model::DEFAULT_HTTP_PORT
}

/// A connection of a [`Document`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DocConnection {
    /// Its name (unique among connections).
    pub name: String,
    /// The folder it sits in (empty: the top level).
    #[serde(default)]
    pub folder: FolderPath,
    /// The name of the environment it connects to, if any.
    #[serde(default)]
    pub environment: Option<String>,
    /// Its own host (when it has no environment).
    #[serde(default)]
    pub host: Option<String>,
    /// Its own NATS port (when it has no environment).
    #[serde(default)]
    pub port: Option<u16>,
    /// The user name.
    #[serde(default)]
    pub username: String,
    /// Its description.
    #[serde(default)]
    pub description: String,
    /// Its tag names.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Its password in clear, when the document carries secrets. Never serialized as is: an
    /// export seals it with the export passphrase.
    #[serde(skip)]
    pub password: Option<Secret>,
}
