//! Key names on the server, readable by an operator: namespace `auth/tokens` is
//! `kv:{auth/tokens}:m` (counters), `:lru`, `:exp`, and entry `tok-1` is
//! `kv:{auth/tokens}:e:tok-1`. Names and keys are written as they are, except for the bytes
//! that must be escaped as `%XX` (upper-case hex): `%` itself, the hash-tag braces `{` `}`, and
//! every byte that is not printable ASCII (controls, space, DEL, and the bytes of non-ASCII
//! characters).
//!
//! Why that is enough for no name or key to reach another namespace's keys: the namespace is
//! the hash tag, which ends at the first `}`, and no escaped name contains one, so a key names
//! exactly one namespace; after the tag, the bookkeeping keys (`m`, `lru`, `exp`) and the entry
//! keys (`e:` then the key, to the end) cannot be confused, so the separator `:` needs no escape
//! (a key `user:42` stays `user:42`). Escaping is byte by byte and no escape is a prefix of
//! another, so a key starts with a prefix exactly when its escaped form starts with the prefix's
//! (what `remove_prefix` relies on). The empty name's tag is `{%}`, as Redis ignores an empty
//! `{}` (a lone `%` is no escape of any name).

/// The server-side names of one namespace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Names {
    /// The counters, capacity, use counter and clock offset (a hash).
    pub meta: String,
    /// Every stored entry scored by its last use (a sorted set).
    pub lru: String,
    /// Every entry with a deadline scored by it (a sorted set).
    pub deadlines: String,
    /// What an entry's key starts with; the escaped key follows.
    pub entry_prefix: String,
}

impl Names {
    pub(crate) fn new(namespace: &str) -> Self {
        let tag = if namespace.is_empty() {
            "%".to_string()
        } else {
            escape(namespace.as_bytes())
        };
        let base = format!("kv:{{{tag}}}:");
        Self {
            meta: format!("{base}m"),
            lru: format!("{base}lru"),
            deadlines: format!("{base}exp"),
            entry_prefix: format!("{base}e:"),
        }
    }

    /// The key of the entry whose member is `member`.
    pub(crate) fn entry(&self, member: &str) -> String {
        format!("{}{member}", self.entry_prefix)
    }
}

/// The member that stands for `key` in the namespace's sorted sets (and ends its entry's key).
pub(crate) fn member(key: &str) -> String {
    escape(key.as_bytes())
}

/// The key a member stands for, or `None` if it is not one this crate wrote.
pub(crate) fn key_of(member: &[u8]) -> Option<String> {
    unescape(member).and_then(|b| String::from_utf8(b).ok())
}

/// Whether `b` is written as it is.
fn plain(b: u8) -> bool {
    b.is_ascii_graphic() && !matches!(b, b'%' | b'{' | b'}')
}

/// `bytes` with every byte that is not [`plain`] written `%XX`.
pub(crate) fn escape(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    let mut s = String::with_capacity(bytes.len());
    for &b in bytes {
        if plain(b) {
            s.push(char::from(b));
        } else {
            s.push('%');
            s.push(char::from(DIGITS[usize::from(b >> 4)]));
            s.push(char::from(DIGITS[usize::from(b & 0xf)]));
        }
    }
    s
}

/// The bytes `escape` wrote `s` from, or `None` if `escape` writes no such text.
fn unescape(s: &[u8]) -> Option<Vec<u8>> {
    fn digit(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'%' => {
                let b = digit(*s.get(i + 1)?)? << 4 | digit(*s.get(i + 2)?)?;
                if plain(b) {
                    return None; // escape never writes a plain byte escaped
                }
                out.push(b);
                i += 3;
            }
            b if plain(b) => {
                out.push(b);
                i += 1;
            }
            _ => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_keys_read_as_they_are_and_only_what_must_be_is_escaped() {
        let n = Names::new("auth/tokens");
        assert_eq!(n.meta, "kv:{auth/tokens}:m");
        assert_eq!(n.lru, "kv:{auth/tokens}:lru");
        assert_eq!(n.deadlines, "kv:{auth/tokens}:exp");
        assert_eq!(n.entry(&member("user:42")), "kv:{auth/tokens}:e:user:42");
        assert_eq!(Names::new("").meta, "kv:{%}:m");
        assert_eq!(
            escape("a}{b%c d\n\u{e9}\u{7f}".as_bytes()),
            "a%7D%7Bb%25c%20d%0A%C3%A9%7F"
        );
    }

    #[test]
    fn escaping_round_trips_and_rejects_text_it_never_writes() {
        for raw in ["", "a}{:\n\u{e9}", "%", "%25", "{x}", "\u{0}\u{7f} ~!"] {
            assert_eq!(
                key_of(member(raw).as_bytes()).as_deref(),
                Some(raw),
                "{raw:?}"
            );
        }
        for foreign in [
            &b"%"[..],
            b"%2",
            b"%zz",
            b"%41",
            b"%7d",
            b"a b",
            b"{",
            b"\xff",
            b"%FF",
        ] {
            assert_eq!(key_of(foreign), None, "{foreign:?}");
        }
    }

    #[test]
    fn every_name_of_a_namespace_has_the_same_non_empty_tag() {
        for ns in ["", "a", "}", "{x}", "a:b\nc", "%", "}:e:6b"] {
            let n = Names::new(ns);
            let tag = |k: &str| k[k.find('{').unwrap()..=k.find('}').unwrap()].to_string();
            let t = tag(&n.meta);
            assert!(t.len() > 2, "{t}");
            for k in [&n.lru, &n.deadlines, &n.entry(&member("}{"))] {
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

    #[test]
    fn a_key_starts_with_a_prefix_exactly_when_its_member_does() {
        let words = [
            "", "a", "%", "%2", "a%", "}", "a}", "\u{e9}", "\u{e9}x", "ab", " ",
        ];
        for k in words {
            for p in words {
                assert_eq!(
                    member(k).starts_with(&member(p)),
                    k.starts_with(p),
                    "key {k:?} prefix {p:?}"
                );
            }
        }
    }
}
