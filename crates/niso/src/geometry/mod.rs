//! Geometry: grids, Laplacians, harmonics and rotations that are the ground truth of the Laplacian
//! experiment, the scores that compare a learned operator with them, triangle meshes, and the
//! shape pipeline of the conformal experiment (decimation, deformation, spectrum and heat kernel
//! signature, conformal map to the sphere, equirectangular rasterisation).

pub mod conformal;
pub mod decimate;
pub mod deform;
pub mod hks;
pub mod mesh;
pub mod raster;
pub mod spectral_metrics;
pub mod sphere;
pub mod torus;

use serde::{Deserialize, Serialize};

/// How the spectral amplitudes of a random signal are drawn (the torus's Fourier modes, the
/// sphere's harmonic degrees).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Amplitudes {
    /// Gaussian coefficients: each signal's power spectrum is a noisy sample of the prescribed
    /// one.
    #[default]
    Gaussian,
    /// Every signal has exactly the prescribed power spectrum; only the phases (torus) or the
    /// directions within each degree (sphere) are random.
    Exact,
}
