//! The bounded in-memory map of the session cache, and the state that says whether it
//! may be used.
//!
//! Entries are raw session records by hashed key, each with a deadline (never past the
//! Redis key's own expiry). A full shard evicts a random entry. One atomic word holds
//! the invalidation epoch and whether tracking is live: every invalidation, flush and
//! change of tracking bumps the epoch, and a record fetched on a miss is inserted only
//! when the word is still the one read before the fetch (so a reply that crosses an
//! invalidation is never kept). Times are passed in, so tests choose them.

use rand::Rng;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// Records longer than this are not cached (the memory bound: entries × this).
pub const MAX_RECORD_BYTES: usize = 8 * 1024;

/// Most shards a map has (fewer for a tiny map, so each holds at least one entry).
const SHARDS: usize = 16;

/// The cache state read before a miss's fetch; see [`CacheMap::insert`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Snapshot(u64);

struct Entry {
    record: Arc<[u8]>,
    deadline: Instant,
}

/// One shard: a slab of entries (for O(1) random eviction) and its index by key.
#[derive(Default)]
struct Shard {
    slots: Vec<(Box<str>, Entry)>,
    index: HashMap<Box<str>, usize>,
}

impl Shard {
    fn remove(&mut self, key: &str) -> bool {
        let Some(slot) = self.index.remove(key) else {
            return false;
        };
        self.slots.swap_remove(slot);
        if let Some((moved, _)) = self.slots.get(slot) {
            self.index.insert(moved.clone(), slot);
        }
        true
    }

    fn clear(&mut self) -> usize {
        let removed = self.slots.len();
        self.slots.clear();
        self.index.clear();
        removed
    }
}

/// Raw session records by hashed key, at most `capacity` of them.
pub struct CacheMap {
    shards: Box<[Mutex<Shard>]>,
    per_shard: usize,
    /// `epoch << 1 | live`.
    state: AtomicU64,
    /// Hits are served only before this (nanoseconds after `origin`): renewed by every
    /// heartbeat answered on the tracking connection.
    lease_until: AtomicU64,
    origin: Instant,
    entries: AtomicUsize,
}

impl CacheMap {
    /// An empty map of at most `capacity` entries (at least 1), not live yet.
    pub fn new(capacity: usize, origin: Instant) -> Self {
        let capacity = capacity.max(1);
        let shards = capacity.min(SHARDS);
        Self {
            shards: (0..shards).map(|_| Mutex::default()).collect(),
            // Rounded down: the map never holds more than `capacity`.
            per_shard: capacity / shards,
            state: AtomicU64::new(0),
            lease_until: AtomicU64::new(0),
            origin,
            entries: AtomicUsize::new(0),
        }
    }

    /// How many entries the map holds.
    pub fn entries(&self) -> usize {
        self.entries.load(Ordering::Relaxed)
    }

    /// The record of `key` when it may be served at `now`: tracking is live, its lease
    /// runs, and the entry's deadline has not passed.
    pub fn get(&self, key: &str, now: Instant) -> Option<Arc<[u8]>> {
        if self.state.load(Ordering::SeqCst) & 1 == 0 || self.nanos(now) >= self.lease() {
            return None;
        }
        let shard = self.shard(key);
        let slot = *shard.index.get(key)?;
        let (_, entry) = shard.slots.get(slot)?;
        (now < entry.deadline).then(|| entry.record.clone())
    }

    /// The state before a fetch, when tracking is live (else nothing may be inserted).
    pub fn snapshot(&self) -> Option<Snapshot> {
        let state = self.state.load(Ordering::SeqCst);
        (state & 1 == 1).then_some(Snapshot(state))
    }

    /// Keeps `record` for `key` until `deadline`, unless anything happened since
    /// `snapshot` (an invalidation, a flush, tracking lost) or the record is too long.
    /// True when it was inserted.
    pub fn insert(
        &self,
        key: &str,
        record: Arc<[u8]>,
        deadline: Instant,
        snapshot: Snapshot,
    ) -> bool {
        if record.len() > MAX_RECORD_BYTES {
            return false;
        }
        let mut shard = self.shard(key);
        // Under the shard's lock: an invalidation bumps the epoch before it takes it.
        if self.state.load(Ordering::SeqCst) != snapshot.0 {
            return false;
        }
        let entry = Entry { record, deadline };
        if let Some(&slot) = shard.index.get(key) {
            if let Some(existing) = shard.slots.get_mut(slot) {
                existing.1 = entry;
            }
            return true;
        }
        if shard.slots.len() >= self.per_shard {
            let victim = rand::thread_rng().gen_range(0..shard.slots.len());
            let key = shard.slots[victim].0.clone();
            shard.remove(&key);
            self.entries.fetch_sub(1, Ordering::Relaxed);
        }
        let key: Box<str> = key.into();
        let slot = shard.slots.len();
        shard.index.insert(key.clone(), slot);
        shard.slots.push((key, entry));
        self.entries.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// Drops `keys` (an invalidation, or a write by this replica); returns how many were held.
    pub fn invalidate<'a>(&self, keys: impl IntoIterator<Item = &'a str>) -> usize {
        self.bump(|state| state + 2);
        let mut removed = 0;
        for key in keys {
            if self.shard(key).remove(key) {
                removed += 1;
            }
        }
        self.entries.fetch_sub(removed, Ordering::Relaxed);
        removed
    }

    /// Drops every entry and stops serving hits until [`CacheMap::go_live`].
    pub fn go_dark(&self) {
        self.bump(|state| (state + 2) & !1);
        self.clear();
    }

    /// Drops every entry, staying live (a `FLUSHALL` or `FLUSHDB` seen by tracking).
    pub fn flush(&self) {
        self.bump(|state| state + 2);
        self.clear();
    }

    /// Tracking is on (again): entries may be inserted and, until `lease_until`, served.
    pub fn go_live(&self, lease_until: Instant) {
        self.renew(lease_until);
        self.bump(|state| (state + 2) | 1);
    }

    /// Whether hits may be served (tracking live; the lease is checked per hit).
    pub fn is_live(&self) -> bool {
        self.state.load(Ordering::SeqCst) & 1 == 1
    }

    /// Serves hits until `lease_until` (a heartbeat was answered).
    pub fn renew(&self, lease_until: Instant) {
        self.lease_until
            .store(self.nanos(lease_until), Ordering::SeqCst);
    }

    fn lease(&self) -> u64 {
        self.lease_until.load(Ordering::SeqCst)
    }

    fn nanos(&self, at: Instant) -> u64 {
        let since = at.saturating_duration_since(self.origin);
        u64::try_from(since.as_nanos()).unwrap_or(u64::MAX)
    }

    fn bump(&self, next: impl Fn(u64) -> u64) {
        let _ = self
            .state
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |state| {
                Some(next(state))
            });
    }

    fn clear(&self) {
        let mut removed = 0;
        for shard in &self.shards {
            removed += lock(shard).clear();
        }
        self.entries.fetch_sub(removed, Ordering::Relaxed);
    }

    fn shard(&self, key: &str) -> MutexGuard<'_, Shard> {
        // Keys are hex SHA-256 digests: their first bytes are already uniform.
        let spread = key.bytes().take(8).fold(0usize, |acc, b| {
            acc.wrapping_mul(31).wrapping_add(usize::from(b))
        });
        lock(&self.shards[spread % self.shards.len()])
    }
}

fn lock(shard: &Mutex<Shard>) -> MutexGuard<'_, Shard> {
    shard.lock().unwrap_or_else(PoisonError::into_inner)
}

/// `now + remaining`, for a deadline measured from a time taken before the fetch.
pub fn deadline(sent: Instant, remaining: Duration) -> Instant {
    sent.checked_add(remaining).unwrap_or(sent)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const LONG: Duration = Duration::from_secs(3600);

    fn key(n: usize) -> String {
        crate::session::hex_sha256(&n.to_string())
    }

    fn record(text: &str) -> Arc<[u8]> {
        text.as_bytes().into()
    }

    fn live_map(capacity: usize) -> (CacheMap, Instant) {
        let origin = Instant::now();
        let map = CacheMap::new(capacity, origin);
        map.go_live(origin + LONG);
        (map, origin)
    }

    #[test]
    fn an_inserted_record_is_served_until_its_deadline_and_never_after() {
        let (map, t0) = live_map(10);
        let snapshot = map.snapshot().unwrap();
        assert!(map.insert(&key(1), record("r1"), t0 + Duration::from_secs(5), snapshot));

        assert_eq!(&*map.get(&key(1), t0).unwrap(), b"r1");
        assert!(map.get(&key(1), t0 + Duration::from_millis(4999)).is_some());
        assert!(map.get(&key(1), t0 + Duration::from_secs(5)).is_none());
        assert!(map.get(&key(2), t0).is_none());
    }

    #[test]
    fn the_map_never_holds_more_than_its_capacity() {
        let (map, t0) = live_map(100);
        for n in 0..1000 {
            let snapshot = map.snapshot().unwrap();
            assert!(map.insert(&key(n), record("r"), t0 + LONG, snapshot));
            assert!(map.entries() <= 100, "{} entries", map.entries());
        }
        let held = (0..1000)
            .filter(|n| map.get(&key(*n), t0).is_some())
            .count();
        assert_eq!(held, map.entries());
        assert!(
            held > 50,
            "random eviction keeps the map mostly full: {held}"
        );
    }

    #[test]
    fn a_record_over_the_size_limit_is_not_cached() {
        let (map, t0) = live_map(10);
        let big: Arc<[u8]> = vec![b'x'; MAX_RECORD_BYTES + 1].into();
        assert!(!map.insert(&key(1), big, t0 + LONG, map.snapshot().unwrap()));
        assert!(map.get(&key(1), t0).is_none());
        let fits: Arc<[u8]> = vec![b'x'; MAX_RECORD_BYTES].into();
        assert!(map.insert(&key(1), fits, t0 + LONG, map.snapshot().unwrap()));
    }

    #[test]
    fn a_fetch_that_crossed_an_invalidation_is_not_inserted() {
        let (map, t0) = live_map(10);
        let before = map.snapshot().unwrap();
        // The push for another key arrives while the GET is in flight: any push counts.
        map.invalidate([key(9).as_str()]);
        assert!(!map.insert(&key(1), record("stale?"), t0 + LONG, before));
        assert!(map.get(&key(1), t0).is_none());

        let after = map.snapshot().unwrap();
        assert!(map.insert(&key(1), record("fresh"), t0 + LONG, after));
    }

    #[test]
    fn an_invalidation_evicts_the_keys_it_names_only() {
        let (map, t0) = live_map(10);
        for n in 0..3 {
            map.insert(&key(n), record("r"), t0 + LONG, map.snapshot().unwrap());
        }
        assert_eq!(map.invalidate([key(0).as_str(), key(7).as_str()]), 1);
        assert!(map.get(&key(0), t0).is_none());
        assert!(map.get(&key(1), t0).is_some() && map.get(&key(2), t0).is_some());
        assert_eq!(map.entries(), 2);
    }

    #[test]
    fn going_dark_flushes_refuses_hits_and_inserts_until_live_again() {
        let (map, t0) = live_map(10);
        let before = map.snapshot().unwrap();
        map.insert(&key(1), record("r"), t0 + LONG, before);
        map.go_dark();
        assert_eq!(map.entries(), 0);
        assert!(map.get(&key(1), t0).is_none());
        assert!(map.snapshot().is_none());
        assert!(!map.insert(&key(1), record("r"), t0 + LONG, before));

        map.go_live(t0 + LONG);
        // A fetch begun while dark (or before) stays refused after tracking is back.
        assert!(!map.insert(&key(1), record("r"), t0 + LONG, before));
        assert!(map.insert(&key(1), record("r"), t0 + LONG, map.snapshot().unwrap()));
        assert!(map.get(&key(1), t0).is_some());
    }

    #[test]
    fn a_flush_empties_the_map_and_refuses_fetches_begun_before_it() {
        let (map, t0) = live_map(10);
        let before = map.snapshot().unwrap();
        map.insert(&key(1), record("r"), t0 + LONG, before);
        map.flush();
        assert_eq!(map.entries(), 0);
        assert!(map.is_live());
        assert!(!map.insert(&key(2), record("r"), t0 + LONG, before));
    }

    #[test]
    fn no_hit_is_served_once_the_heartbeat_lease_has_run_out() {
        let origin = Instant::now();
        let map = CacheMap::new(10, origin);
        map.go_live(origin + Duration::from_secs(2));
        map.insert(&key(1), record("r"), origin + LONG, map.snapshot().unwrap());
        assert!(
            map.get(&key(1), origin + Duration::from_millis(1999))
                .is_some()
        );
        assert!(map.get(&key(1), origin + Duration::from_secs(2)).is_none());

        map.renew(origin + Duration::from_secs(4));
        assert!(map.get(&key(1), origin + Duration::from_secs(3)).is_some());
    }

    #[test]
    fn reinserting_a_key_replaces_its_record_and_deadline() {
        let (map, t0) = live_map(10);
        map.insert(&key(1), record("a"), t0 + LONG, map.snapshot().unwrap());
        map.insert(
            &key(1),
            record("b"),
            t0 + Duration::from_secs(1),
            map.snapshot().unwrap(),
        );
        assert_eq!(&*map.get(&key(1), t0).unwrap(), b"b");
        assert!(map.get(&key(1), t0 + Duration::from_secs(1)).is_none());
        assert_eq!(map.entries(), 1);
    }

    #[test]
    fn concurrent_invalidations_never_leave_a_record_fetched_before_them() {
        // Many rounds of: a reader snapshots, an invalidator evicts the key, the reader
        // inserts what it fetched before. Whatever the interleaving, once both are done
        // the key is absent or was inserted from a snapshot taken after the invalidation.
        let (map, t0) = live_map(64);
        let map = Arc::new(map);
        for round in 0..200 {
            let k = key(round);
            let before = map.snapshot().unwrap();
            let invalidator = {
                let (map, k) = (map.clone(), k.clone());
                std::thread::spawn(move || map.invalidate([k.as_str()]))
            };
            let reader = {
                let (map, k) = (map.clone(), k.clone());
                std::thread::spawn(move || map.insert(&k, record("old"), t0 + LONG, before))
            };
            invalidator.join().unwrap();
            reader.join().unwrap();
            assert!(map.get(&k, t0).is_none(), "round {round}");
        }
    }
}
