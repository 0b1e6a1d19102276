//! Networks: the invariant head is invariant to orthogonal maps on the spectral axis, the codec
//! has the documented shapes, spatial layer norm normalises, spectral dropout cuts suffixes.

mod common;

use burn::tensor::{DType, Device, Tensor, TensorData};
use common::*;
use niso::loss::{spectral_dropout_mask, DropoutCut};
use niso::nn::{ConvCodecConfig, Decode, Encode, InvariantHeadConfig, SpatialLayerNorm};
use rand::SeedableRng;

#[test]
fn invariant_head_ignores_orthogonal_maps_of_the_spectral_axis() {
    let device = Device::flex();
    let (batch, k, d) = (3, 8, 5);
    let head = InvariantHeadConfig {
        input_channels: d,
        channels: vec![6, 4],
        hidden: vec![16],
        classes: 10,
    }
    .init(&device);

    let coefficients = normal(batch * k * d, 1);
    let rotation = random_rotation(k, 2);
    let rotated: Vec<f64> = coefficients
        .chunks(k * d)
        .flat_map(|c| matmul(&rotation, c, k, k, d))
        .collect();
    let tensor = |values: Vec<f64>| {
        Tensor::<3>::from_data(
            TensorData::new(values, [batch, k, d]),
            (&device, DType::F32),
        )
    };

    let plain = values(&head.forward(tensor(coefficients)));
    let turned = values(&head.forward(tensor(rotated)));
    let scale = plain.iter().fold(1e-3, |m: f64, v| m.max(v.abs()));
    let error = max_abs_diff(&plain, &turned) / scale;
    assert!(
        error < 1e-4,
        "head output changed by {error:e} under a rotation"
    );
}

#[test]
fn codec_maps_images_to_the_latent_grid_and_back() {
    let device = Device::flex();
    let config = ConvCodecConfig {
        image_channels: 1,
        stem_channels: 8,
        channels: vec![8, 16],
        depths: vec![1, 2],
        latent_channels: 6,
    };
    config.validate("model.codec").unwrap();
    let images = Tensor::<4>::zeros([2, 1, 12, 12], &device);
    let latent = config.init_encoder(&device).encode(images);
    assert_eq!(latent.dims(), [2, 6, 6, 6]);
    let decoded = config.init_decoder(&device).decode(latent);
    assert_eq!(decoded.dims(), [2, 1, 12, 12]);
}

#[test]
fn spatial_layer_norm_gives_zero_mean_unit_variance_per_channel() {
    let device = Device::flex();
    let norm = SpatialLayerNorm::new(3, &device);
    let x = Tensor::<4>::from_data(
        TensorData::new(
            normal(2 * 3 * 25, 3)
                .iter()
                .map(|v| 5.0 * v + 2.0)
                .collect(),
            [2, 3, 5, 5],
        ),
        (&device, DType::F32),
    );
    let y = values(&norm.forward(x).reshape([6, 25]));
    for channel in y.chunks(25) {
        let mean = channel.iter().sum::<f64>() / 25.0;
        let variance = channel.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 25.0;
        assert!(
            mean.abs() < 1e-5 && (variance - 1.0).abs() < 1e-3,
            "{mean} {variance}"
        );
    }
}

#[test]
fn spectral_dropout_zeroes_a_suffix_of_some_signals() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(4);
    let (batch, k, groups) = (100, 16, 2);
    for cut in [DropoutCut::Uniform, DropoutCut::LogUniform] {
        let mask = spectral_dropout_mask(batch, k, groups, cut, &mut rng);
        assert_eq!(mask.shape, [batch, k, groups]);
        let mut dropped = 0;
        for example in 0..batch {
            for group in 0..groups {
                let row: Vec<f32> = (0..k)
                    .map(|j| mask.values[(example * k + j) * groups + group])
                    .collect();
                let first_zero = row.iter().position(|&m| m == 0.0).unwrap_or(k);
                assert!(first_zero >= 1, "the first coefficient is never dropped");
                assert!(
                    row[first_zero..].iter().all(|&m| m == 0.0),
                    "dropout must cut a suffix"
                );
                dropped += usize::from(first_zero < k);
            }
        }
        assert!(
            (60..140).contains(&dropped),
            "{cut:?}: about half the signals, got {dropped} of {}",
            batch * groups
        );
    }
}

#[test]
fn log_uniform_cuts_favour_low_positions() {
    let (batch, k) = (4000, 64);
    let first_cuts = |cut| {
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        let mask = spectral_dropout_mask(batch, k, 1, cut, &mut rng);
        mask.values.chunks(k).filter(|row| row[1] == 0.0).count() as f64
    };
    // Uniform: P(cut = 1) = 1/2 * 1/63; log-uniform: 1/2 * ln 2 / ln 64 = 1/12.
    let uniform = first_cuts(DropoutCut::Uniform) / batch as f64;
    let log_uniform = first_cuts(DropoutCut::LogUniform) / batch as f64;
    assert!(uniform < 0.02, "uniform share of cut 1: {uniform}");
    assert!(
        (0.06..0.11).contains(&log_uniform),
        "log-uniform share of cut 1: {log_uniform}"
    );
}
