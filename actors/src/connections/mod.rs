//! The encrypted SQLite connection-bookmark store: folders, tags, environments and connections
//! (ORE Studio's `ores.connections` model).
//!
//! - [`vault`]: the cryptography: a random vault key seals each secret (XChaCha20-Poly1305,
//!   bound to its record and field), and a key derived from the master password (Argon2id)
//!   wraps the vault key;
//! - [`store`] and [`model`]: the SQLite file (owner-only, foreign keys on every connection,
//!   WAL, versioned migrations), with passwords kept as opaque sealed blobs.
//!
//! Still to come (issue 7): the supervised `BookmarkStore` actor joining the two, import and
//! export, and the `ores bookmarks` CLI. Guide: `docs/bookmarks.md`.

pub mod model;
pub mod schema;
pub mod store;
pub mod vault;
