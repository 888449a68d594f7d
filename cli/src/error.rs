//! [`CliError`]: what every failing command returns, printed as `error: <message>` (and a
//! `hint:` line when there is one) on standard error, with the process exit code it maps to.

use std::fmt;

use ores_actors::connections::actor::BookmarkError;
use ores_actors::connections::exchange::ExchangeError;
use ores_actors::connections::ore_import::OreImportError;
use ores_actors::connections::store::StoreError;
use ores_actors::connections::vault::VaultError;
use ores_runtime::exit::{ExitCode, ToExitCode};
use ores_runtime::supervisor::SupervisorError;

/// A failed command: a message for the user, an optional hint on what to do, and the exit
/// code (ores' conventions: 1 in general, 4 when NATS cannot be reached, 6 when a password is
/// refused; clap's usage errors exit with 2 before any command runs).
#[derive(Debug)]
pub(crate) struct CliError {
    message: String,
    hint: Option<String>,
    code: ExitCode,
}

/// The result type of the commands.
pub(crate) type CliResult<T = ()> = Result<T, CliError>;

impl CliError {
    /// A general failure (exit code 1).
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            hint: None,
            code: ExitCode::General,
        }
    }

    /// The same error with a `hint:` line.
    #[must_use]
    pub(crate) fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// The same error exiting with `code`.
    #[must_use]
    pub(crate) fn code(mut self, code: ExitCode) -> Self {
        self.code = code;
        self
    }

    /// Writes `error: <message>` and the hint, if any, to standard error.
    pub(crate) fn report(&self) {
        eprintln!("error: {}", self.message);
        if let Some(hint) = &self.hint {
            eprintln!("hint: {hint}");
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl ToExitCode for CliError {
    fn exit_code(&self) -> ExitCode {
        self.code
    }
}

/// The command that lists records of `kind`, for hints.
fn list_command(kind: &str) -> Option<&'static str> {
    match kind {
        "connection" => Some("ores bookmarks ls"),
        "environment" => Some("ores bookmarks env ls"),
        "folder" => Some("ores bookmarks folder ls"),
        "tag" => Some("ores bookmarks tag ls"),
        _ => None,
    }
}

/// A hint for a store file that cannot be used.
const OTHER_FILE_HINT: &str = "give the path of a bookmark store with --file (or ORES_BOOKMARKS_FILE), or a new path to create one";

impl From<StoreError> for CliError {
    fn from(err: StoreError) -> Self {
        let message = err.to_string();
        match err {
            StoreError::NoSuchName { kind, .. } => {
                let e = CliError::new(message);
                match list_command(kind) {
                    Some(cmd) => e.hint(format!("see `{cmd}`")),
                    None => e,
                }
            }
            StoreError::NotADatabase { .. } | StoreError::Foreign { .. } => {
                CliError::new(message).hint(OTHER_FILE_HINT)
            }
            StoreError::TooNew { .. } => {
                CliError::new(message).hint("use a newer `ores`, or another file with --file")
            }
            StoreError::Corrupt { .. } => {
                CliError::new(message).hint("restore the file from a backup")
            }
            StoreError::Unresolvable { name } => CliError::new(message).hint(format!(
                "link it to an environment or give it a host: \
                 `ores bookmarks edit {name} --env ENV` or `--host HOST --port PORT`"
            )),
            _ => CliError::new(message),
        }
    }
}

impl From<VaultError> for CliError {
    fn from(err: VaultError) -> Self {
        match err {
            VaultError::WrongPassword => {
                CliError::new("wrong master password").code(ExitCode::Auth)
            }
            VaultError::Tampered { .. } => CliError::new(err.to_string())
                .hint("the store file was altered outside ores; restore it from a backup"),
            other => CliError::new(other.to_string()),
        }
    }
}

impl From<BookmarkError> for CliError {
    fn from(err: BookmarkError) -> Self {
        match err {
            BookmarkError::Store(e) => e.into(),
            BookmarkError::Vault(e) => e.into(),
            BookmarkError::Exchange(e) => e.into(),
            BookmarkError::NotInitialized => CliError::new("the bookmark store is not initialized")
                .hint("run `ores bookmarks init` first"),
            BookmarkError::AlreadyInitialized => {
                CliError::new("the bookmark store is already initialized")
                    .hint("change its master password with `ores bookmarks passwd`")
            }
            other => CliError::new(other.to_string()),
        }
    }
}

impl From<SupervisorError> for CliError {
    fn from(err: SupervisorError) -> Self {
        if let SupervisorError::ChildStartFailed { error, .. } = &err {
            if let Some(store) = error.downcast_ref::<StoreError>() {
                // StoreError is not Clone: rebuild the same message and hint from a copy of
                // what matters.
                return match store {
                    StoreError::NotADatabase { .. }
                    | StoreError::Foreign { .. }
                    | StoreError::Io { .. } => {
                        CliError::new(store.to_string()).hint(OTHER_FILE_HINT)
                    }
                    StoreError::TooNew { .. } => CliError::new(store.to_string())
                        .hint("use a newer `ores`, or another file with --file"),
                    other => CliError::new(format!("cannot open the bookmark store: {other}")),
                };
            }
            return CliError::new(format!("cannot open the bookmark store: {error}"));
        }
        CliError::new(err.to_string())
    }
}

impl From<ExchangeError> for CliError {
    fn from(err: ExchangeError) -> Self {
        let message = err.to_string();
        match err {
            ExchangeError::WrongPassphrase => CliError::new(message).code(ExitCode::Auth),
            ExchangeError::PassphraseRequired => CliError::new(message).hint(
                "set ORES_BOOKMARKS_EXPORT_PASSPHRASE, run in a terminal to be asked, \
                 or give --without-secrets",
            ),
            ExchangeError::EmptyPassphrase => CliError::new(message),
            _ => CliError::new(message),
        }
    }
}

impl From<OreImportError> for CliError {
    fn from(err: OreImportError) -> Self {
        let message = err.to_string();
        match err {
            OreImportError::WrongPassword => CliError::new(message)
                .hint("give ORE Studio's master password (ORES_ORE_MASTER_PASSWORD, or the prompt)")
                .code(ExitCode::Auth),
            _ => CliError::new(message),
        }
    }
}

impl From<std::io::Error> for CliError {
    fn from(err: std::io::Error) -> Self {
        CliError::new(err.to_string())
    }
}
