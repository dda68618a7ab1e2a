//! The contract's operations, written once for every connection: each builds its script call
//! ([`Call`]), runs it through an [`Exec`] and decodes the reply. The sync store's [`Exec`] (the
//! connection pool) answers with futures that are ready at once, which [`block`] runs on the
//! calling thread; the async store's (feature `tokio`) awaits redis-rs's async connections. So
//! both stores send the same scripts with the same keys and arguments, plan and retry the same
//! way, and decode the same replies.

use std::future::Future;
use std::time::Duration;

use kv_core::{Dump, Metrics};
use kv_ttl::PutOptions;
use redis::{Cmd, Script, ScriptInvocation, Value};

use crate::RedisStoreError;
use crate::names::{Names, key_of, member};
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
pub(crate) const BULK: usize = 10_000;

type R<T> = Result<T, RedisStoreError>;

/// One script call: the namespace's three keys and the entry keys, then the entry prefix, the
/// slack and the operation's own arguments (the layout `scripts.rs` describes).
#[derive(Clone, Debug)]
pub(crate) struct Call {
    pub script: &'static Script,
    pub keys: Vec<String>,
    pub args: Vec<Vec<u8>>,
}

impl Call {
    fn new(
        names: &Names,
        script: &'static Script,
        entry: Option<String>,
        args: Vec<Vec<u8>>,
    ) -> Self {
        let mut keys = vec![
            names.meta.clone(),
            names.lru.clone(),
            names.deadlines.clone(),
        ];
        keys.extend(entry);
        let mut all = vec![
            names.entry_prefix.clone().into_bytes(),
            SLACK_MS.to_string().into_bytes(),
        ];
        all.extend(args);
        Self {
            script,
            keys,
            args: all,
        }
    }

    /// The call as redis-rs runs it: `EVALSHA`, loading the script on `NOSCRIPT`.
    pub(crate) fn invocation(&self) -> ScriptInvocation<'static> {
        let mut inv = self.script.prepare_invoke();
        for k in &self.keys {
            inv.key(k);
        }
        for a in &self.args {
            inv.arg(a.as_slice());
        }
        inv
    }

    /// The call as one `EVALSHA` command, for a pipeline.
    pub(crate) fn evalsha(&self) -> Cmd {
        let mut cmd = redis::cmd("EVALSHA");
        cmd.arg(self.script.get_hash()).arg(self.keys.len());
        for k in &self.keys {
            cmd.arg(k);
        }
        for a in &self.args {
            cmd.arg(a.as_slice());
        }
        cmd
    }
}

/// A connection that runs calls: the sync pool or an async connection.
pub(crate) trait Exec: Sync {
    /// Runs `call`.
    fn eval(&self, call: &Call) -> impl Future<Output = R<Value>> + Send;
    /// Runs a plain command.
    fn query(&self, cmd: &Cmd) -> impl Future<Output = R<Value>> + Send;
    /// Sends calls of one script in one round trip (loading the script first if the server does
    /// not know it); one reply per call.
    fn pipeline(
        &self,
        script: &'static Script,
        calls: &[Call],
    ) -> impl Future<Output = R<Vec<Value>>> + Send;
}

/// Runs a future of the sync connection on the calling thread. Its calls block before they
/// return, so the future is ready at its first poll.
pub(crate) fn block<F: Future>(fut: F) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match fut.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(out) => out,
        std::task::Poll::Pending => {
            unreachable!("the sync connection's futures are ready when returned")
        }
    }
}

fn micros_ceil(d: Duration) -> u128 {
    d.as_nanos().div_ceil(1_000)
}

pub(crate) fn decode(what: &str) -> RedisStoreError {
    RedisStoreError::Decode {
        reason: format!("{what} is not what kv-redis writes"),
    }
}

pub(crate) fn decode_value(what: &str, v: &Value) -> RedisStoreError {
    RedisStoreError::Decode {
        reason: format!("{what}: unexpected reply {v:?}"),
    }
}

fn int(what: &str, v: &Value) -> R<i64> {
    match v {
        Value::Int(n) => Ok(*n),
        other => Err(decode_value(what, other)),
    }
}

fn count(what: &str, v: &Value) -> R<usize> {
    Ok(usize::try_from(int(what, v)?).unwrap_or(0))
}

/// A reply that is a stored value or nothing (`get`, `remove`).
fn value_or_nil(what: &str, v: Value) -> R<Option<Vec<u8>>> {
    match v {
        Value::Nil => Ok(None),
        Value::BulkString(v) => Ok(Some(v)),
        other => Err(decode_value(what, &other)),
    }
}

/// One namespace's operations on one connection (two references: copied into each operation's
/// future, which then borrows only the store).
pub(crate) struct Ops<'a, E> {
    pub exec: &'a E,
    pub names: &'a Names,
}

impl<E> Clone for Ops<'_, E> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<E> Copy for Ops<'_, E> {}

impl<E: Exec> Ops<'_, E> {
    fn call(&self, script: &'static Script, entry: Option<String>, args: Vec<Vec<u8>>) -> Call {
        Call::new(self.names, script, entry, args)
    }

    /// A call of `script` on the entry of `key`, with its member as the only argument.
    pub(crate) fn key_call(&self, script: &'static Script, key: &str) -> Call {
        let m = member(key);
        self.call(script, Some(self.names.entry(&m)), vec![m.into_bytes()])
    }

    /// The call of a put (or a get-or-insert) of `value` under `key`.
    fn put_call(
        &self,
        script: &'static Script,
        key: &str,
        value: &[u8],
        options: &PutOptions,
    ) -> Call {
        let ttl = options
            .ttl()
            .map(micros_ceil)
            .filter(|&us| us <= NEVER_US)
            .unwrap_or(0);
        let reads = options.max_reads().unwrap_or(0);
        let sliding = if options.is_sliding() { "1" } else { "0" };
        let m = member(key);
        let entry = self.names.entry(&m);
        self.call(
            script,
            Some(entry),
            vec![
                m.into_bytes(),
                value.to_vec(),
                ttl.to_string().into_bytes(),
                sliding.as_bytes().to_vec(),
                reads.to_string().into_bytes(),
            ],
        )
    }

    /// Runs a call that may answer with a plan (the members of the entries it must remove),
    /// calling it again with those entries' keys until it acts. The keys of earlier plans stay
    /// in the call (declaring a key the script then leaves alone costs nothing): when other
    /// clients keep moving the namespace's LRU tail, the victims of the next plan are then often
    /// declared already, so a busy namespace settles in a few rounds.
    async fn planned(self, operation: &'static str, mut call: Call) -> R<Value> {
        for _ in 0..MAX_PLANS {
            match self.exec.eval(&call).await? {
                // A plan names its victims; an answer that is a list starts with a number.
                Value::Array(victims) if matches!(victims.first(), Some(Value::BulkString(_))) => {
                    for v in victims {
                        match v {
                            Value::BulkString(m) => {
                                let m = String::from_utf8(m).map_err(|_| decode("a victim"))?;
                                let key = self.names.entry(&m);
                                if !call.keys.contains(&key) {
                                    call.keys.push(key);
                                }
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

    pub(crate) async fn put(self, key: &str, value: &[u8], options: &PutOptions) -> R<()> {
        let call = self.put_call(&Scripts::get().put, key, value, options);
        int("put", &self.planned("put", call).await?).map(|_| ())
    }

    pub(crate) async fn get(self, key: &str) -> R<Option<Vec<u8>>> {
        let call = self.key_call(&Scripts::get().get, key);
        value_or_nil("get", self.exec.eval(&call).await?)
    }

    pub(crate) async fn has(self, key: &str) -> R<bool> {
        let call = self.key_call(&Scripts::get().has, key);
        Ok(int("has", &self.exec.eval(&call).await?)? == 1)
    }

    pub(crate) async fn del(self, key: &str) -> R<bool> {
        let call = self.key_call(&Scripts::get().del, key);
        Ok(int("del", &self.exec.eval(&call).await?)? == 1)
    }

    /// `get_or_insert` in one script: the live value found, or `None` when `value` was stored
    /// (the caller has it already, so it does not travel back).
    pub(crate) async fn get_or_insert_found(
        self,
        key: &str,
        value: &[u8],
        options: &PutOptions,
    ) -> R<Option<Vec<u8>>> {
        let call = self.put_call(&Scripts::get().get_or_insert, key, value, options);
        match self.planned("get_or_insert", call).await? {
            Value::BulkString(found) => Ok(Some(found)),
            Value::Int(1) => Ok(None),
            other => Err(decode_value("get_or_insert", &other)),
        }
    }

    pub(crate) async fn remove(self, key: &str) -> R<Option<Vec<u8>>> {
        let call = self.key_call(&Scripts::get().remove, key);
        value_or_nil("remove", self.exec.eval(&call).await?)
    }

    /// Up to [`BULK`] removals per script call, each call atomic.
    pub(crate) async fn remove_prefix(self, prefix: &str) -> R<usize> {
        let args = vec![member(prefix).into_bytes(), BULK.to_string().into_bytes()];
        let mut total = 0;
        loop {
            let call = self.call(&Scripts::get().remove_prefix, None, args.clone());
            let done = self.planned("remove_prefix", call).await?;
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

    pub(crate) async fn purge_expired(self) -> R<usize> {
        let mut total = 0;
        loop {
            let call = self.call(
                &Scripts::get().purge,
                None,
                vec![BULK.to_string().into_bytes()],
            );
            let n = count("purge_expired", &self.planned("purge_expired", call).await?)?;
            total += n;
            if n < BULK {
                return Ok(total);
            }
        }
    }

    pub(crate) async fn capacity(self) -> R<usize> {
        let mut cmd = redis::cmd("HGET");
        cmd.arg(&self.names.meta).arg("cap");
        let cap: Option<u64> = match self.exec.query(&cmd).await? {
            Value::Nil => None,
            v => Some(redis::from_redis_value(v).map_err(|_| decode("the capacity"))?),
        };
        Ok(usize::try_from(cap.unwrap_or(0)).unwrap_or(usize::MAX))
    }

    pub(crate) async fn set_capacity(self, capacity: usize) -> R<()> {
        let args = vec![capacity.to_string().into_bytes()];
        let call = self.call(&Scripts::get().set_capacity, None, args);
        self.planned("set_capacity", call).await.map(|_| ())
    }

    /// Removes every entry, [`BULK`] per script call (each call atomic), then with `mode ==
    /// "drop"` the namespace's bookkeeping too.
    pub(crate) async fn clear_in_steps(self, operation: &'static str, mode: &str) -> R<()> {
        let args = vec![mode.as_bytes().to_vec(), BULK.to_string().into_bytes()];
        loop {
            let call = self.call(&Scripts::get().clear, None, args.clone());
            let left = self.planned(operation, call).await?;
            if int(operation, &left)? == 0 {
                return Ok(());
            }
        }
    }

    pub(crate) async fn dump(self) -> R<Dump<String>> {
        let call = self.call(&Scripts::get().dump, None, Vec::new());
        let (members, c): (Vec<Vec<u8>>, Vec<u64>) =
            redis::from_redis_value(self.exec.eval(&call).await?)
                .map_err(|_| decode("the dump"))?;
        let mut keys = members
            .iter()
            .map(|m| key_of(m).ok_or_else(|| decode("a key in the namespace's LRU set")))
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

    /// Moves the namespace's clock by `by` (saturating at 100 years); `mode == "freeze"` stops
    /// it from following real time first.
    pub(crate) async fn clock(self, by: Duration, mode: &str) -> R<()> {
        let us = micros_ceil(by).min(MAX_OFFSET_US);
        let args = [us.to_string(), MAX_OFFSET_US.to_string(), mode.to_string()];
        let call = self.call(
            &Scripts::get().clock,
            None,
            args.into_iter().map(String::into_bytes).collect(),
        );
        self.exec.eval(&call).await.map(|_| ())
    }

    /// Gets several keys in one round trip (one script call each, pipelined).
    pub(crate) async fn get_many(self, keys: &[String]) -> R<Vec<Option<Vec<u8>>>> {
        let script = &Scripts::get().get;
        let calls: Vec<Call> = keys.iter().map(|k| self.key_call(script, k)).collect();
        self.exec
            .pipeline(script, &calls)
            .await?
            .into_iter()
            .map(|v| value_or_nil("get", v))
            .collect()
    }

    /// Puts several entries with the same options in one round trip; an insert for which the
    /// server answers with a plan is then repeated on its own, as `put` does.
    pub(crate) async fn put_many(
        self,
        entries: &[(String, Vec<u8>)],
        options: &PutOptions,
    ) -> R<()> {
        let script = &Scripts::get().put;
        let calls: Vec<Call> = entries
            .iter()
            .map(|(k, v)| self.put_call(script, k, v, options))
            .collect();
        let answers = self.exec.pipeline(script, &calls).await?;
        for ((k, v), answer) in entries.iter().zip(answers) {
            if matches!(answer, Value::Array(_)) {
                self.put(k, v, options).await?;
            }
        }
        Ok(())
    }
}
