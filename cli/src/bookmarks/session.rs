//! [`Session`]: the bookmark store opened for one command, through the supervised
//! [`BookmarkStore`](ores_actors::connections::actor::BookmarkStore) actor and its
//! [`Bookmarks`] handle, and the vault unlocked on demand.

use std::path::{Path, PathBuf};
use std::time::Duration;

use ores_actors::connections::actor::{self, Bookmarks};
use ores_actors::connections::store;
use ores_actors::connections::vault::Secret;
use ores_runtime::supervisor::Supervisor;

use super::secrets;
use crate::error::{CliError, CliResult};

/// How long the supervisor is given to stop the store at the end of a command.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// The store file to use: `--file` (or `ORES_BOOKMARKS_FILE`), else
/// [`store::default_path`].
///
/// # Errors
/// When neither is available (no home directory).
pub(crate) fn store_path(file: Option<&Path>) -> CliResult<PathBuf> {
    match file {
        Some(path) => Ok(path.to_owned()),
        None => store::default_path().ok_or_else(|| {
            CliError::new(
                "cannot find the default bookmark store: neither XDG_DATA_HOME nor HOME is set",
            )
            .hint("give the store's path with --file or ORES_BOOKMARKS_FILE")
        }),
    }
}

/// The bookmark store, open for one command.
#[derive(Debug)]
pub(crate) struct Session {
    bookmarks: Bookmarks,
    supervisor: Supervisor,
    path: PathBuf,
}

impl Session {
    /// Opens the store at `path` under a supervisor. Unless `create`, the store must exist
    /// and be initialized (a missing file is not created).
    ///
    /// # Errors
    /// A missing or uninitialized store (with a hint to run `init`), a file that is not a
    /// bookmark store.
    pub(crate) async fn open(path: PathBuf, create: bool) -> CliResult<Self> {
        if !create && !path.exists() {
            return Err(CliError::new(format!("no bookmark store at `{}`", path.display()))
                .hint("run `ores bookmarks init` first to create one, or give another file with --file"));
        }
        let spec = actor::child_spec(path.clone());
        let bookmarks = Bookmarks::new(spec.handle());
        let supervisor = Supervisor::builder("ores-bookmarks")
            .child(spec)
            .spawn()
            .await?;
        let session = Self {
            bookmarks,
            supervisor,
            path,
        };
        if !create {
            let initialized = session
                .bookmarks
                .with_store(|s| Ok(s.get_vault()?.is_some()))
                .await;
            match initialized {
                Ok(true) => {}
                Ok(false) => {
                    let path = session.path.display().to_string();
                    session.close().await;
                    return Err(CliError::new(format!(
                        "the bookmark store at `{path}` is not initialized"
                    ))
                    .hint("run `ores bookmarks init` first"));
                }
                Err(e) => {
                    session.close().await;
                    return Err(e.into());
                }
            }
        }
        Ok(session)
    }

    /// The store's handle.
    pub(crate) fn bookmarks(&self) -> &Bookmarks {
        &self.bookmarks
    }

    /// The store's file.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Unlocks the vault with the master password (from
    /// [`MASTER_PASSWORD_ENV`](secrets::MASTER_PASSWORD_ENV) or a prompt).
    ///
    /// # Errors
    /// No way to get the password; `wrong master password` (exit code 6).
    pub(crate) async fn unlock(&self) -> CliResult {
        let master = secrets::master_password(false)?;
        self.unlock_with(master).await
    }

    /// Unlocks the vault with `master`.
    ///
    /// # Errors
    /// `wrong master password` (exit code 6).
    pub(crate) async fn unlock_with(&self, master: Secret) -> CliResult {
        Ok(self.bookmarks.unlock(master).await?)
    }

    /// Locks the vault and stops the store.
    pub(crate) async fn close(self) {
        let _ = self.bookmarks.lock().await;
        let _ = self.supervisor.shutdown(SHUTDOWN_TIMEOUT).await;
    }
}
