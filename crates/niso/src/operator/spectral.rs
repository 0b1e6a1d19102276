//! The operator's parameters and the spectrum derived from them.

use burn::module::{Module, Param};
use burn::tensor::{Device, Distribution, Tensor};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::linalg::{polar, PolarKind};
use crate::operator::Isometry;

/// Added to `m^2` so that the mass matrix stays positive definite (paper sec. 3).
pub const MASS_EPS: f64 = 1e-8;

/// Added inside the square root of the multiplicity loss so that its gradient is finite at zero.
const MULTIPLICITY_EPS: f64 = 1e-8;

/// How the eigenvalues are parameterised and initialised.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EigenInit {
    /// `Lambda = cumsum(lam^2)` with `lam ~ N(0, (1/k)^2)`: ascending by construction.
    #[default]
    Cumulative,
    /// `Lambda = sort(lam^2)` with `lam ~ N(0, 1)`; the basis columns are permuted alike.
    Clustered,
}

/// Sizes and initialisation of a [`SpectralOperator`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpectralOperatorConfig {
    /// Rank `k <= n` of the operator.
    pub rank: usize,
    /// Eigenvalue parameterisation.
    #[serde(default)]
    pub eigen_init: EigenInit,
    /// Fixed factor `s` in `Lambda = s f(lam)`: a larger `s` spreads the initial spectrum and
    /// lets the optimiser move eigenvalues proportionally faster (default 1, the paper's).
    #[serde(default = "unit_scale")]
    pub eigen_scale: f64,
}

fn unit_scale() -> f64 {
    1.0
}

/// The learned operator `Omega = Phi Lambda Phi^T M` (paper sec. 3), as raw parameters.
#[derive(Module, Debug)]
pub struct SpectralOperator {
    /// `m` (`[n]`), initialised to 1; the mass matrix is `diag(m^2 + MASS_EPS)`.
    pub mass: Param<Tensor<1>>,
    /// `phi` (`[n, k]`), initialised `N(0, 0.01^2)`; the eigenbasis is its `M`-polar factor.
    pub basis: Param<Tensor<2>>,
    /// `lam` (`[k]`); see [`EigenInit`].
    pub eigenvalues: Param<Tensor<1>>,
    /// Eigenvalue parameterisation.
    #[module(skip)]
    pub eigen_init: EigenInit,
    /// Fixed factor `s` in `Lambda = s f(lam)`.
    #[module(skip)]
    pub eigen_scale: f64,
}

/// The operator's eigen-decomposition at the current parameters.
#[derive(Clone, Debug)]
pub struct Spectrum {
    /// Diagonal of `M` (`[n]`), positive.
    pub mass: Tensor<1>,
    /// `Phi` (`[n, k]`) with `Phi^T M Phi = I`.
    pub basis: Tensor<2>,
    /// `Lambda` (`[k]`), ascending.
    pub eigenvalues: Tensor<1>,
    /// `s` in the mask `P_ij = exp(-s |Lambda_i - Lambda_j|)`: 1 for the operator's own mask, less
    /// during a mask warm-up (see [`LossConfig`](crate::model::LossConfig)).
    pub mask_sharpness: f64,
}

impl SpectralOperatorConfig {
    /// Checks that `1 <= rank <= points`; the error names the field.
    pub fn validate(&self, prefix: &str, points: usize) -> Result<()> {
        if !(self.eigen_scale.is_finite() && self.eigen_scale > 0.0) {
            return Err(Error::config(
                format!("{prefix}.eigen_scale"),
                format!("must be a finite number > 0, got {}", self.eigen_scale),
            ));
        }
        if self.rank == 0 || self.rank > points {
            return Err(Error::config(
                format!("{prefix}.rank"),
                format!(
                    "must be in 1..={points} (the number of latent points), got {}",
                    self.rank
                ),
            ));
        }
        Ok(())
    }

    /// Initialises the parameters for `points` latent points on `device` (seed the device
    /// first for reproducibility).
    pub fn init(&self, points: usize, device: &Device) -> SpectralOperator {
        let (n, k) = (points, self.rank);
        let lam_std = match self.eigen_init {
            EigenInit::Cumulative => 1.0 / k as f64,
            EigenInit::Clustered => 1.0,
        };

        SpectralOperator {
            mass: Param::from_tensor(Tensor::ones([n], device)),
            basis: Param::from_tensor(Tensor::random(
                [n, k],
                Distribution::Normal(0.0, 0.01),
                device,
            )),
            eigenvalues: Param::from_tensor(Tensor::random(
                [k],
                Distribution::Normal(0.0, lam_std),
                device,
            )),
            eigen_init: self.eigen_init,
            eigen_scale: self.eigen_scale,
        }
    }
}

impl SpectralOperator {
    /// Number of latent points `n`.
    pub fn points(&self) -> usize {
        self.basis.dims()[0]
    }

    /// Rank `k`.
    pub fn rank(&self) -> usize {
        self.basis.dims()[1]
    }

    /// Computes `M`, `Phi = M^{-1/2} polar(M^{1/2} phi)` and ascending `Lambda`.
    pub fn spectrum(&self) -> Result<Spectrum> {
        let [n, k] = self.basis.dims();
        let mass = self.mass.val().square().add_scalar(MASS_EPS);
        let root = mass.clone().sqrt().reshape([n, 1]);

        let weighted = (self.basis.val() * root.clone()).reshape([1, n, k]);
        let mut basis = polar(weighted, PolarKind::Thin)?.reshape([n, k]) / root;

        let squared = self.eigenvalues.val().square().mul_scalar(self.eigen_scale);
        let eigenvalues = match self.eigen_init {
            EigenInit::Cumulative => squared.cumsum(0),
            EigenInit::Clustered => {
                let (sorted, order) = squared.sort_with_indices(0);
                basis = basis.select(1, order);
                sorted
            }
        };

        Ok(Spectrum {
            mass,
            basis,
            eigenvalues,
            mask_sharpness: 1.0,
        })
    }
}

impl Spectrum {
    /// Rank `k`.
    pub fn rank(&self) -> usize {
        self.basis.dims()[1]
    }

    /// Number of latent points `n`.
    pub fn points(&self) -> usize {
        self.basis.dims()[0]
    }

    /// Spectral coefficients `Phi^T M z` (paper eq. 6): `[batch, n, d] -> [batch, k, d]`.
    pub fn project(&self, latent: Tensor<3>) -> Tensor<3> {
        let [n, k] = self.basis.dims();
        let weighted = self.basis.clone() * self.mass.clone().reshape([n, 1]);
        weighted.transpose().reshape([1, k, n]).matmul(latent)
    }

    /// Latent functions `Phi c`: `[batch, k, d] -> [batch, n, d]`.
    pub fn unproject(&self, coefficients: Tensor<3>) -> Tensor<3> {
        let [n, k] = self.basis.dims();
        self.basis.clone().reshape([1, n, k]).matmul(coefficients)
    }

    /// The mask `P_ij = exp(-s |Lambda_i - Lambda_j|)` (`[k, k]`) of paper eq. 8, with the
    /// sharpness `s` = [`Spectrum::mask_sharpness`] (the paper: 1).
    pub fn mask(&self) -> Tensor<2> {
        let k = self.rank();
        let column = self.eigenvalues.clone().reshape([k, 1]);
        let row = self.eigenvalues.clone().reshape([1, k]);
        (column - row).abs().mul_scalar(-self.mask_sharpness).exp()
    }

    /// The isometry `tau = kappa(P . (b a^T))` taking coefficients `a` to `b` (paper eq. 8).
    ///
    /// `a` and `b` are `[batch, k, d]`; the result holds one `k x k` rotation per example.
    pub fn isometry(&self, a: Tensor<3>, b: Tensor<3>) -> Result<Isometry> {
        let k = self.rank();
        let correlation = b.matmul(a.swap_dims(1, 2));
        let masked = correlation * self.mask().reshape([1, k, k]);
        Ok(Isometry {
            tau: polar(masked, PolarKind::Special)?,
        })
    }

    /// The multiplicity loss `L_M = sqrt(sum Delta^2 + eps) / k` with `Delta = diag(P 1) - P`
    /// (paper eq. 11): small when the eigenvalues are far apart.
    pub fn multiplicity_loss(&self) -> Tensor<1> {
        let k = self.rank();
        let mask = self.mask();
        let degree = mask.clone().sum_dim(1);
        let identity = Tensor::<2>::eye(k, &mask.device()).cast(mask.dtype());
        let laplacian = identity * degree - mask;
        laplacian
            .square()
            .sum()
            .add_scalar(MULTIPLICITY_EPS)
            .sqrt()
            .div_scalar(k as f64)
    }
}
