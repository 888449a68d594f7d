//! `ores bookmarks tag …`: add, list, rename and remove tags.

use clap::{Args, Subcommand};

use super::catalog::Catalog;
use super::render;
use super::session::Session;
use super::view::{RemovedView, TagView};
use crate::error::{CliError, CliResult};
use crate::output::Ui;

/// The tag commands.
#[derive(Debug, Subcommand)]
pub(crate) enum TagCommand {
    /// Create a tag
    Add(TagNameArg),
    /// List tags and how often they are used
    #[command(visible_alias = "list")]
    Ls,
    /// Rename a tag everywhere
    Rename(TagRenameArgs),
    /// Delete a tag (it is taken off everything that carries it)
    #[command(visible_alias = "remove")]
    Rm(TagNameArg),
}

/// A tag's name.
#[derive(Debug, Args)]
pub(crate) struct TagNameArg {
    /// The tag's name
    name: String,
}

/// `ores bookmarks tag rename`.
#[derive(Debug, Args)]
pub(crate) struct TagRenameArgs {
    /// The tag's name
    name: String,
    /// Its new name
    new_name: String,
}

/// Runs a tag command.
pub(super) async fn run(session: &Session, ui: Ui, command: TagCommand) -> CliResult {
    let bookmarks = session.bookmarks();
    match command {
        TagCommand::Add(a) => {
            bookmarks.create_tag(&a.name).await?;
            report(
                session,
                ui,
                &a.name,
                &format!("Added tag `{}`.", a.name.trim()),
            )
            .await
        }
        TagCommand::Ls => {
            let catalog = Catalog::load(bookmarks).await?;
            let views = catalog.tag_views();
            if views.is_empty() && !ui.json {
                ui.note("No tags.");
                return Ok(());
            }
            ui.show(&views, |v| render::tags(v))
        }
        TagCommand::Rename(a) => {
            let catalog = Catalog::load(bookmarks).await?;
            let tag = catalog.tag(&a.name)?;
            bookmarks.rename_tag(tag.id, &a.new_name).await?;
            report(
                session,
                ui,
                &a.new_name,
                &format!("Renamed tag `{}` to `{}`.", a.name, a.new_name.trim()),
            )
            .await
        }
        TagCommand::Rm(a) => {
            let catalog = Catalog::load(bookmarks).await?;
            let tag = catalog.tag(&a.name)?;
            bookmarks.delete_tag(tag.id).await?;
            if ui.json {
                return ui.json(&RemovedView {
                    kind: "tag",
                    removed: vec![a.name],
                });
            }
            ui.done(&format!("Removed tag `{}`.", a.name))
        }
    }
}

/// Prints the tag `name` of a fresh catalog as JSON, or `message`.
async fn report(session: &Session, ui: Ui, name: &str, message: &str) -> CliResult {
    if ui.json {
        let catalog = Catalog::load(session.bookmarks()).await?;
        let name = name.trim();
        let view: Option<TagView> = catalog.tag_views().into_iter().find(|t| t.name == name);
        return ui.json(&view);
    }
    ui.done(message)
}

/// Applies `--tag` (add) and `--untag` (remove) to the tags of the `kind` named `name`; removing
/// a tag it does not have is an error naming both.
pub(super) fn edit_tags(
    kind: &str,
    name: &str,
    tags: &mut Vec<String>,
    add: &[String],
    remove: &[String],
) -> CliResult {
    for tag in add {
        if !tags.contains(tag) {
            tags.push(tag.clone());
        }
    }
    for tag in remove {
        if !tags.contains(tag) {
            return Err(CliError::new(format!("{kind} `{name}` has no tag `{tag}`")));
        }
        tags.retain(|t| t != tag);
    }
    Ok(())
}
