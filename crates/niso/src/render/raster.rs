//! A z-buffer triangle rasteriser with perspective-correct interpolation and Lambert shading.
//!
//! Each triangle is moved into camera coordinates, clipped against the near plane `z = NEAR`
//! (Sutherland-Hodgman on one plane), projected, and filled pixel by pixel: a pixel centre `p`
//! with screen-space barycentric weights `w_i` (edge functions over twice the signed area) has
//! depth `z = 1 / sum_i (w_i / z_i)`, and every attribute `a` (colour, texture coordinates) is
//! interpolated perspective-correctly as `a = z sum_i w_i a_i / z_i`. The z-buffer keeps the
//! nearest fragment.
//!
//! Shading is flat Lambert: `colour = albedo (ambient + (1 - ambient) max(0, <n, -l>))` with the
//! face normal `n` turned towards the camera and a directional light `l`. The albedo is the
//! vertex colour times a procedural pattern of the texture coordinates (plain, checkerboard,
//! smooth value noise).

use super::camera::{cross, dot, normalize, sub, Intrinsics, Pose, Vec3};

/// Near clipping plane (camera-space depth); geometry closer than this is cut away.
pub const NEAR: f64 = 0.05;

/// A surface point with its attributes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Vertex {
    /// World position.
    pub position: Vec3,
    /// Linear RGB colour in `[0, 1]`.
    pub colour: [f32; 3],
    /// Texture coordinates for the pattern.
    pub uv: [f32; 2],
}

/// A procedural texture multiplying the vertex colour.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Pattern {
    /// No texture.
    Plain,
    /// Squares of side `period` in `uv`, alternating between 1 and `dark`.
    Checker { period: f32, dark: f32 },
    /// Bilinear value noise on a lattice of spacing `1 / frequency`, two octaves, in
    /// `[floor, 1]`.
    Noise {
        frequency: f32,
        floor: f32,
        seed: u32,
    },
}

impl Pattern {
    /// The texture value at `uv`.
    pub fn value(&self, uv: [f32; 2]) -> f32 {
        match *self {
            Pattern::Plain => 1.0,
            Pattern::Checker { period, dark } => {
                let cell = (uv[0] / period).floor() as i64 + (uv[1] / period).floor() as i64;
                if cell.rem_euclid(2) == 0 {
                    1.0
                } else {
                    dark
                }
            }
            Pattern::Noise {
                frequency,
                floor,
                seed,
            } => {
                let coarse = value_noise(uv[0] * frequency, uv[1] * frequency, seed);
                let fine = value_noise(2.0 * uv[0] * frequency, 2.0 * uv[1] * frequency, !seed);
                floor + (1.0 - floor) * (0.65 * coarse + 0.35 * fine)
            }
        }
    }
}

/// A hash of a lattice point to `[0, 1]`.
fn lattice(x: i64, y: i64, seed: u32) -> f32 {
    let mut h = (x as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ (y as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F)
        ^ u64::from(seed).wrapping_mul(0x1656_67B1_9E37_79F9);
    h ^= h >> 31;
    h = h.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    h ^= h >> 29;
    (h >> 40) as f32 / (1u64 << 24) as f32
}

/// Smoothly interpolated lattice noise in `[0, 1]`.
fn value_noise(x: f32, y: f32, seed: u32) -> f32 {
    let (x0, y0) = (x.floor(), y.floor());
    let smooth = |t: f32| t * t * (3.0 - 2.0 * t);
    let (sx, sy) = (smooth(x - x0), smooth(y - y0));
    let (i, j) = (x0 as i64, y0 as i64);
    let top = lattice(i, j, seed) * (1.0 - sx) + lattice(i + 1, j, seed) * sx;
    let bottom = lattice(i, j + 1, seed) * (1.0 - sx) + lattice(i + 1, j + 1, seed) * sx;
    top * (1.0 - sy) + bottom * sy
}

/// Triangles sharing one pattern.
#[derive(Clone, Debug)]
pub struct Surface {
    /// Vertices.
    pub vertices: Vec<Vertex>,
    /// Vertex indices, three per triangle.
    pub triangles: Vec<[usize; 3]>,
    /// Texture applied to the whole surface.
    pub pattern: Pattern,
}

/// A directional light with an ambient term.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Light {
    /// Direction the light travels (world, unit length).
    pub direction: Vec3,
    /// Fraction of light that reaches every surface regardless of orientation.
    pub ambient: f32,
}

/// Everything drawn in a frame.
#[derive(Clone, Debug)]
pub struct Scene {
    /// Surfaces.
    pub surfaces: Vec<Surface>,
    /// The light.
    pub light: Light,
    /// Colour of pixels that no triangle covers.
    pub background: [f32; 3],
}

/// A rendered image.
#[derive(Clone, Debug, PartialEq)]
pub struct Frame {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// Row-major RGB, `height * width * 3` values in `[0, 1]`.
    pub rgb: Vec<f32>,
    /// Camera-space depth per pixel (`f32::INFINITY` where nothing was drawn).
    pub depth: Vec<f32>,
}

impl Frame {
    /// The box-filtered image `factor` times coarser (supersampling anti-aliasing).
    pub fn downsample(&self, factor: usize) -> Frame {
        let (width, height) = (self.width / factor, self.height / factor);
        let mut rgb = vec![0.0; width * height * 3];
        let mut depth = vec![f32::INFINITY; width * height];
        let weight = 1.0 / (factor * factor) as f32;
        for row in 0..height {
            for column in 0..width {
                let out = row * width + column;
                for dy in 0..factor {
                    for dx in 0..factor {
                        let source = (row * factor + dy) * self.width + column * factor + dx;
                        for channel in 0..3 {
                            rgb[out * 3 + channel] += weight * self.rgb[source * 3 + channel];
                        }
                        depth[out] = depth[out].min(self.depth[source]);
                    }
                }
            }
        }
        Frame {
            width,
            height,
            rgb,
            depth,
        }
    }

    /// The image as 8-bit RGB.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.rgb
            .iter()
            .map(|&v| (v.clamp(0.0, 1.0) * 255.0).round() as u8)
            .collect()
    }
}

/// A clipped, camera-space vertex: position and the attributes to interpolate.
#[derive(Clone, Copy, Debug)]
struct ClipVertex {
    position: Vec3,
    attributes: [f32; 5],
}

impl ClipVertex {
    fn lerp(&self, other: &ClipVertex, t: f64) -> ClipVertex {
        let mut attributes = [0.0; 5];
        for (i, value) in attributes.iter_mut().enumerate() {
            *value = self.attributes[i] + t as f32 * (other.attributes[i] - self.attributes[i]);
        }
        let p = self.position;
        let q = other.position;
        ClipVertex {
            position: [
                p[0] + t * (q[0] - p[0]),
                p[1] + t * (q[1] - p[1]),
                p[2] + t * (q[2] - p[2]),
            ],
            attributes,
        }
    }
}

/// The polygon (0, 3 or 4 vertices) of a triangle that lies at depth `>= NEAR`.
fn clip_near(triangle: [ClipVertex; 3]) -> Vec<ClipVertex> {
    let mut out = Vec::with_capacity(4);
    for i in 0..3 {
        let current = triangle[i];
        let next = triangle[(i + 1) % 3];
        let (dc, dn) = (current.position[2] - NEAR, next.position[2] - NEAR);
        if dc >= 0.0 {
            out.push(current);
        }
        if (dc >= 0.0) != (dn >= 0.0) {
            out.push(current.lerp(&next, dc / (dc - dn)));
        }
    }
    out
}

/// Renders `scene` seen by a camera at `pose` with `intrinsics`.
pub fn render(scene: &Scene, pose: &Pose, intrinsics: &Intrinsics) -> Frame {
    let (width, height) = (intrinsics.width, intrinsics.height);
    let mut frame = Frame {
        width,
        height,
        rgb: scene.background.repeat(width * height),
        depth: vec![f32::INFINITY; width * height],
    };
    let world_to_camera = pose.inverse();
    let towards_light = scene.light.direction.map(|x| -x);

    for surface in &scene.surfaces {
        let camera_points: Vec<Vec3> = surface
            .vertices
            .iter()
            .map(|v| world_to_camera.apply(v.position))
            .collect();
        for &[i, j, k] in &surface.triangles {
            let [a, b, c] = [i, j, k].map(|index| surface.vertices[index].position);
            let mut normal = normalize(cross(sub(b, a), sub(c, a)));
            if dot(normal, sub(pose.translation, a)) < 0.0 {
                normal = normal.map(|x| -x);
            }
            let diffuse = dot(normal, towards_light).max(0.0) as f32;
            let shade = scene.light.ambient + (1.0 - scene.light.ambient) * diffuse;

            let corners = [i, j, k].map(|index| {
                let vertex = &surface.vertices[index];
                ClipVertex {
                    position: camera_points[index],
                    attributes: [
                        vertex.colour[0],
                        vertex.colour[1],
                        vertex.colour[2],
                        vertex.uv[0],
                        vertex.uv[1],
                    ],
                }
            });
            let polygon = clip_near(corners);
            for fan in 1..polygon.len().saturating_sub(1) {
                let triangle = [polygon[0], polygon[fan], polygon[fan + 1]];
                fill(&mut frame, intrinsics, &triangle, surface.pattern, shade);
            }
        }
    }
    frame
}

/// Fills one clipped triangle into the frame with the z-test.
fn fill(
    frame: &mut Frame,
    intrinsics: &Intrinsics,
    triangle: &[ClipVertex; 3],
    pattern: Pattern,
    shade: f32,
) {
    let screen = triangle.map(|v| {
        intrinsics
            .project(v.position)
            .expect("clipped to z >= NEAR")
    });
    let twice_area = edge(screen[0], screen[1], screen[2]);
    if twice_area.abs() < f64::EPSILON {
        return;
    }
    let inverse_depth = triangle.map(|v| 1.0 / v.position[2]);

    let min_x = screen.iter().map(|p| p[0]).fold(f64::INFINITY, f64::min);
    let max_x = screen
        .iter()
        .map(|p| p[0])
        .fold(f64::NEG_INFINITY, f64::max);
    let min_y = screen.iter().map(|p| p[1]).fold(f64::INFINITY, f64::min);
    let max_y = screen
        .iter()
        .map(|p| p[1])
        .fold(f64::NEG_INFINITY, f64::max);
    let first_column = (min_x - 0.5).ceil().max(0.0) as usize;
    let last_column = ((max_x - 0.5).floor()).min(frame.width as f64 - 1.0);
    let first_row = (min_y - 0.5).ceil().max(0.0) as usize;
    let last_row = ((max_y - 0.5).floor()).min(frame.height as f64 - 1.0);
    if last_column < 0.0 || last_row < 0.0 {
        return;
    }

    for row in first_row..=last_row as usize {
        for column in first_column..=last_column as usize {
            let p = [column as f64 + 0.5, row as f64 + 0.5];
            let weights = [
                edge(screen[1], screen[2], p) / twice_area,
                edge(screen[2], screen[0], p) / twice_area,
                edge(screen[0], screen[1], p) / twice_area,
            ];
            if weights.iter().any(|&w| w < 0.0) {
                continue;
            }
            let inverse: f64 = (0..3).map(|v| weights[v] * inverse_depth[v]).sum();
            let depth = (1.0 / inverse) as f32;
            let pixel = row * frame.width + column;
            if depth >= frame.depth[pixel] {
                continue;
            }
            frame.depth[pixel] = depth;

            let mut attributes = [0.0f32; 5];
            for (a, value) in attributes.iter_mut().enumerate() {
                let sum: f64 = (0..3)
                    .map(|v| weights[v] * inverse_depth[v] * f64::from(triangle[v].attributes[a]))
                    .sum();
                *value = (sum / inverse) as f32;
            }
            let albedo = pattern.value([attributes[3], attributes[4]]);
            let out = &mut frame.rgb[pixel * 3..pixel * 3 + 3];
            for (value, colour) in out.iter_mut().zip(&attributes[..3]) {
                *value = colour * albedo * shade;
            }
        }
    }
}

/// Twice the signed area of `(a, b, p)`.
fn edge(a: [f64; 2], b: [f64; 2], p: [f64; 2]) -> f64 {
    (b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Colours pass through 8-bit-free `f32` arithmetic; this bounds the rounding.
    const COLOUR_TOLERANCE: f32 = 1e-4;

    fn flat_light() -> Light {
        Light {
            direction: [0.0, 0.0, 1.0],
            ambient: 1.0,
        }
    }

    fn triangle(corners: [Vec3; 3], colour: [[f32; 3]; 3]) -> Surface {
        Surface {
            vertices: (0..3)
                .map(|i| Vertex {
                    position: corners[i],
                    colour: colour[i],
                    uv: [0.0, 0.0],
                })
                .collect(),
            triangles: vec![[0, 1, 2]],
            pattern: Pattern::Plain,
        }
    }

    fn pixel(frame: &Frame, column: usize, row: usize) -> [f32; 3] {
        let at = (row * frame.width + column) * 3;
        [frame.rgb[at], frame.rgb[at + 1], frame.rgb[at + 2]]
    }

    #[test]
    fn a_projected_point_lands_on_its_pixel() {
        // Camera at the origin looking along +z; f = 32 on 64 x 64, so (0.5, -0.25, 2)
        // projects to (40, 28): the corner shared by pixels (39..40, 27..28).
        let intrinsics = Intrinsics::from_fov(90.0, 64, 64);
        let centre = [0.5 + 0.5 * 2.0 / 32.0, -0.25 + 0.5 * 2.0 / 32.0, 2.0];
        let small = 0.02;
        let red = [1.0, 0.0, 0.0];
        let scene = Scene {
            surfaces: vec![triangle(
                [
                    [centre[0] - small, centre[1] - small, 2.0],
                    [centre[0] + small, centre[1] - small, 2.0],
                    [centre[0], centre[1] + small, 2.0],
                ],
                [red; 3],
            )],
            light: flat_light(),
            background: [0.0; 3],
        };
        let frame = render(&scene, &Pose::IDENTITY, &intrinsics);
        assert_eq!(
            pixel(&frame, 40, 28),
            red,
            "the centre pixel (40, 28) is covered"
        );
        let covered = frame.rgb.chunks(3).filter(|c| c[0] > 0.0).count();
        assert_eq!(covered, 1, "only that pixel is covered");
        assert!((frame.depth[28 * 64 + 40] - 2.0).abs() < 1e-6);
    }

    #[test]
    fn the_z_buffer_keeps_the_nearer_triangle_in_either_order() {
        let intrinsics = Intrinsics::from_fov(60.0, 16, 16);
        let big = |z: f64, colour: [f32; 3]| {
            triangle(
                [[-3.0, -3.0, z], [3.0, -3.0, z], [0.0, 3.0, z]],
                [colour; 3],
            )
        };
        let near = big(2.0, [1.0, 0.0, 0.0]);
        let far = big(3.0, [0.0, 0.0, 1.0]);
        for surfaces in [vec![near.clone(), far.clone()], vec![far, near]] {
            let scene = Scene {
                surfaces,
                light: flat_light(),
                background: [0.0; 3],
            };
            let frame = render(&scene, &Pose::IDENTITY, &intrinsics);
            assert_eq!(pixel(&frame, 8, 8), [1.0, 0.0, 0.0]);
        }
    }

    #[test]
    fn interpolation_is_perspective_correct() {
        // A triangle slanted in depth whose red channel equals the world x coordinate: at every
        // covered pixel the rendered red must be the x of the point where that pixel's ray
        // meets the triangle's plane, not the screen-space average.
        let intrinsics = Intrinsics::from_fov(90.0, 32, 32);
        let corners = [[-1.0, -1.0, 1.0], [1.0, -1.0, 4.0], [0.0, 1.5, 2.5]];
        let colours = corners.map(|c| [(c[0] as f32 + 1.0) / 2.0, 0.0, 0.0]);
        let scene = Scene {
            surfaces: vec![triangle(corners, colours)],
            light: flat_light(),
            background: [0.0; 3],
        };
        let frame = render(&scene, &Pose::IDENTITY, &intrinsics);
        let normal = cross(sub(corners[1], corners[0]), sub(corners[2], corners[0]));
        let offset = dot(normal, corners[0]);
        let [cx, cy] = intrinsics.centre();
        let mut checked = 0;
        for row in 0..32 {
            for column in 0..32 {
                let pixel_depth = frame.depth[row * 32 + column];
                if !pixel_depth.is_finite() {
                    continue;
                }
                let ray = [
                    (column as f64 + 0.5 - cx) / intrinsics.focal,
                    (row as f64 + 0.5 - cy) / intrinsics.focal,
                    1.0,
                ];
                let t = offset / dot(normal, ray);
                let expected = ((t * ray[0]) as f32 + 1.0) / 2.0;
                let got = pixel(&frame, column, row)[0];
                assert!(
                    (got - expected).abs() < COLOUR_TOLERANCE,
                    "{got} vs {expected}"
                );
                assert!((pixel_depth - t as f32).abs() < 1e-4);
                checked += 1;
            }
        }
        assert!(checked > 50, "the triangle covers many pixels ({checked})");
    }

    #[test]
    fn triangles_crossing_the_near_plane_are_clipped_not_dropped() {
        let intrinsics = Intrinsics::from_fov(90.0, 16, 16);
        let floor = triangle(
            [[-5.0, 1.0, -2.0], [5.0, 1.0, -2.0], [0.0, 1.0, 20.0]],
            [[0.0, 1.0, 0.0]; 3],
        );
        let scene = Scene {
            surfaces: vec![floor],
            light: flat_light(),
            background: [0.0; 3],
        };
        let frame = render(&scene, &Pose::IDENTITY, &intrinsics);
        assert_eq!(
            pixel(&frame, 8, 15),
            [0.0, 1.0, 0.0],
            "the floor fills the bottom rows"
        );
        assert_eq!(pixel(&frame, 8, 0), [0.0; 3], "and not the top ones");
    }
}
