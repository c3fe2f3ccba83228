//! GitHub as the world model sees it: job attempts queued per owner scope, self-hosted runners,
//! and GitHub's assignment rule — a queued job goes to any idle online runner of its scope whose
//! labels cover the job's (so a runner launched for one job may well take another: job stealing).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use flotilla_core::model::{Runner, RunnerOwner};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttemptStatus {
    Queued,
    /// Assigned to a runner; starts after the assignment delay.
    Assigned,
    InProgress,
    Completed,
}

/// One attempt of one job (a re-run is a new attempt with a new job id).
#[derive(Clone, Debug)]
pub struct Attempt {
    /// Index of the trace job this is an attempt of.
    pub trace_index: usize,
    pub job_id: u64,
    pub run_attempt: u32,
    pub scope: usize,
    pub queued_at: i64,
    pub started_at: Option<i64>,
    pub completed_at: Option<i64>,
    pub status: AttemptStatus,
    pub runner: Option<usize>,
    /// Its runner's instance was reclaimed while it ran.
    pub interrupted: bool,
    pub conclusion: Option<&'static str>,
}

#[derive(Clone, Debug)]
pub struct SimRunner {
    /// GitHub's runner id.
    pub id: u64,
    pub instance: usize,
    pub scope: usize,
    pub ephemeral: bool,
    /// Takes jobs (its instance is alive and it is registered).
    pub polling: bool,
    pub busy_with: Option<usize>,
    /// Listed at GitHub (not yet deleted).
    pub listed: bool,
    pub idle_since: i64,
}

#[derive(Default)]
pub struct GitHub {
    pub attempts: Vec<Attempt>,
    /// Queued attempts per scope, oldest first.
    queues: Vec<VecDeque<usize>>,
    pub runners: Vec<SimRunner>,
    /// Idle polling runners per scope, longest idle first.
    idle: Vec<BTreeSet<(i64, usize)>>,
    /// What `GET …/actions/runners` lists, in the policy's form.
    pub listed: Vec<Runner>,
    listed_pos: Vec<Option<usize>>,
    listed_owner: Vec<usize>,
    /// Listed runners per scope (a runner's listed owner is its scope's).
    listed_in_scope: Vec<usize>,
    /// API requests per hour of simulated time.
    pub api_calls_per_hour: BTreeMap<i64, u64>,
    pub api_calls_total: u64,
    pub scopes: Vec<RunnerOwner>,
}

impl GitHub {
    pub fn scope_id(&mut self, owner: &RunnerOwner) -> usize {
        if let Some(i) = self.scopes.iter().position(|s| s == owner) {
            return i;
        }
        self.scopes.push(owner.clone());
        self.queues.push(VecDeque::new());
        self.idle.push(BTreeSet::new());
        self.listed_in_scope.push(0);
        self.scopes.len() - 1
    }

    pub fn api_call(&mut self, now: i64, n: u64) {
        if n == 0 {
            return;
        }
        *self
            .api_calls_per_hour
            .entry(now.div_euclid(3_600_000))
            .or_default() += n;
        self.api_calls_total += n;
    }

    pub fn add_attempt(&mut self, a: Attempt) -> usize {
        self.attempts.push(a);
        self.attempts.len() - 1
    }

    pub fn enqueue(&mut self, attempt: usize) {
        let scope = self.attempts[attempt].scope;
        self.queues[scope].push_back(attempt);
    }

    pub fn queued_count(&self) -> usize {
        self.queues.iter().map(VecDeque::len).sum()
    }

    /// An idle runner for a just-queued attempt, if any (the attempt leaves the queue).
    pub fn take_idle_runner(&mut self, scope: usize) -> Option<usize> {
        let first = *self.idle[scope].iter().next()?;
        self.idle[scope].remove(&first);
        Some(first.1)
    }

    /// The oldest queued attempt of a scope, for a runner that became idle.
    pub fn take_queued(&mut self, scope: usize) -> Option<usize> {
        self.queues[scope].pop_front()
    }

    /// Removes a specific attempt from its queue (it got a runner another way).
    pub fn unqueue(&mut self, attempt: usize) {
        let scope = self.attempts[attempt].scope;
        if let Some(p) = self.queues[scope].iter().position(|a| *a == attempt) {
            self.queues[scope].remove(p);
        }
    }

    pub fn has_queued(&self, scope: usize) -> bool {
        !self.queues[scope].is_empty()
    }

    /// Room for `n` runners without growing.
    pub fn reserve_runners(&mut self, n: usize) {
        self.runners.reserve(n);
        self.listed_pos.reserve(n);
    }

    pub fn add_runner(&mut self, r: SimRunner, listed: Runner) -> usize {
        debug_assert!(listed.owner == self.scopes[r.scope]);
        self.listed_in_scope[r.scope] += 1;
        let idx = self.runners.len();
        self.runners.push(r);
        self.listed_pos.push(Some(self.listed.len()));
        self.listed_owner.push(idx);
        self.listed.push(listed);
        idx
    }

    /// The index of a runner by GitHub id.
    pub fn runner_index(&self, id: u64) -> Option<usize> {
        let native = id.checked_sub(1).map(|i| i as usize);
        native
            .filter(|i| self.runners.get(*i).is_some_and(|r| r.id == id))
            .or_else(|| self.runners.iter().position(|r| r.id == id))
    }

    pub fn runner_id(index: usize) -> u64 {
        index as u64 + 1
    }

    pub fn mark_idle(&mut self, runner: usize, now: i64) {
        let r = &mut self.runners[runner];
        r.busy_with = None;
        r.idle_since = now;
        if r.polling {
            let scope = r.scope;
            self.idle[scope].insert((now, runner));
        }
        self.set_listed_busy(runner, false);
    }

    pub fn stop_polling(&mut self, runner: usize) {
        let r = &mut self.runners[runner];
        if r.polling {
            r.polling = false;
            let key = (r.idle_since, runner);
            let scope = r.scope;
            self.idle[scope].remove(&key);
        }
    }

    pub fn set_listed_busy(&mut self, runner: usize, busy: bool) {
        if let Some(p) = self.listed_pos[runner] {
            self.listed[p].busy = busy;
        }
    }

    pub fn set_listed_online(&mut self, runner: usize, online: bool) {
        if let Some(p) = self.listed_pos[runner] {
            self.listed[p].online = online;
        }
    }

    pub fn listed_of(&self, runner: usize) -> Option<&Runner> {
        self.listed_pos
            .get(runner)
            .copied()
            .flatten()
            .map(|p| &self.listed[p])
    }

    /// Deletes the runner registration (GitHub's DELETE, or an ephemeral runner's end).
    pub fn unlist(&mut self, runner: usize) {
        self.stop_polling(runner);
        self.runners[runner].listed = false;
        let Some(p) = self.listed_pos[runner].take() else {
            return;
        };
        self.listed_in_scope[self.runners[runner].scope] -= 1;
        let last = self.listed.len() - 1;
        self.listed.swap_remove(p);
        self.listed_owner.swap_remove(p);
        if p < last {
            let moved = self.listed_owner[p];
            self.listed_pos[moved] = Some(p);
        }
    }

    /// Listed runners of one scope (a `GET …/actions/runners` of that owner).
    pub fn listed_count(&self, scope: usize) -> usize {
        self.listed_in_scope[scope]
    }

    pub fn peak_calls_per_hour(&self) -> u64 {
        self.api_calls_per_hour.values().copied().max().unwrap_or(0)
    }
}
