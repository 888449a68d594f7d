//! `ores bookmarks recent …`: the recently selected parties (the newest five are kept).

use clap::{Args, Subcommand};

use super::render;
use super::session::Session;
use super::view::RecentView;
use crate::error::CliResult;
use crate::output::Ui;

/// The recent-party commands.
#[derive(Debug, Subcommand)]
pub(crate) enum RecentCommand {
    /// List the recently selected parties, newest first
    #[command(visible_alias = "list")]
    Ls,
    /// Record that a party was selected
    Add(RecentAddArgs),
    /// Forget every recent party
    Clear,
}

/// `ores bookmarks recent add`.
#[derive(Debug, Args)]
pub(crate) struct RecentAddArgs {
    /// The party's id
    party_id: String,
    /// The party's display name
    party_name: String,
}

/// Runs a recent-party command.
pub(super) async fn run(session: &Session, ui: Ui, command: RecentCommand) -> CliResult {
    let bookmarks = session.bookmarks();
    match command {
        RecentCommand::Ls => {
            let views: Vec<RecentView> = bookmarks
                .recent_parties()
                .await?
                .into_iter()
                .map(|p| RecentView {
                    last_selected_at: render::utc_time(p.last_selected_at_ms),
                    party_id: p.party_id,
                    party_name: p.party_name,
                    last_selected_at_ms: p.last_selected_at_ms,
                })
                .collect();
            if views.is_empty() && !ui.json {
                ui.note("No recent parties.");
                return Ok(());
            }
            ui.show(&views, |v| render::recent(v))
        }
        RecentCommand::Add(a) => {
            bookmarks
                .add_recent_party(&a.party_id, &a.party_name)
                .await?;
            ui.done(&format!("Recorded party `{}`.", a.party_name))
        }
        RecentCommand::Clear => {
            bookmarks.clear_recent_parties().await?;
            ui.done("Cleared the recent parties.")
        }
    }
}
