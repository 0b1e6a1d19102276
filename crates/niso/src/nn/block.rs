//! The residual block and the per-pixel dense layer.

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::PaddingConfig2d;
use burn::tensor::{Device, Tensor};

use crate::kernels::conv_same;
use crate::nn::SpatialLayerNorm;

/// A per-pixel linear map over channels with bias (a 1x1 convolution).
#[derive(Module, Debug)]
pub struct Dense {
    conv: Conv2d,
}

impl Dense {
    /// `channels_in -> channels_out` at every pixel.
    pub fn new(channels_in: usize, channels_out: usize, device: &Device) -> Self {
        Self {
            conv: Conv2dConfig::new([channels_in, channels_out], [1, 1]).init(device),
        }
    }

    /// `[batch, c_in, h, w] -> [batch, c_out, h, w]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        conv_with(&self.conv, x)
    }
}

/// `h = conv3x3(silu(LN(x))); h = conv3x3(silu(LN(h))); out = h + Dense(x)` (paper sec. 4).
#[derive(Module, Debug)]
pub struct ResBlock {
    norm_in: SpatialLayerNorm,
    conv_in: Conv2d,
    norm_out: SpatialLayerNorm,
    conv_out: Conv2d,
    skip: Dense,
}

impl ResBlock {
    /// A block from `channels_in` to `channels_out` channels.
    pub fn new(channels_in: usize, channels_out: usize, device: &Device) -> Self {
        let conv = |from, to| {
            Conv2dConfig::new([from, to], [3, 3])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(device)
        };
        Self {
            norm_in: SpatialLayerNorm::new(channels_in, device),
            conv_in: conv(channels_in, channels_out),
            norm_out: SpatialLayerNorm::new(channels_out, device),
            conv_out: conv(channels_out, channels_out),
            skip: Dense::new(channels_in, channels_out, device),
        }
    }

    /// `[batch, c_in, h, w] -> [batch, c_out, h, w]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let h = conv_with(&self.conv_in, self.norm_in.forward_silu(x.clone()));
        let h = conv_with(&self.conv_out, self.norm_out.forward_silu(h));
        h + self.skip.forward(x)
    }
}

/// Applies a stride-1, size-preserving convolution layer (1x1 or 3x3) through [`conv_same`], which
/// has hand-written kernels on the CPU (the layer keeps burn's parameters and checkpoint names).
fn conv_with(layer: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    conv_same(
        x,
        layer.weight.val(),
        layer.bias.as_ref().map(|bias| bias.val()),
    )
}
