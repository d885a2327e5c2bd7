//! The status page's GET parameters (`?q=…&offset=…`): the search text and where the
//! jobs table starts, parsed without a framework extractor; the links that carry them;
//! the search match; and the shell quoting of the commands the page shows to copy.

/// The longest search text accepted.
pub(crate) const MAX_QUERY_CHARS: usize = 200;

/// What a page load asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub(crate) struct PageQuery {
    /// The search text, trimmed; empty: no search.
    pub(crate) q: String,
    /// The position in the schedule (0: the first job due) where the jobs table starts,
    /// or, for a search, where the search starts reading.
    pub(crate) offset: u64,
}

impl PageQuery {
    /// Parses a request's query string; `Err`: a message for a `400`.
    pub(crate) fn parse(raw: Option<&str>) -> Result<Self, String> {
        let mut out = Self::default();
        for pair in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            match decode(name).as_str() {
                "q" => {
                    let q = decode(value);
                    if q.chars().count() > MAX_QUERY_CHARS {
                        return Err(format!(
                            "the search text is longer than {MAX_QUERY_CHARS} characters"
                        ));
                    }
                    out.q = q.trim().to_owned();
                }
                "offset" => {
                    let text = decode(value);
                    out.offset = if text.is_empty() {
                        0
                    } else {
                        text.parse().map_err(|_| {
                            "offset must be a whole number from 0 up (a position in the schedule)"
                                .to_owned()
                        })?
                    };
                }
                // Other parameters (a cache buster, say) change nothing.
                _ => {}
            }
        }
        Ok(out)
    }

    pub(crate) fn is_search(&self) -> bool {
        !self.q.is_empty()
    }

    /// The page's address for the same search from `offset` (not yet HTML-escaped).
    pub(crate) fn at(&self, offset: u64) -> String {
        let mut parts = Vec::new();
        if self.is_search() {
            parts.push(format!("q={}", encode(&self.q)));
        }
        if offset > 0 {
            parts.push(format!("offset={offset}"));
        }
        if parts.is_empty() {
            "/".to_owned()
        } else {
            format!("/?{}", parts.join("&"))
        }
    }

    /// The search text, lower-cased once for [`Needle::matches`].
    pub(crate) fn needle(&self) -> Needle {
        Needle(self.q.to_lowercase())
    }
}

/// A case-insensitive substring to look for.
#[derive(Debug, Clone)]
pub(crate) struct Needle(String);

impl Needle {
    /// Whether any of `fields` holds the needle, ignoring case.
    pub(crate) fn matches<'a>(&self, fields: impl IntoIterator<Item = Option<&'a str>>) -> bool {
        fields
            .into_iter()
            .flatten()
            .any(|f| f.to_lowercase().contains(&self.0))
    }
}

/// `application/x-www-form-urlencoded` decoding: `+` is a space, `%XX` a byte; bytes
/// that are not UTF-8 become U+FFFD.
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                if let Some(b) = hex {
                    out.push(b);
                    i += 2;
                } else {
                    out.push(b'%');
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Percent-encodes everything but the unreserved characters.
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `text` as one shell word: as it is when it holds only characters no shell treats
/// specially, else in single quotes (a quote inside written `'\''`).
pub(crate) fn shell_word(text: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./:@%+=,".contains(c);
    if !text.is_empty() && text.chars().all(plain) {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_parse_and_links_carry_them() {
        let q = PageQuery::parse(Some("q=report+%C3%A9t%C3%A9%26x&offset=50&x=1")).unwrap();
        assert_eq!(q.q, "report été&x");
        assert_eq!(q.offset, 50);
        assert_eq!(q.at(100), "/?q=report%20%C3%A9t%C3%A9%26x&offset=100");
        assert_eq!(
            PageQuery::parse(Some(&q.at(100)[2..])).unwrap(),
            PageQuery {
                q: "report été&x".into(),
                offset: 100
            }
        );
        assert_eq!(PageQuery::parse(None).unwrap(), PageQuery::default());
        assert_eq!(PageQuery::parse(Some("q=&offset=")).unwrap().at(0), "/");
        assert_eq!(PageQuery::parse(Some("q=%2")).unwrap().q, "%2");
        assert!(PageQuery::parse(Some("offset=-1")).is_err());
        assert!(PageQuery::parse(Some("offset=ten")).is_err());
        let long = format!("q={}", "a".repeat(MAX_QUERY_CHARS + 1));
        assert!(
            PageQuery::parse(Some(&long))
                .unwrap_err()
                .contains("longer")
        );
    }

    #[test]
    fn the_search_ignores_case_and_absent_fields() {
        let needle = PageQuery::parse(Some("q=Report")).unwrap().needle();
        assert!(needle.matches([None, Some("jobs.daily_REPORT")]));
        assert!(!needle.matches([None, Some("jobs.add"), Some("default")]));
    }

    #[test]
    fn ids_are_quoted_for_the_shell() {
        assert_eq!(shell_word("every-10-min"), "every-10-min");
        assert_eq!(shell_word("a b"), "'a b'");
        assert_eq!(shell_word("it's"), r"'it'\''s'");
        assert_eq!(shell_word("$(rm -rf /)"), "'$(rm -rf /)'");
        assert_eq!(shell_word(""), "''");
        assert_eq!(shell_word("x\\xffy"), r"'x\xffy'");
    }
}
