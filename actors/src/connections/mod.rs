//! The encrypted SQLite connection-bookmark store: folders, tags, environments and connections
//! (ORE Studio's `ores.connections` model).
//!
//! - [`vault`]: the cryptography: a random vault key seals each secret (XChaCha20-Poly1305,
//!   bound to its record and field), and a key derived from the master password (Argon2id)
//!   wraps the vault key;
//! - [`store`] and [`model`]: the SQLite file (owner-only, foreign keys on every connection,
//!   WAL, versioned migrations), with passwords kept as opaque sealed blobs.
//!
//! - [`actor`]: the supervised [`BookmarkStore`](actor::BookmarkStore) actor joining the two
//!   (the vault is locked at every start), and [`handle`]: its handle
//!   [`Bookmarks`](handle::Bookmarks), with a method for every operation;
//! - [`document`]: the interchange [`Document`](document::Document) (records by name and folder
//!   path, passwords as zeroizing secrets);
//! - [`exchange`]: JSON export and import, with a preview and a choice per clash;
//! - [`ore_import`]: reading an ORE Studio `connections.db` given its master password.
//!
//! The `ores bookmarks` command line (crate `ores-cli`) is built on the handle.
//! Guide: `docs/bookmarks.md`.

pub mod actor;
pub mod document;
pub mod exchange;
pub mod handle;
pub mod model;
pub mod ore_import;
pub mod schema;
pub mod store;
pub mod vault;
