//! The orthogonally invariant classifier head (paper sec. 4).
//!
//! The input is a set of spectral coefficients `c` (`[batch, k, d]`) known only up to an
//! orthogonal map on the `k` axis. Every layer mixes the `d` channels only, so any orthogonal
//! `R` on the `k` axis commutes with it ("vector neurons"):
//!
//! - norm: each channel divided by its RMS over `k`, times a learned scale;
//! - neuron: `q = c W_q`, `u = c W_u`, per channel `dot = <q, u>` and
//!   `out = q + silu(-dot) u / (|u|^2 + eps)`;
//! - readout: the Gram matrix `c^T c` (`d x d`, invariant to `R`), its upper triangle, an MLP.

use burn::module::{Module, Param};
use burn::tensor::activation::silu;
use burn::tensor::{Device, Distribution, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::nn::{Mlp, MlpConfig};

/// Added to squared norms in the head's divisions so that a zero input gives a finite output.
const HEAD_EPS: f64 = 1e-6;

/// Sizes of an [`InvariantHead`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InvariantHeadConfig {
    /// Channels `d` of the input coefficients.
    pub input_channels: usize,
    /// Channel widths of the vector-neuron layers.
    pub channels: Vec<usize>,
    /// Hidden widths of the readout MLP.
    pub hidden: Vec<usize>,
    /// Number of classes (logits).
    pub classes: usize,
}

/// Per-channel RMS normalisation over the `k` axis with a learned scale.
#[derive(Module, Debug)]
struct VectorNorm {
    scale: Param<Tensor<1>>,
}

/// One vector neuron layer `d_in -> d_out`.
#[derive(Module, Debug)]
struct VectorNeuron {
    query: Param<Tensor<2>>,
    direction: Param<Tensor<2>>,
}

/// The invariant classifier: vector-neuron layers, Gram readout, MLP.
#[derive(Module, Debug)]
pub struct InvariantHead {
    norms: Vec<VectorNorm>,
    neurons: Vec<VectorNeuron>,
    readout: Mlp,
    /// Flat indices of the upper triangle (with diagonal) of a `d x d` matrix.
    #[module(skip)]
    upper: Vec<i64>,
}

impl InvariantHeadConfig {
    /// Builds the head.
    pub fn init(&self, device: &Device) -> InvariantHead {
        let mut norms = Vec::new();
        let mut neurons = Vec::new();
        let mut width = self.input_channels;
        for &channels in &self.channels {
            let std = (1.0 / width as f64).sqrt();
            let weight = || {
                Param::from_tensor(Tensor::random(
                    [width, channels],
                    Distribution::Normal(0.0, std),
                    device,
                ))
            };
            norms.push(VectorNorm {
                scale: Param::from_tensor(Tensor::ones([width], device)),
            });
            neurons.push(VectorNeuron {
                query: weight(),
                direction: weight(),
            });
            width = channels;
        }

        let upper = (0..width)
            .flat_map(|i| (i..width).map(move |j| (i * width + j) as i64))
            .collect::<Vec<_>>();
        let readout = MlpConfig {
            inputs: upper.len(),
            hidden: self.hidden.clone(),
            outputs: self.classes,
        }
        .init(device);

        InvariantHead {
            norms,
            neurons,
            readout,
            upper,
        }
    }
}

impl VectorNorm {
    fn forward(&self, c: Tensor<3>) -> Tensor<3> {
        let [_, _, channels] = c.dims();
        let rms = c.clone().square().mean_dim(1).add_scalar(HEAD_EPS).sqrt();
        c / rms * self.scale.val().reshape([1, 1, channels])
    }
}

impl VectorNeuron {
    fn forward(&self, c: Tensor<3>) -> Tensor<3> {
        let [_, d_out] = self.query.dims();
        let d_in = self.query.dims()[0];
        let q = c.clone().matmul(self.query.val().reshape([1, d_in, d_out]));
        let u = c.matmul(self.direction.val().reshape([1, d_in, d_out]));

        let dot = (q.clone() * u.clone()).sum_dim(1);
        let norm = u.clone().square().sum_dim(1).add_scalar(HEAD_EPS);
        q + u * silu(dot.neg()) / norm
    }
}

impl InvariantHead {
    /// Logits `[batch, classes]` from coefficients `[batch, k, d]`.
    pub fn forward(&self, coefficients: Tensor<3>) -> Tensor<2> {
        let mut c = coefficients;
        for (norm, neuron) in self.norms.iter().zip(&self.neurons) {
            c = neuron.forward(norm.forward(c));
        }

        let [batch, k, d] = c.dims();
        let gram = c.clone().swap_dims(1, 2).matmul(c).div_scalar(k as f64);
        let indices = Tensor::<1, Int>::from_data(
            TensorData::new(self.upper.clone(), [self.upper.len()]),
            &gram.device(),
        );
        let features = gram.reshape([batch, d * d]).select(1, indices);

        self.readout.forward(features)
    }
}
