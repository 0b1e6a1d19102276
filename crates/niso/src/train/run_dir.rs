//! The run folder: resolved config, metrics, log, checkpoints, report.
//!
//! ```text
//! <out>/config.toml             the resolved configuration
//! <out>/log.txt                 the run's log
//! <out>/metrics-<phase>.jsonl   one JSON object per logged step
//! <out>/checkpoints/<phase>/    step-<N>/ folders and `latest`
//! <out>/report.json, report.md, *.png
//! ```

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// A run folder on disk.
#[derive(Clone, Debug)]
pub struct RunDir {
    root: PathBuf,
}

/// Appends JSON lines to a metrics file, flushing each line.
pub struct MetricsWriter {
    path: PathBuf,
    file: BufWriter<File>,
}

impl RunDir {
    /// Creates (or reopens) the folder `root`.
    pub fn create(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        std::fs::create_dir_all(&root).map_err(|e| Error::io(&root, e))?;
        Ok(Self { root })
    }

    /// The folder itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A path inside the folder.
    pub fn path(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// The checkpoint folder of a phase.
    pub fn checkpoints(&self, phase: &str) -> PathBuf {
        self.root.join("checkpoints").join(phase)
    }

    /// Writes `text` to `name` inside the folder, atomically.
    pub fn write(&self, name: &str, text: &str) -> Result<PathBuf> {
        let path = self.path(name);
        write_atomic(&path, text.as_bytes())?;
        Ok(path)
    }

    /// Opens `metrics-<phase>.jsonl` for appending.
    pub fn metrics_writer(&self, phase: &str) -> Result<MetricsWriter> {
        let path = self.path(&format!("metrics-{phase}.jsonl"));
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        Ok(MetricsWriter {
            path,
            file: BufWriter::new(file),
        })
    }
}

impl MetricsWriter {
    /// Appends one JSON object as a line.
    pub fn write(&mut self, line: &serde_json::Value) -> Result<()> {
        writeln!(self.file, "{line}")
            .and_then(|()| self.file.flush())
            .map_err(|e| Error::io(&self.path, e))
    }
}

/// `path` with `.tmp` appended to its file name: the staging file of an atomic write.
pub(crate) fn temporary_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}

/// Writes `bytes` to `path` through a temporary file and a rename, so that a crash leaves
/// either the old or the new content, never a torn file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    let temporary = temporary_path(path);
    let mut file = File::create(&temporary).map_err(|e| Error::io(&temporary, e))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| Error::io(&temporary, e))?;
    std::fs::rename(&temporary, path).map_err(|e| Error::io(path, e))
}
