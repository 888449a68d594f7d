//! The kinds of record an import deals with, and how a folder is named among them.

use std::fmt;

#[cfg(doc)]
use super::{ImportChoices, ImportPreview, ImportReport};

/// The kinds of record an import deals with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RecordKind {
    /// A folder (named by its path joined by `/`).
    Folder,
    /// A tag.
    Tag,
    /// An environment.
    Environment,
    /// A connection.
    Connection,
}

impl fmt::Display for RecordKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Folder => "folder",
            Self::Tag => "tag",
            Self::Environment => "environment",
            Self::Connection => "connection",
        })
    }
}

/// A folder path as one name: its parts joined by `/` (the name a folder has in an
/// [`ImportPreview`], an [`ImportChoices`] and an [`ImportReport`]).
pub fn folder_name(path: &[String]) -> String {
    path.join("/")
}
