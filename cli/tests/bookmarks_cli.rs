//! `ores bookmarks` end to end: the real binary against a store in a temp dir, the master
//! password from `ORES_CONNECTIONS_MASTER_PASSWORD`, connection passwords on standard input;
//! `test` against a service on the machine's NATS and against a private `nats-server` that
//! requires a user and password.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use serde_json::Value;
use tempfile::TempDir;

const MASTER: &str = "correct horse battery staple";
const MASTER_ENV: &str = "ORES_CONNECTIONS_MASTER_PASSWORD";

/// A store file in a temp dir of its own.
struct Store {
    _dir: TempDir,
    file: PathBuf,
}

impl Store {
    /// A path for a store that does not exist yet.
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("connections.db");
        Self { _dir: dir, file }
    }

    /// A store created with `init`.
    fn init() -> Self {
        let store = Self::new();
        store.ok(&["init"]);
        store
    }

    /// The command `ores bookmarks --file <store> <args>`, with the master password in the
    /// environment unless `master` is `None`; standard input is not a terminal.
    fn command(&self, args: &[&str], master: Option<&str>) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ores"));
        cmd.arg("bookmarks")
            .arg("--file")
            .arg(&self.file)
            .args(args)
            .env_remove(MASTER_ENV)
            .env_remove("ORES_BOOKMARKS_FILE")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(master) = master {
            cmd.env(MASTER_ENV, master);
        }
        cmd
    }

    /// Runs `args` with `master` and `stdin`.
    fn run_with(&self, args: &[&str], master: Option<&str>, stdin: Option<&str>) -> Output {
        let mut cmd = self.command(args, master);
        if stdin.is_some() {
            cmd.stdin(Stdio::piped());
        }
        let mut child = cmd.spawn().unwrap();
        if let Some(text) = stdin {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(text.as_bytes())
                .unwrap();
        }
        child.wait_with_output().unwrap()
    }

    /// Runs `args` with the right master password.
    fn run(&self, args: &[&str]) -> Output {
        self.run_with(args, Some(MASTER), None)
    }

    /// Runs `args`, which must succeed; returns standard output.
    fn ok(&self, args: &[&str]) -> String {
        succeeded(&self.run(args), args)
    }

    /// Runs `args` with `--json`, which must succeed; returns the parsed output.
    fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.push("--json");
        let out = self.ok(&all);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{all:?}: not JSON ({e}):\n{out}"))
    }

    /// Runs `args` with the connection password `password` on standard input.
    fn with_password(&self, args: &[&str], password: &str) -> String {
        let mut all = args.to_vec();
        all.push("--password-stdin");
        succeeded(
            &self.run_with(&all, Some(MASTER), Some(&format!("{password}\n"))),
            &all,
        )
    }

    /// The revealed password of connection `name`.
    fn password_of(&self, name: &str) -> Value {
        self.json(&["show", name, "--reveal"])["password"].clone()
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Standard output of a run that must have succeeded.
fn succeeded(out: &Output, args: &[&str]) -> String {
    assert!(
        out.status.success(),
        "`ores bookmarks {}` failed ({:?}):\nstdout: {}\nstderr: {}",
        args.join(" "),
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// Asserts a run failed with `code`, printing `error: …message…`; returns standard error.
fn failed(out: &Output, code: i32, message: &str) -> String {
    let stderr = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(code),
        "expected exit code {code}; stdout: {}\nstderr: {stderr}",
        text(&out.stdout)
    );
    assert!(
        stderr.starts_with("error: "),
        "stderr does not start with `error: `: {stderr}"
    );
    assert!(
        stderr.contains(message),
        "stderr does not mention `{message}`: {stderr}"
    );
    stderr
}

/// A store with a folder tree, an environment and three connections.
fn populated() -> Store {
    let store = Store::init();
    store.ok(&["folder", "add", "-p", "prod/emea", "-d", "Europe"]);
    store.ok(&["folder", "add", "dev"]);
    store.ok(&[
        "env",
        "add",
        "prod-emea",
        "--host",
        "nats.emea.example.com",
        "--prefix",
        "ores.prod",
        "--folder",
        "prod/emea",
        "--tag",
        "prod",
    ]);
    store.with_password(
        &[
            "add",
            "trader",
            "--env",
            "prod-emea",
            "--user",
            "alice",
            "--folder",
            "prod/emea",
            "--tag",
            "trading",
        ],
        "s3cret",
    );
    store.ok(&[
        "add",
        "local",
        "--host",
        "localhost",
        "--port",
        "4223",
        "--user",
        "dev",
        "--folder",
        "dev",
    ]);
    store.ok(&[
        "add",
        "scratch",
        "--host",
        "10.1.2.3",
        "--description",
        "tmp",
    ]);
    store
}

// ---------------------------------------------------------------- basics

#[test]
fn init_then_list_tree_search_and_show_as_text_and_json() {
    let store = populated();

    let ls = store.ok(&["ls"]);
    let header = ls.lines().next().unwrap();
    for column in ["NAME", "FOLDER", "TARGET", "USER", "TAGS", "PASSWORD"] {
        assert!(header.contains(column), "{ls}");
    }
    let trader = ls.lines().find(|l| l.starts_with("trader")).unwrap();
    assert!(trader.contains("prod/emea"), "{trader}");
    assert!(
        trader.contains("nats.emea.example.com:4222 (prod-emea)"),
        "{trader}"
    );
    assert!(trader.contains("alice") && trader.contains('✓'), "{trader}");
    let local = ls.lines().find(|l| l.starts_with("local")).unwrap();
    assert!(local.contains("localhost:4223") && !local.contains('✓'));

    let all = store.json(&["ls"]);
    let names: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["local", "scratch", "trader"]);
    let trader = &all[2];
    assert_eq!(trader["folder"], "prod/emea");
    assert_eq!(trader["environment"], "prod-emea");
    assert_eq!(trader["has_password"], true);
    assert_eq!(trader["target"]["url"], "nats://nats.emea.example.com:4222");
    assert_eq!(trader["target"]["subject_prefix"], "ores.prod");
    assert!(
        trader.get("password").is_none(),
        "no secret without --reveal"
    );

    // Filters.
    let prod = store.json(&["ls", "--folder", "prod"]);
    assert_eq!(prod.as_array().unwrap().len(), 1);
    let tagged = store.json(&["ls", "--tag", "trading"]);
    assert_eq!(tagged[0]["name"], "trader");

    let tree = store.ok(&["tree"]);
    assert!(tree.contains("├── ") && tree.contains("└── "), "{tree}");
    assert!(
        tree.contains("prod/") && tree.contains("emea/  (Europe)"),
        "{tree}"
    );
    assert!(tree.contains("prod-emea (environment)"), "{tree}");
    assert!(
        tree.contains("trader  alice@nats.emea.example.com:4222 via prod-emea  [trading]"),
        "{tree}"
    );
    let tree = store.json(&["tree"]);
    assert_eq!(tree["folders"][0]["name"], "dev");
    assert_eq!(tree["folders"][1]["folders"][0]["path"], "prod/emea");
    assert_eq!(
        tree["folders"][1]["folders"][0]["connections"][0]["name"],
        "trader"
    );
    assert_eq!(tree["connections"][0]["name"], "scratch");

    // Search by name, host and tag.
    let found = store.json(&["search", "emea"]);
    assert_eq!(found["environments"][0]["name"], "prod-emea");
    assert_eq!(found["connections"][0]["name"], "trader");
    let by_host = store.json(&["search", "10.1.2"]);
    assert_eq!(by_host["connections"][0]["name"], "scratch");
    let by_tag = store.json(&["search", "TRADING"]);
    assert_eq!(by_tag["connections"].as_array().unwrap().len(), 1);
    assert!(store.ok(&["search", "emea"]).contains("Connections:"));

    let show = store.ok(&["show", "trader"]);
    assert!(show.contains("URL:") && show.contains("nats://nats.emea.example.com:4222"));
    assert!(show.contains("saved (show it with --reveal)"), "{show}");
    assert!(!show.contains("s3cret"));
    assert_eq!(store.password_of("trader"), "s3cret");
    assert!(store.ok(&["show", "trader", "--reveal"]).contains("s3cret"));

    let resolved = store.json(&["resolve", "trader"]);
    assert_eq!(resolved["url"], "nats://nats.emea.example.com:4222");
    assert_eq!(resolved["username"], "alice");
    assert_eq!(
        store.ok(&["resolve", "local", "--url"]).trim(),
        "nats://localhost:4223"
    );
}

#[test]
fn edit_move_duplicate_and_remove_connections() {
    let store = populated();

    store.ok(&[
        "edit", "local", "--rename", "dev-box", "--user", "root", "--tag", "x", "--tag", "y",
    ]);
    store.ok(&["edit", "dev-box", "--untag", "x", "--description", "my box"]);
    let c = store.json(&["show", "dev-box"]);
    assert_eq!(c["username"], "root");
    assert_eq!(c["tags"], serde_json::json!(["y"]));
    assert_eq!(c["description"], "my box");
    failed(
        &store.run(&["show", "local"]),
        1,
        "no connection named `local`",
    );

    // Switch between an environment and an own host.
    let linked = store.json(&["edit", "dev-box", "--env", "prod-emea"]);
    assert_eq!(linked["environment"], "prod-emea");
    assert_eq!(linked["host"], Value::Null);
    let own = store.json(&["edit", "dev-box", "--host", "box.local"]);
    assert_eq!(own["environment"], Value::Null);
    assert_eq!(own["target"]["url"], "nats://box.local:4222");

    // Password: replace, then forget.
    store.with_password(&["edit", "dev-box"], "pw2");
    assert_eq!(store.password_of("dev-box"), "pw2");
    store.ok(&["edit", "dev-box", "--no-password"]);
    assert_eq!(store.json(&["show", "dev-box"])["has_password"], false);
    store.with_password(&["password", "dev-box"], "pw3");
    assert_eq!(store.password_of("dev-box"), "pw3");
    store.ok(&["password", "dev-box", "--forget"]);
    assert_eq!(store.json(&["show", "dev-box"])["has_password"], false);

    failed(&store.run(&["edit", "dev-box"]), 1, "nothing to change");

    // Move.
    let moved = store.json(&["mv", "trader", "/"]);
    assert_eq!(moved["folder"], Value::Null);
    assert!(store.ok(&["mv", "trader", "dev"]).contains("to `dev`"));
    failed(
        &store.run(&["mv", "trader", "nowhere"]),
        1,
        "no folder `nowhere`",
    );

    // Duplicate: the copy carries the password, re-sealed for itself.
    let copy = store.json(&["dup", "trader"]);
    assert_eq!(copy["name"], "trader (copy)");
    assert_eq!(copy["folder"], "dev");
    assert_eq!(store.password_of("trader (copy)"), "s3cret");
    let named = store.json(&["dup", "trader", "--name", "trader-2"]);
    assert_eq!(named["name"], "trader-2");
    assert_eq!(store.password_of("trader-2"), "s3cret");
    failed(
        &store.run(&["dup", "trader", "--name", "trader-2"]),
        1,
        "already exists",
    );

    // Remove several at once; a missing name removes nothing.
    failed(&store.run(&["rm", "trader-2", "ghost"]), 1, "ghost");
    assert!(store.json(&["show", "trader-2"]).is_object());
    let removed = store.json(&["rm", "trader-2", "trader (copy)"]);
    assert_eq!(removed["removed"].as_array().unwrap().len(), 2);
    let names: Vec<String> = store
        .json(&["ls"])
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["dev-box", "scratch", "trader"]);
}

#[test]
fn folders_environments_and_tags() {
    let store = populated();

    let folders = store.json(&["folder", "ls"]);
    let paths: Vec<&str> = folders
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["dev", "prod", "prod/emea"]);
    failed(&store.run(&["folder", "add", "a/b"]), 1, "no folder `a`");
    let err = failed(&store.run(&["folder", "rm", "prod"]), 1, "not empty");
    assert!(
        err.contains("hint: ") && err.contains("folder rm -r prod"),
        "{err}"
    );
    store.ok(&["folder", "mv", "prod/emea", "/"]);
    store.ok(&["folder", "edit", "emea", "--rename", "europe", "-d", "EU"]);
    assert_eq!(store.json(&["show", "trader"])["folder"], "europe");
    store.ok(&["folder", "rm", "prod"]);
    failed(
        &store.run(&["folder", "mv", "europe", "europe"]),
        1,
        "cannot move under itself",
    );

    let envs = store.json(&["env", "ls"]);
    assert_eq!(envs[0]["connections"], serde_json::json!(["trader"]));
    let edited = store.json(&[
        "env",
        "edit",
        "prod-emea",
        "--port",
        "4333",
        "--http-port",
        "9090",
    ]);
    assert_eq!(edited["url"], "nats://nats.emea.example.com:4333");
    assert_eq!(
        store.json(&["show", "trader"])["target"]["port"],
        4333,
        "connections follow their environment"
    );
    assert!(store.ok(&["env", "show", "prod-emea"]).contains("9090"));
    store.ok(&["env", "mv", "prod-emea", "/"]);
    let err = failed(
        &store.run(&["env", "rm", "prod-emea"]),
        1,
        "used by 1 connection",
    );
    assert!(err.contains("--force"), "{err}");
    store.ok(&["env", "rm", "prod-emea", "--force"]);
    failed(
        &store.run(&["resolve", "trader"]),
        1,
        "has neither an environment nor its own host",
    );

    store.ok(&["tag", "add", "spare"]);
    store.ok(&["tag", "rename", "trading", "desk"]);
    assert_eq!(
        store.json(&["show", "trader"])["tags"],
        serde_json::json!(["desk"])
    );
    let tags = store.json(&["tag", "ls"]);
    let desk = tags
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "desk")
        .unwrap();
    assert_eq!(desk["connections"], 1);
    store.ok(&["tag", "rm", "desk"]);
    assert_eq!(
        store.json(&["show", "trader"])["tags"],
        serde_json::json!([])
    );
    failed(&store.run(&["tag", "rm", "desk"]), 1, "no tag named `desk`");
}

#[test]
fn recent_parties_newest_first() {
    let store = Store::init();
    assert_eq!(store.json(&["recent", "ls"]), serde_json::json!([]));
    store.ok(&["recent", "add", "p-1", "Party One"]);
    store.ok(&["recent", "add", "p-2", "Party Two"]);
    let recent = store.json(&["recent", "ls"]);
    assert_eq!(recent[0]["party_name"], "Party Two");
    assert_eq!(recent[1]["party_id"], "p-1");
    assert!(
        recent[0]["last_selected_at"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );
    assert!(store.ok(&["recent", "ls"]).contains("Party One"));
    store.ok(&["recent", "clear"]);
    assert_eq!(store.json(&["recent", "ls"]), serde_json::json!([]));
}

#[test]
fn passwd_changes_the_master_password() {
    let store = populated();
    succeeded(
        &store.run_with(
            &["passwd", "--new-password-stdin"],
            Some(MASTER),
            Some("new master\n"),
        ),
        &["passwd"],
    );
    failed(
        &store.run_with(&["show", "trader", "--reveal"], Some(MASTER), None),
        6,
        "wrong master password",
    );
    let out = store.run_with(
        &["show", "trader", "--reveal", "--json"],
        Some("new master"),
        None,
    );
    let shown: Value = serde_json::from_str(&succeeded(&out, &["show"])).unwrap();
    assert_eq!(shown["password"], "s3cret");
}

// ---------------------------------------------------------------- errors

#[test]
fn a_wrong_master_password_fails_and_changes_nothing() {
    let store = Store::init();
    let out = store.run_with(
        &["add", "x", "--host", "h", "--password-stdin"],
        Some("not the master"),
        Some("pw\n"),
    );
    failed(&out, 6, "wrong master password");
    failed(&store.run(&["show", "x"]), 1, "no connection named `x`");
}

#[test]
fn a_missing_connection_fails_with_a_hint() {
    let store = populated();
    let err = failed(
        &store.run(&["show", "tradr"]),
        1,
        "no connection named `tradr`",
    );
    assert!(err.contains("hint: did you mean `trader`?"), "{err}");
    let err = failed(
        &store.run(&["test", "ghost"]),
        1,
        "no connection named `ghost`",
    );
    assert!(err.contains("ores bookmarks ls"), "{err}");
    failed(
        &store.run(&["add", "y", "--env", "nope"]),
        1,
        "no environment named `nope`",
    );
}

#[test]
fn an_uninitialized_store_says_to_run_init() {
    let store = Store::new();
    let err = failed(&store.run(&["ls"]), 1, "no bookmark store at");
    assert!(
        err.contains("hint: run `ores bookmarks init` first"),
        "{err}"
    );
    assert!(!store.file.exists(), "reading commands create no file");
    store.ok(&["init"]);
    failed(&store.run(&["init"]), 1, "already initialized");
}

#[test]
fn a_foreign_or_corrupt_file_is_refused_clearly() {
    let store = Store::new();
    std::fs::write(
        &store.file,
        b"this is not a database, just some text\n".repeat(200),
    )
    .unwrap();
    let err = failed(&store.run(&["ls"]), 1, "is not a SQLite database");
    assert!(err.contains("hint: "), "{err}");
    failed(&store.run(&["init"]), 1, "is not a SQLite database");
}

#[test]
fn no_terminal_and_no_environment_names_the_variable() {
    let store = populated();
    // Commands without secrets need no master password ...
    succeeded(&store.run_with(&["ls"], None, None), &["ls"]);
    // ... those with one say where it comes from.
    let out = store.run_with(&["show", "trader", "--reveal"], None, None);
    let err = failed(&out, 2, MASTER_ENV);
    assert!(err.contains("not a terminal"), "{err}");
    let fresh = Store::new();
    failed(&fresh.run_with(&["init"], None, None), 2, MASTER_ENV);
    assert!(!fresh.file.exists(), "a failed init leaves no file behind");
}

#[test]
fn usage_errors_exit_with_2() {
    let store = Store::init();
    let out = store.run(&["add", "x"]);
    assert_eq!(out.status.code(), Some(2));
    let out = store.run(&["add", "x", "--env", "e", "--host", "h"]);
    assert_eq!(out.status.code(), Some(2));
    let out = store.run(&["test", "x", "--timeout", "soon"]);
    assert_eq!(out.status.code(), Some(2));
}

// ------------------------------------------------------------------ test

/// A free 127.0.0.1 port, closed again.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

async fn run_async(store: &Store, args: &[&str], master: Option<&str>) -> Output {
    tokio::process::Command::from(store.command(args, master))
        .output()
        .await
        .unwrap()
}

#[test]
fn an_unreachable_server_is_a_clear_error() {
    let store = Store::init();
    let port = closed_port().to_string();
    store.ok(&["add", "down", "--host", "127.0.0.1", "--port", &port]);
    let err = failed(
        &store.run(&["test", "down"]),
        4,
        "could not connect to nats://127.0.0.1:",
    );
    assert!(err.contains("hint: "), "{err}");
}

#[test]
fn no_answer_is_an_error() {
    let store = Store::init();
    store.ok(&["add", "here", "--host", "127.0.0.1"]);
    let prefix = format!("$SRV.nobody{}", std::process::id());
    failed(
        &store.run(&[
            "test",
            "here",
            "--srv-prefix",
            &prefix,
            "--timeout",
            "300ms",
        ]),
        1,
        &format!("no service answered {prefix}.PING within 300ms"),
    );
}

async fn echo(text: String) -> Result<String, ores_actors::service::ServiceError> {
    Ok(text)
}

#[ores_testkit::test]
async fn test_reports_the_services_answering_ping(
    kit: ores_testkit::TestKit,
) -> anyhow::Result<()> {
    use ores_actors::service::Service;
    kit.service(
        Service::builder("ores.cli.bookmarks-test", "1.2.3").handle("cli.bookmarks.echo", echo),
    )
    .await?;
    let store = Store::init();
    store.ok(&["add", "local-nats", "--host", "127.0.0.1", "--port", "4222"]);
    let prefix = kit.srv_prefix();

    let out = run_async(
        &store,
        &["test", "local-nats", "--srv-prefix", &prefix],
        Some(MASTER),
    )
    .await;
    let stdout = succeeded(&out, &["test"]);
    assert!(
        stdout.contains("Connected to nats://127.0.0.1:4222"),
        "{stdout}"
    );
    let row = stdout
        .lines()
        .find(|l| l.starts_with("ores-cli-bookmarks-test"))
        .unwrap_or_else(|| panic!("no answer row:\n{stdout}"));
    assert!(row.contains("1.2.3") && row.contains(" ms"), "{row}");
    assert!(
        stdout.contains(&format!("1 answer to {prefix}.PING")),
        "{stdout}"
    );

    let out = run_async(
        &store,
        &[
            "test",
            "local-nats",
            "--srv-prefix",
            &prefix,
            "--json",
            "--timeout",
            "1s",
        ],
        Some(MASTER),
    )
    .await;
    let report: Value = serde_json::from_str(&succeeded(&out, &["test"]))?;
    assert_eq!(report["url"], "nats://127.0.0.1:4222");
    assert_eq!(report["subject"], format!("{prefix}.PING"));
    let answers = report["answers"].as_array().unwrap();
    assert_eq!(answers.len(), 1);
    assert_eq!(answers[0]["name"], "ores-cli-bookmarks-test");
    assert_eq!(answers[0]["version"], "1.2.3");
    let latency = answers[0]["latency_ms"].as_f64().unwrap();
    assert!(latency > 0.0 && latency < 1000.0, "{latency}");
    assert_eq!(report["min_ms"], report["max_ms"]);
    assert!(report["connect_ms"].as_f64().unwrap() > 0.0);
    Ok(())
}

/// Answers `<prefix>.PING` on `client` as a service called `fake` would.
async fn fake_service(client: async_nats::Client, prefix: String) -> tokio::task::JoinHandle<()> {
    use futures::StreamExt;
    let mut sub = client.subscribe(format!("{prefix}.PING")).await.unwrap();
    client.flush().await.unwrap();
    tokio::spawn(async move {
        while let Some(msg) = sub.next().await {
            if let Some(reply) = msg.reply {
                let body = serde_json::json!({
                    "type": "io.nats.micro.v1.ping_response",
                    "name": "fake", "id": "fake-1", "version": "0.0.1", "metadata": {}
                });
                let _ = client.publish(reply, body.to_string().into()).await;
                let _ = client.flush().await;
            }
        }
    })
}

#[tokio::test]
async fn test_logs_in_with_the_saved_password() {
    use ores_testkit::nats_server::NatsServer;
    let server = NatsServer::start_with_args(["--user", "app", "--pass", "open sesame"])
        .await
        .unwrap();
    let client = async_nats::ConnectOptions::new()
        .user_and_password("app".into(), "open sesame".into())
        .connect(server.url())
        .await
        .unwrap();
    let answering = fake_service(client, "$SRV".into()).await;

    let store = Store::init();
    let port = server.port().to_string();
    let add = [
        "add",
        "private",
        "--host",
        "127.0.0.1",
        "--port",
        &port,
        "--user",
        "app",
    ];
    let mut cmd = store.command(&add, Some(MASTER));
    cmd.arg("--password-stdin").stdin(Stdio::piped());
    let mut child = tokio::process::Command::from(cmd).spawn().unwrap();
    {
        use tokio::io::AsyncWriteExt;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"open sesame\n").await.unwrap();
    }
    succeeded(&child.wait_with_output().await.unwrap(), &add);

    let out = run_async(&store, &["test", "private", "--json"], Some(MASTER)).await;
    let report: Value = serde_json::from_str(&succeeded(&out, &["test"])).unwrap();
    assert_eq!(report["username"], "app");
    assert_eq!(report["answers"][0]["name"], "fake");
    assert_eq!(report["subject"], "$SRV.PING");

    // Without the master password the saved password cannot be read.
    let out = run_async(&store, &["test", "private"], Some("wrong")).await;
    failed(&out, 6, "wrong master password");

    // A wrong saved password is refused by the server.
    let out = tokio::process::Command::from({
        let mut cmd = store.command(&["password", "private", "--password-stdin"], Some(MASTER));
        cmd.stdin(Stdio::piped());
        cmd
    })
    .spawn()
    .unwrap();
    let mut child = out;
    {
        use tokio::io::AsyncWriteExt;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"not it\n").await.unwrap();
    }
    succeeded(&child.wait_with_output().await.unwrap(), &["password"]);
    let out = run_async(&store, &["test", "private"], Some(MASTER)).await;
    let err = failed(&out, 6, "refused the login as `app`");
    assert!(err.contains("ores bookmarks password private"), "{err}");
    answering.abort();
}

// ------------------------------------------------------- export / import

const PASSPHRASE_ENV: &str = "ORES_BOOKMARKS_EXPORT_PASSPHRASE";

/// Runs `args` on `store` with extra environment variables.
fn run_env(store: &Store, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = store.command(args, Some(MASTER));
    cmd.env_remove(PASSPHRASE_ENV).env_remove(ORE_ENV);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn names(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn export_and_import_round_trip_through_a_second_store() {
    let from = populated();
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("plain.json");
    let sealed = dir.path().join("sealed.json");

    // Without secrets: no password in the file.
    let out = from.ok(&["export", "-o", plain.to_str().unwrap()]);
    assert!(out.contains("Exported 3 folders"), "{out}");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&plain).unwrap()).unwrap();
    assert_eq!(doc["format"], "ores-bookmarks");
    assert_eq!(doc["secrets"], Value::Null);
    assert!(!std::fs::read_to_string(&plain).unwrap().contains("s3cret"));
    // To standard output as well.
    let stdout: Value = serde_json::from_str(&from.ok(&["export"])).unwrap();
    assert_eq!(stdout["connections"].as_array().unwrap().len(), 3);

    // With secrets: sealed under the passphrase, owner-only.
    let args = ["export", "--with-secrets", "-o", sealed.to_str().unwrap()];
    let out = run_env(&from, &args, &[(PASSPHRASE_ENV, "export pass")]);
    assert!(succeeded(&out, &args).contains("1 password sealed"));
    let sealed_text = std::fs::read_to_string(&sealed).unwrap();
    assert!(!sealed_text.contains("s3cret"));
    assert!(sealed_text.contains("password_sealed"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&sealed).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // Preview only.
    let into = Store::init();
    let args = ["import", sealed.to_str().unwrap(), "--dry-run"];
    let out = run_env(&into, &args, &[(PASSPHRASE_ENV, "export pass")]);
    let preview = succeeded(&out, &args);
    assert!(preview.starts_with("KIND"), "{preview}");
    assert!(
        preview
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>()
                == ["connection", "trader", "new", "create"]),
        "{preview}"
    );
    assert!(
        preview.contains("9 new, 0 unchanged, 0 clashing; 1 password."),
        "{preview}"
    );
    assert!(
        preview.contains("Dry run: nothing was imported."),
        "{preview}"
    );
    assert_eq!(into.json(&["ls"]), serde_json::json!([]));

    // Import.
    let args = ["import", sealed.to_str().unwrap()];
    let out = run_env(&into, &args, &[(PASSPHRASE_ENV, "export pass")]);
    let done = succeeded(&out, &args);
    assert!(
        done.contains(
            "Imported: 9 created, 0 unchanged, 0 skipped, 0 replaced, 0 kept both; 1 password."
        ),
        "{done}"
    );
    assert_eq!(names(&into.json(&["ls"])), ["local", "scratch", "trader"]);
    assert_eq!(into.password_of("trader"), "s3cret");
    let trader = into.json(&["show", "trader"]);
    assert_eq!(trader["folder"], "prod/emea");
    assert_eq!(trader["environment"], "prod-emea");

    // Again: everything is unchanged.
    let args = ["import", sealed.to_str().unwrap(), "--json"];
    let out = run_env(&into, &args, &[(PASSPHRASE_ENV, "export pass")]);
    let again: Value = serde_json::from_str(&succeeded(&out, &args)).unwrap();
    assert_eq!(again["unchanged"], 9);
    assert_eq!(again["report"]["created"], 0);

    // A wrong passphrase imports nothing.
    let other = Store::init();
    let args = ["import", sealed.to_str().unwrap()];
    let out = run_env(&other, &args, &[(PASSPHRASE_ENV, "not it")]);
    failed(&out, 6, "wrong export passphrase");
    assert_eq!(other.json(&["ls"]), serde_json::json!([]));
    // No passphrase and no terminal: the variable is named; --without-secrets needs none.
    let err = failed(&run_env(&other, &args, &[]), 2, PASSPHRASE_ENV);
    assert!(err.contains("--without-secrets"), "{err}");
    other.ok(&["import", sealed.to_str().unwrap(), "--without-secrets"]);
    assert_eq!(other.json(&["show", "trader"])["has_password"], false);
}

#[test]
fn import_clashes_follow_on_clash_and_choose() {
    let from = populated();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("export.json");
    from.ok(&["export", "-o", file.to_str().unwrap()]);
    let file = file.to_str().unwrap();

    let into = Store::init();
    into.ok(&["add", "local", "--host", "elsewhere"]);
    into.ok(&["add", "scratch", "--host", "10.9.9.9"]);

    // The preview names the clashes and the fields that differ.
    let preview = into.json(&["import", file, "--dry-run"]);
    assert_eq!(preview["clashes"], 2);
    let local = preview["preview"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["kind"] == "connection" && r["name"] == "local")
        .unwrap();
    assert_eq!(local["status"], "clash");
    assert!(
        local["differences"]
            .as_array()
            .unwrap()
            .contains(&"host".into())
    );
    assert_eq!(local["action"], "skip");

    // Without a terminal and without --on-clash, clashes are skipped.
    let report = into.json(&["import", file]);
    assert_eq!(report["report"]["skipped"], 2);
    assert_eq!(into.json(&["show", "local"])["host"], "elsewhere");

    // A default for the clashes, and a choice for one of them.
    let report = into.json(&[
        "import",
        file,
        "--on-clash",
        "keep-both",
        "--choose",
        "connection:scratch=replace",
    ]);
    assert_eq!(report["report"]["replaced"], 1);
    assert_eq!(
        report["report"]["renamed"][0]["new_name"],
        "local (imported)"
    );
    assert_eq!(into.json(&["show", "scratch"])["host"], "10.1.2.3");
    assert_eq!(into.json(&["show", "local"])["host"], "elsewhere");
    assert_eq!(
        into.json(&["show", "local (imported)"])["host"],
        "localhost"
    );

    // Bad choices and bad files are clear errors.
    failed(
        &into.run(&["import", file, "--choose", "connection:ghost=replace"]),
        1,
        "the file has no connection `ghost`",
    );
    let out = into.run(&["import", file, "--choose", "connection:local"]);
    assert_eq!(out.status.code(), Some(2));
    let out = into.run(&["import", file, "--on-clash", "merge"]);
    assert_eq!(out.status.code(), Some(2));
    let db = into.file.to_str().unwrap().to_owned();
    let err = failed(
        &from.run(&["import", &db]),
        1,
        "is not an ores bookmark export",
    );
    assert!(err.contains("import-ore"), "{err}");
    let json = dir.path().join("other.json");
    std::fs::write(&json, "{\"hello\": 1}").unwrap();
    failed(
        &into.run(&["import", json.to_str().unwrap()]),
        1,
        "not an ores bookmark export",
    );
}

// ------------------------------------------------------------- ORE import

const ORE_ENV: &str = "ORES_ORE_MASTER_PASSWORD";
const ORE_MASTER: &str = "ore master";

/// An ORE Studio `connections.db` (`ores_testkit::ore_studio`: ORE's schema verbatim):
/// folders Production/EMEA, a tag, an environment, a connection to it with a saved password
/// and one with its own host.
fn ore_file(path: &std::path::Path) {
    use ores_testkit::ore_studio::{self, Environment, Folder, OreStudioFile, Tag};
    let ore = OreStudioFile::create(path).unwrap();
    let production = ore
        .add_folder(&Folder {
            name: "Production",
            description: Some("live"),
            ..Folder::default()
        })
        .unwrap();
    let emea = ore
        .add_folder(&Folder {
            name: "EMEA",
            parent_id: Some(&production),
            ..Folder::default()
        })
        .unwrap();
    let prod = ore
        .add_tag(&Tag {
            name: "prod",
            ..Tag::default()
        })
        .unwrap();
    let env = ore
        .add_environment(&Environment {
            folder_id: Some(&emea),
            name: "prod-ldn",
            host: "ldn.example.com",
            port: 4222,
            description: Some("London"),
            subject_prefix: Some("prod.ldn"),
            http_port: Some(8443),
            ..Environment::default()
        })
        .unwrap();
    ore.tag_environment(&env, &prod).unwrap();
    let password = ore_studio::encrypt_password("p@ss-ldn", ORE_MASTER);
    let alice = ore
        .add_connection(&ore_studio::Connection {
            folder_id: Some(&emea),
            environment_id: Some(&env),
            name: "alice@prod-ldn",
            username: "alice",
            encrypted_password: Some(&password),
            description: Some("via the env"),
            ..ore_studio::Connection::default()
        })
        .unwrap();
    ore.add_connection(&ore_studio::Connection {
        name: "bob-direct",
        host: Some("nats.example.org"),
        port: Some(4333),
        username: "bob",
        encrypted_password: Some(""),
        description: Some(""),
        ..ore_studio::Connection::default()
    })
    .unwrap();
    ore.tag_connection(&alice, &prod).unwrap();
}

#[test]
fn import_ore_reads_an_ore_studio_file() {
    let dir = tempfile::tempdir().unwrap();
    let ore = dir.path().join("connections.db");
    ore_file(&ore);
    let ore = ore.to_str().unwrap();
    let store = Store::init();
    store.ok(&["add", "bob-direct", "--host", "old.example.org"]);

    // No ORE master password: the variable is named.
    failed(&run_env(&store, &["import-ore", ore], &[]), 2, ORE_ENV);
    // A wrong one.
    failed(
        &run_env(&store, &["import-ore", ore], &[(ORE_ENV, "nope")]),
        6,
        "wrong master password",
    );

    // Preview only.
    let args = ["import-ore", ore, "--dry-run"];
    let preview = succeeded(&run_env(&store, &args, &[(ORE_ENV, ORE_MASTER)]), &args);
    let row = |name: &str| {
        preview
            .lines()
            .find(|l| l.starts_with("connection") && l.contains(name))
            .unwrap_or_else(|| panic!("no row for {name}:\n{preview}"))
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(
        row("alice@prod-ldn"),
        "connection alice@prod-ldn new create"
    );
    assert_eq!(
        row("bob-direct"),
        "connection bob-direct clash host, port, username skip"
    );
    assert!(preview.contains("Dry run"), "{preview}");
    assert_eq!(names(&store.json(&["ls"])), ["bob-direct"]);

    // Import, replacing the clash.
    let args = ["import-ore", ore, "--on-clash", "replace", "--json"];
    let out = run_env(&store, &args, &[(ORE_ENV, ORE_MASTER)]);
    let report: Value = serde_json::from_str(&succeeded(&out, &args)).unwrap();
    assert_eq!(report["report"]["replaced"], 1);
    assert_eq!(report["report"]["passwords_imported"], 1);
    let alice = store.json(&["show", "alice@prod-ldn", "--reveal"]);
    assert_eq!(alice["password"], "p@ss-ldn");
    assert_eq!(alice["folder"], "Production/EMEA");
    assert_eq!(alice["environment"], "prod-ldn");
    assert_eq!(alice["target"]["subject_prefix"], "prod.ldn");
    assert_eq!(alice["tags"], serde_json::json!(["prod"]));
    let bob = store.json(&["show", "bob-direct"]);
    assert_eq!(bob["host"], "nats.example.org");
    assert_eq!(bob["port"], 4333);

    // Not an ORE file: said before any password is asked for.
    let args = ["import-ore", store.file.to_str().unwrap()];
    failed(
        &run_env(&store, &args, &[(ORE_ENV, ORE_MASTER)]),
        1,
        "not an ORE Studio connections database",
    );
    failed(
        &run_env(&store, &args, &[]),
        1,
        "not an ORE Studio connections database",
    );

    // Without the passwords, no ORE master password is needed.
    let fresh = Store::init();
    let args = ["import-ore", ore, "--without-secrets", "--json"];
    let out = run_env(&fresh, &args, &[]);
    let report: Value = serde_json::from_str(&succeeded(&out, &args)).unwrap();
    assert_eq!(report["report"]["passwords_imported"], 0);
    let alice = fresh.json(&["show", "alice@prod-ldn"]);
    assert_eq!(alice["has_password"], false);
    assert_eq!(alice["environment"], "prod-ldn");
}
