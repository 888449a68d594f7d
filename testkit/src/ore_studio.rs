//! ORE Studio `connections.db` files, written in ORE's exact format, for tests of the importer.
//!
//! **For tests only.** ores-rs reads ORE Studio's format (`ores_actors::connections::ore_import`)
//! and never writes it; this module writes it so that tests can build the files the importer
//! meets, as ORE Studio itself would leave them:
//!
//! - [`OreStudioFile::create`] creates a file with ORE's schema, its DDL verbatim (six tables:
//!   `folders`, `tags`, `environments`, `connections`, `environment_tags`, `connection_tags`),
//!   as a current ORE Studio leaves a new file; [`Schema::BeforeHttpPort`] gives the schema of
//!   older files, without `environments.http_port`;
//! - its `add_*` methods insert folders, tags, environments and connections keyed by UUID
//!   strings (a fresh random UUID unless the test fixes the id), and
//!   [`OreStudioFile::tag_environment`] and [`OreStudioFile::tag_connection`] link them to
//!   tags; [`OreStudioFile::db`] is the SQLite connection itself, for anything else (raw SQL,
//!   broken links, odd values); [`create_schema`] creates the tables in a connection the test
//!   opened itself;
//! - [`encrypt_password`] encrypts a saved password as ORE does: PBKDF2-HMAC-SHA256 at
//!   [`PBKDF2_ITERATIONS`] (600,000) into an AES-256-GCM key, stored as base64 of
//!   `salt16 ‖ iv12 ‖ tag16 ‖ ciphertext`. Each call costs one full PBKDF2 run (a fraction of
//!   a second, as the workspace optimizes the crypto crates even in debug builds); tests that
//!   need the same password often should encrypt it once.
//!
//! ```
//! use ores_testkit::ore_studio::{self, Connection, Environment, Folder, OreStudioFile};
//!
//! # fn main() -> rusqlite::Result<()> {
//! let dir = tempfile::tempdir().unwrap();
//! let ore = OreStudioFile::create(dir.path().join("connections.db"))?;
//! let emea = ore.add_folder(&Folder { name: "EMEA", ..Folder::default() })?;
//! let env = ore.add_environment(&Environment {
//!     folder_id: Some(&emea),
//!     name: "prod-ldn",
//!     host: "ldn.example.com",
//!     port: 4222,
//!     subject_prefix: Some("prod.ldn"),
//!     ..Environment::default()
//! })?;
//! let password = ore_studio::encrypt_password("p@ss", "master");
//! let alice = ore.add_connection(&Connection {
//!     environment_id: Some(&env),
//!     name: "alice@prod-ldn",
//!     username: "alice",
//!     encrypted_password: Some(&password),
//!     ..Connection::default()
//! })?;
//! assert_eq!(alice.len(), 36); // a UUID, as ORE keys its rows
//! # Ok(())
//! # }
//! ```

use std::path::Path;

use aes_gcm::aead::{Nonce, Tag as AeadTag};
use aes_gcm::{AeadInOut, Aes256Gcm, KeyInit};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use pbkdf2::{Algorithm, Params};
use rusqlite::params;

/// PBKDF2 iterations of ORE's password format.
pub const PBKDF2_ITERATIONS: u32 = 600_000;

// ORE Studio's schema, verbatim from `sqlite_context::initialize_schema`.
const CREATE_FOLDERS: &str = r#"
        CREATE TABLE IF NOT EXISTS folders (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            parent_id TEXT,
            description TEXT,
            FOREIGN KEY (parent_id) REFERENCES folders(id) ON DELETE CASCADE
        )
    "#;
const CREATE_TAGS: &str = r#"
        CREATE TABLE IF NOT EXISTS tags (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL UNIQUE
        )
    "#;
const CREATE_ENVIRONMENTS: &str = r#"
        CREATE TABLE IF NOT EXISTS environments (
            id TEXT PRIMARY KEY,
            folder_id TEXT,
            name TEXT NOT NULL,
            host TEXT NOT NULL,
            port INTEGER NOT NULL,
            description TEXT,
            subject_prefix TEXT NOT NULL DEFAULT '',
            FOREIGN KEY (folder_id) REFERENCES folders(id) ON DELETE SET NULL
        )
    "#;
const CREATE_CONNECTIONS: &str = r#"
        CREATE TABLE IF NOT EXISTS connections (
            id TEXT PRIMARY KEY,
            folder_id TEXT,
            environment_id TEXT,
            name TEXT NOT NULL,
            host TEXT,
            port INTEGER,
            username TEXT NOT NULL,
            encrypted_password TEXT,
            description TEXT,
            FOREIGN KEY (folder_id) REFERENCES folders(id) ON DELETE SET NULL,
            FOREIGN KEY (environment_id) REFERENCES environments(id) ON DELETE SET NULL
        )
    "#;
const CREATE_ENVIRONMENT_TAGS: &str = r#"
        CREATE TABLE IF NOT EXISTS environment_tags (
            environment_id TEXT NOT NULL,
            tag_id TEXT NOT NULL,
            PRIMARY KEY (environment_id, tag_id),
            FOREIGN KEY (environment_id) REFERENCES environments(id) ON DELETE CASCADE,
            FOREIGN KEY (tag_id) REFERENCES tags(id) ON DELETE CASCADE
        )
    "#;
const CREATE_CONNECTION_TAGS: &str = r#"
        CREATE TABLE IF NOT EXISTS connection_tags (
            connection_id TEXT NOT NULL,
            tag_id TEXT NOT NULL,
            PRIMARY KEY (connection_id, tag_id),
            FOREIGN KEY (connection_id) REFERENCES connections(id) ON DELETE CASCADE,
            FOREIGN KEY (tag_id) REFERENCES tags(id) ON DELETE CASCADE
        )
    "#;
/// ORE's migration adding `environments.http_port`.
const ADD_HTTP_PORT: &str =
    "ALTER TABLE environments ADD COLUMN http_port INTEGER NOT NULL DEFAULT 8080";

/// Which of ORE Studio's schemas a file gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Schema {
    /// As a current ORE Studio leaves a new file: the six tables, then the migration adding
    /// `environments.http_port` (the migrations adding `folders.description` and
    /// `environments.subject_prefix` fail on a new file, the columns being there, and ORE
    /// ignores that).
    #[default]
    Current,
    /// As files written before the `http_port` migration: the six tables only.
    BeforeHttpPort,
}

/// Creates ORE's tables in `db` (with foreign keys switched on, as ORE does while creating its
/// schema), as [`OreStudioFile::create_with`] does.
pub fn create_schema(db: &rusqlite::Connection, schema: Schema) -> rusqlite::Result<()> {
    db.execute_batch("PRAGMA foreign_keys = ON")?;
    for ddl in [
        CREATE_FOLDERS,
        CREATE_TAGS,
        CREATE_ENVIRONMENTS,
        CREATE_CONNECTIONS,
        CREATE_ENVIRONMENT_TAGS,
        CREATE_CONNECTION_TAGS,
    ] {
        db.execute_batch(ddl)?;
    }
    if schema == Schema::Current {
        db.execute_batch(ADD_HTTP_PORT)?;
    }
    Ok(())
}

/// A row of `folders`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Folder<'a> {
    /// The id; `None` for a fresh random UUID.
    pub id: Option<&'a str>,
    /// The name.
    pub name: &'a str,
    /// The parent folder's id; `None` (`NULL`) for a top-level folder.
    pub parent_id: Option<&'a str>,
    /// The description; `None` is `NULL`.
    pub description: Option<&'a str>,
}

/// A row of `tags`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Tag<'a> {
    /// The id; `None` for a fresh random UUID.
    pub id: Option<&'a str>,
    /// The name (unique in the file).
    pub name: &'a str,
}

/// A row of `environments`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Environment<'a> {
    /// The id; `None` for a fresh random UUID.
    pub id: Option<&'a str>,
    /// The folder's id; `None` is `NULL`.
    pub folder_id: Option<&'a str>,
    /// The name.
    pub name: &'a str,
    /// The NATS host.
    pub host: &'a str,
    /// The NATS port (any integer: SQLite does not check).
    pub port: i64,
    /// The description; `None` is `NULL`.
    pub description: Option<&'a str>,
    /// The subject prefix; `None` leaves the column out of the insert, so its default (`''`)
    /// applies, as with ORE's insert before the column existed.
    pub subject_prefix: Option<&'a str>,
    /// The HTTP port; `None` leaves the column out of the insert, so its default (8080)
    /// applies. Must be `None` in a [`Schema::BeforeHttpPort`] file.
    pub http_port: Option<i64>,
}

/// A row of `connections`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Connection<'a> {
    /// The id; `None` for a fresh random UUID.
    pub id: Option<&'a str>,
    /// The folder's id; `None` is `NULL`.
    pub folder_id: Option<&'a str>,
    /// The linked environment's id; `None` is `NULL`.
    pub environment_id: Option<&'a str>,
    /// The name.
    pub name: &'a str,
    /// The connection's own host; `None` is `NULL`.
    pub host: Option<&'a str>,
    /// The connection's own port; `None` is `NULL`.
    pub port: Option<i64>,
    /// The user name.
    pub username: &'a str,
    /// The saved password as stored: [`encrypt_password`]'s output, `""` or `None` (`NULL`)
    /// for none, or any other text to test malformed values.
    pub encrypted_password: Option<&'a str>,
    /// The description; `None` is `NULL`.
    pub description: Option<&'a str>,
}

/// An ORE Studio `connections.db` being written; dropping it closes the file.
#[derive(Debug)]
pub struct OreStudioFile {
    db: rusqlite::Connection,
}

impl OreStudioFile {
    /// Creates (or opens) the file at `path` with ORE's current schema ([`Schema::Current`]).
    pub fn create(path: impl AsRef<Path>) -> rusqlite::Result<Self> {
        Self::create_with(path, Schema::Current)
    }

    /// Creates (or opens) the file at `path` with the given schema.
    pub fn create_with(path: impl AsRef<Path>, schema: Schema) -> rusqlite::Result<Self> {
        let db = rusqlite::Connection::open(path)?;
        create_schema(&db, schema)?;
        Ok(Self { db })
    }

    /// The SQLite connection to the file (foreign keys on), for raw SQL.
    pub fn db(&self) -> &rusqlite::Connection {
        &self.db
    }

    /// Inserts a folder; returns its id.
    pub fn add_folder(&self, folder: &Folder<'_>) -> rusqlite::Result<String> {
        let id = id_or_new(folder.id);
        self.db.execute(
            "INSERT INTO folders (id, name, parent_id, description) VALUES (?1, ?2, ?3, ?4)",
            params![id, folder.name, folder.parent_id, folder.description],
        )?;
        Ok(id)
    }

    /// Inserts a tag; returns its id.
    pub fn add_tag(&self, tag: &Tag<'_>) -> rusqlite::Result<String> {
        let id = id_or_new(tag.id);
        self.db.execute(
            "INSERT INTO tags (id, name) VALUES (?1, ?2)",
            params![id, tag.name],
        )?;
        Ok(id)
    }

    /// Inserts an environment; returns its id.
    pub fn add_environment(&self, env: &Environment<'_>) -> rusqlite::Result<String> {
        let id = id_or_new(env.id);
        let mut columns = vec!["id", "folder_id", "name", "host", "port", "description"];
        let mut values: Vec<&dyn rusqlite::ToSql> = vec![
            &id,
            &env.folder_id,
            &env.name,
            &env.host,
            &env.port,
            &env.description,
        ];
        if let Some(prefix) = &env.subject_prefix {
            columns.push("subject_prefix");
            values.push(prefix);
        }
        if let Some(http_port) = &env.http_port {
            columns.push("http_port");
            values.push(http_port);
        }
        let sql = format!(
            "INSERT INTO environments ({}) VALUES ({})",
            columns.join(", "),
            vec!["?"; values.len()].join(", ")
        );
        self.db.execute(&sql, values.as_slice())?;
        Ok(id)
    }

    /// Inserts a connection; returns its id.
    pub fn add_connection(&self, conn: &Connection<'_>) -> rusqlite::Result<String> {
        let id = id_or_new(conn.id);
        self.db.execute(
            "INSERT INTO connections (id, folder_id, environment_id, name, host, port, \
             username, encrypted_password, description) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                id,
                conn.folder_id,
                conn.environment_id,
                conn.name,
                conn.host,
                conn.port,
                conn.username,
                conn.encrypted_password,
                conn.description
            ],
        )?;
        Ok(id)
    }

    /// Links an environment to a tag (a row of `environment_tags`).
    pub fn tag_environment(&self, environment_id: &str, tag_id: &str) -> rusqlite::Result<()> {
        self.db.execute(
            "INSERT INTO environment_tags (environment_id, tag_id) VALUES (?1, ?2)",
            [environment_id, tag_id],
        )?;
        Ok(())
    }

    /// Links a connection to a tag (a row of `connection_tags`).
    pub fn tag_connection(&self, connection_id: &str, tag_id: &str) -> rusqlite::Result<()> {
        self.db.execute(
            "INSERT INTO connection_tags (connection_id, tag_id) VALUES (?1, ?2)",
            [connection_id, tag_id],
        )?;
        Ok(())
    }
}

/// `id`, or a fresh random (version 4) UUID in ORE's lowercase hyphenated form.
fn id_or_new(id: Option<&str>) -> String {
    id.map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned)
}

/// Encrypts `plain` under the master password `master` as ORE Studio does
/// (`encryption_service::encrypt`): a random 16-byte salt, key =
/// PBKDF2-HMAC-SHA256(`master` as UTF-8, salt, [`PBKDF2_ITERATIONS`], 32 bytes), AES-256-GCM
/// with a random 12-byte IV and no associated data, returned as standard base64 of
/// `salt ‖ iv ‖ tag ‖ ciphertext`. An empty `plain` gives `""`, ORE's "no password".
///
/// ```
/// let value = ores_testkit::ore_studio::encrypt_password("s3cret", "master");
/// assert_eq!(value.len(), (16 + 12 + 16 + 6usize).div_ceil(3) * 4);
/// assert_eq!(ores_testkit::ore_studio::encrypt_password("", "master"), "");
/// ```
pub fn encrypt_password(plain: &str, master: &str) -> String {
    if plain.is_empty() {
        return String::new();
    }
    let salt: [u8; 16] = rand::random();
    let iv: [u8; 12] = rand::random();
    let mut key = [0u8; 32];
    // pbkdf2's non-generic entry point (optimized in debug builds too); its recommended rounds
    // are ORE's 600,000.
    let params = Params::recommended_for(Algorithm::Pbkdf2Sha256);
    assert_eq!(params.rounds(), PBKDF2_ITERATIONS);
    pbkdf2::pbkdf2_hmac_with_params(
        master.as_bytes(),
        &salt,
        Algorithm::Pbkdf2Sha256,
        params,
        &mut key,
    );
    #[allow(clippy::expect_used)]
    let cipher = Aes256Gcm::new_from_slice(&key).expect("a 32-byte key");
    let mut buffer = plain.as_bytes().to_vec();
    #[allow(clippy::expect_used)]
    let tag: AeadTag<Aes256Gcm> = cipher
        .encrypt_inout_detached(
            &Nonce::<Aes256Gcm>::try_from(&iv[..]).expect("a 12-byte IV"),
            &[],
            buffer.as_mut_slice().into(),
        )
        .expect("AES-GCM encrypts a short password");
    let mut combined = Vec::with_capacity(16 + 12 + 16 + buffer.len());
    combined.extend_from_slice(&salt);
    combined.extend_from_slice(&iv);
    combined.extend_from_slice(&tag);
    combined.extend_from_slice(&buffer);
    STANDARD.encode(combined)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_current_schema_has_http_port_and_the_older_one_not() {
        let dir = tempfile::tempdir().unwrap();
        let columns = |schema| {
            let file = dir.path().join(format!("{schema:?}.db"));
            let ore = OreStudioFile::create_with(&file, schema).unwrap();
            let mut stmt = ore
                .db()
                .prepare("SELECT name FROM pragma_table_info('environments')")
                .unwrap();
            stmt.query_map([], |r| r.get::<_, String>(0))
                .unwrap()
                .collect::<Result<Vec<_>, _>>()
                .unwrap()
        };
        let current = columns(Schema::Current);
        assert_eq!(current.last().map(String::as_str), Some("http_port"));
        assert_eq!(
            columns(Schema::BeforeHttpPort),
            current[..current.len() - 1]
        );
    }

    #[test]
    fn rows_get_uuids_and_defaults_apply_to_left_out_columns() {
        let dir = tempfile::tempdir().unwrap();
        let ore = OreStudioFile::create(dir.path().join("connections.db")).unwrap();
        let f = ore
            .add_folder(&Folder {
                name: "F",
                ..Folder::default()
            })
            .unwrap();
        assert!(uuid::Uuid::parse_str(&f).is_ok(), "{f}");
        let t = ore
            .add_tag(&Tag {
                id: Some("fixed"),
                name: "t",
            })
            .unwrap();
        assert_eq!(t, "fixed");
        let e = ore
            .add_environment(&Environment {
                folder_id: Some(&f),
                name: "e",
                host: "h",
                port: 1,
                ..Environment::default()
            })
            .unwrap();
        ore.tag_environment(&e, &t).unwrap();
        let (prefix, http_port): (String, i64) = ore
            .db()
            .query_row(
                "SELECT subject_prefix, http_port FROM environments WHERE id = ?1",
                [&e],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!((prefix.as_str(), http_port), ("", 8080));
        let c = ore
            .add_connection(&Connection {
                environment_id: Some(&e),
                name: "c",
                username: "u",
                ..Connection::default()
            })
            .unwrap();
        ore.tag_connection(&c, &t).unwrap();
        // Foreign keys are on: a link to a missing tag is refused.
        assert!(ore.tag_connection("nowhere", "nothing").is_err());
    }

    #[test]
    fn a_password_is_salt_iv_tag_and_ciphertext_under_the_pbkdf2_key() {
        let value = encrypt_password("pw", "master");
        let bytes = STANDARD.decode(&value).unwrap();
        assert_eq!(bytes.len(), 16 + 12 + 16 + 2);
        let (salt, rest) = bytes.split_at(16);
        let (iv, rest) = rest.split_at(12);
        let (tag, ciphertext) = rest.split_at(16);
        let mut key = [0u8; 32];
        pbkdf2::pbkdf2_hmac_with_params(
            b"master",
            salt,
            Algorithm::Pbkdf2Sha256,
            Params::recommended_for(Algorithm::Pbkdf2Sha256),
            &mut key,
        );
        let mut plain = ciphertext.to_vec();
        Aes256Gcm::new_from_slice(&key)
            .unwrap()
            .decrypt_inout_detached(
                &Nonce::<Aes256Gcm>::try_from(iv).unwrap(),
                &[],
                plain.as_mut_slice().into(),
                &AeadTag::<Aes256Gcm>::try_from(tag).unwrap(),
            )
            .unwrap();
        assert_eq!(plain, b"pw");
        assert_ne!(
            encrypt_password("pw", "master"),
            value,
            "a fresh salt and IV"
        );
    }
}
