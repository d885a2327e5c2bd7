//! The pauses in force, as the status page's banner shows them: read from
//! `rq:rqs:paused` (field: a queue, or `*` for every queue; value: the Unix time the pause
//! ends, or empty for none) and the operators' notes in `rq:rqs:paused:notes` (JSON
//! `{"reason", "by", "at", "until"}`). A pause whose end has passed is over.

use rqs_core::keys;

/// What a pause covers.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Scope {
    All,
    /// A queue, as read (escaped); `cut` when its name was too long to read whole.
    Queue {
        name: String,
        cut: bool,
    },
}

/// When a pause ends.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Until {
    /// At `rqs resume`.
    Resumed,
    At(f64),
    /// Not a Unix time: the raw value (escaped), or its size when too large to read.
    Unreadable(String),
}

/// What the operator said when pausing.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Note {
    pub(crate) reason: Option<String>,
    pub(crate) by: Option<String>,
    pub(crate) at: Option<f64>,
}

/// One pause, with its note when there is one.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Pause {
    pub(crate) scope: Scope,
    pub(crate) until: Until,
    /// `None`: no note; `Err`: a note that cannot be read, and why.
    pub(crate) note: Option<Result<Note, String>>,
}

/// The pauses read for the page.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Pauses {
    /// Fields in `rq:rqs:paused`, over ones included.
    pub(crate) total: u64,
    /// Those read (at most the page's bound), `*` first.
    pub(crate) read: Vec<Pause>,
}

impl Pauses {
    /// The pauses in force at `now`.
    pub(crate) fn in_force(&self, now: f64) -> impl Iterator<Item = &Pause> {
        self.read
            .iter()
            .filter(move |p| !matches!(p.until, Until::At(end) if end <= now))
    }
}

impl Pause {
    /// From one row of the page's read: the field, its length, its value, its note.
    pub(crate) fn new(
        field: &[u8],
        field_len: u64,
        value: Result<Option<&[u8]>, u64>,
        note: Result<Option<&[u8]>, u64>,
    ) -> Self {
        let scope = if field == keys::PAUSE_ALL.as_bytes() {
            Scope::All
        } else {
            Scope::Queue {
                name: rqs_core::escaped(field),
                cut: field_len > field.len() as u64,
            }
        };
        let until = match value {
            Ok(None) | Ok(Some(b"")) => Until::Resumed,
            Ok(Some(v)) => match std::str::from_utf8(v)
                .ok()
                .and_then(|t| t.trim().parse::<f64>().ok())
            {
                Some(t) if t.is_finite() => Until::At(t),
                _ => Until::Unreadable(rqs_core::escaped(v)),
            },
            Err(size) => Until::Unreadable(format!("a value of {size} bytes")),
        };
        let note = match note {
            Ok(None) => None,
            Ok(Some(raw)) => Some(parse_note(raw)),
            Err(size) => Some(Err(format!("a note of {size} bytes, not read"))),
        };
        Self { scope, until, note }
    }

    /// The command that ends this pause.
    pub(crate) fn resume_command(&self) -> String {
        match &self.scope {
            Scope::All => "rqs resume".to_owned(),
            Scope::Queue { name, .. } => {
                format!("rqs resume --queue {}", crate::page_query::shell_word(name))
            }
        }
    }
}

fn parse_note(raw: &[u8]) -> Result<Note, String> {
    let value: serde_json::Value =
        serde_json::from_slice(raw).map_err(|e| format!("not JSON: {e}"))?;
    let object = value.as_object().ok_or("not a JSON object")?;
    let text = |k: &str| object.get(k).and_then(|v| v.as_str()).map(str::to_owned);
    Ok(Note {
        reason: text("reason").filter(|r| !r.is_empty()),
        by: text("by").filter(|b| !b.is_empty()),
        at: object.get("at").and_then(serde_json::Value::as_f64),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_are_read_leniently_and_ended_ones_left_out() {
        let all = Pause::new(
            b"*",
            1,
            Ok(Some(b"")),
            Ok(Some(
                br#"{"reason":"deploy","by":"ana","at":1800000000.5,"until":null}"#,
            )),
        );
        assert_eq!(all.scope, Scope::All);
        assert_eq!(all.until, Until::Resumed);
        assert_eq!(
            all.note,
            Some(Ok(Note {
                reason: Some("deploy".into()),
                by: Some("ana".into()),
                at: Some(1_800_000_000.5)
            }))
        );
        assert_eq!(all.resume_command(), "rqs resume");
        let q = Pause::new(b"it's", 4, Ok(Some(b"1800000100")), Ok(None));
        assert_eq!(q.until, Until::At(1_800_000_100.0));
        assert_eq!(q.note, None);
        assert_eq!(q.resume_command(), r"rqs resume --queue 'it'\''s'");
        let odd = Pause::new(b"q", 1, Ok(Some(b"soon")), Ok(Some(b"[1]")));
        assert_eq!(odd.until, Until::Unreadable("soon".into()));
        assert!(matches!(odd.note, Some(Err(_))));
        let pauses = Pauses {
            total: 3,
            read: vec![all, q, odd],
        };
        assert_eq!(pauses.in_force(1_800_000_050.0).count(), 3);
        // The queue's pause ended at 1800000100: over.
        assert_eq!(pauses.in_force(1_800_000_100.0).count(), 2);
    }
}
