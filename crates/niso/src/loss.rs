//! The NIso losses (paper eqs. 9-11) and spectral dropout (paper sec. 4.2).
//!
//! All distances are mean absolute errors, as in the authors' code. For a pair with spectral
//! coefficients `a` (of `x`) and `b` (of `Tx`) and isometry `tau`:
//!
//! - equivariance `L_E = |tau a - b| + |tau^T b - a|`,
//! - reconstruction `L_R = |D(Phi tau a) - Tx| + |D(Phi tau^T b) - x|`,
//! - multiplicity `L_M` (see [`Spectrum::multiplicity_loss`](crate::operator::Spectrum)).

use burn::tensor::{Tensor, TensorData};
use rand::Rng;
use serde::{Deserialize, Serialize};

/// Mean absolute difference of two tensors of the same shape, as a one-element tensor.
pub fn mean_abs<const D: usize>(lhs: Tensor<D>, rhs: Tensor<D>) -> Tensor<1> {
    (lhs - rhs).abs().mean()
}

/// Mean absolute difference of two image batches `[batch, c, H, W]`, each pixel's error
/// multiplied by `pixel_weights` (`[1, 1, H, W]`, e.g. the area element of a spherical grid)
/// when given.
pub fn weighted_mean_abs(
    lhs: Tensor<4>,
    rhs: Tensor<4>,
    pixel_weights: Option<Tensor<4>>,
) -> Tensor<1> {
    let error = (lhs - rhs).abs();
    match pixel_weights {
        Some(weights) => (error * weights).mean(),
        None => error.mean(),
    }
}

/// Mean squared difference of two tensors of the same shape, as a one-element tensor.
pub fn mean_square<const D: usize>(lhs: Tensor<D>, rhs: Tensor<D>) -> Tensor<1> {
    (lhs - rhs).square().mean()
}

/// Smallest cut: the first coefficient (the lowest eigenvalue) is never dropped.
const MIN_CUT: usize = 1;

/// How spectral dropout draws the index `i` from which coefficients are zeroed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DropoutCut {
    /// `i` uniform in `1..k`, as in the paper: each boundary between neighbouring positions is
    /// trained by a `1/(k - 1)` share of the cuts.
    #[default]
    Uniform,
    /// `log i` uniform in `[log 1, log k)`: the boundary after position `c` gets a share of about
    /// `log(1 + 1/c) / log k`, so the lowest eigenfunctions are ordered far sooner.
    LogUniform,
}

impl DropoutCut {
    /// One cut in `1..rank` (`rank >= 2`).
    fn draw(self, rank: usize, rng: &mut impl Rng) -> usize {
        match self {
            DropoutCut::Uniform => rng.random_range(MIN_CUT..rank),
            DropoutCut::LogUniform => {
                let exponent = rng.random_range(0.0..(rank as f64).ln());
                (exponent.exp().floor() as usize).clamp(MIN_CUT, rank - 1)
            }
        }
    }
}

/// A spectral dropout mask of shape `[batch, k, groups]`: `groups` is 1 (one cut per example)
/// or the latent channel count `d` (one cut per channel), broadcast over `[batch, k, d]`.
#[derive(Clone, Debug, PartialEq)]
pub struct SpectralMask {
    /// Ones and zeros, row-major over `shape`.
    pub values: Vec<f32>,
    /// `[batch, k, groups]`.
    pub shape: [usize; 3],
}

/// Spectral dropout (paper sec. 4.2): each of `batch * groups` masked signals, with probability
/// 1/2, has its coefficients `j >= i` zeroed for one cut `1 <= i < k` drawn by `cut`
/// (0-based: rows `i..k` of `[batch, k, d]`).
///
/// The same mask must be applied to both mapped coefficients of a pair; call it once and pass
/// the result to [`apply_spectral_mask`] for each.
pub fn spectral_dropout_mask(
    batch: usize,
    rank: usize,
    groups: usize,
    cut: DropoutCut,
    rng: &mut impl Rng,
) -> SpectralMask {
    let mut values = vec![1.0f32; batch * rank * groups];
    for example in 0..batch {
        for group in 0..groups {
            if rank < 2 || !rng.random_bool(0.5) {
                continue;
            }
            let first = cut.draw(rank, rng);
            for j in first..rank {
                values[(example * rank + j) * groups + group] = 0.0;
            }
        }
    }
    SpectralMask {
        values,
        shape: [batch, rank, groups],
    }
}

/// Multiplies `[batch, k, d]` coefficients by a dropout mask (`[batch, k, 1]` or
/// `[batch, k, d]`).
pub fn apply_spectral_mask(coefficients: Tensor<3>, mask: &SpectralMask) -> Tensor<3> {
    let device = coefficients.device();
    let data = TensorData::new(mask.values.clone(), mask.shape);
    let dtype = coefficients.dtype();
    coefficients * Tensor::from_data(data, (&device, dtype))
}
