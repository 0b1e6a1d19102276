//! # niso: Neural Isometries in Rust
//!
//! NIso (Mitchel, Taylor, Sitzmann, NeurIPS 2024) trains an autoencoder on pairs `(x, Tx)` of
//! observations related by an unknown transformation `T`. Its latent space carries a learned
//! operator `Omega = Phi Lambda Phi^T M`, and every `T` acts on the spectral coefficients
//! `Phi^T M E(x)` as an orthogonal map `tau` that nearly commutes with `Lambda`, estimated in
//! closed form by a masked Procrustes solve.
//!
//! | module | what it holds | paper |
//! | --- | --- | --- |
//! | [`linalg`] | polar factor with its analytic gradient | sec. 3, `kappa` |
//! | [`operator`] | mass, eigenbasis, eigenvalues; projection; the isometry solve | eqs. 6-8 |
//! | [`loss`] | reconstruction, equivariance, spectral dropout | eqs. 9-10, sec. 4.2 |
//! | [`nn`] | encoder, decoder, invariant head, MLP | sec. 4 |
//! | [`model`] | encode, project, map, unproject, decode: the pair step | eq. 22 |
//! | [`train`] | optimiser, schedule, run folder, checkpoints, NaN guard | |
//! | [`bench`] | timing of one training step | |
//!
//! The tensors are burn's; the same code runs on the CPU (`flex` backend) and on GPUs (the
//! `vulkan` cargo feature).

pub mod bench;
pub mod config;
pub mod data;
pub mod device;
pub mod error;
pub mod experiments;
pub mod geometry;
pub mod kernels;
pub mod linalg;
pub mod loss;
pub mod model;
pub mod nn;
pub mod operator;
pub mod render;
pub mod report;
pub mod train;
pub mod transforms;

pub use error::{Error, Result};
