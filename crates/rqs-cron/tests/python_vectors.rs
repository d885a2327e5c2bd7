//! Every vector recorded from Python's crontab 1.0.5 by `tests/fixtures/gen_vectors.py`
//! must be reproduced exactly: same acceptance, same next time (or None).

use chrono::NaiveDateTime;
use rqs_cron::CronExpr;
use serde_json::Value;

const FIXTURE: &str = include_str!("fixtures/python_vectors.jsonl");

fn parse_instant(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
        .unwrap_or_else(|e| panic!("bad instant {s:?} in fixture: {e}"))
}

fn header_count(header: &Value, key: &str) -> usize {
    header[key]
        .as_u64()
        .unwrap_or_else(|| panic!("fixture header lacks {key}")) as usize
}

#[test]
fn python_vectors_match_exactly() {
    let mut lines = FIXTURE.lines();
    let header: Value = serde_json::from_str(lines.next().expect("empty fixture")).unwrap();

    let mut valid_exprs = 0usize;
    let mut valid_pairs = 0usize;
    let mut none_results = 0usize;
    let mut invalid = 0usize;
    let mut mismatches: Vec<String> = Vec::new();

    for (lineno, line) in lines.enumerate() {
        let row: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("fixture line {}: {e}", lineno + 2));
        let kind = row[0].as_str().expect("kind");
        let expr = row[1].as_str().expect("expression");
        match kind {
            "x" => {
                invalid += 1;
                if let Ok(parsed) = CronExpr::parse(expr) {
                    mismatches.push(format!(
                        "{expr:?}: Python rejects it, we accepted it as {parsed:?}"
                    ));
                }
            }
            "v" => {
                valid_exprs += 1;
                let parsed = match CronExpr::parse(expr) {
                    Ok(p) => Some(p),
                    Err(e) => {
                        mismatches.push(format!("{expr:?}: Python accepts it, we rejected: {e}"));
                        None
                    }
                };
                for pair in row[2].as_array().expect("pairs") {
                    valid_pairs += 1;
                    let now = parse_instant(pair[0].as_str().expect("now"));
                    let want = pair[1].as_str().map(parse_instant);
                    if want.is_none() {
                        none_results += 1;
                    }
                    if let Some(p) = &parsed {
                        let got = p.next_after(now);
                        if got != want {
                            mismatches
                                .push(format!("{expr:?} now={now}: Python {want:?}, we {got:?}"));
                        }
                    }
                }
            }
            other => panic!("unknown row kind {other:?}"),
        }
    }

    assert!(
        mismatches.is_empty(),
        "{} mismatches with Python, first ones:\n{}",
        mismatches.len(),
        mismatches
            .iter()
            .take(40)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    // Nothing skipped: at least as many comparisons as the generator recorded.
    assert!(valid_exprs >= header_count(&header, "valid_exprs"));
    assert!(valid_pairs >= header_count(&header, "valid_pairs"));
    assert!(none_results >= header_count(&header, "none_results"));
    assert!(invalid >= header_count(&header, "invalid"));
    // And the corpus is as large as promised.
    assert!(valid_pairs >= 5000, "only {valid_pairs} valid pairs");
    assert!(invalid >= 1000, "only {invalid} invalid strings");
}
