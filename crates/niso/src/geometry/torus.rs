//! The periodic h x w grid (the flat torus) of the Laplacian-discovery experiment (paper sec. 5.1).
//!
//! A signal stack on the grid is a `faer::Mat<f64>` of shape `n x channels`, `n = h * w`, with
//! the grid point (row r, column c) at matrix row `r * w + c` (row-major).
//!
//! The ground-truth operator is the periodic 3x3 stencil Laplacian
//!
//! ```text
//!         [ .25  .5  .25 ]
//!     L = [ .5   -3  .5  ]      (L f)(r, c) = sum_{dr, dc} S[dr][dc] f(r + dr, c + dc)
//!         [ .25  .5  .25 ]
//! ```
//!
//! with indices taken modulo h and w. It is diagonalised by the discrete Fourier transform: the
//! plane wave of frequency (p, q) has eigenvalue `(1 + cos a)(1 + cos b) - 4` with
//! `a = 2 pi p / h`, `b = 2 pi q / w`, so the positive operator `-L` has spectrum in `[0, 4]`,
//! starting at 0 for the constant function. [`eigenspaces`] groups its (highly degenerate)
//! spectrum into eigenspaces; [`random_fields`] makes the training signals (random fields with
//! a `1/f^p` power spectrum, Gaussian or with exact amplitudes and random phases, and a non-zero
//! mean) and [`circular_shift`] is the group action.

use std::f64::consts::PI;

use faer::{Mat, Side};
use rand::Rng;
use rand_distr::StandardNormal;

use super::Amplitudes;
use crate::error::{Error, Result};

/// Stencil weights of the 3x3 Laplacian, indexed `[dr + 1][dc + 1]`.
const STENCIL: [[f64; 3]; 3] = [[0.25, 0.5, 0.25], [0.5, -3.0, 0.5], [0.25, 0.5, 0.25]];

/// Smallest absolute value of a channel's random mean: keeps the mean clearly non-zero.
const MIN_MEAN: f64 = 0.5;

/// Largest absolute value of a channel's random mean.
const MAX_MEAN: f64 = 1.5;

/// The periodic 3x3 stencil Laplacian as a dense `n x n` matrix, `n = h * w`, row-major points.
///
/// # Panics
/// If `h` or `w` is zero.
pub fn stencil_laplacian(h: usize, w: usize) -> Mat<f64> {
    assert!(
        h > 0 && w > 0,
        "stencil_laplacian: grid must be non-empty, got {h} x {w}"
    );
    let n = h * w;
    let mut laplacian = Mat::<f64>::zeros(n, n);

    // Accumulate (`+=`) so that grids thinner than 3 wrap neighbours onto the same point.
    for r in 0..h {
        for c in 0..w {
            for (dr, stencil_row) in STENCIL.iter().enumerate() {
                for (dc, &weight) in stencil_row.iter().enumerate() {
                    let rr = (r + h + dr - 1) % h;
                    let cc = (c + w + dc - 1) % w;
                    laplacian[(r * w + c, rr * w + cc)] += weight;
                }
            }
        }
    }
    laplacian
}

/// The eigenspaces of a symmetric operator, ascending, with an orthonormal basis of each.
#[derive(Debug, Clone)]
pub struct Eigenspaces {
    /// One eigenvalue per eigenspace (the mean of the grouped eigenvalues), ascending.
    pub eigenvalues: Vec<f64>,
    /// The dimension (multiplicity) of each eigenspace.
    pub dims: Vec<usize>,
    /// `n x sum(dims)` basis, columns grouped by eigenspace in ascending order, orthonormal in
    /// the mass inner product: `basis^T diag(mass) basis = I`.
    pub basis: Mat<f64>,
}

impl Eigenspaces {
    /// The column range of eigenspace `space` inside [`Eigenspaces::basis`].
    pub fn columns(&self, space: usize) -> std::ops::Range<usize> {
        let start: usize = self.dims[..space].iter().sum();
        start..start + self.dims[space]
    }

    /// The total number of basis vectors, `sum(dims)`.
    pub fn rank(&self) -> usize {
        self.dims.iter().sum()
    }
}

/// Diagonalises a symmetric operator in the mass inner product and groups equal eigenvalues.
///
/// Solves `op v = lambda diag(mass) v` through the symmetric matrix
/// `M^{-1/2} op M^{-1/2}` and returns `v = M^{-1/2} u`, so `V^T M V = I`. Sorted eigenvalues join
/// the current eigenspace while they differ from its first eigenvalue by at most
/// `rel_tol * max(1, max |lambda|)`. Pass a positive semi-definite operator (e.g. `-L`) to get
/// eigenvalues ascending from 0.
///
/// # Errors
/// [`Error::Shape`] if `op` is not square or `mass` does not have one entry per row.
///
/// # Panics
/// If a mass entry is not positive, or the eigen solver does not converge.
pub fn eigenspaces(op: &Mat<f64>, mass: &[f64], rel_tol: f64) -> Result<Eigenspaces> {
    let n = op.nrows();
    if op.ncols() != n || mass.len() != n {
        return Err(Error::Shape {
            op: "eigenspaces",
            expected: format!("square operator and {} mass entries", op.nrows()),
            got: vec![op.nrows(), op.ncols(), mass.len()],
        });
    }
    assert!(
        mass.iter().all(|&m| m > 0.0),
        "eigenspaces: mass entries must be positive, got minimum {}",
        mass.iter().cloned().fold(f64::INFINITY, f64::min)
    );

    // Symmetric form of the generalised problem, symmetrised against rounding.
    let inv_sqrt: Vec<f64> = mass.iter().map(|m| 1.0 / m.sqrt()).collect();
    let scaled = Mat::from_fn(n, n, |i, j| {
        0.5 * (op[(i, j)] + op[(j, i)]) * inv_sqrt[i] * inv_sqrt[j]
    });

    let decomposition = scaled
        .self_adjoint_eigen(Side::Lower)
        .expect("eigenspaces: symmetric eigen solver did not converge");
    let values: Vec<f64> = decomposition.S().column_vector().iter().copied().collect();
    let vectors = decomposition.U();
    let basis = Mat::from_fn(n, n, |i, j| vectors[(i, j)] * inv_sqrt[i]);

    let scale = values.iter().fold(1.0_f64, |acc, v| acc.max(v.abs()));
    let (eigenvalues, dims) = group_sorted(&values, rel_tol * scale);
    Ok(Eigenspaces {
        eigenvalues,
        dims,
        basis,
    })
}

/// Groups ascending values into runs within `tol` of each run's first value.
///
/// Returns the mean value and the length of each run.
fn group_sorted(values: &[f64], tol: f64) -> (Vec<f64>, Vec<usize>) {
    let mut means = Vec::new();
    let mut dims = Vec::new();
    let mut start = 0;
    while start < values.len() {
        let mut end = start + 1;
        while end < values.len() && values[end] - values[start] <= tol {
            end += 1;
        }
        means.push(values[start..end].iter().sum::<f64>() / (end - start) as f64);
        dims.push(end - start);
        start = end;
    }
    (means, dims)
}

/// In-place 2-D discrete Fourier transform of a complex `h x w` row-major array.
///
/// Forward: `X(p, q) = sum_{r, c} x(r, c) exp(-2 pi i (p r / h + q c / w))`; the inverse uses the
/// opposite sign and divides by `h * w`. Done as separable 1-D transforms, `O(n (h + w))`.
fn dft2(re: &mut [f64], im: &mut [f64], h: usize, w: usize, inverse: bool) {
    let sign = if inverse { 1.0 } else { -1.0 };
    let transform_lines =
        |re: &mut [f64], im: &mut [f64], len: usize, count: usize, stride: usize, step: usize| {
            let (sines, cosines): (Vec<f64>, Vec<f64>) = (0..len)
                .map(|j| (sign * 2.0 * PI * j as f64 / len as f64).sin_cos())
                .unzip();
            let mut line_re = vec![0.0; len];
            let mut line_im = vec![0.0; len];
            for line in 0..count {
                let base = line * step;
                for k in 0..len {
                    let (mut acc_re, mut acc_im) = (0.0, 0.0);
                    for t in 0..len {
                        let (s, c) = (sines[(k * t) % len], cosines[(k * t) % len]);
                        let (xr, xi) = (re[base + t * stride], im[base + t * stride]);
                        acc_re += xr * c - xi * s;
                        acc_im += xr * s + xi * c;
                    }
                    line_re[k] = acc_re;
                    line_im[k] = acc_im;
                }
                for k in 0..len {
                    re[base + k * stride] = line_re[k];
                    im[base + k * stride] = line_im[k];
                }
            }
        };

    // Rows: w points with stride 1; then columns: h points with stride w.
    transform_lines(re, im, w, h, 1, w);
    transform_lines(re, im, h, w, w, 1);

    if inverse {
        let n = (h * w) as f64;
        re.iter_mut().chain(im.iter_mut()).for_each(|x| *x /= n);
    }
}

/// Signed integer frequency of DFT index `k` on a periodic axis of length `len`.
fn signed_frequency(k: usize, len: usize) -> f64 {
    if 2 * k > len {
        k as f64 - len as f64
    } else {
        k as f64
    }
}

/// Random fields with power spectrum `~ 1/f^exponent`, one per column (`n x channels`).
///
/// The Fourier amplitude of frequency `(p, q)` is `f^(-exponent / 2)`, with
/// `f = sqrt((p/h)^2 + (q/w)^2)` from signed frequencies; the zero frequency is removed.
/// `exponent = 2` is the `1/f^2` power spectrum of natural images. With
/// [`Amplitudes::Gaussian`] each channel is white noise filtered by that amplitude (a Gaussian
/// random field, whose spectrum is a noisy sample of the prescribed one); with
/// [`Amplitudes::Exact`] every frequency has exactly that amplitude and a uniformly random
/// phase (conjugate frequencies get conjugate phases, so the field is real; self-conjugate ones
/// get a random sign). The fluctuation is scaled to unit sample variance, then a random mean of
/// magnitude in `[0.5, 1.5]` and random sign is added (natural images have a non-zero mean,
/// which pins down the constant eigenvector).
///
/// # Panics
/// If `h` or `w` is zero.
pub fn random_fields<R: Rng + ?Sized>(
    h: usize,
    w: usize,
    channels: usize,
    exponent: f64,
    amplitudes: Amplitudes,
    rng: &mut R,
) -> Mat<f64> {
    assert!(
        h > 0 && w > 0,
        "random_fields: grid must be non-empty, got {h} x {w}"
    );
    let n = h * w;
    let amplitude: Vec<f64> = (0..n)
        .map(|i| {
            let fy = signed_frequency(i / w, h) / h as f64;
            let fx = signed_frequency(i % w, w) / w as f64;
            let f = (fy * fy + fx * fx).sqrt();
            if f == 0.0 {
                0.0
            } else {
                f.powf(-0.5 * exponent)
            }
        })
        .collect();
    let conjugate = |i: usize| ((h - i / w) % h) * w + (w - i % w) % w;

    let mut fields = Mat::<f64>::zeros(n, channels);
    for channel in 0..channels {
        let (mut re, mut im) = match amplitudes {
            Amplitudes::Gaussian => {
                // White noise -> spectrum -> amplitude filter.
                let mut re: Vec<f64> = (0..n).map(|_| rng.sample(StandardNormal)).collect();
                let mut im = vec![0.0; n];
                dft2(&mut re, &mut im, h, w, false);
                for i in 0..n {
                    re[i] *= amplitude[i];
                    im[i] *= amplitude[i];
                }
                (re, im)
            }
            Amplitudes::Exact => {
                let (mut re, mut im) = (vec![0.0; n], vec![0.0; n]);
                for i in 0..n {
                    let j = conjugate(i);
                    if j < i {
                        continue;
                    }
                    if j == i {
                        let sign = if rng.random::<bool>() { 1.0 } else { -1.0 };
                        re[i] = sign * amplitude[i];
                    } else {
                        let (sin, cos) = rng.random_range(0.0..2.0 * PI).sin_cos();
                        (re[i], im[i]) = (amplitude[i] * cos, amplitude[i] * sin);
                        (re[j], im[j]) = (amplitude[i] * cos, -amplitude[i] * sin);
                    }
                }
                (re, im)
            }
        };
        dft2(&mut re, &mut im, h, w, true);

        // Unit variance fluctuation plus a clearly non-zero mean.
        let sample_mean = re.iter().sum::<f64>() / n as f64;
        let variance = re.iter().map(|x| (x - sample_mean).powi(2)).sum::<f64>() / n as f64;
        let std = variance.sqrt().max(f64::MIN_POSITIVE);
        let magnitude = rng.random_range(MIN_MEAN..MAX_MEAN);
        let mean = if rng.random::<bool>() {
            magnitude
        } else {
            -magnitude
        };
        for (i, x) in re.iter().enumerate() {
            fields[(i, channel)] = (x - sample_mean) / std + mean;
        }
    }
    fields
}

/// Circularly shifts every column of an `n x channels` stack by `dy` rows and `dx` columns.
///
/// `out(r + dy, c + dx) = in(r, c)` with indices modulo `h` and `w`.
///
/// # Errors
/// [`Error::Shape`] if `signals` does not have `h * w` rows.
pub fn circular_shift(
    signals: &Mat<f64>,
    h: usize,
    w: usize,
    dy: isize,
    dx: isize,
) -> Result<Mat<f64>> {
    if signals.nrows() != h * w {
        return Err(Error::Shape {
            op: "circular_shift",
            expected: format!("{} x channels for a {h} x {w} grid", h * w),
            got: vec![signals.nrows(), signals.ncols()],
        });
    }
    let mut shifted = Mat::<f64>::zeros(signals.nrows(), signals.ncols());
    for r in 0..h {
        let rr = (r as isize + dy).rem_euclid(h as isize) as usize;
        for c in 0..w {
            let cc = (c as isize + dx).rem_euclid(w as isize) as usize;
            for channel in 0..signals.ncols() {
                shifted[(rr * w + cc, channel)] = signals[(r * w + c, channel)];
            }
        }
    }
    Ok(shifted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    /// Eigenvalues from a dense solver of a matrix with entries O(1): accurate to ~1e-13.
    const EIGEN_TOL: f64 = 1e-10;

    /// Grouping tolerance relative to the spectral radius (4): far above rounding, far below
    /// the smallest true gap on a 16 x 16 grid (~1e-2).
    const GROUP_TOL: f64 = 1e-8;

    fn negated(m: &Mat<f64>) -> Mat<f64> {
        Mat::from_fn(m.nrows(), m.ncols(), |i, j| -m[(i, j)])
    }

    fn max_abs_diff(a: &Mat<f64>, b: &Mat<f64>) -> f64 {
        (a - b).as_ref().norm_max()
    }

    #[test]
    fn stencil_rows_sum_to_zero_and_matrix_is_symmetric() {
        let laplacian = stencil_laplacian(5, 7);
        for i in 0..35 {
            let row_sum: f64 = (0..35).map(|j| laplacian[(i, j)]).sum();
            assert!(row_sum.abs() < 1e-14, "row {i} sums to {row_sum}");
        }
        assert!(max_abs_diff(&laplacian, &laplacian.transpose().to_owned()) == 0.0);
        assert_eq!(laplacian[(0, 0)], -3.0);
        // Point (0, 0) neighbours (4, 6) diagonally across both seams.
        assert_eq!(laplacian[(0, 4 * 7 + 6)], 0.25);
    }

    /// Eigenvalues of `-L`: `4 - (1 + cos a)(1 + cos b)` for every frequency (p, q).
    fn analytic_spectrum(h: usize, w: usize) -> Vec<f64> {
        let mut values: Vec<f64> = (0..h * w)
            .map(|i| {
                let a = 2.0 * PI * (i / w) as f64 / h as f64;
                let b = 2.0 * PI * (i % w) as f64 / w as f64;
                4.0 - (1.0 + a.cos()) * (1.0 + b.cos())
            })
            .collect();
        values.sort_by(f64::total_cmp);
        values
    }

    #[test]
    fn eigenspaces_match_fourier_spectrum_and_are_orthonormal() {
        let (h, w) = (16, 16);
        let n = h * w;
        let op = negated(&stencil_laplacian(h, w));
        let mass = vec![1.0; n];
        let spaces = eigenspaces(&op, &mass, GROUP_TOL).unwrap();

        // The Gram matrix is the identity and op V = V diag(lambda).
        let gram = spaces.basis.transpose() * &spaces.basis;
        assert!(max_abs_diff(&gram, &Mat::identity(n, n)) < EIGEN_TOL);
        for s in 0..spaces.dims.len() {
            for j in spaces.columns(s) {
                let v = spaces.basis.col(j);
                let residual = &op * v - v * faer::Scale(spaces.eigenvalues[s]);
                assert!(residual.norm_max() < EIGEN_TOL, "space {s} column {j}");
            }
        }

        // Same spectrum, with multiplicities, as the plane-wave formula.
        let (analytic_values, analytic_dims) =
            group_sorted(&analytic_spectrum(h, w), 4.0 * GROUP_TOL);
        assert_eq!(spaces.dims, analytic_dims);
        for (a, b) in spaces.eigenvalues.iter().zip(&analytic_values) {
            assert!((a - b).abs() < EIGEN_TOL, "{a} vs {b}");
        }
    }

    #[test]
    fn torus_16_multiplicity_pattern() {
        // Reference: the plane-wave eigenvalues 4 - (1 + cos a)(1 + cos b), a, b in 2 pi Z / 16,
        // grouped; checked against the dense solver in the test above.
        let op = negated(&stencil_laplacian(16, 16));
        let spaces = eigenspaces(&op, &[1.0; 256], GROUP_TOL).unwrap();
        assert_eq!(spaces.dims.iter().sum::<usize>(), 256);
        assert!(spaces.eigenvalues[0].abs() < EIGEN_TOL);
        assert_eq!(&spaces.dims[..10], &[1, 4, 4, 4, 8, 4, 4, 8, 8, 4]);

        // 37 eigenspaces; the top one, eigenvalue 4, holds every frequency with a = pi or
        // b = pi (16 + 16 - 1 = 31 of them).
        assert_eq!(spaces.dims.len(), 37);
        assert_eq!(spaces.dims[36], 31);
        assert!((spaces.eigenvalues[36] - 4.0).abs() < EIGEN_TOL);
    }

    #[test]
    fn laplacian_commutes_with_circular_shifts() {
        let (h, w) = (6, 9);
        let mut rng = StdRng::seed_from_u64(7);
        let laplacian = stencil_laplacian(h, w);
        let signals = random_fields(h, w, 3, 2.0, Amplitudes::Gaussian, &mut rng);
        for (dy, dx) in [(1, 0), (0, -2), (5, 4), (-7, 13)] {
            let shift_then_apply = &laplacian * circular_shift(&signals, h, w, dy, dx).unwrap();
            let apply_then_shift = circular_shift(&(&laplacian * &signals), h, w, dy, dx).unwrap();
            assert!(max_abs_diff(&shift_then_apply, &apply_then_shift) < 1e-12);
        }
        // A shift is not the identity, so the check above is not vacuous.
        let moved = circular_shift(&signals, h, w, 1, 0).unwrap();
        assert!(max_abs_diff(&moved, &signals) > 1e-3);
    }

    #[test]
    fn shifts_compose_and_wrap() {
        let (h, w) = (4, 5);
        let signals = Mat::from_fn(h * w, 2, |i, j| (i * 2 + j) as f64);
        let once = circular_shift(&signals, h, w, 3, -1).unwrap();
        let twice = circular_shift(&once, h, w, 2, 4).unwrap();
        let direct = circular_shift(&signals, h, w, 5, 3).unwrap();
        assert_eq!(max_abs_diff(&twice, &direct), 0.0);
        // The value at (0, 0) lands on (3, 4).
        assert_eq!(once[(3 * w + 4, 1)], signals[(0, 1)]);
        assert!(circular_shift(&signals, 3, 5, 1, 1).is_err());
    }

    #[test]
    fn dft_round_trip_and_plane_wave() {
        let (h, w) = (3, 8);
        let original: Vec<f64> = (0..h * w).map(|i| ((i * 7) % 5) as f64 - 1.5).collect();
        let mut re = original.clone();
        let mut im = vec![0.0; h * w];
        dft2(&mut re, &mut im, h, w, false);
        dft2(&mut re, &mut im, h, w, true);
        for (a, b) in re.iter().zip(&original) {
            assert!((a - b).abs() < 1e-12);
        }
        assert!(im.iter().all(|x| x.abs() < 1e-12));

        // cos(2 pi (r / 3 + 2 c / 8)) has weight n / 2 at (1, 2) and (2, 6) only.
        let mut re: Vec<f64> = (0..h * w)
            .map(|i| (2.0 * PI * ((i / w) as f64 / 3.0 + 2.0 * (i % w) as f64 / 8.0)).cos())
            .collect();
        let mut im = vec![0.0; h * w];
        dft2(&mut re, &mut im, h, w, false);
        for i in 0..h * w {
            let expected = if i == w + 2 || i == 2 * w + 6 {
                12.0
            } else {
                0.0
            };
            assert!(
                (re[i] - expected).abs() < 1e-10 && im[i].abs() < 1e-10,
                "index {i}"
            );
        }
    }

    #[test]
    fn random_fields_have_mean_unit_variance_and_inverse_square_spectrum() {
        let (h, w, channels) = (16, 16, 400);
        let n = h * w;
        let mut rng = StdRng::seed_from_u64(11);
        let fields = random_fields(h, w, channels, 2.0, Amplitudes::Gaussian, &mut rng);

        // Per channel: mean magnitude in [0.5, 1.5], fluctuation of unit variance.
        for channel in 0..channels {
            let column: Vec<f64> = (0..n).map(|i| fields[(i, channel)]).collect();
            let mean = column.iter().sum::<f64>() / n as f64;
            let variance = column.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
            assert!((MIN_MEAN..=MAX_MEAN).contains(&mean.abs()), "mean {mean}");
            assert!((variance - 1.0).abs() < 1e-10, "variance {variance}");
        }

        // Power times f^2 is flat: compare a low and a high frequency band, averaged over
        // channels (standard error of each band mean is a few percent).
        let mut band_power = [0.0_f64; 2];
        let mut band_count = [0usize; 2];
        for channel in 0..channels {
            let mut re: Vec<f64> = (0..n).map(|i| fields[(i, channel)]).collect();
            let mut im = vec![0.0; n];
            dft2(&mut re, &mut im, h, w, false);
            for i in 1..n {
                let fy = signed_frequency(i / w, h) / h as f64;
                let fx = signed_frequency(i % w, w) / w as f64;
                let f2 = fy * fy + fx * fx;
                let band = usize::from(f2.sqrt() > 0.25);
                band_power[band] += (re[i] * re[i] + im[i] * im[i]) * f2;
                band_count[band] += 1;
            }
        }
        let low = band_power[0] / band_count[0] as f64;
        let high = band_power[1] / band_count[1] as f64;
        assert!((low / high - 1.0).abs() < 0.1, "low {low} high {high}");
    }

    #[test]
    fn exact_fields_have_the_prescribed_amplitude_at_every_frequency() {
        let (h, w, channels) = (16, 16, 8);
        let n = h * w;
        let mut rng = StdRng::seed_from_u64(12);
        for exponent in [2.0, 3.0] {
            let fields = random_fields(h, w, channels, exponent, Amplitudes::Exact, &mut rng);
            let mut first_phases = Vec::new();
            for channel in 0..channels {
                let mut re: Vec<f64> = (0..n).map(|i| fields[(i, channel)]).collect();
                let mut im = vec![0.0; n];
                dft2(&mut re, &mut im, h, w, false);

                // |X(f)| f^(exponent / 2) is the same constant at every non-zero frequency.
                let scaled: Vec<f64> = (1..n)
                    .map(|i| {
                        let fy = signed_frequency(i / w, h) / h as f64;
                        let fx = signed_frequency(i % w, w) / w as f64;
                        let f = (fy * fy + fx * fx).sqrt();
                        (re[i] * re[i] + im[i] * im[i]).sqrt() * f.powf(0.5 * exponent)
                    })
                    .collect();
                for value in &scaled {
                    assert!(
                        (value / scaled[0] - 1.0).abs() < 1e-9,
                        "exponent {exponent} channel {channel}: {value} vs {}",
                        scaled[0]
                    );
                }
                let mean = re[0] / n as f64;
                assert!((MIN_MEAN..=MAX_MEAN).contains(&mean.abs()), "mean {mean}");
                first_phases.push(im[1].atan2(re[1]));
            }
            // The phases are random: channels differ.
            let spread = first_phases
                .iter()
                .map(|p| (p - first_phases[0]).abs())
                .fold(0.0, f64::max);
            assert!(spread > 0.1, "phases {first_phases:?}");
        }
    }
}
