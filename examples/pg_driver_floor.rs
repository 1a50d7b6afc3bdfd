//! The PostgreSQL driver alone, without clinicload's harness: N tasks on the default tokio
//! runtime, each with its own sqlx connection, running the primary-key lookup of
//! `scripts/bench-harness` in a loop. It separates the harness's overhead (clinicload vs this
//! loop) from the driver's (this loop vs `pgbench -M prepared`).
//!
//! Usage: `pg_driver_floor URL CONNECTIONS SECONDS ROWS`; prints the operations per second
//! of the measured seconds (after one second of warm-up).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use sqlx::{Connection, PgConnection};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, url, connections, seconds, rows] = args.as_slice() else {
        return Err("usage: pg_driver_floor URL CONNECTIONS SECONDS ROWS".into());
    };
    let (connections, seconds, rows): (usize, u64, i32) =
        (connections.parse()?, seconds.parse()?, rows.parse()?);
    let count = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for c in 0..connections {
        let mut conn = PgConnection::connect(url).await?;
        let (count, stop) = (count.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut rng = rand::rngs::SmallRng::seed_from_u64(c as u64);
            while !stop.load(Ordering::Relaxed) {
                let id: i32 = rng.gen_range(1..=rows);
                sqlx::query("SELECT id, payload FROM clinicload_bench_kv WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&mut conn)
                    .await?
                    .ok_or("row missing: run scripts/bench-harness to create the table")?;
                count.fetch_add(1, Ordering::Relaxed);
            }
            Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
        }));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = count.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let measured = count.load(Ordering::Relaxed) - before;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await?.map_err(|e| e.to_string())?;
    }
    println!("{:.0}", measured as f64 / seconds as f64);
    Ok(())
}
