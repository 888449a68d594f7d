//! Import of an ORE Studio `connections.db`: files built in ORE's exact format (its DDL
//! verbatim, passwords encrypted as ORE does) with `ores_testkit::ore_studio`, plus one value
//! made by another implementation.
#![cfg(feature = "connections")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ores_actors::connections::actor::{open_password, seal_password};
use ores_actors::connections::document::{DocConnection, Document};
use ores_actors::connections::model::{ConnectionSpec, EnvironmentSpec, FolderId};
use ores_actors::connections::ore_import::{OreImportError, PBKDF2_ITERATIONS, read_ore_file};
use ores_actors::connections::store::Store;
use ores_actors::connections::vault::{Secret, VaultKey};
use ores_testkit::ore_studio::{
    self, Environment, Folder, OreStudioFile, Schema, Tag, create_schema,
};
use pbkdf2::sha2::{Digest, Sha256};
use rusqlite::Connection;
use tempfile::TempDir;

const MASTER: &str = "correct horse battery staple";
const ALICE_PW: &str = "p@ss-ldn";
const BOB_PW: &str = "bob's sécret ✓";

/// The two passwords of the main fixture, encrypted once per test binary (each costs a
/// 600,000-iteration PBKDF2).
fn encrypted() -> &'static (String, String) {
    static CELL: OnceLock<(String, String)> = OnceLock::new();
    // The fixture's iterations are the importer's.
    assert_eq!(ore_studio::PBKDF2_ITERATIONS, PBKDF2_ITERATIONS);
    CELL.get_or_init(|| {
        (
            ore_studio::encrypt_password(ALICE_PW, MASTER),
            ore_studio::encrypt_password(BOB_PW, MASTER),
        )
    })
}

fn file_hash(path: &Path) -> Vec<u8> {
    Sha256::digest(std::fs::read(path).unwrap()).to_vec()
}

const F_PROD: &str = "6f1c0d4e-0000-4000-8000-000000000001";
const F_EMEA: &str = "6f1c0d4e-0000-4000-8000-000000000002";
const F_LDN: &str = "6f1c0d4e-0000-4000-8000-000000000003";
const F_DEV: &str = "6f1c0d4e-0000-4000-8000-000000000004";
const T_PROD: &str = "7a2b0000-0000-4000-8000-000000000001";
const T_EMEA: &str = "7a2b0000-0000-4000-8000-000000000002";
const T_UNUSED: &str = "7a2b0000-0000-4000-8000-000000000003";
const E_LDN: &str = "8e3c0000-0000-4000-8000-000000000001";
const E_DEV: &str = "8e3c0000-0000-4000-8000-000000000002";
const C_ALICE: &str = "9d4d0000-0000-4000-8000-000000000001";
const C_BOB: &str = "9d4d0000-0000-4000-8000-000000000002";
const C_CAROL: &str = "9d4d0000-0000-4000-8000-000000000003";
const C_DAVE: &str = "9d4d0000-0000-4000-8000-000000000004";

/// The main fixture: nested folders (Production/EMEA/London, Dev), three tags (one unused),
/// an environment in London with tags and one at the top level, and connections: alice linked
/// to the London environment (password), bob with his own host and port (password), carol
/// with an empty password and dave with a NULL one.
fn build_main(path: &Path, alice_pw: &str, bob_pw: &str) {
    let ore = OreStudioFile::create(path).unwrap();
    let folder = |id, name, parent_id, description| {
        ore.add_folder(&Folder {
            id: Some(id),
            name,
            parent_id,
            description,
        })
        .unwrap()
    };
    folder(F_PROD, "Production", None, Some("live systems"));
    folder(F_EMEA, "EMEA", Some(F_PROD), None);
    folder(F_LDN, "London", Some(F_EMEA), Some(""));
    folder(F_DEV, "Dev", None, Some("laptops"));
    for (id, name) in [(T_PROD, "prod"), (T_EMEA, "emea"), (T_UNUSED, "unused")] {
        ore.add_tag(&Tag { id: Some(id), name }).unwrap();
    }
    ore.add_environment(&Environment {
        id: Some(E_LDN),
        folder_id: Some(F_LDN),
        name: "prod-ldn",
        host: "ldn.example.com",
        port: 4222,
        description: Some("London prod"),
        subject_prefix: Some("prod.ldn"),
        http_port: Some(8443),
    })
    .unwrap();
    // As ORE's insert does without the newer columns: their defaults apply.
    ore.add_environment(&Environment {
        id: Some(E_DEV),
        name: "dev-local",
        host: "localhost",
        port: 4223,
        ..Environment::default()
    })
    .unwrap();
    let connections = [
        ore_studio::Connection {
            id: Some(C_ALICE),
            folder_id: Some(F_EMEA),
            environment_id: Some(E_LDN),
            name: "alice@prod-ldn",
            username: "alice",
            encrypted_password: Some(alice_pw),
            description: Some("via the env"),
            ..Default::default()
        },
        ore_studio::Connection {
            id: Some(C_BOB),
            folder_id: Some(F_DEV),
            name: "bob-direct",
            host: Some("nats.example.org"),
            port: Some(4333),
            username: "bob",
            encrypted_password: Some(bob_pw),
            description: Some(""),
            ..Default::default()
        },
        ore_studio::Connection {
            id: Some(C_CAROL),
            environment_id: Some(E_DEV),
            name: "carol-local",
            username: "carol",
            encrypted_password: Some(""),
            ..Default::default()
        },
        ore_studio::Connection {
            id: Some(C_DAVE),
            folder_id: Some(F_LDN),
            environment_id: Some(E_LDN),
            name: "dave",
            host: Some(""),
            port: Some(0),
            username: "dave",
            description: Some("d"),
            ..Default::default()
        },
    ];
    for connection in &connections {
        ore.add_connection(connection).unwrap();
    }
    ore.tag_environment(E_LDN, T_PROD).unwrap();
    ore.tag_environment(E_LDN, T_EMEA).unwrap();
    ore.tag_connection(C_ALICE, T_PROD).unwrap();
    ore.tag_connection(C_BOB, T_EMEA).unwrap();
    ore.tag_connection(C_BOB, T_PROD).unwrap();
}

fn main_file() -> (TempDir, PathBuf) {
    let (alice, bob) = encrypted();
    main_file_with(alice, bob)
}

fn main_file_with(alice_pw: &str, bob_pw: &str) -> (TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("connections.db");
    build_main(&path, alice_pw, bob_pw);
    (dir, path)
}

fn master() -> Secret {
    Secret::from(MASTER)
}

fn conn<'a>(doc: &'a Document, name: &str) -> &'a DocConnection {
    doc.connections
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no connection {name}"))
}

fn path(p: &[&str]) -> Vec<String> {
    p.iter().map(|s| s.to_string()).collect()
}

#[test]
fn reads_folders_tags_environments_connections_and_passwords() {
    let (_dir, file) = main_file();
    let before = file_hash(&file);
    let doc = read_ore_file(&file, &master()).unwrap();

    let folders: Vec<_> = doc
        .folders
        .iter()
        .map(|f| (f.path.clone(), f.description.as_str()))
        .collect();
    assert_eq!(
        folders,
        vec![
            (path(&["Dev"]), "laptops"),
            (path(&["Production"]), "live systems"),
            (path(&["Production", "EMEA"]), ""),
            (path(&["Production", "EMEA", "London"]), ""),
        ]
    );
    assert_eq!(doc.tags, ["emea", "prod", "unused"]);

    assert_eq!(doc.environments.len(), 2);
    let dev = &doc.environments[0];
    assert_eq!(
        (
            dev.name.as_str(),
            dev.host.as_str(),
            dev.port,
            dev.http_port
        ),
        ("dev-local", "localhost", 4223, 8080)
    );
    assert!(dev.folder.is_empty() && dev.tags.is_empty());
    assert_eq!(
        (dev.subject_prefix.as_str(), dev.description.as_str()),
        ("", "")
    );
    let ldn = &doc.environments[1];
    assert_eq!(ldn.name, "prod-ldn");
    assert_eq!(ldn.folder, path(&["Production", "EMEA", "London"]));
    assert_eq!(
        (ldn.host.as_str(), ldn.port, ldn.http_port),
        ("ldn.example.com", 4222, 8443)
    );
    assert_eq!(ldn.subject_prefix, "prod.ldn");
    assert_eq!(ldn.description, "London prod");
    assert_eq!(ldn.tags, ["emea", "prod"]);

    let names: Vec<_> = doc.connections.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        ["alice@prod-ldn", "bob-direct", "carol-local", "dave"]
    );
    let alice = conn(&doc, "alice@prod-ldn");
    assert_eq!(alice.folder, path(&["Production", "EMEA"]));
    assert_eq!(alice.environment.as_deref(), Some("prod-ldn"));
    assert_eq!((alice.host.as_deref(), alice.port), (None, None));
    assert_eq!(alice.username, "alice");
    assert_eq!(alice.description, "via the env");
    assert_eq!(alice.tags, ["prod"]);
    assert_eq!(alice.password.as_ref().unwrap().expose(), ALICE_PW);

    let bob = conn(&doc, "bob-direct");
    assert_eq!(bob.folder, path(&["Dev"]));
    assert_eq!(bob.environment, None);
    assert_eq!(
        (bob.host.as_deref(), bob.port),
        (Some("nats.example.org"), Some(4333))
    );
    assert_eq!(bob.tags, ["emea", "prod"]);
    assert_eq!(bob.password.as_ref().unwrap().expose(), BOB_PW);

    let carol = conn(&doc, "carol-local");
    assert!(carol.folder.is_empty());
    assert_eq!(carol.environment.as_deref(), Some("dev-local"));
    assert!(
        carol.password.is_none(),
        "an empty encrypted_password is no password"
    );
    assert!(carol.tags.is_empty());

    let dave = conn(&doc, "dave");
    assert_eq!(dave.folder, path(&["Production", "EMEA", "London"]));
    assert_eq!(dave.host, None, "an empty host is no host");
    assert_eq!(dave.port, Some(0));
    assert!(
        dave.password.is_none(),
        "a NULL encrypted_password is no password"
    );

    // Read-only: the file is byte-for-byte the same, and no journal was left beside it.
    assert_eq!(file_hash(&file), before);
    let entries: Vec<_> = std::fs::read_dir(file.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(entries, ["connections.db"]);
}

#[test]
fn the_document_goes_into_a_fresh_store() {
    let (_dir, file) = main_file();
    let doc = read_ore_file(&file, &master()).unwrap();

    // Written with the Store's public API only (applying a document is exchange.rs's job).
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path().join("bookmarks.db")).unwrap();
    let key = VaultKey::generate().unwrap();
    let mut folders: BTreeMap<Vec<String>, FolderId> = BTreeMap::new();
    for f in &doc.folders {
        let (name, parent) = f.path.split_last().unwrap();
        let parent = (!parent.is_empty()).then(|| folders[parent]);
        let id = store.create_folder(name, parent, &f.description).unwrap();
        folders.insert(f.path.clone(), id);
    }
    for tag in &doc.tags {
        store.create_tag(tag).unwrap();
    }
    let folder_id = |p: &Vec<String>| (!p.is_empty()).then(|| folders[p]);
    for e in &doc.environments {
        store
            .create_environment(&EnvironmentSpec {
                name: e.name.clone(),
                folder_id: folder_id(&e.folder),
                host: e.host.clone(),
                port: e.port,
                http_port: e.http_port,
                subject_prefix: e.subject_prefix.clone(),
                description: e.description.clone(),
                tags: e.tags.clone(),
            })
            .unwrap();
    }
    for c in &doc.connections {
        let environment_id = c
            .environment
            .as_ref()
            .map(|name| store.environment_by_name(name).unwrap().id);
        let id = store
            .create_connection(&ConnectionSpec {
                name: c.name.clone(),
                folder_id: folder_id(&c.folder),
                environment_id,
                host: c.host.clone(),
                port: c.port,
                username: c.username.clone(),
                password_sealed: None,
                description: c.description.clone(),
                tags: c.tags.clone(),
            })
            .unwrap();
        if let Some(pw) = &c.password {
            let sealed = seal_password(&key, id, pw).unwrap();
            store.set_connection_password(id, Some(&sealed)).unwrap();
        }
    }

    assert_eq!(store.folders().unwrap().len(), 4);
    assert_eq!(store.tags().unwrap().len(), 3);
    let alice = store.resolve_by_name("alice@prod-ldn").unwrap();
    assert_eq!(
        (alice.host.as_str(), alice.port, alice.http_port),
        ("ldn.example.com", 4222, 8443)
    );
    assert_eq!(alice.subject_prefix, "prod.ldn");
    let alice_id = store.connection_by_name("alice@prod-ldn").unwrap().id;
    let opened = open_password(&key, alice_id, alice.password_sealed.as_ref().unwrap()).unwrap();
    assert_eq!(opened.expose(), ALICE_PW);
    let bob = store.resolve_by_name("bob-direct").unwrap();
    assert_eq!((bob.host.as_str(), bob.port), ("nats.example.org", 4333));
    let bob_id = store.connection_by_name("bob-direct").unwrap().id;
    let opened = open_password(&key, bob_id, bob.password_sealed.as_ref().unwrap()).unwrap();
    assert_eq!(opened.expose(), BOB_PW);
    assert!(
        store
            .resolve_by_name("carol-local")
            .unwrap()
            .password_sealed
            .is_none()
    );
    let london = store.environment_by_name("prod-ldn").unwrap();
    assert_eq!(london.spec.tags, ["emea", "prod"]);
    assert_eq!(
        london.spec.folder_id,
        Some(folders[&path(&["Production", "EMEA", "London"])])
    );
}

#[test]
fn a_wrong_master_password_is_reported_and_changes_nothing() {
    let (_dir, file) = main_file();
    let before = file_hash(&file);
    let err = read_ore_file(&file, &Secret::from("not the password")).unwrap_err();
    assert!(matches!(err, OreImportError::WrongPassword), "{err:?}");
    assert!(err.to_string().contains("wrong master password"));
    assert_eq!(file_hash(&file), before);
}

/// Flips one byte of the ciphertext (past salt, IV and tag) of an ORE value.
fn corrupt(value: &str) -> String {
    let mut bytes = STANDARD.decode(value).unwrap();
    bytes[16 + 12 + 16] ^= 0x01;
    STANDARD.encode(bytes)
}

#[test]
fn a_corrupted_ciphertext_names_its_connection() {
    let (alice, bob) = encrypted();
    // The second one: the master password opened the first.
    let (_dir, file) = main_file_with(alice, &corrupt(bob));
    let err = read_ore_file(&file, &master()).unwrap_err();
    match &err {
        OreImportError::CorruptPassword { connection, id } => {
            assert_eq!((connection.as_str(), id.as_str()), ("bob-direct", C_BOB));
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("`bob-direct`"), "{err}");

    // The first one: the next opens, so the first is corrupt, not the master password wrong.
    let (_dir, file) = main_file_with(&corrupt(alice), bob);
    let err = read_ore_file(&file, &master()).unwrap_err();
    assert!(
        matches!(&err, OreImportError::CorruptPassword { connection, .. } if connection == "alice@prod-ldn"),
        "{err:?}"
    );
}

#[test]
fn malformed_values_name_their_connection() {
    let (alice, _) = encrypted();
    let (_dir, file) = main_file_with(alice, "not base64 at all!");
    let err = read_ore_file(&file, &master()).unwrap_err();
    assert!(
        matches!(&err, OreImportError::NotBase64 { connection, id } if connection == "bob-direct" && id == C_BOB),
        "{err:?}"
    );
    assert!(err.to_string().contains("`bob-direct`"), "{err}");

    // Valid base64, but shorter than salt + IV + tag.
    let short = STANDARD.encode([7u8; 43]);
    let (_dir, file) = main_file_with(&short, "");
    let err = read_ore_file(&file, &master()).unwrap_err();
    assert!(
        matches!(&err, OreImportError::TooShort { connection, len: 43, min: 44, .. } if connection == "alice@prod-ldn"),
        "{err:?}"
    );
}

#[test]
fn files_that_are_not_ore_databases_are_refused() {
    let dir = tempfile::tempdir().unwrap();

    let text = dir.path().join("notes.txt");
    std::fs::write(
        &text,
        "this is not a database, just some text that is long enough\n".repeat(20),
    )
    .unwrap();
    let err = read_ore_file(&text, &master()).unwrap_err();
    assert!(
        matches!(err, OreImportError::NotADatabase { .. }),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("is not a SQLite database"),
        "{err}"
    );

    let other = dir.path().join("other.db");
    Connection::open(&other)
        .unwrap()
        .execute_batch("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
        .unwrap();
    let err = read_ore_file(&other, &master()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "`{}` is not an ORE Studio connections database: missing table `folders`",
            other.display()
        )
    );

    // Our own bookmark store: the same table names, but sealed blobs, not ORE's column.
    let ours = dir.path().join("ours.db");
    drop(Store::open(&ours).unwrap());
    let err = read_ore_file(&ours, &master()).unwrap_err();
    assert!(
        matches!(&err, OreImportError::NotOre { missing, .. } if missing == "column `connections.encrypted_password`"),
        "{err:?}"
    );

    // ORE's tables but one.
    let partial = dir.path().join("partial.db");
    let db = Connection::open(&partial).unwrap();
    create_schema(&db, Schema::BeforeHttpPort).unwrap();
    db.execute_batch("DROP TABLE connection_tags").unwrap();
    drop(db);
    let err = read_ore_file(&partial, &master()).unwrap_err();
    assert!(
        err.to_string().ends_with("missing table `connection_tags`"),
        "{err}"
    );
}

#[test]
fn a_missing_file_is_an_error_and_is_not_created() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nowhere/connections.db");
    let err = read_ore_file(&missing, &master()).unwrap_err();
    assert!(matches!(err, OreImportError::NotFound { .. }), "{err:?}");
    assert!(err.to_string().contains("does not exist"), "{err}");
    assert!(!missing.exists());
    let missing = dir.path().join("connections.db");
    assert!(read_ore_file(&missing, &master()).is_err());
    assert!(!missing.exists());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn an_older_ore_file_gets_the_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("connections.db");
    let db = Connection::open(&file).unwrap();
    // Before the http_port migration.
    create_schema(&db, Schema::BeforeHttpPort).unwrap();
    db.execute(
        "INSERT INTO environments (id, name, host, port, subject_prefix) \
         VALUES ('e1', 'uat', 'uat.example.com', 4222, 'uat')",
        [],
    )
    .unwrap();
    drop(db);
    let doc = read_ore_file(&file, &master()).unwrap();
    assert_eq!(doc.environments[0].http_port, 8080);
    assert_eq!(doc.environments[0].subject_prefix, "uat");

    // Older still: no description columns, no subject_prefix.
    let older = dir.path().join("older.db");
    Connection::open(&older)
        .unwrap()
        .execute_batch(
            "CREATE TABLE folders (id TEXT PRIMARY KEY, name TEXT NOT NULL, parent_id TEXT);
             CREATE TABLE tags (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE);
             CREATE TABLE environments (id TEXT PRIMARY KEY, folder_id TEXT, name TEXT NOT NULL,
                 host TEXT NOT NULL, port INTEGER NOT NULL);
             CREATE TABLE connections (id TEXT PRIMARY KEY, folder_id TEXT,
                 environment_id TEXT, name TEXT NOT NULL, host TEXT, port INTEGER,
                 username TEXT NOT NULL, encrypted_password TEXT);
             CREATE TABLE environment_tags (environment_id TEXT NOT NULL, tag_id TEXT NOT NULL);
             CREATE TABLE connection_tags (connection_id TEXT NOT NULL, tag_id TEXT NOT NULL);
             INSERT INTO folders VALUES ('f', 'Old', NULL);
             INSERT INTO environments VALUES ('e', 'f', 'legacy', 'old.example.com', 4222);
             INSERT INTO connections VALUES ('c', 'f', 'e', 'legacy-login', NULL, NULL, 'u', NULL);",
        )
        .unwrap();
    let doc = read_ore_file(&older, &master()).unwrap();
    let env = &doc.environments[0];
    assert_eq!(
        (
            env.http_port,
            env.subject_prefix.as_str(),
            env.description.as_str()
        ),
        (8080, "", "")
    );
    assert_eq!(env.folder, path(&["Old"]));
    assert_eq!(doc.folders[0].description, "");
    assert_eq!(doc.connections[0].environment.as_deref(), Some("legacy"));
}

#[test]
fn duplicate_and_empty_names_are_made_unique_in_row_order() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("connections.db");
    let db = Connection::open(&file).unwrap();
    create_schema(&db, Schema::Current).unwrap();
    db.execute_batch(
        "INSERT INTO folders (id, name, parent_id) VALUES ('f1', 'Team', NULL);
         INSERT INTO folders (id, name, parent_id) VALUES ('f2', 'Team', NULL);
         INSERT INTO folders (id, name, parent_id) VALUES ('f3', 'Sub', 'f2');
         INSERT INTO environments (id, name, host, port) VALUES ('e1', 'uat', 'a', 1);
         INSERT INTO environments (id, name, host, port) VALUES ('e2', 'uat', 'b', 2);
         INSERT INTO environments (id, name, host, port) VALUES ('e3', 'uat (2)', 'c', 3);
         INSERT INTO connections (id, environment_id, name, username) VALUES ('c1', 'e2', 'x', 'u');
         INSERT INTO connections (id, environment_id, name, username) VALUES ('c2', 'e3', ' x ', 'u');
         INSERT INTO connections (id, folder_id, name, username) VALUES ('c3', 'f3', '', 'u');
         INSERT INTO connections (id, name, username) VALUES ('c4', '   ', 'u');",
    )
    .unwrap();
    drop(db);
    let doc = read_ore_file(&file, &master()).unwrap();
    let folders: Vec<_> = doc.folders.iter().map(|f| f.path.clone()).collect();
    assert_eq!(
        folders,
        [
            path(&["Team"]),
            path(&["Team (2)"]),
            path(&["Team (2)", "Sub"])
        ]
    );
    let envs: Vec<_> = doc
        .environments
        .iter()
        .map(|e| (e.name.as_str(), e.host.as_str()))
        .collect();
    // `uat (2)` is a name of its own, so the second `uat` becomes `uat (3)`.
    assert_eq!(envs, [("uat", "a"), ("uat (2)", "c"), ("uat (3)", "b")]);
    let conns: Vec<_> = doc
        .connections
        .iter()
        .map(|c| (c.name.as_str(), c.environment.as_deref(), c.folder.clone()))
        .collect();
    assert_eq!(
        conns,
        [
            ("(unnamed)", None, path(&["Team (2)", "Sub"])),
            ("(unnamed) (2)", None, vec![]),
            ("x", Some("uat (3)"), vec![]),
            ("x (2)", Some("uat (2)"), vec![]),
        ]
    );
    // The same file reads the same way again.
    let again = read_ore_file(&file, &master()).unwrap();
    let names = |d: &Document| {
        d.connections
            .iter()
            .map(|c| c.name.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&again), names(&doc));
}

#[test]
fn broken_links_and_parent_cycles_are_repaired() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("connections.db");
    let db = Connection::open(&file).unwrap();
    // ORE's repositories open their own connections without foreign keys, so this can happen.
    create_schema(&db, Schema::Current).unwrap();
    db.execute_batch(
        "PRAGMA foreign_keys = OFF;
         INSERT INTO folders (id, name, parent_id) VALUES ('orphan', 'Orphan', 'gone');
         INSERT INTO folders (id, name, parent_id) VALUES ('a', 'A', 'b');
         INSERT INTO folders (id, name, parent_id) VALUES ('b', 'B', 'a');
         INSERT INTO folders (id, name, parent_id) VALUES ('c', 'C', 'b');
         INSERT INTO tags (id, name) VALUES ('t', 'kept');
         INSERT INTO environments (id, folder_id, name, host, port) VALUES ('e', 'gone', 'env', 'h', 1);
         INSERT INTO connections (id, folder_id, environment_id, name, host, port, username)
             VALUES ('c1', 'gone', 'gone', 'lost-links', 'h', 2, 'u');
         INSERT INTO connection_tags VALUES ('c1', 't');
         INSERT INTO connection_tags VALUES ('c1', 'gone');
         INSERT INTO connection_tags VALUES ('gone', 't');
         INSERT INTO environment_tags VALUES ('e', 'gone');",
    )
    .unwrap();
    drop(db);
    let doc = read_ore_file(&file, &master()).unwrap();
    let folders: Vec<_> = doc.folders.iter().map(|f| f.path.clone()).collect();
    // The cycle A <-> B: A (first in row order) goes to the top level.
    assert_eq!(
        folders,
        [
            path(&["A"]),
            path(&["A", "B"]),
            path(&["A", "B", "C"]),
            path(&["Orphan"]),
        ]
    );
    assert!(doc.environments[0].folder.is_empty());
    assert!(doc.environments[0].tags.is_empty());
    let c = &doc.connections[0];
    assert!(c.folder.is_empty());
    assert_eq!(c.environment, None);
    assert_eq!(c.tags, ["kept"]);
}

#[test]
fn a_port_out_of_range_names_the_record() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("connections.db");
    let db = Connection::open(&file).unwrap();
    create_schema(&db, Schema::Current).unwrap();
    db.execute_batch(
        "INSERT INTO environments (id, name, host, port, http_port) VALUES ('e', 'big', 'h', 1, 70000)",
    )
    .unwrap();
    drop(db);
    let err = read_ore_file(&file, &master()).unwrap_err();
    assert!(
        matches!(&err, OreImportError::PortOutOfRange { kind: "environment", name, field: "http_port", value: 70000, .. } if name == "big"),
        "{err:?}"
    );
    assert!(err.to_string().contains("`big`"), "{err}");

    let db = Connection::open(&file).unwrap();
    db.execute_batch(
        "UPDATE environments SET http_port = 8080;
         INSERT INTO connections (id, name, host, port, username) VALUES ('c', 'neg', 'h', -1, 'u')",
    )
    .unwrap();
    drop(db);
    let err = read_ore_file(&file, &master()).unwrap_err();
    assert!(
        matches!(&err, OreImportError::PortOutOfRange { kind: "connection", name, field: "port", value: -1, .. } if name == "neg"),
        "{err:?}"
    );
}

/// One value made offline by another implementation of the format (Python's `cryptography`
/// 48, over OpenSSL: `PBKDF2HMAC(SHA256, 32, salt, 600000)` and `AESGCM(key).encrypt(iv,
/// plaintext, None)`, with a random salt and IV, laid out as salt ‖ iv ‖ tag ‖ ciphertext),
/// so the format is not checked only against this crate's own reading of it.
const INDEPENDENT_MASTER: &str = "Ore-Master ünïcode 🔑";
const INDEPENDENT_PLAIN: &str = "hunter2 – from ORE ✓";
const INDEPENDENT_VALUE: &str =
    "T4dedy2aRQ0fhO+ALA1k1j2VoiTg4OADCj/H3BT40mO+QhU4IVbVmDeH1quNVHzY1JD9bAcF7hguao6y92Ut72wxKVY=";

#[test]
fn a_value_encrypted_by_another_implementation_decrypts() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("connections.db");
    let db = Connection::open(&file).unwrap();
    create_schema(&db, Schema::Current).unwrap();
    db.execute(
        "INSERT INTO connections (id, name, host, port, username, encrypted_password) \
         VALUES ('c', 'py', 'h', 4222, 'u', ?1)",
        [INDEPENDENT_VALUE],
    )
    .unwrap();
    drop(db);
    let doc = read_ore_file(&file, &Secret::from(INDEPENDENT_MASTER)).unwrap();
    assert_eq!(
        doc.connections[0].password.as_ref().unwrap().expose(),
        INDEPENDENT_PLAIN
    );
    let err = read_ore_file(&file, &master()).unwrap_err();
    assert!(matches!(err, OreImportError::WrongPassword), "{err:?}");
}

#[test]
fn without_secrets_reads_the_same_bookmarks_and_needs_no_password() {
    let (_dir, file) = main_file();
    let before = file_hash(&file);
    let with = read_ore_file(&file, &master()).unwrap();
    let without =
        ores_actors::connections::ore_import::read_ore_file_without_secrets(&file).unwrap();
    assert!(without.connections.iter().all(|c| c.password.is_none()));
    assert_eq!(with.folders, without.folders);
    assert_eq!(with.environments, without.environments);
    let summary = |doc: &Document| {
        doc.connections
            .iter()
            .map(|c| {
                (
                    c.name.clone(),
                    c.folder.clone(),
                    c.environment.clone(),
                    c.tags.clone(),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(summary(&with), summary(&without));
    let saved = with
        .connections
        .iter()
        .filter(|c| c.password.is_some())
        .count();
    assert!(saved > 0);
    assert_eq!(
        ores_actors::connections::ore_import::count_saved_passwords(&file).unwrap(),
        saved
    );
    assert_eq!(file_hash(&file), before);
}
