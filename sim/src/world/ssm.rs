//! SSM Parameter Store as the policy uses it: runner tokens per instance, launch claims per job
//! attempt, interrupted-job records per run.

use std::collections::BTreeMap;

use flotilla_core::model::JobRef;

#[derive(Default)]
pub struct Ssm {
    /// instance index → written at
    pub tokens: BTreeMap<usize, i64>,
    /// parameter name → claimed at
    pub claims: BTreeMap<String, i64>,
    /// run id → (job id → (parameter, job))
    pub interrupted: BTreeMap<u64, BTreeMap<u64, (String, JobRef)>>,
    pub requests: u64,
}

impl Ssm {
    /// Deletes a parameter by name, whichever kind it is; absent is fine.
    pub fn delete(&mut self, name: &str, token_owner: Option<usize>) {
        self.requests += 1;
        if let Some(i) = token_owner {
            self.tokens.remove(&i);
            return;
        }
        if self.claims.remove(name).is_some() {
            return;
        }
        for jobs in self.interrupted.values_mut() {
            let found = jobs.iter().find(|(_, (p, _))| p == name).map(|(k, _)| *k);
            if let Some(k) = found {
                jobs.remove(&k);
                break;
            }
        }
        self.interrupted.retain(|_, jobs| !jobs.is_empty());
    }
}
