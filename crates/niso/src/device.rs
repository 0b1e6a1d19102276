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
            DeviceKind::Cpu => Ok(Device::flex()),
            DeviceKind::Gpu => gpu(),
        }
    }

    /// The device with gradient tracking (training).
    pub fn autodiff(self) -> Result<Device> {
        Ok(self.plain()?.autodiff())
    }
}

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
