//! Linear algebra with gradients: the polar factor used for the eigenbasis and for `tau`.

mod polar;

pub use polar::{polar, PolarKind, POLAR_GUARD_EPS};
