//! Equirectangular images of functions on the unit sphere, and the rasterisation of a function
//! given at the vertices of a spherical triangle mesh onto them.
//!
//! Grid. `height x width` cells, row-major; the centre of cell `(row, column)` has colatitude
//! `theta = pi (row + 1/2) / height` and longitude `phi = 2 pi (column + 1/2) / width`, i.e.
//! the direction `(sin theta cos phi, sin theta sin phi, cos theta)`. No cell centre is a pole.
//!
//! Rasterisation. A cell centre `d` lies in the spherical triangle `(a, b, c)` (counter-clockwise
//! seen from outside) when the three triple products `[d b c]`, `[a d c]`, `[a b d]` are
//! non-negative; they are proportional to the barycentric coordinates of the point where the
//! ray through `d` meets the flat triangle, and the value there is the barycentric blend of the
//! corner values (linear on the flat triangle, radially projected onto the sphere).

use std::f64::consts::{PI, TAU};

use crate::error::{Error, Result};
use crate::geometry::mesh::{cross, dot, norm, sub};

/// Relative slack on the triple products, so that cells on a shared edge are not missed.
const BARYCENTRIC_SLACK: f64 = 1e-9;

/// Cells with `sin(theta)` below this are treated as polar when widening longitude ranges.
const MIN_SINE: f64 = 1e-3;

/// An equirectangular grid of cell centres on the unit sphere.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EquirectGrid {
    /// Rows (colatitude).
    pub height: usize,
    /// Columns (longitude).
    pub width: usize,
}

/// A rasterised function: `[channels, height, width]` values and how much of the grid the
/// triangles covered before the holes were filled.
#[derive(Clone, Debug)]
pub struct Raster {
    /// `channels * height * width` values.
    pub values: Vec<f32>,
    /// Fraction of cells that lay inside a positively oriented triangle.
    pub covered: f64,
}

fn triple(a: [f64; 3], b: [f64; 3], c: [f64; 3]) -> f64 {
    dot(a, cross(b, c))
}

impl EquirectGrid {
    /// A `height x width` grid.
    pub fn new(height: usize, width: usize) -> Self {
        EquirectGrid { height, width }
    }

    /// Colatitude of a row's centres.
    pub fn colatitude(&self, row: usize) -> f64 {
        PI * (row as f64 + 0.5) / self.height as f64
    }

    /// Longitude of a column's centres.
    pub fn longitude(&self, column: usize) -> f64 {
        TAU * (column as f64 + 0.5) / self.width as f64
    }

    /// The unit direction of cell `(row, column)`.
    pub fn direction(&self, row: usize, column: usize) -> [f64; 3] {
        let (theta, phi) = (self.colatitude(row), self.longitude(column));
        [
            theta.sin() * phi.cos(),
            theta.sin() * phi.sin(),
            theta.cos(),
        ]
    }

    /// Cell indices and weights (summing to 1) of bilinear interpolation at the direction `x`:
    /// periodic in longitude, clamped to the first and last rows in colatitude.
    pub fn bilinear_taps(&self, x: [f64; 3]) -> [(usize, f32); 4] {
        let length = norm(x);
        let theta = (x[2] / length).clamp(-1.0, 1.0).acos();
        let phi = x[1].atan2(x[0]).rem_euclid(TAU);
        let row = (theta / PI * self.height as f64 - 0.5).clamp(0.0, (self.height - 1) as f64);
        let column = phi / TAU * self.width as f64 - 0.5;
        let (row0, column0) = (row.floor(), column.floor());
        let (row_weight, column_weight) = ((row - row0) as f32, (column - column0) as f32);
        let row0 = row0 as usize;
        let row1 = (row0 + 1).min(self.height - 1);
        let wrap = |c: f64| (c as i64).rem_euclid(self.width as i64) as usize;
        let (column0, column1) = (wrap(column0), wrap(column0 + 1.0));
        [
            (
                row0 * self.width + column0,
                (1.0 - row_weight) * (1.0 - column_weight),
            ),
            (
                row0 * self.width + column1,
                (1.0 - row_weight) * column_weight,
            ),
            (
                row1 * self.width + column0,
                row_weight * (1.0 - column_weight),
            ),
            (row1 * self.width + column1, row_weight * column_weight),
        ]
    }

    /// The area of every cell relative to the mean cell (`sin(theta)` normalised to mean 1).
    pub fn area_weights(&self) -> Vec<f32> {
        let mean: f64 = (0..self.height)
            .map(|r| self.colatitude(r).sin())
            .sum::<f64>()
            / self.height as f64;
        (0..self.height * self.width)
            .map(|i| (self.colatitude(i / self.width).sin() / mean) as f32)
            .collect()
    }

    /// Rasterises `channels` (each one value per vertex) given on the spherical mesh
    /// `(points, faces)` (points of unit length, faces counter-clockwise seen from outside).
    /// Cells that no positively oriented triangle covers (behind flipped triangles) take the
    /// mean of their covered neighbours, repeatedly.
    ///
    /// # Errors
    /// [`Error::Shape`] if a channel does not hold one value per point, or no cell is covered.
    pub fn rasterize(
        &self,
        points: &[[f64; 3]],
        faces: &[[usize; 3]],
        channels: &[Vec<f64>],
    ) -> Result<Raster> {
        if let Some(bad) = channels.iter().find(|c| c.len() != points.len()) {
            return Err(Error::Shape {
                op: "rasterize",
                expected: format!("one value per point ({})", points.len()),
                got: vec![bad.len()],
            });
        }
        let plane = self.height * self.width;
        let mut values = vec![0.0f32; channels.len() * plane];
        let mut covered = vec![false; plane];
        for face in faces {
            let [a, b, c] = face.map(|v| points[v]);
            let orientation = triple(a, b, c);
            if orientation <= 0.0 {
                continue;
            }
            let (rows, columns) = self.cell_ranges([a, b, c], orientation);
            for row in rows {
                for column in columns.clone() {
                    let column = column.rem_euclid(self.width as i64) as usize;
                    let d = self.direction(row, column);
                    let weights = [triple(d, b, c), triple(a, d, c), triple(a, b, d)];
                    let slack = -BARYCENTRIC_SLACK * orientation;
                    if weights.iter().any(|&w| w < slack) || dot(d, a) <= 0.0 {
                        continue;
                    }
                    let total: f64 = weights.iter().sum();
                    let cell = row * self.width + column;
                    covered[cell] = true;
                    for (channel, data) in channels.iter().enumerate() {
                        let blend: f64 = (0..3).map(|i| weights[i] * data[face[i]]).sum();
                        values[channel * plane + cell] = (blend / total) as f32;
                    }
                }
            }
        }
        let covered_fraction = covered.iter().filter(|&&c| c).count() as f64 / plane as f64;
        if covered_fraction == 0.0 {
            return Err(Error::Shape {
                op: "rasterize",
                expected: "at least one positively oriented triangle".into(),
                got: vec![faces.len()],
            });
        }
        self.fill_holes(&mut values, channels.len(), covered);
        Ok(Raster {
            values,
            covered: covered_fraction,
        })
    }

    /// Rows and (unwrapped) columns whose centres may fall in the triangle `corners`.
    fn cell_ranges(
        &self,
        corners: [[f64; 3]; 3],
        orientation: f64,
    ) -> (std::ops::Range<usize>, std::ops::Range<i64>) {
        let contains = |d: [f64; 3]| {
            let [a, b, c] = corners;
            let slack = -BARYCENTRIC_SLACK * orientation;
            triple(d, b, c) >= slack && triple(a, d, c) >= slack && triple(a, b, d) >= slack
        };
        let north = contains([0.0, 0.0, 1.0]);
        let south = contains([0.0, 0.0, -1.0]);
        // Edges are arcs: they bulge towards the poles by at most half their chord.
        let margin = (0..3)
            .map(|i| norm(sub(corners[i], corners[(i + 1) % 3])))
            .fold(0.0, f64::max);
        let thetas = corners.map(|p| p[2].clamp(-1.0, 1.0).acos());
        let theta_min = if north {
            0.0
        } else {
            thetas.iter().copied().fold(PI, f64::min) - margin
        };
        let theta_max = if south {
            PI
        } else {
            thetas.iter().copied().fold(0.0, f64::max) + margin
        };
        let to_row = |theta: f64| theta / PI * self.height as f64 - 0.5;
        let row_start = to_row(theta_min).floor().max(0.0) as usize;
        let row_end = ((to_row(theta_max).ceil() + 1.0).max(0.0) as usize).min(self.height);

        let all = 0..self.width as i64;
        if north || south {
            return (row_start..row_end, all);
        }
        let sine = theta_min.sin().min(theta_max.sin()).max(MIN_SINE);
        let phis = corners.map(|p| p[1].atan2(p[0]));
        let unwrap = |phi: f64| phis[0] + (phi - phis[0] + PI).rem_euclid(TAU) - PI;
        let phis = phis.map(unwrap);
        let phi_min = phis.iter().copied().fold(f64::INFINITY, f64::min) - margin / sine;
        let phi_max = phis.iter().copied().fold(f64::NEG_INFINITY, f64::max) + margin / sine;
        if phi_max - phi_min >= PI {
            return (row_start..row_end, all);
        }
        let to_column = |phi: f64| phi / TAU * self.width as f64 - 0.5;
        let columns = to_column(phi_min).floor() as i64..to_column(phi_max).ceil() as i64 + 1;
        (row_start..row_end, columns)
    }

    /// Gives every uncovered cell the mean of its covered 4-neighbours, sweeping until none is
    /// left (longitude is periodic).
    fn fill_holes(&self, values: &mut [f32], channels: usize, mut covered: Vec<bool>) {
        let (height, width) = (self.height, self.width);
        let plane = height * width;
        while covered.iter().any(|&c| !c) {
            let before = covered.clone();
            for cell in (0..plane).filter(|&cell| !before[cell]) {
                let (row, column) = (cell / width, cell % width);
                let mut neighbours = vec![
                    row * width + (column + 1) % width,
                    row * width + (column + width - 1) % width,
                ];
                if row > 0 {
                    neighbours.push(cell - width);
                }
                if row + 1 < height {
                    neighbours.push(cell + width);
                }
                neighbours.retain(|&n| before[n]);
                if neighbours.is_empty() {
                    continue;
                }
                for channel in 0..channels {
                    let sum: f32 = neighbours
                        .iter()
                        .map(|&n| values[channel * plane + n])
                        .sum();
                    values[channel * plane + cell] = sum / neighbours.len() as f32;
                }
                covered[cell] = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::mesh::icosphere;

    #[test]
    fn rasterised_constants_and_linear_functions_are_reproduced() {
        // The blend weights sum to 1, so a constant is exact; z on a level-3 icosphere differs
        // from z of the cell direction only by the radial projection (chord sagitta < 1 %).
        let mesh = icosphere(3);
        let grid = EquirectGrid::new(24, 48);
        let ones = vec![1.0; mesh.vertices.len()];
        let heights: Vec<f64> = mesh.vertices.iter().map(|p| p[2]).collect();
        let raster = grid
            .rasterize(&mesh.vertices, &mesh.faces, &[ones, heights])
            .unwrap();
        assert_eq!(raster.covered, 1.0);
        let plane = 24 * 48;
        for cell in 0..plane {
            assert!((raster.values[cell] - 1.0).abs() < 1e-6);
            let z = grid.direction(cell / 48, cell % 48)[2] as f32;
            assert!(
                (raster.values[plane + cell] - z).abs() < 0.01,
                "cell {cell}"
            );
        }
    }

    #[test]
    fn flipped_triangles_leave_holes_that_are_filled() {
        let mut mesh = icosphere(2);
        mesh.faces[0].swap(1, 2);
        let grid = EquirectGrid::new(48, 96);
        let ones = vec![1.0; mesh.vertices.len()];
        let raster = grid
            .rasterize(&mesh.vertices, &mesh.faces, &[ones])
            .unwrap();
        assert!(
            raster.covered < 1.0 && raster.covered > 0.98,
            "{}",
            raster.covered
        );
        assert!(raster.values.iter().all(|&v| (v - 1.0).abs() < 1e-6));
    }

    #[test]
    fn bilinear_taps_sum_to_one_and_hit_cell_centres_exactly() {
        let grid = EquirectGrid::new(6, 12);
        for row in 0..6 {
            for column in 0..12 {
                let taps = grid.bilinear_taps(grid.direction(row, column));
                let total: f32 = taps.iter().map(|t| t.1).sum();
                assert!((total - 1.0).abs() < 1e-6);
                let (index, weight) =
                    taps.iter()
                        .copied()
                        .fold((0, 0.0), |best, t| if t.1 > best.1 { t } else { best });
                assert_eq!(index, row * 12 + column);
                assert!(weight > 1.0 - 1e-5);
            }
        }
        let weights = grid.area_weights();
        let mean: f32 = weights.iter().sum::<f32>() / weights.len() as f32;
        assert!((mean - 1.0).abs() < 1e-5);
    }
}
