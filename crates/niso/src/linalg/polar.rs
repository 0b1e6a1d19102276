//! The orthogonal polar factor with its analytic gradient.
//!
//! For a batch of matrices `A = U S V^T` (thin SVD, `n >= k`), the polar factor is `Q = U V^T`:
//! the matrix with orthonormal columns nearest to `A` in the Frobenius norm. The *special*
//! variant (square `A`) flips the sign of the last singular pair when `det(U V^T) < 0`, so that
//! `Q` lies in `SO(k)`: it is `kappa` of paper eq. 8.
//!
//! # Gradient
//!
//! The SVD runs on the CPU in `f64` through faer and its factors enter the graph as constants.
//! The derivative of `Q` is then attached as the exact linearisation of the polar map around
//! `A` (its tangent map, a linear function of `dA` built from `U`, `S`, `V`):
//!
//! ```text
//! Y  = U^T dA V
//! dQ = U [ (Y - Y^T)_ij / (s_i + s_j) ] V^T  +  (I - U U^T) dA V S^{-1} V^T
//! ```
//!
//! The output is `Q + T(A - detach(A))`: its value is exactly `Q` (the second term is zero) and
//! reverse-mode autodiff of the linear map `T` is its adjoint, which is the vector-Jacobian
//! product of the paper (`X = U^T G V`, `dA = U [(X - X^T) / (s_i + s_j)] V^T + ...`). This
//! works unchanged on every burn backend, with no backend-specific backward code. For the
//! special variant the flipped pair enters with a negative singular value, which is the correct
//! derivative of the projection onto `SO(k)`.
//!
//! # Cost on a GPU
//!
//! Every call copies `A` to the host, runs `batch` SVDs on the CPU and uploads three factors:
//! one device synchronisation per call. For the `k x k` maps of the paper (`k <= 256`) the SVDs
//! take well under a millisecond each; the synchronisation dominates on fast GPUs.

use burn::tensor::{Tensor, TensorData};
use faer::Mat;

use crate::error::{Error, Result};

/// Added to `x^2` in the guarded reciprocal `x / (x^2 + eps)` that replaces `1 / x` for singular
/// values and their pairwise sums: it keeps zero, rank-deficient and repeated-singular-value
/// inputs finite, and changes `1/x` by less than 1e-8 relative for `x >= 1`.
pub const POLAR_GUARD_EPS: f64 = 1e-8;

/// Which polar factor to compute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolarKind {
    /// `U V^T` for any `n x k` with `n >= k`: orthonormal columns.
    Thin,
    /// `U diag(1, ..., 1, det(U V^T)) V^T` for square matrices: a rotation in `SO(k)`.
    Special,
}

/// The SVD factors of a batch, as host-side `f64` arrays, with the special-orthogonal sign fix
/// already applied to `u` and `singular_values`.
struct BatchSvd {
    /// `[batch, n, k]`, row major.
    u: Vec<f64>,
    /// `[batch, k]`; the last entry is negated where the special variant flipped the sign.
    singular_values: Vec<f64>,
    /// `[batch, k, k]`, row major.
    v: Vec<f64>,
}

/// The polar factor of each matrix of a batch `[batch, n, k]`, differentiable (see module doc).
///
/// # Errors
/// Shape errors when `n < k`, or when `kind` is [`PolarKind::Special`] and `n != k`; an error
/// when the SVD does not converge (non-finite input).
pub fn polar(a: Tensor<3>, kind: PolarKind) -> Result<Tensor<3>> {
    let [batch, n, k] = a.dims();
    if n < k || (kind == PolarKind::Special && n != k) {
        let expected = match kind {
            PolarKind::Thin => "[batch, n, k] with n >= k",
            PolarKind::Special => "[batch, k, k] (square)",
        };
        return Err(Error::Shape {
            op: "polar",
            expected: expected.into(),
            got: vec![batch, n, k],
        });
    }

    let device = a.device();
    let dtype = a.dtype();
    let host = a.clone().detach().into_data().convert::<f64>();
    let host = host.as_slice::<f64>().expect("converted to f64 above");
    let svd = batch_svd(host, batch, n, k, kind)?;

    let tensor = |values: Vec<f64>, shape: Vec<usize>| -> Tensor<3> {
        Tensor::from_data(TensorData::new(values, shape), (&device, dtype))
    };
    let guard = |x: f64| x / (x * x + POLAR_GUARD_EPS);

    let mut pair_inverse = vec![0.0; batch * k * k];
    let mut singular_inverse = vec![0.0; batch * k];
    for b in 0..batch {
        let s = &svd.singular_values[b * k..(b + 1) * k];
        for i in 0..k {
            singular_inverse[b * k + i] = guard(s[i]);
            for j in 0..k {
                pair_inverse[(b * k + i) * k + j] = guard(s[i] + s[j]);
            }
        }
    }

    let u = tensor(svd.u, vec![batch, n, k]);
    let v = tensor(svd.v, vec![batch, k, k]);
    let v_t = v.clone().swap_dims(1, 2);
    let pair_inverse = tensor(pair_inverse, vec![batch, k, k]);
    let value = u.clone().matmul(v_t.clone());

    let tangent = a.clone() - a.detach();
    let y = u
        .clone()
        .swap_dims(1, 2)
        .matmul(tangent.clone())
        .matmul(v.clone());
    let skew = (y.clone() - y.swap_dims(1, 2)) * pair_inverse;
    let mut delta = u.clone().matmul(skew).matmul(v_t.clone());

    if n > k {
        let singular_inverse = tensor(singular_inverse, vec![batch, 1, k]);
        let outside = tangent.clone() - u.clone().matmul(u.swap_dims(1, 2).matmul(tangent));
        delta = delta + outside.matmul(v * singular_inverse).matmul(v_t);
    }

    Ok(value + delta)
}

/// Runs the SVD of every matrix of a row-major `[batch, n, k]` array in `f64`.
fn batch_svd(host: &[f64], batch: usize, n: usize, k: usize, kind: PolarKind) -> Result<BatchSvd> {
    let mut out = BatchSvd {
        u: vec![0.0; batch * n * k],
        singular_values: vec![0.0; batch * k],
        v: vec![0.0; batch * k * k],
    };

    for b in 0..batch {
        let block = &host[b * n * k..(b + 1) * n * k];
        let matrix = Mat::from_fn(n, k, |i, j| block[i * k + j]);
        let svd = matrix.thin_svd().map_err(|e| Error::Shape {
            op: "polar (SVD did not converge; is the input finite?)",
            expected: format!("finite matrix, SVD error {e:?}"),
            got: vec![batch, n, k],
        })?;
        let (u, v) = (svd.U(), svd.V());
        let s = svd.S().column_vector();

        let mut sign = 1.0;
        if kind == PolarKind::Special && u.determinant() * v.determinant() < 0.0 {
            sign = -1.0;
        }
        for i in 0..n {
            for j in 0..k {
                let flip = if j == k - 1 { sign } else { 1.0 };
                out.u[(b * n + i) * k + j] = u[(i, j)] * flip;
            }
        }
        for j in 0..k {
            let flip = if j == k - 1 { sign } else { 1.0 };
            out.singular_values[b * k + j] = s[j] * flip;
        }
        for i in 0..k {
            for j in 0..k {
                out.v[(b * k + i) * k + j] = v[(i, j)];
            }
        }
    }

    Ok(out)
}
