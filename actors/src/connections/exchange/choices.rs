//! What to do with each record that clashes: [`ImportChoices`].

use std::collections::HashMap;

use super::record::RecordKind;

/// What to do with a record that clashes with an existing one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum ClashChoice {
    /// Keep the existing record as it is (the default).
    #[default]
    Skip,
    /// Overwrite the existing record's fields (its id, and so its links, stay), tags and
    /// password included; a connection whose document entry carries no password keeps its
    /// stored one.
    Replace,
    /// Import the record under a new name, `"<name> (imported)"` (or `"(imported 2)"`...),
    /// beside the existing one. For a folder this is [`ClashChoice::Skip`]: folders are
    /// merged, so their contents meet in the existing folder.
    KeepBoth,
}

/// The choices for the clashes of an import: one per record, and a default for the rest.
///
/// ```
/// use ores_actors::connections::exchange::{ClashChoice, ImportChoices, RecordKind};
///
/// let choices = ImportChoices::new(ClashChoice::Skip)
///     .with(RecordKind::Connection, "alice@prod", ClashChoice::Replace)
///     .with(RecordKind::Folder, "prod/emea", ClashChoice::Replace);
/// assert_eq!(choices.choice_for(RecordKind::Connection, "alice@prod"), ClashChoice::Replace);
/// assert_eq!(choices.choice_for(RecordKind::Connection, "bob@prod"), ClashChoice::Skip);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportChoices {
    /// The choice for a clash without its own.
    pub default: ClashChoice,
    /// The choices per record: kind and name (folders: the path joined by `/`).
    pub per_record: HashMap<(RecordKind, String), ClashChoice>,
}

impl ImportChoices {
    /// `default` for every clash.
    pub fn new(default: ClashChoice) -> Self {
        Self {
            default,
            per_record: HashMap::new(),
        }
    }

    /// The same choices, with `choice` for the record of that kind and name.
    pub fn with(mut self, kind: RecordKind, name: impl Into<String>, choice: ClashChoice) -> Self {
        self.set(kind, name, choice);
        self
    }

    /// Sets the choice for the record of that kind and name.
    pub fn set(&mut self, kind: RecordKind, name: impl Into<String>, choice: ClashChoice) {
        self.per_record.insert((kind, name.into()), choice);
    }

    /// The choice for the record of that kind and name: its own, else the default.
    pub fn choice_for(&self, kind: RecordKind, name: &str) -> ClashChoice {
        self.per_record
            .get(&(kind, name.to_owned()))
            .copied()
            .unwrap_or(self.default)
    }
}
