//! The store on Redis: [`RedisServer`] is a connection (pool) to a server or cluster, and
//! [`RedisStore`] one namespace on it, implementing the contract's [`Backend`] with byte values.
// std's `Arc`, not kv_core::sync's: it shares a network connection pool between store handles;
// no store state lives in this process for loom to model.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use kv_core::{Backend, Dump, Metrics};
use kv_ttl::PutOptions;
use redis::{Script, Value};

use crate::RedisStoreError;
use crate::conn::{Connector, DEFAULT_TIMEOUT};
use crate::names::{Names, hex, unhex};
use crate::scripts::{SLACK_MS, Scripts};

/// A TTL longer than this (50 years) never expires, as the contract asks of a TTL whose deadline
/// would overflow the clock: logical time stays a whole number of microseconds below 2^53, which
/// Lua's numbers and Redis's sorted-set scores hold exactly.
const NEVER_US: u128 = 50 * 365 * 24 * 3600 * 1_000_000;

/// The most the manual clock's offset can reach (100 years); `advance` saturates there.
const MAX_OFFSET_US: u128 = 2 * NEVER_US;

/// How often an operation that removes entries it could not name in advance works out its
/// victims again before it gives up with [`RedisStoreError::Contention`].
const MAX_PLANS: usize = 8;

/// The most entries one purge or clear call removes: each call is atomic and quick (a script
/// blocks the server while it runs); a larger purge or clear takes several calls.
const BULK: usize = 10_000;

/// A connection to one Redis server or a Redis Cluster, shared by every namespace opened from it
/// (cheap to clone). See the crate docs for the URLs it takes.
#[derive(Clone)]
pub struct RedisServer {
    connector: Arc<Connector>,
}

impl fmt::Debug for RedisServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisServer")
            .field("url", &self.connector.redacted_url())
            .finish()
    }
}

impl RedisServer {
    /// Connects to `url`, with a 5 s connect and response timeout.
    pub fn connect(url: &str) -> Result<Self, RedisStoreError> {
        Self::connect_with_timeout(url, DEFAULT_TIMEOUT)
    }

    /// Connects to `url`; a connection attempt or an answer that takes longer than `timeout`
    /// fails the call with [`RedisStoreError::Unavailable`].
    pub fn connect_with_timeout(url: &str, timeout: Duration) -> Result<Self, RedisStoreError> {
        Ok(Self {
            connector: Arc::new(Connector::open(url, timeout)?),
        })
    }

    /// The store of namespace `namespace` (any text; every process that names it shares it).
    pub fn namespace(&self, namespace: &str) -> RedisStore {
        RedisStore {
            server: self.clone(),
            names: Names::new(namespace),
            namespace: namespace.to_string(),
        }
    }

    /// The URL, password replaced by `***`.
    pub fn url(&self) -> &str {
        self.connector.redacted_url()
    }
}

/// One namespace on Redis: the contract's store, with byte values, shared by every client of the
/// same namespace and server. Use [`TypedRedisStore`](crate::TypedRedisStore) for typed values.
#[derive(Clone)]
pub struct RedisStore {
    server: RedisServer,
    names: Names,
    namespace: String,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("url", &self.server.url())
            .field("namespace", &self.namespace)
            .finish()
    }
}

fn micros_ceil(d: Duration) -> u128 {
    d.as_nanos().div_ceil(1_000)
}

impl RedisStore {
    /// Connects to `url` and opens `namespace` there.
    pub fn open(url: &str, namespace: &str) -> Result<Self, RedisStoreError> {
        Ok(RedisServer::connect(url)?.namespace(namespace))
    }

    /// The namespace's name.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The server this namespace lives on.
    pub fn server(&self) -> &RedisServer {
        &self.server
    }

    /// Moves this namespace's clock forward by `by`, for every client of the namespace: entries
    /// whose deadline the new time reaches are expired from then on. The offset saturates at 100
    /// years. On the real clock this shifts it (real time still passes); see
    /// [`freeze_clock`](Self::freeze_clock) for the contract's manual clock.
    pub fn advance(&self, by: Duration) -> Result<(), RedisStoreError> {
        self.clock(by, "")
    }

    /// Stops this namespace's clock from following real time, for every client: from now on it
    /// moves only by [`advance`](Self::advance), like the contract's manual clock, so a test's
    /// deadlines do not depend on how long its calls took. Entries put from then on get no real
    /// expiry on the server (none can be known to come after the logical one); their memory is
    /// freed when they are reclaimed or the namespace is dropped. Meant for tests and case files;
    /// it cannot be undone (drop the namespace).
    pub fn freeze_clock(&self) -> Result<(), RedisStoreError> {
        self.clock(Duration::ZERO, "freeze")
    }

    fn clock(&self, by: Duration, mode: &str) -> Result<(), RedisStoreError> {
        let us = micros_ceil(by).min(MAX_OFFSET_US);
        let args = [us.to_string(), MAX_OFFSET_US.to_string(), mode.to_string()];
        self.call(&Scripts::get().clock, &[], &args)
            .map(|_: Value| ())
    }

    /// Removes the namespace from the server: its entries, counters, capacity and clock.
    pub fn drop_namespace(&self) -> Result<(), RedisStoreError> {
        self.clear_in_steps("drop_namespace", "drop")
    }

    /// Removes every entry, [`BULK`] per script call (each call atomic), then with `mode ==
    /// "drop"` the namespace's bookkeeping too.
    fn clear_in_steps(&self, operation: &'static str, mode: &str) -> Result<(), RedisStoreError> {
        let args = [mode.as_bytes().to_vec(), BULK.to_string().into_bytes()];
        loop {
            let left = self.planned(operation, &Scripts::get().clear, None, &args)?;
            if int(operation, &left)? == 0 {
                return Ok(());
            }
        }
    }

    /// Gets several keys in one round trip (one script call each, pipelined; each is atomic on
    /// its own, exactly like [`get`](Backend::get)), on a cluster too: a namespace is one slot.
    pub fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, RedisStoreError> {
        let script = &Scripts::get().get;
        let cmds: Vec<redis::Cmd> = keys
            .iter()
            .map(|k| {
                let member = hex(k.as_bytes());
                self.evalsha(script, &[self.names.entry(&member)], &[member])
            })
            .collect();
        self.pipelined(script, &cmds)
    }

    /// Puts several entries with the same options in one round trip (see
    /// [`get_many`](Self::get_many)). An insert that needs room for which the server answers
    /// with a plan is then repeated on its own, as [`put`](Backend::put) does.
    pub fn put_many(
        &self,
        entries: &[(String, Vec<u8>)],
        options: &PutOptions,
    ) -> Result<(), RedisStoreError> {
        let script = &Scripts::get().put;
        let cmds: Vec<redis::Cmd> = entries
            .iter()
            .map(|(k, v)| {
                let member = hex(k.as_bytes());
                let (keys, args) = self.put_call(&member, v, options);
                self.evalsha_bytes(script, &keys, &args)
            })
            .collect();
        let answers: Vec<Value> = self.pipelined(script, &cmds)?;
        for ((k, v), answer) in entries.iter().zip(answers) {
            if matches!(answer, Value::Array(_)) {
                self.put(k.clone(), v.clone(), options)?;
            }
        }
        Ok(())
    }

    fn pipelined<T: redis::FromRedisValue>(
        &self,
        script: &Script,
        cmds: &[redis::Cmd],
    ) -> Result<Vec<T>, RedisStoreError> {
        self.server.connector.pipeline(script, cmds)
    }

    fn evalsha(&self, script: &Script, keys: &[String], args: &[String]) -> redis::Cmd {
        let args: Vec<Vec<u8>> = args.iter().map(|a| a.as_bytes().to_vec()).collect();
        self.evalsha_bytes(script, keys, &args)
    }

    fn evalsha_bytes(&self, script: &Script, keys: &[String], args: &[Vec<u8>]) -> redis::Cmd {
        let mut cmd = redis::cmd("EVALSHA");
        cmd.arg(script.get_hash()).arg(3 + keys.len());
        cmd.arg(&self.names.meta)
            .arg(&self.names.lru)
            .arg(&self.names.deadlines);
        for k in keys {
            cmd.arg(k);
        }
        cmd.arg(&self.names.entry_prefix).arg(SLACK_MS);
        for a in args {
            cmd.arg(a.as_slice());
        }
        cmd
    }

    /// The entry keys and arguments of a put.
    fn put_call(
        &self,
        member: &str,
        value: &[u8],
        options: &PutOptions,
    ) -> (Vec<String>, Vec<Vec<u8>>) {
        let ttl = options
            .ttl()
            .map(micros_ceil)
            .filter(|&us| us <= NEVER_US)
            .unwrap_or(0);
        let reads = options.max_reads().unwrap_or(0);
        let sliding = if options.is_sliding() { "1" } else { "0" };
        (
            vec![self.names.entry(member)],
            vec![
                member.as_bytes().to_vec(),
                value.to_vec(),
                ttl.to_string().into_bytes(),
                sliding.as_bytes().to_vec(),
                reads.to_string().into_bytes(),
            ],
        )
    }

    /// Runs `script` with the namespace's keys, then `keys`, and the prefix and slack, then
    /// `args` (as `EVALSHA`, loading the script when the server does not know it).
    fn call<T: redis::FromRedisValue>(
        &self,
        script: &Script,
        keys: &[String],
        args: &[String],
    ) -> Result<T, RedisStoreError> {
        let args: Vec<Vec<u8>> = args.iter().map(|a| a.as_bytes().to_vec()).collect();
        self.call_bytes(script, keys, &args)
    }

    fn call_bytes<T: redis::FromRedisValue>(
        &self,
        script: &Script,
        keys: &[String],
        args: &[Vec<u8>],
    ) -> Result<T, RedisStoreError> {
        let mut inv = script.prepare_invoke();
        inv.key(&self.names.meta)
            .key(&self.names.lru)
            .key(&self.names.deadlines);
        for k in keys {
            inv.key(k);
        }
        inv.arg(&self.names.entry_prefix).arg(SLACK_MS);
        for a in args {
            inv.arg(a.as_slice());
        }
        self.server.connector.run(|c| inv.invoke(c))
    }

    /// Runs a script that may answer with a plan (the members of the entries it must remove),
    /// calling it again with those entries' keys until it acts. `entry` is the operation's own
    /// entry key, if it has one.
    fn planned(
        &self,
        operation: &'static str,
        script: &Script,
        entry: Option<&str>,
        args: &[Vec<u8>],
    ) -> Result<Value, RedisStoreError> {
        let mut keys: Vec<String> = entry.into_iter().map(str::to_string).collect();
        let own = keys.len();
        for _ in 0..MAX_PLANS {
            match self.call_bytes::<Value>(script, &keys, args)? {
                // A plan names its victims; an answer that is a list starts with a number.
                Value::Array(victims) if matches!(victims.first(), Some(Value::BulkString(_))) => {
                    keys.truncate(own);
                    for v in victims {
                        match v {
                            Value::BulkString(m) => {
                                let m = String::from_utf8(m).map_err(|_| decode("a victim"))?;
                                keys.push(self.names.entry(&m));
                            }
                            other => return Err(decode_value("a victim", &other)),
                        }
                    }
                }
                done => return Ok(done),
            }
        }
        Err(RedisStoreError::Contention { operation })
    }

    /// [`get_or_insert`](Backend::get_or_insert) in one script: the live value found, or `None`
    /// when `value` was stored (the caller has it already, so it does not travel back).
    pub(crate) fn get_or_insert_found(
        &self,
        key: &str,
        value: &[u8],
        options: &PutOptions,
    ) -> Result<Option<Vec<u8>>, RedisStoreError> {
        let member = hex(key.as_bytes());
        let (keys, args) = self.put_call(&member, value, options);
        let script = &Scripts::get().get_or_insert;
        match self.planned("get_or_insert", script, Some(&keys[0]), &args)? {
            Value::BulkString(found) => Ok(Some(found)),
            Value::Int(1) => Ok(None),
            other => Err(decode_value("get_or_insert", &other)),
        }
    }

    fn key_call(&self, script: &Script, key: &str) -> Result<Value, RedisStoreError> {
        let member = hex(key.as_bytes());
        self.call(script, &[self.names.entry(&member)], &[member])
    }
}

fn decode(what: &str) -> RedisStoreError {
    RedisStoreError::Decode {
        reason: format!("{what} is not what kv-redis writes"),
    }
}

fn decode_value(what: &str, v: &Value) -> RedisStoreError {
    RedisStoreError::Decode {
        reason: format!("{what}: unexpected reply {v:?}"),
    }
}

fn int(what: &str, v: &Value) -> Result<i64, RedisStoreError> {
    match v {
        Value::Int(n) => Ok(*n),
        other => Err(decode_value(what, other)),
    }
}

/// A reply that is a stored value or nothing (`get`, `remove`).
fn value_or_nil(what: &str, v: Value) -> Result<Option<Vec<u8>>, RedisStoreError> {
    match v {
        Value::Nil => Ok(None),
        Value::BulkString(v) => Ok(Some(v)),
        other => Err(decode_value(what, &other)),
    }
}

fn key_of(member: &[u8]) -> Result<String, RedisStoreError> {
    unhex(member)
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| decode("a key in the namespace's LRU set"))
}

impl Backend for RedisStore {
    type Key = String;
    type Value = Vec<u8>;
    type Options = PutOptions;
    type Error = RedisStoreError;

    fn put(
        &self,
        key: String,
        value: Vec<u8>,
        options: &PutOptions,
    ) -> Result<(), RedisStoreError> {
        let member = hex(key.as_bytes());
        let (keys, args) = self.put_call(&member, &value, options);
        let done = self.planned("put", &Scripts::get().put, Some(&keys[0]), &args)?;
        int("put", &done).map(|_| ())
    }

    fn get(&self, key: &String) -> Result<Option<Vec<u8>>, RedisStoreError> {
        value_or_nil("get", self.key_call(&Scripts::get().get, key)?)
    }

    fn has(&self, key: &String) -> Result<bool, RedisStoreError> {
        Ok(int("has", &self.key_call(&Scripts::get().has, key)?)? == 1)
    }

    fn del(&self, key: &String) -> Result<bool, RedisStoreError> {
        Ok(int("del", &self.key_call(&Scripts::get().del, key)?)? == 1)
    }

    /// One script, so atomic on the server; an insert that needs room takes a second round
    /// trip, as [`put`](Backend::put) does.
    fn get_or_insert(
        &self,
        key: String,
        value: Vec<u8>,
        options: &PutOptions,
    ) -> Result<Vec<u8>, RedisStoreError> {
        Ok(self
            .get_or_insert_found(&key, &value, options)?
            .unwrap_or(value))
    }

    fn remove(&self, key: &String) -> Result<Option<Vec<u8>>, RedisStoreError> {
        value_or_nil("remove", self.key_call(&Scripts::get().remove, key)?)
    }

    /// Up to 10,000 removals (matching entries and expired ones) per script call, each call
    /// atomic; a larger job takes several calls, so a concurrent put may land between two of
    /// them and survive. Each call reads the namespace's whole LRU set to find its victims.
    fn remove_prefix(&self, prefix: &str) -> Result<usize, RedisStoreError> {
        let args = [
            hex(prefix.as_bytes()).into_bytes(),
            BULK.to_string().into_bytes(),
        ];
        let mut total = 0;
        loop {
            let done = self.planned("remove_prefix", &Scripts::get().remove_prefix, None, &args)?;
            let [removed, touched] = match &done {
                Value::Array(counts) => match counts[..] {
                    [Value::Int(r), Value::Int(t)] => [r, t],
                    _ => return Err(decode_value("remove_prefix", &done)),
                },
                other => return Err(decode_value("remove_prefix", other)),
            };
            total += usize::try_from(removed).unwrap_or(0);
            if usize::try_from(touched).unwrap_or(0) < BULK {
                return Ok(total);
            }
        }
    }

    fn keys(&self) -> Result<Vec<String>, RedisStoreError> {
        Ok(self.dump()?.keys)
    }

    fn metrics(&self) -> Result<Metrics, RedisStoreError> {
        Ok(self.dump()?.metrics)
    }

    fn purge_expired(&self) -> Result<usize, RedisStoreError> {
        let args = [BULK.to_string().into_bytes()];
        let mut total = 0;
        loop {
            let done = self.planned("purge_expired", &Scripts::get().purge, None, &args)?;
            let n = usize::try_from(int("purge_expired", &done)?).unwrap_or(0);
            total += n;
            if n < BULK {
                return Ok(total);
            }
        }
    }

    fn capacity(&self) -> Result<usize, RedisStoreError> {
        let cap: Option<u64> = self
            .server
            .connector
            .run(|c| redis::cmd("HGET").arg(&self.names.meta).arg("cap").query(c))?;
        Ok(usize::try_from(cap.unwrap_or(0)).unwrap_or(usize::MAX))
    }

    fn set_capacity(&self, capacity: usize) -> Result<(), RedisStoreError> {
        let args = [capacity.to_string().into_bytes()];
        self.planned("set_capacity", &Scripts::get().set_capacity, None, &args)
            .map(|_| ())
    }

    /// Removes every entry; a namespace of more than 10,000 entries is cleared in several
    /// atomic steps, so a concurrent put may land between two of them and survive.
    fn clear(&self) -> Result<(), RedisStoreError> {
        self.clear_in_steps("clear", "keep")
    }

    fn dump(&self) -> Result<Dump<String>, RedisStoreError> {
        let (members, c): (Vec<Vec<u8>>, Vec<u64>) = self.call(&Scripts::get().dump, &[], &[])?;
        let mut keys = members
            .iter()
            .map(|m| key_of(m))
            .collect::<Result<Vec<_>, _>>()?;
        keys.sort();
        let [hits, misses, expirations, evictions, current_size, _cap] = c[..] else {
            return Err(decode("the counters"));
        };
        Ok(Dump {
            keys,
            metrics: Metrics {
                hits,
                misses,
                expirations,
                evictions,
                current_size,
            },
        })
    }
}
