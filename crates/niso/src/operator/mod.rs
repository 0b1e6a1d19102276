//! The learned spectral operator `Omega = Phi Lambda Phi^T M` and the isometry solve.
//!
//! Parameters (paper sec. 3): a mass vector `m` (`M = diag(m^2 + eps)`), a raw basis `phi`
//! (`n x k`) and raw eigenvalues `lam` (`k`). Each training step turns them into a
//! [`Spectrum`]: the `M`-orthonormal basis nearest to `phi` and ascending eigenvalues. Latent
//! functions `z` (`[batch, n, d]`) are projected to spectral coefficients `Phi^T M z`
//! (`[batch, k, d]`, paper eq. 6), mapped by an [`Isometry`] `tau` (paper eq. 8) and unprojected
//! with `Phi`.

mod isometry;
mod spectral;

pub use isometry::Isometry;
pub use spectral::{EigenInit, SpectralOperator, SpectralOperatorConfig, Spectrum, MASS_EPS};
