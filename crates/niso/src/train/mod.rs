//! The one training loop every experiment uses.
//!
//! [`Trainer::fit`] runs AdamW with linear warm-up and cosine decay (burn's optimiser and
//! schedulers), optional gradient clipping, a progress bar with the running losses, metrics as
//! JSON lines, atomic checkpoints and a NaN guard. The objective is a closure that computes a
//! [`StepLoss`] for the model at a step; its random draws come from a generator seeded by
//! `(seed, step)`, so an interrupted and resumed run follows the same path as an uninterrupted
//! one.

mod checkpoint;
mod run_dir;
mod schedule;
mod stable_ids;

pub use checkpoint::{load_module, save_module, Checkpoint};
pub(crate) use run_dir::temporary_path;
pub use run_dir::{write_atomic, RunDir};
pub use schedule::learning_rate_schedule;
pub use stable_ids::with_stable_ids;

use std::time::Instant;

use burn::grad_clipping::GradientClippingConfig;
use burn::module::Module;
use burn::optim::{AdamWConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::Tensor;
use indicatif::{ProgressBar, ProgressStyle};
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde_json::json;

use crate::config::{OptimConfig, RunConfig};
use crate::error::{Error, Result};

/// The loss of one step: the total to minimise and named terms to report.
pub struct StepLoss {
    /// The objective, a one-element tensor.
    pub total: Tensor<1>,
    /// Terms shown in the progress bar and metrics (name, one-element tensor).
    pub terms: Vec<(&'static str, Tensor<1>)>,
}

/// A named training phase inside a run folder (e.g. `pretrain`, `classify`).
pub struct Trainer<'a> {
    /// The run folder.
    pub run: &'a RunDir,
    /// Phase name: checkpoints go to `checkpoints/<phase>/`, metrics to `metrics-<phase>.jsonl`.
    pub phase: &'a str,
    /// Length, batch and cadence.
    pub run_config: &'a RunConfig,
    /// Optimiser and schedule.
    pub optim_config: &'a OptimConfig,
    /// Show a progress bar.
    pub progress: bool,
    /// Stop after this many steps even if the run is longer (tests, benchmarks); `None` runs to
    /// `run_config.steps`. The schedule still spans the whole run.
    pub stop_at: Option<usize>,
}

/// The random generator of step `step` of a run with seed `seed`.
pub fn step_rng(seed: u64, step: usize) -> StdRng {
    StdRng::seed_from_u64(seed ^ (step as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// Builds AdamW from the config.
pub fn optimizer(config: &OptimConfig) -> ModuleOptimizer {
    AdamWConfig::new()
        .with_weight_decay(config.weight_decay as f32)
        .with_grad_clipping(
            config
                .grad_clip
                .map(|c| GradientClippingConfig::Norm(c as f32)),
        )
        .init()
}

impl Trainer<'_> {
    /// Trains `model` with `objective`, resuming from this phase's last checkpoint if there is
    /// one. Returns the trained model.
    pub fn fit<M, F>(&self, model: M, mut objective: F) -> Result<M>
    where
        M: Module,
        F: FnMut(&M, usize, &mut StdRng) -> Result<StepLoss>,
    {
        let steps = self.run_config.steps;
        let stop = self.stop_at.unwrap_or(steps).min(steps);
        let checkpoints = self.run.checkpoints(self.phase);

        let mut model = with_stable_ids(model);
        let mut optim = optimizer(self.optim_config);
        let mut start = 0;
        if let Some(found) = Checkpoint::latest(&checkpoints)? {
            let (restored, restored_optim) = found.restore(model, optim)?;
            model = restored;
            optim = restored_optim;
            start = found.step;
            tracing::info!(
                phase = self.phase,
                step = start,
                "resumed from {}",
                found.dir.display()
            );
        }

        let mut schedule = learning_rate_schedule(self.optim_config, steps)?;
        for _ in 0..start {
            schedule.step();
        }

        let bar = self.progress_bar(start, stop);
        let mut metrics = self.run.metrics_writer(self.phase)?;
        let mut running: Vec<(&'static str, f64)> = Vec::new();
        let clock = Instant::now();

        for step in start..stop {
            let lr = schedule.step();
            let mut rng = step_rng(self.run_config.seed, step);
            let loss = objective(&model, step, &mut rng)?;

            let total = scalar(&loss.total);
            let terms: Vec<(&'static str, f64)> = loss
                .terms
                .iter()
                .map(|(name, value)| (*name, scalar(value)))
                .collect();
            if !total.is_finite() {
                bar.abandon();
                let last = Checkpoint::latest(&checkpoints)?
                    .map(|c| c.dir.display().to_string())
                    .unwrap_or_else(|| "none (no checkpoint was written yet)".into());
                return Err(Error::NonFinite {
                    step,
                    what: format!("the {} loss", self.phase),
                    value: total,
                    checkpoint: last,
                });
            }

            let grads = GradientsParams::from_grads(loss.total.backward(), &model);
            model = optim.step(lr.base(), model, grads);

            update_running(&mut running, &terms, total);
            let done = step + 1;
            if done % self.run_config.log_every == 0 || done == stop {
                let mut line = json!({
                    "step": done,
                    "lr": lr.base(),
                    "loss": total,
                    "seconds": clock.elapsed().as_secs_f64(),
                });
                for (name, value) in &terms {
                    line[*name] = json!(value);
                }
                metrics.write(&line)?;
            }
            bar.set_message(format_running(&running));
            bar.inc(1);

            if done % self.run_config.checkpoint_every == 0 || done == stop {
                Checkpoint::save(&checkpoints, done, &model, &optim)?;
            }
        }

        bar.finish();
        Ok(model)
    }

    fn progress_bar(&self, start: usize, stop: usize) -> ProgressBar {
        if !self.progress {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::new(stop as u64);
        bar.set_style(
            ProgressStyle::with_template(
                "{prefix} [{elapsed_precise}] {bar:30} {pos}/{len} ({per_sec}, eta {eta}) {msg}",
            )
            .expect("the template is valid"),
        );
        bar.set_prefix(self.phase.to_string());
        bar.set_position(start as u64);
        bar
    }
}

/// The value of a one-element tensor as `f64`.
pub fn scalar(value: &Tensor<1>) -> f64 {
    value
        .clone()
        .into_data()
        .convert::<f64>()
        .as_slice::<f64>()
        .expect("converted to f64")[0]
}

/// Exponential moving averages (rate 0.05) of the loss and its terms.
fn update_running(
    running: &mut Vec<(&'static str, f64)>,
    terms: &[(&'static str, f64)],
    total: f64,
) {
    const RATE: f64 = 0.05;
    let current = std::iter::once(("loss", total)).chain(terms.iter().copied());
    for (name, value) in current {
        match running.iter_mut().find(|(known, _)| *known == name) {
            Some((_, average)) => *average += RATE * (value - *average),
            None => running.push((name, value)),
        }
    }
}

fn format_running(running: &[(&'static str, f64)]) -> String {
    running
        .iter()
        .map(|(name, value)| format!("{name} {value:.4}"))
        .collect::<Vec<_>>()
        .join("  ")
}
