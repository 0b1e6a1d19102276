//! Mesh decimation by edge collapse with quadric error metrics (Garland and Heckbert 1997).
//!
//! Every vertex carries the quadric `Q = sum_f area_f p_f p_f^T` of the planes
//! `p_f = (n_f, -n_f . x_f)` of its faces; collapsing edge `(a, b)` to a point `x` costs
//! `[x 1] (Q_a + Q_b) [x 1]^T` (the squared distance to the merged planes) plus
//! [`EDGE_LENGTH_WEIGHT`]` |a - b|^2`, which prefers short edges in flat regions and keeps the
//! triangles from growing long and thin. `x` is the quadric's minimiser when it is well posed,
//! else the best of the end points and the midpoint. The cheapest edge is collapsed first,
//! unless the collapse would
//!
//! - break the manifold: the common neighbours of `a` and `b` must be exactly the two vertices
//!   opposite the edge (the link condition), which keeps the genus and the orientation;
//! - flip a triangle (its normal turns by more than 90 degrees) or make one needle-thin.
//!
//! The input is centred and scaled to unit area first; so is the output.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashSet};

use crate::error::{Error, Result};
use crate::geometry::mesh::{cross, dot, norm, sub, TriMesh};

/// Weight of the squared edge length in the collapse cost (for a surface of unit area).
const EDGE_LENGTH_WEIGHT: f64 = 1e-5;

/// A quadric whose 3x3 block has a smaller determinant (relative to its trace cubed) is treated
/// as singular: its minimiser is a line or a plane and is not used.
const SINGULAR_QUADRIC: f64 = 1e-9;

/// A collapse may not leave a triangle with `4 sqrt(3) area / sum of squared edges` below this
/// (1 for an equilateral triangle) unless the triangle was already worse.
const MIN_TRIANGLE_QUALITY: f64 = 0.05;

/// A collapse may not turn a triangle's normal by more than this (cosine).
const MIN_NORMAL_COSINE: f64 = 0.0;

type Quadric = [[f64; 4]; 4];

/// A candidate collapse of `keep <- remove` to `position`, valid while both versions hold.
#[derive(Clone, Debug)]
struct Candidate {
    cost: f64,
    keep: usize,
    remove: usize,
    versions: [u32; 2],
    position: [f64; 3],
}

impl PartialEq for Candidate {
    fn eq(&self, other: &Self) -> bool {
        self.cost.total_cmp(&other.cost) == Ordering::Equal
    }
}
impl Eq for Candidate {}
impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Candidate {
    /// Reversed, so that the max-heap pops the cheapest collapse.
    fn cmp(&self, other: &Self) -> Ordering {
        other.cost.total_cmp(&self.cost)
    }
}

fn quality(a: [f64; 3], b: [f64; 3], c: [f64; 3]) -> f64 {
    let area = 0.5 * norm(cross(sub(b, a), sub(c, a)));
    let edges = dot(sub(b, a), sub(b, a)) + dot(sub(c, b), sub(c, b)) + dot(sub(a, c), sub(a, c));
    4.0 * 3f64.sqrt() * area / edges.max(f64::MIN_POSITIVE)
}

fn evaluate(q: &Quadric, x: [f64; 3]) -> f64 {
    let p = [x[0], x[1], x[2], 1.0];
    (0..4)
        .map(|i| (0..4).map(|j| p[i] * q[i][j] * p[j]).sum::<f64>())
        .sum()
}

/// The minimiser of `q` if its 3x3 block is well conditioned (Cramer's rule).
fn minimiser(q: &Quadric) -> Option<[f64; 3]> {
    let a = [
        [q[0][0], q[0][1], q[0][2]],
        [q[1][0], q[1][1], q[1][2]],
        [q[2][0], q[2][1], q[2][2]],
    ];
    let b = [-q[0][3], -q[1][3], -q[2][3]];
    let det = dot(a[0], cross(a[1], a[2]));
    let trace = a[0][0] + a[1][1] + a[2][2];
    if det.abs() <= SINGULAR_QUADRIC * trace.powi(3) {
        return None;
    }
    let column = |k: usize| [a[0][k], a[1][k], a[2][k]];
    let (c0, c1, c2) = (column(0), column(1), column(2));
    Some([
        dot(b, cross(c1, c2)) / det,
        dot(c0, cross(b, c2)) / det,
        dot(c0, cross(c1, b)) / det,
    ])
}

/// The working state of a decimation.
struct Decimation {
    positions: Vec<[f64; 3]>,
    faces: Vec<[usize; 3]>,
    face_alive: Vec<bool>,
    vertex_faces: Vec<Vec<usize>>,
    quadrics: Vec<Quadric>,
    versions: Vec<u32>,
    alive: usize,
}

impl Decimation {
    fn new(mesh: &TriMesh) -> Self {
        let n = mesh.vertices.len();
        let mut vertex_faces = vec![Vec::new(); n];
        let mut quadrics = vec![[[0.0; 4]; 4]; n];
        for (f, face) in mesh.faces.iter().enumerate() {
            let [a, b, c] = face.map(|v| mesh.vertices[v]);
            let normal = cross(sub(b, a), sub(c, a));
            let twice_area = norm(normal);
            if twice_area > 0.0 {
                let n_unit = normal.map(|x| x / twice_area);
                let plane = [n_unit[0], n_unit[1], n_unit[2], -dot(n_unit, a)];
                for &v in face {
                    for i in 0..4 {
                        for j in 0..4 {
                            quadrics[v][i][j] += 0.5 * twice_area * plane[i] * plane[j];
                        }
                    }
                }
            }
            face.iter().for_each(|&v| vertex_faces[v].push(f));
        }
        Decimation {
            positions: mesh.vertices.clone(),
            faces: mesh.faces.clone(),
            face_alive: vec![true; mesh.faces.len()],
            vertex_faces,
            quadrics,
            versions: vec![0; n],
            alive: n,
        }
    }

    fn neighbours(&self, v: usize) -> HashSet<usize> {
        self.vertex_faces[v]
            .iter()
            .flat_map(|&f| self.faces[f])
            .filter(|&u| u != v)
            .collect()
    }

    fn candidate(&self, keep: usize, remove: usize) -> Candidate {
        let mut q = self.quadrics[keep];
        for (row, other) in q.iter_mut().zip(&self.quadrics[remove]) {
            row.iter_mut().zip(other).for_each(|(x, y)| *x += y);
        }
        let (a, b) = (self.positions[keep], self.positions[remove]);
        let middle = [0, 1, 2].map(|i| 0.5 * (a[i] + b[i]));
        let mut options = vec![a, b, middle];
        options.extend(minimiser(&q));
        let (position, error) = options
            .into_iter()
            .map(|x| (x, evaluate(&q, x)))
            .min_by(|x, y| x.1.total_cmp(&y.1))
            .expect("three options at least");
        Candidate {
            cost: error.max(0.0) + EDGE_LENGTH_WEIGHT * dot(sub(a, b), sub(a, b)),
            keep,
            remove,
            versions: [self.versions[keep], self.versions[remove]],
            position,
        }
    }

    /// Whether collapsing `remove` into `keep` at `position` keeps a valid manifold.
    fn allowed(&self, keep: usize, remove: usize, position: [f64; 3]) -> bool {
        let shared: Vec<usize> = self.vertex_faces[keep]
            .iter()
            .copied()
            .filter(|&f| self.faces[f].contains(&remove))
            .collect();
        if shared.len() != 2 || self.alive <= 4 {
            return false;
        }
        let opposite: HashSet<usize> = shared
            .iter()
            .flat_map(|&f| self.faces[f])
            .filter(|&v| v != keep && v != remove)
            .collect();
        let common: HashSet<usize> = self
            .neighbours(keep)
            .intersection(&self.neighbours(remove))
            .copied()
            .collect();
        if common != opposite {
            return false;
        }
        for v in [keep, remove] {
            for &f in &self.vertex_faces[v] {
                if shared.contains(&f) {
                    continue;
                }
                let old = self.faces[f].map(|u| self.positions[u]);
                let new = self.faces[f].map(|u| {
                    if u == keep || u == remove {
                        position
                    } else {
                        self.positions[u]
                    }
                });
                let old_normal = cross(sub(old[1], old[0]), sub(old[2], old[0]));
                let new_normal = cross(sub(new[1], new[0]), sub(new[2], new[0]));
                let cosine = dot(old_normal, new_normal) / (norm(old_normal) * norm(new_normal));
                let new_quality = quality(new[0], new[1], new[2]);
                let worse = new_quality < MIN_TRIANGLE_QUALITY
                    && new_quality < quality(old[0], old[1], old[2]);
                if cosine.is_nan() || cosine <= MIN_NORMAL_COSINE || worse {
                    return false;
                }
            }
        }
        true
    }

    fn collapse(&mut self, keep: usize, remove: usize, position: [f64; 3]) {
        for f in std::mem::take(&mut self.vertex_faces[remove]) {
            if self.faces[f].contains(&keep) {
                self.face_alive[f] = false;
                for v in self.faces[f] {
                    self.vertex_faces[v].retain(|&g| g != f);
                }
            } else {
                self.faces[f] = self.faces[f].map(|v| if v == remove { keep } else { v });
                self.vertex_faces[keep].push(f);
            }
        }
        self.positions[keep] = position;
        let removed = self.quadrics[remove];
        for (row, other) in self.quadrics[keep].iter_mut().zip(&removed) {
            row.iter_mut().zip(other).for_each(|(x, y)| *x += y);
        }
        self.versions[keep] += 1;
        self.versions[remove] += 1;
        self.alive -= 1;
    }

    fn into_mesh(self) -> TriMesh {
        let mut index = vec![usize::MAX; self.positions.len()];
        let mut vertices = Vec::with_capacity(self.alive);
        for (v, faces) in self.vertex_faces.iter().enumerate() {
            if !faces.is_empty() {
                index[v] = vertices.len();
                vertices.push(self.positions[v]);
            }
        }
        let faces = self
            .faces
            .iter()
            .zip(&self.face_alive)
            .filter(|(_, &alive)| alive)
            .map(|(face, _)| face.map(|v| index[v]))
            .collect();
        TriMesh { vertices, faces }
    }
}

/// Collapses edges of `mesh` (closed manifold) until at most `target_vertices` remain or no
/// allowed collapse is left. The result is centred and of unit area.
///
/// # Errors
/// [`Error::Shape`] if `target_vertices` is below 4 (a tetrahedron).
pub fn decimate(mesh: &TriMesh, target_vertices: usize) -> Result<TriMesh> {
    if target_vertices < 4 {
        return Err(Error::Shape {
            op: "decimate",
            expected: "a target of at least 4 vertices".into(),
            got: vec![target_vertices],
        });
    }
    let mut state = Decimation::new(&mesh.normalized());
    let mut heap = BinaryHeap::new();
    for face in &state.faces {
        for corner in 0..3 {
            let (a, b) = (face[corner], face[(corner + 1) % 3]);
            if a < b {
                heap.push(state.candidate(a, b));
            }
        }
    }
    while state.alive > target_vertices {
        let Some(candidate) = heap.pop() else { break };
        let (keep, remove) = (candidate.keep, candidate.remove);
        if candidate.versions != [state.versions[keep], state.versions[remove]]
            || !state.allowed(keep, remove, candidate.position)
        {
            continue;
        }
        state.collapse(keep, remove, candidate.position);
        for neighbour in state.neighbours(keep) {
            heap.push(state.candidate(keep, neighbour));
        }
    }
    Ok(state.into_mesh().normalized())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::mesh::{icosphere, Topology};

    #[test]
    fn decimated_sphere_stays_a_closed_genus_zero_sphere() {
        let sphere = icosphere(4);
        let coarse = decimate(&sphere, 400).unwrap();
        assert_eq!(coarse.vertices.len(), 400);
        let topology = Topology::of(&coarse);
        assert_eq!(topology.sphere_defect(), None, "{topology:?}");
        // Unit area: a sphere of radius 1 / sqrt(4 pi); every vertex stays within 2 % of it.
        let radius = 1.0 / (4.0 * std::f64::consts::PI).sqrt();
        for p in &coarse.vertices {
            assert!(
                (norm(*p) / radius - 1.0).abs() < 0.02,
                "{}",
                norm(*p) / radius
            );
        }
    }

    /// A regular tetrahedron with every face split flatly into `4^levels` triangles.
    fn subdivided_tetrahedron(levels: usize) -> TriMesh {
        let mut mesh = TriMesh {
            vertices: vec![
                [1.0, 1.0, 1.0],
                [1.0, -1.0, -1.0],
                [-1.0, 1.0, -1.0],
                [-1.0, -1.0, 1.0],
            ],
            faces: vec![[0, 1, 2], [0, 3, 1], [0, 2, 3], [1, 3, 2]],
        };
        for _ in 0..levels {
            let mut middle = std::collections::HashMap::new();
            let mut faces = Vec::new();
            for [a, b, c] in mesh.faces.clone() {
                let mut mid = |u: usize, v: usize| {
                    *middle.entry((u.min(v), u.max(v))).or_insert_with(|| {
                        let (p, q) = (mesh.vertices[u], mesh.vertices[v]);
                        mesh.vertices.push([0, 1, 2].map(|i| 0.5 * (p[i] + q[i])));
                        mesh.vertices.len() - 1
                    })
                };
                let (ab, bc, ca) = (mid(a, b), mid(b, c), mid(c, a));
                faces.extend([[a, ab, ca], [b, bc, ab], [c, ca, bc], [ab, bc, ca]]);
            }
            mesh.faces = faces;
        }
        mesh
    }

    #[test]
    fn decimation_keeps_flat_faces_flat() {
        // Collapses inside a face cost nothing, moving a corner or an edge costs: the result
        // lies on the four face planes of the input (which is normalised the same way).
        let mesh = subdivided_tetrahedron(4);
        let coarse = decimate(&mesh, 60).unwrap();
        assert_eq!(coarse.vertices.len(), 60);
        assert_eq!(Topology::of(&coarse).sphere_defect(), None);
        let reference = mesh.normalized();
        let planes: Vec<([f64; 3], f64)> = [[0, 1, 2], [0, 3, 1], [0, 2, 3], [1, 3, 2]]
            .iter()
            .map(|corners: &[usize; 3]| {
                let [a, b, c] = corners.map(|v| reference.vertices[v]);
                let normal = cross(sub(b, a), sub(c, a));
                let unit = normal.map(|x| x / norm(normal));
                (unit, dot(unit, a))
            })
            .collect();
        for p in &coarse.vertices {
            let gap = planes
                .iter()
                .map(|(normal, offset)| (dot(*normal, *p) - offset).abs())
                .fold(f64::MAX, f64::min);
            assert!(gap < 1e-9, "{p:?} left the surface by {gap}");
        }
    }

    #[test]
    fn quadric_minimiser_solves_the_normal_equations() {
        let q: Quadric = [
            [2.0, 0.5, 0.0, -1.0],
            [0.5, 1.0, 0.2, 0.3],
            [0.0, 0.2, 3.0, -0.7],
            [-1.0, 0.3, -0.7, 5.0],
        ];
        let x = minimiser(&q).unwrap();
        for (i, row) in q.iter().take(3).enumerate() {
            let residual = dot([row[0], row[1], row[2]], x) + row[3];
            assert!(residual.abs() < 1e-12, "row {i}: {residual}");
        }
    }
}
