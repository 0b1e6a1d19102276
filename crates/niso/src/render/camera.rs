//! Rigid camera poses and pinhole intrinsics.
//!
//! A [`Pose`] is camera-to-world: a point `p_c` in camera coordinates sits at
//! `p_w = R p_c + t` in the world, so `t` is the camera centre and the columns of `R` are the
//! camera axes in world coordinates. Cameras follow the computer-vision convention: `x` right,
//! `y` down, `z` forward (the viewing direction).
//!
//! [`Intrinsics`] project a camera-space point to continuous pixel coordinates
//! `u = f x / z + c_x`, `v = f y / z + c_y`, with the principal point at the image centre; pixel
//! `(column, row)` covers `[column, column + 1) x [row, row + 1)`, so its centre is at
//! `(column + 0.5, row + 0.5)`.
//!
//! Relative poses: the pose of camera `j` seen from camera `i` is `T_ij = T_i^-1 T_j`, and
//! chaining `T_j = T_i T_ij` reproduces the trajectory.

use serde::{Deserialize, Serialize};

/// A 3-vector.
pub type Vec3 = [f64; 3];

/// A row-major 3 x 3 matrix.
pub type Mat3 = [[f64; 3]; 3];

/// `a + b`.
pub fn add(a: Vec3, b: Vec3) -> Vec3 {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2]]
}

/// `a - b`.
pub fn sub(a: Vec3, b: Vec3) -> Vec3 {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

/// `s a`.
pub fn scale(a: Vec3, s: f64) -> Vec3 {
    a.map(|x| s * x)
}

/// `<a, b>`.
pub fn dot(a: Vec3, b: Vec3) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

/// `a x b`.
pub fn cross(a: Vec3, b: Vec3) -> Vec3 {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

/// `|a|`.
pub fn norm(a: Vec3) -> f64 {
    dot(a, a).sqrt()
}

/// `a / |a|` (the zero vector stays zero).
pub fn normalize(a: Vec3) -> Vec3 {
    let length = norm(a);
    if length > 0.0 {
        scale(a, 1.0 / length)
    } else {
        a
    }
}

/// `A v`.
pub fn mat_vec(a: &Mat3, v: Vec3) -> Vec3 {
    [dot(a[0], v), dot(a[1], v), dot(a[2], v)]
}

/// `A B`.
pub fn mat_mul(a: &Mat3, b: &Mat3) -> Mat3 {
    let mut out = [[0.0; 3]; 3];
    for (i, row) in out.iter_mut().enumerate() {
        for (j, entry) in row.iter_mut().enumerate() {
            *entry = (0..3).map(|l| a[i][l] * b[l][j]).sum();
        }
    }
    out
}

/// `A^T`.
pub fn transpose(a: &Mat3) -> Mat3 {
    let mut out = [[0.0; 3]; 3];
    for (i, row) in a.iter().enumerate() {
        for (j, &entry) in row.iter().enumerate() {
            out[j][i] = entry;
        }
    }
    out
}

/// `det A`.
pub fn determinant(a: &Mat3) -> f64 {
    dot(a[0], cross(a[1], a[2]))
}

/// The matrix whose columns are `x`, `y`, `z`.
pub fn from_columns(x: Vec3, y: Vec3, z: Vec3) -> Mat3 {
    transpose(&[x, y, z])
}

/// The rotation angle of `R` in degrees, `acos((tr R - 1) / 2)`, clamped against rounding.
pub fn rotation_angle_degrees(r: &Mat3) -> f64 {
    let cosine = ((r[0][0] + r[1][1] + r[2][2] - 1.0) / 2.0).clamp(-1.0, 1.0);
    cosine.acos().to_degrees()
}

/// The angle between two vectors in degrees (0 when either is zero).
pub fn angle_between_degrees(a: Vec3, b: Vec3) -> f64 {
    let lengths = norm(a) * norm(b);
    if lengths == 0.0 {
        return 0.0;
    }
    (dot(a, b) / lengths).clamp(-1.0, 1.0).acos().to_degrees()
}

/// A camera-to-world rigid motion `p_w = rotation p_c + translation`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Pose {
    /// `R` in `SO(3)`; its columns are the camera axes in world coordinates.
    pub rotation: Mat3,
    /// `t`, the camera centre in world coordinates.
    pub translation: Vec3,
}

impl Pose {
    /// The identity.
    pub const IDENTITY: Pose = Pose {
        rotation: [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
        translation: [0.0; 3],
    };

    /// A camera at `eye` looking at `target`, with image rows pointing along `-up` as far as
    /// the viewing direction allows (no roll). `up` must not be parallel to `target - eye`.
    pub fn look_at(eye: Vec3, target: Vec3, up: Vec3) -> Pose {
        let forward = normalize(sub(target, eye));
        let right = normalize(cross(forward, up));
        let down = cross(forward, right);
        Pose {
            rotation: from_columns(right, down, forward),
            translation: eye,
        }
    }

    /// `self * other`: first `other`, then `self`.
    pub fn compose(&self, other: &Pose) -> Pose {
        Pose {
            rotation: mat_mul(&self.rotation, &other.rotation),
            translation: add(mat_vec(&self.rotation, other.translation), self.translation),
        }
    }

    /// `T^-1 = (R^T, -R^T t)`.
    pub fn inverse(&self) -> Pose {
        let rotation = transpose(&self.rotation);
        Pose {
            translation: scale(mat_vec(&rotation, self.translation), -1.0),
            rotation,
        }
    }

    /// The pose of `self` seen from `from`: `from^-1 * self`.
    pub fn relative_to(&self, from: &Pose) -> Pose {
        from.inverse().compose(self)
    }

    /// `R p + t`.
    pub fn apply(&self, point: Vec3) -> Vec3 {
        add(mat_vec(&self.rotation, point), self.translation)
    }
}

/// A pinhole camera with square pixels and the principal point at the image centre.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Intrinsics {
    /// Focal length in pixels.
    pub focal: f64,
    /// Image width in pixels.
    pub width: usize,
    /// Image height in pixels.
    pub height: usize,
}

impl Intrinsics {
    /// Intrinsics with a horizontal field of view of `fov_degrees`.
    pub fn from_fov(fov_degrees: f64, width: usize, height: usize) -> Self {
        let focal = width as f64 / 2.0 / (fov_degrees.to_radians() / 2.0).tan();
        Intrinsics {
            focal,
            width,
            height,
        }
    }

    /// The same field of view on a grid `factor` times finer.
    pub fn scaled(&self, factor: usize) -> Self {
        Intrinsics {
            focal: self.focal * factor as f64,
            width: self.width * factor,
            height: self.height * factor,
        }
    }

    /// The principal point `(c_x, c_y)`.
    pub fn centre(&self) -> [f64; 2] {
        [self.width as f64 / 2.0, self.height as f64 / 2.0]
    }

    /// Continuous pixel coordinates `(u, v)` of a camera-space point in front of the camera.
    pub fn project(&self, point: Vec3) -> Option<[f64; 2]> {
        if point[2] <= 0.0 {
            return None;
        }
        let [cx, cy] = self.centre();
        Some([
            self.focal * point[0] / point[2] + cx,
            self.focal * point[1] / point[2] + cy,
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Round-off allowed in identities of a few 3 x 3 products.
    const TOLERANCE: f64 = 1e-12;

    fn close(a: &Mat3, b: &Mat3) -> bool {
        (0..3).all(|i| (0..3).all(|j| (a[i][j] - b[i][j]).abs() < TOLERANCE))
    }

    #[test]
    fn look_at_is_a_proper_rotation_facing_the_target() {
        let eye = [2.0, -1.0, 1.5];
        let target = [0.1, 0.2, 0.3];
        let pose = Pose::look_at(eye, target, [0.0, 0.0, 1.0]);
        let r = pose.rotation;
        let identity = Pose::IDENTITY.rotation;
        assert!(close(&mat_mul(&transpose(&r), &r), &identity), "R^T R != I");
        assert!((determinant(&r) - 1.0).abs() < TOLERANCE, "det R != 1");
        let in_camera = pose.inverse().apply(target);
        assert!(in_camera[0].abs() < TOLERANCE && in_camera[1].abs() < TOLERANCE);
        assert!(
            in_camera[2] > 0.0,
            "the target must be in front: {in_camera:?}"
        );
    }

    #[test]
    fn relative_poses_chain_back_into_the_trajectory() {
        let poses: Vec<Pose> = (0..6)
            .map(|i| {
                let angle = 0.3 * i as f64;
                let eye = [2.0 * angle.cos(), 2.0 * angle.sin(), 1.0 + 0.1 * i as f64];
                Pose::look_at(eye, [0.0, 0.1, 0.2], [0.0, 0.0, 1.0])
            })
            .collect();
        let mut chained = poses[0];
        for pair in poses.windows(2) {
            chained = chained.compose(&pair[1].relative_to(&pair[0]));
        }
        let last = poses[5];
        assert!(close(&chained.rotation, &last.rotation));
        assert!(norm(sub(chained.translation, last.translation)) < TOLERANCE);
    }

    #[test]
    fn projection_follows_the_pinhole_formula() {
        let intrinsics = Intrinsics::from_fov(90.0, 64, 64);
        assert!((intrinsics.focal - 32.0).abs() < TOLERANCE);
        let [u, v] = intrinsics.project([0.5, -0.25, 2.0]).expect("in front");
        assert!((u - 40.0).abs() < TOLERANCE && (v - 28.0).abs() < TOLERANCE);
        assert!(intrinsics.project([0.0, 0.0, -1.0]).is_none());
    }
}
