//! The supervised bookmark store actor: init/unlock/lock, wrong password, passwords sealed per
//! connection, master-password change, no plaintext on disk, tampering, restarts.
#![cfg(feature = "connections")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use ores_actors::connections::actor::{self, BookmarkConfig, BookmarkError, Bookmarks};
use ores_actors::connections::model::{ConnectionId, ConnectionSpec, EnvironmentSpec, Vault};
use ores_actors::connections::store::Store;
use ores_actors::connections::vault::{self, KdfParams, Secret, VaultError, VaultKey};
use ores_runtime::supervisor::{ChildStatus, Supervisor, SupervisorEvent};
use tempfile::TempDir;

/// Cheap key derivation so debug builds stay fast; the policy itself is tested in the vault.
const TEST_KDF: KdfParams = KdfParams {
    memory_kib: 64,
    iterations: 2,
    parallelism: 1,
};

const MASTER: &str = "master-pw-ores-c41d";
const SECRET: &str = "s3cr3t-ores-7f9a";

fn pw(s: &str) -> Secret {
    Secret::from(s)
}

struct Fixture {
    _dir: TempDir,
    path: PathBuf,
    sup: Supervisor,
    bm: Bookmarks,
}

async fn start_at(dir: TempDir, path: PathBuf, kdf: KdfParams) -> Fixture {
    let spec = actor::child_spec_with(BookmarkConfig {
        path: path.clone(),
        kdf,
    });
    assert_eq!(spec.id(), "bookmarks");
    let bm = Bookmarks::new(spec.handle());
    let sup = Supervisor::builder("t").child(spec).spawn().await.unwrap();
    Fixture {
        _dir: dir,
        path,
        sup,
        bm,
    }
}

/// A store with two connections (ids returned) and a supervised actor over it.
async fn start() -> (Fixture, ConnectionId, ConnectionId) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("connections.db");
    let (a, b) = {
        let mut store = Store::open(&path).unwrap();
        let spec = |name: &str| ConnectionSpec {
            name: name.into(),
            host: Some("localhost".into()),
            port: Some(4222),
            username: "alice".into(),
            ..Default::default()
        };
        (
            store.create_connection(&spec("alpha")).unwrap(),
            store.create_connection(&spec("beta")).unwrap(),
        )
    };
    (start_at(dir, path, TEST_KDF).await, a, b)
}

#[tokio::test]
async fn init_unlock_lock() {
    let (f, _, _) = start().await;
    assert!(!f.bm.is_unlocked().await.unwrap());
    assert!(matches!(
        f.bm.unlock(pw(MASTER)).await,
        Err(BookmarkError::NotInitialized)
    ));
    f.bm.init(pw(MASTER)).await.unwrap();
    assert!(!f.bm.is_unlocked().await.unwrap());
    assert!(matches!(
        f.bm.init(pw("other")).await,
        Err(BookmarkError::AlreadyInitialized)
    ));
    f.bm.unlock(pw(MASTER)).await.unwrap();
    assert!(f.bm.is_unlocked().await.unwrap());
    f.bm.lock().await.unwrap();
    assert!(!f.bm.is_unlocked().await.unwrap());
    // Listing needs no key.
    assert_eq!(f.bm.connections().await.unwrap().len(), 2);
    assert_eq!(f.bm.search("alp").await.unwrap().connections.len(), 1);
}

#[tokio::test]
async fn wrong_password_is_typed_and_changes_nothing() {
    let (f, _, _) = start().await;
    f.bm.init(pw(MASTER)).await.unwrap();
    let before = Store::open(&f.path).unwrap().get_vault().unwrap();
    let err = f.bm.unlock(pw("wrong")).await.unwrap_err();
    assert!(err.is_wrong_password(), "{err:?}");
    assert_eq!(err.to_string(), "wrong master password");
    assert!(!f.bm.is_unlocked().await.unwrap());
    assert_eq!(Store::open(&f.path).unwrap().get_vault().unwrap(), before);
    f.bm.unlock(pw(MASTER)).await.unwrap();
}

#[tokio::test]
async fn password_round_trip_and_resolve() {
    let (f, a, b) = start().await;
    f.bm.init(pw(MASTER)).await.unwrap();
    f.bm.unlock(pw(MASTER)).await.unwrap();
    f.bm.save_connection_password(a, pw(SECRET)).await.unwrap();
    assert_eq!(f.bm.connection_password(a).await.unwrap().expose(), SECRET);
    let (resolved, secret) = f.bm.resolve("alpha").await.unwrap();
    assert_eq!(resolved.host, "localhost");
    assert_eq!(secret.unwrap().expose(), SECRET);
    let (_, none) = f.bm.resolve("beta").await.unwrap();
    assert!(none.is_none());
    assert!(f.bm.connection_password(b).await.is_err());
    // Still there after locking and unlocking again.
    f.bm.lock().await.unwrap();
    f.bm.unlock(pw(MASTER)).await.unwrap();
    assert_eq!(f.bm.connection_password(a).await.unwrap().expose(), SECRET);
}

#[tokio::test]
async fn locked_vault_refuses_secrets() {
    let (f, a, _) = start().await;
    f.bm.init(pw(MASTER)).await.unwrap();
    let err =
        f.bm.save_connection_password(a, pw(SECRET))
            .await
            .unwrap_err();
    assert!(matches!(err, BookmarkError::Locked));
    assert_eq!(
        err.to_string(),
        "the vault is locked: unlock it with the master password first"
    );
    f.bm.unlock(pw(MASTER)).await.unwrap();
    f.bm.save_connection_password(a, pw(SECRET)).await.unwrap();
    f.bm.lock().await.unwrap();
    assert!(matches!(
        f.bm.connection_password(a).await,
        Err(BookmarkError::Locked)
    ));
    assert!(matches!(
        f.bm.resolve("alpha").await,
        Err(BookmarkError::Locked)
    ));
    // A connection without a password resolves while locked.
    assert!(f.bm.resolve("beta").await.unwrap().1.is_none());
}

#[tokio::test]
async fn change_master_password_then_only_the_new_one_opens() {
    let (f, a, _) = start().await;
    f.bm.init(pw(MASTER)).await.unwrap();
    f.bm.unlock(pw(MASTER)).await.unwrap();
    f.bm.save_connection_password(a, pw(SECRET)).await.unwrap();
    assert!(
        f.bm.change_master_password(pw("wrong"), pw("new-master"))
            .await
            .unwrap_err()
            .is_wrong_password()
    );
    f.bm.change_master_password(pw(MASTER), pw("new-master"))
        .await
        .unwrap();
    assert!(f.bm.is_unlocked().await.unwrap());
    f.bm.lock().await.unwrap();
    assert!(
        f.bm.unlock(pw(MASTER))
            .await
            .unwrap_err()
            .is_wrong_password()
    );
    f.bm.unlock(pw("new-master")).await.unwrap();
    assert_eq!(f.bm.connection_password(a).await.unwrap().expose(), SECRET);
}

fn assert_no_plaintext(db: &Path, needles: &[&str]) {
    let mut checked = 0;
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let file = PathBuf::from(format!("{}{suffix}", db.display()));
        let Ok(bytes) = std::fs::read(&file) else {
            continue;
        };
        checked += 1;
        for needle in needles {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
                "`{needle}` found in clear in {}",
                file.display()
            );
        }
    }
    assert!(checked >= 1);
}

#[tokio::test]
async fn no_plaintext_secret_on_disk() {
    let (f, a, b) = start().await;
    f.bm.init(pw(MASTER)).await.unwrap();
    f.bm.unlock(pw(MASTER)).await.unwrap();
    f.bm.save_connection_password(a, pw(SECRET)).await.unwrap();
    f.bm.save_connection_password(b, pw(SECRET)).await.unwrap();
    f.bm.change_master_password(pw(MASTER), pw("n3w-master-ores-2b8e"))
        .await
        .unwrap();
    // While the actor still has the file open (WAL not checkpointed) ...
    assert!(Path::new(&format!("{}-wal", f.path.display())).exists());
    assert_no_plaintext(&f.path, &[SECRET, MASTER, "n3w-master-ores-2b8e"]);
    // ... and after it stopped.
    f.sup.shutdown(Duration::from_secs(5)).await.unwrap();
    assert_no_plaintext(&f.path, &[SECRET, MASTER, "n3w-master-ores-2b8e"]);
}

#[tokio::test]
async fn ciphertext_moved_to_another_row_is_tampered() {
    let (f, a, b) = start().await;
    f.bm.init(pw(MASTER)).await.unwrap();
    f.bm.unlock(pw(MASTER)).await.unwrap();
    f.bm.save_connection_password(a, pw(SECRET)).await.unwrap();
    {
        let db = rusqlite::Connection::open(&f.path).unwrap();
        db.execute(
            "UPDATE connections SET password_sealed = \
             (SELECT password_sealed FROM connections WHERE id = ?1) WHERE id = ?2",
            [a.0, b.0],
        )
        .unwrap();
    }
    match f.bm.connection_password(b).await {
        Err(BookmarkError::Vault(VaultError::Tampered { record, field })) => {
            assert_eq!(record, format!("connection:{}", b.0));
            assert_eq!(field, "password");
        }
        other => panic!("expected Tampered, got {other:?}"),
    }
    let err = f.bm.resolve("beta").await.unwrap_err();
    assert!(
        err.to_string().contains(&format!("connection:{}", b.0)),
        "{err}"
    );
    // The original still opens.
    assert_eq!(f.bm.connection_password(a).await.unwrap().expose(), SECRET);
}

#[tokio::test]
async fn restarted_actor_comes_back_locked_with_the_file_intact() {
    let (f, a, _) = start().await;
    f.bm.init(pw(MASTER)).await.unwrap();
    f.bm.unlock(pw(MASTER)).await.unwrap();
    f.bm.save_connection_password(a, pw(SECRET)).await.unwrap();
    let mut events = f.sup.events();
    f.bm.child().current().unwrap().kill();
    // The supervisor restarts it; the handle follows.
    events
        .wait_for(
            Duration::from_secs(10),
            |e| matches!(e, SupervisorEvent::Started { child, .. } if &**child == "bookmarks"),
        )
        .await
        .expect("restarted");
    assert_eq!(f.bm.child().status(), ChildStatus::Running);
    assert!(!f.bm.is_unlocked().await.unwrap());
    assert!(matches!(
        f.bm.connection_password(a).await,
        Err(BookmarkError::Locked)
    ));
    f.bm.unlock(pw(MASTER)).await.unwrap();
    assert_eq!(f.bm.connection_password(a).await.unwrap().expose(), SECRET);
    assert_eq!(f.bm.connections().await.unwrap().len(), 2);
}

#[tokio::test]
async fn unlock_rewraps_a_key_below_the_policy() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("connections.db");
    let weak = KdfParams {
        memory_kib: 32,
        iterations: 1,
        parallelism: 1,
    };
    {
        let key = VaultKey::generate().unwrap();
        let wrapped = vault::wrap(&key, &pw(MASTER), weak).unwrap();
        Store::open(&path)
            .unwrap()
            .set_vault(&Vault {
                wrapped: wrapped.to_bytes(),
                params: "weak".into(),
            })
            .unwrap();
    }
    let f = start_at(dir, path, TEST_KDF).await;
    f.bm.unlock(pw(MASTER)).await.unwrap();
    let row = Store::open(&f.path).unwrap().get_vault().unwrap().unwrap();
    let stored = vault::WrappedKey::from_bytes(&row.wrapped).unwrap();
    assert_eq!(stored.params, TEST_KDF);
    f.bm.lock().await.unwrap();
    f.bm.unlock(pw(MASTER)).await.unwrap();
}

#[tokio::test]
async fn write_operations_through_the_handle() {
    let (f, _, _) = start().await;
    f.bm.init(pw(MASTER)).await.unwrap();
    // Folders, tags, environments.
    let prod =
        f.bm.create_folder("prod", None, "production")
            .await
            .unwrap();
    let emea = f.bm.create_folder("emea", Some(prod), "").await.unwrap();
    f.bm.update_folder(emea, "europe", "EU").await.unwrap();
    assert!(matches!(
        f.bm.move_folder(prod, Some(emea)).await,
        Err(BookmarkError::Store(
            ores_actors::connections::store::StoreError::FolderIntoDescendant { .. }
        ))
    ));
    assert_eq!(f.bm.folders().await.unwrap().len(), 2);
    let tag = f.bm.create_tag("critical").await.unwrap();
    f.bm.rename_tag(tag, "crit").await.unwrap();
    let env =
        f.bm.create_environment(EnvironmentSpec {
            name: "prod-eu".into(),
            folder_id: Some(emea),
            host: "nats.eu.example".into(),
            port: 4223,
            subject_prefix: "ores.prod".into(),
            tags: vec!["crit".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        f.bm.environment_by_name("prod-eu").await.unwrap().spec.port,
        4223
    );

    // A connection created with a password needs the unlocked vault; nothing is created when
    // it is locked.
    let spec = ConnectionSpec {
        name: "eu-admin".into(),
        folder_id: Some(emea),
        environment_id: Some(env),
        username: "admin".into(),
        tags: vec!["crit".into()],
        ..Default::default()
    };
    assert!(matches!(
        f.bm.create_connection(spec.clone(), Some(pw(SECRET))).await,
        Err(BookmarkError::Locked)
    ));
    assert!(f.bm.connection_by_name("eu-admin").await.is_err());
    f.bm.unlock(pw(MASTER)).await.unwrap();
    let id =
        f.bm.create_connection(spec.clone(), Some(pw(SECRET)))
            .await
            .unwrap();
    let (resolved, secret) = f.bm.resolve("eu-admin").await.unwrap();
    assert_eq!(
        (resolved.host.as_str(), resolved.port),
        ("nats.eu.example", 4223)
    );
    assert_eq!(secret.unwrap().expose(), SECRET);

    // Updating keeps the saved password.
    let mut renamed = spec.clone();
    renamed.name = "eu-root".into();
    f.bm.update_connection(id, renamed).await.unwrap();
    assert_eq!(f.bm.connection_password(id).await.unwrap().expose(), SECRET);

    // A duplicate gets its own sealed password (bound to the copy's record), which opens.
    let copy = f.bm.duplicate_connection(id).await.unwrap();
    assert_eq!(
        f.bm.connection_by_name("eu-root (copy)").await.unwrap().id,
        copy
    );
    assert_eq!(
        f.bm.connection_password(copy).await.unwrap().expose(),
        SECRET
    );
    // …and a locked vault cannot duplicate a connection with a password.
    f.bm.lock().await.unwrap();
    assert!(matches!(
        f.bm.duplicate_connection(id).await,
        Err(BookmarkError::Locked)
    ));
    assert_eq!(f.bm.connections().await.unwrap().len(), 4);

    f.bm.move_connection(copy, None).await.unwrap();
    f.bm.forget_connection_password(copy).await.unwrap();
    f.bm.delete_connection(copy).await.unwrap();
    let tree = f.bm.tree().await.unwrap();
    assert_eq!(tree.folders[0].folder.name, "prod");
    assert_eq!(
        tree.folders[0].contents.folders[0]
            .contents
            .connections
            .len(),
        1
    );

    f.bm.add_recent_party("p-1", "Party One").await.unwrap();
    assert_eq!(
        f.bm.recent_parties().await.unwrap()[0].party_name,
        "Party One"
    );
    f.bm.clear_recent_parties().await.unwrap();
    assert!(f.bm.recent_parties().await.unwrap().is_empty());

    // Deleting the folder takes everything inside with it (foreign keys on).
    f.bm.delete_folder(prod).await.unwrap();
    assert!(f.bm.environments().await.unwrap().is_empty());
    assert_eq!(f.bm.connections().await.unwrap().len(), 2);
    f.bm.delete_tag(tag).await.unwrap();
    assert!(f.bm.tags().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_failed_transaction_leaves_nothing_behind() {
    let (f, _, _) = start().await;
    let err =
        f.bm.with_store(|s| {
            s.transaction(|s| {
                s.create_folder("half", None, "")?;
                // Fails: the name is taken.
                s.create_connection(&ConnectionSpec {
                    name: "alpha".into(),
                    ..Default::default()
                })?;
                Ok(())
            })
        })
        .await
        .unwrap_err();
    assert!(err.to_string().contains("already exists"), "{err}");
    assert!(f.bm.folders().await.unwrap().is_empty());
}

/// What `resolve` gives is what the NATS connection actor needs: the bookmarks module does not
/// depend on the NATS one (the architecture's rule), so the caller joins them, as here.
fn nats_config(
    target: &ores_actors::connections::model::ResolvedConnection,
    password: Option<&Secret>,
) -> ores_actors::nats::NatsConfig {
    use ores_actors::nats::{Credentials, NatsConfig, Secret as NatsSecret};
    let mut config =
        NatsConfig::new(&target.nats_url(), &target.subject_prefix).name(target.name.clone());
    if !target.username.is_empty() {
        config = config.credentials(Credentials::UserPassword {
            user: target.username.clone(),
            password: NatsSecret::new(password.map(|p| p.expose()).unwrap_or_default()),
        });
    }
    config
}

#[tokio::test]
async fn a_resolved_bookmark_is_what_the_nats_actor_needs() {
    use ores_actors::nats::Nats;
    let (f, _, _) = start().await;
    f.bm.init(pw(MASTER)).await.unwrap();
    f.bm.unlock(pw(MASTER)).await.unwrap();
    let env =
        f.bm.create_environment(EnvironmentSpec {
            name: "local".into(),
            host: "127.0.0.1".into(),
            port: 4222,
            subject_prefix: "ores.test.bookmarks".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    f.bm.create_connection(
        ConnectionSpec {
            name: "local-alice".into(),
            environment_id: Some(env),
            username: "alice".into(),
            ..Default::default()
        },
        Some(pw(SECRET)),
    )
    .await
    .unwrap();

    let (target, password) = f.bm.resolve("local-alice").await.unwrap();
    assert_eq!(target.nats_url(), "nats://127.0.0.1:4222");
    assert_eq!(target.subject_prefix, "ores.test.bookmarks");
    assert_eq!((target.username.as_str(), target.port), ("alice", 4222));
    assert_eq!(password.as_ref().unwrap().expose(), SECRET);

    // It connects to the real server through the NATS actor (this server has no
    // authentication and ignores the credentials).
    let nats = Nats::new(nats_config(&target, password.as_ref())).unwrap();
    let sup = Supervisor::builder("n")
        .child(nats.child_spec())
        .spawn()
        .await
        .unwrap();
    let client = nats.client(Duration::from_secs(10)).await.unwrap();
    client.flush().await.unwrap();
    sup.shutdown(Duration::from_secs(5)).await.unwrap();
}

#[tokio::test]
async fn a_panicking_operation_crashes_the_actor_which_restarts_locked() {
    let (f, a, _) = start().await;
    f.bm.init(pw(MASTER)).await.unwrap();
    f.bm.unlock(pw(MASTER)).await.unwrap();
    f.bm.save_connection_password(a, pw(SECRET)).await.unwrap();
    let mut events = f.sup.events();
    let err =
        f.bm.with_store(|s| -> actor::Result<()> {
            s.transaction(|s| {
                s.create_folder("half-done", None, "")?;
                panic!("a bug in a store job");
            })
        })
        .await
        .unwrap_err();
    assert!(matches!(err, BookmarkError::Unavailable(_)), "{err:?}");
    events
        .wait_for(
            Duration::from_secs(10),
            |e| matches!(e, SupervisorEvent::Started { child, .. } if &**child == "bookmarks"),
        )
        .await
        .expect("restarted after the panic");
    // Back on a fresh connection: usable, locked, the panicked transaction undone.
    assert!(!f.bm.is_unlocked().await.unwrap());
    assert!(f.bm.folders().await.unwrap().is_empty());
    f.bm.unlock(pw(MASTER)).await.unwrap();
    assert_eq!(f.bm.connection_password(a).await.unwrap().expose(), SECRET);
}
