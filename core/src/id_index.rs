//! Lookups by id (instance ids, mostly) among the thousands of a large fleet, built once per
//! decision. Entries are ordered by a 64-bit hash of the id before the id itself, so sorting and
//! searching compare integers and reach the string only on a hash match: ids such as
//! `i-0a00000000000123` share long prefixes, and comparing them byte by byte was most of a
//! scale-down cycle.

/// Ids and a value each; a later entry replaces an earlier one with the same id, as collecting
/// into a map does.
pub struct IdIndex<'a, T> {
    entries: Vec<(u64, &'a str, T)>,
    hash: fn(&str) -> u64,
}

impl<'a, T: Copy> IdIndex<'a, T> {
    pub fn new(items: impl IntoIterator<Item = (&'a str, T)>) -> Self {
        Self::with_hash(items, hash)
    }

    fn with_hash(items: impl IntoIterator<Item = (&'a str, T)>, hash: fn(&str) -> u64) -> Self {
        let mut keyed: Vec<(u64, &'a str, usize, T)> = items
            .into_iter()
            .enumerate()
            .map(|(position, (id, value))| (hash(id), id, position, value))
            .collect();
        keyed.sort_unstable_by(|a, b| (a.0, a.1, a.2).cmp(&(b.0, b.1, b.2)));
        let mut entries: Vec<(u64, &'a str, T)> = Vec::with_capacity(keyed.len());
        for (h, id, _, value) in keyed {
            match entries.last_mut() {
                // Same id: the later position sorts after, and wins.
                Some(last) if last.0 == h && last.1 == id => last.2 = value,
                _ => entries.push((h, id, value)),
            }
        }
        IdIndex { entries, hash }
    }

    pub fn get(&self, id: &str) -> Option<T> {
        let key = ((self.hash)(id), id);
        self.entries
            .binary_search_by(|e| (e.0, e.1).cmp(&key))
            .ok()
            .map(|i| self.entries[i].2)
    }

    pub fn contains(&self, id: &str) -> bool {
        self.get(id).is_some()
    }
}

/// Eight bytes at a time, multiply and rotate (the FxHash step), the length mixed in last:
/// deterministic everywhere (no per-process seed), and an instance id is three steps.
fn hash(id: &str) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let step = |h: u64, word: u64| (h.rotate_left(5) ^ word).wrapping_mul(K);
    let bytes = id.as_bytes();
    let mut chunks = bytes.chunks_exact(8);
    let mut h = 0;
    for chunk in &mut chunks {
        h = step(
            h,
            u64::from_le_bytes(chunk.try_into().expect("eight bytes")),
        );
    }
    let mut tail = [0u8; 8];
    tail[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
    h = step(h, u64::from_le_bytes(tail));
    step(h, bytes.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn answers_as_a_map_collected_from_the_same_entries() {
        same_answers_as_a_map(hash);
    }

    #[test]
    fn colliding_hashes_still_compare_the_ids() {
        same_answers_as_a_map(|_| 7);
        same_answers_as_a_map(|id| id.len() as u64);
    }

    fn same_answers_as_a_map(hash: fn(&str) -> u64) {
        // Ids with shared prefixes, repeats (the later wins) and lookups of absent ids.
        let mut state: u64 = 0x2026_1206;
        let mut next = |n: u64| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) % n
        };
        for _ in 0..2_000 {
            let ids: Vec<String> = (0..next(40))
                .map(|_| match next(4) {
                    0 => format!("i-{:017x}", next(30)),
                    1 => format!("i-{:x}", next(30)),
                    2 => format!("i-{:017X}", next(30)),
                    _ => ["i-", "", "x", "i-abc"][next(4) as usize].to_string(),
                })
                .collect();
            let entries: Vec<(&str, usize)> = ids
                .iter()
                .enumerate()
                .map(|(k, id)| (id.as_str(), k))
                .collect();
            let map: BTreeMap<&str, usize> = entries.iter().copied().collect();
            let index = IdIndex::with_hash(entries.iter().copied(), hash);
            for probe in ids.iter().map(String::as_str).chain(["i-0", "i-", "", "y"]) {
                assert_eq!(
                    index.get(probe),
                    map.get(probe).copied(),
                    "{probe} in {ids:?}"
                );
                assert_eq!(index.contains(probe), map.contains_key(probe));
            }
        }
    }
}
