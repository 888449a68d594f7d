//! The text output: tables (as `docker ps` prints them: a header, aligned columns, no
//! borders), the tree (box-drawing, as `tree` prints it) and detail pages (`Key: value`, as
//! `kubectl describe` prints them).

use comfy_table::{Table, presets};

use super::view::{
    ConnectionView, EnvironmentView, FolderView, RecentView, SearchView, TagView, TreeView,
};

/// A table with `header` and `rows`, columns separated by two spaces, no trailing blanks.
pub(crate) fn table<const N: usize>(header: [&str; N], rows: Vec<[String; N]>) -> String {
    let mut table = Table::new();
    table.load_preset(presets::NOTHING);
    table.set_header(header);
    for row in rows {
        table.add_row(row);
    }
    for column in table.column_iter_mut() {
        column.set_padding((0, 2));
    }
    let text = table.to_string();
    let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
    lines.join("\n")
}

/// `a, b, c` (empty when there are none).
fn list(items: &[String]) -> String {
    items.join(", ")
}

/// `/` for the top level, else the folder path.
fn folder(path: &Option<String>) -> String {
    path.clone().unwrap_or_else(|| "/".to_owned())
}

/// `host:port`, bracketing an IPv6 address.
fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Where a connection leads, for a table or the tree: `host:port (env)`.
fn target(c: &ConnectionView) -> String {
    match (&c.target, &c.environment) {
        (Some(t), Some(env)) => format!("{} ({env})", host_port(&t.host, t.port)),
        (Some(t), None) => host_port(&t.host, t.port),
        (None, _) => "(no host)".to_owned(),
    }
}

/// The connections table.
pub(crate) fn connections(items: &[ConnectionView]) -> String {
    table(
        ["NAME", "FOLDER", "TARGET", "USER", "TAGS", "PASSWORD"],
        items
            .iter()
            .map(|c| {
                [
                    c.name.clone(),
                    folder(&c.folder),
                    target(c),
                    c.username.clone(),
                    list(&c.tags),
                    if c.has_password { "✓" } else { "" }.to_owned(),
                ]
            })
            .collect(),
    )
}

/// The environments table.
pub(crate) fn environments(items: &[EnvironmentView]) -> String {
    table(
        [
            "NAME",
            "FOLDER",
            "HOST",
            "HTTP",
            "PREFIX",
            "TAGS",
            "CONNECTIONS",
        ],
        items
            .iter()
            .map(|e| {
                [
                    e.name.clone(),
                    folder(&e.folder),
                    host_port(&e.host, e.port),
                    e.http_port.to_string(),
                    e.subject_prefix.clone(),
                    list(&e.tags),
                    e.connections.len().to_string(),
                ]
            })
            .collect(),
    )
}

/// The folders table.
pub(crate) fn folders(items: &[FolderView]) -> String {
    table(
        [
            "PATH",
            "FOLDERS",
            "ENVIRONMENTS",
            "CONNECTIONS",
            "DESCRIPTION",
        ],
        items
            .iter()
            .map(|f| {
                [
                    f.path.clone(),
                    f.folders.to_string(),
                    f.environments.to_string(),
                    f.connections.to_string(),
                    f.description.clone(),
                ]
            })
            .collect(),
    )
}

/// The tags table.
pub(crate) fn tags(items: &[TagView]) -> String {
    table(
        ["TAG", "ENVIRONMENTS", "CONNECTIONS"],
        items
            .iter()
            .map(|t| {
                [
                    t.name.clone(),
                    t.environments.to_string(),
                    t.connections.to_string(),
                ]
            })
            .collect(),
    )
}

/// The recent parties table.
pub(crate) fn recent(items: &[RecentView]) -> String {
    table(
        ["PARTY", "ID", "LAST SELECTED"],
        items
            .iter()
            .map(|r| {
                [
                    r.party_name.clone(),
                    r.party_id.clone(),
                    r.last_selected_at.clone(),
                ]
            })
            .collect(),
    )
}

/// Search results: the environments, then the connections, each as a table.
pub(crate) fn search(found: &SearchView) -> String {
    let mut parts = Vec::new();
    if !found.environments.is_empty() {
        parts.push(format!(
            "Environments:\n{}",
            environments(&found.environments)
        ));
    }
    if !found.connections.is_empty() {
        parts.push(format!("Connections:\n{}", connections(&found.connections)));
    }
    parts.join("\n\n")
}

/// `Key: value` lines, the values aligned; empty values are left out.
fn details(rows: &[(&str, String)]) -> String {
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0) + 1;
    rows.iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{:<width$}  {v}", format!("{k}:")))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A connection's detail page.
pub(crate) fn connection(c: &ConnectionView) -> String {
    let own = match (&c.host, c.port) {
        (Some(h), Some(p)) => host_port(h, p),
        (Some(h), None) => h.clone(),
        _ => String::new(),
    };
    let password = match (&c.password, c.has_password) {
        (Some(p), _) => p.expose().to_owned(),
        (None, true) => "saved (show it with --reveal)".to_owned(),
        (None, false) => "none".to_owned(),
    };
    let mut rows = vec![
        ("Name", c.name.clone()),
        ("Folder", folder(&c.folder)),
        ("Environment", c.environment.clone().unwrap_or_default()),
        ("Own host", own),
    ];
    match &c.target {
        Some(t) => {
            rows.push(("URL", t.url.clone()));
            rows.push(("HTTP port", t.http_port.to_string()));
            rows.push(("Subject prefix", t.subject_prefix.clone()));
        }
        None => rows.push(("URL", "(none: no environment and no host)".to_owned())),
    }
    rows.extend([
        ("User", c.username.clone()),
        ("Password", password),
        ("Tags", list(&c.tags)),
        ("Description", c.description.clone()),
    ]);
    details(&rows)
}

/// An environment's detail page.
pub(crate) fn environment(e: &EnvironmentView) -> String {
    details(&[
        ("Name", e.name.clone()),
        ("Folder", folder(&e.folder)),
        ("URL", e.url.clone()),
        ("HTTP port", e.http_port.to_string()),
        ("Subject prefix", e.subject_prefix.clone()),
        ("Tags", list(&e.tags)),
        ("Description", e.description.clone()),
        ("Connections", list(&e.connections)),
    ])
}

/// One line of the tree for a connection: `name  user@host:port via env  [tags]  (password)`.
fn connection_line(c: &ConnectionView) -> String {
    let mut line = c.name.clone();
    let at = match &c.target {
        Some(t) => host_port(&t.host, t.port),
        None => "(no host)".to_owned(),
    };
    line.push_str("  ");
    if !c.username.is_empty() {
        line.push_str(&c.username);
        line.push('@');
    }
    line.push_str(&at);
    if let Some(env) = &c.environment {
        line.push_str(" via ");
        line.push_str(env);
    }
    if !c.tags.is_empty() {
        line.push_str(&format!("  [{}]", list(&c.tags)));
    }
    if c.has_password {
        line.push_str("  (password)");
    }
    line
}

/// One line of the tree for an environment: `name (environment)  host:port  [tags]`.
fn environment_line(e: &EnvironmentView) -> String {
    let mut line = format!("{} (environment)  {}", e.name, host_port(&e.host, e.port));
    if !e.subject_prefix.is_empty() {
        line.push_str(&format!("  prefix {}", e.subject_prefix));
    }
    if !e.tags.is_empty() {
        line.push_str(&format!("  [{}]", list(&e.tags)));
    }
    line
}

/// The tree under a `root` line, drawn with box-drawing characters.
pub(crate) fn tree(root: &str, level: &TreeView) -> String {
    let mut out = vec![root.to_owned()];
    tree_level(level, "", &mut out);
    out.join("\n")
}

fn tree_level(level: &TreeView, indent: &str, out: &mut Vec<String>) {
    enum Entry<'a> {
        Folder(String, &'a TreeView),
        Leaf(String),
    }
    let mut entries: Vec<Entry<'_>> = Vec::new();
    for f in &level.folders {
        let mut label = format!("{}/", f.name);
        if !f.description.is_empty() {
            label.push_str(&format!("  ({})", f.description));
        }
        entries.push(Entry::Folder(label, &f.contents));
    }
    entries.extend(
        level
            .environments
            .iter()
            .map(|e| Entry::Leaf(environment_line(e))),
    );
    entries.extend(
        level
            .connections
            .iter()
            .map(|c| Entry::Leaf(connection_line(c))),
    );
    let count = entries.len();
    for (i, entry) in entries.into_iter().enumerate() {
        let last = i + 1 == count;
        let (branch, more) = if last {
            ("└── ", "    ")
        } else {
            ("├── ", "│   ")
        };
        match entry {
            Entry::Folder(label, contents) => {
                out.push(format!("{indent}{branch}{label}"));
                tree_level(contents, &format!("{indent}{more}"), out);
            }
            Entry::Leaf(label) => out.push(format!("{indent}{branch}{label}")),
        }
    }
}

/// Milliseconds since the Unix epoch as an RFC 3339 UTC time (`2024-05-01T12:00:00Z`).
pub(crate) fn utc_time(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| format!("{ms} ms since 1970"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_times() {
        assert_eq!(utc_time(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc_time(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(utc_time(1_714_564_800_123), "2024-05-01T12:00:00Z");
    }

    #[test]
    fn tables_align_without_trailing_blanks() {
        let text = table(["A", "BB"], vec![["xyz".into(), "1".into()]]);
        assert_eq!(text, "A    BB\nxyz  1");
    }
}
