//! Folders: create, read, rename, move (never under themselves) and delete.

use rusqlite::{OptionalExtension, params};

use super::Store;
use super::error::{Result, StoreError, check_changed, checked_name, taken};
use super::rows::{FOLDER_COLUMNS, folder_exists, folder_from_row};
use crate::connections::model::{Folder, FolderId};

impl Store {
    /// Creates a folder under `parent` (or at the top level).
    ///
    /// # Errors
    ///
    /// [`StoreError::NameTaken`] if a sibling has that name, [`StoreError::NotFound`] for a
    /// missing parent, [`StoreError::EmptyName`].
    pub fn create_folder(
        &mut self,
        name: &str,
        parent: Option<FolderId>,
        description: &str,
    ) -> Result<FolderId> {
        let name = checked_name("folder", name)?;
        let tx = self.db.savepoint()?;
        if let Some(parent) = parent {
            folder_exists(&tx, parent)?;
        }
        tx.execute(
            "INSERT INTO folders (name, parent_id, description) VALUES (?1, ?2, ?3)",
            params![name, parent.map(|p| p.0), description],
        )
        .map_err(taken("folder", name))?;
        let id = FolderId(tx.last_insert_rowid());
        tx.commit()?;
        Ok(id)
    }

    /// The folder with that id.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`].
    pub fn folder(&self, id: FolderId) -> Result<Folder> {
        self.db
            .query_row(
                &format!("SELECT {FOLDER_COLUMNS} FROM folders WHERE id = ?1"),
                [id.0],
                folder_from_row,
            )
            .optional()?
            .ok_or(StoreError::NotFound {
                kind: "folder",
                id: id.0,
            })
    }

    /// All folders, by name.
    ///
    /// # Errors
    ///
    /// A SQLite error.
    pub fn folders(&self) -> Result<Vec<Folder>> {
        let mut stmt = self.db.prepare(&format!(
            "SELECT {FOLDER_COLUMNS} FROM folders ORDER BY name, id"
        ))?;
        let rows = stmt.query_map([], folder_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Renames a folder and replaces its description.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`], [`StoreError::NameTaken`], [`StoreError::EmptyName`].
    pub fn update_folder(&mut self, id: FolderId, name: &str, description: &str) -> Result<()> {
        let name = checked_name("folder", name)?;
        let changed = self
            .db
            .execute(
                "UPDATE folders SET name = ?2, description = ?3 WHERE id = ?1",
                params![id.0, name, description],
            )
            .map_err(taken("folder", name))?;
        check_changed("folder", id.0, changed)
    }

    /// Moves a folder (with everything in it) under `new_parent`, or to the top level.
    ///
    /// # Errors
    ///
    /// [`StoreError::FolderIntoItself`], [`StoreError::FolderIntoDescendant`],
    /// [`StoreError::NotFound`], [`StoreError::NameTaken`] if the new parent already has a
    /// folder of that name.
    pub fn move_folder(&mut self, id: FolderId, new_parent: Option<FolderId>) -> Result<()> {
        let folder = self.folder(id)?;
        let tx = self.db.savepoint()?;
        if let Some(target) = new_parent {
            folder_exists(&tx, target)?;
            if target == id {
                return Err(StoreError::FolderIntoItself {
                    folder: folder.name,
                });
            }
            let descendant: Option<String> = tx
                .query_row(
                    "WITH RECURSIVE sub(id) AS ( \
                         SELECT id FROM folders WHERE parent_id = ?1 \
                         UNION SELECT f.id FROM folders f JOIN sub ON f.parent_id = sub.id) \
                     SELECT name FROM folders WHERE id = ?2 AND id IN (SELECT id FROM sub)",
                    params![id.0, target.0],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(descendant) = descendant {
                return Err(StoreError::FolderIntoDescendant {
                    folder: folder.name,
                    descendant,
                });
            }
        }
        tx.execute(
            "UPDATE folders SET parent_id = ?2 WHERE id = ?1",
            params![id.0, new_parent.map(|p| p.0)],
        )
        .map_err(taken("folder", &folder.name))?;
        tx.commit()?;
        Ok(())
    }

    /// Deletes a folder with its subfolders and every environment and connection in them.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`].
    pub fn delete_folder(&mut self, id: FolderId) -> Result<()> {
        let changed = self
            .db
            .execute("DELETE FROM folders WHERE id = ?1", [id.0])?;
        check_changed("folder", id.0, changed)
    }
}
