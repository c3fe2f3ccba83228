//! What the tuner may change: one list of choices per dimension, applied on top of a base config.

use flotilla_core::config::{
    AllocationStrategy, CapacityType, EvictionStrategy, IdleConfig, PoolConfig, RunnerArchitecture,
};
use flotilla_core::{Config, Timestamp};
use serde::{Deserialize, Serialize};

use crate::engine::Scenario;
use crate::prices::PriceBook;

/// When the `idle_config` entry the tuner adds holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdleWindow {
    /// No idle runners are kept (the base config's own `idle_config` is dropped too).
    None,
    /// Monday to Friday, 07:00-18:59 in [`Space::time_zone`].
    WorkingHours,
    /// Around the clock.
    Always,
}

impl IdleWindow {
    /// The 6-field cron (seconds first) `idle_config` takes, or `None`.
    pub fn cron(self) -> Option<&'static str> {
        match self {
            IdleWindow::None => None,
            IdleWindow::WorkingHours => Some("* * 7-18 * * 1-5"),
            IdleWindow::Always => Some("* * * * * *"),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            IdleWindow::None => "none",
            IdleWindow::WorkingHours => "working-hours",
            IdleWindow::Always => "always",
        }
    }
}

/// The candidate values of every dimension the tuner searches. Each list is ordered (small to
/// large where that means something), so "a neighbour" is the next value up or down.
///
/// A dimension with one value is fixed. Values that cannot combine are normalised when a point is
/// turned into a config ([`Space::config`]): on-demand fleets use `lowest-price`; an idle count is
/// ignored without an idle window; pools need organization runners.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Space {
    /// `delay_webhook_event`, seconds.
    pub delay_webhook_event: Vec<u32>,
    /// `minimum_running_time_in_minutes`.
    pub minimum_running_time_in_minutes: Vec<u32>,
    /// When idle runners are kept (`idle_config` cron).
    pub idle_window: Vec<IdleWindow>,
    /// How many (`idle_config` idleCount).
    pub idle_count: Vec<u32>,
    /// `pool_config` size (0: no pool). Only searched for organization runners with a
    /// `pool_runner_owner`; otherwise `[0]` and [`Space::notes`] says why.
    pub pool_size: Vec<u32>,
    /// `pool_config` schedule of the pool the tuner adds.
    pub pool_schedule: String,
    /// `runners_maximum_count`.
    pub runners_maximum_count: Vec<u32>,
    /// `enable_ephemeral_runners`.
    pub ephemeral: Vec<bool>,
    /// `instance_types` candidates: each entry is one whole list.
    pub instance_types: Vec<Vec<String>>,
    /// `instance_target_capacity_type`.
    pub capacity_type: Vec<CapacityType>,
    /// `instance_allocation_strategy` (spot only; on-demand is always lowest-price).
    pub allocation_strategy: Vec<AllocationStrategy>,
    /// IANA zone of the idle windows and the pool schedule.
    pub time_zone: String,
    /// What was left out or fixed, and why (printed by `flotilla tune`).
    pub notes: Vec<String>,
}

/// Instance families the tuner draws from (x86_64); sizes follow the base config.
pub const X64_FAMILIES: &[&str] = &[
    "c5", "c5a", "c6a", "c6i", "c7a", "c7i", "m5", "m5a", "m6a", "m6i", "m7a", "m7i",
];
/// Graviton families, for `runner_architecture = "arm64"`.
pub const ARM64_FAMILIES: &[&str] = &["c6g", "c7g", "m6g", "m7g", "c6gd", "m6gd"];

impl Default for Space {
    fn default() -> Self {
        Space {
            delay_webhook_event: vec![0, 5, 10, 30, 60],
            minimum_running_time_in_minutes: vec![1, 2, 5, 10, 20, 30],
            idle_window: vec![
                IdleWindow::None,
                IdleWindow::WorkingHours,
                IdleWindow::Always,
            ],
            idle_count: vec![1, 2, 4, 8],
            pool_size: vec![0],
            pool_schedule: "cron(*/5 7-18 ? * MON-FRI *)".into(),
            runners_maximum_count: vec![5, 10, 20, 40],
            ephemeral: vec![false, true],
            instance_types: vec![
                vec!["m5.large".into(), "c5.large".into()],
                vec!["c5.large".into()],
                vec!["m5.large".into()],
            ],
            capacity_type: vec![CapacityType::Spot, CapacityType::OnDemand],
            allocation_strategy: vec![
                AllocationStrategy::LowestPrice,
                AllocationStrategy::PriceCapacityOptimized,
                AllocationStrategy::CapacityOptimized,
                AllocationStrategy::Diversified,
            ],
            time_zone: "UTC".into(),
            notes: Vec::new(),
        }
    }
}

/// A point of the space: an index into each dimension's list, in the order of
/// [`Space::dimensions`].
pub type Point = [usize; DIMENSIONS];

/// Number of dimensions.
pub const DIMENSIONS: usize = 10;

impl Space {
    /// Sizes of the dimensions, in [`Point`] order: delay, minimum running time, idle window,
    /// idle count, pool size, maximum count, ephemeral, instance types, capacity type,
    /// allocation strategy.
    pub fn dimensions(&self) -> [usize; DIMENSIONS] {
        [
            self.delay_webhook_event.len(),
            self.minimum_running_time_in_minutes.len(),
            self.idle_window.len(),
            self.idle_count.len(),
            self.pool_size.len(),
            self.runners_maximum_count.len(),
            self.ephemeral.len(),
            self.instance_types.len(),
            self.capacity_type.len(),
            self.allocation_strategy.len(),
        ]
    }

    /// Names of the dimensions, in [`Point`] order.
    pub const DIMENSION_NAMES: [&'static str; DIMENSIONS] = [
        "delay_webhook_event",
        "minimum_running_time_in_minutes",
        "idle_window",
        "idle_count",
        "pool_size",
        "runners_maximum_count",
        "enable_ephemeral_runners",
        "instance_types",
        "instance_target_capacity_type",
        "instance_allocation_strategy",
    ];

    /// Number of distinct points (saturating).
    pub fn size(&self) -> u64 {
        self.dimensions()
            .iter()
            .fold(1u64, |a, &n| a.saturating_mul(n as u64))
    }

    /// Checks every dimension has a value, and that the values make valid configs with `base`.
    pub fn validate(&self, base: &Config) -> Result<(), String> {
        for (n, name) in self.dimensions().iter().zip(Self::DIMENSION_NAMES) {
            if *n == 0 {
                return Err(format!("the search space has no value for {name}"));
            }
        }
        if self.pool_size.iter().any(|&s| s > 0)
            && (!base.enable_organization_runners || base.pool_runner_owner.is_none())
        {
            return Err("pool sizes need a base config with enable_organization_runners = true and pool_runner_owner".into());
        }
        if self.instance_types.iter().any(Vec::is_empty) {
            return Err("an instance_types candidate of the search space is empty".into());
        }
        Ok(())
    }

    /// The space around a scenario: instance types priced in its region (the base config's
    /// size, families of its architecture), maximum counts scaled on the trace's peak demand,
    /// pools only when the base config can have them.
    pub fn for_scenario(scenario: &Scenario, base: &Config) -> Space {
        let mut space = Space::default();
        let peak = peak_demand(scenario, base);
        let mut notes = Vec::new();
        if peak > 0 {
            let mut counts: Vec<u32> = [0.5, 0.75, 1.0, 1.25, 1.5, 2.0]
                .iter()
                .map(|f| (libm::ceil(f64::from(peak) * f) as u32).max(1))
                .collect();
            counts.dedup();
            notes.push(format!(
                "runners_maximum_count searched around the trace's peak demand of {peak} concurrent jobs (if each started when queued): {counts:?}"
            ));
            space.runners_maximum_count = counts;
            let mut idle: Vec<u32> = [1, 2, 4, 8, 16]
                .iter()
                .copied()
                .filter(|&c| c <= peak.max(1))
                .collect();
            if idle.is_empty() {
                idle.push(1);
            }
            space.idle_count = idle;
        }
        if base.enable_organization_runners && base.pool_runner_owner.is_some() {
            let max_small = space.runners_maximum_count[0];
            let pools: Vec<u32> = [0, 1, 2, 4, 8]
                .iter()
                .copied()
                .filter(|&s| s <= max_small)
                .collect();
            space.pool_size = pools;
        } else {
            notes.push("pool_config not searched: pools serve organization runners only, and the base config registers repository runners (set enable_organization_runners and pool_runner_owner to search pool sizes)".into());
        }
        let (sets, type_note) =
            instance_type_sets(&scenario.prices, base, scenario_start(scenario));
        notes.push(type_note);
        if !sets.is_empty() {
            space.instance_types = sets;
        }
        if scenario.prices.spot_window().is_none() {
            space.capacity_type = vec![CapacityType::OnDemand];
            notes.push("spot not searched: the price data has no spot prices".into());
        }
        space.notes = notes;
        space
    }

    /// The config a point stands for: `base` with the point's values.
    pub fn config(&self, base: &Config, p: &Point) -> Config {
        let mut c = base.clone();
        c.delay_webhook_event = self.delay_webhook_event[p[0]];
        c.minimum_running_time_in_minutes = Some(self.minimum_running_time_in_minutes[p[1]]);
        c.idle_config = match self.idle_window[p[2]].cron() {
            None => Vec::new(),
            Some(cron) => vec![IdleConfig {
                cron: cron.into(),
                time_zone: self.time_zone.clone(),
                idle_count: self.idle_count[p[3]],
                eviction_strategy: EvictionStrategy::OldestFirst,
            }],
        };
        c.runners_maximum_count = self.runners_maximum_count[p[5]];
        let pool = self.pool_size[p[4]].min(c.runners_maximum_count);
        c.pool_config = if pool == 0 {
            if self.pool_size.iter().any(|&s| s > 0) {
                Vec::new()
            } else {
                // Pools not searched: keep the base's (clipped to the maximum).
                base.pool_config
                    .iter()
                    .map(|p| PoolConfig {
                        size: p.size.min(c.runners_maximum_count),
                        ..p.clone()
                    })
                    .collect()
            }
        } else {
            vec![PoolConfig {
                schedule_expression: self.pool_schedule.clone(),
                schedule_expression_timezone: Some(self.time_zone.clone()),
                size: pool,
            }]
        };
        c.enable_ephemeral_runners = self.ephemeral[p[6]];
        c.instance_types = self.instance_types[p[7]].clone();
        c.instance_target_capacity_type = self.capacity_type[p[8]];
        c.instance_allocation_strategy = match c.instance_target_capacity_type {
            CapacityType::OnDemand => AllocationStrategy::LowestPrice,
            CapacityType::Spot => self.allocation_strategy[p[9]],
        };
        if c.instance_target_capacity_type == CapacityType::OnDemand {
            c.enable_runner_on_demand_failover_for_errors.clear();
            c.instance_max_spot_price = None;
        }
        c
    }

    /// The point whose values are nearest the base config's (used to seed the search next to
    /// where the user stands).
    pub fn nearest_point(&self, base: &Config) -> Point {
        fn nearest(values: &[u32], v: u32) -> usize {
            values
                .iter()
                .enumerate()
                .min_by_key(|(i, x)| (x.abs_diff(v), *i))
                .map_or(0, |(i, _)| i)
        }
        fn position<T: PartialEq>(values: &[T], v: &T) -> usize {
            values.iter().position(|x| x == v).unwrap_or(0)
        }
        let (window, count) = match base.idle_config.first() {
            None => (IdleWindow::None, 1),
            Some(i) if i.cron == "* * * * * *" => (IdleWindow::Always, i.idle_count),
            Some(i) => (IdleWindow::WorkingHours, i.idle_count),
        };
        [
            nearest(&self.delay_webhook_event, base.delay_webhook_event),
            nearest(
                &self.minimum_running_time_in_minutes,
                (base.minimum_running_time_ms() / 60_000) as u32,
            ),
            position(&self.idle_window, &window),
            nearest(&self.idle_count, count),
            nearest(
                &self.pool_size,
                base.pool_config.first().map_or(0, |p| p.size),
            ),
            nearest(&self.runners_maximum_count, base.runners_maximum_count),
            position(&self.ephemeral, &base.enable_ephemeral_runners),
            position(&self.instance_types, &base.instance_types),
            position(&self.capacity_type, &base.instance_target_capacity_type),
            position(
                &self.allocation_strategy,
                &base.instance_allocation_strategy,
            ),
        ]
    }
}

fn scenario_start(s: &Scenario) -> Timestamp {
    s.jobs.first().map(|j| j.queued_at).unwrap_or_default()
}

/// Most jobs the base config serves that would run at once if each started when queued.
pub fn peak_demand(scenario: &Scenario, base: &Config) -> u32 {
    let labels = base.runner_labels();
    let mut edges: Vec<(i64, i32)> = Vec::new();
    for j in &scenario.jobs {
        if !flotilla_core::labels::runner_covers_job(&labels, &j.labels) {
            continue;
        }
        let d = j.duration_ms().unwrap_or(0) as i64;
        edges.push((j.queued_at.0, 1));
        edges.push((j.queued_at.0 + d.max(1), -1));
    }
    // Ends before starts at the same instant.
    edges.sort_unstable();
    let mut now = 0i32;
    let mut peak = 0i32;
    for (_, e) in edges {
        now += e;
        peak = peak.max(now);
    }
    peak.max(0) as u32
}

/// Instance-type candidates from the price book: the base config's size in each family of its
/// architecture, where the book has both a spot series and an on-demand price; then lists of
/// them (base list, each of the cheapest alone, the cheapest 2 and 4, compute, general, all).
pub fn instance_type_sets(
    book: &PriceBook,
    base: &Config,
    at: Timestamp,
) -> (Vec<Vec<String>>, String) {
    let size = base
        .instance_types
        .first()
        .and_then(|t| t.split_once('.'))
        .map_or("large", |(_, s)| s)
        .to_string();
    let families = match base.runner_architecture {
        RunnerArchitecture::X64 => X64_FAMILIES,
        RunnerArchitecture::Arm64 => ARM64_FAMILIES,
    };
    // (mean spot price now, name)
    let mut priced: Vec<(f64, String)> = Vec::new();
    let mut missing = Vec::new();
    for f in families {
        let name = format!("{f}.{size}");
        let Some(id) = book.type_id(&name) else {
            missing.push(name);
            continue;
        };
        let zones = book.spot_zones(id);
        if zones.is_empty() || book.on_demand_usd_per_hour_id(id).is_none() {
            missing.push(name);
            continue;
        }
        let prices: Vec<f64> = zones
            .iter()
            .filter_map(|z| book.spot_price_at_id(id, *z, at))
            .collect();
        let mean = if prices.is_empty() {
            book.on_demand_usd_per_hour_id(id).unwrap_or(f64::MAX)
        } else {
            prices.iter().sum::<f64>() / prices.len() as f64
        };
        priced.push((mean, name));
    }
    priced.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
    let names: Vec<String> = priced.iter().map(|(_, n)| n.clone()).collect();
    let mut sets: Vec<Vec<String>> = Vec::new();
    let mut push = |v: Vec<String>| {
        if !v.is_empty() && !sets.contains(&v) {
            sets.push(v);
        }
    };
    let base_priced = base.instance_types.iter().all(|t| {
        book.type_id(t).is_some_and(|id| {
            !book.spot_zones(id).is_empty() && book.on_demand_usd_per_hour_id(id).is_some()
        })
    });
    if base_priced {
        push(base.instance_types.clone());
    }
    for n in names.iter().take(4) {
        push(vec![n.clone()]);
    }
    push(names.iter().take(2).cloned().collect());
    push(names.iter().take(4).cloned().collect());
    push(
        names
            .iter()
            .filter(|n| n.starts_with('c'))
            .cloned()
            .collect(),
    );
    push(
        names
            .iter()
            .filter(|n| n.starts_with('m'))
            .cloned()
            .collect(),
    );
    push(names.clone());
    let note = format!(
        "instance types: {} priced in {} at size {size} ({}){}",
        names.len(),
        book.region(),
        names.join(", "),
        if missing.is_empty() {
            String::new()
        } else {
            format!("; not priced, left out: {}", missing.join(", "))
        }
    );
    (sets, note)
}
