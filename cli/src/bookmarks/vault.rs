//! The store as a whole: `ores bookmarks init` (create it with its master password), `passwd`
//! (change that password) and `check` (SQLite's integrity check).

use super::secrets;
use super::session::Session;
use crate::error::{CliError, CliResult};
use crate::output::Ui;

/// `ores bookmarks init`: the master password from the environment, else asked twice.
pub(super) async fn init(session: &Session, ui: Ui) -> CliResult {
    let initialized = session
        .bookmarks()
        .with_store(|s| Ok(s.get_vault()?.is_some()))
        .await?;
    if initialized {
        return Err(CliError::new(format!(
            "the bookmark store at `{}` is already initialized",
            session.path().display()
        ))
        .hint("change its master password with `ores bookmarks passwd`"));
    }
    let master = secrets::master_password(true)?;
    session.bookmarks().init(master).await?;
    if ui.json {
        return ui.json(&serde_json::json!({
            "initialized": session.path().display().to_string(),
        }));
    }
    ui.done(&format!(
        "Initialized the bookmark store at `{}`.",
        session.path().display()
    ))
}

/// `ores bookmarks passwd`: the current password from the environment or a prompt, the new
/// one from standard input or asked twice.
pub(super) async fn passwd(session: &Session, ui: Ui, new_from_stdin: bool) -> CliResult {
    let old = secrets::from_env_or_prompt(
        secrets::MASTER_PASSWORD_ENV,
        "Current master password: ",
        "master password",
        false,
    )?;
    let new = if new_from_stdin {
        secrets::from_stdin("new master password")?
    } else {
        secrets::prompt("New master password: ", "new master password", None, true).map_err(
            |e| {
                if secrets::interactive() {
                    e
                } else {
                    e.hint("give it on standard input with --new-password-stdin")
                }
            },
        )?
    };
    session.bookmarks().change_master_password(old, new).await?;
    if ui.json {
        return ui.json(&serde_json::json!({ "changed": true }));
    }
    ui.done("Changed the master password.")
}

/// `ores bookmarks check`: SQLite's integrity check of the store file.
pub(super) async fn check(session: &Session, ui: Ui) -> CliResult {
    session
        .bookmarks()
        .with_store(|s| Ok(s.check_integrity()?))
        .await?;
    if ui.json {
        return ui.json(&serde_json::json!({ "ok": true }));
    }
    ui.done(&format!("`{}` is intact.", session.path().display()))
}
