//! What importing a document would do, record by record: [`preview_import`].

#[cfg(doc)]
use super::ImportChoices;
use super::existing::Existing;
use super::normalize::normalize;
use super::record::{RecordKind, folder_name};
use crate::connections::actor::{BookmarkError, open_password};
use crate::connections::document::{DocConnection, DocEnvironment, DocFolder, Document};
use crate::connections::model::{Connection, Environment, Folder};
use crate::connections::store::Store;
use crate::connections::vault::VaultKey;

/// What importing a record would do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordStatus {
    /// No record of that kind and name exists: it will be created.
    New,
    /// The same record exists with the same values: nothing to do.
    Unchanged,
    /// A record of that kind and name exists with other values: the [`ImportChoices`] decide.
    Clash {
        /// The fields that differ (`"description"`, `"host"`, `"tags"`, `"password"`...).
        differences: Vec<String>,
    },
}

/// One record of an [`ImportPreview`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviewItem {
    /// Its kind.
    pub kind: RecordKind,
    /// Its name (folders: the path joined by `/`), as the [`ImportChoices`] name it.
    pub name: String,
    /// What importing it would do.
    pub status: RecordStatus,
}

/// How many records of an [`ImportPreview`] are new, unchanged or clashing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PreviewCounts {
    /// Records to create.
    pub new: usize,
    /// Records already there with the same values.
    pub unchanged: usize,
    /// Records clashing with an existing one.
    pub clashes: usize,
}

/// What importing a document would do, record by record: folders (parents first), tags,
/// environments, then connections, each in the document's order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportPreview {
    /// Every record of the document.
    pub items: Vec<PreviewItem>,
    /// How many connections carry a password (importing them needs the vault unlocked).
    pub passwords: usize,
}

impl ImportPreview {
    /// The counts of new, unchanged and clashing records.
    pub fn counts(&self) -> PreviewCounts {
        let mut counts = PreviewCounts::default();
        for item in &self.items {
            match item.status {
                RecordStatus::New => counts.new += 1,
                RecordStatus::Unchanged => counts.unchanged += 1,
                RecordStatus::Clash { .. } => counts.clashes += 1,
            }
        }
        counts
    }

    /// The clashing records.
    pub fn clashes(&self) -> impl Iterator<Item = &PreviewItem> {
        self.items
            .iter()
            .filter(|i| matches!(i.status, RecordStatus::Clash { .. }))
    }

    /// The record of that kind and name, if the document has it.
    pub fn item(&self, kind: RecordKind, name: &str) -> Option<&PreviewItem> {
        self.items.iter().find(|i| i.kind == kind && i.name == name)
    }
}

fn sorted(tags: &[String]) -> Vec<&String> {
    let mut v: Vec<&String> = tags.iter().collect();
    v.sort();
    v.dedup();
    v
}

pub(super) fn folder_differences(doc: &DocFolder, old: &Folder) -> Vec<String> {
    if doc.description == old.description {
        Vec::new()
    } else {
        vec!["description".into()]
    }
}

pub(super) fn environment_differences(
    doc: &DocEnvironment,
    old: &Environment,
    existing: &Existing,
) -> Vec<String> {
    let s = &old.spec;
    let checks = [
        ("folder", existing.path_of(s.folder_id) == doc.folder),
        ("host", s.host == doc.host),
        ("port", s.port == doc.port),
        ("http_port", s.http_port == doc.http_port),
        ("subject_prefix", s.subject_prefix == doc.subject_prefix),
        ("description", s.description == doc.description),
        ("tags", sorted(&s.tags) == sorted(&doc.tags)),
    ];
    checks
        .iter()
        .filter(|(_, same)| !same)
        .map(|(field, _)| (*field).to_owned())
        .collect()
}

pub(super) fn connection_differences(
    doc: &DocConnection,
    old: &Connection,
    existing: &Existing,
    key: Option<&VaultKey>,
) -> Vec<String> {
    let s = &old.spec;
    let same_password = match (&doc.password, &s.password_sealed, key) {
        // The document does not carry it: the stored one is kept.
        (None, _, _) => true,
        (Some(_), None, _) => false,
        // Locked: the stored password cannot be compared.
        (Some(_), Some(_), None) => false,
        (Some(new), Some(sealed), Some(key)) => open_password(key, old.id, sealed)
            .map(|old| old.expose() == new.expose())
            .unwrap_or(false),
    };
    let checks = [
        ("folder", existing.path_of(s.folder_id) == doc.folder),
        (
            "environment",
            existing.environment_name(s.environment_id) == doc.environment,
        ),
        ("host", s.host == doc.host),
        ("port", s.port == doc.port),
        ("username", s.username == doc.username),
        ("description", s.description == doc.description),
        ("tags", sorted(&s.tags) == sorted(&doc.tags)),
        ("password", same_password),
    ];
    checks
        .iter()
        .filter(|(_, same)| !same)
        .map(|(field, _)| (*field).to_owned())
        .collect()
}

fn status(differences: Vec<String>) -> RecordStatus {
    if differences.is_empty() {
        RecordStatus::Unchanged
    } else {
        RecordStatus::Clash { differences }
    }
}

/// What importing `doc` into `store` would do, without the vault key (see
/// [`preview_import_with_key`]). Records are matched by kind and name (folders by path):
/// a folder clashes only on its description (folders are merged), a tag never clashes.
///
/// A connection carrying a password whose existing namesake has one too is listed as
/// differing in `"password"`, since the stored password cannot be read without the key; a
/// connection carrying no password never differs in it (importing it keeps the stored one).
///
/// ```no_run
/// # use ores_actors::connections::{document::Document, exchange, store::Store};
/// # fn demo(store: &Store, doc: &Document) -> Result<(), ores_actors::connections::actor::BookmarkError> {
/// let preview = exchange::preview_import(store, doc)?;
/// for item in preview.clashes() {
///     println!("{} `{}`: {:?}", item.kind, item.name, item.status);
/// }
/// # Ok(()) }
/// ```
///
/// # Errors
/// The errors of [`normalize`] (in [`BookmarkError::Exchange`]); a store error.
pub fn preview_import(store: &Store, doc: &Document) -> Result<ImportPreview, BookmarkError> {
    preview_import_with_key(store, None, doc)
}

/// [`preview_import`], with the vault key when it is at hand, so that passwords are compared.
///
/// # Errors
/// As [`preview_import`].
pub fn preview_import_with_key(
    store: &Store,
    key: Option<&VaultKey>,
    doc: &Document,
) -> Result<ImportPreview, BookmarkError> {
    let doc = normalize(doc)?;
    let existing = Existing::load(store)?;
    let mut items = Vec::new();
    for f in &doc.folders {
        items.push(PreviewItem {
            kind: RecordKind::Folder,
            name: folder_name(&f.path),
            status: match existing.folder(&f.path) {
                None => RecordStatus::New,
                Some(old) => status(folder_differences(f, old)),
            },
        });
    }
    for t in &doc.tags {
        items.push(PreviewItem {
            kind: RecordKind::Tag,
            name: t.clone(),
            status: if existing.tags.contains(t) {
                RecordStatus::Unchanged
            } else {
                RecordStatus::New
            },
        });
    }
    for e in &doc.environments {
        items.push(PreviewItem {
            kind: RecordKind::Environment,
            name: e.name.clone(),
            status: match existing.environment(&e.name) {
                None => RecordStatus::New,
                Some(old) => status(environment_differences(e, old, &existing)),
            },
        });
    }
    for c in &doc.connections {
        items.push(PreviewItem {
            kind: RecordKind::Connection,
            name: c.name.clone(),
            status: match existing.connection(&c.name) {
                None => RecordStatus::New,
                Some(old) => status(connection_differences(c, old, &existing, key)),
            },
        });
    }
    Ok(ImportPreview {
        items,
        passwords: doc
            .connections
            .iter()
            .filter(|c| c.password.is_some())
            .count(),
    })
}
