//! Search by name, host or tag, and the whole store as a tree of folders.

use std::collections::{BTreeMap, HashMap, HashSet};

use rusqlite::types::ValueRef;

use super::Store;
use super::error::Result;
use super::rows::{tag_links, tag_names};
use crate::connections::model::{
    Connection, Environment, EnvironmentId, Folder, FolderId, FolderNode, SearchResults, TreeLevel,
};

/// Whether `haystack` contains `needle` (already lowercase), ignoring case. ASCII text (the
/// common case) is compared in place; other text is lowercased first.
fn contains_ci(haystack: &str, needle: &str) -> bool {
    if needle.is_empty() {
        return true;
    }
    if haystack.is_ascii() {
        // A lowercase needle with non-ASCII characters cannot be in lowercased ASCII.
        needle.is_ascii()
            && haystack
                .as_bytes()
                .windows(needle.len())
                .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
    } else {
        haystack.to_lowercase().contains(needle)
    }
}

/// The text of a nullable text column, without copying it (`""` for NULL).
fn text<'a>(value: ValueRef<'a>) -> &'a str {
    match value {
        ValueRef::Text(bytes) => std::str::from_utf8(bytes).unwrap_or(""),
        _ => "",
    }
}

impl Store {
    /// The environments and connections whose name, host or one of whose tags contains
    /// `query`, ignoring case. A connection linked to an environment matches on the
    /// environment's host too. An empty query matches everything.
    ///
    /// Connections are matched on a narrow scan (id, name, host, environment and tag ids);
    /// only the matches are then read whole. No secret is opened.
    ///
    /// # Errors
    ///
    /// A SQLite error.
    pub fn search(&self, query: &str) -> Result<SearchResults> {
        let needle = query.trim().to_lowercase();
        let environments = self.environments()?;
        if needle.is_empty() {
            return Ok(SearchResults {
                environments,
                connections: self.connections()?,
            });
        }
        let matching_tags: HashSet<i64> = tag_names(&self.db)?
            .into_iter()
            .filter(|(_, name)| contains_ci(name, &needle))
            .map(|(id, _)| id)
            .collect();
        let tagged: HashSet<i64> = if matching_tags.is_empty() {
            HashSet::new()
        } else {
            tag_links(&self.db, "connection_tags", "connection_id")?
                .into_iter()
                .filter(|(_, tags)| tags.iter().any(|t| matching_tags.contains(t)))
                .map(|(owner, _)| owner)
                .collect()
        };
        let env_host_matches: HashSet<EnvironmentId> = environments
            .iter()
            .filter(|e| contains_ci(&e.spec.host, &needle))
            .map(|e| e.id)
            .collect();

        let mut ids: Vec<i64> = Vec::new();
        {
            let mut stmt = self
                .db
                .prepare_cached("SELECT id, name, host, environment_id FROM connections")?;
            let mut rows = stmt.query([])?;
            while let Some(row) = rows.next()? {
                let id: i64 = row.get(0)?;
                let env: Option<i64> = row.get(3)?;
                if tagged.contains(&id)
                    || contains_ci(text(row.get_ref(1)?), &needle)
                    || contains_ci(text(row.get_ref(2)?), &needle)
                    || env.is_some_and(|e| env_host_matches.contains(&EnvironmentId(e)))
                {
                    ids.push(id);
                }
            }
        }
        let connections = if ids.is_empty() {
            Vec::new()
        } else {
            let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
            self.query_connections(
                "WHERE id IN (SELECT value FROM json_each(?1))",
                &format!("[{list}]"),
            )?
        };
        let environments = environments
            .into_iter()
            .filter(|e| {
                contains_ci(&e.spec.name, &needle)
                    || contains_ci(&e.spec.host, &needle)
                    || e.spec.tags.iter().any(|t| contains_ci(t, &needle))
            })
            .collect();
        Ok(SearchResults {
            environments,
            connections,
        })
    }

    /// Everything in the store as a tree: the top level's folders (each with its contents,
    /// recursively), environments and connections, each sorted by name.
    ///
    /// # Errors
    ///
    /// A SQLite error.
    pub fn tree(&self) -> Result<TreeLevel> {
        let mut folders: BTreeMap<Option<FolderId>, Vec<Folder>> = BTreeMap::new();
        for folder in self.folders()? {
            folders.entry(folder.parent_id).or_default().push(folder);
        }
        let mut environments: HashMap<Option<FolderId>, Vec<Environment>> = HashMap::new();
        for env in self.environments()? {
            environments
                .entry(env.spec.folder_id)
                .or_default()
                .push(env);
        }
        let mut connections: HashMap<Option<FolderId>, Vec<Connection>> = HashMap::new();
        for conn in self.connections()? {
            connections
                .entry(conn.spec.folder_id)
                .or_default()
                .push(conn);
        }

        fn level(
            at: Option<FolderId>,
            folders: &mut BTreeMap<Option<FolderId>, Vec<Folder>>,
            environments: &mut HashMap<Option<FolderId>, Vec<Environment>>,
            connections: &mut HashMap<Option<FolderId>, Vec<Connection>>,
        ) -> TreeLevel {
            let children = folders.remove(&at).unwrap_or_default();
            TreeLevel {
                folders: children
                    .into_iter()
                    .map(|folder| {
                        let contents = level(Some(folder.id), folders, environments, connections);
                        FolderNode { folder, contents }
                    })
                    .collect(),
                environments: environments.remove(&at).unwrap_or_default(),
                connections: connections.remove(&at).unwrap_or_default(),
            }
        }
        Ok(level(
            None,
            &mut folders,
            &mut environments,
            &mut connections,
        ))
    }
}
