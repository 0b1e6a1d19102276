//! Hand-written CPU kernels for the measured hot spots of a training step: the 3x3 and 1x1
//! convolutions and the spatial layer norm followed by SiLU. Each is one autodiff operation on
//! burn's CPU backend and falls back to burn's generic operations on every other backend.
//!
//! [`use_generic`] routes every call to the generic operations instead, to measure what the
//! kernels give (`niso bench step --generic-kernels`) or to rule them out when debugging.

use std::sync::atomic::{AtomicBool, Ordering};

use burn::backend::flex::FlexTensor;
use burn::backend::{
    Autodiff, Backend, BackendTypes, DispatchKindConversion, DispatchTensor, Flex,
};
use burn::tensor::{BackendPrimitive, Float, Tensor, TensorData};

pub mod conv;
pub mod norm;

pub use conv::conv_same;
pub use norm::layer_norm_silu;

/// Whether the kernels are bypassed for burn's generic operations (process-wide).
static GENERIC_ONLY: AtomicBool = AtomicBool::new(false);

/// Routes every kernel of this module to burn's generic operations (`true`) or back (`false`).
pub fn use_generic(generic: bool) {
    GENERIC_ONLY.store(generic, Ordering::Relaxed);
}

/// Whether the hand-written kernels may run (see [`use_generic`]).
pub fn enabled() -> bool {
    !GENERIC_ONLY.load(Ordering::Relaxed)
}

/// The CPU backend with gradient tracking, as the dispatch layer builds it by default.
type TrackedFlex = Autodiff<Flex>;

/// A float tensor of [`TrackedFlex`]: a CPU tensor with its autodiff node.
type Tracked = <TrackedFlex as BackendTypes>::FloatTensorPrimitive;

/// The primitives of three float tensors on backend `B`, or `None` unless all three live there.
fn primitives<B, const A: usize, const W: usize, const C: usize>(
    a: &Tensor<A>,
    b: &Tensor<W>,
    c: &Tensor<C>,
) -> Option<[B::FloatTensorPrimitive; 3]>
where
    B: Backend,
    Float: BackendPrimitive<B, Primitive = B::FloatTensorPrimitive>,
    DispatchTensor: DispatchKindConversion<B>,
{
    Some([
        a.clone().try_into_primitive::<B>().ok()?,
        b.clone().try_into_primitive::<B>().ok()?,
        c.clone().try_into_primitive::<B>().ok()?,
    ])
}

/// Contiguous copies (or views) of three untracked CPU tensors, or `None` unless all three are.
fn contiguous_cpu<const A: usize, const W: usize, const C: usize>(
    a: &Tensor<A>,
    b: &Tensor<W>,
    c: &Tensor<C>,
) -> Option<[FlexTensor; 3]> {
    primitives::<Flex, A, W, C>(a, b, c).map(|tensors| tensors.map(|t| t.to_contiguous()))
}

/// The values of a contiguous f32 CPU tensor (the kernels check the float type before).
fn host(tensor: &FlexTensor) -> &[f32] {
    tensor
        .as_slice::<f32>()
        .expect("kernels: a contiguous f32 CPU tensor")
}

/// A contiguous CPU tensor of `dims` holding `values`.
fn flex(values: Vec<f32>, dims: &[usize]) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, dims.to_vec()))
}

/// Lanes of the partial sums of [`lane_sum`]: independent accumulators that the compiler keeps
/// in one vector register.
const LANES: usize = 8;

/// `sum f(v)` over `values`, accumulated in [`LANES`] independent f32 partial sums.
#[inline(always)]
fn lane_sum(values: &[f32], f: impl Fn(f32) -> f32) -> f64 {
    let mut lanes = [0.0f32; LANES];
    let chunks = values.chunks_exact(LANES);
    let tail: f32 = chunks.remainder().iter().map(|&v| f(v)).sum();
    for chunk in chunks {
        for (lane, &v) in lanes.iter_mut().zip(chunk) {
            *lane += f(v);
        }
    }
    lanes.iter().map(|&v| v as f64).sum::<f64>() + tail as f64
}
