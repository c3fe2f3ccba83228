//! The search: a deterministic state machine handing out batches of configs and taking back
//! their evaluations. Batches depend only on the seed and on earlier results, never on who
//! evaluated them or in what order, so a parallel run, a one-by-one run in a Web Worker and a
//! run on another machine give the same evaluations.

use std::collections::BTreeSet;

use flotilla_core::Config;

use super::space::{Point, Space, DIMENSIONS};
use super::{pareto_front, recommend, Evaluation, Objective, Recommendation, TuneResult};
use crate::rng::SimRng;

/// Dimensions whose values are ordered (a neighbour is one step up or down); the others are
/// categories (a neighbour is any other value).
const ORDERED: [bool; DIMENSIONS] = [
    true,  // delay
    true,  // minimum running time
    false, // idle window
    true,  // idle count
    true,  // pool size
    true,  // maximum count
    false, // ephemeral
    false, // instance types
    false, // capacity type
    false, // allocation strategy
];

/// Tries to find an unseen neighbour before falling back to a random point.
const TRIES: usize = 64;

/// The tuner's search.
///
/// ```text
/// let mut search = Search::new(&base, space, objective, 200, seed);
/// while let Some(batch) = search.next_batch() {
///     let evals = batch.iter().map(|(i, c)| evaluate(&scenario, *i, c, &objective)).collect();
///     search.record(evals)?;
/// }
/// let result = search.result();
/// ```
///
/// Round 0 is the base config (always index 0), the point of the space nearest to it, and a
/// seeded Latin-hypercube sample of the space (about 40 % of the budget). Each later round
/// (about 1/8 of the budget) mutates one or two dimensions of promising configs: the cheapest
/// ones meeting the SLO (or, when none does, the ones closest to it) and the members of the
/// Pareto front of cost vs p95 wait. A config is never evaluated twice.
pub struct Search {
    base: Config,
    space: Space,
    objective: Objective,
    max_evals: usize,
    seed: u64,
    rng: SimRng,
    /// Configs handed out so far (their JSON), to evaluate each once.
    seen: BTreeSet<String>,
    /// The point of each index (`None`: the base config).
    points: Vec<Option<Point>>,
    evaluations: Vec<Evaluation>,
    /// Indices of the batch handed out and not yet recorded.
    outstanding: Vec<usize>,
    round: usize,
    exhausted: bool,
}

impl Search {
    /// A search of at most `max_evals` configs (at least 1: the base).
    pub fn new(
        base: &Config,
        space: Space,
        objective: Objective,
        max_evals: usize,
        seed: u64,
    ) -> Search {
        Search {
            base: base.clone(),
            space,
            objective,
            max_evals: max_evals.max(1),
            seed,
            rng: SimRng::fork(seed, 0x7475_6e65),
            seen: BTreeSet::new(),
            points: Vec::new(),
            evaluations: Vec::new(),
            outstanding: Vec::new(),
            round: 0,
            exhausted: false,
        }
    }

    pub fn space(&self) -> &Space {
        &self.space
    }
    pub fn objective(&self) -> &Objective {
        &self.objective
    }
    pub fn max_evals(&self) -> usize {
        self.max_evals
    }
    /// Configs handed out so far (evaluated or outstanding).
    pub fn issued(&self) -> usize {
        self.points.len()
    }
    /// Evaluations recorded so far, in index order.
    pub fn evaluations(&self) -> &[Evaluation] {
        &self.evaluations
    }
    /// Rounds handed out so far.
    pub fn rounds(&self) -> usize {
        self.round
    }
    /// True when no further batch will come.
    pub fn is_done(&self) -> bool {
        self.outstanding.is_empty() && (self.points.len() >= self.max_evals || self.exhausted)
    }

    fn batch_size(&self) -> usize {
        let left = self.max_evals - self.points.len();
        if self.round == 0 {
            (self.max_evals * 2 / 5).max(2).min(left)
        } else {
            (self.max_evals / 8).max(4).min(left)
        }
    }

    fn key(c: &Config) -> String {
        serde_json::to_string(c).expect("config serialises")
    }

    /// Hands out the next batch: `(index, config)` pairs to evaluate, in index order. `None`
    /// when the search is over, or while the previous batch is not recorded yet.
    pub fn next_batch(&mut self) -> Option<Vec<(usize, Config)>> {
        if !self.outstanding.is_empty() || self.is_done() {
            return None;
        }
        let n = self.batch_size();
        let mut batch: Vec<(usize, Config)> = Vec::with_capacity(n);
        if self.round == 0 {
            self.try_add(None, &mut batch);
            let near = self.space.nearest_point(&self.base);
            if batch.len() < n {
                self.try_add(Some(near), &mut batch);
            }
            let want = n.saturating_sub(batch.len());
            for p in self.latin_hypercube(want) {
                if batch.len() >= n {
                    break;
                }
                if !self.try_add(Some(p), &mut batch) {
                    // A collision: a random point instead.
                    self.add_random(&mut batch);
                }
            }
        } else {
            let parents = self.parents();
            let mut k = 0;
            while batch.len() < n {
                let mut placed = false;
                if !parents.is_empty() {
                    let parent = parents[k % parents.len()];
                    k += 1;
                    for _ in 0..TRIES {
                        let p = self.mutate(&parent);
                        if self.try_add(Some(p), &mut batch) {
                            placed = true;
                            break;
                        }
                    }
                }
                if !placed && !self.add_random(&mut batch) {
                    self.exhausted = true;
                    break;
                }
            }
        }
        self.round += 1;
        if batch.is_empty() {
            self.exhausted = true;
            return None;
        }
        self.outstanding = batch.iter().map(|(i, _)| *i).collect();
        Some(batch)
    }

    /// Adds a config to the batch unless it was handed out before.
    fn try_add(&mut self, point: Option<Point>, batch: &mut Vec<(usize, Config)>) -> bool {
        let config = match point {
            Some(p) => self.space.config(&self.base, &p),
            None => self.base.clone(),
        };
        if self.seen.insert(Self::key(&config)) {
            let index = self.points.len();
            self.points.push(point);
            batch.push((index, config));
            true
        } else {
            false
        }
    }

    fn add_random(&mut self, batch: &mut Vec<(usize, Config)>) -> bool {
        for _ in 0..TRIES {
            let p = self.random_point();
            if self.try_add(Some(p), batch) {
                return true;
            }
        }
        false
    }

    /// Takes the evaluations of the outstanding batch (any order). Errors when they are not
    /// exactly the batch handed out.
    pub fn record(&mut self, mut evaluations: Vec<Evaluation>) -> Result<(), String> {
        evaluations.sort_by_key(|e| e.index);
        let got: Vec<usize> = evaluations.iter().map(|e| e.index).collect();
        if got != self.outstanding {
            return Err(format!(
                "recorded evaluations {got:?} are not the outstanding batch {:?}",
                self.outstanding
            ));
        }
        self.outstanding.clear();
        self.evaluations.extend(evaluations);
        Ok(())
    }

    /// The result so far (also after a cancel: only recorded evaluations count).
    pub fn result(&self) -> TuneResult {
        TuneResult::new(
            self.objective.clone(),
            self.space.clone(),
            self.seed,
            self.max_evals,
            self.evaluations.clone(),
        )
    }

    /// The recommendation so far.
    pub fn recommendation(&self) -> Option<Recommendation> {
        recommend(&self.evaluations, &self.objective)
    }

    fn random_point(&mut self) -> Point {
        let dims = self.space.dimensions();
        let mut p = [0; DIMENSIONS];
        for d in 0..DIMENSIONS {
            p[d] = self.below(dims[d]);
        }
        p
    }

    fn below(&mut self, n: usize) -> usize {
        if n <= 1 {
            0
        } else {
            (self.rng.next_u64() % n as u64) as usize
        }
    }

    /// `n` points, each dimension's values spread evenly over them in a shuffled order.
    fn latin_hypercube(&mut self, n: usize) -> Vec<Point> {
        let dims = self.space.dimensions();
        let mut columns: Vec<Vec<usize>> = Vec::with_capacity(DIMENSIONS);
        for &k in &dims {
            let mut col: Vec<usize> = (0..n).map(|i| i * k / n.max(1)).collect();
            // Fisher-Yates.
            for i in (1..col.len()).rev() {
                let j = self.below(i + 1);
                col.swap(i, j);
            }
            columns.push(col);
        }
        (0..n)
            .map(|i| {
                let mut p = [0; DIMENSIONS];
                for d in 0..DIMENSIONS {
                    p[d] = columns[d][i];
                }
                p
            })
            .collect()
    }

    /// One or two dimensions changed: ordered ones by a step, categories to another value.
    fn mutate(&mut self, parent: &Point) -> Point {
        let dims = self.space.dimensions();
        let free: Vec<usize> = (0..DIMENSIONS).filter(|&d| dims[d] > 1).collect();
        let mut p = *parent;
        if free.is_empty() {
            return p;
        }
        let changes = 1 + usize::from(self.rng.chance(0.35));
        for _ in 0..changes {
            let d = free[self.below(free.len())];
            let k = dims[d];
            if ORDERED[d] {
                let up = self.rng.chance(0.5);
                p[d] = match (up, p[d]) {
                    (true, v) if v + 1 < k => v + 1,
                    (true, v) => v - 1,
                    (false, 0) => 1,
                    (false, v) => v - 1,
                };
            } else {
                let other = self.below(k - 1);
                p[d] = if other >= p[d] { other + 1 } else { other };
            }
        }
        p
    }

    /// Points to refine around, best first: the cheapest configs meeting the SLO (or those
    /// closest to it), then the Pareto front by cost.
    fn parents(&self) -> Vec<Point> {
        let point_of =
            |i: usize| self.points[i].unwrap_or_else(|| self.space.nearest_point(&self.base));
        let valid: Vec<&Evaluation> = self
            .evaluations
            .iter()
            .filter(|e| e.rejected.is_none())
            .collect();
        let mut ranked: Vec<&Evaluation> = valid
            .iter()
            .copied()
            .filter(|e| e.metrics.wait_seconds.p95 <= self.objective.slo_p95_seconds)
            .collect();
        if ranked.is_empty() {
            ranked = valid.clone();
            ranked.sort_by(|a, b| {
                a.metrics
                    .wait_seconds
                    .p95
                    .total_cmp(&b.metrics.wait_seconds.p95)
                    .then(a.index.cmp(&b.index))
            });
        } else {
            ranked.sort_by(|a, b| {
                a.metrics
                    .cost_usd
                    .total
                    .total_cmp(&b.metrics.cost_usd.total)
                    .then(a.index.cmp(&b.index))
            });
        }
        let mut out: Vec<usize> = ranked.iter().take(4).map(|e| e.index).collect();
        // The best one twice: most of the budget goes next to the answer.
        if let Some(&best) = out.first() {
            out.insert(1, best);
        }
        for i in pareto_front(&self.evaluations) {
            if !out.contains(&i) {
                out.push(i);
            }
        }
        out.into_iter().map(point_of).collect()
    }
}
