//! `ores bookmarks`: the command-line face of the encrypted bookmark store
//! (`ores_actors::connections`). This module holds the clap types and the dispatch; each
//! command group lives in its own file.

mod catalog;
mod connections;
mod environments;
mod exchange;
mod folders;
mod ping;
mod recent;
mod render;
mod secrets;
mod session;
mod tags;
mod vault;
mod view;

use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgGroup, Args, Subcommand};

use crate::error::{CliError, CliResult};
use crate::output::Ui;
use session::Session;

/// The long help of `ores bookmarks`, with examples.
const EXAMPLES: &str = "\
Examples:
  # First use: create the store and choose its master password
  ores bookmarks init

  # An environment (a server), and two logins to it
  ores bookmarks folder add -p prod/emea
  ores bookmarks env add prod-emea --host nats.emea.example.com --folder prod/emea --tag prod
  ores bookmarks add trader --env prod-emea --user alice --folder prod/emea --ask-password
  printf '%s' \"$PASS\" | ores bookmarks add ops -H 10.0.0.5 -u ops --password-stdin

  # Look around
  ores bookmarks tree
  ores bookmarks ls --tag prod
  ores bookmarks search emea
  ores bookmarks show trader --json

  # Is it up? Connect and ask every service for $SRV.PING
  ores bookmarks test trader --timeout 3s

  # Move bookmarks between machines (passwords sealed under an export passphrase)
  ores bookmarks export --with-secrets -o bookmarks.json
  ores bookmarks import bookmarks.json --dry-run
  ores bookmarks import bookmarks.json --on-clash keep-both --choose connection:trader=replace
  ores bookmarks import-ore path/to/ore-studio/connections.db

  # Scripts: the master password from the environment, JSON on standard output
  ORES_CONNECTIONS_MASTER_PASSWORD=... ores bookmarks show trader --reveal --json

Environment:
  ORES_BOOKMARKS_FILE                the store file (as --file)
  ORES_CONNECTIONS_MASTER_PASSWORD   the master password (else it is asked for on the terminal)
  ORES_BOOKMARKS_EXPORT_PASSPHRASE   the passphrase of an export with secrets (export, import)
  ORES_ORE_MASTER_PASSWORD           ORE Studio's master password (import-ore)";

/// The arguments of `ores bookmarks` (its help text is on `Command::Bookmarks` in `main.rs`).
#[derive(Debug, Args)]
#[command(after_long_help = EXAMPLES)]
pub(crate) struct BookmarksArgs {
    /// Options for every bookmarks command.
    #[command(flatten)]
    global: GlobalOpts,
    /// The command.
    #[command(subcommand)]
    command: Command,
}

/// Options every `ores bookmarks` command takes.
#[derive(Debug, Args)]
struct GlobalOpts {
    /// The bookmark store [default: $XDG_DATA_HOME/ores/connections.db]
    #[arg(long, global = true, env = "ORES_BOOKMARKS_FILE", value_name = "PATH")]
    file: Option<PathBuf>,
    /// Print JSON on standard output (errors still go to standard error)
    #[arg(long, global = true)]
    json: bool,
    /// Print no confirmations or notes, only data and errors
    #[arg(short, long, global = true)]
    quiet: bool,
}

/// The `ores bookmarks` commands.
#[derive(Debug, Subcommand)]
enum Command {
    /// Create the store and choose its master password
    Init,
    /// Change the master password
    Passwd(PasswdArgs),
    /// Check the store file for damage
    Check,
    /// Show folders, environments and connections as a tree
    Tree,
    /// List connections
    #[command(visible_alias = "list")]
    Ls(LsArgs),
    /// Find environments and connections by name, host or tag
    Search(SearchArgs),
    /// Show a connection in detail
    Show(ShowArgs),
    /// Print where a connection leads (URL, ports, subject prefix, user)
    Resolve(ResolveArgs),
    /// Add a connection
    Add(AddArgs),
    /// Change a connection
    Edit(EditArgs),
    /// Delete connections
    #[command(visible_alias = "remove")]
    Rm(RmArgs),
    /// Move a connection to a folder (`/` for the top level)
    Mv(MvArgs),
    /// Copy a connection (its password included)
    Dup(DupArgs),
    /// Save, replace or forget a connection's password
    Password(PasswordArgs),
    /// Manage folders
    #[command(subcommand)]
    Folder(folders::FolderCommand),
    /// Manage environments (servers that connections point to)
    #[command(subcommand, visible_alias = "environment")]
    Env(environments::EnvCommand),
    /// Manage tags
    #[command(subcommand)]
    Tag(tags::TagCommand),
    /// Manage the recently selected parties
    #[command(subcommand)]
    Recent(recent::RecentCommand),
    /// Connect to a connection's server and report the services answering $SRV.PING
    Test(TestArgs),
    /// Write every bookmark to a JSON file (passwords only with --with-secrets, sealed)
    Export(exchange::ExportArgs),
    /// Import a JSON export: preview first, then a choice for each clash
    Import(exchange::ImportArgs),
    /// Import ORE Studio's connections.db: preview first, then a choice for each clash
    ImportOre(exchange::ImportOreArgs),
}

/// `ores bookmarks passwd`.
#[derive(Debug, Args)]
struct PasswdArgs {
    /// Read the new master password from standard input instead of asking for it
    #[arg(long)]
    new_password_stdin: bool,
}

/// `ores bookmarks ls`.
#[derive(Debug, Args)]
struct LsArgs {
    /// Only the connections in this folder (and its subfolders)
    #[arg(long, value_name = "PATH")]
    folder: Option<String>,
    /// Only the connections with this tag
    #[arg(long, value_name = "TAG")]
    tag: Option<String>,
    /// Only the connections linked to this environment
    #[arg(long, value_name = "ENV")]
    env: Option<String>,
}

/// `ores bookmarks search`.
#[derive(Debug, Args)]
struct SearchArgs {
    /// Text to look for (ignoring case) in names, hosts and tags
    query: String,
}

/// `ores bookmarks show`.
#[derive(Debug, Args)]
struct ShowArgs {
    /// The connection's name
    name: String,
    /// Also print the saved password (asks for the master password)
    #[arg(long)]
    reveal: bool,
}

/// `ores bookmarks resolve`.
#[derive(Debug, Args)]
struct ResolveArgs {
    /// The connection's name
    name: String,
    /// Print only the URL (nats://host:port)
    #[arg(long, conflicts_with = "json")]
    url: bool,
}

/// How a connection's password is given.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("password-source").multiple(false)))]
struct PasswordSource {
    /// Read the connection's password from standard input
    #[arg(long, group = "password-source")]
    password_stdin: bool,
    /// Ask for the connection's password on the terminal (without echo)
    #[arg(long, group = "password-source")]
    ask_password: bool,
}

/// `ores bookmarks add`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("target").required(true).args(["env", "host"])))]
struct AddArgs {
    /// The connection's name (unique)
    name: String,
    /// Connect to this environment's server
    #[arg(long, short, value_name = "ENV", conflicts_with_all = ["host", "port"])]
    env: Option<String>,
    /// Connect to this host (when not using an environment)
    #[arg(long, short = 'H')]
    host: Option<String>,
    /// The NATS port, with --host
    #[arg(long, short, default_value_t = 4222, requires = "host")]
    port: u16,
    /// The user name to log in with
    #[arg(long, short, value_name = "USER")]
    user: Option<String>,
    /// The folder to put it in (`prod/emea`; it must exist)
    #[arg(long, short, value_name = "PATH")]
    folder: Option<String>,
    /// A tag (repeat for more; created when new)
    #[arg(long, short, value_name = "TAG")]
    tag: Vec<String>,
    /// A description
    #[arg(long, short, value_name = "TEXT")]
    description: Option<String>,
    /// Where the password comes from (none by default).
    #[command(flatten)]
    password: PasswordSource,
}

/// `ores bookmarks edit`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("new-password").multiple(false).args(["password_stdin", "ask_password", "no_password"])))]
struct EditArgs {
    /// The connection's name
    name: String,
    /// A new name
    #[arg(long, value_name = "NAME")]
    rename: Option<String>,
    /// Link it to this environment (its own host is dropped)
    #[arg(long, short, value_name = "ENV", conflicts_with_all = ["host", "port", "no_env"])]
    env: Option<String>,
    /// Unlink it from its environment (it then needs its own host)
    #[arg(long)]
    no_env: bool,
    /// Give it its own host (unlinks it from its environment)
    #[arg(long, short = 'H')]
    host: Option<String>,
    /// Give it its own NATS port (unlinks it from its environment)
    #[arg(long, short)]
    port: Option<u16>,
    /// A new user name (empty for none)
    #[arg(long, short, value_name = "USER")]
    user: Option<String>,
    /// Move it to this folder (`/` for the top level)
    #[arg(long, short, value_name = "PATH")]
    folder: Option<String>,
    /// Add a tag (repeat for more)
    #[arg(long, short, value_name = "TAG")]
    tag: Vec<String>,
    /// Remove a tag (repeat for more)
    #[arg(long, value_name = "TAG")]
    untag: Vec<String>,
    /// A new description
    #[arg(long, short, value_name = "TEXT")]
    description: Option<String>,
    /// Read a new password from standard input
    #[arg(long)]
    password_stdin: bool,
    /// Ask for a new password on the terminal
    #[arg(long)]
    ask_password: bool,
    /// Forget the saved password
    #[arg(long)]
    no_password: bool,
}

/// `ores bookmarks rm`.
#[derive(Debug, Args)]
struct RmArgs {
    /// The connections' names
    #[arg(required = true)]
    names: Vec<String>,
}

/// `ores bookmarks mv`.
#[derive(Debug, Args)]
struct MvArgs {
    /// The connection's name
    name: String,
    /// The folder to move it to (`prod/emea`, or `/` for the top level)
    folder: String,
}

/// `ores bookmarks dup`.
#[derive(Debug, Args)]
struct DupArgs {
    /// The connection to copy
    name: String,
    /// The copy's name [default: "NAME (copy)"]
    #[arg(long = "name", value_name = "NEW")]
    new_name: Option<String>,
}

/// `ores bookmarks password`.
#[derive(Debug, Args)]
struct PasswordArgs {
    /// The connection's name
    name: String,
    /// Read the password from standard input (else it is asked for on the terminal)
    #[arg(long, conflicts_with = "forget")]
    password_stdin: bool,
    /// Forget the saved password instead
    #[arg(long)]
    forget: bool,
}

/// `ores bookmarks test`.
#[derive(Debug, Args)]
struct TestArgs {
    /// The connection's name
    name: String,
    /// How long to wait for the connection, then for answers (`500ms`, `2s`, `1m`)
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    timeout: Duration,
    /// The discovery prefix services answer on
    #[arg(long, default_value = "$SRV", value_name = "PREFIX")]
    srv_prefix: String,
}

/// Parses `500ms`, `2s`, `1.5s`, `1m` or a bare number of seconds.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a duration (try `500ms`, `2s` or `1m`)"))?;
    let seconds = match unit.trim() {
        "ms" => value / 1000.0,
        "s" => value,
        "m" => value * 60.0,
        other => return Err(format!("unknown unit `{other}` (use ms, s or m)")),
    };
    if !seconds.is_finite() || seconds <= 0.0 || seconds > 3600.0 {
        return Err(format!(
            "`{text}` is out of range (more than 0, at most 1 hour)"
        ));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// Runs `ores bookmarks …`.
///
/// # Errors
/// The command's failure.
pub(crate) fn run(args: BookmarksArgs) -> CliResult {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| CliError::new(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(dispatch(args))
}

async fn dispatch(args: BookmarksArgs) -> CliResult {
    let ui = Ui {
        json: args.global.json,
        quiet: args.global.quiet,
    };
    let path = session::store_path(args.global.file.as_deref())?;
    let create = matches!(args.command, Command::Init);
    let existed = path.exists();
    let session = Session::open(path.clone(), create).await?;
    let result = command(&session, ui, args.command).await;
    session.close().await;
    if create && !existed && result.is_err() {
        // A failed `init` (no password given) leaves no empty store behind.
        for suffix in ["", "-wal", "-shm"] {
            let mut file = path.clone().into_os_string();
            file.push(suffix);
            let _ = std::fs::remove_file(file);
        }
    }
    result
}

async fn command(session: &Session, ui: Ui, command: Command) -> CliResult {
    match command {
        Command::Init => vault::init(session, ui).await,
        Command::Passwd(a) => vault::passwd(session, ui, a.new_password_stdin).await,
        Command::Check => vault::check(session, ui).await,
        Command::Tree => connections::tree(session, ui).await,
        Command::Ls(a) => connections::ls(session, ui, a).await,
        Command::Search(a) => connections::search(session, ui, &a.query).await,
        Command::Show(a) => connections::show(session, ui, &a.name, a.reveal).await,
        Command::Resolve(a) => connections::resolve(session, ui, &a.name, a.url).await,
        Command::Add(a) => connections::add(session, ui, a).await,
        Command::Edit(a) => connections::edit(session, ui, a).await,
        Command::Rm(a) => connections::rm(session, ui, &a.names).await,
        Command::Mv(a) => connections::mv(session, ui, &a.name, &a.folder).await,
        Command::Dup(a) => connections::dup(session, ui, &a.name, a.new_name.as_deref()).await,
        Command::Password(a) => connections::password(session, ui, a).await,
        Command::Folder(c) => folders::run(session, ui, c).await,
        Command::Env(c) => environments::run(session, ui, c).await,
        Command::Tag(c) => tags::run(session, ui, c).await,
        Command::Recent(c) => recent::run(session, ui, c).await,
        Command::Test(a) => ping::test(session, ui, a).await,
        Command::Export(a) => exchange::export(session, ui, a).await,
        Command::Import(a) => exchange::import(session, ui, a).await,
        Command::ImportOre(a) => exchange::import_ore(session, ui, a).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("2h").is_err());
        assert!(parse_duration("soon").is_err());
    }
}
