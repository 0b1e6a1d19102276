//! The NIso model: encode, project, map, unproject, decode (paper secs. 3-4).
//!
//! [`Niso`] holds an encoder, a decoder and a [`SpectralOperator`]. Its pair step computes, for
//! a batch of pairs `(x, Tx)`, the spectral coefficients `a = Phi^T M E(x)` and
//! `b = Phi^T M E(Tx)`, the isometry `tau` between them, and the losses of paper eqs. 9-11.
//! Only the two mapped latents that the reconstruction loss needs are decoded, in one call.

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::loss::{
    apply_spectral_mask, mean_abs, spectral_dropout_mask, weighted_mean_abs, DropoutCut,
};
use crate::nn::{ConvCodecConfig, ConvDecoder, ConvEncoder, Decode, Encode};
use crate::operator::{Isometry, SpectralOperator, SpectralOperatorConfig, Spectrum};

/// Weights and switches of the NIso objective `L = L_R + alpha L_E + beta L_M`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LossConfig {
    /// Weight `alpha` of the equivariance loss.
    pub alpha: f64,
    /// Weight `beta` of the multiplicity loss.
    pub beta: f64,
    /// Spectral dropout on the mapped coefficients before unprojection (paper sec. 4.2).
    #[serde(default)]
    pub spectral_dropout: bool,
    /// How the dropout cut is drawn (the paper: uniform).
    #[serde(default)]
    pub dropout_cut: DropoutCut,
    /// One dropout cut per latent channel instead of one per example: with an identity encoder
    /// every channel is an independent signal, so this multiplies the cuts per step by `d`.
    #[serde(default)]
    pub dropout_per_channel: bool,
    /// Steps over which the mask sharpness `s` in `P_ij = exp(-s |Lambda_i - Lambda_j|)` ramps
    /// linearly from 0 to 1 (0: the paper's mask from the first step). While `s` is small, `tau`
    /// may mix any eigenfunctions and the multiplicity loss is flat, so spectral dropout can order
    /// the basis before the eigenvalues separate and lock each eigenfunction to its position.
    #[serde(default)]
    pub mask_warmup_steps: usize,
    /// Steps before the warm-up ramp during which `s = 0`: `tau` is the unmasked Procrustes
    /// solution. Even a slightly sharp mask keeps `tau` from mapping an eigenfunction onto
    /// shifted copies held at distant positions, and a column can then settle on content of
    /// almost no power (which the dropout gradient, proportional to that power, never moves
    /// again); with `s = 0` spectral dropout alone orders the basis.
    #[serde(default)]
    pub mask_hold_steps: usize,
}

impl Default for LossConfig {
    /// The paper's HMNIST weights (alpha 0.5, beta 0.1), no dropout, no mask warm-up.
    fn default() -> Self {
        LossConfig {
            alpha: 0.5,
            beta: 0.1,
            spectral_dropout: false,
            dropout_cut: DropoutCut::Uniform,
            dropout_per_channel: false,
            mask_warmup_steps: 0,
            mask_hold_steps: 0,
        }
    }
}

impl LossConfig {
    /// Checks the weights; the error names the field.
    pub fn validate(&self, prefix: &str) -> Result<()> {
        for (name, value) in [("alpha", self.alpha), ("beta", self.beta)] {
            if !(value.is_finite() && value >= 0.0) {
                return Err(Error::config(
                    format!("{prefix}.{name}"),
                    format!("must be a finite number >= 0, got {value}"),
                ));
            }
        }
        Ok(())
    }

    /// The mask sharpness at training step `step` (0-based): 0 for the first `mask_hold_steps`,
    /// then `min(1, (step - mask_hold_steps) / mask_warmup_steps)`.
    pub fn mask_sharpness(&self, step: usize) -> f64 {
        if step < self.mask_hold_steps {
            return 0.0;
        }
        let ramp = step - self.mask_hold_steps;
        if self.mask_warmup_steps == 0 {
            1.0
        } else {
            (ramp as f64 / self.mask_warmup_steps as f64).min(1.0)
        }
    }
}

/// The terms of the objective for one batch, as one-element tensors.
#[derive(Clone, Debug)]
pub struct PairLosses {
    /// `L_R + alpha L_E + beta L_M`.
    pub total: Tensor<1>,
    /// `L_R`.
    pub reconstruction: Tensor<1>,
    /// `L_E`.
    pub equivariance: Tensor<1>,
    /// `L_M`.
    pub multiplicity: Tensor<1>,
}

/// Everything a pair step computes, for losses and for inspection.
#[derive(Clone, Debug)]
pub struct PairOutput {
    /// The spectrum used.
    pub spectrum: Spectrum,
    /// Coefficients of `x`, `[batch, k, d]`.
    pub source: Tensor<3>,
    /// Coefficients of `Tx`, `[batch, k, d]`.
    pub target: Tensor<3>,
    /// The estimated isometry `x -> Tx`.
    pub isometry: Isometry,
    /// The losses.
    pub losses: PairLosses,
}

/// An autoencoder with a learned spectral operator on its latent space.
#[derive(Module, Debug)]
pub struct Niso<E, D> {
    /// Images `[batch, c, H, W]` to latents `[batch, d, h, w]`.
    pub encoder: E,
    /// Latents back to images.
    pub decoder: D,
    /// The operator on the `n = h * w` latent points.
    pub operator: SpectralOperator,
}

impl<E: Module + Encode, D: Module + Decode> Niso<E, D> {
    /// Latent functions as `[batch, n, d]` from images.
    pub fn encode(&self, images: Tensor<4>) -> Tensor<3> {
        to_points(self.encoder.encode(images))
    }

    /// Spectral coefficients `Phi^T M E(x)` (`[batch, k, d]`) of images.
    pub fn coefficients(&self, spectrum: &Spectrum, images: Tensor<4>) -> Tensor<3> {
        spectrum.project(self.encode(images))
    }

    /// Decodes coefficients `[batch, k, d]` on a latent grid `h x w` to images.
    pub fn decode_coefficients(
        &self,
        spectrum: &Spectrum,
        coefficients: Tensor<3>,
        grid: [usize; 2],
    ) -> Tensor<4> {
        self.decoder
            .decode(to_grid(spectrum.unproject(coefficients), grid))
    }

    /// The NIso step on a batch of pairs `(x, Tx)` (`[batch, c, H, W]` each).
    ///
    /// `step` (0-based) sets the mask sharpness ([`LossConfig::mask_sharpness`]); `rng` draws
    /// the spectral dropout masks when `config.spectral_dropout` is on.
    pub fn pair_step(
        &self,
        x: Tensor<4>,
        tx: Tensor<4>,
        config: &LossConfig,
        step: usize,
        rng: &mut impl Rng,
    ) -> Result<PairOutput> {
        self.views_step(vec![x, tx], config, step, rng)
    }

    /// The NIso step on pairs `(x, Tx)` or triplets `(x, Tx, T'Tx)` (paper eqs. 23-24).
    ///
    /// With three views the maps `tau` (view 0 to 1), `sigma` (1 to 2) and their composition
    /// `sigma tau` (0 to 2) all enter the losses, each term averaged over the pairs. The
    /// returned `source`, `target` and `isometry` are those of the first pair.
    pub fn views_step(
        &self,
        views: Vec<Tensor<4>>,
        config: &LossConfig,
        step: usize,
        rng: &mut impl Rng,
    ) -> Result<PairOutput> {
        self.weighted_views_step(views, None, config, step, rng)
    }

    /// [`Niso::views_step`] with the reconstruction error of every pixel weighted by
    /// `pixel_weights` (`[1, 1, H, W]`, mean 1), e.g. the area element of a spherical grid so
    /// that the loss measures the error on the sphere rather than on its over-sampled poles.
    pub fn weighted_views_step(
        &self,
        views: Vec<Tensor<4>>,
        pixel_weights: Option<Tensor<4>>,
        config: &LossConfig,
        step: usize,
        rng: &mut impl Rng,
    ) -> Result<PairOutput> {
        let count = views.len();
        if !(2..=3).contains(&count) {
            return Err(Error::Shape {
                op: "views_step",
                expected: "2 (pairs) or 3 (triplets) views".into(),
                got: vec![count],
            });
        }
        let [batch, _, image_height, image_width] = views[0].dims();
        if let Some(weights) = &pixel_weights {
            let dims = weights.dims();
            if dims != [1, 1, image_height, image_width] {
                return Err(Error::Shape {
                    op: "weighted_views_step (pixel_weights)",
                    expected: format!("[1, 1, {image_height}, {image_width}], one per pixel"),
                    got: dims.to_vec(),
                });
            }
        }
        let mut spectrum = self.operator.spectrum()?;
        spectrum.mask_sharpness = config.mask_sharpness(step);

        let latent = self.encoder.encode(Tensor::cat(views.clone(), 0));
        let [_, _, height, width] = latent.dims();
        let coefficients = spectrum.project(to_points(latent));
        let view: Vec<Tensor<3>> = (0..count)
            .map(|v| coefficients.clone().narrow(0, v * batch, batch))
            .collect();

        let first = spectrum.isometry(view[0].clone(), view[1].clone())?;
        let mut pairs = vec![(0, 1, first.clone())];
        if count == 3 {
            let second = spectrum.isometry(view[1].clone(), view[2].clone())?;
            pairs.push((0, 2, first.then(&second)));
            pairs.push((1, 2, second));
        }

        let mut equivariance = Vec::new();
        let mut mapped = Vec::new();
        let mut expected = Vec::new();
        for (i, j, isometry) in &pairs {
            let forward = isometry.apply(view[*i].clone());
            let backward = isometry.apply_inverse(view[*j].clone());
            equivariance.push(
                mean_abs(forward.clone(), view[*j].clone())
                    + mean_abs(backward.clone(), view[*i].clone()),
            );
            mapped.extend([forward, backward]);
            expected.extend([views[*j].clone(), views[*i].clone()]);
        }
        let pair_count = pairs.len() as f64;
        let equivariance = Tensor::cat(equivariance, 0).sum().div_scalar(pair_count);

        if config.spectral_dropout {
            let groups = if config.dropout_per_channel {
                coefficients.dims()[2]
            } else {
                1
            };
            let mask =
                spectral_dropout_mask(batch, spectrum.rank(), groups, config.dropout_cut, rng);
            mapped = mapped
                .into_iter()
                .map(|c| apply_spectral_mask(c, &mask))
                .collect();
        }
        let decoded = self.decode_coefficients(&spectrum, Tensor::cat(mapped, 0), [height, width]);
        let reconstruction =
            weighted_mean_abs(decoded, Tensor::cat(expected, 0), pixel_weights).mul_scalar(2.0);

        let multiplicity = spectrum.multiplicity_loss();
        let total = reconstruction.clone()
            + equivariance.clone().mul_scalar(config.alpha)
            + multiplicity.clone().mul_scalar(config.beta);

        Ok(PairOutput {
            spectrum,
            source: view[0].clone(),
            target: view[1].clone(),
            isometry: first,
            losses: PairLosses {
                total,
                reconstruction,
                equivariance,
                multiplicity,
            },
        })
    }
}

/// `[batch, d, h, w] -> [batch, n, d]` with `n = h * w` (row-major grid points).
pub fn to_points(latent: Tensor<4>) -> Tensor<3> {
    let [batch, channels, height, width] = latent.dims();
    latent
        .reshape([batch, channels, height * width])
        .swap_dims(1, 2)
}

/// `[batch, n, d] -> [batch, d, h, w]`, the inverse of [`to_points`].
pub fn to_grid(points: Tensor<3>, grid: [usize; 2]) -> Tensor<4> {
    let [batch, _, channels] = points.dims();
    points
        .swap_dims(1, 2)
        .reshape([batch, channels, grid[0], grid[1]])
}

/// A NIso model with the convolutional encoder and decoder.
pub type ConvNiso = Niso<ConvEncoder, ConvDecoder>;

/// The architecture of a convolutional NIso model on square images.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConvNisoConfig {
    /// Side of the (square) input images in pixels.
    pub image_size: usize,
    /// Encoder and decoder sizes.
    pub codec: ConvCodecConfig,
    /// Operator rank and eigenvalue parameterisation.
    pub operator: SpectralOperatorConfig,
}

impl ConvNisoConfig {
    /// Side of the latent grid.
    pub fn latent_side(&self) -> usize {
        self.image_size / self.codec.downsampling()
    }

    /// Checks the sizes; the error names the field.
    pub fn validate(&self, prefix: &str) -> Result<()> {
        self.codec.validate(&format!("{prefix}.codec"))?;
        let factor = self.codec.downsampling();
        if self.image_size == 0 || !self.image_size.is_multiple_of(factor) {
            return Err(Error::config(
                format!("{prefix}.image_size"),
                format!(
                    "must be a positive multiple of {factor} (2^(levels - 1)), got {}",
                    self.image_size
                ),
            ));
        }
        let points = self.latent_side() * self.latent_side();
        self.operator
            .validate(&format!("{prefix}.operator"), points)
    }

    /// Builds the model on `device` (seed the device first for reproducibility).
    pub fn init(&self, device: &Device) -> ConvNiso {
        let side = self.latent_side();
        Niso {
            encoder: self.codec.init_encoder(device),
            decoder: self.codec.init_decoder(device),
            operator: self.operator.init(side * side, device),
        }
    }

    /// Floating-point operations of one forward pass of the encoder on one image plus the
    /// decoder on one latent (multiply-adds count two); the operator's share is negligible.
    pub fn forward_flops(&self) -> f64 {
        self.codec.forward_flops(self.image_size)
    }
}

#[cfg(test)]
mod tests {
    use super::LossConfig;

    #[test]
    fn mask_sharpness_holds_at_zero_then_ramps_to_one() {
        let config = LossConfig {
            mask_hold_steps: 100,
            mask_warmup_steps: 50,
            ..LossConfig::default()
        };
        let at = |step| config.mask_sharpness(step);
        assert_eq!((at(0), at(99)), (0.0, 0.0));
        assert_eq!((at(100), at(125), at(150), at(1000)), (0.0, 0.5, 1.0, 1.0));

        let paper = LossConfig::default();
        assert_eq!(
            (paper.mask_sharpness(0), paper.mask_sharpness(7)),
            (1.0, 1.0)
        );

        let hold_only = LossConfig {
            mask_hold_steps: 10,
            ..LossConfig::default()
        };
        assert_eq!(
            (hold_only.mask_sharpness(9), hold_only.mask_sharpness(10)),
            (0.0, 1.0)
        );
    }
}
