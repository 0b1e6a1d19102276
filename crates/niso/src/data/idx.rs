//! Reader for IDX files, the container format of the MNIST digits.
//!
//! An IDX file is a 4-byte big-endian magic number `0x0000_08TD`, where `T = 08` says the
//! elements are unsigned bytes and `D` is the number of dimensions, then `D` big-endian `u32`
//! sizes, then the `prod(sizes)` elements in row-major order. MNIST uses two kinds:
//!
//! - labels: magic `0x0000_0801`, sizes `[count]`, one `u8` class per item;
//! - images: magic `0x0000_0803`, sizes `[count, rows, cols]`, `u8` pixels, row-major.
//!
//! So a file holds exactly `4 + 4 D + prod(sizes)` bytes; anything else is an error naming
//! the file and the byte counts. Gzip-compressed files (`.gz`, detected by their leading bytes
//! `1f 8b`) are decompressed transparently.

use std::io::Read;
use std::path::Path;

use crate::error::{Error, Result};

/// Magic number of an IDX file of `u8` labels, one dimension.
pub const LABELS_MAGIC: u32 = 0x0000_0801;

/// Magic number of an IDX file of `u8` images, three dimensions (count, rows, cols).
pub const IMAGES_MAGIC: u32 = 0x0000_0803;

/// The two leading bytes of every gzip stream.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// A stack of `u8` grey-level images read from an IDX file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxImages {
    /// Number of images.
    pub count: usize,
    /// Height of each image in pixels.
    pub rows: usize,
    /// Width of each image in pixels.
    pub cols: usize,
    /// `count x rows x cols` pixels, row-major, image after image.
    pub pixels: Vec<u8>,
}

/// Reads an IDX image file (magic `0x00000803`), gzipped or not.
///
/// # Errors
/// [`Error::Io`] if the file cannot be read; [`Error::Format`] if the magic is not the image
/// magic or the file holds more or fewer bytes than its header announces.
pub fn read_images(path: impl AsRef<Path>) -> Result<IdxImages> {
    let path = path.as_ref();
    let bytes = read_maybe_gzipped(path)?;

    let dims = parse_header(path, &bytes, IMAGES_MAGIC)?;
    let [count, rows, cols] = [dims[0], dims[1], dims[2]];

    let offset = header_len(dims.len());
    Ok(IdxImages {
        count,
        rows,
        cols,
        pixels: bytes[offset..].to_vec(),
    })
}

/// Reads an IDX label file (magic `0x00000801`), gzipped or not, and returns one `u8` per item.
///
/// # Errors
/// [`Error::Io`] if the file cannot be read; [`Error::Format`] if the magic is not the label
/// magic or the file holds more or fewer bytes than its header announces.
pub fn read_labels(path: impl AsRef<Path>) -> Result<Vec<u8>> {
    let path = path.as_ref();
    let bytes = read_maybe_gzipped(path)?;

    let dims = parse_header(path, &bytes, LABELS_MAGIC)?;

    let offset = header_len(dims.len());
    Ok(bytes[offset..].to_vec())
}

/// Reads the whole file, inflating it first when it starts with the gzip magic.
fn read_maybe_gzipped(path: &Path) -> Result<Vec<u8>> {
    let raw = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    if !raw.starts_with(&GZIP_MAGIC) {
        return Ok(raw);
    }

    let mut inflated = Vec::new();
    flate2::read::GzDecoder::new(raw.as_slice())
        .read_to_end(&mut inflated)
        .map_err(|e| Error::format(path, format!("invalid gzip stream: {e}")))?;
    Ok(inflated)
}

/// Byte length of a header with `ndims` dimensions: the magic plus one `u32` per dimension.
fn header_len(ndims: usize) -> usize {
    4 + 4 * ndims
}

/// Checks the magic and the total length and returns the dimension sizes.
fn parse_header(path: &Path, bytes: &[u8], expected_magic: u32) -> Result<Vec<usize>> {
    let Some(magic) = read_u32_be(bytes, 0) else {
        return Err(Error::format(
            path,
            format!(
                "truncated IDX file: expected at least 4 bytes of magic, found {}",
                bytes.len()
            ),
        ));
    };
    if magic != expected_magic {
        return Err(Error::format(
            path,
            format!("wrong IDX magic: found {magic:#010x}, expected {expected_magic:#010x}"),
        ));
    }

    let ndims = (magic & 0xff) as usize;
    let header = header_len(ndims);
    if bytes.len() < header {
        return Err(Error::format(
            path,
            format!(
                "truncated IDX header: expected {header} bytes for {ndims} dimensions, found {}",
                bytes.len()
            ),
        ));
    }
    let dims: Vec<usize> = (0..ndims)
        .filter_map(|d| read_u32_be(bytes, 4 + 4 * d))
        .map(|size| size as usize)
        .collect();

    let expected = dims
        .iter()
        .try_fold(1usize, |acc, &size| acc.checked_mul(size))
        .and_then(|body| body.checked_add(header));
    let Some(expected) = expected else {
        return Err(Error::format(
            path,
            format!("IDX dimensions {dims:?} overflow the addressable size"),
        ));
    };
    if bytes.len() != expected {
        let what = if bytes.len() < expected {
            "truncated IDX file"
        } else {
            "trailing bytes in IDX file"
        };
        return Err(Error::format(
            path,
            format!(
                "{what}: dimensions {dims:?} need {expected} bytes, found {}",
                bytes.len()
            ),
        ));
    }
    Ok(dims)
}

/// The big-endian `u32` at `offset`, or `None` past the end.
fn read_u32_be(bytes: &[u8], offset: usize) -> Option<u32> {
    let word = bytes.get(offset..offset + 4)?;
    Some(u32::from_be_bytes([word[0], word[1], word[2], word[3]]))
}

/// Encodes `data` as an IDX file of `u8` with the given dimension sizes (the inverse of the
/// readers); used by tests to write synthetic files.
#[cfg(test)]
pub(crate) fn encode(dims: &[usize], data: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(header_len(dims.len()) + data.len());
    bytes.extend_from_slice(&(0x0800u32 | dims.len() as u32).to_be_bytes());
    for &size in dims {
        bytes.extend_from_slice(&(size as u32).to_be_bytes());
    }
    bytes.extend_from_slice(data);
    bytes
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::path::PathBuf;

    use super::*;

    /// A fresh directory under the system temp dir, unique to this process and test.
    fn scratch_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("niso-idx-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn sample_images() -> IdxImages {
        let (count, rows, cols) = (3, 4, 5);
        let pixels = (0..count * rows * cols)
            .map(|i| (i * 7 % 256) as u8)
            .collect();
        IdxImages {
            count,
            rows,
            cols,
            pixels,
        }
    }

    #[test]
    fn images_and_labels_round_trip() {
        let dir = scratch_dir("round-trip");
        let images = sample_images();
        let labels = vec![3u8, 1, 4];
        let images_path = dir.join("images-idx3-ubyte");
        let labels_path = dir.join("labels-idx1-ubyte");
        let dims = [images.count, images.rows, images.cols];
        std::fs::write(&images_path, encode(&dims, &images.pixels)).unwrap();
        std::fs::write(&labels_path, encode(&[labels.len()], &labels)).unwrap();

        assert_eq!(read_images(&images_path).unwrap(), images);
        assert_eq!(read_labels(&labels_path).unwrap(), labels);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn gzipped_file_reads_like_the_plain_one() {
        let dir = scratch_dir("gzip");
        let images = sample_images();
        let plain = encode(&[images.count, images.rows, images.cols], &images.pixels);
        let path = dir.join("images-idx3-ubyte.gz");
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(&plain).unwrap();
        std::fs::write(&path, encoder.finish().unwrap()).unwrap();

        assert_eq!(read_images(&path).unwrap(), images);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn wrong_magic_names_file_and_both_magics() {
        let dir = scratch_dir("magic");
        let path = dir.join("labels-idx1-ubyte");
        std::fs::write(&path, encode(&[2], &[1, 2])).unwrap();

        let message = read_images(&path).unwrap_err().to_string();
        assert!(message.contains("labels-idx1-ubyte"), "{message}");
        assert!(message.contains("found 0x00000801"), "{message}");
        assert!(message.contains("expected 0x00000803"), "{message}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn truncated_and_overlong_files_are_rejected_with_byte_counts() {
        let dir = scratch_dir("truncated");
        let images = sample_images();
        let full = encode(&[images.count, images.rows, images.cols], &images.pixels);
        let path = dir.join("images-idx3-ubyte");

        std::fs::write(&path, &full[..full.len() - 1]).unwrap();
        let message = read_images(&path).unwrap_err().to_string();
        assert!(message.contains("truncated"), "{message}");
        assert!(
            message.contains(&format!("need {} bytes", full.len())),
            "{message}"
        );
        assert!(
            message.contains(&format!("found {}", full.len() - 1)),
            "{message}"
        );

        std::fs::write(&path, &full[..6]).unwrap();
        let message = read_images(&path).unwrap_err().to_string();
        assert!(message.contains("truncated IDX header"), "{message}");

        let mut long = full.clone();
        long.push(0);
        std::fs::write(&path, &long).unwrap();
        let message = read_images(&path).unwrap_err().to_string();
        assert!(message.contains("trailing bytes"), "{message}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn missing_file_is_an_io_error_with_the_path() {
        let path = std::env::temp_dir().join("niso-idx-does-not-exist-idx1-ubyte");
        let error = read_labels(&path).unwrap_err();
        assert!(matches!(error, Error::Io { .. }));
        assert!(error.to_string().contains("niso-idx-does-not-exist"));
    }
}
