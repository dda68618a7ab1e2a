//! A port of the original store's design, the row we replace: one reader-writer lock around a map
//! and a doubly linked recency list (Go's `map` + `container/list` under one `RWMutex`).
//!
//! Reads take the shared lock when they change nothing (no capacity, no TTL, no budget) and the
//! exclusive lock otherwise, as the original must to move an entry to the front of its list.
//! Expiry happens only on read, as in the original; unlike it, removals here also unlink the
//! node (the original's leak is a bug, not a design cost).
// A benchmark peer (outside the sync-facade rule), deliberately built on std's RwLock like the original.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

const NIL: u32 = u32::MAX;

struct Node {
    key: String,
    value: u64,
    /// Deadline in nanoseconds on the store's clock; 0 means none.
    deadline: u64,
    ttl: u64,
    sliding: bool,
    reads_left: u32,
    prev: u32,
    next: u32,
}

#[derive(Default)]
struct Inner {
    map: HashMap<String, u32>,
    nodes: Vec<Node>,
    free: Vec<u32>,
    /// Most recently used.
    head: u32,
    /// Least recently used: the victim.
    tail: u32,
    capacity: usize,
}

impl Inner {
    fn unlink(&mut self, i: u32) {
        let (prev, next) = (self.nodes[i as usize].prev, self.nodes[i as usize].next);
        match prev {
            NIL => self.head = next,
            p => self.nodes[p as usize].next = next,
        }
        match next {
            NIL => self.tail = prev,
            n => self.nodes[n as usize].prev = prev,
        }
    }

    fn push_front(&mut self, i: u32) {
        let head = self.head;
        self.nodes[i as usize].prev = NIL;
        self.nodes[i as usize].next = head;
        if head != NIL {
            self.nodes[head as usize].prev = i;
        } else {
            self.tail = i;
        }
        self.head = i;
    }

    fn remove(&mut self, i: u32) -> u64 {
        self.unlink(i);
        let key = std::mem::take(&mut self.nodes[i as usize].key);
        self.map.remove(&key);
        self.free.push(i);
        self.nodes[i as usize].value
    }
}

/// The original's options of a put.
#[derive(Clone, Copy, Default)]
pub struct Options {
    /// Time to live in nanoseconds, 0 for none.
    pub ttl: u64,
    /// Sliding refresh on read.
    pub sliding: bool,
    /// Reads before the entry is deleted, 0 for no limit.
    pub max_reads: u32,
}

/// The store: clones share it.
#[derive(Clone)]
pub struct Original {
    inner: Arc<RwLock<Inner>>,
    /// Nanoseconds; moved by the benchmark like the store's manual clock.
    clock: Arc<AtomicU64>,
    hits: Arc<AtomicU64>,
    misses: Arc<AtomicU64>,
}

impl Original {
    /// A store with `capacity` (0: unbounded).
    pub fn new(capacity: usize) -> Self {
        Self {
            inner: Arc::new(RwLock::new(Inner {
                head: NIL,
                tail: NIL,
                capacity,
                ..Inner::default()
            })),
            clock: Arc::new(AtomicU64::new(1)),
            hits: Arc::default(),
            misses: Arc::default(),
        }
    }

    /// Moves the clock forward.
    pub fn advance(&self, nanos: u64) {
        self.clock.fetch_add(nanos, Ordering::Relaxed);
    }

    fn now(&self) -> u64 {
        self.clock.load(Ordering::Relaxed)
    }

    /// Stores `value` under `key`.
    pub fn put(&self, key: String, value: u64, opts: Options) {
        let now = self.now();
        let mut s = self.inner.write().expect("not poisoned");
        let node = Node {
            key,
            value,
            deadline: if opts.ttl == 0 { 0 } else { now + opts.ttl },
            ttl: opts.ttl,
            sliding: opts.sliding,
            reads_left: opts.max_reads,
            prev: NIL,
            next: NIL,
        };
        if let Some(&i) = s.map.get(&node.key) {
            s.unlink(i);
            s.nodes[i as usize] = node;
            s.push_front(i);
            return;
        }
        let i = match s.free.pop() {
            Some(i) => {
                s.nodes[i as usize] = node;
                i
            }
            None => {
                s.nodes.push(node);
                (s.nodes.len() - 1) as u32
            }
        };
        let key = s.nodes[i as usize].key.clone();
        s.map.insert(key, i);
        s.push_front(i);
        while s.capacity > 0 && s.map.len() > s.capacity {
            let victim = s.tail;
            s.remove(victim);
        }
    }

    /// Reads `key`.
    pub fn get(&self, key: &str) -> Option<u64> {
        let now = self.now();
        {
            let s = self.inner.read().expect("not poisoned");
            match s.map.get(key) {
                None => {
                    self.misses.fetch_add(1, Ordering::Relaxed);
                    return None;
                }
                Some(&i) => {
                    let n = &s.nodes[i as usize];
                    if s.capacity == 0 && n.deadline == 0 && n.reads_left == 0 {
                        self.hits.fetch_add(1, Ordering::Relaxed);
                        return Some(n.value);
                    }
                }
            }
        }
        let mut s = self.inner.write().expect("not poisoned");
        let Some(&i) = s.map.get(key) else {
            self.misses.fetch_add(1, Ordering::Relaxed);
            return None;
        };
        let n = &mut s.nodes[i as usize];
        if n.deadline != 0 && n.deadline <= now {
            s.remove(i);
            self.misses.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        if n.sliding && n.ttl != 0 {
            n.deadline = now + n.ttl;
        }
        let value = n.value;
        let last = match n.reads_left {
            0 => false,
            1 => true,
            _ => {
                n.reads_left -= 1;
                false
            }
        };
        self.hits.fetch_add(1, Ordering::Relaxed);
        if last {
            s.remove(i);
        } else {
            s.unlink(i);
            s.push_front(i);
        }
        Some(value)
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.inner.read().expect("not poisoned").map.len()
    }
}
