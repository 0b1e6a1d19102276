//! The training loop: resuming from a checkpoint reproduces an uninterrupted run, a NaN stops
//! training and keeps the last good checkpoint, and configs name their wrong fields.

use std::path::PathBuf;

use burn::tensor::{Device, Tensor, TensorData};
use niso::config::{OptimConfig, RunConfig};
use niso::model::{LossConfig, Niso};
use niso::nn::Identity;
use niso::operator::{EigenInit, SpectralOperatorConfig};
use niso::train::{load_module, save_module, RunDir, StepLoss, Trainer};
use niso::Error;
use rand::Rng;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("niso-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn configs(steps: usize) -> (RunConfig, OptimConfig) {
    let run = RunConfig {
        seed: 7,
        steps,
        batch_size: 4,
        log_every: 1,
        checkpoint_every: 2,
    };
    let optim = OptimConfig {
        lr: 1e-2,
        warmup_start_lr: 1e-4,
        warmup_steps: 2,
        final_lr: 1e-3,
        weight_decay: 1e-4,
        grad_clip: Some(1.0),
    };
    (run, optim)
}

type OperatorOnly = Niso<Identity, Identity>;

fn model(device: &Device) -> OperatorOnly {
    Niso {
        encoder: Identity,
        decoder: Identity,
        operator: SpectralOperatorConfig {
            rank: 6,
            eigen_init: EigenInit::Clustered,
            eigen_scale: 1.0,
        }
        .init(16, device),
    }
}

/// Random signals on a 4x4 grid and their circular shifts by a random offset.
fn objective(
    model: &OperatorOnly,
    step: usize,
    rng: &mut rand::rngs::StdRng,
) -> niso::Result<StepLoss> {
    let device = model.operator.basis.device();
    let (batch, channels) = (4, 3);
    let signals: Vec<f32> = (0..batch * channels * 16)
        .map(|_| rng.random_range(-1.0..1.0))
        .collect();
    let shift = rng.random_range(0..4);
    let mut shifted = signals.clone();
    for (index, value) in shifted.iter_mut().enumerate() {
        let (image, pixel) = (index / 16, index % 16);
        let (row, column) = (pixel / 4, pixel % 4);
        *value = signals[image * 16 + row * 4 + (column + shift) % 4];
    }
    let tensor = |values: Vec<f32>| {
        Tensor::<4>::from_data(TensorData::new(values, [batch, channels, 4, 4]), &device)
    };
    let loss = LossConfig {
        alpha: 0.5,
        beta: 0.1,
        spectral_dropout: true,
        ..LossConfig::default()
    };
    let output = model.pair_step(tensor(signals), tensor(shifted), &loss, step, rng)?;
    Ok(StepLoss {
        total: output.losses.total,
        terms: vec![("reconstruction", output.losses.reconstruction)],
    })
}

fn parameters(model: &OperatorOnly) -> Vec<f32> {
    let op = &model.operator;
    [
        op.mass.val(),
        op.basis.val().reshape([-1]),
        op.eigenvalues.val(),
    ]
    .into_iter()
    .flat_map(|t| {
        t.into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .unwrap()
    })
    .collect()
}

#[test]
fn resume_reproduces_an_uninterrupted_run() {
    let device = Device::flex().autodiff();
    let dir = scratch("resume");
    let initial = dir.join("initial.safetensors");
    std::fs::create_dir_all(&dir).unwrap();
    save_module(&model(&device), &initial).unwrap();
    let (run, optim) = configs(6);
    let fresh = || load_module(model(&device), &initial).unwrap();

    let straight_dir = RunDir::create(dir.join("straight")).unwrap();
    let trainer = Trainer {
        run: &straight_dir,
        phase: "pretrain",
        run_config: &run,
        optim_config: &optim,
        progress: false,
        stop_at: None,
    };
    let straight = trainer.fit(fresh(), objective).unwrap();

    let resumed_dir = RunDir::create(dir.join("resumed")).unwrap();
    let interrupted = Trainer {
        run: &resumed_dir,
        stop_at: Some(3),
        ..trainer
    };
    interrupted.fit(fresh(), objective).unwrap();
    let resumed = Trainer {
        run: &resumed_dir,
        stop_at: None,
        ..interrupted
    }
    .fit(fresh(), objective)
    .unwrap();

    let (a, b) = (parameters(&straight), parameters(&resumed));
    let initial_params = parameters(&fresh());
    assert_ne!(a, initial_params, "training must change the parameters");
    let difference = a
        .iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max);
    assert!(difference == 0.0, "resumed run differs by {difference:e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_non_finite_loss_stops_with_the_last_checkpoint() {
    let device = Device::flex().autodiff();
    let dir = scratch("nan");
    let run_dir = RunDir::create(&dir).unwrap();
    let (run, optim) = configs(8);
    let trainer = Trainer {
        run: &run_dir,
        phase: "pretrain",
        run_config: &run,
        optim_config: &optim,
        progress: false,
        stop_at: None,
    };
    let poisoned = |model: &OperatorOnly, step: usize, rng: &mut rand::rngs::StdRng| {
        let mut loss = objective(model, step, rng)?;
        if step == 5 {
            loss.total = loss.total.mul_scalar(f64::NAN);
        }
        Ok(loss)
    };

    let error = trainer.fit(model(&device), poisoned).unwrap_err();
    match &error {
        Error::NonFinite {
            step, checkpoint, ..
        } => {
            assert_eq!(*step, 5);
            assert!(checkpoint.ends_with("step-00000004"), "{checkpoint}");
            assert!(PathBuf::from(checkpoint).join("model.safetensors").exists());
        }
        other => panic!("expected a non-finite error, got {other}"),
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn config_errors_name_the_field() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../configs/hmnist.toml"
    ))
    .unwrap();

    type Sections = niso::experiments::hmnist::HmnistConfig;

    let parsed: Sections = niso::config::parse(&text, &[]).unwrap();
    parsed.validate().unwrap();

    let unknown = niso::config::parse::<Sections>(&text, &["optim.learning_rate=1e-3".into()]);
    let message = unknown
        .expect_err("an unknown field is an error")
        .to_string();
    assert!(message.contains("learning_rate"), "{message}");

    let mistyped = niso::config::parse::<Sections>(&text, &["run.steps=\"many\"".into()]);
    let message = mistyped
        .expect_err("a string for a count is an error")
        .to_string();
    assert!(message.contains("run.steps"), "{message}");

    let parsed: Sections = niso::config::parse(&text, &["model.codec.depths=[3]".into()]).unwrap();
    let message = parsed.model.validate("model").unwrap_err().to_string();
    assert!(message.contains("model.codec.depths"), "{message}");

    let parsed: Sections =
        niso::config::parse(&text, &["model.operator.rank=1000".into()]).unwrap();
    let message = parsed.model.validate("model").unwrap_err().to_string();
    assert!(message.contains("model.operator.rank"), "{message}");
}

#[test]
fn pixel_weights_scale_the_reconstruction_error_and_nothing_else() {
    let device = Device::flex();
    device.seed(3);
    let model = model(&device);
    let images = |seed: u64| {
        let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(seed);
        let values: Vec<f32> = (0..2 * 3 * 16)
            .map(|_| rng.random_range(-1.0..1.0))
            .collect();
        Tensor::<4>::from_data(TensorData::new(values, [2, 3, 4, 4]), &device)
    };
    let loss = LossConfig::default();
    let step = |weights: Option<Tensor<4>>| {
        let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(0);
        let losses = model
            .weighted_views_step(vec![images(1), images(2)], weights, &loss, 0, &mut rng)
            .unwrap()
            .losses;
        let scalar = |t: Tensor<1>| t.into_data().convert::<f64>().try_to_vec::<f64>().unwrap()[0];
        (scalar(losses.reconstruction), scalar(losses.equivariance))
    };

    let (plain, plain_equivariance) = step(None);
    let (ones, _) = step(Some(Tensor::ones([1, 1, 4, 4], &device)));
    let (doubled, doubled_equivariance) = step(Some(Tensor::ones([1, 1, 4, 4], &device) * 2.0));
    assert!(
        (plain - ones).abs() < 1e-6,
        "unit weights: {plain} vs {ones}"
    );
    assert!(
        (2.0 * plain - doubled).abs() < 1e-5,
        "doubled weights: {doubled} vs 2 x {plain}"
    );
    assert_eq!(plain_equivariance, doubled_equivariance);

    // Weight on one pixel only: the loss is that pixel's share of the error.
    let mut single = vec![0.0f32; 16];
    single[5] = 16.0;
    let (one_pixel, _) = step(Some(Tensor::from_data(
        TensorData::new(single, [1, 1, 4, 4]),
        &device,
    )));
    assert!(one_pixel.is_finite() && (one_pixel - plain).abs() > 1e-6);
}

#[test]
fn pixel_weights_of_the_wrong_shape_are_rejected_with_the_shape() {
    let device = Device::flex();
    device.seed(3);
    let model = model(&device);
    let images = Tensor::<4>::zeros([2, 3, 4, 4], &device);
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(0);
    let error = model
        .weighted_views_step(
            vec![images.clone(), images],
            Some(Tensor::ones([1, 1, 4, 3], &device)),
            &LossConfig::default(),
            0,
            &mut rng,
        )
        .unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("pixel_weights") && message.contains("[1, 1, 4, 4]"),
        "{message}"
    );
}
