//! The evidence files `patch-equiv report` reads, each parsed into what the
//! report needs and nothing more: unknown fields are ignored, and a missing
//! required field is an error naming the file and the field.
//!
//! - `run --json` summaries: `seed` and `cases` are required; `ops`, `seconds`,
//!   `features`, `rejected`, `jobs`, `engines`, `divergences` and `divergence`
//!   are read when present, and so is `findings`, every finding of a merged
//!   summary (`merge`). The older binary printed no `kind`, `version` or
//!   `engines`, and on a divergence only `seed`, `cases`, `divergent_case` and
//!   `reproducer`, after the text report: the last line holding a JSON object
//!   is then taken.
//! - `bench --json`: `rows` (required), `runner_cases_per_sec_per_core` and
//!   `bytes_per_insn_1m`.
//! - `replay --json`: `files`, `passed` and `failed` (required), `malformed`,
//!   `engines` and `failures`.
//! - The mutation-testing score: the text `scripts/mutation_report.py` prints,
//!   or `docs/mutation-testing.md` (its first result block, the latest run).

use crate::bench::Row;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// One `run --json` summary.
#[derive(Clone, Debug, Deserialize)]
pub struct RunSummary {
    pub kind: Option<String>,
    pub version: Option<u64>,
    pub seed: u64,
    pub jobs: Option<u64>,
    /// Oracle first. Absent from summaries written before the field existed.
    pub engines: Option<Vec<String>>,
    pub cases: u64,
    pub ops: Option<u64>,
    pub rejected: Option<u64>,
    pub seconds: Option<f64>,
    pub features: Option<BTreeMap<String, u64>>,
    pub divergences: Option<u64>,
    pub divergence: Option<Divergence>,
    /// Every finding of a merged summary (`merge`); `divergence` is the first.
    #[serde(default)]
    pub findings: Vec<Divergence>,
    /// Older binary, on a divergence.
    pub divergent_case: Option<u64>,
    /// Older binary, on a divergence: the shrunk reproducer's path.
    pub reproducer: Option<String>,
}

/// What a run found, as `run --json` states it.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Divergence {
    pub case: Option<u64>,
    pub engine: Option<String>,
    pub kind: Option<String>,
    pub op: Option<u64>,
    pub table: Option<String>,
    pub raw: Option<String>,
    pub shrunk: Option<String>,
    pub reproduce: Option<String>,
}

impl RunSummary {
    /// Divergences this run reports (a run stops at its first).
    pub fn divergence_count(&self) -> u64 {
        match self.divergences {
            Some(n) => n,
            None => u64::from(self.divergence.is_some() || self.divergent_case.is_some()),
        }
    }

    /// Every finding of the summary: a merged summary's `findings`, or its one.
    pub fn findings(&self) -> Vec<Divergence> {
        if self.findings.is_empty() {
            self.finding().into_iter().collect()
        } else {
            self.findings.clone()
        }
    }

    /// The run's finding, from either schema.
    pub fn finding(&self) -> Option<Divergence> {
        if let Some(d) = &self.divergence {
            return Some(d.clone());
        }
        self.divergent_case.map(|k| Divergence {
            case: Some(k),
            shrunk: self.reproducer.clone(),
            reproduce: self.reproducer.as_ref().map(|p| format!("cargo run --release -q -- replay {p}")),
            ..Divergence::default()
        })
    }
}

/// One `bench --json` output.
#[derive(Clone, Debug, Deserialize)]
pub struct BenchInput {
    pub kind: Option<String>,
    pub rows: Vec<Row>,
    pub runner_cases_per_sec_per_core: Option<f64>,
    /// Heap bytes per instruction at one million instructions, per engine
    /// (`null` where an engine cannot tell).
    pub bytes_per_insn_1m: Option<std::collections::BTreeMap<String, Option<f64>>>,
    /// W2 on the C list patcher alone (its kernel API, no harness), as `bench` printed it.
    #[serde(default)]
    pub c_alone: Option<String>,
}

impl BenchInput {
    /// Rows of earlier versions name no engines: their array and list columns become them.
    fn with_engines(mut self) -> BenchInput {
        for r in &mut self.rows {
            if !r.engines.is_empty() {
                continue;
            }
            let col = |engine: &str, seconds: f64, extrapolated: bool, peak: Option<f64>, lin: Option<f64>| {
                crate::bench::EngineTime {
                    engine: engine.into(),
                    seconds,
                    extrapolated,
                    peak_mb: peak,
                    linearize_s: lin.unwrap_or(0.0),
                }
            };
            r.engines.push(col("array", r.array_s, r.array_extrapolated, Some(r.array_peak_mb), None));
            if let Some(l) = r.list_s {
                r.engines.push(col("list", l, false, r.list_peak_mb, r.linearize_s));
            }
        }
        self
    }

    /// The memory figures in the engines' order (the oracle first).
    pub fn memory(&self) -> Vec<(String, Option<f64>)> {
        let Some(m) = &self.bytes_per_insn_1m else { return Vec::new() };
        let order: Vec<String> =
            self.rows.first().map_or(Vec::new(), |r| r.engines.iter().map(|e| e.engine.clone()).collect());
        let mut v: Vec<(String, Option<f64>)> =
            order.iter().filter_map(|n| m.get(n).map(|b| (n.clone(), *b))).collect();
        v.extend(m.iter().filter(|(n, _)| !order.contains(n)).map(|(n, b)| (n.clone(), *b)));
        v
    }
}

/// One `replay --json` result.
#[derive(Clone, Debug, Deserialize)]
pub struct ReplayResult {
    pub kind: Option<String>,
    pub version: Option<u64>,
    pub engines: Option<Vec<String>>,
    pub files: u64,
    pub passed: u64,
    pub failed: u64,
    pub malformed: Option<u64>,
    #[serde(default)]
    pub failures: Vec<ReplayFailure>,
}

/// One failing case of a replay.
#[derive(Clone, Debug, Deserialize)]
pub struct ReplayFailure {
    pub case: Option<String>,
    pub file: Option<String>,
    pub engine: Option<String>,
    pub op: Option<u64>,
    pub what: Option<String>,
}

/// The mutation-testing result.
#[derive(Clone, Debug, PartialEq)]
pub struct MutationScore {
    /// Non-equivalent mutants caught, and their number.
    pub caught: u64,
    pub total: u64,
    /// The "mutants tested: …" line, when present.
    pub tested: Option<String>,
    /// Missed mutants shown equivalent.
    pub equivalent: Option<u64>,
    /// Seconds of seeded running to the first divergence: median, worst, and
    /// over how many mutants the campaign itself caught.
    pub detect_median_s: Option<f64>,
    pub detect_worst_s: Option<f64>,
    pub detect_over: Option<u64>,
    /// The commit of the run, from a "… at commit X" heading before the score.
    pub commit: Option<String>,
}

/// The file's text, or an error naming it.
fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// One JSON document: the whole text, or else the last line that holds a JSON
/// object (the older `run --json` printed its text report first).
fn json_doc<T: DeserializeOwned>(path: &Path, text: &str, what: &str) -> Result<T, String> {
    let whole = serde_json::from_str::<serde_json::Value>(text);
    let value = match whole {
        Ok(v) => v,
        Err(e) => text
            .lines()
            .rev()
            .filter(|l| l.trim_start().starts_with('{'))
            .find_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .ok_or_else(|| format!("{}: not a JSON document: {e}", path.display()))?,
    };
    if !value.is_object() {
        return Err(format!("{}: expected a JSON object", path.display()));
    }
    serde_json::from_value(value).map_err(|e| format!("{}: not {what}: {e}", path.display()))
}

/// `kind` and `version`, when present, must be the expected ones.
fn check_kind(path: &Path, kind: &Option<String>, version: Option<u64>, want: &str) -> Result<(), String> {
    if let Some(k) = kind {
        if k != want {
            return Err(format!("{}: \"kind\" is \"{k}\", expected \"{want}\"", path.display()));
        }
    }
    match version {
        Some(v) if v != 1 => Err(format!("{}: \"version\" {v} is not supported (this reader knows 1)", path.display())),
        _ => Ok(()),
    }
}

pub fn read_run(path: &Path) -> Result<RunSummary, String> {
    parse_run(path, &read(path)?)
}

/// A run summary from `text`; `path` names it in errors.
pub fn parse_run(path: &Path, text: &str) -> Result<RunSummary, String> {
    let r: RunSummary = json_doc(path, text, "a `run --json` summary")?;
    check_kind(path, &r.kind, r.version, "run")?;
    if r.seconds.is_some_and(|s| !(s >= 0.0 && s.is_finite())) {
        return Err(format!("{}: \"seconds\" must be a non-negative number", path.display()));
    }
    Ok(r)
}

pub fn read_bench(path: &Path) -> Result<BenchInput, String> {
    parse_bench(path, &read(path)?)
}

pub fn parse_bench(path: &Path, text: &str) -> Result<BenchInput, String> {
    let b: BenchInput = json_doc(path, text, "`bench --json` output")?;
    check_kind(path, &b.kind, None, "bench")?;
    Ok(b.with_engines())
}

pub fn read_replay(path: &Path) -> Result<ReplayResult, String> {
    parse_replay(path, &read(path)?)
}

pub fn parse_replay(path: &Path, text: &str) -> Result<ReplayResult, String> {
    let r: ReplayResult = json_doc(path, text, "a `replay --json` result")?;
    check_kind(path, &r.kind, r.version, "replay")?;
    Ok(r)
}

pub fn read_mutation(path: &Path) -> Result<MutationScore, String> {
    parse_mutation(&read(path)?).map_err(|e| format!("{}: {e}", path.display()))
}

/// The number after `key` in `line` (up to the next character that is not
/// part of a number).
fn number_after<T: std::str::FromStr>(line: &str, key: &str) -> Option<T> {
    let rest = &line[line.find(key)? + key.len()..];
    let rest = rest.trim_start();
    let end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
    rest[..end].trim_end_matches('.').parse().ok()
}

/// Parse `scripts/mutation_report.py` output, or `docs/mutation-testing.md`
/// (the first "score:" line and the lines around it).
pub fn parse_mutation(text: &str) -> Result<MutationScore, String> {
    let lines: Vec<&str> = text.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.trim_start().starts_with("score:"))
        .ok_or("no \"score: C/T non-equivalent mutants caught\" line")?;
    let score = lines[at].trim_start();
    let frac = score["score:".len()..].split_whitespace().next().unwrap_or("");
    let (c, t) = frac.split_once('/').ok_or_else(|| format!("cannot read the score in \"{score}\""))?;
    let (caught, total) = match (c.parse::<u64>(), t.parse::<u64>()) {
        (Ok(c), Ok(t)) if c <= t => (c, t),
        _ => return Err(format!("cannot read the score in \"{score}\"")),
    };
    // The block the score belongs to: from the nearest blank line or fence
    // above it to the one below it.
    let is_edge = |l: &&str| l.trim().is_empty() || l.trim_start().starts_with("```");
    let start = lines[..at].iter().rposition(is_edge).map_or(0, |k| k + 1);
    let end = lines[at..].iter().position(is_edge).map_or(lines.len(), |k| at + k);
    let block = &lines[start..end];
    let find = |prefix: &str| block.iter().find(|l| l.trim_start().starts_with(prefix)).map(|l| l.trim());
    let detect = find("time to detect");
    let commit = lines[..at]
        .iter()
        .rev()
        .find(|l| l.starts_with('#'))
        .and_then(|h| h.split("commit ").nth(1))
        .map(|c| c.chars().take_while(|ch| ch.is_ascii_hexdigit()).collect::<String>())
        .filter(|c| c.len() >= 7);
    Ok(MutationScore {
        caught,
        total,
        tested: find("mutants tested:").map(str::to_string),
        equivalent: find("missed and shown equivalent:").and_then(|l| number_after(l, ":")),
        detect_median_s: detect.and_then(|l| number_after(l, "median")),
        detect_worst_s: detect.and_then(|l| number_after(l, "worst")),
        detect_over: detect.and_then(|l| number_after(l, "over")),
        commit,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCRIPT: &str = "mutants tested: 12 (caught 8, timeouts 1, missed 3, unviable 0)\n\
        missed and shown equivalent: 2\n\
        score: 9/10 non-equivalent mutants caught = 90.0%\n\
        time to detect by the seeded campaign (seed 1): median 0.125 s, worst 2.500 s, over 7 mutants the campaign itself caught (1 more were caught by unit/vector tests before or without a campaign divergence)\n\
        \n\
        | mutant | campaign: seconds to first divergence | case | first difference |\n";

    #[test]
    fn reads_the_script_output() {
        let m = parse_mutation(SCRIPT).unwrap();
        assert_eq!((m.caught, m.total, m.equivalent), (9, 10, Some(2)));
        assert_eq!((m.detect_median_s, m.detect_worst_s, m.detect_over), (Some(0.125), Some(2.5), Some(7)));
        assert_eq!(m.tested.as_deref(), Some("mutants tested: 12 (caught 8, timeouts 1, missed 3, unviable 0)"));
        assert_eq!(m.commit, None);
    }

    #[test]
    fn reads_the_first_block_of_the_doc() {
        let doc = format!(
            "# Mutation testing\n\n## Result (full run at commit 5f98f17)\n\n```\n{SCRIPT}```\n\n\
             ### First run (commit a65e9f3)\n\n```\nscore: 1/2 non-equivalent mutants caught = 50.0%\n```\n"
        );
        let m = parse_mutation(&doc).unwrap();
        assert_eq!((m.caught, m.total), (9, 10));
        assert_eq!(m.commit.as_deref(), Some("5f98f17"));
        assert_eq!(m.detect_worst_s, Some(2.5));
    }

    #[test]
    fn refuses_text_without_a_score() {
        assert!(parse_mutation("mutants tested: 3\n").unwrap_err().contains("score"));
        assert!(parse_mutation("score: 5/3 caught\n").unwrap_err().contains("cannot read"));
        assert!(parse_mutation("score: many\n").unwrap_err().contains("cannot read"));
    }
}
