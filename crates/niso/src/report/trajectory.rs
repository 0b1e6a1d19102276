//! Top-view plots of camera trajectories: true centres in black, predicted ones in red, the
//! first camera marked by a square; each panel scaled to fit both paths.

use std::path::Path;

use image::{Rgb, RgbImage};

use crate::error::{Error, Result};

/// One plot: two paths of 2D points (e.g. the `x, z` of camera centres).
#[derive(Clone, Debug)]
pub struct TrajectoryPanel {
    /// The true path.
    pub truth: Vec<[f64; 2]>,
    /// The predicted path.
    pub predicted: Vec<[f64; 2]>,
}

const TRUTH: Rgb<u8> = Rgb([0, 0, 0]);
const PREDICTED: Rgb<u8> = Rgb([220, 30, 30]);

/// Draws `panels` on a grid of `per_row` squares of `size` pixels.
pub fn save_trajectories(
    path: &Path,
    panels: &[TrajectoryPanel],
    per_row: usize,
    size: usize,
) -> Result<()> {
    const GAP: usize = 4;
    const MARGIN: f64 = 0.08;
    let per_row = per_row.max(1);
    let rows = panels.len().div_ceil(per_row);
    let width = per_row * (size + GAP) + GAP;
    let height = rows * (size + GAP) + GAP;
    let mut canvas = RgbImage::from_pixel(width as u32, height as u32, Rgb([200, 200, 200]));

    for (index, panel) in panels.iter().enumerate() {
        let left = GAP + (index % per_row) * (size + GAP);
        let top = GAP + (index / per_row) * (size + GAP);
        for y in top..top + size {
            for x in left..left + size {
                canvas.put_pixel(x as u32, y as u32, Rgb([255, 255, 255]));
            }
        }
        let points = panel.truth.iter().chain(&panel.predicted);
        let (mut low, mut high) = ([f64::INFINITY; 2], [f64::NEG_INFINITY; 2]);
        for p in points {
            for axis in 0..2 {
                low[axis] = low[axis].min(p[axis]);
                high[axis] = high[axis].max(p[axis]);
            }
        }
        let extent = (high[0] - low[0])
            .max(high[1] - low[1])
            .max(f64::MIN_POSITIVE);
        let usable = size as f64 * (1.0 - 2.0 * MARGIN);
        let to_pixel = |p: &[f64; 2]| {
            let x = left as f64 + size as f64 * MARGIN + (p[0] - low[0]) / extent * usable;
            let y = top as f64 + size as f64 * MARGIN + (high[1] - p[1]) / extent * usable;
            [x, y]
        };
        for (path_points, colour) in [(&panel.truth, TRUTH), (&panel.predicted, PREDICTED)] {
            let pixels: Vec<[f64; 2]> = path_points.iter().map(to_pixel).collect();
            for pair in pixels.windows(2) {
                draw_line(&mut canvas, pair[0], pair[1], colour);
            }
            if let Some(&[x, y]) = pixels.first() {
                for dy in -2i64..=2 {
                    for dx in -2i64..=2 {
                        put(&mut canvas, x + dx as f64, y + dy as f64, colour);
                    }
                }
            }
        }
    }
    canvas
        .save(path)
        .map_err(|e| Error::io(path, std::io::Error::other(e.to_string())))
}

fn put(canvas: &mut RgbImage, x: f64, y: f64, colour: Rgb<u8>) {
    let (x, y) = (x.round(), y.round());
    if x >= 0.0 && y >= 0.0 && (x as u32) < canvas.width() && (y as u32) < canvas.height() {
        canvas.put_pixel(x as u32, y as u32, colour);
    }
}

/// A line by uniform steps of at most half a pixel.
fn draw_line(canvas: &mut RgbImage, from: [f64; 2], to: [f64; 2], colour: Rgb<u8>) {
    let length = (to[0] - from[0]).abs().max((to[1] - from[1]).abs());
    let steps = (2.0 * length).ceil().max(1.0) as usize;
    for step in 0..=steps {
        let t = step as f64 / steps as f64;
        put(
            canvas,
            from[0] + t * (to[0] - from[0]),
            from[1] + t * (to[1] - from[1]),
            colour,
        );
    }
}
