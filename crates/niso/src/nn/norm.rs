//! Spatial layer normalisation: each channel normalised over the spatial axes, per sample.

use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor};

use crate::kernels::layer_norm_silu;
use crate::kernels::norm::layer_norm;

/// Added to the variance before the square root (paper sec. 4: eps 1e-6).
pub const LAYER_NORM_EPS: f64 = 1e-6;

/// `y = (x - mean_hw(x)) / sqrt(var_hw(x) + eps) * scale_c + bias_c` on `[batch, c, h, w]`.
#[derive(Module, Debug)]
pub struct SpatialLayerNorm {
    /// Per-channel scale, initialised to 1.
    pub scale: Param<Tensor<1>>,
    /// Per-channel bias, initialised to 0.
    pub bias: Param<Tensor<1>>,
}

impl SpatialLayerNorm {
    /// A norm over `channels` channels.
    pub fn new(channels: usize, device: &Device) -> Self {
        Self {
            scale: Param::from_tensor(Tensor::ones([channels], device)),
            bias: Param::from_tensor(Tensor::zeros([channels], device)),
        }
    }

    /// Normalises `[batch, c, h, w]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        layer_norm(x, self.scale.val(), self.bias.val(), LAYER_NORM_EPS)
    }

    /// `silu(self.forward(x))`, fused into one operation with hand-written CPU kernels.
    pub fn forward_silu(&self, x: Tensor<4>) -> Tensor<4> {
        layer_norm_silu(x, self.scale.val(), self.bias.val(), LAYER_NORM_EPS)
    }
}
