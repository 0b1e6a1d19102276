//! Criterion benchmark of one residual block (two 3x3 convolutions, two spatial layer norms, a
//! dense skip), forward and backward, at the sizes of the paper's HMNIST encoder: 32 images,
//! 64 channels at 40 x 40 and 128 channels at 20 x 20.

use burn::tensor::{Device, Distribution, Tensor};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use niso::nn::ResBlock;

fn bench_block(c: &mut Criterion) {
    let device = Device::flex().autodiff();
    let mut group = c.benchmark_group("res_block");
    group.sample_size(10);
    for (channels, side) in [(64, 40), (128, 20)] {
        let block = ResBlock::new(channels, channels, &device);
        let input = Tensor::<4>::random(
            [32, channels, side, side],
            Distribution::Normal(0.0, 1.0),
            &device,
        );
        group.throughput(Throughput::Elements(32));
        let name = format!("{channels}ch_{side}px");
        group.bench_with_input(
            BenchmarkId::new("forward_backward", name),
            &input,
            |b, input| {
                b.iter(|| {
                    let x = input.clone().require_grad();
                    let grads = block.forward(x.clone()).sum().backward();
                    x.grad(&grads).expect("tracked")
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, bench_block);
criterion_main!(benches);
