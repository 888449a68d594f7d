//! [`BookmarkStore`]: the supervised actor joining the SQLite [`Store`] and the [`vault`], and
//! [`Bookmarks`], its handle.
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
use std::time::Duration;

use ores_runtime::supervisor::{ChildHandle, ChildSpec, HandleError};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

use super::model::{
    Connection, ConnectionId, ConnectionSpec, Environment, EnvironmentId, EnvironmentSpec, Folder,
    FolderId, RecentParty, ResolvedConnection, SearchResults, Tag, TagId, TreeLevel, Vault,
};
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
type Job = Box<dyn FnOnce(&mut Store, Option<&VaultKey>) -> Result<Box<dyn Any + Send>> + Send>;

/// A job for [`BookmarksMsg::Run`]: see [`Bookmarks::with_store`] and [`Bookmarks::with_vault`].
pub struct StoreJob {
    job: Job,
    needs_key: bool,
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
        Ok(())
    }
}

/// A handle to the bookmark store, following the actor across restarts. A cheap clone.
#[derive(Debug, Clone)]
pub struct Bookmarks {
    handle: ChildHandle<BookmarksMsg>,
    timeout: Duration,
}

impl Bookmarks {
    /// A handle calling the child behind `handle` (from [`ChildSpec::handle`]), waiting at
    /// most 60 s for each reply (key derivation is deliberately slow).
    pub fn new(handle: ChildHandle<BookmarksMsg>) -> Self {
        Self {
            handle,
            timeout: Duration::from_secs(60),
        }
    }

    /// The same handle, waiting at most `timeout` for each reply.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The underlying child handle.
    pub fn child(&self) -> &ChildHandle<BookmarksMsg> {
        &self.handle
    }

    async fn ask<R: Send + 'static>(
        &self,
        build: impl FnOnce(RpcReplyPort<R>) -> BookmarksMsg,
    ) -> Result<R> {
        self.handle
            .call(build, self.timeout)
            .await
            .map_err(|e: HandleError<()>| BookmarkError::Unavailable(e.to_string()))
    }

    /// First use: generates a vault key, wraps it with `master` under the policy and stores
    /// it. The vault stays locked.
    ///
    /// # Errors
    /// [`BookmarkError::AlreadyInitialized`] when the store has a vault already.
    pub async fn init(&self, master: Secret) -> Result<()> {
        self.ask(|r| BookmarksMsg::Init(master, r)).await?
    }

    /// Unlocks the vault with `master`. A key wrapped below the policy is rewrapped and
    /// stored (in one transaction).
    ///
    /// # Errors
    /// [`VaultError::WrongPassword`] (inside [`BookmarkError::Vault`]) changes nothing;
    /// [`BookmarkError::NotInitialized`].
    pub async fn unlock(&self, master: Secret) -> Result<()> {
        self.ask(|r| BookmarksMsg::Unlock(master, r)).await?
    }

    /// Locks the vault: the key is dropped and zeroized.
    ///
    /// # Errors
    /// [`BookmarkError::Unavailable`].
    pub async fn lock(&self) -> Result<()> {
        self.ask(BookmarksMsg::Lock).await
    }

    /// Whether the vault is unlocked.
    ///
    /// # Errors
    /// [`BookmarkError::Unavailable`].
    pub async fn is_unlocked(&self) -> Result<bool> {
        self.ask(BookmarksMsg::IsUnlocked).await
    }

    /// Rewraps the vault key from `old` to `new` in one transaction: whatever happens, either
    /// the old or the new password opens the vault. Secrets are not re-sealed (the key is
    /// unchanged) and the lock state is kept.
    ///
    /// # Errors
    /// [`VaultError::WrongPassword`] for a wrong `old` (nothing changes),
    /// [`BookmarkError::NotInitialized`].
    pub async fn change_master_password(&self, old: Secret, new: Secret) -> Result<()> {
        self.ask(|r| BookmarksMsg::ChangeMaster(old, new, r))
            .await?
    }

    /// Seals `password` for connection `id` (record `connection:<id>`, field `password`)
    /// and stores it.
    ///
    /// # Errors
    /// [`BookmarkError::Locked`], [`StoreError::NotFound`].
    pub async fn save_connection_password(&self, id: ConnectionId, password: Secret) -> Result<()> {
        self.ask(|r| BookmarksMsg::SavePassword(id, password, r))
            .await?
    }

    /// The password of connection `id`.
    ///
    /// # Errors
    /// [`BookmarkError::Locked`]; [`StoreError::NotFound`] for a missing connection or one
    /// without a password; [`VaultError::Tampered`] naming `connection:<id>` when the stored
    /// blob was altered or belongs to another record.
    pub async fn connection_password(&self, id: ConnectionId) -> Result<Secret> {
        self.ask(|r| BookmarksMsg::Password(id, r)).await?
    }

    /// Where and as whom the connection named `name` logs in, with its password (`None` when
    /// none is saved).
    ///
    /// # Errors
    /// [`StoreError::NoSuchName`], [`StoreError::Unresolvable`]; [`BookmarkError::Locked`]
    /// when a password is saved and the vault is locked; [`VaultError::Tampered`].
    pub async fn resolve(&self, name: &str) -> Result<(ResolvedConnection, Option<Secret>)> {
        let name = name.to_owned();
        self.ask(|r| BookmarksMsg::Resolve(name, r)).await?
    }

    /// All connections, by name (no key needed: passwords stay sealed).
    ///
    /// # Errors
    /// A store error.
    pub async fn connections(&self) -> Result<Vec<Connection>> {
        self.ask(BookmarksMsg::Connections).await?
    }

    /// [`Store::search`] (no key needed).
    ///
    /// # Errors
    /// A store error.
    pub async fn search(&self, query: &str) -> Result<SearchResults> {
        let query = query.to_owned();
        self.ask(|r| BookmarksMsg::Search(query, r)).await?
    }

    async fn run<T: Send + 'static>(
        &self,
        needs_key: bool,
        f: impl FnOnce(&mut Store, Option<&VaultKey>) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let job: Job =
            Box::new(move |s, key| f(s, key).map(|t| Box::new(t) as Box<dyn Any + Send>));
        let out = self
            .ask(|r| BookmarksMsg::Run(StoreJob { job, needs_key }, r))
            .await??;
        out.downcast::<T>()
            .map(|b| *b)
            .map_err(|_| BookmarkError::Unavailable("a job returned an unexpected type".into()))
    }

    /// Runs `f` on the store, on the actor's blocking thread, between other calls (never
    /// concurrently with one). For anything [`Store`] offers that has no method here.
    ///
    /// ```no_run
    /// # use ores_actors::connections::actor::Bookmarks;
    /// # async fn demo(bookmarks: Bookmarks) -> ores_actors::connections::actor::Result<()> {
    /// let tags = bookmarks.with_store(|s| Ok(s.tags()?)).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// What `f` returns; [`BookmarkError::Unavailable`].
    pub async fn with_store<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        self.run(false, move |s, _| f(s)).await
    }

    /// Runs `f` on the store with the vault key (see [`seal_password`], [`open_password`]).
    ///
    /// # Errors
    /// [`BookmarkError::Locked`] when the vault is locked; what `f` returns.
    pub async fn with_vault<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Store, &VaultKey) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        self.run(true, move |s, key| match key {
            Some(key) => f(s, key),
            None => Err(BookmarkError::Locked),
        })
        .await
    }

    // ------------------------------------------------------------- folders

    /// [`Store::create_folder`].
    ///
    /// # Errors
    /// As [`Store::create_folder`].
    pub async fn create_folder(
        &self,
        name: &str,
        parent: Option<FolderId>,
        description: &str,
    ) -> Result<FolderId> {
        let (name, description) = (name.to_owned(), description.to_owned());
        self.with_store(move |s| Ok(s.create_folder(&name, parent, &description)?))
            .await
    }

    /// [`Store::folders`].
    ///
    /// # Errors
    /// A store error.
    pub async fn folders(&self) -> Result<Vec<Folder>> {
        self.with_store(|s| Ok(s.folders()?)).await
    }

    /// [`Store::update_folder`].
    ///
    /// # Errors
    /// As [`Store::update_folder`].
    pub async fn update_folder(&self, id: FolderId, name: &str, description: &str) -> Result<()> {
        let (name, description) = (name.to_owned(), description.to_owned());
        self.with_store(move |s| Ok(s.update_folder(id, &name, &description)?))
            .await
    }

    /// [`Store::move_folder`] (a folder cannot go under itself or its descendants).
    ///
    /// # Errors
    /// As [`Store::move_folder`].
    pub async fn move_folder(&self, id: FolderId, parent: Option<FolderId>) -> Result<()> {
        self.with_store(move |s| Ok(s.move_folder(id, parent)?))
            .await
    }

    /// [`Store::delete_folder`]: everything inside goes with it.
    ///
    /// # Errors
    /// As [`Store::delete_folder`].
    pub async fn delete_folder(&self, id: FolderId) -> Result<()> {
        self.with_store(move |s| Ok(s.delete_folder(id)?)).await
    }

    // ---------------------------------------------------------------- tags

    /// [`Store::create_tag`].
    ///
    /// # Errors
    /// As [`Store::create_tag`].
    pub async fn create_tag(&self, name: &str) -> Result<TagId> {
        let name = name.to_owned();
        self.with_store(move |s| Ok(s.create_tag(&name)?)).await
    }

    /// [`Store::tags`].
    ///
    /// # Errors
    /// A store error.
    pub async fn tags(&self) -> Result<Vec<Tag>> {
        self.with_store(|s| Ok(s.tags()?)).await
    }

    /// [`Store::rename_tag`].
    ///
    /// # Errors
    /// As [`Store::rename_tag`].
    pub async fn rename_tag(&self, id: TagId, name: &str) -> Result<()> {
        let name = name.to_owned();
        self.with_store(move |s| Ok(s.rename_tag(id, &name)?)).await
    }

    /// [`Store::delete_tag`].
    ///
    /// # Errors
    /// As [`Store::delete_tag`].
    pub async fn delete_tag(&self, id: TagId) -> Result<()> {
        self.with_store(move |s| Ok(s.delete_tag(id)?)).await
    }

    // -------------------------------------------------------- environments

    /// [`Store::create_environment`].
    ///
    /// # Errors
    /// As [`Store::create_environment`].
    pub async fn create_environment(&self, spec: EnvironmentSpec) -> Result<EnvironmentId> {
        self.with_store(move |s| Ok(s.create_environment(&spec)?))
            .await
    }

    /// [`Store::update_environment`].
    ///
    /// # Errors
    /// As [`Store::update_environment`].
    pub async fn update_environment(&self, id: EnvironmentId, spec: EnvironmentSpec) -> Result<()> {
        self.with_store(move |s| Ok(s.update_environment(id, &spec)?))
            .await
    }

    /// [`Store::environments`].
    ///
    /// # Errors
    /// A store error.
    pub async fn environments(&self) -> Result<Vec<Environment>> {
        self.with_store(|s| Ok(s.environments()?)).await
    }

    /// [`Store::environment_by_name`].
    ///
    /// # Errors
    /// As [`Store::environment_by_name`].
    pub async fn environment_by_name(&self, name: &str) -> Result<Environment> {
        let name = name.to_owned();
        self.with_store(move |s| Ok(s.environment_by_name(&name)?))
            .await
    }

    /// [`Store::move_environment`].
    ///
    /// # Errors
    /// As [`Store::move_environment`].
    pub async fn move_environment(
        &self,
        id: EnvironmentId,
        folder: Option<FolderId>,
    ) -> Result<()> {
        self.with_store(move |s| Ok(s.move_environment(id, folder)?))
            .await
    }

    /// [`Store::delete_environment`] (its connections keep their own host, if any).
    ///
    /// # Errors
    /// As [`Store::delete_environment`].
    pub async fn delete_environment(&self, id: EnvironmentId) -> Result<()> {
        self.with_store(move |s| Ok(s.delete_environment(id)?))
            .await
    }

    // --------------------------------------------------------- connections

    /// Creates a connection and, when `password` is given, seals and saves it in the same
    /// call (the vault must then be unlocked; nothing is created when it is locked).
    /// `spec.password_sealed` is ignored.
    ///
    /// # Errors
    /// As [`Store::create_connection`]; [`BookmarkError::Locked`] with a password.
    pub async fn create_connection(
        &self,
        mut spec: ConnectionSpec,
        password: Option<Secret>,
    ) -> Result<ConnectionId> {
        spec.password_sealed = None;
        match password {
            None => {
                self.with_store(move |s| Ok(s.create_connection(&spec)?))
                    .await
            }
            Some(password) => {
                self.with_vault(move |s, key| {
                    s.transaction(|s| {
                        let id = s.create_connection(&spec)?;
                        let sealed = seal_password(key, id, &password)?;
                        s.set_connection_password(id, Some(&sealed))?;
                        Ok(id)
                    })
                })
                .await
            }
        }
    }

    /// Replaces a connection's fields and tags; its saved password is kept
    /// (`spec.password_sealed` is ignored: use [`Bookmarks::save_connection_password`] or
    /// [`Bookmarks::forget_connection_password`]).
    ///
    /// # Errors
    /// As [`Store::update_connection`].
    pub async fn update_connection(
        &self,
        id: ConnectionId,
        mut spec: ConnectionSpec,
    ) -> Result<()> {
        self.with_store(move |s| {
            s.transaction(|s| {
                spec.password_sealed = s.connection(id)?.spec.password_sealed;
                Ok(s.update_connection(id, &spec)?)
            })
        })
        .await
    }

    /// Forgets a connection's saved password.
    ///
    /// # Errors
    /// [`StoreError::NotFound`].
    pub async fn forget_connection_password(&self, id: ConnectionId) -> Result<()> {
        self.with_store(move |s| Ok(s.set_connection_password(id, None)?))
            .await
    }

    /// [`Store::connection_by_name`] (the password stays sealed).
    ///
    /// # Errors
    /// [`StoreError::NoSuchName`].
    pub async fn connection_by_name(&self, name: &str) -> Result<Connection> {
        let name = name.to_owned();
        self.with_store(move |s| Ok(s.connection_by_name(&name)?))
            .await
    }

    /// [`Store::move_connection`].
    ///
    /// # Errors
    /// As [`Store::move_connection`].
    pub async fn move_connection(&self, id: ConnectionId, folder: Option<FolderId>) -> Result<()> {
        self.with_store(move |s| Ok(s.move_connection(id, folder)?))
            .await
    }

    /// Copies a connection as [`Store::duplicate_connection`] does, re-sealing its saved
    /// password for the copy's own record (a sealed password is bound to its connection).
    ///
    /// # Errors
    /// [`StoreError::NotFound`]; [`BookmarkError::Locked`] when the connection has a saved
    /// password and the vault is locked (nothing is copied).
    pub async fn duplicate_connection(&self, id: ConnectionId) -> Result<ConnectionId> {
        self.run(false, move |s, key| {
            s.transaction(|s| {
                let original = s.connection(id)?;
                let password = match (&original.spec.password_sealed, key) {
                    (None, _) => None,
                    (Some(_), None) => return Err(BookmarkError::Locked),
                    (Some(sealed), Some(key)) => Some((key, open_password(key, id, sealed)?)),
                };
                let copy = s.duplicate_connection(id)?;
                if let Some((key, password)) = password {
                    let sealed = seal_password(key, copy, &password)?;
                    s.set_connection_password(copy, Some(&sealed))?;
                }
                Ok(copy)
            })
        })
        .await
    }

    /// [`Store::delete_connection`].
    ///
    /// # Errors
    /// [`StoreError::NotFound`].
    pub async fn delete_connection(&self, id: ConnectionId) -> Result<()> {
        self.with_store(move |s| Ok(s.delete_connection(id)?)).await
    }

    /// [`Store::tree`]: the folders with everything inside them.
    ///
    /// # Errors
    /// A store error.
    pub async fn tree(&self) -> Result<TreeLevel> {
        self.with_store(|s| Ok(s.tree()?)).await
    }

    // ------------------------------------------------------ recent parties

    /// [`Store::add_recent_party`] (at most five are kept, newest first).
    ///
    /// # Errors
    /// A store error.
    pub async fn add_recent_party(&self, party_id: &str, party_name: &str) -> Result<()> {
        let (id, name) = (party_id.to_owned(), party_name.to_owned());
        self.with_store(move |s| Ok(s.add_recent_party(&id, &name)?))
            .await
    }

    /// [`Store::recent_parties`], newest first.
    ///
    /// # Errors
    /// A store error.
    pub async fn recent_parties(&self) -> Result<Vec<RecentParty>> {
        self.with_store(|s| Ok(s.recent_parties()?)).await
    }

    /// [`Store::clear_recent_parties`].
    ///
    /// # Errors
    /// A store error.
    pub async fn clear_recent_parties(&self) -> Result<()> {
        self.with_store(|s| Ok(s.clear_recent_parties()?)).await
    }
}
