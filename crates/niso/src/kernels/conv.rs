//! The convolutions of the networks: 3x3 (residual blocks) and 1x1 (dense layers), stride 1,
//! zero padding that keeps the image size, with hand-written CPU kernels for the forward pass
//! and all gradients.
//!
//! Every pass is one matrix product per image over an unfolded copy of the input ("im2col";
//! for a 1x1 kernel the image itself):
//!
//! ```text
//!     col[ci * 9 + 3 kh + kw, y * w + x] = input[ci, y + kh - 1, x + kw - 1]   (0 outside)
//!     forward:   out_b  = W · col(x_b) + bias  W: [c_out, 9 c_in]
//!     x-grad:    dx_b   = W' · col(dy_b)       W'[ci, co, kh, kw] = W[co, ci, 2 - kh, 2 - kw]
//!     w-grad:    dW     = sum_b dy_b · col(x_b)^T
//!     bias-grad: db[co] = sum_{b, y, x} dy[b, co, y, x]
//! ```
//!
//! The products run on faer, one image per rayon task with its own unfold buffer. On the CPU
//! backend [`conv_same`] runs these kernels (as one autodiff operation when gradients are
//! tracked); everywhere else (GPU, no bias, other float types or kernel sizes,
//! [`super::use_generic`]) it calls burn's generic `conv2d`, which computes the same function.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::Flex;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{DType, Tensor};
use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};
use rayon::prelude::*;

use super::{contiguous_cpu, flex, host, lane_sum, primitives, Tracked, TrackedFlex};

/// Sizes of one convolution over NCHW tensors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvShape {
    /// Images in the batch.
    pub batch: usize,
    /// Input channels.
    pub channels_in: usize,
    /// Output channels.
    pub channels_out: usize,
    /// Image height (rows).
    pub height: usize,
    /// Image width (columns).
    pub width: usize,
    /// Side of the square kernel: 1 or 3.
    pub kernel: usize,
}

impl ConvShape {
    /// Pixels per channel.
    fn pixels(&self) -> usize {
        self.height * self.width
    }

    /// Taps of the kernel, `kernel^2`.
    fn taps(&self) -> usize {
        self.kernel * self.kernel
    }

    /// Rows of the unfolded input, `taps c_in`.
    fn taps_in(&self) -> usize {
        self.taps() * self.channels_in
    }

    /// The same convolution with input and output channels swapped (the x-gradient's shape).
    fn transposed(&self) -> Self {
        Self {
            channels_in: self.channels_out,
            channels_out: self.channels_in,
            ..*self
        }
    }
}

/// `[batch, c_out, h, w]` from `[batch, c_in, h, w]`: a convolution with a square kernel of side 1
/// or 3, stride 1, and zero padding that keeps the size (0 or 1).
///
/// `weight` is `[c_out, c_in, k, k]`, `bias` `[c_out]`. Gradients flow to all three as with
/// burn's `conv2d`; on the CPU backend the hand-written kernels of this module compute them.
pub fn conv_same(x: Tensor<4>, weight: Tensor<4>, bias: Option<Tensor<1>>) -> Tensor<4> {
    let [channels_out, weight_in, kernel, kernel_w] = weight.dims();
    let pad = kernel / 2;
    let options = ConvOptions::new([1, 1], [pad, pad], [1, 1], 1);
    let Some(bias) = bias else {
        return conv2d(x, weight, None, options);
    };

    let [_, channels_in, _, _] = x.dims();
    let supported = super::enabled()
        && x.dtype() == DType::F32
        && weight_in == channels_in
        && kernel == kernel_w
        && (kernel == 1 || kernel == 3)
        && bias.dims() == [channels_out];
    if !supported {
        return conv2d(x, weight, Some(bias), options);
    }

    if let Some([x, weight, bias]) = primitives::<TrackedFlex, 4, 4, 1>(&x, &weight, &bias) {
        return Tensor::from_primitive::<TrackedFlex>(tracked_conv(x, weight, bias));
    }
    if let Some([x, weight, bias]) = contiguous_cpu(&x, &weight, &bias) {
        let shape = conv_shape(&x, &weight);
        let out = forward(host(&x), host(&weight), Some(host(&bias)), shape);
        let dims = [shape.batch, shape.channels_out, shape.height, shape.width];
        return Tensor::from_primitive::<Flex>(flex(out, &dims));
    }

    conv2d(x, weight, Some(bias), options)
}

/// The autodiff record of [`conv_same`]: keeps the input and the weight for the backward pass.
#[derive(Debug)]
struct ConvBackward;

impl Backward<Flex, 3> for ConvBackward {
    type State = (FlexTensor, FlexTensor, ConvShape);

    fn backward(
        self,
        ops: Ops<Self::State, 3>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let [node_x, node_weight, node_bias] = ops.parents;
        let grad = grads.consume::<Flex>(&ops.node).to_contiguous();
        let (x, weight, shape) = ops.state;
        let (dy, x, weight) = (host(&grad), host(&x), host(&weight));

        if let Some(node) = node_x {
            let dx = input_grad(dy, weight, shape);
            let dims = [shape.batch, shape.channels_in, shape.height, shape.width];
            grads.register::<Flex>(node.id, flex(dx, &dims));
        }
        if let Some(node) = node_weight {
            let dw = weight_grad(x, dy, shape);
            let dims = [
                shape.channels_out,
                shape.channels_in,
                shape.kernel,
                shape.kernel,
            ];
            grads.register::<Flex>(node.id, flex(dw, &dims));
        }
        if let Some(node) = node_bias {
            grads.register::<Flex>(node.id, flex(bias_grad(dy, shape), &[shape.channels_out]));
        }
    }
}

/// Forward pass on tracked CPU tensors, recording [`ConvBackward`].
fn tracked_conv(x: Tracked, weight: Tracked, bias: Tracked) -> Tracked {
    let x_host = x.primitive().to_contiguous();
    let weight_host = weight.primitive().to_contiguous();
    let bias_host = bias.primitive().to_contiguous();
    let shape = conv_shape(&x_host, &weight_host);

    let out = forward(
        host(&x_host),
        host(&weight_host),
        Some(host(&bias_host)),
        shape,
    );
    let out = flex(
        out,
        &[shape.batch, shape.channels_out, shape.height, shape.width],
    );

    match ConvBackward
        .prepare::<NoCheckpointing>([x.node(), weight.node(), bias.node()])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => prep.finish((x_host, weight_host, shape), out),
        OpsKind::UnTracked(prep) => prep.finish(out),
    }
}

/// The sizes of a convolution of `x` `[b, c_in, h, w]` with `weight` `[c_out, c_in, k, k]`.
fn conv_shape(x: &FlexTensor, weight: &FlexTensor) -> ConvShape {
    let x_dims = x.layout().shape();
    let w_dims = weight.layout().shape();
    ConvShape {
        batch: x_dims[0],
        channels_in: x_dims[1],
        channels_out: w_dims[0],
        height: x_dims[2],
        width: x_dims[3],
        kernel: w_dims[2],
    }
}

/// Unfolds one image `[c_in, h, w]` into `col`, `[9 c_in, h w]` row-major, for a 3x3 kernel (see
/// the module docs).
fn unfold(image: &[f32], channels: usize, height: usize, width: usize, col: &mut [f32]) {
    const TAPS: usize = 9;
    let pixels = height * width;
    for channel in 0..channels {
        let plane = &image[channel * pixels..(channel + 1) * pixels];
        for tap in 0..TAPS {
            let (kh, kw) = (tap / 3, tap % 3);
            let row =
                &mut col[(channel * TAPS + tap) * pixels..(channel * TAPS + tap + 1) * pixels];
            for y in 0..height {
                let out = &mut row[y * width..(y + 1) * width];
                let source_row = y + kh;
                if source_row == 0 || source_row > height {
                    out.fill(0.0);
                    continue;
                }
                let source = &plane[(source_row - 1) * width..source_row * width];
                match kw {
                    0 => {
                        out[0] = 0.0;
                        out[1..].copy_from_slice(&source[..width - 1]);
                    }
                    1 => out.copy_from_slice(source),
                    _ => {
                        out[..width - 1].copy_from_slice(&source[1..]);
                        out[width - 1] = 0.0;
                    }
                }
            }
        }
    }
}

/// `out_b = W · col(x_b) (+ bias)` for every image: the forward convolution.
///
/// `x` is `[batch, c_in, h, w]`, `weight` `[c_out, c_in, 3, 3]`; returns `[batch, c_out, h, w]`.
pub fn forward(x: &[f32], weight: &[f32], bias: Option<&[f32]>, shape: ConvShape) -> Vec<f32> {
    let pixels = shape.pixels();
    let taps_in = shape.taps_in();
    let mut out = vec![0.0f32; shape.batch * shape.channels_out * pixels];
    let weight = MatRef::from_row_major_slice(weight, shape.channels_out, taps_in);

    out.par_chunks_mut(shape.channels_out * pixels)
        .zip(x.par_chunks(shape.channels_in * pixels))
        .for_each_init(
            || vec![0.0f32; unfold_len(shape)],
            |col, (out, image)| {
                let col = unfolded(image, shape, col);
                let col = MatRef::from_row_major_slice(col, taps_in, pixels);
                let dst = MatMut::from_row_major_slice_mut(out, shape.channels_out, pixels);
                matmul(dst, Accum::Replace, weight, col, 1.0, Par::Seq);
                if let Some(bias) = bias {
                    for (plane, &b) in out.chunks_mut(pixels).zip(bias) {
                        plane.iter_mut().for_each(|v| *v += b);
                    }
                }
            },
        );
    out
}

/// Length of the unfold buffer of one image: none for a 1x1 kernel, which reads the image.
fn unfold_len(shape: ConvShape) -> usize {
    if shape.kernel == 1 {
        0
    } else {
        shape.taps_in() * shape.pixels()
    }
}

/// The unfolded image `[taps c_in, h w]`: the image itself for a 1x1 kernel, else `buffer`.
fn unfolded<'a>(image: &'a [f32], shape: ConvShape, buffer: &'a mut [f32]) -> &'a [f32] {
    if shape.kernel == 1 {
        return image;
    }
    unfold(image, shape.channels_in, shape.height, shape.width, buffer);
    buffer
}

/// `dx_b = W' · col(dy_b)`: the input gradient as a convolution with the flipped, transposed
/// kernel (see the module docs). Returns `[batch, c_in, h, w]`.
pub fn input_grad(dy: &[f32], weight: &[f32], shape: ConvShape) -> Vec<f32> {
    let flipped = flip_transpose(weight, shape);
    forward(dy, &flipped, None, shape.transposed())
}

/// `W'[ci, co, kh, kw] = W[co, ci, k - 1 - kh, k - 1 - kw]`.
fn flip_transpose(weight: &[f32], shape: ConvShape) -> Vec<f32> {
    let (taps, channels_out, channels_in) = (shape.taps(), shape.channels_out, shape.channels_in);
    let mut flipped = vec![0.0f32; weight.len()];
    for co in 0..channels_out {
        for ci in 0..channels_in {
            for tap in 0..taps {
                flipped[(ci * channels_out + co) * taps + (taps - 1 - tap)] =
                    weight[(co * channels_in + ci) * taps + tap];
            }
        }
    }
    flipped
}

/// `dW = sum_b dy_b · col(x_b)^T`, `[c_out, c_in, 3, 3]`.
pub fn weight_grad(x: &[f32], dy: &[f32], shape: ConvShape) -> Vec<f32> {
    let pixels = shape.pixels();
    let taps_in = shape.taps_in();
    let size = shape.channels_out * taps_in;

    (0..shape.batch)
        .into_par_iter()
        .fold(
            || (vec![0.0f32; size], vec![0.0f32; unfold_len(shape)]),
            |(mut acc, mut buffer), b| {
                let image =
                    &x[b * shape.channels_in * pixels..(b + 1) * shape.channels_in * pixels];
                let col = unfolded(image, shape, &mut buffer);
                let grad =
                    &dy[b * shape.channels_out * pixels..(b + 1) * shape.channels_out * pixels];
                let grad = MatRef::from_row_major_slice(grad, shape.channels_out, pixels);
                let col_t = MatRef::from_row_major_slice(col, taps_in, pixels).transpose();
                let dst = MatMut::from_row_major_slice_mut(&mut acc, shape.channels_out, taps_in);
                matmul(dst, Accum::Add, grad, col_t, 1.0, Par::Seq);
                (acc, buffer)
            },
        )
        .map(|(acc, _)| acc)
        .reduce(
            || vec![0.0f32; size],
            |mut a, b| {
                a.iter_mut().zip(&b).for_each(|(a, b)| *a += b);
                a
            },
        )
}

/// `db[co] = sum_{b, y, x} dy[b, co, y, x]`.
pub fn bias_grad(dy: &[f32], shape: ConvShape) -> Vec<f32> {
    let pixels = shape.pixels();
    let mut db = vec![0.0f64; shape.channels_out];
    for image in dy.chunks(shape.channels_out * pixels) {
        for (acc, plane) in db.iter_mut().zip(image.chunks(pixels)) {
            *acc += lane_sum(plane, |v| v);
        }
    }
    db.into_iter().map(|v| v as f32).collect()
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Device, Distribution, Tensor, Tolerance};

    use super::*;

    /// Random `[dims]` tensor on `device`.
    fn random<const D: usize>(dims: [usize; D], device: &Device) -> Tensor<D> {
        Tensor::random(dims, Distribution::Normal(0.0, 1.0), device)
    }

    /// burn's generic convolution with the same options, the reference of every test.
    fn reference(x: Tensor<4>, weight: Tensor<4>, bias: Tensor<1>) -> Tensor<4> {
        let pad = weight.dims()[2] / 2;
        conv2d(
            x,
            weight,
            Some(bias),
            ConvOptions::new([1, 1], [pad, pad], [1, 1], 1),
        )
    }

    #[test]
    fn unfold_places_each_tap_and_zero_pads() {
        // One 2 x 3 channel holding 1..=6: tap (kh, kw) reads pixel (y + kh - 1, x + kw - 1).
        let image: Vec<f32> = (1..=6).map(|v| v as f32).collect();
        let mut col = vec![f32::NAN; 9 * 6];
        unfold(&image, 1, 2, 3, &mut col);

        let centre = &col[4 * 6..5 * 6];
        assert_eq!(centre, &image[..]);
        let up_left = &col[0..6];
        assert_eq!(up_left, &[0.0, 0.0, 0.0, 0.0, 1.0, 2.0]);
        let down_right = &col[8 * 6..9 * 6];
        assert_eq!(down_right, &[5.0, 6.0, 0.0, 0.0, 0.0, 0.0]);
    }

    #[test]
    fn forward_matches_burn_conv2d_without_autodiff() {
        let device = Device::flex();
        for kernel in [1, 3] {
            let x = random([2, 3, 5, 6], &device);
            let weight = random([4, 3, kernel, kernel], &device);
            let bias = random([4], &device);

            let ours = conv_same(x.clone(), weight.clone(), Some(bias.clone()));
            let theirs = reference(x, weight, bias);
            ours.into_data()
                .assert_approx_eq::<f32>(&theirs.into_data(), Tolerance::absolute(1e-4));
        }
    }

    #[test]
    fn gradients_match_burn_conv2d() {
        let device = Device::flex().autodiff();
        for kernel in [1, 3] {
            let x = random([3, 4, 6, 5], &device).require_grad();
            let weight = random([5, 4, kernel, kernel], &device).require_grad();
            let bias = random([5], &device).require_grad();
            // A random linear functional of the output: every output entry has its own weight.
            let probe = random([3, 5, 6, 5], &device);

            let ours = conv_same(x.clone(), weight.clone(), Some(bias.clone()));
            let theirs = reference(x.clone(), weight.clone(), bias.clone());
            ours.clone()
                .into_data()
                .assert_approx_eq::<f32>(&theirs.clone().into_data(), Tolerance::absolute(1e-4));

            let ours = (ours * probe.clone()).sum().backward();
            let theirs = (theirs * probe).sum().backward();
            let tolerance = Tolerance::absolute(1e-3);
            for (ours, theirs) in [
                (x.grad(&ours), x.grad(&theirs)),
                (weight.grad(&ours), weight.grad(&theirs)),
            ] {
                let (ours, theirs) = (ours.expect("tracked"), theirs.expect("tracked"));
                ours.into_data()
                    .assert_approx_eq::<f32>(&theirs.into_data(), tolerance);
            }
            let (ours, theirs) = (bias.grad(&ours).unwrap(), bias.grad(&theirs).unwrap());
            ours.into_data()
                .assert_approx_eq::<f32>(&theirs.into_data(), tolerance);
        }
    }

    #[test]
    fn input_gradient_is_the_adjoint_of_the_forward_map() {
        // <conv(x), y> = <x, conv^T(y)> for the linear map without bias.
        for kernel in [1, 3] {
            let shape = ConvShape {
                batch: 2,
                channels_in: 3,
                channels_out: 2,
                height: 4,
                width: 7,
                kernel,
            };
            let values = |n: usize, seed: f32| -> Vec<f32> {
                (0..n).map(|i| (i as f32 * 0.37 + seed).sin()).collect()
            };
            let x = values(shape.batch * shape.channels_in * shape.pixels(), 0.1);
            let y = values(shape.batch * shape.channels_out * shape.pixels(), 0.7);
            let weight = values(shape.channels_out * shape.taps_in(), 1.3);

            let forward_x = forward(&x, &weight, None, shape);
            let adjoint_y = input_grad(&y, &weight, shape);
            let dot =
                |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(a, b)| (a * b) as f64).sum::<f64>();
            let (left, right) = (dot(&forward_x, &y), dot(&x, &adjoint_y));
            assert!(
                (left - right).abs() < 1e-4 * left.abs().max(1.0),
                "{left} vs {right}"
            );
        }
    }
}
