//! The versioned schema of the bookmark store: migration `n` (1-based) brings `user_version`
//! from `n - 1` to `n`.

/// The `application_id` that marks a SQLite file as an ores bookmark store ("ORES").
pub const APPLICATION_ID: i32 = 0x4F52_4553;

/// The migrations, oldest first; `PRAGMA user_version` is how many have been applied.
pub const MIGRATIONS: &[&str] = &[
    // 1: ORE's model, with secrets as sealed blobs and the vault row.
    r#"
CREATE TABLE folders (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    parent_id   INTEGER REFERENCES folders(id) ON DELETE CASCADE,
    description TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX folders_sibling_name ON folders (COALESCE(parent_id, 0), name);

CREATE TABLE tags (
    id   INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);

CREATE TABLE environments (
    id             INTEGER PRIMARY KEY,
    folder_id      INTEGER REFERENCES folders(id) ON DELETE CASCADE,
    name           TEXT NOT NULL UNIQUE,
    host           TEXT NOT NULL,
    port           INTEGER NOT NULL CHECK (port BETWEEN 0 AND 65535),
    http_port      INTEGER NOT NULL DEFAULT 8080 CHECK (http_port BETWEEN 0 AND 65535),
    subject_prefix TEXT NOT NULL DEFAULT '',
    description    TEXT NOT NULL DEFAULT ''
);

CREATE TABLE connections (
    id              INTEGER PRIMARY KEY,
    folder_id       INTEGER REFERENCES folders(id) ON DELETE CASCADE,
    environment_id  INTEGER REFERENCES environments(id) ON DELETE SET NULL,
    name            TEXT NOT NULL UNIQUE,
    host            TEXT,
    port            INTEGER CHECK (port BETWEEN 0 AND 65535),
    username        TEXT NOT NULL DEFAULT '',
    password_sealed BLOB,
    description     TEXT NOT NULL DEFAULT ''
);

CREATE TABLE environment_tags (
    environment_id INTEGER NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
    tag_id         INTEGER NOT NULL REFERENCES tags(id) ON DELETE CASCADE,
    PRIMARY KEY (environment_id, tag_id)
);

CREATE TABLE connection_tags (
    connection_id INTEGER NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    tag_id        INTEGER NOT NULL REFERENCES tags(id) ON DELETE CASCADE,
    PRIMARY KEY (connection_id, tag_id)
);

CREATE TABLE recent_parties (
    party_id         TEXT PRIMARY KEY,
    party_name       TEXT NOT NULL,
    last_selected_at INTEGER NOT NULL,
    seq              INTEGER NOT NULL
);

CREATE TABLE vault (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    wrapped BLOB NOT NULL,
    params  TEXT NOT NULL
);
"#,
];
