//! Identities of the spectral operator and the isometry solve.

mod common;

use burn::module::Param;
use burn::tensor::{DType, Tensor, TensorData};
use common::*;
use niso::operator::{EigenInit, SpectralOperator};

fn vector(values: Vec<f64>) -> Tensor<1> {
    let n = values.len();
    Tensor::from_data(TensorData::new(values, [n]), (&device(), DType::F64))
}

/// An operator on `n` points with raw eigenvalue parameters `lam` and a random basis and mass.
fn operator(n: usize, lam: Vec<f64>, seed: u64) -> SpectralOperator {
    let k = lam.len();
    let mass = normal(n, seed).iter().map(|x| 1.0 + 0.3 * x).collect();
    let basis = normal(n * k, seed + 1);
    SpectralOperator {
        mass: Param::from_tensor(vector(mass)),
        basis: Param::from_tensor(vector(basis).reshape([n, k])),
        eigenvalues: Param::from_tensor(vector(lam)),
        eigen_init: EigenInit::Cumulative,
        eigen_scale: 1.0,
    }
}

#[test]
fn basis_is_mass_orthonormal() {
    let spectrum = operator(12, normal(5, 1), 1).spectrum().unwrap();
    let [n, k] = spectrum.basis.dims();
    let weighted = spectrum.basis.clone() * spectrum.mass.clone().reshape([n, 1]);
    let gram = spectrum.basis.clone().transpose().matmul(weighted);
    let identity = Tensor::<2>::eye(k, &device()).cast(DType::F64);
    let error = values(&(gram - identity).abs().max())[0];
    assert!(error < 1e-12, "Phi^T M Phi - I: {error:e}");
}

#[test]
fn eigenvalues_ascend_for_both_parameterisations() {
    let mut op = operator(10, normal(6, 2), 2);
    for init in [EigenInit::Cumulative, EigenInit::Clustered] {
        op.eigen_init = init;
        let lambda = values(&op.spectrum().unwrap().eigenvalues);
        assert!(
            lambda.windows(2).all(|w| w[0] <= w[1]),
            "{init:?}: {lambda:?}"
        );
    }
}

#[test]
fn projection_then_unprojection_is_identity_on_coefficients() {
    let spectrum = operator(9, normal(4, 3), 3).spectrum().unwrap();
    let coefficients = tensor3(normal(2 * 4 * 3, 4), [2, 4, 3], &device());
    let back = spectrum.project(spectrum.unproject(coefficients.clone()));
    let error = max_abs_diff(&values(&back), &values(&coefficients));
    assert!(error < 1e-12, "Phi^T M Phi c - c: {error:e}");
}

/// Raw parameters whose cumulative eigenvalues form blocks of the given sizes, `gap` apart.
fn blocks(sizes: &[usize], gap: f64) -> Vec<f64> {
    let mut lam = Vec::new();
    for (index, &size) in sizes.iter().enumerate() {
        lam.push(if index == 0 { 0.0 } else { gap.sqrt() });
        lam.extend(std::iter::repeat_n(0.0, size - 1));
    }
    lam
}

#[test]
fn solve_recovers_an_isometry_that_commutes_with_lambda() {
    let sizes = [1, 3, 2];
    let k = 6;
    let d = 8;
    let spectrum = operator(10, blocks(&sizes, 100.0), 5).spectrum().unwrap();

    let mut rotation = vec![0.0; k * k];
    let mut offset = 0;
    for (index, &size) in sizes.iter().enumerate() {
        let block = random_rotation(size, 10 + index as u64);
        for i in 0..size {
            for j in 0..size {
                rotation[(offset + i) * k + offset + j] = block[i * size + j];
            }
        }
        offset += size;
    }
    let a = normal(k * d, 6);
    let b = matmul(&rotation, &a, k, k, d);

    let device = device();
    let a = tensor3(a, [1, k, d], &device);
    let b = tensor3(b, [1, k, d], &device);
    let isometry = spectrum.isometry(a.clone(), b.clone()).unwrap();

    let error = max_abs_diff(&values(&isometry.tau), &rotation);
    assert!(
        error < 1e-9,
        "tau differs from the true isometry by {error:e}"
    );
    let equivariance = values(&((isometry.apply(a.clone()) - b.clone()).abs().mean()))[0]
        + values(&((isometry.apply_inverse(b) - a).abs().mean()))[0];
    assert!(equivariance < 1e-9, "L_E = {equivariance:e}");
}

#[test]
fn tau_is_a_rotation() {
    let spectrum = operator(16, normal(7, 7), 7).spectrum().unwrap();
    let device = device();
    let a = tensor3(normal(3 * 7 * 5, 8), [3, 7, 5], &device);
    let b = tensor3(normal(3 * 7 * 5, 9), [3, 7, 5], &device);
    let tau = values(&spectrum.isometry(a, b).unwrap().tau);
    for block in tau.chunks(49) {
        let gram = matmul(&transpose(block, 7, 7), block, 7, 7, 7);
        let identity: Vec<f64> = (0..49)
            .map(|i| if i % 8 == 0 { 1.0 } else { 0.0 })
            .collect();
        assert!(max_abs_diff(&gram, &identity) < 1e-12, "tau^T tau != I");
        let det = determinant(block, 7);
        assert!((det - 1.0).abs() < 1e-12, "det tau = {det}");
    }
}

#[test]
fn separated_spectrum_gives_nearly_diagonal_tau() {
    let k = 6;
    let spectrum = operator(10, blocks(&[1; 6], 30.0), 11).spectrum().unwrap();
    let device = device();
    let a = tensor3(normal(k * 4, 12), [1, k, 4], &device);
    let b = tensor3(normal(k * 4, 13), [1, k, 4], &device);
    let tau = values(&spectrum.isometry(a, b).unwrap().tau);

    let total: f64 = tau.iter().map(|x| x * x).sum();
    let diagonal: f64 = (0..k).map(|i| tau[i * k + i].powi(2)).sum();
    assert!(
        diagonal / total > 0.999,
        "only {:.4} of tau's energy is on the diagonal",
        diagonal / total
    );
}

#[test]
fn multiplicity_loss_falls_as_eigenvalues_separate() {
    let close = operator(8, blocks(&[1; 4], 0.01), 14).spectrum().unwrap();
    let far = operator(8, blocks(&[1; 4], 10.0), 14).spectrum().unwrap();
    let close = values(&close.multiplicity_loss())[0];
    let far = values(&far.multiplicity_loss())[0];
    assert!(far < close, "L_M separated {far} >= clustered {close}");
    assert!(far < 1e-3, "L_M of a well separated spectrum is {far}");
}

#[test]
fn a_blunt_mask_lets_tau_mix_every_eigenfunction() {
    let mut spectrum = operator(8, blocks(&[1; 4], 10.0), 15).spectrum().unwrap();
    spectrum.mask_sharpness = 0.0;
    let mask = values(&spectrum.mask());
    assert!(
        mask.iter().all(|&p| (p - 1.0).abs() < 1e-12),
        "sharpness 0 must give P = 1, got {mask:?}"
    );

    spectrum.mask_sharpness = 0.5;
    let half = values(&spectrum.mask());
    spectrum.mask_sharpness = 1.0;
    let full = values(&spectrum.mask());
    for (h, f) in half.iter().zip(&full) {
        assert!((h * h - f).abs() < 1e-12, "P(s/2)^2 = P(s): {h}^2 vs {f}");
    }
}
