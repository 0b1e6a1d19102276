//! Discovering the Laplacian of the torus and of the sphere (paper sec. 5.1).
//!
//! With the identity as encoder and decoder, the latent function is the signal itself. NIso
//! learns an operator on the grid from pairs of signals related by a symmetry of the domain
//! (circular shifts on a 16 x 16 periodic grid; rotations in SO(3) on a 16 x 16
//! Driscoll-Healy grid). Symmetries commute with the Laplacian, so the learned operator should
//! share its eigenspaces. The report measures that: principal angles between learned and true
//! eigenspaces, the spectrum up to scale, the block structure of `tau`, and on the sphere the
//! distance of `tau` to the Wigner-D matrix of the rotation.
//!
//! Signals are generated, never downloaded: on the torus Gaussian random fields with a `1/f^2`
//! power spectrum and a non-zero mean, shifted exactly on the grid; on the sphere random
//! band-limited functions (degrees `0..=max_degree`) evaluated exactly at `R^{-1} x`.

use std::time::Instant;

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use faer::Mat;
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::config::{OptimConfig, RunConfig};
use crate::device::DeviceKind;
use crate::error::{Error, Result};
use crate::geometry::spectral_metrics::{
    block_fraction, change_of_basis_error, least_squares_scale, match_eigenspaces,
    scaled_relative_errors,
};
use crate::geometry::sphere::{
    driscoll_healy, laplacian_eigenspaces, random_bandlimited, random_rotation, real_harmonics,
    rotated_signals, wigner_real, SphereGrid,
};
use crate::geometry::torus::{
    circular_shift, eigenspaces, random_fields, stencil_laplacian, Eigenspaces,
};
use crate::geometry::Amplitudes;
use crate::model::{LossConfig, Niso};
use crate::nn::Identity;
use crate::operator::{SpectralOperatorConfig, Spectrum};
use crate::report::{save_panels, Panel};
use crate::train::{save_module, step_rng, RunDir, StepLoss, Trainer};

/// Relative tolerance for grouping equal eigenvalues of the true Laplacian.
const EIGENVALUE_GROUPING_TOL: f64 = 1e-9;

/// Eigenspaces scored by principal angles (the six).
const SCORED_SPACES: usize = 6;

/// The domain.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Manifold {
    /// 16 x 16 periodic grid, circular shifts.
    Torus,
    /// 16 x 16 Driscoll-Healy grid, rotations.
    Sphere,
}

impl std::str::FromStr for Manifold {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        match text {
            "torus" => Ok(Manifold::Torus),
            "sphere" => Ok(Manifold::Sphere),
            other => Err(Error::config(
                "manifold",
                format!("expected `torus` or `sphere`, got `{other}`"),
            )),
        }
    }
}

/// Signal options.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LaplacianData {
    /// Side of the square grid (16 in the paper).
    pub grid: usize,
    /// Signals stacked as channels of one example (the paper: 258).
    pub channels: usize,
    /// Sphere: largest harmonic degree of the signals.
    #[serde(default = "default_degree")]
    pub max_degree: usize,
    /// Sphere: coefficient variance `(1 + l)^-decay`.
    #[serde(default = "default_decay")]
    pub decay: f64,
    /// Sphere: the decay at step 0; it moves linearly to `decay` over `decay_ramp_steps`
    /// (absent: `decay` throughout). A flat start (0) gives every degree the same power, so
    /// the basis captures all harmonics quickly; the steep final spectrum then lets spectral
    /// dropout order them by degree.
    #[serde(default)]
    pub decay_start: Option<f64>,
    /// Sphere: length of the decay ramp in steps.
    #[serde(default)]
    pub decay_ramp_steps: usize,
    /// Torus: the exponent `p` of the power spectrum `1/f^p` (2, that of natural images, when
    /// absent).
    #[serde(default = "default_power_exponent")]
    pub power_exponent: f64,
    /// Gaussian spectral coefficients (each signal's spectrum a noisy sample of the prescribed
    /// one) or exact amplitudes with random phases/directions (every signal has exactly the
    /// prescribed spectrum, which removes that sampling noise from the training signal).
    #[serde(default)]
    pub amplitudes: Amplitudes,
    /// Pairs drawn for evaluating `tau`.
    pub test_pairs: usize,
    /// Sphere: weight the reconstruction error of each grid point by its quadrature weight, so
    /// that the loss is an integral over the sphere; the equiangular grid crowds its points
    /// near the poles, and an unweighted loss ranks polar harmonics above equatorial ones of
    /// the same degree.
    #[serde(default)]
    pub area_weighted: bool,
}

fn default_degree() -> usize {
    7
}

fn default_decay() -> f64 {
    1.0
}

fn default_power_exponent() -> f64 {
    2.0
}

impl LaplacianData {
    /// The sphere's spectral decay at training step `step` (see [`LaplacianData::decay_start`]).
    pub fn decay_at(&self, step: usize) -> f64 {
        match self.decay_start {
            Some(start) if step < self.decay_ramp_steps => {
                start + (self.decay - start) * step as f64 / self.decay_ramp_steps as f64
            }
            _ => self.decay,
        }
    }
}

/// The whole Laplacian experiment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LaplacianConfig {
    /// The domain.
    pub manifold: Manifold,
    /// Length and batch.
    pub run: RunConfig,
    /// Optimiser.
    pub optim: OptimConfig,
    /// Operator rank and eigenvalue parameterisation.
    pub operator: SpectralOperatorConfig,
    /// Loss weights (the paper: alpha 0, beta 0.1 to 0.5).
    pub loss: LossConfig,
    /// Signals.
    pub data: LaplacianData,
}

/// The measured agreement with the true Laplacian (`report.json`).
#[derive(Clone, Debug, Serialize)]
pub struct LaplacianReport {
    /// The domain.
    pub manifold: Manifold,
    /// Mean principal-angle cosine per true eigenspace, in order (first six).
    pub eigenspace_cosines: Vec<f64>,
    /// Dimensions of those eigenspaces.
    pub eigenspace_dims: Vec<usize>,
    /// Relative eigenvalue error per eigenspace after one least-squares scale (first six; the
    /// zero eigenvalue is measured against the largest one).
    pub eigenvalue_rel_errors: Vec<f64>,
    /// The least-squares factor from learned to true eigenvalues.
    pub eigenvalue_scale: f64,
    /// Group sizes of the learned spectrum when split at its largest gaps (first six groups).
    pub learned_multiplicities: Vec<usize>,
    /// Whether they equal the true multiplicities.
    pub multiplicities_recovered: bool,
    /// Mean fraction of `|tau|^2` inside the blocks of the true multiplicities.
    pub tau_block_fraction: f64,
    /// Sphere: mean relative Frobenius error of `tau` against Wigner-D, per degree.
    pub wigner_rel_errors: Option<Vec<f64>>,
    /// Training steps.
    pub steps: usize,
    /// Wall time in seconds.
    pub wall_seconds: f64,
}

impl LaplacianConfig {
    /// Checks every section; the error names the field.
    pub fn validate(&self) -> Result<()> {
        self.run.validate("run")?;
        self.optim.validate("optim", self.run.steps)?;
        self.loss.validate("loss")?;
        let points = self.data.grid * self.data.grid;
        self.operator.validate("operator", points)?;
        for (name, value) in [
            ("data.grid", self.data.grid),
            ("data.channels", self.data.channels),
            ("data.test_pairs", self.data.test_pairs),
        ] {
            if value == 0 {
                return Err(Error::config(name, "must be at least 1"));
            }
        }
        for (name, value) in [
            ("data.decay", Some(self.data.decay)),
            ("data.decay_start", self.data.decay_start),
            ("data.power_exponent", Some(self.data.power_exponent)),
        ] {
            if let Some(value) = value.filter(|v| !v.is_finite() || *v < 0.0) {
                return Err(Error::config(
                    name,
                    format!("must be a finite number >= 0, got {value}"),
                ));
            }
        }
        if self.manifold == Manifold::Sphere && self.data.grid < 2 * (self.data.max_degree + 1) {
            return Err(Error::config(
                "data.grid",
                format!(
                    "a {0} x {0} grid cannot resolve degree {1}; use at least {2}",
                    self.data.grid,
                    self.data.max_degree,
                    2 * (self.data.max_degree + 1)
                ),
            ));
        }
        Ok(())
    }
}

/// The domain's ground truth and pair sampler.
enum Domain {
    Torus {
        side: usize,
        truth: Eigenspaces,
        laplacian: Mat<f64>,
    },
    Sphere {
        grid: SphereGrid,
        max_degree: usize,
        truth: Eigenspaces,
        harmonics: Mat<f64>,
    },
}

/// One pair of signal stacks (`n x channels` each) and, on the sphere, its rotation.
struct SignalPair {
    source: Mat<f64>,
    target: Mat<f64>,
    rotation: Option<[[f64; 3]; 3]>,
}

impl Domain {
    fn new(config: &LaplacianConfig) -> Result<Self> {
        let side = config.data.grid;
        match config.manifold {
            Manifold::Torus => {
                let laplacian = -stencil_laplacian(side, side);
                let ones = vec![1.0; side * side];
                let truth = eigenspaces(&laplacian, &ones, EIGENVALUE_GROUPING_TOL)?;
                Ok(Domain::Torus {
                    side,
                    truth,
                    laplacian,
                })
            }
            Manifold::Sphere => {
                let grid = driscoll_healy(side, side);
                let max_degree = config.data.max_degree;
                let truth = laplacian_eigenspaces(&grid, max_degree);
                let harmonics = real_harmonics(max_degree, &grid.points);
                Ok(Domain::Sphere {
                    grid,
                    max_degree,
                    truth,
                    harmonics,
                })
            }
        }
    }

    fn truth(&self) -> &Eigenspaces {
        match self {
            Domain::Torus { truth, .. } | Domain::Sphere { truth, .. } => truth,
        }
    }

    /// One pair of signal stacks drawn as at training step `step` (the sphere's decay ramp).
    fn sample(&self, data: &LaplacianData, step: usize, rng: &mut impl Rng) -> Result<SignalPair> {
        match self {
            Domain::Torus { side, .. } => {
                let source = random_fields(
                    *side,
                    *side,
                    data.channels,
                    data.power_exponent,
                    data.amplitudes,
                    rng,
                );
                let dy = rng.random_range(0..*side as i64) as isize;
                let dx = rng.random_range(0..*side as i64) as isize;
                let target = circular_shift(&source, *side, *side, dy, dx)?;
                Ok(SignalPair {
                    source,
                    target,
                    rotation: None,
                })
            }
            Domain::Sphere {
                grid,
                max_degree,
                harmonics,
                ..
            } => {
                let coefficients = random_bandlimited(
                    *max_degree,
                    data.channels,
                    data.decay_at(step),
                    data.amplitudes,
                    rng,
                );
                let rotation = random_rotation(rng);
                Ok(SignalPair {
                    source: harmonics * &coefficients,
                    target: rotated_signals(*max_degree, &coefficients, &rotation, &grid.points),
                    rotation: Some(rotation),
                })
            }
        }
    }

    /// The true operator on the grid (positive semi-definite), for the figure.
    fn operator(&self) -> Mat<f64> {
        match self {
            Domain::Torus { laplacian, .. } => laplacian.clone(),
            Domain::Sphere { grid, truth, .. } => {
                let n = grid.weights.len();
                let mut eigenvalues = Vec::new();
                for (space, &dim) in truth.dims.iter().enumerate() {
                    eigenvalues.extend(std::iter::repeat_n(truth.eigenvalues[space], dim));
                }
                let basis = &truth.basis;
                Mat::from_fn(n, n, |i, j| {
                    (0..basis.ncols())
                        .map(|c| basis[(i, c)] * eigenvalues[c] * basis[(j, c)])
                        .sum::<f64>()
                        * grid.weights[j]
                })
            }
        }
    }
}

/// Stacks `n x channels` host matrices into a `[batch, channels, side, side]` tensor of the
/// device's default float type.
fn stack(signals: &[&Mat<f64>], side: usize, device: &Device) -> Tensor<4> {
    let channels = signals[0].ncols();
    let mut values = Vec::with_capacity(signals.len() * channels * side * side);
    for signal in signals {
        for channel in 0..channels {
            for point in 0..side * side {
                values.push(signal[(point, channel)] as f32);
            }
        }
    }
    Tensor::from_data(
        TensorData::new(values, [signals.len(), channels, side, side]),
        device,
    )
}

type OperatorOnly = Niso<Identity, Identity>;

/// Trains the operator and writes `report.json`, `report.md` and figures into `run`.
pub fn run(
    config: &LaplacianConfig,
    run: &RunDir,
    device: DeviceKind,
    progress: bool,
) -> Result<LaplacianReport> {
    config.validate()?;
    let clock = Instant::now();
    let domain = Domain::new(config)?;
    let side = config.data.grid;

    let train_device = device.autodiff()?;
    train_device.seed(config.run.seed);
    let model: OperatorOnly = Niso {
        encoder: Identity,
        decoder: Identity,
        operator: config.operator.init(side * side, &train_device),
    };
    let trainer = Trainer {
        run,
        phase: "operator",
        run_config: &config.run,
        optim_config: &config.optim,
        progress,
        stop_at: None,
    };
    let pixel_weights = match &domain {
        Domain::Sphere { grid, .. } if config.data.area_weighted => {
            let mean = grid.weights.iter().sum::<f64>() / grid.weights.len() as f64;
            let weights: Vec<f32> = grid.weights.iter().map(|w| (w / mean) as f32).collect();
            Some(Tensor::<4>::from_data(
                TensorData::new(weights, [1, 1, side, side]),
                &train_device,
            ))
        }
        _ => None,
    };
    let model = trainer.fit(model, |model: &OperatorOnly, step, rng| {
        let pairs = (0..config.run.batch_size)
            .map(|_| domain.sample(&config.data, step, rng))
            .collect::<Result<Vec<_>>>()?;
        let sources: Vec<&Mat<f64>> = pairs.iter().map(|p| &p.source).collect();
        let targets: Vec<&Mat<f64>> = pairs.iter().map(|p| &p.target).collect();
        let x = stack(&sources, side, &train_device);
        let tx = stack(&targets, side, &train_device);
        let losses = model
            .weighted_views_step(vec![x, tx], pixel_weights.clone(), &config.loss, step, rng)?
            .losses;
        Ok(StepLoss {
            total: losses.total,
            terms: vec![
                ("reconstruction", losses.reconstruction),
                ("multiplicity", losses.multiplicity),
            ],
        })
    })?;
    save_module(&model, &run.path("operator.safetensors"))?;

    let plain = device.plain()?;
    let model = model.valid();
    let spectrum = model.operator.spectrum()?;
    let mut report = score(config, &spectrum, &plain, run)?;
    report.wall_seconds = clock.elapsed().as_secs_f64();
    write_report(run, &report)?;
    Ok(report)
}

/// Scores a spectrum against the ground truth of `config`'s domain and draws the figures into
/// `run` (`wall_seconds` is left at 0).
pub fn score(
    config: &LaplacianConfig,
    spectrum: &Spectrum,
    device: &Device,
    run: &RunDir,
) -> Result<LaplacianReport> {
    config.validate()?;
    let domain = Domain::new(config)?;
    evaluate(config, &domain, spectrum, device, run)
}

/// The true eigenvalues of `config`'s domain, one per basis column, and the basis (`n x k`,
/// the first `rank` columns) with the grid's mass: a perfect learned spectrum, for tests.
pub fn true_spectrum(config: &LaplacianConfig) -> Result<(Vec<f64>, Mat<f64>, Vec<f64>)> {
    let domain = Domain::new(config)?;
    let truth = domain.truth();
    let mut eigenvalues = Vec::new();
    for (space, &dim) in truth.dims.iter().enumerate() {
        eigenvalues.extend(std::iter::repeat_n(truth.eigenvalues[space], dim));
    }
    let rank = config.operator.rank.min(eigenvalues.len());
    eigenvalues.truncate(rank);
    let basis = truth.basis.subcols(0, rank).to_owned();
    let mass = match &domain {
        Domain::Torus { side, .. } => vec![1.0; side * side],
        Domain::Sphere { grid, .. } => grid.weights.clone(),
    };
    Ok((eigenvalues, basis, mass))
}

/// Host copies of a spectrum in `f64`.
struct HostSpectrum {
    basis: Mat<f64>,
    eigenvalues: Vec<f64>,
    mass: Vec<f64>,
}

fn host_values<const D: usize>(tensor: &Tensor<D>) -> Vec<f64> {
    tensor
        .clone()
        .into_data()
        .convert::<f64>()
        .try_into_vec::<f64>()
        .expect("converted to f64")
}

fn to_host(spectrum: &Spectrum) -> HostSpectrum {
    let [n, k] = spectrum.basis.dims();
    let basis = host_values(&spectrum.basis);
    HostSpectrum {
        basis: Mat::from_fn(n, k, |i, j| basis[i * k + j]),
        eigenvalues: host_values(&spectrum.eigenvalues),
        mass: host_values(&spectrum.mass),
    }
}

/// Sizes of the groups of `values` (ascending) when split at its `groups - 1` largest gaps.
fn split_at_largest_gaps(values: &[f64], groups: usize) -> Vec<usize> {
    let mut gaps: Vec<(f64, usize)> = values
        .windows(2)
        .enumerate()
        .map(|(index, pair)| (pair[1] - pair[0], index + 1))
        .collect();
    gaps.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut cuts: Vec<usize> = gaps
        .iter()
        .take(groups.saturating_sub(1))
        .map(|g| g.1)
        .collect();
    cuts.sort_unstable();
    cuts.push(values.len());
    let mut sizes = Vec::new();
    let mut start = 0;
    for cut in cuts {
        sizes.push(cut - start);
        start = cut;
    }
    sizes
}

fn evaluate(
    config: &LaplacianConfig,
    domain: &Domain,
    spectrum: &Spectrum,
    device: &Device,
    run: &RunDir,
) -> Result<LaplacianReport> {
    let side = config.data.grid;
    let host = to_host(spectrum);
    let truth = domain.truth();
    let k = host.eigenvalues.len();

    let spaces = SCORED_SPACES.min(truth.dims.len());
    let matches = match_eigenspaces(
        host.basis.as_ref(),
        &host.eigenvalues,
        truth,
        &host.mass,
        spaces,
    )?;
    let learned: Vec<f64> = matches.iter().map(|m| m.learned_mean_eigenvalue).collect();
    let true_values: Vec<f64> = matches.iter().map(|m| m.true_eigenvalue).collect();
    let scale = least_squares_scale(&learned, &true_values);
    let errors = scaled_relative_errors(&learned, &true_values);

    let needed: usize = truth.dims.iter().take(spaces).sum();
    let mut boundary = host.eigenvalues.clone();
    boundary.sort_by(f64::total_cmp);
    let learned_multiplicities = split_at_largest_gaps(&boundary[..needed.min(k)], spaces);
    let true_multiplicities: Vec<usize> = truth.dims.iter().take(spaces).copied().collect();

    let mut block_dims = Vec::new();
    let mut covered = 0;
    for &dim in &truth.dims {
        if covered + dim > k {
            break;
        }
        block_dims.push(dim);
        covered += dim;
    }

    let mut rng = step_rng(config.run.seed ^ 0x7e57, 0);
    let mut fractions = Vec::new();
    let mut wigner_sums: Vec<f64> = Vec::new();
    let mut tau_panels = Vec::new();
    for index in 0..config.data.test_pairs {
        let pair = domain.sample(&config.data, config.run.steps, &mut rng)?;
        let dtype = spectrum.basis.dtype();
        let points =
            |signal: &Mat<f64>| crate::model::to_points(stack(&[signal], side, device).cast(dtype));
        let a = spectrum.project(points(&pair.source));
        let b = spectrum.project(points(&pair.target));
        let tau = host_values(&spectrum.isometry(a, b)?.tau);
        let tau = Mat::from_fn(k, k, |i, j| tau[i * k + j]);
        fractions.push(block_fraction(tau.as_ref(), &block_dims));
        if index < 4 {
            tau_panels.push(Panel::new(
                (0..k * k).map(|i| tau[(i / k, i % k)]).collect(),
                k,
                k,
            ));
        }
        if let (
            Some(rotation),
            Domain::Sphere {
                max_degree, truth, ..
            },
        ) = (pair.rotation, domain)
        {
            let wigner = wigner_real(*max_degree, &rotation);
            let errors = change_of_basis_error(
                tau.as_ref(),
                host.basis.as_ref(),
                &host.eigenvalues,
                truth.basis.as_ref(),
                &host.mass,
                &wigner,
            )?;
            wigner_sums.resize(errors.len(), 0.0);
            for (sum, error) in wigner_sums.iter_mut().zip(errors) {
                *sum += error;
            }
        }
    }
    let pairs = config.data.test_pairs as f64;
    let wigner_rel_errors = match domain {
        Domain::Sphere { .. } => Some(wigner_sums.iter().map(|s| s / pairs).collect()),
        Domain::Torus { .. } => None,
    };

    draw_figures(run, domain, &host, side, tau_panels)?;

    Ok(LaplacianReport {
        manifold: config.manifold,
        eigenspace_cosines: matches.iter().map(|m| m.mean_cosine).collect(),
        eigenspace_dims: true_multiplicities.clone(),
        eigenvalue_rel_errors: errors,
        eigenvalue_scale: scale,
        multiplicities_recovered: learned_multiplicities == true_multiplicities,
        learned_multiplicities,
        tau_block_fraction: fractions.iter().sum::<f64>() / pairs,
        wigner_rel_errors,
        steps: config.run.steps,
        wall_seconds: 0.0,
    })
}

fn draw_figures(
    run: &RunDir,
    domain: &Domain,
    host: &HostSpectrum,
    side: usize,
    tau_panels: Vec<Panel>,
) -> Result<()> {
    let n = host.basis.nrows();
    let k = host.basis.ncols();
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by(|&a, &b| host.eigenvalues[a].total_cmp(&host.eigenvalues[b]));

    let learned = Mat::from_fn(n, n, |i, j| {
        order
            .iter()
            .map(|&c| host.basis[(i, c)] * host.eigenvalues[c] * host.basis[(j, c)])
            .sum::<f64>()
            * host.mass[j]
    });
    let to_panel = |m: &Mat<f64>| Panel::new((0..n * n).map(|i| m[(i / n, i % n)]).collect(), n, n);
    save_panels(
        &run.path("operator.png"),
        &[to_panel(&learned), to_panel(&domain.operator())],
        2,
        2,
    )?;

    let eigenfunctions: Vec<Panel> = order
        .iter()
        .take(32)
        .map(|&c| Panel::new((0..n).map(|i| host.basis[(i, c)]).collect(), side, side))
        .collect();
    save_panels(&run.path("eigenfunctions.png"), &eigenfunctions, 8, 6)?;
    save_panels(&run.path("tau.png"), &tau_panels, 4, 2)?;
    Ok(())
}

fn write_report(run: &RunDir, report: &LaplacianReport) -> Result<()> {
    run.write(
        "report.json",
        &serde_json::to_string_pretty(&json!(report)).expect("plain data"),
    )?;

    let name = match report.manifold {
        Manifold::Torus => "torus (16 x 16 periodic grid, circular shifts)",
        Manifold::Sphere => "sphere (16 x 16 Driscoll-Healy grid, rotations)",
    };
    let mut md = format!("# Discovering the Laplacian: {name}\n\n");
    md.push_str("| eigenspace | dim | mean principal cosine | eigenvalue rel. error |\n");
    md.push_str("| --- | --- | --- | --- |\n");
    for (index, ((cosine, dim), error)) in report
        .eigenspace_cosines
        .iter()
        .zip(&report.eigenspace_dims)
        .zip(&report.eigenvalue_rel_errors)
        .enumerate()
    {
        md.push_str(&format!(
            "| {} | {dim} | {cosine:.3} | {error:.3} |\n",
            index + 1
        ));
    }
    md.push_str(&format!(
        "\nLearned multiplicities (split at the largest gaps): {:?} (true {:?}): {}.\n\n",
        report.learned_multiplicities,
        report.eigenspace_dims,
        if report.multiplicities_recovered {
            "recovered"
        } else {
            "not recovered"
        }
    ));
    md.push_str(&format!(
        "Fraction of tau's energy inside the true blocks: {:.3}.\n\n",
        report.tau_block_fraction
    ));
    if let Some(errors) = &report.wigner_rel_errors {
        md.push_str("Relative error of tau against the Wigner-D matrix, per degree l: ");
        let list: Vec<String> = errors.iter().map(|e| format!("{e:.3}")).collect();
        md.push_str(&list.join(", "));
        md.push_str(".\n\n");
    }
    md.push_str(&format!(
        "{} steps, {:.1} min.\n\n![operator](operator.png)\n\n![eigenfunctions](eigenfunctions.png)\n\n\
         ![tau](tau.png)\n\nLeft: the learned operator `Phi Lambda Phi^T M`; right: the true \
         Laplacian. Eigenfunctions in ascending order of learned eigenvalue.\n",
        report.steps,
        report.wall_seconds / 60.0
    ));
    run.write("report.md", &md)?;
    Ok(())
}
