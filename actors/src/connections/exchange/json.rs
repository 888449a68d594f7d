//! The JSON exchange format: the file's serde structs, [`to_json`] (passwords sealed with an
//! export key wrapped by the export passphrase), [`from_json`] and
//! [`from_json_without_secrets`].

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};

use super::error::ExchangeError;
use super::normalize::normalize;
use crate::connections::actor::PASSWORD_FIELD;
use crate::connections::document::{
    DocConnection, DocEnvironment, DocFolder, Document, FolderPath,
};
use crate::connections::vault::{
    self, KdfParams, SALT_LEN, Secret, VaultError, VaultKey, WrappedKey,
};

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

fn malformed(e: &serde_json::Error) -> ExchangeError {
    ExchangeError::Malformed {
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    }
}

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
    let now = time::OffsetDateTime::now_utc();
    now.replace_nanosecond(0)
        .unwrap_or(now)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
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
