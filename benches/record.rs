//! Cost of recording one sample on the hot path of every operation (issue 4's goal: well
//! under a microsecond), uncontended and with the lock shared by another thread.

use std::sync::Arc;

use clinicload::metrics::{Label, Recorder};
use criterion::{black_box, criterion_group, criterion_main, Criterion};

fn record(c: &mut Criterion) {
    let labels: Vec<Label> = (0..8)
        .map(|op| Label {
            op,
            sub: if op == 7 { Some("hit") } else { None },
        })
        .collect();
    let r = Recorder::new();
    let mut i = 0u64;
    c.bench_function("record one sample (8 labels)", |b| {
        b.iter(|| {
            i = i.wrapping_add(7919);
            r.record(
                black_box(labels[(i % 8) as usize]),
                black_box(100 + i % 50_000),
                1,
            );
        })
    });

    // The same with a second thread recording concurrently (lock contention on 2 cores).
    let shared = Arc::new(Recorder::new());
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let other = {
        let shared = shared.clone();
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut j = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                j = j.wrapping_add(31);
                shared.record(Label { op: 0, sub: None }, 100 + j % 10_000, 1);
            }
        })
    };
    c.bench_function("record one sample, another thread recording", |b| {
        b.iter(|| {
            i = i.wrapping_add(7919);
            shared.record(
                black_box(labels[(i % 8) as usize]),
                black_box(100 + i % 50_000),
                1,
            );
        })
    });
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    other.join().unwrap();

    c.bench_function("harvest 8 labels (once a second)", |b| {
        b.iter(|| black_box(r.harvest()))
    });
}

criterion_group!(benches, record);
criterion_main!(benches);
