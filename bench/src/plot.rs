//! `plot` (and `sweep --plot`): the medians of metrics against a parameter, from JSON lines,
//! drawn as SVG (plotters' SVG backend: text is written as SVG text, no font files needed).
//! One panel per metric (their units differ), one series each, a point per setting.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, bail};
use plotters::prelude::*;
use serde_json::Value;

/// The median of each `metric`'s values grouped by the numeric parameter `x`, ascending by x.
pub fn medians_by(lines: &[Value], x: &str, metric: &str) -> Vec<(f64, f64)> {
    let mut groups: BTreeMap<u64, Vec<f64>> = BTreeMap::new();
    for line in lines.iter().filter(|line| line["name"] == metric) {
        let (Some(setting), Some(value)) = (line["parameters"][x].as_f64(), line["value"].as_f64()) else { continue };
        groups.entry(setting.to_bits()).or_default().push(value);
    }
    let mut points: Vec<(f64, f64)> =
        groups.into_iter().map(|(setting, values)| (f64::from_bits(setting), median(values))).collect();
    points.sort_by(|a, b| a.0.total_cmp(&b.0));
    points
}

/// The median (the mean of the two middle values for an even count); NaN for none.
pub fn median(mut values: Vec<f64>) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    if values.len() % 2 == 1 { values[middle] } else { (values[middle - 1] + values[middle]) / 2.0 }
}

/// Reads JSON lines (one metric per line, as every workload writes them); blank lines skipped.
pub fn read_lines(paths: &[std::path::PathBuf]) -> anyhow::Result<Vec<Value>> {
    let mut lines = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        for (number, line) in text.lines().enumerate().filter(|(_, line)| !line.trim().is_empty()) {
            let value: Value = serde_json::from_str(line)
                .with_context(|| format!("{} line {}: not a JSON metric line", path.display(), number + 1))?;
            lines.push(value);
        }
    }
    Ok(lines)
}

/// One panel's data: the metric, its (x, median) points and its unit.
struct Series<'a> {
    metric: &'a str,
    points: Vec<(f64, f64)>,
    unit: String,
}

/// Draws one panel per metric in `metrics` (medians against `x`) into the SVG file `out`.
pub fn draw(lines: &[Value], x: &str, metrics: &[String], out: &Path) -> anyhow::Result<()> {
    let series: Vec<Series> = metrics
        .iter()
        .map(|metric| {
            let unit = lines
                .iter()
                .find(|line| line["name"] == metric.as_str())
                .and_then(|line| line["unit"].as_str())
                .unwrap_or("")
                .to_string();
            Series { metric, points: medians_by(lines, x, metric), unit }
        })
        .collect();
    if let Some(empty) = series.iter().find(|series| series.points.is_empty()) {
        bail!("no `{}` values with a numeric `{x}` parameter in the JSON lines", empty.metric);
    }
    let panel_height = 320u32;
    let root = SVGBackend::new(out, (760, panel_height * series.len() as u32)).into_drawing_area();
    root.fill(&WHITE).map_err(|error| anyhow::anyhow!("drawing: {error}"))?;
    let panels = root.split_evenly((series.len(), 1));
    for (series, panel) in series.iter().zip(&panels) {
        draw_panel(panel, x, series.metric, &series.unit, &series.points)
            .map_err(|error| anyhow::anyhow!("drawing {}: {error}", series.metric))?;
    }
    root.present().map_err(|error| anyhow::anyhow!("writing {}: {error}", out.display()))?;
    Ok(())
}

fn draw_panel<DB: DrawingBackend>(
    panel: &DrawingArea<DB, plotters::coord::Shift>,
    x: &str,
    metric: &str,
    unit: &str,
    points: &[(f64, f64)],
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let (x_min, x_max) = points.iter().fold((f64::MAX, f64::MIN), |(low, high), (x, _)| (low.min(*x), high.max(*x)));
    let y_max = points.iter().map(|(_, y)| *y).fold(0.0, f64::max);
    let x_pad = ((x_max - x_min) * 0.1).max(0.5);
    let mut chart = ChartBuilder::on(panel)
        .caption(format!("{metric} ({unit}), medians"), ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(70)
        .build_cartesian_2d((x_min - x_pad)..(x_max + x_pad), 0.0..(y_max * 1.15).max(1e-9))?;
    let whole = points.iter().all(|(x, _)| x.fract() == 0.0);
    // Settings like --shards are whole numbers: label those only.
    let x_label = |value: &f64| match (whole, value.fract() == 0.0) {
        (true, true) => format!("{value:.0}"),
        (true, false) => String::new(),
        (false, _) => format!("{value}"),
    };
    let decimals = if y_max >= 100.0 { 0 } else { 2 };
    let y_label = |value: &f64| format!("{value:.decimals$}");
    chart
        .configure_mesh()
        .x_desc(x)
        .y_desc(unit)
        .x_labels(points.len().max(2) + 1)
        .x_label_formatter(&x_label)
        .y_label_formatter(&y_label)
        .draw()?;
    chart.draw_series(LineSeries::new(points.iter().copied(), BLUE.stroke_width(2)))?.label(metric);
    chart.draw_series(points.iter().map(|point| Circle::new(*point, 4, BLUE.filled())))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(name: &str, shards: u64, value: f64) -> Value {
        serde_json::json!({"name": name, "value": value, "unit": "events/s", "parameters": {"shards": shards}})
    }

    #[test]
    fn medians_group_by_the_parameter() {
        let lines = vec![
            line("rate", 2, 10.0),
            line("rate", 1, 5.0),
            line("rate", 2, 30.0),
            line("rate", 2, 20.0),
            line("rate", 1, 7.0),
            line("other", 1, 99.0),
        ];
        assert_eq!(medians_by(&lines, "shards", "rate"), vec![(1.0, 6.0), (2.0, 20.0)]);
        assert!(median(Vec::new()).is_nan());
    }
}
