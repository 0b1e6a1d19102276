//! The unit sphere of the Laplacian-discovery experiment (paper sec. 5.1): a Driscoll-Healy
//! grid with exact quadrature, real spherical harmonics, random rotations and real Wigner-D
//! matrices.
//!
//! Grid. `n_theta x n_phi` points, colatitude `theta_j = pi j / n_theta` (`j = 0..n_theta`,
//! the north pole included, the south pole not) and longitude `phi_k = 2 pi k / n_phi`; point
//! `j * n_phi + k` (row-major, colatitude first). The Driscoll-Healy weights
//!
//! ```text
//! w_j = (4 / n_theta) sin(theta_j) sum_{i=0}^{n_theta/2 - 1} sin((2i + 1) theta_j) / (2i + 1)
//! ```
//!
//! integrate `g(cos theta) sin theta` over `[0, pi]` exactly for polynomials `g` of degree
//! `< n_theta`; times `2 pi / n_phi` per point they integrate over the sphere (total `4 pi`).
//! With 16 x 16 points products `Y_lm Y_l'm'` with `l, l' <= 7` are integrated exactly
//! (colatitude degree `<= 14 < 16`, longitude frequency `<= 14 < 16`).
//!
//! Harmonics. Real, orthonormal on the unit sphere (`int Y Y' dA = delta`), without the
//! Condon-Shortley phase, columns ordered by degree `l` then order `m = -l..=l`:
//! `Y_l0 = N_l0 P_l(cos theta)`, `Y_lm = sqrt(2) N_lm P_l^m(cos theta) cos(m phi)` and
//! `Y_l,-m = sqrt(2) N_lm P_l^m(cos theta) sin(m phi)` for `m > 0`.
//!
//! Rotations act on functions by `(R f)(x) = f(R^{-1} x)`. The real Wigner-D block `D^l(R)` is
//! defined by `Y_l(R^{-1} x) = D^l(R) Y_l(x)`, where `Y_l(x)` is the column of the `2l + 1`
//! degree-`l` harmonics at `x`. With this convention `D(R1 R2) = D(R2) D(R1)`, and a
//! band-limited signal with coefficients `c` (`f = Y c`) rotates to coefficients `D^T c`.

use std::f64::consts::PI;

use faer::Mat;
use rand::Rng;
use rand_distr::StandardNormal;

use super::torus::Eigenspaces;
use super::Amplitudes;

/// Smallest absolute value of the random mean of a band-limited signal.
const MIN_MEAN: f64 = 0.5;

/// Largest absolute value of the random mean of a band-limited signal.
const MAX_MEAN: f64 = 1.5;

/// Smallest norm of the Gaussian quaternion before normalising: below it, direction is noise.
const MIN_QUATERNION_NORM: f64 = 1e-6;

/// A sampling grid on the unit sphere with quadrature weights.
#[derive(Debug, Clone)]
pub struct SphereGrid {
    /// The `n_theta` colatitudes `theta_j` in `[0, pi)`.
    pub colatitudes: Vec<f64>,
    /// The `n_phi` longitudes `phi_k` in `[0, 2 pi)`.
    pub longitudes: Vec<f64>,
    /// Quadrature weight of each point (`n_theta * n_phi`, row-major), summing to `4 pi`.
    pub weights: Vec<f64>,
    /// Unit vectors `(sin theta cos phi, sin theta sin phi, cos theta)`, row-major.
    pub points: Vec<[f64; 3]>,
}

/// The Driscoll-Healy equiangular grid with its exact quadrature weights (see module docs).
///
/// # Panics
/// If `n_theta` is odd or zero, or `n_phi` is zero.
pub fn driscoll_healy(n_theta: usize, n_phi: usize) -> SphereGrid {
    assert!(
        n_theta > 0 && n_theta.is_multiple_of(2) && n_phi > 0,
        "driscoll_healy: need even n_theta > 0 and n_phi > 0, got {n_theta} x {n_phi}"
    );
    let colatitudes: Vec<f64> = (0..n_theta)
        .map(|j| PI * j as f64 / n_theta as f64)
        .collect();
    let longitudes: Vec<f64> = (0..n_phi)
        .map(|k| 2.0 * PI * k as f64 / n_phi as f64)
        .collect();

    // Colatitude weights for int_0^pi g(theta) sin(theta) d theta.
    let ring_weights: Vec<f64> = colatitudes
        .iter()
        .map(|&theta| {
            let series: f64 = (0..n_theta / 2)
                .map(|i| {
                    let odd = (2 * i + 1) as f64;
                    (odd * theta).sin() / odd
                })
                .sum();
            4.0 / n_theta as f64 * theta.sin() * series
        })
        .collect();

    let longitude_weight = 2.0 * PI / n_phi as f64;
    let mut weights = Vec::with_capacity(n_theta * n_phi);
    let mut points = Vec::with_capacity(n_theta * n_phi);
    for (&theta, &ring_weight) in colatitudes.iter().zip(&ring_weights) {
        for &phi in &longitudes {
            weights.push(ring_weight * longitude_weight);
            points.push([
                theta.sin() * phi.cos(),
                theta.sin() * phi.sin(),
                theta.cos(),
            ]);
        }
    }
    SphereGrid {
        colatitudes,
        longitudes,
        weights,
        points,
    }
}

/// Column of `Y_lm` in the harmonic ordering (degree, then order `m = -l..=l`): `l^2 + l + m`.
pub fn harmonic_index(degree: usize, order: isize) -> usize {
    ((degree * degree + degree) as isize + order) as usize
}

/// Real orthonormal spherical harmonics up to `max_degree` at `points` (normalised first).
///
/// Returns `points.len() x (max_degree + 1)^2`, columns ordered as in the module docs. The
/// associated Legendre functions use the fully normalised three-term recurrence in degree, which
/// is stable for all orders.
pub fn real_harmonics(max_degree: usize, points: &[[f64; 3]]) -> Mat<f64> {
    let l_count = max_degree + 1;
    let mut harmonics = Mat::<f64>::zeros(points.len(), l_count * l_count);
    let mut legendre = vec![0.0; l_count * l_count];

    for (row, point) in points.iter().enumerate() {
        let norm = (point[0] * point[0] + point[1] * point[1] + point[2] * point[2]).sqrt();
        let z = point[2] / norm;
        let rho = (point[0] * point[0] + point[1] * point[1]).sqrt() / norm;
        let phi = point[1].atan2(point[0]);

        normalised_legendre(max_degree, z, rho, &mut legendre);

        for l in 0..l_count {
            harmonics[(row, harmonic_index(l, 0))] = legendre[l * l_count];
            for m in 1..=l {
                let value = std::f64::consts::SQRT_2 * legendre[l * l_count + m];
                let (sin, cos) = (m as f64 * phi).sin_cos();
                harmonics[(row, harmonic_index(l, m as isize))] = value * cos;
                harmonics[(row, harmonic_index(l, -(m as isize)))] = value * sin;
            }
        }
    }
    harmonics
}

/// Fills `out[l * (L + 1) + m]` with `N_lm P_l^m(z)`, `N_lm = sqrt((2l+1)/(4 pi) (l-m)!/(l+m)!)`,
/// for `0 <= m <= l <= L`, where `rho = sqrt(1 - z^2)`; no Condon-Shortley phase.
fn normalised_legendre(max_degree: usize, z: f64, rho: f64, out: &mut [f64]) {
    let stride = max_degree + 1;
    out.fill(0.0);

    // Diagonal: P_m^m, from P_0^0 = 1 / sqrt(4 pi).
    out[0] = 0.5 / PI.sqrt();
    for m in 1..=max_degree {
        let factor = ((2 * m + 1) as f64 / (2 * m) as f64).sqrt();
        out[m * stride + m] = factor * rho * out[(m - 1) * stride + (m - 1)];
    }

    // Three-term recurrence in degree for each order.
    for m in 0..=max_degree {
        if m < max_degree {
            out[(m + 1) * stride + m] = ((2 * m + 3) as f64).sqrt() * z * out[m * stride + m];
        }
        for l in m + 2..=max_degree {
            let (lf, mf) = (l as f64, m as f64);
            let a = ((4.0 * lf * lf - 1.0) / (lf * lf - mf * mf)).sqrt();
            let b = (((lf - 1.0).powi(2) - mf * mf) / (4.0 * (lf - 1.0).powi(2) - 1.0)).sqrt();
            out[l * stride + m] =
                a * (z * out[(l - 1) * stride + m] - b * out[(l - 2) * stride + m]);
        }
    }
}

/// A uniformly distributed (Haar) rotation matrix, from a normalised Gaussian quaternion.
pub fn random_rotation<R: Rng + ?Sized>(rng: &mut R) -> [[f64; 3]; 3] {
    let mut q = [0.0_f64; 4];
    loop {
        q.iter_mut().for_each(|x| *x = rng.sample(StandardNormal));
        let norm = q.iter().map(|x| x * x).sum::<f64>().sqrt();
        if norm > MIN_QUATERNION_NORM {
            q.iter_mut().for_each(|x| *x /= norm);
            break;
        }
    }
    let [w, x, y, z] = q;
    [
        [
            1.0 - 2.0 * (y * y + z * z),
            2.0 * (x * y - w * z),
            2.0 * (x * z + w * y),
        ],
        [
            2.0 * (x * y + w * z),
            1.0 - 2.0 * (x * x + z * z),
            2.0 * (y * z - w * x),
        ],
        [
            2.0 * (x * z - w * y),
            2.0 * (y * z + w * x),
            1.0 - 2.0 * (x * x + y * y),
        ],
    ]
}

/// The transpose (= inverse) of a rotation matrix.
pub fn transpose(rotation: &[[f64; 3]; 3]) -> [[f64; 3]; 3] {
    let mut out = [[0.0; 3]; 3];
    for (i, row) in rotation.iter().enumerate() {
        for (j, &value) in row.iter().enumerate() {
            out[j][i] = value;
        }
    }
    out
}

/// The product of two 3x3 matrices, `a b`.
pub fn compose(a: &[[f64; 3]; 3], b: &[[f64; 3]; 3]) -> [[f64; 3]; 3] {
    let mut out = [[0.0; 3]; 3];
    for (i, out_row) in out.iter_mut().enumerate() {
        for (j, value) in out_row.iter_mut().enumerate() {
            *value = (0..3).map(|k| a[i][k] * b[k][j]).sum();
        }
    }
    out
}

/// Applies `rotation` to every point: `x -> R x`.
pub fn rotate_points(rotation: &[[f64; 3]; 3], points: &[[f64; 3]]) -> Vec<[f64; 3]> {
    points
        .iter()
        .map(|p| {
            let mut out = [0.0; 3];
            for (out_i, row) in out.iter_mut().zip(rotation) {
                *out_i = row[0] * p[0] + row[1] * p[1] + row[2] * p[2];
            }
            out
        })
        .collect()
}

/// Random harmonic coefficients, `(max_degree + 1)^2 x channels`, of band-limited signals.
///
/// Degree `l >= 1` has expected power `(1 + l)^(-decay)` per coefficient. With
/// [`Amplitudes::Gaussian`] the coefficients are independent `N(0, (1 + l)^(-decay))`; with
/// [`Amplitudes::Exact`] the `2l + 1` coefficients of each degree are a uniformly random
/// direction scaled to the norm `sqrt((2l + 1) (1 + l)^(-decay))`, so every signal has exactly
/// the expected power in every degree (rotations preserve it). `c_00` is a mean of random sign
/// and magnitude in `[0.5, 1.5]` (times `sqrt(4 pi)`, as `Y_00 = 1 / sqrt(4 pi)`). Evaluate with
/// `real_harmonics(max_degree, &grid.points) * coefficients`; see [`rotated_signals`].
pub fn random_bandlimited<R: Rng + ?Sized>(
    max_degree: usize,
    channels: usize,
    decay: f64,
    amplitudes: Amplitudes,
    rng: &mut R,
) -> Mat<f64> {
    let size = (max_degree + 1) * (max_degree + 1);
    let mut coefficients = Mat::<f64>::zeros(size, channels);
    for channel in 0..channels {
        let magnitude = rng.random_range(MIN_MEAN..MAX_MEAN);
        let sign = if rng.random::<bool>() { 1.0 } else { -1.0 };
        coefficients[(0, channel)] = sign * magnitude * (4.0 * PI).sqrt();

        for degree in 1..=max_degree {
            let power = (1.0 + degree as f64).powf(-decay);
            let rows = degree * degree..(degree + 1) * (degree + 1);
            let draws: Vec<f64> = rows
                .clone()
                .map(|_| rng.sample::<f64, _>(StandardNormal))
                .collect();
            let scale = match amplitudes {
                Amplitudes::Gaussian => power.sqrt(),
                Amplitudes::Exact => {
                    let norm = draws.iter().map(|x| x * x).sum::<f64>().sqrt();
                    (rows.len() as f64 * power).sqrt() / norm.max(f64::MIN_POSITIVE)
                }
            };
            for (row, draw) in rows.zip(draws) {
                coefficients[(row, channel)] = scale * draw;
            }
        }
    }
    coefficients
}

/// Samples the rotated signals `f(R^{-1} x)` at `points`, exactly, from harmonic coefficients.
///
/// Returns `points.len() x channels`: the harmonics evaluated at `R^T x` times `coefficients`.
pub fn rotated_signals(
    max_degree: usize,
    coefficients: &Mat<f64>,
    rotation: &[[f64; 3]; 3],
    points: &[[f64; 3]],
) -> Mat<f64> {
    let pulled_back = rotate_points(&transpose(rotation), points);
    real_harmonics(max_degree, &pulled_back) * coefficients
}

/// The real Wigner-D blocks `D^l(R)`, `l = 0..=max_degree`, with `Y_l(R^{-1} x) = D^l Y_l(x)`.
///
/// Each `(2l+1) x (2l+1)` block is `D^l_ab = int Y_la(R^{-1} x) Y_lb(x) dA`, computed with a
/// Driscoll-Healy grid of `2 (max_degree + 1)` points per axis, on which this integral of a
/// degree-`2l` product is exact.
pub fn wigner_real(max_degree: usize, rotation: &[[f64; 3]; 3]) -> Vec<Mat<f64>> {
    let side = 2 * (max_degree + 1);
    let grid = driscoll_healy(side, side);
    let harmonics = real_harmonics(max_degree, &grid.points);
    let pulled_back = real_harmonics(
        max_degree,
        &rotate_points(&transpose(rotation), &grid.points),
    );

    (0..=max_degree)
        .map(|l| {
            let offset = l * l;
            Mat::from_fn(2 * l + 1, 2 * l + 1, |a, b| {
                (0..grid.points.len())
                    .map(|p| {
                        grid.weights[p] * pulled_back[(p, offset + a)] * harmonics[(p, offset + b)]
                    })
                    .sum()
            })
        })
        .collect()
}

/// The ground-truth Laplace-Beltrami eigenspaces on a grid, degrees `0..=max_degree`.
///
/// The basis is the real harmonics sampled at the grid points, orthonormal in the quadrature
/// mass (`basis^T diag(weights) basis = I` when the quadrature is exact to degree
/// `2 max_degree`); eigenvalues of `-Delta` are `l (l + 1)` with multiplicity `2l + 1`.
pub fn laplacian_eigenspaces(grid: &SphereGrid, max_degree: usize) -> Eigenspaces {
    Eigenspaces {
        eigenvalues: (0..=max_degree).map(|l| (l * (l + 1)) as f64).collect(),
        dims: (0..=max_degree).map(|l| 2 * l + 1).collect(),
        basis: real_harmonics(max_degree, &grid.points),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    /// Exact quadrature and recurrences in double precision: errors ~1e-14, checked at 1e-10.
    const TOL: f64 = 1e-10;

    fn weighted_gram(basis: &Mat<f64>, weights: &[f64]) -> Mat<f64> {
        let weighted = Mat::from_fn(basis.nrows(), basis.ncols(), |i, j| {
            weights[i] * basis[(i, j)]
        });
        basis.transpose() * weighted
    }

    fn random_points(count: usize, rng: &mut StdRng) -> Vec<[f64; 3]> {
        (0..count)
            .map(|_| {
                let v: [f64; 3] = std::array::from_fn(|_| rng.sample(StandardNormal));
                let norm = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
                [v[0] / norm, v[1] / norm, v[2] / norm]
            })
            .collect()
    }

    #[test]
    fn ring_weights_integrate_polynomials_below_n_theta_exactly() {
        // int_0^pi cos^k(theta) sin(theta) d theta = (1 + (-1)^k) / (k + 1).
        let grid = driscoll_healy(16, 16);
        let moment = |k: i32| -> f64 {
            let per_ring = grid.colatitudes.iter().enumerate().map(|(j, theta)| {
                let ring_weight: f64 = grid.weights[j * 16..(j + 1) * 16].iter().sum();
                ring_weight / (2.0 * PI) * theta.cos().powi(k)
            });
            per_ring.sum()
        };
        for k in 0..16 {
            let exact = (1.0 + (-1.0_f64).powi(k)) / (k + 1) as f64;
            assert!(
                (moment(k) - exact).abs() < TOL,
                "degree {k}: {} vs {exact}",
                moment(k)
            );
        }
        // Degree 16 is not exact: the quadrature is exactly as strong as documented.
        assert!((moment(16) - 2.0 / 17.0).abs() > 1e-6);
        assert!((grid.weights.iter().sum::<f64>() - 4.0 * PI).abs() < TOL);
    }

    #[test]
    fn harmonics_up_to_degree_7_are_orthonormal_on_16x16_grid() {
        let grid = driscoll_healy(16, 16);
        let spaces = laplacian_eigenspaces(&grid, 7);
        assert_eq!(spaces.basis.ncols(), 64);
        let gram = weighted_gram(&spaces.basis, &grid.weights);
        assert!((&gram - Mat::<f64>::identity(64, 64)).norm_max() < TOL);

        // Degree 8 products exceed the grid's exactness: orthonormality then fails.
        let harmonics = real_harmonics(8, &grid.points);
        let gram = weighted_gram(&harmonics, &grid.weights);
        assert!((&gram - Mat::<f64>::identity(81, 81)).norm_max() > 1e-3);
    }

    #[test]
    fn low_degree_harmonics_match_closed_forms() {
        let mut rng = StdRng::seed_from_u64(3);
        let points = random_points(20, &mut rng);
        let harmonics = real_harmonics(2, &points);
        let c0 = 0.5 / PI.sqrt();
        let c1 = (3.0 / (4.0 * PI)).sqrt();
        let c2 = 0.5 * (15.0 / PI).sqrt();
        for (row, &[x, y, z]) in points.iter().enumerate() {
            let expected = [
                c0,
                c1 * y,
                c1 * z,
                c1 * x,
                c2 * x * y,
                c2 * y * z,
                0.25 * (5.0 / PI).sqrt() * (3.0 * z * z - 1.0),
                c2 * x * z,
                0.5 * c2 * (x * x - y * y),
            ];
            for (col, value) in expected.iter().enumerate() {
                assert!(
                    (harmonics[(row, col)] - value).abs() < TOL,
                    "row {row} col {col}"
                );
            }
        }
    }

    #[test]
    fn addition_theorem_holds() {
        // sum_m Y_lm(x) Y_lm(y) = (2l + 1) / (4 pi) P_l(x . y): rotation invariance per degree.
        let mut rng = StdRng::seed_from_u64(5);
        let points = random_points(2, &mut rng);
        let max_degree = 10;
        let harmonics = real_harmonics(max_degree, &points);
        let cosine: f64 = (0..3).map(|i| points[0][i] * points[1][i]).sum();
        let mut legendre = [1.0, cosine];
        for l in 0..=max_degree {
            let p_l = if l == 0 { 1.0 } else { legendre[1] };
            let sum: f64 = (l * l..(l + 1) * (l + 1))
                .map(|c| harmonics[(0, c)] * harmonics[(1, c)])
                .sum();
            let expected = (2 * l + 1) as f64 / (4.0 * PI) * p_l;
            assert!(
                (sum - expected).abs() < TOL,
                "degree {l}: {sum} vs {expected}"
            );
            if l >= 1 {
                let lf = l as f64;
                let next =
                    ((2.0 * lf + 1.0) * cosine * legendre[1] - lf * legendre[0]) / (lf + 1.0);
                legendre = [legendre[1], next];
            }
        }
    }

    #[test]
    fn random_rotations_are_proper_and_orthogonal() {
        let mut rng = StdRng::seed_from_u64(9);
        for _ in 0..10 {
            let r = random_rotation(&mut rng);
            let product = compose(&r, &transpose(&r));
            for (i, row) in product.iter().enumerate() {
                for (j, value) in row.iter().enumerate() {
                    let identity = if i == j { 1.0 } else { 0.0 };
                    assert!((value - identity).abs() < TOL);
                }
            }
            let det = r[0][0] * (r[1][1] * r[2][2] - r[1][2] * r[2][1])
                - r[0][1] * (r[1][0] * r[2][2] - r[1][2] * r[2][0])
                + r[0][2] * (r[1][0] * r[2][1] - r[1][1] * r[2][0]);
            assert!((det - 1.0).abs() < TOL);
        }
    }

    #[test]
    fn wigner_blocks_rotate_harmonics_and_are_orthogonal() {
        let mut rng = StdRng::seed_from_u64(13);
        let max_degree = 7;
        let rotation = random_rotation(&mut rng);
        let blocks = wigner_real(max_degree, &rotation);
        let points = random_points(30, &mut rng);
        let at_points = real_harmonics(max_degree, &points);
        let at_pulled_back =
            real_harmonics(max_degree, &rotate_points(&transpose(&rotation), &points));

        for (l, block) in blocks.iter().enumerate() {
            let size = 2 * l + 1;
            let gram = block.transpose() * block;
            assert!(
                (&gram - Mat::<f64>::identity(size, size)).norm_max() < TOL,
                "degree {l}"
            );
            for p in 0..points.len() {
                for a in 0..size {
                    let predicted: f64 = (0..size)
                        .map(|b| block[(a, b)] * at_points[(p, l * l + b)])
                        .sum();
                    let actual = at_pulled_back[(p, l * l + a)];
                    assert!(
                        (predicted - actual).abs() < TOL,
                        "degree {l} point {p} row {a}"
                    );
                }
            }
        }
        // Degree >= 1 blocks of a generic rotation are not the identity.
        assert!((&blocks[1] - Mat::<f64>::identity(3, 3)).norm_max() > 1e-3);
    }

    #[test]
    fn wigner_reverses_products() {
        let mut rng = StdRng::seed_from_u64(17);
        let first = random_rotation(&mut rng);
        let second = random_rotation(&mut rng);
        let d1 = wigner_real(5, &first);
        let d2 = wigner_real(5, &second);
        let d12 = wigner_real(5, &compose(&first, &second));
        for l in 0..=5 {
            let reversed = &d2[l] * &d1[l];
            assert!((&d12[l] - &reversed).norm_max() < TOL, "degree {l}");
            // Inverse rotation gives the transpose.
            let inverse = wigner_real(5, &transpose(&first));
            assert!((&inverse[l] - d1[l].transpose()).norm_max() < TOL);
        }
        let forward = &d1[2] * &d2[2];
        assert!(
            (&d12[2] - &forward).norm_max() > 1e-3,
            "generic rotations do not commute"
        );
    }

    #[test]
    fn rotated_signals_have_wigner_transformed_coefficients() {
        let mut rng = StdRng::seed_from_u64(21);
        let max_degree = 7;
        let grid = driscoll_healy(16, 16);
        let coefficients = random_bandlimited(max_degree, 4, 2.0, Amplitudes::Gaussian, &mut rng);
        let rotation = random_rotation(&mut rng);
        let rotated = rotated_signals(max_degree, &coefficients, &rotation, &grid.points);

        // Project back with the exact quadrature: c_R = blockdiag(D^l)^T c.
        let harmonics = real_harmonics(max_degree, &grid.points);
        let weighted = Mat::from_fn(256, rotated.ncols(), |i, j| {
            grid.weights[i] * rotated[(i, j)]
        });
        let projected = harmonics.transpose() * weighted;
        let blocks = wigner_real(max_degree, &rotation);
        for (l, block) in blocks.iter().enumerate() {
            let range = l * l..(l + 1) * (l + 1);
            let expected = block.transpose() * coefficients.subrows(l * l, 2 * l + 1);
            let got = projected.subrows(range.start, range.len());
            assert!((&expected - got).norm_max() < TOL, "degree {l}");
        }

        // The mean (l = 0) survives rotation and is non-zero.
        for channel in 0..4 {
            let mean = coefficients[(0, channel)] / (4.0 * PI).sqrt();
            assert!((MIN_MEAN..=MAX_MEAN).contains(&mean.abs()));
        }
    }

    #[test]
    fn exact_bandlimited_signals_have_the_prescribed_power_per_degree() {
        let mut rng = StdRng::seed_from_u64(23);
        let (max_degree, channels, decay) = (7, 16, 3.0);
        let coefficients =
            random_bandlimited(max_degree, channels, decay, Amplitudes::Exact, &mut rng);
        for channel in 0..channels {
            let mean = coefficients[(0, channel)] / (4.0 * PI).sqrt();
            assert!((MIN_MEAN..=MAX_MEAN).contains(&mean.abs()), "mean {mean}");
            for degree in 1..=max_degree {
                let rows = degree * degree..(degree + 1) * (degree + 1);
                let power: f64 = rows
                    .clone()
                    .map(|row| coefficients[(row, channel)].powi(2))
                    .sum();
                let expected = (2 * degree + 1) as f64 * (1.0 + degree as f64).powf(-decay);
                assert!(
                    (power / expected - 1.0).abs() < 1e-12,
                    "channel {channel} degree {degree}: power {power}, expected {expected}"
                );
            }
        }
        // The directions are random: two channels differ within a degree.
        let first = coefficients.subrows(4, 5).col(0).to_owned();
        let second = coefficients.subrows(4, 5).col(1).to_owned();
        assert!((&first - &second).norm_l2() > 1e-3);
    }
}
