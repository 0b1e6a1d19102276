//! Parameter ids derived from module paths.
//!
//! burn keys the optimiser state by parameter id, and a freshly built model gets random ids. To
//! resume a run in a new process, every parameter is given the id of its path in the module tree
//! (an FNV-1a hash of e.g. `operator.basis`), so the same architecture always has the same ids.

use burn::module::{Module, ModuleMapper, Param, ParamId};
use burn::tensor::Tensor;

/// Replaces every float parameter's id by the hash of its module path.
#[derive(Default)]
struct PathIds {
    path: Vec<String>,
}

impl ModuleMapper for PathIds {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let (_, value, mapper) = param.consume();
        let id = ParamId::from(fnv1a(&self.path.join(".")));
        Param::from_mapped_value(id, value, mapper)
    }
}

/// 64-bit FNV-1a: a fixed, platform-independent string hash.
fn fnv1a(text: &str) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    text.bytes().fold(OFFSET, |hash, byte| {
        (hash ^ byte as u64).wrapping_mul(PRIME)
    })
}

/// The module with path-derived parameter ids.
pub fn with_stable_ids<M: Module>(module: M) -> M {
    module.map(&mut PathIds::default())
}
