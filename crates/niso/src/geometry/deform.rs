//! Random smooth, nearly isometric deformations of a mesh: the instances of one class in the
//! conformal shape experiment (SHREC'11 has articulated poses; here joints bend).
//!
//! Bend. Along a direction `u` with coordinate `s = <x - c, u>`, the points are rotated about
//! an axis `w` (perpendicular to `u`) through the pivot `c + s_0 u` by the angle
//!
//! ```text
//! theta(s) = angle * sigma((s - s_0) / width),   sigma(z) = 1 / (1 + exp(-z))
//! ```
//!
//! Points well before the pivot stay, points well after it move rigidly, and only the band of
//! width `~ 4 width` around it stretches: a joint.
//!
//! Displacement. Then `x += amplitude * sum_m a_m sin(<omega_m, x> + psi_m) / sqrt(modes)` with
//! random unit directions `a_m`, phases `psi_m` and frequencies `omega_m` of length
//! `2 pi / wavelength`: a smooth field that changes the shape a little at the scale of its parts.
//!
//! Lengths are for a surface of unit area (see [`TriMesh::normalized`]).

use std::f64::consts::TAU;

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::geometry::mesh::{cross, dot, norm, sub, TriMesh};

/// Options of [`deform`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeformConfig {
    /// Joints bent per instance.
    pub bends: usize,
    /// Largest bend angle in radians (each is uniform in `[-max, max]`).
    pub max_bend_angle: f64,
    /// Width of a joint as a fraction of the shape's extent along the bend direction.
    pub bend_width: f64,
    /// Amplitude of the displacement field.
    pub displacement: f64,
    /// Sine modes of the displacement field.
    pub modes: usize,
    /// Wavelength of the displacement modes.
    pub wavelength: f64,
}

impl Default for DeformConfig {
    fn default() -> Self {
        DeformConfig {
            bends: 2,
            max_bend_angle: 0.5,
            bend_width: 0.04,
            displacement: 0.01,
            modes: 4,
            wavelength: 0.8,
        }
    }
}

/// One joint: rotate about `rotation_axis` through `pivot` by `angle * sigma((s - s_0) / width)`
/// with `s - s_0 = <x - pivot, direction>`.
#[derive(Clone, Debug, PartialEq)]
pub struct Bend {
    /// Unit direction `u` along which the joint lies.
    pub direction: [f64; 3],
    /// A point on the rotation axis, at the joint.
    pub pivot: [f64; 3],
    /// Unit rotation axis `w`, perpendicular to `direction`.
    pub rotation_axis: [f64; 3],
    /// The full rotation angle of the far side.
    pub angle: f64,
    /// Width of the joint.
    pub width: f64,
}

fn random_unit<R: Rng + ?Sized>(rng: &mut R) -> [f64; 3] {
    loop {
        let v: [f64; 3] = [0, 1, 2].map(|_| rng.random_range(-1.0..=1.0));
        let length = norm(v);
        if length > 0.1 && length <= 1.0 {
            return v.map(|x| x / length);
        }
    }
}

/// Rotates `x` about the unit `axis` by `angle` (Rodrigues).
fn rotate_about(x: [f64; 3], axis: [f64; 3], angle: f64) -> [f64; 3] {
    let (sine, cosine) = angle.sin_cos();
    let along = dot(axis, x);
    let across = cross(axis, x);
    [0, 1, 2].map(|i| x[i] * cosine + across[i] * sine + axis[i] * along * (1.0 - cosine))
}

impl Bend {
    /// Applies the joint to every point.
    pub fn apply(&self, points: &mut [[f64; 3]]) {
        for p in points.iter_mut() {
            let offset = sub(*p, self.pivot);
            let s = dot(offset, self.direction) / self.width;
            let theta = self.angle / (1.0 + (-s).exp());
            let turned = rotate_about(offset, self.rotation_axis, theta);
            *p = [0, 1, 2].map(|i| self.pivot[i] + turned[i]);
        }
    }

    /// A random joint for `points`: random direction, pivot between the 30 % and 70 %
    /// quantiles of `s`, angle uniform in `[-max_angle, max_angle]`.
    pub fn random<R: Rng + ?Sized>(
        rng: &mut R,
        points: &[[f64; 3]],
        config: &DeformConfig,
    ) -> Self {
        let direction = random_unit(rng);
        let mut s: Vec<f64> = points.iter().map(|&p| dot(p, direction)).collect();
        s.sort_by(f64::total_cmp);
        let quantile = |q: f64| s[((s.len() - 1) as f64 * q).round() as usize];
        let s0 = quantile(rng.random_range(0.3..0.7));
        let extent = s[s.len() - 1] - s[0];
        let centre = points.iter().fold([0.0; 3], |acc, p| {
            [0, 1, 2].map(|i| acc[i] + p[i] / points.len() as f64)
        });
        let shift = s0 - dot(centre, direction);
        let pivot = [0, 1, 2].map(|i| centre[i] + shift * direction[i]);
        let helper = cross(direction, random_unit(rng));
        let rotation_axis = helper.map(|x| x / norm(helper));
        Bend {
            direction,
            pivot,
            rotation_axis,
            angle: rng.random_range(-config.max_bend_angle..=config.max_bend_angle),
            width: config.bend_width * extent,
        }
    }
}

/// A random instance of `mesh` (same connectivity): the mesh normalised to unit area, bent at
/// `config.bends` joints, displaced by a smooth field, and normalised again.
pub fn deform<R: Rng + ?Sized>(mesh: &TriMesh, config: &DeformConfig, rng: &mut R) -> TriMesh {
    let mut points = mesh.normalized().vertices;
    for _ in 0..config.bends {
        Bend::random(rng, &points, config).apply(&mut points);
    }
    let modes: Vec<([f64; 3], [f64; 3], f64)> = (0..config.modes)
        .map(|_| {
            let frequency = random_unit(rng).map(|x| x * TAU / config.wavelength);
            (frequency, random_unit(rng), rng.random_range(0.0..TAU))
        })
        .collect();
    let scale = config.displacement / (config.modes.max(1) as f64).sqrt();
    for p in points.iter_mut() {
        let original = *p;
        for (frequency, direction, phase) in &modes {
            let wave = scale * (dot(*frequency, original) + phase).sin();
            (0..3).for_each(|i| p[i] += wave * direction[i]);
        }
    }
    TriMesh {
        vertices: points,
        faces: mesh.faces.clone(),
    }
    .normalized()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::mesh::icosphere;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    #[test]
    fn a_bend_fixes_the_near_side_and_moves_the_far_side_rigidly() {
        let points: Vec<[f64; 3]> = (0..200)
            .map(|i| {
                let t = i as f64 / 199.0;
                [2.0 * t - 1.0, (7.0 * t).sin() * 0.2, (3.0 * t).cos() * 0.2]
            })
            .collect();
        let bend = Bend {
            direction: [1.0, 0.0, 0.0],
            pivot: [0.0, 0.0, 0.0],
            rotation_axis: [0.0, 0.0, 1.0],
            angle: 0.8,
            width: 0.01,
        };
        let mut moved = points.clone();
        bend.apply(&mut moved);
        // sigma(-30) and 1 - sigma(30) are below 1e-13: exact to round-off beyond 0.3.
        let near: Vec<usize> = (0..200).filter(|&i| points[i][0] < -0.3).collect();
        let far: Vec<usize> = (0..200).filter(|&i| points[i][0] > 0.3).collect();
        for &i in &near {
            assert!(norm(sub(moved[i], points[i])) < 1e-10);
        }
        for &i in &far {
            for &j in &far {
                let before = norm(sub(points[i], points[j]));
                let after = norm(sub(moved[i], moved[j]));
                assert!((before - after).abs() < 1e-10);
            }
        }
        assert!(norm(sub(moved[199], points[199])) > 0.5);
    }

    #[test]
    fn random_instances_are_nearly_isometric_and_reproducible() {
        let mesh = icosphere(3);
        let config = DeformConfig::default();
        let instance = deform(&mesh, &config, &mut StdRng::seed_from_u64(9));
        let again = deform(&mesh, &config, &mut StdRng::seed_from_u64(9));
        assert_eq!(instance, again);
        let base = mesh.normalized();
        let mut distortion = 0.0;
        let mut count = 0.0;
        for face in &mesh.faces {
            for corner in 0..3 {
                let (a, b) = (face[corner], face[(corner + 1) % 3]);
                let before = norm(sub(base.vertices[a], base.vertices[b]));
                let after = norm(sub(instance.vertices[a], instance.vertices[b]));
                distortion += (after / before - 1.0).abs();
                count += 1.0;
            }
        }
        let mean = distortion / count;
        assert!(mean < 0.1, "mean relative edge-length change {mean}");
        let moved = (0..base.vertices.len())
            .map(|v| norm(sub(base.vertices[v], instance.vertices[v])))
            .fold(0.0f64, f64::max);
        assert!(moved > 1e-3, "the instance should differ from the base");
    }
}
