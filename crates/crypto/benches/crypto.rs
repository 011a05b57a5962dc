//! Micro-benchmarks of the vault's primitives (criterion): `make bench`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use crypto::audit::{link, Canonical, GENESIS};
use crypto::blind_index::BlindIndexer;
use crypto::envelope::{DataKey, FieldContext};
use crypto::keyring::{KeyEnvironment, KeyRing};

fn bench(c: &mut Criterion) {
    let ring = KeyRing::generate(KeyEnvironment::Development).unwrap();
    let dek = DataKey::generate().unwrap();
    let ctx = FieldContext {
        table: "cases",
        field: "narrative",
        record_id: "rec-1",
        owner_id: "case-1",
    };
    let value = vec![0x41u8; 1024];
    let sealed = dek.seal(&ctx, &value).unwrap();
    let wrapped = dek.wrap(&ring, "case-1").unwrap();

    let mut g = c.benchmark_group("field");
    g.throughput(Throughput::Bytes(1024));
    g.bench_function("seal 1 KiB", |b| b.iter(|| dek.seal(&ctx, &value).unwrap()));
    g.bench_function("open 1 KiB", |b| {
        b.iter(|| dek.open(&ctx, &sealed).unwrap())
    });
    g.finish();

    c.bench_function("data key unwrap", |b| {
        b.iter(|| DataKey::unwrap(&ring, "case-1", 1, &wrapped).unwrap())
    });
    let idx = BlindIndexer::new(&ring, 16).unwrap();
    c.bench_function("blind index", |b| {
        b.iter(|| {
            idx.compute("calls", "caller_phone", "+380441234567")
                .unwrap()
        })
    });
    let event = Canonical::new(1)
        .int(3)
        .int(12345)
        .int(1_764_000_000_000_000)
        .text("3f1c0a4e-user")
        .text("case_worker")
        .text("case.read")
        .text("case")
        .text("2026-000123")
        .text("victim.name,victim.phone");
    c.bench_function("audit link", |b| b.iter(|| link(&GENESIS, &event)));

    let mut slow = c.benchmark_group("password");
    slow.sample_size(10);
    slow.bench_function("argon2id hash (m=19 MiB, t=2, p=1)", |b| {
        b.iter(|| crypto::password::hash("correct horse battery staple").unwrap())
    });
    slow.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
