//! EC2 as the policy sees it: instances with tags, launched by a Fleet model that picks among
//! instance types and zones by the allocation strategy and the price in effect.

use std::collections::{BTreeMap, BTreeSet};

use flotilla_core::config::{AllocationStrategy, CapacityType};
use flotilla_core::model::{Instance, InstanceState, InstanceTags};
use flotilla_core::tags;

use crate::prices::{AzId, PriceBook, TypeId};

/// One instance of the simulated account.
#[derive(Clone, Debug)]
pub struct SimInstance {
    pub type_id: TypeId,
    pub az: AzId,
    pub capacity: CapacityType,
    pub launched_at: i64,
    pub state: InstanceState,
    /// When termination was requested (billing ends).
    pub ended_at: Option<i64>,
    /// Tags of an instance that is not live (imported state). A live instance's tags are its
    /// described entry's, kept parsed: nothing reads a launched instance's raw tags.
    pub raw_tags: BTreeMap<String, String>,
    /// Index of its GitHub runner, once registered.
    pub runner: Option<usize>,
    /// Its token parameter exists in SSM.
    pub token: bool,
    /// The token was read at boot (registration under way).
    pub registering: bool,
    /// Index of the owner scope (org or repo) it registers with.
    pub scope: usize,
    /// When a spot reclaim will happen, if it will.
    pub reclaim_at: Option<i64>,
    /// Reclaimed by EC2.
    pub interrupted: bool,
}

impl SimInstance {
    /// An instance already gone: imported state that names it (a token or runner outliving it).
    pub fn gone(scope: usize) -> Self {
        SimInstance {
            type_id: TypeId(0),
            az: AzId(0),
            capacity: CapacityType::Spot,
            launched_at: 0,
            state: InstanceState::Terminated,
            ended_at: Some(0),
            raw_tags: BTreeMap::new(),
            runner: None,
            token: false,
            registering: false,
            scope,
            reclaim_at: None,
            interrupted: false,
        }
    }
}

/// Instance ids are `i-` and 17 hex digits of a counter, so an id maps back to its index (and
/// a launched instance keeps no copy of its id).
pub fn instance_id(index: usize) -> String {
    String::from_utf8(instance_id_bytes(index).to_vec()).expect("ascii")
}

/// [`instance_id`] without allocating.
fn instance_id_bytes(index: usize) -> [u8; 19] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut n = index as u64 + 0x0a00_0000_0000;
    let mut id = *b"i-00000000000000000";
    for digit in id[2..].iter_mut().rev() {
        *digit = HEX[(n & 0xf) as usize];
        n >>= 4;
    }
    id
}

/// What `u64::from_str_radix(rest, 16)` reads (a leading `+`, either case, overflow refused),
/// by hand: every command about an instance looks its id up here.
pub fn instance_index(id: &str) -> Option<usize> {
    let hex = id.strip_prefix("i-")?.as_bytes();
    let hex = hex.strip_prefix(b"+").unwrap_or(hex);
    if hex.is_empty() {
        return None;
    }
    let mut n: u64 = 0;
    for &b in hex {
        let digit = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' => b - b'A' + 10,
            _ => return None,
        };
        if n >> 60 != 0 {
            return None;
        }
        n = n << 4 | u64::from(digit);
    }
    n.checked_sub(0x0a00_0000_0000).map(|i| i as usize)
}

#[derive(Default)]
pub struct Ec2 {
    pub instances: Vec<SimInstance>,
    /// Live (pending/running) instances as DescribeInstances returns them.
    pub described: Vec<Instance>,
    /// described index per instance index.
    described_pos: Vec<Option<usize>>,
    /// instance index per described index.
    described_owner: Vec<usize>,
    /// Live instances per (type, zone), for the diversified strategy.
    live_per_pool: BTreeMap<(u32, u32), u32>,
    /// Ids not of the simulator's own form (imported scenario state): id → index, and the id
    /// of every index whose id is not `instance_id(index)`.
    foreign: BTreeMap<String, usize>,
    foreign_ids: BTreeMap<usize, String>,
    /// Described instances by the job attempt they were launched for: (job id, run attempt,
    /// instance index). Scale-up describes only these, so a delivery does not walk the fleet.
    by_launched_for: BTreeSet<(u64, u32, usize)>,
}

impl Ec2 {
    /// Room for `n` instances without growing.
    pub fn reserve(&mut self, n: usize) {
        self.instances.reserve(n);
        self.described_pos.reserve(n);
    }

    pub fn live_count(&self) -> usize {
        self.described.len()
    }

    /// The index of an instance by id.
    pub fn index_of(&self, id: &str) -> Option<usize> {
        instance_index(id)
            .filter(|&i| i < self.instances.len() && self.has_id(i, id))
            .or_else(|| self.foreign.get(id).copied())
    }

    fn has_id(&self, idx: usize, id: &str) -> bool {
        match self.foreign_ids.get(&idx) {
            Some(foreign) => foreign == id,
            None => instance_id_bytes(idx) == id.as_bytes(),
        }
    }

    /// The id of an instance.
    pub fn id_of(&self, idx: usize) -> String {
        match self.foreign_ids.get(&idx) {
            Some(foreign) => foreign.clone(),
            None => instance_id(idx),
        }
    }

    /// Records the id of the instance about to get index `idx`, if it is not the simulator's own.
    fn note_id(&mut self, idx: usize, id: &str) {
        if instance_index(id) != Some(idx) {
            self.foreign.insert(id.to_string(), idx);
        }
        if instance_id_bytes(idx) != id.as_bytes() {
            self.foreign_ids.insert(idx, id.to_string());
        }
    }

    /// Adds an instance that is already gone (imported state: a token or runner outliving it).
    pub fn add_gone(&mut self, id: &str, inst: SimInstance) -> usize {
        let idx = self.instances.len();
        self.note_id(idx, id);
        self.instances.push(inst);
        self.described_pos.push(None);
        idx
    }

    /// Adds a live instance described with its raw tags (imported state).
    pub fn add(&mut self, id: String, mut inst: SimInstance, type_name: &str) -> usize {
        let parsed = tags::parse(inst.raw_tags.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        inst.raw_tags = BTreeMap::new();
        self.add_tagged(id, inst, type_name, parsed)
    }

    /// Adds a live instance with its tags already parsed (a launch).
    pub fn add_tagged(
        &mut self,
        id: String,
        inst: SimInstance,
        type_name: &str,
        parsed: InstanceTags,
    ) -> usize {
        let idx = self.instances.len();
        self.note_id(idx, &id);
        let described = Instance {
            id,
            state: inst.state,
            launch_time: flotilla_core::Timestamp(inst.launched_at),
            instance_type: type_name.to_string(),
            capacity_type: inst.capacity,
            tags: parsed,
        };
        *self
            .live_per_pool
            .entry((inst.type_id.0, inst.az.0))
            .or_default() += 1;
        if let Some((job, attempt)) = described.tags.launched_for_attempt() {
            self.by_launched_for.insert((job, attempt, idx));
        }
        self.instances.push(inst);
        self.described_pos.push(Some(self.described.len()));
        self.described_owner.push(idx);
        self.described.push(described);
        idx
    }

    pub fn set_state(&mut self, idx: usize, state: InstanceState) {
        self.instances[idx].state = state;
        if let Some(p) = self.described_pos[idx] {
            self.described[p].state = state;
        }
    }

    /// Writes tags (CreateTags): each is read over the parsed ones, as a fresh
    /// DescribeInstances would show them.
    pub fn tag(&mut self, idx: usize, new: BTreeMap<String, String>) {
        match self.described_pos[idx] {
            Some(p) => self.retag(idx, p, |tags| {
                for (k, v) in new {
                    tags::apply(tags, &k, &v);
                }
            }),
            None => self.instances[idx].raw_tags.extend(new),
        }
    }

    /// Removes tags (DeleteTags): an absent tag reads as an empty one.
    pub fn untag(&mut self, idx: usize, keys: &[String]) {
        match self.described_pos[idx] {
            Some(p) => self.retag(idx, p, |tags| {
                for k in keys {
                    tags::apply(tags, k, "");
                }
            }),
            None => {
                for k in keys {
                    self.instances[idx].raw_tags.remove(k);
                }
            }
        }
    }

    /// Changes a described instance's tags, keeping the launched-for index in step.
    fn retag(&mut self, idx: usize, p: usize, change: impl FnOnce(&mut InstanceTags)) {
        let tags = &mut self.described[p].tags;
        let before = tags.launched_for_attempt();
        change(tags);
        let after = tags.launched_for_attempt();
        if before != after {
            if let Some((job, attempt)) = before {
                self.by_launched_for.remove(&(job, attempt, idx));
            }
            if let Some((job, attempt)) = after {
                self.by_launched_for.insert((job, attempt, idx));
            }
        }
    }

    /// What scale-up needs of the fleet for a batch of job attempts: the live instances
    /// launched for any of them, in described order, and the number of other live instances.
    pub fn launched_for_any(&self, attempts: &[(u64, u32)]) -> (Vec<Instance>, u64) {
        let mut positions: Vec<usize> = Vec::new();
        for &(job, attempt) in attempts {
            for &(_, _, idx) in self
                .by_launched_for
                .range((job, attempt, 0)..=(job, attempt, usize::MAX))
            {
                if let Some(p) = self.described_pos[idx] {
                    if self.described[p].state.is_live() {
                        positions.push(p);
                    }
                }
            }
        }
        positions.sort_unstable();
        positions.dedup();
        let kept: Vec<Instance> = positions
            .iter()
            .map(|&p| self.described[p].clone())
            .collect();
        // Described instances are live: a terminated one leaves `described` (`remove_live`).
        let others = (self.described.len() - kept.len()) as u64;
        // The index is held to the scan it saves in every debug replay (the tests run many).
        #[cfg(debug_assertions)]
        {
            let scanned: Vec<&Instance> = self
                .described
                .iter()
                .filter(|i| {
                    i.state.is_live()
                        && i.tags
                            .launched_for_attempt()
                            .is_some_and(|key| attempts.contains(&key))
                })
                .collect();
            let live = self.described.iter().filter(|i| i.state.is_live()).count();
            debug_assert_eq!(kept.iter().collect::<Vec<_>>(), scanned);
            debug_assert_eq!(others as usize, live - scanned.len());
        }
        (kept, others)
    }

    /// Takes the instance out of the live set (termination requested).
    pub fn remove_live(&mut self, idx: usize, now: i64, state: InstanceState) {
        let Some(p) = self.described_pos[idx].take() else {
            return;
        };
        if let Some((job, attempt)) = self.described[p].tags.launched_for_attempt() {
            self.by_launched_for.remove(&(job, attempt, idx));
        }
        let last = self.described.len() - 1;
        self.described.swap_remove(p);
        let moved = self.described_owner.swap_remove(p);
        debug_assert_eq!(moved, idx);
        if p < last {
            let moved_idx = self.described_owner[p];
            self.described_pos[moved_idx] = Some(p);
        }
        let inst = &mut self.instances[idx];
        inst.state = state;
        inst.ended_at = Some(now);
        // Nobody reads a terminated instance's tags (DescribeInstances filters it out): a long
        // replay keeps millions of instances for billing, not their tags.
        inst.raw_tags = BTreeMap::new();
        if let Some(n) = self.live_per_pool.get_mut(&(inst.type_id.0, inst.az.0)) {
            *n = n.saturating_sub(1);
        }
    }

    pub fn is_live(&self, idx: usize) -> bool {
        self.described_pos.get(idx).is_some_and(|p| p.is_some())
    }

    pub fn described_of(&self, idx: usize) -> Option<&Instance> {
        self.described_pos[idx].map(|p| &self.described[p])
    }

    pub fn live_in_pool(&self, ty: TypeId, az: AzId) -> u32 {
        self.live_per_pool.get(&(ty.0, az.0)).copied().unwrap_or(0)
    }
}

/// A capacity pool EC2 Fleet may launch into.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pool {
    pub type_id: TypeId,
    pub az: AzId,
    /// Position of the type in the request (its priority).
    pub priority: usize,
    pub price: f64,
    /// Spot-advisor bucket (0 best); on-demand pools 0.
    pub bucket: u8,
}

/// Picks the pool for the next instance. `pools` is non-empty and in request order.
pub fn choose_pool(strategy: AllocationStrategy, pools: &[Pool], ec2: &Ec2) -> Pool {
    let by_price = |a: &&Pool, b: &&Pool| {
        a.price
            .total_cmp(&b.price)
            .then(a.priority.cmp(&b.priority))
            .then(a.az.0.cmp(&b.az.0))
    };
    let by_priority = |a: &&Pool, b: &&Pool| a.priority.cmp(&b.priority).then(a.az.0.cmp(&b.az.0));
    let best_bucket = pools.iter().map(|p| p.bucket).min().unwrap_or(0);
    let deep = || pools.iter().filter(|p| p.bucket == best_bucket);
    let chosen = match strategy {
        AllocationStrategy::LowestPrice => pools.iter().min_by(by_price),
        // The pools most likely to have capacity, then the cheapest of them.
        AllocationStrategy::PriceCapacityOptimized => deep().min_by(by_price),
        // Capacity only; among equals, the first in request order.
        AllocationStrategy::CapacityOptimized
        | AllocationStrategy::CapacityOptimizedPrioritized => deep().min_by(by_priority),
        // Spread: the pool with the fewest live instances, cheapest among those.
        AllocationStrategy::Diversified => pools.iter().min_by(|a, b| {
            ec2.live_in_pool(a.type_id, a.az)
                .cmp(&ec2.live_in_pool(b.type_id, b.az))
                .then_with(|| by_price(a, b))
        }),
    };
    *chosen.expect("pools is not empty")
}

/// Candidate pools of a request: every named type × zone with a price, in request order.
pub fn candidate_pools(
    prices: &PriceBook,
    types: &[(usize, TypeId)],
    zones: &[AzId],
    capacity: CapacityType,
    at: flotilla_core::Timestamp,
) -> Vec<Pool> {
    // Most regions have three zones.
    let mut pools = Vec::with_capacity(types.len() * 3);
    // One trace time for every series: aligned once.
    let series_time = prices.series_time(at);
    for &(priority, ty) in types {
        let bucket = prices.advice_id(ty).map(|a| a.bucket.index).unwrap_or(2);
        match capacity {
            CapacityType::OnDemand => {
                if let Some(price) = prices.on_demand_usd_per_hour_id(ty) {
                    let az = zones
                        .first()
                        .copied()
                        .or_else(|| prices.spot_zones(ty).first().copied())
                        .unwrap_or(AzId(0));
                    pools.push(Pool {
                        type_id: ty,
                        az,
                        priority,
                        price,
                        bucket: 0,
                    });
                }
            }
            CapacityType::Spot => {
                let type_zones = prices.spot_zones(ty);
                for &az in type_zones.iter() {
                    if !zones.is_empty() && !zones.contains(&az) {
                        continue;
                    }
                    if let Some(price) = prices.spot_price_at_series_time_id(ty, az, series_time) {
                        pools.push(Pool {
                            type_id: ty,
                            az,
                            priority,
                            price,
                            bucket,
                        });
                    }
                }
            }
        }
    }
    pools
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_map_back() {
        for i in [0usize, 1, 255, 1_000_000] {
            assert_eq!(instance_index(&instance_id(i)), Some(i));
        }
        assert_eq!(instance_index("i-zz"), None);
        // The hand parser reads exactly what `from_str_radix` reads.
        let reference = |id: &str| {
            let n = u64::from_str_radix(id.strip_prefix("i-")?, 16).ok()?;
            n.checked_sub(0x0a00_0000_0000).map(|i| i as usize)
        };
        for id in [
            "i-",
            "i-+",
            "i--1",
            "i-+0a0000000001f",
            "i-0A0000000001F",
            "i-0a00000000001",
            "i-09ffffffffff",
            "i-ffffffffffffffff",
            "i-10000000000000000",
            "i-0000000000000000000000a0000000001",
            "i-0a00000000001 ",
            "i-0a0000000g001",
            "i-1234abcd",
            "j-0a00000000001",
            "i-0a00000000ffffff",
        ] {
            assert_eq!(instance_index(id), reference(id), "{id}");
        }
        for i in (0..5_000usize).chain([usize::MAX >> 8]) {
            assert_eq!(instance_index(&instance_id(i)), reference(&instance_id(i)));
        }
        assert_eq!(instance_index("x"), None);
        assert_eq!(instance_id(0).len(), 19);
        // Built by hand, as `format!` wrote it.
        for i in (0..5_000usize).chain([
            0xffff,
            1 << 40,
            usize::MAX >> 8,
            usize::MAX - 0x0a00_0000_0000,
        ]) {
            assert_eq!(
                instance_id(i),
                format!("i-{:017x}", i as u64 + 0x0a00_0000_0000)
            );
        }
    }

    #[test]
    fn imported_ids_of_any_form_are_found_and_kept() {
        let gone = || SimInstance::gone(0);
        let mut ec2 = Ec2::default();
        // Its own form at its own index; its own form at another index; another case of the
        // same number; not an instance id at all.
        let ids = [
            instance_id(0),
            instance_id(7),
            instance_id(2).to_uppercase(),
            "runner-x".into(),
        ];
        for id in &ids {
            ec2.add_gone(id, gone());
        }
        for (idx, id) in ids.iter().enumerate() {
            assert_eq!(ec2.index_of(id), Some(idx), "{id}");
            assert_eq!(ec2.id_of(idx), *id);
        }
        assert_eq!(ec2.index_of(&instance_id(1)), None);
        assert_eq!(ec2.index_of(&instance_id(2)), None);
        // A launch at index 4 gets the simulator's id for 4.
        let idx = ec2.add_tagged(
            instance_id(4),
            SimInstance {
                state: InstanceState::Pending,
                ended_at: None,
                ..gone()
            },
            "m7i.large",
            InstanceTags::default(),
        );
        assert_eq!((idx, ec2.id_of(4)), (4, instance_id(4)));
        assert_eq!(ec2.index_of(&instance_id(4)), Some(4));
    }

    fn pool(ty: u32, az: u32, priority: usize, price: f64, bucket: u8) -> Pool {
        Pool {
            type_id: TypeId(ty),
            az: AzId(az),
            priority,
            price,
            bucket,
        }
    }

    #[test]
    fn strategies_choose_as_documented() {
        let ec2 = Ec2::default();
        let pools = [
            pool(0, 0, 0, 0.05, 3),
            pool(1, 0, 1, 0.04, 4),
            pool(2, 0, 2, 0.06, 0),
            pool(3, 0, 3, 0.055, 0),
        ];
        assert_eq!(
            choose_pool(AllocationStrategy::LowestPrice, &pools, &ec2).type_id,
            TypeId(1)
        );
        assert_eq!(
            choose_pool(AllocationStrategy::PriceCapacityOptimized, &pools, &ec2).type_id,
            TypeId(3)
        );
        assert_eq!(
            choose_pool(AllocationStrategy::CapacityOptimized, &pools, &ec2).type_id,
            TypeId(2)
        );
    }
}
