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

/// Mean absolute difference of two tensors of the same shape, as a one-element tensor.
pub fn mean_abs<const D: usize>(lhs: Tensor<D>, rhs: Tensor<D>) -> Tensor<1> {
    (lhs - rhs).abs().mean()
}

/// Mean squared difference of two tensors of the same shape, as a one-element tensor.
pub fn mean_square<const D: usize>(lhs: Tensor<D>, rhs: Tensor<D>) -> Tensor<1> {
    (lhs - rhs).square().mean()
}

/// Spectral dropout: each example, with probability 1/2, has its coefficients `j >= i` zeroed
/// for one random cut `1 < i <= k` (0-based: rows `i..k` of `[batch, k, d]`).
///
/// The same mask must be applied to both mapped coefficients of a pair; call
/// [`spectral_dropout_mask`] once and multiply.
pub fn spectral_dropout_mask(batch: usize, rank: usize, rng: &mut impl Rng) -> Vec<f32> {
    let mut mask = vec![1.0f32; batch * rank];
    for example in 0..batch {
        if rank < 2 || !rng.random_bool(0.5) {
            continue;
        }
        let cut = rng.random_range(1..rank);
        for j in cut..rank {
            mask[example * rank + j] = 0.0;
        }
    }
    mask
}

/// Multiplies `[batch, k, d]` coefficients by a `[batch * k]` dropout mask.
pub fn apply_spectral_mask(coefficients: Tensor<3>, mask: &[f32]) -> Tensor<3> {
    let [batch, k, _] = coefficients.dims();
    let device = coefficients.device();
    let mask = TensorData::new(mask.to_vec(), [batch, k, 1]);
    let dtype = coefficients.dtype();
    coefficients * Tensor::from_data(mask, (&device, dtype))
}
