//! Column lists and row mappers, tag links, and existence checks shared by the operations.

use std::collections::HashMap;

use rusqlite::{Connection as Db, OptionalExtension, Row, params};

use super::error::{Result, StoreError, checked_name};
use crate::connections::model::{
    Connection, ConnectionId, ConnectionSpec, Environment, EnvironmentId, EnvironmentSpec, Folder,
    FolderId,
};

pub(super) const FOLDER_COLUMNS: &str = "id, name, parent_id, description";
pub(super) const ENVIRONMENT_COLUMNS: &str =
    "id, folder_id, name, host, port, http_port, subject_prefix, description";
pub(super) const CONNECTION_COLUMNS: &str = "id, folder_id, environment_id, name, host, port, username, \
                                  password_sealed, description";

pub(super) fn folder_from_row(row: &Row<'_>) -> rusqlite::Result<Folder> {
    Ok(Folder {
        id: FolderId(row.get(0)?),
        name: row.get(1)?,
        parent_id: row.get::<_, Option<i64>>(2)?.map(FolderId),
        description: row.get(3)?,
    })
}

pub(super) fn environment_from_row(row: &Row<'_>) -> rusqlite::Result<Environment> {
    Ok(Environment {
        id: EnvironmentId(row.get(0)?),
        spec: EnvironmentSpec {
            folder_id: row.get::<_, Option<i64>>(1)?.map(FolderId),
            name: row.get(2)?,
            host: row.get(3)?,
            port: row.get(4)?,
            http_port: row.get(5)?,
            subject_prefix: row.get(6)?,
            description: row.get(7)?,
            tags: Vec::new(),
        },
    })
}

pub(super) fn connection_from_row(row: &Row<'_>) -> rusqlite::Result<Connection> {
    Ok(Connection {
        id: ConnectionId(row.get(0)?),
        spec: ConnectionSpec {
            folder_id: row.get::<_, Option<i64>>(1)?.map(FolderId),
            environment_id: row.get::<_, Option<i64>>(2)?.map(EnvironmentId),
            name: row.get(3)?,
            host: row.get(4)?,
            port: row.get(5)?,
            username: row.get(6)?,
            password_sealed: row.get(7)?,
            description: row.get(8)?,
            tags: Vec::new(),
        },
    })
}

/// Every tag's name, by id.
pub(super) fn tag_names(db: &Db) -> Result<HashMap<i64, String>> {
    let mut stmt = db.prepare_cached("SELECT id, name FROM tags")?;
    let names = stmt
        .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?
        .collect::<rusqlite::Result<HashMap<_, _>>>()?;
    Ok(names)
}

/// Tag ids by owner id, from `environment_tags` or `connection_tags` (the link table's own
/// index answers this: no join, no sort).
pub(super) fn tag_links(
    db: &Db,
    link_table: &str,
    owner_column: &str,
) -> Result<HashMap<i64, Vec<i64>>> {
    links(db, link_table, owner_column, None)
}

/// Tag ids by owner id; with `owners = Some((owner_table, filter, value))`, only for the
/// owners `SELECT id FROM <owner_table> <filter>` selects (`filter` binds `?1` to `value`).
fn links(
    db: &Db,
    link_table: &str,
    owner_column: &str,
    owners: Option<(&str, &str, &dyn rusqlite::ToSql)>,
) -> Result<HashMap<i64, Vec<i64>>> {
    let mut sql = format!("SELECT {owner_column}, tag_id FROM {link_table}");
    if let Some((owner_table, filter, _)) = owners {
        sql.push_str(&format!(
            " WHERE {owner_column} IN (SELECT id FROM {owner_table} {filter})"
        ));
    }
    let mut stmt = db.prepare_cached(&sql)?;
    let mut rows = match owners {
        Some((_, _, value)) => stmt.query([value])?,
        None => stmt.query([])?,
    };
    let mut map: HashMap<i64, Vec<i64>> = HashMap::new();
    while let Some(row) = rows.next()? {
        map.entry(row.get(0)?).or_default().push(row.get(1)?);
    }
    Ok(map)
}

/// Tag names by owner id, from `environment_tags` or `connection_tags`, each list sorted:
/// for every owner when `filter` is empty, else for the owners
/// `SELECT id FROM <owner_table> <filter>` selects (so looking up one record reads its own
/// tag links, not all of them).
pub(super) fn tag_map(
    db: &Db,
    link_table: &str,
    owner_column: &str,
    (owner_table, filter, value): (&str, &str, &dyn rusqlite::ToSql),
) -> Result<HashMap<i64, Vec<String>>> {
    let names = tag_names(db)?;
    let owners = (!filter.is_empty()).then_some((owner_table, filter, value));
    Ok(links(db, link_table, owner_column, owners)?
        .into_iter()
        .map(|(owner, ids)| {
            let mut tags: Vec<String> =
                ids.iter().filter_map(|id| names.get(id).cloned()).collect();
            tags.sort_unstable();
            (owner, tags)
        })
        .collect())
}

/// Replaces the tags of one owner, creating tags on demand.
pub(super) fn set_tags(
    db: &Db,
    link_table: &str,
    owner_column: &str,
    owner: i64,
    tags: &[String],
) -> Result<()> {
    db.execute(
        &format!("DELETE FROM {link_table} WHERE {owner_column} = ?1"),
        [owner],
    )?;
    for tag in tags {
        let tag = checked_name("tag", tag)?;
        db.execute("INSERT OR IGNORE INTO tags (name) VALUES (?1)", [tag])?;
        db.execute(
            &format!(
                "INSERT OR IGNORE INTO {link_table} ({owner_column}, tag_id) \
                 SELECT ?1, id FROM tags WHERE name = ?2"
            ),
            params![owner, tag],
        )?;
    }
    Ok(())
}

pub(super) fn folder_exists(db: &Db, id: FolderId) -> Result<()> {
    let found: Option<i64> = db
        .query_row("SELECT 1 FROM folders WHERE id = ?1", [id.0], |r| r.get(0))
        .optional()?;
    found.map(|_| ()).ok_or(StoreError::NotFound {
        kind: "folder",
        id: id.0,
    })
}

pub(super) fn environment_exists(db: &Db, id: EnvironmentId) -> Result<()> {
    let found: Option<i64> = db
        .query_row("SELECT 1 FROM environments WHERE id = ?1", [id.0], |r| {
            r.get(0)
        })
        .optional()?;
    found.map(|_| ()).ok_or(StoreError::NotFound {
        kind: "environment",
        id: id.0,
    })
}
