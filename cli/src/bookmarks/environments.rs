//! `ores bookmarks env …`: add, list, show, edit, remove and move environments (a server:
//! host, NATS port, HTTP port, subject prefix) that connections point to.

use clap::{Args, Subcommand};
use ores_actors::connections::model::{DEFAULT_HTTP_PORT, EnvironmentId, EnvironmentSpec};

use super::catalog::Catalog;
use super::connections::place;
use super::render;
use super::session::Session;
use super::view::RemovedView;
use crate::error::{CliError, CliResult};
use crate::output::Ui;

/// The environment commands.
#[derive(Debug, Subcommand)]
pub(crate) enum EnvCommand {
    /// Add an environment
    Add(EnvAddArgs),
    /// List environments
    #[command(visible_alias = "list")]
    Ls,
    /// Show an environment in detail
    Show(EnvNameArg),
    /// Change an environment
    Edit(EnvEditArgs),
    /// Delete an environment
    #[command(visible_alias = "remove")]
    Rm(EnvRmArgs),
    /// Move an environment to a folder (`/` for the top level)
    Mv(EnvMvArgs),
}

/// `ores bookmarks env add`.
#[derive(Debug, Args)]
pub(crate) struct EnvAddArgs {
    /// The environment's name (unique)
    name: String,
    /// The server's host name or address
    #[arg(long, short = 'H')]
    host: String,
    /// The NATS port
    #[arg(long, short, default_value_t = 4222)]
    port: u16,
    /// The HTTP port
    #[arg(long, default_value_t = DEFAULT_HTTP_PORT)]
    http_port: u16,
    /// The deployment's NATS subject prefix
    #[arg(long, value_name = "PREFIX")]
    prefix: Option<String>,
    /// The folder to put it in (`prod/emea`; it must exist)
    #[arg(long, short, value_name = "PATH")]
    folder: Option<String>,
    /// A tag (repeat for more)
    #[arg(long, short, value_name = "TAG")]
    tag: Vec<String>,
    /// A description
    #[arg(long, short, value_name = "TEXT")]
    description: Option<String>,
}

/// An environment's name.
#[derive(Debug, Args)]
pub(crate) struct EnvNameArg {
    /// The environment's name
    name: String,
}

/// `ores bookmarks env edit`.
#[derive(Debug, Args)]
pub(crate) struct EnvEditArgs {
    /// The environment's name
    name: String,
    /// A new name
    #[arg(long, value_name = "NAME")]
    rename: Option<String>,
    /// A new host
    #[arg(long, short = 'H')]
    host: Option<String>,
    /// A new NATS port
    #[arg(long, short)]
    port: Option<u16>,
    /// A new HTTP port
    #[arg(long)]
    http_port: Option<u16>,
    /// A new subject prefix (empty for none)
    #[arg(long, value_name = "PREFIX")]
    prefix: Option<String>,
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
}

/// `ores bookmarks env rm`.
#[derive(Debug, Args)]
pub(crate) struct EnvRmArgs {
    /// The environment's name
    name: String,
    /// Delete it even when connections use it (they keep their own host, if they have one)
    #[arg(long)]
    force: bool,
}

/// `ores bookmarks env mv`.
#[derive(Debug, Args)]
pub(crate) struct EnvMvArgs {
    /// The environment's name
    name: String,
    /// The folder to move it to (`/` for the top level)
    folder: String,
}

/// Runs an environment command.
pub(super) async fn run(session: &Session, ui: Ui, command: EnvCommand) -> CliResult {
    match command {
        EnvCommand::Add(a) => add(session, ui, a).await,
        EnvCommand::Ls => ls(session, ui).await,
        EnvCommand::Show(a) => show(session, ui, &a.name).await,
        EnvCommand::Edit(a) => edit(session, ui, a).await,
        EnvCommand::Rm(a) => rm(session, ui, a).await,
        EnvCommand::Mv(a) => mv(session, ui, a).await,
    }
}

/// Prints environment `id` of a fresh catalog as JSON, or `message`.
async fn report(session: &Session, ui: Ui, id: EnvironmentId, message: &str) -> CliResult {
    if ui.json {
        let catalog = Catalog::load(session.bookmarks()).await?;
        let env = catalog
            .environments
            .iter()
            .find(|e| e.id == id)
            .ok_or_else(|| CliError::new(format!("environment {id} vanished")))?;
        return ui.json(&catalog.environment_view(env));
    }
    ui.done(message)
}

fn checked_host(host: &str) -> CliResult<String> {
    let host = host.trim();
    if host.is_empty() {
        Err(CliError::new("the host must not be empty"))
    } else {
        Ok(host.to_owned())
    }
}

async fn add(session: &Session, ui: Ui, args: EnvAddArgs) -> CliResult {
    let catalog = Catalog::load(session.bookmarks()).await?;
    let folder_id = match &args.folder {
        Some(path) => catalog.find_folder(path)?,
        None => None,
    };
    let spec = EnvironmentSpec {
        name: args.name.clone(),
        folder_id,
        host: checked_host(&args.host)?,
        port: args.port,
        http_port: args.http_port,
        subject_prefix: args.prefix.unwrap_or_default(),
        description: args.description.unwrap_or_default(),
        tags: args.tag,
    };
    let id = session.bookmarks().create_environment(spec).await?;
    report(
        session,
        ui,
        id,
        &format!("Added environment `{}`.", args.name),
    )
    .await
}

async fn ls(session: &Session, ui: Ui) -> CliResult {
    let catalog = Catalog::load(session.bookmarks()).await?;
    let views: Vec<_> = catalog
        .environments
        .iter()
        .map(|e| catalog.environment_view(e))
        .collect();
    if views.is_empty() && !ui.json {
        ui.note("No environments.");
        return Ok(());
    }
    ui.show(&views, |v| render::environments(v))
}

async fn show(session: &Session, ui: Ui, name: &str) -> CliResult {
    let catalog = Catalog::load(session.bookmarks()).await?;
    let view = catalog.environment_view(catalog.environment(name)?);
    ui.show(&view, render::environment)
}

async fn edit(session: &Session, ui: Ui, args: EnvEditArgs) -> CliResult {
    let catalog = Catalog::load(session.bookmarks()).await?;
    let env = catalog.environment(&args.name)?;
    let mut spec = env.spec.clone();
    if let Some(name) = &args.rename {
        spec.name = name.clone();
    }
    if let Some(host) = &args.host {
        spec.host = checked_host(host)?;
    }
    if let Some(port) = args.port {
        spec.port = port;
    }
    if let Some(port) = args.http_port {
        spec.http_port = port;
    }
    if let Some(prefix) = &args.prefix {
        spec.subject_prefix = prefix.clone();
    }
    if let Some(path) = &args.folder {
        spec.folder_id = catalog.find_folder(path)?;
    }
    super::tags::edit_tags(
        "environment",
        &args.name,
        &mut spec.tags,
        &args.tag,
        &args.untag,
    )?;
    if let Some(description) = &args.description {
        spec.description = description.clone();
    }
    if spec == env.spec {
        return Err(
            CliError::new(format!("nothing to change for environment `{}`", args.name))
                .hint("give what to change, see `ores bookmarks env edit --help`"),
        );
    }
    let name = spec.name.clone();
    session.bookmarks().update_environment(env.id, spec).await?;
    report(
        session,
        ui,
        env.id,
        &format!("Updated environment `{name}`."),
    )
    .await
}

async fn rm(session: &Session, ui: Ui, args: EnvRmArgs) -> CliResult {
    let catalog = Catalog::load(session.bookmarks()).await?;
    let env = catalog.environment(&args.name)?;
    let users = catalog.users_of(env);
    if !users.is_empty() && !args.force {
        return Err(CliError::new(format!(
            "environment `{}` is used by {} connection(s): {}",
            args.name,
            users.len(),
            users.join(", ")
        ))
        .hint(format!(
            "delete it anyway with `ores bookmarks env rm --force {}` \
             (those connections keep their own host, if they have one)",
            args.name
        )));
    }
    session.bookmarks().delete_environment(env.id).await?;
    if ui.json {
        return ui.json(&RemovedView {
            kind: "environment",
            removed: vec![args.name],
        });
    }
    ui.done(&format!("Removed environment `{}`.", args.name))
}

async fn mv(session: &Session, ui: Ui, args: EnvMvArgs) -> CliResult {
    let catalog = Catalog::load(session.bookmarks()).await?;
    let env = catalog.environment(&args.name)?;
    let folder = catalog.find_folder(&args.folder)?;
    session.bookmarks().move_environment(env.id, folder).await?;
    let to = place(catalog.folder_label(folder).as_deref());
    report(
        session,
        ui,
        env.id,
        &format!("Moved environment `{}` to {to}.", args.name),
    )
    .await
}
