//! Networks: the convolutional encoder and decoder, the orthogonally invariant classifier head
//! and a plain MLP (paper sec. 4).

mod block;
mod codec;
mod head;
mod mlp;
mod norm;

pub use block::{Dense, ResBlock};
pub use codec::{ConvCodecConfig, ConvDecoder, ConvEncoder, Decode, Encode, Identity};
pub use head::{InvariantHead, InvariantHeadConfig};
pub use mlp::{Mlp, MlpConfig};
pub use norm::SpatialLayerNorm;
