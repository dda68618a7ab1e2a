//! Connection URLs: which server(s), and the same URL with its password hidden for every message
//! this crate prints.
//!
//! `redis://`, `rediss://` (TLS), `redis+unix://` and `unix://` go to redis-rs as they are; a
//! cluster is `redis+cluster://[user:pass@]host:port,host:port,...` (`rediss+cluster://` for TLS),
//! each node reached with the same credentials.

use crate::RedisStoreError;

/// Where to connect.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Endpoint {
    /// One server, its redis-rs URL.
    Single(String),
    /// A cluster's seed nodes, one redis-rs URL each.
    Cluster(Vec<String>),
}

/// A parsed connection URL.
#[derive(Clone)]
pub(crate) struct ConnectionUrl {
    pub endpoint: Endpoint,
    /// The URL as given, password replaced by `***`: the only form that is ever printed.
    pub redacted: String,
    /// The password as written and as decoded, to scrub from messages of the client library.
    secrets: Vec<String>,
}

impl ConnectionUrl {
    pub(crate) fn parse(url: &str) -> Result<Self, RedisStoreError> {
        let (scheme, rest) = url.split_once("://").ok_or_else(|| RedisStoreError::Url {
            url: redact_loosely(url),
            reason: "no scheme".into(),
        })?;
        // The user information ends at the last `@` before the path.
        let authority_end = rest.find('/').unwrap_or(rest.len());
        let (userinfo, hosts) = match rest[..authority_end].rfind('@') {
            Some(at) => (Some(&rest[..at]), &rest[at + 1..]),
            None => (None, rest),
        };
        let mut secrets = Vec::new();
        let redacted_userinfo = userinfo.map(|u| match u.split_once(':') {
            Some((user, pass)) => {
                if !pass.is_empty() {
                    secrets.push(pass.to_string());
                    let decoded = percent_decode(pass);
                    if decoded != pass {
                        secrets.push(decoded);
                    }
                }
                format!("{user}:***@")
            }
            None => format!("{u}@"),
        });
        let redacted = format!(
            "{scheme}://{}{hosts}",
            redacted_userinfo.as_deref().unwrap_or("")
        );
        let bad = |reason: &str| RedisStoreError::Url {
            url: redacted.clone(),
            reason: reason.into(),
        };
        let endpoint = match scheme {
            "redis" | "rediss" | "redis+unix" | "unix" => Endpoint::Single(url.to_string()),
            "redis+cluster" | "rediss+cluster" => {
                let node_scheme = scheme.trim_end_matches("+cluster");
                let prefix = userinfo.map(|u| format!("{u}@")).unwrap_or_default();
                if hosts.contains('/') {
                    return Err(bad("a cluster URL names no database"));
                }
                let nodes: Vec<String> = hosts
                    .split(',')
                    .map(str::trim)
                    .filter(|h| !h.is_empty())
                    .map(|h| format!("{node_scheme}://{prefix}{h}"))
                    .collect();
                if nodes.is_empty() {
                    return Err(bad("no cluster node given"));
                }
                Endpoint::Cluster(nodes)
            }
            _ => return Err(bad("unknown scheme")),
        };
        Ok(Self {
            endpoint,
            redacted,
            secrets,
        })
    }

    /// `message` with every occurrence of the password replaced by `***`.
    pub(crate) fn scrub(&self, message: &str) -> String {
        let mut out = message.to_string();
        for s in &self.secrets {
            out = out.replace(s.as_str(), "***");
        }
        out
    }
}

/// For a URL too broken to parse: everything up to its last `@` is hidden.
fn redact_loosely(url: &str) -> String {
    match url.rfind('@') {
        Some(at) => format!("***{}", &url[at..]),
        None => url.to_string(),
    }
}

fn hex_digit(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex_digit(b[i + 1]), hex_digit(b[i + 2])) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_is_redacted_and_the_user_kept() {
        let u = ConnectionUrl::parse("redis://alice:s3cr%40t@127.0.0.1:6379/2").unwrap();
        assert_eq!(u.redacted, "redis://alice:***@127.0.0.1:6379/2");
        assert_eq!(u.scrub("bad s3cr@t and s3cr%40t"), "bad *** and ***");
        assert!(u.endpoint == Endpoint::Single("redis://alice:s3cr%40t@127.0.0.1:6379/2".into()));
    }

    #[test]
    fn a_cluster_url_names_every_node_with_the_credentials() {
        let u = ConnectionUrl::parse("redis+cluster://:pw@h1:1, h2:2").unwrap();
        assert_eq!(u.redacted, "redis+cluster://:***@h1:1, h2:2");
        assert!(
            u.endpoint
                == Endpoint::Cluster(vec!["redis://:pw@h1:1".into(), "redis://:pw@h2:2".into()])
        );
    }

    #[test]
    fn bad_urls_are_errors_that_hide_the_password() {
        for url in [
            "nope",
            "ftp://u:hunter2@h",
            "redis+cluster://u:hunter2@",
            "x:hunter2@h",
        ] {
            let e = ConnectionUrl::parse(url).err().expect(url);
            assert!(!format!("{e} {e:?}").contains("hunter2"), "{e:?}");
        }
    }
}
