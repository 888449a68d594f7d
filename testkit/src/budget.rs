//! The connection budget: shared by every test of a run, across test processes too (as under
//! cargo-nextest, one process per test), so that hundreds of tests in parallel wait for a
//! free slot instead of exhausting the server's `max_connections`.
//!
//! The budget is a directory of lock files, one per slot; a test holds one slot (an exclusive
//! `flock` on its file) for its whole life and may open up to `per_slot` connections. The
//! operating system releases the lock when the process dies, so a crashed test never leaks
//! its slot.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::PathBuf;
use std::time::Duration;

use crate::KitError;

/// How many connections the tests of a run may hold at once, in all (default 64; set
/// `ORES_TEST_MAX_CONNECTIONS` to fit your server's `max_connections`).
pub const DEFAULT_MAX_CONNECTIONS: u32 = 64;

/// A held slot; dropping it frees the slot.
#[derive(Debug)]
pub(crate) struct Slot {
    _file: File,
    index: usize,
}

impl Slot {
    /// The slot's number.
    pub(crate) fn index(&self) -> usize {
        self.index
    }
}

/// The budget of one database.
#[derive(Debug, Clone)]
pub(crate) struct Budget {
    dir: PathBuf,
    slots: usize,
    per_slot: u32,
}

impl Budget {
    /// The budget for `database_url`: `max_connections / per_slot` slots (at least one).
    pub(crate) fn new(database_url: &str, max_connections: u32, per_slot: u32) -> Self {
        let per_slot = per_slot.max(1);
        let slots = (max_connections / per_slot).max(1) as usize;
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        // Processes with another budget use other lock files rather than miscount these.
        let key = format!("{database_url}#{slots}x{per_slot}");
        for b in key.bytes() {
            hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        let dir = std::env::temp_dir().join(format!("ores-testkit-budget-{hash:016x}"));
        Self {
            dir,
            slots,
            per_slot,
        }
    }

    pub(crate) fn per_slot(&self) -> u32 {
        self.per_slot
    }

    /// Take a free slot, waiting (polling with a growing pause, at most 50 ms) for at most
    /// `wait`.
    pub(crate) async fn acquire(&self, wait: Duration) -> Result<Slot, KitError> {
        let files_err = |source| KitError::BudgetFiles {
            dir: self.dir.display().to_string(),
            source,
        };
        std::fs::create_dir_all(&self.dir).map_err(files_err)?;
        let deadline = tokio::time::Instant::now() + wait;
        // Start at a different slot in each process and test, to spread the contention.
        let start = (std::process::id() as usize).wrapping_add(next_seq()) % self.slots;
        let mut pause = Duration::from_millis(1);
        loop {
            for k in 0..self.slots {
                let index = (start + k) % self.slots;
                let path = self.dir.join(format!("slot-{index}.lock"));
                let file = OpenOptions::new()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .open(&path)
                    .map_err(files_err)?;
                match file.try_lock() {
                    Ok(()) => return Ok(Slot { _file: file, index }),
                    Err(TryLockError::WouldBlock) => {}
                    Err(TryLockError::Error(e)) => return Err(files_err(e)),
                }
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(KitError::Budget {
                    waited: wait,
                    slots: self.slots,
                    per_slot: self.per_slot,
                });
            }
            // Lock files cannot be waited on asynchronously: poll, with a growing pause.
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(50));
        }
    }
}

fn next_seq() -> usize {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static SEQ: AtomicUsize = AtomicUsize::new(0);
    SEQ.fetch_add(1, Ordering::Relaxed)
}
