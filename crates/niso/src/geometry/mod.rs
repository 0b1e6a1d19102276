//! Geometry: grids, Laplacians, harmonics and rotations that are the ground truth of the Laplacian
//! experiment, the scores that compare a learned operator with them, and triangle meshes.

pub mod mesh;
pub mod spectral_metrics;
pub mod sphere;
pub mod torus;
