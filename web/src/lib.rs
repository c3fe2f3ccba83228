//! Flotilla in the browser: a wasm-bindgen API over `flotilla-sim` for the what-if page.
//!
//! - [`SimSession`] runs in Web Workers: it holds the uploaded trace and price files, replays a
//!   config (the report's JSON is byte-identical to `flotilla replay --json` for the same inputs)
//!   and evaluates the configs of a search.
//! - [`SearchDriver`] runs on the page: the tuner's deterministic search hands out batches of
//!   configs, the workers evaluate them, the driver records them; cancelling keeps what was
//!   recorded.
//! - [`draw_chart`] draws the simulator's own charts (`flotilla_sim::plot`, the ones `flotilla
//!   replay --plot` writes) on a `<canvas>` with plotters-canvas, scaled for the screen.
//!
//! The simulation reads no clock and draws no OS randomness: every draw comes from the seed.
//! The logic lives in plain-Rust modules ([`session`], [`search`], [`scaled`]) tested natively;
//! this file only converts between them and JavaScript.

#[cfg(all(target_family = "wasm", not(target_feature = "atomics")))]
#[global_allocator]
static TALC: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

pub mod scaled;
pub mod search;
pub mod session;

use flotilla_sim::plot::{self, WaitSeries};
use flotilla_sim::report::{Cost, Timeline};
use flotilla_sim::tune::{Evaluation, Objective, TuneResult};
use plotters::coord::Shift;
use plotters::prelude::*;
use serde::Deserialize;
use wasm_bindgen::prelude::*;

use session::{ReplayRequest, Session, UserError};

fn js_err(e: UserError) -> JsError {
    JsError::new(&e.to_string())
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<String, JsError> {
    serde_json::to_string(v).map_err(|e| JsError::new(&format!("cannot serialise: {e}")))
}

fn from_json<T: serde::de::DeserializeOwned>(what: &str, text: &str) -> Result<T, JsError> {
    serde_json::from_str(text).map_err(|e| JsError::new(&format!("{what}: {e}")))
}

/// A worker's simulation state: uploaded inputs and the scenario built from them.
#[wasm_bindgen]
pub struct SimSession {
    inner: Session,
    last: Option<session::ReplayResult>,
}

#[wasm_bindgen]
impl SimSession {
    #[wasm_bindgen(constructor)]
    #[allow(clippy::new_without_default)]
    pub fn new() -> SimSession {
        SimSession {
            inner: Session::new(),
            last: None,
        }
    }

    /// Loads a trace (any format `flotilla replay --trace` accepts). Returns a JSON summary
    /// `{name, format, jobs, description}`; throws "file, line N: reason" on bad input.
    pub fn load_trace(&mut self, name: &str, bytes: &[u8]) -> Result<String, JsError> {
        to_json(&self.inner.load_trace(name, bytes).map_err(js_err)?)
    }

    /// Back to the built-in demo workload.
    pub fn clear_trace(&mut self) {
        self.inner.clear_trace();
    }

    /// Adds a price file (any format `flotilla replay --prices` accepts), checked against the
    /// region and OS of `config_json`. Returns `{name, format, description}`.
    pub fn add_prices(
        &mut self,
        name: &str,
        bytes: &[u8],
        config_json: &str,
    ) -> Result<String, JsError> {
        let value: serde_json::Value = from_json("config", config_json)?;
        let config = session::parse_config(&value).map_err(js_err)?;
        to_json(
            &self
                .inner
                .add_prices(name, bytes, &config)
                .map_err(js_err)?,
        )
    }

    /// Back to the built-in price table.
    pub fn clear_prices(&mut self) {
        self.inner.clear_prices();
    }

    /// One replay. `request_json` is `{config, seed, days}`; the result is the JSON of
    /// [`session::ReplayResult`], whose `report_json` is what `flotilla replay --json` prints.
    pub fn replay(&mut self, request_json: &str) -> Result<String, JsError> {
        self.run_replay(request_json)?;
        self.take_result()
    }

    /// The replay alone (the worker times it): the result waits for [`SimSession::take_result`].
    pub fn run_replay(&mut self, request_json: &str) -> Result<(), JsError> {
        let request = ReplayRequest::from_json(request_json).map_err(js_err)?;
        self.last = Some(self.inner.replay(&request).map_err(js_err)?);
        Ok(())
    }

    /// The result of the last [`SimSession::run_replay`], as JSON.
    pub fn take_result(&mut self) -> Result<String, JsError> {
        let r = self
            .last
            .take()
            .ok_or_else(|| JsError::new("no replay to take the result of"))?;
        to_json(&r)
    }

    /// The tuner's search space around the scenario of `request_json` (its config is the base).
    pub fn search_space(&mut self, request_json: &str) -> Result<String, JsError> {
        let request = ReplayRequest::from_json(request_json).map_err(js_err)?;
        to_json(&self.inner.search_space(&request).map_err(js_err)?)
    }

    /// Evaluates one config of a search (`config_json`: its Terraform variables) on the
    /// scenario of `request_json`. Returns the tuner's `Evaluation` as JSON.
    pub fn evaluate(
        &mut self,
        request_json: &str,
        index: usize,
        config_json: &str,
        objective_json: &str,
    ) -> Result<String, JsError> {
        let request = ReplayRequest::from_json(request_json).map_err(js_err)?;
        let config: serde_json::Value = from_json("config", config_json)?;
        let objective: Objective = from_json("objective", objective_json)?;
        to_json(
            &self
                .inner
                .evaluate(&request, index, &config, &objective)
                .map_err(js_err)?,
        )
    }
}

/// The tuner's search, driven from the page.
#[wasm_bindgen]
pub struct SearchDriver {
    inner: search::Driver,
}

#[wasm_bindgen]
impl SearchDriver {
    /// `request_json`: `{config, space, objective, max_evals, seed}` (space from
    /// [`SimSession::search_space`]).
    #[wasm_bindgen(constructor)]
    pub fn new(request_json: &str) -> Result<SearchDriver, JsError> {
        let request: search::SearchRequest = from_json("search request", request_json)?;
        Ok(SearchDriver {
            inner: search::Driver::new(&request).map_err(js_err)?,
        })
    }

    /// The next batch as JSON `[{index, config}]`, or `undefined` when the search is over.
    pub fn next_batch(&mut self) -> Option<String> {
        self.inner
            .next_batch()
            .and_then(|b| serde_json::to_string(&b).ok())
    }

    /// Records the evaluations of the outstanding batch (JSON array, any order).
    pub fn record(&mut self, evaluations_json: &str) -> Result<(), JsError> {
        let evals: Vec<Evaluation> = from_json("evaluations", evaluations_json)?;
        self.inner.record(evals).map_err(js_err)
    }

    /// `{evaluated, issued, max_evals, rounds, done}`.
    pub fn progress(&self) -> String {
        serde_json::to_string(&self.inner.progress()).unwrap_or_default()
    }

    /// The result so far (`flotilla tune --json`'s shape), with `extra_json`: evaluations of
    /// the outstanding batch already back (a JSON array, may be empty).
    pub fn result(&self, extra_json: &str) -> Result<String, JsError> {
        let extra: Vec<Evaluation> = from_json("evaluations", extra_json)?;
        Ok(self.inner.result_with(extra).to_json())
    }

    /// `{summary, front_table, recommended_tfvars, base_tfvars, meets_slo, evaluated}` of the
    /// result so far (with `extra_json` as in [`SearchDriver::result`]).
    pub fn summary(&self, extra_json: &str) -> Result<String, JsError> {
        let extra: Vec<Evaluation> = from_json("evaluations", extra_json)?;
        to_json(&search::summarise(&self.inner.result_with(extra)))
    }
}

static LAST_PANIC: std::sync::Mutex<String> = std::sync::Mutex::new(String::new());

/// Keeps the message of a panic (a bug) so the page can show it: in wasm a panic aborts with a
/// bare "unreachable" trap.
#[wasm_bindgen(start)]
pub fn start() {
    std::panic::set_hook(Box::new(|info| {
        if let Ok(mut m) = LAST_PANIC.lock() {
            *m = info.to_string();
        }
    }));
}

/// The message of the last panic, if any.
#[wasm_bindgen]
pub fn last_panic() -> String {
    LAST_PANIC.lock().map(|m| m.clone()).unwrap_or_default()
}

/// Checks config text (an uploaded `.tfvars.json`, or the URL's config) and returns the variables
/// that differ from the defaults, as JSON. Throws every problem, one per line.
#[wasm_bindgen]
pub fn check_config(name: &str, text: &str) -> Result<String, JsError> {
    let config = session::parse_config_text(name, text).map_err(js_err)?;
    to_json(&config.to_tfvars(true))
}

/// The default config, every variable, as JSON (what the controls start from).
#[wasm_bindgen]
pub fn default_config() -> String {
    serde_json::to_string(&flotilla_core::Config::default().to_tfvars(false))
        .unwrap_or_else(|_| "{}".into())
}

/// The default search objective as JSON.
#[wasm_bindgen]
pub fn default_objective() -> String {
    serde_json::to_string(&Objective::default()).unwrap_or_default()
}

/// The crate's version, shown in the page footer.
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

/// Draws one of the simulator's charts on the canvas with id `canvas_id`, laid out as if the
/// canvas were `1/k` of its pixel size (`k`: physical pixels per layout pixel).
///
/// `kind` and `data_json`:
/// - `fleet`: `{timeline, title}` (a replay's timeline)
/// - `cdf`: `{series: [{label, waits}], slo_seconds}` (sorted waits)
/// - `cost`: `{bars: [{label, cost}]}` (reports' `cost_usd`)
/// - `pareto`: a search result (`flotilla tune --json`)
#[wasm_bindgen]
pub fn draw_chart(kind: &str, canvas_id: &str, data_json: &str, k: f64) -> Result<(), JsError> {
    let backend = plotters_canvas::CanvasBackend::new(canvas_id)
        .ok_or_else(|| JsError::new(&format!("no canvas with id {canvas_id}")))?;
    let root = scaled::Scaled::new(backend, k).into_drawing_area();
    draw_on(&root, kind, data_json).map_err(|e| JsError::new(&e))?;
    root.present()
        .map_err(|e| JsError::new(&format!("cannot draw: {e:?}")))
}

#[derive(Deserialize)]
struct FleetData {
    timeline: Timeline,
    title: String,
}

#[derive(Deserialize)]
struct CdfSeries {
    label: String,
    waits: Vec<f64>,
}

#[derive(Deserialize)]
struct CdfData {
    series: Vec<CdfSeries>,
    #[serde(default)]
    slo_seconds: Option<f64>,
}

#[derive(Deserialize)]
struct CostBar {
    label: String,
    cost: Cost,
}

#[derive(Deserialize)]
struct CostData {
    bars: Vec<CostBar>,
}

fn parse<T: serde::de::DeserializeOwned>(kind: &str, text: &str) -> Result<T, String> {
    serde_json::from_str(text).map_err(|e| format!("{kind} chart: bad data: {e}"))
}

/// Draws a chart of `kind` from its JSON data on any backend.
pub fn draw_on<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    kind: &str,
    data_json: &str,
) -> Result<(), String> {
    match kind {
        "fleet" => {
            let d: FleetData = parse(kind, data_json)?;
            plot::draw_fleet(root, &d.timeline, &d.title)
        }
        "cdf" => {
            let d: CdfData = parse(kind, data_json)?;
            let mut series = Vec::with_capacity(d.series.len());
            for s in &d.series {
                if s.waits.windows(2).any(|w| w[0] > w[1]) {
                    return Err(format!(
                        "cdf chart: the waits of {} are not sorted",
                        s.label
                    ));
                }
                series.push(WaitSeries {
                    label: &s.label,
                    waits: &s.waits,
                });
            }
            plot::draw_wait_cdf(root, &series, d.slo_seconds)
        }
        "cost" => {
            let d: CostData = parse(kind, data_json)?;
            let bars: Vec<(&str, &Cost)> =
                d.bars.iter().map(|b| (b.label.as_str(), &b.cost)).collect();
            plot::draw_cost(root, &bars)
        }
        "pareto" => {
            let r: TuneResult = parse(kind, data_json)?;
            plot::draw_pareto(root, &r)
        }
        other => Err(format!("unknown chart `{other}`")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scaled::tests::Recorder;

    fn texts(kind: &str, data: &str) -> Vec<String> {
        static FONTS: std::sync::Once = std::sync::Once::new();
        FONTS.call_once(|| {
            use plotters::style::{register_font, FontStyle};
            let _ = register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular());
            let _ = register_font("sans-serif", FontStyle::Bold, dejavu::sans::bold());
        });
        let (rec, log) = Recorder::new(1200, 720);
        {
            let root = scaled::Scaled::new(rec, 2.0).into_drawing_area();
            draw_on(&root, kind, data).unwrap();
        }
        let log = log.borrow();
        log.texts.iter().map(|t| t.0.clone()).collect()
    }

    #[test]
    fn every_chart_draws_from_a_replay_result() {
        let mut s = Session::new();
        let req = ReplayRequest::from_json(r#"{"days": 1}"#).unwrap();
        let r = s.replay(&req).unwrap();
        let report: flotilla_sim::report::Report = serde_json::from_str(&r.report_json).unwrap();
        let fleet = serde_json::json!({"timeline": r.timeline, "title": "current config"});
        let t = texts("fleet", &fleet.to_string());
        assert!(t.iter().any(|x| x.contains("current config")), "{t:?}");
        let cdf = serde_json::json!({"series": [{"label": "current", "waits": r.waits}], "slo_seconds": 120.0});
        let t = texts("cdf", &cdf.to_string());
        assert!(t.iter().any(|x| x.starts_with("current: p50")), "{t:?}");
        let cost = serde_json::json!({"bars": [{"label": "current", "cost": report.cost_usd}]});
        let t = texts("cost", &cost.to_string());
        assert!(t.iter().any(|x| x.starts_with("current: total $")), "{t:?}");
    }

    #[test]
    fn bad_chart_data_is_an_error_not_a_panic() {
        let (rec, _) = Recorder::new(100, 100);
        let root = rec.into_drawing_area();
        assert!(draw_on(&root, "fleet", "{").is_err());
        assert!(draw_on(&root, "nope", "{}").is_err());
        let unsorted = r#"{"series": [{"label": "x", "waits": [3, 1]}]}"#;
        assert!(draw_on(&root, "cdf", unsorted)
            .unwrap_err()
            .contains("not sorted"));
        // Empty data draws a message.
        let empty = r#"{"series": [], "slo_seconds": null}"#;
        assert!(draw_on(&root, "cdf", empty).is_ok());
    }
}
