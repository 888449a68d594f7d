//! The whole store as a [`Document`]: [`export_document`].

use super::existing::Existing;
use crate::connections::actor::{BookmarkError, open_password};
use crate::connections::document::{DocConnection, DocEnvironment, DocFolder, Document};
use crate::connections::store::Store;
#[cfg(doc)]
use crate::connections::vault::VaultError;
use crate::connections::vault::VaultKey;

/// The whole store as a [`Document`]: folders (parents first, by path), every tag (the
/// unused ones included), environments and connections by name. Passwords are opened with
/// `key` when it is given, and left out (`None`) otherwise.
///
/// ```no_run
/// # use ores_actors::connections::{exchange, store::Store};
/// # fn demo(store: &Store) -> Result<(), ores_actors::connections::actor::BookmarkError> {
/// let doc = exchange::export_document(store, None)?;
/// assert!(doc.connections.iter().all(|c| c.password.is_none()));
/// # Ok(()) }
/// ```
///
/// # Errors
/// A store error; [`VaultError::Tampered`] (in [`BookmarkError::Vault`]) naming
/// `connection:<id>` when a stored password does not open with `key`.
pub fn export_document(store: &Store, key: Option<&VaultKey>) -> Result<Document, BookmarkError> {
    let existing = Existing::load(store)?;
    let mut folders: Vec<DocFolder> = existing
        .folders
        .iter()
        .map(|f| DocFolder {
            path: existing.path_of(Some(f.id)),
            description: f.description.clone(),
        })
        .collect();
    folders.sort_by(|a, b| a.path.cmp(&b.path));
    let environments = existing
        .environments
        .iter()
        .map(|e| DocEnvironment {
            name: e.spec.name.clone(),
            folder: existing.path_of(e.spec.folder_id),
            host: e.spec.host.clone(),
            port: e.spec.port,
            http_port: e.spec.http_port,
            subject_prefix: e.spec.subject_prefix.clone(),
            description: e.spec.description.clone(),
            tags: e.spec.tags.clone(),
        })
        .collect();
    let connections = existing
        .connections
        .iter()
        .map(|c| {
            let password = match (key, &c.spec.password_sealed) {
                (Some(key), Some(sealed)) => Some(open_password(key, c.id, sealed)?),
                _ => None,
            };
            Ok(DocConnection {
                name: c.spec.name.clone(),
                folder: existing.path_of(c.spec.folder_id),
                environment: existing.environment_name(c.spec.environment_id),
                host: c.spec.host.clone(),
                port: c.spec.port,
                username: c.spec.username.clone(),
                description: c.spec.description.clone(),
                tags: c.spec.tags.clone(),
                password,
            })
        })
        .collect::<Result<Vec<_>, BookmarkError>>()?;
    Ok(Document {
        folders,
        tags: existing.tags.clone(),
        environments,
        connections,
    })
}
