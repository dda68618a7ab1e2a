//! Connection URLs: which server(s), and the same URL with its password hidden for every message
//! this crate prints.
//!
//! `redis://`, `rediss://` (TLS), `redis+unix://` and `unix://` go to redis-rs as they are; a
//! cluster is `redis+cluster://[user:pass@]host:port,host:port,...` (`rediss+cluster://` for TLS),
//! each node reached with the same credentials.

use std::time::Duration;

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
    /// Whether the scheme asks for TLS (`rediss://`, `rediss+cluster://`).
    pub tls: bool,
    /// The URL as given, password replaced by `***`: the only form that is ever printed.
    pub redacted: String,
    /// The password as written and as decoded, to scrub from messages of the client library.
    secrets: Vec<String>,
    /// `connect_timeout=` (or `timeout=`) from the query, if given.
    pub connect_timeout: Option<Duration>,
    /// `response_timeout=` (or `timeout=`) from the query, if given.
    pub response_timeout: Option<Duration>,
}

/// `2s`, `500ms`, or a whole number of milliseconds.
fn parse_duration(text: &str) -> Option<Duration> {
    let (digits, unit) = match text.strip_suffix("ms") {
        Some(d) => (d, 1),
        None => match text.strip_suffix('s') {
            Some(d) => (d, 1000),
            None => (text, 1),
        },
    };
    let n: u64 = digits.parse().ok()?;
    let ms = n.checked_mul(unit)?;
    (ms > 0).then(|| Duration::from_millis(ms))
}

/// Takes this crate's parameters (`timeout`, `connect_timeout`, `response_timeout`) out of the
/// query of `url`, leaving the others for redis-rs. Returns the URL without them and the connect
/// and response timeouts (a specific parameter wins over `timeout`).
#[allow(clippy::type_complexity)]
fn take_timeouts(url: &str) -> Result<(String, Option<Duration>, Option<Duration>), String> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_string(), None, None));
    };
    let [mut both, mut connect, mut response] = [None; 3];
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let slot = match name {
            "timeout" => &mut both,
            "connect_timeout" => &mut connect,
            "response_timeout" => &mut response,
            _ => {
                kept.push(pair);
                continue;
            }
        };
        *slot = Some(parse_duration(value).ok_or_else(|| {
            format!("`{name}={value}` is not a positive duration (write e.g. `2s` or `500ms`)")
        })?);
    }
    let url = if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((url, connect.or(both), response.or(both)))
}

impl ConnectionUrl {
    pub(crate) fn parse(url: &str) -> Result<Self, RedisStoreError> {
        let (url, connect_timeout, response_timeout) =
            take_timeouts(url).map_err(|reason| RedisStoreError::Url {
                url: redact_loosely(url.split('?').next().unwrap_or("")),
                reason,
            })?;
        let url = url.as_str();
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
            tls: matches!(scheme, "rediss" | "rediss+cluster"),
            redacted,
            secrets,
            connect_timeout,
            response_timeout,
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
    fn timeouts_come_out_of_the_query_and_other_parameters_stay() {
        let u = ConnectionUrl::parse("redis://h:1/2?timeout=2s&protocol=resp3").unwrap();
        assert_eq!(u.connect_timeout, Some(Duration::from_secs(2)));
        assert_eq!(u.response_timeout, Some(Duration::from_secs(2)));
        assert!(u.endpoint == Endpoint::Single("redis://h:1/2?protocol=resp3".into()));
        let u = ConnectionUrl::parse("redis://h:1?response_timeout=250ms&timeout=3s").unwrap();
        assert_eq!(u.connect_timeout, Some(Duration::from_secs(3)));
        assert_eq!(u.response_timeout, Some(Duration::from_millis(250)));
        assert!(u.endpoint == Endpoint::Single("redis://h:1".into()));
        let u = ConnectionUrl::parse("redis+cluster://a:1,b:2?connect_timeout=700").unwrap();
        assert_eq!(u.connect_timeout, Some(Duration::from_millis(700)));
        assert_eq!(u.response_timeout, None);
        assert!(u.endpoint == Endpoint::Cluster(vec!["redis://a:1".into(), "redis://b:2".into()]));
        assert_eq!(
            ConnectionUrl::parse("redis://h:1").unwrap().connect_timeout,
            None
        );
        for bad in [
            "timeout=",
            "timeout=0s",
            "timeout=soon",
            "connect_timeout=-1",
        ] {
            let e = ConnectionUrl::parse(&format!("redis://u:pw-X9@h:1?{bad}"))
                .err()
                .expect(bad);
            assert!(matches!(e, RedisStoreError::Url { .. }), "{e:?}");
            assert!(e.to_string().contains("duration"), "{e}");
            assert!(!format!("{e} {e:?}").contains("pw-X9"), "{e:?}");
        }
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
