//! The SQLite storage of the bookmark store: [`Store`] opens (or creates) the file, checks that
//! it is ours, migrates it, and offers synchronous operations on folders, tags, environments,
//! connections, recent parties and the vault row.
//!
//! Unlike ORE Studio, foreign keys are switched on for every connection the store opens, so the
//! cascades (a folder takes its subfolders, environments and connections with it; a tag its
//! links) do fire. Secrets are opaque: passwords are sealed blobs and the vault holds a wrapped
//! key, both produced by the crypto layer.

mod connections;
mod environments;
mod error;
mod folders;
mod open;
mod recent;
mod rows;
mod search;
mod tags;
mod vault_row;

use std::path::PathBuf;

use rusqlite::Connection as Db;

pub use connections::resolved;
pub use error::{Result, StoreError};
pub use open::default_path;

/// The bookmark store: one SQLite connection to one file.
#[derive(Debug)]
pub struct Store {
    db: Db,
    path: PathBuf,
}
