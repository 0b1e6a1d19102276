//! Helpers shared by the integration tests: `f64` tensors and host-side matrices.

#![allow(dead_code)]

use burn::tensor::{DType, Device, Tensor, TensorData};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The CPU device with gradient tracking.
pub fn device() -> Device {
    Device::flex().autodiff()
}

/// A `[batch, n, k]` tensor in `f64` from host values.
pub fn tensor3(values: Vec<f64>, shape: [usize; 3], device: &Device) -> Tensor<3> {
    Tensor::from_data(TensorData::new(values, shape), (device, DType::F64))
}

/// The values of a tensor as `f64`.
pub fn values<const D: usize>(tensor: &Tensor<D>) -> Vec<f64> {
    tensor
        .clone()
        .into_data()
        .convert::<f64>()
        .try_into_vec::<f64>()
        .unwrap()
}

/// `count` standard normal numbers from a seeded generator.
pub fn normal(count: usize, seed: u64) -> Vec<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..count)
        .map(|_| {
            let (u, v): (f64, f64) = (rng.random(), rng.random());
            (-2.0 * (1.0 - u).ln()).sqrt() * (std::f64::consts::TAU * v).cos()
        })
        .collect()
}

/// Row-major `k x k` product `a b`.
pub fn matmul(a: &[f64], b: &[f64], n: usize, m: usize, p: usize) -> Vec<f64> {
    let mut out = vec![0.0; n * p];
    for i in 0..n {
        for l in 0..m {
            for j in 0..p {
                out[i * p + j] += a[i * m + l] * b[l * p + j];
            }
        }
    }
    out
}

/// Transpose of a row-major `n x m` matrix.
pub fn transpose(a: &[f64], n: usize, m: usize) -> Vec<f64> {
    let mut out = vec![0.0; n * m];
    for i in 0..n {
        for j in 0..m {
            out[j * n + i] = a[i * m + j];
        }
    }
    out
}

/// Determinant of a row-major `k x k` matrix (Gaussian elimination with pivoting).
pub fn determinant(a: &[f64], k: usize) -> f64 {
    let mut m = a.to_vec();
    let mut det = 1.0;
    for col in 0..k {
        let pivot = (col..k)
            .max_by(|&x, &y| m[x * k + col].abs().total_cmp(&m[y * k + col].abs()))
            .unwrap();
        if m[pivot * k + col] == 0.0 {
            return 0.0;
        }
        if pivot != col {
            for j in 0..k {
                m.swap(pivot * k + j, col * k + j);
            }
            det = -det;
        }
        det *= m[col * k + col];
        for row in col + 1..k {
            let factor = m[row * k + col] / m[col * k + col];
            for j in col..k {
                m[row * k + j] -= factor * m[col * k + j];
            }
        }
    }
    det
}

/// A random `k x k` rotation (Gram-Schmidt of a Gaussian matrix, sign-fixed to det +1).
pub fn random_rotation(k: usize, seed: u64) -> Vec<f64> {
    let raw = normal(k * k, seed);
    let mut q = vec![0.0; k * k];
    for j in 0..k {
        let mut column: Vec<f64> = (0..k).map(|i| raw[i * k + j]).collect();
        for p in 0..j {
            let dot: f64 = (0..k).map(|i| q[i * k + p] * column[i]).sum();
            for i in 0..k {
                column[i] -= dot * q[i * k + p];
            }
        }
        let norm = column.iter().map(|x| x * x).sum::<f64>().sqrt();
        for i in 0..k {
            q[i * k + j] = column[i] / norm;
        }
    }
    if determinant(&q, k) < 0.0 {
        for i in 0..k {
            q[i * k] = -q[i * k];
        }
    }
    q
}

/// Largest absolute difference between two slices.
pub fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len(), "compared slices differ in length");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}
