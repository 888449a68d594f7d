//! `ores bookmarks export`, `import` and `import-ore`: the JSON exchange format (passwords
//! sealed under an export passphrase, or left out), and importing a file or an ORE Studio
//! `connections.db` with a preview first and a choice per clash.

use std::collections::HashSet;
use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use ores_actors::connections::document::Document;
use ores_actors::connections::exchange::{
    self, ClashChoice, ExchangeError, ImportChoices, ImportPreview, ImportReport, RecordKind,
    RecordStatus,
};
use ores_actors::connections::ore_import;
use ores_actors::connections::vault::KdfParams;
use serde::Serialize;

use super::render;
use super::secrets;
use super::session::Session;
use crate::error::{CliError, CliResult};
use crate::output::Ui;

/// The environment variable holding the passphrase of an export with secrets.
pub(crate) const EXPORT_PASSPHRASE_ENV: &str = "ORES_BOOKMARKS_EXPORT_PASSPHRASE";

/// The environment variable holding ORE Studio's master password.
pub(crate) const ORE_MASTER_PASSWORD_ENV: &str = "ORES_ORE_MASTER_PASSWORD";

/// `ores bookmarks export`.
#[derive(Debug, Args)]
pub(crate) struct ExportArgs {
    /// Write to this file (owner-only) instead of standard output
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Include the passwords, sealed under an export passphrase (from
    /// ORES_BOOKMARKS_EXPORT_PASSPHRASE, else asked twice); asks for the master password
    #[arg(long)]
    with_secrets: bool,
}

/// What to do with a clash, as typed on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ClashArg {
    /// Keep the existing record as it is
    Skip,
    /// Overwrite the existing record
    Replace,
    /// Import the record beside the existing one, as "NAME (imported)"
    KeepBoth,
}

impl From<ClashArg> for ClashChoice {
    fn from(c: ClashArg) -> Self {
        match c {
            ClashArg::Skip => ClashChoice::Skip,
            ClashArg::Replace => ClashChoice::Replace,
            ClashArg::KeepBoth => ClashChoice::KeepBoth,
        }
    }
}

/// The options of `import` and `import-ore`.
#[derive(Debug, Args)]
pub(crate) struct ImportOptions {
    /// Show what would be imported, and import nothing
    #[arg(long, short = 'n')]
    dry_run: bool,
    /// What to do with records that clash with existing ones [default: ask on a terminal,
    /// else skip]
    #[arg(long, value_enum, value_name = "CHOICE")]
    on_clash: Option<ClashArg>,
    /// The choice for one record, overriding --on-clash: KIND:NAME=CHOICE, e.g.
    /// `connection:alice@prod=replace` (KIND: folder, tag, environment, connection; folders
    /// by path)
    #[arg(long, value_name = "KIND:NAME=CHOICE", value_parser = parse_choose)]
    choose: Vec<(RecordKind, String, ClashChoice)>,
    /// Leave the file's passwords out (no passphrase or master password needed for them)
    #[arg(long)]
    without_secrets: bool,
}

/// `ores bookmarks import`.
#[derive(Debug, Args)]
pub(crate) struct ImportArgs {
    /// The export file (`-` for standard input)
    #[arg(value_name = "FILE")]
    input: PathBuf,
    /// How to import.
    #[command(flatten)]
    options: ImportOptions,
}

/// `ores bookmarks import-ore`.
#[derive(Debug, Args)]
pub(crate) struct ImportOreArgs {
    /// ORE Studio's `connections.db`
    #[arg(value_name = "FILE")]
    input: PathBuf,
    /// How to import.
    #[command(flatten)]
    options: ImportOptions,
}

fn parse_kind(text: &str) -> Result<RecordKind, String> {
    match text.trim().to_lowercase().as_str() {
        "folder" => Ok(RecordKind::Folder),
        "tag" => Ok(RecordKind::Tag),
        "environment" | "env" => Ok(RecordKind::Environment),
        "connection" | "conn" => Ok(RecordKind::Connection),
        other => Err(format!(
            "unknown kind `{other}` (use folder, tag, environment or connection)"
        )),
    }
}

/// Parses `KIND:NAME=CHOICE`.
fn parse_choose(text: &str) -> Result<(RecordKind, String, ClashChoice), String> {
    let usage = || format!("`{text}` is not KIND:NAME=CHOICE (e.g. connection:alice=replace)");
    let (kind, rest) = text.split_once(':').ok_or_else(usage)?;
    let (name, choice) = rest.rsplit_once('=').ok_or_else(usage)?;
    let kind = parse_kind(kind)?;
    let name = name.trim();
    if name.is_empty() {
        return Err(usage());
    }
    let choice = ClashArg::from_str(choice.trim(), true)
        .map_err(|_| format!("unknown choice `{choice}` (use skip, replace or keep-both)"))?;
    Ok((kind, name.to_owned(), choice.into()))
}

/// Counts of a document, for messages.
#[derive(Debug, Clone, Copy, Serialize)]
struct DocCounts {
    folders: usize,
    tags: usize,
    environments: usize,
    connections: usize,
    passwords: usize,
}

fn counts(doc: &Document) -> DocCounts {
    DocCounts {
        folders: doc.folders.len(),
        tags: doc.tags.len(),
        environments: doc.environments.len(),
        connections: doc.connections.len(),
        passwords: doc
            .connections
            .iter()
            .filter(|c| c.password.is_some())
            .count(),
    }
}

/// Writes `text` to `path`, owner-only on Unix.
fn write_private(path: &Path, text: &str) -> CliResult {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .map_err(|e| CliError::new(format!("cannot write `{}`: {e}", path.display())))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| CliError::new(format!("cannot write `{}`: {e}", path.display())))
}

/// `ores bookmarks export`.
pub(super) async fn export(session: &Session, ui: Ui, args: ExportArgs) -> CliResult {
    let bookmarks = session.bookmarks();
    let (doc, json) = if args.with_secrets {
        session.unlock().await?;
        let passphrase = secrets::from_env_or_prompt(
            EXPORT_PASSPHRASE_ENV,
            "Export passphrase: ",
            "export passphrase",
            true,
        )?;
        let doc = bookmarks.export(true).await?;
        let json = exchange::to_json(&doc, Some((&passphrase, KdfParams::POLICY)))?;
        (doc, json)
    } else {
        let doc = bookmarks.export(false).await?;
        let json = exchange::to_json(&doc, None)?;
        (doc, json)
    };
    let counts = counts(&doc);
    let Some(path) = args.output else {
        return ui.data(&json);
    };
    write_private(&path, &json)?;
    if ui.json {
        return ui.json(&serde_json::json!({
            "file": path.display().to_string(),
            "counts": counts,
        }));
    }
    let secrets = if args.with_secrets {
        format!("{} sealed", count(counts.passwords, "password"))
    } else {
        "no passwords".to_owned()
    };
    ui.done(&format!(
        "Exported {}, {}, {} and {} ({secrets}) to `{}`.",
        count(counts.folders, "folder"),
        count(counts.tags, "tag"),
        count(counts.environments, "environment"),
        count(counts.connections, "connection"),
        path.display()
    ))
}

/// Reads `path`, `-` being standard input.
fn read_text(path: &Path) -> CliResult<String> {
    let mut bytes = Vec::new();
    let name = if path == Path::new("-") {
        std::io::stdin()
            .read_to_end(&mut bytes)
            .map_err(|e| CliError::new(format!("cannot read standard input: {e}")))?;
        "standard input".to_owned()
    } else {
        bytes = std::fs::read(path)
            .map_err(|e| CliError::new(format!("cannot read `{}`: {e}", path.display())))?;
        format!("`{}`", path.display())
    };
    String::from_utf8(bytes).map_err(|_| {
        CliError::new(format!(
            "{name} is not an ores bookmark export (not JSON text)"
        ))
        .hint("to import ORE Studio's connections.db, use `ores bookmarks import-ore`")
    })
}

/// `n thing` or `n things`.
fn count(n: usize, thing: &str) -> String {
    if n == 1 {
        format!("1 {thing}")
    } else {
        format!("{n} {thing}s")
    }
}

/// `ores bookmarks import`.
pub(super) async fn import(session: &Session, ui: Ui, args: ImportArgs) -> CliResult {
    let json = read_text(&args.input)?;
    let doc = if args.options.without_secrets {
        exchange::from_json_without_secrets(&json)?
    } else {
        match exchange::from_json(&json, None) {
            Err(ExchangeError::PassphraseRequired) => {
                let passphrase = secrets::from_env_or_prompt(
                    EXPORT_PASSPHRASE_ENV,
                    "Export passphrase: ",
                    "export passphrase",
                    false,
                )
                .map_err(|e| e.hint(format!("set {EXPORT_PASSPHRASE_ENV}, or give --without-secrets to import without the passwords")))?;
                exchange::from_json(&json, Some(&passphrase))?
            }
            other => other?,
        }
    };
    apply(session, ui, doc, &args.options).await
}

/// `ores bookmarks import-ore`.
pub(super) async fn import_ore(session: &Session, ui: Ui, args: ImportOreArgs) -> CliResult {
    // Read it without the passwords first: a file that is not ORE's is reported before any
    // password is asked for, and `--without-secrets` needs no password at all.
    let path = args.input.clone();
    let (doc, saved) = tokio::task::spawn_blocking(move || {
        Ok::<_, ore_import::OreImportError>((
            ore_import::read_ore_file_without_secrets(&path)?,
            ore_import::count_saved_passwords(&path)?,
        ))
    })
    .await
    .map_err(|e| CliError::new(format!("reading the ORE file failed: {e}")))??;
    if args.options.without_secrets || saved == 0 {
        return apply(session, ui, doc, &args.options).await;
    }
    let master = secrets::from_env_or_prompt(
        ORE_MASTER_PASSWORD_ENV,
        "ORE Studio master password: ",
        "ORE Studio master password",
        false,
    )?;
    let path = args.input.clone();
    // 600,000 PBKDF2 iterations per password: off the async threads.
    let doc = tokio::task::spawn_blocking(move || ore_import::read_ore_file(&path, &master))
        .await
        .map_err(|e| CliError::new(format!("reading the ORE file failed: {e}")))??;
    apply(session, ui, doc, &args.options).await
}

/// A preview record as printed.
#[derive(Debug, Clone, Serialize)]
struct PreviewRow {
    kind: String,
    name: String,
    status: &'static str,
    differences: Vec<String>,
    action: &'static str,
}

/// What `import` prints with `--json`.
#[derive(Debug, Clone, Serialize)]
struct ImportView {
    dry_run: bool,
    preview: Vec<PreviewRow>,
    new: usize,
    unchanged: usize,
    clashes: usize,
    passwords: usize,
    report: Option<ReportView>,
}

/// What an import did, as printed.
#[derive(Debug, Clone, Serialize)]
struct ReportView {
    created: usize,
    unchanged: usize,
    skipped: usize,
    replaced: usize,
    renamed: Vec<RenamedView>,
    passwords_imported: usize,
}

/// A record imported under a new name.
#[derive(Debug, Clone, Serialize)]
struct RenamedView {
    kind: String,
    name: String,
    new_name: String,
}

fn choice_label(choice: ClashChoice) -> &'static str {
    match choice {
        ClashChoice::Skip => "skip",
        ClashChoice::Replace => "replace",
        ClashChoice::KeepBoth => "keep both",
    }
}

/// The preview as printed; with `ask`, a clash without a `--choose` shows `ask`.
fn preview_rows(
    preview: &ImportPreview,
    choices: &ImportChoices,
    ask: Option<&HashSet<(RecordKind, String)>>,
) -> Vec<PreviewRow> {
    preview
        .items
        .iter()
        .map(|item| {
            let (status, differences, action) = match &item.status {
                RecordStatus::New => ("new", Vec::new(), "create"),
                RecordStatus::Unchanged => ("unchanged", Vec::new(), "none"),
                RecordStatus::Clash { differences } => (
                    "clash",
                    differences.clone(),
                    match ask {
                        Some(chosen) if !chosen.contains(&(item.kind, item.name.clone())) => "ask",
                        _ => choice_label(choices.choice_for(item.kind, &item.name)),
                    },
                ),
            };
            PreviewRow {
                kind: item.kind.to_string(),
                name: item.name.clone(),
                status,
                differences,
                action,
            }
        })
        .collect()
}

fn render_preview(rows: &[PreviewRow]) -> String {
    render::table(
        ["KIND", "NAME", "STATUS", "DIFFERS IN", "ACTION"],
        rows.iter()
            .map(|r| {
                [
                    r.kind.clone(),
                    r.name.clone(),
                    r.status.to_owned(),
                    r.differences.join(", "),
                    r.action.to_owned(),
                ]
            })
            .collect(),
    )
}

/// Asks, on the terminal, what to do with each clash that has no choice yet.
fn ask_choices(
    preview: &ImportPreview,
    choices: &mut ImportChoices,
    chosen: &HashSet<(RecordKind, String)>,
) -> CliResult {
    let mut stderr = std::io::stderr();
    let mut all: Option<ClashChoice> = None;
    for item in preview.clashes() {
        if chosen.contains(&(item.kind, item.name.clone())) {
            continue;
        }
        if let Some(choice) = all {
            choices.set(item.kind, item.name.clone(), choice);
            continue;
        }
        let differences = match &item.status {
            RecordStatus::Clash { differences } => differences.join(", "),
            _ => String::new(),
        };
        loop {
            let _ = write!(
                stderr,
                "{} `{}` exists and differs in {differences}: [s]kip, [r]eplace, [k]eep both \
                 (add ! for all the rest)? [s] ",
                item.kind, item.name
            );
            let _ = stderr.flush();
            let mut answer = String::new();
            std::io::stdin()
                .read_line(&mut answer)
                .map_err(|e| CliError::new(format!("cannot read the answer: {e}")))?;
            let answer = answer.trim().to_lowercase();
            let (word, rest) = match answer.strip_suffix('!') {
                Some(w) => (w.trim().to_owned(), true),
                None => (answer.clone(), false),
            };
            let choice = match word.as_str() {
                "" | "s" | "skip" => ClashChoice::Skip,
                "r" | "replace" => ClashChoice::Replace,
                "k" | "keep" | "keep both" | "keep-both" => ClashChoice::KeepBoth,
                _ => continue,
            };
            choices.set(item.kind, item.name.clone(), choice);
            if rest {
                all = Some(choice);
            }
            break;
        }
    }
    Ok(())
}

/// Previews `doc`, settles the choices, and imports it unless `--dry-run`.
async fn apply(session: &Session, ui: Ui, doc: Document, options: &ImportOptions) -> CliResult {
    let bookmarks = session.bookmarks();
    let has_passwords = doc.connections.iter().any(|c| c.password.is_some());
    if has_passwords {
        // Needed to import them, and lets the preview compare them with the stored ones.
        session.unlock().await?;
    }
    let preview = bookmarks.preview_import(doc.clone()).await?;

    let mut choices = ImportChoices::new(options.on_clash.map_or(ClashChoice::Skip, Into::into));
    let mut chosen = HashSet::new();
    for (kind, name, choice) in &options.choose {
        if preview.item(*kind, name).is_none() {
            return Err(
                CliError::new(format!("--choose: the file has no {kind} `{name}`"))
                    .hint("the names are those of the preview (folders by path, e.g. prod/emea)"),
            );
        }
        choices.set(*kind, name.clone(), *choice);
        chosen.insert((*kind, name.clone()));
    }
    let counts = preview.counts();
    let ask = !options.dry_run
        && options.on_clash.is_none()
        && !ui.json
        && counts.clashes > 0
        && std::io::stdin().is_terminal();

    let rows = preview_rows(&preview, &choices, ask.then_some(&chosen));
    if !ui.json {
        if rows.is_empty() {
            ui.note("The file holds no bookmarks.");
        } else {
            ui.data(&render_preview(&rows))?;
        }
        ui.data(&format!(
            "\n{} new, {} unchanged, {} clashing; {}.",
            counts.new,
            counts.unchanged,
            counts.clashes,
            count(preview.passwords, "password")
        ))?;
    }
    let mut view = ImportView {
        dry_run: options.dry_run,
        preview: rows,
        new: counts.new,
        unchanged: counts.unchanged,
        clashes: counts.clashes,
        passwords: preview.passwords,
        report: None,
    };
    if options.dry_run {
        if ui.json {
            return ui.json(&view);
        }
        return ui.done("Dry run: nothing was imported.");
    }
    if ask {
        ask_choices(&preview, &mut choices, &chosen)?;
    }
    let report = bookmarks.import(doc, choices).await?;
    view.report = Some(report_view(&report));
    if ui.json {
        return ui.json(&view);
    }
    ui.done(&render_report(&report))
}

fn report_view(report: &ImportReport) -> ReportView {
    ReportView {
        created: report.created,
        unchanged: report.unchanged,
        skipped: report.skipped,
        replaced: report.replaced,
        renamed: report
            .renamed
            .iter()
            .map(|r| RenamedView {
                kind: r.kind.to_string(),
                name: r.original.clone(),
                new_name: r.new_name.clone(),
            })
            .collect(),
        passwords_imported: report.passwords_imported,
    }
}

fn render_report(report: &ImportReport) -> String {
    let mut text = format!(
        "Imported: {} created, {} unchanged, {} skipped, {} replaced, {} kept both; {}.",
        report.created,
        report.unchanged,
        report.skipped,
        report.replaced,
        report.renamed.len(),
        count(report.passwords_imported, "password")
    );
    for r in &report.renamed {
        text.push_str(&format!(
            "\n  {} `{}` imported as `{}`",
            r.kind, r.original, r.new_name
        ));
    }
    text
}
