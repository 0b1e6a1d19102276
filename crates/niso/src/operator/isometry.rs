//! A batch of isometries between spectral coefficients.

use burn::tensor::Tensor;

/// One rotation `tau` in `SO(k)` per example (`[batch, k, k]`), mapping the spectral
/// coefficients of `x` to those of `Tx`. Its transpose is its inverse.
#[derive(Clone, Debug)]
pub struct Isometry {
    /// `tau`, `[batch, k, k]`.
    pub tau: Tensor<3>,
}

impl Isometry {
    /// `tau a`: maps coefficients of `x` (`[batch, k, d]`) to those of `Tx`.
    pub fn apply(&self, coefficients: Tensor<3>) -> Tensor<3> {
        self.tau.clone().matmul(coefficients)
    }

    /// `tau^T b`: maps coefficients of `Tx` back to those of `x`.
    pub fn apply_inverse(&self, coefficients: Tensor<3>) -> Tensor<3> {
        self.tau.clone().swap_dims(1, 2).matmul(coefficients)
    }

    /// The composition `then . self` (first `self`, then `then`), e.g. `sigma tau` for triplets.
    pub fn then(&self, then: &Isometry) -> Isometry {
        Isometry {
            tau: then.tau.clone().matmul(self.tau.clone()),
        }
    }

    /// The inverse map `tau^T`.
    pub fn inverse(&self) -> Isometry {
        Isometry {
            tau: self.tau.clone().swap_dims(1, 2),
        }
    }
}
