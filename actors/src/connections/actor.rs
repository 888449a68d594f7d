//! [`BookmarkStore`]: the supervised actor joining the SQLite [`Store`] and the [`vault`]; its
//! handle [`Bookmarks`] lives in [`handle`](super::handle) and is re-exported here.
//!
//! The actor owns the store (every SQLite operation runs on a blocking thread, off the async
//! executor) and, while unlocked, the vault key. The vault is **locked at start and after every
//! restart**: a restart drops the key (which zeroizes it) and the master password must be given
//! again. Calls are handled one at a time, so an initialization or a password change never
//! races another operation.
//!
//! ```no_run
//! use ores_actors::connections::actor::{self, Bookmarks};
//! use ores_actors::connections::vault::Secret;
//! use ores_runtime::supervisor::Supervisor;
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let spec = actor::child_spec("/tmp/connections.db");
//! let bookmarks = Bookmarks::new(spec.handle());
//! let _sup = Supervisor::builder("app").child(spec).spawn().await?;
//! bookmarks.init(Secret::from("master password")).await?;
//! bookmarks.unlock(Secret::from("master password")).await?;
//! # Ok(()) }
//! ```

use std::any::Any;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use ores_runtime::supervisor::ChildSpec;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

use super::model::{Connection, ConnectionId, ResolvedConnection, SearchResults, Vault};
use super::store::{Store, StoreError};
use super::vault::{self, KdfParams, Secret, VaultError, VaultKey, WrappedKey};

/// The id of the bookmark store's child in its supervisor.
pub const CHILD_ID: &str = "bookmarks";

/// The field name a connection's password is sealed for.
pub const PASSWORD_FIELD: &str = "password";

/// The record name a connection's secrets are sealed for: `connection:<id>`.
pub fn connection_record(id: ConnectionId) -> String {
    format!("connection:{}", id.0)
}

/// What can go wrong with the bookmark store actor.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BookmarkError {
    /// An operation needing the vault key was asked while the vault is locked.
    #[error("the vault is locked: unlock it with the master password first")]
    Locked,
    /// [`Bookmarks::init`] on a store that already has a vault.
    #[error("the vault already exists: unlock it with its master password instead")]
    AlreadyInitialized,
    /// An operation needing the vault on a store that has none yet.
    #[error("the vault does not exist yet: initialize it with a master password first")]
    NotInitialized,
    /// The SQLite store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The vault failed: a wrong master password ([`VaultError::WrongPassword`]), a tampered
    /// secret ([`VaultError::Tampered`], naming the record), malformed data.
    #[error(transparent)]
    Vault(#[from] VaultError),
    /// An import or export failed: an invalid document, a wrong export passphrase, a
    /// tampered sealed password (see [`ExchangeError`](super::exchange::ExchangeError)).
    #[error(transparent)]
    Exchange(#[from] super::exchange::ExchangeError),
    /// The actor could not be reached, did not answer in time, or a blocking task failed.
    #[error("the bookmark store is unavailable: {0}")]
    Unavailable(String),
}

impl BookmarkError {
    /// Whether this is a wrong master password.
    pub fn is_wrong_password(&self) -> bool {
        matches!(self, Self::Vault(VaultError::WrongPassword))
    }
}

/// The result type of the bookmark store actor.
pub type Result<T, E = BookmarkError> = std::result::Result<T, E>;

type Reply<T> = RpcReplyPort<Result<T>>;

/// A piece of work run on the store's blocking thread, given the vault key when unlocked.
pub(super) type Job =
    Box<dyn FnOnce(&mut Store, Option<&VaultKey>) -> Result<Box<dyn Any + Send>> + Send>;

/// A job for [`BookmarksMsg::Run`]: see [`Bookmarks::with_store`] and [`Bookmarks::with_vault`].
pub struct StoreJob {
    pub(super) job: Job,
    pub(super) needs_key: bool,
}

impl std::fmt::Debug for StoreJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreJob")
            .field("needs_key", &self.needs_key)
            .finish_non_exhaustive()
    }
}

/// The messages of [`BookmarkStore`]; use [`Bookmarks`] rather than sending them directly.
#[derive(Debug)]
#[non_exhaustive]
pub enum BookmarksMsg {
    /// See [`Bookmarks::init`].
    Init(Secret, Reply<()>),
    /// See [`Bookmarks::unlock`].
    Unlock(Secret, Reply<()>),
    /// See [`Bookmarks::lock`].
    Lock(RpcReplyPort<()>),
    /// See [`Bookmarks::is_unlocked`].
    IsUnlocked(RpcReplyPort<bool>),
    /// See [`Bookmarks::change_master_password`].
    ChangeMaster(Secret, Secret, Reply<()>),
    /// See [`Bookmarks::save_connection_password`].
    SavePassword(ConnectionId, Secret, Reply<()>),
    /// See [`Bookmarks::connection_password`].
    Password(ConnectionId, Reply<Secret>),
    /// See [`Bookmarks::resolve`].
    Resolve(String, Reply<(ResolvedConnection, Option<Secret>)>),
    /// See [`Bookmarks::connections`].
    Connections(Reply<Vec<Connection>>),
    /// See [`Bookmarks::search`].
    Search(String, Reply<SearchResults>),
    /// See [`Bookmarks::with_store`] and [`Bookmarks::with_vault`].
    Run(StoreJob, Reply<Box<dyn Any + Send>>),
}

/// How a [`BookmarkStore`] is started.
#[derive(Debug, Clone)]
pub struct BookmarkConfig {
    /// The SQLite file.
    pub path: PathBuf,
    /// The key-derivation policy: new wrappings use it and unlocking rewraps keys below it.
    /// [`KdfParams::POLICY`] unless lowered (for tests only).
    pub kdf: KdfParams,
}

impl BookmarkConfig {
    /// The store at `path` with [`KdfParams::POLICY`].
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            kdf: KdfParams::POLICY,
        }
    }
}

/// The bookmark store actor. Start it with [`child_spec`] under a supervisor.
#[derive(Debug, Clone, Copy, Default)]
pub struct BookmarkStore;

/// The state of a running [`BookmarkStore`].
#[derive(Debug)]
pub struct BookmarkState {
    store: Arc<Mutex<Store>>,
    kdf: KdfParams,
    key: Option<Arc<VaultKey>>,
}

/// A [`ChildSpec`] (id [`CHILD_ID`]) for the store at `path`, with [`KdfParams::POLICY`].
pub fn child_spec(path: impl Into<PathBuf>) -> ChildSpec<BookmarksMsg> {
    child_spec_with(BookmarkConfig::new(path))
}

/// A [`ChildSpec`] (id [`CHILD_ID`]) with a full configuration.
pub fn child_spec_with(config: BookmarkConfig) -> ChildSpec<BookmarksMsg> {
    ChildSpec::actor(CHILD_ID, BookmarkStore, config)
}

/// Runs `op` on the store on a blocking thread.
async fn blocking<T, F>(store: &Arc<Mutex<Store>>, op: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce(&mut Store) -> Result<T> + Send + 'static,
{
    let store = Arc::clone(store);
    tokio::task::spawn_blocking(move || {
        let mut guard = store
            .lock()
            .map_err(|_| BookmarkError::Unavailable("the store lock is poisoned".into()))?;
        op(&mut guard)
    })
    .await
    .map_err(|e| BookmarkError::Unavailable(format!("blocking task failed: {e}")))?
}

fn vault_row(wrapped: &WrappedKey) -> Vault {
    let p = wrapped.params;
    Vault {
        wrapped: wrapped.to_bytes(),
        params: format!(
            "argon2id m={} t={} p={}",
            p.memory_kib, p.iterations, p.parallelism
        ),
    }
}

fn stored_key(store: &Store) -> Result<WrappedKey> {
    let row = store.get_vault()?.ok_or(BookmarkError::NotInitialized)?;
    Ok(WrappedKey::from_bytes(&row.wrapped)?)
}

/// Changes the master password from `old` to `new`: the vault key is unwrapped with `old`,
/// wrapped with `new` under `kdf`, and the one vault row replaced in one transaction, so
/// that whatever interrupts it, either the old or the new password opens the vault.
/// Returns the (unchanged) vault key.
///
/// # Errors
/// [`VaultError::WrongPassword`] for a wrong `old` (nothing is written),
/// [`BookmarkError::NotInitialized`], a store error.
pub fn rewrap_master_password(
    store: &mut Store,
    old: &Secret,
    new: &Secret,
    kdf: KdfParams,
) -> Result<VaultKey> {
    let key = vault::unwrap(&stored_key(store)?, old)?;
    let wrapped = vault::wrap(&key, new, kdf)?;
    store.set_vault(&vault_row(&wrapped))?;
    Ok(key)
}

/// Seals a connection's password for its record (`connection:<id>`, field `password`).
///
/// # Errors
/// [`VaultError::Crypto`].
pub fn seal_password(key: &VaultKey, id: ConnectionId, password: &Secret) -> Result<Vec<u8>> {
    Ok(vault::seal(
        key,
        &connection_record(id),
        PASSWORD_FIELD,
        password.expose().as_bytes(),
    )?)
}

/// Opens a connection's sealed password.
///
/// # Errors
/// [`VaultError::Tampered`] naming `connection:<id>` for an altered or moved blob.
pub fn open_password(key: &VaultKey, id: ConnectionId, sealed: &[u8]) -> Result<Secret> {
    Ok(vault::open(
        key,
        &connection_record(id),
        PASSWORD_FIELD,
        sealed,
    )?)
}

impl BookmarkStore {
    async fn handle_msg(&self, state: &mut BookmarkState, msg: BookmarksMsg) {
        let store = &state.store;
        let kdf = state.kdf;
        match msg {
            BookmarksMsg::Init(master, reply) => {
                let r = blocking(store, move |s| {
                    if s.get_vault()?.is_some() {
                        return Err(BookmarkError::AlreadyInitialized);
                    }
                    let key = VaultKey::generate()?;
                    let wrapped = vault::wrap(&key, &master, kdf)?;
                    s.set_vault(&vault_row(&wrapped))?;
                    Ok(())
                })
                .await;
                let _ = reply.send(r);
            }
            BookmarksMsg::Unlock(master, reply) => {
                let r = blocking(store, move |s| {
                    let unlocked = vault::unlock(&stored_key(s)?, &master, kdf)?;
                    if let Some(rewrapped) = &unlocked.rewrapped {
                        s.set_vault(&vault_row(rewrapped))?;
                    }
                    Ok(unlocked.key)
                })
                .await;
                let _ = reply.send(r.map(|key| state.key = Some(Arc::new(key))));
            }
            BookmarksMsg::Lock(reply) => {
                state.key = None;
                let _ = reply.send(());
            }
            BookmarksMsg::IsUnlocked(reply) => {
                let _ = reply.send(state.key.is_some());
            }
            BookmarksMsg::ChangeMaster(old, new, reply) => {
                let r = blocking(store, move |s| rewrap_master_password(s, &old, &new, kdf)).await;
                // The key is the same; an unlocked vault stays unlocked.
                let _ = reply.send(r.map(|key| {
                    if state.key.is_some() {
                        state.key = Some(Arc::new(key));
                    }
                }));
            }
            BookmarksMsg::SavePassword(id, password, reply) => {
                let r = match &state.key {
                    None => Err(BookmarkError::Locked),
                    Some(key) => {
                        match vault::seal(
                            key,
                            &connection_record(id),
                            PASSWORD_FIELD,
                            password.expose().as_bytes(),
                        ) {
                            Ok(sealed) => {
                                blocking(store, move |s| {
                                    Ok(s.set_connection_password(id, Some(&sealed))?)
                                })
                                .await
                            }
                            Err(e) => Err(e.into()),
                        }
                    }
                };
                let _ = reply.send(r);
            }
            BookmarksMsg::Password(id, reply) => {
                let r = match &state.key {
                    None => Err(BookmarkError::Locked),
                    Some(key) => {
                        let sealed =
                            blocking(store, move |s| Ok(s.connection(id)?.spec.password_sealed))
                                .await;
                        match sealed {
                            Ok(Some(sealed)) => open_password(key, id, &sealed),
                            Ok(None) => Err(BookmarkError::Store(StoreError::NotFound {
                                kind: "connection password",
                                id: id.0,
                            })),
                            Err(e) => Err(e),
                        }
                    }
                };
                let _ = reply.send(r);
            }
            BookmarksMsg::Resolve(name, reply) => {
                let r = blocking(store, move |s| {
                    let id = s.connection_by_name(&name)?.id;
                    Ok((id, s.resolve(id)?))
                })
                .await
                .and_then(|(id, resolved)| {
                    let secret = match (&resolved.password_sealed, &state.key) {
                        (None, _) => None,
                        (Some(_), None) => return Err(BookmarkError::Locked),
                        (Some(sealed), Some(key)) => Some(open_password(key, id, sealed)?),
                    };
                    Ok((resolved, secret))
                });
                let _ = reply.send(r);
            }
            BookmarksMsg::Connections(reply) => {
                let _ = reply.send(blocking(store, |s| Ok(s.connections()?)).await);
            }
            BookmarksMsg::Search(query, reply) => {
                let _ = reply.send(blocking(store, move |s| Ok(s.search(&query)?)).await);
            }
            BookmarksMsg::Run(job, reply) => {
                let key = state.key.clone();
                let r = if job.needs_key && key.is_none() {
                    Err(BookmarkError::Locked)
                } else {
                    blocking(store, move |s| (job.job)(s, key.as_deref())).await
                };
                let _ = reply.send(r);
            }
        }
    }
}

impl Actor for BookmarkStore {
    type Msg = BookmarksMsg;
    type State = BookmarkState;
    type Arguments = BookmarkConfig;

    async fn pre_start(
        &self,
        _myself: ActorRef<BookmarksMsg>,
        config: BookmarkConfig,
    ) -> Result<BookmarkState, ActorProcessingErr> {
        let path = config.path;
        let store = tokio::task::spawn_blocking(move || Store::open(path)).await??;
        Ok(BookmarkState {
            store: Arc::new(Mutex::new(store)),
            kdf: config.kdf,
            key: None,
        })
    }

    async fn handle(
        &self,
        _myself: ActorRef<BookmarksMsg>,
        msg: BookmarksMsg,
        state: &mut BookmarkState,
    ) -> Result<(), ActorProcessingErr> {
        self.handle_msg(state, msg).await;
        // Work that panicked while holding the store poisons its lock: the actor fails, and
        // its supervisor restarts it on a fresh connection with the vault locked.
        if state.store.is_poisoned() {
            return Err("a store operation panicked; restarting the bookmark store".into());
        }
        Ok(())
    }
}

pub use super::handle::Bookmarks;
