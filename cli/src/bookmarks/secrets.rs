//! Where secrets come from: an environment variable, a prompt without echo on the terminal, or
//! standard input (`--password-stdin`, as `docker login` does). Secrets stay in [`Secret`]s,
//! which are wiped from memory when dropped.

use std::io::{IsTerminal, Read};

use ores_actors::connections::vault::Secret;
use ores_runtime::exit::ExitCode;

use crate::error::{CliError, CliResult};

/// The environment variable holding the master password of the bookmark store.
pub(crate) const MASTER_PASSWORD_ENV: &str = "ORES_CONNECTIONS_MASTER_PASSWORD";

/// Whether a prompt can be shown: standard input is a terminal.
pub(crate) fn interactive() -> bool {
    std::io::stdin().is_terminal()
}

/// The value of the environment variable `var`, when it is set and not empty.
pub(crate) fn from_env(var: &str) -> Option<Secret> {
    std::env::var(var)
        .ok()
        .filter(|v| !v.is_empty())
        .map(Secret::new)
}

/// Prompts for a secret without echo. When `confirm`, asks a second time and fails unless
/// both agree. Empty answers are refused.
///
/// # Errors
/// When standard input is not a terminal (naming `var` when there is one to set instead),
/// when the terminal cannot be read, on an empty answer or a mismatch.
pub(crate) fn prompt(
    prompt: &str,
    what: &str,
    var: Option<&str>,
    confirm: bool,
) -> CliResult<Secret> {
    if !interactive() {
        let message = match var {
            Some(var) => format!(
                "the {what} is needed: {var} is not set and standard input is not a terminal \
                 to ask for it"
            ),
            None => {
                format!("the {what} is needed and standard input is not a terminal to ask for it")
            }
        };
        let err = CliError::new(message).code(ExitCode::Config);
        return Err(match var {
            Some(var) => err.hint(format!("set {var}, or run the command in a terminal")),
            None => err,
        });
    }
    let read = |text: &str| {
        rpassword::prompt_password(text)
            .map(Secret::new)
            .map_err(|e| CliError::new(format!("cannot read the {what} from the terminal: {e}")))
    };
    let first = read(prompt)?;
    if first.expose().is_empty() {
        return Err(CliError::new(format!("the {what} must not be empty")));
    }
    if confirm {
        let second = read(&format!("Repeat {what}: "))?;
        if first.expose() != second.expose() {
            return Err(CliError::new(format!("the two {what}s do not match")));
        }
    }
    Ok(first)
}

/// The secret in environment variable `var`, else one asked for on the terminal.
///
/// # Errors
/// As [`prompt`].
pub(crate) fn from_env_or_prompt(
    var: &str,
    text: &str,
    what: &str,
    confirm: bool,
) -> CliResult<Secret> {
    match from_env(var) {
        Some(secret) => Ok(secret),
        None => prompt(text, what, Some(var), confirm),
    }
}

/// The master password: [`MASTER_PASSWORD_ENV`], else a prompt.
///
/// # Errors
/// As [`prompt`].
pub(crate) fn master_password(confirm: bool) -> CliResult<Secret> {
    from_env_or_prompt(
        MASTER_PASSWORD_ENV,
        "Master password: ",
        "master password",
        confirm,
    )
}

/// A secret read from standard input: everything up to the end, less the final line break.
///
/// # Errors
/// When standard input cannot be read or holds nothing.
pub(crate) fn from_stdin(what: &str) -> CliResult<Secret> {
    let mut text = String::with_capacity(256);
    std::io::stdin()
        .read_to_string(&mut text)
        .map_err(|e| CliError::new(format!("cannot read the {what} from standard input: {e}")))?;
    let secret = {
        while text.ends_with('\n') || text.ends_with('\r') {
            text.pop();
        }
        Secret::new(text)
    };
    if secret.expose().is_empty() {
        return Err(CliError::new(format!("no {what} on standard input")));
    }
    Ok(secret)
}
