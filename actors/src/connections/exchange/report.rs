//! What an import did, record by record: [`ImportReport`].

use super::record::RecordKind;
#[cfg(doc)]
use super::{ClashChoice, ImportPreview};

/// What an import did with one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportAction {
    /// Created.
    Created,
    /// Already there with the same values.
    Unchanged,
    /// Clashed and kept as it was ([`ClashChoice::Skip`]).
    Skipped,
    /// Clashed and overwritten ([`ClashChoice::Replace`]).
    Replaced,
    /// Clashed and imported beside the existing one ([`ClashChoice::KeepBoth`]).
    Renamed {
        /// The name it was imported under.
        new_name: String,
    },
}

/// One record of an [`ImportReport`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedRecord {
    /// Its kind.
    pub kind: RecordKind,
    /// Its name in the document (folders: the path joined by `/`).
    pub name: String,
    /// What was done with it.
    pub action: ImportAction,
}

/// A record imported under a new name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Renamed {
    /// Its kind.
    pub kind: RecordKind,
    /// Its name in the document.
    pub original: String,
    /// The name it was imported under.
    pub new_name: String,
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Every record of the document, in the order of [`ImportPreview::items`].
    pub records: Vec<ImportedRecord>,
    /// Records created.
    pub created: usize,
    /// Records already there with the same values.
    pub unchanged: usize,
    /// Clashing records kept as they were.
    pub skipped: usize,
    /// Clashing records overwritten.
    pub replaced: usize,
    /// Clashing records imported under a new name.
    pub renamed: Vec<Renamed>,
    /// Passwords sealed into the store.
    pub passwords_imported: usize,
}

impl ImportReport {
    pub(super) fn push(&mut self, kind: RecordKind, name: &str, action: ImportAction) {
        match &action {
            ImportAction::Created => self.created += 1,
            ImportAction::Unchanged => self.unchanged += 1,
            ImportAction::Skipped => self.skipped += 1,
            ImportAction::Replaced => self.replaced += 1,
            ImportAction::Renamed { new_name } => self.renamed.push(Renamed {
                kind,
                original: name.to_owned(),
                new_name: new_name.clone(),
            }),
        }
        self.records.push(ImportedRecord {
            kind,
            name: name.to_owned(),
            action,
        });
    }
}
