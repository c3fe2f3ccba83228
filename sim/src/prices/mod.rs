//! Prices: spot price step series per (instance type, availability zone), on-demand USD/hour and
//! the spot-advisor interruption bucket per instance type, for one region and one OS.
//!
//! Loaders (`docs/formats.md`): `aws ec2 describe-spot-price-history` JSON, the AWS CLI's text
//! output (`SPOTPRICEHISTORY`), the legacy ec2-api-tools `SPOTINSTANCEPRICE` text, the AZ-ID TSV
//! (rows only on change), the on-demand CSV and the spot-advisor JSON. Rows of other regions or
//! operating systems are filtered out and counted. A load that fails leaves the book unchanged.
//!
//! Lookups are for the simulator's inner loop: names are interned to [`TypeId`]/[`AzId`] once,
//! a series is two parallel `Vec`s searched by bisection, and [`PriceBook::align_to`] maps trace
//! time onto the series' time by a documented rule ([`Alignment`]).

mod advisor;
mod az_tsv;
mod on_demand;
mod spot_json;
mod spot_text;

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use flotilla_core::Timestamp;
use serde::{Deserialize, Serialize};

use crate::load::{read_file, text_of, LoadError};

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

/// The operating system prices are for (the config's `runner_os`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PriceOs {
    Linux,
    Windows,
}

impl PriceOs {
    /// From a runner OS as the config spells it (`linux`, `windows`; case-insensitive; AWS's
    /// `Linux/UNIX` also accepted).
    pub fn from_runner_os(text: &str) -> Result<Self, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "linux" | "linux/unix" => Ok(PriceOs::Linux),
            "windows" => Ok(PriceOs::Windows),
            other => Err(format!(
                "runner OS `{other}` has no prices: expected linux or windows"
            )),
        }
    }

    /// Whether a spot-history product description is this OS's plain (licence-free) product:
    /// `Linux/UNIX` or `Linux/UNIX (Amazon VPC)`; `Windows` or `Windows (Amazon VPC)`. Red Hat,
    /// SUSE and other licensed products are other OSes.
    pub fn matches_product(self, product: &str) -> bool {
        let p = product.trim();
        let base = p
            .strip_suffix("(Amazon VPC)")
            .map(str::trim_end)
            .unwrap_or(p);
        match self {
            PriceOs::Linux => base.eq_ignore_ascii_case("Linux/UNIX"),
            PriceOs::Windows => base.eq_ignore_ascii_case("Windows"),
        }
    }

    /// The OS key of the spot-advisor feed.
    pub fn advisor_key(self) -> &'static str {
        match self {
            PriceOs::Linux => "Linux",
            PriceOs::Windows => "Windows",
        }
    }
}

impl fmt::Display for PriceOs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PriceOs::Linux => "linux",
            PriceOs::Windows => "windows",
        })
    }
}

/// The region of an availability zone name (`eu-west-1a` → `eu-west-1`, `us-west-2-lax-1a` →
/// `us-west-2`) or zone ID (`euw1-az1` → `eu-west-1`, `apne1-az4` → `ap-northeast-1`, `use1-az6`
/// → `us-east-1`); `None` when it is neither.
pub fn region_of_zone(zone: &str) -> Option<String> {
    let z = zone.trim();
    if let Some((prefix, rest)) = z.split_once("-az") {
        if !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()) {
            return region_of_zone_id_prefix(prefix);
        }
    }
    // A zone name: letters and dashes up to the first digit run, which ends the region.
    let bytes = z.as_bytes();
    let first_digit = bytes.iter().position(u8::is_ascii_digit)?;
    if first_digit < 4 || bytes[first_digit - 1] != b'-' {
        return None;
    }
    let end = bytes[first_digit..]
        .iter()
        .position(|b| !b.is_ascii_digit())
        .map_or(bytes.len(), |p| first_digit + p);
    let region = &z[..end];
    let ok = region[..first_digit - 1]
        .split('-')
        .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_lowercase()));
    ok.then(|| region.to_string())
}

fn region_of_zone_id_prefix(prefix: &str) -> Option<String> {
    let digits = prefix.bytes().position(|b| b.is_ascii_digit())?;
    let (letters, number) = prefix.split_at(digits);
    if letters.len() < 3
        || !letters.bytes().all(|b| b.is_ascii_lowercase())
        || !number.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let (geo, dir) = letters.split_at(2);
    let direction = match dir {
        "e" => "east",
        "w" => "west",
        "n" => "north",
        "s" => "south",
        "c" => "central",
        "ne" => "northeast",
        "nw" => "northwest",
        "se" => "southeast",
        "sw" => "southwest",
        _ => return None,
    };
    Some(format!("{geo}-{direction}-{number}"))
}

/// An interned instance type name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TypeId(pub u32);

/// An interned availability zone name (or zone ID, as the file names it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AzId(pub u32);

/// A spot price step function: each price holds from its time until the next point.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SpotSeries {
    times: Vec<i64>,
    prices: Vec<f64>,
}

impl SpotSeries {
    /// From points in any order; on equal times the later point wins; repeated prices are merged.
    pub fn from_points(points: &[(Timestamp, f64)]) -> Self {
        let mut s = SpotSeries::default();
        s.merge(points.iter().map(|&(t, p)| (t.0, p)).collect());
        s
    }

    fn merge(&mut self, new: Vec<(i64, f64)>) {
        let mut all: Vec<(i64, f64)> = self
            .times
            .iter()
            .copied()
            .zip(self.prices.iter().copied())
            .collect();
        all.extend(new);
        // Stable: equal times keep their input order, and the last one wins below.
        all.sort_by_key(|&(t, _)| t);
        let mut times = Vec::with_capacity(all.len());
        let mut prices: Vec<f64> = Vec::with_capacity(all.len());
        for (t, p) in all {
            if times.last() == Some(&t) {
                if let Some(last) = prices.last_mut() {
                    *last = p;
                }
                continue;
            }
            times.push(t);
            prices.push(p);
        }
        // Drop points that repeat the price in effect (they change nothing).
        let mut keep_t = Vec::with_capacity(times.len());
        let mut keep_p: Vec<f64> = Vec::with_capacity(times.len());
        for (t, p) in times.into_iter().zip(prices) {
            if keep_p.last() == Some(&p) {
                continue;
            }
            keep_t.push(t);
            keep_p.push(p);
        }
        self.times = keep_t;
        self.prices = keep_p;
    }

    pub fn len(&self) -> usize {
        self.times.len()
    }
    pub fn is_empty(&self) -> bool {
        self.times.is_empty()
    }
    /// The change points, in time order.
    pub fn points(&self) -> impl Iterator<Item = (Timestamp, f64)> + '_ {
        self.times
            .iter()
            .zip(&self.prices)
            .map(|(&t, &p)| (Timestamp(t), p))
    }
    pub fn first_time(&self) -> Option<Timestamp> {
        self.times.first().map(|&t| Timestamp(t))
    }
    pub fn last_time(&self) -> Option<Timestamp> {
        self.times.last().map(|&t| Timestamp(t))
    }

    /// The price in effect at series time `u` (carried forward; before the first point, the
    /// first price) and the series time of the next change (`i64::MAX` when none).
    #[inline]
    fn at(&self, u: i64) -> Option<(f64, i64)> {
        let idx = self.times.partition_point(|&t| t <= u);
        let price = *self.prices.get(idx.saturating_sub(1))?;
        let next = self.times.get(idx).copied().unwrap_or(i64::MAX);
        Some((price, next))
    }

    /// The price in effect at series time `t`, without any alignment.
    pub fn price_at(&self, t: Timestamp) -> Option<f64> {
        self.at(t.0).map(|(p, _)| p)
    }
}

/// How trace time maps onto the spot series' time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AlignmentKind {
    /// No alignment: series used at their own times, no repetition.
    None,
    /// The trace starts inside the prices' window: prices used at their own times, repeated
    /// every period after the window.
    AsIs,
    /// The prices were shifted so their window starts at the trace start, and repeated.
    Shifted,
}

/// The rule mapping a trace time `t` to a series time: with `anchor` the trace time that maps to
/// `data_start`, `u = data_start + (t - anchor) mod period` (kind `None`: `u = t`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alignment {
    pub kind: AlignmentKind,
    pub data_start: Timestamp,
    pub anchor: Timestamp,
    pub period_ms: i64,
    /// For people: what was done and why.
    pub description: String,
}

impl Default for Alignment {
    fn default() -> Self {
        Alignment {
            kind: AlignmentKind::None,
            data_start: Timestamp(0),
            anchor: Timestamp(0),
            period_ms: 0,
            description: "spot prices used at their own times (not aligned to a trace)".to_string(),
        }
    }
}

impl Alignment {
    /// Trace time → series time.
    #[inline]
    pub fn map(&self, t: i64) -> i64 {
        if self.kind == AlignmentKind::None || self.period_ms <= 0 {
            return t;
        }
        let off =
            (i128::from(t) - i128::from(self.anchor.0)).rem_euclid(i128::from(self.period_ms));
        (i128::from(self.data_start.0) + off) as i64
    }

    /// Series time at which the current cycle ends (`i64::MAX` when not repeating).
    #[inline]
    fn cycle_end(&self) -> i64 {
        if self.kind == AlignmentKind::None || self.period_ms <= 0 {
            i64::MAX
        } else {
            self.data_start.0.saturating_add(self.period_ms)
        }
    }
}

/// A spot-advisor interruption-frequency bucket: the share of instances of the type that AWS
/// reclaimed in the past month, as a range of percent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InterruptionBucket {
    /// 0 (`<5%`) … 4 (`>20%`).
    pub index: u8,
    /// As the advisor shows it, e.g. `5-10%`.
    pub label: String,
    /// Lower and upper bound of the monthly reclaimed share, percent (`>20%` is 20–100).
    pub lower_pct: f64,
    pub upper_pct: f64,
}

/// The advisor's five buckets: `<5%`, `5-10%`, `10-15%`, `15-20%`, `>20%`.
pub const STANDARD_BUCKETS: [(&str, f64, f64); 5] = [
    ("<5%", 0.0, 5.0),
    ("5-10%", 5.0, 10.0),
    ("10-15%", 10.0, 15.0),
    ("15-20%", 15.0, 20.0),
    (">20%", 20.0, 100.0),
];

impl InterruptionBucket {
    /// One of [`STANDARD_BUCKETS`] (`None` past index 4).
    pub fn standard(index: u8) -> Option<Self> {
        let &(label, lower_pct, upper_pct) = STANDARD_BUCKETS.get(usize::from(index))?;
        Some(InterruptionBucket {
            index,
            label: label.to_string(),
            lower_pct,
            upper_pct,
        })
    }
}

/// What the spot advisor says about an instance type in the book's region and OS.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpotAdvice {
    /// Savings of spot over on-demand, percent.
    pub savings_pct: f64,
    pub bucket: InterruptionBucket,
}

/// The price formats [`PriceBook::add_bytes`] recognises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PriceFormat {
    SpotHistoryJson,
    SpotHistoryCliText,
    SpotLegacyText,
    AzIdTsv,
    OnDemandCsv,
    SpotAdvisorJson,
}

impl PriceFormat {
    pub fn name(self) -> &'static str {
        match self {
            PriceFormat::SpotHistoryJson => "describe-spot-price-history JSON",
            PriceFormat::SpotHistoryCliText => {
                "describe-spot-price-history CLI text (SPOTPRICEHISTORY)"
            }
            PriceFormat::SpotLegacyText => "legacy ec2-api-tools text (SPOTINSTANCEPRICE)",
            PriceFormat::AzIdTsv => "AZ-ID TSV (az_id, instance_type, product, price, timestamp)",
            PriceFormat::OnDemandCsv => "on-demand CSV (region, instance_type, usd_per_hour)",
            PriceFormat::SpotAdvisorJson => "spot-advisor JSON",
        }
    }
}

impl fmt::Display for PriceFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What one price load read and used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PriceLoad {
    pub source: String,
    pub format: PriceFormat,
    /// Data rows read (lines, JSON records, advisor entries of the region and OS).
    pub rows_read: u64,
    /// Rows that went into the book.
    pub rows_used: u64,
    /// Rows for another region (or a zone whose region is unknown).
    pub other_region: u64,
    /// Rows for another OS / product.
    pub other_os: u64,
    /// Other rows left out, by reason (e.g. `NEXTTOKEN` lines).
    pub skipped: BTreeMap<String, u64>,
    /// Distinct (type, zone) spot series this load touched.
    pub series: usize,
    /// Instance types this load gave a price or bucket to.
    pub instance_types: usize,
    /// Anything the reader of a report must know (fallbacks taken).
    pub notes: Vec<String>,
}

impl PriceLoad {
    fn new(source: &str, format: PriceFormat) -> Self {
        PriceLoad {
            source: source.to_string(),
            format,
            rows_read: 0,
            rows_used: 0,
            other_region: 0,
            other_os: 0,
            skipped: BTreeMap::new(),
            series: 0,
            instance_types: 0,
            notes: Vec::new(),
        }
    }

    /// One line for people.
    pub fn describe(&self) -> String {
        let mut s = format!(
            "{} ({}): {} rows read, {} used, {} other region, {} other OS; {} spot series, {} instance types",
            self.source,
            self.format,
            self.rows_read,
            self.rows_used,
            self.other_region,
            self.other_os,
            self.series,
            self.instance_types
        );
        for (why, n) in &self.skipped {
            s.push_str(&format!("; skipped {n}: {why}"));
        }
        for n in &self.notes {
            s.push_str(&format!("; note: {n}"));
        }
        s
    }
}

/// Rows parsed from one source, applied to the book only when the whole source parsed.
#[derive(Default)]
pub(crate) struct Batch {
    spot: Vec<(String, String, i64, f64)>,
    on_demand: Vec<(String, f64)>,
    advice: Vec<(String, SpotAdvice)>,
}

#[derive(Debug, Clone, Default)]
struct TypeEntry {
    on_demand: Option<f64>,
    advice: Option<SpotAdvice>,
    spot: Vec<(AzId, SpotSeries)>,
    /// The zones of `spot` by zone name (every launch asks).
    zones_by_name: Vec<AzId>,
}

/// Prices for one region and OS.
#[derive(Debug, Clone)]
pub struct PriceBook {
    region: String,
    os: PriceOs,
    type_names: Vec<String>,
    type_index: BTreeMap<String, TypeId>,
    az_names: Vec<String>,
    az_index: BTreeMap<String, AzId>,
    types: Vec<TypeEntry>,
    /// Explicit spot window (start, period) instead of the one measured from the data.
    cycle: Option<(i64, i64)>,
    alignment: Alignment,
    notes: Vec<String>,
}

impl PriceBook {
    /// An empty book for `region` (e.g. `eu-west-1`) and `os`.
    pub fn new(region: &str, os: PriceOs) -> Self {
        PriceBook {
            region: region.trim().to_string(),
            os,
            type_names: Vec::new(),
            type_index: BTreeMap::new(),
            az_names: Vec::new(),
            az_index: BTreeMap::new(),
            types: Vec::new(),
            cycle: None,
            alignment: Alignment::default(),
            notes: Vec::new(),
        }
    }

    pub fn region(&self) -> &str {
        &self.region
    }
    pub fn os(&self) -> PriceOs {
        self.os
    }
    /// Fallbacks taken while loading, for the report.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    fn intern_type(&mut self, name: &str) -> TypeId {
        if let Some(&id) = self.type_index.get(name) {
            return id;
        }
        let id = TypeId(self.type_names.len() as u32);
        self.type_names.push(name.to_string());
        self.type_index.insert(name.to_string(), id);
        self.types.push(TypeEntry::default());
        id
    }

    fn intern_az(&mut self, name: &str) -> AzId {
        if let Some(&id) = self.az_index.get(name) {
            return id;
        }
        let id = AzId(self.az_names.len() as u32);
        self.az_names.push(name.to_string());
        self.az_index.insert(name.to_string(), id);
        id
    }

    pub fn type_id(&self, name: &str) -> Option<TypeId> {
        self.type_index.get(name).copied()
    }
    pub fn az_id(&self, name: &str) -> Option<AzId> {
        self.az_index.get(name).copied()
    }
    pub fn type_name(&self, id: TypeId) -> &str {
        self.type_names
            .get(id.0 as usize)
            .map_or("", String::as_str)
    }
    pub fn az_name(&self, id: AzId) -> &str {
        self.az_names.get(id.0 as usize).map_or("", String::as_str)
    }

    /// Every instance type with any price or advice, by name.
    pub fn instance_types(&self) -> impl Iterator<Item = (TypeId, &str)> + '_ {
        self.type_index.iter().map(|(n, &id)| (id, n.as_str()))
    }

    /// Every zone with a spot series, by name.
    pub fn zones(&self) -> impl Iterator<Item = (AzId, &str)> + '_ {
        self.az_index.iter().map(|(n, &id)| (id, n.as_str()))
    }

    /// The zones with a spot series for an instance type, by zone name.
    pub fn spot_zones(&self, ty: TypeId) -> &[AzId] {
        self.types
            .get(ty.0 as usize)
            .map_or(&[], |e| e.zones_by_name.as_slice())
    }

    /// The raw series for (type, zone).
    #[inline]
    pub fn series(&self, ty: TypeId, az: AzId) -> Option<&SpotSeries> {
        self.types
            .get(ty.0 as usize)?
            .spot
            .iter()
            .find(|(a, _)| *a == az)
            .map(|(_, s)| s)
    }

    /// Number of spot series in the book.
    pub fn series_count(&self) -> usize {
        self.types.iter().map(|e| e.spot.len()).sum()
    }

    /// The spot price (USD/hour) in effect at trace time `t`, after alignment.
    #[inline]
    pub fn spot_price_at_id(&self, ty: TypeId, az: AzId, t: Timestamp) -> Option<f64> {
        let s = self.series(ty, az)?;
        s.at(self.alignment.map(t.0)).map(|(p, _)| p)
    }

    /// The series time a trace time maps to (the alignment rule): to look up many series at one
    /// trace time with [`PriceBook::spot_price_at_series_time_id`], mapping once.
    #[inline]
    pub fn series_time(&self, t: Timestamp) -> i64 {
        self.alignment.map(t.0)
    }

    /// [`PriceBook::spot_price_at_id`] at a series time from [`PriceBook::series_time`].
    #[inline]
    pub fn spot_price_at_series_time_id(&self, ty: TypeId, az: AzId, u: i64) -> Option<f64> {
        self.series(ty, az)?.at(u).map(|(p, _)| p)
    }

    /// [`PriceBook::spot_price_at_id`] by names.
    pub fn spot_price_at(&self, instance_type: &str, az: &str, t: Timestamp) -> Option<f64> {
        self.spot_price_at_id(self.type_id(instance_type)?, self.az_id(az)?, t)
    }

    /// USD for running one instance over trace times `[from, to)` at the spot price in effect
    /// over each part of the interval (price changes inside the interval are honoured).
    pub fn spot_cost_usd_id(
        &self,
        ty: TypeId,
        az: AzId,
        from: Timestamp,
        to: Timestamp,
    ) -> Option<f64> {
        let s = self.series(ty, az)?;
        s.at(0)?; // not empty
        let a = &self.alignment;
        if a.kind == AlignmentKind::None || a.period_ms <= 0 {
            return Some(self.integrate(s, from.0, to.0));
        }
        // Up to the next cycle boundary, whole cycles at once, then the rest.
        let period = a.period_ms;
        let first_boundary = from
            .0
            .saturating_add(a.cycle_end().saturating_sub(a.map(from.0)));
        if to.0 <= first_boundary {
            return Some(self.integrate(s, from.0, to.0));
        }
        let mut cost = self.integrate(s, from.0, first_boundary);
        let cycles = to.0.saturating_sub(first_boundary) / period;
        if cycles > 0 {
            let one = self.integrate(s, first_boundary, first_boundary.saturating_add(period));
            cost += one * cycles as f64;
        }
        let rest_from = first_boundary.saturating_add(cycles.saturating_mul(period));
        cost += self.integrate(s, rest_from, to.0);
        Some(cost)
    }

    /// Step-by-step cost over trace times `[from, to)`; used within at most a cycle or two.
    fn integrate(&self, s: &SpotSeries, from: i64, to: i64) -> f64 {
        let mut cost = 0.0;
        let mut t = from;
        let cycle_end = self.alignment.cycle_end();
        while t < to {
            let u = self.alignment.map(t);
            let Some((price, next)) = s.at(u) else {
                return cost;
            };
            // next > u by construction, and u lies inside the cycle, so the step is positive.
            let step = next.min(cycle_end).saturating_sub(u).max(1);
            let end = t.saturating_add(step).min(to);
            cost += price * (end - t) as f64 / HOUR_MS as f64;
            t = end;
        }
        cost
    }

    /// [`PriceBook::spot_cost_usd_id`] by names.
    pub fn spot_cost_usd(
        &self,
        instance_type: &str,
        az: &str,
        from: Timestamp,
        to: Timestamp,
    ) -> Option<f64> {
        self.spot_cost_usd_id(self.type_id(instance_type)?, self.az_id(az)?, from, to)
    }

    pub fn on_demand_usd_per_hour_id(&self, ty: TypeId) -> Option<f64> {
        self.types.get(ty.0 as usize)?.on_demand
    }
    pub fn on_demand_usd_per_hour(&self, instance_type: &str) -> Option<f64> {
        self.on_demand_usd_per_hour_id(self.type_id(instance_type)?)
    }
    pub fn advice_id(&self, ty: TypeId) -> Option<&SpotAdvice> {
        self.types.get(ty.0 as usize)?.advice.as_ref()
    }
    /// The spot-advisor savings and interruption bucket of an instance type.
    pub fn advice(&self, instance_type: &str) -> Option<&SpotAdvice> {
        self.advice_id(self.type_id(instance_type)?)
    }

    /// Adds (or overrides) spot points for one series.
    pub fn add_spot_points(&mut self, instance_type: &str, az: &str, points: &[(Timestamp, f64)]) {
        let mut b = Batch::default();
        for &(t, p) in points {
            b.spot
                .push((instance_type.to_string(), az.to_string(), t.0, p));
        }
        self.commit(b);
    }
    pub fn set_on_demand(&mut self, instance_type: &str, usd_per_hour: f64) {
        let ty = self.intern_type(instance_type);
        self.types[ty.0 as usize].on_demand = Some(usd_per_hour);
    }
    pub fn set_advice(&mut self, instance_type: &str, advice: SpotAdvice) {
        let ty = self.intern_type(instance_type);
        self.types[ty.0 as usize].advice = Some(advice);
    }

    /// Declares the spot data's window explicitly (start and period) instead of measuring it
    /// from the points: used by the built-in table, whose series describe one day.
    pub fn set_spot_cycle(&mut self, start: Timestamp, period_ms: i64) {
        self.cycle = (period_ms > 0).then_some((start.0, period_ms));
    }

    /// The spot data's window: (first time, period). The period is the declared one, else the
    /// span from the first to the last point of any series rounded up to a whole hour (at least
    /// one hour, so the last price holds for a while).
    pub fn spot_window(&self) -> Option<(Timestamp, i64)> {
        if let Some((s, p)) = self.cycle {
            return Some((Timestamp(s), p));
        }
        let first = self
            .types
            .iter()
            .flat_map(|e| &e.spot)
            .filter_map(|(_, s)| s.times.first())
            .min()?;
        let last = self
            .types
            .iter()
            .flat_map(|e| &e.spot)
            .filter_map(|(_, s)| s.times.last())
            .max()?;
        let span = i128::from(*last) - i128::from(*first) + 1;
        let hours = (span + i128::from(HOUR_MS) - 1) / i128::from(HOUR_MS);
        let period = (hours.max(1) * i128::from(HOUR_MS)).min(i128::from(i64::MAX)) as i64;
        Some((Timestamp(*first), period))
    }

    /// Aligns the spot series to a trace covering `[trace_start, trace_end]`, by this rule:
    /// - the prices' window is `[data_start, data_start + period)` ([`PriceBook::spot_window`]);
    /// - if the trace starts inside that window, prices are used at their own times (`AsIs`);
    /// - otherwise (another year, or a window that starts after the trace) they are shifted so the
    ///   window starts at the trace start (`Shifted`);
    /// - either way, past the window's end the window repeats cyclically, so every trace time
    ///   has a price, and all series move together (their relations across zones and types
    ///   are kept).
    ///
    /// Returns the alignment, whose `description` says what was done, for the report.
    pub fn align_to(&mut self, trace_start: Timestamp, trace_end: Timestamp) -> &Alignment {
        let Some((d0, period)) = self.spot_window() else {
            self.alignment = Alignment {
                description: "no spot prices loaded".to_string(),
                ..Alignment::default()
            };
            return &self.alignment;
        };
        let t_end = trace_end.max(trace_start);
        let data_end = Timestamp(d0.0.saturating_add(period));
        let inside = d0 <= trace_start && trace_start < data_end;
        let (kind, anchor) = if inside {
            (AlignmentKind::AsIs, d0)
        } else {
            (AlignmentKind::Shifted, trace_start)
        };
        let trace_span = t_end.0.saturating_sub(trace_start.0);
        let window = format!("{} → {} ({})", d0, data_end, span_text(period));
        let trace = format!("{} → {} ({})", trace_start, t_end, span_text(trace_span));
        let repeat = if t_end.0 <= anchor.0.saturating_add(period) {
            "no repetition needed".to_string()
        } else {
            let cycles = (i128::from(t_end.0) - i128::from(anchor.0)) / i128::from(period) + 1;
            format!(
                "repeated every {} ({} cycles over the trace)",
                span_text(period),
                cycles
            )
        };
        let description = match kind {
            AlignmentKind::AsIs => format!(
                "spot prices {window} cover the trace start ({trace}): used at their own times, {repeat}"
            ),
            _ => {
                let shift = trace_start.0.saturating_sub(d0.0);
                format!(
                    "spot prices {window} do not cover the trace start ({trace}): shifted by {}{} so \
                     they start at the trace start, {repeat}",
                    if shift >= 0 { "+" } else { "-" },
                    span_text(shift.saturating_abs())
                )
            }
        };
        self.alignment = Alignment {
            kind,
            data_start: d0,
            anchor,
            period_ms: period,
            description,
        };
        &self.alignment
    }

    pub fn alignment(&self) -> &Alignment {
        &self.alignment
    }

    /// Reads a price file of any accepted format (detected from the content).
    pub fn load_file(&mut self, path: impl AsRef<Path>) -> Result<PriceLoad, LoadError> {
        let path = path.as_ref();
        let bytes = read_file(path)?;
        self.add_bytes(&bytes, &path.display().to_string())
    }

    /// Adds prices from bytes of any accepted format (detected from the content).
    pub fn add_bytes(&mut self, bytes: &[u8], source: &str) -> Result<PriceLoad, LoadError> {
        let text = text_of(bytes, source)?;
        let format =
            detect_price_format(text).map_err(|(line, why)| LoadError::at(source, line, why))?;
        self.add_text_as(format, text, source)
    }

    /// Adds prices from text in the given format.
    pub fn add_text_as(
        &mut self,
        format: PriceFormat,
        text: &str,
        source: &str,
    ) -> Result<PriceLoad, LoadError> {
        match format {
            PriceFormat::SpotHistoryJson => self.add_spot_history_json(text, source),
            PriceFormat::SpotHistoryCliText | PriceFormat::SpotLegacyText => {
                self.add_spot_text(text, source)
            }
            PriceFormat::AzIdTsv => self.add_az_id_tsv(text, source),
            PriceFormat::OnDemandCsv => self.add_on_demand_csv(text, source),
            PriceFormat::SpotAdvisorJson => self.add_spot_advisor_json(text, source),
        }
    }

    /// `aws ec2 describe-spot-price-history` JSON: `{"SpotPriceHistory": [...]}`, one response,
    /// several one after another, or a JSON array of them.
    pub fn add_spot_history_json(
        &mut self,
        text: &str,
        source: &str,
    ) -> Result<PriceLoad, LoadError> {
        let (batch, mut load) = spot_json::parse(text, source, &self.region, self.os)?;
        self.finish_load(batch, &mut load);
        Ok(load)
    }

    /// Spot history as text: the legacy ec2-api-tools `SPOTINSTANCEPRICE` lines or the AWS CLI's
    /// `--output text` `SPOTPRICEHISTORY` lines (the first line decides which).
    pub fn add_spot_text(&mut self, text: &str, source: &str) -> Result<PriceLoad, LoadError> {
        let (batch, mut load) = spot_text::parse(text, source, &self.region, self.os)?;
        self.finish_load(batch, &mut load);
        Ok(load)
    }

    /// The AZ-ID TSV without header: `az_id, instance_type, product, price, timestamp`, rows only
    /// when a price changes.
    pub fn add_az_id_tsv(&mut self, text: &str, source: &str) -> Result<PriceLoad, LoadError> {
        let (batch, mut load) = az_tsv::parse(text, source, &self.region, self.os)?;
        self.finish_load(batch, &mut load);
        Ok(load)
    }

    /// On-demand CSV `region,instance_type,usd_per_hour`. Rows of the book's region are used; if
    /// the file has none for it but holds exactly one other region, that region's prices are used
    /// and a note says so.
    pub fn add_on_demand_csv(&mut self, text: &str, source: &str) -> Result<PriceLoad, LoadError> {
        let (batch, mut load) = on_demand::parse(text, source, &self.region, self.os)?;
        self.finish_load(batch, &mut load);
        Ok(load)
    }

    /// The spot-advisor JSON: savings and interruption bucket per type for the book's region/OS.
    pub fn add_spot_advisor_json(
        &mut self,
        text: &str,
        source: &str,
    ) -> Result<PriceLoad, LoadError> {
        let (batch, mut load) = advisor::parse(text, source, &self.region, self.os)?;
        self.finish_load(batch, &mut load);
        Ok(load)
    }

    fn finish_load(&mut self, batch: Batch, load: &mut PriceLoad) {
        let mut series = std::collections::BTreeSet::new();
        let mut types = std::collections::BTreeSet::new();
        for (ty, az, _, _) in &batch.spot {
            series.insert((ty.clone(), az.clone()));
            types.insert(ty.clone());
        }
        for (ty, _) in batch.on_demand.iter() {
            types.insert(ty.clone());
        }
        for (ty, _) in batch.advice.iter() {
            types.insert(ty.clone());
        }
        load.series = series.len();
        load.instance_types = types.len();
        self.notes.extend(load.notes.iter().cloned());
        self.commit(batch);
    }

    fn commit(&mut self, batch: Batch) {
        let mut grouped: BTreeMap<(TypeId, AzId), Vec<(i64, f64)>> = BTreeMap::new();
        for (ty, az, t, p) in batch.spot {
            let ty = self.intern_type(&ty);
            let az = self.intern_az(&az);
            grouped.entry((ty, az)).or_default().push((t, p));
        }
        for ((ty, az), points) in grouped {
            let entry = &mut self.types[ty.0 as usize];
            match entry.spot.iter_mut().find(|(a, _)| *a == az) {
                Some((_, s)) => s.merge(points),
                None => {
                    let mut s = SpotSeries::default();
                    s.merge(points);
                    entry.spot.push((az, s));
                    let mut zones: Vec<AzId> = entry.spot.iter().map(|(az, _)| *az).collect();
                    zones.sort_by(|a, b| {
                        self.az_names[a.0 as usize].cmp(&self.az_names[b.0 as usize])
                    });
                    entry.zones_by_name = zones;
                }
            }
        }
        for (ty, price) in batch.on_demand {
            let ty = self.intern_type(&ty);
            self.types[ty.0 as usize].on_demand = Some(price);
        }
        for (ty, advice) in batch.advice {
            let ty = self.intern_type(&ty);
            self.types[ty.0 as usize].advice = Some(advice);
        }
    }
}

/// Recognises a price format from the text; the error is (line, reason).
pub fn detect_price_format(text: &str) -> Result<PriceFormat, (usize, String)> {
    let Some((line_no, first)) = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .find(|(_, l)| !l.is_empty())
    else {
        return Err((1, "the price file is empty".to_string()));
    };
    if first.starts_with('{') || first.starts_with('[') {
        if text.contains("\"SpotPriceHistory\"") {
            return Ok(PriceFormat::SpotHistoryJson);
        }
        if text.contains("\"spot_advisor\"") {
            return Ok(PriceFormat::SpotAdvisorJson);
        }
        return Err((
            line_no,
            "JSON prices must be describe-spot-price-history output (with `SpotPriceHistory`) or the \
             spot-advisor feed (with `spot_advisor`)"
                .to_string(),
        ));
    }
    let tag = first
        .split(|c: char| c.is_whitespace())
        .next()
        .unwrap_or("");
    if tag == "SPOTINSTANCEPRICE" {
        return Ok(PriceFormat::SpotLegacyText);
    }
    if tag == "SPOTPRICEHISTORY" {
        return Ok(PriceFormat::SpotHistoryCliText);
    }
    let lower = first.to_ascii_lowercase();
    if lower.contains("usd_per_hour") && lower.contains("instance_type") {
        return Ok(PriceFormat::OnDemandCsv);
    }
    if first.split('\t').count() == 5 {
        return Ok(PriceFormat::AzIdTsv);
    }
    Err((
        line_no,
        format!(
            "unrecognised price format: `{}` starts none of describe-spot-price-history JSON, \
             SPOTPRICEHISTORY/SPOTINSTANCEPRICE text, the AZ-ID TSV (5 tab-separated fields), the \
             on-demand CSV (header region,instance_type,usd_per_hour) or the spot-advisor JSON",
            crate::load::clip(first)
        ),
    ))
}

/// `51.3 h`, `29.0 days`, `45 min`, `12 s`.
pub(crate) fn span_text(ms: i64) -> String {
    let ms = ms.max(0) as f64;
    if ms >= 3.0 * DAY_MS as f64 {
        format!("{:.1} days", ms / DAY_MS as f64)
    } else if ms >= HOUR_MS as f64 {
        format!("{:.1} h", ms / HOUR_MS as f64)
    } else if ms >= 60_000.0 {
        format!("{:.0} min", ms / 60_000.0)
    } else {
        format!("{:.0} s", ms / 1000.0)
    }
}

/// Shared by the row-based loaders: keep a row of (zone, product) or count why not.
pub(crate) fn keep_row(
    load: &mut PriceLoad,
    region: &str,
    os: PriceOs,
    zone: &str,
    product: &str,
) -> bool {
    match region_of_zone(zone) {
        Some(r) if r == region => {}
        _ => {
            load.other_region += 1;
            return false;
        }
    }
    if !os.matches_product(product) {
        load.other_os += 1;
        return false;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        Timestamp::parse_rfc3339(s).unwrap()
    }

    #[test]
    fn zone_regions() {
        assert_eq!(region_of_zone("eu-west-1a").as_deref(), Some("eu-west-1"));
        assert_eq!(
            region_of_zone("us-west-2-lax-1a").as_deref(),
            Some("us-west-2")
        );
        assert_eq!(
            region_of_zone("us-gov-west-1b").as_deref(),
            Some("us-gov-west-1")
        );
        assert_eq!(region_of_zone("euw1-az1").as_deref(), Some("eu-west-1"));
        assert_eq!(
            region_of_zone("apne1-az4").as_deref(),
            Some("ap-northeast-1")
        );
        assert_eq!(
            region_of_zone("apse2-az3").as_deref(),
            Some("ap-southeast-2")
        );
        assert_eq!(region_of_zone("aps1-az1").as_deref(), Some("ap-south-1"));
        assert_eq!(region_of_zone("cac1-az4").as_deref(), Some("ca-central-1"));
        assert_eq!(region_of_zone("use1-az6").as_deref(), Some("us-east-1"));
        assert_eq!(region_of_zone("sae1-az1").as_deref(), Some("sa-east-1"));
        assert_eq!(region_of_zone("x"), None);
        assert_eq!(region_of_zone("1a"), None);
        assert_eq!(region_of_zone("zzq9-az1"), None);
        assert_eq!(region_of_zone("é-west-1a"), None);
    }

    #[test]
    fn products_match_the_os() {
        assert!(PriceOs::Linux.matches_product("Linux/UNIX"));
        assert!(PriceOs::Linux.matches_product("Linux/UNIX (Amazon VPC)"));
        assert!(!PriceOs::Linux.matches_product("SUSE Linux"));
        assert!(!PriceOs::Linux.matches_product("Red Hat Enterprise Linux"));
        assert!(PriceOs::Windows.matches_product("Windows (Amazon VPC)"));
        assert!(!PriceOs::Windows.matches_product("Linux/UNIX"));
        assert_eq!(PriceOs::from_runner_os("Linux"), Ok(PriceOs::Linux));
        assert!(PriceOs::from_runner_os("beos").is_err());
    }

    fn book() -> PriceBook {
        let mut b = PriceBook::new("eu-west-1", PriceOs::Linux);
        b.add_spot_points(
            "m5.large",
            "eu-west-1a",
            &[
                (ts("2022-07-10T02:00:00Z"), 0.04),
                (ts("2022-07-10T00:00:00Z"), 0.03),
                (ts("2022-07-10T01:00:00Z"), 0.03),
            ],
        );
        b
    }

    #[test]
    fn step_function_carries_forward_and_starts_with_the_first() {
        let b = book();
        let p = |s: &str| b.spot_price_at("m5.large", "eu-west-1a", ts(s));
        assert_eq!(p("2022-07-09T00:00:00Z"), Some(0.03));
        assert_eq!(p("2022-07-10T01:59:59Z"), Some(0.03));
        assert_eq!(p("2022-07-10T02:00:00Z"), Some(0.04));
        assert_eq!(p("2030-01-01T00:00:00Z"), Some(0.04));
        assert_eq!(
            b.spot_price_at("m5.large", "eu-west-1b", ts("2022-07-10T02:00:00Z")),
            None
        );
        // The repeated 0.03 at 01:00 was merged.
        assert_eq!(
            b.series(
                b.type_id("m5.large").unwrap(),
                b.az_id("eu-west-1a").unwrap()
            )
            .unwrap()
            .len(),
            2
        );
    }

    #[test]
    fn shifted_alignment_repeats_the_window() {
        let mut b = book();
        // Window: 00:00 → 02:00 span + 1 ms rounded up to 3 h.
        assert_eq!(
            b.spot_window(),
            Some((ts("2022-07-10T00:00:00Z"), 3 * HOUR_MS))
        );
        let a = b
            .align_to(ts("2025-09-04T00:00:00Z"), ts("2025-09-05T00:00:00Z"))
            .clone();
        assert_eq!(a.kind, AlignmentKind::Shifted);
        assert!(a.description.contains("shifted by +"), "{}", a.description);
        assert!(
            a.description.contains("repeated every 3.0 h"),
            "{}",
            a.description
        );
        let p = |s: &str| b.spot_price_at("m5.large", "eu-west-1a", ts(s));
        assert_eq!(p("2025-09-04T00:00:00Z"), Some(0.03));
        assert_eq!(p("2025-09-04T02:30:00Z"), Some(0.04));
        assert_eq!(p("2025-09-04T03:00:00Z"), Some(0.03)); // next cycle
        assert_eq!(p("2025-09-04T05:00:00Z"), Some(0.04));
        assert_eq!(p("2025-09-03T23:00:00Z"), Some(0.04)); // before the trace: previous cycle
    }

    #[test]
    fn as_is_alignment_keeps_times() {
        let mut b = book();
        let a = b
            .align_to(ts("2022-07-10T00:30:00Z"), ts("2022-07-10T02:30:00Z"))
            .clone();
        assert_eq!(a.kind, AlignmentKind::AsIs);
        assert!(
            a.description.contains("no repetition needed"),
            "{}",
            a.description
        );
        assert_eq!(
            b.spot_price_at("m5.large", "eu-west-1a", ts("2022-07-10T02:30:00Z")),
            Some(0.04)
        );
        assert_eq!(
            b.spot_price_at("m5.large", "eu-west-1a", ts("2022-07-10T03:30:00Z")),
            Some(0.03)
        );
    }

    #[test]
    fn cost_integrates_over_changes_and_cycles() {
        let mut b = book();
        let c = |b: &PriceBook, f: &str, t: &str| {
            b.spot_cost_usd("m5.large", "eu-west-1a", ts(f), ts(t))
                .unwrap()
        };
        // 1 h at 0.03 + 1 h at 0.04 (raw times).
        assert!((c(&b, "2022-07-10T01:00:00Z", "2022-07-10T03:00:00Z") - 0.07).abs() < 1e-12);
        b.align_to(ts("2025-09-04T00:00:00Z"), ts("2025-09-05T00:00:00Z"));
        // 01:00–04:00: 1 h 0.03, 1 h 0.04, then the next cycle's 1 h 0.03.
        assert!((c(&b, "2025-09-04T01:00:00Z", "2025-09-04T04:00:00Z") - 0.10).abs() < 1e-12);
        assert_eq!(c(&b, "2025-09-04T04:00:00Z", "2025-09-04T04:00:00Z"), 0.0);
        // Extreme times do not panic.
        let ty = b.type_id("m5.large").unwrap();
        let az = b.az_id("eu-west-1a").unwrap();
        assert!(b.spot_price_at_id(ty, az, Timestamp(i64::MIN)).is_some());
        assert!(b
            .spot_cost_usd_id(ty, az, Timestamp(i64::MAX - 10), Timestamp(i64::MAX))
            .is_some());
    }

    #[test]
    fn detection() {
        assert_eq!(
            detect_price_format("{\"SpotPriceHistory\": []}"),
            Ok(PriceFormat::SpotHistoryJson)
        );
        assert_eq!(
            detect_price_format("SPOTINSTANCEPRICE\t0.1\t..."),
            Ok(PriceFormat::SpotLegacyText)
        );
        assert_eq!(
            detect_price_format("region,instance_type,usd_per_hour\n"),
            Ok(PriceFormat::OnDemandCsv)
        );
        assert_eq!(
            detect_price_format("a\tb\tc\td\te\n"),
            Ok(PriceFormat::AzIdTsv)
        );
        assert!(detect_price_format("\n\nhello").unwrap_err().0 == 3);
    }
}
