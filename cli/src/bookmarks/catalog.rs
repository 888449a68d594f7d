//! [`Catalog`]: everything in the store, read in one call, to turn the names and folder paths
//! the user types into records, and records into [`view`](super::view)s.

use std::collections::HashMap;

use ores_actors::connections::actor::Bookmarks;
use ores_actors::connections::model::{
    Connection, ConnectionId, Environment, Folder, FolderId, ResolvedConnection, Tag, TreeLevel,
};
use ores_actors::connections::store::{self, StoreError};
use ores_actors::connections::vault::Secret;

use super::view::{
    ConnectionView, EnvironmentView, FolderView, TagView, TargetView, TreeFolderView, TreeView,
};
use crate::error::{CliError, CliResult};

/// Splits a folder path (`prod/emea`, `/prod/emea/`) into its names; `/` and the empty path
/// are the top level (no names).
pub(crate) fn split_folder_path(path: &str) -> Vec<String> {
    path.split('/')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

pub(crate) use ores_actors::connections::model::nats_url;

/// A snapshot of the store.
#[derive(Debug, Clone, Default)]
pub(crate) struct Catalog {
    /// Every folder.
    pub(crate) folders: Vec<Folder>,
    /// Every environment, by name.
    pub(crate) environments: Vec<Environment>,
    /// Every connection, by name.
    pub(crate) connections: Vec<Connection>,
    /// Every tag, by name.
    pub(crate) tags: Vec<Tag>,
    /// Where each resolvable connection leads.
    targets: HashMap<ConnectionId, ResolvedConnection>,
}

/// The Levenshtein distance between `a` and `b`, in characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = if ca == *cb {
                diagonal
            } else {
                1 + diagonal.min(above).min(row[j])
            };
            diagonal = above;
        }
    }
    row[b.len()]
}

/// A "did you mean" hint for `name` among `names`, or the listing command.
fn suggest<'a>(name: &str, names: impl Iterator<Item = &'a str>, list: &str) -> String {
    let lower = name.to_lowercase();
    let close: Vec<&str> = names
        .filter(|n| {
            let n = n.to_lowercase();
            n.contains(&lower) || lower.contains(&n) || edit_distance(&n, &lower) <= 2
        })
        .take(3)
        .collect();
    if close.is_empty() {
        format!("see `{list}`")
    } else {
        let close: Vec<String> = close.iter().map(|n| format!("`{n}`")).collect();
        format!("did you mean {}? (see `{list}`)", close.join(", "))
    }
}

impl Catalog {
    /// Reads everything.
    ///
    /// # Errors
    /// A store error.
    pub(crate) async fn load(bookmarks: &Bookmarks) -> CliResult<Self> {
        Ok(bookmarks
            .with_store(|s| {
                let connections = s.connections()?;
                let environments = s.environments()?;
                // Resolved from the records just read: no further reads per connection.
                let by_id: HashMap<_, _> = environments.iter().map(|e| (e.id, e)).collect();
                let mut targets = HashMap::new();
                for c in &connections {
                    let environment = c.spec.environment_id.and_then(|id| by_id.get(&id).copied());
                    match store::resolved(c.clone(), environment) {
                        Ok(r) => {
                            targets.insert(c.id, r);
                        }
                        Err(StoreError::Unresolvable { .. }) => {}
                        Err(e) => return Err(e.into()),
                    }
                }
                Ok(Catalog {
                    folders: s.folders()?,
                    tags: s.tags()?,
                    environments,
                    connections,
                    targets,
                })
            })
            .await?)
    }

    // ------------------------------------------------------------- folders

    fn folder_by_id(&self, id: FolderId) -> Option<&Folder> {
        self.folders.iter().find(|f| f.id == id)
    }

    /// The path of folder `id` (`prod/emea`).
    pub(crate) fn folder_path(&self, id: FolderId) -> String {
        let mut names = Vec::new();
        let mut at = Some(id);
        // The store forbids cycles; the bound only guards against a damaged file.
        while let Some(folder) = at.and_then(|id| self.folder_by_id(id)) {
            names.push(folder.name.as_str());
            at = folder.parent_id;
            if names.len() > self.folders.len() {
                break;
            }
        }
        names.reverse();
        names.join("/")
    }

    /// The path of `folder`, `None` at the top level.
    pub(crate) fn folder_label(&self, folder: Option<FolderId>) -> Option<String> {
        folder.map(|id| self.folder_path(id))
    }

    /// The folder at `path`: `None` for the top level (`/` or empty).
    ///
    /// # Errors
    /// No such folder (with a hint).
    pub(crate) fn find_folder(&self, path: &str) -> CliResult<Option<FolderId>> {
        let mut at: Option<FolderId> = None;
        let names = split_folder_path(path);
        for (depth, name) in names.iter().enumerate() {
            let found = self
                .folders
                .iter()
                .find(|f| f.parent_id == at && f.name == *name);
            match found {
                Some(f) => at = Some(f.id),
                None => {
                    let so_far = names[..=depth].join("/");
                    return Err(CliError::new(format!("no folder `{so_far}`")).hint(format!(
                        "see `ores bookmarks folder ls`, or create it with \
                         `ores bookmarks folder add -p {}`",
                        names.join("/")
                    )));
                }
            }
        }
        Ok(at)
    }

    /// The folder at `path`, which must not be the top level.
    ///
    /// # Errors
    /// No such folder; the top level.
    pub(crate) fn folder(&self, path: &str) -> CliResult<&Folder> {
        match self.find_folder(path)? {
            Some(id) => self
                .folder_by_id(id)
                .ok_or_else(|| CliError::new(format!("no folder `{path}`"))),
            None => Err(CliError::new("the top level is not a folder")
                .hint("name a folder, e.g. `prod/emea`")),
        }
    }

    /// What is directly inside folder `id` (or the top level): folders, environments,
    /// connections.
    pub(crate) fn counts(&self, id: Option<FolderId>) -> (usize, usize, usize) {
        (
            self.folders.iter().filter(|f| f.parent_id == id).count(),
            self.environments
                .iter()
                .filter(|e| e.spec.folder_id == id)
                .count(),
            self.connections
                .iter()
                .filter(|c| c.spec.folder_id == id)
                .count(),
        )
    }

    /// The view of a folder.
    pub(crate) fn folder_view(&self, folder: &Folder) -> FolderView {
        let (folders, environments, connections) = self.counts(Some(folder.id));
        FolderView {
            path: self.folder_path(folder.id),
            name: folder.name.clone(),
            description: folder.description.clone(),
            folders,
            environments,
            connections,
        }
    }

    /// Every folder's view, sorted by path.
    pub(crate) fn folder_views(&self) -> Vec<FolderView> {
        let mut views: Vec<FolderView> = self.folders.iter().map(|f| self.folder_view(f)).collect();
        views.sort_by(|a, b| a.path.cmp(&b.path));
        views
    }

    // ---------------------------------------------------------- connections

    /// The connection named `name`.
    ///
    /// # Errors
    /// No such connection (with a hint).
    pub(crate) fn connection(&self, name: &str) -> CliResult<&Connection> {
        self.connections
            .iter()
            .find(|c| c.spec.name == name)
            .ok_or_else(|| {
                CliError::new(format!("no connection named `{name}`")).hint(suggest(
                    name,
                    self.connections.iter().map(|c| c.spec.name.as_str()),
                    "ores bookmarks ls",
                ))
            })
    }

    /// Where connection `id` leads, when it is resolvable.
    pub(crate) fn target(&self, id: ConnectionId) -> Option<&ResolvedConnection> {
        self.targets.get(&id)
    }

    /// The view of `connection`, with `password` when it is to be revealed.
    pub(crate) fn connection_view(
        &self,
        connection: &Connection,
        password: Option<Secret>,
    ) -> ConnectionView {
        let spec = &connection.spec;
        ConnectionView {
            name: spec.name.clone(),
            folder: self.folder_label(spec.folder_id),
            environment: spec
                .environment_id
                .and_then(|id| self.environments.iter().find(|e| e.id == id))
                .map(|e| e.spec.name.clone()),
            host: spec.host.clone(),
            port: spec.port,
            username: spec.username.clone(),
            description: spec.description.clone(),
            tags: spec.tags.clone(),
            has_password: spec.password_sealed.is_some(),
            target: self.target(connection.id).map(|r| TargetView {
                url: nats_url(&r.host, r.port),
                host: r.host.clone(),
                port: r.port,
                http_port: r.http_port,
                subject_prefix: r.subject_prefix.clone(),
            }),
            password,
        }
    }

    // --------------------------------------------------------- environments

    /// The environment named `name`.
    ///
    /// # Errors
    /// No such environment (with a hint).
    pub(crate) fn environment(&self, name: &str) -> CliResult<&Environment> {
        self.environments
            .iter()
            .find(|e| e.spec.name == name)
            .ok_or_else(|| {
                CliError::new(format!("no environment named `{name}`")).hint(suggest(
                    name,
                    self.environments.iter().map(|e| e.spec.name.as_str()),
                    "ores bookmarks env ls",
                ))
            })
    }

    /// The connections linked to `env`, by name.
    pub(crate) fn users_of(&self, env: &Environment) -> Vec<String> {
        self.connections
            .iter()
            .filter(|c| c.spec.environment_id == Some(env.id))
            .map(|c| c.spec.name.clone())
            .collect()
    }

    /// The view of `env`.
    pub(crate) fn environment_view(&self, env: &Environment) -> EnvironmentView {
        let spec = &env.spec;
        EnvironmentView {
            name: spec.name.clone(),
            folder: self.folder_label(spec.folder_id),
            host: spec.host.clone(),
            port: spec.port,
            http_port: spec.http_port,
            subject_prefix: spec.subject_prefix.clone(),
            url: nats_url(&spec.host, spec.port),
            description: spec.description.clone(),
            tags: spec.tags.clone(),
            connections: self.users_of(env),
        }
    }

    // ----------------------------------------------------------------- tags

    /// The tag named `name`.
    ///
    /// # Errors
    /// No such tag (with a hint).
    pub(crate) fn tag(&self, name: &str) -> CliResult<&Tag> {
        self.tags.iter().find(|t| t.name == name).ok_or_else(|| {
            CliError::new(format!("no tag named `{name}`")).hint(suggest(
                name,
                self.tags.iter().map(|t| t.name.as_str()),
                "ores bookmarks tag ls",
            ))
        })
    }

    /// Every tag with its use counts.
    pub(crate) fn tag_views(&self) -> Vec<TagView> {
        self.tags
            .iter()
            .map(|t| TagView {
                name: t.name.clone(),
                environments: self
                    .environments
                    .iter()
                    .filter(|e| e.spec.tags.contains(&t.name))
                    .count(),
                connections: self
                    .connections
                    .iter()
                    .filter(|c| c.spec.tags.contains(&t.name))
                    .count(),
            })
            .collect()
    }

    // ----------------------------------------------------------------- tree

    /// The view of a tree level (from [`Bookmarks::tree`]).
    pub(crate) fn tree_view(&self, level: &TreeLevel) -> TreeView {
        TreeView {
            folders: level
                .folders
                .iter()
                .map(|node| TreeFolderView {
                    name: node.folder.name.clone(),
                    path: self.folder_path(node.folder.id),
                    description: node.folder.description.clone(),
                    contents: self.tree_view(&node.contents),
                })
                .collect(),
            environments: level
                .environments
                .iter()
                .map(|e| self.environment_view(e))
                .collect(),
            connections: level
                .connections
                .iter()
                .map(|c| self.connection_view(c, None))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distances() {
        assert_eq!(edit_distance("trader", "tradr"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn folder_paths() {
        assert_eq!(split_folder_path("/prod//emea/"), vec!["prod", "emea"]);
        assert!(split_folder_path("/").is_empty());
        assert_eq!(nats_url("::1", 4222), "nats://[::1]:4222");
    }
}
