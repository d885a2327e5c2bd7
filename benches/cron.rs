//! Cron parsing and next-time search.

use chrono::{NaiveDate, TimeZone, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use rqs_cron::CronExpr;
use std::hint::black_box;

const EXPRESSIONS: [&str; 5] = [
    "*/15 * * * *",
    "0 0 29 2 *",
    "0 0 1,15 * 1",
    "0 18 * * L5",
    "30 0 0 1 1 * 2030",
];

fn cron(c: &mut Criterion) {
    let mut group = c.benchmark_group("cron");
    group.bench_function("parse 5 expressions", |b| {
        b.iter(|| {
            for e in EXPRESSIONS {
                black_box(CronExpr::parse(black_box(e)).unwrap());
            }
        })
    });
    let parsed: Vec<CronExpr> = EXPRESSIONS
        .iter()
        .map(|e| CronExpr::parse(e).unwrap())
        .collect();
    let now = NaiveDate::from_ymd_opt(2027, 2, 20)
        .unwrap()
        .and_hms_opt(10, 7, 30)
        .unwrap();
    for (text, expr) in EXPRESSIONS.iter().zip(&parsed) {
        group.bench_function(format!("next_after {text}"), |b| {
            b.iter(|| black_box(expr.next_after(black_box(now))))
        });
    }
    let instant = Utc.with_ymd_and_hms(2027, 3, 27, 23, 0, 0).unwrap();
    group.bench_function("next_in Europe/Berlin across spring-forward", |b| {
        b.iter(|| black_box(parsed[0].next_in(black_box(instant), &chrono_tz::Europe::Berlin)))
    });
    group.finish();
}

criterion_group!(benches, cron);
criterion_main!(benches);
