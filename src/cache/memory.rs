//! What the cached schedules cost in Redis: `MEMORY USAGE` of the schedule keys (found with
//! `SCAN MATCH` under the run's prefix), averaged, and extrapolated to the dataset's scale
//! (every doctor's every scheduled day cached at once, the worst case of a one-hour TTL
//! during a busy hour). `INFO memory`'s `used_memory` is reported alongside as the server
//! total, which includes everything else on that Redis.

use anyhow::{Context, Result};
use redis::aio::ConnectionManager;
use serde::Serialize;

use super::keys::{scan_page, schedule_pattern};

/// Keys measured per sample at most; the rest are counted but not measured.
pub const DEFAULT_MAX_SAMPLES: usize = 1000;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MemoryEstimate {
    /// Schedule keys found under the prefix.
    pub keys_found: u64,
    /// Keys whose `MEMORY USAGE` was read (still present when asked).
    pub keys_sampled: u64,
    pub sampled_bytes: u64,
    pub mean_bytes_per_key: f64,
    /// Mean length of the cached JSON values (`STRLEN`), to tell payload from overhead.
    pub mean_value_bytes: f64,
    /// `used_memory` from `INFO memory`: the whole server.
    pub server_used_memory: Option<u64>,
}

impl MemoryEstimate {
    /// Bytes if `doctors × days` schedules were cached at once at the sampled mean size.
    pub fn extrapolate(&self, doctors: u64, days: u64) -> u64 {
        (self.mean_bytes_per_key * doctors as f64 * days as f64).round() as u64
    }
}

/// Samples up to `max_samples` schedule keys under `prefix`.
pub async fn sample_memory(
    redis: &ConnectionManager,
    prefix: &str,
    max_samples: usize,
) -> Result<MemoryEstimate> {
    let mut conn = redis.clone();
    let pattern = schedule_pattern(prefix);
    let mut cursor: u64 = 0;
    let mut keys_found = 0u64;
    let mut sample: Vec<String> = Vec::new();
    loop {
        let (next, keys) = scan_page(&mut conn, cursor, &pattern).await?;
        keys_found += keys.len() as u64;
        let room = max_samples.saturating_sub(sample.len());
        sample.extend(keys.into_iter().take(room));
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    let (mut sampled, mut bytes, mut value_bytes) = (0u64, 0u64, 0u64);
    for chunk in sample.chunks(100) {
        let mut pipe = redis::pipe();
        for key in chunk {
            pipe.cmd("MEMORY")
                .arg("USAGE")
                .arg(key)
                .arg("SAMPLES")
                .arg(0);
            pipe.cmd("STRLEN").arg(key);
        }
        let answers: Vec<Option<u64>> = pipe
            .query_async(&mut conn)
            .await
            .context("Redis MEMORY USAGE (is the MEMORY command allowed on this server?)")?;
        for pair in answers.chunks(2) {
            if let [Some(usage), Some(len)] = pair {
                sampled += 1;
                bytes += usage;
                value_bytes += len;
            }
        }
    }
    let info: String = redis::cmd("INFO")
        .arg("memory")
        .query_async(&mut conn)
        .await
        .context("Redis INFO memory")?;
    let server_used_memory = info
        .lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok());
    let mean = |total: u64| {
        if sampled == 0 {
            0.0
        } else {
            total as f64 / sampled as f64
        }
    };
    Ok(MemoryEstimate {
        keys_found,
        keys_sampled: sampled,
        sampled_bytes: bytes,
        mean_bytes_per_key: mean(bytes),
        mean_value_bytes: mean(value_bytes),
        server_used_memory,
    })
}
