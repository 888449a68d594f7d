//! What can go wrong exporting, reading or importing: [`ExchangeError`].

use super::json::{FORMAT, VERSION};
use super::record::RecordKind;
#[cfg(doc)]
use crate::connections::document::Document;
use crate::connections::vault::VaultError;

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
