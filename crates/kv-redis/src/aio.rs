//! The async stores (feature `tokio`): the same operations as the sync store ([`crate::ops`]),
//! awaited on redis-rs's async connections. A single server goes through a
//! [`ConnectionManager`] (one multiplexed connection shared by every task and clone, reconnecting
//! by itself after a drop); a cluster through redis-rs's async cluster client (multiplexed
//! connections to each node, following `MOVED`/`ASK` and topology changes).
//!
//! Every call is bounded by the response timeout on top of redis-rs's own: during an outage a
//! call fails with [`RedisStoreError::Unavailable`] within the timeout, never hangs, and once the
//! server is back the next calls succeed on the same store.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use kv_core::{AsyncBackend, BoxFuture, Dump, Metrics};
use kv_ttl::PutOptions;
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, RedisFuture, Script, Value};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::conn::{Settings, Target, Timeouts, Trust, is_unknown_script, store_error};
use crate::names::Names;
use crate::ops::{Call, Exec, Ops};
use crate::typed::{decode_found, encode_json, found_or_stored};
use crate::url::ConnectionUrl;
use crate::{RedisStoreError, ServerBuilder};

/// A multiplexed connection to a server or a cluster (cheap to clone: clones share it).
#[derive(Clone)]
enum Conn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conn::Single(c) => c.req_packed_command(cmd),
            Conn::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::Single(c) => c.req_packed_commands(cmd, offset, count),
            Conn::Cluster(c) => c.req_packed_commands(cmd, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Single(c) => c.get_db(),
            Conn::Cluster(c) => c.get_db(),
        }
    }
}

/// The connection and what a call needs to report errors and bound its time.
pub(crate) struct Connector {
    url: ConnectionUrl,
    conn: Conn,
    timeouts: Timeouts,
    trust: Trust,
}

impl Connector {
    async fn open(settings: Settings) -> Result<Self, RedisStoreError> {
        let (target, trust) = settings.target()?;
        let Settings { url, timeouts, .. } = settings;
        let connecting = async {
            match target {
                Target::Single(client) => {
                    let config = ConnectionManagerConfig::new()
                        .set_connection_timeout(Some(timeouts.connect))
                        .set_response_timeout(Some(timeouts.response))
                        // Reconnecting after a drop: a few quick attempts, then the next call
                        // starts again (the call itself is bounded by the response timeout).
                        .set_number_of_retries(2)
                        .set_max_delay(Duration::from_millis(500));
                    client
                        .get_connection_manager_with_config(config)
                        .await
                        .map(Conn::Single)
                }
                Target::Cluster(client) => client.get_async_connection().await.map(Conn::Cluster),
            }
            .map_err(|e| store_error(&url, &e))
        };
        let limit = timeouts.connect.saturating_mul(2) + timeouts.response;
        let conn = match tokio::time::timeout(limit, connecting).await {
            Ok(conn) => conn?,
            Err(_) => return Err(unanswered(&url, limit)),
        };
        let connector = Self {
            url,
            conn,
            timeouts,
            trust,
        };
        connector.query(&redis::cmd("PING")).await?;
        Ok(connector)
    }

    /// Runs `f` on a clone of the connection, bounded by the response timeout (plus the connect
    /// timeout, as the call may have to reconnect first).
    async fn timed<T, F>(&self, f: impl FnOnce(Conn) -> F) -> Result<T, RedisStoreError>
    where
        F: Future<Output = redis::RedisResult<T>>,
    {
        let limit = self.timeouts.response + self.timeouts.connect;
        match tokio::time::timeout(limit, f(self.conn.clone())).await {
            Ok(r) => r.map_err(|e| store_error(&self.url, &e)),
            Err(_) => Err(unanswered(&self.url, limit)),
        }
    }
}

fn unanswered(url: &ConnectionUrl, limit: Duration) -> RedisStoreError {
    RedisStoreError::Unavailable {
        url: url.redacted.clone(),
        reason: format!("no answer within {limit:?}"),
    }
}

impl Exec for Connector {
    async fn eval(&self, call: &Call) -> Result<Value, RedisStoreError> {
        let inv = call.invocation();
        self.timed(|mut c| async move { inv.invoke_async(&mut c).await })
            .await
    }

    async fn query(&self, cmd: &Cmd) -> Result<Value, RedisStoreError> {
        self.timed(|mut c| async move { cmd.query_async(&mut c).await })
            .await
    }

    async fn pipeline(
        &self,
        script: &'static Script,
        calls: &[Call],
    ) -> Result<Vec<Value>, RedisStoreError> {
        if calls.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for call in calls {
            pipe.add_command(call.evalsha());
        }
        let pipe = &pipe;
        self.timed(|mut c| async move {
            match pipe.query_async(&mut c).await {
                Err(e) if is_unknown_script(&e) => {
                    script.prepare_invoke().load_async(&mut c).await?;
                    pipe.query_async(&mut c).await
                }
                other => other,
            }
        })
        .await
    }
}

impl ServerBuilder {
    /// Connects for the async stores (feature `tokio`; call it inside a tokio runtime): one
    /// multiplexed, reconnecting connection (a [`ConnectionManager`], or the async cluster
    /// client), shared by every task and namespace opened from it.
    pub async fn connect_async(self) -> Result<AsyncRedisServer, RedisStoreError> {
        Ok(AsyncRedisServer {
            connector: Arc::new(Connector::open(self.resolve()?).await?),
        })
    }
}

/// A multiplexed, reconnecting connection to one Redis server or a Redis Cluster, for tokio
/// services (feature `tokio`); cheap to clone, and every task may share it. See the crate docs
/// for the URLs it takes.
///
/// ```no_run
/// use std::sync::Arc;
/// use kv_core::AsyncBackend;
/// use kv_redis::{AsyncRedisServer, AsyncTypedRedisStore, RedisStoreError};
/// use kv_ttl::PutOptions;
///
/// # async fn service() -> Result<(), RedisStoreError> {
/// // Once at start-up (or `redis+cluster://h:p,h:p`); timeouts from the URL, 5 s by default.
/// let server = AsyncRedisServer::connect("redis://127.0.0.1:6379?timeout=2s").await?;
/// let tokens = Arc::new(AsyncTypedRedisStore::<String>::new(server.namespace("auth/tokens")));
///
/// // In a request handler (any task; clones share the connection):
/// let store = Arc::clone(&tokens);
/// let issued = tokio::spawn(async move {
///     store.put("tok".into(), "user-42".into(), &PutOptions::new().with_max_reads(1)).await
/// });
/// issued.await.expect("the task ran")?;
/// assert_eq!(tokens.get(&"tok".into()).await?.as_deref(), Some("user-42"));
/// assert_eq!(tokens.get(&"tok".into()).await?, None); // one-shot
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct AsyncRedisServer {
    connector: Arc<Connector>,
}

impl fmt::Debug for AsyncRedisServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncRedisServer")
            .field("url", &self.url())
            .field("timeouts", &self.connector.timeouts)
            .finish()
    }
}

impl AsyncRedisServer {
    /// The URL as parsed, the timeouts and the CA trusted (the near cache opens its own
    /// connection).
    pub(crate) fn url_timeouts_trust(&self) -> (&ConnectionUrl, Timeouts, &Trust) {
        (
            &self.connector.url,
            self.connector.timeouts,
            &self.connector.trust,
        )
    }

    /// Connects to `url` (timeouts from its query, 5 s each by default): see
    /// [`ServerBuilder::connect_async`].
    pub async fn connect(url: &str) -> Result<Self, RedisStoreError> {
        ServerBuilder::new(url).connect_async().await
    }

    /// A connection to `url` with settings beyond the URL's: see [`ServerBuilder`].
    pub fn builder(url: &str) -> ServerBuilder {
        ServerBuilder::new(url)
    }

    /// The store of namespace `namespace`: the same namespace, entries and counters as a sync
    /// [`RedisStore`](crate::RedisStore) of that name on the same server.
    pub fn namespace(&self, namespace: &str) -> AsyncRedisStore {
        AsyncRedisStore {
            server: self.clone(),
            names: Names::new(namespace),
            namespace: namespace.to_string(),
        }
    }

    /// The URL, password replaced by `***`.
    pub fn url(&self) -> &str {
        &self.connector.url.redacted
    }
}

/// One namespace on Redis for async code (feature `tokio`): the contract's store with byte
/// values, through [`AsyncBackend`]. Same scripts, keys and counters as the sync
/// [`RedisStore`](crate::RedisStore): sync and async processes share a namespace.
#[derive(Clone)]
pub struct AsyncRedisStore {
    server: AsyncRedisServer,
    names: Names,
    namespace: String,
}

impl fmt::Debug for AsyncRedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncRedisStore")
            .field("url", &self.server.url())
            .field("namespace", &self.namespace)
            .finish()
    }
}

impl AsyncRedisStore {
    /// Connects to `url` and opens `namespace` there.
    pub async fn open(url: &str, namespace: &str) -> Result<Self, RedisStoreError> {
        Ok(AsyncRedisServer::connect(url).await?.namespace(namespace))
    }

    /// The namespace's name.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The server this namespace lives on.
    pub fn server(&self) -> &AsyncRedisServer {
        &self.server
    }

    pub(crate) fn ops(&self) -> Ops<'_, Connector> {
        Ops {
            exec: &self.server.connector,
            names: &self.names,
        }
    }

    /// Moves the namespace's clock forward: see [`RedisStore::advance`](crate::RedisStore::advance).
    pub async fn advance(&self, by: Duration) -> Result<(), RedisStoreError> {
        self.ops().clock(by, "").await
    }

    /// Makes the namespace's clock a manual one: see
    /// [`RedisStore::freeze_clock`](crate::RedisStore::freeze_clock).
    pub async fn freeze_clock(&self) -> Result<(), RedisStoreError> {
        self.ops().clock(Duration::ZERO, "freeze").await
    }

    /// Removes the namespace from the server: its entries, counters, capacity and clock.
    pub async fn drop_namespace(&self) -> Result<(), RedisStoreError> {
        self.ops().clear_in_steps("drop_namespace", "drop").await
    }

    /// Gets several keys in one round trip: see [`RedisStore::get_many`](crate::RedisStore::get_many).
    pub async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, RedisStoreError> {
        self.ops().get_many(keys).await
    }

    /// Puts several entries in one round trip: see [`RedisStore::put_many`](crate::RedisStore::put_many).
    pub async fn put_many(
        &self,
        entries: &[(String, Vec<u8>)],
        options: &PutOptions,
    ) -> Result<(), RedisStoreError> {
        self.ops().put_many(entries, options).await
    }
}

type Fut<'a, T> = BoxFuture<'a, Result<T, RedisStoreError>>;

impl AsyncBackend for AsyncRedisStore {
    type Key = String;
    type Value = Vec<u8>;
    type Options = PutOptions;
    type Error = RedisStoreError;

    fn put<'a>(&'a self, key: String, value: Vec<u8>, options: &'a PutOptions) -> Fut<'a, ()> {
        Box::pin(async move { self.ops().put(&key, &value, options).await })
    }
    fn get<'a>(&'a self, key: &'a String) -> Fut<'a, Option<Vec<u8>>> {
        Box::pin(self.ops().get(key))
    }
    fn has<'a>(&'a self, key: &'a String) -> Fut<'a, bool> {
        Box::pin(self.ops().has(key))
    }
    fn del<'a>(&'a self, key: &'a String) -> Fut<'a, bool> {
        Box::pin(self.ops().del(key))
    }
    fn get_or_insert<'a>(
        &'a self,
        key: String,
        value: Vec<u8>,
        options: &'a PutOptions,
    ) -> Fut<'a, Vec<u8>> {
        Box::pin(async move {
            let found = self
                .ops()
                .get_or_insert_found(&key, &value, options)
                .await?;
            Ok(found.unwrap_or(value))
        })
    }
    fn remove<'a>(&'a self, key: &'a String) -> Fut<'a, Option<Vec<u8>>> {
        Box::pin(self.ops().remove(key))
    }
    fn remove_prefix<'a>(&'a self, prefix: &'a str) -> Fut<'a, usize> {
        Box::pin(self.ops().remove_prefix(prefix))
    }
    fn keys(&self) -> Fut<'_, Vec<String>> {
        Box::pin(async move { Ok(self.ops().dump().await?.keys) })
    }
    fn metrics(&self) -> Fut<'_, Metrics> {
        Box::pin(async move { Ok(self.ops().dump().await?.metrics) })
    }
    fn purge_expired(&self) -> Fut<'_, usize> {
        Box::pin(self.ops().purge_expired())
    }
    fn capacity(&self) -> Fut<'_, usize> {
        Box::pin(self.ops().capacity())
    }
    fn set_capacity(&self, capacity: usize) -> Fut<'_, ()> {
        Box::pin(self.ops().set_capacity(capacity))
    }
    fn clear(&self) -> Fut<'_, ()> {
        Box::pin(self.ops().clear_in_steps("clear", "keep"))
    }
    fn dump(&self) -> Fut<'_, Dump<String>> {
        Box::pin(self.ops().dump())
    }
}

/// An [`AsyncRedisStore`] whose values are `V`, stored as JSON exactly as
/// [`TypedRedisStore`](crate::TypedRedisStore) stores them (feature `tokio`).
pub struct AsyncTypedRedisStore<V> {
    inner: AsyncRedisStore,
    _values: PhantomData<fn(V) -> V>,
}

impl<V> Clone for AsyncTypedRedisStore<V> {
    fn clone(&self) -> Self {
        Self::new(self.inner.clone())
    }
}

impl<V> fmt::Debug for AsyncTypedRedisStore<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("AsyncTypedRedisStore")
            .field(&self.inner)
            .finish()
    }
}

impl<V> AsyncTypedRedisStore<V> {
    /// Wraps a byte store.
    pub fn new(inner: AsyncRedisStore) -> Self {
        Self {
            inner,
            _values: PhantomData,
        }
    }

    /// Connects to `url` and opens `namespace` there.
    pub async fn open(url: &str, namespace: &str) -> Result<Self, RedisStoreError> {
        Ok(Self::new(AsyncRedisStore::open(url, namespace).await?))
    }

    /// The byte store underneath.
    pub fn get_ref(&self) -> &AsyncRedisStore {
        &self.inner
    }

    /// The byte store underneath.
    pub fn into_inner(self) -> AsyncRedisStore {
        self.inner
    }

    /// Moves the namespace's clock forward: see [`RedisStore::advance`](crate::RedisStore::advance).
    pub async fn advance(&self, by: Duration) -> Result<(), RedisStoreError> {
        self.inner.advance(by).await
    }

    /// Makes the namespace's clock a manual one: see
    /// [`RedisStore::freeze_clock`](crate::RedisStore::freeze_clock).
    pub async fn freeze_clock(&self) -> Result<(), RedisStoreError> {
        self.inner.freeze_clock().await
    }
}

impl<V> AsyncBackend for AsyncTypedRedisStore<V>
where
    V: Serialize + DeserializeOwned + Send + 'static,
{
    type Key = String;
    type Value = V;
    type Options = PutOptions;
    type Error = RedisStoreError;

    fn put<'a>(&'a self, key: String, value: V, options: &'a PutOptions) -> Fut<'a, ()> {
        Box::pin(async move {
            let bytes = encode_json(&value)?;
            self.inner.ops().put(&key, &bytes, options).await
        })
    }
    fn get<'a>(&'a self, key: &'a String) -> Fut<'a, Option<V>> {
        Box::pin(async move { decode_found(self.inner.ops().get(key).await?) })
    }
    fn has<'a>(&'a self, key: &'a String) -> Fut<'a, bool> {
        self.inner.has(key)
    }
    fn del<'a>(&'a self, key: &'a String) -> Fut<'a, bool> {
        self.inner.del(key)
    }
    /// A value found is decoded; a value stored is handed back as given.
    fn get_or_insert<'a>(&'a self, key: String, value: V, options: &'a PutOptions) -> Fut<'a, V> {
        Box::pin(async move {
            let bytes = encode_json(&value)?;
            let found = self
                .inner
                .ops()
                .get_or_insert_found(&key, &bytes, options)
                .await?;
            found_or_stored(found, value)
        })
    }
    fn remove<'a>(&'a self, key: &'a String) -> Fut<'a, Option<V>> {
        Box::pin(async move { decode_found(self.inner.ops().remove(key).await?) })
    }
    fn remove_prefix<'a>(&'a self, prefix: &'a str) -> Fut<'a, usize> {
        self.inner.remove_prefix(prefix)
    }
    fn keys(&self) -> Fut<'_, Vec<String>> {
        self.inner.keys()
    }
    fn metrics(&self) -> Fut<'_, Metrics> {
        self.inner.metrics()
    }
    fn purge_expired(&self) -> Fut<'_, usize> {
        self.inner.purge_expired()
    }
    fn capacity(&self) -> Fut<'_, usize> {
        self.inner.capacity()
    }
    fn set_capacity(&self, capacity: usize) -> Fut<'_, ()> {
        self.inner.set_capacity(capacity)
    }
    fn clear(&self) -> Fut<'_, ()> {
        self.inner.clear()
    }
    fn dump(&self) -> Fut<'_, Dump<String>> {
        self.inner.dump()
    }
}
