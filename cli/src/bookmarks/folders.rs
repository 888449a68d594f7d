//! `ores bookmarks folder …`: add, list, remove, move and edit folders, named by their path
//! (`prod/emea`).

use clap::{Args, Subcommand};
use ores_actors::connections::model::FolderId;

use super::catalog::{Catalog, split_folder_path};
use super::connections::place;
use super::render;
use super::session::Session;
use super::view::RemovedView;
use crate::error::{CliError, CliResult};
use crate::output::Ui;

/// The folder commands.
#[derive(Debug, Subcommand)]
pub(crate) enum FolderCommand {
    /// Create a folder
    Add(FolderAddArgs),
    /// List folders
    #[command(visible_alias = "list")]
    Ls,
    /// Delete a folder (with -r, everything inside too)
    #[command(visible_alias = "remove")]
    Rm(FolderRmArgs),
    /// Move a folder under another one (`/` for the top level)
    Mv(FolderMvArgs),
    /// Rename a folder or change its description
    Edit(FolderEditArgs),
}

/// `ores bookmarks folder add`.
#[derive(Debug, Args)]
pub(crate) struct FolderAddArgs {
    /// The folder's path (`prod/emea`)
    path: String,
    /// Create the missing parent folders too
    #[arg(short, long)]
    parents: bool,
    /// A description
    #[arg(short, long, value_name = "TEXT")]
    description: Option<String>,
}

/// `ores bookmarks folder rm`.
#[derive(Debug, Args)]
pub(crate) struct FolderRmArgs {
    /// The folder's path
    path: String,
    /// Delete a folder that is not empty, with everything inside it
    #[arg(short, long)]
    recursive: bool,
}

/// `ores bookmarks folder mv`.
#[derive(Debug, Args)]
pub(crate) struct FolderMvArgs {
    /// The folder's path
    path: String,
    /// Its new parent folder (`/` for the top level)
    parent: String,
}

/// `ores bookmarks folder edit`.
#[derive(Debug, Args)]
pub(crate) struct FolderEditArgs {
    /// The folder's path
    path: String,
    /// A new name
    #[arg(long, value_name = "NAME")]
    rename: Option<String>,
    /// A new description
    #[arg(short, long, value_name = "TEXT")]
    description: Option<String>,
}

/// Runs a folder command.
pub(super) async fn run(session: &Session, ui: Ui, command: FolderCommand) -> CliResult {
    match command {
        FolderCommand::Add(a) => add(session, ui, a).await,
        FolderCommand::Ls => ls(session, ui).await,
        FolderCommand::Rm(a) => rm(session, ui, a).await,
        FolderCommand::Mv(a) => mv(session, ui, a).await,
        FolderCommand::Edit(a) => edit(session, ui, a).await,
    }
}

/// Prints the folder `id` of a fresh catalog as JSON, or `message`.
async fn report(session: &Session, ui: Ui, id: FolderId, message: &str) -> CliResult {
    if ui.json {
        let catalog = Catalog::load(session.bookmarks()).await?;
        let folder = catalog
            .folders
            .iter()
            .find(|f| f.id == id)
            .ok_or_else(|| CliError::new(format!("folder {id} vanished")))?;
        return ui.json(&catalog.folder_view(folder));
    }
    ui.done(message)
}

async fn add(session: &Session, ui: Ui, args: FolderAddArgs) -> CliResult {
    let bookmarks = session.bookmarks();
    let names = split_folder_path(&args.path);
    let Some((last, parents)) = names.split_last() else {
        return Err(CliError::new(
            "a folder path must name a folder, e.g. `prod/emea`",
        ));
    };
    let catalog = Catalog::load(bookmarks).await?;
    let mut parent: Option<FolderId> = None;
    for (depth, name) in parents.iter().enumerate() {
        let existing = catalog
            .folders
            .iter()
            .find(|f| f.parent_id == parent && f.name == *name);
        parent = Some(match existing {
            Some(f) => f.id,
            None if args.parents => bookmarks.create_folder(name, parent, "").await?,
            None => {
                let path = names[..=depth].join("/");
                return Err(CliError::new(format!("no folder `{path}`")).hint(format!(
                    "create the parents too with `ores bookmarks folder add -p {}`",
                    args.path
                )));
            }
        });
    }
    let exists = catalog
        .folders
        .iter()
        .find(|f| f.parent_id == parent && f.name == *last);
    let description = args.description.unwrap_or_default();
    let id = match exists {
        // `mkdir -p` habit: an existing folder is fine with -p.
        Some(f) if args.parents => {
            if !description.is_empty() {
                bookmarks.update_folder(f.id, &f.name, &description).await?;
            }
            f.id
        }
        _ => bookmarks.create_folder(last, parent, &description).await?,
    };
    report(
        session,
        ui,
        id,
        &format!("Added folder `{}`.", names.join("/")),
    )
    .await
}

async fn ls(session: &Session, ui: Ui) -> CliResult {
    let catalog = Catalog::load(session.bookmarks()).await?;
    let views = catalog.folder_views();
    if views.is_empty() && !ui.json {
        ui.note("No folders.");
        return Ok(());
    }
    ui.show(&views, |v| render::folders(v))
}

async fn rm(session: &Session, ui: Ui, args: FolderRmArgs) -> CliResult {
    let catalog = Catalog::load(session.bookmarks()).await?;
    let folder = catalog.folder(&args.path)?;
    let path = catalog.folder_path(folder.id);
    let (folders, environments, connections) = catalog.counts(Some(folder.id));
    if !args.recursive && folders + environments + connections > 0 {
        let inside: Vec<String> = [
            (folders, "folder"),
            (environments, "environment"),
            (connections, "connection"),
        ]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, kind)| format!("{n} {kind}{}", if n == 1 { "" } else { "s" }))
        .collect();
        return Err(CliError::new(format!(
            "folder `{path}` is not empty: it holds {}",
            inside.join(", ")
        ))
        .hint(format!(
            "delete it with everything inside: `ores bookmarks folder rm -r {path}`"
        )));
    }
    session.bookmarks().delete_folder(folder.id).await?;
    if ui.json {
        return ui.json(&RemovedView {
            kind: "folder",
            removed: vec![path],
        });
    }
    ui.done(&format!("Removed folder `{path}`."))
}

async fn mv(session: &Session, ui: Ui, args: FolderMvArgs) -> CliResult {
    let catalog = Catalog::load(session.bookmarks()).await?;
    let folder = catalog.folder(&args.path)?;
    let parent = catalog.find_folder(&args.parent)?;
    session.bookmarks().move_folder(folder.id, parent).await?;
    let to = place(catalog.folder_label(parent).as_deref());
    report(
        session,
        ui,
        folder.id,
        &format!("Moved folder `{}` to {to}.", folder.name),
    )
    .await
}

async fn edit(session: &Session, ui: Ui, args: FolderEditArgs) -> CliResult {
    let catalog = Catalog::load(session.bookmarks()).await?;
    let folder = catalog.folder(&args.path)?;
    if args.rename.is_none() && args.description.is_none() {
        return Err(CliError::new(
            "nothing to change: give --rename or --description",
        ));
    }
    let name = args.rename.as_deref().unwrap_or(&folder.name);
    if name.contains('/') {
        return Err(CliError::new("a folder name cannot contain `/`"));
    }
    let description = args.description.as_deref().unwrap_or(&folder.description);
    session
        .bookmarks()
        .update_folder(folder.id, name, description)
        .await?;
    report(
        session,
        ui,
        folder.id,
        &format!("Updated folder `{}`.", args.path),
    )
    .await
}
