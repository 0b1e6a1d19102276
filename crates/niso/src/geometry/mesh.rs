//! Triangle meshes: an OFF reader that names the file and line of every defect, the topology
//! checks that decide whether a mesh is a closed genus-0 surface, and the discrete
//! Laplace-Beltrami operator (cotangent stiffness matrix and lumped mass).
//!
//! Conventions: faces are counter-clockwise seen from outside; the stiffness matrix `L` is
//! positive semi-definite (`L 1 = 0`), so the generalised eigenproblem `L u = lambda M u` has
//! non-negative eigenvalues that approximate those of `-Delta` on the surface.

use std::collections::HashMap;
use std::path::Path;

use faer::sparse::{SparseColMat, Triplet};

use crate::error::{Error, Result};

/// A triangle mesh: vertex positions and faces as vertex indices.
#[derive(Clone, Debug, PartialEq)]
pub struct TriMesh {
    /// Vertex positions.
    pub vertices: Vec<[f64; 3]>,
    /// Triangles, counter-clockwise seen from outside.
    pub faces: Vec<[usize; 3]>,
}

/// Header keywords of three-dimensional OFF files: plain, with per-vertex colours (`C`), normals
/// (`N`) or texture coordinates (`ST`); the extra per-vertex values are ignored.
const OFF_KEYWORDS: [&str; 8] = [
    "OFF", "COFF", "NOFF", "CNOFF", "STOFF", "STCOFF", "STNOFF", "STCNOFF",
];

/// Reads an OFF file (polygons are split into triangle fans).
///
/// # Errors
/// [`Error::Io`] if the file cannot be read; [`Error::Format`] naming the line for a wrong
/// header, a missing or non-numeric value, a face with fewer than three corners, a repeated
/// corner or an index out of range.
pub fn read_off(path: &Path) -> Result<TriMesh> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    parse_off(path, &text)
}

/// Parses the text of an OFF file; `path` only names the file in errors.
///
/// # Errors
/// As [`read_off`].
pub fn parse_off(path: &Path, text: &str) -> Result<TriMesh> {
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(index, line)| (index + 1, line.split('#').next().unwrap_or("").trim()))
        .filter(|(_, line)| !line.is_empty());
    let at = |line: usize, message: String| Error::format(path, format!("line {line}: {message}"));

    let (header_line, header) = lines
        .next()
        .ok_or_else(|| Error::format(path, "empty file, expected the header `OFF`"))?;
    let mut header_words = header.split_whitespace();
    let keyword = header_words.next().unwrap_or("");
    if !OFF_KEYWORDS.contains(&keyword) {
        return Err(at(
            header_line,
            format!("expected the header `OFF` (or COFF, NOFF, CNOFF, ST...), found `{header}`"),
        ));
    }

    // The counts may follow the header on the same line.
    let rest: Vec<&str> = header_words.collect();
    let (count_line, count_words) = if rest.is_empty() {
        let (line, text) = lines
            .next()
            .ok_or_else(|| at(header_line, "expected the counts `V F E` after it".into()))?;
        (line, text.split_whitespace().collect())
    } else {
        (header_line, rest)
    };
    let counts = numbers::<usize>(&count_words, "counts `V F E`")
        .map_err(|message| at(count_line, message))?;
    if counts.len() < 2 {
        return Err(at(
            count_line,
            format!("expected the counts `V F E`, found {counts:?}"),
        ));
    }
    let (vertex_count, face_count) = (counts[0], counts[1]);

    let mut vertices = Vec::with_capacity(vertex_count);
    for index in 0..vertex_count {
        let (line, text) = lines.next().ok_or_else(|| {
            Error::format(
                path,
                format!("truncated: {index} of {vertex_count} vertices present"),
            )
        })?;
        let words: Vec<&str> = text.split_whitespace().collect();
        let values =
            numbers::<f64>(&words, "vertex coordinates").map_err(|message| at(line, message))?;
        if values.len() < 3 || values[..3].iter().any(|v| !v.is_finite()) {
            return Err(at(
                line,
                format!("expected 3 finite coordinates, found `{text}`"),
            ));
        }
        vertices.push([values[0], values[1], values[2]]);
    }

    let mut faces = Vec::with_capacity(face_count);
    for index in 0..face_count {
        let (line, text) = lines.next().ok_or_else(|| {
            Error::format(
                path,
                format!("truncated: {index} of {face_count} faces present"),
            )
        })?;
        let words: Vec<&str> = text.split_whitespace().collect();
        let corners = words
            .first()
            .and_then(|w| w.parse::<usize>().ok())
            .ok_or_else(|| at(line, format!("expected a corner count, found `{text}`")))?;
        if corners < 3 || words.len() < 1 + corners {
            return Err(at(
                line,
                format!("expected a face with at least 3 corners, found `{text}`"),
            ));
        }
        let polygon = numbers::<usize>(&words[1..=corners], "vertex indices")
            .map_err(|message| at(line, message))?;
        if let Some(&bad) = polygon.iter().find(|&&v| v >= vertex_count) {
            return Err(at(
                line,
                format!("vertex index {bad} out of range (the file has {vertex_count} vertices)"),
            ));
        }
        for (position, corner) in polygon.iter().enumerate() {
            if polygon[position + 1..].contains(corner) {
                return Err(at(line, format!("vertex {corner} repeated in one face")));
            }
        }
        for corner in 1..corners - 1 {
            faces.push([polygon[0], polygon[corner], polygon[corner + 1]]);
        }
    }

    Ok(TriMesh { vertices, faces })
}

/// Parses every word as a `T`; the message names what was expected.
fn numbers<T: std::str::FromStr>(
    words: &[&str],
    what: &str,
) -> std::result::Result<Vec<T>, String> {
    words
        .iter()
        .map(|w| {
            w.parse::<T>()
                .map_err(|_| format!("expected {what}, found `{w}`"))
        })
        .collect()
}

/// Writes `mesh` as OFF text.
pub fn to_off(mesh: &TriMesh) -> String {
    let mut text = format!("OFF\n{} {} 0\n", mesh.vertices.len(), mesh.faces.len());
    for [x, y, z] in &mesh.vertices {
        text.push_str(&format!("{x} {y} {z}\n"));
    }
    for [a, b, c] in &mesh.faces {
        text.push_str(&format!("3 {a} {b} {c}\n"));
    }
    text
}

/// Counts that decide what kind of surface a mesh is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Topology {
    /// Vertices used by at least one face.
    pub vertices: usize,
    /// Undirected edges.
    pub edges: usize,
    /// Triangles.
    pub faces: usize,
    /// Edges in exactly one face (holes).
    pub boundary_edges: usize,
    /// Edges in more than two faces.
    pub nonmanifold_edges: usize,
    /// Directed edges used by two faces: neighbouring faces with opposite orientation.
    pub misoriented_edges: usize,
    /// Vertices whose faces do not form one fan (two surfaces touching at a point).
    pub nonmanifold_vertices: usize,
    /// Vertices no face uses.
    pub unreferenced_vertices: usize,
    /// Connected components (through shared vertices).
    pub components: usize,
}

impl Topology {
    /// Measures `mesh`.
    pub fn of(mesh: &TriMesh) -> Self {
        let n = mesh.vertices.len();

        let mut directed: HashMap<(usize, usize), usize> = HashMap::new();
        for face in &mesh.faces {
            for corner in 0..3 {
                *directed
                    .entry((face[corner], face[(corner + 1) % 3]))
                    .or_default() += 1;
            }
        }
        let misoriented_edges = directed.values().filter(|&&count| count > 1).count();
        let mut undirected: HashMap<(usize, usize), usize> = HashMap::new();
        for (&(a, b), &count) in &directed {
            *undirected.entry((a.min(b), a.max(b))).or_default() += count;
        }
        let boundary_edges = undirected.values().filter(|&&count| count == 1).count();
        let nonmanifold_edges = undirected.values().filter(|&&count| count > 2).count();

        // The link of vertex v: for each face (v, a, b) the edge a -> b. On a closed manifold
        // the link is one cycle; on a boundary it is one path.
        let mut links: Vec<Vec<(usize, usize)>> = vec![Vec::new(); n];
        for &[a, b, c] in &mesh.faces {
            links[a].push((b, c));
            links[b].push((c, a));
            links[c].push((a, b));
        }
        let referenced = links.iter().filter(|link| !link.is_empty()).count();
        let nonmanifold_vertices = links
            .iter()
            .filter(|link| !link.is_empty() && !is_single_fan(link))
            .count();

        let mut components = UnionFind::new(n);
        for &[a, b, c] in &mesh.faces {
            components.union(a, b);
            components.union(b, c);
        }
        let components = (0..n)
            .filter(|&v| !links[v].is_empty() && components.find(v) == v)
            .count();

        Topology {
            vertices: referenced,
            edges: undirected.len(),
            faces: mesh.faces.len(),
            boundary_edges,
            nonmanifold_edges,
            misoriented_edges,
            nonmanifold_vertices,
            unreferenced_vertices: n - referenced,
            components,
        }
    }

    /// `V - E + F` over the referenced vertices.
    pub fn euler_characteristic(&self) -> i64 {
        self.vertices as i64 - self.edges as i64 + self.faces as i64
    }

    /// Whether every edge lies in two consistently oriented faces and every vertex has one fan.
    pub fn is_closed_oriented_manifold(&self) -> bool {
        self.boundary_edges == 0
            && self.nonmanifold_edges == 0
            && self.misoriented_edges == 0
            && self.nonmanifold_vertices == 0
    }

    /// The genus of a closed, oriented, connected manifold mesh (`chi = 2 - 2 g`); `None` for
    /// any other mesh.
    pub fn genus(&self) -> Option<usize> {
        let chi = self.euler_characteristic();
        (self.is_closed_oriented_manifold() && self.components == 1 && chi <= 2 && chi % 2 == 0)
            .then(|| ((2 - chi) / 2) as usize)
    }

    /// Why the mesh is not a closed, oriented, connected genus-0 surface; `None` if it is.
    pub fn sphere_defect(&self) -> Option<String> {
        let mut defects = Vec::new();
        for (count, what) in [
            (self.boundary_edges, "boundary edges"),
            (self.nonmanifold_edges, "edges in more than two faces"),
            (self.misoriented_edges, "inconsistently oriented edges"),
            (self.nonmanifold_vertices, "non-manifold vertices"),
        ] {
            if count > 0 {
                defects.push(format!("{count} {what}"));
            }
        }
        if self.components != 1 {
            defects.push(format!("{} connected components", self.components));
        }
        if defects.is_empty() && self.genus() != Some(0) {
            defects.push(format!(
                "genus {} (Euler characteristic {})",
                self.genus().map_or("?".into(), |g| g.to_string()),
                self.euler_characteristic()
            ));
        }
        (!defects.is_empty()).then(|| defects.join(", "))
    }
}

/// Whether the link edges `a -> b` of one vertex chain into a single cycle or a single path.
fn is_single_fan(link: &[(usize, usize)]) -> bool {
    let mut next: HashMap<usize, usize> = HashMap::with_capacity(link.len());
    for &(a, b) in link {
        if next.insert(a, b).is_some() {
            return false;
        }
    }

    // A path starts at a vertex that is no edge's head; a cycle may start anywhere.
    let heads: std::collections::HashSet<usize> = link.iter().map(|&(_, b)| b).collect();
    let start = link
        .iter()
        .map(|&(a, _)| a)
        .find(|a| !heads.contains(a))
        .unwrap_or(link[0].0);
    let mut visited = 0;
    let mut current = start;
    while let Some(&following) = next.get(&current) {
        visited += 1;
        current = following;
        if current == start || visited > link.len() {
            break;
        }
    }
    visited == link.len()
}

/// Disjoint sets with path halving.
struct UnionFind {
    parent: Vec<usize>,
}

impl UnionFind {
    fn new(n: usize) -> Self {
        UnionFind {
            parent: (0..n).collect(),
        }
    }

    fn find(&mut self, mut v: usize) -> usize {
        while self.parent[v] != v {
            self.parent[v] = self.parent[self.parent[v]];
            v = self.parent[v];
        }
        v
    }

    fn union(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            self.parent[ra] = rb;
        }
    }
}

pub(crate) fn sub(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

pub(crate) fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

pub(crate) fn cross(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

pub(crate) fn norm(a: [f64; 3]) -> f64 {
    dot(a, a).sqrt()
}

impl TriMesh {
    /// The corner positions of face `f`.
    fn corners(&self, f: usize) -> [[f64; 3]; 3] {
        self.faces[f].map(|v| self.vertices[v])
    }

    /// Area of every face.
    pub fn face_areas(&self) -> Vec<f64> {
        (0..self.faces.len())
            .map(|f| {
                let [a, b, c] = self.corners(f);
                0.5 * norm(cross(sub(b, a), sub(c, a)))
            })
            .collect()
    }

    /// Total surface area.
    pub fn area(&self) -> f64 {
        self.face_areas().iter().sum()
    }

    /// The lumped (barycentric) mass matrix diagonal: a third of the area of every incident face.
    pub fn lumped_mass(&self) -> Vec<f64> {
        let mut mass = vec![0.0; self.vertices.len()];
        for (face, area) in self.faces.iter().zip(self.face_areas()) {
            for &v in face {
                mass[v] += area / 3.0;
            }
        }
        mass
    }

    /// The cotangent stiffness matrix: `L_ij = -(cot alpha_ij + cot beta_ij) / 2` for an edge
    /// with opposite angles `alpha_ij`, `beta_ij`, and `L_ii = -sum_j L_ij`. Degenerate faces
    /// (zero area) contribute nothing.
    ///
    /// # Errors
    /// [`Error::Shape`] only if faer rejects the assembled triplets (an index out of range).
    pub fn cotangent_laplacian(&self) -> Result<SparseColMat<usize, f64>> {
        let n = self.vertices.len();
        let mut triplets = Vec::with_capacity(self.faces.len() * 12);
        for f in 0..self.faces.len() {
            let positions = self.corners(f);
            for corner in 0..3 {
                // The angle at `corner` is opposite the edge (i, j).
                let (i, j) = ((corner + 1) % 3, (corner + 2) % 3);
                let u = sub(positions[i], positions[corner]);
                let w = sub(positions[j], positions[corner]);
                let sine = norm(cross(u, w));
                if sine <= f64::EPSILON * dot(u, u).max(dot(w, w)) {
                    continue;
                }
                let weight = 0.5 * dot(u, w) / sine;
                let (vi, vj) = (self.faces[f][i], self.faces[f][j]);
                triplets.extend([
                    Triplet::new(vi, vj, -weight),
                    Triplet::new(vj, vi, -weight),
                    Triplet::new(vi, vi, weight),
                    Triplet::new(vj, vj, weight),
                ]);
            }
        }
        SparseColMat::try_new_from_triplets(n, n, &triplets).map_err(|e| Error::Shape {
            op: "cotangent_laplacian",
            expected: format!("face indices below the vertex count {n} ({e:?})"),
            got: vec![n, self.faces.len()],
        })
    }

    /// The signed enclosed volume `sum_f a . (b x c) / 6`: positive when the faces are
    /// counter-clockwise seen from outside.
    pub fn signed_volume(&self) -> f64 {
        (0..self.faces.len())
            .map(|f| {
                let [a, b, c] = self.corners(f);
                dot(a, cross(b, c)) / 6.0
            })
            .sum()
    }

    /// The mesh with every face reversed if its signed volume is negative (faces inward).
    pub fn oriented_outward(&self) -> TriMesh {
        let mut mesh = self.clone();
        if self.signed_volume() < 0.0 {
            mesh.faces.iter_mut().for_each(|face| face.swap(1, 2));
        }
        mesh
    }

    /// The mesh translated so that its area-weighted centroid is the origin and scaled to unit
    /// total area.
    pub fn normalized(&self) -> TriMesh {
        let areas = self.face_areas();
        let total: f64 = areas.iter().sum();
        let mut centre = [0.0; 3];
        for (f, area) in areas.iter().enumerate() {
            let [a, b, c] = self.corners(f);
            for axis in 0..3 {
                centre[axis] += area * (a[axis] + b[axis] + c[axis]) / 3.0;
            }
        }
        let centre = centre.map(|x| x / total);
        let scale = 1.0 / total.sqrt();
        TriMesh {
            vertices: self
                .vertices
                .iter()
                .map(|&p| sub(p, centre).map(|x| x * scale))
                .collect(),
            faces: self.faces.clone(),
        }
    }
}

/// The icosahedron subdivided `levels` times, projected onto the unit sphere
/// (`10 * 4^levels + 2` vertices).
pub fn icosphere(levels: usize) -> TriMesh {
    let t = (1.0 + 5f64.sqrt()) / 2.0;
    let mut vertices: Vec<[f64; 3]> = [
        [-1.0, t, 0.0],
        [1.0, t, 0.0],
        [-1.0, -t, 0.0],
        [1.0, -t, 0.0],
        [0.0, -1.0, t],
        [0.0, 1.0, t],
        [0.0, -1.0, -t],
        [0.0, 1.0, -t],
        [t, 0.0, -1.0],
        [t, 0.0, 1.0],
        [-t, 0.0, -1.0],
        [-t, 0.0, 1.0],
    ]
    .map(|p| p.map(|x| x / norm(p)))
    .to_vec();
    let mut faces: Vec<[usize; 3]> = vec![
        [0, 11, 5],
        [0, 5, 1],
        [0, 1, 7],
        [0, 7, 10],
        [0, 10, 11],
        [1, 5, 9],
        [5, 11, 4],
        [11, 10, 2],
        [10, 7, 6],
        [7, 1, 8],
        [3, 9, 4],
        [3, 4, 2],
        [3, 2, 6],
        [3, 6, 8],
        [3, 8, 9],
        [4, 9, 5],
        [2, 4, 11],
        [6, 2, 10],
        [8, 6, 7],
        [9, 8, 1],
    ];

    for _ in 0..levels {
        let mut midpoints: HashMap<(usize, usize), usize> = HashMap::new();
        let mut midpoint = |a: usize, b: usize, vertices: &mut Vec<[f64; 3]>| {
            *midpoints.entry((a.min(b), a.max(b))).or_insert_with(|| {
                let p = [0, 1, 2].map(|axis| vertices[a][axis] + vertices[b][axis]);
                vertices.push(p.map(|x| x / norm(p)));
                vertices.len() - 1
            })
        };
        let mut finer = Vec::with_capacity(faces.len() * 4);
        for [a, b, c] in faces {
            let ab = midpoint(a, b, &mut vertices);
            let bc = midpoint(b, c, &mut vertices);
            let ca = midpoint(c, a, &mut vertices);
            finer.extend([[a, ab, ca], [b, bc, ab], [c, ca, bc], [ab, bc, ca]]);
        }
        faces = finer;
    }
    TriMesh { vertices, faces }
}

#[cfg(test)]
mod tests {
    use super::*;
    use faer::Mat;

    fn parse(text: &str) -> Result<TriMesh> {
        parse_off(Path::new("test.off"), text)
    }

    fn tetrahedron() -> TriMesh {
        parse(
            "OFF\n# a comment\n4 4 6\n0 0 0\n1 0 0\n0 1 0\n0 0 1\n\
             3 0 2 1\n3 0 1 3\n3 0 3 2\n3 1 2 3\n",
        )
        .unwrap()
    }

    /// A periodic `n x n` grid embedded in 3-d as a torus of radii 2 and 1.
    fn torus(n: usize) -> TriMesh {
        let id = |i: usize, j: usize| (i % n) * n + (j % n);
        let mut vertices = Vec::new();
        for i in 0..n {
            for j in 0..n {
                let (u, v) = (
                    std::f64::consts::TAU * i as f64 / n as f64,
                    std::f64::consts::TAU * j as f64 / n as f64,
                );
                vertices.push([
                    (2.0 + v.cos()) * u.cos(),
                    (2.0 + v.cos()) * u.sin(),
                    v.sin(),
                ]);
            }
        }
        let mut faces = Vec::new();
        for i in 0..n {
            for j in 0..n {
                faces.push([id(i, j), id(i + 1, j), id(i + 1, j + 1)]);
                faces.push([id(i, j), id(i + 1, j + 1), id(i, j + 1)]);
            }
        }
        TriMesh { vertices, faces }
    }

    fn dense(matrix: &SparseColMat<usize, f64>) -> Mat<f64> {
        matrix.to_dense()
    }

    #[test]
    fn off_reader_accepts_counts_on_the_header_line_and_splits_polygons() {
        let mesh =
            parse("COFF 4 1 0\n0 0 0\n1 0 0\n1 1 0 0.5 0.5 0.5 1\n0 1 0\n4 0 1 2 3\n").unwrap();
        assert_eq!(mesh.vertices.len(), 4);
        assert_eq!(mesh.faces, vec![[0, 1, 2], [0, 2, 3]]);
        assert!((mesh.area() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn off_reader_names_the_file_and_line_of_each_defect() {
        let cases = [
            ("PLY\n", "line 1", "header"),
            ("4OFF\n", "line 1", "header"),
            ("OFF\n2 0 0\n0 0 0\n", "test.off", "1 of 2 vertices"),
            ("OFF\n1 0 0\n0 zero 0\n", "line 3", "`zero`"),
            (
                "OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 7\n",
                "line 6",
                "out of range",
            ),
            (
                "OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 1\n",
                "line 6",
                "repeated",
            ),
            (
                "OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n2 0 1\n",
                "line 6",
                "at least 3",
            ),
        ];
        for (text, place, what) in cases {
            let message = parse(text).unwrap_err().to_string();
            assert!(message.contains(place), "{message:?} lacks {place:?}");
            assert!(message.contains(what), "{message:?} lacks {what:?}");
            assert!(
                message.contains("test.off"),
                "{message:?} lacks the file name"
            );
        }
    }

    #[test]
    fn off_round_trip() {
        let mesh = icosphere(1);
        let back = parse(&to_off(&mesh)).unwrap();
        assert_eq!(back.faces, mesh.faces);
        for (a, b) in back.vertices.iter().zip(&mesh.vertices) {
            assert!(norm(sub(*a, *b)) < 1e-12);
        }
    }

    #[test]
    fn topology_classifies_sphere_torus_and_defects() {
        let sphere = Topology::of(&icosphere(2));
        assert_eq!(sphere.vertices, 162);
        assert_eq!(sphere.euler_characteristic(), 2);
        assert_eq!(sphere.genus(), Some(0));
        assert_eq!(sphere.sphere_defect(), None);
        assert_eq!(Topology::of(&tetrahedron()).genus(), Some(0));

        let torus = Topology::of(&torus(8));
        assert_eq!(torus.genus(), Some(1));
        assert!(torus.sphere_defect().unwrap().contains("genus 1"));

        let mut open = tetrahedron();
        open.faces.pop();
        let open = Topology::of(&open);
        assert_eq!(open.boundary_edges, 3);
        assert_eq!(open.genus(), None);

        let mut flipped = tetrahedron();
        flipped.faces[0].swap(1, 2);
        assert_eq!(Topology::of(&flipped).misoriented_edges, 3);

        let mut two = icosphere(0);
        let offset = two.vertices.len();
        let copy = icosphere(0);
        two.vertices
            .extend(copy.vertices.iter().map(|p| [p[0] + 3.0, p[1], p[2]]));
        two.faces
            .extend(copy.faces.iter().map(|f| f.map(|v| v + offset)));
        assert_eq!(Topology::of(&two).components, 2);

        // Two tetrahedra glued at one vertex: every edge is fine, the shared vertex is not.
        let mut pinched = tetrahedron();
        let copy = tetrahedron();
        let offset = pinched.vertices.len() - 1;
        pinched
            .vertices
            .extend(copy.vertices[1..].iter().map(|p| p.map(|x| -x)));
        pinched.faces.extend(
            copy.faces
                .iter()
                .map(|f| f.map(|v| if v == 0 { 0 } else { v + offset })),
        );
        let pinched = Topology::of(&pinched);
        assert_eq!(pinched.boundary_edges + pinched.nonmanifold_edges, 0);
        assert_eq!(pinched.nonmanifold_vertices, 1);
    }

    #[test]
    fn cotangent_laplacian_is_symmetric_with_zero_row_sums_and_mass_sums_to_area() {
        let mesh = icosphere(2);
        let stiffness = dense(&mesh.cotangent_laplacian().unwrap());
        let n = mesh.vertices.len();
        for i in 0..n {
            let row_sum: f64 = (0..n).map(|j| stiffness[(i, j)]).sum();
            assert!(row_sum.abs() < 1e-12);
            for j in 0..n {
                assert!((stiffness[(i, j)] - stiffness[(j, i)]).abs() < 1e-12);
            }
        }
        let mass: f64 = mesh.lumped_mass().iter().sum();
        assert!((mass - mesh.area()).abs() < 1e-12);
        // The unit sphere's area is 4 pi; a level-2 icosphere is within 3 %.
        assert!((mesh.area() / (4.0 * std::f64::consts::PI) - 1.0).abs() < 0.03);
    }

    #[test]
    fn cotangent_laplacian_annihilates_linear_functions_on_a_flat_mesh() {
        // A 5 x 5 planar grid with jittered interior vertices: linear precision holds at every
        // interior vertex.
        let side = 5;
        let mut vertices = Vec::new();
        for i in 0..side {
            for j in 0..side {
                let interior = i > 0 && j > 0 && i < side - 1 && j < side - 1;
                let jitter = if interior {
                    0.1 * ((i * 7 + j * 3) % 5) as f64 / 5.0
                } else {
                    0.0
                };
                vertices.push([i as f64 + jitter, j as f64 - jitter, 0.0]);
            }
        }
        let mut faces = Vec::new();
        for i in 0..side - 1 {
            for j in 0..side - 1 {
                let v = i * side + j;
                faces.push([v, v + side, v + side + 1]);
                faces.push([v, v + side + 1, v + 1]);
            }
        }
        let mesh = TriMesh { vertices, faces };
        let stiffness = dense(&mesh.cotangent_laplacian().unwrap());
        let linear: Vec<f64> = mesh
            .vertices
            .iter()
            .map(|p| 2.0 * p[0] - 3.0 * p[1])
            .collect();
        for i in 1..side - 1 {
            for j in 1..side - 1 {
                let row = i * side + j;
                let value: f64 = (0..linear.len())
                    .map(|col| stiffness[(row, col)] * linear[col])
                    .sum();
                assert!(value.abs() < 1e-10, "vertex {row}: {value}");
            }
        }
    }

    #[test]
    fn sphere_spectrum_approaches_l_times_l_plus_one() {
        // Generalised eigenvalues of (L, M) on the unit sphere: 0, then 2 three times, 6 five
        // times (the spherical harmonics of degree 1 and 2).
        let mesh = icosphere(3);
        let stiffness = dense(&mesh.cotangent_laplacian().unwrap());
        let inv_sqrt_mass: Vec<f64> = mesh.lumped_mass().iter().map(|m| 1.0 / m.sqrt()).collect();
        let n = mesh.vertices.len();
        let symmetric = Mat::from_fn(n, n, |i, j| {
            inv_sqrt_mass[i] * stiffness[(i, j)] * inv_sqrt_mass[j]
        });
        let eigen = symmetric.self_adjoint_eigen(faer::Side::Lower).unwrap();
        let values: Vec<f64> = (0..9).map(|i| eigen.S()[i]).collect();
        assert!(values[0].abs() < 1e-9);
        for &value in &values[1..4] {
            assert!((value - 2.0).abs() < 0.02, "{values:?}");
        }
        for &value in &values[4..9] {
            assert!((value - 6.0).abs() < 0.1, "{values:?}");
        }
    }

    #[test]
    fn signed_volume_of_the_tetrahedron_and_outward_orientation() {
        // The corner tetrahedron has volume 1/6; reversing its faces negates it.
        let mesh = tetrahedron();
        assert!((mesh.signed_volume() - 1.0 / 6.0).abs() < 1e-15);
        let mut inward = mesh.clone();
        inward.faces.iter_mut().for_each(|face| face.swap(1, 2));
        assert!((inward.signed_volume() + 1.0 / 6.0).abs() < 1e-15);
        assert_eq!(inward.oriented_outward(), mesh);
        assert_eq!(mesh.oriented_outward(), mesh);
    }

    #[test]
    fn normalized_mesh_has_unit_area_and_centred_centroid() {
        let mut mesh = tetrahedron();
        for p in &mut mesh.vertices {
            *p = [p[0] * 3.0 + 1.0, p[1] * 3.0 - 2.0, p[2] * 3.0 + 5.0];
        }
        let normal = mesh.normalized();
        assert!((normal.area() - 1.0).abs() < 1e-12);
        let areas = normal.face_areas();
        let mut centre = [0.0; 3];
        for (f, area) in areas.iter().enumerate() {
            let [a, b, c] = normal.corners(f);
            for axis in 0..3 {
                centre[axis] += area * (a[axis] + b[axis] + c[axis]) / 3.0;
            }
        }
        assert!(norm(centre) < 1e-12);
    }
}
