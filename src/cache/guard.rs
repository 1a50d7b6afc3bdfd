//! Guarded fills: the fix for cache-aside's late-fill race, opt-in (`guard_fills = true`)
//! so that `cache-aside` stays exactly as documented.
//!
//! The race: a miss reads the old rows, a write commits and deletes the key, then the
//! miss's `SET` puts the old schedule back until the TTL (the invalidation scenario measures
//! it). Write-through has the same race between two writers' rewrites.
//!
//! The guard: each key has a generation counter (`{prefix}gen:doctor:…`). An invalidation
//! increments it and deletes the key in one script; a read fetches the value and the
//! generation in one `MGET`; a fill is a script that sets the value only if the generation
//! is still the one the reader saw. A fill whose data may predate a write therefore never
//! lands: the write's increment happens after its commit, so a reader that saw the old
//! generation may have read old rows and is refused, and a reader that saw the new one read
//! after the commit. Same round trips as unguarded (MGET for GET, one script for SET / DEL).
//! Generations live for [`GEN_TTL`]; a fill spanning an expiry and a re-increment to the same
//! number could slip through, which a one-day lifetime makes negligible.

use anyhow::{Context, Result};
use chrono::NaiveDate;
use redis::AsyncCommands;
use uuid::Uuid;

use super::keys::gen_key;
use super::ScheduleCache;

/// How long a generation counter outlives its last increment.
pub const GEN_TTL_MS: u64 = 24 * 3600 * 1000;

/// `SET` the value only if the generation is still the observed one ("0" when absent).
const FILL_LUA: &str = "local g = redis.call('GET', KEYS[2]) \
    if (g or '0') == ARGV[1] then \
      redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) return 1 \
    end return 0";

/// Increment the generation and (ARGV[2] = "1") delete the value; returns the new generation.
const INVALIDATE_LUA: &str = "local g = redis.call('INCR', KEYS[2]) \
    redis.call('PEXPIRE', KEYS[2], ARGV[1]) \
    if ARGV[2] == '1' then redis.call('DEL', KEYS[1]) end return g";

/// The generation a read observed (`None` when fills are not guarded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generation(pub Option<String>);

impl ScheduleCache {
    /// Step one of a read: the cached value, and (guarded) the key's generation, in one
    /// round trip. Public, with [`ScheduleCache::fill`], so a test can interleave a write
    /// between a miss's lookup and its fill.
    pub async fn lookup(
        &self,
        doctor_id: Uuid,
        date: NaiveDate,
    ) -> Result<(Option<String>, Generation)> {
        let key = self.key(doctor_id, date);
        if !self.config.guard_fills {
            return Ok((self.redis_get(&key).await?, Generation(None)));
        }
        let gen = gen_key(&self.config.key_prefix, doctor_id, date);
        let mut conn = self.redis.clone();
        let (value, g): (Option<String>, Option<String>) = redis::cmd("MGET")
            .arg(&key)
            .arg(&gen)
            .query_async(&mut conn)
            .await
            .with_context(|| format!("Redis MGET {key} {gen}"))?;
        Ok((value, Generation(Some(g.unwrap_or_else(|| "0".into())))))
    }

    /// Step two of a miss: store the schedule with the TTL; guarded, only if the generation
    /// is still `seen`. Returns whether the value was stored.
    pub async fn fill(
        &self,
        doctor_id: Uuid,
        date: NaiveDate,
        seen: &Generation,
        schedule: &str,
    ) -> Result<bool> {
        let key = self.key(doctor_id, date);
        let Generation(Some(seen)) = seen else {
            self.redis_set(&key, schedule).await?;
            return Ok(true);
        };
        let gen = gen_key(&self.config.key_prefix, doctor_id, date);
        let mut conn = self.redis.clone();
        let stored: i64 = redis::Script::new(FILL_LUA)
            .key(&key)
            .key(&gen)
            .arg(seen)
            .arg(schedule)
            .arg(self.config.ttl.as_millis().max(1) as u64)
            .invoke_async(&mut conn)
            .await
            .with_context(|| format!("Redis guarded SET {key}"))?;
        if stored == 0 {
            self.counters
                .refused_fills
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(stored == 1)
    }

    /// After a write: `DEL` the day's key (`delete`; write-through rewrites it instead);
    /// guarded, also increment its generation in the same script and return the new one,
    /// which the write-through rewrite is conditional on.
    pub(super) async fn invalidate(
        &self,
        doctor_id: Uuid,
        date: NaiveDate,
        delete: bool,
    ) -> Result<Generation> {
        let key = self.key(doctor_id, date);
        let mut conn = self.redis.clone();
        if !self.config.guard_fills {
            if !delete {
                return Ok(Generation(None));
            }
            let _: i64 = conn
                .del(&key)
                .await
                .with_context(|| format!("Redis DEL {key}"))?;
            return Ok(Generation(None));
        }
        let gen = gen_key(&self.config.key_prefix, doctor_id, date);
        let g: i64 = redis::Script::new(INVALIDATE_LUA)
            .key(&key)
            .key(&gen)
            .arg(GEN_TTL_MS)
            .arg(if delete { "1" } else { "0" })
            .invoke_async(&mut conn)
            .await
            .with_context(|| format!("Redis guarded DEL {key}"))?;
        Ok(Generation(Some(g.to_string())))
    }
}
