//! What can go wrong talking to Redis. No variant ever holds a password: connection URLs are
//! redacted before they are stored, and server or client messages are scrubbed of the password
//! before they are kept.

use std::fmt;

/// An error of the Redis backend.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RedisStoreError {
    /// The connection URL cannot be used (its text is redacted).
    Url {
        /// The URL, password replaced by `***`.
        url: String,
        /// Why.
        reason: String,
    },
    /// The server could not be reached, the connection dropped, or it did not answer in time.
    /// The next call connects again.
    Unavailable {
        /// The server (redacted URL).
        url: String,
        /// What the client saw.
        reason: String,
    },
    /// The server answered with an error (a wrong password, a Lua error, a cluster failure).
    Server {
        /// The server (redacted URL).
        url: String,
        /// The server's message.
        reason: String,
    },
    /// A `rediss://` connection failed its TLS handshake (the server's certificate is not trusted
    /// or does not name the host, the port does not speak TLS), or the CA certificate given to
    /// the builder cannot be used (feature `tls`). Retrying does not help: the configuration does.
    Tls {
        /// The server (redacted URL).
        url: String,
        /// What failed, and what to do about it.
        reason: String,
    },
    /// An operation that removes several entries kept finding a different set of victims because
    /// other clients changed the namespace meanwhile; it changed nothing. Retry it.
    Contention {
        /// The operation.
        operation: &'static str,
    },
    /// The server held something this crate did not write there (another program's key of the
    /// same name), or a typed value that does not decode as the type asked for.
    Decode {
        /// What was wrong.
        reason: String,
    },
}

impl fmt::Display for RedisStoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Url { url, reason } => write!(
                f,
                "cannot use the Redis URL `{url}`: {reason} (expected redis://[user:pass@]host:port[/db], \
                 rediss://..., or redis+cluster://host:port,host:port,...)"
            ),
            Self::Unavailable { url, reason } => write!(
                f,
                "Redis at {url} is unavailable: {reason} (check that the server runs; the next call reconnects)"
            ),
            Self::Server { url, reason } => {
                write!(f, "Redis at {url} answered with an error: {reason}")
            }
            Self::Tls { url, reason } => {
                write!(f, "TLS with Redis at {url} failed: {reason}")
            }
            Self::Contention { operation } => write!(
                f,
                "{operation} changed nothing: other clients kept changing the namespace's entries; retry it"
            ),
            Self::Decode { reason } => write!(f, "unexpected data in Redis: {reason}"),
        }
    }
}

impl std::error::Error for RedisStoreError {}
