//! Data sets: readers, offline fetchers from registry packages, and generated data.

pub mod idx;
pub mod meshes;
pub mod mnist;
pub mod scenes;
mod scratch;
pub mod shapes;
