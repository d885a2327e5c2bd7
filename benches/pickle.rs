//! Reading and patching pickled meta.

use criterion::{Criterion, criterion_group, criterion_main};
use rqs_benches::{INTERVAL_REPEAT_META, hex};
use std::hint::black_box;

/// A 4 KiB meta: many user entries, `repeat` last (the worst case for the walk).
fn large_meta() -> Vec<u8> {
    let mut out = vec![0x80, 2, b'}', b'('];
    for i in 0..200i32 {
        let key = format!("user_key_{i:03}");
        out.push(b'X');
        out.extend((key.len() as u32).to_le_bytes());
        out.extend(key.as_bytes());
        out.push(b'J');
        out.extend(i.to_le_bytes());
    }
    out.push(b'X');
    out.extend(6u32.to_le_bytes());
    out.extend(b"repeat");
    out.push(b'K');
    out.push(7);
    out.extend([b'u', b'.']);
    out
}

fn pickle(c: &mut Criterion) {
    let small = hex(INTERVAL_REPEAT_META);
    let large = large_meta();
    let mut group = c.benchmark_group("pickle");
    for (name, meta) in [("rq-scheduler meta", &small), ("4 KiB meta", &large)] {
        group.bench_function(format!("parse {name}"), |b| {
            b.iter(|| black_box(rqs_pickle::Meta::parse(black_box(meta)).unwrap()))
        });
        group.bench_function(format!("decrement repeat in {name}"), |b| {
            b.iter(|| black_box(rqs_pickle::set_int(black_box(meta), "repeat", 4).unwrap()))
        });
    }
    group.finish();
}

criterion_group!(benches, pickle);
criterion_main!(benches);
