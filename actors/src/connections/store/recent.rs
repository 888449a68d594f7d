//! The recently selected parties.

use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::params;

use super::Store;
use super::error::Result;
use crate::connections::model::{RECENT_PARTIES_CAP, RecentParty};

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl Store {
    /// Records that a party was selected: it becomes the newest, and only the
    /// [`RECENT_PARTIES_CAP`] newest are kept.
    ///
    /// # Errors
    ///
    /// A SQLite error.
    pub fn add_recent_party(&mut self, party_id: &str, party_name: &str) -> Result<()> {
        let tx = self.db.savepoint()?;
        tx.execute(
            "INSERT INTO recent_parties (party_id, party_name, last_selected_at, seq) \
             VALUES (?1, ?2, ?3, (SELECT COALESCE(MAX(seq), 0) + 1 FROM recent_parties)) \
             ON CONFLICT (party_id) DO UPDATE SET party_name = excluded.party_name, \
             last_selected_at = excluded.last_selected_at, seq = excluded.seq",
            params![party_id, party_name, now_ms()],
        )?;
        tx.execute(
            "DELETE FROM recent_parties WHERE party_id NOT IN \
             (SELECT party_id FROM recent_parties ORDER BY seq DESC LIMIT ?1)",
            [RECENT_PARTIES_CAP as i64],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// The recently selected parties, newest first (at most [`RECENT_PARTIES_CAP`]).
    ///
    /// # Errors
    ///
    /// A SQLite error.
    pub fn recent_parties(&self) -> Result<Vec<RecentParty>> {
        let mut stmt = self.db.prepare(
            "SELECT party_id, party_name, last_selected_at FROM recent_parties \
             ORDER BY seq DESC",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(RecentParty {
                party_id: r.get(0)?,
                party_name: r.get(1)?,
                last_selected_at_ms: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Forgets every recent party.
    ///
    /// # Errors
    ///
    /// A SQLite error.
    pub fn clear_recent_parties(&mut self) -> Result<()> {
        self.db.execute("DELETE FROM recent_parties", [])?;
        Ok(())
    }
}
