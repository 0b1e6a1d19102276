//! The data of the conformal shape experiment (paper sec. 5.3): spherical heat-kernel-signature
//! images of deformed instances of the meshes that `niso data meshes` keeps.
//!
//! Per class (base mesh): orient the faces outward, decimate to at most `target_vertices`, then
//! per instance
//!
//! 1. a random nearly isometric deformation ([`crate::geometry::deform`]);
//! 2. the first `eigenpairs` eigenpairs of `L u = lambda M u` ([`crate::geometry::hks`]);
//! 3. the heat kernel signature at `hks_times` times in `logspace(first_time, last_time)` of the
//!    spectrum normalised by `lambda_1`, stored as `ln h_t` (mean about 0 on a unit-area shape);
//! 4. the conformal map to the sphere with Möbius centring ([`crate::geometry::conformal`]);
//! 5. the channels rasterised onto a `height x width` equirectangular grid
//!    ([`crate::geometry::raster`]).
//!
//! Images `[instances, channels, height, width]` (f32, little endian) and per-instance
//! statistics are cached per class under `<cache>/<fingerprint>/`, where the fingerprint hashes
//! the options: a finished class is never computed again, and an interrupted build resumes at
//! the next class.

use std::path::{Path, PathBuf};
use std::time::Instant;

use rand::rngs::StdRng;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::geometry::conformal::{conformal_sphere, FlowConfig};
use crate::geometry::decimate::decimate;
use crate::geometry::deform::{deform, DeformConfig};
use crate::geometry::hks::{heat_kernel_signature, laplacian_spectrum, log_times};
use crate::geometry::mesh::{to_off, TriMesh};
use crate::geometry::raster::EquirectGrid;
use crate::train::write_atomic;

/// Where the cache goes by default (next to the meshes).
pub const DEFAULT_CACHE: &str = "data/shapes";

/// Options of the data set (part of the experiment's config).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShapeDataConfig {
    /// Instances per class (SHREC'11 has 20).
    pub instances: usize,
    /// Larger base meshes are decimated to this many vertices.
    pub target_vertices: usize,
    /// Eigenpairs of the Laplacian (the paper: 128).
    pub eigenpairs: usize,
    /// Time scales of the signature (the paper: 16).
    pub hks_times: usize,
    /// First time scale (after normalising the spectrum by `lambda_1`).
    pub first_time: f64,
    /// Last time scale.
    pub last_time: f64,
    /// Rows of the equirectangular images (the paper: 96).
    pub height: usize,
    /// Columns (the paper: 192).
    pub width: usize,
    /// Seed of the deformations.
    pub seed: u64,
    /// The deformations.
    pub deform: DeformConfig,
    /// The conformal flow.
    pub flow: FlowConfig,
}

impl Default for ShapeDataConfig {
    fn default() -> Self {
        ShapeDataConfig {
            instances: 20,
            target_vertices: 2000,
            eigenpairs: 128,
            hks_times: 16,
            first_time: 0.01,
            last_time: 1.0,
            height: 96,
            width: 192,
            seed: 2011,
            deform: DeformConfig::default(),
            flow: FlowConfig::default(),
        }
    }
}

impl ShapeDataConfig {
    /// Checks the sizes; the error names the field.
    pub fn validate(&self, prefix: &str) -> Result<()> {
        for (name, value) in [
            ("instances", self.instances),
            ("hks_times", self.hks_times),
            ("height", self.height),
            ("width", self.width),
        ] {
            if value == 0 {
                return Err(Error::config(
                    format!("{prefix}.{name}"),
                    "must be at least 1",
                ));
            }
        }
        if self.eigenpairs < 2 || self.target_vertices < self.eigenpairs {
            return Err(Error::config(
                format!("{prefix}.eigenpairs"),
                format!(
                    "needs 2 <= eigenpairs <= target_vertices, got {} and {}",
                    self.eigenpairs, self.target_vertices
                ),
            ));
        }
        if !(self.first_time > 0.0 && self.last_time >= self.first_time) {
            return Err(Error::config(
                format!("{prefix}.first_time"),
                "needs 0 < first_time <= last_time",
            ));
        }
        Ok(())
    }

    /// A short hash of the options: the cache folder's name.
    pub fn fingerprint(&self) -> String {
        let text = serde_json::to_string(self).expect("plain data");
        let digest = Sha256::digest(text.as_bytes());
        digest[..6].iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The image grid.
    pub fn grid(&self) -> EquirectGrid {
        EquirectGrid::new(self.height, self.width)
    }
}

/// What one instance cost and how well its map came out.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InstanceStats {
    /// Vertices of the instance mesh.
    pub vertices: usize,
    /// Seconds of the eigensolver.
    pub spectrum_seconds: f64,
    /// Seconds of the conformal flow and centring.
    pub conformal_seconds: f64,
    /// Seconds of everything for this instance.
    pub total_seconds: f64,
    /// Flow steps taken.
    pub flow_steps: usize,
    /// Radial spread when the flow stopped.
    pub roundness: f64,
    /// Triangles flipped on the sphere.
    pub flipped_faces: usize,
    /// Fraction of grid cells covered by unflipped triangles.
    pub covered: f64,
    /// `lambda_{last} / lambda_1`: how far the truncated spectrum reaches.
    pub spectrum_ratio: f64,
}

/// One class: its images and statistics.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ClassStats {
    /// The class name (the mesh's file stem).
    pub name: String,
    /// Vertices of the original mesh.
    pub original_vertices: usize,
    /// Seconds of the decimation.
    pub decimation_seconds: f64,
    /// Per instance.
    pub instances: Vec<InstanceStats>,
}

/// The whole data set in memory.
#[derive(Clone, Debug)]
pub struct ShapeSet {
    /// Class names, in label order.
    pub classes: Vec<String>,
    /// Instances per class.
    pub instances: usize,
    /// Channels per image.
    pub channels: usize,
    /// The image grid.
    pub grid: EquirectGrid,
    /// `[classes, instances, channels, height, width]` values.
    pub images: Vec<f32>,
    /// Statistics per class.
    pub stats: Vec<ClassStats>,
}

impl ShapeSet {
    /// Values per image.
    pub fn image_len(&self) -> usize {
        self.channels * self.grid.height * self.grid.width
    }

    /// The image of `instance` of class `class`.
    pub fn image(&self, class: usize, instance: usize) -> &[f32] {
        let start = (class * self.instances + instance) * self.image_len();
        &self.images[start..start + self.image_len()]
    }
}

/// The images of one deformed instance of `base` and their statistics.
pub fn instance_images(
    base: &TriMesh,
    config: &ShapeDataConfig,
    rng: &mut StdRng,
) -> Result<(Vec<f32>, InstanceStats)> {
    let clock = Instant::now();
    let mesh = deform(base, &config.deform, rng);

    let spectrum_clock = Instant::now();
    let spectrum = laplacian_spectrum(&mesh, config.eigenpairs)?;
    let spectrum_seconds = spectrum_clock.elapsed().as_secs_f64();
    let times = log_times(config.first_time, config.last_time, config.hks_times);
    let signature: Vec<Vec<f64>> = heat_kernel_signature(&spectrum, &times)?
        .into_iter()
        .map(|channel| {
            channel
                .into_iter()
                .map(|h| h.max(f64::MIN_POSITIVE).ln())
                .collect()
        })
        .collect();

    let conformal_clock = Instant::now();
    let map = conformal_sphere(&mesh, &config.flow)?;
    let conformal_seconds = conformal_clock.elapsed().as_secs_f64();
    let raster = config
        .grid()
        .rasterize(&map.points, &mesh.faces, &signature)?;

    let last = spectrum.eigenvalues[spectrum.eigenvalues.len() - 1];
    Ok((
        raster.values,
        InstanceStats {
            vertices: mesh.vertices.len(),
            spectrum_seconds,
            conformal_seconds,
            total_seconds: clock.elapsed().as_secs_f64(),
            flow_steps: map.steps,
            roundness: map.roundness,
            flipped_faces: map.flipped_faces,
            covered: raster.covered,
            spectrum_ratio: last / spectrum.eigenvalues[1],
        },
    ))
}

/// The cache folder of `config` under `cache`.
pub fn cache_dir(cache: &Path, config: &ShapeDataConfig) -> PathBuf {
    cache.join(config.fingerprint())
}

/// Builds (or reads from the cache) the images of every class of `meshes`.
///
/// `report` is called after each class with its statistics (for progress output).
///
/// # Errors
/// Those of the geometry pipeline, and [`Error::Io`] / [`Error::Format`] for the cache.
pub fn build(
    meshes: &[(String, TriMesh)],
    config: &ShapeDataConfig,
    cache: &Path,
    mut report: impl FnMut(&ClassStats, bool),
) -> Result<ShapeSet> {
    config.validate("data")?;
    let dir = cache_dir(cache, config);
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    write_atomic(
        &dir.join("config.json"),
        serde_json::to_string_pretty(config)
            .expect("plain data")
            .as_bytes(),
    )?;
    let grid = config.grid();
    let image_len = config.hks_times * grid.height * grid.width;
    let mut images = Vec::with_capacity(meshes.len() * config.instances * image_len);
    let mut stats = Vec::new();
    for (class, (name, mesh)) in meshes.iter().enumerate() {
        let values_path = dir.join(format!("{name}.bin"));
        let stats_path = dir.join(format!("{name}.json"));
        let cached = values_path.is_file() && stats_path.is_file();
        let (values, class_stats) = if cached {
            read_class(&values_path, &stats_path, config.instances * image_len)?
        } else {
            let clock = Instant::now();
            let mesh = mesh.oriented_outward();
            let base = if mesh.vertices.len() > config.target_vertices {
                decimate(&mesh, config.target_vertices)?
            } else {
                mesh.normalized()
            };
            let decimation_seconds = clock.elapsed().as_secs_f64();
            write_atomic(&dir.join(format!("{name}.off")), to_off(&base).as_bytes())?;
            let mut values = Vec::with_capacity(config.instances * image_len);
            let mut instances = Vec::new();
            for instance in 0..config.instances {
                let seed = config.seed ^ ((class as u64) << 32 | instance as u64);
                let mut rng = StdRng::seed_from_u64(seed);
                let (image, instance_stats) = instance_images(&base, config, &mut rng)?;
                values.extend(image);
                instances.push(instance_stats);
            }
            let class_stats = ClassStats {
                name: name.clone(),
                original_vertices: mesh.vertices.len(),
                decimation_seconds,
                instances,
            };
            let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
            write_atomic(&values_path, &bytes)?;
            let json = serde_json::to_string_pretty(&class_stats).expect("plain data");
            write_atomic(&stats_path, json.as_bytes())?;
            (values, class_stats)
        };
        report(&class_stats, cached);
        images.extend(values);
        stats.push(class_stats);
    }
    Ok(ShapeSet {
        classes: meshes.iter().map(|(name, _)| name.clone()).collect(),
        instances: config.instances,
        channels: config.hks_times,
        grid,
        images,
        stats,
    })
}

/// Reads one cached class and checks its size.
fn read_class(values: &Path, stats: &Path, expected: usize) -> Result<(Vec<f32>, ClassStats)> {
    let bytes = std::fs::read(values).map_err(|e| Error::io(values, e))?;
    if bytes.len() != 4 * expected {
        return Err(Error::format(
            values,
            format!(
                "expected {expected} f32 values, found {} bytes",
                bytes.len()
            ),
        ));
    }
    let data = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let text = std::fs::read_to_string(stats).map_err(|e| Error::io(stats, e))?;
    let class_stats =
        serde_json::from_str(&text).map_err(|e| Error::format(stats, e.to_string()))?;
    Ok((data, class_stats))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::mesh::icosphere;

    fn small_config() -> ShapeDataConfig {
        ShapeDataConfig {
            instances: 2,
            target_vertices: 300,
            eigenpairs: 16,
            hks_times: 3,
            height: 12,
            width: 24,
            ..ShapeDataConfig::default()
        }
    }

    #[test]
    fn build_caches_and_reads_back_the_same_images() {
        let dir = std::env::temp_dir().join(format!("niso-shapes-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let meshes = vec![("ball".to_string(), icosphere(3))];
        let config = small_config();
        let mut computed = Vec::new();
        let first = build(&meshes, &config, &dir, |_, cached| computed.push(cached)).unwrap();
        let second = build(&meshes, &config, &dir, |_, cached| computed.push(cached)).unwrap();
        assert_eq!(computed, vec![false, true]);
        assert_eq!(first.images, second.images);
        assert_eq!(first.images.len(), 2 * 3 * 12 * 24);
        assert_eq!(first.stats[0].instances[0].vertices, 300);
        assert!(first.images.iter().all(|v| v.is_finite()));
        // A deformed ball is nearly round: its signature varies little over the sphere.
        let image = first.image(0, 1);
        let plane = 12 * 24;
        for channel in image.chunks(plane) {
            let (low, high) = channel
                .iter()
                .fold((f32::MAX, f32::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
            assert!(high - low < 1.0, "log-signature range {low}..{high}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn fingerprint_changes_with_the_options() {
        let config = small_config();
        let mut other = config.clone();
        other.seed += 1;
        assert_ne!(config.fingerprint(), other.fingerprint());
        assert_eq!(config.fingerprint(), small_config().fingerprint());
    }
}
