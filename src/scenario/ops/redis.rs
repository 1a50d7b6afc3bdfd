//! Redis operations. `redis_get` is a plain GET of keys written before the run: the
//! baseline against which the caching strategy (issue 5) and the harness itself
//! (`scripts/bench-harness` vs `redis-benchmark -t get`) are measured.
//!
//! Each configured Redis connection is a separate TCP connection; a worker always uses the
//! same one, so with as many workers as connections there is no pipelining, as with
//! `redis-benchmark -P 1`.

use anyhow::{Context, Result};
use rand::rngs::SmallRng;
use rand::Rng;
use redis::aio::MultiplexedConnection;

use super::{OpError, OpKind, Outcome};
use crate::scenario::spec::OpSpec;

pub const REDIS_GET: &str = "GET :prefix:n";

/// Opens `n` separate connections (no response timeout: the run's own timeout applies).
pub async fn connections(url: &str, n: u32) -> Result<Vec<MultiplexedConnection>> {
    let client = redis::Client::open(url)?;
    let config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(std::time::Duration::from_secs(5));
    let mut out = Vec::with_capacity(n as usize);
    for _ in 0..n.max(1) {
        out.push(
            client
                .get_multiplexed_async_connection_with_config(&config)
                .await?,
        );
    }
    Ok(out)
}

/// Writes the keys `redis_get` reads: `<prefix>0` .. `<prefix>{keyspace-1}`.
pub async fn prepare(spec: &OpSpec, conn: &mut MultiplexedConnection) -> Result<()> {
    let prefix = spec.text("prefix");
    let keyspace = spec.int("keyspace").max(1) as u64;
    let value = vec![b'x'; spec.int("value_size").max(1) as usize];
    let mut start = 0u64;
    while start < keyspace {
        let end = (start + 1000).min(keyspace);
        let mut pipe = redis::pipe();
        for n in start..end {
            pipe.cmd("SET")
                .arg(format!("{prefix}{n}"))
                .arg(&value)
                .ignore();
        }
        pipe.query_async::<()>(conn)
            .await
            .with_context(|| format!("writing the {keyspace} keys of redis_get ({prefix}*)"))?;
        start = end;
    }
    Ok(())
}

pub fn redis_error(e: redis::RedisError) -> OpError {
    let kind = if e.is_timeout() {
        "timeout".to_string()
    } else if e.is_io_error() || e.is_connection_dropped() {
        "io".to_string()
    } else {
        format!("redis:{:?}", e.kind())
    };
    OpError::new(kind, e.to_string())
}

pub async fn execute(
    kind: OpKind,
    spec: &OpSpec,
    conn: &mut MultiplexedConnection,
    rng: &mut SmallRng,
) -> Result<Outcome, OpError> {
    match kind {
        OpKind::RedisGet => {
            let n = rng.gen_range(0..spec.int("keyspace").max(1));
            let key = format!("{}{n}", spec.text("prefix"));
            let v: Option<Vec<u8>> = redis::cmd("GET")
                .arg(key)
                .query_async(conn)
                .await
                .map_err(redis_error)?;
            Ok(Outcome::rows(v.is_some() as u64))
        }
        other => Err(OpError::new(
            "setup",
            format!("{other:?} is not a Redis operation"),
        )),
    }
}
