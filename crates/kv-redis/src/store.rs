//! The store on Redis: [`RedisServer`] is a connection (pool) to a server or cluster, and
//! [`RedisStore`] one namespace on it, implementing the contract's [`Backend`] with byte values.
// std's `Arc`, not kv_core::sync's: it shares a network connection pool between store handles;
// no store state lives in this process for loom to model.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use kv_core::{Backend, Dump, Metrics};
use kv_ttl::PutOptions;

use crate::RedisStoreError;
use crate::conn::{Connector, Settings, Timeouts};
use crate::names::Names;
use crate::ops::{Ops, block};
use crate::url::ConnectionUrl;

/// A connection to one Redis server or a Redis Cluster, shared by every namespace opened from it
/// (cheap to clone). See the crate docs for the URLs it takes.
#[derive(Clone)]
pub struct RedisServer {
    pub(crate) connector: Arc<Connector>,
}

impl fmt::Debug for RedisServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisServer")
            .field("url", &self.connector.redacted_url())
            .finish()
    }
}

impl RedisServer {
    /// Connects to `url`, with the timeouts its query names (`?timeout=2s`, or
    /// `?connect_timeout=..&response_timeout=..`), 5 s each by default.
    pub fn connect(url: &str) -> Result<Self, RedisStoreError> {
        Self::builder(url).connect()
    }

    /// Connects to `url`; a connection attempt or an answer that takes longer than `timeout`
    /// fails the call with [`RedisStoreError::Unavailable`].
    pub fn connect_with_timeout(url: &str, timeout: Duration) -> Result<Self, RedisStoreError> {
        Self::builder(url).timeout(timeout).connect()
    }

    /// A connection to `url` with settings beyond the URL's: see [`ServerBuilder`].
    pub fn builder(url: &str) -> ServerBuilder {
        ServerBuilder::new(url)
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

/// How to connect: the URL, and timeouts that win over the URL's (`?timeout=`,
/// `?connect_timeout=`, `?response_timeout=`) and the default ([`DEFAULT_TIMEOUT`](crate::DEFAULT_TIMEOUT), 5 s).
///
/// A call that cannot connect within the connect timeout, or gets no answer within the response
/// timeout, fails with [`RedisStoreError::Unavailable`]; the store stays usable, and its next call
/// connects again.
///
/// ```no_run
/// use std::time::Duration;
/// use kv_redis::RedisServer;
///
/// # fn main() -> Result<(), kv_redis::RedisStoreError> {
/// let server = RedisServer::builder("redis://127.0.0.1:6379")
///     .connect_timeout(Duration::from_secs(1))
///     .response_timeout(Duration::from_millis(250))
///     .connect()?;
/// // The same from the URL alone:
/// let same = RedisServer::connect("redis://127.0.0.1:6379?connect_timeout=1s&response_timeout=250ms")?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct ServerBuilder {
    url: String,
    connect_timeout: Option<Duration>,
    response_timeout: Option<Duration>,
    #[cfg(feature = "tls")]
    ca: Option<crate::tls::CaSource>,
}

impl ServerBuilder {
    pub(crate) fn new(url: &str) -> Self {
        Self {
            url: url.to_string(),
            connect_timeout: None,
            response_timeout: None,
            #[cfg(feature = "tls")]
            ca: None,
        }
    }

    /// How long to wait for a connection (TCP connect and handshake).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// How long to wait for the answer to a call.
    pub fn response_timeout(mut self, timeout: Duration) -> Self {
        self.response_timeout = Some(timeout);
        self
    }

    /// Both timeouts.
    pub fn timeout(self, timeout: Duration) -> Self {
        self.connect_timeout(timeout).response_timeout(timeout)
    }

    /// Trusts the CA certificates in `pem` (PEM text, one or more `-----BEGIN CERTIFICATE-----`
    /// blocks) for a `rediss://` server, instead of the web's public CAs built in: the way to
    /// reach a server whose certificate a private CA signed (feature `tls`). Only these CAs are
    /// trusted, and the certificate must still name the URL's host. On a `redis://` URL it is an
    /// error ([`RedisStoreError::Url`]); a PEM with no usable certificate is a
    /// [`RedisStoreError::Tls`] when connecting.
    ///
    /// ```no_run
    /// use kv_redis::RedisServer;
    ///
    /// # fn main() -> Result<(), kv_redis::RedisStoreError> {
    /// let ca = std::fs::read("/etc/redis/tls/ca.crt").expect("the CA certificate");
    /// let server = RedisServer::builder("rediss://redis.internal:6380")
    ///     .tls_ca_cert(ca)
    ///     .connect()?; // or .connect_async().await? for the async stores (feature `tokio`)
    /// // A server whose certificate another CA signed is refused:
    /// // Err(RedisStoreError::Tls { reason: "the server's certificate is not signed by a CA
    /// // this client trusts; ... (invalid peer certificate: UnknownIssuer)", .. })
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "tls")]
    pub fn tls_ca_cert(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.ca = Some(crate::tls::CaSource::Pem(pem.into()));
        self
    }

    /// Trusts the CA certificates of the PEM file at `path`, read when connecting: see
    /// [`tls_ca_cert`](Self::tls_ca_cert) (feature `tls`). A file that cannot be read is a
    /// [`RedisStoreError::Tls`] naming it.
    #[cfg(feature = "tls")]
    pub fn tls_ca_cert_file(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.ca = Some(crate::tls::CaSource::File(path.into()));
        self
    }

    /// The URL parsed, with the timeouts it ends up with and the builder's other settings.
    pub(crate) fn resolve(self) -> Result<Settings, RedisStoreError> {
        let url = ConnectionUrl::parse(&self.url)?;
        let timeouts = Timeouts::resolve(&url, self.connect_timeout, self.response_timeout);
        Ok(Settings {
            url,
            timeouts,
            #[cfg(feature = "tls")]
            ca: self.ca,
        })
    }

    /// Connects (one connection now, so a wrong address or password is reported at once), for
    /// the sync store.
    pub fn connect(self) -> Result<RedisServer, RedisStoreError> {
        Ok(RedisServer {
            connector: Arc::new(Connector::open(self.resolve()?)?),
        })
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

    pub(crate) fn ops(&self) -> Ops<'_, Connector> {
        Ops {
            exec: &self.server.connector,
            names: &self.names,
        }
    }

    /// Moves this namespace's clock forward by `by`, for every client of the namespace: entries
    /// whose deadline the new time reaches are expired from then on. The offset saturates at 100
    /// years. On the real clock this shifts it (real time still passes); see
    /// [`freeze_clock`](Self::freeze_clock) for the contract's manual clock.
    pub fn advance(&self, by: Duration) -> Result<(), RedisStoreError> {
        block(self.ops().clock(by, ""))
    }

    /// Stops this namespace's clock from following real time, for every client: from now on it
    /// moves only by [`advance`](Self::advance), like the contract's manual clock, so a test's
    /// deadlines do not depend on how long its calls took. Entries put from then on get no real
    /// expiry on the server (none can be known to come after the logical one); their memory is
    /// freed when they are reclaimed or the namespace is dropped. Meant for tests and case files;
    /// it cannot be undone (drop the namespace).
    pub fn freeze_clock(&self) -> Result<(), RedisStoreError> {
        block(self.ops().clock(Duration::ZERO, "freeze"))
    }

    /// Removes the namespace from the server: its entries, counters, capacity and clock.
    pub fn drop_namespace(&self) -> Result<(), RedisStoreError> {
        block(self.ops().clear_in_steps("drop_namespace", "drop"))
    }

    /// Gets several keys in one round trip (one script call each, pipelined; each is atomic on
    /// its own, exactly like [`get`](Backend::get)), on a cluster too: a namespace is one slot.
    pub fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, RedisStoreError> {
        block(self.ops().get_many(keys))
    }

    /// Puts several entries with the same options in one round trip (see
    /// [`get_many`](Self::get_many)). An insert that needs room for which the server answers
    /// with a plan is then repeated on its own, as [`put`](Backend::put) does.
    pub fn put_many(
        &self,
        entries: &[(String, Vec<u8>)],
        options: &PutOptions,
    ) -> Result<(), RedisStoreError> {
        block(self.ops().put_many(entries, options))
    }

    /// [`get_or_insert`](Backend::get_or_insert) in one script: the live value found, or `None`
    /// when `value` was stored (the caller has it already, so it does not travel back).
    pub(crate) fn get_or_insert_found(
        &self,
        key: &str,
        value: &[u8],
        options: &PutOptions,
    ) -> Result<Option<Vec<u8>>, RedisStoreError> {
        block(self.ops().get_or_insert_found(key, value, options))
    }
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
        block(self.ops().put(&key, &value, options))
    }

    fn get(&self, key: &String) -> Result<Option<Vec<u8>>, RedisStoreError> {
        block(self.ops().get(key))
    }

    fn has(&self, key: &String) -> Result<bool, RedisStoreError> {
        block(self.ops().has(key))
    }

    fn del(&self, key: &String) -> Result<bool, RedisStoreError> {
        block(self.ops().del(key))
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
        block(self.ops().remove(key))
    }

    /// Up to 10,000 removals (matching entries and expired ones) per script call, each call
    /// atomic; a larger job takes several calls, so a concurrent put may land between two of
    /// them and survive. Each call reads the namespace's whole LRU set to find its victims.
    fn remove_prefix(&self, prefix: &str) -> Result<usize, RedisStoreError> {
        block(self.ops().remove_prefix(prefix))
    }

    fn keys(&self) -> Result<Vec<String>, RedisStoreError> {
        Ok(self.dump()?.keys)
    }

    fn metrics(&self) -> Result<Metrics, RedisStoreError> {
        Ok(self.dump()?.metrics)
    }

    fn purge_expired(&self) -> Result<usize, RedisStoreError> {
        block(self.ops().purge_expired())
    }

    fn capacity(&self) -> Result<usize, RedisStoreError> {
        block(self.ops().capacity())
    }

    fn set_capacity(&self, capacity: usize) -> Result<(), RedisStoreError> {
        block(self.ops().set_capacity(capacity))
    }

    /// Removes every entry; a namespace of more than 10,000 entries is cleared in several
    /// atomic steps, so a concurrent put may land between two of them and survive.
    fn clear(&self) -> Result<(), RedisStoreError> {
        block(self.ops().clear_in_steps("clear", "keep"))
    }

    fn dump(&self) -> Result<Dump<String>, RedisStoreError> {
        block(self.ops().dump())
    }
}
