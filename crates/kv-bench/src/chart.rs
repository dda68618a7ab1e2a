//! The chart: one panel per workload, a pair of bars (1 thread, 2 threads) per store, drawn as SVG
//! with plotters.

use std::path::Path;

use plotters::prelude::*;

use crate::report::{Row, STORES};
use crate::workload::Workload;

/// A chart that could not be drawn (the SVG file could not be written, usually).
#[derive(Debug)]
pub struct ChartError(pub String);

impl std::fmt::Display for ChartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "could not draw the chart: {} (is the output folder writable?)",
            self.0
        )
    }
}

impl std::error::Error for ChartError {}

const ONE_THREAD: RGBColor = RGBColor(0x4c, 0x72, 0xb0);
const TWO_THREADS: RGBColor = RGBColor(0xdd, 0x84, 0x52);

/// Draws throughput per workload and thread count to an SVG file at `path`.
pub fn draw(rows: &[Row], path: &Path) -> Result<(), ChartError> {
    let err = |e: &dyn std::fmt::Display| ChartError(e.to_string());
    let stores: Vec<&str> = STORES
        .iter()
        .copied()
        .filter(|s| rows.iter().any(|r| r.store == *s))
        .collect();
    let workloads: Vec<Workload> = Workload::ALL
        .into_iter()
        .filter(|w| rows.iter().any(|r| r.workload == w.to_string()))
        .collect();
    if stores.is_empty() || workloads.is_empty() {
        return Err(ChartError("no rows to draw".into()));
    }
    let height = 330 * workloads.len() as u32;
    let root = SVGBackend::new(path, (1400, height)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let panels = root.split_evenly((workloads.len(), 1));
    for (panel, workload) in panels.iter().zip(&workloads) {
        let name = workload.to_string();
        let name = name.as_str();
        let of = |threads: usize| {
            stores.iter().enumerate().filter_map(move |(i, s)| {
                rows.iter()
                    .find(|r| r.store == *s && r.workload == name && r.threads == threads)
                    .map(|r| (i, r.mops_median))
            })
        };
        // Headroom above the tallest bar keeps the legend clear of it.
        let top = of(1).chain(of(2)).map(|(_, m)| m).fold(0.0, f64::max) * 1.3;
        let mut chart = ChartBuilder::on(panel)
            .caption(
                format!("{workload}, million ops/s: {}", workload.describe()),
                ("sans-serif", 18),
            )
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(60)
            .build_cartesian_2d(-0.5..stores.len() as f64 - 0.5, 0.0..top.max(0.1))
            .map_err(|e| err(&e))?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .y_max_light_lines(1)
            .x_labels(stores.len())
            .x_label_formatter(&|x: &f64| {
                let i = x.round();
                if (x - i).abs() < 0.01 && i >= 0.0 {
                    stores
                        .get(i as usize)
                        .map_or(String::new(), |s| s.to_string())
                } else {
                    String::new()
                }
            })
            .draw()
            .map_err(|e| err(&e))?;
        for (threads, color, offset) in [(1, ONE_THREAD, -0.4), (2, TWO_THREADS, 0.0)] {
            chart
                .draw_series(of(threads).map(|(i, m)| {
                    let x = i as f64 + offset;
                    Rectangle::new([(x, 0.0), (x + 0.4, m)], color.filled())
                }))
                .map_err(|e| err(&e))?
                .label(format!(
                    "{threads} thread{}",
                    if threads == 1 { "" } else { "s" }
                ))
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 10, y + 5)], color.filled())
                });
        }
        chart
            .configure_series_labels()
            .border_style(BLACK)
            .background_style(WHITE)
            .position(SeriesLabelPosition::UpperRight)
            .draw()
            .map_err(|e| err(&e))?;
    }
    root.present().map_err(|e| err(&e))?;
    Ok(())
}
