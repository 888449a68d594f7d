//! The vault row: the wrapped vault key and its parameters.

use rusqlite::{OptionalExtension, params};

use super::Store;
use super::error::Result;
use crate::connections::model::Vault;

impl Store {
    /// The vault row, if the store has one yet.
    ///
    /// # Errors
    ///
    /// A SQLite error.
    pub fn get_vault(&self) -> Result<Option<Vault>> {
        Ok(self
            .db
            .query_row("SELECT wrapped, params FROM vault WHERE id = 1", [], |r| {
                Ok(Vault {
                    wrapped: r.get(0)?,
                    params: r.get(1)?,
                })
            })
            .optional()?)
    }

    /// Writes (or replaces) the vault row, in one transaction.
    ///
    /// # Errors
    ///
    /// A SQLite error.
    pub fn set_vault(&mut self, vault: &Vault) -> Result<()> {
        let tx = self.db.savepoint()?;
        tx.execute(
            "INSERT INTO vault (id, wrapped, params) VALUES (1, ?1, ?2) \
             ON CONFLICT (id) DO UPDATE SET wrapped = excluded.wrapped, params = excluded.params",
            params![vault.wrapped, vault.params],
        )?;
        tx.commit()?;
        Ok(())
    }
}
