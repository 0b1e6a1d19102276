//! Helpers shared by the data fetchers: scratch directories and external commands.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{Error, Result};

/// A fresh directory under the system temp dir, removed with its contents on drop.
pub(crate) struct ScratchDir(PathBuf);

impl ScratchDir {
    pub(crate) fn new(prefix: &str) -> Result<Self> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let path = std::env::temp_dir().join(format!("{prefix}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path).map_err(|e| Error::io(&path, e))?;
        Ok(ScratchDir(path))
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        // Best effort: a leftover temp dir is harmless and must not mask the real result.
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `program args...` in `dir` and returns its stdout; a failure carries its stderr.
pub(crate) fn run_command(program: &str, args: &[&str], dir: &Path) -> Result<String> {
    let command = format!("{program} {}", args.join(" "));
    let output = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .map_err(|e| Error::Command {
            command: command.clone(),
            message: format!("could not start {program}: {e}"),
        })?;
    if !output.status.success() {
        return Err(Error::Command {
            command,
            message: format!(
                "{}: {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ),
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}
