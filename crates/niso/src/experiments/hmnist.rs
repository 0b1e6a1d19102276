//! Homography-perturbed MNIST (paper sec. 5.2).
//!
//! 1. Pre-train NIso on pairs `(x, Hx)` of MNIST training digits and random homographies `H`
//!    (or triplets `(x, Hx, H'Hx)`), or, for the baseline, a plain autoencoder on
//!    homography-augmented digits.
//! 2. Freeze it and compute features of plain MNIST training digits: the spectral coefficients
//!    `Phi^T M E(x)` (`k x d`) for NIso, the flattened latent for the baseline.
//! 3. Train a head on them: the orthogonally invariant head for NIso, an MLP for the baseline.
//! 4. Score it on homNIST (the MNIST test digits warped by the homNIST law) and on the plain
//!    test digits; measure the equivariance error on (test digit, homNIST warp) pairs.

use std::path::Path;
use std::time::Instant;

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::config::{OptimConfig, RunConfig};
use crate::data::mnist::{self, Split, SIDE};
use crate::device::DeviceKind;
use crate::error::{Error, Result};
use crate::experiments::classify::{accuracy, classification_step, Features};
use crate::loss::mean_abs;
use crate::model::{to_points, ConvNiso, ConvNisoConfig, LossConfig};
use crate::nn::{Decode, Encode, InvariantHead, InvariantHeadConfig, Mlp, MlpConfig};
use crate::report::{save_panels, Panel};
use crate::train::{save_module, RunDir, StepLoss, Trainer};
use crate::transforms::homography::{sample_train, warp, Fill};

/// What the backbone is pre-trained as.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Pretraining {
    /// NIso on pairs (or triplets) with the invariant head on spectral coefficients.
    #[default]
    Niso,
    /// The baseline: reconstruction of homography-augmented digits, MLP head on the latent.
    Autoencoder,
}

/// Data options.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HmnistData {
    /// Train on triplets `(x, Hx, H'Hx)` (paper eqs. 23-24).
    #[serde(default)]
    pub triplets: bool,
    /// Homographies per test digit in the homNIST set (the original has 32).
    pub homnist_per_digit: usize,
    /// Seed of the homNIST set (fixed so that every run scores on the same images).
    pub homnist_seed: u64,
    /// Test digits scored (the first ones of the MNIST test set; at most 10,000).
    pub test_digits: usize,
    /// Plain training digits the classifier head sees (at most 60,000).
    pub classifier_digits: usize,
}

/// The classifier phase.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassifierConfig {
    /// Length and batch of head training.
    pub run: RunConfig,
    /// Optimiser of head training.
    pub optim: OptimConfig,
    /// Vector-neuron widths of the invariant head.
    pub channels: Vec<usize>,
    /// Hidden widths of the readout (or of the baseline's MLP).
    pub hidden: Vec<usize>,
    /// Warp the head's training digits by random homographies (the baseline's augmentation).
    #[serde(default)]
    pub augment: bool,
}

/// The whole HMNIST experiment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HmnistConfig {
    /// Pre-training length and batch.
    pub run: RunConfig,
    /// Pre-training optimiser.
    pub optim: OptimConfig,
    /// Architecture.
    pub model: ConvNisoConfig,
    /// Loss weights.
    pub loss: LossConfig,
    /// What to pre-train.
    #[serde(default)]
    pub pretraining: Pretraining,
    /// Data options.
    pub data: HmnistData,
    /// The classifier phase.
    pub classifier: ClassifierConfig,
}

/// The numbers of a finished run (`report.json`).
#[derive(Clone, Debug, Serialize)]
pub struct HmnistReport {
    /// Accuracy on homNIST.
    pub accuracy: f64,
    /// Accuracy on the plain MNIST test digits.
    pub plain_accuracy: f64,
    /// Mean `|tau a - b|^2 / |b|^2` over (test digit, homNIST warp) pairs; NIso only.
    pub equivariance_error: Option<f64>,
    /// Pre-training steps.
    pub steps: usize,
    /// Classifier steps.
    pub classifier_steps: usize,
    /// Wall time of the whole run in seconds.
    pub wall_seconds: f64,
    /// Pre-training seconds.
    pub pretrain_seconds: f64,
    /// homNIST images scored.
    pub homnist_images: usize,
    /// What was pre-trained.
    pub pretraining: Pretraining,
    /// Trained on triplets.
    pub triplets: bool,
    /// Loss weights.
    pub alpha: f64,
    /// Loss weights.
    pub beta: f64,
}

impl HmnistConfig {
    /// Checks every section; the error names the field.
    pub fn validate(&self) -> Result<()> {
        self.run.validate("run")?;
        self.optim.validate("optim", self.run.steps)?;
        self.model.validate("model")?;
        self.loss.validate("loss")?;
        self.classifier.run.validate("classifier.run")?;
        self.classifier
            .optim
            .validate("classifier.optim", self.classifier.run.steps)?;
        if self.model.image_size != SIDE || self.model.codec.image_channels != 1 {
            return Err(Error::config(
                "model.image_size",
                format!("MNIST digits are padded to {SIDE} x {SIDE} with 1 channel"),
            ));
        }
        let data = &self.data;
        for (name, value, limit) in [
            ("data.test_digits", data.test_digits, mnist::TEST_COUNT),
            (
                "data.classifier_digits",
                data.classifier_digits,
                mnist::TRAIN_COUNT,
            ),
            ("data.homnist_per_digit", data.homnist_per_digit, 32),
        ] {
            if value == 0 || value > limit {
                return Err(Error::config(
                    name,
                    format!("must be in 1..={limit}, got {value}"),
                ));
            }
        }
        Ok(())
    }
}

/// Digits scaled from `[0, 1]` to `[-1, 1]` as a `[batch, 1, SIDE, SIDE]` tensor.
fn images(values: Vec<f32>, device: &Device) -> Tensor<4> {
    let batch = values.len() / (SIDE * SIDE);
    let scaled: Vec<f32> = values.into_iter().map(|v| 2.0 * v - 1.0).collect();
    Tensor::from_data(TensorData::new(scaled, [batch, 1, SIDE, SIDE]), device)
}

/// Warps a digit by a random training homography, filling with the image minimum.
fn augment(image: &[f32], rng: &mut impl Rng) -> Vec<f32> {
    let minimum = image.iter().copied().fold(f32::INFINITY, f32::min);
    let mut out = vec![0.0; SIDE * SIDE];
    warp(
        image,
        SIDE,
        &sample_train(rng),
        Fill::Constant(minimum),
        &mut out,
    );
    out
}

/// A batch of `views` images per digit: the digit, then each view warped again.
fn views_batch(train: &Split, batch: usize, views: usize, rng: &mut impl Rng) -> Vec<Vec<f32>> {
    let mut out = vec![Vec::with_capacity(batch * SIDE * SIDE); views];
    for _ in 0..batch {
        let mut current = train.image(rng.random_range(0..train.count)).to_vec();
        out[0].extend_from_slice(&current);
        for view in out.iter_mut().skip(1) {
            current = augment(&current, rng);
            view.extend_from_slice(&current);
        }
    }
    out
}

/// The homNIST set for these options, built once and cached in `data_dir`.
pub fn homnist(data_dir: &Path, test: &Split, per_digit: usize, seed: u64) -> Result<Split> {
    let path = data_dir.join(format!("homnist-{per_digit}x-seed{seed}.bin"));
    if path.exists() {
        return mnist::load_split(&path);
    }
    tracing::info!(
        "building homNIST ({per_digit} per digit, seed {seed}) at {}",
        path.display()
    );
    let split = mnist::build_homnist(test, per_digit, seed);
    mnist::save_split(&path, &split)?;
    Ok(split)
}

/// The first `count` digits of a split (all `per` variants of each).
fn head_of(split: &Split, count: usize, per: usize) -> Split {
    let images = count * per;
    Split {
        images: split.images[..images * SIDE * SIDE].to_vec(),
        labels: split.labels[..images].to_vec(),
        count: images,
    }
}

/// Runs the whole experiment and writes `report.json` and `report.md` into `run`.
pub fn run(
    config: &HmnistConfig,
    data_dir: &Path,
    run: &RunDir,
    device: DeviceKind,
    progress: bool,
) -> Result<HmnistReport> {
    config.validate()?;
    let clock = Instant::now();
    let data = mnist::load(data_dir)?;
    let test = head_of(&data.test, config.data.test_digits, 1);
    let per = config.data.homnist_per_digit;
    let homnist_full = homnist(data_dir, &data.test, per, config.data.homnist_seed)?;
    let homnist_set = head_of(&homnist_full, config.data.test_digits, per);

    let train_device = device.autodiff()?;
    train_device.seed(config.run.seed);
    let model = config.model.init(&train_device);
    let views = if config.data.triplets { 3 } else { 2 };
    let trainer = Trainer {
        run,
        phase: "pretrain",
        run_config: &config.run,
        optim_config: &config.optim,
        progress,
        stop_at: None,
    };
    let model = trainer.fit(model, |model: &ConvNiso, step, rng| {
        let batch = views_batch(&data.train, config.run.batch_size, views, rng);
        let batch: Vec<Tensor<4>> = batch
            .into_iter()
            .map(|v| images(v, &train_device))
            .collect();
        match config.pretraining {
            Pretraining::Niso => niso_objective(model, batch, &config.loss, step, rng),
            Pretraining::Autoencoder => autoencoder_objective(model, batch),
        }
    })?;
    save_module(&model, &run.path("model.safetensors"))?;
    let pretrain_seconds = clock.elapsed().as_secs_f64();

    let plain_device = device.plain()?;
    let frozen = model.valid();
    let backbone = Backbone {
        model: &frozen,
        pretraining: config.pretraining,
        device: &plain_device,
    };
    let mut rng = crate::train::step_rng(config.classifier.run.seed, usize::MAX);
    let mut train_digits = head_of(&data.train, config.data.classifier_digits, 1);
    if config.classifier.augment {
        for index in 0..train_digits.count {
            let warped = augment(train_digits.image(index), &mut rng);
            train_digits.images[index * SIDE * SIDE..(index + 1) * SIDE * SIDE]
                .copy_from_slice(&warped);
        }
    }
    let train_features = backbone.features(&train_digits)?;
    let test_features = backbone.features(&test)?;
    let homnist_features = backbone.features(&homnist_set)?;

    let head_device = device.autodiff()?;
    head_device.seed(config.classifier.run.seed);
    let head_trainer = Trainer {
        run,
        phase: "classify",
        run_config: &config.classifier.run,
        optim_config: &config.classifier.optim,
        progress,
        stop_at: None,
    };
    let [k, d] = train_features.shape;
    let batch_size = config.classifier.run.batch_size;
    let scoring = HeadScoring {
        trainer: &head_trainer,
        train: &train_features,
        scored: [&homnist_features, &test_features],
        batch_size,
        train_device: &head_device,
        plain_device: &plain_device,
        run,
    };
    let [homnist_accuracy, plain_accuracy] = match config.pretraining {
        Pretraining::Niso => {
            let head = InvariantHeadConfig {
                input_channels: d,
                channels: config.classifier.channels.clone(),
                hidden: config.classifier.hidden.clone(),
                classes: 10,
            }
            .init(&head_device);
            scoring.fit(head, |head: &InvariantHead, x| head.forward(x))?
        }
        Pretraining::Autoencoder => {
            let head = MlpConfig {
                inputs: k * d,
                hidden: config.classifier.hidden.clone(),
                outputs: 10,
            }
            .init(&head_device);
            scoring.fit(head, |head: &Mlp, x: Tensor<3>| {
                let batch = x.dims()[0];
                head.forward(x.reshape([batch, k * d]))
            })?
        }
    };

    let equivariance_error = match config.pretraining {
        Pretraining::Niso => {
            Some(backbone.equivariance_error(&test_features, &homnist_features, per)?)
        }
        Pretraining::Autoencoder => None,
    };

    let report = HmnistReport {
        accuracy: homnist_accuracy,
        plain_accuracy,
        equivariance_error,
        steps: config.run.steps,
        classifier_steps: config.classifier.run.steps,
        wall_seconds: clock.elapsed().as_secs_f64(),
        pretrain_seconds,
        homnist_images: homnist_set.count,
        pretraining: config.pretraining,
        triplets: config.data.triplets,
        alpha: config.loss.alpha,
        beta: config.loss.beta,
    };
    write_report(run, &report)?;
    draw_figures(config, &frozen, &test, &homnist_set, run, &plain_device)?;
    Ok(report)
}

/// Redraws the figures of a finished run from its `model.safetensors`.
pub fn redraw_figures(
    config: &HmnistConfig,
    data_dir: &Path,
    run: &RunDir,
    device: DeviceKind,
) -> Result<()> {
    config.validate()?;
    let plain = device.plain()?;
    let model =
        crate::train::load_module(config.model.init(&plain), &run.path("model.safetensors"))?;
    let data = mnist::load(data_dir)?;
    let test = head_of(&data.test, 8, 1);
    let per = config.data.homnist_per_digit;
    let homnist_full = homnist(data_dir, &data.test, per, config.data.homnist_seed)?;
    let homnist_set = head_of(&homnist_full, 8, per);
    draw_figures(config, &model, &test, &homnist_set, run, &plain)
}

/// Example pairs, reconstructions through `tau`, eigenfunctions and `tau` maps as PNG.
fn draw_figures(
    config: &HmnistConfig,
    model: &ConvNiso,
    test: &Split,
    homnist: &Split,
    run: &RunDir,
    device: &Device,
) -> Result<()> {
    const EXAMPLES: usize = 8;
    let per = config.data.homnist_per_digit;
    let count = EXAMPLES.min(test.count);
    let sources: Vec<f32> = (0..count).flat_map(|i| test.image(i).to_vec()).collect();
    let targets: Vec<f32> = (0..count)
        .flat_map(|i| homnist.image(i * per).to_vec())
        .collect();
    let image_panel =
        |values: &[f32]| Panel::new(values.iter().map(|&v| f64::from(v)).collect(), SIDE, SIDE);
    let tensor_panels = |tensor: Tensor<4>| -> Vec<Panel> {
        let values = tensor
            .into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .expect("f32");
        values
            .chunks(SIDE * SIDE)
            .map(|c| image_panel(&c.iter().map(|v| (v + 1.0) / 2.0).collect::<Vec<_>>()))
            .collect()
    };

    let mut pairs: Vec<Panel> = sources.chunks(SIDE * SIDE).map(image_panel).collect();
    pairs.extend(targets.chunks(SIDE * SIDE).map(image_panel));
    save_panels(&run.path("pairs.png"), &pairs, count, 3)?;

    let x = images(sources, device);
    let hx = images(targets, device);
    match config.pretraining {
        Pretraining::Niso => {
            let spectrum = model.operator.spectrum()?;
            let side = config.model.latent_side();
            let a = model.coefficients(&spectrum, x);
            let b = model.coefficients(&spectrum, hx);
            let isometry = spectrum.isometry(a.clone(), b)?;
            let mapped = isometry.apply(a);
            let mut panels = pairs[count..].to_vec();
            panels.extend(tensor_panels(model.decode_coefficients(
                &spectrum,
                mapped,
                [side, side],
            )));
            save_panels(&run.path("reconstructions.png"), &panels, count, 3)?;

            let [n, k] = spectrum.basis.dims();
            let basis = spectrum
                .basis
                .clone()
                .into_data()
                .convert::<f64>()
                .try_into_vec::<f64>()
                .expect("f64");
            let eigenfunctions: Vec<Panel> = (0..k.min(16))
                .map(|c| Panel::new((0..n).map(|i| basis[i * k + c]).collect(), side, side))
                .collect();
            save_panels(&run.path("eigenfunctions.png"), &eigenfunctions, 8, 6)?;

            let tau = isometry
                .tau
                .into_data()
                .convert::<f64>()
                .try_into_vec::<f64>()
                .expect("f64");
            let maps: Vec<Panel> = tau
                .chunks(k * k)
                .take(4)
                .map(|t| Panel::new(t.to_vec(), k, k))
                .collect();
            save_panels(&run.path("tau.png"), &maps, 4, 6)?;
        }
        Pretraining::Autoencoder => {
            let mut panels = pairs[count..].to_vec();
            panels.extend(tensor_panels(
                model.decoder.decode(model.encoder.encode(hx)),
            ));
            save_panels(&run.path("reconstructions.png"), &panels, count, 3)?;
        }
    }
    Ok(())
}

/// Trains a head on cached features and scores it on two feature sets.
struct HeadScoring<'a> {
    trainer: &'a Trainer<'a>,
    train: &'a Features,
    scored: [&'a Features; 2],
    batch_size: usize,
    train_device: &'a Device,
    plain_device: &'a Device,
    run: &'a RunDir,
}

impl HeadScoring<'_> {
    /// Trains `head` (saved as `head.safetensors`) and returns its accuracy on each scored set.
    fn fit<M: Module>(
        &self,
        head: M,
        forward: impl Fn(&M, Tensor<3>) -> Tensor<2> + Copy,
    ) -> Result<[f64; 2]> {
        let head = self.trainer.fit(head, |head, _, rng| {
            classification_step(
                head,
                forward,
                self.train,
                self.batch_size,
                self.train_device,
                rng,
            )
        })?;
        save_module(&head, &self.run.path("head.safetensors"))?;
        let head = head.valid();
        Ok(self
            .scored
            .map(|features| accuracy(&head, forward, features, self.plain_device)))
    }
}

/// The NIso objective on two or three views.
fn niso_objective(
    model: &ConvNiso,
    views: Vec<Tensor<4>>,
    loss: &LossConfig,
    step: usize,
    rng: &mut impl Rng,
) -> Result<StepLoss> {
    let losses = model.views_step(views, loss, step, rng)?.losses;
    Ok(StepLoss {
        total: losses.total,
        terms: vec![
            ("reconstruction", losses.reconstruction),
            ("equivariance", losses.equivariance),
            ("multiplicity", losses.multiplicity),
        ],
    })
}

/// The baseline objective: reconstruct every view through the autoencoder.
fn autoencoder_objective(model: &ConvNiso, views: Vec<Tensor<4>>) -> Result<StepLoss> {
    let all = Tensor::cat(views, 0);
    let reconstruction = mean_abs(model.decoder.decode(model.encoder.encode(all.clone())), all);
    Ok(StepLoss {
        total: reconstruction.clone(),
        terms: vec![("reconstruction", reconstruction)],
    })
}

/// The frozen backbone that turns digits into features.
struct Backbone<'a> {
    model: &'a ConvNiso,
    pretraining: Pretraining,
    device: &'a Device,
}

impl Backbone<'_> {
    const CHUNK: usize = 128;

    /// `[count, k, d]` coefficients (NIso) or `[count, n, d]` latents (autoencoder).
    fn features(&self, split: &Split) -> Result<Features> {
        let spectrum = self.model.operator.spectrum()?;
        let mut features = Features::with_labels(split.labels.clone());
        for start in (0..split.count).step_by(Self::CHUNK) {
            let end = (start + Self::CHUNK).min(split.count);
            let batch = images(
                split.images[start * SIDE * SIDE..end * SIDE * SIDE].to_vec(),
                self.device,
            );
            features.push(match self.pretraining {
                Pretraining::Niso => self.model.coefficients(&spectrum, batch),
                Pretraining::Autoencoder => to_points(self.model.encoder.encode(batch)),
            });
        }
        Ok(features)
    }

    /// Mean `|tau a - b|^2 / |b|^2` over pairs (test digit, each of its homNIST warps), from
    /// the coefficients already computed for scoring.
    fn equivariance_error(&self, test: &Features, homnist: &Features, per: usize) -> Result<f64> {
        let spectrum = self.model.operator.spectrum()?;
        let mut total = 0.0;
        for start in (0..test.count()).step_by(Self::CHUNK) {
            let end = (start + Self::CHUNK).min(test.count());
            let sources: Vec<usize> = (start..end)
                .flat_map(|i| std::iter::repeat_n(i, per))
                .collect();
            let targets: Vec<usize> = (start * per..end * per).collect();
            let (a, _) = test.batch(&sources, self.device);
            let (b, _) = homnist.batch(&targets, self.device);
            let isometry = spectrum.isometry(a.clone(), b.clone())?;
            let residual = (isometry.apply(a) - b.clone())
                .square()
                .sum_dim(2)
                .sum_dim(1);
            let norm = b.square().sum_dim(2).sum_dim(1);
            total += crate::train::scalar(&(residual / norm).sum());
        }
        Ok(total / homnist.count().max(1) as f64)
    }
}

/// The paper's Table 1 row for this variant, if it has one.
fn paper_accuracy(report: &HmnistReport) -> Option<(&'static str, f64)> {
    match report.pretraining {
        Pretraining::Autoencoder => Some(("autoencoder + homography augmentation", 80.96)),
        Pretraining::Niso if report.triplets => Some(("NIso with triplets", 97.38)),
        Pretraining::Niso if report.alpha == 0.0 => Some(("NIso without L_E", 77.30)),
        Pretraining::Niso if report.beta == 0.0 => Some(("NIso without L_M", 45.27)),
        Pretraining::Niso => Some(("NIso", 92.52)),
    }
}

fn write_report(run: &RunDir, report: &HmnistReport) -> Result<()> {
    let json = serde_json::to_string_pretty(&json!(report)).expect("plain data");
    run.write("report.json", &json)?;

    let mut md = String::from("# Homography-perturbed MNIST\n\n");
    md.push_str("| quantity | this run | paper |\n| --- | --- | --- |\n");
    let paper = paper_accuracy(report);
    let paper_text = paper.map_or("-".into(), |(name, value)| format!("{value:.2} % ({name})"));
    md.push_str(&format!(
        "| homNIST accuracy | {:.2} % | {paper_text} |\n",
        100.0 * report.accuracy
    ));
    md.push_str(&format!(
        "| plain MNIST test accuracy | {:.2} % | - |\n",
        100.0 * report.plain_accuracy
    ));
    if let Some(error) = report.equivariance_error {
        md.push_str(&format!(
            "| equivariance error | {:.2} % | 4.06 % |\n",
            100.0 * error
        ));
    }
    md.push_str(&format!(
        "| pre-training steps | {} | 50,000 |\n| classifier steps | {} | 10,000-20,000 |\n",
        report.steps, report.classifier_steps
    ));
    md.push_str(&format!(
        "| wall time | {:.1} min (pre-training {:.1} min) | about 30 min on one A6000 |\n",
        report.wall_seconds / 60.0,
        report.pretrain_seconds / 60.0
    ));
    md.push_str(
        "\n![pairs](pairs.png)\n\nTest digits (top) and their homNIST warps (bottom).\n\n\
         ![reconstructions](reconstructions.png)\n\nhomNIST warps (top) and the decoded \
         `Phi tau a` of the plain digit (bottom; the autoencoder baseline decodes its input).\n\n",
    );
    if report.pretraining == Pretraining::Niso {
        md.push_str(
            "![eigenfunctions](eigenfunctions.png)\n\nThe first 16 learned eigenfunctions on \
             the latent grid.\n\n![tau](tau.png)\n\n`tau` of four test pairs.\n",
        );
    }
    md.push_str(&format!(
        "\nScored on {} homNIST images rebuilt from the MNIST test digits with the homNIST law \
         and a fixed seed: the same law as the original set, not the same pixels.\n",
        report.homnist_images
    ));
    run.write("report.md", &md)?;
    Ok(())
}
