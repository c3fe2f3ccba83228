//! The build queue (SQS): messages become visible after the queue's delay, are received in
//! batches (receive count +1), and either go away with the batch or come back after a
//! visibility delay.

use std::collections::BTreeSet;

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
    pub id: String,
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

#[derive(Default)]
pub struct BuildQueue {
    pub messages: Vec<Message>,
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
        let mut id = String::with_capacity(16);
        id.push_str("msg-");
        flotilla_core::naming::push_decimal(&mut id, self.messages.len() as u64);
        self.send_as(id, job, attempt, now, delay_ms)
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
        let visible_at = now + delay_ms;
        self.messages.push(Message {
            id,
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
            .filter(|i| self.messages.get(*i).is_some_and(|m| m.id == id))
            .or_else(|| self.messages.iter().position(|m| m.id == id))
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
