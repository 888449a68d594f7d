//! The `ores` command line.
//!
//! `ores bookmarks …` manages the encrypted connection-bookmark store; see
//! `ores bookmarks --help`. Every failure prints `error: <message>` (and often a `hint:`) on
//! standard error and exits non-zero: 2 for usage errors, otherwise ores' exit codes
//! (`ores_runtime::exit`): 1 in general, 4 when NATS cannot be reached, 6 when a password
//! is refused.

mod bookmarks;
mod error;
mod output;

use clap::{Parser, Subcommand};
use ores_runtime::exit::ToExitCode;
use ores_runtime::telemetry::{self, Telemetry};

/// The ores-rs command line.
#[derive(Debug, Parser)]
#[command(name = "ores", version, about = "The ores-rs command line")]
struct Cli {
    /// The command.
    #[command(subcommand)]
    command: Command,
}

/// The top-level commands.
#[derive(Debug, Subcommand)]
enum Command {
    /// Manage connection bookmarks (folders, environments, connections, passwords)
    ///
    /// Bookmarks live in one SQLite file whose passwords are encrypted under a master password
    /// (`ores bookmarks init` chooses it). The master password is asked for, without echo, only
    /// by the commands that read or write a password; scripts set
    /// ORES_CONNECTIONS_MASTER_PASSWORD instead. Every command takes --json for machine output.
    #[command(visible_alias = "bm")]
    Bookmarks(bookmarks::BookmarksArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    // Library logs only when asked for with RUST_LOG: a command's output is its own.
    let _ = telemetry::init(Telemetry::default().default_directive("off"));
    let result = match cli.command {
        Command::Bookmarks(args) => bookmarks::run(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            err.report();
            err.exit_code().into()
        }
    }
}
