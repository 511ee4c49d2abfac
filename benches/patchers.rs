//! Criterion benchmarks: per-patch cost of the list patcher is flat in N
//! (random positions on 10k and 1M programs), and W1 on both patchers.
//! The full side-by-side table is `patch-equiv bench`.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use patch_equiv::bench::{w1_passes, w3_random, workload_program};
use patch_equiv::patcher::{ArrayPatcher, ListPatcher, Patcher};
use std::time::{Duration, Instant};

/// 10k patches at random positions, per patch, on programs of 10k and 1M slots.
fn per_patch_flat_in_n(c: &mut Criterion) {
    let mut g = c.benchmark_group("list_random_patch");
    g.sample_size(10).measurement_time(Duration::from_secs(5));
    g.throughput(Throughput::Elements(10_000));
    for n in [10_000usize, 1_000_000] {
        let prog = workload_program(n, 3);
        g.bench_function(format!("{n}"), |b| {
            // The program is built once; each iteration adds 10k patches to it.
            let mut l = ListPatcher::from_valid(prog.clone());
            let mut seed = 0;
            b.iter_custom(|iters| {
                let t = Instant::now();
                for _ in 0..iters {
                    seed += 1;
                    w3_random(&mut l, 10_000, seed);
                }
                t.elapsed()
            })
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
