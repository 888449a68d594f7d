//! Tags: create, list, look up, rename and delete.

use rusqlite::{OptionalExtension, params};

use super::Store;
use super::error::{Result, StoreError, check_changed, checked_name, taken};
use crate::connections::model::{Tag, TagId};

impl Store {
    /// Creates a tag.
    ///
    /// # Errors
    ///
    /// [`StoreError::NameTaken`], [`StoreError::EmptyName`].
    pub fn create_tag(&mut self, name: &str) -> Result<TagId> {
        let name = checked_name("tag", name)?;
        self.db
            .execute("INSERT INTO tags (name) VALUES (?1)", [name])
            .map_err(taken("tag", name))?;
        Ok(TagId(self.db.last_insert_rowid()))
    }

    /// All tags, by name.
    ///
    /// # Errors
    ///
    /// A SQLite error.
    pub fn tags(&self) -> Result<Vec<Tag>> {
        let mut stmt = self.db.prepare("SELECT id, name FROM tags ORDER BY name")?;
        let rows = stmt.query_map([], |r| {
            Ok(Tag {
                id: TagId(r.get(0)?),
                name: r.get(1)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The tag with that name.
    ///
    /// # Errors
    ///
    /// [`StoreError::NoSuchName`].
    pub fn tag_by_name(&self, name: &str) -> Result<Tag> {
        self.db
            .query_row(
                "SELECT id, name FROM tags WHERE name = ?1",
                [name.trim()],
                |r| {
                    Ok(Tag {
                        id: TagId(r.get(0)?),
                        name: r.get(1)?,
                    })
                },
            )
            .optional()?
            .ok_or_else(|| StoreError::NoSuchName {
                kind: "tag",
                name: name.to_owned(),
            })
    }

    /// Renames a tag (its links stay).
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`], [`StoreError::NameTaken`], [`StoreError::EmptyName`].
    pub fn rename_tag(&mut self, id: TagId, name: &str) -> Result<()> {
        let name = checked_name("tag", name)?;
        let changed = self
            .db
            .execute(
                "UPDATE tags SET name = ?2 WHERE id = ?1",
                params![id.0, name],
            )
            .map_err(taken("tag", name))?;
        check_changed("tag", id.0, changed)
    }

    /// Deletes a tag and its links to environments and connections.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`].
    pub fn delete_tag(&mut self, id: TagId) -> Result<()> {
        let changed = self.db.execute("DELETE FROM tags WHERE id = ?1", [id.0])?;
        check_changed("tag", id.0, changed)
    }
}
