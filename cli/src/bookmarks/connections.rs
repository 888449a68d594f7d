//! The connection commands: `tree`, `ls`, `search`, `show`, `resolve`, `add`, `edit`, `rm`,
//! `mv`, `dup` and `password`.

use ores_actors::connections::model::{Connection, ConnectionId, ConnectionSpec};
use ores_actors::connections::vault::Secret;

use super::catalog::{Catalog, nats_url};
use super::session::Session;
use super::view::{ConnectionView, RemovedView, ResolveView, SearchView};
use super::{AddArgs, EditArgs, LsArgs, PasswordArgs, render, secrets};
use crate::error::{CliError, CliResult};
use crate::output::Ui;

/// What a connection's password is called in prompts and errors.
const WHAT: &str = "connection password";

/// `the top level` or `` `prod/emea` ``.
pub(crate) fn place(path: Option<&str>) -> String {
    match path {
        Some(p) => format!("`{p}`"),
        None => "the top level".to_owned(),
    }
}

/// The connection with id `id` in a freshly loaded catalog, and its view.
async fn reloaded(session: &Session, id: ConnectionId) -> CliResult<ConnectionView> {
    let catalog = Catalog::load(session.bookmarks()).await?;
    let connection = catalog
        .connections
        .iter()
        .find(|c| c.id == id)
        .ok_or_else(|| CliError::new(format!("connection {id} vanished")))?;
    Ok(catalog.connection_view(connection, None))
}

/// Asks for a connection's password on the terminal.
fn ask_password(name: &str) -> CliResult<Secret> {
    secrets::prompt(&format!("Password for `{name}`: "), WHAT, None, false)
}

/// `ores bookmarks tree`.
pub(super) async fn tree(session: &Session, ui: Ui) -> CliResult {
    let catalog = Catalog::load(session.bookmarks()).await?;
    let level = session.bookmarks().tree().await?;
    let view = catalog.tree_view(&level);
    if view.folders.is_empty() && view.environments.is_empty() && view.connections.is_empty() {
        ui.note("No bookmarks yet: add one with `ores bookmarks add`.");
    }
    ui.show(&view, |v| {
        render::tree(&session.path().display().to_string(), v)
    })
}

/// `ores bookmarks ls`.
pub(super) async fn ls(session: &Session, ui: Ui, args: LsArgs) -> CliResult {
    let catalog = Catalog::load(session.bookmarks()).await?;
    let folder = match &args.folder {
        Some(path) => catalog.find_folder(path)?.map(|id| catalog.folder_path(id)),
        None => None,
    };
    if let Some(tag) = &args.tag {
        catalog.tag(tag)?;
    }
    let env = match &args.env {
        Some(name) => Some(catalog.environment(name)?.id),
        None => None,
    };
    let views: Vec<ConnectionView> = catalog
        .connections
        .iter()
        .filter(|c| args.tag.as_ref().is_none_or(|t| c.spec.tags.contains(t)))
        .filter(|c| env.is_none_or(|e| c.spec.environment_id == Some(e)))
        .map(|c| catalog.connection_view(c, None))
        .filter(|v| {
            folder.as_ref().is_none_or(|f| {
                v.folder
                    .as_ref()
                    .is_some_and(|p| p == f || p.starts_with(&format!("{f}/")))
            })
        })
        .collect();
    if views.is_empty() && !ui.json {
        ui.note("No connections.");
        return Ok(());
    }
    ui.show(&views, |v| render::connections(v))
}

/// `ores bookmarks search`.
pub(super) async fn search(session: &Session, ui: Ui, query: &str) -> CliResult {
    let catalog = Catalog::load(session.bookmarks()).await?;
    let found = session.bookmarks().search(query).await?;
    let view = SearchView {
        query: query.to_owned(),
        environments: found
            .environments
            .iter()
            .map(|e| catalog.environment_view(e))
            .collect(),
        connections: found
            .connections
            .iter()
            .map(|c| catalog.connection_view(c, None))
            .collect(),
    };
    if view.environments.is_empty() && view.connections.is_empty() && !ui.json {
        ui.note(&format!("Nothing matches `{query}`."));
        return Ok(());
    }
    ui.show(&view, render::search)
}

/// `ores bookmarks show`.
pub(super) async fn show(session: &Session, ui: Ui, name: &str, reveal: bool) -> CliResult {
    let catalog = Catalog::load(session.bookmarks()).await?;
    let connection = catalog.connection(name)?;
    let password = if reveal && connection.spec.password_sealed.is_some() {
        session.unlock().await?;
        Some(
            session
                .bookmarks()
                .connection_password(connection.id)
                .await?,
        )
    } else {
        None
    };
    let view = catalog.connection_view(connection, password);
    ui.show(&view, render::connection)
}

/// `ores bookmarks resolve`.
pub(super) async fn resolve(session: &Session, ui: Ui, name: &str, url_only: bool) -> CliResult {
    let catalog = Catalog::load(session.bookmarks()).await?;
    let connection = catalog.connection(name)?;
    let Some(target) = catalog.target(connection.id) else {
        return Err(ores_actors::connections::store::StoreError::Unresolvable {
            name: name.to_owned(),
        }
        .into());
    };
    let view = ResolveView {
        name: target.name.clone(),
        url: nats_url(&target.host, target.port),
        host: target.host.clone(),
        port: target.port,
        http_port: target.http_port,
        subject_prefix: target.subject_prefix.clone(),
        username: target.username.clone(),
        has_password: target.password_sealed.is_some(),
    };
    if url_only {
        return ui.data(&view.url);
    }
    ui.show(&view, |v| {
        let mut lines = vec![
            format!("url={}", v.url),
            format!("host={}", v.host),
            format!("port={}", v.port),
            format!("http_port={}", v.http_port),
            format!("subject_prefix={}", v.subject_prefix),
            format!("username={}", v.username),
        ];
        lines.push(format!("has_password={}", v.has_password));
        lines.join("\n")
    })
}

/// A host given on the command line, which must not be blank.
fn checked_host(host: String) -> CliResult<String> {
    if host.trim().is_empty() {
        Err(CliError::new("the host must not be empty"))
    } else {
        Ok(host.trim().to_owned())
    }
}

/// `ores bookmarks add`.
pub(super) async fn add(session: &Session, ui: Ui, args: AddArgs) -> CliResult {
    let bookmarks = session.bookmarks();
    let catalog = Catalog::load(bookmarks).await?;
    let folder_id = match &args.folder {
        Some(path) => catalog.find_folder(path)?,
        None => None,
    };
    let environment_id = match &args.env {
        Some(name) => Some(catalog.environment(name)?.id),
        None => None,
    };
    let host = args.host.map(checked_host).transpose()?;
    let port = host.as_ref().map(|_| args.port);
    let spec = ConnectionSpec {
        name: args.name.clone(),
        folder_id,
        environment_id,
        host,
        port,
        username: args.user.unwrap_or_default(),
        password_sealed: None,
        description: args.description.unwrap_or_default(),
        tags: args.tag,
    };
    if catalog
        .connections
        .iter()
        .any(|c| c.spec.name == spec.name.trim())
    {
        return Err(
            CliError::new(format!("a connection named `{}` already exists", args.name)).hint(
                format!("change it with `ores bookmarks edit {}`", args.name),
            ),
        );
    }
    let mut password = None;
    if args.password.password_stdin {
        password = Some(secrets::from_stdin(WHAT)?);
    }
    if password.is_some() || args.password.ask_password {
        session.unlock().await?;
    }
    if args.password.ask_password {
        password = Some(ask_password(&args.name)?);
    }
    let id = bookmarks.create_connection(spec, password).await?;
    let view = reloaded(session, id).await?;
    if ui.json {
        return ui.json(&view);
    }
    ui.done(&format!("Added connection `{}`.", view.name))
}

/// Applies the field changes of `args` to `spec`; whether anything changed.
fn apply_edit(catalog: &Catalog, args: &EditArgs, spec: &mut ConnectionSpec) -> CliResult<bool> {
    let before = spec.clone();
    let name = &args.name;
    if let Some(new) = &args.rename {
        spec.name = new.clone();
    }
    if let Some(env) = &args.env {
        spec.environment_id = Some(catalog.environment(env)?.id);
        spec.host = None;
        spec.port = None;
    }
    if args.no_env {
        spec.environment_id = None;
    }
    if args.host.is_some() || args.port.is_some() {
        spec.environment_id = None;
        if let Some(host) = &args.host {
            spec.host = Some(checked_host(host.clone())?);
        }
        if let Some(port) = args.port {
            spec.port = Some(port);
        }
        if spec.port.is_none() {
            spec.port = Some(4222);
        }
    }
    if spec.environment_id.is_none() && spec.host.is_none() {
        return Err(CliError::new(format!(
            "without an environment, connection `{name}` needs a host of its own"
        ))
        .hint(format!(
            "give one: `ores bookmarks edit {name} --host HOST [--port PORT]`"
        )));
    }
    if let Some(user) = &args.user {
        spec.username = user.clone();
    }
    if let Some(path) = &args.folder {
        spec.folder_id = catalog.find_folder(path)?;
    }
    super::tags::edit_tags("connection", name, &mut spec.tags, &args.tag, &args.untag)?;
    if let Some(description) = &args.description {
        spec.description = description.clone();
    }
    spec.tags.sort();
    let mut old_tags = before.tags.clone();
    old_tags.sort();
    Ok(*spec
        != ConnectionSpec {
            tags: old_tags,
            ..before
        })
}

/// `ores bookmarks edit`.
pub(super) async fn edit(session: &Session, ui: Ui, args: EditArgs) -> CliResult {
    let bookmarks = session.bookmarks();
    let catalog = Catalog::load(bookmarks).await?;
    let connection: Connection = catalog.connection(&args.name)?.clone();
    let mut spec = connection.spec.clone();
    let changed = apply_edit(&catalog, &args, &mut spec)?;
    let password_change = args.password_stdin || args.ask_password || args.no_password;
    if !changed && !password_change {
        return Err(
            CliError::new(format!("nothing to change for connection `{}`", args.name))
                .hint("give what to change, see `ores bookmarks edit --help`"),
        );
    }
    let mut password = None;
    if args.password_stdin {
        password = Some(secrets::from_stdin(WHAT)?);
    }
    if args.password_stdin || args.ask_password {
        // Before anything changes, so that a wrong master password changes nothing.
        session.unlock().await?;
    }
    if args.ask_password {
        password = Some(ask_password(&spec.name)?);
    }
    if changed {
        bookmarks.update_connection(connection.id, spec).await?;
    }
    if let Some(password) = password {
        bookmarks
            .save_connection_password(connection.id, password)
            .await?;
    } else if args.no_password && connection.spec.password_sealed.is_some() {
        bookmarks.forget_connection_password(connection.id).await?;
    }
    let view = reloaded(session, connection.id).await?;
    if ui.json {
        return ui.json(&view);
    }
    ui.done(&format!("Updated connection `{}`.", view.name))
}

/// `ores bookmarks rm`.
pub(super) async fn rm(session: &Session, ui: Ui, names: &[String]) -> CliResult {
    let catalog = Catalog::load(session.bookmarks()).await?;
    let ids = names
        .iter()
        .map(|n| catalog.connection(n).map(|c| c.id))
        .collect::<CliResult<Vec<_>>>()?;
    for (id, name) in ids.into_iter().zip(names) {
        session.bookmarks().delete_connection(id).await?;
        ui.done(&format!("Removed connection `{name}`."))?;
    }
    if ui.json {
        ui.json(&RemovedView {
            kind: "connection",
            removed: names.to_vec(),
        })?;
    }
    Ok(())
}

/// `ores bookmarks mv`.
pub(super) async fn mv(session: &Session, ui: Ui, name: &str, folder: &str) -> CliResult {
    let catalog = Catalog::load(session.bookmarks()).await?;
    let connection = catalog.connection(name)?;
    let folder_id = catalog.find_folder(folder)?;
    session
        .bookmarks()
        .move_connection(connection.id, folder_id)
        .await?;
    let view = reloaded(session, connection.id).await?;
    if ui.json {
        return ui.json(&view);
    }
    ui.done(&format!(
        "Moved connection `{name}` to {}.",
        place(view.folder.as_deref())
    ))
}

/// `ores bookmarks dup`.
pub(super) async fn dup(
    session: &Session,
    ui: Ui,
    name: &str,
    new_name: Option<&str>,
) -> CliResult {
    let bookmarks = session.bookmarks();
    let catalog = Catalog::load(bookmarks).await?;
    let connection = catalog.connection(name)?;
    if let Some(new) = new_name
        && catalog
            .connections
            .iter()
            .any(|c| c.spec.name == new.trim())
    {
        return Err(CliError::new(format!(
            "a connection named `{new}` already exists"
        )));
    }
    if connection.spec.password_sealed.is_some() {
        session.unlock().await?;
    }
    let copy = bookmarks.duplicate_connection(connection.id).await?;
    if let Some(new) = new_name {
        let mut spec = connection.spec.clone();
        spec.name = new.to_owned();
        if let Err(e) = bookmarks.update_connection(copy, spec).await {
            // Leave no half-done copy behind.
            let _ = bookmarks.delete_connection(copy).await;
            return Err(e.into());
        }
    }
    let view = reloaded(session, copy).await?;
    if ui.json {
        return ui.json(&view);
    }
    ui.done(&format!("Copied connection `{name}` to `{}`.", view.name))
}

/// `ores bookmarks password`.
pub(super) async fn password(session: &Session, ui: Ui, args: PasswordArgs) -> CliResult {
    let bookmarks = session.bookmarks();
    let catalog = Catalog::load(bookmarks).await?;
    let connection = catalog.connection(&args.name)?;
    if args.forget {
        if connection.spec.password_sealed.is_none() {
            ui.note(&format!(
                "Connection `{}` has no saved password.",
                args.name
            ));
        } else {
            bookmarks.forget_connection_password(connection.id).await?;
            ui.done(&format!(
                "Forgot the password of connection `{}`.",
                args.name
            ))?;
        }
    } else {
        let password = if args.password_stdin {
            let password = secrets::from_stdin(WHAT)?;
            session.unlock().await?;
            password
        } else {
            session.unlock().await?;
            ask_password(&args.name)?
        };
        bookmarks
            .save_connection_password(connection.id, password)
            .await?;
        ui.done(&format!(
            "Saved the password of connection `{}`.",
            args.name
        ))?;
    }
    if ui.json {
        return ui.json(&reloaded(session, connection.id).await?);
    }
    Ok(())
}
