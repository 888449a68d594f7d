//! The records of the bookmark store, following ORE Studio's model: a tree of folders holding
//! environments (a server: host, NATS port, HTTP port, subject prefix) and connections (a login
//! to an environment, or to a host of its own), both carrying tags; plus the recently selected
//! parties and the vault row holding the wrapped data key.
//!
//! Passwords are never seen in clear here: a connection carries its password as an opaque
//! sealed blob that the crypto layer produces and opens.

/// The HTTP port an environment gets when none is given (ORE's default).
pub const DEFAULT_HTTP_PORT: u16 = 8080;

/// How many recent parties are kept.
pub const RECENT_PARTIES_CAP: usize = 5;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub i64);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}", self.0)
            }
        }
    };
}

id_type!(
    /// The id of a folder.
    FolderId
);
id_type!(
    /// The id of a tag.
    TagId
);
id_type!(
    /// The id of an environment.
    EnvironmentId
);
id_type!(
    /// The id of a connection.
    ConnectionId
);

/// A folder of the bookmark tree. Folder names are unique among their siblings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Folder {
    /// Its id.
    pub id: FolderId,
    /// Its name.
    pub name: String,
    /// The folder it sits in, or `None` at the top level.
    pub parent_id: Option<FolderId>,
    /// A free-text description.
    pub description: String,
}

/// A tag; tag names are unique.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    /// Its id.
    pub id: TagId,
    /// Its name.
    pub name: String,
}

/// The fields of an environment, for creating or updating one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvironmentSpec {
    /// Its name, unique among environments.
    pub name: String,
    /// The folder it sits in, or `None` at the top level.
    pub folder_id: Option<FolderId>,
    /// The server's host name or address.
    pub host: String,
    /// The NATS port.
    pub port: u16,
    /// The HTTP port ([`DEFAULT_HTTP_PORT`] by default).
    pub http_port: u16,
    /// The NATS subject prefix of the deployment (may be empty).
    pub subject_prefix: String,
    /// A free-text description.
    pub description: String,
    /// The names of its tags (created on demand; order is not kept, they come back sorted).
    pub tags: Vec<String>,
}

impl Default for EnvironmentSpec {
    fn default() -> Self {
        Self {
            name: String::new(),
            folder_id: None,
            host: String::new(),
            port: 4222,
            http_port: DEFAULT_HTTP_PORT,
            subject_prefix: String::new(),
            description: String::new(),
            tags: Vec::new(),
        }
    }
}

/// A stored environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Environment {
    /// Its id.
    pub id: EnvironmentId,
    /// Its fields.
    pub spec: EnvironmentSpec,
}

/// The fields of a connection, for creating or updating one.
///
/// A connection linked to an environment takes the environment's host, ports and subject
/// prefix; otherwise it uses its own `host` and `port`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectionSpec {
    /// Its name, unique among connections.
    pub name: String,
    /// The folder it sits in, or `None` at the top level.
    pub folder_id: Option<FolderId>,
    /// The environment it connects to, if any.
    pub environment_id: Option<EnvironmentId>,
    /// Its own host, used when it has no environment.
    pub host: Option<String>,
    /// Its own NATS port, used when it has no environment.
    pub port: Option<u16>,
    /// The user name to log in with.
    pub username: String,
    /// The password, sealed by the crypto layer (opaque here), if one is saved.
    pub password_sealed: Option<Vec<u8>>,
    /// A free-text description.
    pub description: String,
    /// The names of its tags (created on demand; order is not kept, they come back sorted).
    pub tags: Vec<String>,
}

/// A stored connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    /// Its id.
    pub id: ConnectionId,
    /// Its fields.
    pub spec: ConnectionSpec,
}

/// Where and as whom a connection logs in, with its environment applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedConnection {
    /// The connection's name.
    pub name: String,
    /// The host (the environment's when linked).
    pub host: String,
    /// The NATS port (the environment's when linked).
    pub port: u16,
    /// The HTTP port (the environment's when linked, else [`DEFAULT_HTTP_PORT`]).
    pub http_port: u16,
    /// The subject prefix (the environment's when linked, else empty).
    pub subject_prefix: String,
    /// The user name.
    pub username: String,
    /// The sealed password, if one is saved.
    pub password_sealed: Option<Vec<u8>>,
}

/// The URL of a NATS server: `nats://host:port`, an IPv6 address in brackets.
pub fn nats_url(host: &str, port: u16) -> String {
    let host = host.trim();
    if host.contains(':') && !host.starts_with('[') {
        format!("nats://[{host}]:{port}")
    } else {
        format!("nats://{host}:{port}")
    }
}

impl ResolvedConnection {
    /// The server URL, `nats://host:port` (see [`nats_url`]).
    pub fn nats_url(&self) -> String {
        nats_url(&self.host, self.port)
    }
}

/// A party the user selected recently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecentParty {
    /// The party's id (a UUID in ORE, kept as text).
    pub party_id: String,
    /// The party's display name.
    pub party_name: String,
    /// When it was last selected, in milliseconds since the Unix epoch.
    pub last_selected_at_ms: i64,
}

/// The vault row: the data key wrapped by the master password, opaque to the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vault {
    /// The wrapped key.
    pub wrapped: Vec<u8>,
    /// The key-derivation parameters (an encoding chosen by the crypto layer).
    pub params: String,
}

/// What a search found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchResults {
    /// The matching environments, by name.
    pub environments: Vec<Environment>,
    /// The matching connections, by name.
    pub connections: Vec<Connection>,
}

/// A folder with everything inside it, as [`Store::tree`](super::store::Store::tree) returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderNode {
    /// The folder.
    pub folder: Folder,
    /// Its contents.
    pub contents: TreeLevel,
}

/// The contents of one level of the tree (a folder, or the top level).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TreeLevel {
    /// The subfolders, by name.
    pub folders: Vec<FolderNode>,
    /// The environments, by name.
    pub environments: Vec<Environment>,
    /// The connections, by name.
    pub connections: Vec<Connection>,
}
