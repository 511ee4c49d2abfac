//! Criterion benchmarks: per-patch cost of the list patcher is flat in N
//! (random positions on 10k and 1M programs), and W1 on both patchers.
//! The full side-by-side table is `patch-equiv bench`.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use patch_equiv::bench::{w1_passes, w3_random, workload_program};
use patch_equiv::patcher::{ArrayPatcher, ListPatcher, Patcher};
use std::time::Duration;

/// 10k patches at random positions, per patch, on programs of 10k and 1M slots.
fn per_patch_flat_in_n(c: &mut Criterion) {
    let mut g = c.benchmark_group("list_random_patch");
    g.sample_size(10).measurement_time(Duration::from_secs(5));
    g.throughput(Throughput::Elements(10_000));
    for n in [10_000usize, 1_000_000] {
        let prog = workload_program(n, 3);
        g.bench_function(format!("{n}"), |b| {
            // A fresh copy of the built patcher per batch (not timed); each
            // batch is 10k patches at random positions.
            let l = ListPatcher::from_valid(prog.clone());
            b.iter_batched(|| l.clone(), |mut l| w3_random(&mut l, 10_000, 7), BatchSize::LargeInput)
        });
    }
    g.finish();
}

fn w1(c: &mut Criterion) {
    let prog = workload_program(10_000, 1);
    let mut g = c.benchmark_group("w1_pyperf180_like");
    g.sample_size(10);
    g.bench_function("array", |b| {
        b.iter_batched(|| ArrayPatcher::from_valid(prog.clone()), |mut a| w1_passes(&mut a, 7), BatchSize::LargeInput)
    });
    g.bench_function("list", |b| {
        b.iter_batched(
            || ListPatcher::from_valid(prog.clone()),
            |mut l| {
                w1_passes(&mut l, 7);
                l.into_program()
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, per_patch_flat_in_n, w1);
criterion_main!(benches);
