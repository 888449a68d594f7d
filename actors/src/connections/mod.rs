//! The encrypted SQLite connection-bookmark store.
//!
//! Today this holds the store's cryptography, [`vault`]: a random vault key seals each secret
//! (XChaCha20-Poly1305, bound to its record and field), and a key derived from the master
//! password (Argon2id) wraps the vault key. The SQLite store itself comes next.

pub mod vault;
