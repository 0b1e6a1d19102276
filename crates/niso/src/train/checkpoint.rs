//! Atomic, resumable checkpoints.
//!
//! A checkpoint is a folder `step-<N>/` holding the model as safetensors (`model.safetensors`,
//! loadable by any safetensors reader), the optimiser state (`optimizer.bpk`, burn's format)
//! and `state.json`. It is written under a temporary name and renamed when complete; the file
//! `latest` then names it. Older checkpoints are removed once a newer one is in place.

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::optim::ModuleOptimizer;
use burn::store::{ModuleSnapshot, SafetensorsStore};
use burn::tensor::Bytes;
use serde_json::json;

use crate::error::{Error, Result};
use crate::train::run_dir::write_atomic;

const MODEL_FILE: &str = "model.safetensors";
const OPTIMIZER_FILE: &str = "optimizer.bpk";
const STATE_FILE: &str = "state.json";
const LATEST_FILE: &str = "latest";

/// A checkpoint on disk.
#[derive(Clone, Debug)]
pub struct Checkpoint {
    /// Its folder.
    pub dir: PathBuf,
    /// Optimisation steps completed.
    pub step: usize,
}

impl Checkpoint {
    /// The newest complete checkpoint under `root`, if any.
    pub fn latest(root: &Path) -> Result<Option<Checkpoint>> {
        let pointer = root.join(LATEST_FILE);
        if !pointer.exists() {
            return Ok(None);
        }
        let name = std::fs::read_to_string(&pointer).map_err(|e| Error::io(&pointer, e))?;
        let dir = root.join(name.trim());
        let state_path = dir.join(STATE_FILE);
        let text = std::fs::read_to_string(&state_path).map_err(|e| Error::io(&state_path, e))?;
        let state: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| Error::format(&state_path, format!("not valid JSON: {e}")))?;
        let step = state["step"]
            .as_u64()
            .ok_or_else(|| Error::format(&state_path, "expected an integer field `step`"))?
            as usize;
        Ok(Some(Checkpoint { dir, step }))
    }

    /// Writes a checkpoint of `model` and `optim` after `step` steps under `root`.
    pub fn save<M: Module>(
        root: &Path,
        step: usize,
        model: &M,
        optim: &ModuleOptimizer,
    ) -> Result<Checkpoint> {
        let name = format!("step-{step:08}");
        let dir = root.join(&name);
        let temporary = root.join(format!("{name}.partial"));
        if temporary.exists() {
            std::fs::remove_dir_all(&temporary).map_err(|e| Error::io(&temporary, e))?;
        }
        std::fs::create_dir_all(&temporary).map_err(|e| Error::io(&temporary, e))?;

        save_module(model, &temporary.join(MODEL_FILE))?;
        let optimizer_path = temporary.join(OPTIMIZER_FILE);
        let bytes = optim.into_bytes().map_err(|e| Error::Checkpoint {
            path: optimizer_path.clone(),
            message: format!("could not serialise the optimiser state: {e:?}"),
        })?;
        write_atomic(&optimizer_path, &bytes)?;
        write_atomic(
            &temporary.join(STATE_FILE),
            json!({ "step": step }).to_string().as_bytes(),
        )?;

        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        }
        std::fs::rename(&temporary, &dir).map_err(|e| Error::io(&dir, e))?;
        let previous = Checkpoint::latest(root).ok().flatten();
        write_atomic(&root.join(LATEST_FILE), name.as_bytes())?;
        if let Some(previous) = previous {
            if previous.dir != dir {
                std::fs::remove_dir_all(&previous.dir).map_err(|e| Error::io(&previous.dir, e))?;
            }
        }

        Ok(Checkpoint { dir, step })
    }

    /// Loads the model and optimiser state of this checkpoint into `model` and `optim`.
    pub fn restore<M: Module>(
        &self,
        model: M,
        optim: ModuleOptimizer,
    ) -> Result<(M, ModuleOptimizer)> {
        let model = load_module(model, &self.dir.join(MODEL_FILE))?;
        let optimizer_path = self.dir.join(OPTIMIZER_FILE);
        let bytes = std::fs::read(&optimizer_path).map_err(|e| Error::io(&optimizer_path, e))?;
        let optim = optim
            .from_bytes(Bytes::from_bytes_vec(bytes))
            .map_err(|e| Error::Checkpoint {
                path: optimizer_path,
                message: format!("could not read the optimiser state: {e:?}"),
            })?;
        Ok((model, optim))
    }
}

/// Saves a module's parameters as a safetensors file, atomically.
pub fn save_module<M: Module>(model: &M, path: &Path) -> Result<()> {
    let mut store = SafetensorsStore::from_bytes(None);
    let error = |message: String| Error::Checkpoint {
        path: path.into(),
        message,
    };
    model
        .save_into(&mut store)
        .map_err(|e| error(format!("could not serialise the parameters: {e:?}")))?;
    let bytes = store
        .get_bytes()
        .map_err(|e| error(format!("could not serialise the parameters: {e:?}")))?;
    write_atomic(path, &bytes)
}

/// Loads a module's parameters from a safetensors file written by [`save_module`].
pub fn load_module<M: Module>(mut model: M, path: &Path) -> Result<M> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let mut store = SafetensorsStore::from_bytes(Some(bytes));
    model.load_from(&mut store).map_err(|e| Error::Checkpoint {
        path: path.into(),
        message: format!("parameters do not match the model: {e:?}"),
    })?;
    Ok(model)
}
