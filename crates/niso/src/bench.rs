//! Timing of one full training step (forward, backward, AdamW update) of a NIso model.
//!
//! The step runs on random images (the data pipeline is not timed). Its FLOP count is computed
//! from the architecture ([`ConvNisoConfig::forward_flops`]) as three times the forward FLOPs
//! (forward, plus a backward pass that costs about two forwards), over the `2 * batch` images
//! encoded and the `2 * batch` latents decoded. The same run times a single-precision matrix
//! product on the same device, so the achieved rate can be read against the machine's.

use std::time::Instant;

use burn::tensor::{Device, Distribution, Tensor};
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

use crate::config::OptimConfig;
use crate::error::Result;
use crate::model::{ConvNisoConfig, LossConfig};
use crate::train::{optimizer, scalar};
use burn::optim::GradientsParams;

/// What a step benchmark needs from an experiment's configuration.
#[derive(Clone, Debug, Deserialize)]
pub struct StepBenchConfig {
    /// Batch size (pairs) from the `run` section.
    pub run: BatchOnly,
    /// The model.
    pub model: ConvNisoConfig,
    /// The loss weights.
    pub loss: LossConfig,
    /// The optimiser.
    pub optim: OptimConfig,
}

/// The `run` section, of which the bench reads only the batch size.
#[derive(Clone, Debug, Deserialize)]
pub struct BatchOnly {
    /// Pairs per step.
    pub batch_size: usize,
}

/// The result of [`bench_step`].
#[derive(Clone, Debug, Serialize)]
pub struct StepBenchReport {
    /// Timed steps.
    pub steps: usize,
    /// Median step time in milliseconds.
    pub median_ms: f64,
    /// Fastest step in milliseconds.
    pub min_ms: f64,
    /// Images through the encoder per second at the median (2 per pair).
    pub images_per_s: f64,
    /// FLOPs of one step, from the architecture.
    pub step_gflop: f64,
    /// Achieved GFLOP/s at the median step time.
    pub gflops: f64,
    /// Measured single-precision matrix product rate of the same device (2048 x 2048, the
    /// faster of burn's and, on the CPU, faer's).
    pub sgemm_gflops: f64,
    /// Peak resident set size of the process in MiB (Linux; 0 elsewhere).
    pub peak_rss_mib: f64,
    /// `"niso"` with the hand-written CPU kernels, `"generic"` with burn's operations only.
    pub kernels: &'static str,
}

/// Times `steps` training steps after `warmup` untimed ones.
pub fn bench_step(
    config: &StepBenchConfig,
    device: &Device,
    steps: usize,
    warmup: usize,
) -> Result<StepBenchReport> {
    config.model.validate("model")?;
    let batch = config.run.batch_size;
    let side = config.model.image_size;
    let channels = config.model.codec.image_channels;

    device.seed(0);
    let mut model = config.model.init(device);
    let mut optim = optimizer(&config.optim);
    let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    let shape = [batch, channels, side, side];
    let x = Tensor::<4>::random(shape, Distribution::Uniform(-1.0, 1.0), device);
    let tx = Tensor::<4>::random(shape, Distribution::Uniform(-1.0, 1.0), device);

    let mut times = Vec::with_capacity(steps);
    for index in 0..warmup + steps {
        let start = Instant::now();
        let output = model.pair_step(x.clone(), tx.clone(), &config.loss, index, &mut rng)?;
        let grads = GradientsParams::from_grads(output.losses.total.backward(), &model);
        model = optim.step(config.optim.lr, model, grads);
        scalar(&model.operator.mass.val().sum());
        if index >= warmup {
            times.push(start.elapsed().as_secs_f64() * 1e3);
        }
    }

    times.sort_by(f64::total_cmp);
    let median_ms = times[times.len() / 2];
    let step_gflop = 3.0 * 2.0 * batch as f64 * config.model.forward_flops() / 1e9;
    Ok(StepBenchReport {
        steps,
        median_ms,
        min_ms: times[0],
        images_per_s: 2.0 * batch as f64 / (median_ms / 1e3),
        step_gflop,
        gflops: step_gflop / (median_ms / 1e3),
        sgemm_gflops: sgemm_rate(&device.clone().inner()),
        peak_rss_mib: peak_rss_mib(),
        kernels: if crate::kernels::enabled() {
            "niso"
        } else {
            "generic"
        },
    })
}

/// The best GFLOP/s of a 2048 x 2048 single-precision matrix product on `device` (best of 5
/// runs): burn's matmul, and on the CPU also faer's, which the convolution kernels use.
pub fn sgemm_rate(device: &Device) -> f64 {
    const SIZE: usize = 2048;
    let flop = 2.0 * (SIZE as f64).powi(3);
    let a = Tensor::<2>::random([SIZE, SIZE], Distribution::Uniform(-1.0, 1.0), device);
    let b = Tensor::<2>::random([SIZE, SIZE], Distribution::Uniform(-1.0, 1.0), device);
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        let start = Instant::now();
        let product = a.clone().matmul(b.clone());
        scalar(&product.slice([0..1, 0..1]).reshape([1]));
        best = best.min(start.elapsed().as_secs_f64());
    }
    let burn_rate = flop / best / 1e9;

    let on_cpu = a.try_into_primitive::<burn::backend::Flex>().is_ok();
    if !on_cpu {
        return burn_rate;
    }
    let a = faer::Mat::<f32>::from_fn(SIZE, SIZE, |i, j| ((i * 7 + j * 3) % 11) as f32 - 5.0);
    let b = faer::Mat::<f32>::from_fn(SIZE, SIZE, |i, j| ((i * 5 + j) % 13) as f32 - 6.0);
    let mut c = faer::Mat::<f32>::zeros(SIZE, SIZE);
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        let start = Instant::now();
        faer::linalg::matmul::matmul(
            c.as_mut(),
            faer::Accum::Replace,
            a.as_ref(),
            b.as_ref(),
            1.0,
            faer::Par::rayon(0),
        );
        best = best.min(start.elapsed().as_secs_f64());
    }
    burn_rate.max(flop / best / 1e9)
}

/// Peak resident set size (`VmHWM`) in MiB, or 0 where `/proc` is not available.
pub fn peak_rss_mib() -> f64 {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return 0.0;
    };
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<f64>()
                .ok()
        })
        .map_or(0.0, |kib| kib / 1024.0)
}
