//! Homographies of the image plane drawn from SL(3), and the warp that applies them to images
//! (PAPER.md section 5.2, HMNIST).
//!
//! A homography is `H = expm(sum_i c_i B_i)` over the basis of sl(3) (traceless 3 x 3 matrices)
//!
//! ```text
//! B = [e1e1^T - I/3, e1e2^T, e1e3^T, e2e1^T, e2e2^T - I/3, e2e3^T, e3e1^T, e3e2^T]
//! ```
//!
//! acting on homogeneous pixel coordinates `p = (x, y, 1)` with `x` the column and `y` the row,
//! both normalised to `linspace(-1, 1, side)`. So `B_2` (`e1e3^T`) translates along `x` and
//! `B_5` (`e2e3^T`) along `y`.
//!
//! Two coefficient laws are provided:
//!
//! - training ([`sample_train`]): `c_i ~ N(0, s_i^2)` with `s =` [`TRAIN_SCALES`];
//! - homNIST test ([`sample_homnist`]): a random walk with `N(0, (s_i/2)^2)` steps that stops at
//!   the first proposal passing a Metropolis test against the Haar density of SL(3) in
//!   exponential coordinates, `dvol(v) = |det((1 - exp(-ad_v)) / ad_v)|` ([`haar_density`]).
//!
//! [`warp`] pushes an image forward by `H`: output pixel `p` samples the input bilinearly at
//! `H^{-1} p` after the projective divide.

use rand::Rng;
use rand_distr::{Distribution, Normal};

/// Dimension of sl(3), the number of basis matrices and coefficients.
pub const ALGEBRA_DIM: usize = 8;

/// Standard deviations `s_i` of the training coefficients `c_i`, in basis order (PAPER.md 5.2).
pub const TRAIN_SCALES: [f64; ALGEBRA_DIM] = [0.15, 0.35, 0.17, 0.35, 0.15, 0.17, 0.15, 0.15];

/// A 3 x 3 matrix, row-major.
pub type Matrix3 = [[f64; 3]; 3];

/// An 8 x 8 matrix acting on sl(3) coordinates, row-major.
pub type Matrix8 = [[f64; ALGEBRA_DIM]; ALGEBRA_DIM];

/// `expm` scales its argument by `2^-k` until the max-row-sum norm is at most this, so that the
/// Taylor series converges to machine precision in a few dozen terms.
const EXPM_SCALED_NORM: f64 = 0.5;

/// A series is truncated once its next term is below this fraction of the running sum's size;
/// well under f64's resolution (2.2e-16), so truncation error is invisible.
const SERIES_RELATIVE_TOL: f64 = 1e-18;

/// Upper bound on series terms; with norm <= 0.5 (expm) or norm of a few units (Haar density)
/// the tolerance is met long before this.
const SERIES_MAX_TERMS: usize = 80;

/// Homogeneous coordinate below which a point is treated as sent to infinity (the projective
/// divide would overflow the pixel grid anyway).
const PROJECTIVE_W_EPS: f64 = 1e-12;

/// Determinant below which [`Homography::inverse`] refuses a matrix as singular.
const SINGULAR_DET_EPS: f64 = 1e-300;

/// Cap on the homNIST random walk; the acceptance ratio is close to 1 for the coefficient sizes
/// used, so the walk normally stops after one or two proposals.
const MAX_WALK_STEPS: usize = 10_000;

/// A projective transformation of the plane, as a 3 x 3 matrix acting on `(x, y, 1)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Homography {
    /// The matrix `H`, row-major.
    pub matrix: Matrix3,
}

impl Homography {
    /// The identity map.
    pub fn identity() -> Self {
        Homography {
            matrix: identity3(),
        }
    }

    /// `H = expm(sum_i c_i B_i)` for sl(3) coefficients `c` in the basis of [`basis`].
    pub fn from_coefficients(coefficients: &[f64; ALGEBRA_DIM]) -> Self {
        Homography {
            matrix: expm(&algebra_element(coefficients)),
        }
    }

    /// The inverse matrix `H^{-1}` (adjugate over determinant).
    ///
    /// # Panics
    /// If `|det H|` is below 1e-300 (a singular matrix is not a homography).
    pub fn inverse(&self) -> Self {
        let m = &self.matrix;
        let cofactor = |r0: usize, r1: usize, c0: usize, c1: usize| {
            m[r0][c0] * m[r1][c1] - m[r0][c1] * m[r1][c0]
        };
        let adjugate = [
            [
                cofactor(1, 2, 1, 2),
                -cofactor(0, 2, 1, 2),
                cofactor(0, 1, 1, 2),
            ],
            [
                -cofactor(1, 2, 0, 2),
                cofactor(0, 2, 0, 2),
                -cofactor(0, 1, 0, 2),
            ],
            [
                cofactor(1, 2, 0, 1),
                -cofactor(0, 2, 0, 1),
                cofactor(0, 1, 0, 1),
            ],
        ];

        let det = det3(m);
        assert!(
            det.abs() > SINGULAR_DET_EPS,
            "Homography::inverse: singular matrix {m:?}, det = {det}"
        );
        Homography {
            matrix: scale3(&adjugate, 1.0 / det),
        }
    }

    /// The composition `self ∘ other`: the matrix product `self.matrix * other.matrix`, which
    /// applies `other` first.
    pub fn compose(&self, other: &Homography) -> Self {
        Homography {
            matrix: mul3(&self.matrix, &other.matrix),
        }
    }

    /// Maps the point `(x, y)` to `(x', y')` with the projective divide, or `None` when the
    /// homogeneous coordinate is (nearly) zero and the image is at infinity.
    pub fn apply(&self, x: f64, y: f64) -> Option<(f64, f64)> {
        let m = &self.matrix;
        let w = m[2][0] * x + m[2][1] * y + m[2][2];
        if w.abs() < PROJECTIVE_W_EPS {
            return None;
        }
        let u = m[0][0] * x + m[0][1] * y + m[0][2];
        let v = m[1][0] * x + m[1][1] * y + m[1][2];
        Some((u / w, v / w))
    }
}

/// The eight basis matrices of sl(3) in the order of PAPER.md 5.2 (see the module doc).
pub fn basis() -> [Matrix3; ALGEBRA_DIM] {
    let third = 1.0 / 3.0;
    let unit = |r: usize, c: usize| {
        let mut m = [[0.0; 3]; 3];
        m[r][c] = 1.0;
        m
    };
    let traceless_diag = |r: usize| {
        let mut m = scale3(&identity3(), -third);
        m[r][r] += 1.0;
        m
    };
    [
        traceless_diag(0),
        unit(0, 1),
        unit(0, 2),
        unit(1, 0),
        traceless_diag(1),
        unit(1, 2),
        unit(2, 0),
        unit(2, 1),
    ]
}

/// The sl(3) element `sum_i c_i B_i`.
pub fn algebra_element(coefficients: &[f64; ALGEBRA_DIM]) -> Matrix3 {
    let mut m = [[0.0; 3]; 3];
    for (c, b) in coefficients.iter().zip(basis().iter()) {
        m = add3(&m, &scale3(b, *c));
    }
    m
}

/// Coordinates of a traceless matrix in the basis `B`, the inverse of [`algebra_element`].
///
/// The six off-diagonal basis matrices are unit matrices, so their coefficients are the
/// entries. The two diagonal ones are not orthogonal: `a (e1e1^T - I/3) + b (e2e2^T - I/3)`
/// has diagonal `(2a - b, 2b - a, -a - b) / 3`, hence `a = m11 - m33` and `b = m22 - m33`.
/// Any trace of `m` is ignored (it lies outside sl(3)).
pub fn coordinates(m: &Matrix3) -> [f64; ALGEBRA_DIM] {
    [
        m[0][0] - m[2][2],
        m[0][1],
        m[0][2],
        m[1][0],
        m[1][1] - m[2][2],
        m[1][2],
        m[2][0],
        m[2][1],
    ]
}

/// Matrix exponential of a 3 x 3 matrix by scaling and squaring:
/// `expm(A) = (T(A / 2^k))^(2^k)` with `T` the Taylor series summed to machine precision and
/// `k` the smallest power making `|A / 2^k|_inf <= 0.5`.
pub fn expm(a: &Matrix3) -> Matrix3 {
    let norm = a
        .iter()
        .map(|row| row.iter().map(|v| v.abs()).sum::<f64>())
        .fold(0.0, f64::max);
    let squarings = if norm > EXPM_SCALED_NORM {
        (norm / EXPM_SCALED_NORM).log2().ceil() as i32
    } else {
        0
    };
    let scaled = scale3(a, 0.5f64.powi(squarings));

    let mut sum = identity3();
    let mut term = identity3();
    for n in 1..SERIES_MAX_TERMS {
        term = scale3(&mul3(&term, &scaled), 1.0 / n as f64);
        sum = add3(&sum, &term);
        if max_abs(&term) <= SERIES_RELATIVE_TOL * max_abs(&sum) {
            break;
        }
    }

    for _ in 0..squarings {
        sum = mul3(&sum, &sum);
    }
    sum
}

/// The adjoint `ad_v` as the 8 x 8 matrix of `X -> [V, X] = V X - X V` in the basis `B`, with
/// `V = sum_i v_i B_i`: column `j` holds [`coordinates`] of `[V, B_j]` (a commutator is
/// traceless, so the coordinates are exact).
pub fn adjoint(v: &[f64; ALGEBRA_DIM]) -> Matrix8 {
    let big_v = algebra_element(v);
    let mut ad = [[0.0; ALGEBRA_DIM]; ALGEBRA_DIM];
    for (j, b) in basis().iter().enumerate() {
        let bracket = sub3(&mul3(&big_v, b), &mul3(b, &big_v));
        for (i, c) in coordinates(&bracket).iter().enumerate() {
            ad[i][j] = *c;
        }
    }
    ad
}

/// Haar density of SL(3) in exponential coordinates, `dvol(v) = |det((1 - exp(-ad_v)) / ad_v)|`.
///
/// The matrix function is evaluated as its everywhere-convergent series
/// `sum_{n >= 0} (-ad_v)^n / (n + 1)!` (term `n` is term `n - 1` times `-ad_v / (n + 1)`),
/// summed until the next term is negligible, and its determinant by an LU factorisation with
/// partial pivoting ([`determinant8`]). `dvol(0) = 1`.
pub fn haar_density(v: &[f64; ALGEBRA_DIM]) -> f64 {
    let minus_ad = scale8(&adjoint(v), -1.0);

    let mut sum = identity8();
    let mut term = identity8();
    for n in 1..SERIES_MAX_TERMS {
        term = scale8(&mul8(&term, &minus_ad), 1.0 / (n + 1) as f64);
        sum = add8(&sum, &term);
        if max_abs8(&term) <= SERIES_RELATIVE_TOL * max_abs8(&sum) {
            break;
        }
    }

    determinant8(&sum).abs()
}

/// Determinant of an 8 x 8 matrix by Gaussian elimination with partial pivoting: the product of
/// the pivots, negated once per row swap. Exactly zero for a matrix with a zero column.
pub fn determinant8(m: &Matrix8) -> f64 {
    let mut lu = *m;
    let mut det = 1.0;
    for k in 0..ALGEBRA_DIM {
        let pivot_row = (k..ALGEBRA_DIM)
            .max_by(|&a, &b| lu[a][k].abs().total_cmp(&lu[b][k].abs()))
            .unwrap_or(k);
        if lu[pivot_row][k] == 0.0 {
            return 0.0;
        }
        if pivot_row != k {
            lu.swap(pivot_row, k);
            det = -det;
        }

        let pivot = lu[k][k];
        det *= pivot;
        let (upper, lower) = lu.split_at_mut(k + 1);
        let pivot_row = &upper[k];
        for row in lower {
            let factor = row[k] / pivot;
            for (entry, above) in row[k..].iter_mut().zip(&pivot_row[k..]) {
                *entry -= factor * above;
            }
        }
    }
    det
}

/// Training coefficients `c_i ~ N(0, s_i^2)` with `s =` [`TRAIN_SCALES`].
pub fn sample_train_coefficients<R: Rng + ?Sized>(rng: &mut R) -> [f64; ALGEBRA_DIM] {
    gaussian_step(rng, 1.0)
}

/// A training homography, `expm` of [`sample_train_coefficients`].
pub fn sample_train<R: Rng + ?Sized>(rng: &mut R) -> Homography {
    Homography::from_coefficients(&sample_train_coefficients(rng))
}

/// homNIST coefficients: start at `x ~ N(0, (s/2)^2)`; then repeatedly propose
/// `x' = x + N(0, (s/2)^2)`, accept with probability `min(1, dvol(-x') / dvol(-x))`, and move
/// to `x'` whether or not it was accepted; return the first accepted `x'`.
///
/// This reads PAPER.md's "x is a sum of at least two such steps" literally: a rejected proposal
/// still moves the walk, so `x` has a standard deviation of about `s / sqrt(2)` when the first
/// proposal passes (the usual case) and more otherwise. The walk is capped at 10,000 proposals,
/// after which the last one is returned.
pub fn sample_homnist_coefficients<R: Rng + ?Sized>(rng: &mut R) -> [f64; ALGEBRA_DIM] {
    let negate = |x: &[f64; ALGEBRA_DIM]| x.map(|c| -c);

    let mut x = gaussian_step(rng, 0.5);
    let mut density = haar_density(&negate(&x));
    for _ in 0..MAX_WALK_STEPS {
        let step = gaussian_step(rng, 0.5);
        let proposal: [f64; ALGEBRA_DIM] = std::array::from_fn(|i| x[i] + step[i]);
        let proposal_density = haar_density(&negate(&proposal));
        let accept_probability = (proposal_density / density).min(1.0);
        let accepted = rng.random::<f64>() < accept_probability;

        x = proposal;
        density = proposal_density;
        if accepted {
            break;
        }
    }
    x
}

/// A homNIST homography, `expm` of [`sample_homnist_coefficients`].
pub fn sample_homnist<R: Rng + ?Sized>(rng: &mut R) -> Homography {
    Homography::from_coefficients(&sample_homnist_coefficients(rng))
}

/// Independent `N(0, (factor * s_i)^2)` draws, one per basis element.
fn gaussian_step<R: Rng + ?Sized>(rng: &mut R, factor: f64) -> [f64; ALGEBRA_DIM] {
    std::array::from_fn(|i| {
        let normal = Normal::new(0.0, factor * TRAIN_SCALES[i])
            .expect("TRAIN_SCALES are finite and positive");
        normal.sample(rng)
    })
}

/// What [`warp`] samples where `H^{-1} p` falls outside the input image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fill {
    /// Every out-of-range bilinear neighbour reads this value (training: the image minimum).
    Constant(f32),
    /// Out-of-range neighbours read the nearest edge pixel (homNIST).
    ClampEdges,
}

/// Pushes a `side x side` image forward by `h`: output pixel `p = (x, y)` on the grid
/// `linspace(-1, 1, side)` (x the column, y the row) is the bilinear sample of `image` at
/// `H^{-1} p` after the projective divide, with `fill` deciding out-of-range neighbours.
///
/// # Panics
/// If `image` or `out` does not hold `side * side` values, or `side < 2`.
pub fn warp(image: &[f32], side: usize, h: &Homography, fill: Fill, out: &mut [f32]) {
    assert!(side >= 2, "warp: side must be at least 2, got {side}");
    assert_eq!(
        image.len(),
        side * side,
        "warp: image length vs side {side}^2"
    );
    assert_eq!(out.len(), side * side, "warp: out length vs side {side}^2");

    let inverse = h.inverse();
    let half_span = (side - 1) as f64 / 2.0;
    let to_normalised = |index: usize| index as f64 / half_span - 1.0;
    let to_pixel = |coordinate: f64| (coordinate + 1.0) * half_span;

    for row in 0..side {
        for col in 0..side {
            let source = inverse.apply(to_normalised(col), to_normalised(row));
            out[row * side + col] = match source {
                Some((x, y)) => bilinear(image, side, to_pixel(x), to_pixel(y), fill),
                None => match fill {
                    Fill::Constant(value) => value,
                    Fill::ClampEdges => bilinear(image, side, f64::MAX, f64::MAX, fill),
                },
            };
        }
    }
}

/// Bilinear sample of `image` at fractional pixel position (`col`, `row`).
fn bilinear(image: &[f32], side: usize, col: f64, row: f64, fill: Fill) -> f32 {
    let limit = side as f64;
    let col = col.clamp(-2.0, limit + 1.0);
    let row = row.clamp(-2.0, limit + 1.0);
    let (col0, row0) = (col.floor(), row.floor());
    let (tx, ty) = ((col - col0) as f32, (row - row0) as f32);

    let read = |r: f64, c: f64| -> f32 {
        let inside = (0.0..limit).contains(&r) && (0.0..limit).contains(&c);
        match fill {
            Fill::Constant(value) if !inside => value,
            _ => {
                let r = r.clamp(0.0, limit - 1.0) as usize;
                let c = c.clamp(0.0, limit - 1.0) as usize;
                image[r * side + c]
            }
        }
    };

    let top = (1.0 - tx) * read(row0, col0) + tx * read(row0, col0 + 1.0);
    let bottom = (1.0 - tx) * read(row0 + 1.0, col0) + tx * read(row0 + 1.0, col0 + 1.0);
    (1.0 - ty) * top + ty * bottom
}

fn identity3() -> Matrix3 {
    std::array::from_fn(|r| std::array::from_fn(|c| if r == c { 1.0 } else { 0.0 }))
}

fn mul3(a: &Matrix3, b: &Matrix3) -> Matrix3 {
    std::array::from_fn(|r| std::array::from_fn(|c| (0..3).map(|k| a[r][k] * b[k][c]).sum()))
}

fn add3(a: &Matrix3, b: &Matrix3) -> Matrix3 {
    std::array::from_fn(|r| std::array::from_fn(|c| a[r][c] + b[r][c]))
}

fn sub3(a: &Matrix3, b: &Matrix3) -> Matrix3 {
    std::array::from_fn(|r| std::array::from_fn(|c| a[r][c] - b[r][c]))
}

fn scale3(a: &Matrix3, factor: f64) -> Matrix3 {
    a.map(|row| row.map(|v| v * factor))
}

fn max_abs(a: &Matrix3) -> f64 {
    a.iter().flatten().map(|v| v.abs()).fold(0.0, f64::max)
}

fn det3(m: &Matrix3) -> f64 {
    m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
        - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
        + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
}

fn identity8() -> Matrix8 {
    std::array::from_fn(|r| std::array::from_fn(|c| if r == c { 1.0 } else { 0.0 }))
}

fn mul8(a: &Matrix8, b: &Matrix8) -> Matrix8 {
    std::array::from_fn(|r| {
        std::array::from_fn(|c| (0..ALGEBRA_DIM).map(|k| a[r][k] * b[k][c]).sum())
    })
}

fn add8(a: &Matrix8, b: &Matrix8) -> Matrix8 {
    std::array::from_fn(|r| std::array::from_fn(|c| a[r][c] + b[r][c]))
}

fn scale8(a: &Matrix8, factor: f64) -> Matrix8 {
    a.map(|row| row.map(|v| v * factor))
}

fn max_abs8(a: &Matrix8) -> f64 {
    a.iter().flatten().map(|v| v.abs()).fold(0.0, f64::max)
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    use super::*;

    /// Agreement expected of f64 identities after a few dozen flops on O(1) numbers.
    const F64_TOL: f64 = 1e-12;

    fn assert_close3(a: &Matrix3, b: &Matrix3, tol: f64) {
        for r in 0..3 {
            for c in 0..3 {
                assert!(
                    (a[r][c] - b[r][c]).abs() <= tol,
                    "entry ({r}, {c}): {} vs {} (tol {tol})\n{a:?}\n{b:?}",
                    a[r][c],
                    b[r][c]
                );
            }
        }
    }

    fn random_coefficients(rng: &mut StdRng, size: f64) -> [f64; ALGEBRA_DIM] {
        std::array::from_fn(|_| rng.random_range(-size..size))
    }

    #[test]
    fn basis_is_traceless_and_coordinates_invert_it() {
        for (i, b) in basis().iter().enumerate() {
            let trace = b[0][0] + b[1][1] + b[2][2];
            assert!(trace.abs() < F64_TOL, "B_{i} has trace {trace}");
        }

        let mut rng = StdRng::seed_from_u64(1);
        let c = random_coefficients(&mut rng, 2.0);
        let back = coordinates(&algebra_element(&c));
        for i in 0..ALGEBRA_DIM {
            assert!(
                (back[i] - c[i]).abs() < F64_TOL,
                "coordinate {i}: {} vs {}",
                back[i],
                c[i]
            );
        }
    }

    #[test]
    fn expm_is_inverted_by_expm_of_negative_and_has_unit_determinant() {
        let mut rng = StdRng::seed_from_u64(2);
        for size in [0.1, 1.0, 3.0] {
            let a = algebra_element(&random_coefficients(&mut rng, size));
            let product = mul3(&expm(&a), &expm(&scale3(&a, -1.0)));
            let tol = 1e-10
                * expm(&a)
                    .iter()
                    .flatten()
                    .map(|v| v.abs())
                    .sum::<f64>()
                    .powi(2);
            assert_close3(&product, &identity3(), tol);

            let det = det3(&expm(&a));
            assert!(
                (det - 1.0).abs() < 1e-9,
                "det expm(A) = {det} for |A| ~ {size}"
            );
        }
    }

    #[test]
    fn expm_matches_closed_forms() {
        let diagonal = [[0.3, 0.0, 0.0], [0.0, -1.2, 0.0], [0.0, 0.0, 0.9]];
        let expected = [
            [0.3f64.exp(), 0.0, 0.0],
            [0.0, (-1.2f64).exp(), 0.0],
            [0.0, 0.0, 0.9f64.exp()],
        ];
        assert_close3(&expm(&diagonal), &expected, F64_TOL);

        let t = 1.7;
        let shift = Homography::from_coefficients(&[0.0, 0.0, t, 0.0, 0.0, 0.0, 0.0, 0.0]);
        let expected = [[1.0, 0.0, t], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
        assert_close3(&shift.matrix, &expected, F64_TOL);
    }

    #[test]
    fn inverse_and_compose_give_identity() {
        let mut rng = StdRng::seed_from_u64(3);
        let h = sample_train(&mut rng);
        let g = sample_train(&mut rng);
        assert_close3(&h.compose(&h.inverse()).matrix, &identity3(), F64_TOL);
        assert_close3(&h.inverse().compose(&h).matrix, &identity3(), F64_TOL);

        let (x, y) = (0.3, -0.4);
        let (gx, gy) = g.apply(x, y).unwrap();
        let (hgx, hgy) = h.apply(gx, gy).unwrap();
        let (cx, cy) = h.compose(&g).apply(x, y).unwrap();
        assert!((hgx - cx).abs() < F64_TOL && (hgy - cy).abs() < F64_TOL);
    }

    #[test]
    fn adjoint_matrix_reproduces_the_bracket() {
        let mut rng = StdRng::seed_from_u64(4);
        let v = random_coefficients(&mut rng, 1.0);
        let x = random_coefficients(&mut rng, 1.0);
        let ad = adjoint(&v);
        let ad_x: [f64; ALGEBRA_DIM] =
            std::array::from_fn(|i| (0..ALGEBRA_DIM).map(|j| ad[i][j] * x[j]).sum());

        let (big_v, big_x) = (algebra_element(&v), algebra_element(&x));
        let bracket = sub3(&mul3(&big_v, &big_x), &mul3(&big_x, &big_v));
        assert_close3(&algebra_element(&ad_x), &bracket, F64_TOL);
    }

    #[test]
    fn determinant8_matches_products_and_triangular_matrices() {
        let mut rng = StdRng::seed_from_u64(5);
        let random8 = |rng: &mut StdRng| -> Matrix8 {
            std::array::from_fn(|_| std::array::from_fn(|_| rng.random_range(-1.0..1.0)))
        };
        let (a, b) = (random8(&mut rng), random8(&mut rng));
        let product = determinant8(&mul8(&a, &b));
        let separate = determinant8(&a) * determinant8(&b);
        assert!((product - separate).abs() < 1e-10 * separate.abs().max(1.0));

        let mut triangular = random8(&mut rng);
        for (r, row) in triangular.iter_mut().enumerate() {
            row[..r].fill(0.0);
        }
        let diagonal_product: f64 = (0..ALGEBRA_DIM).map(|i| triangular[i][i]).product();
        let mut swapped = triangular;
        swapped.swap(0, 5);
        assert!((determinant8(&triangular) - diagonal_product).abs() < 1e-14);
        assert!((determinant8(&swapped) + diagonal_product).abs() < 1e-14);
    }

    #[test]
    fn haar_density_matches_diagonal_closed_form() {
        // For V = diag(d), ad_V has eigenvalues d_i - d_j (i != j) and 0 (twice), so
        // dvol = prod_{i != j} (1 - exp(-(d_i - d_j))) / (d_i - d_j).
        let (a, b) = (0.7, -0.4);
        let v = [a, 0.0, 0.0, 0.0, b, 0.0, 0.0, 0.0];
        let big_v = algebra_element(&v);
        let d = [big_v[0][0], big_v[1][1], big_v[2][2]];
        let mut expected = 1.0;
        for i in 0..3 {
            for j in 0..3 {
                if i != j {
                    let lambda = d[i] - d[j];
                    expected *= (1.0 - (-lambda).exp()) / lambda;
                }
            }
        }
        let got = haar_density(&v);
        assert!(
            (got - expected).abs() < 1e-12,
            "dvol = {got}, closed form {expected}"
        );
        assert!(
            (expected - 1.0).abs() > 1e-2,
            "test point too close to the identity"
        );

        assert!((haar_density(&[0.0; ALGEBRA_DIM]) - 1.0).abs() < F64_TOL);
        let nilpotent = [0.0, 0.8, 1.3, 0.0, 0.0, -0.5, 0.0, 0.0];
        assert!((haar_density(&nilpotent) - 1.0).abs() < F64_TOL);
    }

    #[test]
    fn train_and_homnist_coefficient_spreads_follow_their_laws() {
        let mut rng = StdRng::seed_from_u64(6);
        let samples = 4000;
        let spread = |draws: &[[f64; ALGEBRA_DIM]], i: usize| {
            (draws.iter().map(|c| c[i] * c[i]).sum::<f64>() / draws.len() as f64).sqrt()
        };

        let train: Vec<_> = (0..samples)
            .map(|_| sample_train_coefficients(&mut rng))
            .collect();
        let homnist: Vec<_> = (0..samples)
            .map(|_| sample_homnist_coefficients(&mut rng))
            .collect();
        for (i, s) in TRAIN_SCALES.iter().enumerate() {
            let train_std = spread(&train, i);
            assert!(
                (train_std / s - 1.0).abs() < 0.06,
                "train c_{i}: std {train_std}, s {s}"
            );

            let homnist_std = spread(&homnist, i);
            let (low, high) = (0.93 * s / 2f64.sqrt(), 1.05 * s);
            assert!(
                (low..high).contains(&homnist_std),
                "homNIST c_{i}: std {homnist_std} outside [{low}, {high}]"
            );
        }
    }

    fn gaussian_blob(side: usize, centre: (f64, f64), width: f64) -> Vec<f32> {
        let half_span = (side - 1) as f64 / 2.0;
        (0..side * side)
            .map(|k| {
                let x = (k % side) as f64 / half_span - 1.0;
                let y = (k / side) as f64 / half_span - 1.0;
                let r2 = (x - centre.0).powi(2) + (y - centre.1).powi(2);
                (-r2 / (2.0 * width * width)).exp() as f32
            })
            .collect()
    }

    fn argmax(values: &[f32]) -> usize {
        (0..values.len())
            .max_by(|&a, &b| values[a].total_cmp(&values[b]))
            .unwrap()
    }

    #[test]
    fn identity_warp_leaves_the_image_unchanged() {
        let side = 40;
        let mut rng = StdRng::seed_from_u64(7);
        let image: Vec<f32> = (0..side * side).map(|_| rng.random()).collect();
        for fill in [Fill::Constant(-1.0), Fill::ClampEdges] {
            let mut out = vec![0.0; side * side];
            warp(&image, side, &Homography::identity(), fill, &mut out);
            let worst = image
                .iter()
                .zip(&out)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f32::max);
            assert!(
                worst < 1e-5,
                "identity warp changed a pixel by {worst} ({fill:?})"
            );
        }
    }

    #[test]
    fn warp_then_inverse_warp_recovers_a_smooth_image_inside() {
        let side = 40;
        let image = gaussian_blob(side, (0.1, -0.15), 0.35);
        let h = Homography::from_coefficients(&[0.1, 0.15, 0.1, -0.1, -0.05, -0.1, 0.1, -0.1]);
        let (mut forward, mut back) = (vec![0.0; side * side], vec![0.0; side * side]);
        warp(&image, side, &h, Fill::ClampEdges, &mut forward);
        warp(&forward, side, &h.inverse(), Fill::ClampEdges, &mut back);

        let interior = |k: usize| (10..30).contains(&(k % side)) && (10..30).contains(&(k / side));
        let max_diff = |a: &[f32], b: &[f32]| {
            (0..side * side)
                .filter(|&k| interior(k))
                .map(|k| (a[k] - b[k]).abs())
                .fold(0.0, f32::max)
        };
        let moved = max_diff(&image, &forward);
        let recovered = max_diff(&image, &back);
        assert!(
            moved > 0.1,
            "the test homography barely moves the image ({moved})"
        );
        assert!(
            recovered < 0.02,
            "round trip error {recovered} in the interior"
        );
    }

    #[test]
    fn translation_generator_moves_a_blob_right_and_down() {
        let side = 41;
        let image = gaussian_blob(side, (0.0, 0.0), 0.08);
        let centre = argmax(&image);
        assert_eq!((centre % side, centre / side), (20, 20));

        // Normalised step 2 / (side - 1) per pixel: shift 5 pixels along x, 3 along y.
        let pixel = 2.0 / (side - 1) as f64;
        let h = Homography::from_coefficients(&[
            0.0,
            0.0,
            5.0 * pixel,
            0.0,
            0.0,
            3.0 * pixel,
            0.0,
            0.0,
        ]);
        let mut out = vec![0.0; side * side];
        warp(&image, side, &h, Fill::Constant(0.0), &mut out);
        let moved = argmax(&out);
        assert_eq!((moved % side, moved / side), (25, 23));
    }

    #[test]
    fn fill_modes_differ_only_where_the_source_leaves_the_image() {
        let side = 20;
        let image: Vec<f32> = (0..side * side).map(|k| (k % side) as f32).collect();
        let pixel = 2.0 / (side - 1) as f64;
        let h = Homography::from_coefficients(&[0.0, 0.0, 4.0 * pixel, 0.0, 0.0, 0.0, 0.0, 0.0]);
        let (mut constant, mut clamped) = (vec![0.0; side * side], vec![0.0; side * side]);
        warp(&image, side, &h, Fill::Constant(-7.0), &mut constant);
        warp(&image, side, &h, Fill::ClampEdges, &mut clamped);

        for row in 0..side {
            for col in 0..side {
                let k = row * side + col;
                if col < 4 {
                    assert!(
                        (constant[k] + 7.0).abs() < 1e-4,
                        "vacated pixel {k}: {}",
                        constant[k]
                    );
                    assert!(clamped[k].abs() < 1e-4, "clamped pixel {k}: {}", clamped[k]);
                } else {
                    let expected = (col - 4) as f32;
                    assert!((constant[k] - expected).abs() < 1e-4);
                    assert!((clamped[k] - expected).abs() < 1e-4);
                }
            }
        }
    }
}
