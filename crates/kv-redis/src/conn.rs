//! Connections: a small pool of synchronous connections (one per thread in flight), each with
//! connect, read and write timeouts, so a dead server gives the caller an error instead of a hang.
//! A connection that saw an I/O error or a timeout is dropped, never reused: the next call opens
//! a new one, which is how the store reconnects once the server is back.
// std's `Mutex`, not kv_core::sync's: it guards a pool of network connections, not store
// state, so the loom models have nothing to explore here.

use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use redis::cluster::{ClusterClient, ClusterClientBuilder, ClusterConnection};
use redis::{
    Client, Cmd, Connection, ConnectionLike, FromRedisValue, IntoConnectionInfo, RedisError,
    RedisResult,
};

use crate::RedisStoreError;
use crate::ops::{Call, Exec};
use crate::url::{ConnectionUrl, Endpoint};

/// How long to wait for a connection or an answer before giving up with an error, unless the URL
/// (`?timeout=`, `?connect_timeout=`, `?response_timeout=`) or the
/// [`ServerBuilder`](crate::ServerBuilder) says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// The connect and response timeouts of one server handle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Timeouts {
    pub connect: Duration,
    pub response: Duration,
}

impl Timeouts {
    /// The builder's choice, else the URL's, else [`DEFAULT_TIMEOUT`].
    pub(crate) fn resolve(
        url: &ConnectionUrl,
        connect: Option<Duration>,
        response: Option<Duration>,
    ) -> Self {
        Self {
            connect: connect.or(url.connect_timeout).unwrap_or(DEFAULT_TIMEOUT),
            response: response.or(url.response_timeout).unwrap_or(DEFAULT_TIMEOUT),
        }
    }
}

/// The CA certificates trusted instead of the built-in roots, if the builder gave any (feature
/// `tls`): kept with the connector, for the connections the near cache opens itself.
#[cfg(feature = "tls")]
pub(crate) type Trust = Option<redis::TlsCertificates>;
#[cfg(not(feature = "tls"))]
pub(crate) type Trust = NoTls;

/// Without the `tls` feature there is nothing to trust (not `()`: clones of it read as clones in
/// either build).
#[cfg(not(feature = "tls"))]
#[derive(Clone, Debug)]
pub(crate) struct NoTls;

/// A client of one server, trusting what `trust` says over TLS.
pub(crate) fn client(info: impl IntoConnectionInfo, trust: &Trust) -> RedisResult<Client> {
    #[cfg(feature = "tls")]
    if let Some(certs) = trust {
        return Client::build_with_tls(info, certs.clone());
    }
    #[cfg(not(feature = "tls"))]
    let NoTls = trust;
    Client::open(info)
}

/// Everything a connection needs, from the URL and the [`ServerBuilder`](crate::ServerBuilder).
pub(crate) struct Settings {
    pub url: ConnectionUrl,
    pub timeouts: Timeouts,
    /// The CA to trust instead of the built-in roots.
    #[cfg(feature = "tls")]
    pub ca: Option<crate::tls::CaSource>,
}

impl Settings {
    /// The client for these settings, not connected yet (the sync and the async stores both
    /// start from it), and the CA it trusts.
    pub(crate) fn target(&self) -> Result<(Target, Trust), RedisStoreError> {
        let url = &self.url;
        let bad_url = |reason: String| RedisStoreError::Url {
            reason,
            url: url.redacted.clone(),
        };
        #[cfg(not(feature = "tls"))]
        if url.tls {
            return Err(bad_url(
                "TLS (rediss://) needs kv-redis's `tls` feature".into(),
            ));
        }
        #[cfg(feature = "tls")]
        if url.tls {
            crate::tls::install_crypto_provider();
        }
        #[cfg(feature = "tls")]
        let trust = match &self.ca {
            Some(_) if !url.tls => {
                return Err(bad_url(
                    "a TLS CA certificate was given, but the URL is not rediss:// (or \
                     rediss+cluster://)"
                        .into(),
                ));
            }
            Some(ca) => Some(ca.certificates(url)?),
            None => None,
        };
        #[cfg(not(feature = "tls"))]
        let trust = NoTls;
        let redis_error = |e: RedisError| bad_url(url.scrub(&e.to_string()));
        match &url.endpoint {
            Endpoint::Single(u) => client(u.as_str(), &trust)
                .map(|c| (Target::Single(c), trust))
                .map_err(redis_error),
            Endpoint::Cluster(nodes) => {
                let builder = ClusterClientBuilder::new(nodes.clone())
                    .connection_timeout(self.timeouts.connect)
                    .response_timeout(self.timeouts.response)
                    .retries(2);
                #[cfg(feature = "tls")]
                let builder = match &trust {
                    Some(certs) => builder.certs(certs.clone()),
                    None => builder,
                };
                builder
                    .build()
                    .map(|c| (Target::Cluster(c), trust))
                    .map_err(redis_error)
            }
        }
    }
}

/// A client of one server or of a cluster, not connected yet.
pub(crate) enum Target {
    Single(Client),
    Cluster(ClusterClient),
}

enum Conn {
    Single(Connection),
    Cluster(Box<ClusterConnection>),
}

impl Conn {
    fn as_like(&mut self) -> &mut dyn ConnectionLike {
        match self {
            Conn::Single(c) => c,
            Conn::Cluster(c) => &mut **c,
        }
    }

    /// Sends `cmds` in one round trip. On a cluster the pipeline goes to the node of its keys'
    /// slot, which is one node when they all share a hash tag.
    fn pipeline<T: FromRedisValue>(&mut self, cmds: &[Cmd]) -> RedisResult<Vec<T>> {
        match self {
            Conn::Single(c) => {
                let mut pipe = redis::pipe();
                for cmd in cmds {
                    pipe.add_command(cmd.clone());
                }
                pipe.query(c)
            }
            Conn::Cluster(c) => {
                let mut pipe = redis::cluster::cluster_pipe();
                for cmd in cmds {
                    pipe.add_command(cmd.clone());
                }
                pipe.query(c)
            }
        }
    }
}

/// A server or cluster, and the idle connections to it.
pub(crate) struct Connector {
    url: ConnectionUrl,
    target: Target,
    trust: Trust,
    timeouts: Timeouts,
    idle: Mutex<Vec<Conn>>,
}

impl fmt::Debug for Connector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connector")
            .field("url", &self.url.redacted)
            .field("timeouts", &self.timeouts)
            .finish_non_exhaustive()
    }
}

impl Connector {
    /// Opens one connection, so a wrong address, password or certificate is reported now.
    pub(crate) fn open(settings: Settings) -> Result<Self, RedisStoreError> {
        let (target, trust) = settings.target()?;
        let connector = Self {
            url: settings.url,
            target,
            trust,
            timeouts: settings.timeouts,
            idle: Mutex::new(Vec::new()),
        };
        connector.run(|c| redis::cmd("PING").query::<()>(c))?;
        Ok(connector)
    }

    /// The URL, password hidden.
    pub(crate) fn redacted_url(&self) -> &str {
        &self.url.redacted
    }

    /// The URL as parsed (the near cache opens its own connections to the same server).
    pub(crate) fn url(&self) -> &ConnectionUrl {
        &self.url
    }

    /// The connect and response timeouts.
    pub(crate) fn timeouts(&self) -> Timeouts {
        self.timeouts
    }

    /// The CA trusted over TLS.
    pub(crate) fn trust(&self) -> &Trust {
        &self.trust
    }

    fn connect(&self) -> RedisResult<Conn> {
        match &self.target {
            Target::Single(client) => {
                let c = client.get_connection_with_timeout(self.timeouts.connect)?;
                c.set_read_timeout(Some(self.timeouts.response))?;
                c.set_write_timeout(Some(self.timeouts.response))?;
                Ok(Conn::Single(c))
            }
            Target::Cluster(client) => {
                let c = client.get_connection()?;
                c.set_read_timeout(Some(self.timeouts.response))?;
                c.set_write_timeout(Some(self.timeouts.response))?;
                Ok(Conn::Cluster(Box::new(c)))
            }
        }
    }

    /// Runs `f` on a pooled connection (a new one if none is idle). The connection goes back to
    /// the pool unless `f` failed in a way that leaves it unusable.
    pub(crate) fn run<T>(
        &self,
        f: impl FnOnce(&mut dyn ConnectionLike) -> RedisResult<T>,
    ) -> Result<T, RedisStoreError> {
        self.run_on(|c| f(c.as_like()))
    }

    fn run_on<T>(&self, f: impl FnOnce(&mut Conn) -> RedisResult<T>) -> Result<T, RedisStoreError> {
        let pooled = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let mut conn = match pooled {
            Some(c) => c,
            None => self.connect().map_err(|e| self.error(&e))?,
        };
        match f(&mut conn) {
            Ok(v) => {
                self.idle
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(conn);
                Ok(v)
            }
            Err(e) => {
                if !is_broken(&e) {
                    self.idle
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(conn);
                }
                Err(self.error(&e))
            }
        }
    }

    /// Sends the script calls `cmds` in one round trip, loading `script` first if the server
    /// does not know it.
    pub(crate) fn pipeline<T: FromRedisValue>(
        &self,
        script: &redis::Script,
        cmds: &[Cmd],
    ) -> Result<Vec<T>, RedisStoreError> {
        if cmds.is_empty() {
            return Ok(Vec::new());
        }
        self.run_on(|conn| match conn.pipeline(cmds) {
            Err(e) if is_unknown_script(&e) => {
                script.load(conn.as_like())?;
                conn.pipeline(cmds)
            }
            other => other,
        })
    }

    /// `e` as this crate's error, its message scrubbed of the password.
    pub(crate) fn error(&self, e: &RedisError) -> RedisStoreError {
        store_error(&self.url, e)
    }
}

/// `e` as this crate's error, its message scrubbed of the password of `url`.
pub(crate) fn store_error(url: &ConnectionUrl, e: &RedisError) -> RedisStoreError {
    #[cfg(feature = "tls")]
    if let Some(reason) = crate::tls::failure(e) {
        return RedisStoreError::Tls {
            url: url.redacted.clone(),
            reason: url.scrub(&reason),
        };
    }
    let reason = url.scrub(&e.to_string());
    let url = url.redacted.clone();
    if e.kind() == redis::ErrorKind::AuthenticationFailed {
        RedisStoreError::Server { url, reason }
    } else if is_broken(e) || e.is_connection_refusal() {
        RedisStoreError::Unavailable { url, reason }
    } else {
        RedisStoreError::Server { url, reason }
    }
}

/// Whether `e` says that the server does not know a script (it restarted, or someone ran `SCRIPT
/// FLUSH`). redis-rs's `Script::invoke` loads the script and retries by itself, but a pipeline
/// of `EVALSHA` calls fails whole: the sync and the async pipelines then load it and send again.
pub(crate) fn is_unknown_script(e: &RedisError) -> bool {
    e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript)
}

/// Whether the connection that gave `e` must be dropped.
pub(crate) fn is_broken(e: &RedisError) -> bool {
    e.is_io_error() || e.is_timeout() || e.is_connection_dropped() || e.is_unrecoverable_error()
}

/// The pool's calls block until they are done, so its futures are ready when returned.
impl Exec for Connector {
    fn eval(
        &self,
        call: &Call,
    ) -> impl Future<Output = Result<redis::Value, RedisStoreError>> + Send {
        std::future::ready(self.run(|c| call.invocation().invoke(c)))
    }

    fn query(
        &self,
        cmd: &Cmd,
    ) -> impl Future<Output = Result<redis::Value, RedisStoreError>> + Send {
        std::future::ready(self.run(|c| cmd.query(c)))
    }

    fn pipeline(
        &self,
        script: &'static redis::Script,
        calls: &[Call],
    ) -> impl Future<Output = Result<Vec<redis::Value>, RedisStoreError>> + Send {
        let cmds: Vec<Cmd> = calls.iter().map(Call::evalsha).collect();
        std::future::ready(Connector::pipeline(self, script, &cmds))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(url: &str) -> Settings {
        let url = ConnectionUrl::parse(url).expect("a valid URL");
        Settings {
            timeouts: Timeouts::resolve(&url, None, None),
            url,
            #[cfg(feature = "tls")]
            ca: None,
        }
    }

    /// Told by the parsed scheme, before anything connects; `cargo xtask test` runs this in a
    /// build without the feature.
    #[cfg(not(feature = "tls"))]
    #[test]
    fn a_rediss_url_without_the_tls_feature_is_a_url_error_that_names_the_feature() {
        for url in ["rediss://u:pw-X9@h:1", "rediss+cluster://u:pw-X9@h:1,h:2"] {
            let err = settings(url).target().err().expect(url);
            assert!(matches!(err, RedisStoreError::Url { .. }), "{err:?}");
            assert!(err.to_string().contains("`tls` feature"), "{err}");
            assert!(!format!("{err} {err:?}").contains("pw-X9"), "{err:?}");
        }
        assert!(settings("redis://u:pw-X9@h:1").target().is_ok());
    }

    #[cfg(feature = "tls")]
    #[test]
    fn a_rediss_url_with_the_tls_feature_makes_a_client() {
        for url in ["rediss://u:pw-X9@h:1", "rediss+cluster://u:pw-X9@h:1,h:2"] {
            assert!(settings(url).target().is_ok(), "{url}");
        }
        // Ready for a handshake whatever other providers the program compiles in.
        assert!(rustls::crypto::CryptoProvider::get_default().is_some());
    }
}
