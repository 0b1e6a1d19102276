//! The convolutional encoder and decoder (paper sec. 4), and the traits that let any module
//! serve as a NIso encoder or decoder.
//!
//! Encoder: `Dense(stem), silu`, then per level `l` (a 2x2 average pool before every level but
//! the first) `depths[l]` residual blocks of `channels[l]` channels, then `LN, silu, Dense(d)`.
//! The latent grid is the input grid divided by `2^(levels - 1)`. The decoder mirrors it with
//! nearest-neighbour 2x upsampling between levels and ends with `LN, silu, Dense(image)`.

use burn::module::Module;
use burn::nn::pool::{AvgPool2d, AvgPool2dConfig};
use burn::tensor::activation::silu;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::nn::{Dense, ResBlock, SpatialLayerNorm};

/// Maps images `[batch, channels, height, width]` to latent functions `[batch, d, h, w]`.
pub trait Encode {
    /// Encodes a batch of images.
    fn encode(&self, images: Tensor<4>) -> Tensor<4>;
}

/// Maps latent functions `[batch, d, h, w]` back to images.
pub trait Decode {
    /// Decodes a batch of latent functions.
    fn decode(&self, latent: Tensor<4>) -> Tensor<4>;
}

/// The identity encoder and decoder: the latent function is the signal itself (the Laplacian
/// experiment, paper sec. 5.1).
#[derive(Module, Debug, Default)]
pub struct Identity;

impl Encode for Identity {
    fn encode(&self, images: Tensor<4>) -> Tensor<4> {
        images
    }
}

impl Decode for Identity {
    fn decode(&self, latent: Tensor<4>) -> Tensor<4> {
        latent
    }
}

/// Sizes of a [`ConvEncoder`] and its mirror [`ConvDecoder`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConvCodecConfig {
    /// Channels of the images (1 for MNIST).
    pub image_channels: usize,
    /// Channels of the first dense layer (the paper uses 48).
    #[serde(default = "default_stem")]
    pub stem_channels: usize,
    /// Channels per level, finest first, e.g. `[64, 128]`.
    pub channels: Vec<usize>,
    /// Residual blocks per level, e.g. `[3, 3]`.
    pub depths: Vec<usize>,
    /// Latent channels `d`.
    pub latent_channels: usize,
}

fn default_stem() -> usize {
    48
}

impl ConvCodecConfig {
    /// Checks that the sizes are consistent; the error names the offending field.
    pub fn validate(&self, prefix: &str) -> Result<()> {
        let field = |name: &str| format!("{prefix}.{name}");
        if self.channels.is_empty() {
            return Err(Error::config(field("channels"), "needs at least one level"));
        }
        if self.channels.len() != self.depths.len() {
            return Err(Error::config(
                field("depths"),
                format!(
                    "has {} entries but `channels` has {}; give one depth per level",
                    self.depths.len(),
                    self.channels.len()
                ),
            ));
        }
        for (name, value) in [
            ("image_channels", self.image_channels),
            ("stem_channels", self.stem_channels),
            ("latent_channels", self.latent_channels),
        ] {
            if value == 0 {
                return Err(Error::config(field(name), "must be at least 1"));
            }
        }
        if self.channels.contains(&0) {
            return Err(Error::config(
                field("channels"),
                "every level needs at least 1 channel",
            ));
        }
        Ok(())
    }

    /// How many times the grid is halved between image and latent.
    pub fn downsampling(&self) -> usize {
        1 << (self.channels.len() - 1)
    }

    /// Builds the encoder.
    pub fn init_encoder(&self, device: &Device) -> ConvEncoder {
        let mut levels = Vec::new();
        let mut width = self.stem_channels;
        for (&channels, &depth) in self.channels.iter().zip(&self.depths) {
            let mut blocks = Vec::new();
            for _ in 0..depth {
                blocks.push(ResBlock::new(width, channels, device));
                width = channels;
            }
            levels.push(blocks);
        }

        ConvEncoder {
            stem: Dense::new(self.image_channels, self.stem_channels, device),
            levels,
            pool: AvgPool2dConfig::new([2, 2]).with_strides([2, 2]).init(),
            norm: SpatialLayerNorm::new(width, device),
            head: Dense::new(width, self.latent_channels, device),
        }
    }

    /// Builds the decoder, the mirror image of the encoder.
    pub fn init_decoder(&self, device: &Device) -> ConvDecoder {
        let top = *self.channels.last().expect("validated: at least one level");
        let mut levels = Vec::new();
        let mut width = top;
        for (&channels, &depth) in self.channels.iter().zip(&self.depths).rev() {
            let mut blocks = Vec::new();
            for _ in 0..depth {
                blocks.push(ResBlock::new(width, channels, device));
                width = channels;
            }
            levels.push(blocks);
        }

        ConvDecoder {
            stem: Dense::new(self.latent_channels, top, device),
            levels,
            norm: SpatialLayerNorm::new(width, device),
            head: Dense::new(width, self.image_channels, device),
        }
    }
}

/// The convolutional encoder of paper sec. 4.
#[derive(Module, Debug)]
pub struct ConvEncoder {
    stem: Dense,
    levels: Vec<Vec<ResBlock>>,
    pool: AvgPool2d,
    norm: SpatialLayerNorm,
    head: Dense,
}

impl Encode for ConvEncoder {
    fn encode(&self, images: Tensor<4>) -> Tensor<4> {
        let mut x = silu(self.stem.forward(images));

        for (level, blocks) in self.levels.iter().enumerate() {
            if level > 0 {
                x = self.pool.forward(x);
            }
            for block in blocks {
                x = block.forward(x);
            }
        }

        self.head.forward(self.norm.forward_silu(x))
    }
}

/// The convolutional decoder, mirror image of [`ConvEncoder`].
#[derive(Module, Debug)]
pub struct ConvDecoder {
    stem: Dense,
    levels: Vec<Vec<ResBlock>>,
    norm: SpatialLayerNorm,
    head: Dense,
}

impl Decode for ConvDecoder {
    fn decode(&self, latent: Tensor<4>) -> Tensor<4> {
        let mut x = silu(self.stem.forward(latent));

        for (level, blocks) in self.levels.iter().enumerate() {
            if level > 0 {
                x = upsample_nearest(x);
            }
            for block in blocks {
                x = block.forward(x);
            }
        }

        self.head.forward(self.norm.forward_silu(x))
    }
}

/// Nearest-neighbour 2x upsampling: `[b, c, h, w] -> [b, c, 2h, 2w]`.
pub fn upsample_nearest(x: Tensor<4>) -> Tensor<4> {
    let [batch, channels, height, width] = x.dims();
    x.reshape([batch, channels, height, 1, width, 1])
        .expand([batch, channels, height, 2, width, 2])
        .reshape([batch, channels, 2 * height, 2 * width])
}

impl ConvCodecConfig {
    /// Forward FLOPs of the encoder on one `side x side` image plus the decoder on its latent
    /// (convolutions and dense layers only; a multiply-add counts two).
    pub fn forward_flops(&self, side: usize) -> f64 {
        let dense = |from: usize, to: usize, pixels: usize| 2.0 * (from * to * pixels) as f64;
        let conv = |from: usize, to: usize, pixels: usize| 9.0 * dense(from, to, pixels);
        let block = |from: usize, to: usize, pixels: usize| {
            conv(from, to, pixels) + conv(to, to, pixels) + dense(from, to, pixels)
        };

        let mut encoder = dense(self.image_channels, self.stem_channels, side * side);
        let mut width = self.stem_channels;
        let mut pixels = side * side;
        for (level, (&channels, &depth)) in self.channels.iter().zip(&self.depths).enumerate() {
            if level > 0 {
                pixels /= 4;
            }
            for _ in 0..depth {
                encoder += block(width, channels, pixels);
                width = channels;
            }
        }
        encoder += dense(width, self.latent_channels, pixels);

        let top = *self.channels.last().expect("validated: at least one level");
        let mut decoder = dense(self.latent_channels, top, pixels);
        let mut width = top;
        for (level, (&channels, &depth)) in self.channels.iter().zip(&self.depths).rev().enumerate()
        {
            if level > 0 {
                pixels *= 4;
            }
            for _ in 0..depth {
                decoder += block(width, channels, pixels);
                width = channels;
            }
        }
        decoder + dense(width, self.image_channels, pixels) + encoder
    }
}
