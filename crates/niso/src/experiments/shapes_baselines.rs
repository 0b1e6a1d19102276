//! The baselines of the conformal shape experiment, on the same split and test warps as NIso:
//!
//! - an autoencoder (NIso's encoder and decoder without the operator) trained to reconstruct
//!   Möbius-warped images, frozen, with an MLP head on its flattened latent;
//! - a CNN (the same encoder, global average pooling, an MLP) trained end to end with
//!   cross-entropy on Möbius-warped images.

use burn::module::Module;
use burn::tensor::{Int, Tensor, TensorData};

use crate::device::DeviceKind;
use crate::error::Result;
use crate::experiments::classify::cross_entropy;
use crate::experiments::shapes::{features, fit_head, Backbone, PhaseConfig, ShapesConfig};
use crate::experiments::shapes_views::{Item, Prepared};
use crate::loss::weighted_mean_abs;
use crate::model::ConvNiso;
use crate::nn::{ConvEncoder, Decode, Encode, Mlp, MlpConfig};
use crate::train::{save_module, RunDir, StepLoss, Trainer};

/// A plain CNN classifier: the encoder, global average pooling, an MLP.
#[derive(Module, Debug)]
pub struct CnnClassifier {
    encoder: ConvEncoder,
    head: Mlp,
}

impl CnnClassifier {
    /// `[batch, c, H, W] -> [batch, classes]`.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let latent = self.encoder.encode(images);
        let [batch, channels, _, _] = latent.dims();
        let pooled = latent.mean_dim(3).mean_dim(2).reshape([batch, channels]);
        self.head.forward(pooled)
    }
}

/// The autoencoder + Möbius augmentation baseline with an MLP head on the flattened latent.
pub fn autoencoder_baseline(
    config: &ShapesConfig,
    phase: &PhaseConfig,
    prepared: &Prepared,
    run: &RunDir,
    device: DeviceKind,
    progress: bool,
) -> Result<f64> {
    let train_device = device.autodiff()?;
    let plain = device.plain()?;
    let weights = prepared.area_weights(&train_device);
    train_device.seed(phase.run.seed);
    let trainer = Trainer {
        run,
        phase: "autoencoder",
        run_config: &phase.run,
        optim_config: &phase.optim,
        progress,
        stop_at: None,
    };
    let model = trainer.fit(
        config.init_model(&train_device),
        |model: &ConvNiso, _, rng| {
            let (views, _) = prepared.warped_batch(phase.run.batch_size, 1, &train_device, rng);
            let images = views.into_iter().next().expect("one view");
            let decoded = model.decoder.decode(model.encoder.encode(images.clone()));
            // Times 2, on the scale of NIso's two-direction reconstruction loss.
            let reconstruction =
                weighted_mean_abs(decoded, images, Some(weights.clone())).mul_scalar(2.0);
            Ok(StepLoss {
                total: reconstruction.clone(),
                terms: vec![("reconstruction", reconstruction)],
            })
        },
    )?;
    let frozen = model.valid();
    let split = &config.split;
    let backbone = Backbone::Autoencoder(&frozen);
    let train = features(
        backbone,
        prepared,
        &prepared.train,
        split.head_views,
        split.seed,
        &plain,
    )?;
    let test = features(
        backbone,
        prepared,
        &prepared.test,
        split.test_views,
        split.seed,
        &plain,
    )?;
    let [n, d] = train.shape;
    let head_config = &config.classifier.phase;
    train_device.seed(head_config.run.seed);
    let head = MlpConfig {
        inputs: n * d,
        hidden: config.classifier.hidden.clone(),
        outputs: 1 + train.labels.iter().copied().max().unwrap_or(0) as usize,
    }
    .init(&train_device);
    let head_trainer = Trainer {
        run,
        phase: "head-autoencoder",
        run_config: &head_config.run,
        optim_config: &head_config.optim,
        progress,
        stop_at: None,
    };
    let accuracy = fit_head(
        &head_trainer,
        head,
        |head: &Mlp, x: Tensor<3>| {
            let batch = x.dims()[0];
            head.forward(x.reshape([batch, n * d]))
        },
        [&train, &test],
        [&train_device, &plain],
    )?;
    tracing::info!("autoencoder + augmentation accuracy {accuracy:.4}");
    Ok(accuracy)
}

/// The CNN classifier trained end to end on warped training images.
pub fn cnn_baseline(
    config: &ShapesConfig,
    phase: &PhaseConfig,
    prepared: &Prepared,
    classes: usize,
    run: &RunDir,
    device: DeviceKind,
    progress: bool,
) -> Result<f64> {
    let train_device = device.autodiff()?;
    let plain = device.plain()?;
    train_device.seed(phase.run.seed);
    let network = CnnClassifier {
        encoder: config.model.codec.init_encoder(&train_device),
        head: MlpConfig {
            inputs: config.model.codec.latent_channels,
            hidden: config.classifier.hidden.clone(),
            outputs: classes,
        }
        .init(&train_device),
    };
    let trainer = Trainer {
        run,
        phase: "cnn",
        run_config: &phase.run,
        optim_config: &phase.optim,
        progress,
        stop_at: None,
    };
    let network = trainer.fit(network, |network: &CnnClassifier, _, rng| {
        let (views, items) = prepared.warped_batch(phase.run.batch_size, 1, &train_device, rng);
        let labels: Vec<i64> = items.iter().map(|&(class, _)| class as i64).collect();
        let labels =
            Tensor::<1, Int>::from_data(TensorData::new(labels, [items.len()]), &train_device);
        let loss = cross_entropy(
            network.forward(views.into_iter().next().expect("one view")),
            labels,
        );
        Ok(StepLoss {
            total: loss.clone(),
            terms: vec![("cross_entropy", loss)],
        })
    })?;
    save_module(&network, &run.path("cnn.safetensors"))?;
    let network = network.valid();

    const CHUNK: usize = 32;
    let split = &config.split;
    let jobs: Vec<(Item, usize)> = prepared
        .test
        .iter()
        .flat_map(|&item| (0..split.test_views).map(move |view| (item, view)))
        .collect();
    let mut correct = 0usize;
    for chunk in jobs.chunks(CHUNK) {
        let images: Vec<f32> = chunk
            .iter()
            .flat_map(|&(item, view)| prepared.view(item, view, split.seed))
            .collect();
        let predicted = network.forward(prepared.tensor(images, &plain)).argmax(1);
        let predicted = predicted
            .into_data()
            .convert::<i64>()
            .try_into_vec::<i64>()
            .expect("i64");
        correct += chunk
            .iter()
            .zip(predicted)
            .filter(|(&((class, _), _), p)| *p == class as i64)
            .count();
    }
    let accuracy = correct as f64 / jobs.len().max(1) as f64;
    tracing::info!("CNN + augmentation accuracy {accuracy:.4}");
    Ok(accuracy)
}
