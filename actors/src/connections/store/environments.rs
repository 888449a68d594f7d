//! Environments: create, update (with their tags), read, move and delete.

use rusqlite::{Connection as Db, params};

use super::Store;
use super::error::{Result, StoreError, check_changed, checked_name, taken};
use super::rows::{ENVIRONMENT_COLUMNS, environment_from_row, folder_exists, set_tags, tag_map};
use crate::connections::model::{Environment, EnvironmentId, EnvironmentSpec, FolderId};

impl Store {
    fn write_environment(
        db: &Db,
        id: Option<EnvironmentId>,
        spec: &EnvironmentSpec,
    ) -> Result<i64> {
        let name = checked_name("environment", &spec.name)?;
        if let Some(folder) = spec.folder_id {
            folder_exists(db, folder)?;
        }
        let values = params![
            name,
            spec.folder_id.map(|f| f.0),
            spec.host,
            spec.port,
            spec.http_port,
            spec.subject_prefix,
            spec.description,
            id.map(|i| i.0),
        ];
        let id = match id {
            None => {
                db.execute(
                    "INSERT INTO environments \
                     (name, folder_id, host, port, http_port, subject_prefix, description) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    &values[..7],
                )
                .map_err(taken("environment", name))?;
                db.last_insert_rowid()
            }
            Some(id) => {
                let changed = db
                    .execute(
                        "UPDATE environments SET name = ?1, folder_id = ?2, host = ?3, \
                         port = ?4, http_port = ?5, subject_prefix = ?6, description = ?7 \
                         WHERE id = ?8",
                        values,
                    )
                    .map_err(taken("environment", name))?;
                check_changed("environment", id.0, changed)?;
                id.0
            }
        };
        set_tags(db, "environment_tags", "environment_id", id, &spec.tags)?;
        Ok(id)
    }

    /// Creates an environment with its tags.
    ///
    /// # Errors
    ///
    /// [`StoreError::NameTaken`], [`StoreError::NotFound`] for a missing folder,
    /// [`StoreError::EmptyName`].
    pub fn create_environment(&mut self, spec: &EnvironmentSpec) -> Result<EnvironmentId> {
        let tx = self.db.savepoint()?;
        let id = Self::write_environment(&tx, None, spec)?;
        tx.commit()?;
        Ok(EnvironmentId(id))
    }

    /// Replaces every field (and the tags) of an environment.
    ///
    /// # Errors
    ///
    /// As [`Store::create_environment`], and [`StoreError::NotFound`] for a missing id.
    pub fn update_environment(&mut self, id: EnvironmentId, spec: &EnvironmentSpec) -> Result<()> {
        let tx = self.db.savepoint()?;
        Self::write_environment(&tx, Some(id), spec)?;
        tx.commit()?;
        Ok(())
    }

    fn query_environments(
        &self,
        filter: &str,
        value: &dyn rusqlite::ToSql,
    ) -> Result<Vec<Environment>> {
        let mut stmt = self.db.prepare_cached(&format!(
            "SELECT {ENVIRONMENT_COLUMNS} FROM environments {filter} ORDER BY name"
        ))?;
        let mut envs = if filter.is_empty() {
            stmt.query_map([], environment_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?
        } else {
            stmt.query_map([value], environment_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?
        };
        let mut tags = tag_map(
            &self.db,
            "environment_tags",
            "environment_id",
            ("environments", filter, value),
        )?;
        for env in &mut envs {
            env.spec.tags = tags.remove(&env.id.0).unwrap_or_default();
        }
        Ok(envs)
    }

    /// The environment with that id.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`].
    pub fn environment(&self, id: EnvironmentId) -> Result<Environment> {
        self.query_environments("WHERE id = ?1", &id.0)?
            .pop()
            .ok_or(StoreError::NotFound {
                kind: "environment",
                id: id.0,
            })
    }

    /// The environment with that name.
    ///
    /// # Errors
    ///
    /// [`StoreError::NoSuchName`].
    pub fn environment_by_name(&self, name: &str) -> Result<Environment> {
        self.query_environments("WHERE name = ?1", &name.trim())?
            .pop()
            .ok_or_else(|| StoreError::NoSuchName {
                kind: "environment",
                name: name.to_owned(),
            })
    }

    /// All environments, by name.
    ///
    /// # Errors
    ///
    /// A SQLite error.
    pub fn environments(&self) -> Result<Vec<Environment>> {
        self.query_environments("", &0)
    }

    /// Moves an environment into a folder (or to the top level).
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`] for a missing environment or folder.
    pub fn move_environment(&mut self, id: EnvironmentId, folder: Option<FolderId>) -> Result<()> {
        let tx = self.db.savepoint()?;
        if let Some(folder) = folder {
            folder_exists(&tx, folder)?;
        }
        let changed = tx.execute(
            "UPDATE environments SET folder_id = ?2 WHERE id = ?1",
            params![id.0, folder.map(|f| f.0)],
        )?;
        check_changed("environment", id.0, changed)?;
        tx.commit()?;
        Ok(())
    }

    /// Deletes an environment; connections linked to it lose the link (and keep their own
    /// host and port, if any).
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`].
    pub fn delete_environment(&mut self, id: EnvironmentId) -> Result<()> {
        let changed = self
            .db
            .execute("DELETE FROM environments WHERE id = ?1", [id.0])?;
        check_changed("environment", id.0, changed)
    }
}
