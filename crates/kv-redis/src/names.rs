//! Key names on the server. A namespace's keys share one hash tag, `{n<hex of the name>}`, so a
//! namespace lives in one Cluster slot; names and keys are hex-encoded, so no namespace name or
//! key (`}`, `{`, `:`, newlines, a prefix of another name) can reach another namespace's keys.
//! The `n` keeps the tag non-empty for the empty name (Redis ignores an empty `{}`).

/// The server-side names of one namespace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Names {
    /// The counters, capacity, use counter and clock offset (a hash).
    pub meta: String,
    /// Every stored entry scored by its last use (a sorted set).
    pub lru: String,
    /// Every entry with a deadline scored by it (a sorted set).
    pub deadlines: String,
    /// What an entry's key starts with; the encoded key follows.
    pub entry_prefix: String,
}

impl Names {
    pub(crate) fn new(namespace: &str) -> Self {
        let base = format!("kv:{{n{}}}:", hex(namespace.as_bytes()));
        Self {
            meta: format!("{base}m"),
            lru: format!("{base}lru"),
            deadlines: format!("{base}exp"),
            entry_prefix: format!("{base}e:"),
        }
    }

    /// The key of the entry whose encoded key is `member`.
    pub(crate) fn entry(&self, member: &str) -> String {
        format!("{}{member}", self.entry_prefix)
    }
}

/// The member that stands for `key` in the namespace's sorted sets (and ends its entry's key).
pub(crate) fn member(key: &str) -> String {
    hex(key.as_bytes())
}

/// The key a member stands for, or `None` if it is not one this crate wrote.
pub(crate) fn key_of(member: &[u8]) -> Option<String> {
    unhex(member).and_then(|b| String::from_utf8(b).ok())
}

/// Lower-case hex of `bytes`: what the LRU and deadline sets hold for a key.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    s
}

/// The bytes of a hex member, or `None` if it is not one (a member this crate did not write).
pub(crate) fn unhex(s: &[u8]) -> Option<Vec<u8>> {
    fn digit(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        }
    }
    if s.len() % 2 != 0 {
        return None;
    }
    s.chunks(2)
        .map(|p| Some(digit(p[0])? << 4 | digit(p[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_rejects_foreign_text() {
        let raw = "a}{:\n\u{e9}";
        assert_eq!(
            unhex(hex(raw.as_bytes()).as_bytes()).unwrap(),
            raw.as_bytes()
        );
        assert_eq!(unhex(b"zz"), None);
        assert_eq!(unhex(b"abc"), None);
    }

    #[test]
    fn every_name_of_a_namespace_has_the_same_non_empty_tag() {
        for ns in ["", "a", "}", "{x}", "a:b\nc"] {
            let n = Names::new(ns);
            let tag = |k: &str| k[k.find('{').unwrap()..=k.find('}').unwrap()].to_string();
            let t = tag(&n.meta);
            assert!(t.len() > 2, "{t}");
            for k in [&n.lru, &n.deadlines, &n.entry("00")] {
                assert_eq!(tag(k), t);
            }
        }
    }

    #[test]
    fn a_name_that_prefixes_another_gets_disjoint_keys() {
        let (a, b) = (Names::new("ab"), Names::new("abc"));
        assert!(!b.entry_prefix.starts_with(&a.entry_prefix));
        assert!(!a.entry_prefix.starts_with(&b.entry_prefix));
    }
}
