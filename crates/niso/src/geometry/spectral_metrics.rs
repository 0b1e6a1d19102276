//! Scores for a learned operator `Omega = Phi Lambda Phi^T M` against a ground-truth Laplacian
//! (paper sec. 5.1: the paper shows pictures; these numbers are ours).
//!
//! All inner products are the mass inner product `<u, v> = u^T diag(mass) v` on `n` points;
//! bases are `n x k` matrices, one basis vector per column.
//!
//! - Eigenspace angles: the learned eigenvectors, sorted by learned eigenvalue, are cut into
//!   chunks of the true multiplicities and each chunk is compared with its true eigenspace by
//!   the cosines of the principal angles (singular values of `U_a^T U_b` for orthonormal bases
//!   `U_a`, `U_b` of the two spans in the mass inner product).
//! - Spectrum: the learned eigenvalues have an arbitrary scale, removed by the least-squares
//!   factor `s = <learned, truth> / <learned, learned>` before relative errors.
//! - Block structure: the fraction of `|tau|_F^2` inside the diagonal blocks of the true
//!   multiplicities.
//! - Sphere: with `C = Y^T M Phi`, a rotation acting on harmonic coefficients by `G =
//!   blockdiag(D^l)^T` (see `sphere` for the Wigner convention) acts on learned coefficients by
//!   `E = C^T G C`; `tau` should equal `E` when `Phi` spans the harmonics degree by degree.

use faer::linalg::solvers::Solve;
use faer::{Mat, MatRef};

use super::torus::Eigenspaces;
use crate::error::{Error, Result};

/// Singular values below this fraction of the largest count as rank deficiency (columns of a
/// basis that are numerically dependent in the mass inner product).
const RANK_TOL: f64 = 1e-10;

/// True eigenvalues below this fraction of the largest count as zero (the constant
/// eigenfunction, whose computed eigenvalue is round-off of order 1e-16).
const ZERO_EIGENVALUE_TOL: f64 = 1e-9;

/// How well one learned chunk of eigenvectors matches one true eigenspace.
#[derive(Debug, Clone, PartialEq)]
pub struct SpaceMatch {
    /// Dimension of the true eigenspace (and size of the learned chunk).
    pub dim: usize,
    /// Mean principal-angle cosine between the chunk and the eigenspace: 1 when they coincide,
    /// about `sqrt(dim / n)` for a random chunk.
    pub mean_cosine: f64,
    /// The true eigenvalue.
    pub true_eigenvalue: f64,
    /// Mean of the learned eigenvalues in the chunk.
    pub learned_mean_eigenvalue: f64,
}

fn shape_error(op: &'static str, expected: String, got: Vec<usize>) -> Error {
    Error::Shape { op, expected, got }
}

/// An orthonormal basis (Euclidean) of `sqrt(M) span(a)`, dropping dependent directions.
fn scaled_orthonormal_basis(a: MatRef<'_, f64>, mass: &[f64]) -> Mat<f64> {
    let scaled = Mat::from_fn(a.nrows(), a.ncols(), |i, j| mass[i].sqrt() * a[(i, j)]);
    if a.ncols() == 0 {
        return scaled;
    }
    let svd = scaled
        .thin_svd()
        .expect("principal_cosines: SVD did not converge");
    let singular: Vec<f64> = svd.S().column_vector().iter().copied().collect();
    let rank = singular
        .iter()
        .take_while(|&&s| s > RANK_TOL * singular[0])
        .count();
    svd.U().subcols(0, rank).to_owned()
}

/// Cosines of the principal angles between `span(a)` and `span(b)` in the mass inner product.
///
/// Returns `min(rank a, rank b)` values in `[0, 1]`, descending.
///
/// # Errors
/// [`Error::Shape`] if `a`, `b` and `mass` do not have the same number of rows, or a mass
/// entry is negative.
pub fn principal_cosines(a: MatRef<'_, f64>, b: MatRef<'_, f64>, mass: &[f64]) -> Result<Vec<f64>> {
    if a.nrows() != mass.len() || b.nrows() != mass.len() || mass.iter().any(|&m| m < 0.0) {
        return Err(shape_error(
            "principal_cosines",
            format!("two bases with {} rows and non-negative mass", mass.len()),
            vec![a.nrows(), a.ncols(), b.nrows(), b.ncols()],
        ));
    }
    let basis_a = scaled_orthonormal_basis(a, mass);
    let basis_b = scaled_orthonormal_basis(b, mass);
    if basis_a.ncols() == 0 || basis_b.ncols() == 0 {
        return Ok(Vec::new());
    }

    let cross = basis_a.transpose() * &basis_b;
    let cosines = cross
        .singular_values()
        .expect("principal_cosines: SVD did not converge");
    Ok(cosines.into_iter().map(|c| c.clamp(0.0, 1.0)).collect())
}

/// Indices that sort `values` ascending (ties keep their order).
fn ascending_order(values: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&i, &j| values[i].total_cmp(&values[j]));
    order
}

/// Columns `indices` of `basis`, in that order.
fn select_columns(basis: MatRef<'_, f64>, indices: &[usize]) -> Mat<f64> {
    Mat::from_fn(basis.nrows(), indices.len(), |i, j| basis[(i, indices[j])])
}

/// Matches the first `spaces` true eigenspaces with learned eigenvectors in sorted order.
///
/// The learned columns are sorted by `learned_eigenvalues` ascending and cut into consecutive
/// chunks of sizes `truth.dims[0..spaces]`; chunk `s` is scored against the columns of
/// `truth.basis` of eigenspace `s`.
///
/// # Errors
/// [`Error::Shape`] if `learned_basis` has other than `mass.len()` rows, the eigenvalue count
/// differs from its columns, `spaces` exceeds the true eigenspaces, or the chunks need more
/// columns than learned.
pub fn match_eigenspaces(
    learned_basis: MatRef<'_, f64>,
    learned_eigenvalues: &[f64],
    truth: &Eigenspaces,
    mass: &[f64],
    spaces: usize,
) -> Result<Vec<SpaceMatch>> {
    let needed: usize = truth.dims.iter().take(spaces).sum();
    if learned_basis.nrows() != mass.len()
        || learned_basis.ncols() != learned_eigenvalues.len()
        || spaces > truth.dims.len()
        || needed > learned_basis.ncols()
    {
        return Err(shape_error(
            "match_eigenspaces",
            format!(
                "{} x k learned basis with k eigenvalues, k >= {needed}, at most {} spaces",
                mass.len(),
                truth.dims.len()
            ),
            vec![
                learned_basis.nrows(),
                learned_basis.ncols(),
                learned_eigenvalues.len(),
                spaces,
            ],
        ));
    }
    let order = ascending_order(learned_eigenvalues);

    let mut matches = Vec::with_capacity(spaces);
    let mut start = 0;
    for space in 0..spaces {
        let dim = truth.dims[space];
        let chunk = &order[start..start + dim];
        let learned = select_columns(learned_basis, chunk);
        let columns = truth.columns(space);
        let true_space = truth.basis.subcols(columns.start, columns.len());

        let cosines = principal_cosines(learned.as_ref(), true_space, mass)?;
        matches.push(SpaceMatch {
            dim,
            mean_cosine: cosines.iter().sum::<f64>() / dim as f64,
            true_eigenvalue: truth.eigenvalues[space],
            learned_mean_eigenvalue: chunk.iter().map(|&i| learned_eigenvalues[i]).sum::<f64>()
                / dim as f64,
        });
        start += dim;
    }
    Ok(matches)
}

/// The factor `s` minimising `sum (s learned_i - truth_i)^2`; 0 if `learned` is all zero.
///
/// # Panics
/// If the slices differ in length.
pub fn least_squares_scale(learned: &[f64], truth: &[f64]) -> f64 {
    assert_eq!(
        learned.len(),
        truth.len(),
        "least_squares_scale: {} learned vs {} true eigenvalues",
        learned.len(),
        truth.len()
    );
    let cross: f64 = learned.iter().zip(truth).map(|(l, t)| l * t).sum();
    let square: f64 = learned.iter().map(|l| l * l).sum();
    if square == 0.0 {
        0.0
    } else {
        cross / square
    }
}

/// Relative errors `|s learned_i - truth_i| / |truth_i|` after the least-squares scale `s`.
///
/// A zero true eigenvalue (the constant eigenfunction) has no relative error; its entry is the
/// error relative to the largest `|truth_i|` instead.
///
/// # Panics
/// If the slices differ in length.
pub fn scaled_relative_errors(learned: &[f64], truth: &[f64]) -> Vec<f64> {
    let scale = least_squares_scale(learned, truth);
    let largest = truth.iter().fold(0.0_f64, |acc, t| acc.max(t.abs()));
    learned
        .iter()
        .zip(truth)
        .map(|(l, t)| {
            let reference = if t.abs() <= ZERO_EIGENVALUE_TOL * largest {
                largest
            } else {
                t.abs()
            };
            (scale * l - t).abs() / reference
        })
        .collect()
}

/// Fraction of `|tau|_F^2` in the diagonal blocks of sizes `dims` (starting at index 0).
///
/// Entries with a row or column beyond `sum(dims)` count as outside. Returns 0 for a zero tau.
pub fn block_fraction(tau: MatRef<'_, f64>, dims: &[usize]) -> f64 {
    let total = tau.squared_norm_l2();
    if total == 0.0 {
        return 0.0;
    }
    let mut inside = 0.0;
    let mut start = 0;
    for &dim in dims {
        let end = (start + dim).min(tau.nrows()).min(tau.ncols());
        if end <= start {
            break;
        }
        inside += tau
            .submatrix(start, start, end - start, end - start)
            .squared_norm_l2();
        start = end;
    }
    inside / total
}

/// The rotation's action on learned spectral coefficients, `E = C^T G C`, `k x k`.
///
/// `E = C^T G (Y^T M Y)^{-1} C` with `C = Y^T M Phi`, `Y = truth_basis` (`n x sum(2l+1)`
/// harmonics), `Phi = learned_basis` (`n x k`, `M`-orthonormal), and `G = blockdiag((D^l)^T)`
/// from `wigner` (as returned by `sphere::wigner_real`), the map of harmonic coefficients
/// `c -> c_R` for `f -> f(R^{-1} .)`. When `M` is the quadrature mass, `Y^T M Y = I`.
///
/// # Errors
/// [`Error::Shape`] if row counts differ from `mass.len()` or the Wigner blocks do not cover the
/// columns of `truth_basis`.
pub fn wigner_in_learned_basis(
    learned_basis: MatRef<'_, f64>,
    truth_basis: MatRef<'_, f64>,
    mass: &[f64],
    wigner: &[Mat<f64>],
) -> Result<Mat<f64>> {
    let harmonic_count: usize = wigner.iter().map(|block| block.nrows()).sum();
    if learned_basis.nrows() != mass.len()
        || truth_basis.nrows() != mass.len()
        || truth_basis.ncols() != harmonic_count
    {
        return Err(shape_error(
            "wigner_in_learned_basis",
            format!(
                "{} rows in both bases, {harmonic_count} true columns",
                mass.len()
            ),
            vec![
                learned_basis.nrows(),
                truth_basis.nrows(),
                truth_basis.ncols(),
            ],
        ));
    }

    // C = Y^T M Phi: the M inner products of harmonics and learned basis vectors.
    let weighted = Mat::from_fn(learned_basis.nrows(), learned_basis.ncols(), |i, j| {
        mass[i] * learned_basis[(i, j)]
    });
    let change = truth_basis.transpose() * weighted;

    // A learned mass need not equal the quadrature weights under which Y is orthonormal, so the
    // harmonic coefficients of the learned basis vectors are (Y^T M Y)^{-1} C. With M equal to
    // the weights this is C itself.
    let weighted_truth = Mat::from_fn(truth_basis.nrows(), truth_basis.ncols(), |i, j| {
        mass[i] * truth_basis[(i, j)]
    });
    let gram = truth_basis.transpose() * weighted_truth;
    let coefficients = gram.partial_piv_lu().solve(&change);

    // G (Y^T M Y)^{-1} C, block by block.
    let mut rotated = Mat::<f64>::zeros(change.nrows(), change.ncols());
    let mut offset = 0;
    for block in wigner {
        let size = block.nrows();
        let product = block.transpose() * coefficients.subrows(offset, size);
        rotated.subrows_mut(offset, size).copy_from(&product);
        offset += size;
    }

    Ok(change.transpose() * rotated)
}

/// Per degree `l`, the error of `tau` against the Wigner-D map in the learned basis.
///
/// With `E` from [`wigner_in_learned_basis`] and the learned columns sorted by
/// `learned_eigenvalues` and cut into chunks `S_l` of sizes `2l + 1`, returns
/// `|tau[S_l, S_l] - E[S_l, S_l]|_F / sqrt(2l + 1)`, the error relative to the norm of an
/// orthogonal block (which `E[S_l, S_l]` is when the chunk spans the degree-`l` harmonics).
///
/// # Errors
/// [`Error::Shape`] if `tau` is not `k x k` for `k` learned columns, there are fewer than
/// `sum(2l + 1)` learned columns, or as [`wigner_in_learned_basis`].
pub fn change_of_basis_error(
    tau: MatRef<'_, f64>,
    learned_basis: MatRef<'_, f64>,
    learned_eigenvalues: &[f64],
    truth_basis: MatRef<'_, f64>,
    mass: &[f64],
    wigner: &[Mat<f64>],
) -> Result<Vec<f64>> {
    let k = learned_basis.ncols();
    let harmonic_count: usize = wigner.iter().map(|block| block.nrows()).sum();
    if tau.nrows() != k || tau.ncols() != k || learned_eigenvalues.len() != k || k < harmonic_count
    {
        return Err(shape_error(
            "change_of_basis_error",
            format!("k x k tau and k eigenvalues for k = {k} >= {harmonic_count} learned columns"),
            vec![tau.nrows(), tau.ncols(), learned_eigenvalues.len(), k],
        ));
    }
    let expected = wigner_in_learned_basis(learned_basis, truth_basis, mass, wigner)?;
    let order = ascending_order(learned_eigenvalues);

    let mut errors = Vec::with_capacity(wigner.len());
    let mut start = 0;
    for block in wigner {
        let chunk = &order[start..start + block.nrows()];
        let squared: f64 = chunk
            .iter()
            .flat_map(|&i| chunk.iter().map(move |&j| (i, j)))
            .map(|(i, j)| (tau[(i, j)] - expected[(i, j)]).powi(2))
            .sum();
        errors.push((squared / block.nrows() as f64).sqrt());
        start += block.nrows();
    }
    Ok(errors)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::sphere::{
        driscoll_healy, laplacian_eigenspaces, random_bandlimited, random_rotation, real_harmonics,
        rotated_signals, wigner_real,
    };
    use crate::geometry::torus::{eigenspaces, stencil_laplacian};
    use crate::geometry::Amplitudes;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};
    use rand_distr::StandardNormal;

    /// Dense factorisations of well-conditioned O(1) matrices: errors ~1e-13.
    const TOL: f64 = 1e-9;

    fn gaussian(rows: usize, cols: usize, rng: &mut StdRng) -> Mat<f64> {
        Mat::from_fn(rows, cols, |_, _| rng.sample(StandardNormal))
    }

    /// A random orthogonal `size x size` matrix (Q factor of a Gaussian matrix).
    fn random_orthogonal(size: usize, rng: &mut StdRng) -> Mat<f64> {
        gaussian(size, size, rng).qr().compute_Q()
    }

    /// Block-diagonal random orthogonal matrix with the given block sizes.
    fn block_orthogonal(dims: &[usize], rng: &mut StdRng) -> Mat<f64> {
        let total: usize = dims.iter().sum();
        let mut out = Mat::<f64>::zeros(total, total);
        let mut start = 0;
        for &dim in dims {
            out.submatrix_mut(start, start, dim, dim)
                .copy_from(&random_orthogonal(dim, rng));
            start += dim;
        }
        out
    }

    fn torus_truth() -> Eigenspaces {
        let op = stencil_laplacian(8, 8);
        let negated = Mat::from_fn(64, 64, |i, j| -op[(i, j)]);
        eigenspaces(&negated, &[1.0; 64], 1e-8).unwrap()
    }

    #[test]
    fn principal_cosines_of_same_rotated_and_orthogonal_spans() {
        let mut rng = StdRng::seed_from_u64(1);
        let mass: Vec<f64> = (0..30).map(|_| rng.random_range(0.5..2.0)).collect();
        let a = gaussian(30, 4, &mut rng);

        // The same span through another basis, in a non-trivial mass inner product.
        let mixed = &a * gaussian(4, 4, &mut rng);
        let same = principal_cosines(a.as_ref(), mixed.as_ref(), &mass).unwrap();
        assert_eq!(same.len(), 4);
        assert!(same.iter().all(|c| (c - 1.0).abs() < TOL), "{same:?}");

        // Remove the M-projection onto span(a): orthogonal in the mass inner product.
        let basis_a = scaled_orthonormal_basis(a.as_ref(), &mass);
        let b = gaussian(30, 3, &mut rng);
        let scaled_b = Mat::from_fn(30, 3, |i, j| mass[i].sqrt() * b[(i, j)]);
        let residual = &scaled_b - &basis_a * (basis_a.transpose() * &scaled_b);
        let orthogonal = Mat::from_fn(30, 3, |i, j| residual[(i, j)] / mass[i].sqrt());
        let cosines = principal_cosines(a.as_ref(), orthogonal.as_ref(), &mass).unwrap();
        assert!(cosines.iter().all(|c| c.abs() < TOL), "{cosines:?}");

        // Euclidean orthogonality is not M-orthogonality: the mass matters.
        let euclidean = principal_cosines(a.as_ref(), orthogonal.as_ref(), &[1.0; 30]).unwrap();
        assert!(euclidean[0] > 1e-3);
    }

    #[test]
    fn principal_cosines_drop_dependent_columns_and_check_shapes() {
        let mut rng = StdRng::seed_from_u64(2);
        let a = gaussian(10, 2, &mut rng);
        let mut doubled = Mat::<f64>::zeros(10, 3);
        doubled.subcols_mut(0, 2).copy_from(&a);
        doubled.col_mut(2).copy_from(a.col(0));
        let cosines = principal_cosines(a.as_ref(), doubled.as_ref(), &[1.0; 10]).unwrap();
        assert_eq!(cosines.len(), 2);
        assert!(principal_cosines(a.as_ref(), a.as_ref(), &[1.0; 9]).is_err());
    }

    #[test]
    fn matching_rotated_truth_scores_one_and_shuffled_scores_low() {
        let mut rng = StdRng::seed_from_u64(3);
        let truth = torus_truth();
        let n = truth.basis.nrows();
        let mass = vec![1.0; n];
        let spaces = 6;

        // Rotate within each eigenspace, and scramble the column order consistently with the
        // eigenvalues: sorting must restore the matching.
        let rotated = &truth.basis * block_orthogonal(&truth.dims, &mut rng);
        let mut values: Vec<f64> = truth
            .dims
            .iter()
            .zip(&truth.eigenvalues)
            .flat_map(|(&dim, &value)| std::iter::repeat_n(3.0 * value, dim))
            .collect();
        let permutation: Vec<usize> = (0..n).rev().collect();
        let permuted = select_columns(rotated.as_ref(), &permutation);
        values = permutation.iter().map(|&i| values[i]).collect();

        let matches = match_eigenspaces(permuted.as_ref(), &values, &truth, &mass, spaces).unwrap();
        assert_eq!(matches.len(), spaces);
        for (space, found) in matches.iter().enumerate() {
            assert_eq!(found.dim, truth.dims[space]);
            assert!(
                (found.mean_cosine - 1.0).abs() < TOL,
                "space {space}: {found:?}"
            );
            assert!((found.learned_mean_eigenvalue - 3.0 * found.true_eigenvalue).abs() < TOL);
        }

        // A random orthogonal basis matches poorly.
        let random = random_orthogonal(n, &mut rng);
        let ascending: Vec<f64> = (0..n).map(|i| i as f64).collect();
        let poor = match_eigenspaces(random.as_ref(), &ascending, &truth, &mass, spaces).unwrap();
        assert!(poor.iter().all(|m| m.mean_cosine < 0.7), "{poor:?}");

        assert!(match_eigenspaces(random.as_ref(), &ascending, &truth, &mass, 1000).is_err());
    }

    #[test]
    fn least_squares_scale_recovers_factor_and_errors_vanish() {
        let truth = [0.0, 2.0, 6.0, 12.0];
        let learned: Vec<f64> = truth.iter().map(|t| t / 4.0).collect();
        assert!((least_squares_scale(&learned, &truth) - 4.0).abs() < 1e-14);
        assert!(scaled_relative_errors(&learned, &truth)
            .iter()
            .all(|e| *e < 1e-14));

        // Minimality: the scale beats nearby scales.
        let noisy = [0.1, 0.4, 1.6, 2.9];
        let s = least_squares_scale(&noisy, &truth);
        let residual = |s: f64| -> f64 {
            noisy
                .iter()
                .zip(&truth)
                .map(|(l, t)| (s * l - t).powi(2))
                .sum()
        };
        assert!(residual(s) < residual(s * 1.01) && residual(s) < residual(s * 0.99));
        let errors = scaled_relative_errors(&noisy, &truth);
        assert!((errors[0] - s * 0.1 / 12.0).abs() < 1e-14);
        assert!((errors[1] - (s * 0.4 - 2.0).abs() / 2.0).abs() < 1e-14);
    }

    #[test]
    fn block_fraction_counts_diagonal_blocks() {
        let mut rng = StdRng::seed_from_u64(4);
        let dims = [1, 3, 5];
        let block = block_orthogonal(&dims, &mut rng);
        assert!((block_fraction(block.as_ref(), &dims) - 1.0).abs() < 1e-14);

        // Identity of size 10: 9 of the 10 diagonal entries lie in blocks covering 9 indices.
        let identity = Mat::<f64>::identity(10, 10);
        assert!((block_fraction(identity.as_ref(), &dims) - 0.9).abs() < 1e-14);

        // All-ones 4x4 with blocks (1, 3): (1 + 9) of 16 entries.
        let ones = Mat::from_fn(4, 4, |_, _| 1.0);
        assert!((block_fraction(ones.as_ref(), &[1, 3]) - 10.0 / 16.0).abs() < 1e-14);
    }

    /// The orthogonal Procrustes map `tau = polar(b a^T)` taking coefficients `a` to `b`.
    fn procrustes(a: &Mat<f64>, b: &Mat<f64>) -> Mat<f64> {
        let svd = (b * a.transpose()).svd().unwrap();
        svd.U() * svd.V().transpose()
    }

    #[test]
    fn fitted_tau_matches_wigner_in_a_block_rotated_harmonic_basis() {
        let mut rng = StdRng::seed_from_u64(5);
        let max_degree = 7;
        let grid = driscoll_healy(16, 16);
        let truth = laplacian_eigenspaces(&grid, max_degree);
        let mass = &grid.weights;

        // Learned basis: harmonics rotated within each degree; eigenvalues l(l+1) with a small
        // jitter inside each degree, so sorting keeps degrees together but shuffles within.
        let learned_basis = &truth.basis * block_orthogonal(&truth.dims, &mut rng);
        let learned_eigenvalues: Vec<f64> = (0..=max_degree)
            .flat_map(|l| (0..2 * l + 1).map(move |m| (l * (l + 1)) as f64 + 0.01 * m as f64))
            .collect();

        // Fit tau from band-limited signals and their rotations, projected with Phi^T M.
        let coefficients = random_bandlimited(max_degree, 96, 1.0, Amplitudes::Gaussian, &mut rng);
        let rotation = random_rotation(&mut rng);
        let signals = real_harmonics(max_degree, &grid.points) * &coefficients;
        let rotated = rotated_signals(max_degree, &coefficients, &rotation, &grid.points);
        let project = |f: &Mat<f64>| -> Mat<f64> {
            let weighted = Mat::from_fn(f.nrows(), f.ncols(), |i, j| mass[i] * f[(i, j)]);
            learned_basis.transpose() * weighted
        };
        let tau = procrustes(&project(&signals), &project(&rotated));

        let wigner = wigner_real(max_degree, &rotation);
        let errors = change_of_basis_error(
            tau.as_ref(),
            learned_basis.as_ref(),
            &learned_eigenvalues,
            truth.basis.as_ref(),
            mass,
            &wigner,
        )
        .unwrap();
        assert_eq!(errors.len(), max_degree + 1);
        assert!(errors.iter().all(|e| *e < TOL), "{errors:?}");
        assert!((block_fraction(tau.as_ref(), &truth.dims) - 1.0).abs() < TOL);

        // The Wigner blocks of another rotation do not explain tau.
        let other = wigner_real(max_degree, &random_rotation(&mut rng));
        let wrong = change_of_basis_error(
            tau.as_ref(),
            learned_basis.as_ref(),
            &learned_eigenvalues,
            truth.basis.as_ref(),
            mass,
            &other,
        )
        .unwrap();
        assert!(wrong[1..].iter().all(|e| *e > 0.1), "{wrong:?}");
    }
}
