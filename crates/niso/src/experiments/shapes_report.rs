//! The report of the conformal shape experiment: `report.json`, `report.md` and figures
//! (spherical signature images, Möbius warps, reconstructions through `tau`).

use std::path::Path;

use burn::tensor::{Device, Tensor};
use image::{Rgb, RgbImage};
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde::Serialize;
use serde_json::json;

use crate::data::shapes::{self, ShapeSet};
use crate::error::{Error, Result};
use crate::experiments::shapes::ShapesConfig;
use crate::experiments::shapes_views::Prepared;
use crate::geometry::deform::deform;
use crate::geometry::mesh::{cross, dot, norm, read_off, sub, TriMesh};
use crate::model::ConvNiso;
use crate::report::{save_panels, Panel};
use crate::train::RunDir;

/// Side of one rendered mesh in pixels.
const RENDER_SIZE: usize = 200;

/// Signature channel shown in the warp and reconstruction figures (a middle time scale).
const SHOWN_CHANNEL: usize = 8;

/// What preprocessing cost, averaged over every instance.
#[derive(Clone, Debug, Serialize)]
pub struct PreprocessingSummary {
    /// Instances in the data set.
    pub instances: usize,
    /// Mean vertex count of an instance mesh.
    pub mean_vertices: f64,
    /// Mean seconds per instance (deformation, spectrum, signature, map, raster).
    pub mean_instance_seconds: f64,
    /// Mean seconds of the eigensolver.
    pub mean_spectrum_seconds: f64,
    /// Mean seconds of the conformal map.
    pub mean_conformal_seconds: f64,
    /// Instances whose spherical map kept flipped triangles after the repair.
    pub instances_with_flips: usize,
    /// Mean fraction of flipped triangles.
    pub mean_flipped_fraction: f64,
}

/// The numbers of a finished run (`report.json`).
#[derive(Clone, Debug, Serialize)]
pub struct ShapesReport {
    /// NIso (frozen) + invariant head accuracy on the Möbius-warped test instances.
    pub accuracy: f64,
    /// Mean `|tau a - b|^2 / |b|^2` over pairs of warps of one test instance.
    pub equivariance_error: f64,
    /// Autoencoder + augmentation + MLP head.
    pub autoencoder_accuracy: Option<f64>,
    /// CNN trained with augmentation.
    pub cnn_accuracy: Option<f64>,
    /// Class names.
    pub classes: Vec<String>,
    /// Training instances (all classes).
    pub train_instances: usize,
    /// Test instances (all classes).
    pub test_instances: usize,
    /// Warps per test instance scored.
    pub test_views: usize,
    /// NIso pre-training steps.
    pub pretrain_steps: usize,
    /// Seconds to build or read the data set.
    pub data_seconds: f64,
    /// Seconds of NIso pre-training.
    pub pretrain_seconds: f64,
    /// Seconds of the whole run.
    pub wall_seconds: f64,
    /// Preprocessing statistics (from the cache).
    pub preprocessing: PreprocessingSummary,
}

impl ShapesReport {
    /// Collects the numbers; `[accuracy, equivariance]`, `[autoencoder, cnn]` and
    /// `[data, pretrain, wall]` seconds.
    pub fn new(
        config: &ShapesConfig,
        set: &ShapeSet,
        prepared: &Prepared,
        [accuracy, equivariance_error]: [f64; 2],
        [autoencoder_accuracy, cnn_accuracy]: [Option<f64>; 2],
        [data_seconds, pretrain_seconds, wall_seconds]: [f64; 3],
    ) -> Self {
        let instances: Vec<_> = set.stats.iter().flat_map(|c| &c.instances).collect();
        let count = instances.len().max(1) as f64;
        let mean = |f: &dyn Fn(&crate::data::shapes::InstanceStats) -> f64| {
            instances.iter().map(|i| f(i)).sum::<f64>() / count
        };
        let preprocessing = PreprocessingSummary {
            instances: instances.len(),
            mean_vertices: mean(&|i| i.vertices as f64),
            mean_instance_seconds: mean(&|i| i.total_seconds),
            mean_spectrum_seconds: mean(&|i| i.spectrum_seconds),
            mean_conformal_seconds: mean(&|i| i.conformal_seconds),
            instances_with_flips: instances.iter().filter(|i| i.flipped_faces > 0).count(),
            mean_flipped_fraction: mean(&|i| i.flipped_faces as f64 / (2 * i.vertices - 4) as f64),
        };
        ShapesReport {
            accuracy,
            equivariance_error,
            autoencoder_accuracy,
            cnn_accuracy,
            classes: set.classes.clone(),
            train_instances: prepared.train.len(),
            test_instances: prepared.test.len(),
            test_views: config.split.test_views,
            pretrain_steps: config.run.steps,
            data_seconds,
            pretrain_seconds,
            wall_seconds,
            preprocessing,
        }
    }
}

fn percent(value: Option<f64>) -> String {
    value.map_or("not run".into(), |v| format!("{:.2} %", 100.0 * v))
}

/// Writes `report.json` and `report.md`.
pub fn write_report(run: &RunDir, report: &ShapesReport) -> Result<()> {
    let text = serde_json::to_string_pretty(&json!(report)).expect("plain data");
    run.write("report.json", &text)?;

    let p = &report.preprocessing;
    let mut md =
        String::from("# Conformal shape classification (CGAL meshes, SHREC'11 stand-in)\n\n");
    md.push_str(&format!(
        "{} classes, {} training and {} test instances, each test instance scored under {} \
         random Möbius warps.\n\n",
        report.classes.len(),
        report.train_instances,
        report.test_instances,
        report.test_views
    ));
    md.push_str("| method | test accuracy | paper (SHREC'11) |\n| --- | --- | --- |\n");
    md.push_str(&format!(
        "| NIso + invariant head | {} | 90.26 % |\n",
        percent(Some(report.accuracy))
    ));
    md.push_str(&format!(
        "| autoencoder + Möbius augmentation, MLP head | {} | 69.36 % |\n",
        percent(report.autoencoder_accuracy)
    ));
    md.push_str(&format!(
        "| CNN + Möbius augmentation | {} | - |\n\n",
        percent(report.cnn_accuracy)
    ));
    md.push_str(&format!(
        "Equivariance error `|tau a - b|^2 / |b|^2`: {:.2} %. Pre-training: {} steps, {:.1} min; \
         data {:.1} min; whole run {:.1} min.\n\n",
        100.0 * report.equivariance_error,
        report.pretrain_steps,
        report.pretrain_seconds / 60.0,
        report.data_seconds / 60.0,
        report.wall_seconds / 60.0
    ));
    md.push_str(&format!(
        "Preprocessing ({} instances, {:.0} vertices on average): {:.2} s per instance, of which \
         {:.2} s eigensolver and {:.2} s conformal map; {} instances keep flipped triangles on the \
         sphere ({:.2} % of triangles on average).\n\n",
        p.instances,
        p.mean_vertices,
        p.mean_instance_seconds,
        p.mean_spectrum_seconds,
        p.mean_conformal_seconds,
        p.instances_with_flips,
        100.0 * p.mean_flipped_fraction
    ));
    md.push_str(
        "![signatures](signatures.png)\n\nHeat kernel signature images of one instance per class \
         (rows; first six classes) at four time scales (columns, short to long).\n\n\
         ![meshes](meshes.png)\n\nThe decimated base mesh (left) and two random deformed \
         instances of the first six classes.\n\n![warps](warps.png)\n\nOne test shape and \
         five random Möbius warps of it.\n\n\
         ![reconstructions](reconstructions.png)\n\nA second warp of four test shapes (top) \
         and the decoded `Phi tau a` of the first warp (bottom).\n",
    );
    run.write("report.md", &md)?;
    Ok(())
}

/// Renders `mesh` orthographically along `-z` with Lambert shading into a square image.
fn render(mesh: &TriMesh, size: usize) -> RgbImage {
    let scale = mesh
        .vertices
        .iter()
        .fold(0.0f64, |m, p| m.max(p[0].abs()).max(p[1].abs()));
    let to_pixel = |p: [f64; 3]| {
        let half = size as f64 / 2.0;
        [
            half + 0.95 * half * p[0] / scale,
            half - 0.95 * half * p[1] / scale,
            p[2],
        ]
    };
    let mut image = RgbImage::from_pixel(size as u32, size as u32, Rgb([255, 255, 255]));
    let mut depth = vec![f64::NEG_INFINITY; size * size];
    for face in &mesh.faces {
        let [a, b, c] = face.map(|v| mesh.vertices[v]);
        let normal = cross(sub(b, a), sub(c, a));
        let shade = (dot(normal, [0.3, 0.4, 0.866]) / norm(normal)).abs();
        let colour = Rgb([(60.0 + 180.0 * shade) as u8; 3]);
        let [p, q, r] = [a, b, c].map(to_pixel);
        let area = (q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0]);
        if area.abs() < f64::EPSILON {
            continue;
        }
        let low = |i: usize| p[i].min(q[i]).min(r[i]).floor().max(0.0) as usize;
        let high = |i: usize| (p[i].max(q[i]).max(r[i]).ceil() as usize).min(size - 1);
        for y in low(1)..=high(1) {
            for x in low(0)..=high(0) {
                let (fx, fy) = (x as f64 + 0.5, y as f64 + 0.5);
                let w0 = ((q[0] - fx) * (r[1] - fy) - (q[1] - fy) * (r[0] - fx)) / area;
                let w1 = ((r[0] - fx) * (p[1] - fy) - (r[1] - fy) * (p[0] - fx)) / area;
                let w2 = 1.0 - w0 - w1;
                if w0 < 0.0 || w1 < 0.0 || w2 < 0.0 {
                    continue;
                }
                let z = w0 * p[2] + w1 * q[2] + w2 * r[2];
                if z > depth[y * size + x] {
                    depth[y * size + x] = z;
                    image.put_pixel(x as u32, y as u32, colour);
                }
            }
        }
    }
    image
}

/// The cached base mesh of the first six classes and two deformed instances of each, rendered.
fn draw_meshes(config: &ShapesConfig, set: &ShapeSet, cache: &Path, path: &Path) -> Result<()> {
    const INSTANCES: usize = 2;
    let classes = set.classes.len().min(6);
    let columns = 1 + INSTANCES;
    let mut canvas = RgbImage::from_pixel(
        (columns * RENDER_SIZE) as u32,
        (classes * RENDER_SIZE) as u32,
        Rgb([255, 255, 255]),
    );
    let dir = shapes::cache_dir(cache, &config.data);
    for (row, name) in set.classes.iter().take(classes).enumerate() {
        let base = read_off(&dir.join(format!("{name}.off")))?;
        let mut meshes = vec![base.clone()];
        for seed in 0..INSTANCES as u64 {
            meshes.push(deform(
                &base,
                &config.data.deform,
                &mut StdRng::seed_from_u64(seed),
            ));
        }
        for (column, mesh) in meshes.iter().enumerate() {
            let tile = render(mesh, RENDER_SIZE);
            let (left, top) = ((column * RENDER_SIZE) as i64, (row * RENDER_SIZE) as i64);
            image::imageops::replace(&mut canvas, &tile, left, top);
        }
    }
    canvas
        .save(path)
        .map_err(|e| Error::io(path, std::io::Error::other(e.to_string())))
}

/// `values` minus their mean, as a panel.
fn centred(values: &[f32], rows: usize, columns: usize) -> Panel {
    let mean = values.iter().map(|&v| f64::from(v)).sum::<f64>() / values.len() as f64;
    Panel::new(
        values.iter().map(|&v| f64::from(v) - mean).collect(),
        rows,
        columns,
    )
}

/// Meshes, signature images, warps and reconstructions as PNG.
pub fn draw_figures(
    config: &ShapesConfig,
    set: &ShapeSet,
    cache: &Path,
    prepared: &Prepared,
    model: &ConvNiso,
    run: &RunDir,
    device: &Device,
) -> Result<()> {
    draw_meshes(config, set, cache, &run.path("meshes.png"))?;
    let (height, width) = (set.grid.height, set.grid.width);
    let plane = height * width;
    let last = set.channels - 1;
    let shown = [0, last / 3, 2 * last / 3, last];
    let mut panels = Vec::new();
    for class in 0..set.classes.len().min(6) {
        let image = set.image(class, 0);
        for &channel in &shown {
            panels.push(centred(
                &image[channel * plane..(channel + 1) * plane],
                height,
                width,
            ));
        }
    }
    save_panels(&run.path("signatures.png"), &panels, shown.len(), 1)?;

    let grid = prepared.grid;
    let small = grid.height * grid.width;
    let channel = SHOWN_CHANNEL.min(last);
    let pick = |image: &[f32]| {
        centred(
            &image[channel * small..(channel + 1) * small],
            grid.height,
            grid.width,
        )
    };
    let item = prepared.test[0];
    let mut warps = vec![pick(prepared.image(item))];
    warps.extend((0..5).map(|view| pick(&prepared.view(item, view, config.split.seed))));
    save_panels(&run.path("warps.png"), &warps, 3, 2)?;

    let items: Vec<_> = prepared
        .test
        .iter()
        .step_by(prepared.test.len().div_ceil(4))
        .copied()
        .collect();
    let sources: Vec<f32> = items
        .iter()
        .flat_map(|&i| prepared.view(i, 0, config.split.seed))
        .collect();
    let targets: Vec<f32> = items
        .iter()
        .flat_map(|&i| prepared.view(i, 1, config.split.seed))
        .collect();
    let spectrum = model.operator.spectrum()?;
    let a = model.coefficients(&spectrum, prepared.tensor(sources, device));
    let b = model.coefficients(&spectrum, prepared.tensor(targets.clone(), device));
    let mapped = spectrum.isometry(a.clone(), b)?.apply(a);
    let decoded: Tensor<4> = model.decode_coefficients(&spectrum, mapped, config.latent_grid());
    let decoded = decoded
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .expect("f32");
    let length = set.channels * small;
    let mut panels: Vec<Panel> = targets.chunks(length).map(pick).collect();
    panels.extend(decoded.chunks(length).map(pick));
    save_panels(&run.path("reconstructions.png"), &panels, items.len(), 2)
}
