//! `Dict`: the hash table under every keyed structure — the shards of the
//! keyspace, hash fields and set members.
//!
//! It adds to `hashbrown::HashTable` the three things a Redis-compatible store
//! needs and a plain map does not give:
//! - **random sampling** in O(1) expected time (RANDOMKEY, SPOP, eviction), by
//!   probing random buckets;
//! - a **scan cursor** that survives mutation between calls: the cursor is a
//!   bucket index tagged with the table's *generation*. Items only move when
//!   the table is resized or rehashed in place (to clear tombstones), which
//!   bumps the generation; a cursor from an older
//!   generation restarts the walk, so an element present for the whole scan is
//!   returned at least once (duplicates are allowed, as in Redis).
//! - shrinking when it becomes sparse, so memory returns after deletes.
//!
//! Hashing uses one process-wide seeded hasher ([`hash_key`]), so a key's hash
//! also picks its shard.

use std::sync::LazyLock;

use hashbrown::HashTable;

static HASHER: LazyLock<foldhash::quality::RandomState> = LazyLock::new(Default::default);

/// Hash of a key with the process-wide seed.
#[inline]
pub fn hash_key(key: &[u8]) -> u64 {
    use std::hash::BuildHasher;
    HASHER.hash_one(key)
}

/// Something stored in a [`Dict`], identified by a byte key.
pub trait DictItem {
    /// The bytes that identify the item.
    fn key(&self) -> &[u8];
}

// 38 bits of bucket index (far beyond any real table) keep CURSOR_BITS at 54,
// so a keyspace SCAN cursor can put a shard index of up to 10 bits above it.
const BUCKET_BITS: u32 = 38;
const BUCKET_MASK: u64 = (1 << BUCKET_BITS) - 1;
const GEN_MASK: u64 = 0xFFFF;

/// Bits a scan cursor of a dict uses; callers may use the ones above.
pub const CURSOR_BITS: u32 = BUCKET_BITS + 16;

/// A hash table of items keyed by bytes. See the module docs.
#[derive(Debug, Clone)]
pub struct Dict<T> {
    table: HashTable<T>,
    generation: u64,
}

impl<T> Default for Dict<T> {
    fn default() -> Self {
        Dict {
            table: HashTable::new(),
            generation: 0,
        }
    }
}

impl<T: DictItem> Dict<T> {
    /// An empty dict.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of items.
    #[inline]
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// True if there are no items.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// Bytes the table itself allocates (buckets and control bytes).
    pub fn table_bytes(&self) -> usize {
        self.table.allocation_size()
    }

    /// The item with `key`.
    #[inline]
    pub fn get(&self, key: &[u8]) -> Option<&T> {
        self.table.find(hash_key(key), |t| t.key() == key)
    }

    /// The item with `key`, mutably. The caller must not change its key.
    #[inline]
    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut T> {
        self.table.find_mut(hash_key(key), |t| t.key() == key)
    }

    /// The bucket index holding `key`, valid until the next insert or remove.
    #[inline]
    pub fn find_index_hashed(&self, hash: u64, key: &[u8]) -> Option<usize> {
        self.table.find_bucket_index(hash, |t| t.key() == key)
    }

    /// The item in bucket `index`, if that bucket is full.
    #[inline]
    pub fn at(&self, index: usize) -> Option<&T> {
        self.table.get_bucket(index)
    }

    /// The item in bucket `index`, mutably.
    #[inline]
    pub fn at_mut(&mut self, index: usize) -> Option<&mut T> {
        self.table.get_bucket_mut(index)
    }

    /// Inserts an item whose key is known to be absent; returns its bucket index.
    pub fn insert_new_hashed(&mut self, hash: u64, item: T) -> usize {
        let buckets = self.table.num_buckets();
        let capacity = self.table.capacity();
        let index = self
            .table
            .insert_unique(hash, item, |t| hash_key(t.key()))
            .bucket_index();
        // Items move when the table grows, and also when an insert finds no
        // free slot but many tombstones: hashbrown then rehashes in place,
        // keeping the bucket count. Capacity (items + free slots) grows by
        // at most one on a plain insert (into a tombstone); a rehash frees
        // every tombstone at once. Either way a cursor must start over, or a
        // scan (and a replication snapshot, which then sweeps what it did
        // not see) misses items that moved behind it.
        if self.table.num_buckets() != buckets || self.table.capacity() > capacity + 1 {
            self.generation += 1;
        }
        index
    }

    /// Inserts or replaces the item with the same key; returns the old one.
    pub fn insert(&mut self, item: T) -> Option<T> {
        let hash = hash_key(item.key());
        if let Some(old) = self.table.find_mut(hash, |t| t.key() == item.key()) {
            return Some(std::mem::replace(old, item));
        }
        self.insert_new_hashed(hash, item);
        None
    }

    /// Removes and returns the item with `key`.
    pub fn remove(&mut self, key: &[u8]) -> Option<T> {
        let index = self.find_index_hashed(hash_key(key), key)?;
        self.remove_at(index)
    }

    /// Removes and returns the item in bucket `index`.
    pub fn remove_at(&mut self, index: usize) -> Option<T> {
        let item = match self.table.get_bucket_entry(index) {
            Ok(entry) => entry.remove().0,
            Err(_) => return None,
        };
        self.maybe_shrink();
        Some(item)
    }

    /// Removes every item.
    pub fn clear(&mut self) {
        self.table = HashTable::new();
        self.generation += 1;
    }

    fn maybe_shrink(&mut self) {
        let buckets = self.table.num_buckets();
        if buckets > 64 && self.table.len() * 8 < buckets {
            self.table
                .shrink_to(self.table.len() * 2, |t| hash_key(t.key()));
            self.generation += 1;
        }
    }

    /// Iterates over all items in bucket order.
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.table.iter()
    }

    /// Iterates mutably over all items. The caller must not change keys.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut T> {
        self.table.iter_mut()
    }

    /// Keeps only the items for which `keep` returns true.
    pub fn retain(&mut self, keep: impl FnMut(&mut T) -> bool) {
        self.table.retain(keep);
        self.maybe_shrink();
    }

    /// The bucket index of a uniformly chosen bucket that holds an item.
    ///
    /// Probes random buckets; the table is kept at least 1/8 full, so this takes
    /// a few probes on average. Falls back to a linear walk after many misses.
    pub fn random_index(&self) -> Option<usize> {
        if self.table.is_empty() {
            return None;
        }
        let buckets = self.table.num_buckets();
        for _ in 0..64 {
            let i = rand::random_range(0..buckets);
            if self.table.get_bucket(i).is_some() {
                return Some(i);
            }
        }
        let start = rand::random_range(0..buckets);
        (0..buckets)
            .map(|off| (start + off) % buckets)
            .find(|&i| self.table.get_bucket(i).is_some())
    }

    /// A random item.
    pub fn random(&self) -> Option<&T> {
        self.random_index().and_then(|i| self.table.get_bucket(i))
    }

    /// Visits up to about `count` items from `cursor` on; returns the cursor to
    /// continue from, 0 when the walk is complete. Cursor 0 starts a walk.
    ///
    /// Only the low [`CURSOR_BITS`] bits of the cursor are used.
    pub fn scan(&self, cursor: u64, count: usize, mut visit: impl FnMut(&T)) -> u64 {
        let generation = self.generation & GEN_MASK;
        let mut bucket = if cursor != 0 && (cursor >> BUCKET_BITS) & GEN_MASK == generation {
            (cursor & BUCKET_MASK) as usize
        } else {
            // A new walk, or the table was resized since: start over (at-least-once).
            0
        };
        let buckets = self.table.num_buckets();
        let mut seen = 0;
        // Bound the buckets examined so a sparse table cannot stall the caller.
        let mut budget = count.max(1).saturating_mul(10);
        while bucket < buckets && seen < count.max(1) && budget > 0 {
            if let Some(item) = self.table.get_bucket(bucket) {
                visit(item);
                seen += 1;
            }
            bucket += 1;
            budget -= 1;
        }
        if bucket >= buckets {
            0
        } else {
            (generation << BUCKET_BITS) | bucket as u64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl DictItem for Vec<u8> {
        fn key(&self) -> &[u8] {
            self
        }
    }

    fn walk(d: &Dict<Vec<u8>>, mut during: impl FnMut()) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut cursor = 0;
        loop {
            cursor = d.scan(cursor, 7, |k| out.push(k.clone()));
            during();
            if cursor == 0 {
                return out;
            }
        }
    }

    #[test]
    fn scan_returns_every_item() {
        let mut d = Dict::new();
        for i in 0..1000u32 {
            d.insert(i.to_be_bytes().to_vec());
        }
        let mut seen = walk(&d, || {});
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 1000);
    }

    #[test]
    fn scan_survives_growth_between_calls() {
        let mut d = Dict::new();
        for i in 0..100u32 {
            d.insert(i.to_be_bytes().to_vec());
        }
        let mut out = Vec::new();
        let mut cursor = 0;
        let mut next = 100u32;
        loop {
            cursor = d.scan(cursor, 5, |k| out.push(k.clone()));
            // Grow the table past several resizes while the walk is under way.
            if next < 2_000 {
                for _ in 0..20 {
                    d.insert(next.to_be_bytes().to_vec());
                    next += 1;
                }
            }
            if cursor == 0 {
                break;
            }
        }
        for i in 0..100u32 {
            assert!(out.contains(&i.to_be_bytes().to_vec()), "missing {i}");
        }
    }

    /// Deletes leave tombstones; an insert that finds no free slot then
    /// rehashes in place, moving items without growing the table. A walk
    /// across that still returns every item present throughout. (Found by
    /// the replication soak: a snapshot missed a key and the receiver swept
    /// it away.)
    #[test]
    fn random_finds_items_and_shrinks_after_deletes() {
        let mut d = Dict::new();
        for i in 0..10_000u32 {
            d.insert(i.to_be_bytes().to_vec());
        }
        for i in 10..10_000u32 {
            d.remove(&i.to_be_bytes());
        }
        assert_eq!(d.len(), 10);
        assert!(d.table.num_buckets() <= 64);
        assert!(d.random().is_some());
    }
}
