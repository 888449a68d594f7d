//! Writing a document into the store, all or nothing: [`apply_import`].

use std::collections::{HashMap, HashSet};

use super::choices::{ClashChoice, ImportChoices};
use super::error::ExchangeError;
use super::existing::Existing;
use super::normalize::normalize;
use super::preview::{connection_differences, environment_differences, folder_differences};
use super::record::{RecordKind, folder_name};
use super::report::{ImportAction, ImportReport};
use crate::connections::actor::{BookmarkError, seal_password};
use crate::connections::document::{Document, FolderPath};
use crate::connections::model::{
    ConnectionId, ConnectionSpec, EnvironmentId, EnvironmentSpec, FolderId,
};
use crate::connections::store::Store;
use crate::connections::vault::{Secret, VaultKey};

/// The first of `"<base> (imported)"`, `"<base> (imported 2)"`... not in `taken` (which
/// then holds it).
fn free_name(base: &str, taken: &mut HashSet<String>) -> String {
    let mut n = 1u32;
    loop {
        let name = if n == 1 {
            format!("{base} (imported)")
        } else {
            format!("{base} (imported {n})")
        };
        if taken.insert(name.clone()) {
            return name;
        }
        n += 1;
    }
}

fn folder_id(
    ids: &HashMap<FolderPath, FolderId>,
    kind: RecordKind,
    name: &str,
    path: &[String],
) -> Result<Option<FolderId>, ExchangeError> {
    if path.is_empty() {
        return Ok(None);
    }
    ids.get(path)
        .copied()
        .map(Some)
        .ok_or_else(|| ExchangeError::MissingFolder {
            kind,
            name: name.to_owned(),
            folder: folder_name(path),
        })
}

/// Seals `password` for connection `id` and stores it.
fn store_password(
    s: &mut Store,
    key: Option<&VaultKey>,
    id: ConnectionId,
    password: &Secret,
) -> Result<(), BookmarkError> {
    let key = key.ok_or(BookmarkError::Locked)?;
    let sealed = seal_password(key, id, password)?;
    s.set_connection_password(id, Some(&sealed))?;
    Ok(())
}

/// Imports `doc` into `store` in one transaction: everything is written, or (on any error)
/// nothing.
///
/// - Folders are created along their paths; an existing folder at the same path is reused
///   (a clash is only about its description: [`ClashChoice::Replace`] overwrites it, the
///   other choices keep it).
/// - Tags are created when missing.
/// - A clashing environment or connection follows `choices`: [`ClashChoice::Skip`] keeps the
///   existing record, [`ClashChoice::Replace`] overwrites its fields, tags and (when the
///   document carries one) password, keeping its id; [`ClashChoice::KeepBoth`] imports it as
///   `"<name> (imported)"` (`"(imported 2)"`... if taken). The document's connections that
///   use an environment imported under a new name use the renamed copy; those that use a
///   skipped one use the existing one. A connection left as it is (skipped or unchanged)
///   keeps its own links.
/// - Passwords the document carries are sealed with `key` for their new records
///   ([`seal_password`]).
///
/// ```no_run
/// # use ores_actors::connections::{document::Document, exchange, store::Store};
/// use ores_actors::connections::exchange::{ClashChoice, ImportChoices, RecordKind};
/// # fn demo(store: &mut Store, doc: &Document) -> Result<(), ores_actors::connections::actor::BookmarkError> {
/// let choices = ImportChoices::new(ClashChoice::Skip)
///     .with(RecordKind::Environment, "prod", ClashChoice::KeepBoth);
/// let report = exchange::apply_import(store, None, doc, &choices)?;
/// for r in &report.renamed {
///     println!("{} `{}` imported as `{}`", r.kind, r.original, r.new_name);
/// }
/// # Ok(()) }
/// ```
///
/// # Errors
/// [`BookmarkError::Locked`] when the document carries a password and `key` is `None`
/// (nothing is written); the errors of [`normalize`] (in [`BookmarkError::Exchange`]); a
/// store error (the import is then undone).
pub fn apply_import(
    store: &mut Store,
    key: Option<&VaultKey>,
    doc: &Document,
    choices: &ImportChoices,
) -> Result<ImportReport, BookmarkError> {
    let doc = normalize(doc)?;
    if key.is_none() && doc.connections.iter().any(|c| c.password.is_some()) {
        return Err(BookmarkError::Locked);
    }
    store.transaction(|s| apply_normalized(s, key, &doc, choices))
}

fn apply_normalized(
    s: &mut Store,
    key: Option<&VaultKey>,
    doc: &Document,
    choices: &ImportChoices,
) -> Result<ImportReport, BookmarkError> {
    let existing = Existing::load(s)?;
    let mut report = ImportReport::default();

    // Folders, parents first (as `normalize` orders them).
    let mut folder_ids: HashMap<FolderPath, FolderId> = existing
        .folders
        .iter()
        .filter_map(|f| existing.folder_paths.get(&f.id).map(|p| (p.clone(), f.id)))
        .collect();
    for f in &doc.folders {
        let name = folder_name(&f.path);
        let action = match existing.folder(&f.path) {
            None => {
                let (leaf, parent) =
                    f.path
                        .split_last()
                        .ok_or_else(|| ExchangeError::EmptyName {
                            kind: RecordKind::Folder,
                            place: "a folder path".into(),
                        })?;
                let parent_id = if parent.is_empty() {
                    None
                } else {
                    Some(folder_ids.get(parent).copied().ok_or_else(|| {
                        ExchangeError::MissingParentFolder {
                            folder: name.clone(),
                            parent: folder_name(parent),
                        }
                    })?)
                };
                let id = s.create_folder(leaf, parent_id, &f.description)?;
                folder_ids.insert(f.path.clone(), id);
                ImportAction::Created
            }
            Some(old) if folder_differences(f, old).is_empty() => ImportAction::Unchanged,
            Some(old) => match choices.choice_for(RecordKind::Folder, &name) {
                ClashChoice::Replace => {
                    s.update_folder(old.id, &old.name, &f.description)?;
                    ImportAction::Replaced
                }
                ClashChoice::Skip | ClashChoice::KeepBoth => ImportAction::Skipped,
            },
        };
        report.push(RecordKind::Folder, &name, action);
    }

    // Tags.
    for t in &doc.tags {
        let action = if existing.tags.contains(t) {
            ImportAction::Unchanged
        } else {
            s.create_tag(t)?;
            ImportAction::Created
        };
        report.push(RecordKind::Tag, t, action);
    }

    // Environments.
    let mut env_ids: HashMap<&str, EnvironmentId> = HashMap::new();
    let mut env_taken: HashSet<String> = existing
        .environments
        .iter()
        .map(|e| e.spec.name.clone())
        .chain(doc.environments.iter().map(|e| e.name.clone()))
        .collect();
    for e in &doc.environments {
        let mut spec = EnvironmentSpec {
            name: e.name.clone(),
            folder_id: folder_id(&folder_ids, RecordKind::Environment, &e.name, &e.folder)?,
            host: e.host.clone(),
            port: e.port,
            http_port: e.http_port,
            subject_prefix: e.subject_prefix.clone(),
            description: e.description.clone(),
            tags: e.tags.clone(),
        };
        let (id, action) = match existing.environment(&e.name) {
            None => (s.create_environment(&spec)?, ImportAction::Created),
            Some(old) if environment_differences(e, old, &existing).is_empty() => {
                (old.id, ImportAction::Unchanged)
            }
            Some(old) => match choices.choice_for(RecordKind::Environment, &e.name) {
                ClashChoice::Skip => (old.id, ImportAction::Skipped),
                ClashChoice::Replace => {
                    s.update_environment(old.id, &spec)?;
                    (old.id, ImportAction::Replaced)
                }
                ClashChoice::KeepBoth => {
                    spec.name = free_name(&e.name, &mut env_taken);
                    let id = s.create_environment(&spec)?;
                    (
                        id,
                        ImportAction::Renamed {
                            new_name: spec.name,
                        },
                    )
                }
            },
        };
        env_ids.insert(&e.name, id);
        report.push(RecordKind::Environment, &e.name, action);
    }

    // Connections.
    let mut conn_taken: HashSet<String> = existing
        .connections
        .iter()
        .map(|c| c.spec.name.clone())
        .chain(doc.connections.iter().map(|c| c.name.clone()))
        .collect();
    for c in &doc.connections {
        let environment_id = match &c.environment {
            None => None,
            Some(env) => Some(env_ids.get(env.as_str()).copied().ok_or_else(|| {
                ExchangeError::MissingEnvironment {
                    connection: c.name.clone(),
                    environment: env.clone(),
                }
            })?),
        };
        let mut spec = ConnectionSpec {
            name: c.name.clone(),
            folder_id: folder_id(&folder_ids, RecordKind::Connection, &c.name, &c.folder)?,
            environment_id,
            host: c.host.clone(),
            port: c.port,
            username: c.username.clone(),
            password_sealed: None,
            description: c.description.clone(),
            tags: c.tags.clone(),
        };
        let (written, action) = match existing.connection(&c.name) {
            None => (Some(s.create_connection(&spec)?), ImportAction::Created),
            Some(old) if connection_differences(c, old, &existing, key).is_empty() => {
                (None, ImportAction::Unchanged)
            }
            Some(old) => match choices.choice_for(RecordKind::Connection, &c.name) {
                ClashChoice::Skip => (None, ImportAction::Skipped),
                ClashChoice::Replace => {
                    spec.password_sealed = old.spec.password_sealed.clone();
                    s.update_connection(old.id, &spec)?;
                    (Some(old.id), ImportAction::Replaced)
                }
                ClashChoice::KeepBoth => {
                    spec.name = free_name(&c.name, &mut conn_taken);
                    let id = s.create_connection(&spec)?;
                    (
                        Some(id),
                        ImportAction::Renamed {
                            new_name: spec.name,
                        },
                    )
                }
            },
        };
        if let (Some(id), Some(password)) = (written, &c.password) {
            store_password(s, key, id, password)?;
            report.passwords_imported += 1;
        }
        report.push(RecordKind::Connection, &c.name, action);
    }
    Ok(report)
}
