//! Ground truth for the Laplacian experiment: grids, Laplacians, harmonics, rotations, and the
//! scores that compare a learned operator with them.

pub mod spectral_metrics;
pub mod sphere;
pub mod torus;
