//! Linear warm-up followed by cosine decay, from burn's schedulers.

use burn::lr_scheduler::cosine::CosineAnnealingLrSchedulerConfig;
use burn::lr_scheduler::linear::LinearLrSchedulerConfig;
use burn::lr_scheduler::module_lr_scheduler::ModuleLrScheduler;
use burn::lr_scheduler::sequential::SequentialLrSchedulerConfig;
use burn::lr_scheduler::LrSchedulerConfig;

use crate::config::OptimConfig;
use crate::error::{Error, Result};

/// Warm-up from `warmup_start_lr` to `lr` over `warmup_steps`, then cosine decay to `final_lr`
/// at step `steps`.
pub fn learning_rate_schedule(config: &OptimConfig, steps: usize) -> Result<ModuleLrScheduler> {
    let warmup = config.warmup_steps.max(1);
    let decay = steps.saturating_sub(warmup).max(1);
    SequentialLrSchedulerConfig::new(
        vec![
            LrSchedulerConfig::Linear(LinearLrSchedulerConfig::new(
                config.warmup_start_lr,
                config.lr,
                warmup,
            )),
            LrSchedulerConfig::Cosine(
                CosineAnnealingLrSchedulerConfig::new(config.lr, decay)
                    .with_min_lr(config.final_lr),
            ),
        ],
        vec![warmup],
    )
    .init()
    .map_err(|message| Error::config("optim", message))
}
