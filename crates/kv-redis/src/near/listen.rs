//! The invalidation connection: one per near cache, to the server (on a cluster, the master of
//! the namespace's slot) that holds the namespace. It turns on `CLIENT TRACKING` in broadcast
//! mode for the namespace's entry keys, redirected to itself, and subscribes to
//! `__redis__:invalidate` (RESP2, so any Redis from 6.0 on), then drops the near copy of every
//! key a message names. A thread reads it; the thread stops once every handle of its near cache
//! is gone.
//!
//! When the connection fails (an error, or no answer to a heartbeat `PING`), the near tier is
//! emptied and switched off before anything else, since what was missed cannot be known; the
//! thread then connects again, turns tracking on, subscribes, and only then empties the tier
//! again (reads that went to the server in between may have filled nothing: their tickets are
//! void) and switches it back on.

use std::cell::RefCell;
use std::sync::mpsc;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use redis::{
    Connection, ConnectionAddr, ConnectionInfo, IntoConnectionInfo, ProtocolVersion, Value,
};

use crate::RedisStoreError;
use crate::conn::{Timeouts, Trust, client, store_error};
use crate::names::key_of;
use crate::url::{ConnectionUrl, Endpoint};

use super::tier::Tier;

/// The channel Redis sends invalidations to in RESP2.
const CHANNEL: &str = "__redis__:invalidate";

/// How often the thread checks on the connection (a `PING`; on a cluster, whether the slot's
/// master moved), and the longest it waits for a message before it looks whether its near
/// cache is still in use. A connection that died without a word is noticed within about twice
/// this plus the response timeout.
pub(crate) const HEARTBEAT: Duration = Duration::from_millis(500);

/// The longest pause between two attempts to connect again.
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// Where the namespace lives, and how to find it again after a failover.
pub(crate) struct Source {
    pub(crate) url: ConnectionUrl,
    pub(crate) timeouts: Timeouts,
    /// The CA trusted over TLS, as by the store's own connections.
    pub(crate) trust: Trust,
    /// The namespace's counters key (any of its keys: they share one slot).
    pub(crate) slot_key: String,
    /// What the namespace's entry keys start with: the broadcast prefix.
    pub(crate) prefix: String,
    /// `CLIENT SETNAME` of the connection, so an operator can find it in `CLIENT LIST`.
    pub(crate) name: String,
    /// On a cluster, the seed connection that last answered where the slot is (kept: only the
    /// invalidation thread uses it).
    pub(crate) asker: RefCell<Option<Connection>>,
}

impl Source {
    fn url(&self) -> &ConnectionUrl {
        &self.url
    }

    fn error(&self, e: &redis::RedisError) -> RedisStoreError {
        store_error(self.url(), e)
    }

    /// A plain connection to `info`, with the timeouts.
    fn connect(&self, info: ConnectionInfo) -> redis::RedisResult<Connection> {
        let t = self.timeouts;
        let con = client(info, &self.trust)?.get_connection_with_timeout(t.connect)?;
        con.set_read_timeout(Some(t.response))?;
        con.set_write_timeout(Some(t.response))?;
        Ok(con)
    }

    /// The server to listen to: the single server, or the master that serves the namespace's
    /// slot now (asked through the cluster connection), reached with the seed's credentials.
    fn target(&self) -> Result<ConnectionInfo, RedisStoreError> {
        let bad = |reason: String| RedisStoreError::Url {
            url: self.url().redacted.clone(),
            reason,
        };
        let info = match &self.url().endpoint {
            Endpoint::Single(u) => u
                .as_str()
                .into_connection_info()
                .map_err(|e| bad(self.url().scrub(&e.to_string())))?,
            Endpoint::Cluster(nodes) => {
                let seed = nodes
                    .first()
                    .ok_or_else(|| bad("a cluster URL with no node".into()))?
                    .as_str()
                    .into_connection_info()
                    .map_err(|e| bad(self.url().scrub(&e.to_string())))?;
                let (host, port) = self.slot_master()?;
                let mut addr = seed.addr().clone();
                match &mut addr {
                    ConnectionAddr::Tcp(h, p)
                    | ConnectionAddr::TcpTls {
                        host: h, port: p, ..
                    } => {
                        *h = host;
                        *p = port;
                    }
                    _ => return Err(bad("a cluster node that is not a TCP address".into())),
                }
                seed.set_addr(addr)
            }
        };
        // RESP2 whatever the URL asks (`?protocol=resp3`): under RESP3 the server sends
        // invalidations as push messages, not on the `__redis__:invalidate` channel this
        // connection subscribes to, and the near tier would never hear of a change.
        let resp2 = info
            .redis_settings()
            .clone()
            .set_protocol(ProtocolVersion::RESP2);
        Ok(info.set_redis_settings(resp2))
    }

    /// The host and port of the master serving the namespace's slot, asked of the first seed
    /// node that answers.
    fn slot_master(&self) -> Result<(String, u16), RedisStoreError> {
        let Endpoint::Cluster(nodes) = &self.url().endpoint else {
            return Err(RedisStoreError::Url {
                url: self.url().redacted.clone(),
                reason: "not a cluster URL".into(),
            });
        };
        let ask = |con: &mut Connection| -> redis::RedisResult<(i64, Vec<Value>)> {
            let slot = redis::cmd("CLUSTER")
                .arg("KEYSLOT")
                .arg(&self.slot_key)
                .query(con)?;
            Ok((slot, redis::cmd("CLUSTER").arg("SLOTS").query(con)?))
        };
        // The connection that answered last time first: the heartbeat asks every 0.5 s.
        let mut asker = self.asker.borrow_mut();
        if let Some(con) = asker.as_mut() {
            match ask(con) {
                Ok((slot, ranges)) => return self.master_of(slot, ranges),
                Err(_) => *asker = None,
            }
        }
        let mut last = None;
        for node in nodes {
            let answer = node
                .as_str()
                .into_connection_info()
                .and_then(|info| self.connect(info))
                .and_then(|mut con| ask(&mut con).map(|a| (a, con)));
            match answer {
                Ok(((slot, ranges), con)) => {
                    *asker = Some(con);
                    return self.master_of(slot, ranges);
                }
                Err(e) => last = Some(self.error(&e)),
            }
        }
        Err(last.unwrap_or_else(|| RedisStoreError::Url {
            url: self.url().redacted.clone(),
            reason: "a cluster URL with no node".into(),
        }))
    }

    /// The master that `CLUSTER SLOTS` (`ranges`) names for `slot`.
    fn master_of(&self, slot: i64, ranges: Vec<Value>) -> Result<(String, u16), RedisStoreError> {
        for range in ranges {
            let Value::Array(fields) = range else {
                continue;
            };
            let (Some(Value::Int(lo)), Some(Value::Int(hi)), Some(Value::Array(master))) =
                (fields.first(), fields.get(1), fields.get(2))
            else {
                continue;
            };
            if !(*lo..=*hi).contains(&slot) {
                continue;
            }
            let host = match master.first() {
                Some(Value::BulkString(h)) => String::from_utf8_lossy(h).into_owned(),
                _ => break,
            };
            let port = match master.get(1) {
                Some(Value::Int(p)) => u16::try_from(*p).ok(),
                _ => None,
            };
            if let Some(port) = port {
                return Ok((host, port));
            }
        }
        Err(RedisStoreError::Server {
            url: self.url().redacted.clone(),
            reason: format!("no master serves slot {slot} (CLUSTER SLOTS)"),
        })
    }

    /// A connection with tracking on, redirected to itself (not yet subscribed), and the master
    /// it reached on a cluster.
    fn open(&self) -> Result<(Connection, Option<(String, u16)>), RedisStoreError> {
        let info = self.target()?;
        let master = match info.addr() {
            ConnectionAddr::Tcp(h, p)
            | ConnectionAddr::TcpTls {
                host: h, port: p, ..
            } if matches!(self.url().endpoint, Endpoint::Cluster(_)) => Some((h.clone(), *p)),
            _ => None,
        };
        let run = || -> redis::RedisResult<Connection> {
            let mut con = self.connect(info)?;
            redis::cmd("CLIENT")
                .arg("SETNAME")
                .arg(&self.name)
                .query::<()>(&mut con)?;
            let id: i64 = redis::cmd("CLIENT").arg("ID").query(&mut con)?;
            redis::cmd("CLIENT")
                .arg("TRACKING")
                .arg("ON")
                .arg("REDIRECT")
                .arg(id)
                .arg("BCAST")
                .arg("PREFIX")
                .arg(&self.prefix)
                .query::<()>(&mut con)?;
            Ok(con)
        };
        run().map(|c| (c, master)).map_err(|e| self.error(&e))
    }

    /// Whether the namespace's slot is still served by `master` (always, on a single server).
    /// An error counts as moved: the connection is set up again either way.
    fn still_served_by(&self, master: &Option<(String, u16)>) -> bool {
        match master {
            None => true,
            Some(m) => self.slot_master().is_ok_and(|now| &now == m),
        }
    }
}

/// What the first connection of a new near cache came to: tracking on, or its error.
pub(crate) type First = mpsc::Receiver<Result<(), RedisStoreError>>;

/// Starts the invalidation thread of `tier`; the answer says when tracking is first on (or the
/// first connection's error, and the thread is gone).
pub(crate) fn start(tier: &Arc<Tier>, source: Source) -> Result<First, RedisStoreError> {
    let (first, first_result) = mpsc::channel();
    let weak = Arc::downgrade(tier);
    let url = source.url.redacted.clone();
    std::thread::Builder::new()
        .name("kv-near-invalidate".into())
        .spawn(move || run(weak, source, first))
        .map_err(|e| RedisStoreError::Unavailable {
            url,
            reason: format!("cannot start the invalidation thread: {e}"),
        })?;
    Ok(first_result)
}

/// The first connection's outcome, from its answer (or the thread's end).
pub(crate) fn first_outcome(
    answer: Result<Result<(), RedisStoreError>, mpsc::RecvError>,
) -> Result<(), RedisStoreError> {
    answer.unwrap_or_else(|_| {
        Err(RedisStoreError::Unavailable {
            url: String::new(),
            reason: "the invalidation thread stopped".into(),
        })
    })
}

fn run(tier: Weak<Tier>, source: Source, first: mpsc::Sender<Result<(), RedisStoreError>>) {
    let mut first = Some(first);
    let mut backoff = Duration::from_millis(20);
    loop {
        match source.open() {
            Ok((mut con, master)) => {
                backoff = Duration::from_millis(20);
                serve(&tier, &source, &mut con, &master, &mut first);
            }
            Err(e) => {
                if let Some(first) = first.take() {
                    let _ = first.send(Err(e));
                    return;
                }
            }
        }
        let Some(t) = tier.upgrade() else { return };
        // Already off and empty if tracking was ever on; once more costs nothing.
        t.reset(false);
        drop(t);
        std::thread::sleep(backoff);
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Subscribes `con` and applies its messages until it fails or the near cache is gone.
fn serve(
    tier: &Weak<Tier>,
    source: &Source,
    con: &mut Connection,
    master: &Option<(String, u16)>,
    first: &mut Option<mpsc::Sender<Result<(), RedisStoreError>>>,
) {
    let mut sub = con.as_pubsub();
    if let Err(e) = sub.subscribe(CHANNEL) {
        if let Some(first) = first.take() {
            let _ = first.send(Err(source.error(&e)));
        }
        return;
    }
    let Some(t) = tier.upgrade() else { return };
    // Tracking is on from here: whatever the tier held was kept without it.
    t.reset(true);
    drop(t);
    if let Some(first) = first.take() {
        let _ = first.send(Ok(()));
    }
    if sub.set_read_timeout(Some(HEARTBEAT)).is_err() {
        return;
    }
    let mut checked = Instant::now();
    loop {
        let msg = sub.get_message();
        let Some(t) = tier.upgrade() else { return };
        match msg {
            Ok(msg) => {
                if msg.get_channel_name() == CHANNEL {
                    apply(&t, &source.prefix, msg.get_payload::<Value>().ok());
                }
            }
            Err(e) if e.is_timeout() => {}
            // Off at once: dropping `sub` on the way out says UNSUBSCRIBE and waits for the
            // answer, up to another heartbeat, on a connection that may be gone.
            Err(_) => return t.reset(false),
        }
        // Every heartbeat, busy or quiet: the connection still answers, and on a cluster it
        // still reaches the master of the namespace's slot (a failover moves the slot).
        if checked.elapsed() >= HEARTBEAT {
            if sub.ping::<Value>().is_err() || !source.still_served_by(master) {
                return t.reset(false);
            }
            checked = Instant::now();
        }
    }
}

/// Applies one invalidation message: a list of keys, or nil for a flush of the database (or a
/// broadcast the server could not name keys for).
fn apply(tier: &Tier, prefix: &str, payload: Option<Value>) {
    tier.count_message();
    let keys = match payload {
        Some(Value::Array(keys)) => keys,
        _ => return tier.reset(true),
    };
    for k in keys {
        let key = match &k {
            Value::BulkString(b) => b.strip_prefix(prefix.as_bytes()).and_then(key_of),
            _ => None,
        };
        match key {
            Some(key) => tier.invalidate(&key, true),
            // Not a key this crate writes under the prefix: drop everything rather than guess.
            None => return tier.reset(true),
        }
    }
}
