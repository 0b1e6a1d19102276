//! Trajectory scores: chaining relative poses, similarity alignment, absolute trajectory error.
//!
//! Predicted relative poses `T_(m, m+1)` are chained from the identity, `P_(m+1) = P_m T_(m, m+1)`;
//! the truth is expressed in the first camera's frame, `Q_m = T_0^-1 T_m`. The camera centres
//! `p_m` (of `P_m`) are aligned to the true centres `q_m` by the similarity
//! `q ~ s R p + t` that minimises `sum |q_m - s R p_m - t|^2` (Umeyama 1991): with the centred
//! cross-covariance `Sigma = (1/N) sum (q_m - mu_q)(p_m - mu_p)^T = U D V^T`,
//! `S = diag(1, 1, sign(det U det V))`, `R = U S V^T`, `s = tr(D S) / var(p)`,
//! `t = mu_q - s R mu_p`. The absolute trajectory error is the root mean square of the aligned
//! residuals.

use faer::Mat;

use crate::render::camera::{
    add, angle_between_degrees, mat_mul, mat_vec, norm, rotation_angle_degrees, scale, sub,
    transpose, Mat3, Vec3,
};
use crate::render::Pose;

/// Below this spread of the predicted centres the alignment has no scale to fit (all centres at
/// one point); the aligned trajectory is then the true centroid.
const DEGENERATE_VARIANCE: f64 = 1e-12;

/// A similarity transform `q = scale rotation p + translation`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Similarity {
    /// `s >= 0`.
    pub scale: f64,
    /// `R` in `SO(3)`.
    pub rotation: Mat3,
    /// `t`.
    pub translation: Vec3,
}

impl Similarity {
    /// `s R p + t`.
    pub fn apply(&self, point: Vec3) -> Vec3 {
        add(
            scale(mat_vec(&self.rotation, point), self.scale),
            self.translation,
        )
    }
}

/// The trajectory `P_0 = I, P_(m+1) = P_m T_(m, m+1)` of chained relative poses.
pub fn chain(relative: &[Pose]) -> Vec<Pose> {
    let mut poses = vec![Pose::IDENTITY];
    for step in relative {
        let last = *poses.last().expect("starts with the identity");
        poses.push(last.compose(step));
    }
    poses
}

/// The least-squares similarity taking `source` points onto `target` points (Umeyama).
pub fn umeyama(source: &[Vec3], target: &[Vec3]) -> Similarity {
    assert_eq!(
        source.len(),
        target.len(),
        "umeyama: one target per source point"
    );
    let count = source.len().max(1) as f64;
    let mean = |points: &[Vec3]| {
        points
            .iter()
            .fold([0.0; 3], |sum, &p| add(sum, scale(p, 1.0 / count)))
    };
    let (mu_p, mu_q) = (mean(source), mean(target));
    let mut covariance = [[0.0; 3]; 3];
    let mut variance = 0.0;
    for (&p, &q) in source.iter().zip(target) {
        let (dp, dq) = (sub(p, mu_p), sub(q, mu_q));
        for (i, row) in covariance.iter_mut().enumerate() {
            for (j, entry) in row.iter_mut().enumerate() {
                *entry += dq[i] * dp[j] / count;
            }
        }
        variance += (dp[0] * dp[0] + dp[1] * dp[1] + dp[2] * dp[2]) / count;
    }
    if variance < DEGENERATE_VARIANCE {
        return Similarity {
            scale: 0.0,
            rotation: Pose::IDENTITY.rotation,
            translation: mu_q,
        };
    }

    let matrix = Mat::from_fn(3, 3, |i, j| covariance[i][j]);
    let svd = matrix
        .thin_svd()
        .expect("a finite 3 x 3 matrix always has an SVD");
    let (u, v) = (svd.U(), svd.V());
    let singular = svd.S().column_vector();
    let sign = if u.determinant() * v.determinant() < 0.0 {
        -1.0
    } else {
        1.0
    };
    let flips = [1.0, 1.0, sign];
    let mut rotation = [[0.0; 3]; 3];
    for (i, row) in rotation.iter_mut().enumerate() {
        for (j, entry) in row.iter_mut().enumerate() {
            *entry = (0..3).map(|l| u[(i, l)] * flips[l] * v[(j, l)]).sum();
        }
    }
    let trace: f64 = (0..3).map(|l| singular[l] * flips[l]).sum();
    let scale_factor = trace / variance;
    Similarity {
        scale: scale_factor,
        rotation,
        translation: sub(mu_q, scale(mat_vec(&rotation, mu_p), scale_factor)),
    }
}

/// Scores of one predicted trajectory against the truth.
#[derive(Clone, Debug, PartialEq)]
pub struct TrajectoryScores {
    /// RMS distance of the aligned predicted centres from the true ones (scene units).
    pub ate: f64,
    /// Mean angle of `R_pred^T R_true` over the relative poses, degrees.
    pub rotation_error_deg: f64,
    /// Mean angle between predicted and true relative translations, degrees (NaN when a
    /// predicted translation is zero: it has no direction).
    pub translation_direction_error_deg: f64,
    /// The predicted centres after alignment.
    pub aligned: Vec<Vec3>,
    /// The true centres in the first camera's frame.
    pub truth: Vec<Vec3>,
}

/// Chains `predicted` relative poses and scores them against `truth` (absolute camera-to-world
/// poses of the same frames; `truth.len() == predicted.len() + 1`).
pub fn score_trajectory(predicted: &[Pose], truth: &[Pose]) -> TrajectoryScores {
    assert_eq!(
        truth.len(),
        predicted.len() + 1,
        "one relative pose per step"
    );
    let first = truth[0].inverse();
    let true_poses: Vec<Pose> = truth.iter().map(|t| first.compose(t)).collect();
    let chained = chain(predicted);
    let truth_centres: Vec<Vec3> = true_poses.iter().map(|p| p.translation).collect();
    let centres: Vec<Vec3> = chained.iter().map(|p| p.translation).collect();
    let alignment = umeyama(&centres, &truth_centres);
    let aligned: Vec<Vec3> = centres.iter().map(|&p| alignment.apply(p)).collect();
    let squared: f64 = aligned
        .iter()
        .zip(&truth_centres)
        .map(|(&p, &q)| {
            let d = sub(p, q);
            d[0] * d[0] + d[1] * d[1] + d[2] * d[2]
        })
        .sum();
    let ate = (squared / aligned.len() as f64).sqrt();

    let steps = predicted.len().max(1) as f64;
    let mut rotation_error = 0.0;
    let mut direction_error = 0.0;
    for (m, step) in predicted.iter().enumerate() {
        let true_step = truth[m + 1].relative_to(&truth[m]);
        let difference = mat_mul(&transpose(&step.rotation), &true_step.rotation);
        rotation_error += rotation_angle_degrees(&difference) / steps;
        direction_error += if norm(step.translation) > 0.0 {
            angle_between_degrees(step.translation, true_step.translation) / steps
        } else {
            f64::NAN
        };
    }
    TrajectoryScores {
        ate,
        rotation_error_deg: rotation_error,
        translation_direction_error_deg: direction_error,
        aligned,
        truth: truth_centres,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Round-off of a 3 x 3 SVD and a few products.
    const TOLERANCE: f64 = 1e-9;

    fn orbit() -> Vec<Pose> {
        (0..8)
            .map(|i| {
                let a = 0.2 * i as f64;
                let eye = [2.5 * a.cos(), 2.5 * a.sin(), 1.0 + 0.05 * i as f64];
                Pose::look_at(eye, [0.0, 0.0, 0.4], [0.0, 0.0, 1.0])
            })
            .collect()
    }

    #[test]
    fn umeyama_recovers_a_similarity() {
        let rotation = Pose::look_at([1.0, 2.0, 0.5], [0.0; 3], [0.0, 0.0, 1.0]).rotation;
        let truth = Similarity {
            scale: 1.7,
            rotation,
            translation: [0.3, -1.0, 2.0],
        };
        let source: Vec<Vec3> = orbit().iter().map(|p| p.translation).collect();
        let target: Vec<Vec3> = source.iter().map(|&p| truth.apply(p)).collect();
        let fitted = umeyama(&source, &target);
        assert!((fitted.scale - truth.scale).abs() < TOLERANCE);
        for (p, q) in source.iter().zip(&target) {
            let d = sub(fitted.apply(*p), *q);
            assert!(d.iter().all(|x| x.abs() < TOLERANCE));
        }
    }

    #[test]
    fn exact_relative_poses_score_zero_and_a_scaled_copy_too() {
        let truth = orbit();
        let exact: Vec<Pose> = truth.windows(2).map(|w| w[1].relative_to(&w[0])).collect();
        let scores = score_trajectory(&exact, &truth);
        assert!(scores.ate < TOLERANCE && scores.rotation_error_deg < 1e-5);
        assert!(scores.translation_direction_error_deg < 1e-5);

        let scaled: Vec<Pose> = exact
            .iter()
            .map(|p| Pose {
                rotation: p.rotation,
                translation: scale(p.translation, 3.0),
            })
            .collect();
        assert!(
            score_trajectory(&scaled, &truth).ate < TOLERANCE,
            "ATE ignores scale"
        );

        let frozen = vec![Pose::IDENTITY; exact.len()];
        assert!(
            score_trajectory(&frozen, &truth).ate > 0.1,
            "a still camera scores badly"
        );
    }
}
