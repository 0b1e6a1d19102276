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
