//! Bookmark store benchmark: listing and searching 10,000 bookmarks without decrypting any
//! secret, and the time to unlock the vault at the chosen Argon2id cost.
//!
//! The store is a real SQLite file in a temporary directory holding 10,000 connections (each
//! with a sealed password, two of 30 tags, in one of 60 folders, 9 in 10 linked to one of 500
//! environments). Measured, each over `ROUNDS` rounds after a warm-up, reported as median, p90
//! and max:
//!
//! - `Store::connections` (all 10,000, with their tags), `Store::search` by name, by host, by
//!   tag and with no match, and `Store::tree`: the store's own calls, on the caller's thread;
//! - the same list and a search through the supervised actor's handle (`Bookmarks`): message,
//!   blocking thread and reply included;
//! - for scale, not judged: a list that opens every password (what a store without sealed
//!   blobs listed apart would cost if it decrypted to list).
//!
//! Target (`TARGETS.md`, bookmark store): list or search 10 k bookmarks without decrypting any
//! secret ≤ 20 ms. The passwords stay sealed: the store has no key, and the actor's list and
//! search run without one.
//!
//! Then unlocking: `vault::unlock` at `KdfParams::POLICY` (Argon2id, 19 MiB, 2 passes, 1 lane),
//! the wrapped key's own tag checking the password, against ORE Studio's check for scale (one
//! PBKDF2-HMAC-SHA256 at 600,000 iterations, which ORE runs to decrypt its first password).
//!
//! Run with `cargo bench -p ores-actors --bench bookmarks`; `ORES_BENCH_QUICK=1` runs fewer
//! rounds. See `docs/benchmarks.md`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::{millis, percentile};

use std::time::{Duration, Instant};

use ores_actors::connections::actor::{self, BookmarkConfig, Bookmarks};
use ores_actors::connections::model::{ConnectionSpec, EnvironmentSpec, FolderId, Vault};
use ores_actors::connections::store::{Store, StoreError};
use ores_actors::connections::vault::{self, KdfParams, Secret, VaultKey, WrappedKey};
use ores_runtime::supervisor::Supervisor;

const CONNECTIONS: usize = 10_000;
const ENVIRONMENTS: usize = 500;
const FOLDERS: usize = 60;
const TAGS: usize = 30;
const TARGET: Duration = Duration::from_millis(20);
const MASTER: &str = "bench-master-password";

fn rounds() -> usize {
    if std::env::var_os("ORES_BENCH_QUICK").is_some() {
        5
    } else {
        15
    }
}

struct Stats {
    median: Duration,
    p90: Duration,
    max: Duration,
}

fn stats(mut samples: Vec<Duration>) -> Stats {
    samples.sort();
    Stats {
        median: percentile(&samples, 0.5),
        p90: percentile(&samples, 0.9),
        max: percentile(&samples, 1.0),
    }
}

fn report(name: &str, samples: Vec<Duration>, judged: bool) -> Stats {
    let s = stats(samples);
    let verdict = if !judged {
        "(for scale, not judged)".to_owned()
    } else if s.median <= TARGET {
        format!("≤ {} ms: met", TARGET.as_millis())
    } else {
        format!("≤ {} ms: NOT met", TARGET.as_millis())
    };
    println!(
        "  {name:<34} median {:>7.2} ms  p90 {:>7.2} ms  max {:>7.2} ms  {verdict}",
        millis(s.median),
        millis(s.p90),
        millis(s.max)
    );
    s
}

fn time<T>(f: impl FnOnce() -> T) -> (Duration, T) {
    let start = Instant::now();
    let out = f();
    (start.elapsed(), out)
}

/// Fills the store; returns the vault key sealing the passwords.
fn fill(store: &mut Store) -> VaultKey {
    let key = VaultKey::generate().unwrap();
    let wrapped = vault::wrap(&key, &Secret::from(MASTER), KdfParams::POLICY).unwrap();
    store
        .set_vault(&Vault {
            wrapped: wrapped.to_bytes(),
            params: "argon2id policy".into(),
        })
        .unwrap();
    store
        .transaction(|s| {
            let mut folders: Vec<FolderId> = Vec::new();
            for i in 0..FOLDERS {
                // Three levels: 6 top folders, each with 3 children, each with children.
                let parent = match i {
                    0..6 => None,
                    6..24 => Some(folders[(i - 6) / 3]),
                    _ => Some(folders[6 + (i - 24) % 18]),
                };
                folders.push(s.create_folder(&format!("folder-{i:02}"), parent, "")?);
            }
            let tag = |i: usize| format!("tag-{:02}", i % TAGS);
            let mut envs = Vec::new();
            for i in 0..ENVIRONMENTS {
                envs.push(s.create_environment(&EnvironmentSpec {
                    name: format!("env-{i:03}"),
                    folder_id: Some(folders[i % FOLDERS]),
                    host: format!(
                        "nats-{i:03}.{}.example.com",
                        ["emea", "apac", "amer"][i % 3]
                    ),
                    port: 4222,
                    subject_prefix: format!("ores.env{i}"),
                    tags: vec![tag(i)],
                    ..Default::default()
                })?);
            }
            for i in 0..CONNECTIONS {
                let linked = i % 10 != 0;
                let id = s.create_connection(&ConnectionSpec {
                    name: format!("conn-{i:05}-{}", ["prod", "uat", "dev", "qa"][i % 4]),
                    folder_id: Some(folders[i % FOLDERS]),
                    environment_id: linked.then(|| envs[i % ENVIRONMENTS]),
                    host: (!linked).then(|| format!("host-{i:05}.example.net")),
                    port: (!linked).then_some(4222),
                    username: format!("user{}", i % 97),
                    description: "a benchmark bookmark".into(),
                    tags: vec![tag(i), tag(i * 7 + 3)],
                    ..Default::default()
                })?;
                let sealed =
                    actor::seal_password(&key, id, &Secret::from(format!("pw-{i}"))).unwrap();
                s.set_connection_password(id, Some(&sealed))?;
            }
            Ok::<_, StoreError>(())
        })
        .unwrap();
    key
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let rounds = rounds();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("connections.db");
    let mut store = Store::open(&path).unwrap();
    let (filled_in, key) = time(|| fill(&mut store));
    let size: u64 = ["", "-wal"]
        .iter()
        .map(|suffix| {
            let mut p = path.clone().into_os_string();
            p.push(suffix);
            std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
        })
        .sum();
    println!(
        "bookmark store: {CONNECTIONS} connections (sealed passwords), {ENVIRONMENTS} environments, \
         {FOLDERS} folders, {TAGS} tags; filled in {:.0} ms; file and WAL {:.1} MiB; {rounds} rounds",
        millis(filled_in),
        size as f64 / (1024.0 * 1024.0)
    );

    // ------------------------------------------------------------- store calls
    println!("\nstore calls (no key, nothing decrypted):");
    let queries: [(&str, &str, usize); 4] = [
        ("search by name `prod`", "prod", 2_500),
        ("search by host `emea`", "emea", 0),
        ("search by tag `tag-07`", "tag-07", 0),
        ("search, no match", "zzz-nothing", 0),
    ];
    let mut judged = Vec::new();
    let mut list = Vec::new();
    for _ in 0..=rounds {
        let (d, all) = time(|| store.connections().unwrap());
        assert_eq!(all.len(), CONNECTIONS);
        list.push(d);
    }
    list.remove(0);
    judged.push(report("list all connections", list, true));
    for (name, query, at_least) in queries {
        let mut samples = Vec::new();
        for _ in 0..=rounds {
            let (d, found) = time(|| store.search(query).unwrap());
            assert!(found.connections.len() >= at_least, "{name}");
            samples.push(d);
        }
        samples.remove(0);
        judged.push(report(name, samples, true));
    }
    let mut tree = Vec::new();
    for _ in 0..=rounds {
        tree.push(time(|| store.tree().unwrap()).0);
    }
    tree.remove(0);
    judged.push(report("tree (folders and everything)", tree, true));

    let mut decrypting = Vec::new();
    for _ in 0..=rounds.min(5) {
        decrypting.push(
            time(|| {
                let all = store.connections().unwrap();
                for c in &all {
                    let sealed = c.spec.password_sealed.as_deref().unwrap();
                    actor::open_password(&key, c.id, sealed).unwrap();
                }
            })
            .0,
        );
    }
    decrypting.remove(0);
    report("list, opening every password", decrypting, false);
    drop(store);

    // ------------------------------------------------------- through the actor
    println!("\nthrough the supervised actor (Bookmarks handle; vault locked):");
    let spec = actor::child_spec_with(BookmarkConfig::new(&path));
    let bookmarks = Bookmarks::new(spec.handle());
    let sup = Supervisor::builder("bench")
        .child(spec)
        .spawn()
        .await
        .unwrap();
    let mut list = Vec::new();
    let mut search = Vec::new();
    for _ in 0..=rounds {
        let start = Instant::now();
        assert_eq!(bookmarks.connections().await.unwrap().len(), CONNECTIONS);
        list.push(start.elapsed());
        let start = Instant::now();
        assert!(bookmarks.search("prod").await.unwrap().connections.len() >= 2_500);
        search.push(start.elapsed());
    }
    list.remove(0);
    search.remove(0);
    judged.push(report("list all connections", list, true));
    judged.push(report("search by name `prod`", search, true));

    // ----------------------------------------------------------------- unlock
    println!("\nunlock (key derivation + the wrapped key's tag):");
    let wrapped = WrappedKey::from_bytes(
        &Store::open(&path)
            .unwrap()
            .get_vault()
            .unwrap()
            .unwrap()
            .wrapped,
    )
    .unwrap();
    let unlock_rounds = rounds.min(9);
    let mut unlock = Vec::new();
    let mut wrong = Vec::new();
    let mut ore = Vec::new();
    for _ in 0..=unlock_rounds {
        unlock.push(
            time(|| vault::unlock(&wrapped, &Secret::from(MASTER), KdfParams::POLICY).unwrap()).0,
        );
        wrong.push(
            time(|| {
                assert!(vault::unlock(&wrapped, &Secret::from("wrong"), KdfParams::POLICY).is_err())
            })
            .0,
        );
        ore.push(
            time(|| {
                let mut out = [0u8; 32];
                pbkdf2::pbkdf2_hmac_with_params(
                    MASTER.as_bytes(),
                    b"0123456789abcdef",
                    pbkdf2::Algorithm::Pbkdf2Sha256,
                    pbkdf2::Params::recommended_for(pbkdf2::Algorithm::Pbkdf2Sha256),
                    &mut out,
                );
                out
            })
            .0,
        );
    }
    unlock.remove(0);
    wrong.remove(0);
    ore.remove(0);
    let p = KdfParams::POLICY;
    let u = report(
        &format!(
            "unlock, Argon2id m={} KiB t={} p={}",
            p.memory_kib, p.iterations, p.parallelism
        ),
        unlock,
        false,
    );
    report("unlock, wrong password", wrong, false);
    let o = report("ORE check: PBKDF2-SHA256 600k", ore, false);
    println!(
        "  unlock / ORE check: {:.2}",
        u.median.as_secs_f64() / o.median.as_secs_f64()
    );

    sup.shutdown(Duration::from_secs(5)).await.ok();
    let worst = judged.iter().map(|s| s.median).max().unwrap_or_default();
    println!(
        "\nverdict: list/search 10 k without decrypting, worst median {:.2} ms: {}",
        millis(worst),
        if worst <= TARGET { "met" } else { "NOT met" }
    );
}
