//! Export and import through the [`Bookmarks`] handle.

use super::apply::apply_import;
use super::choices::ImportChoices;
use super::export::export_document;
use super::preview::{ImportPreview, preview_import, preview_import_with_key};
use super::report::ImportReport;
use crate::connections::actor::{self, BookmarkError, Bookmarks};
use crate::connections::document::Document;

fn carries_passwords(doc: &Document) -> bool {
    doc.connections.iter().any(|c| c.password.is_some())
}

impl Bookmarks {
    /// The whole store as a [`Document`] ([`export_document`]), with the passwords opened
    /// when `with_secrets` (the vault must then be unlocked), else without passwords.
    ///
    /// ```no_run
    /// # use ores_actors::connections::{actor::Bookmarks, exchange};
    /// # use ores_actors::connections::vault::{KdfParams, Secret};
    /// # async fn demo(bookmarks: Bookmarks) -> Result<(), Box<dyn std::error::Error>> {
    /// let doc = bookmarks.export(true).await?;
    /// let json = exchange::to_json(&doc, Some((&Secret::from("passphrase"), KdfParams::POLICY)))?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`BookmarkError::Locked`] with `with_secrets` while locked; as [`export_document`].
    pub async fn export(&self, with_secrets: bool) -> actor::Result<Document> {
        if with_secrets {
            self.with_vault(|s, key| export_document(s, Some(key)))
                .await
        } else {
            self.with_store(|s| export_document(s, None)).await
        }
    }

    /// What importing `doc` would do ([`preview_import`]); passwords are compared when the
    /// vault is unlocked.
    ///
    /// # Errors
    /// As [`preview_import`].
    pub async fn preview_import(&self, doc: Document) -> actor::Result<ImportPreview> {
        if carries_passwords(&doc) {
            let with_key = doc.clone();
            match self
                .with_vault(move |s, key| preview_import_with_key(s, Some(key), &with_key))
                .await
            {
                Err(BookmarkError::Locked) => {}
                other => return other,
            }
        }
        self.with_store(move |s| preview_import(s, &doc)).await
    }

    /// Imports `doc` following `choices`, all or nothing ([`apply_import`]); the vault must be
    /// unlocked when the document carries passwords.
    ///
    /// ```no_run
    /// # use ores_actors::connections::{actor::Bookmarks, exchange};
    /// use ores_actors::connections::exchange::{ClashChoice, ImportChoices};
    /// # async fn demo(bookmarks: Bookmarks, json: &str) -> Result<(), Box<dyn std::error::Error>> {
    /// let doc = exchange::from_json_without_secrets(json)?;
    /// let preview = bookmarks.preview_import(doc.clone()).await?;
    /// let report = bookmarks.import(doc, ImportChoices::new(ClashChoice::Skip)).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`BookmarkError::Locked`] (nothing written); as [`apply_import`].
    pub async fn import(
        &self,
        doc: Document,
        choices: ImportChoices,
    ) -> actor::Result<ImportReport> {
        if carries_passwords(&doc) {
            self.with_vault(move |s, key| apply_import(s, Some(key), &doc, &choices))
                .await
        } else {
            self.with_store(move |s| apply_import(s, None, &doc, &choices))
                .await
        }
    }
}
