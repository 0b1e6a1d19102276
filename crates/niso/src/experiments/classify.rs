//! Training and scoring a classifier head on fixed features (frozen backbone).
//!
//! Features are computed once by the frozen backbone and kept on the host as `[count, k, d]`;
//! the head trains on random batches of them with cross-entropy.

use burn::module::Module;
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Int, Tensor, TensorData};
use rand::Rng;

use crate::error::Result;
use crate::train::StepLoss;

/// Host-side features `[count, rows, columns]` with one label each.
#[derive(Clone, Debug)]
pub struct Features {
    /// `count * rows * columns` values, row major.
    pub values: Vec<f32>,
    /// One class per example.
    pub labels: Vec<u8>,
    /// `[rows, columns]` of one example (`[k, d]` for spectral coefficients).
    pub shape: [usize; 2],
}

impl Features {
    /// Features of examples with these labels, to be filled batch by batch with
    /// [`Features::push`] in the same order.
    pub fn with_labels(labels: Vec<u8>) -> Self {
        Features {
            values: Vec::new(),
            labels,
            shape: [0, 0],
        }
    }

    /// Appends the features `[batch, rows, columns]` of the next examples.
    pub fn push(&mut self, batch: Tensor<3>) {
        let [_, rows, columns] = batch.dims();
        self.shape = [rows, columns];
        self.values.extend(
            batch
                .into_data()
                .convert::<f32>()
                .try_into_vec::<f32>()
                .expect("converted to f32"),
        );
    }

    /// Number of examples.
    pub fn count(&self) -> usize {
        self.labels.len()
    }

    /// The examples at `indices` as a `[batch, rows, columns]` tensor and their labels.
    pub fn batch(&self, indices: &[usize], device: &Device) -> (Tensor<3>, Tensor<1, Int>) {
        let size = self.shape[0] * self.shape[1];
        let mut values = Vec::with_capacity(indices.len() * size);
        let mut labels = Vec::with_capacity(indices.len());
        for &index in indices {
            values.extend_from_slice(&self.values[index * size..(index + 1) * size]);
            labels.push(self.labels[index] as i64);
        }
        let shape = [indices.len(), self.shape[0], self.shape[1]];
        (
            Tensor::from_data(TensorData::new(values, shape), device),
            Tensor::from_data(TensorData::new(labels, [indices.len()]), device),
        )
    }
}

/// Mean cross-entropy of `logits` `[batch, classes]` against integer `labels`.
pub fn cross_entropy(logits: Tensor<2>, labels: Tensor<1, Int>) -> Tensor<1> {
    let batch = labels.dims()[0];
    log_softmax(logits, 1)
        .gather(1, labels.reshape([batch, 1]))
        .mean()
        .neg()
}

/// The classification objective on a random batch of `features`.
pub fn classification_step<M: Module>(
    head: &M,
    forward: impl Fn(&M, Tensor<3>) -> Tensor<2>,
    features: &Features,
    batch_size: usize,
    device: &Device,
    rng: &mut impl Rng,
) -> Result<StepLoss> {
    let indices: Vec<usize> = (0..batch_size)
        .map(|_| rng.random_range(0..features.count()))
        .collect();
    let (inputs, labels) = features.batch(&indices, device);
    let loss = cross_entropy(forward(head, inputs), labels);
    Ok(StepLoss {
        total: loss.clone(),
        terms: vec![("cross_entropy", loss)],
    })
}

/// Fraction of `features` whose predicted class equals the label.
pub fn accuracy<M: Module>(
    head: &M,
    forward: impl Fn(&M, Tensor<3>) -> Tensor<2>,
    features: &Features,
    device: &Device,
) -> f64 {
    const CHUNK: usize = 256;
    let mut correct = 0usize;
    let all: Vec<usize> = (0..features.count()).collect();
    for chunk in all.chunks(CHUNK) {
        let (inputs, labels) = features.batch(chunk, device);
        let predicted = forward(head, inputs).argmax(1).reshape([chunk.len()]);
        let hits = predicted.equal(labels).int().sum();
        correct += hits
            .into_data()
            .convert::<i64>()
            .try_into_vec::<i64>()
            .expect("i64")[0] as usize;
    }
    correct as f64 / features.count().max(1) as f64
}
