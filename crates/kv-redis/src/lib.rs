//! The kvstore contract (`docs/semantics.md`) on Redis and Redis Cluster: the same
//! [`Backend`](kv_core::Backend) as the in-memory store, so programs and case files switch
//! backends by configuration, with every process that opens a namespace seeing the same entries
//! and the same exact counters.
//!
//! ```no_run
//! use std::time::Duration;
//! use kv_redis::{RedisServer, TypedRedisStore};
//! use kv_core::Backend;
//! use kv_ttl::PutOptions;
//!
//! # fn main() -> Result<(), kv_redis::RedisStoreError> {
//! let server = RedisServer::connect("redis://127.0.0.1:6379")?; // or redis+cluster://h:p,h:p
//! let tokens = TypedRedisStore::<String>::new(server.namespace("auth/tokens"));
//! tokens.put("tok".into(), "user-42".into(), &PutOptions::new().with_max_reads(1))?;
//! assert_eq!(tokens.get(&"tok".into())?.as_deref(), Some("user-42"));
//! assert_eq!(tokens.get(&"tok".into())?, None); // one-shot
//! let session = PutOptions::new().with_ttl(Duration::from_secs(1800)).with_sliding_ttl();
//! tokens.put("session".into(), "s-1".into(), &session)?;
//! # Ok(()) }
//! ```
//!
//! # How
//!
//! Every operation is one Lua script run by `EVALSHA` (the script is cached on the server), so it
//! is atomic there: the TTL check, the sliding refresh, the read budget, the LRU move and the
//! counters of a `get` all happen in one step. Each namespace keeps on the server a hash of its
//! counters, capacity, LRU use counter and clock offset, a sorted set of its entries by last use
//! (the exact LRU order, per namespace) and a sorted set of deadlines (expired entries are
//! reclaimed before any live one is evicted). An insert that needs room, a shrink, a purge or a
//! clear may need to remove entries it cannot name beforehand; its script then changes nothing
//! and answers with the victims' names, and the client calls it again with their keys, so every
//! key a script touches is passed in `KEYS` (two round trips for such an insert, one otherwise).
//!
//! # Namespaces and Cluster
//!
//! A namespace's keys read as what they are: namespace `auth/tokens` keeps its counters at
//! `kv:{auth/tokens}:m`, its LRU set at `kv:{auth/tokens}:lru`, its deadlines at
//! `kv:{auth/tokens}:exp` and entry `tok-1` at `kv:{auth/tokens}:e:tok-1`. Only `%`, the braces
//! and bytes that are not printable ASCII (space, controls, non-ASCII) are escaped, as `%XX`, so
//! no name or key can reach into another namespace (the empty name is `{%}`). The hash tag puts a
//! whole namespace in one Cluster slot, so the scripts run on Cluster unchanged. The flip side:
//! one namespace lives on one slot, hence on one master. A very hot namespace does not spread
//! over the cluster; its throughput is one Redis core's, and spreading load means spreading it
//! over several namespaces.
//!
//! Finding a namespace's keys with `redis-cli` (on a cluster, ask the node that
//! `redis-cli -c CLUSTER KEYSLOT 'kv:{auth/tokens}:m'` points to: the whole namespace is in that
//! slot):
//!
//! ```text
//! redis-cli --scan --pattern 'kv:{auth/tokens}:*'      # every key of the namespace
//! redis-cli ZRANGE 'kv:{auth/tokens}:lru' 0 -1         # its entries' keys, least recently used first
//! redis-cli HGETALL 'kv:{auth/tokens}:m'               # its counters, capacity and clock
//! redis-cli MEMORY USAGE 'kv:{auth/tokens}:e:tok-1'    # one entry's footprint
//! ```
//!
//! In a `--pattern`, put a `\` before a name's `*`, `?`, `[` and `]`. Keys written by earlier
//! versions (`kv:{n<hex of the name>}:...`) are not read any more; the state is ephemeral, so
//! there is no migration: flush them with the rest of the database when upgrading.
//!
//! # Time
//!
//! Scripts read time on the server, never on the client: the server's `TIME` plus a
//! per-namespace offset kept on the server, which [`RedisStore::advance`] moves forward for every
//! client of the namespace. A deadline is a logical time; each entry with one also gets a real
//! `PEXPIREAT` at its deadline minus the offset plus 2 s of slack, so Redis frees entries that
//! nobody reads. The offset only grows, so the real expiry always comes after the logical one: an
//! entry is never readable after its contract deadline (the script checks the deadline itself),
//! and Redis never drops an entry the contract calls live. An entry that Redis dropped stays in
//! the namespace's two sorted sets until an operation notices it, which counts its Expiration
//! then, exactly once, like any other expired entry; `current_size` counts it until then, as the
//! contract allows for unreclaimed entries. Run the server with `maxmemory-policy noeviction`: an
//! entry Redis evicts for memory before its deadline is counted as an Eviction when noticed.
//!
//! For tests and case files, [`RedisStore::freeze_clock`] turns the namespace's clock into the
//! contract's manual clock: it stops following real time and moves only by `advance`, so a
//! check at exactly a deadline does not depend on how long the calls took (the harness and this
//! crate's contract tests do this for every case). A frozen clock does not follow real time, so
//! no real expiry could be known to come after the logical one: entries put on it get none, and
//! their memory is freed when they are reclaimed or the namespace is dropped.
//!
//! # Connections
//!
//! URLs: `redis://[user:pass@]host:port[/db]`, `rediss://...` (TLS, with the `tls` feature),
//! `redis+cluster://[user:pass@]host:port,host:port,...`, each optionally with `?timeout=2s` (or
//! `?connect_timeout=..&response_timeout=..`; `2s`, `500ms`), which [`ServerBuilder`] can also
//! set. Sync calls run on a small pool of connections with connect and response timeouts (5 s by
//! default): a dead or hung server gives an [`Unavailable`](RedisStoreError::Unavailable) error
//! within the timeout, and the next call reconnects. No error, `Debug` output or message of this
//! crate shows a password.
//!
//! Cluster failover (tested with one replica per master, sync and async stores): when the master
//! of a namespace's slot dies, calls on that namespace fail with
//! [`Unavailable`](RedisStoreError::Unavailable) (connection refused) or
//! [`Server`](RedisStoreError::Server) (a cluster error) until a replica is promoted (the
//! cluster's `cluster-node-timeout` plus an election: about 3 s with a 1 s node timeout, 15 to
//! 20 s with Redis's default of 15 s); then the same store handles carry on, with the entries and
//! counters the replica had received. Replication is asynchronous: writes the master
//! acknowledged but had not yet passed on are lost with it. Other namespaces are not affected.
//!
//! # TLS (feature `tls`)
//!
//! `rediss://host:port` (and `rediss+cluster://host:port,...`) connects over TLS with rustls, for
//! the sync and the async stores. The server's certificate is always verified, host name
//! included. By default the web's public CAs are trusted (a managed Redis); a server whose
//! certificate a private CA signed (a `redis-server --tls-port` of your own) needs that CA, given
//! with `ServerBuilder::tls_ca_cert(pem)` or `tls_ca_cert_file(path)` (then the only CAs
//! trusted). A server the client does not trust is refused when connecting, with
//! [`RedisStoreError::Tls`]:
//!
//! ```text
//! TLS with Redis at rediss://10.0.0.5:6380 failed: the server's certificate is not signed by a
//! CA this client trusts; give the CA that signed it with ServerBuilder::tls_ca_cert or
//! tls_ca_cert_file (invalid peer certificate: UnknownIssuer)
//! ```
//!
//! # Near cache
//!
//! [`NearCache`] fronts a namespace with an in-process near tier (its own capacity, exact LRU):
//! repeated reads of a key cost no round trip until someone changes it. Its writes go to the
//! server and drop the near copy; other clients' writes reach it through `CLIENT TRACKING`
//! (broadcast mode for the namespace's entry keys, on one connection per near cache, to the
//! master of the namespace's slot on a cluster). Entries with a read budget or a sliding TTL are
//! never kept near, a near copy expires before the server's deadline, and a lost invalidation
//! connection empties the near tier. The rules, and the measured delay before another client's
//! write is seen, are in `docs/semantics.md` ("Near cache"). With the `tokio` feature,
//! `AsyncNearCache` is the same on the async store.
//!
//! # Async (feature `tokio`)
//!
//! `AsyncRedisStore` and `AsyncTypedRedisStore<V>` implement [`kv_core::AsyncBackend`] with the
//! same scripts, keys and counters as the sync stores (both run the operations of one module),
//! so sync and async processes share namespaces. `AsyncRedisServer` holds one multiplexed,
//! reconnecting connection (redis-rs's `ConnectionManager`, or its async cluster client) that
//! every task shares; each call is bounded by the connect plus the response timeout. Without the
//! feature nothing async is compiled.

#[cfg(feature = "tokio")]
mod aio;
mod conn;
mod error;
mod names;
mod near;
mod ops;
mod scripts;
mod store;
#[cfg(feature = "tls")]
mod tls;
mod typed;
mod url;

#[cfg(feature = "tokio")]
pub use aio::{AsyncRedisServer, AsyncRedisStore, AsyncTypedRedisStore};
pub use conn::DEFAULT_TIMEOUT;
pub use error::RedisStoreError;
#[cfg(feature = "tokio")]
pub use near::AsyncNearCache;
pub use near::{NearCache, NearMetrics};
pub use store::{RedisServer, RedisStore, ServerBuilder};
pub use typed::TypedRedisStore;
