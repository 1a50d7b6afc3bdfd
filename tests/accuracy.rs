//! Accuracy shown, not claimed: Redis is paused (`CLIENT PAUSE 400 ALL`) for a known
//! interval in the middle of a run. The open model, measuring from intended starts, must
//! show the pause in its tail (every arrival during the pause waited); the closed model
//! shows how a tool that measures from actual starts hides it (only the few requests in
//! flight saw it). The README's open/closed explanation quotes this test.
mod common;

use std::time::{Duration, Instant};

use clinicload::run::{run_scenario, RunOptions};
use clinicload::scenario::spec::Overrides;

const PAUSE_MS: u64 = 400;

async fn run_with_pause(
    label: &str,
    load: &str,
    pause_after: Duration,
) -> clinicload::report::Summary {
    let targets = common::base_targets();
    let dir = std::env::temp_dir().join(format!(
        "clinicload-accuracy-{label}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("{label}.toml"));
    std::fs::write(
        &file,
        format!(
            "name = \"accuracy-{label}\"\nduration = \"4s\"\nwarmup = \"500ms\"\n[load]\n{load}\n\
             connections = {{ redis = 2 }}\n[[op]]\nname = \"redis_get\"\nkeyspace = 100\n\
             prefix = \"clinicload:test:accuracy:\"\n"
        ),
    )
    .unwrap();
    let pauser = {
        let targets = targets.clone();
        tokio::spawn(async move {
            tokio::time::sleep(pause_after).await;
            // A separate connection, as an operator's redis-cli would be.
            let mut conn = clinicload::connect::redis(&targets).await.unwrap();
            let at = Instant::now();
            let _: () = redis::cmd("CLIENT")
                .arg("PAUSE")
                .arg(PAUSE_MS)
                .arg("ALL")
                .query_async(&mut conn)
                .await
                .unwrap();
            at
        })
    };
    let opts = RunOptions {
        overrides: Overrides::default(),
        out: dir.join("reports"),
        quiet: true,
        verbose: false,
        ..RunOptions::default()
    };
    let result = run_scenario(&targets, &file, &opts).await.unwrap();
    pauser.await.unwrap();
    common::assert_accounted_summary(&result.summary);
    let _ = std::fs::remove_dir_all(&dir);
    result.summary
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_model_shows_a_redis_pause_in_the_tail_closed_model_hides_it() {
    // Open model: 500 arrivals/s for 4 s = ~2000; the 400 ms pause holds up ~200 of them
    // (10%), waiting from 400 ms down to ~0. So p99 must be near 360 ms, p95 near 200 ms.
    let open = run_with_pause(
        "open",
        "model = \"open\"\nrate = 500",
        Duration::from_millis(2000),
    )
    .await;
    let op = &open.operations[0];
    let s = op.stats;
    eprintln!(
        "open: count {} p50 {} p90 {} p95 {} p99 {} max {} (us)",
        s.count, s.p50_us, s.p90_us, s.p95_us, s.p99_us, s.max_us
    );
    assert_eq!(op.errors, 0, "{:?}", op.errors_by_kind);
    assert!(s.count > 1500, "{} ops", s.count);
    assert!(
        s.max_us >= (PAUSE_MS - 50) * 1000,
        "max {} us does not show the {PAUSE_MS} ms pause",
        s.max_us
    );
    assert!(
        s.p99_us >= 250_000,
        "p99 {} us: the pause is missing from the tail",
        s.p99_us
    );
    assert!(
        s.p95_us >= 100_000,
        "p95 {} us: arrivals during the pause were not all counted",
        s.p95_us
    );
    assert!(
        s.p50_us < 50_000,
        "p50 {} us: unpaused operations should be fast",
        s.p50_us
    );
    assert!(s.p99_us > 10 * s.p50_us);

    // Closed model, 2 users with 2 ms think time: only the two requests in flight see the
    // pause, so the tail below max barely moves. This is coordinated omission.
    let closed = run_with_pause(
        "closed",
        "model = \"closed\"\nusers = 2\nthink_time = \"2ms\"",
        Duration::from_millis(2000),
    )
    .await;
    let c = closed.operations[0].stats;
    eprintln!(
        "closed: count {} p50 {} p90 {} p95 {} p99 {} max {} (us)",
        c.count, c.p50_us, c.p90_us, c.p95_us, c.p99_us, c.max_us
    );
    assert!(
        c.max_us >= (PAUSE_MS - 50) * 1000,
        "closed max {} us",
        c.max_us
    );
    assert!(
        c.p99_us * 5 < s.p99_us,
        "closed p99 {} us vs open p99 {} us",
        c.p99_us,
        s.p99_us
    );
}
