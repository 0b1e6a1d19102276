//! The images the shape networks see: the cached signature images average-pooled to the
//! network's grid, split into training and test instances per class, standardised per channel
//! with the training instances' statistics, and warped by random Möbius maps
//! ([`crate::transforms::mobius`]) on demand.

use burn::tensor::{Device, Tensor, TensorData};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use crate::data::shapes::ShapeSet;
use crate::experiments::shapes::ShapesConfig;
use crate::geometry::raster::EquirectGrid;
use crate::transforms::mobius::Mobius;

/// Standard deviations below this are treated as 1 when standardising a channel.
const MIN_CHANNEL_STD: f32 = 1e-6;

/// A shape instance: `(class, instance)`.
pub type Item = (usize, usize);

/// The network's images: pooled, standardised, with the split.
pub struct Prepared {
    /// `[classes, instances, channels, height, width]`.
    pub images: Vec<f32>,
    /// Input grid.
    pub grid: EquirectGrid,
    /// Channels.
    pub channels: usize,
    /// Instances per class.
    pub instances: usize,
    /// Training instances.
    pub train: Vec<Item>,
    /// Test instances.
    pub test: Vec<Item>,
    /// Largest Möbius shift.
    pub max_shift: f64,
}

impl Prepared {
    /// Pools, splits and standardises `set`.
    pub fn new(set: &ShapeSet, config: &ShapesConfig) -> Self {
        let factor = config.model.downsample;
        let grid = config.input_grid();
        let (source, channels) = (set.grid, set.channels);
        let mut images = Vec::with_capacity(set.images.len() / (factor * factor));
        for image in set.images.chunks(set.image_len()) {
            for plane in image.chunks(source.height * source.width) {
                for row in 0..grid.height {
                    for column in 0..grid.width {
                        let mut sum = 0.0;
                        for dr in 0..factor {
                            for dc in 0..factor {
                                let at = (row * factor + dr) * source.width + column * factor + dc;
                                sum += plane[at];
                            }
                        }
                        images.push(sum / (factor * factor) as f32);
                    }
                }
            }
        }

        let mut rng = StdRng::seed_from_u64(config.split.seed);
        let (mut train, mut test) = (Vec::new(), Vec::new());
        for class in 0..set.classes.len() {
            let mut order: Vec<usize> = (0..set.instances).collect();
            order.shuffle(&mut rng);
            let (first, rest) = order.split_at(config.split.train_per_class);
            train.extend(first.iter().map(|&i| (class, i)));
            test.extend(
                rest[..config.split.test_per_class]
                    .iter()
                    .map(|&i| (class, i)),
            );
        }
        let mut prepared = Prepared {
            images,
            grid,
            channels,
            instances: set.instances,
            train,
            test,
            max_shift: config.split.max_shift,
        };
        prepared.standardise();
        prepared
    }

    fn image_len(&self) -> usize {
        self.channels * self.grid.height * self.grid.width
    }

    /// The image of an item.
    pub fn image(&self, (class, instance): Item) -> &[f32] {
        let start = (class * self.instances + instance) * self.image_len();
        &self.images[start..start + self.image_len()]
    }

    /// Subtracts the training mean of every channel and divides by its standard deviation.
    fn standardise(&mut self) {
        let plane = self.grid.height * self.grid.width;
        let mut moments = vec![(0.0f64, 0.0f64); self.channels];
        for &item in &self.train {
            for (channel, values) in self.image(item).chunks(plane).enumerate() {
                for &v in values {
                    moments[channel].0 += f64::from(v);
                    moments[channel].1 += f64::from(v) * f64::from(v);
                }
            }
        }
        let count = (self.train.len() * plane) as f64;
        let stats: Vec<(f32, f32)> = moments
            .iter()
            .map(|&(sum, squares)| {
                let mean = sum / count;
                let std = (squares / count - mean * mean).max(0.0).sqrt() as f32;
                (mean as f32, if std < MIN_CHANNEL_STD { 1.0 } else { std })
            })
            .collect();
        for image in self.images.chunks_mut(self.channels * plane) {
            for (channel, values) in image.chunks_mut(plane).enumerate() {
                let (mean, std) = stats[channel];
                values.iter_mut().for_each(|v| *v = (*v - mean) / std);
            }
        }
    }

    /// The image of `item` warped by a random Möbius map drawn from `rng`.
    pub fn warped(&self, item: Item, rng: &mut impl Rng) -> Vec<f32> {
        Mobius::random(rng, self.max_shift).warp_image(self.image(item), self.channels, &self.grid)
    }

    /// The `view`-th fixed warp of `item` (the same for every backbone).
    pub fn view(&self, item: Item, view: usize, seed: u64) -> Vec<f32> {
        let key = (item.0 as u64) << 40 | (item.1 as u64) << 20 | view as u64;
        self.warped(item, &mut StdRng::seed_from_u64(seed ^ key))
    }

    /// A `[batch, channels, height, width]` tensor from concatenated images.
    pub fn tensor(&self, values: Vec<f32>, device: &Device) -> Tensor<4> {
        let batch = values.len() / self.image_len();
        let shape = [batch, self.channels, self.grid.height, self.grid.width];
        Tensor::from_data(TensorData::new(values, shape), device)
    }

    /// The area weights of the input grid as `[1, 1, height, width]`.
    pub fn area_weights(&self, device: &Device) -> Tensor<4> {
        let shape = [1, 1, self.grid.height, self.grid.width];
        Tensor::from_data(TensorData::new(self.grid.area_weights(), shape), device)
    }

    /// `batch` random training items and, per view, their independently warped images.
    pub fn warped_batch(
        &self,
        batch: usize,
        views: usize,
        device: &Device,
        rng: &mut impl Rng,
    ) -> (Vec<Tensor<4>>, Vec<Item>) {
        let items: Vec<Item> = (0..batch)
            .map(|_| self.train[rng.random_range(0..self.train.len())])
            .collect();
        let mut values = vec![Vec::with_capacity(batch * self.image_len()); views];
        for &item in &items {
            for view in values.iter_mut() {
                view.extend(self.warped(item, rng));
            }
        }
        let tensors = values.into_iter().map(|v| self.tensor(v, device)).collect();
        (tensors, items)
    }
}
