//! [`Ui`]: where a command's output goes. Data goes to standard output (as text, or as JSON
//! with `--json`); confirmations too, unless `-q`; errors go to standard error (see
//! [`CliError`]). A closed pipe (`ores bookmarks ls | head -1`) ends
//! the output quietly instead of panicking.

use std::io::Write;

use serde::Serialize;

use crate::error::{CliError, CliResult};

/// The output settings of a command.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Ui {
    /// `--json`: print machine-readable JSON on standard output.
    pub(crate) json: bool,
    /// `-q`: print no confirmations or notes.
    pub(crate) quiet: bool,
}

/// Writes `text` to standard output; a closed pipe is not an error.
pub(crate) fn write_stdout(text: &str) -> CliResult {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(CliError::new(format!(
            "cannot write to standard output: {e}"
        ))),
    }
}

impl Ui {
    /// Prints `text` (data) on standard output, with a final newline.
    pub(crate) fn data(&self, text: &str) -> CliResult {
        if text.ends_with('\n') {
            write_stdout(text)
        } else {
            write_stdout(&format!("{text}\n"))
        }
    }

    /// Prints `value` as pretty JSON on standard output.
    pub(crate) fn json<T: Serialize + ?Sized>(&self, value: &T) -> CliResult {
        let text = serde_json::to_string_pretty(value)
            .map_err(|e| CliError::new(format!("cannot write JSON: {e}")))?;
        self.data(&text)
    }

    /// Prints a confirmation (`Created connection x.`) on standard output, unless `-q` or
    /// `--json`.
    pub(crate) fn done(&self, text: &str) -> CliResult {
        if self.quiet || self.json {
            Ok(())
        } else {
            self.data(text)
        }
    }

    /// Prints a note (`No connections.`) on standard error, unless `-q` or `--json`.
    pub(crate) fn note(&self, text: &str) {
        if !self.quiet && !self.json {
            eprintln!("{text}");
        }
    }

    /// With `--json`, prints `value`; otherwise prints the text `render` makes.
    pub(crate) fn show<T: Serialize + ?Sized>(
        &self,
        value: &T,
        render: impl FnOnce(&T) -> String,
    ) -> CliResult {
        if self.json {
            self.json(value)
        } else {
            self.data(&render(value))
        }
    }
}
