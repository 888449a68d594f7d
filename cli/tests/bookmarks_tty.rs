//! `ores bookmarks` on a terminal: the master-password prompt (asked twice by `init`, never
//! echoed) and the question asked for each clash by `import`. The binary runs under
//! util-linux's `script`, which gives it a pseudo-terminal; the test answers each prompt only
//! once it has appeared.
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

const MASTER_ENV: &str = "ORES_CONNECTIONS_MASTER_PASSWORD";
const WAIT: Duration = Duration::from_secs(20);

/// `ores` running on a pseudo-terminal.
struct Terminal {
    child: Child,
    input: ChildStdin,
    output: Receiver<Vec<u8>>,
    seen: Vec<u8>,
}

fn script_available() -> bool {
    Command::new("script")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A single-quoted shell word.
fn quoted(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

impl Terminal {
    /// Runs `ores bookmarks --file <file> <args>` on a pseudo-terminal, with `env` set.
    fn start(file: &Path, args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut line = vec![
            quoted(env!("CARGO_BIN_EXE_ores")),
            "bookmarks".into(),
            "--file".into(),
            quoted(file.to_str().unwrap()),
        ];
        line.extend(args.iter().map(|a| quoted(a)));
        let mut cmd = Command::new("script");
        cmd.args(["-qec", &line.join(" "), "/dev/null"])
            .env_remove(MASTER_ENV)
            .env_remove("ORES_BOOKMARKS_FILE")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let input = child.stdin.take().unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let (tx, output) = channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        Self {
            child,
            input,
            output,
            seen: Vec::new(),
        }
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.seen).into_owned()
    }

    /// Waits until the terminal shows `marker` (after what was already waited for); returns
    /// everything shown so far.
    fn expect(&mut self, marker: &str, from: usize) -> usize {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(at) = self.text()[from..].find(marker) {
                return from + at + marker.len();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.output.recv_timeout(left) {
                Ok(bytes) => self.seen.extend(bytes),
                Err(RecvTimeoutError::Timeout) => {
                    panic!(
                        "no {marker:?} on the terminal within {WAIT:?}; it shows:\n{}",
                        self.text()
                    )
                }
                Err(RecvTimeoutError::Disconnected) => {
                    panic!(
                        "the program ended without showing {marker:?}; it showed:\n{}",
                        self.text()
                    )
                }
            }
        }
    }

    /// The pseudo-terminal the program runs on (`/dev/pts/N`), from the file descriptors of
    /// `script`'s child.
    fn pty(&self) -> Option<std::path::PathBuf> {
        let pid = self.child.id();
        let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).ok()?;
        children.split_whitespace().find_map(|child| {
            std::fs::read_link(format!("/proc/{child}/fd/0"))
                .ok()
                .filter(|p| p.starts_with("/dev/pts"))
        })
    }

    /// Waits until the terminal's echo is off: the program has switched it off to read a
    /// password. (A password prompt is printed just before echo goes off; typing in between
    /// would be echoed by the terminal, as it would for a person typing ahead.)
    fn wait_for_echo_off(&self) {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(pty) = self.pty() {
                let settings = Command::new("stty")
                    .arg("-F")
                    .arg(&pty)
                    .arg("-a")
                    .output()
                    .unwrap();
                let settings = String::from_utf8_lossy(&settings.stdout).into_owned();
                if settings.split_whitespace().any(|flag| flag == "-echo") {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "the terminal's echo was never switched off; it shows:\n{}",
                self.text()
            );
            std::thread::yield_now();
        }
    }

    fn type_line(&mut self, line: &str) {
        self.input.write_all(line.as_bytes()).unwrap();
        self.input.write_all(b"\n").unwrap();
        self.input.flush().unwrap();
    }

    /// Waits for the program to end; its exit status and everything it showed.
    fn finish(mut self) -> (bool, String) {
        drop(self.input);
        let status = self.child.wait().unwrap();
        while let Ok(bytes) = self.output.recv_timeout(WAIT) {
            self.seen.extend(bytes);
        }
        (
            status.success(),
            String::from_utf8_lossy(&self.seen).into_owned(),
        )
    }
}

/// Runs `ores bookmarks` without a terminal, the master password in the environment.
fn ores(file: &Path, args: &[&str], master: &str, stdin: &str) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ores"))
        .arg("bookmarks")
        .arg("--file")
        .arg(file)
        .args(args)
        .env(MASTER_ENV, master)
        .env_remove("ORES_BOOKMARKS_FILE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "ores bookmarks {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn init_asks_twice_without_echo_and_the_password_opens_the_vault() {
    if !script_available() {
        eprintln!("skipped: util-linux `script` is not installed (needed for a terminal)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("connections.db");
    let master = "tty-master-6e1f";

    let mut term = Terminal::start(&file, &["init"], &[]);
    let at = term.expect("Master password:", 0);
    term.wait_for_echo_off();
    term.type_line(master);
    let at = term.expect("Repeat master password:", at);
    term.wait_for_echo_off();
    term.type_line(master);
    term.expect("Initialized", at);
    let (ok, shown) = term.finish();
    assert!(ok, "{shown}");
    assert!(
        !shown.contains(master),
        "the master password was echoed:\n{shown}"
    );

    // The password typed at the prompt is the vault's: a password can be saved with it.
    ores(
        &file,
        &["add", "x", "--host", "h.example", "--password-stdin"],
        master,
        "p",
    );
}

#[test]
fn init_refuses_two_different_passwords_and_creates_nothing() {
    if !script_available() {
        eprintln!("skipped: util-linux `script` is not installed (needed for a terminal)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("connections.db");
    let mut term = Terminal::start(&file, &["init"], &[]);
    let at = term.expect("Master password:", 0);
    term.type_line("one-password");
    let at = term.expect("Repeat master password:", at);
    term.type_line("another-password");
    term.expect("error:", at);
    let (ok, shown) = term.finish();
    assert!(!ok, "{shown}");
    assert!(!file.exists(), "a store was created:\n{shown}");
}

#[test]
fn import_asks_for_each_clash_on_a_terminal() {
    if !script_available() {
        eprintln!("skipped: util-linux `script` is not installed (needed for a terminal)");
        return;
    }
    let master = "tty-master-6e1f";
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("source.db");
    let target = dir.path().join("target.db");
    let export = dir.path().join("export.json");
    for (file, host) in [(&source, "new.example"), (&target, "old.example")] {
        ores(file, &["init"], master, "");
        ores(file, &["add", "alpha", "--host", host], master, "");
        ores(file, &["add", "beta", "--host", host], master, "");
    }
    ores(
        &source,
        &["export", "-o", export.to_str().unwrap()],
        master,
        "",
    );

    let mut term = Terminal::start(
        &target,
        &["import", export.to_str().unwrap()],
        &[(MASTER_ENV, master)],
    );
    // The preview comes first, then one question per clash, in the preview's order.
    let at = term.expect("clash", 0);
    let at = term.expect("connection `alpha` exists and differs in host", at);
    term.type_line("r");
    term.expect("connection `beta` exists and differs in host", at);
    term.type_line("k");
    let (ok, shown) = term.finish();
    assert!(ok, "{shown}");

    let listed = ores(&target, &["ls", "--json"], master, "");
    let listed: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    let host_of = |name: &str| {
        listed
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .map(|c| c["host"].as_str().unwrap().to_owned())
    };
    assert_eq!(host_of("alpha").as_deref(), Some("new.example"), "replaced");
    assert_eq!(host_of("beta").as_deref(), Some("old.example"), "kept");
    assert_eq!(
        host_of("beta (imported)").as_deref(),
        Some("new.example"),
        "kept both"
    );
}
