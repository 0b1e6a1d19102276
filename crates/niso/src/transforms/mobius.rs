//! Möbius transformations of the unit sphere, the transformations `T` of the conformal shape
//! experiment (paper sec. 5.3), and their action on equirectangular images.
//!
//! Every orientation-preserving Möbius map of the sphere is a rotation composed with a
//! hyperbolic translation of the unit ball restricted to its boundary. For a point `a` inside
//! the ball (the shift) the translation that sends `a` to the centre is
//!
//! ```text
//! phi_a(x) = (1 - |a|^2) (x - a) / |x - a|^2 - a          (|x| = 1)
//! ```
//!
//! It maps the sphere onto itself, is conformal, and its inverse is `phi_{-a}`. Points near
//! `a / |a|` spread apart and points near `-a / |a|` crowd together: a dilation of strength
//! `(1 + |a|) / (1 - |a|)` about that axis. [`Mobius`] is `x -> R phi_a(x)`.
//!
//! An image is a function on the sphere sampled at the cell centres of an [`EquirectGrid`];
//! the transformed image is `(g I)(y) = I(g^{-1}(y))`, sampled bilinearly (periodic in
//! longitude, clamped in colatitude).

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::geometry::mesh::{dot, sub};
use crate::geometry::raster::EquirectGrid;
use crate::geometry::sphere::{random_rotation, transpose};

/// A rotation composed with a hyperbolic translation: `x -> rotation phi_shift(x)`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Mobius {
    /// The rotation applied after the translation.
    pub rotation: [[f64; 3]; 3],
    /// The point `a` of the open unit ball that `phi_a` sends to the centre.
    pub shift: [f64; 3],
}

/// `phi_a(x)` for a point `x` of the unit sphere and `|a| < 1`.
pub fn hyperbolic_translation(shift: [f64; 3], x: [f64; 3]) -> [f64; 3] {
    let offset = sub(x, shift);
    let distance_squared = dot(offset, offset);
    let scale = (1.0 - dot(shift, shift)) / distance_squared;
    [0, 1, 2].map(|axis| scale * offset[axis] - shift[axis])
}

fn rotate(rotation: &[[f64; 3]; 3], x: [f64; 3]) -> [f64; 3] {
    rotation.map(|row| dot(row, x))
}

impl Mobius {
    /// The identity map.
    pub fn identity() -> Self {
        Mobius {
            rotation: [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
            shift: [0.0; 3],
        }
    }

    /// A Haar-random rotation composed with a translation whose shift is uniform in the ball of
    /// radius `max_shift` (the paper's code uses 0.2).
    pub fn random<R: Rng + ?Sized>(rng: &mut R, max_shift: f64) -> Self {
        let rotation = random_rotation(rng);
        let shift = loop {
            let candidate: [f64; 3] = [0, 1, 2].map(|_| rng.random_range(-1.0..=1.0));
            if dot(candidate, candidate) <= 1.0 {
                break candidate.map(|c| c * max_shift);
            }
        };
        Mobius { rotation, shift }
    }

    /// The image `R phi_a(x)` of a point of the unit sphere.
    pub fn apply(&self, x: [f64; 3]) -> [f64; 3] {
        rotate(&self.rotation, hyperbolic_translation(self.shift, x))
    }

    /// The preimage `phi_{-a}(R^T y)` of a point of the unit sphere.
    pub fn apply_inverse(&self, y: [f64; 3]) -> [f64; 3] {
        let unrotated = rotate(&transpose(&self.rotation), y);
        hyperbolic_translation(self.shift.map(|a| -a), unrotated)
    }

    /// `(g I)(y) = I(g^{-1}(y))` for an image `[channels, height, width]` on `grid`.
    ///
    /// # Panics
    /// If `image` does not hold `channels * grid.height * grid.width` values.
    pub fn warp_image(&self, image: &[f32], channels: usize, grid: &EquirectGrid) -> Vec<f32> {
        let plane = grid.height * grid.width;
        assert_eq!(
            image.len(),
            channels * plane,
            "warp_image: expected {channels} x {} x {} values",
            grid.height,
            grid.width
        );
        let mut out = vec![0.0; image.len()];
        for row in 0..grid.height {
            for column in 0..grid.width {
                let source = self.apply_inverse(grid.direction(row, column));
                let taps = grid.bilinear_taps(source);
                for channel in 0..channels {
                    let values = &image[channel * plane..(channel + 1) * plane];
                    out[channel * plane + row * grid.width + column] = taps
                        .iter()
                        .map(|&(index, weight)| weight * values[index])
                        .sum();
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::mesh::{cross, norm};
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    /// Round-off allowed in identities of maps evaluated in `f64`.
    const MAP_TOLERANCE: f64 = 1e-12;

    fn sphere_points(rng: &mut StdRng, count: usize) -> Vec<[f64; 3]> {
        (0..count)
            .map(|_| {
                let p: [f64; 3] = [0, 1, 2].map(|_| rng.random_range(-1.0..1.0));
                p.map(|x| x / norm(p))
            })
            .collect()
    }

    #[test]
    fn maps_the_sphere_to_itself_and_inverts() {
        let mut rng = StdRng::seed_from_u64(3);
        for _ in 0..20 {
            let map = Mobius::random(&mut rng, 0.6);
            for x in sphere_points(&mut rng, 50) {
                let y = map.apply(x);
                assert!(
                    (norm(y) - 1.0).abs() < MAP_TOLERANCE,
                    "|g(x)| = {}",
                    norm(y)
                );
                let back = map.apply_inverse(y);
                assert!(norm(sub(back, x)) < 1e-10, "{back:?} != {x:?}");
            }
        }
    }

    #[test]
    fn translation_is_conformal_and_dilates_by_the_expected_factor() {
        // The differential of phi_a on the tangent plane is a similarity: two orthogonal unit
        // tangents map to orthogonal vectors of equal length. At x = a/|a| the length factor is
        // (1 + |a|) / (1 - |a|).
        let mut rng = StdRng::seed_from_u64(5);
        let shift = [0.1, -0.2, 0.25];
        let step = 1e-6;
        for x in sphere_points(&mut rng, 30) {
            let helper = if x[0].abs() < 0.9 {
                [1.0, 0.0, 0.0]
            } else {
                [0.0, 1.0, 0.0]
            };
            let u = cross(x, helper).map(|c| c / norm(cross(x, helper)));
            let v = cross(x, u);
            let derivative = |t: [f64; 3]| {
                let plus = [0, 1, 2].map(|i| x[i] + step * t[i]);
                let minus = [0, 1, 2].map(|i| x[i] - step * t[i]);
                let (plus, minus) = (plus.map(|c| c / norm(plus)), minus.map(|c| c / norm(minus)));
                let d = sub(
                    hyperbolic_translation(shift, plus),
                    hyperbolic_translation(shift, minus),
                );
                d.map(|c| c / (2.0 * step))
            };
            let (du, dv) = (derivative(u), derivative(v));
            assert!((norm(du) / norm(dv) - 1.0).abs() < 1e-6);
            assert!(dot(du, dv).abs() / (norm(du) * norm(dv)) < 1e-6);
        }
        let length = norm(shift);
        let pole = shift.map(|c| c / length);
        let helper = cross(pole, [0.0, 0.0, 1.0]);
        let tangent = helper.map(|c| c / norm(helper));
        let moved = [0, 1, 2].map(|i| pole[i] + step * tangent[i]);
        let moved = moved.map(|c| c / norm(moved));
        let factor = norm(sub(
            hyperbolic_translation(shift, moved),
            hyperbolic_translation(shift, pole),
        )) / step;
        assert!(
            (factor - (1.0 + length) / (1.0 - length)).abs() < 1e-5,
            "{factor}"
        );
    }

    #[test]
    fn warping_by_a_rotation_about_the_pole_shifts_columns() {
        // A rotation by one longitude cell about z moves every column one to the east; bilinear
        // sampling at exact cell centres reproduces the values.
        let grid = EquirectGrid::new(6, 12);
        let image: Vec<f32> = (0..2 * 72).map(|i| (i as f32 * 0.37).sin()).collect();
        let angle = std::f64::consts::TAU / 12.0;
        let map = Mobius {
            rotation: [
                [angle.cos(), -angle.sin(), 0.0],
                [angle.sin(), angle.cos(), 0.0],
                [0.0, 0.0, 1.0],
            ],
            shift: [0.0; 3],
        };
        let warped = map.warp_image(&image, 2, &grid);
        for channel in 0..2 {
            for row in 0..6 {
                for column in 0..12 {
                    let at = |c: usize| channel * 72 + row * 12 + c;
                    let expected = image[at((column + 11) % 12)];
                    assert!((warped[at(column)] - expected).abs() < 1e-5);
                }
            }
        }
        let identity = Mobius::identity().warp_image(&image, 2, &grid);
        for (a, b) in identity.iter().zip(&image) {
            assert!((a - b).abs() < 1e-5);
        }
    }
}
