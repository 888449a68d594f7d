//! [`Bookmarks`]: the handle to the supervised [`BookmarkStore`](super::actor::BookmarkStore)
//! actor, with a method for every operation of the bookmark store.

use std::any::Any;
use std::time::Duration;

use ores_runtime::supervisor::{ChildHandle, HandleError};
use ractor::RpcReplyPort;

use super::actor::{
    BookmarkError, BookmarksMsg, Job, Result, StoreJob, open_password, seal_password,
};
use super::model::{
    Connection, ConnectionId, ConnectionSpec, Environment, EnvironmentId, EnvironmentSpec, Folder,
    FolderId, RecentParty, ResolvedConnection, SearchResults, Tag, TagId, TreeLevel,
};
use super::store::Store;
use super::vault::{Secret, VaultKey};

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
