//! Schedules: EventBridge `cron(...)` / `rate(...)` expressions and the 6-field cron (with
//! seconds) of `idle_config`.
//!
//! Two dialects, parsed separately because their fields differ:
//! - EventBridge `cron(min hour day-of-month month day-of-week year)`: day-of-week 1-7 is
//!   SUN-SAT, one of the day fields must be `?`; `L`, `W` and `#` are supported.
//! - `idle_config` (node's cron-parser, as terraform-aws-github-runner uses it):
//!   `sec min hour day-of-month month day-of-week`, day-of-week 0-7 with 0 and 7 both Sunday; when
//!   both day fields are restricted a day matching either one matches (classic cron).
//!
//! `rate(N unit)` fires every N units counted from the Unix epoch. (EventBridge counts from the
//! rule's creation; nothing observable depends on the phase, and an epoch phase keeps simulations
//! reproducible.)

use chrono::{Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Timelike};
use chrono_tz::Tz;

use crate::time::{Timestamp, SECOND};

/// A parsed schedule, ready to answer "when next?" and "does it hold now?".
#[derive(Clone, Debug, PartialEq)]
pub enum Schedule {
    Cron { cron: Box<Cron>, tz: Tz },
    Rate { every_ms: i64 },
}

/// Field sets of a cron expression, in local time of its zone.
#[derive(Clone, Debug, PartialEq)]
pub struct Cron {
    seconds: u64,
    minutes: u64,
    hours: u32,
    /// bit d = day d of the month (1..=31)
    days_of_month: u32,
    dom_last: bool,
    dom_nearest_weekday: Option<u32>,
    dom_restricted: bool,
    months: u16,
    /// bit d = weekday d, 0 = Sunday
    days_of_week: u8,
    /// (weekday, n): the n-th such weekday of the month
    dow_nth: Vec<(u32, u32)>,
    /// the last such weekday of the month
    dow_last: Vec<u32>,
    dow_restricted: bool,
    years: Option<Vec<(i32, i32)>>,
}

const MAX_SEARCH_YEARS: i32 = 5;

/// Parses an EventBridge schedule expression: `cron(...)` or `rate(...)`.
pub fn parse_schedule_expression(expr: &str, time_zone: Option<&str>) -> Result<Schedule, String> {
    let expr = expr.trim();
    let tz = parse_tz(time_zone.unwrap_or("UTC"))?;
    if let Some(inner) = expr.strip_prefix("cron(").and_then(|s| s.strip_suffix(')')) {
        let cron = parse_eventbridge_cron(inner).map_err(|e| {
            format!("`{expr}`: {e} (EventBridge form: cron(minutes hours day-of-month month day-of-week year), e.g. cron(*/5 * * * ? *))")
        })?;
        Ok(Schedule::Cron {
            cron: Box::new(cron),
            tz,
        })
    } else if let Some(inner) = expr.strip_prefix("rate(").and_then(|s| s.strip_suffix(')')) {
        parse_rate(inner).map_err(|e| format!("`{expr}`: {e}"))
    } else {
        Err(format!(
            "`{expr}` is not an EventBridge schedule: write cron(...) such as cron(*/5 * * * ? *) or rate(...) such as rate(5 minutes)"
        ))
    }
}

/// Parses an `idle_config` cron: 6 fields with seconds, in the given IANA time zone.
pub fn parse_idle_cron(expr: &str, time_zone: &str) -> Result<Schedule, String> {
    let tz = parse_tz(time_zone)?;
    let fields: Vec<&str> = expr.split_whitespace().collect();
    if fields.len() != 6 {
        return Err(format!(
            "cron `{expr}` has {} fields; idle_config takes 6 with seconds first: `sec min hour day-of-month month day-of-week`, e.g. `* * 9-17 * * 1-5`",
            fields.len()
        ));
    }
    let cron = (|| -> Result<Cron, String> {
        let seconds = parse_bits(fields[0], 0, 59, &[], "seconds")?;
        let minutes = parse_bits(fields[1], 0, 59, &[], "minutes")?;
        let hours = parse_bits(fields[2], 0, 23, &[], "hours")? as u32;
        let dom = parse_dom(fields[3])?;
        let months = parse_bits(fields[4], 1, 12, &MONTH_NAMES, "month")? as u16;
        let dow = parse_dow(fields[5], DowNumbering::ZeroIsSunday)?;
        Ok(Cron {
            seconds,
            minutes,
            hours,
            days_of_month: dom.bits,
            dom_last: dom.last,
            dom_nearest_weekday: dom.nearest_weekday,
            dom_restricted: dom.restricted,
            months,
            days_of_week: dow.bits,
            dow_nth: dow.nth,
            dow_last: dow.last,
            dow_restricted: dow.restricted,
            years: None,
        })
    })()
    .map_err(|e| format!("cron `{expr}`: {e}"))?;
    Ok(Schedule::Cron {
        cron: Box::new(cron),
        tz,
    })
}

fn parse_tz(name: &str) -> Result<Tz, String> {
    name.parse::<Tz>().map_err(|_| {
        format!("`{name}` is not an IANA time zone name such as UTC or Europe/Amsterdam")
    })
}

fn parse_rate(inner: &str) -> Result<Schedule, String> {
    let parts: Vec<&str> = inner.split_whitespace().collect();
    let [n, unit] = parts[..] else {
        return Err("rate takes a number and a unit, e.g. rate(5 minutes)".into());
    };
    let n: i64 = n
        .parse()
        .ok()
        .filter(|n| *n >= 1)
        .ok_or_else(|| format!("`{n}` is not a whole number of at least 1"))?;
    let unit_ms = match unit {
        "minute" | "minutes" => 60 * SECOND,
        "hour" | "hours" => 3_600 * SECOND,
        "day" | "days" => 86_400 * SECOND,
        _ => {
            return Err(format!(
                "`{unit}` is not a rate unit: use minutes, hours or days"
            ))
        }
    };
    let singular = !unit.ends_with('s');
    if singular != (n == 1) {
        return Err(format!(
            "EventBridge wants `rate(1 {})` for one and `rate({n} {}s)` for more",
            unit.trim_end_matches('s'),
            unit.trim_end_matches('s')
        ));
    }
    Ok(Schedule::Rate {
        every_ms: n * unit_ms,
    })
}

fn parse_eventbridge_cron(inner: &str) -> Result<Cron, String> {
    let fields: Vec<&str> = inner.split_whitespace().collect();
    if fields.len() != 6 {
        return Err(format!("has {} fields, EventBridge wants 6", fields.len()));
    }
    let minutes = parse_bits(fields[0], 0, 59, &[], "minutes")?;
    let hours = parse_bits(fields[1], 0, 23, &[], "hours")? as u32;
    let dom_q = fields[2] == "?";
    let dow_q = fields[4] == "?";
    if dom_q == dow_q {
        return Err("exactly one of day-of-month and day-of-week must be `?`".into());
    }
    let dom = if dom_q {
        DomSpec::any()
    } else {
        parse_dom(fields[2])?
    };
    let months = parse_bits(fields[3], 1, 12, &MONTH_NAMES, "month")? as u16;
    let dow = if dow_q {
        DowSpec::any()
    } else {
        parse_dow(fields[4], DowNumbering::OneIsSunday)?
    };
    let years = if fields[5] == "*" {
        None
    } else {
        let mut ranges = Vec::new();
        for part in fields[5].split(',') {
            let (a, b) = match part.split_once('-') {
                Some((a, b)) => (parse_num(a, "year")?, parse_num(b, "year")?),
                None => {
                    let y = parse_num(part, "year")?;
                    (y, y)
                }
            };
            if !(1970..=2199).contains(&a) || !(1970..=2199).contains(&b) || a > b {
                return Err(format!("year `{part}` must be within 1970-2199"));
            }
            ranges.push((a as i32, b as i32));
        }
        Some(ranges)
    };
    Ok(Cron {
        seconds: 1,
        minutes,
        hours,
        days_of_month: dom.bits,
        dom_last: dom.last,
        dom_nearest_weekday: dom.nearest_weekday,
        dom_restricted: dom.restricted,
        months,
        days_of_week: dow.bits,
        dow_nth: dow.nth,
        dow_last: dow.last,
        dow_restricted: dow.restricted,
        years,
    })
}

const MONTH_NAMES: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAY_NAMES: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

fn parse_num(text: &str, what: &str) -> Result<u32, String> {
    text.parse::<u32>()
        .map_err(|_| format!("`{text}` is not a number in the {what} field"))
}

/// Parses `*`, `a`, `a-b`, `*/n`, `a/n`, `a-b/n` and lists of them into a bit set.
fn parse_bits(field: &str, lo: u32, hi: u32, names: &[&str], what: &str) -> Result<u64, String> {
    let value = |t: &str| -> Result<u32, String> {
        let upper = t.to_ascii_uppercase();
        if let Some(i) = names.iter().position(|n| *n == upper) {
            return Ok(lo + i as u32);
        }
        let v = parse_num(t, what)?;
        if v < lo || v > hi {
            return Err(format!("{what} value {v} is outside {lo}-{hi}"));
        }
        Ok(v)
    };
    let mut bits = 0u64;
    for part in field.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => {
                let s = parse_num(s, what)?;
                if s == 0 {
                    return Err(format!("step 0 in the {what} field"));
                }
                (r, s)
            }
            None => (part, 1),
        };
        let (a, b) = if range == "*" || range == "?" {
            (lo, hi)
        } else if let Some((a, b)) = range.split_once('-') {
            (value(a)?, value(b)?)
        } else {
            let a = value(range)?;
            (a, if part.contains('/') { hi } else { a })
        };
        if a > b {
            return Err(format!(
                "range `{range}` in the {what} field runs backwards"
            ));
        }
        let mut v = a;
        while v <= b {
            bits |= 1u64 << v;
            v += step;
        }
    }
    if bits == 0 {
        return Err(format!("the {what} field selects nothing"));
    }
    Ok(bits)
}

struct DomSpec {
    bits: u32,
    last: bool,
    nearest_weekday: Option<u32>,
    restricted: bool,
}

impl DomSpec {
    fn any() -> Self {
        DomSpec {
            bits: u32::MAX,
            last: false,
            nearest_weekday: None,
            restricted: false,
        }
    }
}

fn parse_dom(field: &str) -> Result<DomSpec, String> {
    if field == "*" || field == "?" {
        return Ok(DomSpec::any());
    }
    if field == "L" {
        return Ok(DomSpec {
            bits: 0,
            last: true,
            nearest_weekday: None,
            restricted: true,
        });
    }
    if let Some(d) = field.strip_suffix('W') {
        let d = parse_num(d, "day-of-month")?;
        if !(1..=31).contains(&d) {
            return Err(format!("day-of-month {d}W is outside 1-31"));
        }
        return Ok(DomSpec {
            bits: 0,
            last: false,
            nearest_weekday: Some(d),
            restricted: true,
        });
    }
    let bits = parse_bits(field, 1, 31, &[], "day-of-month")? as u32;
    Ok(DomSpec {
        bits,
        last: false,
        nearest_weekday: None,
        restricted: true,
    })
}

struct DowSpec {
    bits: u8,
    nth: Vec<(u32, u32)>,
    last: Vec<u32>,
    restricted: bool,
}

impl DowSpec {
    fn any() -> Self {
        DowSpec {
            bits: 0x7f,
            nth: Vec::new(),
            last: Vec::new(),
            restricted: false,
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum DowNumbering {
    /// EventBridge: 1 = SUN ... 7 = SAT.
    OneIsSunday,
    /// cron-parser: 0 = SUN ... 6 = SAT, 7 = SUN.
    ZeroIsSunday,
}

fn parse_dow(field: &str, numbering: DowNumbering) -> Result<DowSpec, String> {
    if field == "*" || field == "?" {
        return Ok(DowSpec::any());
    }
    let to_weekday = |t: &str| -> Result<u32, String> {
        let upper = t.to_ascii_uppercase();
        if let Some(i) = DAY_NAMES.iter().position(|n| *n == upper) {
            return Ok(i as u32);
        }
        let v = parse_num(t, "day-of-week")?;
        match numbering {
            DowNumbering::OneIsSunday if (1..=7).contains(&v) => Ok(v - 1),
            DowNumbering::ZeroIsSunday if v <= 7 => Ok(v % 7),
            _ => Err(format!("day-of-week value {v} is out of range")),
        }
    };
    let mut spec = DowSpec {
        bits: 0,
        nth: Vec::new(),
        last: Vec::new(),
        restricted: true,
    };
    for part in field.split(',') {
        if let Some((d, n)) = part.split_once('#') {
            let n = parse_num(n, "day-of-week")?;
            if !(1..=5).contains(&n) {
                return Err(format!("`{part}`: the n in day#n must be 1-5"));
            }
            spec.nth.push((to_weekday(d)?, n));
        } else if let Some(d) = part.strip_suffix('L').filter(|d| !d.is_empty()) {
            spec.last.push(to_weekday(d)?);
        } else if part == "L" {
            // Alone in the day-of-week field, L means Saturday (the last day of the week).
            spec.bits |= 1 << 6;
        } else {
            let (range, step) = match part.split_once('/') {
                Some((r, s)) => (r, parse_num(s, "day-of-week")?.max(1)),
                None => (part, 1),
            };
            let (a, b) = if range == "*" {
                (0, 6)
            } else if let Some((a, b)) = range.split_once('-') {
                let a = to_weekday(a)?;
                let mut b = to_weekday(b)?;
                // `5-7` in the zero-is-Sunday dialect runs Friday to Sunday.
                if numbering == DowNumbering::ZeroIsSunday && b == 0 && a > 0 {
                    b = 7;
                }
                (a, b)
            } else {
                let a = to_weekday(range)?;
                (a, if part.contains('/') { 6 } else { a })
            };
            if a > b {
                return Err(format!(
                    "range `{range}` in the day-of-week field runs backwards"
                ));
            }
            let mut v = a;
            while v <= b {
                spec.bits |= 1 << (v % 7);
                v += step;
            }
        }
    }
    Ok(spec)
}

fn days_in_month(year: i32, month: u32) -> u32 {
    let (ny, nm) = if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    };
    NaiveDate::from_ymd_opt(ny, nm, 1)
        .and_then(|d| d.pred_opt())
        .map(|d| d.day())
        .unwrap_or(28)
}

impl Cron {
    fn year_ok(&self, y: i32) -> bool {
        match &self.years {
            None => true,
            Some(r) => r.iter().any(|(a, b)| (*a..=*b).contains(&y)),
        }
    }

    fn dom_matches(&self, date: NaiveDate) -> bool {
        let d = date.day();
        let last = days_in_month(date.year(), date.month());
        if self.dom_last && d == last {
            return true;
        }
        if let Some(target) = self.dom_nearest_weekday {
            let target = target.min(last);
            let t = date.with_day(target).unwrap_or(date);
            let wd = t.weekday().num_days_from_sunday();
            let nearest = match wd {
                6 if target == 1 => target + 2,
                6 => target - 1,
                0 if target == last => target - 2,
                0 => target + 1,
                _ => target,
            };
            if d == nearest {
                return true;
            }
        }
        self.days_of_month & (1 << d) != 0
    }

    fn dow_matches(&self, date: NaiveDate) -> bool {
        let wd = date.weekday().num_days_from_sunday();
        if self.days_of_week & (1 << wd) != 0 {
            return true;
        }
        let d = date.day();
        if self
            .dow_nth
            .iter()
            .any(|(w, n)| *w == wd && (d - 1) / 7 + 1 == *n)
        {
            return true;
        }
        let last = days_in_month(date.year(), date.month());
        self.dow_last.iter().any(|w| *w == wd && d + 7 > last)
    }

    fn day_matches(&self, date: NaiveDate) -> bool {
        match (self.dom_restricted, self.dow_restricted) {
            (true, true) => self.dom_matches(date) || self.dow_matches(date),
            (true, false) => self.dom_matches(date),
            (false, true) => self.dow_matches(date),
            (false, false) => true,
        }
    }

    /// The first local time at or after `from` that matches, searching a bounded horizon.
    fn next_local(&self, from: NaiveDateTime) -> Option<NaiveDateTime> {
        let mut t = from.with_nanosecond(0)?;
        let horizon = from.year() + MAX_SEARCH_YEARS;
        loop {
            if t.year() > horizon {
                return None;
            }
            if !self.year_ok(t.year()) {
                t = NaiveDate::from_ymd_opt(t.year() + 1, 1, 1)?.and_hms_opt(0, 0, 0)?;
                continue;
            }
            if self.months & (1 << t.month()) == 0 {
                let (y, m) = if t.month() == 12 {
                    (t.year() + 1, 1)
                } else {
                    (t.year(), t.month() + 1)
                };
                t = NaiveDate::from_ymd_opt(y, m, 1)?.and_hms_opt(0, 0, 0)?;
                continue;
            }
            if !self.day_matches(t.date()) {
                t = t.date().succ_opt()?.and_hms_opt(0, 0, 0)?;
                continue;
            }
            if self.hours & (1 << t.hour()) == 0 {
                match next_bit(u64::from(self.hours), t.hour() + 1, 23) {
                    Some(h) => t = t.date().and_hms_opt(h, 0, 0)?,
                    None => t = t.date().succ_opt()?.and_hms_opt(0, 0, 0)?,
                }
                continue;
            }
            if self.minutes & (1 << t.minute()) == 0 {
                match next_bit(self.minutes, t.minute() + 1, 59) {
                    Some(m) => t = t.date().and_hms_opt(t.hour(), m, 0)?,
                    None => t = t.date().and_hms_opt(t.hour(), 0, 0)? + Duration::hours(1),
                }
                continue;
            }
            if self.seconds & (1 << t.second()) == 0 {
                match next_bit(self.seconds, t.second() + 1, 59) {
                    Some(s) => t = t.date().and_hms_opt(t.hour(), t.minute(), s)?,
                    None => {
                        t = t.date().and_hms_opt(t.hour(), t.minute(), 0)? + Duration::minutes(1)
                    }
                }
                continue;
            }
            return Some(t);
        }
    }
}

/// The lowest set bit in `from..=hi`.
fn next_bit(bits: u64, from: u32, hi: u32) -> Option<u32> {
    if from > hi || from >= 64 {
        return None;
    }
    let above = bits >> from;
    if above == 0 {
        return None;
    }
    let b = from + above.trailing_zeros();
    (b <= hi).then_some(b)
}

impl Schedule {
    /// The first firing strictly after `t`, or `None` when there is none within five years.
    pub fn next_after(&self, t: Timestamp) -> Option<Timestamp> {
        match self {
            Schedule::Rate { every_ms } => {
                let next = (t.millis().div_euclid(*every_ms) + 1) * every_ms;
                Some(Timestamp(next))
            }
            Schedule::Cron { cron, tz } => {
                // Whole seconds strictly after t, searched in the zone's wall-clock time.
                let from_ms = (t.millis().div_euclid(SECOND) + 1) * SECOND;
                let mut local_from = Timestamp(from_ms)
                    .to_datetime()?
                    .with_timezone(tz)
                    .naive_local();
                for _ in 0..16 {
                    let candidate = cron.next_local(local_from)?;
                    let resolved = match tz.from_local_datetime(&candidate) {
                        LocalResult::Single(dt) => Some(dt.timestamp_millis()),
                        // Clocks went back: the wall-clock time happens twice; take the first
                        // one still after t.
                        LocalResult::Ambiguous(a, b) => {
                            [a.timestamp_millis(), b.timestamp_millis()]
                                .into_iter()
                                .find(|ms| *ms > t.millis())
                        }
                        // Clocks went forward: the wall-clock time never happens.
                        LocalResult::None => None,
                    };
                    match resolved {
                        Some(ms) if ms > t.millis() => return Some(Timestamp(ms)),
                        _ => local_from = candidate + Duration::seconds(1),
                    }
                }
                None
            }
        }
    }

    /// Whether the schedule holds at `t`, within `tolerance_ms` either side. This is how
    /// `idle_config` windows are read (v7 allows 5 s).
    pub fn holds_near(&self, t: Timestamp, tolerance_ms: i64) -> bool {
        match self.next_after(t.minus_millis(tolerance_ms + 1)) {
            Some(next) => next <= t.plus_millis(tolerance_ms),
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        Timestamp::parse_rfc3339(s).unwrap()
    }

    #[test]
    fn next_bit_is_the_lowest_set_bit_in_range() {
        for bits in [0u64, 1, 0b1010_0000, 1 << 59, u64::MAX, 0x0f0f_0f0f] {
            for from in 0..62 {
                for hi in [0u32, 5, 23, 59] {
                    let slow = (from..=hi).find(|b| bits & (1 << b) != 0);
                    assert_eq!(next_bit(bits, from, hi), slow, "{bits:b} {from} {hi}");
                }
            }
        }
    }

    #[test]
    fn every_five_minutes() {
        let s = parse_schedule_expression("cron(*/5 * * * ? *)", None).unwrap();
        assert_eq!(
            s.next_after(ts("2025-09-04T17:25:47Z")),
            Some(ts("2025-09-04T17:30:00Z"))
        );
        assert_eq!(
            s.next_after(ts("2025-09-04T17:30:00Z")),
            Some(ts("2025-09-04T17:35:00Z"))
        );
        assert_eq!(
            s.next_after(ts("2025-12-31T23:59:00Z")),
            Some(ts("2026-01-01T00:00:00Z"))
        );
    }

    #[test]
    fn eventbridge_weekdays_are_one_is_sunday() {
        // 08:00 Monday-Friday.
        let s = parse_schedule_expression("cron(0 8 ? * MON-FRI *)", None).unwrap();
        let numeric = parse_schedule_expression("cron(0 8 ? * 2-6 *)", None).unwrap();
        // 2025-09-06 is a Saturday.
        let t = ts("2025-09-05T09:00:00Z");
        assert_eq!(s.next_after(t), Some(ts("2025-09-08T08:00:00Z")));
        assert_eq!(numeric.next_after(t), s.next_after(t));
    }

    #[test]
    fn time_zone_applies() {
        let s = parse_schedule_expression("cron(0 8 * * ? *)", Some("Europe/Amsterdam")).unwrap();
        // CEST is UTC+2 in September.
        assert_eq!(
            s.next_after(ts("2025-09-04T00:00:00Z")),
            Some(ts("2025-09-04T06:00:00Z"))
        );
    }

    #[test]
    fn last_day_and_nth_weekday() {
        let last = parse_schedule_expression("cron(0 0 L * ? *)", None).unwrap();
        assert_eq!(
            last.next_after(ts("2024-02-10T00:00:00Z")),
            Some(ts("2024-02-29T00:00:00Z"))
        );
        let second_tuesday = parse_schedule_expression("cron(0 12 ? * 3#2 *)", None).unwrap();
        assert_eq!(
            second_tuesday.next_after(ts("2025-09-01T00:00:00Z")),
            Some(ts("2025-09-09T12:00:00Z"))
        );
        let last_friday = parse_schedule_expression("cron(0 12 ? * 6L *)", None).unwrap();
        assert_eq!(
            last_friday.next_after(ts("2025-09-01T00:00:00Z")),
            Some(ts("2025-09-26T12:00:00Z"))
        );
    }

    #[test]
    fn year_field_limits_and_ends() {
        let s = parse_schedule_expression("cron(0 0 1 1 ? 2026)", None).unwrap();
        assert_eq!(
            s.next_after(ts("2025-03-01T00:00:00Z")),
            Some(ts("2026-01-01T00:00:00Z"))
        );
        assert_eq!(s.next_after(ts("2026-01-01T00:00:00Z")), None);
    }

    #[test]
    fn rates() {
        let s = parse_schedule_expression("rate(5 minutes)", None).unwrap();
        assert_eq!(
            s.next_after(ts("2025-09-04T17:25:47Z")),
            Some(ts("2025-09-04T17:30:00Z"))
        );
        assert!(parse_schedule_expression("rate(1 minutes)", None).is_err());
        assert!(parse_schedule_expression("rate(5 minute)", None).is_err());
        assert!(parse_schedule_expression("rate(1 hour)", None).is_ok());
        assert!(parse_schedule_expression("rate(0 hours)", None).is_err());
    }

    #[test]
    fn errors_explain() {
        let e = parse_schedule_expression("cron(*/5 * * * * *)", None).unwrap_err();
        assert!(e.contains("`?`"), "{e}");
        let e = parse_schedule_expression("every 5 minutes", None).unwrap_err();
        assert!(e.contains("rate(5 minutes)"), "{e}");
        let e = parse_idle_cron("* 9-17 * * 1-5", "UTC").unwrap_err();
        assert!(e.contains("6"), "{e}");
        assert!(parse_idle_cron("* * 25 * * *", "UTC").is_err());
        assert!(parse_idle_cron("* * * * * *", "Nowhere/Land").is_err());
    }

    #[test]
    fn idle_window_working_hours() {
        let s = parse_idle_cron("* * 9-17 * * 1-5", "Europe/Amsterdam").unwrap();
        // Thursday 2025-09-04 10:00 CEST = 08:00Z.
        assert!(s.holds_near(ts("2025-09-04T08:00:00Z"), 5_000));
        assert!(s.holds_near(ts("2025-09-04T15:59:59Z"), 5_000));
        // 18:00 CEST is outside 9-17.
        assert!(!s.holds_near(ts("2025-09-04T16:00:06Z"), 5_000));
        // Saturday.
        assert!(!s.holds_near(ts("2025-09-06T10:00:00Z"), 5_000));
    }

    #[test]
    fn idle_cron_sunday_is_zero_and_seven() {
        let a = parse_idle_cron("* * * * * 0", "UTC").unwrap();
        let b = parse_idle_cron("* * * * * 7", "UTC").unwrap();
        let sunday = ts("2025-09-07T12:00:00Z");
        assert!(a.holds_near(sunday, 0));
        assert!(b.holds_near(sunday, 0));
        assert!(!a.holds_near(ts("2025-09-08T12:00:00Z"), 0));
    }

    #[test]
    fn daylight_saving_gap_is_skipped() {
        // 02:30 does not exist in Amsterdam on 2025-03-30.
        let s = parse_schedule_expression("cron(30 2 * * ? *)", Some("Europe/Amsterdam")).unwrap();
        // 2025-03-29 02:30 CET = 01:30Z has passed; 03-30 has no 02:30; 03-31 02:30 CEST = 00:30Z.
        let next = s.next_after(ts("2025-03-29T12:00:00Z")).unwrap();
        assert_eq!(next, ts("2025-03-31T00:30:00Z"));
    }
}
