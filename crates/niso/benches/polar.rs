//! Criterion benchmarks of the polar factor (forward and backward) at the paper's sizes:
//! `tau` for HMNIST (16 x 32 x 32), the eigenbasis for HMNIST (400 x 32) and the full-rank
//! torus operator (256 x 256).

use burn::tensor::{Device, Distribution, Tensor};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use niso::linalg::{polar, PolarKind};

fn bench_polar(c: &mut Criterion) {
    let device = Device::flex().autodiff();
    let mut group = c.benchmark_group("polar");
    let cases = [
        ("tau_hmnist", [16, 32, 32], PolarKind::Special),
        ("basis_hmnist", [1, 400, 32], PolarKind::Thin),
        ("basis_torus", [1, 256, 256], PolarKind::Thin),
    ];
    for (name, shape, kind) in cases {
        let input = Tensor::<3>::random(shape, Distribution::Normal(0.0, 1.0), &device);
        group.throughput(Throughput::Elements(shape[0] as u64));
        group.bench_with_input(
            BenchmarkId::new("forward_backward", name),
            &input,
            |b, input| {
                b.iter(|| {
                    let a = input.clone().require_grad();
                    let loss = polar(a.clone(), kind).expect("valid shape").sum();
                    let grads = loss.backward();
                    a.grad(&grads).expect("tracked")
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, bench_polar);
criterion_main!(benches);
