//! Figures for run reports: heat maps of matrices and tiles of images, written as PNG; camera
//! trajectories in [`trajectory`].

pub mod trajectory;

use std::path::Path;

use image::{Rgb, RgbImage};

use crate::error::{Error, Result};

/// A row-major grid of values to draw, `rows x columns`.
#[derive(Clone, Debug)]
pub struct Panel {
    /// `rows * columns` values.
    pub values: Vec<f64>,
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub columns: usize,
}

impl Panel {
    /// A panel from values; panics if the length is not `rows * columns`.
    pub fn new(values: Vec<f64>, rows: usize, columns: usize) -> Self {
        assert_eq!(
            values.len(),
            rows * columns,
            "panel: {rows} x {columns} values expected"
        );
        Self {
            values,
            rows,
            columns,
        }
    }
}

/// Blue (negative) - white (zero) - red (positive) for `value` in `[-1, 1]`.
fn diverging(value: f64) -> Rgb<u8> {
    let t = value.clamp(-1.0, 1.0);
    let fade = |strength: f64| (255.0 * (1.0 - strength)).round() as u8;
    if t >= 0.0 {
        Rgb([255, fade(t), fade(t)])
    } else {
        Rgb([fade(-t), fade(-t), 255])
    }
}

/// Draws `panels` side by side on a grid of `per_row` panels, each value a `scale x scale`
/// block, each panel normalised by its own largest absolute value, 2-pixel grey gaps.
pub fn save_panels(path: &Path, panels: &[Panel], per_row: usize, scale: usize) -> Result<()> {
    const GAP: usize = 2;
    let per_row = per_row.max(1);
    let rows_of_panels = panels.len().div_ceil(per_row);
    let cell_h = panels.iter().map(|p| p.rows).max().unwrap_or(1) * scale;
    let cell_w = panels.iter().map(|p| p.columns).max().unwrap_or(1) * scale;
    let width = per_row * (cell_w + GAP) + GAP;
    let height = rows_of_panels * (cell_h + GAP) + GAP;
    let mut canvas = RgbImage::from_pixel(width as u32, height as u32, Rgb([200, 200, 200]));

    for (index, panel) in panels.iter().enumerate() {
        let left = GAP + (index % per_row) * (cell_w + GAP);
        let top = GAP + (index / per_row) * (cell_h + GAP);
        let peak = panel
            .values
            .iter()
            .fold(0.0f64, |m, v| m.max(v.abs()))
            .max(1e-30);
        for row in 0..panel.rows * scale {
            for column in 0..panel.columns * scale {
                let value = panel.values[(row / scale) * panel.columns + column / scale] / peak;
                canvas.put_pixel((left + column) as u32, (top + row) as u32, diverging(value));
            }
        }
    }

    canvas
        .save(path)
        .map_err(|e| Error::io(path, std::io::Error::other(e.to_string())))
}
