//! One live clinicload per dataset. A run, seed, restore or checksum first undoes whatever a
//! killed clinicload left (its undo record, its index changes): that is only right when the
//! process that left it is dead. Without a way to tell, a second `clinicload run` started
//! while a first was measuring put back the index the first one's variant had dropped and
//! undid its writes mid-run, and the first run's verdict silently measured the wrong schema.
//!
//! The lock is a PostgreSQL session advisory lock in the dataset's database, held on a
//! connection of its own for as long as the command works on the dataset. The server releases
//! it when that connection ends, however the process ends (kill -9 and a lost host included),
//! so a pending record with no lock holder is always a dead process's leftover, and a second
//! command is refused with the holder's name instead of undoing a live run's work. `explain`
//! takes it too: beside a live run it would plan a variant's schema, and its index checks
//! lock tables under the run's queries. Distributed workers and seed shards of one job hold
//! it shared: they work side by side by design (their undo records are fellows', see
//! [`super::record`]) and exclude everyone else.
//!
//! A gate or a rate or connections sweep holds its datasets for all its runs ([`take_for_runs`]), so no other
//! command slips in between two of them; the runs inside it find the lock theirs already.

use std::collections::BTreeMap;
use std::sync::Mutex;

use anyhow::{bail, Context, Result};
use sqlx::postgres::PgConnection;
use sqlx::Connection;

use crate::config::{redact, Targets};

/// The advisory locks' first key, "clin"; the second is [`DATASET`] or a [`Job`]'s.
const NAMESPACE: i32 = 0x636c_696e;
/// The dataset lock itself: exclusive, or shared by the processes of one job.
const DATASET: i32 = 1;

/// How the lock is held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    /// The only clinicload on the dataset.
    Exclusive,
    /// One of the processes of a job that work side by side by design.
    Shared(Job),
}

/// The jobs whose processes share a dataset. Processes of different jobs do not: a seed
/// shard starting would undo a distributed run's pending writes as a dead run's leftovers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    /// The workers of a distributed run (`run --worker`).
    RunWorkers,
    /// The shards of a sharded seed (`seed --shards`).
    SeedShards,
}

impl Job {
    const ALL: [Job; 2] = [Job::RunWorkers, Job::SeedShards];

    /// Its lock's second key, held shared by each of its processes.
    fn key(self) -> i32 {
        match self {
            Job::RunWorkers => 2,
            Job::SeedShards => 3,
        }
    }
}

/// Datasets (by URL) that a command of this process holds for all its runs: a run inside it
/// finds the lock already held for it.
static HELD_FOR_RUNS: Mutex<BTreeMap<String, usize>> = Mutex::new(BTreeMap::new());

/// The held lock; dropping it (or [`DatasetLock::release`]) ends its connection and so frees it.
pub struct DatasetLock {
    conn: Option<PgConnection>,
    /// Registered in [`HELD_FOR_RUNS`] under this URL.
    for_runs: Option<String>,
}

impl DatasetLock {
    /// Frees the lock now, closing its connection politely.
    pub async fn release(mut self) {
        if let Some(conn) = self.conn.take() {
            let _ = conn.close().await;
        }
    }
}

impl Drop for DatasetLock {
    fn drop(&mut self) {
        if let Some(url) = self.for_runs.take() {
            let mut held = HELD_FOR_RUNS.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(n) = held.get_mut(&url) {
                *n -= 1;
                if *n == 0 {
                    held.remove(&url);
                }
            }
        }
    }
}

/// Takes the dataset lock for a command that runs several runs on it (a gate, a sweep), and
/// lends it to those runs: their own [`take`] succeeds without a second lock.
pub async fn take_for_runs(targets: &Targets, hold: Hold, what: &str) -> Result<DatasetLock> {
    let mut lock = take(targets, hold, what).await?;
    let url = targets.database_url.clone();
    *HELD_FOR_RUNS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry(url.clone())
        .or_insert(0) += 1;
    lock.for_runs = Some(url);
    Ok(lock)
}

async fn try_lock(conn: &mut PgConnection, shared: bool, key: i32) -> Result<bool> {
    let function = if shared {
        "pg_try_advisory_lock_shared"
    } else {
        "pg_try_advisory_lock"
    };
    sqlx::query_scalar(&format!("SELECT {function}($1, $2)"))
        .bind(NAMESPACE)
        .bind(key)
        .fetch_one(conn)
        .await
        .context("taking the dataset lock (a PostgreSQL advisory lock)")
}

/// Takes the dataset lock for `what` (e.g. "run smoke"), or fails naming who holds it.
pub async fn take(targets: &Targets, hold: Hold, what: &str) -> Result<DatasetLock> {
    if HELD_FOR_RUNS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .contains_key(&targets.database_url)
    {
        // A gate or sweep of this process holds it for its runs.
        return Ok(DatasetLock {
            conn: None,
            for_runs: None,
        });
    }
    let pool = crate::connect::postgres(targets, 1).await?;
    let mut conn = pool
        .acquire()
        .await
        .context("opening the dataset lock's connection")?
        .detach();
    pool.close().await;
    // The holder's name is what a refused command shows: what runs, and which process.
    let name = format!("clinicload {what} (pid {})", std::process::id());
    sqlx::query("SELECT set_config('application_name', $1, false)")
        .bind(truncate(&name, 63))
        .execute(&mut conn)
        .await
        .context("naming the dataset lock's connection")?;
    let conflict = match hold {
        Hold::Exclusive => (!try_lock(&mut conn, false, DATASET).await?).then_some(DATASET),
        Hold::Shared(job) => {
            if !try_lock(&mut conn, true, DATASET).await? {
                Some(DATASET)
            } else {
                // Its job's key first, then look for another job's holders (reading
                // pg_locks, not probing with a lock: two processes of one job probing at
                // once would refuse each other). Of two jobs starting at once, both may be
                // refused, never both admitted.
                try_lock(&mut conn, true, job.key()).await?;
                let mut conflict = None;
                for other in Job::ALL.into_iter().filter(|&j| j != job) {
                    if !holders(&mut conn, other.key()).await?.is_empty() {
                        conflict = Some(other.key());
                        break;
                    }
                }
                conflict
            }
        }
    };
    let Some(key) = conflict else {
        return Ok(DatasetLock {
            conn: Some(conn),
            for_runs: None,
        });
    };
    let holders = holders(&mut conn, key).await.unwrap_or_default();
    let _ = conn.close().await;
    let who = if holders.is_empty() {
        "another clinicload (it ended just now: try again)".to_string()
    } else {
        holders.join("; ")
    };
    bail!(
        "the dataset at {} is in use by {who}. Two clinicload commands on one dataset would undo \
         each other's writes and index changes mid-run; wait for it to finish, or stop it \
         (Ctrl-C or SIGTERM: it puts the dataset back before it exits), then try again",
        redact(&targets.database_url)
    )
}

/// Who holds the lock `key`: each holder's name, client and since when.
async fn holders(conn: &mut PgConnection, key: i32) -> Result<Vec<String>> {
    let rows: Vec<(String, Option<String>, String)> = sqlx::query_as(
        "SELECT a.application_name, host(a.client_addr), \
                to_char(a.backend_start AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || ' UTC' \
         FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
         WHERE l.locktype = 'advisory' AND l.granted AND l.database = \
               (SELECT oid FROM pg_database WHERE datname = current_database()) \
           AND l.classid::int = $1 AND l.objid::int = $2 AND l.objsubid = 2 \
           AND a.pid <> pg_backend_pid() \
         ORDER BY a.backend_start",
    )
    .bind(NAMESPACE)
    .bind(key)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(name, host, since)| {
            let name = if name.is_empty() {
                "a session without a name".to_string()
            } else {
                format!("'{name}'")
            };
            match host {
                Some(h) => format!("{name} from {h}, since {since}"),
                None => format!("{name} (local socket), since {since}"),
            }
        })
        .collect())
}

/// At most `max` bytes of `s`, cut at a character boundary (application_name keeps 63).
fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_cut_at_a_character_boundary() {
        assert_eq!(truncate("abc", 63), "abc");
        let long = "é".repeat(40);
        let cut = truncate(&long, 63);
        assert!(cut.len() <= 63 && cut.chars().all(|c| c == 'é'));
    }
}
