//! A search driven from the page: the tuner's deterministic [`Search`] hands out batches, the
//! page's workers evaluate them ([`crate::session::Session::evaluate`]) in any order, and the
//! driver records them. A cancelled search keeps what was recorded; its result is a
//! [`TuneResult`] like `flotilla tune`'s.

use flotilla_core::Config;
use flotilla_sim::tune::{recommended_tfvars, Evaluation, Objective, Search, Space, TuneResult};
use serde::{Deserialize, Serialize};

use crate::session::{parse_config, UserError};

/// What the page asks a search for.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchRequest {
    /// The base config (Terraform variables that differ from the defaults).
    #[serde(default)]
    pub config: serde_json::Value,
    pub space: Space,
    pub objective: Objective,
    pub max_evals: usize,
    pub seed: u64,
}

/// One config to evaluate.
#[derive(Clone, Debug, Serialize)]
pub struct Task {
    pub index: usize,
    /// The config's Terraform variables that differ from the defaults.
    pub config: serde_json::Map<String, serde_json::Value>,
}

/// Progress, for the page.
#[derive(Clone, Debug, Serialize)]
pub struct Progress {
    pub evaluated: usize,
    pub issued: usize,
    pub max_evals: usize,
    pub rounds: usize,
    pub done: bool,
}

pub struct Driver {
    search: Search,
}

impl Driver {
    pub fn new(request: &SearchRequest) -> Result<Driver, UserError> {
        let base = if request.config.is_null() {
            Config::default()
        } else {
            parse_config(&request.config)?
        };
        request
            .space
            .validate(&base)
            .map_err(|e| UserError::new("search", e))?;
        if !(request.objective.slo_p95_seconds.is_finite()
            && request.objective.slo_p95_seconds >= 0.0)
        {
            return Err(UserError::new(
                "search",
                "the p95 wait target must be a number of seconds, 0 or more",
            ));
        }
        if request.max_evals == 0 || request.max_evals > 5_000 {
            return Err(UserError::new(
                "search",
                "the number of configs to try must be 1-5000",
            ));
        }
        Ok(Driver {
            search: Search::new(
                &base,
                request.space.clone(),
                request.objective.clone(),
                request.max_evals,
                request.seed,
            ),
        })
    }

    /// The next batch, or `None` when the search is over (or a batch is outstanding).
    pub fn next_batch(&mut self) -> Option<Vec<Task>> {
        self.search.next_batch().map(|b| {
            b.into_iter()
                .map(|(index, c)| Task {
                    index,
                    config: c.to_tfvars(true),
                })
                .collect()
        })
    }

    pub fn record(&mut self, evaluations: Vec<Evaluation>) -> Result<(), UserError> {
        self.search
            .record(evaluations)
            .map_err(|e| UserError::new("search", e))
    }

    pub fn progress(&self) -> Progress {
        Progress {
            evaluated: self.search.evaluations().len(),
            issued: self.search.issued(),
            max_evals: self.search.max_evals(),
            rounds: self.search.rounds(),
            done: self.search.is_done(),
        }
    }

    pub fn result(&self) -> TuneResult {
        self.search.result()
    }

    /// The result with evaluations of the outstanding batch that are already back (to show
    /// progress within a batch, and to keep them when a search is cancelled): those that
    /// continue the recorded ones without a gap, since a result's evaluations are numbered by
    /// their position.
    pub fn result_with(&self, mut extra: Vec<Evaluation>) -> TuneResult {
        let recorded = self.search.result();
        if extra.is_empty() {
            return recorded;
        }
        extra.sort_by_key(|e| e.index);
        let mut evals = recorded.evaluations;
        for e in extra {
            if e.index == evals.len() {
                evals.push(e);
            } else if e.index > evals.len() {
                break;
            }
        }
        TuneResult::new(
            recorded.objective,
            recorded.space,
            recorded.seed,
            recorded.max_evals,
            evals,
        )
    }
}

/// What the page shows of a result besides the chart.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    pub summary: String,
    pub front_table: String,
    /// `recommended.tfvars.json` (pretty JSON and a newline); `None` when nothing was
    /// recommended.
    pub recommended_tfvars: Option<String>,
    /// The base config's variables that differ from the defaults.
    pub base_tfvars: Option<serde_json::Map<String, serde_json::Value>>,
    pub meets_slo: bool,
    pub evaluated: usize,
}

pub fn summarise(result: &TuneResult) -> Summary {
    Summary {
        summary: result.summary(),
        front_table: result.front_table(),
        recommended_tfvars: result.recommended().map(|e| {
            serde_json::to_string_pretty(&recommended_tfvars(&e.config)).expect("tfvars serialise")
                + "\n"
        }),
        base_tfvars: result.base().map(|e| e.config.to_tfvars(true)),
        meets_slo: result.recommendation.as_ref().is_some_and(|r| r.meets_slo),
        evaluated: result.evaluations.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::{ReplayRequest, Session};

    #[test]
    fn a_search_driven_one_by_one_finds_a_recommendation() {
        let mut s = Session::new();
        let req = ReplayRequest::from_json(r#"{"config": {}, "seed": 2, "days": 1}"#).unwrap();
        let space = s.search_space(&req).unwrap();
        let objective = Objective::default();
        let mut d = Driver::new(&SearchRequest {
            config: serde_json::json!({}),
            space,
            objective: objective.clone(),
            max_evals: 12,
            seed: 2,
        })
        .unwrap();
        let mut seen = 0;
        while let Some(batch) = d.next_batch() {
            // Evaluated last to first: the order must not matter.
            let evals: Vec<Evaluation> = batch
                .iter()
                .rev()
                .map(|t| {
                    let v = serde_json::Value::Object(t.config.clone());
                    s.evaluate(&req, t.index, &v, &objective).unwrap()
                })
                .collect();
            seen += evals.len();
            d.record(evals).unwrap();
        }
        assert_eq!(seen, 12);
        let p = d.progress();
        assert!(p.done);
        assert_eq!(p.evaluated, 12);
        let r = d.result();
        let sum = summarise(&r);
        assert!(sum.recommended_tfvars.is_some(), "{}", sum.summary);
        assert!(!r.front.is_empty());
        let tfvars: serde_json::Value =
            serde_json::from_str(sum.recommended_tfvars.as_deref().unwrap()).unwrap();
        assert!(flotilla_core::Config::from_value(tfvars).is_ok());
        assert_eq!(sum.base_tfvars.unwrap().len(), 0);
        // The result survives JSON (the page draws it on the main thread).
        let back: TuneResult = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(back.front, r.front);
    }

    #[test]
    fn evaluations_of_an_unrecorded_batch_count_up_to_the_first_gap() {
        let mut s = Session::new();
        let req = ReplayRequest::from_json(r#"{"config": {}, "seed": 1, "days": 1}"#).unwrap();
        let objective = Objective::default();
        let mut d = Driver::new(&SearchRequest {
            config: serde_json::json!({}),
            space: s.search_space(&req).unwrap(),
            objective: objective.clone(),
            max_evals: 10,
            seed: 1,
        })
        .unwrap();
        let batch = d.next_batch().unwrap();
        assert!(batch.len() >= 4, "{}", batch.len());
        let mut eval = |t: &Task| {
            let v = serde_json::Value::Object(t.config.clone());
            s.evaluate(&req, t.index, &v, &objective).unwrap()
        };
        // Back: 3, 0 and 1 (2 still running).
        let back: Vec<Evaluation> = [3, 0, 1].iter().map(|&i| eval(&batch[i])).collect();
        let r = d.result_with(back);
        assert_eq!(r.evaluations.len(), 2);
        assert!(r.evaluations.iter().enumerate().all(|(i, e)| e.index == i));
        // Everything the page shows of it works.
        let sum = summarise(&r);
        assert!(
            sum.summary.contains("2 configs evaluated"),
            "{}",
            sum.summary
        );
        assert!(!sum.front_table.is_empty());
    }

    #[test]
    fn bad_search_requests_are_errors() {
        let mk = |max: usize, slo: f64| SearchRequest {
            config: serde_json::json!({}),
            space: Space::default(),
            objective: Objective {
                slo_p95_seconds: slo,
                ..Objective::default()
            },
            max_evals: max,
            seed: 1,
        };
        assert!(Driver::new(&mk(0, 120.0)).is_err());
        assert!(Driver::new(&mk(10, f64::NAN)).is_err());
        assert!(Driver::new(&mk(10, 120.0)).is_ok());
        let mut bad = mk(10, 120.0);
        bad.config = serde_json::json!({"delay_webhook_event": "soon"});
        let e = Driver::new(&bad).err().unwrap();
        assert!(e.reason.contains("delay_webhook_event"), "{e}");
    }
}
