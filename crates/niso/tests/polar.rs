//! The polar factor and its analytic gradient against central finite differences in `f64`.

mod common;

use burn::tensor::{DType, Tensor};
use common::*;
use niso::linalg::{polar, PolarKind};

/// Central-difference step: the truncation error is O(h^2) ~ 1e-12, round-off ~ 1e-16 / h.
const STEP: f64 = 1e-6;
/// Allowed relative difference between analytic and numerical gradients.
const GRADIENT_TOLERANCE: f64 = 1e-6;

/// `sum(polar(A) * W)` for host matrices.
fn objective(a: &[f64], weights: &[f64], shape: [usize; 3], kind: PolarKind) -> f64 {
    let device = device();
    let q = polar(tensor3(a.to_vec(), shape, &device), kind).unwrap();
    let w = tensor3(weights.to_vec(), shape, &device);
    values(&(q * w).sum())[0]
}

fn analytic_gradient(a: &[f64], weights: &[f64], shape: [usize; 3], kind: PolarKind) -> Vec<f64> {
    let device = device();
    let input = tensor3(a.to_vec(), shape, &device).require_grad();
    let w = tensor3(weights.to_vec(), shape, &device);
    let loss = (polar(input.clone(), kind).unwrap() * w).sum();
    let grads = loss.backward();
    values(&input.grad(&grads).expect("the input is tracked"))
}

fn check_gradient(a: &[f64], shape: [usize; 3], kind: PolarKind, seed: u64) {
    let weights = normal(a.len(), seed + 1000);
    let analytic = analytic_gradient(a, &weights, shape, kind);

    let mut numeric = vec![0.0; a.len()];
    for index in 0..a.len() {
        let mut plus = a.to_vec();
        let mut minus = a.to_vec();
        plus[index] += STEP;
        minus[index] -= STEP;
        numeric[index] = (objective(&plus, &weights, shape, kind)
            - objective(&minus, &weights, shape, kind))
            / (2.0 * STEP);
    }

    let scale = numeric.iter().map(|x| x.abs()).fold(1.0, f64::max);
    let error = max_abs_diff(&analytic, &numeric) / scale;
    assert!(
        error < GRADIENT_TOLERANCE,
        "{kind:?} {shape:?}: relative gradient error {error:e}\nanalytic {analytic:?}\nnumeric {numeric:?}"
    );
}

/// `U diag(s) V^T` for random orthogonal `U` (`n x k`) and `V` (`k x k`).
fn with_singular_values(n: usize, s: &[f64], seed: u64) -> Vec<f64> {
    let k = s.len();
    let u_full = random_rotation(n, seed);
    let v = random_rotation(k, seed + 1);
    let mut us = vec![0.0; n * k];
    for i in 0..n {
        for j in 0..k {
            us[i * k + j] = u_full[i * n + j] * s[j];
        }
    }
    matmul(&us, &transpose(&v, k, k), n, k, k)
}

#[test]
fn thin_gradient_matches_finite_differences() {
    let shape = [2, 6, 3];
    let a = normal(36, 1);
    check_gradient(&a, shape, PolarKind::Thin, 1);
}

#[test]
fn special_gradient_matches_finite_differences() {
    let shape = [3, 4, 4];
    let a = normal(48, 2);
    check_gradient(&a, shape, PolarKind::Special, 2);
}

#[test]
fn special_gradient_with_negative_determinant() {
    let k = 3;
    let mut a = with_singular_values(k, &[3.0, 2.0, 1.0], 3);
    for entry in &mut a[..k] {
        *entry = -*entry;
    }
    assert!(
        determinant(&a, k) < 0.0,
        "the test input must be a reflection"
    );
    check_gradient(&a, [1, k, k], PolarKind::Special, 3);
}

#[test]
fn gradient_with_nearly_repeated_singular_values() {
    let square = with_singular_values(4, &[2.0, 1.0 + 1e-3, 1.0, 0.5], 4);
    check_gradient(&square, [1, 4, 4], PolarKind::Special, 4);

    let thin = with_singular_values(5, &[2.0, 1.0 + 1e-3, 1.0], 5);
    check_gradient(&thin, [1, 5, 3], PolarKind::Thin, 5);
}

#[test]
fn polar_factor_is_orthogonal_and_special() {
    let device = device();
    let k = 5;
    let q = polar(
        tensor3(normal(2 * k * k, 6), [2, k, k], &device),
        PolarKind::Special,
    )
    .unwrap();
    let gram = q.clone().swap_dims(1, 2).matmul(q.clone());
    let identity = Tensor::<2>::eye(k, &device).cast(DType::F64);
    let error = values(&(gram - identity.reshape([1, k, k])).abs().max());
    assert!(error[0] < 1e-12, "Q^T Q - I = {error:?}");

    let entries = values(&q);
    for b in 0..2 {
        let det = determinant(&entries[b * k * k..(b + 1) * k * k], k);
        assert!((det - 1.0).abs() < 1e-12, "det Q = {det}");
    }
}

#[test]
fn degenerate_inputs_give_finite_gradients() {
    let rank_one = {
        let u = normal(4, 7);
        let v = normal(3, 8);
        (0..12).map(|i| u[i / 3] * v[i % 3]).collect::<Vec<_>>()
    };
    let cases = [
        (vec![0.0; 16], [1, 4, 4], PolarKind::Special),
        (vec![0.0; 12], [1, 4, 3], PolarKind::Thin),
        (rank_one.clone(), [1, 4, 3], PolarKind::Thin),
        (rank_one[..9].to_vec(), [1, 3, 3], PolarKind::Special),
    ];
    for (a, shape, kind) in cases {
        let weights = normal(a.len(), 9);
        let gradient = analytic_gradient(&a, &weights, shape, kind);
        assert!(
            gradient.iter().all(|g| g.is_finite()),
            "{kind:?} {shape:?}: non-finite gradient {gradient:?}"
        );
    }
}

#[test]
fn wrong_shapes_are_rejected_with_the_shape() {
    let device = device();
    let wide = tensor3(vec![0.0; 6], [1, 2, 3], &device);
    let message = polar(wide, PolarKind::Thin).unwrap_err().to_string();
    assert!(message.contains("[1, 2, 3]"), "{message}");

    let thin = tensor3(vec![0.0; 6], [1, 3, 2], &device);
    let message = polar(thin, PolarKind::Special).unwrap_err().to_string();
    assert!(message.contains("square"), "{message}");
}
