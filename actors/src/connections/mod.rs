//! The encrypted SQLite connection-bookmark store: folders, tags, environments and connections
//! (ORE Studio's `ores.connections` model).
//!
//! - [`vault`]: the cryptography: a random vault key seals each secret (XChaCha20-Poly1305,
//!   bound to its record and field), and a key derived from the master password (Argon2id)
//!   wraps the vault key;
//! - [`store`] and [`model`]: the SQLite file (owner-only, foreign keys on every connection,
//!   WAL, versioned migrations), with passwords kept as opaque sealed blobs.
//!
//! - [`actor`]: the supervised [`BookmarkStore`](actor::BookmarkStore) actor joining the two,
//!   and its handle [`Bookmarks`](actor::Bookmarks) (the vault is locked at every start).
//!
//! Still to come (issue 7): import and export, ORE import, and the `ores bookmarks` CLI.
//! Guide: `docs/bookmarks.md`.

pub mod actor;
pub mod document;
pub mod exchange;
pub mod model;
pub mod ore_import;
pub mod schema;
pub mod store;
pub mod vault;
