//! Single-flight fills: when many readers miss the same key at once (a popular doctor's day
//! expiring), one of them queries PostgreSQL and the others wait for its value.
//!
//! Two layers, for two reasons:
//! - a Redis lock (`SET lock:... token NX PX`) makes it correct across processes (several
//!   application servers, or several clinicload workers): only the lock holder queries;
//!   the others poll the schedule key until it appears;
//! - an in-process gate per key (a tokio mutex) keeps the waiters of one process off Redis:
//!   only one task per process contends for the Redis lock and polls; the rest wait on the
//!   gate and then find the value with one GET. Without it, N waiting tasks would each poll
//!   Redis every few milliseconds.
//!
//! A holder that dies leaves the lock to expire after [`LOCK_TTL`]; a waiter that has not
//! seen a value after [`WAIT_LIMIT`] queries the database itself (counted as a lock timeout)
//! rather than fail the read.

use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use chrono::NaiveDate;
use uuid::Uuid;

use super::keys::lock_key;
use super::schedule::fetch_schedule;
use super::{Outcome, ScheduleCache};

/// How long the Redis lock lives if its holder never releases it.
pub const LOCK_TTL: Duration = Duration::from_secs(5);
/// How often a waiter polls the schedule key.
pub const POLL_EVERY: Duration = Duration::from_millis(2);
/// How long a waiter waits before querying the database itself.
pub const WAIT_LIMIT: Duration = Duration::from_secs(10);

/// Deletes the lock only if this holder still owns it (it may have expired and been taken).
const RELEASE_LUA: &str = "if redis.call('GET', KEYS[1]) == ARGV[1] then \
                           return redis.call('DEL', KEYS[1]) else return 0 end";

/// One async mutex per key being filled in this process; entries are removed when unused.
#[derive(Debug, Default)]
pub struct Gates {
    gates: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl Gates {
    fn get(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut gates = self.gates.lock().expect("gates lock");
        gates.entry(key.to_string()).or_default().clone()
    }

    fn release(&self, key: &str, gate: Arc<tokio::sync::Mutex<()>>) {
        let mut gates = self.gates.lock().expect("gates lock");
        // The map's reference and ours: nobody else waits on this gate.
        if Arc::strong_count(&gate) == 2 {
            gates.remove(key);
        }
    }
}

impl ScheduleCache {
    pub(super) async fn single_flight(
        &self,
        doctor_id: Uuid,
        date: NaiveDate,
    ) -> Result<(String, Outcome, u32)> {
        let key = self.key(doctor_id, date);
        let (cached, seen) = self.lookup(doctor_id, date).await?;
        if let Some(cached) = cached {
            return Ok((cached, Outcome::Hit, 0));
        }
        let gate = self.gates.get(&key);
        let result = async {
            let _guard = match gate.try_lock() {
                Ok(guard) => guard,
                Err(_) => {
                    // Another task of this process is filling the key: wait, then look again.
                    let guard = gate.lock().await;
                    if let Some(cached) = self.redis_get(&key).await? {
                        self.counters.coalesced.fetch_add(1, Relaxed);
                        return Ok((cached, Outcome::Miss, 0));
                    }
                    guard
                }
            };
            self.fill_under_redis_lock(doctor_id, date, &key, &seen)
                .await
        }
        .await;
        self.gates.release(&key, gate);
        result
    }

    /// Takes the Redis lock and fills the key, or waits for whoever holds it.
    async fn fill_under_redis_lock(
        &self,
        doctor_id: Uuid,
        date: NaiveDate,
        key: &str,
        seen: &super::Generation,
    ) -> Result<(String, Outcome, u32)> {
        let lock = lock_key(&self.config.key_prefix, doctor_id, date);
        let token = Uuid::new_v4().to_string();
        let started = Instant::now();
        let mut waited = false;
        loop {
            let mut conn = self.redis.clone();
            let acquired: Option<String> = redis::cmd("SET")
                .arg(&lock)
                .arg(&token)
                .arg("NX")
                .arg("PX")
                .arg(LOCK_TTL.as_millis() as u64)
                .query_async(&mut conn)
                .await
                .with_context(|| format!("Redis SET {lock} NX PX"))?;
            if acquired.is_some() {
                // Holding the lock: the key may have been filled between our GET and now.
                if waited {
                    if let Some(cached) = self.redis_get(key).await? {
                        self.release_lock(&lock, &token).await?;
                        self.counters.coalesced.fetch_add(1, Relaxed);
                        return Ok((cached, Outcome::Miss, 0));
                    }
                }
                let filled = async {
                    let schedule = fetch_schedule(&self.pool, doctor_id, date).await?;
                    self.fill(doctor_id, date, seen, &schedule).await?;
                    Ok::<_, anyhow::Error>(schedule)
                }
                .await;
                self.release_lock(&lock, &token).await?;
                return Ok((filled?, Outcome::Miss, 1));
            }
            waited = true;
            tokio::time::sleep(POLL_EVERY).await;
            if let Some(cached) = self.redis_get(key).await? {
                self.counters.coalesced.fetch_add(1, Relaxed);
                return Ok((cached, Outcome::Miss, 0));
            }
            if started.elapsed() > WAIT_LIMIT {
                self.counters.lock_timeouts.fetch_add(1, Relaxed);
                let schedule = fetch_schedule(&self.pool, doctor_id, date).await?;
                return Ok((schedule, Outcome::Miss, 1));
            }
        }
    }

    async fn release_lock(&self, lock: &str, token: &str) -> Result<()> {
        let mut conn = self.redis.clone();
        let _: i64 = redis::Script::new(RELEASE_LUA)
            .key(lock)
            .arg(token)
            .invoke_async(&mut conn)
            .await
            .with_context(|| format!("releasing Redis lock {lock}"))?;
        Ok(())
    }
}
