//! The checks a document passes before export or import, and its normal form: [`normalize`].

use std::collections::HashSet;

use super::error::ExchangeError;
use super::record::{RecordKind, folder_name};
use crate::connections::document::{
    DocConnection, DocEnvironment, DocFolder, Document, FolderPath,
};

fn clean(
    kind: RecordKind,
    name: &str,
    place: impl FnOnce() -> String,
) -> Result<String, ExchangeError> {
    let name = name.trim();
    if name.is_empty() {
        Err(ExchangeError::EmptyName {
            kind,
            place: place(),
        })
    } else {
        Ok(name.to_owned())
    }
}

fn clean_path(path: &[String], place: impl Fn() -> String) -> Result<FolderPath, ExchangeError> {
    path.iter()
        .map(|part| clean(RecordKind::Folder, part, &place))
        .collect()
}

fn clean_tags(tags: &[String], owner: impl Fn() -> String) -> Result<Vec<String>, ExchangeError> {
    let mut out = tags
        .iter()
        .map(|t| clean(RecordKind::Tag, t, || format!("the tags of {}", owner())))
        .collect::<Result<Vec<_>, _>>()?;
    out.sort();
    out.dedup();
    Ok(out)
}

/// Checks a document and returns it normalized, as import and export expect it:
///
/// - names, folder-path parts, tag names and environment references trimmed (as the store
///   trims them), none empty;
/// - folder paths, tag names, environment names and connection names unique;
/// - every folder's parent listed, folders ordered parents first (otherwise in their order);
/// - every environment and connection in a listed folder, every environment a connection
///   names listed;
/// - each record's tags sorted without repeats; a tag used by a record but missing from
///   [`Document::tags`] is added to it.
///
/// Environments and connections keep their order; passwords are kept.
///
/// ```
/// use ores_actors::connections::document::{DocConnection, Document};
/// use ores_actors::connections::exchange::{self, ExchangeError};
///
/// let mut doc = Document::default();
/// doc.connections.push(DocConnection {
///     name: " alice ".into(),
///     folder: vec![],
///     environment: Some("prod".into()),
///     host: None,
///     port: None,
///     username: "alice".into(),
///     description: String::new(),
///     tags: vec![],
///     password: None,
/// });
/// match exchange::normalize(&doc) {
///     Err(ExchangeError::MissingEnvironment { connection, environment }) => {
///         assert_eq!((connection.as_str(), environment.as_str()), ("alice", "prod"));
///     }
///     other => panic!("{other:?}"),
/// }
/// ```
///
/// # Errors
/// [`ExchangeError::EmptyName`], [`ExchangeError::DuplicateName`],
/// [`ExchangeError::MissingParentFolder`], [`ExchangeError::MissingFolder`],
/// [`ExchangeError::MissingEnvironment`].
pub fn normalize(doc: &Document) -> Result<Document, ExchangeError> {
    // Folders.
    let mut folders = Vec::with_capacity(doc.folders.len());
    let mut paths: HashSet<FolderPath> = HashSet::new();
    for (i, f) in doc.folders.iter().enumerate() {
        let place = || format!("folder #{}", i + 1);
        let path = clean_path(&f.path, place)?;
        if path.is_empty() {
            return Err(ExchangeError::EmptyName {
                kind: RecordKind::Folder,
                place: place(),
            });
        }
        if !paths.insert(path.clone()) {
            return Err(ExchangeError::DuplicateName {
                kind: RecordKind::Folder,
                name: folder_name(&path),
            });
        }
        folders.push(DocFolder {
            path,
            description: f.description.clone(),
        });
    }
    for f in &folders {
        let parent = &f.path[..f.path.len() - 1];
        if !parent.is_empty() && !paths.contains(parent) {
            return Err(ExchangeError::MissingParentFolder {
                folder: folder_name(&f.path),
                parent: folder_name(parent),
            });
        }
    }
    folders.sort_by_key(|f| f.path.len());
    let check_folder = |kind: RecordKind, name: &str, folder: &[String]| {
        let folder = clean_path(folder, || format!("the folder of {kind} `{name}`"))?;
        if !folder.is_empty() && !paths.contains(&folder) {
            return Err(ExchangeError::MissingFolder {
                kind,
                name: name.to_owned(),
                folder: folder_name(&folder),
            });
        }
        Ok(folder)
    };

    // Tags.
    let mut tags = Vec::with_capacity(doc.tags.len());
    let mut tag_set: HashSet<String> = HashSet::new();
    for (i, t) in doc.tags.iter().enumerate() {
        let tag = clean(RecordKind::Tag, t, || format!("tag #{}", i + 1))?;
        if !tag_set.insert(tag.clone()) {
            return Err(ExchangeError::DuplicateName {
                kind: RecordKind::Tag,
                name: tag,
            });
        }
        tags.push(tag);
    }
    let mut use_tags = |record_tags: &[String]| {
        for t in record_tags {
            if tag_set.insert(t.clone()) {
                tags.push(t.clone());
            }
        }
    };

    // Environments.
    let mut environments = Vec::with_capacity(doc.environments.len());
    let mut env_names: HashSet<String> = HashSet::new();
    for (i, e) in doc.environments.iter().enumerate() {
        let name = clean(RecordKind::Environment, &e.name, || {
            format!("environment #{}", i + 1)
        })?;
        if !env_names.insert(name.clone()) {
            return Err(ExchangeError::DuplicateName {
                kind: RecordKind::Environment,
                name,
            });
        }
        let folder = check_folder(RecordKind::Environment, &name, &e.folder)?;
        let env_tags = clean_tags(&e.tags, || format!("environment `{name}`"))?;
        use_tags(&env_tags);
        environments.push(DocEnvironment {
            name,
            folder,
            tags: env_tags,
            ..e.clone()
        });
    }

    // Connections.
    let mut connections = Vec::with_capacity(doc.connections.len());
    let mut conn_names: HashSet<String> = HashSet::new();
    for (i, c) in doc.connections.iter().enumerate() {
        let name = clean(RecordKind::Connection, &c.name, || {
            format!("connection #{}", i + 1)
        })?;
        if !conn_names.insert(name.clone()) {
            return Err(ExchangeError::DuplicateName {
                kind: RecordKind::Connection,
                name,
            });
        }
        let folder = check_folder(RecordKind::Connection, &name, &c.folder)?;
        let environment = match &c.environment {
            None => None,
            Some(env) => {
                let env = clean(RecordKind::Environment, env, || {
                    format!("the environment of connection `{name}`")
                })?;
                if !env_names.contains(&env) {
                    return Err(ExchangeError::MissingEnvironment {
                        connection: name,
                        environment: env,
                    });
                }
                Some(env)
            }
        };
        let conn_tags = clean_tags(&c.tags, || format!("connection `{name}`"))?;
        use_tags(&conn_tags);
        connections.push(DocConnection {
            name,
            folder,
            environment,
            tags: conn_tags,
            ..c.clone()
        });
    }

    Ok(Document {
        folders,
        tags,
        environments,
        connections,
    })
}
