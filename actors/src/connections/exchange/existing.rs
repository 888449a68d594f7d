//! What the store holds, indexed by path and name: [`Existing`].

use std::collections::HashMap;

use crate::connections::document::FolderPath;
use crate::connections::model::{Connection, Environment, EnvironmentId, Folder, FolderId};
use crate::connections::store::{Store, StoreError};

/// What the store holds, indexed for export, preview and import.
pub(super) struct Existing {
    pub(super) folders: Vec<Folder>,
    pub(super) folder_paths: HashMap<FolderId, FolderPath>,
    pub(super) folders_by_path: HashMap<FolderPath, usize>,
    pub(super) tags: Vec<String>,
    pub(super) environments: Vec<Environment>,
    pub(super) environments_by_name: HashMap<String, usize>,
    pub(super) connections: Vec<Connection>,
    pub(super) connections_by_name: HashMap<String, usize>,
}

impl Existing {
    pub(super) fn load(store: &Store) -> Result<Self, StoreError> {
        let folders = store.folders()?;
        let by_id: HashMap<FolderId, &Folder> = folders.iter().map(|f| (f.id, f)).collect();
        let mut folder_paths = HashMap::with_capacity(folders.len());
        for f in &folders {
            let mut path = vec![f.name.clone()];
            let mut parent = f.parent_id;
            // Bounded: the store forbids cycles, but a damaged file must not hang us.
            while let Some(p) = parent.and_then(|id| by_id.get(&id)) {
                if path.len() > folders.len() {
                    break;
                }
                path.push(p.name.clone());
                parent = p.parent_id;
            }
            path.reverse();
            folder_paths.insert(f.id, path);
        }
        let folders_by_path = folders
            .iter()
            .enumerate()
            .filter_map(|(i, f)| folder_paths.get(&f.id).map(|p| (p.clone(), i)))
            .collect();
        let environments = store.environments()?;
        let environments_by_name = environments
            .iter()
            .enumerate()
            .map(|(i, e)| (e.spec.name.clone(), i))
            .collect();
        let connections = store.connections()?;
        let connections_by_name = connections
            .iter()
            .enumerate()
            .map(|(i, c)| (c.spec.name.clone(), i))
            .collect();
        Ok(Self {
            folders,
            folder_paths,
            folders_by_path,
            tags: store.tags()?.into_iter().map(|t| t.name).collect(),
            environments,
            environments_by_name,
            connections,
            connections_by_name,
        })
    }

    pub(super) fn path_of(&self, folder: Option<FolderId>) -> FolderPath {
        folder
            .and_then(|id| self.folder_paths.get(&id))
            .cloned()
            .unwrap_or_default()
    }

    pub(super) fn folder(&self, path: &[String]) -> Option<&Folder> {
        self.folders_by_path
            .get(path)
            .and_then(|&i| self.folders.get(i))
    }

    pub(super) fn environment(&self, name: &str) -> Option<&Environment> {
        self.environments_by_name
            .get(name)
            .and_then(|&i| self.environments.get(i))
    }

    pub(super) fn environment_name(&self, id: Option<EnvironmentId>) -> Option<String> {
        let id = id?;
        self.environments
            .iter()
            .find(|e| e.id == id)
            .map(|e| e.spec.name.clone())
    }

    pub(super) fn connection(&self, name: &str) -> Option<&Connection> {
        self.connections_by_name
            .get(name)
            .and_then(|&i| self.connections.get(i))
    }
}
