//! Camera pose from latent isometries (paper sec. 5.4), on rendered sequences with known
//! cameras ([`crate::data::scenes`]) in place of CO3D.
//!
//! 1. Pre-train NIso on frame pairs `(x_i, x_j)`, `j = i + skip + 1`, `skip` in `0..=max_skip`.
//! 2. Freeze it; per frame keep the spectral coefficients `a = Phi^T M E(x)` (`k x d`) and the
//!    raw latent `z = E(x)` (`n x d`).
//! 3. Pose head: an MLP on the flattened `tau = kappa(P . (b a^T))` (`k x k`) regresses the
//!    relative pose ([`regress`]). Baselines on the same pairs: the same head on
//!    `tau = kappa(z_j z_i^T)` (`n x n`, no `Phi`, `Lambda`, `M`: "without the operator"), and a
//!    CNN on the two frames stacked as 6 channels, trained end to end.
//! 4. On the held-out sequences, for each frame skip `s`, chain the predicted relative poses of
//!    frames `0, s + 1, 2 (s + 1), ...` into a trajectory and score it ([`metrics`]): absolute
//!    trajectory error after similarity alignment, relative rotation error, translation
//!    direction error.

pub mod metrics;
pub mod regress;

use std::path::Path;
use std::time::Instant;

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::config::{OptimConfig, RunConfig};
use crate::data::scenes::{self, SceneSet, ScenesConfig, Sequences};
use crate::device::DeviceKind;
use crate::error::{Error, Result};
use crate::linalg::{polar, PolarKind};
use crate::model::{ConvNiso, ConvNisoConfig, LossConfig};
use crate::nn::{ConvCodecConfig, ConvEncoder, Encode, Mlp, MlpConfig};
use crate::operator::Spectrum;
use crate::render::Pose;
use crate::report::trajectory::{save_trajectories, TrajectoryPanel};
use crate::train::{save_module, RunDir, StepLoss, Trainer};
use metrics::{score_trajectory, TrajectoryScores};
use regress::{frames_tensor, predict_poses, sample_pairs, FramePair, RegressionSetup};

/// The pose head.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeadConfig {
    /// Hidden widths of the MLP (also of the CNN baseline's readout).
    pub hidden: Vec<usize>,
    /// Weight of the scale-invariant translation term.
    pub translation_weight: f64,
    /// Length and batch.
    pub run: RunConfig,
    /// Optimiser.
    pub optim: OptimConfig,
}

/// Evaluation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvalConfig {
    /// Frame skips scored (the paper: 0, 1, 3, 5, 7, 9).
    pub skips: Vec<usize>,
}

/// Which baselines run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BaselinesConfig {
    /// The pose head on the orthogonal Procrustes map between raw encodings.
    pub procrustes: bool,
    /// The CNN on stacked frames.
    pub cnn: bool,
    /// The CNN's encoder (6 input channels).
    pub cnn_codec: ConvCodecConfig,
    /// The CNN's training length and batch.
    pub cnn_run: RunConfig,
    /// The CNN's optimiser.
    pub cnn_optim: OptimConfig,
}

/// The whole pose experiment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoseConfig {
    /// Largest frame skip of training pairs.
    pub max_skip: usize,
    /// Pre-training length and batch (pairs).
    pub run: RunConfig,
    /// Pre-training optimiser.
    pub optim: OptimConfig,
    /// Architecture.
    pub model: ConvNisoConfig,
    /// Loss weights.
    pub loss: LossConfig,
    /// The rendered sequences.
    pub data: ScenesConfig,
    /// The pose head.
    pub head: HeadConfig,
    /// Evaluation.
    pub eval: EvalConfig,
    /// Baselines.
    pub baselines: BaselinesConfig,
}

impl PoseConfig {
    /// Checks every section; the error names the field.
    pub fn validate(&self) -> Result<()> {
        self.run.validate("run")?;
        self.optim.validate("optim", self.run.steps)?;
        self.model.validate("model")?;
        self.loss.validate("loss")?;
        self.data.validate("data")?;
        self.head.run.validate("head.run")?;
        self.head
            .optim
            .validate("head.optim", self.head.run.steps)?;
        if self.model.image_size != self.data.side || self.model.codec.image_channels != 3 {
            return Err(Error::config(
                "model.image_size",
                format!(
                    "the frames are {0} x {0} RGB: image_size must be {0} and image_channels 3",
                    self.data.side
                ),
            ));
        }
        if self.max_skip + 1 >= self.data.frames {
            return Err(Error::config(
                "max_skip",
                format!(
                    "{} leaves no pair in {} frames",
                    self.max_skip, self.data.frames
                ),
            ));
        }
        if let Some(&skip) = self.eval.skips.iter().find(|&&s| s + 1 >= self.data.frames) {
            return Err(Error::config(
                "eval.skips",
                format!("skip {skip} leaves no pair in {} frames", self.data.frames),
            ));
        }
        if self.baselines.cnn {
            let b = &self.baselines;
            b.cnn_codec.validate("baselines.cnn_codec")?;
            b.cnn_run.validate("baselines.cnn_run")?;
            b.cnn_optim
                .validate("baselines.cnn_optim", b.cnn_run.steps)?;
            if b.cnn_codec.image_channels != 2 * 3 {
                return Err(Error::config(
                    "baselines.cnn_codec.image_channels",
                    "the CNN sees two RGB frames stacked: 6 channels",
                ));
            }
        }
        Ok(())
    }
}

/// Scores of one method at one frame skip, averaged over the held-out sequences.
#[derive(Clone, Debug, Serialize)]
pub struct SkipScores {
    /// Frames skipped between consecutive poses of the trajectory.
    pub skip: usize,
    /// Absolute trajectory error after similarity alignment (scene units; objects have radius 1).
    pub ate: f64,
    /// Mean relative rotation error, degrees.
    pub rotation_error_deg: f64,
    /// Mean relative translation direction error, degrees (NaN, written `null`, for a method
    /// that predicts no translation).
    pub translation_direction_error_deg: f64,
}

/// The numbers of a finished run (`report.json`).
#[derive(Clone, Debug, Serialize)]
pub struct PoseReport {
    /// NIso: the head on the spectral `tau`.
    pub niso: Vec<SkipScores>,
    /// The head on the Procrustes map between raw encodings.
    pub procrustes: Option<Vec<SkipScores>>,
    /// The CNN on stacked frames.
    pub cnn: Option<Vec<SkipScores>>,
    /// The reference of a still camera (every relative pose the identity): its ATE is the RMS
    /// spread of the true camera centres, its rotation error the true rotation between frames.
    pub still: Vec<SkipScores>,
    /// Pre-training steps.
    pub steps: usize,
    /// Head steps.
    pub head_steps: usize,
    /// Training and held-out sequences, frames per sequence.
    pub sequences: [usize; 3],
    /// Held-out objects.
    pub test_objects: Vec<String>,
    /// Seconds to load or render the scenes.
    pub data_seconds: f64,
    /// Pre-training seconds.
    pub pretrain_seconds: f64,
    /// Wall time of the whole run in seconds.
    pub wall_seconds: f64,
}

/// Per-frame features of a split: `[frames, rows, columns]` row major.
struct FrameFeatures {
    values: Vec<f32>,
    rows: usize,
    columns: usize,
    frames_per_sequence: usize,
}

impl FrameFeatures {
    /// The features of the first and second frames of `pairs` as two `[batch, rows, columns]`
    /// tensors.
    fn pair_tensors(&self, pairs: &[FramePair], device: &Device) -> [Tensor<3>; 2] {
        let size = self.rows * self.columns;
        let gather = |frame_of: fn(&FramePair) -> usize| {
            let mut values = Vec::with_capacity(pairs.len() * size);
            for pair in pairs {
                let index = pair.sequence * self.frames_per_sequence + frame_of(pair);
                values.extend_from_slice(&self.values[index * size..(index + 1) * size]);
            }
            Tensor::from_data(
                TensorData::new(values, [pairs.len(), self.rows, self.columns]),
                device,
            )
        };
        [gather(|p| p.first), gather(|p| p.second)]
    }
}

/// How `tau` is formed from per-frame features.
enum TauKind<'a> {
    /// `kappa(P . (b a^T))` in the learned eigenbasis.
    Spectral(&'a Spectrum),
    /// `kappa(z_j z_i^T)` between raw latents.
    Raw,
}

/// The flattened maps `tau` of `pairs` (`[batch, rows^2]`), computed on `plain` and moved to
/// `device`.
fn tau_inputs(
    features: &FrameFeatures,
    kind: &TauKind,
    pairs: &[FramePair],
    plain: &Device,
    device: &Device,
) -> Result<Tensor<2>> {
    let [a, b] = features.pair_tensors(pairs, plain);
    let tau = match kind {
        TauKind::Spectral(spectrum) => spectrum.isometry(a, b)?.tau,
        TauKind::Raw => polar(b.matmul(a.swap_dims(1, 2)), PolarKind::Special)?,
    };
    let rows = features.rows;
    Ok(Tensor::<3>::from_data(tau.into_data(), device).reshape([pairs.len(), rows * rows]))
}

/// The CNN baseline: an encoder on two stacked frames and an MLP readout.
#[derive(Module, Debug)]
pub struct PairCnn {
    encoder: ConvEncoder,
    readout: Mlp,
}

impl PairCnn {
    /// `[batch, 9]` pose outputs for pairs of frames of `split`.
    fn forward(&self, split: &Sequences, pairs: &[FramePair], device: &Device) -> Tensor<2> {
        let firsts: Vec<_> = pairs.iter().map(|p| (p.sequence, p.first)).collect();
        let seconds: Vec<_> = pairs.iter().map(|p| (p.sequence, p.second)).collect();
        let stacked = Tensor::cat(
            vec![
                frames_tensor(split, &firsts, device),
                frames_tensor(split, &seconds, device),
            ],
            1,
        );
        let latent = self.encoder.encode(stacked);
        let [batch, channels, height, width] = latent.dims();
        self.readout
            .forward(latent.reshape([batch, channels * height * width]))
    }
}

/// Runs the whole experiment and writes `report.json`, `report.md` and figures into `run`.
pub fn run(
    config: &PoseConfig,
    scenes_dir: &Path,
    mesh_dir: &Path,
    run: &RunDir,
    device: DeviceKind,
    progress: bool,
) -> Result<PoseReport> {
    config.validate()?;
    let clock = Instant::now();
    let set = scenes::load_or_build(&config.data, scenes_dir, mesh_dir)?;
    let data_seconds = clock.elapsed().as_secs_f64();
    scenes::save_preview(&set.test, 4, 8, 3, &run.path("frames.png"))?;

    let train_device = device.autodiff()?;
    train_device.seed(config.run.seed);
    let model = config.model.init(&train_device);
    let trainer = Trainer {
        run,
        phase: "pretrain",
        run_config: &config.run,
        optim_config: &config.optim,
        progress,
        stop_at: None,
    };
    let model = trainer.fit(model, |model: &ConvNiso, step, rng| {
        niso_objective(model, &set.train, config, &train_device, step, rng)
    })?;
    save_module(&model, &run.path("model.safetensors"))?;
    let pretrain_seconds = clock.elapsed().as_secs_f64() - data_seconds;

    let plain = device.plain()?;
    let frozen = model.valid();
    let spectrum = frozen.operator.spectrum()?;
    let [train_coefficients, train_latents] =
        frame_features(&frozen, &spectrum, &set.train, &plain);
    let [test_coefficients, test_latents] = frame_features(&frozen, &spectrum, &set.test, &plain);

    let scorer = Scorer {
        config,
        set: &set,
        run,
        progress,
        plain: &plain,
        device,
    };
    let niso = scorer.tau_head(
        "head",
        &train_coefficients,
        &test_coefficients,
        &TauKind::Spectral(&spectrum),
    )?;
    let procrustes = if config.baselines.procrustes {
        Some(scorer.tau_head("procrustes", &train_latents, &test_latents, &TauKind::Raw)?)
    } else {
        None
    };
    let cnn = if config.baselines.cnn {
        Some(scorer.cnn()?)
    } else {
        None
    };

    let still = scorer.evaluate(|pairs| Ok(vec![Pose::IDENTITY; pairs.len()]))?;
    let report = PoseReport {
        niso: niso.iter().map(|(scores, _)| scores.clone()).collect(),
        procrustes: procrustes.map(|all| all.into_iter().map(|(s, _)| s).collect()),
        cnn: cnn.map(|all| all.into_iter().map(|(s, _)| s).collect()),
        still: still.into_iter().map(|(s, _)| s).collect(),
        steps: config.run.steps,
        head_steps: config.head.run.steps,
        sequences: [set.train.count(), set.test.count(), set.test.frames],
        test_objects: config.data.test_objects.clone(),
        data_seconds,
        pretrain_seconds,
        wall_seconds: clock.elapsed().as_secs_f64(),
    };
    draw_trajectories(&niso, run)?;
    write_report(run, &report)?;
    Ok(report)
}

/// The NIso objective on a batch of frame pairs.
fn niso_objective(
    model: &ConvNiso,
    split: &Sequences,
    config: &PoseConfig,
    device: &Device,
    step: usize,
    rng: &mut impl Rng,
) -> Result<StepLoss> {
    let pairs = sample_pairs(split, config.run.batch_size, config.max_skip, rng);
    let firsts: Vec<_> = pairs.iter().map(|p| (p.sequence, p.first)).collect();
    let seconds: Vec<_> = pairs.iter().map(|p| (p.sequence, p.second)).collect();
    let x = frames_tensor(split, &firsts, device);
    let tx = frames_tensor(split, &seconds, device);
    let losses = model.pair_step(x, tx, &config.loss, step, rng)?.losses;
    Ok(StepLoss {
        total: losses.total,
        terms: vec![
            ("reconstruction", losses.reconstruction),
            ("equivariance", losses.equivariance),
            ("multiplicity", losses.multiplicity),
        ],
    })
}

/// Spectral coefficients `[frames, k, d]` and raw latents `[frames, n, d]` of every frame.
fn frame_features(
    model: &ConvNiso,
    spectrum: &Spectrum,
    split: &Sequences,
    device: &Device,
) -> [FrameFeatures; 2] {
    const CHUNK: usize = 64;
    let frames: Vec<(usize, usize)> = (0..split.count())
        .flat_map(|s| (0..split.frames).map(move |f| (s, f)))
        .collect();
    let mut outputs = [(Vec::new(), 0, 0), (Vec::new(), 0, 0)];
    for chunk in frames.chunks(CHUNK) {
        let latent = model.encode(frames_tensor(split, chunk, device));
        let coefficients = spectrum.project(latent.clone());
        for (out, tensor) in outputs.iter_mut().zip([coefficients, latent]) {
            let [_, rows, columns] = tensor.dims();
            out.1 = rows;
            out.2 = columns;
            out.0.extend(
                tensor
                    .into_data()
                    .convert::<f32>()
                    .try_into_vec::<f32>()
                    .expect("f32"),
            );
        }
    }
    outputs.map(|(values, rows, columns)| FrameFeatures {
        values,
        rows,
        columns,
        frames_per_sequence: split.frames,
    })
}

/// Trains regressors and scores them on the held-out sequences.
struct Scorer<'a> {
    config: &'a PoseConfig,
    set: &'a SceneSet,
    run: &'a RunDir,
    progress: bool,
    plain: &'a Device,
    device: DeviceKind,
}

/// Per-skip scores with the per-sequence trajectories behind them.
type Scored = Vec<(SkipScores, Vec<TrajectoryScores>)>;

impl Scorer<'_> {
    /// The pose head on `tau` formed from `train` / `test` features, saved as
    /// `<phase>.safetensors`.
    fn tau_head(
        &self,
        phase: &str,
        train: &FrameFeatures,
        test: &FrameFeatures,
        kind: &TauKind,
    ) -> Result<Scored> {
        let head_config = &self.config.head;
        let device = self.device.autodiff()?;
        device.seed(head_config.run.seed);
        let head = MlpConfig {
            inputs: train.rows * train.rows,
            hidden: head_config.hidden.clone(),
            outputs: 9,
        }
        .init(&device);
        let setup = RegressionSetup {
            trainer: Trainer {
                run: self.run,
                phase,
                run_config: &head_config.run,
                optim_config: &head_config.optim,
                progress: self.progress,
                stop_at: None,
            },
            split: &self.set.train,
            max_skip: self.config.max_skip,
            translation_weight: head_config.translation_weight,
        };
        let head = setup.fit(head, &device, |head: &Mlp, pairs, device| {
            Ok(head.forward(tau_inputs(train, kind, pairs, self.plain, device)?))
        })?;
        save_module(&head, &self.run.path(&format!("{phase}.safetensors")))?;
        let head = head.valid();
        self.evaluate(|pairs| {
            predict_poses(&head, pairs, self.plain, |head: &Mlp, pairs, device| {
                Ok(head.forward(tau_inputs(test, kind, pairs, self.plain, device)?))
            })
        })
    }

    /// The CNN baseline, trained end to end on stacked frames.
    fn cnn(&self) -> Result<Scored> {
        let b = &self.config.baselines;
        let device = self.device.autodiff()?;
        device.seed(b.cnn_run.seed);
        let side = self.config.data.side / b.cnn_codec.downsampling();
        let model = PairCnn {
            encoder: b.cnn_codec.init_encoder(&device),
            readout: MlpConfig {
                inputs: b.cnn_codec.latent_channels * side * side,
                hidden: self.config.head.hidden.clone(),
                outputs: 9,
            }
            .init(&device),
        };
        let setup = RegressionSetup {
            trainer: Trainer {
                run: self.run,
                phase: "cnn",
                run_config: &b.cnn_run,
                optim_config: &b.cnn_optim,
                progress: self.progress,
                stop_at: None,
            },
            split: &self.set.train,
            max_skip: self.config.max_skip,
            translation_weight: self.config.head.translation_weight,
        };
        let train = &self.set.train;
        let model = setup.fit(model, &device, |model: &PairCnn, pairs, device| {
            Ok(model.forward(train, pairs, device))
        })?;
        save_module(&model, &self.run.path("cnn.safetensors"))?;
        let model = model.valid();
        self.evaluate(|pairs| {
            predict_poses(
                &model,
                pairs,
                self.plain,
                |model: &PairCnn, pairs, device| Ok(model.forward(&self.set.test, pairs, device)),
            )
        })
    }

    /// Scores relative-pose predictions on the held-out sequences at every skip.
    fn evaluate(&self, predict: impl Fn(&[FramePair]) -> Result<Vec<Pose>>) -> Result<Scored> {
        let test = &self.set.test;
        let mut scored = Vec::new();
        for &skip in &self.config.eval.skips {
            let frames = subsampled(test.frames, skip);
            let pairs: Vec<FramePair> = (0..test.count())
                .flat_map(|sequence| {
                    frames.windows(2).map(move |w| FramePair {
                        sequence,
                        first: w[0],
                        second: w[1],
                    })
                })
                .collect();
            let predicted = predict(&pairs)?;
            let steps = frames.len() - 1;
            let trajectories: Vec<TrajectoryScores> = (0..test.count())
                .map(|sequence| {
                    let truth: Vec<Pose> =
                        frames.iter().map(|&f| test.poses[sequence][f]).collect();
                    score_trajectory(&predicted[sequence * steps..(sequence + 1) * steps], &truth)
                })
                .collect();
            let mean = |f: fn(&TrajectoryScores) -> f64| {
                trajectories.iter().map(f).sum::<f64>() / trajectories.len() as f64
            };
            let scores = SkipScores {
                skip,
                ate: mean(|t| t.ate),
                rotation_error_deg: mean(|t| t.rotation_error_deg),
                translation_direction_error_deg: mean(|t| t.translation_direction_error_deg),
            };
            tracing::info!(?scores, "scored");
            scored.push((scores, trajectories));
        }
        Ok(scored)
    }
}

/// Frames `0, s + 1, 2 (s + 1), ...` of a sequence of `frames`.
fn subsampled(frames: usize, skip: usize) -> Vec<usize> {
    (0..frames).step_by(skip + 1).collect()
}

/// Top views of four held-out trajectories at the smallest and the largest skip.
fn draw_trajectories(scored: &Scored, run: &RunDir) -> Result<()> {
    const SEQUENCES: usize = 4;
    let mut panels = Vec::new();
    for (_, trajectories) in [scored.first(), scored.last()].into_iter().flatten() {
        for trajectory in trajectories.iter().take(SEQUENCES) {
            panels.push(TrajectoryPanel {
                truth: trajectory.truth.iter().map(|p| [p[0], p[2]]).collect(),
                predicted: trajectory.aligned.iter().map(|p| [p[0], p[2]]).collect(),
            });
        }
    }
    save_trajectories(&run.path("trajectories.png"), &panels, SEQUENCES, 160)
}

fn write_report(run: &RunDir, report: &PoseReport) -> Result<()> {
    let json = serde_json::to_string_pretty(report).expect("plain data");
    run.write("report.json", &json)?;

    let mut md = String::from("# Camera pose from latent isometries\n\n");
    md.push_str(&format!(
        "{} training and {} held-out sequences of {} frames; held-out objects: {}.\n\n",
        report.sequences[0],
        report.sequences[1],
        report.sequences[2],
        report.test_objects.join(", ")
    ));
    let methods: Vec<(&str, &Vec<SkipScores>)> = [
        ("NIso (head on tau)", Some(&report.niso)),
        (
            "without the operator (Procrustes tau)",
            report.procrustes.as_ref(),
        ),
        ("CNN on stacked frames", report.cnn.as_ref()),
        ("still camera (reference)", Some(&report.still)),
    ]
    .into_iter()
    .filter_map(|(name, scores)| scores.map(|s| (name, s)))
    .collect();
    let skips: Vec<String> = report.niso.iter().map(|s| s.skip.to_string()).collect();
    let header = format!(
        "| method | {} |\n| --- |{}\n",
        skips.join(" | "),
        " --- |".repeat(skips.len())
    );
    let table = |title: &str, value: fn(&SkipScores) -> f64, digits: usize| {
        let mut text = format!("{title} (frame skip {}):\n\n{header}", skips.join(" / "));
        for (name, scores) in &methods {
            let cells: Vec<String> = scores
                .iter()
                .map(|s| match value(s) {
                    v if v.is_nan() => "-".to_string(),
                    v => format!("{v:.digits$}"),
                })
                .collect();
            text.push_str(&format!("| {name} | {} |\n", cells.join(" | ")));
        }
        text + "\n"
    };
    md.push_str(&table(
        "ATE after similarity alignment, scene units",
        |s| s.ate,
        3,
    ));
    md.push_str(
        "The still camera's ATE is the RMS spread of the true camera centres. Objects have \
         radius 1; the paper's CO3D numbers (NIso .023 / .031 / .044 / .057 / .071 / .081) are \
         in CO3D's own units and not comparable.\n\n",
    );
    md.push_str(&table(
        "Mean relative rotation error, degrees",
        |s| s.rotation_error_deg,
        2,
    ));
    md.push_str(&table(
        "Mean relative translation direction error, degrees",
        |s| s.translation_direction_error_deg,
        1,
    ));
    md.push_str(&format!(
        "Pre-training {} steps ({:.1} min), head {} steps, data {:.1} min, total {:.1} min.\n\n",
        report.steps,
        report.pretrain_seconds / 60.0,
        report.head_steps,
        report.data_seconds / 60.0,
        report.wall_seconds / 60.0
    ));
    md.push_str(
        "![frames](frames.png)\n\nHeld-out sequences, every third frame.\n\n\
         ![trajectories](trajectories.png)\n\nTop view (x, z in the first camera's frame) of \
         four held-out trajectories, true (black) and NIso's chained prediction after \
         alignment (red); top row the smallest skip, bottom row the largest.\n",
    );
    run.write("report.md", &md)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_configs_are_valid() {
        for text in [
            include_str!("../../../../../configs/pose-cpu.toml"),
            include_str!("../../../../../configs/pose.toml"),
        ] {
            let config: PoseConfig = crate::config::parse(text, &[]).expect("parses");
            config.validate().expect("validates");
        }
    }
}
