//! Request accounting, rate limits and fault injection.
use crate::clock::Millis;
use crate::seed::{FaultSpec, SecondaryLimit};
use crate::world::RateWindow;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, VecDeque};

/// One request the fake answered.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RequestRecord {
    /// When (fake clock, ms).
    pub at: Millis,
    /// HTTP method.
    pub method: String,
    /// Concrete path (no query).
    pub path: String,
    /// OpenAPI path template (or the path when it matched no GitHub route).
    pub route: String,
    /// Rate-limit identity of the caller, when identified.
    pub identity: Option<String>,
    /// Status answered.
    pub status: u16,
    /// Id of the injected fault that answered or delayed it.
    pub fault: Option<u64>,
    /// Answered by the primary or secondary rate limit.
    pub rate_limited: bool,
}

impl RequestRecord {
    /// `METHOD /template`, the key of per-endpoint counts.
    pub fn endpoint(&self) -> String {
        format!("{} {}", self.method, self.route)
    }
}

/// Aggregates over the request log.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
pub struct StatsSummary {
    /// All GitHub API requests.
    pub total: u64,
    /// Per `METHOD /template`.
    pub by_endpoint: BTreeMap<String, u64>,
    /// Per status code.
    pub by_status: BTreeMap<u16, u64>,
    /// Per hour (key: hour start, epoch seconds, fake clock).
    pub by_hour: BTreeMap<i64, u64>,
    /// Per `METHOD /template`, per hour.
    pub by_endpoint_hour: BTreeMap<String, BTreeMap<i64, u64>>,
    /// Per rate-limit identity.
    pub by_identity: BTreeMap<String, u64>,
    /// Requests answered (or delayed) by an injected fault.
    pub faults_injected: u64,
    /// Hits per fault id.
    pub by_fault: BTreeMap<u64, u64>,
    /// Requests refused by a rate limit (primary or secondary).
    pub rate_limited: u64,
}

impl StatsSummary {
    /// Count for `METHOD /template` (0 when none).
    pub fn endpoint(&self, method: &str, template: &str) -> u64 {
        self.by_endpoint
            .get(&format!("{} {}", method.to_ascii_uppercase(), template))
            .copied()
            .unwrap_or(0)
    }
}

/// An installed fault.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Fault {
    /// Id (returned when installed).
    pub id: u64,
    /// What it does.
    pub spec: FaultSpec,
    /// How often it fired.
    pub hits: u32,
}

impl Fault {
    fn live(&self) -> bool {
        self.spec.times.is_none_or(|n| self.hits < n)
    }
}

/// Does a fault path pattern match this request?
pub fn pattern_matches(pattern: &str, template: &str, path: &str) -> bool {
    if pattern == template || pattern == path {
        return true;
    }
    if pattern.contains('*') {
        return glob(pattern.as_bytes(), path.as_bytes());
    }
    false
}

fn glob(p: &[u8], s: &[u8]) -> bool {
    match (p.first(), s.first()) {
        (None, None) => true,
        (Some(b'*'), _) => glob(&p[1..], s) || (!s.is_empty() && glob(p, &s[1..])),
        (Some(a), Some(b)) if a == b => glob(&p[1..], &s[1..]),
        _ => false,
    }
}

pub(crate) struct Traffic {
    pub records: Vec<RequestRecord>,
    pub faults: Vec<Fault>,
    next_fault_id: u64,
    pub latency_ms: u64,
    pub default_limit: u32,
    pub anonymous_limit: u32,
    pub limit_overrides: HashMap<String, u32>,
    pub windows: HashMap<String, RateWindow>,
    pub secondary: Option<SecondaryLimit>,
    secondary_hits: HashMap<String, VecDeque<Millis>>,
    pub primary_status: u16,
    pub validation_failures: Vec<String>,
}

impl Traffic {
    pub fn new(default_limit: u32, primary_status: u16) -> Self {
        Traffic {
            records: Vec::new(),
            faults: Vec::new(),
            next_fault_id: 1,
            latency_ms: 0,
            default_limit,
            anonymous_limit: 60,
            limit_overrides: HashMap::new(),
            windows: HashMap::new(),
            secondary: None,
            secondary_hits: HashMap::new(),
            primary_status,
            validation_failures: Vec::new(),
        }
    }

    pub fn add_fault(&mut self, spec: FaultSpec) -> u64 {
        let id = self.next_fault_id;
        self.next_fault_id += 1;
        self.faults.push(Fault { id, spec, hits: 0 });
        id
    }

    /// The first live fault matching, consumed by one.
    pub fn take_fault(&mut self, method: &str, template: &str, path: &str) -> Option<Fault> {
        let f = self.faults.iter_mut().find(|f| {
            f.live()
                && f.spec
                    .method
                    .as_deref()
                    .is_none_or(|m| m == "*" || m.eq_ignore_ascii_case(method))
                && pattern_matches(&f.spec.path, template, path)
        })?;
        f.hits += 1;
        Some(f.clone())
    }

    fn limit_for(&self, identity: &str) -> u32 {
        if let Some(l) = self.limit_overrides.get(identity) {
            return *l;
        }
        if identity == "anonymous" {
            self.anonymous_limit
        } else {
            self.default_limit
        }
    }

    /// The current window (fresh if expired), without counting.
    pub fn window(&mut self, identity: &str, now: Millis) -> RateWindow {
        let limit = self.limit_for(identity);
        let now_s = now.div_euclid(1000);
        let w = self
            .windows
            .entry(identity.to_string())
            .or_insert(RateWindow {
                limit,
                used: 0,
                reset: now_s + 3600,
            });
        if now_s >= w.reset {
            *w = RateWindow {
                limit,
                used: 0,
                reset: now_s + 3600,
            };
        }
        w.limit = limit;
        w.clone()
    }

    /// Count one request; Err(window) when the budget is exhausted.
    pub fn consume(&mut self, identity: &str, now: Millis) -> Result<RateWindow, RateWindow> {
        let w = self.window(identity, now);
        if w.used >= w.limit {
            return Err(w);
        }
        let w = self.windows.get_mut(identity).unwrap();
        w.used += 1;
        Ok(w.clone())
    }

    /// Secondary limit: Some(limit) when this request exceeds it.
    pub fn secondary_exceeded(&mut self, identity: &str, now: Millis) -> Option<SecondaryLimit> {
        let s = self.secondary.clone()?;
        let q = self.secondary_hits.entry(identity.to_string()).or_default();
        let window_ms = s.window_secs as i64 * 1000;
        while q.front().is_some_and(|t| now - *t >= window_ms) {
            q.pop_front();
        }
        if q.len() as u32 >= s.max_requests {
            return Some(s);
        }
        q.push_back(now);
        None
    }

    pub fn summary(&self) -> StatsSummary {
        let mut s = StatsSummary::default();
        for r in &self.records {
            s.total += 1;
            let ep = r.endpoint();
            *s.by_endpoint.entry(ep.clone()).or_default() += 1;
            *s.by_status.entry(r.status).or_default() += 1;
            let hour = r.at.div_euclid(3_600_000) * 3600;
            *s.by_hour.entry(hour).or_default() += 1;
            *s.by_endpoint_hour
                .entry(ep)
                .or_default()
                .entry(hour)
                .or_default() += 1;
            if let Some(id) = &r.identity {
                *s.by_identity.entry(id.clone()).or_default() += 1;
            }
            if let Some(f) = r.fault {
                s.faults_injected += 1;
                *s.by_fault.entry(f).or_default() += 1;
            }
            if r.rate_limited {
                s.rate_limited += 1;
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        let t = "/orgs/{org}/actions/runners/{runner_id}";
        assert!(pattern_matches(t, t, "/orgs/a/actions/runners/3"));
        assert!(pattern_matches(
            "/orgs/a/actions/runners/3",
            t,
            "/orgs/a/actions/runners/3"
        ));
        // `*` crosses `/`.
        assert!(pattern_matches(
            "/orgs/*/runners/*",
            t,
            "/orgs/a/actions/runners/3"
        ));
        assert!(!pattern_matches(
            "/orgs/*/runners",
            t,
            "/orgs/a/actions/runners/3"
        ));
        assert!(pattern_matches(
            "/orgs/*/actions/runners/*",
            t,
            "/orgs/a/actions/runners/3"
        ));
        assert!(pattern_matches("*", t, "/x"));
        assert!(!pattern_matches(
            "/orgs/b/*",
            t,
            "/orgs/a/actions/runners/3"
        ));
    }

    #[test]
    fn rate_window_exhausts_and_resets() {
        let mut t = Traffic::new(2, 403);
        assert!(t.consume("x", 0).is_ok());
        assert_eq!(t.consume("x", 0).unwrap().remaining(), 0);
        assert!(t.consume("x", 1000).is_err());
        assert!(t.consume("x", 3_600_000).is_ok());
    }

    #[test]
    fn faults_run_out() {
        let mut t = Traffic::new(10, 403);
        t.add_fault(FaultSpec::new("GET", "/a").status(500).times(2));
        assert!(t.take_fault("GET", "/a", "/a").is_some());
        assert!(t.take_fault("POST", "/a", "/a").is_none());
        assert!(t.take_fault("GET", "/a", "/a").is_some());
        assert!(t.take_fault("GET", "/a", "/a").is_none());
    }
}
