//! Configuration files: TOML read once into checked structs, with command-line overrides.
//!
//! An override `section.field=value` replaces one entry of the TOML table before it is checked,
//! so every option of a file can also be set on the command line
//! (`--set optim.lr=1e-3 --set run.steps=200`). Values are parsed as TOML (`1e-3`, `true`,
//! `[64, 128]`, `"clustered"`); anything that does not parse is taken as a string.

use std::path::Path;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Reads `path`, applies `overrides` and deserialises into `T`, rejecting unknown fields.
pub fn load<T: DeserializeOwned>(path: &Path, overrides: &[String]) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    parse(&text, overrides).map_err(|error| match error {
        Error::Config { field, message } => {
            Error::config(field, format!("{message} (in {})", path.display()))
        }
        other => other,
    })
}

/// Parses TOML text with overrides into `T`.
pub fn parse<T: DeserializeOwned>(text: &str, overrides: &[String]) -> Result<T> {
    let mut table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| Error::config(error_field(&e), e.message().to_string()))?;
    for entry in overrides {
        apply_override(&mut table, entry)?;
    }
    serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
        let field = match e.path().to_string() {
            path if path == "." => "<top level>".to_string(),
            path => path,
        };
        Error::config(field, e.inner().message().to_string())
    })
}

/// Serialises a resolved configuration back to TOML (for the run folder).
pub fn to_toml<T: Serialize>(config: &T) -> String {
    toml::to_string_pretty(config).expect("configs are plain data and always serialise")
}

/// The dotted field path a TOML error points at, or `<file>` when it has none.
fn error_field(error: &toml::de::Error) -> String {
    let message = error.message();
    if let Some(start) = message.find('`') {
        if let Some(length) = message[start + 1..].find('`') {
            return message[start + 1..start + 1 + length].to_string();
        }
    }
    "<file>".into()
}

fn apply_override(table: &mut toml::Table, entry: &str) -> Result<()> {
    let (path, raw) = entry
        .split_once('=')
        .ok_or_else(|| Error::config(entry, "an override must read `section.field=value`"))?;
    let value = parse_value(raw.trim());

    let keys: Vec<&str> = path.trim().split('.').collect();
    let (last, sections) = keys.split_last().expect("split yields at least one key");
    let mut current = table;
    for key in sections {
        let entry = current
            .entry(key.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        current = entry
            .as_table_mut()
            .ok_or_else(|| Error::config(path, format!("`{key}` is a value, not a section")))?;
    }
    current.insert(last.to_string(), value);
    Ok(())
}

fn parse_value(raw: &str) -> toml::Value {
    format!("value = {raw}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut table| table.remove("value"))
        .unwrap_or_else(|| toml::Value::String(raw.to_string()))
}

/// The length of a run and how often it reports and saves.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    /// Seed of parameter initialisation and of every random draw of the run.
    pub seed: u64,
    /// Optimisation steps.
    pub steps: usize,
    /// Examples (pairs for NIso) per step.
    pub batch_size: usize,
    /// Steps between metric lines.
    #[serde(default = "default_log_every")]
    pub log_every: usize,
    /// Steps between checkpoints (and at the end).
    #[serde(default = "default_checkpoint_every")]
    pub checkpoint_every: usize,
}

fn default_log_every() -> usize {
    50
}

fn default_checkpoint_every() -> usize {
    1000
}

impl RunConfig {
    /// Checks the fields; the error names the field.
    pub fn validate(&self, prefix: &str) -> Result<()> {
        for (name, value) in [
            ("steps", self.steps),
            ("batch_size", self.batch_size),
            ("log_every", self.log_every),
            ("checkpoint_every", self.checkpoint_every),
        ] {
            if value == 0 {
                return Err(Error::config(
                    format!("{prefix}.{name}"),
                    "must be at least 1",
                ));
            }
        }
        Ok(())
    }
}

/// AdamW with linear warm-up and cosine decay (paper sec. 5).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptimConfig {
    /// Peak learning rate, reached at the end of the warm-up.
    pub lr: f64,
    /// Learning rate at step 0.
    #[serde(default = "default_warmup_start")]
    pub warmup_start_lr: f64,
    /// Warm-up steps.
    pub warmup_steps: usize,
    /// Learning rate at the last step (cosine decay towards it).
    pub final_lr: f64,
    /// Decoupled weight decay.
    #[serde(default = "default_weight_decay")]
    pub weight_decay: f64,
    /// Clip the global gradient norm to this value (none when absent).
    #[serde(default)]
    pub grad_clip: Option<f64>,
}

fn default_warmup_start() -> f64 {
    1e-8
}

fn default_weight_decay() -> f64 {
    1e-4
}

impl OptimConfig {
    /// Checks the rates; the error names the field.
    pub fn validate(&self, prefix: &str, steps: usize) -> Result<()> {
        let field = |name: &str| format!("{prefix}.{name}");
        for (name, value) in [
            ("lr", self.lr),
            ("warmup_start_lr", self.warmup_start_lr),
            ("final_lr", self.final_lr),
        ] {
            if !(value > 0.0 && value <= 1.0) {
                return Err(Error::config(
                    field(name),
                    format!("must be in (0, 1], got {value}"),
                ));
            }
        }
        if self.final_lr > self.lr || self.warmup_start_lr > self.lr {
            return Err(Error::config(
                field("lr"),
                format!(
                    "the peak {} must be >= warmup_start_lr and final_lr",
                    self.lr
                ),
            ));
        }
        if self.warmup_steps >= steps {
            return Err(Error::config(
                field("warmup_steps"),
                format!(
                    "{} must be smaller than the run's {steps} steps",
                    self.warmup_steps
                ),
            ));
        }
        if self.weight_decay.is_nan() || self.weight_decay < 0.0 {
            return Err(Error::config(field("weight_decay"), "must be >= 0"));
        }
        if let Some(clip) = self.grad_clip {
            if clip.is_nan() || clip <= 0.0 {
                return Err(Error::config(field("grad_clip"), "must be > 0 when given"));
            }
        }
        Ok(())
    }
}
