//! Connections: create, update (with their tags and sealed password), read, move, duplicate
//! and delete; resolving where and as whom one logs in.

use rusqlite::{Connection as Db, OptionalExtension, params};

use super::Store;
use super::error::{Result, StoreError, check_changed, checked_name, taken};
use super::rows::{
    CONNECTION_COLUMNS, connection_from_row, environment_exists, folder_exists, set_tags, tag_map,
};
use crate::connections::model::{
    Connection, ConnectionId, ConnectionSpec, DEFAULT_HTTP_PORT, Environment, FolderId,
    ResolvedConnection,
};

impl Store {
    fn write_connection(db: &Db, id: Option<ConnectionId>, spec: &ConnectionSpec) -> Result<i64> {
        let name = checked_name("connection", &spec.name)?;
        if let Some(folder) = spec.folder_id {
            folder_exists(db, folder)?;
        }
        if let Some(env) = spec.environment_id {
            environment_exists(db, env)?;
        }
        let values = params![
            name,
            spec.folder_id.map(|f| f.0),
            spec.environment_id.map(|e| e.0),
            spec.host,
            spec.port,
            spec.username,
            spec.password_sealed,
            spec.description,
            id.map(|i| i.0),
        ];
        let id = match id {
            None => {
                db.execute(
                    "INSERT INTO connections (name, folder_id, environment_id, host, port, \
                     username, password_sealed, description) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    &values[..8],
                )
                .map_err(taken("connection", name))?;
                db.last_insert_rowid()
            }
            Some(id) => {
                let changed = db
                    .execute(
                        "UPDATE connections SET name = ?1, folder_id = ?2, environment_id = ?3, \
                         host = ?4, port = ?5, username = ?6, password_sealed = ?7, \
                         description = ?8 WHERE id = ?9",
                        values,
                    )
                    .map_err(taken("connection", name))?;
                check_changed("connection", id.0, changed)?;
                id.0
            }
        };
        set_tags(db, "connection_tags", "connection_id", id, &spec.tags)?;
        Ok(id)
    }

    /// Creates a connection with its tags.
    ///
    /// # Errors
    ///
    /// [`StoreError::NameTaken`], [`StoreError::NotFound`] for a missing folder or
    /// environment, [`StoreError::EmptyName`].
    pub fn create_connection(&mut self, spec: &ConnectionSpec) -> Result<ConnectionId> {
        let tx = self.db.savepoint()?;
        let id = Self::write_connection(&tx, None, spec)?;
        tx.commit()?;
        Ok(ConnectionId(id))
    }

    /// Replaces every field (the sealed password and the tags included) of a connection.
    ///
    /// # Errors
    ///
    /// As [`Store::create_connection`], and [`StoreError::NotFound`] for a missing id.
    pub fn update_connection(&mut self, id: ConnectionId, spec: &ConnectionSpec) -> Result<()> {
        let tx = self.db.savepoint()?;
        Self::write_connection(&tx, Some(id), spec)?;
        tx.commit()?;
        Ok(())
    }

    /// Replaces only the sealed password of a connection (`None` forgets it).
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`].
    pub fn set_connection_password(
        &mut self,
        id: ConnectionId,
        password_sealed: Option<&[u8]>,
    ) -> Result<()> {
        let changed = self.db.execute(
            "UPDATE connections SET password_sealed = ?2 WHERE id = ?1",
            params![id.0, password_sealed],
        )?;
        check_changed("connection", id.0, changed)
    }

    pub(super) fn query_connections(
        &self,
        filter: &str,
        value: &dyn rusqlite::ToSql,
    ) -> Result<Vec<Connection>> {
        let mut stmt = self.db.prepare_cached(&format!(
            "SELECT {CONNECTION_COLUMNS} FROM connections {filter} ORDER BY name"
        ))?;
        let mut conns = if filter.is_empty() {
            stmt.query_map([], connection_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?
        } else {
            stmt.query_map([value], connection_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?
        };
        let mut tags = tag_map(
            &self.db,
            "connection_tags",
            "connection_id",
            ("connections", filter, value),
        )?;
        for conn in &mut conns {
            conn.spec.tags = tags.remove(&conn.id.0).unwrap_or_default();
        }
        Ok(conns)
    }

    /// The connection with that id.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`].
    pub fn connection(&self, id: ConnectionId) -> Result<Connection> {
        self.query_connections("WHERE id = ?1", &id.0)?
            .pop()
            .ok_or(StoreError::NotFound {
                kind: "connection",
                id: id.0,
            })
    }

    /// The connection with that name.
    ///
    /// # Errors
    ///
    /// [`StoreError::NoSuchName`].
    pub fn connection_by_name(&self, name: &str) -> Result<Connection> {
        self.query_connections("WHERE name = ?1", &name.trim())?
            .pop()
            .ok_or_else(|| StoreError::NoSuchName {
                kind: "connection",
                name: name.to_owned(),
            })
    }

    /// All connections, by name.
    ///
    /// # Errors
    ///
    /// A SQLite error.
    pub fn connections(&self) -> Result<Vec<Connection>> {
        self.query_connections("", &0)
    }

    /// Moves a connection into a folder (or to the top level).
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`] for a missing connection or folder.
    pub fn move_connection(&mut self, id: ConnectionId, folder: Option<FolderId>) -> Result<()> {
        let tx = self.db.savepoint()?;
        if let Some(folder) = folder {
            folder_exists(&tx, folder)?;
        }
        let changed = tx.execute(
            "UPDATE connections SET folder_id = ?2 WHERE id = ?1",
            params![id.0, folder.map(|f| f.0)],
        )?;
        check_changed("connection", id.0, changed)?;
        tx.commit()?;
        Ok(())
    }

    /// Copies a connection (sealed password and tags included) into the same folder, named
    /// `"<name> (copy)"`, or `"<name> (copy 2)"`, `"<name> (copy 3)"`… if that is taken.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`].
    pub fn duplicate_connection(&mut self, id: ConnectionId) -> Result<ConnectionId> {
        let original = self.connection(id)?;
        let tx = self.db.savepoint()?;
        let mut spec = original.spec;
        let base = spec.name.clone();
        let mut n = 1u32;
        loop {
            spec.name = if n == 1 {
                format!("{base} (copy)")
            } else {
                format!("{base} (copy {n})")
            };
            let exists: Option<i64> = tx
                .query_row(
                    "SELECT 1 FROM connections WHERE name = ?1",
                    [&spec.name],
                    |r| r.get(0),
                )
                .optional()?;
            if exists.is_none() {
                break;
            }
            n += 1;
        }
        let new = Self::write_connection(&tx, None, &spec)?;
        tx.commit()?;
        Ok(ConnectionId(new))
    }

    /// Deletes a connection and its tag links.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`].
    pub fn delete_connection(&mut self, id: ConnectionId) -> Result<()> {
        let changed = self
            .db
            .execute("DELETE FROM connections WHERE id = ?1", [id.0])?;
        check_changed("connection", id.0, changed)
    }

    fn resolve_connection(&self, conn: Connection) -> Result<ResolvedConnection> {
        let environment = match conn.spec.environment_id {
            Some(id) => Some(self.environment(id)?),
            None => None,
        };
        resolved(conn, environment.as_ref())
    }

    /// Where and as whom the connection logs in: its environment's host, ports and subject
    /// prefix when linked, else its own host and port; its user name and sealed password.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`], [`StoreError::Unresolvable`].
    pub fn resolve(&self, id: ConnectionId) -> Result<ResolvedConnection> {
        self.resolve_connection(self.connection(id)?)
    }

    /// [`Store::resolve`] by name.
    ///
    /// # Errors
    ///
    /// [`StoreError::NoSuchName`], [`StoreError::Unresolvable`].
    pub fn resolve_by_name(&self, name: &str) -> Result<ResolvedConnection> {
        self.resolve_connection(self.connection_by_name(name)?)
    }
}

/// Where and as whom `conn` logs in, given its environment (the one its `environment_id`
/// names, already read): the environment's host, ports and subject prefix when linked, else
/// its own host and port. What [`Store::resolve`] does, for callers that hold the records
/// already (no reads).
///
/// # Errors
///
/// [`StoreError::NotFound`] when `conn` names an environment and `environment` is not it,
/// [`StoreError::Unresolvable`].
pub fn resolved(conn: Connection, environment: Option<&Environment>) -> Result<ResolvedConnection> {
    let spec = conn.spec;
    let (host, port, http_port, subject_prefix) = match spec.environment_id {
        Some(id) => match environment {
            Some(env) if env.id == id => {
                let env = &env.spec;
                (
                    env.host.clone(),
                    env.port,
                    env.http_port,
                    env.subject_prefix.clone(),
                )
            }
            _ => {
                return Err(StoreError::NotFound {
                    kind: "environment",
                    id: id.0,
                });
            }
        },
        None => match (spec.host, spec.port) {
            (Some(host), Some(port)) if !host.trim().is_empty() => {
                (host, port, DEFAULT_HTTP_PORT, String::new())
            }
            _ => return Err(StoreError::Unresolvable { name: spec.name }),
        },
    };
    Ok(ResolvedConnection {
        name: spec.name,
        host,
        port,
        http_port,
        subject_prefix,
        username: spec.username,
        password_sealed: spec.password_sealed,
    })
}
