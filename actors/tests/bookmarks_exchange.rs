//! Export and import of bookmarks: the JSON format (with and without sealed passwords),
//! typed errors, the preview, each clash choice, all-or-nothing imports, the locked vault,
//! and the same through the actor handle.
#![cfg(feature = "connections")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use ores_actors::connections::actor::{
    self, BookmarkConfig, BookmarkError, Bookmarks, open_password, seal_password,
};
use ores_actors::connections::document::{DocConnection, DocEnvironment, DocFolder, Document};
use ores_actors::connections::exchange::{
    self, ClashChoice, ExchangeError, ImportAction, ImportChoices, RecordKind, RecordStatus,
};
use ores_actors::connections::model::{ConnectionId, ConnectionSpec, EnvironmentSpec};
use ores_actors::connections::store::{Store, StoreError};
use ores_actors::connections::vault::{KdfParams, Secret, VaultKey};
use ores_runtime::supervisor::Supervisor;
use tempfile::TempDir;

/// Cheap key derivation so debug builds stay fast; the policy itself is tested in the vault.
const TEST_KDF: KdfParams = KdfParams {
    memory_kib: 64,
    iterations: 2,
    parallelism: 1,
};

const ALICE_PW: &str = "alice-pw-ores-5e21";
const LOCAL_PW: &str = "local-pw-ores-93bc";
const PASSPHRASE: &str = "export-passphrase-ores-11d0";

fn pw(s: &str) -> Secret {
    Secret::from(s)
}

fn fresh() -> (TempDir, PathBuf, Store) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("connections.db");
    let store = Store::open(&path).unwrap();
    (dir, path, store)
}

fn save_password(store: &mut Store, key: &VaultKey, id: ConnectionId, password: &str) {
    let sealed = seal_password(key, id, &pw(password)).unwrap();
    store.set_connection_password(id, Some(&sealed)).unwrap();
}

/// Folders prod, prod/emea, dev; an unused tag; environments prod-emea and dev; connections
/// alice@prod (password), bob@dev and local (own host, password).
fn seed(store: &mut Store, key: &VaultKey) {
    let prod = store.create_folder("prod", None, "").unwrap();
    let emea = store.create_folder("emea", Some(prod), "Europe").unwrap();
    let dev = store.create_folder("dev", None, "development").unwrap();
    store.create_tag("unused").unwrap();
    let pe = store
        .create_environment(&EnvironmentSpec {
            name: "prod-emea".into(),
            folder_id: Some(emea),
            host: "nats.prod.example".into(),
            port: 4222,
            http_port: 8081,
            subject_prefix: "ores.prod".into(),
            description: "production".into(),
            tags: vec!["prod".into(), "critical".into()],
        })
        .unwrap();
    let de = store
        .create_environment(&EnvironmentSpec {
            name: "dev".into(),
            folder_id: Some(dev),
            host: "nats.dev.example".into(),
            ..Default::default()
        })
        .unwrap();
    let alice = store
        .create_connection(&ConnectionSpec {
            name: "alice@prod".into(),
            folder_id: Some(prod),
            environment_id: Some(pe),
            username: "alice".into(),
            description: "ops".into(),
            tags: vec!["critical".into()],
            ..Default::default()
        })
        .unwrap();
    store
        .create_connection(&ConnectionSpec {
            name: "bob@dev".into(),
            folder_id: Some(dev),
            environment_id: Some(de),
            username: "bob".into(),
            ..Default::default()
        })
        .unwrap();
    let local = store
        .create_connection(&ConnectionSpec {
            name: "local".into(),
            host: Some("localhost".into()),
            port: Some(4223),
            username: "me".into(),
            ..Default::default()
        })
        .unwrap();
    save_password(store, key, alice, ALICE_PW);
    save_password(store, key, local, LOCAL_PW);
}

/// A comparable rendering of a document, passwords in clear.
fn render(doc: &Document) -> String {
    let conns: Vec<_> = doc
        .connections
        .iter()
        .map(|c| {
            (
                &c.name,
                &c.folder,
                &c.environment,
                &c.host,
                c.port,
                &c.username,
                &c.description,
                &c.tags,
                c.password.as_ref().map(|p| p.expose().to_owned()),
            )
        })
        .collect();
    format!("{:#?}", (&doc.folders, &doc.tags, &doc.environments, conns))
}

/// Everything in the store (passwords opened with `key`).
fn dump(store: &Store, key: Option<&VaultKey>) -> String {
    let doc = exchange::export_document(store, key).unwrap();
    format!(
        "{}\nsealed: {:?}",
        render(&doc),
        store
            .connections()
            .unwrap()
            .iter()
            .map(|c| (c.id, c.spec.password_sealed.clone()))
            .collect::<Vec<_>>()
    )
}

fn conn(doc: &Document, name: &str) -> usize {
    doc.connections.iter().position(|c| c.name == name).unwrap()
}

fn env(doc: &Document, name: &str) -> usize {
    doc.environments
        .iter()
        .position(|e| e.name == name)
        .unwrap()
}

#[test]
fn round_trip_store_to_json_to_new_store() {
    let (_d1, _p1, mut a) = fresh();
    let key_a = VaultKey::generate().unwrap();
    seed(&mut a, &key_a);
    let exported = exchange::export_document(&a, Some(&key_a)).unwrap();
    assert_eq!(
        exported
            .folders
            .iter()
            .map(|f| f.path.join("/"))
            .collect::<Vec<_>>(),
        ["dev", "prod", "prod/emea"]
    );
    assert_eq!(exported.tags, ["critical", "prod", "unused"]);
    let json = exchange::to_json(&exported, Some((&pw(PASSPHRASE), TEST_KDF))).unwrap();

    let (_d2, _p2, mut b) = fresh();
    let key_b = VaultKey::generate().unwrap();
    let doc = exchange::from_json(&json, Some(&pw(PASSPHRASE))).unwrap();
    let report =
        exchange::apply_import(&mut b, Some(&key_b), &doc, &ImportChoices::default()).unwrap();
    assert_eq!(report.created, 3 + 3 + 2 + 3);
    assert_eq!(report.passwords_imported, 2);
    assert!(report.renamed.is_empty());

    // Same tree, tags, environments, connections and passwords (under B's own key).
    assert_eq!(
        render(&exchange::export_document(&b, Some(&key_b)).unwrap()),
        render(&exchange::export_document(&a, Some(&key_a)).unwrap())
    );
    let alice = b.connection_by_name("alice@prod").unwrap();
    let sealed = alice.spec.password_sealed.unwrap();
    assert_eq!(
        open_password(&key_b, alice.id, &sealed).unwrap().expose(),
        ALICE_PW
    );
    assert!(open_password(&key_a, alice.id, &sealed).is_err());
    let tree = b.tree().unwrap();
    assert_eq!(tree.folders[1].folder.name, "prod");
    assert_eq!(tree.folders[1].contents.folders[0].folder.name, "emea");
    assert_eq!(
        tree.folders[1].contents.folders[0].contents.environments[0]
            .spec
            .name,
        "prod-emea"
    );
    assert_eq!(tree.connections[0].spec.name, "local");

    // Importing the same file again changes nothing.
    let again =
        exchange::apply_import(&mut b, Some(&key_b), &doc, &ImportChoices::default()).unwrap();
    assert_eq!(again.unchanged, 11, "{again:#?}");
    assert_eq!(again.created + again.skipped + again.replaced, 0);
    assert_eq!(again.passwords_imported, 0);
}

#[test]
fn export_without_secrets_contains_no_password() {
    let (_d, _p, mut a) = fresh();
    let key = VaultKey::generate().unwrap();
    seed(&mut a, &key);
    // Even a document holding the passwords in clear is written without them.
    let doc = exchange::export_document(&a, Some(&key)).unwrap();
    assert!(doc.connections.iter().any(|c| c.password.is_some()));
    let json = exchange::to_json(&doc, None).unwrap();
    for needle in [ALICE_PW, LOCAL_PW, "password_sealed"] {
        assert!(!json.contains(needle), "`{needle}` in {json}");
    }
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value["format"], "ores-bookmarks");
    assert_eq!(value["version"], 1);
    assert!(value["secrets"].is_null());
    // RFC 3339 in UTC, to the second: `2026-12-05T01:00:00Z`.
    let at = value["exported_at"].as_str().unwrap();
    assert_eq!(at.len(), 20, "{at}");
    assert!(at.ends_with('Z') && at.as_bytes()[10] == b'T', "{at}");

    let back = exchange::from_json(&json, None).unwrap();
    assert!(back.connections.iter().all(|c| c.password.is_none()));
    assert_eq!(back.connections.len(), 3);
    // A passphrase on a file without secrets is no error.
    assert_eq!(
        exchange::from_json(&json, Some(&pw(PASSPHRASE)))
            .unwrap()
            .connections
            .len(),
        3
    );
    // Without a key, export_document leaves passwords out as well.
    assert!(
        exchange::export_document(&a, None)
            .unwrap()
            .connections
            .iter()
            .all(|c| c.password.is_none())
    );
}

#[test]
fn export_with_secrets_needs_the_right_passphrase() {
    let (_d, _p, mut a) = fresh();
    let key = VaultKey::generate().unwrap();
    seed(&mut a, &key);
    let doc = exchange::export_document(&a, Some(&key)).unwrap();
    let json = exchange::to_json(&doc, Some((&pw(PASSPHRASE), TEST_KDF))).unwrap();
    for needle in [ALICE_PW, LOCAL_PW, PASSPHRASE] {
        assert!(!json.contains(needle), "`{needle}` in clear in the export");
    }
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value["secrets"]["kdf"]["memory_kib"], 64);
    assert_eq!(value["secrets"]["kdf"]["algorithm"], "argon2id");
    assert!(value["connections"][0]["password_sealed"].is_string()); // alice@prod
    assert!(value["connections"][1].get("password_sealed").is_none()); // bob@dev

    let (_d2, _p2, b) = fresh();
    let before = dump(&b, None);
    let err = exchange::from_json(&json, None).unwrap_err();
    assert!(matches!(err, ExchangeError::PassphraseRequired), "{err:?}");
    assert!(err.to_string().contains("passphrase"), "{err}");
    assert!(err.to_string().contains("without secrets"), "{err}");
    let err = exchange::from_json(&json, Some(&pw("not-it"))).unwrap_err();
    assert!(matches!(err, ExchangeError::WrongPassphrase), "{err:?}");
    assert!(err.to_string().contains("wrong export passphrase"), "{err}");
    assert_eq!(dump(&b, None), before, "nothing is written");

    let without = exchange::from_json_without_secrets(&json).unwrap();
    assert!(without.connections.iter().all(|c| c.password.is_none()));
    let with = exchange::from_json(&json, Some(&pw(PASSPHRASE))).unwrap();
    let passwords: Vec<_> = with
        .connections
        .iter()
        .map(|c| c.password.as_ref().map(|p| p.expose().to_owned()))
        .collect();
    assert_eq!(
        passwords,
        [Some(ALICE_PW.to_owned()), None, Some(LOCAL_PW.to_owned())]
    );

    assert!(matches!(
        exchange::to_json(&doc, Some((&pw(""), TEST_KDF))),
        Err(ExchangeError::EmptyPassphrase)
    ));
    // A passphrase-protected export in which no connection has a password reads without it.
    let no_passwords = exchange::export_document(&a, None).unwrap();
    let json = exchange::to_json(&no_passwords, Some((&pw(PASSPHRASE), TEST_KDF))).unwrap();
    assert!(!serde_json::from_str::<serde_json::Value>(&json).unwrap()["secrets"].is_null());
    assert_eq!(
        exchange::from_json(&json, None).unwrap().connections.len(),
        3
    );
}

#[test]
fn sealed_password_moved_or_altered_names_the_connection() {
    let (_d, _p, mut a) = fresh();
    let key = VaultKey::generate().unwrap();
    seed(&mut a, &key);
    let doc = exchange::export_document(&a, Some(&key)).unwrap();
    let json = exchange::to_json(&doc, Some((&pw(PASSPHRASE), TEST_KDF))).unwrap();
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();

    // alice's sealed password put on `local`.
    let mut moved = value.clone();
    moved["connections"][2]["password_sealed"] = value["connections"][0]["password_sealed"].clone();
    let err = exchange::from_json(&moved.to_string(), Some(&pw(PASSPHRASE))).unwrap_err();
    match &err {
        ExchangeError::TamperedPassword { connection } => assert_eq!(connection, "local"),
        other => panic!("expected TamperedPassword, got {other:?}"),
    }
    assert!(err.to_string().contains("`local`"), "{err}");

    // alice's sealed password on bob, who had none.
    let mut moved = value.clone();
    moved["connections"][1]["password_sealed"] = value["connections"][0]["password_sealed"].clone();
    assert!(matches!(
        exchange::from_json(&moved.to_string(), Some(&pw(PASSPHRASE))),
        Err(ExchangeError::TamperedPassword { connection }) if connection == "bob@dev"
    ));

    // A renamed connection no longer opens its own sealed password either.
    let mut renamed = value.clone();
    renamed["connections"][0]["name"] = "mallory".into();
    assert!(matches!(
        exchange::from_json(&renamed.to_string(), Some(&pw(PASSPHRASE))),
        Err(ExchangeError::TamperedPassword { connection }) if connection == "mallory"
    ));

    // A changed character.
    let mut altered = value.clone();
    let sealed = value["connections"][0]["password_sealed"].as_str().unwrap();
    let flipped: String = sealed
        .chars()
        .enumerate()
        .map(|(i, ch)| {
            if i == 10 {
                if ch == 'A' { 'B' } else { 'A' }
            } else {
                ch
            }
        })
        .collect();
    altered["connections"][0]["password_sealed"] = flipped.into();
    assert!(matches!(
        exchange::from_json(&altered.to_string(), Some(&pw(PASSPHRASE))),
        Err(ExchangeError::TamperedPassword { connection }) if connection == "alice@prod"
    ));
    // Without secrets, the same file still reads.
    assert_eq!(
        exchange::from_json_without_secrets(&altered.to_string())
            .unwrap()
            .connections
            .len(),
        3
    );
}

#[test]
fn bad_json_wrong_format_and_unsupported_version_are_typed() {
    match exchange::from_json("{\n  \"format\": ", None) {
        Err(ExchangeError::NotJson { line, .. }) => assert_eq!(line, 2),
        other => panic!("{other:?}"),
    }
    let err = exchange::from_json("not json at all", None).unwrap_err();
    assert!(err.to_string().starts_with("not JSON: "), "{err}");
    assert!(err.to_string().contains("line 1 column"), "{err}");

    let err =
        exchange::from_json(r#"{"format": "something-else", "version": 1}"#, None).unwrap_err();
    assert!(matches!(err, ExchangeError::NotAnExport { .. }), "{err:?}");
    assert!(err.to_string().contains("\"something-else\""), "{err}");
    assert!(
        err.to_string().contains("not an ores bookmark export"),
        "{err}"
    );
    assert!(matches!(
        exchange::from_json("[1, 2]", None),
        Err(ExchangeError::NotAnExport { found }) if found == "an array"
    ));
    assert!(matches!(
        exchange::from_json(r#"{"version": 1}"#, None),
        Err(ExchangeError::NotAnExport { .. })
    ));

    let err =
        exchange::from_json(r#"{"format": "ores-bookmarks", "version": 2}"#, None).unwrap_err();
    match &err {
        ExchangeError::UnsupportedVersion { found } => assert_eq!(found, "2"),
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("version 2"), "{err}");
    assert!(err.to_string().contains("reads version 1"), "{err}");

    let bad_port = "{\n\"format\": \"ores-bookmarks\",\n\"version\": 1,\n\
                    \"connections\": [{\"name\": \"x\", \"port\": \"high\"}]\n}";
    match exchange::from_json(bad_port, None) {
        Err(ExchangeError::Malformed {
            line,
            column,
            message,
        }) => {
            assert_eq!(line, 4);
            assert!(column > 1);
            assert!(message.contains("line 4"), "{message}");
        }
        other => panic!("{other:?}"),
    }

    let missing_env = r#"{"format": "ores-bookmarks", "version": 1,
        "connections": [{"name": "x", "environment": "nowhere"}]}"#;
    let err = exchange::from_json(missing_env, None).unwrap_err();
    assert!(
        matches!(&err, ExchangeError::MissingEnvironment { connection, environment }
            if connection == "x" && environment == "nowhere"),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "connection `x` uses environment `nowhere`, which is not in the document"
    );

    let sealed_without_secrets = r#"{"format": "ores-bookmarks", "version": 1,
        "connections": [{"name": "x", "password_sealed": "AAAA"}], "secrets": null}"#;
    assert!(matches!(
        exchange::from_json(sealed_without_secrets, None),
        Err(ExchangeError::MalformedSecrets(_))
    ));
}

fn folder(path: &[&str]) -> DocFolder {
    DocFolder {
        path: path.iter().map(|s| (*s).to_owned()).collect(),
        description: String::new(),
    }
}

fn doc_conn(name: &str) -> DocConnection {
    DocConnection {
        name: name.into(),
        folder: vec![],
        environment: None,
        host: Some("h".into()),
        port: Some(1),
        username: String::new(),
        description: String::new(),
        tags: vec![],
        password: None,
    }
}

#[test]
fn documents_are_checked_and_normalized() {
    // Folders out of order are reordered, names trimmed, used tags listed.
    let doc = Document {
        folders: vec![folder(&["a", "b"]), folder(&[" a "])],
        tags: vec!["t1".into()],
        environments: vec![],
        connections: vec![DocConnection {
            folder: vec!["a".into(), "b ".into()],
            tags: vec!["t2".into(), "t1".into(), "t2".into()],
            ..doc_conn(" c ")
        }],
    };
    let n = exchange::normalize(&doc).unwrap();
    assert_eq!(n.folders[0].path, ["a"]);
    assert_eq!(n.folders[1].path, ["a", "b"]);
    assert_eq!(n.tags, ["t1", "t2"]);
    assert_eq!(n.connections[0].name, "c");
    assert_eq!(n.connections[0].tags, ["t1", "t2"]);

    let check = |doc: Document| exchange::normalize(&doc).unwrap_err();
    let dup = Document {
        connections: vec![doc_conn("x"), doc_conn(" x")],
        ..Default::default()
    };
    assert!(matches!(
        check(dup),
        ExchangeError::DuplicateName { kind: RecordKind::Connection, name } if name == "x"
    ));
    let empty = Document {
        connections: vec![doc_conn("  ")],
        ..Default::default()
    };
    let err = check(empty);
    assert!(matches!(
        err,
        ExchangeError::EmptyName {
            kind: RecordKind::Connection,
            ..
        }
    ));
    assert!(err.to_string().contains("connection #1"), "{err}");
    let orphan = Document {
        folders: vec![folder(&["a", "b"])],
        ..Default::default()
    };
    assert!(matches!(
        check(orphan),
        ExchangeError::MissingParentFolder { folder, parent } if folder == "a/b" && parent == "a"
    ));
    let nowhere = Document {
        connections: vec![DocConnection {
            folder: vec!["nowhere".into()],
            ..doc_conn("x")
        }],
        ..Default::default()
    };
    assert!(matches!(
        check(nowhere),
        ExchangeError::MissingFolder { kind: RecordKind::Connection, folder, .. } if folder == "nowhere"
    ));
    let dup_env = Document {
        environments: vec![
            DocEnvironment {
                name: "e".into(),
                folder: vec![],
                host: "h".into(),
                port: 1,
                http_port: 8080,
                subject_prefix: String::new(),
                description: String::new(),
                tags: vec![],
            };
            2
        ],
        ..Default::default()
    };
    assert!(matches!(
        check(dup_env),
        ExchangeError::DuplicateName {
            kind: RecordKind::Environment,
            ..
        }
    ));
}

/// Store B seeded, and a document: B's own export (passwords opened with its key) changed
/// here and there, plus new records.
fn changed_doc(b: &Store, key: &VaultKey) -> Document {
    let mut doc = exchange::export_document(b, Some(key)).unwrap();
    let i = env(&doc, "prod-emea");
    doc.environments[i].host = "nats2.prod.example".into();
    doc.environments[i].tags = vec!["prod".into()];
    let i = conn(&doc, "alice@prod");
    doc.connections[i].description = "ops team".into();
    doc.connections[i].tags = vec!["new-tag".into()];
    doc.connections[i].password = Some(pw("alice-new-pw"));
    let i = conn(&doc, "bob@dev");
    doc.connections[i].username = "robert".into();
    let f = doc.folders.iter().position(|f| f.path == ["dev"]).unwrap();
    doc.folders[f].description = "dev boxes".into();
    doc.folders.push(folder(&["prod", "apac"]));
    doc.connections.push(DocConnection {
        folder: vec!["prod".into(), "apac".into()],
        environment: Some("prod-emea".into()),
        host: None,
        port: None,
        ..doc_conn("carol@prod")
    });
    doc
}

#[test]
fn preview_lists_new_unchanged_and_clashes() {
    let (_d, _p, mut b) = fresh();
    let key = VaultKey::generate().unwrap();
    seed(&mut b, &key);
    let doc = changed_doc(&b, &key);
    let before = dump(&b, Some(&key));

    let preview = exchange::preview_import_with_key(&b, Some(&key), &doc).unwrap();
    let status = |kind, name: &str| preview.item(kind, name).unwrap().status.clone();
    let clash = |fields: &[&str]| RecordStatus::Clash {
        differences: fields.iter().map(|s| (*s).to_owned()).collect(),
    };
    assert_eq!(status(RecordKind::Folder, "prod"), RecordStatus::Unchanged);
    assert_eq!(status(RecordKind::Folder, "prod/apac"), RecordStatus::New);
    assert_eq!(status(RecordKind::Folder, "dev"), clash(&["description"]));
    assert_eq!(status(RecordKind::Tag, "new-tag"), RecordStatus::New);
    assert_eq!(status(RecordKind::Tag, "unused"), RecordStatus::Unchanged);
    assert_eq!(
        status(RecordKind::Environment, "prod-emea"),
        clash(&["host", "tags"])
    );
    assert_eq!(
        status(RecordKind::Environment, "dev"),
        RecordStatus::Unchanged
    );
    assert_eq!(
        status(RecordKind::Connection, "alice@prod"),
        clash(&["description", "tags", "password"])
    );
    assert_eq!(
        status(RecordKind::Connection, "bob@dev"),
        clash(&["username"])
    );
    // Same password as stored: unchanged when compared with the key.
    assert_eq!(
        status(RecordKind::Connection, "local"),
        RecordStatus::Unchanged
    );
    assert_eq!(
        status(RecordKind::Connection, "carol@prod"),
        RecordStatus::New
    );
    let counts = preview.counts();
    assert_eq!((counts.new, counts.unchanged, counts.clashes), (3, 7, 4));
    assert_eq!(preview.clashes().count(), 4);
    assert_eq!(preview.passwords, 2);

    // Without the key, a stored password cannot be compared: it is listed as differing.
    let locked = exchange::preview_import(&b, &doc).unwrap();
    assert_eq!(
        locked.item(RecordKind::Connection, "local").unwrap().status,
        clash(&["password"])
    );
    assert_eq!(dump(&b, Some(&key)), before, "a preview writes nothing");
}

#[test]
fn skip_keeps_the_existing_values() {
    let (_d, _p, mut b) = fresh();
    let key = VaultKey::generate().unwrap();
    seed(&mut b, &key);
    let doc = changed_doc(&b, &key);
    let alice_before = b.connection_by_name("alice@prod").unwrap();
    let report =
        exchange::apply_import(&mut b, Some(&key), &doc, &ImportChoices::default()).unwrap();
    assert_eq!(report.skipped, 4);
    assert_eq!(report.created, 3);
    assert_eq!(report.replaced, 0);
    assert_eq!(report.passwords_imported, 0);
    assert_eq!(b.connection_by_name("alice@prod").unwrap(), alice_before);
    assert_eq!(
        b.environment_by_name("prod-emea").unwrap().spec.host,
        "nats.prod.example"
    );
    assert_eq!(
        b.connection_by_name("bob@dev").unwrap().spec.username,
        "bob"
    );
    let dev = b.folders().unwrap().into_iter().find(|f| f.name == "dev");
    assert_eq!(dev.unwrap().description, "development");
    // The new connection went into the new folder, on the (kept) environment.
    let carol = b.connection_by_name("carol@prod").unwrap();
    let apac = b.folder(carol.spec.folder_id.unwrap()).unwrap();
    assert_eq!(apac.name, "apac");
    assert_eq!(b.folder(apac.parent_id.unwrap()).unwrap().name, "prod");
    assert_eq!(
        carol.spec.environment_id,
        Some(b.environment_by_name("prod-emea").unwrap().id)
    );
    assert_eq!(
        report
            .records
            .iter()
            .find(|r| r.name == "carol@prod")
            .unwrap()
            .action,
        ImportAction::Created
    );
}

#[test]
fn replace_overwrites_keeping_the_id() {
    let (_d, _p, mut b) = fresh();
    let key = VaultKey::generate().unwrap();
    seed(&mut b, &key);
    let doc = changed_doc(&b, &key);
    let alice_id = b.connection_by_name("alice@prod").unwrap().id;
    let env_id = b.environment_by_name("prod-emea").unwrap().id;
    let conns_before = b.connections().unwrap().len();
    let report = exchange::apply_import(
        &mut b,
        Some(&key),
        &doc,
        &ImportChoices::new(ClashChoice::Replace),
    )
    .unwrap();
    assert_eq!(report.replaced, 4);
    assert_eq!(report.skipped, 0);
    assert_eq!(report.passwords_imported, 1); // alice's new one; carol has none
    let alice = b.connection_by_name("alice@prod").unwrap();
    assert_eq!(alice.id, alice_id);
    assert_eq!(alice.spec.description, "ops team");
    assert_eq!(alice.spec.tags, ["new-tag"]);
    assert_eq!(alice.spec.environment_id, Some(env_id));
    assert_eq!(
        open_password(&key, alice_id, &alice.spec.password_sealed.unwrap())
            .unwrap()
            .expose(),
        "alice-new-pw"
    );
    let prod_emea = b.environment_by_name("prod-emea").unwrap();
    assert_eq!(prod_emea.id, env_id);
    assert_eq!(prod_emea.spec.host, "nats2.prod.example");
    assert_eq!(prod_emea.spec.tags, ["prod"]);
    assert_eq!(
        b.connection_by_name("bob@dev").unwrap().spec.username,
        "robert"
    );
    let dev = b.folders().unwrap().into_iter().find(|f| f.name == "dev");
    assert_eq!(dev.unwrap().description, "dev boxes");
    assert_eq!(b.connections().unwrap().len(), conns_before + 1);

    // Replacing with a document that carries no password keeps the stored one.
    let mut doc = exchange::export_document(&b, None).unwrap();
    let i = conn(&doc, "local");
    doc.connections[i].username = "someone".into();
    exchange::apply_import(
        &mut b,
        None,
        &doc,
        &ImportChoices::new(ClashChoice::Replace),
    )
    .unwrap();
    let local = b.connection_by_name("local").unwrap();
    assert_eq!(local.spec.username, "someone");
    assert_eq!(
        open_password(&key, local.id, &local.spec.password_sealed.unwrap())
            .unwrap()
            .expose(),
        LOCAL_PW
    );
}

#[test]
fn keep_both_imports_renamed_copies_and_connections_follow_the_environment() {
    let (_d, _p, mut b) = fresh();
    let key = VaultKey::generate().unwrap();
    seed(&mut b, &key);
    let doc = changed_doc(&b, &key);
    let before_alice = b.connection_by_name("alice@prod").unwrap();
    let choices = ImportChoices::new(ClashChoice::KeepBoth);
    let report = exchange::apply_import(&mut b, Some(&key), &doc, &choices).unwrap();
    let renamed: Vec<_> = report
        .renamed
        .iter()
        .map(|r| (r.kind, r.original.as_str(), r.new_name.as_str()))
        .collect();
    assert_eq!(
        renamed,
        [
            (RecordKind::Environment, "prod-emea", "prod-emea (imported)"),
            (
                RecordKind::Connection,
                "alice@prod",
                "alice@prod (imported)"
            ),
            (RecordKind::Connection, "bob@dev", "bob@dev (imported)"),
        ]
    );
    // A folder clash under KeepBoth keeps the folder (folders are merged).
    assert_eq!(report.skipped, 1);
    let copy_env = b.environment_by_name("prod-emea (imported)").unwrap();
    assert_eq!(copy_env.spec.host, "nats2.prod.example");
    let original_env = b.environment_by_name("prod-emea").unwrap();
    assert_eq!(original_env.spec.host, "nats.prod.example");
    // The document's connections on the renamed environment use the copy...
    let alice_copy = b.connection_by_name("alice@prod (imported)").unwrap();
    assert_eq!(alice_copy.spec.environment_id, Some(copy_env.id));
    assert_eq!(
        open_password(
            &key,
            alice_copy.id,
            &alice_copy.spec.password_sealed.unwrap()
        )
        .unwrap()
        .expose(),
        "alice-new-pw"
    );
    let carol = b.connection_by_name("carol@prod").unwrap();
    assert_eq!(carol.spec.environment_id, Some(copy_env.id));
    // ... and the existing records are untouched.
    assert_eq!(b.connection_by_name("alice@prod").unwrap(), before_alice);
    assert_eq!(report.passwords_imported, 1);

    // Once more: "(imported)" is taken, so "(imported 2)".
    let mut again = doc.clone();
    again.connections.retain(|c| c.name != "carol@prod");
    let report = exchange::apply_import(&mut b, Some(&key), &again, &choices).unwrap();
    let names: Vec<_> = report.renamed.iter().map(|r| r.new_name.as_str()).collect();
    assert_eq!(
        names,
        [
            "prod-emea (imported 2)",
            "alice@prod (imported 2)",
            "bob@dev (imported 2)"
        ]
    );
    let alice2 = b.connection_by_name("alice@prod (imported 2)").unwrap();
    assert_eq!(
        alice2.spec.environment_id,
        Some(b.environment_by_name("prod-emea (imported 2)").unwrap().id)
    );
}

#[test]
fn per_record_choice_overrides_the_default() {
    let (_d, _p, mut b) = fresh();
    let key = VaultKey::generate().unwrap();
    seed(&mut b, &key);
    let doc = changed_doc(&b, &key);
    let choices = ImportChoices::new(ClashChoice::Skip)
        .with(RecordKind::Connection, "bob@dev", ClashChoice::Replace)
        .with(RecordKind::Folder, "dev", ClashChoice::Replace)
        .with(RecordKind::Environment, "prod-emea", ClashChoice::KeepBoth);
    assert_eq!(
        choices.choice_for(RecordKind::Connection, "alice@prod"),
        ClashChoice::Skip
    );
    let report = exchange::apply_import(&mut b, Some(&key), &doc, &choices).unwrap();
    assert_eq!(report.replaced, 2);
    assert_eq!(report.skipped, 1); // alice
    assert_eq!(report.renamed.len(), 1);
    assert_eq!(
        b.connection_by_name("bob@dev").unwrap().spec.username,
        "robert"
    );
    assert_eq!(
        b.connection_by_name("alice@prod").unwrap().spec.description,
        "ops"
    );
    let dev = b.folders().unwrap().into_iter().find(|f| f.name == "dev");
    assert_eq!(dev.unwrap().description, "dev boxes");
    // Skipped alice keeps the environment it had; new carol follows the renamed copy.
    let original = b.environment_by_name("prod-emea").unwrap().id;
    let copy = b.environment_by_name("prod-emea (imported)").unwrap().id;
    assert_eq!(
        b.connection_by_name("alice@prod")
            .unwrap()
            .spec
            .environment_id,
        Some(original)
    );
    assert_eq!(
        b.connection_by_name("carol@prod")
            .unwrap()
            .spec
            .environment_id,
        Some(copy)
    );
}

#[test]
fn a_failing_import_leaves_the_store_unchanged() {
    let (_d, path, mut b) = fresh();
    let key = VaultKey::generate().unwrap();
    seed(&mut b, &key);
    let before = dump(&b, Some(&key));

    // A document whose last connection names a missing environment.
    let mut doc = changed_doc(&b, &key);
    doc.connections.push(DocConnection {
        environment: Some("nowhere".into()),
        ..doc_conn("zz-broken")
    });
    let err = exchange::apply_import(
        &mut b,
        Some(&key),
        &doc,
        &ImportChoices::new(ClashChoice::Replace),
    )
    .unwrap_err();
    assert!(
        matches!(
            &err,
            BookmarkError::Exchange(ExchangeError::MissingEnvironment { connection, .. })
                if connection == "zz-broken"
        ),
        "{err:?}"
    );
    assert_eq!(dump(&b, Some(&key)), before);

    // The store itself fails on the last record, after the others were written.
    {
        let db = rusqlite::Connection::open(&path).unwrap();
        db.execute_batch(
            "CREATE TRIGGER boom BEFORE INSERT ON connections WHEN NEW.name = 'zz-boom' \
             BEGIN SELECT RAISE(ABORT, 'forced failure'); END;",
        )
        .unwrap();
    }
    let mut doc = changed_doc(&b, &key);
    doc.connections.push(doc_conn("zz-boom"));
    let err = exchange::apply_import(
        &mut b,
        Some(&key),
        &doc,
        &ImportChoices::new(ClashChoice::KeepBoth),
    )
    .unwrap_err();
    assert!(
        matches!(&err, BookmarkError::Store(StoreError::Sqlite(_))),
        "{err:?}"
    );
    assert!(err.to_string().contains("forced failure"), "{err}");
    assert_eq!(dump(&b, Some(&key)), before, "all or nothing");
    assert_eq!(b.folders().unwrap().len(), 3);
    assert!(b.tag_by_name("new-tag").is_err());
}

#[test]
fn importing_passwords_while_locked_writes_nothing() {
    let (_d, _p, mut b) = fresh();
    let key = VaultKey::generate().unwrap();
    seed(&mut b, &key);
    let before = dump(&b, Some(&key));
    let doc = changed_doc(&b, &key);
    let err = exchange::apply_import(&mut b, None, &doc, &ImportChoices::default()).unwrap_err();
    assert!(matches!(err, BookmarkError::Locked), "{err:?}");
    assert_eq!(dump(&b, Some(&key)), before);
    // Without passwords, no key is needed.
    let mut plain = doc;
    for c in &mut plain.connections {
        c.password = None;
    }
    let report = exchange::apply_import(&mut b, None, &plain, &ImportChoices::default()).unwrap();
    assert_eq!(report.created, 3);
}

// ------------------------------------------------------------ the handle

async fn start(path: &Path) -> (Supervisor, Bookmarks) {
    let spec = actor::child_spec_with(BookmarkConfig {
        path: path.to_owned(),
        kdf: TEST_KDF,
    });
    let bm = Bookmarks::new(spec.handle());
    let sup = Supervisor::builder("t").child(spec).spawn().await.unwrap();
    (sup, bm)
}

#[tokio::test]
async fn through_the_actor_handle() {
    // Source: a store with passwords, exported through its actor.
    let dir = tempfile::tempdir().unwrap();
    let src_path = dir.path().join("src.db");
    let (_src_sup, src) = start(&src_path).await;
    src.init(pw("src-master")).await.unwrap();
    src.unlock(pw("src-master")).await.unwrap();
    src.with_vault(|s, key| {
        seed(s, key);
        Ok(())
    })
    .await
    .unwrap();
    src.lock().await.unwrap();
    assert!(matches!(src.export(true).await, Err(BookmarkError::Locked)));
    let plain = src.export(false).await.unwrap();
    assert!(plain.connections.iter().all(|c| c.password.is_none()));
    src.unlock(pw("src-master")).await.unwrap();
    let doc = src.export(true).await.unwrap();
    let json = exchange::to_json(&doc, Some((&pw(PASSPHRASE), TEST_KDF))).unwrap();

    // Target: a fresh store, locked.
    let dst_path = dir.path().join("dst.db");
    let (_dst_sup, dst) = start(&dst_path).await;
    dst.init(pw("dst-master")).await.unwrap();
    let doc = exchange::from_json(&json, Some(&pw(PASSPHRASE))).unwrap();
    let preview = dst.preview_import(doc.clone()).await.unwrap();
    assert_eq!(preview.counts().new, 11);
    assert_eq!(preview.passwords, 2);
    assert!(matches!(
        dst.import(doc.clone(), ImportChoices::default()).await,
        Err(BookmarkError::Locked)
    ));
    assert!(dst.connections().await.unwrap().is_empty());

    dst.unlock(pw("dst-master")).await.unwrap();
    let report = dst
        .import(doc.clone(), ImportChoices::default())
        .await
        .unwrap();
    assert_eq!(report.created, 11);
    assert_eq!(report.passwords_imported, 2);
    let alice = dst.connection_by_name("alice@prod").await.unwrap();
    assert_eq!(
        dst.connection_password(alice.id).await.unwrap().expose(),
        ALICE_PW
    );
    // With the vault unlocked, the preview compares passwords: all unchanged.
    let preview = dst.preview_import(doc).await.unwrap();
    assert_eq!(preview.counts().unchanged, 11, "{preview:#?}");
    // A document without passwords imports while locked.
    dst.lock().await.unwrap();
    let mut extra = Document::default();
    extra.connections.push(doc_conn("extra"));
    let report = dst.import(extra, ImportChoices::default()).await.unwrap();
    assert_eq!(report.created, 1);
}
