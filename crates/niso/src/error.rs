//! The crate's one error type.
//!
//! Every message names the operation, file, field or shape that was wrong and what was expected,
//! so that a user can fix the input without reading the source.

use std::path::PathBuf;

/// Everything that can go wrong in `niso`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A data file exists but its content is not what the format requires.
    #[error("{path}: {message}")]
    Format { path: PathBuf, message: String },

    /// A configuration field has a wrong value or is unknown.
    #[error("config field `{field}`: {message}")]
    Config { field: String, message: String },

    /// A tensor or matrix had the wrong shape for an operation.
    #[error("{op}: expected shape {expected}, got {got:?}")]
    Shape {
        op: &'static str,
        expected: String,
        got: Vec<usize>,
    },

    /// Training produced a non-finite loss; the last good checkpoint is kept.
    #[error(
        "training diverged at step {step}: {what} is {value}; last good checkpoint: {checkpoint}"
    )]
    NonFinite {
        step: usize,
        what: String,
        value: f64,
        checkpoint: String,
    },

    /// A data set or other prerequisite is missing; the message says the command that makes it.
    #[error("{what} not found at {path}; run `{command}` first")]
    Missing {
        what: String,
        path: PathBuf,
        command: String,
    },

    /// An external command (npm, apt-get, tar) failed.
    #[error("`{command}` failed: {message}")]
    Command { command: String, message: String },

    /// A checkpoint could not be saved or loaded.
    #[error("checkpoint {path}: {message}")]
    Checkpoint { path: PathBuf, message: String },
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// A format error for `path` with a message saying what was found and what was expected.
    pub fn format(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::Format {
            path: path.into(),
            message: message.into(),
        }
    }

    /// A configuration error naming the field.
    pub fn config(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Config {
            field: field.into(),
            message: message.into(),
        }
    }
}
