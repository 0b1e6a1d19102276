//! Choosing where tensors live: the CPU (burn's `flex` backend) or a GPU (`vulkan` feature).

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The compute device of a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceKind {
    /// The pure-Rust multithreaded CPU backend.
    #[default]
    Cpu,
    /// A GPU through Vulkan (build with `--features vulkan`).
    Gpu,
}

impl std::str::FromStr for DeviceKind {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        match text {
            "cpu" => Ok(DeviceKind::Cpu),
            "gpu" => Ok(DeviceKind::Gpu),
            other => Err(Error::config(
                "device",
                format!("expected `cpu` or `gpu`, got `{other}`"),
            )),
        }
    }
}

impl DeviceKind {
    /// The device without gradient tracking (evaluation, data).
    pub fn plain(self) -> Result<Device> {
        match self {
            DeviceKind::Cpu => {
                flush_subnormals();
                Ok(Device::flex())
            }
            DeviceKind::Gpu => gpu(),
        }
    }

    /// The device with gradient tracking (training).
    pub fn autodiff(self) -> Result<Device> {
        Ok(self.plain()?.autodiff())
    }
}

/// Makes the calling thread and every thread of rayon's global pool (which runs the CPU
/// backend's kernels) flush subnormal floats to zero: once per calling thread, since the flags
/// are per thread, and once per process for the pool.
///
/// Subnormal operands cost x86 cores a microcode assist of about a hundred cycles each. They
/// appear in training: the masked Procrustes solve multiplies by `exp(-|Lambda_i - Lambda_j|)`,
/// which underflows through the subnormal range for distant eigenvalues, and the small entries
/// it leaves in `tau` flow into every later product. On the torus Laplacian run this doubled the
/// step time once the mask had sharpened. Flushing them (FTZ and DAZ, as XLA does on CPUs)
/// changes only values below `1.2e-38` in `f32`. On other architectures this does nothing.
pub fn flush_subnormals() {
    thread_local! {
        static THIS_THREAD_FLUSHED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }
    static POOL: std::sync::Once = std::sync::Once::new();

    if !THIS_THREAD_FLUSHED.replace(true) {
        set_flush_to_zero();
    }
    POOL.call_once(|| {
        rayon::broadcast(|_| set_flush_to_zero());
    });
}

#[cfg(target_arch = "x86_64")]
#[allow(deprecated)] // `_mm_setcsr` is the documented way to set these two MXCSR bits.
fn set_flush_to_zero() {
    use std::arch::x86_64::{_mm_getcsr, _mm_setcsr};

    /// MXCSR bits: flush-to-zero (results) and denormals-are-zero (operands).
    const FTZ_DAZ: u32 = 0x8000 | 0x0040;

    // SAFETY: only the two subnormal-handling bits of this thread's MXCSR change; SSE is part
    // of the x86_64 baseline.
    unsafe { _mm_setcsr(_mm_getcsr() | FTZ_DAZ) };
}

#[cfg(not(target_arch = "x86_64"))]
fn set_flush_to_zero() {}

#[cfg(feature = "vulkan")]
fn gpu() -> Result<Device> {
    Ok(Device::vulkan(Default::default()))
}

#[cfg(not(feature = "vulkan"))]
fn gpu() -> Result<Device> {
    Err(Error::config(
        "device",
        "this binary was built without GPU support; rebuild with `cargo build --release \
         --features vulkan`",
    ))
}

#[cfg(test)]
mod tests {
    use std::hint::black_box;

    /// `1e-30 * 1e-10 = 1e-40` lies in the subnormal range of `f32`.
    fn subnormal_product() -> f32 {
        black_box(1e-30f32) * black_box(1e-10f32)
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn flushing_zeroes_subnormal_products_here_and_on_the_pool() {
        super::flush_subnormals();

        assert_eq!(subnormal_product(), 0.0);
        let pool = rayon::broadcast(|_| subnormal_product());
        assert!(pool.iter().all(|&p| p == 0.0), "{pool:?}");
        // Normal numbers are untouched.
        assert!(black_box(1e-20f32) * black_box(1e-10f32) > 0.0);
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn every_calling_thread_is_flushed_not_only_the_first() {
        super::flush_subnormals();

        let other = std::thread::spawn(|| {
            super::flush_subnormals();
            subnormal_product()
        });
        assert_eq!(other.join().unwrap(), 0.0);
    }
}
