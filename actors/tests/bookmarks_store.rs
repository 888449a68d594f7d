//! The SQLite bookmark store: schema, permissions, foreign files, every operation, cascades.
#![cfg(feature = "connections")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ores_actors::connections::model::{
    ConnectionSpec, DEFAULT_HTTP_PORT, EnvironmentSpec, RECENT_PARTIES_CAP, Vault,
};
use ores_actors::connections::store::{Store, StoreError};
use tempfile::TempDir;

fn fresh() -> (TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("sub/dir/connections.db")).unwrap();
    (dir, store)
}

fn reopen(store: Store) -> Store {
    let path = store.path().to_owned();
    drop(store);
    Store::open(path).unwrap()
}

fn env_spec(name: &str, host: &str) -> EnvironmentSpec {
    EnvironmentSpec {
        name: name.into(),
        host: host.into(),
        port: 4222,
        subject_prefix: format!("{name}.ores"),
        ..Default::default()
    }
}

fn conn_spec(name: &str, host: &str) -> ConnectionSpec {
    ConnectionSpec {
        name: name.into(),
        host: Some(host.into()),
        port: Some(4222),
        username: "alice".into(),
        password_sealed: Some(vec![1, 2, 3]),
        ..Default::default()
    }
}

#[cfg(unix)]
#[test]
fn file_is_owner_only_and_schema_is_versioned() {
    use std::os::unix::fs::PermissionsExt;
    let (_dir, store) = fresh();
    let mode = std::fs::metadata(store.path())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(store.schema_version().unwrap(), 1);
    assert!(store.foreign_keys_enabled().unwrap());
    let store = reopen(store);
    assert_eq!(store.schema_version().unwrap(), 1);
    assert!(store.foreign_keys_enabled().unwrap());
    let raw = rusqlite::Connection::open(store.path()).unwrap();
    let mode: String = raw
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[test]
fn a_text_file_is_not_a_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    std::fs::write(
        &path,
        "this is a text file, not SQLite, and it is long enough\n".repeat(20),
    )
    .unwrap();
    let err = Store::open(&path).unwrap_err();
    assert!(matches!(err, StoreError::NotADatabase { .. }), "{err:?}");
    assert!(
        err.to_string().contains("is not a SQLite database"),
        "{err}"
    );
}

#[test]
fn a_damaged_file_is_a_clear_error_and_is_left_as_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("connections.db");
    {
        let mut store = Store::open(&path).unwrap();
        for i in 0..400 {
            store
                .create_connection(&conn_spec(&format!("connection-{i:04}"), "host.example"))
                .unwrap();
        }
    } // closing the last connection checkpoints the WAL into the file
    let mut bytes = std::fs::read(&path).unwrap();
    let page = 4096;
    assert!(bytes.len() >= 6 * page, "{} bytes", bytes.len());
    // Scribble over the b-tree page headers of pages 3 to 5.
    for p in 2..5 {
        bytes[p * page..p * page + 64].fill(0xA5);
    }
    std::fs::write(&path, &bytes).unwrap();
    let err = Store::open(&path).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("connections.db") && message.contains("is damaged"),
        "{message}"
    );
    // Nothing was repaired or rewritten behind the user's back.
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
}

#[test]
fn another_sqlite_database_is_foreign() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.db");
    {
        let db = rusqlite::Connection::open(&path).unwrap();
        db.execute_batch("CREATE TABLE t (x INTEGER);").unwrap();
    }
    let err = Store::open(&path).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Foreign {
                application_id: 0,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("not an ores bookmark store"),
        "{err}"
    );

    let other_app = dir.path().join("app.db");
    {
        let db = rusqlite::Connection::open(&other_app).unwrap();
        db.pragma_update(None, "application_id", 42).unwrap();
    }
    let err = Store::open(&other_app).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Foreign {
                application_id: 42,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn a_newer_schema_is_refused() {
    let (_dir, store) = fresh();
    let path = store.path().to_owned();
    drop(store);
    {
        let db = rusqlite::Connection::open(&path).unwrap();
        db.pragma_update(None, "user_version", 99).unwrap();
    }
    let err = Store::open(&path).unwrap_err();
    assert!(
        matches!(err, StoreError::TooNew { found: 99, .. }),
        "{err:?}"
    );
}

#[test]
fn folders_crud_and_moves() {
    let (_dir, mut store) = fresh();
    let a = store.create_folder("a", None, "top").unwrap();
    let b = store.create_folder("b", Some(a), "").unwrap();
    let c = store.create_folder("c", Some(b), "").unwrap();
    let d = store.create_folder("d", None, "").unwrap();
    assert_eq!(store.folder(b).unwrap().parent_id, Some(a));
    assert_eq!(store.folders().unwrap().len(), 4);

    // Sibling names are unique, including at the top level.
    let err = store.create_folder("a", None, "").unwrap_err();
    assert_eq!(err.to_string(), "a folder named `a` already exists");
    store
        .create_folder("b", Some(d), "same name, other parent")
        .unwrap();
    assert!(matches!(
        store.create_folder("  ", None, ""),
        Err(StoreError::EmptyName { kind: "folder" })
    ));

    store.update_folder(a, "alpha", "renamed").unwrap();
    let alpha = store.folder(a).unwrap();
    assert_eq!(
        (alpha.name.as_str(), alpha.description.as_str()),
        ("alpha", "renamed")
    );

    let err = store.move_folder(a, Some(c)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "folder `alpha` cannot move under its own descendant `c`"
    );
    let err = store.move_folder(a, Some(a)).unwrap_err();
    assert!(
        matches!(err, StoreError::FolderIntoItself { .. }),
        "{err:?}"
    );
    // d already has a `b`.
    let err = store.move_folder(b, Some(d)).unwrap_err();
    assert!(
        matches!(err, StoreError::NameTaken { kind: "folder", .. }),
        "{err:?}"
    );

    store.move_folder(c, Some(d)).unwrap();
    assert_eq!(store.folder(c).unwrap().parent_id, Some(d));
    store.move_folder(c, None).unwrap();
    assert_eq!(store.folder(c).unwrap().parent_id, None);
    store.move_folder(a, Some(c)).unwrap();
    assert_eq!(store.folder(a).unwrap().parent_id, Some(c));

    store.delete_folder(d).unwrap();
    let err = store.folder(d).unwrap_err();
    assert_eq!(err.to_string(), format!("no folder with id {d}"));
    assert!(matches!(
        store.delete_folder(d),
        Err(StoreError::NotFound { kind: "folder", .. })
    ));
}

#[test]
fn deleting_a_folder_cascades_on_a_fresh_connection() {
    let (_dir, mut store) = fresh();
    let top = store.create_folder("top", None, "").unwrap();
    let sub = store.create_folder("sub", Some(top), "").unwrap();
    let keep = store.create_folder("keep", None, "").unwrap();
    let env = store
        .create_environment(&EnvironmentSpec {
            folder_id: Some(sub),
            ..env_spec("uat", "uat.example")
        })
        .unwrap();
    store
        .create_connection(&ConnectionSpec {
            folder_id: Some(sub),
            tags: vec!["x".into()],
            ..conn_spec("deep", "h")
        })
        .unwrap();
    store
        .create_connection(&ConnectionSpec {
            folder_id: Some(keep),
            environment_id: Some(env),
            ..conn_spec("kept", "h")
        })
        .unwrap();

    // ORE's bug: foreign keys were on only for the connection that created the schema.
    let mut store = reopen(store);
    store.delete_folder(top).unwrap();
    assert!(store.folder(sub).is_err());
    assert!(store.environment(env).is_err());
    assert!(store.connection_by_name("deep").is_err());
    let kept = store.connection_by_name("kept").unwrap();
    assert_eq!(kept.spec.environment_id, None, "the link is set to NULL");
    assert_eq!(store.folders().unwrap().len(), 1);
}

#[test]
fn deleting_a_tag_removes_its_links_on_a_fresh_connection() {
    let (_dir, mut store) = fresh();
    store
        .create_connection(&ConnectionSpec {
            tags: vec!["prod".into(), "eu".into()],
            ..conn_spec("c", "h")
        })
        .unwrap();
    store
        .create_environment(&EnvironmentSpec {
            tags: vec!["prod".into()],
            ..env_spec("e", "h")
        })
        .unwrap();
    let mut store = reopen(store);
    let prod = store.tag_by_name("prod").unwrap();
    store.delete_tag(prod.id).unwrap();
    assert_eq!(store.connection_by_name("c").unwrap().spec.tags, vec!["eu"]);
    assert!(store.environment_by_name("e").unwrap().spec.tags.is_empty());
    assert!(matches!(
        store.tag_by_name("prod"),
        Err(StoreError::NoSuchName { kind: "tag", .. })
    ));
}

#[test]
fn tags_crud() {
    let (_dir, mut store) = fresh();
    let t = store.create_tag("prod").unwrap();
    assert_eq!(
        store.create_tag("prod").unwrap_err().to_string(),
        "a tag named `prod` already exists"
    );
    store.create_tag("dev").unwrap();
    let names: Vec<_> = store.tags().unwrap().into_iter().map(|t| t.name).collect();
    assert_eq!(names, ["dev", "prod"]);
    let c = store
        .create_connection(&ConnectionSpec {
            tags: vec!["prod".into()],
            ..conn_spec("c", "h")
        })
        .unwrap();
    store.rename_tag(t, "production").unwrap();
    assert_eq!(store.connection(c).unwrap().spec.tags, vec!["production"]);
    assert!(store.rename_tag(t, "dev").is_err());
    store.delete_tag(t).unwrap();
    assert!(store.delete_tag(t).is_err());
}

#[test]
fn environments_crud() {
    let (_dir, mut store) = fresh();
    let f = store.create_folder("f", None, "").unwrap();
    let spec = EnvironmentSpec {
        tags: vec!["b".into(), "a".into(), "a".into()],
        ..env_spec("uat", "uat.example")
    };
    assert_eq!(spec.http_port, DEFAULT_HTTP_PORT);
    let id = store.create_environment(&spec).unwrap();
    let env = store.environment(id).unwrap();
    assert_eq!(env.spec.tags, vec!["a", "b"]);
    assert_eq!(env.spec.host, "uat.example");
    assert_eq!(env.spec.http_port, 8080);
    assert_eq!(
        store.create_environment(&spec).unwrap_err().to_string(),
        "an environment named `uat` already exists"
    );

    let mut updated = env.spec.clone();
    updated.host = "uat2.example".into();
    updated.http_port = 9090;
    updated.tags = vec!["c".into()];
    store.update_environment(id, &updated).unwrap();
    let env = store.environment_by_name("uat").unwrap();
    assert_eq!(env.spec.host, "uat2.example");
    assert_eq!(env.spec.http_port, 9090);
    assert_eq!(env.spec.tags, vec!["c"]);

    store.move_environment(id, Some(f)).unwrap();
    assert_eq!(store.environment(id).unwrap().spec.folder_id, Some(f));
    store.move_environment(id, None).unwrap();
    assert_eq!(store.environment(id).unwrap().spec.folder_id, None);
    assert!(
        store
            .move_environment(id, Some(ores_actors::connections::model::FolderId(999)))
            .is_err()
    );

    assert_eq!(store.environments().unwrap().len(), 1);
    store.delete_environment(id).unwrap();
    assert_eq!(
        store.environment_by_name("uat").unwrap_err().to_string(),
        "no environment named `uat`"
    );
}

#[test]
fn connections_crud_duplicate_and_resolve() {
    let (_dir, mut store) = fresh();
    let f = store.create_folder("f", None, "").unwrap();
    let env = store
        .create_environment(&env_spec("prod", "prod.example"))
        .unwrap();

    let own = store
        .create_connection(&conn_spec("own", "own.example"))
        .unwrap();
    let linked = store
        .create_connection(&ConnectionSpec {
            name: "linked".into(),
            environment_id: Some(env),
            username: "bob".into(),
            password_sealed: Some(vec![9; 40]),
            tags: vec!["t".into()],
            ..Default::default()
        })
        .unwrap();
    assert!(matches!(
        store.create_connection(&conn_spec("own", "x")),
        Err(StoreError::NameTaken {
            kind: "connection",
            ..
        })
    ));

    let r = store.resolve(own).unwrap();
    assert_eq!(
        (r.host.as_str(), r.port, r.http_port),
        ("own.example", 4222, 8080)
    );
    assert_eq!(r.subject_prefix, "");
    assert_eq!(r.username, "alice");
    assert_eq!(r.password_sealed, Some(vec![1, 2, 3]));

    let r = store.resolve_by_name("linked").unwrap();
    assert_eq!(r.host, "prod.example");
    assert_eq!(r.subject_prefix, "prod.ores");
    assert_eq!(r.username, "bob");
    assert_eq!(r.password_sealed, Some(vec![9; 40]));
    assert_eq!(
        store.resolve_by_name("nope").unwrap_err().to_string(),
        "no connection named `nope`"
    );

    let bare = store
        .create_connection(&ConnectionSpec {
            name: "bare".into(),
            ..Default::default()
        })
        .unwrap();
    assert!(matches!(
        store.resolve(bare),
        Err(StoreError::Unresolvable { .. })
    ));

    // Update, password, move.
    let mut spec = store.connection(own).unwrap().spec;
    spec.username = "carol".into();
    spec.tags = vec!["x".into(), "y".into()];
    store.update_connection(own, &spec).unwrap();
    let c = store.connection(own).unwrap();
    assert_eq!(c.spec.username, "carol");
    assert_eq!(c.spec.tags, vec!["x", "y"]);
    store.set_connection_password(own, None).unwrap();
    assert_eq!(store.connection(own).unwrap().spec.password_sealed, None);
    store.set_connection_password(own, Some(&[7, 7])).unwrap();
    assert_eq!(
        store.resolve(own).unwrap().password_sealed,
        Some(vec![7, 7])
    );
    store.move_connection(own, Some(f)).unwrap();
    assert_eq!(store.connection(own).unwrap().spec.folder_id, Some(f));

    // Duplicate.
    let copy = store.duplicate_connection(linked).unwrap();
    let copy = store.connection(copy).unwrap();
    assert_eq!(copy.spec.name, "linked (copy)");
    assert_eq!(copy.spec.environment_id, Some(env));
    assert_eq!(copy.spec.tags, vec!["t"]);
    assert_eq!(copy.spec.password_sealed, Some(vec![9; 40]));
    let copy2 = store.duplicate_connection(linked).unwrap();
    assert_eq!(
        store.connection(copy2).unwrap().spec.name,
        "linked (copy 2)"
    );

    assert_eq!(store.connections().unwrap().len(), 5);
    store.delete_connection(copy.id).unwrap();
    assert!(matches!(
        store.connection(copy.id),
        Err(StoreError::NotFound {
            kind: "connection",
            ..
        })
    ));
    assert!(store.delete_connection(copy.id).is_err());
}

#[test]
fn search_by_name_host_or_tag_ignoring_case() {
    let (_dir, mut store) = fresh();
    let env = store
        .create_environment(&env_spec("Production", "nats.PROD.example"))
        .unwrap();
    store
        .create_connection(&ConnectionSpec {
            name: "Trader desk".into(),
            environment_id: Some(env),
            ..Default::default()
        })
        .unwrap();
    store
        .create_connection(&ConnectionSpec {
            tags: vec!["Europe".into()],
            ..conn_spec("local", "localhost")
        })
        .unwrap();

    let found = store.search("prod").unwrap();
    assert_eq!(found.environments.len(), 1);
    // The linked connection matches on its environment's host.
    let names: Vec<_> = found
        .connections
        .iter()
        .map(|c| c.spec.name.as_str())
        .collect();
    assert_eq!(names, ["Trader desk"]);

    let found = store.search("TRADER").unwrap();
    assert_eq!(found.connections.len(), 1);
    assert!(found.environments.is_empty());

    let found = store.search("europe").unwrap();
    assert_eq!(found.connections[0].spec.name, "local");
    let found = store.search("LOCALHOST").unwrap();
    assert_eq!(found.connections.len(), 1);
    assert!(store.search("nothing").unwrap().connections.is_empty());

    // Case is ignored beyond ASCII too, in names and in tags.
    store
        .create_connection(&ConnectionSpec {
            tags: vec!["Société".into()],
            ..conn_spec("Zürich-Handel", "zh.example")
        })
        .unwrap();
    assert_eq!(
        store.search("ZÜRICH").unwrap().connections[0].spec.name,
        "Zürich-Handel"
    );
    assert_eq!(store.search("SOCIÉTÉ").unwrap().connections.len(), 1);
    // Everything, for an empty query.
    assert_eq!(store.search("  ").unwrap().connections.len(), 3);
}

#[test]
fn tree_nests_folders_with_their_items() {
    let (_dir, mut store) = fresh();
    let a = store.create_folder("a", None, "").unwrap();
    let b = store.create_folder("b", Some(a), "").unwrap();
    store.create_folder("z", None, "").unwrap();
    store
        .create_environment(&EnvironmentSpec {
            folder_id: Some(b),
            ..env_spec("e", "h")
        })
        .unwrap();
    store
        .create_connection(&ConnectionSpec {
            folder_id: Some(a),
            ..conn_spec("in-a", "h")
        })
        .unwrap();
    store.create_connection(&conn_spec("top", "h")).unwrap();

    let tree = store.tree().unwrap();
    let top: Vec<_> = tree
        .folders
        .iter()
        .map(|n| n.folder.name.as_str())
        .collect();
    assert_eq!(top, ["a", "z"]);
    assert_eq!(tree.connections[0].spec.name, "top");
    assert!(tree.environments.is_empty());
    let a_node = &tree.folders[0];
    assert_eq!(a_node.contents.connections[0].spec.name, "in-a");
    let b_node = &a_node.contents.folders[0];
    assert_eq!(b_node.folder.name, "b");
    assert_eq!(b_node.contents.environments[0].spec.name, "e");
    assert!(tree.folders[1].contents.folders.is_empty());
}

#[test]
fn recent_parties_newest_first_capped() {
    let (_dir, mut store) = fresh();
    assert!(store.recent_parties().unwrap().is_empty());
    for i in 1..=7 {
        store
            .add_recent_party(&format!("p{i}"), &format!("Party {i}"))
            .unwrap();
    }
    let ids: Vec<_> = store
        .recent_parties()
        .unwrap()
        .into_iter()
        .map(|p| p.party_id)
        .collect();
    assert_eq!(ids.len(), RECENT_PARTIES_CAP);
    assert_eq!(ids, ["p7", "p6", "p5", "p4", "p3"]);

    // Re-adding moves to the front (and updates the name).
    store.add_recent_party("p4", "Party Four").unwrap();
    let parties = store.recent_parties().unwrap();
    let ids: Vec<_> = parties.iter().map(|p| p.party_id.as_str()).collect();
    assert_eq!(ids, ["p4", "p7", "p6", "p5", "p3"]);
    assert_eq!(parties[0].party_name, "Party Four");
    assert!(parties[0].last_selected_at_ms > 0);

    let mut store = reopen(store);
    assert_eq!(store.recent_parties().unwrap().len(), 5);
    store.clear_recent_parties().unwrap();
    assert!(store.recent_parties().unwrap().is_empty());
}

#[test]
fn vault_row_round_trips() {
    let (_dir, mut store) = fresh();
    assert_eq!(store.get_vault().unwrap(), None);
    let v1 = Vault {
        wrapped: vec![0xAB; 60],
        params: "argon2id;m=65536;t=3;p=1".into(),
    };
    store.set_vault(&v1).unwrap();
    assert_eq!(store.get_vault().unwrap(), Some(v1));
    let v2 = Vault {
        wrapped: vec![0xCD; 60],
        params: "v2".into(),
    };
    store.set_vault(&v2).unwrap();
    let store = reopen(store);
    assert_eq!(store.get_vault().unwrap(), Some(v2));
}

#[test]
fn a_panicking_transaction_is_undone_and_the_store_stays_usable() {
    let (_dir, mut store) = fresh();
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _: Result<(), StoreError> = store.transaction(|s| {
            s.create_folder("half-done", None, "")?;
            panic!("boom");
        });
    }));
    assert!(caught.is_err());
    assert!(store.folders().unwrap().is_empty());
    // No transaction was left open: the next one commits and is seen by a fresh connection.
    store
        .transaction(|s| s.create_folder("kept", None, "").map(|_| ()))
        .unwrap();
    let store = reopen(store);
    assert_eq!(store.folders().unwrap()[0].name, "kept");
}
