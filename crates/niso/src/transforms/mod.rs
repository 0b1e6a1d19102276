//! Group actions on images and signals: the transformations `T` of the experiments.

pub mod homography;
pub mod mobius;
