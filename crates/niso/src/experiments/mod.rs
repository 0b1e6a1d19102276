//! One small driver per experiment of the paper; each reuses the one training loop.

pub mod classify;
pub mod hmnist;
pub mod laplacian;
pub mod pose;
pub mod shapes;
pub mod shapes_baselines;
pub mod shapes_report;
pub mod shapes_views;
