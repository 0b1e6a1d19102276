//! Regressing relative camera poses: pair sampling, the 6D rotation map, the pose loss, and the
//! training and prediction loops shared by the pose head and the baselines.
//!
//! A regressor outputs 9 numbers per pair: two 3-vectors `a_1, a_2` turned into a rotation by
//! Gram-Schmidt, `b_1 = a_1 / |a_1|`, `b_2 = (a_2 - <b_1, a_2> b_1) / |...|`, `b_3 = b_1 x b_2`,
//! `R = [b_1 b_2 b_3]` (columns), and a translation `t`. The target of a pair of frames `(i, j)`
//! is the pose of camera `j` in camera `i`'s frame, `T_i^-1 T_j`. The loss is
//!
//! ```text
//! L = mean |R - R*|_F^2 + w mean |t / rms(t) - t* / rms(t*)|^2
//! ```
//!
//! where `rms` is taken over the batch: the translation term ignores a global scale, as in the
//! paper (sec. 5.4); trajectories are compared after a similarity alignment anyway.

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use rand::Rng;

use crate::data::scenes::{Sequences, CHANNELS};
use crate::error::Result;
use crate::render::Pose;
use crate::train::{StepLoss, Trainer};

/// Keeps norms away from zero in the rotation map and the translation scale.
const NORM_EPS: f64 = 1e-6;

/// Pairs predicted per call during evaluation.
const CHUNK: usize = 64;

/// Two frames of one sequence, `first` before `second`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FramePair {
    /// The sequence.
    pub sequence: usize,
    /// The earlier frame.
    pub first: usize,
    /// The later frame.
    pub second: usize,
}

impl FramePair {
    /// The true pose of `second` in the frame of `first`.
    pub fn relative_pose(&self, split: &Sequences) -> Pose {
        let poses = &split.poses[self.sequence];
        poses[self.second].relative_to(&poses[self.first])
    }
}

/// `count` random pairs `(i, i + skip + 1)` with `skip` uniform in `0..=max_skip`.
pub fn sample_pairs(
    split: &Sequences,
    count: usize,
    max_skip: usize,
    rng: &mut impl Rng,
) -> Vec<FramePair> {
    (0..count)
        .map(|_| {
            let gap = rng.random_range(0..=max_skip) + 1;
            let first = rng.random_range(0..split.frames - gap);
            FramePair {
                sequence: rng.random_range(0..split.count()),
                first,
                second: first + gap,
            }
        })
        .collect()
}

/// Frames as a `[batch, 3, side, side]` tensor with values in `[-1, 1]`.
pub fn frames_tensor(split: &Sequences, frames: &[(usize, usize)], device: &Device) -> Tensor<4> {
    let side = split.side;
    let plane = side * side;
    let mut values = vec![0.0f32; frames.len() * CHANNELS * plane];
    for (index, &(sequence, frame)) in frames.iter().enumerate() {
        let bytes = split.frame(sequence, frame);
        let out = &mut values[index * CHANNELS * plane..(index + 1) * CHANNELS * plane];
        for (pixel, rgb) in bytes.chunks(CHANNELS).enumerate() {
            for channel in 0..CHANNELS {
                out[channel * plane + pixel] = f32::from(rgb[channel]) / 127.5 - 1.0;
            }
        }
    }
    Tensor::from_data(
        TensorData::new(values, [frames.len(), CHANNELS, side, side]),
        device,
    )
}

/// The 9 outputs `[batch, 9]` as rotations `[batch, 3, 3]` (Gram-Schmidt) and translations
/// `[batch, 3]`.
pub fn pose_from_outputs(outputs: Tensor<2>) -> (Tensor<3>, Tensor<2>) {
    let unit = |v: Tensor<2>| {
        let length = v.clone().square().sum_dim(1).add_scalar(NORM_EPS).sqrt();
        v / length
    };
    let b1 = unit(outputs.clone().narrow(1, 0, 3));
    let a2 = outputs.clone().narrow(1, 3, 3);
    let projection = (b1.clone() * a2.clone()).sum_dim(1);
    let b2 = unit(a2 - b1.clone() * projection);
    let component = |v: &Tensor<2>, axis: usize| v.clone().narrow(1, axis, 1);
    let b3 = Tensor::cat(
        vec![
            component(&b1, 1) * component(&b2, 2) - component(&b1, 2) * component(&b2, 1),
            component(&b1, 2) * component(&b2, 0) - component(&b1, 0) * component(&b2, 2),
            component(&b1, 0) * component(&b2, 1) - component(&b1, 1) * component(&b2, 0),
        ],
        1,
    );
    let rotation = Tensor::stack(vec![b1, b2, b3], 2);
    (rotation, outputs.narrow(1, 6, 3))
}

/// The true relative poses of `pairs` as rotations `[batch, 3, 3]` and translations `[batch, 3]`.
fn targets(split: &Sequences, pairs: &[FramePair], device: &Device) -> (Tensor<3>, Tensor<2>) {
    let mut rotations = Vec::with_capacity(pairs.len() * 9);
    let mut translations = Vec::with_capacity(pairs.len() * 3);
    for pair in pairs {
        let pose = pair.relative_pose(split);
        rotations.extend(pose.rotation.iter().flatten().map(|&v| v as f32));
        translations.extend(pose.translation.iter().map(|&v| v as f32));
    }
    let batch = pairs.len();
    (
        Tensor::from_data(TensorData::new(rotations, [batch, 3, 3]), device),
        Tensor::from_data(TensorData::new(translations, [batch, 3]), device),
    )
}

/// Translations divided by their root mean square norm over the batch.
fn batch_normalised(t: Tensor<2>) -> Tensor<2> {
    let rms = t
        .clone()
        .square()
        .sum_dim(1)
        .mean()
        .add_scalar(NORM_EPS)
        .sqrt();
    let [batch, _] = t.dims();
    t / rms.reshape([1, 1]).expand([batch, 3])
}

/// The pose loss of a batch of outputs `[batch, 9]`.
pub fn pose_loss(
    outputs: Tensor<2>,
    split: &Sequences,
    pairs: &[FramePair],
    translation_weight: f64,
) -> StepLoss {
    let device = outputs.device();
    let (rotation, translation) = pose_from_outputs(outputs);
    let (true_rotation, true_translation) = targets(split, pairs, &device);
    let batch = pairs.len() as f64;
    let rotation_loss = (rotation - true_rotation).square().sum().div_scalar(batch);
    let translation_loss = (batch_normalised(translation) - batch_normalised(true_translation))
        .square()
        .sum()
        .div_scalar(batch);
    StepLoss {
        total: rotation_loss.clone() + translation_loss.clone().mul_scalar(translation_weight),
        terms: vec![
            ("rotation", rotation_loss),
            ("translation", translation_loss),
        ],
    }
}

/// What every regressor shares: where it trains and on which pairs.
pub struct RegressionSetup<'a> {
    /// The training phase (run folder, schedule, length, batch size).
    pub trainer: Trainer<'a>,
    /// Training sequences.
    pub split: &'a Sequences,
    /// Largest frame skip of the training pairs.
    pub max_skip: usize,
    /// Weight `w` of the translation term.
    pub translation_weight: f64,
}

impl RegressionSetup<'_> {
    /// Trains `model`, whose `predict` maps pairs to `[batch, 9]` outputs on a device.
    pub fn fit<M: Module>(
        &self,
        model: M,
        device: &Device,
        predict: impl Fn(&M, &[FramePair], &Device) -> Result<Tensor<2>>,
    ) -> Result<M> {
        let batch = self.trainer.run_config.batch_size;
        self.trainer.fit(model, |model, _, rng| {
            let pairs = sample_pairs(self.split, batch, self.max_skip, rng);
            let outputs = predict(model, &pairs, device)?;
            Ok(pose_loss(
                outputs,
                self.split,
                &pairs,
                self.translation_weight,
            ))
        })
    }
}

/// Predicted relative poses of `pairs`, in chunks, on `device`.
pub fn predict_poses<M>(
    model: &M,
    pairs: &[FramePair],
    device: &Device,
    predict: impl Fn(&M, &[FramePair], &Device) -> Result<Tensor<2>>,
) -> Result<Vec<Pose>> {
    let mut poses = Vec::with_capacity(pairs.len());
    for chunk in pairs.chunks(CHUNK) {
        let (rotation, translation) = pose_from_outputs(predict(model, chunk, device)?);
        let rotation = host(rotation.reshape([chunk.len(), 9]));
        let translation = host(translation);
        for index in 0..chunk.len() {
            let r = &rotation[index * 9..(index + 1) * 9];
            let t = &translation[index * 3..(index + 1) * 3];
            poses.push(Pose {
                rotation: [[r[0], r[1], r[2]], [r[3], r[4], r[5]], [r[6], r[7], r[8]]],
                translation: [t[0], t[1], t[2]],
            });
        }
    }
    Ok(poses)
}

/// The values of a tensor as `f64`, row major.
fn host(tensor: Tensor<2>) -> Vec<f64> {
    tensor
        .into_data()
        .convert::<f64>()
        .try_into_vec::<f64>()
        .expect("converted to f64")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::camera::{determinant, mat_mul, transpose};

    /// `f32` Gram-Schmidt on unit-scale inputs.
    const TOLERANCE: f64 = 1e-5;

    #[test]
    fn six_numbers_become_a_proper_rotation() {
        let device = Device::flex();
        let outputs = Tensor::<2>::from_data(
            TensorData::new(
                vec![
                    0.3f32, -1.2, 0.5, 0.9, 0.4, -0.7, 1.0, 2.0, 3.0, 2.0, 0.0, 0.0, 0.1, 3.0, 0.0,
                    0.0, 0.0, 0.0,
                ],
                [2, 9],
            ),
            &device,
        );
        let poses = predict_poses(
            &(),
            &[FramePair {
                sequence: 0,
                first: 0,
                second: 1,
            }; 2],
            &device,
            |_, _, _| Ok(outputs.clone()),
        )
        .expect("prediction");
        for pose in &poses {
            let r = pose.rotation;
            let product = mat_mul(&transpose(&r), &r);
            for (i, row) in product.iter().enumerate() {
                for (j, &value) in row.iter().enumerate() {
                    let expected = if i == j { 1.0 } else { 0.0 };
                    assert!((value - expected).abs() < TOLERANCE, "R^T R = {product:?}");
                }
            }
            assert!((determinant(&r) - 1.0).abs() < TOLERANCE);
        }
        let first_column = [0.3, -1.2, 0.5];
        let length = (0.09f64 + 1.44 + 0.25).sqrt();
        for (axis, &value) in first_column.iter().enumerate() {
            assert!((poses[0].rotation[axis][0] - value / length).abs() < TOLERANCE);
        }
        assert_eq!(poses[1].translation, [0.0; 3]);
        assert!((poses[0].translation[2] - 3.0).abs() < TOLERANCE);
    }
}
