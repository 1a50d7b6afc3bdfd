//! Synthetic worker run directories for `scripts/bench-merge`: W workers of a distributed run,
//! each with an interval log of S one-second intervals of O operations plus the overall line
//! (about N samples per operation-interval) and its `worker.json`, as `clinicload run --worker`
//! writes them. Values are drawn from a log-normal around 2 ms, per worker and second.
//!
//! Usage: `synth_workers OUT WORKERS SECONDS OPS SAMPLES`.

use std::path::Path;
use std::time::{Duration, SystemTime};

use base64::Engine;
use hdrhistogram::serialization::{Serializer, V2Serializer};
use hdrhistogram::Histogram;
use rand::{Rng, SeedableRng};

/// Operation names a scenario may hold (each once), in the order of the synthetic scenario.
const OPS: [&str; 20] = [
    "appointments_today",
    "pending_tasks",
    "unread_alerts",
    "patient_encounters",
    "patient_prescriptions",
    "patient_orders",
    "pg_pk_lookup",
    "note_by_encounter",
    "patient_notes",
    "doctor_drafts",
    "voice_recording",
    "redis_get",
    "book_appointment",
    "cancel_appointment",
    "check_in",
    "complete_encounter",
    "sign_note",
    "complete_task",
    "doctor_schedule",
    "pg_sleep",
];

fn encode(h: &Histogram<u64>) -> String {
    let mut buf = Vec::new();
    V2Serializer::new().serialize(h, &mut buf).unwrap();
    base64::engine::general_purpose::STANDARD.encode(buf)
}

fn worker(out: &Path, i: usize, n: usize, seconds: u64, ops: usize, samples: usize) {
    let dir = out.join(format!("20261130T120000Z-synth-w{i}of{n}"));
    std::fs::create_dir_all(&dir).unwrap();
    let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_040_000);
    let mut log = clinicload::report::hlog::HlogWriter::create(
        &dir.join("latency.hlog"),
        start,
        &["synthetic worker".to_string()],
    )
    .unwrap();
    let mut rng = rand::rngs::SmallRng::seed_from_u64(i as u64);
    let mut totals: Vec<Histogram<u64>> = (0..ops)
        .map(|_| clinicload::metrics::new_histogram())
        .collect();
    let mut overall_total = clinicload::metrics::new_histogram();
    let mut h = clinicload::metrics::new_histogram();
    let mut overall = clinicload::metrics::new_histogram();
    for s in 0..seconds {
        overall.reset();
        let mut per: Vec<Histogram<u64>> = Vec::with_capacity(ops);
        for total in totals.iter_mut() {
            h.reset();
            for _ in 0..samples {
                let z: f64 = rng.gen::<f64>() + rng.gen::<f64>() + rng.gen::<f64>() - 1.5;
                let v = (2000.0 * (z * 0.8).exp()) as u64 + 1;
                h.record(v).unwrap();
            }
            overall.add(&h).unwrap();
            total.add(&h).unwrap();
            per.push(h.clone());
        }
        let at = Duration::from_secs(s);
        log.write("", &overall, at, Duration::from_secs(1));
        for (op, ph) in per.iter().enumerate() {
            log.write(OPS[op], ph, at, Duration::from_secs(1));
        }
        overall_total.add(&overall).unwrap();
    }
    log.finish().unwrap();
    let scenario: String = std::iter::once(format!(
        "name = \"synth\"\nduration = \"{seconds}s\"\nwarmup = \"0s\"\n\n[load]\nmodel = \"open\"\nrate = {}\n",
        (ops * samples * n) as u64
    ))
    .chain(OPS[..ops].iter().map(|o| {
        let extra = if *o == "pg_sleep" { "ms = 1\n" } else { "" };
        format!("\n[[op]]\nname = \"{o}\"\nweight = 1\n{extra}")
    }))
    .collect();
    let empty = encode(&clinicload::metrics::new_histogram());
    let series: Vec<serde_json::Value> = totals
        .iter()
        .enumerate()
        .map(|(op, t)| {
            serde_json::json!({
                "op": op, "sub": null, "total": encode(t), "all": encode(t), "not_ok": empty,
                "rows": t.len(), "noop": 0, "errors": 0, "timed_out": 0, "missed": 0,
                "abandoned": 0, "unsupported": 0
            })
        })
        .collect();
    let intervals: Vec<serde_json::Value> = (0..seconds)
        .map(|s| {
            serde_json::json!({
                "t": (s + 1) as f64, "seconds": 1.0, "ops": ops * samples, "errors": 0, "noop": 0,
                "p50_us": 2000, "p99_us": 6000, "max_us": 9000,
                "per_op": OPS[..ops].iter().map(|o| (o.to_string(), samples, 6000)).collect::<Vec<_>>()
            })
        })
        .collect();
    let total = overall_total.len();
    let record = serde_json::json!({
        "schema": "clinicload.worker/1",
        "facts": {
            "worker": {"index": i, "count": n},
            "start_at": "2026-11-30T12:00:00+00:00",
            "late_ms": 0.0,
            "clock": {"offset_ms": 0.0, "rtt_ms": 0.2},
            "window_start_ms": 1_796_040_000_000.0 + i as f64,
        },
        "run_id": format!("20261130T120000Z-synth-w{i}of{n}"),
        "scenario_name": "synth",
        "scenario_toml": scenario,
        "duration_s": null, "warmup_s": null, "rate": null, "thresholds": [],
        "complete": true,
        "measured_s": seconds as f64,
        "aborted_by_threshold": null,
        "target_rate": (ops * samples) as f64,
        "intended": total,
        "intended_per_op": totals.iter().map(|t| t.len()).collect::<Vec<_>>(),
        "started": total, "late_starts": 0,
        "start_delay": empty,
        "warmup_ops": 0, "warmup_errors": 0,
        "unsupported": vec![serde_json::Value::Null; ops],
        "grace_s": 0.0,
        "generator": {"workers": 8, "dispatch_lag_p90_us": 50, "dispatch_lag_p99_us": 90,
            "dispatch_lag_max_us": 400, "max_queue": 0, "mean_in_flight": 1.0,
            "max_in_flight": 4, "cpu_s": 1.0, "wall_s": seconds as f64, "cores": 2},
        "intervals": intervals,
        "series": series,
        "overall": encode(&overall_total),
        "overall_all": encode(&overall_total),
        "errors": [],
        "dataset": null,
        "servers": {},
    });
    std::fs::write(
        dir.join("worker.json"),
        serde_json::to_vec(&record).unwrap(),
    )
    .unwrap();
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, out, workers, seconds, ops, samples] = args.as_slice() else {
        eprintln!("usage: synth_workers OUT WORKERS SECONDS OPS SAMPLES");
        std::process::exit(2);
    };
    let (n, seconds, ops, samples): (usize, u64, usize, usize) = (
        workers.parse().unwrap(),
        seconds.parse().unwrap(),
        ops.parse().unwrap(),
        samples.parse().unwrap(),
    );
    assert!(ops <= OPS.len(), "at most {} operations", OPS.len());
    let out = Path::new(out);
    let threads = std::thread::available_parallelism().map_or(2, |p| p.get());
    std::thread::scope(|scope| {
        for t in 0..threads {
            scope.spawn(move || {
                for i in (t..n).step_by(threads) {
                    worker(out, i, n, seconds, ops, samples);
                }
            });
        }
    });
}
