//! Conformal maps of genus-0 meshes to the unit sphere: conformalized mean curvature flow
//! (Kazhdan, Solomon, Ben-Chen 2012) followed by a Möbius centring.
//!
//! Flow. With the cotangent stiffness `L_0` of the input surface held fixed and the lumped
//! mass `M_t` of the current one, each implicit step solves
//!
//! ```text
//! (M_t + delta L_0) X_{t+1} = M_t X_t
//! ```
//!
//! for the three coordinate columns (a sparse Cholesky factorisation per step), then recentres
//! the surface and rescales it to unit area. Freezing the stiffness removes the pinching of
//! plain mean curvature flow; the surface rounds off towards a sphere. The flow stops when the
//! radii of the vertices about the centroid vary by less than [`FlowConfig::roundness`] (their
//! standard deviation over their mean), or after [`FlowConfig::max_steps`]; the roundest
//! surface seen is kept (with the stiffness frozen the discrete flow settles on a nearly round
//! surface a few per cent from a sphere, for any time step, and then drifts slowly).
//!
//! Projection and centring. The flowed vertices are projected radially onto the unit sphere,
//! then moved by hyperbolic translations `phi_a` of the sphere (see
//! [`crate::transforms::mobius`]) until the centroid of the points weighted by the *input*
//! surface's vertex areas is the centre: that fixes the Möbius freedom of a conformal map up to
//! a rotation, so that each part of the shape keeps roughly its share of the sphere.
//!
//! Repair. Thin parts (legs, tails) shrink to tiny regions in which some triangles fold over.
//! Each vertex of a flipped triangle, and its neighbours, is moved to the normalised mean of its
//! neighbours (a local spherical Tutte step), repeatedly, until no triangle is flipped or
//! [`MAX_REPAIR_STEPS`] is reached; the rest of the map stays conformal.

use faer::sparse::{SparseColMat, Triplet};
use faer::{Mat, Side};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::geometry::mesh::{cross, dot, norm, sub, TriMesh};
use crate::transforms::mobius::hyperbolic_translation;

/// The centring stops when the weighted centroid is this close to the centre.
const CENTRING_TOLERANCE: f64 = 1e-9;

/// At most this many centring steps (each is one hyperbolic translation of all points).
const MAX_CENTRING_STEPS: usize = 500;

/// One centring step translates by this fraction of the centroid (the centroid of a uniform
/// distribution moves by 4/3 of the shift, so a full step would overshoot).
const CENTRING_DAMPING: f64 = 0.75;

/// One centring step shifts by at most this much (a shift near 1 is a near-singular map).
const MAX_CENTRING_SHIFT: f64 = 0.5;

/// At most this many local repair sweeps.
const MAX_REPAIR_STEPS: usize = 200;

/// Options of the flow.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowConfig {
    /// The time step `delta` for a surface of unit area.
    pub time_step: f64,
    /// At most this many steps.
    pub max_steps: usize,
    /// Stop when `std(|x - c|) / mean(|x - c|)` is below this.
    pub roundness: f64,
}

impl Default for FlowConfig {
    fn default() -> Self {
        FlowConfig {
            time_step: 0.5,
            max_steps: 20,
            roundness: 1e-3,
        }
    }
}

/// A conformal map to the sphere and how well the flow converged.
#[derive(Clone, Debug)]
pub struct SphericalMap {
    /// The image of every vertex, of unit length.
    pub points: Vec<[f64; 3]>,
    /// Flow steps taken.
    pub steps: usize,
    /// `std(|x - c|) / mean(|x - c|)` when the flow stopped.
    pub roundness: f64,
    /// Triangles whose image on the sphere is still clockwise seen from outside after the
    /// repair (a map that is not one-to-one there).
    pub flipped_faces: usize,
    /// The norm of the area-weighted centroid after centring.
    pub centring_residual: f64,
}

/// Centres and scales `points` of `mesh`'s connectivity to unit area (in place).
fn normalise(points: &mut [[f64; 3]], faces: &[[usize; 3]]) {
    let mesh = TriMesh {
        vertices: points.to_vec(),
        faces: faces.to_vec(),
    };
    let normalised = mesh.normalized();
    points.copy_from_slice(&normalised.vertices);
}

/// `std(|x - c|) / mean(|x - c|)` with `c` the plain mean of the points.
fn radial_spread(points: &[[f64; 3]]) -> f64 {
    let count = points.len() as f64;
    let mut centre = [0.0; 3];
    for p in points {
        (0..3).for_each(|axis| centre[axis] += p[axis] / count);
    }
    let radii: Vec<f64> = points.iter().map(|&p| norm(sub(p, centre))).collect();
    let mean = radii.iter().sum::<f64>() / count;
    let variance = radii.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / count;
    variance.sqrt() / mean
}

/// The conformal map of a closed genus-0 mesh to the unit sphere.
///
/// # Errors
/// [`Error::Shape`] if the sparse factorisation fails (a degenerate mesh).
pub fn conformal_sphere(mesh: &TriMesh, config: &FlowConfig) -> Result<SphericalMap> {
    let start = mesh.normalized();
    let stiffness = start.cotangent_laplacian()?;
    let input_areas = start.lumped_mass();
    let n = start.vertices.len();

    let mut points = start.vertices.clone();
    let mut steps = 0;
    let mut roundness = radial_spread(&points);
    let mut roundest = points.clone();
    while steps < config.max_steps && roundness > config.roundness {
        let mass = TriMesh {
            vertices: points.clone(),
            faces: start.faces.clone(),
        }
        .lumped_mass();
        let system = shifted(&stiffness, config.time_step, &mass)?;
        let factor = system.sp_cholesky(Side::Lower).map_err(|e| Error::Shape {
            op: "conformal_sphere (Cholesky of M + delta L)",
            expected: format!("a positive definite system ({e:?})"),
            got: vec![n, n],
        })?;
        let rhs = Mat::from_fn(n, 3, |i, axis| mass[i] * points[i][axis]);
        let solution = faer::linalg::solvers::Solve::solve(&factor, &rhs);
        for (i, p) in points.iter_mut().enumerate() {
            *p = [solution[(i, 0)], solution[(i, 1)], solution[(i, 2)]];
        }
        normalise(&mut points, &start.faces);
        steps += 1;
        let spread = radial_spread(&points);
        if spread < roundness {
            roundness = spread;
            roundest.copy_from_slice(&points);
        }
    }
    let points = roundest;

    let count = n as f64;
    let mut centre = [0.0; 3];
    for p in &points {
        (0..3).for_each(|axis| centre[axis] += p[axis] / count);
    }
    let mut sphere: Vec<[f64; 3]> = points
        .iter()
        .map(|&p| {
            let offset = sub(p, centre);
            offset.map(|x| x / norm(offset))
        })
        .collect();
    mobius_centre(&mut sphere, &input_areas);
    let flipped_faces = repair_flips(&mut sphere, &start.faces);
    let centring_residual = mobius_centre(&mut sphere, &input_areas);
    Ok(SphericalMap {
        points: sphere,
        steps,
        roundness,
        flipped_faces,
        centring_residual,
    })
}

/// Faces whose spherical image is clockwise seen from outside.
fn flipped(points: &[[f64; 3]], faces: &[[usize; 3]]) -> Vec<usize> {
    (0..faces.len())
        .filter(|&f| {
            let [a, b, c] = faces[f].map(|v| points[v]);
            dot(a, cross(b, c)) <= 0.0
        })
        .collect()
}

/// Local spherical Tutte steps around flipped faces; returns the flips left.
pub fn repair_flips(points: &mut [[f64; 3]], faces: &[[usize; 3]]) -> usize {
    let mut neighbours = vec![Vec::new(); points.len()];
    for face in faces {
        for corner in 0..3 {
            neighbours[face[corner]].push(face[(corner + 1) % 3]);
        }
    }
    let mut bad = flipped(points, faces);
    for _ in 0..MAX_REPAIR_STEPS {
        if bad.is_empty() {
            break;
        }
        let mut region: Vec<usize> = bad.iter().flat_map(|&f| faces[f]).collect();
        let ring: Vec<usize> = region.iter().flat_map(|&v| neighbours[v].clone()).collect();
        region.extend(ring);
        region.sort_unstable();
        region.dedup();
        for &v in &region {
            let mut mean = [0.0; 3];
            for &u in &neighbours[v] {
                (0..3).for_each(|axis| mean[axis] += points[u][axis]);
            }
            let length = norm(mean);
            if length > 0.0 {
                points[v] = mean.map(|x| x / length);
            }
        }
        bad = flipped(points, faces);
    }
    bad.len()
}

/// `diag(mass) + delta * stiffness` as a sparse matrix.
fn shifted(
    stiffness: &SparseColMat<usize, f64>,
    delta: f64,
    mass: &[f64],
) -> Result<SparseColMat<usize, f64>> {
    let n = mass.len();
    let mut triplets: Vec<Triplet<usize, usize, f64>> = stiffness
        .triplet_iter()
        .map(|t| Triplet::new(t.row, t.col, delta * *t.val))
        .collect();
    triplets.extend(mass.iter().enumerate().map(|(i, &m)| Triplet::new(i, i, m)));
    SparseColMat::try_new_from_triplets(n, n, &triplets).map_err(|e| Error::Shape {
        op: "conformal_sphere (M + delta L)",
        expected: format!("indices below {n} ({e:?})"),
        got: vec![n, n],
    })
}

/// The weighted centroid `sum w_i x_i / sum w_i`.
fn weighted_centroid(points: &[[f64; 3]], weights: &[f64]) -> [f64; 3] {
    let total: f64 = weights.iter().sum();
    let mut centre = [0.0; 3];
    for (p, w) in points.iter().zip(weights) {
        (0..3).for_each(|axis| centre[axis] += w * p[axis] / total);
    }
    centre
}

/// Moves unit vectors by hyperbolic translations until their `weights`-weighted centroid is the
/// centre; returns the norm of the final centroid.
pub fn mobius_centre(points: &mut [[f64; 3]], weights: &[f64]) -> f64 {
    let mut centre = weighted_centroid(points, weights);
    for _ in 0..MAX_CENTRING_STEPS {
        let length = norm(centre);
        if length < CENTRING_TOLERANCE {
            break;
        }
        let step = (CENTRING_DAMPING * length).min(MAX_CENTRING_SHIFT) / length;
        let shift = centre.map(|c| c * step);
        for p in points.iter_mut() {
            let moved = hyperbolic_translation(shift, *p);
            *p = moved.map(|x| x / norm(moved));
        }
        centre = weighted_centroid(points, weights);
    }
    norm(centre)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::mesh::icosphere;

    #[test]
    fn centring_moves_a_crowded_distribution_to_zero_centroid() {
        let mut points = icosphere(3).vertices;
        for p in points.iter_mut() {
            *p = hyperbolic_translation([0.0, 0.3, -0.5], *p);
        }
        let weights = vec![1.0; points.len()];
        assert!(norm(weighted_centroid(&points, &weights)) > 0.3);
        let residual = mobius_centre(&mut points, &weights);
        assert!(residual < 1e-8, "{residual}");
        assert!(points.iter().all(|p| (norm(*p) - 1.0).abs() < 1e-12));
    }

    #[test]
    fn an_ellipsoid_flows_to_a_sphere_without_flips() {
        // A stretched, bent icosphere (spread 0.37): the flow makes it nearly round, the map is
        // one-to-one, and the centring leaves the weighted centroid at the centre.
        let mut mesh = icosphere(3);
        for p in mesh.vertices.iter_mut() {
            *p = [2.0 * p[0], p[1], 0.6 * p[2] + 0.2 * p[0] * p[0]];
        }
        let map = conformal_sphere(&mesh, &FlowConfig::default()).unwrap();
        assert!(map.roundness < 0.05, "{}", map.roundness);
        assert_eq!(map.flipped_faces, 0);
        assert!(map.centring_residual < 1e-8);
        assert!(map.points.iter().all(|p| (norm(*p) - 1.0).abs() < 1e-12));
    }

    #[test]
    fn the_map_of_a_round_sphere_preserves_angles() {
        // On a round sphere the conformal map is a Möbius map; here, with a centred mesh, a
        // rotation: every triangle keeps its angles.
        let mesh = icosphere(2);
        let map = conformal_sphere(&mesh, &FlowConfig::default()).unwrap();
        let angle = |a: [f64; 3], b: [f64; 3], c: [f64; 3]| {
            let (u, v) = (sub(b, a), sub(c, a));
            (dot(u, v) / (norm(u) * norm(v))).acos()
        };
        for face in &mesh.faces {
            let [a, b, c] = face.map(|v| mesh.vertices[v]);
            let [p, q, r] = face.map(|v| map.points[v]);
            assert!((angle(a, b, c) - angle(p, q, r)).abs() < 1e-6);
        }
    }
}
