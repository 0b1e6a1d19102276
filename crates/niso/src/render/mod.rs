//! A small CPU renderer for the camera-pose experiment: rigid camera poses and pinhole
//! intrinsics ([`camera`]), and a z-buffer rasteriser with perspective-correct interpolation,
//! procedural textures and Lambert shading ([`raster`]).
//!
//! No maintained crate fitted: `euc` (a generic software pipeline) would bring its own vector
//! types and shader traits for what is here a few hundred lines, and the others are either 2D
//! only or unmaintained.

pub mod camera;
pub mod raster;

pub use camera::{Intrinsics, Pose};
pub use raster::{render, Frame, Light, Pattern, Scene, Surface, Vertex};
