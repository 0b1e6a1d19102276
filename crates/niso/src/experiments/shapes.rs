//! Conformal shape classification (paper sec. 5.3) on deformed CGAL meshes (SHREC'11 stand-in).
//!
//! 1. Data ([`crate::data::shapes`]): per class 20 deformed instances, each a 16-channel
//!    heat-kernel-signature image on the sphere; here average-pooled by `model.downsample` and
//!    standardised per channel with the training instances' statistics.
//! 2. Split: per class, `train_per_class` training and `test_per_class` test instances, drawn
//!    with `split.seed`.
//! 3. Pre-train NIso on pairs `(g_1 I, g_2 I)` of random Möbius warps of one training image
//!    (area-weighted reconstruction), or for the baseline a plain autoencoder on warped images.
//! 4. Freeze it; features of `head_views` warps of every training instance and `test_views`
//!    warps of every test instance; the invariant head (NIso) or an MLP (autoencoder) is trained
//!    on the training features and scored on the test ones.
//! 5. Baseline: a CNN (the same encoder, global average pooling, an MLP) trained end to end on
//!    warped training images, scored on the same test warps.
//!
//! The equivariance error is the mean `|tau a - b|^2 / |b|^2` over pairs (first test warp,
//! another test warp) of one instance.

use std::path::Path;
use std::time::Instant;

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::config::{OptimConfig, RunConfig};
use crate::data::shapes::{self, ShapeDataConfig};
use crate::device::DeviceKind;
use crate::error::{Error, Result};
use crate::experiments::classify::{accuracy, classification_step, Features};
use crate::experiments::shapes_baselines::{autoencoder_baseline, cnn_baseline};
use crate::experiments::shapes_report::{draw_figures, write_report, ShapesReport};
use crate::experiments::shapes_views::{Item, Prepared};
use crate::geometry::raster::EquirectGrid;
use crate::model::{to_points, ConvNiso, LossConfig, Niso};
use crate::nn::{ConvCodecConfig, Encode, InvariantHead, InvariantHeadConfig};
use crate::operator::SpectralOperatorConfig;
use crate::train::{save_module, scalar, RunDir, StepLoss, Trainer};

/// The backbone: the cached images are average-pooled by `downsample` before the encoder.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShapesModelConfig {
    /// Pooling factor from the cached `height x width` images to the network's input.
    pub downsample: usize,
    /// Encoder and decoder sizes.
    pub codec: ConvCodecConfig,
    /// Operator rank and eigenvalue parameterisation.
    pub operator: SpectralOperatorConfig,
}

/// Split and augmentation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SplitConfig {
    /// Training instances per class.
    pub train_per_class: usize,
    /// Test instances per class.
    pub test_per_class: usize,
    /// Seed of the split and of the feature warps.
    pub seed: u64,
    /// Largest hyperbolic shift of a random Möbius map (the paper's code: 0.2).
    pub max_shift: f64,
    /// Warps of each training instance the heads see.
    pub head_views: usize,
    /// Warps of each test instance scored (the paper: 30).
    pub test_views: usize,
}

/// A training phase: length, batch and optimiser.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhaseConfig {
    /// Length and batch.
    pub run: RunConfig,
    /// Optimiser.
    pub optim: OptimConfig,
}

/// The head on frozen features.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShapesHeadConfig {
    /// Length and optimiser.
    #[serde(flatten)]
    pub phase: PhaseConfig,
    /// Vector-neuron widths of the invariant head.
    pub channels: Vec<usize>,
    /// Hidden widths of the readout (and of the baselines' MLPs).
    pub hidden: Vec<usize>,
}

/// The whole experiment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShapesConfig {
    /// NIso pre-training length and batch (pairs).
    pub run: RunConfig,
    /// NIso pre-training optimiser.
    pub optim: OptimConfig,
    /// Architecture.
    pub model: ShapesModelConfig,
    /// Loss weights.
    pub loss: LossConfig,
    /// The data set.
    pub data: ShapeDataConfig,
    /// Split and augmentation.
    pub split: SplitConfig,
    /// The head on frozen features (both backbones).
    pub classifier: ShapesHeadConfig,
    /// The autoencoder + augmentation baseline (skipped when absent).
    #[serde(default)]
    pub autoencoder: Option<PhaseConfig>,
    /// The CNN + augmentation baseline (skipped when absent).
    #[serde(default)]
    pub cnn: Option<PhaseConfig>,
}

impl ShapesConfig {
    /// Checks every section; the error names the field.
    pub fn validate(&self) -> Result<()> {
        self.run.validate("run")?;
        self.optim.validate("optim", self.run.steps)?;
        self.loss.validate("loss")?;
        self.data.validate("data")?;
        self.model.codec.validate("model.codec")?;
        self.classifier.phase.run.validate("classifier.run")?;
        let head = &self.classifier.phase;
        head.optim.validate("classifier.optim", head.run.steps)?;
        for (name, phase) in [("autoencoder", &self.autoencoder), ("cnn", &self.cnn)] {
            if let Some(phase) = phase {
                phase.run.validate(&format!("{name}.run"))?;
                phase
                    .optim
                    .validate(&format!("{name}.optim"), phase.run.steps)?;
            }
        }
        if self.model.codec.image_channels != self.data.hks_times {
            return Err(Error::config(
                "model.codec.image_channels",
                format!("must equal data.hks_times ({})", self.data.hks_times),
            ));
        }
        let factor = self.model.downsample * self.model.codec.downsampling();
        if factor == 0
            || !self.data.height.is_multiple_of(factor)
            || !self.data.width.is_multiple_of(factor)
        {
            return Err(Error::config(
                "model.downsample",
                format!(
                    "downsample x 2^(levels - 1) = {factor} must divide the {} x {} images",
                    self.data.height, self.data.width
                ),
            ));
        }
        let [h, w] = self.latent_grid();
        self.model.operator.validate("model.operator", h * w)?;
        let split = &self.split;
        if split.train_per_class == 0
            || split.test_per_class == 0
            || split.train_per_class + split.test_per_class > self.data.instances
        {
            return Err(Error::config(
                "split.train_per_class",
                format!(
                    "needs 1 <= train + test <= data.instances ({}), got {} + {}",
                    self.data.instances, split.train_per_class, split.test_per_class
                ),
            ));
        }
        if !(0.0..1.0).contains(&split.max_shift) || split.head_views == 0 || split.test_views < 2 {
            return Err(Error::config(
                "split.max_shift",
                "needs 0 <= max_shift < 1, head_views >= 1 and test_views >= 2",
            ));
        }
        Ok(())
    }

    /// The network's input grid.
    pub fn input_grid(&self) -> EquirectGrid {
        EquirectGrid::new(
            self.data.height / self.model.downsample,
            self.data.width / self.model.downsample,
        )
    }

    /// The latent grid `[h, w]`.
    pub fn latent_grid(&self) -> [usize; 2] {
        let grid = self.input_grid();
        let factor = self.model.codec.downsampling();
        [grid.height / factor, grid.width / factor]
    }

    /// Builds the NIso model (or the autoencoder, whose operator is unused).
    pub fn init_model(&self, device: &Device) -> ConvNiso {
        let [h, w] = self.latent_grid();
        Niso {
            encoder: self.model.codec.init_encoder(device),
            decoder: self.model.codec.init_decoder(device),
            operator: self.model.operator.init(h * w, device),
        }
    }
}

/// Images to features: NIso coefficients `[k, d]` or autoencoder latents `[n, d]`.
#[derive(Clone, Copy)]
pub(crate) enum Backbone<'a> {
    /// Spectral coefficients `Phi^T M E(x)`.
    Niso(&'a ConvNiso),
    /// The encoder's latent on the grid.
    Autoencoder(&'a ConvNiso),
}

/// Features of `views` fixed warps of each item, in item-major order.
pub(crate) fn features(
    backbone: Backbone,
    prepared: &Prepared,
    items: &[Item],
    views: usize,
    seed: u64,
    device: &Device,
) -> Result<Features> {
    const CHUNK: usize = 32;
    let jobs: Vec<(Item, usize)> = items
        .iter()
        .flat_map(|&item| (0..views).map(move |view| (item, view)))
        .collect();
    let spectrum = match backbone {
        Backbone::Niso(model) => Some(model.operator.spectrum()?),
        Backbone::Autoencoder(_) => None,
    };
    let mut features =
        Features::with_labels(jobs.iter().map(|&((class, _), _)| class as u8).collect());
    for chunk in jobs.chunks(CHUNK) {
        let images: Vec<f32> = chunk
            .iter()
            .flat_map(|&(item, view)| prepared.view(item, view, seed))
            .collect();
        let batch = prepared.tensor(images, device);
        features.push(match (backbone, &spectrum) {
            (Backbone::Niso(model), Some(spectrum)) => model.coefficients(spectrum, batch),
            (Backbone::Niso(model), None) | (Backbone::Autoencoder(model), _) => {
                to_points(model.encoder.encode(batch))
            }
        });
    }
    Ok(features)
}

/// Mean `|tau a - b|^2 / |b|^2` over pairs (view 0, view j) of every test item.
fn equivariance_error(
    model: &ConvNiso,
    test: &Features,
    views: usize,
    device: &Device,
) -> Result<f64> {
    let spectrum = model.operator.spectrum()?;
    let items = test.count() / views;
    let sources: Vec<usize> = (0..items)
        .flat_map(|i| std::iter::repeat_n(i * views, views - 1))
        .collect();
    let targets: Vec<usize> = (0..items)
        .flat_map(|i| (1..views).map(move |j| i * views + j))
        .collect();
    let (a, _) = test.batch(&sources, device);
    let (b, _) = test.batch(&targets, device);
    let isometry = spectrum.isometry(a.clone(), b.clone())?;
    let residual = (isometry.apply(a) - b.clone())
        .square()
        .sum_dim(2)
        .sum_dim(1);
    let norm = b.square().sum_dim(2).sum_dim(1);
    Ok(scalar(&(residual / norm).mean()))
}

/// Trains a head on `train` features and returns its accuracy on `test` features.
pub(crate) fn fit_head<M: Module>(
    trainer: &Trainer,
    head: M,
    forward: impl Fn(&M, Tensor<3>) -> Tensor<2> + Copy,
    [train, test]: [&Features; 2],
    devices: [&Device; 2],
) -> Result<f64> {
    let batch_size = trainer.run_config.batch_size;
    let head = trainer.fit(head, |head, _, rng| {
        classification_step(head, forward, train, batch_size, devices[0], rng)
    })?;
    save_module(
        &head,
        &trainer.run.path(&format!("{}.safetensors", trainer.phase)),
    )?;
    Ok(accuracy(&head.valid(), forward, test, devices[1]))
}

/// Runs the whole experiment and writes `report.json`, `report.md` and figures into `run`.
pub fn run(
    config: &ShapesConfig,
    mesh_dir: &Path,
    cache: &Path,
    run: &RunDir,
    device: DeviceKind,
    progress: bool,
) -> Result<ShapesReport> {
    config.validate()?;
    let clock = Instant::now();
    let meshes = crate::data::meshes::load(mesh_dir)?;
    let set = shapes::build(&meshes, &config.data, cache, |stats, cached| {
        let seconds: f64 = stats.instances.iter().map(|i| i.total_seconds).sum();
        let flips: usize = stats.instances.iter().map(|i| i.flipped_faces).sum();
        let line = format!(
            "{:<14} {} ({} instances, {:.1} s, {} flipped faces)",
            stats.name,
            if cached { "cached" } else { "built" },
            stats.instances.len(),
            seconds,
            flips
        );
        tracing::info!("{line}");
        if progress {
            eprintln!("{line}");
        }
    })?;
    let data_seconds = clock.elapsed().as_secs_f64();
    let prepared = Prepared::new(&set, config);
    let plain = device.plain()?;
    let train_device = device.autodiff()?;
    let weights = prepared.area_weights(&train_device);
    // NIso pre-training on pairs of warps of one training image.
    let pretrain_clock = Instant::now();
    train_device.seed(config.run.seed);
    let trainer = Trainer {
        run,
        phase: "pretrain",
        run_config: &config.run,
        optim_config: &config.optim,
        progress,
        stop_at: None,
    };
    let model = trainer.fit(
        config.init_model(&train_device),
        |model: &ConvNiso, step, rng| {
            let (views, _) = prepared.warped_batch(config.run.batch_size, 2, &train_device, rng);
            let losses = model
                .weighted_views_step(views, Some(weights.clone()), &config.loss, step, rng)?
                .losses;
            Ok(StepLoss {
                total: losses.total,
                terms: vec![
                    ("reconstruction", losses.reconstruction),
                    ("equivariance", losses.equivariance),
                    ("multiplicity", losses.multiplicity),
                ],
            })
        },
    )?;
    save_module(&model, &run.path("model.safetensors"))?;
    let pretrain_seconds = pretrain_clock.elapsed().as_secs_f64();

    let split = &config.split;
    let frozen = model.valid();
    let niso = Backbone::Niso(&frozen);
    let train_features = features(
        niso,
        &prepared,
        &prepared.train,
        split.head_views,
        split.seed,
        &plain,
    )?;
    let test_features = features(
        niso,
        &prepared,
        &prepared.test,
        split.test_views,
        split.seed,
        &plain,
    )?;
    let equivariance = equivariance_error(&frozen, &test_features, split.test_views, &plain)?;
    let classes = set.classes.len();
    let head_config = &config.classifier;
    let head_trainer = Trainer {
        run,
        phase: "head-niso",
        run_config: &head_config.phase.run,
        optim_config: &head_config.phase.optim,
        progress,
        stop_at: None,
    };
    train_device.seed(head_config.phase.run.seed);
    let head = InvariantHeadConfig {
        input_channels: train_features.shape[1],
        channels: head_config.channels.clone(),
        hidden: head_config.hidden.clone(),
        classes,
    }
    .init(&train_device);
    let niso_accuracy = fit_head(
        &head_trainer,
        head,
        |head: &InvariantHead, x| head.forward(x),
        [&train_features, &test_features],
        [&train_device, &plain],
    )?;
    tracing::info!("NIso accuracy {niso_accuracy:.4}, equivariance error {equivariance:.4}");

    let autoencoder_accuracy = match &config.autoencoder {
        Some(phase) => Some(autoencoder_baseline(
            config, phase, &prepared, run, device, progress,
        )?),
        None => None,
    };
    let cnn_accuracy = match &config.cnn {
        Some(phase) => Some(cnn_baseline(
            config, phase, &prepared, classes, run, device, progress,
        )?),
        None => None,
    };

    let report = ShapesReport::new(
        config,
        &set,
        &prepared,
        [niso_accuracy, equivariance],
        [autoencoder_accuracy, cnn_accuracy],
        [
            data_seconds,
            pretrain_seconds,
            clock.elapsed().as_secs_f64(),
        ],
    );
    write_report(run, &report)?;
    draw_figures(config, &set, cache, &prepared, &frozen, run, &plain)?;
    Ok(report)
}
