//! The records as `--json` prints them: stable CLI-side structs, independent of the store's
//! types, that name things by name and folder path (never by row id) and never carry a secret
//! unless one was asked for (`show --reveal`).

use ores_actors::connections::vault::Secret;
use serde::{Serialize, Serializer};

/// Serializes a revealed secret as its text.
fn expose<S: Serializer>(secret: &Option<Secret>, s: S) -> Result<S::Ok, S::Error> {
    match secret {
        Some(secret) => s.serialize_some(secret.expose()),
        None => s.serialize_none(),
    }
}

/// Where a connection or environment leads.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct TargetView {
    /// `nats://host:port`.
    pub(crate) url: String,
    /// The host.
    pub(crate) host: String,
    /// The NATS port.
    pub(crate) port: u16,
    /// The HTTP port.
    pub(crate) http_port: u16,
    /// The subject prefix (may be empty).
    pub(crate) subject_prefix: String,
}

/// A connection.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ConnectionView {
    /// Its name.
    pub(crate) name: String,
    /// Its folder path (`prod/emea`), `null` at the top level.
    pub(crate) folder: Option<String>,
    /// The environment it connects to, if any.
    pub(crate) environment: Option<String>,
    /// Its own host (used when it has no environment).
    pub(crate) host: Option<String>,
    /// Its own port (used when it has no environment).
    pub(crate) port: Option<u16>,
    /// The user name (may be empty).
    pub(crate) username: String,
    /// Its description.
    pub(crate) description: String,
    /// Its tags, sorted.
    pub(crate) tags: Vec<String>,
    /// Whether a password is saved.
    pub(crate) has_password: bool,
    /// Where it leads, its environment applied; `null` when it has neither an environment nor
    /// a host.
    pub(crate) target: Option<TargetView>,
    /// The saved password, only with `show --reveal`.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "expose")]
    pub(crate) password: Option<Secret>,
}

/// An environment.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct EnvironmentView {
    /// Its name.
    pub(crate) name: String,
    /// Its folder path, `null` at the top level.
    pub(crate) folder: Option<String>,
    /// The host.
    pub(crate) host: String,
    /// The NATS port.
    pub(crate) port: u16,
    /// The HTTP port.
    pub(crate) http_port: u16,
    /// The subject prefix (may be empty).
    pub(crate) subject_prefix: String,
    /// `nats://host:port`.
    pub(crate) url: String,
    /// Its description.
    pub(crate) description: String,
    /// Its tags, sorted.
    pub(crate) tags: Vec<String>,
    /// The connections linked to it, by name.
    pub(crate) connections: Vec<String>,
}

/// A folder.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct FolderView {
    /// Its path (`prod/emea`).
    pub(crate) path: String,
    /// Its own name.
    pub(crate) name: String,
    /// Its description.
    pub(crate) description: String,
    /// How many folders are directly inside.
    pub(crate) folders: usize,
    /// How many environments are directly inside.
    pub(crate) environments: usize,
    /// How many connections are directly inside.
    pub(crate) connections: usize,
}

/// One level of the tree.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct TreeView {
    /// The folders at this level, each with its contents.
    pub(crate) folders: Vec<TreeFolderView>,
    /// The environments at this level.
    pub(crate) environments: Vec<EnvironmentView>,
    /// The connections at this level.
    pub(crate) connections: Vec<ConnectionView>,
}

/// A folder of the tree with its contents.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct TreeFolderView {
    /// Its name.
    pub(crate) name: String,
    /// Its path.
    pub(crate) path: String,
    /// Its description.
    pub(crate) description: String,
    /// What it holds.
    #[serde(flatten)]
    pub(crate) contents: TreeView,
}

/// What a search found.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct SearchView {
    /// The query.
    pub(crate) query: String,
    /// The matching environments.
    pub(crate) environments: Vec<EnvironmentView>,
    /// The matching connections.
    pub(crate) connections: Vec<ConnectionView>,
}

/// A tag and how often it is used.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct TagView {
    /// Its name.
    pub(crate) name: String,
    /// How many environments carry it.
    pub(crate) environments: usize,
    /// How many connections carry it.
    pub(crate) connections: usize,
}

/// A recently selected party.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct RecentView {
    /// The party's id.
    pub(crate) party_id: String,
    /// The party's name.
    pub(crate) party_name: String,
    /// When it was selected, in milliseconds since the Unix epoch.
    pub(crate) last_selected_at_ms: i64,
    /// The same as an RFC 3339 UTC time.
    pub(crate) last_selected_at: String,
}

/// What a deletion removed.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct RemovedView {
    /// `connection`, `environment`, `folder` or `tag`.
    pub(crate) kind: &'static str,
    /// The names (folder paths for folders) removed.
    pub(crate) removed: Vec<String>,
}

/// Where a connection leads, as `resolve` prints it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ResolveView {
    /// The connection's name.
    pub(crate) name: String,
    /// `nats://host:port`.
    pub(crate) url: String,
    /// The host.
    pub(crate) host: String,
    /// The NATS port.
    pub(crate) port: u16,
    /// The HTTP port.
    pub(crate) http_port: u16,
    /// The subject prefix (may be empty).
    pub(crate) subject_prefix: String,
    /// The user name (may be empty).
    pub(crate) username: String,
    /// Whether a password is saved.
    pub(crate) has_password: bool,
}
