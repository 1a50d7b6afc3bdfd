//! Generation alone, one core: entities per second for one small-profile clinic (every row and
//! document, WAV bytes excluded since the seeder renders them while uploading), the same for
//! its PostgreSQL rows alone (what `seed --postgres-only` generates), plus WAV rendering
//! throughput. Compare with the seeder's ingest rate: generation should be at least
//! 5x faster so the databases, not clinicload, are the bottleneck.

use chrono::NaiveDate;
use clinicload::generate::{audio, generate_clinic, generate_clinic_tables, profile, SeedParams};
use clinicload::model::ClinicData;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn entities(c: &ClinicData) -> u64 {
    (c.users.len()
        + c.patients.len()
        + c.appointments.len()
        + c.encounters.len()
        + c.prescriptions.len()
        + c.prescription_items.len()
        + c.orders.len()
        + c.order_items.len()
        + c.tasks.len()
        + c.alerts.len()
        + c.clinical_notes.len()
        + c.voice_recordings.len()) as u64
}

fn bench(c: &mut Criterion) {
    let params = SeedParams {
        seed: 1,
        as_of: NaiveDate::from_ymd_opt(2026, 11, 25).unwrap(),
        clinics: 1,
        shape: profile("small").unwrap(),
    };
    let sample = generate_clinic(&params, 0);
    let n = entities(&sample);
    eprintln!("small clinic: {n} entities");
    let mut g = c.benchmark_group("generate");
    g.sample_size(10);
    g.throughput(Throughput::Elements(n));
    g.bench_function("small_clinic", |b| {
        b.iter(|| generate_clinic(&params, std::hint::black_box(0)))
    });
    g.finish();

    // What `seed --postgres-only` generates: the same rows, no documents. Compare with the
    // rows/s of scripts/bench-seed.
    let rows = entities(&generate_clinic_tables(&params, 0));
    eprintln!("small clinic, tables only: {rows} rows");
    let mut g = c.benchmark_group("generate");
    g.sample_size(10);
    g.throughput(Throughput::Elements(rows));
    g.bench_function("small_clinic_tables", |b| {
        b.iter(|| generate_clinic_tables(&params, std::hint::black_box(0)))
    });
    g.finish();

    let rec = sample.voice_recordings[0].clone();
    let mut g = c.benchmark_group("audio");
    g.throughput(Throughput::Bytes(audio::wav_len(&rec) as u64));
    g.bench_function("wav_bytes", |b| {
        b.iter(|| audio::wav_bytes(std::hint::black_box(&rec)))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
