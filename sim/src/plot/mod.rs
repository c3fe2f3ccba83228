//! Charts of replays and searches, drawn on any plotters [`DrawingBackend`]: bitmaps and SVG in
//! the CLI ([`files`], feature `cli`), a `<canvas>` in the browser (plotters-canvas).
//!
//! This module needs no fonts and no backend of its own (feature `plot`): text is drawn in the
//! `sans-serif` family, which the CLI registers from an embedded DejaVu Sans and a browser
//! resolves itself. Each function fills the whole area it is given.
//!
//! - [`draw_pareto`]: cost vs p95 wait of every evaluated config, the front, base and
//!   recommended marked, the SLO.
//! - [`draw_wait_cdf`]: share of jobs that waited at most x seconds, one line per config.
//! - [`draw_fleet`]: booting / idle / busy instances and queued jobs over a replay.
//! - [`draw_cost`]: cost by component, one bar per config.

#[cfg(feature = "cli")]
pub mod files;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::report::{Cost, Timeline};
use crate::tune::TuneResult;

/// The font family every text uses.
pub const FONT: &str = "sans-serif";

pub const BASE_COLOR: RGBColor = RGBColor(221, 110, 15);
pub const RECOMMENDED_COLOR: RGBColor = RGBColor(0, 140, 70);
pub const FRONT_COLOR: RGBColor = RGBColor(31, 90, 180);
pub const OTHER_COLOR: RGBColor = RGBColor(150, 150, 150);
pub const REJECTED_COLOR: RGBColor = RGBColor(220, 120, 120);
pub const SLO_COLOR: RGBColor = RGBColor(200, 30, 30);
/// Colours of successive series (CDFs, cost bars) after base and recommended.
pub const PALETTE: [RGBColor; 6] = [
    BASE_COLOR,
    RECOMMENDED_COLOR,
    FRONT_COLOR,
    RGBColor(140, 60, 160),
    RGBColor(120, 120, 120),
    RGBColor(200, 160, 0),
];

/// Default size of a chart in pixels.
pub const WIDTH: u32 = 1200;
pub const HEIGHT: u32 = 720;

fn err<E: std::fmt::Debug>(e: E) -> String {
    format!("cannot draw the chart: {e:?}")
}

fn title_style() -> TextStyle<'static> {
    (FONT, 26).into_font().into()
}
fn label_style() -> TextStyle<'static> {
    (FONT, 17).into_font().into()
}
fn desc_style() -> TextStyle<'static> {
    (FONT, 19).into_font().into()
}

/// Draws a "nothing to show" message (empty data is not an error).
fn empty<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    why: &str,
) -> Result<(), String> {
    area.fill(&WHITE).map_err(err)?;
    let (w, h) = area.dim_in_pixel();
    area.draw(&Text::new(title.to_string(), (20, 20), title_style()))
        .map_err(err)?;
    area.draw(&Text::new(
        why.to_string(),
        (w as i32 / 4, h as i32 / 2),
        desc_style(),
    ))
    .map_err(err)?;
    Ok(())
}

fn nice_max(v: f64) -> f64 {
    if v <= 0.0 || !v.is_finite() {
        1.0
    } else {
        v * 1.08
    }
}

/// Tick values for a log axis that may span less than a decade (plotters only labels powers of
/// ten there): evenly spaced in log space, rounded to two significant digits.
fn log_key_points(lo: f64, hi: f64) -> Vec<f64> {
    let (l0, l1) = (libm::log10(lo.max(1e-9)), libm::log10(hi.max(lo * 1.0001)));
    let n = 6;
    let mut points: Vec<f64> = (0..=n)
        .map(|i| {
            let v = libm::pow(10.0, l0 + (l1 - l0) * f64::from(i) / f64::from(n));
            let mag = libm::pow(10.0, libm::floor(libm::log10(v)) - 1.0);
            libm::round(v / mag) * mag
        })
        .filter(|v| *v >= lo && *v <= hi)
        .collect();
    points.dedup_by(|a, b| (*a - *b).abs() < 1e-12);
    points
}

/// Cost (USD) against p95 wait (s) of every evaluated config: the others in grey, rejected ones
/// as red crosses, the Pareto front as a blue line, the base (orange triangle) and the
/// recommendation (green circle) marked, the SLO as a red dashed line. Configs far beyond the
/// SLO are left out of the view and counted in the title.
pub fn draw_pareto<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    result: &TuneResult,
) -> Result<(), String> {
    let title = "Tuning: cost vs p95 wait for a runner";
    let shown: Vec<&crate::tune::Evaluation> = result
        .evaluations
        .iter()
        .filter(|e| e.metrics.wait_seconds.samples > 0)
        .collect();
    if shown.is_empty() {
        return empty(area, title, "no config has been evaluated yet");
    }
    let slo = result.objective.slo_p95_seconds;
    let p95 = |e: &crate::tune::Evaluation| e.metrics.wait_seconds.p95.max(1.0);
    let cost = |e: &crate::tune::Evaluation| e.metrics.cost_usd.total.max(0.01);
    // Log-log: p95 waits and costs of a search span orders of magnitude.
    let x_lo = shown.iter().map(|e| p95(e)).fold(slo.max(1.0), f64::min) / 1.3;
    let x_hi = shown.iter().map(|e| p95(e)).fold(slo.max(1.0), f64::max) * 1.3;
    let y_lo = shown.iter().map(|e| cost(e)).fold(f64::INFINITY, f64::min) / 1.2;
    let y_hi = shown.iter().map(|e| cost(e)).fold(0.0, f64::max) * 1.2;
    let (x_max, y_max) = (x_hi, y_hi);
    let in_view: Vec<&&crate::tune::Evaluation> = shown.iter().collect();
    area.fill(&WHITE).map_err(err)?;
    let mut chart = ChartBuilder::on(area)
        .caption(title, title_style())
        .margin(16)
        .x_label_area_size(56)
        .y_label_area_size(84)
        .build_cartesian_2d(
            (x_lo..x_hi).log_scale(),
            (y_lo..y_hi)
                .log_scale()
                .with_key_points(log_key_points(y_lo, y_hi)),
        )
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("p95 wait for a runner (seconds, log scale)")
        .y_desc("total cost over the trace (USD, log scale)")
        .label_style(label_style())
        .axis_desc_style(desc_style())
        .x_label_formatter(&|v| format!("{v:.0}"))
        .y_label_formatter(&|v| {
            if *v >= 10.0 {
                format!("${v:.0}")
            } else {
                format!("${v:.2}")
            }
        })
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(err)?;
    chart
        .draw_series(DashedLineSeries::new(
            vec![(slo.max(1.0), y_lo), (slo.max(1.0), y_max)],
            10,
            6,
            SLO_COLOR.stroke_width(2),
        ))
        .map_err(err)?
        .label(format!("SLO: p95 <= {slo:.0} s"))
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], SLO_COLOR.stroke_width(2)));
    let others: Vec<(f64, f64)> = in_view
        .iter()
        .filter(|e| e.rejected.is_none())
        .map(|e| (p95(e), cost(e)))
        .collect();
    chart
        .draw_series(
            others
                .iter()
                .map(|&p| Circle::new(p, 4, OTHER_COLOR.mix(0.7).filled())),
        )
        .map_err(err)?
        .label("evaluated config")
        .legend(|(x, y)| Circle::new((x + 12, y), 4, OTHER_COLOR.filled()));
    let rejected: Vec<(f64, f64)> = in_view
        .iter()
        .filter(|e| e.rejected.is_some())
        .map(|e| (p95(e), cost(e)))
        .collect();
    if !rejected.is_empty() {
        chart
            .draw_series(
                rejected
                    .iter()
                    .map(|&p| Cross::new(p, 5, REJECTED_COLOR.stroke_width(2))),
            )
            .map_err(err)?
            .label("rejected (API budget, jobs never started)")
            .legend(|(x, y)| Cross::new((x + 12, y), 5, REJECTED_COLOR.stroke_width(2)));
    }
    let front: Vec<(f64, f64)> = result
        .front
        .iter()
        .filter_map(|i| result.by_index(*i))
        .filter(|e| p95(e) <= x_max)
        .map(|e| (p95(e), cost(e)))
        .collect();
    chart
        .draw_series(LineSeries::new(
            front.iter().copied(),
            FRONT_COLOR.stroke_width(2),
        ))
        .map_err(err)?
        .label("Pareto front")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], FRONT_COLOR.stroke_width(2)));
    chart
        .draw_series(
            front
                .iter()
                .map(|&p| Circle::new(p, 5, FRONT_COLOR.filled())),
        )
        .map_err(err)?;
    if let Some(b) = result.base().filter(|e| e.metrics.wait_seconds.samples > 0) {
        let p = (p95(b).min(x_max), cost(b).min(y_max));
        chart
            .draw_series(std::iter::once(TriangleMarker::new(
                p,
                11,
                BASE_COLOR.filled(),
            )))
            .map_err(err)?
            .label(format!(
                "base config: ${:.2}, p95 {:.0} s{}",
                cost(b),
                p95(b),
                if p95(b) > x_max {
                    " (off the chart)"
                } else {
                    ""
                }
            ))
            .legend(|(x, y)| TriangleMarker::new((x + 12, y), 8, BASE_COLOR.filled()));
    }
    if let Some(r) = result.recommended() {
        let meets = result.recommendation.as_ref().is_some_and(|r| r.meets_slo);
        let p = (p95(r).min(x_max), cost(r));
        chart
            .draw_series([
                Circle::new(p, 10, RECOMMENDED_COLOR.stroke_width(3)),
                Circle::new(p, 5, RECOMMENDED_COLOR.filled()),
            ])
            .map_err(err)?
            .label(format!(
                "{}: ${:.2}, p95 {:.0} s",
                if meets {
                    "recommended"
                } else {
                    "closest to the SLO (none meets it)"
                },
                cost(r),
                p95(r)
            ))
            .legend(|(x, y)| Circle::new((x + 12, y), 7, RECOMMENDED_COLOR.stroke_width(3)));
    }
    chart
        .configure_series_labels()
        .label_font(label_style())
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK.mix(0.5))
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(err)?;
    Ok(())
}

/// One config's waits for [`draw_wait_cdf`]: sorted seconds (`report::Outcome::waits`).
pub struct WaitSeries<'a> {
    pub label: &'a str,
    pub waits: &'a [f64],
}

/// Share of jobs (%) that waited at most x seconds for a runner, one line per series; the SLO
/// as a dashed line. The x axis ends a little past the largest p99 (the tail beyond is cut).
pub fn draw_wait_cdf<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    series: &[WaitSeries<'_>],
    slo_seconds: Option<f64>,
) -> Result<(), String> {
    let title = "Wait for a runner: share of jobs started within x seconds";
    if series.iter().all(|s| s.waits.is_empty()) {
        return empty(area, title, "no job started");
    }
    let p99 = series
        .iter()
        .map(|s| crate::report::percentile(s.waits, 99.0))
        .fold(0.0, f64::max);
    // Log x: a tuned config waits tens of seconds where a starved one waits days. Waits under
    // a second are drawn at 1 s.
    let x_max = nice_max(p99.max(slo_seconds.unwrap_or(0.0) * 1.2).max(10.0));
    area.fill(&WHITE).map_err(err)?;
    let mut chart = ChartBuilder::on(area)
        .caption(title, title_style())
        .margin(16)
        .x_label_area_size(56)
        .y_label_area_size(72)
        .build_cartesian_2d((1.0..x_max).log_scale(), 0.0..100.0)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("wait from queued to started (seconds, log scale)")
        .y_desc("jobs started within x (%)")
        .label_style(label_style())
        .axis_desc_style(desc_style())
        .y_label_formatter(&|v| format!("{v:.0}%"))
        .x_label_formatter(&|v| format!("{v:.0}"))
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(err)?;
    if let Some(slo) = slo_seconds {
        chart
            .draw_series(DashedLineSeries::new(
                vec![(slo.max(1.0), 0.0), (slo.max(1.0), 100.0)],
                10,
                6,
                SLO_COLOR.stroke_width(2),
            ))
            .map_err(err)?
            .label(format!("SLO: p95 <= {slo:.0} s"))
            .legend(|(x, y)| {
                PathElement::new(vec![(x, y), (x + 24, y)], SLO_COLOR.stroke_width(2))
            });
    }
    for (k, s) in series.iter().enumerate() {
        let color = PALETTE[k % PALETTE.len()];
        let n = s.waits.len() as f64;
        // A step per distinct wait, thinned to ~2,000 points.
        let step = (s.waits.len() / 2000).max(1);
        let mut pts: Vec<(f64, f64)> = vec![(1.0, 0.0)];
        for (i, &w) in s.waits.iter().enumerate() {
            let w = w.max(1.0);
            let last = i + 1 == s.waits.len();
            if w > x_max {
                pts.push((x_max, i as f64 / n * 100.0));
                break;
            }
            if i % step == 0 || last {
                pts.push((w, (i + 1) as f64 / n * 100.0));
            }
            if last {
                pts.push((x_max, 100.0));
            }
        }
        let p95 = crate::report::percentile(s.waits, 95.0);
        chart
            .draw_series(LineSeries::new(pts, color.stroke_width(3)))
            .map_err(err)?
            .label(format!(
                "{}: p50 {:.0} s, p95 {:.0} s ({} jobs)",
                s.label,
                crate::report::percentile(s.waits, 50.0),
                p95,
                s.waits.len()
            ))
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 24, y)], color.stroke_width(3))
            });
    }
    chart
        .configure_series_labels()
        .label_font(label_style())
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK.mix(0.5))
        .position(SeriesLabelPosition::LowerRight)
        .draw()
        .map_err(err)?;
    Ok(())
}

/// Booting, idle and busy instances and queued jobs over a replay (`report::Outcome::timeline`).
/// `title` names the config; the x axis is hours or days since the start of the trace.
pub fn draw_fleet<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    timeline: &Timeline,
    title: &str,
) -> Result<(), String> {
    let full_title = format!("Fleet over time: {title}");
    if timeline.t_seconds.is_empty() {
        return empty(
            area,
            &full_title,
            "no timeline was recorded (timeline_points = 0)",
        );
    }
    let span = timeline.t_seconds.last().copied().unwrap_or(0.0);
    let (unit, div) = if span > 3.0 * 86_400.0 {
        ("days", 86_400.0)
    } else {
        ("hours", 3_600.0)
    };
    let x_max = (span / div).max(1e-3);
    let y_max = timeline
        .booting
        .iter()
        .zip(&timeline.idle)
        .zip(&timeline.busy)
        .map(|((b, i), u)| b + i + u)
        .chain(timeline.queued_jobs.iter().copied())
        .max()
        .unwrap_or(0);
    let y_max = nice_max(f64::from(y_max.max(1)));
    area.fill(&WHITE).map_err(err)?;
    let mut chart = ChartBuilder::on(area)
        .caption(full_title, title_style())
        .margin(16)
        .x_label_area_size(56)
        .y_label_area_size(64)
        .build_cartesian_2d(0.0..x_max, 0.0..y_max)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc(format!("time since the first job ({unit})"))
        .y_desc("instances / jobs")
        .y_label_formatter(&|v| format!("{v:.0}"))
        .x_label_formatter(&|v| format!("{v:.1}"))
        .label_style(label_style())
        .axis_desc_style(desc_style())
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(err)?;
    let t: Vec<f64> = timeline.t_seconds.iter().map(|s| s / div).collect();
    // Stacked: busy at the bottom, idle on it, booting on top.
    let busy: Vec<f64> = timeline.busy.iter().map(|&v| f64::from(v)).collect();
    let idle: Vec<f64> = busy
        .iter()
        .zip(&timeline.idle)
        .map(|(b, &i)| b + f64::from(i))
        .collect();
    let booting: Vec<f64> = idle
        .iter()
        .zip(&timeline.booting)
        .map(|(i, &b)| i + f64::from(b))
        .collect();
    let zero = vec![0.0; t.len()];
    let layers: [(&str, &Vec<f64>, &Vec<f64>, RGBColor); 3] = [
        ("busy instances", &zero, &busy, FRONT_COLOR),
        ("idle instances", &busy, &idle, RECOMMENDED_COLOR),
        ("booting instances", &idle, &booting, BASE_COLOR),
    ];
    for (label, lower, upper, color) in layers {
        let mut poly: Vec<(f64, f64)> = t.iter().copied().zip(upper.iter().copied()).collect();
        poly.extend(t.iter().copied().zip(lower.iter().copied()).rev());
        chart
            .draw_series(std::iter::once(Polygon::new(
                poly,
                color.mix(0.55).filled(),
            )))
            .map_err(err)?
            .label(label)
            .legend(move |(x, y)| {
                Rectangle::new([(x, y - 6), (x + 24, y + 6)], color.mix(0.55).filled())
            });
    }
    let queued: Vec<(f64, f64)> = t
        .iter()
        .copied()
        .zip(timeline.queued_jobs.iter().map(|&v| f64::from(v)))
        .collect();
    chart
        .draw_series(LineSeries::new(queued, SLO_COLOR.stroke_width(2)))
        .map_err(err)?
        .label("queued jobs (waiting for a runner)")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], SLO_COLOR.stroke_width(2)));
    chart
        .configure_series_labels()
        .label_font(label_style())
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK.mix(0.5))
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(err)?;
    Ok(())
}

/// Cost by component (USD), one horizontal bar per config and component, with the amounts
/// written at the bars' ends and the totals in the legend.
pub fn draw_cost<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    bars: &[(&str, &Cost)],
) -> Result<(), String> {
    let title = "Cost by component over the trace";
    if bars.is_empty() {
        return empty(area, title, "no replay to show");
    }
    let names = [
        ("instances_spot", "spot instances"),
        ("instances_on_demand", "on-demand instances"),
        ("ebs", "EBS volumes"),
        ("lambda", "Lambda"),
        ("sqs", "SQS"),
        ("api_gateway", "API Gateway"),
    ];
    // Components some config pays for (all, when every one is zero).
    let mut comps: Vec<(usize, &str)> = names
        .iter()
        .enumerate()
        .filter(|(k, _)| bars.iter().any(|(_, c)| c.components()[*k].1 > 0.0))
        .map(|(k, (_, label))| (k, *label))
        .collect();
    if comps.is_empty() {
        comps = names
            .iter()
            .enumerate()
            .map(|(k, (_, l))| (k, *l))
            .collect();
    }
    let max = bars
        .iter()
        .flat_map(|(_, c)| c.components().map(|(_, v)| v))
        .fold(0.0, f64::max);
    let x_max = nice_max(max) * 1.15;
    let n = comps.len();
    area.fill(&WHITE).map_err(err)?;
    let labels: Vec<String> = comps.iter().map(|(_, l)| l.to_string()).collect();
    let mut chart = ChartBuilder::on(area)
        .caption(title, title_style())
        .margin(16)
        .x_label_area_size(56)
        .y_label_area_size(190)
        .build_cartesian_2d(0.0..x_max, 0.0..n as f64)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("USD")
        .label_style(label_style())
        .axis_desc_style(desc_style())
        .x_label_formatter(&|v| format!("${v:.0}"))
        .y_labels(0)
        .disable_y_mesh()
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(err)?;
    // Component names left of their rows, in pixels on the whole area.
    for (i, label) in labels.iter().enumerate() {
        let row = (n - 1 - i) as f64;
        let (px, py) = chart.backend_coord(&(0.0, row + 0.5));
        area.draw(&Text::new(
            label.clone(),
            (px - 10, py),
            label_style().pos(Pos::new(HPos::Right, VPos::Center)),
        ))
        .map_err(err)?;
    }
    let band = 0.8 / bars.len() as f64;
    for (j, (label, cost)) in bars.iter().enumerate() {
        let color = PALETTE[j % PALETTE.len()];
        let comp = cost.components();
        // Rows top to bottom in component order: row i sits at y = n-1-i.
        let rects: Vec<Rectangle<(f64, f64)>> = comps
            .iter()
            .enumerate()
            .map(|(i, (k, _))| {
                let row = (n - 1 - i) as f64;
                let top = row + 0.9 - band * j as f64;
                Rectangle::new([(0.0, top), (comp[*k].1, top - band * 0.9)], color.filled())
            })
            .collect();
        chart
            .draw_series(rects)
            .map_err(err)?
            .label(format!("{label}: total ${:.2}", cost.total))
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 24, y + 6)], color.filled()));
        let texts: Vec<Text<'_, (f64, f64), String>> = comps
            .iter()
            .enumerate()
            .map(|(i, (k, _))| {
                let row = (n - 1 - i) as f64;
                let mid = row + 0.9 - band * j as f64 - band * 0.45;
                let v = comp[*k].1;
                let s = if v >= 100.0 {
                    format!(" ${v:.0}")
                } else {
                    format!(" ${v:.2}")
                };
                Text::new(
                    s,
                    (v, mid),
                    label_style().pos(Pos::new(HPos::Left, VPos::Center)),
                )
            })
            .collect();
        chart.draw_series(texts).map_err(err)?;
    }
    chart
        .configure_series_labels()
        .label_font(label_style())
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK.mix(0.5))
        .position(SeriesLabelPosition::LowerRight)
        .draw()
        .map_err(err)?;
    Ok(())
}

/// Any of the charts, for code that draws them all the same way (files, canvases).
pub enum Chart<'a> {
    Pareto(&'a TuneResult),
    WaitCdf {
        series: Vec<WaitSeries<'a>>,
        slo_seconds: Option<f64>,
    },
    Fleet {
        timeline: &'a Timeline,
        title: &'a str,
    },
    Cost(Vec<(&'a str, &'a Cost)>),
}

/// Draws a chart on an area.
pub fn draw_chart<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    chart: &Chart<'_>,
) -> Result<(), String> {
    match chart {
        Chart::Pareto(r) => draw_pareto(area, r),
        Chart::WaitCdf {
            series,
            slo_seconds,
        } => draw_wait_cdf(area, series, *slo_seconds),
        Chart::Fleet { timeline, title } => draw_fleet(area, timeline, title),
        Chart::Cost(bars) => draw_cost(area, bars),
    }
}
