//! Search by name, host or tag, and the whole store as a tree of folders.

use std::collections::{BTreeMap, HashMap};

use super::Store;
use super::error::Result;
use crate::connections::model::{
    Connection, Environment, EnvironmentId, Folder, FolderId, FolderNode, SearchResults, TreeLevel,
};

fn contains_ci(haystack: &str, needle: &str) -> bool {
    haystack.to_lowercase().contains(needle)
}

impl Store {
    /// The environments and connections whose name, host or one of whose tags contains
    /// `query`, ignoring case. A connection linked to an environment matches on the
    /// environment's host too. An empty query matches everything.
    ///
    /// # Errors
    ///
    /// A SQLite error.
    pub fn search(&self, query: &str) -> Result<SearchResults> {
        let needle = query.trim().to_lowercase();
        let environments = self.environments()?;
        let env_hosts: HashMap<EnvironmentId, String> = environments
            .iter()
            .map(|e| (e.id, e.spec.host.clone()))
            .collect();
        let matches = |name: &str, hosts: &[&str], tags: &[String]| {
            contains_ci(name, &needle)
                || hosts.iter().any(|h| contains_ci(h, &needle))
                || tags.iter().any(|t| contains_ci(t, &needle))
        };
        let connections = self
            .connections()?
            .into_iter()
            .filter(|c| {
                let mut hosts: Vec<&str> = Vec::new();
                if let Some(h) = &c.spec.host {
                    hosts.push(h);
                }
                if let Some(h) = c.spec.environment_id.and_then(|e| env_hosts.get(&e)) {
                    hosts.push(h);
                }
                matches(&c.spec.name, &hosts, &c.spec.tags)
            })
            .collect();
        let environments = environments
            .into_iter()
            .filter(|e| matches(&e.spec.name, &[&e.spec.host], &e.spec.tags))
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
