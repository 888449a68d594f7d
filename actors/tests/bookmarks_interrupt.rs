//! The master-password change is atomic: a process killed (SIGKILL) half-way through it leaves
//! a vault that the old password opens, a process killed right after it one that the new
//! password opens, and a process killed at an arbitrary moment of a run of changes one that
//! exactly one of the two passwords of the change in progress opens.
//!
//! The test binary runs itself as the child (`child_process` below does nothing unless
//! `ORES_INTERRUPT_CHILD` is set); the child reports each step on stdout and then blocks on
//! its stdin until it is killed.
#![cfg(all(unix, feature = "connections"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use ores_actors::connections::actor::{self, BookmarkError};
use ores_actors::connections::model::Vault;
use ores_actors::connections::store::Store;
use ores_actors::connections::vault::{self, KdfParams, Secret, VaultError, VaultKey, WrappedKey};

const TEST_KDF: KdfParams = KdfParams {
    memory_kib: 64,
    iterations: 2,
    parallelism: 1,
};

const OLD: &str = "old-master-2b7e";
const NEW: &str = "new-master-9c1d";

const CHILD_ENV: &str = "ORES_INTERRUPT_CHILD";
const PATH_ENV: &str = "ORES_INTERRUPT_PATH";

fn pw(s: &str) -> Secret {
    Secret::from(s)
}

/// The password of the `n`th vault of the run of changes (0: OLD, 1: NEW, 2: OLD, …).
fn nth(n: u64) -> &'static str {
    if n.is_multiple_of(2) { OLD } else { NEW }
}

/// A store whose vault `OLD` opens.
fn new_store(dir: &Path) -> PathBuf {
    let path = dir.join("connections.db");
    let mut store = Store::open(&path).unwrap();
    let key = VaultKey::generate().unwrap();
    let wrapped = vault::wrap(&key, &pw(OLD), TEST_KDF).unwrap();
    store
        .set_vault(&Vault {
            wrapped: wrapped.to_bytes(),
            params: "test".into(),
        })
        .unwrap();
    path
}

/// Which of `candidates` open the vault of the store at `path` (opened afresh, as after a crash).
fn opening(path: &Path, candidates: &[&'static str]) -> Vec<&'static str> {
    let store = Store::open(path).unwrap();
    store.check_integrity().unwrap();
    let wrapped = WrappedKey::from_bytes(&store.get_vault().unwrap().unwrap().wrapped).unwrap();
    candidates
        .iter()
        .copied()
        .filter(|p| match vault::unwrap(&wrapped, &pw(p)) {
            Ok(_) => true,
            Err(VaultError::WrongPassword) => false,
            Err(e) => panic!("unexpected error: {e}"),
        })
        .collect()
}

struct Running {
    child: Child,
    lines: std::io::Lines<BufReader<std::process::ChildStdout>>,
}

fn spawn_child(mode: &str, path: &Path) -> Running {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_process",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, mode)
        .env(PATH_ENV, path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let lines = BufReader::new(child.stdout.take().unwrap()).lines();
    Running { child, lines }
}

impl Running {
    /// Reads the child's stdout up to the line holding `marker`; returns the line from the
    /// marker on (the test harness may print its own text before it on the same line).
    fn wait_for(&mut self, marker: &str) -> String {
        for line in self.lines.by_ref() {
            let line = line.unwrap();
            if let Some(at) = line.find(marker) {
                return line[at..].to_owned();
            }
        }
        panic!("the child ended before printing {marker:?}");
    }

    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

#[test]
fn killed_before_the_commit_the_old_password_opens() {
    let dir = tempfile::tempdir().unwrap();
    let path = new_store(dir.path());
    let mut child = spawn_child("uncommitted", &path);
    child.wait_for("written");
    child.kill();
    assert_eq!(opening(&path, &[OLD, NEW]), vec![OLD]);
}

#[test]
fn killed_after_the_commit_the_new_password_opens() {
    let dir = tempfile::tempdir().unwrap();
    let path = new_store(dir.path());
    let mut child = spawn_child("committed", &path);
    child.wait_for("committed");
    child.kill();
    assert_eq!(opening(&path, &[OLD, NEW]), vec![NEW]);
}

#[test]
fn killed_at_any_moment_of_a_run_of_changes_one_password_opens() {
    let dir = tempfile::tempdir().unwrap();
    let path = new_store(dir.path());
    for round in 0..12u64 {
        let mut child = spawn_child("loop", &path);
        // The child prints the number of changes committed so far before each change.
        let start: u64 = child.wait_for("start ")[6..].parse().unwrap();
        // Let it run for a varying number of changes, then kill it mid-stream.
        let target = start + 1 + round % 4;
        loop {
            let line = child.wait_for("done ");
            if line[5..].parse::<u64>().unwrap() >= target {
                break;
            }
        }
        child.kill();
        let open = opening(&path, &[OLD, NEW]);
        assert_eq!(
            open.len(),
            1,
            "round {round}: exactly one password must open the vault, got {open:?}"
        );
    }
}

/// The child side. Does nothing in a normal test run.
#[test]
fn child_process() {
    let Ok(mode) = std::env::var(CHILD_ENV) else {
        return;
    };
    let path = PathBuf::from(std::env::var(PATH_ENV).unwrap());
    let mut store = Store::open(&path).unwrap();
    let mut out = std::io::stdout();
    match mode.as_str() {
        "uncommitted" => {
            // The change is written inside a transaction that is never committed.
            let _: Result<(), BookmarkError> = store.transaction(|s| {
                actor::rewrap_master_password(s, &pw(OLD), &pw(NEW), TEST_KDF)?;
                writeln!(out, "written").unwrap();
                out.flush().unwrap();
                block_until_killed();
                Ok(())
            });
        }
        "committed" => {
            actor::rewrap_master_password(&mut store, &pw(OLD), &pw(NEW), TEST_KDF).unwrap();
            writeln!(out, "committed").unwrap();
            out.flush().unwrap();
            block_until_killed();
        }
        "loop" => {
            // Find which password opens the vault now, then change it back and forth.
            let mut n = if opening_in(&store, OLD) { 0 } else { 1 };
            writeln!(out, "start {n}").unwrap();
            out.flush().unwrap();
            loop {
                actor::rewrap_master_password(&mut store, &pw(nth(n)), &pw(nth(n + 1)), TEST_KDF)
                    .unwrap();
                n += 1;
                writeln!(out, "done {n}").unwrap();
                out.flush().unwrap();
            }
        }
        other => panic!("unknown child mode {other}"),
    }
}

fn opening_in(store: &Store, password: &str) -> bool {
    let wrapped = WrappedKey::from_bytes(&store.get_vault().unwrap().unwrap().wrapped).unwrap();
    vault::unwrap(&wrapped, &pw(password)).is_ok()
}

/// Blocks until the parent kills this process (it never writes to our stdin).
fn block_until_killed() {
    let mut buf = [0u8; 1];
    let _ = std::io::stdin().read(&mut buf);
    // The parent closed our stdin without killing us: crash without committing anything.
    std::process::abort();
}
