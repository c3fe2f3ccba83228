//! The build queue (SQS): messages become visible after the queue's delay, are received in
//! batches (receive count +1), and either go away with the batch or come back after a
//! visibility delay.

use std::collections::{BTreeMap, BTreeSet};

use flotilla_core::model::QueuedJob;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageState {
    Waiting,
    InFlight,
    Deleted,
    DeadLettered,
    Expired,
}

#[derive(Clone, Debug)]
pub struct Message {
    /// The body, until the message is settled.
    pub job: Option<Box<QueuedJob>>,
    pub attempt: usize,
    pub sent_at: i64,
    pub visible_at: i64,
    pub receive_count: u32,
    pub state: MessageState,
}

impl Message {
    /// A settled message is never read again: a long replay keeps its bookkeeping, not its body.
    fn release_body(&mut self) {
        self.job = None;
    }
}

/// The id the simulator gives message `idx`.
fn own_id(idx: usize) -> String {
    let mut id = String::with_capacity(16);
    id.push_str("msg-");
    flotilla_core::naming::push_decimal(&mut id, idx as u64);
    id
}

/// Whether `id` is [`own_id`]`(idx)`, without building it: `msg-` and the index in decimal,
/// no sign, no leading zero.
fn is_own_id(id: &str, idx: usize) -> bool {
    id.strip_prefix("msg-").is_some_and(|n| {
        n.bytes().all(|b| b.is_ascii_digit())
            && (n == "0" || !n.starts_with('0'))
            && n.parse::<usize>() == Ok(idx)
    })
}

#[derive(Default)]
pub struct BuildQueue {
    pub messages: Vec<Message>,
    /// Ids not of the form `msg-{index}` (imported scenario state): id → first index with it,
    /// and the id of each such index. The rest keep no copy of their id.
    foreign: BTreeMap<String, usize>,
    foreign_ids: BTreeMap<usize, String>,
    /// (visible_at, index) of waiting messages.
    waiting: BTreeSet<(i64, usize)>,
    pub requests: u64,
    pub dead_lettered: u64,
    pub expired: u64,
}

impl BuildQueue {
    pub fn send(
        &mut self,
        job: QueuedJob,
        attempt: usize,
        now: i64,
        delay_ms: i64,
    ) -> (usize, i64) {
        let idx = self.messages.len();
        self.push(idx, job, attempt, now, delay_ms)
    }

    /// The id of message `idx`.
    pub fn id_of(&self, idx: usize) -> String {
        match self.foreign_ids.get(&idx) {
            Some(id) => id.clone(),
            None => own_id(idx),
        }
    }

    /// Sends with a given message id (imported scenario state).
    pub fn send_as(
        &mut self,
        id: String,
        job: QueuedJob,
        attempt: usize,
        now: i64,
        delay_ms: i64,
    ) -> (usize, i64) {
        let idx = self.messages.len();
        if !is_own_id(&id, idx) {
            self.foreign.entry(id.clone()).or_insert(idx);
            self.foreign_ids.insert(idx, id);
        }
        self.push(idx, job, attempt, now, delay_ms)
    }

    fn push(
        &mut self,
        idx: usize,
        job: QueuedJob,
        attempt: usize,
        now: i64,
        delay_ms: i64,
    ) -> (usize, i64) {
        let visible_at = now + delay_ms;
        self.messages.push(Message {
            job: Some(Box::new(job)),
            attempt,
            sent_at: now,
            visible_at,
            receive_count: 0,
            state: MessageState::Waiting,
        });
        self.waiting.insert((visible_at, idx));
        self.requests += 1;
        (idx, visible_at)
    }

    pub fn index_of(&self, id: &str) -> Option<usize> {
        id.strip_prefix("msg-")
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|&i| {
                i < self.messages.len()
                    && match self.foreign_ids.get(&i) {
                        Some(foreign) => foreign == id,
                        None => is_own_id(id, i),
                    }
            })
            .or_else(|| self.foreign.get(id).copied())
    }

    pub fn visible_count(&self, now: i64) -> usize {
        self.waiting.range(..(now + 1, 0)).count()
    }

    pub fn next_visible_at(&self) -> Option<i64> {
        self.waiting.iter().next().map(|(t, _)| *t)
    }

    /// Receives up to `max` visible messages (oldest first); each is in flight until settled.
    pub fn receive(&mut self, now: i64, max: usize) -> Vec<usize> {
        let taken: Vec<(i64, usize)> = self
            .waiting
            .range(..(now + 1, 0))
            .take(max)
            .copied()
            .collect();
        for key in &taken {
            self.waiting.remove(key);
            let m = &mut self.messages[key.1];
            m.receive_count += 1;
            m.state = MessageState::InFlight;
        }
        self.requests += 1;
        taken.into_iter().map(|(_, i)| i).collect()
    }

    /// Back to the queue, visible after `delay_ms` (ChangeMessageVisibility).
    pub fn retry(&mut self, idx: usize, now: i64, delay_ms: i64) -> i64 {
        let m = &mut self.messages[idx];
        m.state = MessageState::Waiting;
        m.visible_at = now + delay_ms;
        self.waiting.insert((m.visible_at, idx));
        self.requests += 1;
        m.visible_at
    }

    pub fn delete(&mut self, idx: usize) {
        let m = &mut self.messages[idx];
        if m.state == MessageState::InFlight || m.state == MessageState::Waiting {
            self.waiting.remove(&(m.visible_at, idx));
            m.state = MessageState::Deleted;
            m.release_body();
        }
    }

    /// Messages received too often go to the dead-letter queue; messages past retention expire.
    pub fn dead_letter(&mut self, idx: usize) {
        let m = &mut self.messages[idx];
        m.state = MessageState::DeadLettered;
        m.release_body();
        self.dead_lettered += 1;
    }

    pub fn expire(&mut self, idx: usize) {
        let m = &mut self.messages[idx];
        self.waiting.remove(&(m.visible_at, idx));
        m.state = MessageState::Expired;
        m.release_body();
        self.expired += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flotilla_core::model::{OwnerType, RepoRef};

    fn job() -> QueuedJob {
        QueuedJob {
            job_id: 1,
            run_id: 1,
            run_attempt: 1,
            repo: RepoRef {
                owner: "acme".into(),
                name: "api".into(),
                owner_type: OwnerType::Organization,
            },
            installation_id: None,
            labels: Vec::new(),
            queued_at: None,
        }
    }

    #[test]
    fn own_ids_are_recognised_without_being_built() {
        for (id, idx) in [("msg-0", 0), ("msg-7", 7), ("msg-1234567", 1_234_567)] {
            assert!(is_own_id(id, idx), "{id}");
            assert_eq!(own_id(idx), id);
        }
        for (id, idx) in [
            ("msg-00", 0),
            ("msg-07", 7),
            ("msg-+7", 7),
            ("msg-7", 8),
            ("msg-", 0),
            ("msg-7 ", 7),
            ("m-7", 7),
            ("7", 7),
        ] {
            assert!(!is_own_id(id, idx), "{id}");
        }
    }

    #[test]
    fn imported_ids_of_any_form_are_found_and_kept() {
        let mut q = BuildQueue::default();
        // Own form at its own index; own form of another index (twice: the first is found);
        // a leading zero; anything else. Then a message sent by the simulator.
        let ids = ["msg-0", "msg-9", "msg-9", "msg-03", "9f1c-uuid"];
        for id in ids {
            q.send_as(id.to_string(), job(), 0, 0, 0);
        }
        let (own, _) = q.send(job(), 0, 0, 0);
        assert_eq!((own, q.id_of(own)), (5, "msg-5".to_string()));
        for (idx, id) in ids.iter().enumerate() {
            assert_eq!(q.id_of(idx), *id);
        }
        assert_eq!(q.index_of("msg-0"), Some(0));
        assert_eq!(q.index_of("msg-9"), Some(1));
        assert_eq!(q.index_of("msg-03"), Some(3));
        assert_eq!(q.index_of("9f1c-uuid"), Some(4));
        assert_eq!(q.index_of("msg-5"), Some(5));
        // Index 3's own id is not its id, and 6 does not exist.
        assert_eq!(q.index_of("msg-3"), None);
        assert_eq!(q.index_of("msg-6"), None);
    }
}
