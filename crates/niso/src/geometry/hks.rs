//! The Laplace-Beltrami spectrum of a mesh and the heat kernel signature (Sun, Ovsjanikov,
//! Guibas 2009).
//!
//! Spectrum. The generalised eigenproblem `L u = lambda M u` (cotangent stiffness `L`, lumped
//! mass `M`, see [`crate::geometry::mesh`]) is turned into the symmetric one
//! `M^{-1/2} L M^{-1/2} v = lambda v`, solved densely (faer), and `u = M^{-1/2} v`, so that
//! `U^T M U = I`. Dense is `O(n^3)`: a few seconds for a few thousand vertices.
//!
//! Signature. With the eigenvalues divided by the first non-zero one (`mu_i = lambda_i /
//! lambda_1`, which makes the signature independent of the scale of the shape),
//!
//! ```text
//! h_t(x) = sum_i exp(-mu_i t) u_i(x)^2 / sum_i exp(-mu_i t)
//! ```
//!
//! at times `t` spaced logarithmically; dividing by the heat trace makes the area-weighted mean
//! of every channel `1 / area`. Small `t` describes the neighbourhood of `x`, large `t` its
//! place in the whole shape.

use faer::{Mat, Side};

use crate::error::{Error, Result};
use crate::geometry::mesh::TriMesh;

/// The first `count` eigenpairs of `L u = lambda M u`, ascending.
#[derive(Clone, Debug)]
pub struct Spectrum {
    /// Eigenvalues, ascending, the first one about 0.
    pub eigenvalues: Vec<f64>,
    /// `n x count` eigenvectors with `U^T M U = I`.
    pub eigenvectors: Mat<f64>,
}

/// The smallest `count` eigenpairs of the mesh's Laplace-Beltrami operator.
///
/// # Errors
/// [`Error::Shape`] if `count` exceeds the vertex count, a vertex has no area, or the
/// eigensolver fails.
pub fn laplacian_spectrum(mesh: &TriMesh, count: usize) -> Result<Spectrum> {
    let n = mesh.vertices.len();
    if count > n {
        return Err(Error::Shape {
            op: "laplacian_spectrum",
            expected: format!("at most as many eigenpairs as vertices ({n})"),
            got: vec![count],
        });
    }
    let mass = mesh.lumped_mass();
    if let Some(vertex) = mass.iter().position(|&m| m <= 0.0 || !m.is_finite()) {
        return Err(Error::Shape {
            op: "laplacian_spectrum",
            expected: format!("a positive area at every vertex (vertex {vertex} has none)"),
            got: vec![n],
        });
    }
    let scale: Vec<f64> = mass.iter().map(|m| 1.0 / m.sqrt()).collect();
    let stiffness = mesh.cotangent_laplacian()?;
    let mut symmetric = Mat::<f64>::zeros(n, n);
    for entry in stiffness.triplet_iter() {
        symmetric[(entry.row, entry.col)] += scale[entry.row] * entry.val * scale[entry.col];
    }
    let eigen = symmetric
        .self_adjoint_eigen(Side::Lower)
        .map_err(|e| Error::Shape {
            op: "laplacian_spectrum (dense symmetric eigensolver)",
            expected: format!("convergence ({e:?})"),
            got: vec![n, n],
        })?;
    let eigenvalues = (0..count).map(|i| eigen.S()[i]).collect();
    let vectors = eigen.U();
    let eigenvectors = Mat::from_fn(n, count, |i, j| scale[i] * vectors[(i, j)]);
    Ok(Spectrum {
        eigenvalues,
        eigenvectors,
    })
}

/// `count` times spaced logarithmically from `first` to `last` (both included).
pub fn log_times(first: f64, last: f64, count: usize) -> Vec<f64> {
    if count == 1 {
        return vec![first];
    }
    let (a, b) = (first.ln(), last.ln());
    (0..count)
        .map(|i| (a + (b - a) * i as f64 / (count - 1) as f64).exp())
        .collect()
}

/// The heat kernel signature at each of `times` (one vector of per-vertex values per time),
/// with the spectrum normalised by its first non-zero eigenvalue (the second one; the first is
/// the constant's zero).
///
/// # Errors
/// [`Error::Shape`] if the spectrum has fewer than two eigenpairs or a non-positive `lambda_1`.
pub fn heat_kernel_signature(spectrum: &Spectrum, times: &[f64]) -> Result<Vec<Vec<f64>>> {
    let count = spectrum.eigenvalues.len();
    let first = spectrum.eigenvalues.get(1).copied().unwrap_or(0.0);
    if count < 2 || first <= 0.0 {
        return Err(Error::Shape {
            op: "heat_kernel_signature",
            expected: "at least two eigenpairs with lambda_1 > 0 (a connected mesh)".into(),
            got: vec![count],
        });
    }
    let n = spectrum.eigenvectors.nrows();
    let normalised: Vec<f64> = spectrum
        .eigenvalues
        .iter()
        .map(|l| (l / first).max(0.0))
        .collect();
    Ok(times
        .iter()
        .map(|&t| {
            let decay: Vec<f64> = normalised.iter().map(|mu| (-mu * t).exp()).collect();
            let trace: f64 = decay.iter().sum();
            (0..n)
                .map(|x| {
                    let sum: f64 = (0..count)
                        .map(|i| decay[i] * spectrum.eigenvectors[(x, i)].powi(2))
                        .sum();
                    sum / trace
                })
                .collect()
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::mesh::icosphere;

    /// Round-off allowed in identities of the dense eigensolver on a few hundred vertices.
    const EIGEN_TOLERANCE: f64 = 1e-9;

    #[test]
    fn eigenvectors_are_mass_orthonormal_and_solve_the_generalised_problem() {
        let mesh = icosphere(2);
        let spectrum = laplacian_spectrum(&mesh, 20).unwrap();
        let mass = mesh.lumped_mass();
        let stiffness = mesh.cotangent_laplacian().unwrap().to_dense();
        let u = &spectrum.eigenvectors;
        let n = mass.len();
        for i in 0..20 {
            for j in 0..20 {
                let product: f64 = (0..n).map(|x| u[(x, i)] * mass[x] * u[(x, j)]).sum();
                let expected = if i == j { 1.0 } else { 0.0 };
                assert!(
                    (product - expected).abs() < EIGEN_TOLERANCE,
                    "U^T M U ({i}, {j})"
                );
            }
            let lambda = spectrum.eigenvalues[i];
            let residual = (&stiffness * u.col(i))
                .iter()
                .enumerate()
                .fold(0.0f64, |m, (x, v)| {
                    m.max((v - lambda * mass[x] * u[(x, i)]).abs())
                });
            assert!(residual < EIGEN_TOLERANCE, "L u - lambda M u = {residual}");
        }
        assert!(spectrum.eigenvalues.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn signature_is_constant_on_the_round_sphere_and_averages_to_one_over_area() {
        // Every eigenspace of the round sphere is rotation invariant, so sum_i u_i(x)^2 over a
        // whole eigenspace is constant; 16 pairs = degrees 0..=3 exactly.
        let mesh = icosphere(3);
        let spectrum = laplacian_spectrum(&mesh, 16).unwrap();
        let times = log_times(0.01, 1.0, 4);
        let signature = heat_kernel_signature(&spectrum, &times).unwrap();
        let mass = mesh.lumped_mass();
        let area: f64 = mass.iter().sum();
        for channel in &signature {
            let mean = channel.iter().zip(&mass).map(|(h, m)| h * m).sum::<f64>() / area;
            assert!(
                (mean * area - 1.0).abs() < 1e-9,
                "area-weighted mean {mean}"
            );
            let (low, high) = channel
                .iter()
                .fold((f64::MAX, f64::MIN), |(lo, hi), &h| (lo.min(h), hi.max(h)));
            assert!((high - low) / mean < 0.05, "spread {low}..{high}");
        }
    }

    #[test]
    fn signature_is_invariant_to_scaling_the_shape() {
        let mesh = icosphere(2);
        let mut scaled = mesh.clone();
        for p in scaled.vertices.iter_mut() {
            *p = [3.0 * p[0], 3.0 * p[1], 1.5 * p[2]];
        }
        let mut twice = scaled.clone();
        for p in twice.vertices.iter_mut() {
            *p = p.map(|x| 2.0 * x);
        }
        let times = log_times(0.01, 1.0, 3);
        let a = heat_kernel_signature(&laplacian_spectrum(&scaled, 30).unwrap(), &times).unwrap();
        let b = heat_kernel_signature(&laplacian_spectrum(&twice, 30).unwrap(), &times).unwrap();
        // The mass-normalised eigenvectors scale by 1/2, so h scales by 1/4 = 1 / area ratio.
        for (x, y) in a.iter().flatten().zip(b.iter().flatten()) {
            assert!((x - 4.0 * y).abs() < 1e-9 * x.abs().max(1.0));
        }
        for (t, expected) in log_times(0.01, 1.0, 3).iter().zip([0.01, 0.1, 1.0]) {
            assert!((t - expected).abs() < 1e-12 * expected);
        }
    }
}
