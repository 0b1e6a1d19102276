//! Rendered image sequences with known cameras: the stand-in for CO3D in the pose experiment.
//!
//! A scene is one CGAL mesh (from `niso data meshes`), scaled to radius [`OBJECT_RADIUS`], coloured
//! per vertex by smooth random sinusoids of its position, resting on a checkerboard floor inside
//! a square room with value-noise walls, under one directional light. A camera orbits it:
//!
//! ```text
//! eye(t)    = (r(t) cos theta(t), r(t) sin theta(t), h(t))
//! theta(t)  = theta_0 + omega t                 omega: 2-4 degrees per frame, either sense
//! r(t)      = r_0 + a_r sin(2 pi t / T_r + phi_r),  h(t) likewise
//! target(t) = object centre + smooth jitter (a sinusoid per axis)
//! ```
//!
//! and each frame is rendered with [`crate::render`] at `supersample` times the resolution and
//! box-filtered down. Saved per frame: the 8-bit RGB image and the camera-to-world pose.
//!
//! Splits are held out by sequence and by object: test sequences show only the meshes named in
//! `test_objects`, which no training sequence shows. Everything is drawn from `seed`; the set
//! is cached under `data/scenes/<side>px-<hash of the config>/` (`train.rgb`, `test.rgb`, and
//! `index.json` with the poses, written last so that its presence marks a complete set).

use std::f64::consts::PI;
use std::path::{Path, PathBuf};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::data::meshes;
use crate::error::{Error, Result};
use crate::geometry::mesh::TriMesh;
use crate::render::camera::{normalize, Vec3};
use crate::render::{render, Intrinsics, Light, Pattern, Pose, Scene, Surface, Vertex};
use crate::train::write_atomic;

/// Where `niso data scenes` caches rendered sets.
pub const DEFAULT_DIR: &str = "data/scenes";

/// Radius of the bounding sphere every object is scaled to (scene units).
pub const OBJECT_RADIUS: f64 = 1.0;

/// Half the side of the square room.
const ROOM_HALF_WIDTH: f64 = 4.0;

/// Height of the room's walls.
const ROOM_HEIGHT: f64 = 3.0;

/// Channels of a stored frame (RGB).
pub const CHANNELS: usize = 3;

/// How a set of sequences is rendered.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenesConfig {
    /// Side of the square frames in pixels.
    pub side: usize,
    /// Render at `supersample` times the side and box-filter down (anti-aliasing).
    pub supersample: usize,
    /// Horizontal field of view in degrees.
    pub fov_degrees: f64,
    /// Frames per sequence.
    pub frames: usize,
    /// Training sequences.
    pub train_sequences: usize,
    /// Held-out sequences.
    pub test_sequences: usize,
    /// Meshes seen only in held-out sequences (names from `data/meshes/index.json`).
    pub test_objects: Vec<String>,
    /// Seed of every random draw.
    pub seed: u64,
}

impl ScenesConfig {
    /// Checks the sizes; the error names the field.
    pub fn validate(&self, prefix: &str) -> Result<()> {
        for (name, value) in [
            ("side", self.side),
            ("supersample", self.supersample),
            ("train_sequences", self.train_sequences),
            ("test_sequences", self.test_sequences),
        ] {
            if value == 0 {
                return Err(Error::config(
                    format!("{prefix}.{name}"),
                    "must be at least 1",
                ));
            }
        }
        if self.frames < 2 {
            return Err(Error::config(
                format!("{prefix}.frames"),
                format!("a sequence needs at least 2 frames, got {}", self.frames),
            ));
        }
        if !(self.fov_degrees > 1.0 && self.fov_degrees < 170.0) {
            return Err(Error::config(
                format!("{prefix}.fov_degrees"),
                format!("must be in (1, 170), got {}", self.fov_degrees),
            ));
        }
        if self.test_objects.is_empty() {
            return Err(Error::config(
                format!("{prefix}.test_objects"),
                "name at least one mesh to hold out",
            ));
        }
        Ok(())
    }

    /// The cache folder of this configuration under `root`.
    pub fn cache_dir(&self, root: &Path) -> PathBuf {
        let text = serde_json::to_string(self).expect("plain data");
        let digest = Sha256::digest(text.as_bytes());
        let hash: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
        root.join(format!("{}px-{hash}", self.side))
    }

    /// The pinhole camera of every frame.
    pub fn intrinsics(&self) -> Intrinsics {
        Intrinsics::from_fov(self.fov_degrees, self.side, self.side)
    }
}

/// One split: sequences of frames with their camera poses.
#[derive(Clone, Debug)]
pub struct Sequences {
    /// Side of the square frames.
    pub side: usize,
    /// Frames per sequence.
    pub frames: usize,
    /// The mesh shown in each sequence.
    pub objects: Vec<String>,
    /// Camera-to-world pose of every frame, per sequence.
    pub poses: Vec<Vec<Pose>>,
    /// Row-major RGB bytes of every frame, sequence after sequence.
    pub pixels: Vec<u8>,
}

impl Sequences {
    /// Number of sequences.
    pub fn count(&self) -> usize {
        self.poses.len()
    }

    /// Bytes of one frame.
    pub fn frame_bytes(&self) -> usize {
        self.side * self.side * CHANNELS
    }

    /// The bytes of frame `frame` of sequence `sequence`, `[side, side, 3]` row major.
    pub fn frame(&self, sequence: usize, frame: usize) -> &[u8] {
        let size = self.frame_bytes();
        let start = (sequence * self.frames + frame) * size;
        &self.pixels[start..start + size]
    }
}

/// The cached description of a set (everything but the pixels).
#[derive(Clone, Debug, Serialize, Deserialize)]
struct SetIndex {
    config: ScenesConfig,
    intrinsics: Intrinsics,
    train_objects: Vec<String>,
    train_poses: Vec<Vec<Pose>>,
    test_objects: Vec<String>,
    test_poses: Vec<Vec<Pose>>,
}

/// A rendered set: training and held-out sequences.
#[derive(Clone, Debug)]
pub struct SceneSet {
    /// How it was made.
    pub config: ScenesConfig,
    /// The camera of every frame.
    pub intrinsics: Intrinsics,
    /// Training sequences.
    pub train: Sequences,
    /// Held-out sequences (held-out objects).
    pub test: Sequences,
}

/// Loads the set for `config` from its cache under `root`, rendering it first if absent.
/// Meshes come from `mesh_dir` (made by `niso data meshes`).
pub fn load_or_build(config: &ScenesConfig, root: &Path, mesh_dir: &Path) -> Result<SceneSet> {
    config.validate("data")?;
    let dir = config.cache_dir(root);
    if !dir.join("index.json").is_file() {
        build(config, &dir, mesh_dir)?;
    }
    load(config, &dir)
}

fn load(config: &ScenesConfig, dir: &Path) -> Result<SceneSet> {
    let path = dir.join("index.json");
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    let index: SetIndex =
        serde_json::from_str(&text).map_err(|e| Error::format(&path, e.to_string()))?;
    if &index.config != config {
        return Err(Error::format(
            &path,
            "the cached set was made with another config; delete the folder to rebuild it",
        ));
    }
    let split = |name: &str, objects: Vec<String>, poses: Vec<Vec<Pose>>| -> Result<Sequences> {
        let path = dir.join(format!("{name}.rgb"));
        let pixels = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        let expected = poses.len() * config.frames * config.side * config.side * CHANNELS;
        if pixels.len() != expected || poses.iter().any(|p| p.len() != config.frames) {
            return Err(Error::format(
                &path,
                format!(
                    "expected {expected} bytes ({} sequences x {} frames of {} x {} RGB), got {}",
                    poses.len(),
                    config.frames,
                    config.side,
                    config.side,
                    pixels.len()
                ),
            ));
        }
        Ok(Sequences {
            side: config.side,
            frames: config.frames,
            objects,
            poses,
            pixels,
        })
    };
    Ok(SceneSet {
        train: split("train", index.train_objects, index.train_poses)?,
        test: split("test", index.test_objects, index.test_poses)?,
        config: index.config,
        intrinsics: index.intrinsics,
    })
}

/// Saves the first `frames` frames (every `stride`-th) of the first `sequences` sequences of a
/// split as one PNG, a row per sequence.
pub fn save_preview(
    split: &Sequences,
    sequences: usize,
    frames: usize,
    stride: usize,
    path: &Path,
) -> Result<()> {
    const GAP: usize = 2;
    let side = split.side;
    let rows = sequences.min(split.count());
    let columns = frames.min(split.frames.div_ceil(stride.max(1)));
    let width = columns * (side + GAP) + GAP;
    let height = rows * (side + GAP) + GAP;
    let mut canvas = image::RgbImage::from_pixel(width as u32, height as u32, image::Rgb([255; 3]));
    for row in 0..rows {
        for column in 0..columns {
            let frame = split.frame(row, column * stride.max(1));
            let (left, top) = (GAP + column * (side + GAP), GAP + row * (side + GAP));
            for (index, rgb) in frame.chunks(CHANNELS).enumerate() {
                let (x, y) = (left + index % side, top + index / side);
                canvas.put_pixel(x as u32, y as u32, image::Rgb([rgb[0], rgb[1], rgb[2]]));
            }
        }
    }
    canvas
        .save(path)
        .map_err(|e| Error::io(path, std::io::Error::other(e.to_string())))
}

/// Renders the set into `dir`.
fn build(config: &ScenesConfig, dir: &Path, mesh_dir: &Path) -> Result<()> {
    let all = meshes::load(mesh_dir)?;
    for name in &config.test_objects {
        if !all.iter().any(|(known, _)| known == name) {
            let names: Vec<&str> = all.iter().map(|(n, _)| n.as_str()).collect();
            return Err(Error::config(
                "data.test_objects",
                format!("no mesh named `{name}`; known: {}", names.join(", ")),
            ));
        }
    }
    let (test_meshes, train_meshes): (Vec<_>, Vec<_>) = all
        .into_iter()
        .partition(|(name, _)| config.test_objects.contains(name));
    if train_meshes.is_empty() {
        return Err(Error::config(
            "data.test_objects",
            "every mesh is held out; leave some for training",
        ));
    }
    tracing::info!("rendering scenes into {}", dir.display());
    let (train_objects, train_poses, train_pixels) =
        render_split(config, &train_meshes, config.train_sequences, 0)?;
    let (test_objects, test_poses, test_pixels) = render_split(
        config,
        &test_meshes,
        config.test_sequences,
        config.train_sequences,
    )?;
    write_atomic(&dir.join("train.rgb"), &train_pixels)?;
    write_atomic(&dir.join("test.rgb"), &test_pixels)?;
    let index = SetIndex {
        config: config.clone(),
        intrinsics: config.intrinsics(),
        train_objects,
        train_poses,
        test_objects,
        test_poses,
    };
    let json = serde_json::to_string(&index).expect("plain data");
    write_atomic(&dir.join("index.json"), json.as_bytes())
}

type RenderedSplit = (Vec<String>, Vec<Vec<Pose>>, Vec<u8>);

/// Renders `count` sequences over `meshes` (round robin), numbering them from `first` so that
/// every sequence of the set has its own random stream. Uses every available core.
fn render_split(
    config: &ScenesConfig,
    meshes: &[(String, TriMesh)],
    count: usize,
    first: usize,
) -> Result<RenderedSplit> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut results: Vec<Option<(Vec<Pose>, Vec<u8>)>> = vec![None; count];
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|worker| {
                scope.spawn(move || {
                    (worker..count)
                        .step_by(threads)
                        .map(|index| {
                            let mesh = &meshes[index % meshes.len()].1;
                            (index, render_sequence(config, mesh, first + index))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for handle in handles {
            for (index, sequence) in handle.join().expect("a render worker panicked") {
                results[index] = Some(sequence);
            }
        }
    });
    let mut objects = Vec::with_capacity(count);
    let mut poses = Vec::with_capacity(count);
    let mut pixels = Vec::new();
    for (index, result) in results.into_iter().enumerate() {
        let (sequence_poses, sequence_pixels) = result.expect("every sequence was rendered");
        objects.push(meshes[index % meshes.len()].0.clone());
        poses.push(sequence_poses);
        pixels.extend(sequence_pixels);
    }
    Ok((objects, poses, pixels))
}

/// The random stream of sequence `index`.
fn sequence_rng(seed: u64, index: usize) -> StdRng {
    StdRng::seed_from_u64(seed ^ (index as u64 + 1).wrapping_mul(0xD1B5_4A32_D192_ED03))
}

/// Renders one sequence: its poses and its frames' bytes.
fn render_sequence(config: &ScenesConfig, mesh: &TriMesh, index: usize) -> (Vec<Pose>, Vec<u8>) {
    let mut rng = sequence_rng(config.seed, index);
    let (object, height) = object_surface(mesh, &mut rng);
    let scene = Scene {
        surfaces: [vec![object], room_surfaces(&mut rng)].concat(),
        light: Light {
            direction: normalize([
                rng.random_range(-1.0..1.0),
                rng.random_range(-1.0..1.0),
                -rng.random_range(1.0..2.0),
            ]),
            ambient: rng.random_range(0.3..0.5),
        },
        background: [0.85, 0.88, 0.95],
    };
    let trajectory = Trajectory::sample(&mut rng, height);
    let intrinsics = config.intrinsics().scaled(config.supersample);
    let mut poses = Vec::with_capacity(config.frames);
    let mut pixels = Vec::with_capacity(config.frames * config.side * config.side * CHANNELS);
    for frame in 0..config.frames {
        let pose = trajectory.pose(frame as f64);
        let image = render(&scene, &pose, &intrinsics).downsample(config.supersample);
        pixels.extend(image.to_bytes());
        poses.push(pose);
    }
    (poses, pixels)
}

/// A smooth periodic wobble `amplitude sin(2 pi t / period + phase)`.
#[derive(Clone, Copy, Debug)]
struct Wobble {
    amplitude: f64,
    period: f64,
    phase: f64,
}

impl Wobble {
    fn sample(rng: &mut StdRng, max_amplitude: f64) -> Self {
        Wobble {
            amplitude: rng.random_range(0.0..=max_amplitude),
            period: rng.random_range(30.0..90.0),
            phase: rng.random_range(0.0..2.0 * PI),
        }
    }

    fn at(&self, t: f64) -> f64 {
        self.amplitude * (2.0 * PI * t / self.period + self.phase).sin()
    }
}

/// An orbit with varying radius and height around a jittered look-at point.
#[derive(Clone, Debug)]
struct Trajectory {
    start_angle: f64,
    angular_step: f64,
    radius: f64,
    radius_wobble: Wobble,
    height: f64,
    height_wobble: Wobble,
    centre: Vec3,
    jitter: [Wobble; 3],
}

impl Trajectory {
    fn sample(rng: &mut StdRng, object_height: f64) -> Self {
        let sense = if rng.random_bool(0.5) { 1.0 } else { -1.0 };
        Trajectory {
            start_angle: rng.random_range(0.0..2.0 * PI),
            angular_step: sense * rng.random_range(2.0f64..4.0).to_radians(),
            radius: rng.random_range(2.2..2.9),
            radius_wobble: Wobble::sample(rng, 0.4),
            height: rng.random_range(0.9..2.0),
            height_wobble: Wobble::sample(rng, 0.4),
            centre: [0.0, 0.0, object_height / 2.0],
            jitter: [0; 3].map(|_| Wobble::sample(rng, 0.15)),
        }
    }

    fn pose(&self, t: f64) -> Pose {
        let angle = self.start_angle + self.angular_step * t;
        let radius = self.radius + self.radius_wobble.at(t);
        let eye = [
            radius * angle.cos(),
            radius * angle.sin(),
            self.height + self.height_wobble.at(t),
        ];
        let target = [0, 1, 2].map(|axis| self.centre[axis] + self.jitter[axis].at(t));
        Pose::look_at(eye, target, [0.0, 0.0, 1.0])
    }
}

/// The mesh turned upright (its `y` axis up), turned by a random yaw, scaled to
/// [`OBJECT_RADIUS`], resting on the floor, with smooth random vertex colours; and its height.
fn object_surface(mesh: &TriMesh, rng: &mut StdRng) -> (Surface, f64) {
    let count = mesh.vertices.len() as f64;
    let mut centre = [0.0; 3];
    for vertex in &mesh.vertices {
        for axis in 0..3 {
            centre[axis] += vertex[axis] / count;
        }
    }
    let radius = mesh
        .vertices
        .iter()
        .map(|v| {
            (0..3)
                .map(|a| (v[a] - centre[a]).powi(2))
                .sum::<f64>()
                .sqrt()
        })
        .fold(0.0, f64::max)
        .max(f64::MIN_POSITIVE);
    let yaw: f64 = rng.random_range(0.0..2.0 * PI);
    let (sin, cos) = yaw.sin_cos();
    let placed: Vec<Vec3> = mesh
        .vertices
        .iter()
        .map(|v| {
            let [x, y, z] = [0, 1, 2].map(|a| (v[a] - centre[a]) * OBJECT_RADIUS / radius);
            let (east, north, up) = (x, -z, y);
            [cos * east - sin * north, sin * east + cos * north, up]
        })
        .collect();
    let floor = placed.iter().map(|p| p[2]).fold(f64::INFINITY, f64::min);
    let top = placed
        .iter()
        .map(|p| p[2])
        .fold(f64::NEG_INFINITY, f64::max);

    let frequencies: Vec<Vec3> = (0..3)
        .map(|_| {
            let direction = normalize([0; 3].map(|_| rng.random_range(-1.0..1.0)));
            direction.map(|x| x * rng.random_range(2.0..6.0))
        })
        .collect();
    let phases: Vec<f64> = (0..3).map(|_| rng.random_range(0.0..2.0 * PI)).collect();
    let vertices = placed
        .iter()
        .map(|&p| {
            let position = [p[0], p[1], p[2] - floor];
            let colour = [0, 1, 2].map(|c| {
                let wave = (0..3).map(|a| frequencies[c][a] * p[a]).sum::<f64>() + phases[c];
                (0.5 + 0.4 * wave.sin()) as f32
            });
            Vertex {
                position,
                colour,
                uv: [0.0, 0.0],
            }
        })
        .collect();
    let surface = Surface {
        vertices,
        triangles: mesh.faces.clone(),
        pattern: Pattern::Plain,
    };
    (surface, top - floor)
}

/// A random pastel colour.
fn pastel(rng: &mut StdRng) -> [f32; 3] {
    [0; 3].map(|_| rng.random_range(0.45..0.95))
}

/// A quad `a, b, c, d` (counter-clockwise) with texture coordinates `uv`, as one surface.
fn quad(corners: [Vec3; 4], uv: [[f32; 2]; 4], colour: [f32; 3], pattern: Pattern) -> Surface {
    Surface {
        vertices: (0..4)
            .map(|i| Vertex {
                position: corners[i],
                colour,
                uv: uv[i],
            })
            .collect(),
        triangles: vec![[0, 1, 2], [0, 2, 3]],
        pattern,
    }
}

/// The checkerboard floor and four value-noise walls of the room.
fn room_surfaces(rng: &mut StdRng) -> Vec<Surface> {
    let w = ROOM_HALF_WIDTH;
    let h = ROOM_HEIGHT;
    let (wf, hf) = (w as f32, h as f32);
    let checker = Pattern::Checker {
        period: rng.random_range(0.35..0.7),
        dark: rng.random_range(0.3..0.6),
    };
    let mut surfaces = vec![quad(
        [[-w, -w, 0.0], [w, -w, 0.0], [w, w, 0.0], [-w, w, 0.0]],
        [[-wf, -wf], [wf, -wf], [wf, wf], [-wf, wf]],
        pastel(rng),
        checker,
    )];
    let corners = [[-w, -w], [w, -w], [w, w], [-w, w]];
    for side in 0..4 {
        let [x0, y0] = corners[side];
        let [x1, y1] = corners[(side + 1) % 4];
        let pattern = Pattern::Noise {
            frequency: rng.random_range(1.0..2.5),
            floor: 0.35,
            seed: rng.random(),
        };
        surfaces.push(quad(
            [[x0, y0, 0.0], [x1, y1, 0.0], [x1, y1, h], [x0, y0, h]],
            [[0.0, 0.0], [2.0 * wf, 0.0], [2.0 * wf, hf], [0.0, hf]],
            pastel(rng),
            pattern,
        ));
    }
    surfaces
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::mesh::icosphere;
    use crate::render::camera::{determinant, mat_mul, transpose};

    /// Round-off allowed in `R^T R = I` and `det R = 1` after a few products.
    const ROTATION_TOLERANCE: f64 = 1e-10;

    #[test]
    fn trajectories_are_smooth_proper_rotations_inside_the_room() {
        let mut rng = sequence_rng(7, 3);
        let trajectory = Trajectory::sample(&mut rng, 1.2);
        let mut previous: Option<Pose> = None;
        for t in 0..100 {
            let pose = trajectory.pose(t as f64);
            let r = pose.rotation;
            let product = mat_mul(&transpose(&r), &r);
            for (i, row) in product.iter().enumerate() {
                for (j, &value) in row.iter().enumerate() {
                    let expected = if i == j { 1.0 } else { 0.0 };
                    assert!((value - expected).abs() < ROTATION_TOLERANCE);
                }
            }
            assert!((determinant(&r) - 1.0).abs() < ROTATION_TOLERANCE);
            assert!(pose.translation[0].abs() < ROOM_HALF_WIDTH);
            assert!(pose.translation[2] > 0.0 && pose.translation[2] < ROOM_HEIGHT);
            if let Some(before) = previous {
                let step = pose.relative_to(&before);
                let angle = crate::render::camera::rotation_angle_degrees(&step.rotation);
                assert!(angle < 8.0, "consecutive frames turn by {angle} degrees");
            }
            previous = Some(pose);
        }
    }

    #[test]
    fn sequences_are_deterministic_and_show_the_object() {
        let config = ScenesConfig {
            side: 24,
            supersample: 1,
            fov_degrees: 60.0,
            frames: 3,
            train_sequences: 1,
            test_sequences: 1,
            test_objects: vec!["ball".into()],
            seed: 5,
        };
        let ball = icosphere(2);
        let (poses, pixels) = render_sequence(&config, &ball, 0);
        let (again, same) = render_sequence(&config, &ball, 0);
        assert_eq!(poses, again);
        assert_eq!(pixels, same);
        assert_eq!(pixels.len(), 3 * 24 * 24 * CHANNELS);
        let background = [0.85f32, 0.88, 0.95].map(|v| (v * 255.0).round() as u8);
        let first = &pixels[..24 * 24 * CHANNELS];
        let bare = first.chunks(3).filter(|p| *p == background).count();
        assert!(
            bare < 24 * 24 / 2,
            "most of the frame shows the room or the object"
        );
    }
}
