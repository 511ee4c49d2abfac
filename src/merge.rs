//! `patch-equiv merge`: the `run --json` summaries of the shards of one seed
//! (`run --shard I/N` on N machines) added up into one summary of the same
//! schema, which `report` reads like any other.
//!
//! Summed: cases, ops, rejected inputs, seconds (machine-seconds, as `report`
//! sums several summaries; `wall_seconds` is the longest), jobs, every feature
//! count, the cases per real program, divergences. Every finding is kept, in
//! `findings` (by case number); `divergence` is the lowest-numbered one.
//! `shard` lists the shards merged (`"0/2,1/2"`), `covered` each one's cases,
//! and `prefix` is `n` when together they are exactly the cases `[0, n)` (every
//! shard of a `--cases` run finished), else null.
//!
//! Refused (exit 2, naming the files): summaries of different seeds, engines,
//! planted faults, `--config` or `--programs`, of a different feature set (another
//! version of the tool), shards of different N, a shard given twice, and a
//! document that is not a run summary (or a run that did not start).

use crate::shard::{Covered, Shard, BLOCK};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One summary, read.
#[derive(Debug)]
struct Part {
    path: String,
    seed: u64,
    engines: Value,
    /// `plant`, `config`, `programs`: what must agree (absent = null).
    same: [Value; 3],
    jobs: Option<u64>,
    cases: u64,
    ops: u64,
    rejected: u64,
    seconds: f64,
    wall_seconds: f64,
    features: BTreeMap<String, u64>,
    real: BTreeMap<String, u64>,
    divergences: u64,
    findings: Vec<Value>,
    shards: Vec<Shard>,
    covered: Vec<Covered>,
    merged: Vec<String>,
}

const SAME: [&str; 3] = ["plant", "config", "programs"];

fn get<'a>(m: &'a Map<String, Value>, path: &str, key: &str) -> Result<&'a Value, String> {
    m.get(key).ok_or_else(|| format!("{path}: no \"{key}\": not a `run --json` summary of this version"))
}

fn u64_of(m: &Map<String, Value>, path: &str, key: &str) -> Result<u64, String> {
    get(m, path, key)?.as_u64().ok_or_else(|| format!("{path}: \"{key}\" is not a whole number"))
}

fn counts(v: Option<&Value>, path: &str, key: &str) -> Result<BTreeMap<String, u64>, String> {
    let Some(v) = v.filter(|v| !v.is_null()) else { return Ok(BTreeMap::new()) };
    let m = v.as_object().ok_or_else(|| format!("{path}: \"{key}\" is not an object of counts"))?;
    m.iter()
        .map(|(k, n)| {
            n.as_u64().map(|n| (k.clone(), n)).ok_or_else(|| format!("{path}: \"{key}\".\"{k}\" is not a whole number"))
        })
        .collect()
}

/// `"I/N"` or a merged `"I/N,J/N,…"`.
fn shards_of(s: &str, path: &str) -> Result<Vec<Shard>, String> {
    s.split(',').map(|p| Shard::parse(p).map_err(|e| format!("{path}: \"shard\" {e}"))).collect()
}

fn covered_of(v: &Value, path: &str) -> Result<Covered, String> {
    let bad = |what: &str| format!("{path}: an entry of \"covered\" {what}");
    let m = v.as_object().ok_or_else(|| bad("is not an object"))?;
    let shard = m.get("shard").and_then(Value::as_str).ok_or_else(|| bad("has no \"shard\""))?;
    let shard = Shard::parse(shard).map_err(|e| bad(&e))?;
    let count = m.get("count").and_then(Value::as_u64).ok_or_else(|| bad("has no \"count\""))?;
    match m.get("block").and_then(Value::as_u64) {
        Some(BLOCK) | None => Ok(Covered { shard, count }),
        Some(b) => Err(bad(&format!("deals blocks of {b} cases; this version deals blocks of {BLOCK}"))),
    }
}

fn read_part(path: &str, text: &str) -> Result<Part, String> {
    let v: Value = serde_json::from_str(text).map_err(|e| format!("{path}: not a JSON document: {e}"))?;
    let m = v.as_object().ok_or_else(|| format!("{path}: not a JSON object"))?;
    if let Some(e) = m.get("error") {
        return Err(format!("{path}: a run that did not start ({e})"));
    }
    match m.get("kind").and_then(Value::as_str) {
        Some("run") | None => {}
        Some(k) => return Err(format!("{path}: \"kind\" is \"{k}\", expected \"run\"")),
    }
    if let Some(ver) = m.get("version").filter(|v| v.as_u64() != Some(1)) {
        return Err(format!("{path}: \"version\" {ver} is not supported (this reader knows 1)"));
    }
    let seconds = get(m, path, "seconds")?
        .as_f64()
        .filter(|s| *s >= 0.0 && s.is_finite())
        .ok_or_else(|| format!("{path}: \"seconds\" is not a non-negative number"))?;
    let (cases, rejected) = (u64_of(m, path, "cases")?, u64_of(m, path, "rejected")?);
    let shards = match m.get("shard") {
        None | Some(Value::Null) => vec![Shard::WHOLE],
        Some(s) => shards_of(s.as_str().ok_or_else(|| format!("{path}: \"shard\" is not a string"))?, path)?,
    };
    let covered = match m.get("covered") {
        Some(Value::Array(a)) => a.iter().map(|c| covered_of(c, path)).collect::<Result<Vec<_>, _>>()?,
        None if shards.len() == 1 => vec![Covered { shard: shards[0], count: cases + rejected }],
        _ => return Err(format!("{path}: no \"covered\" list for shards {}", list(&shards))),
    };
    let mut listed: Vec<Shard> = covered.iter().map(|c| c.shard).collect();
    listed.sort();
    let mut named = shards.clone();
    named.sort();
    if listed != named {
        return Err(format!("{path}: \"covered\" ({}) does not match \"shard\" ({})", list(&listed), list(&named)));
    }
    if covered.iter().map(|c| c.count).sum::<u64>() != cases + rejected {
        return Err(format!("{path}: \"covered\" counts do not add up to cases + rejected ({})", cases + rejected));
    }
    let divergence = m.get("divergence").filter(|d| !d.is_null()).cloned();
    let findings = match m.get("findings") {
        Some(Value::Array(a)) => a.clone(),
        _ => divergence.into_iter().collect(),
    };
    let divergences = match m.get("divergences") {
        Some(d) => d.as_u64().ok_or_else(|| format!("{path}: \"divergences\" is not a whole number"))?,
        None => findings.len() as u64,
    };
    let merged = match m.get("merged") {
        Some(Value::Array(a)) => a.iter().map(|p| p.as_str().unwrap_or(path).to_string()).collect(),
        _ => vec![path.to_string()],
    };
    Ok(Part {
        path: path.to_string(),
        seed: u64_of(m, path, "seed")?,
        engines: get(m, path, "engines")?.clone(),
        same: SAME.map(|k| m.get(k).cloned().unwrap_or(Value::Null)),
        jobs: m.get("jobs").and_then(Value::as_u64),
        cases,
        ops: u64_of(m, path, "ops")?,
        rejected,
        seconds,
        wall_seconds: m.get("wall_seconds").and_then(Value::as_f64).unwrap_or(seconds),
        features: counts(Some(get(m, path, "features")?), path, "features")?,
        real: counts(m.get("real_programs"), path, "real_programs")?,
        divergences,
        findings,
        shards,
        covered,
        merged,
    })
}

fn list(shards: &[Shard]) -> String {
    shards.iter().map(Shard::to_string).collect::<Vec<_>>().join(",")
}

/// Refuse parts that are not shards of one campaign.
fn check(parts: &[Part]) -> Result<(), String> {
    let first = parts.first().ok_or("no summary to merge")?;
    for p in &parts[1..] {
        let (a, b) = (&first.path, &p.path);
        if p.seed != first.seed {
            return Err(format!(
                "{a} has seed {} and {b} seed {}: only the shards of one seed add up",
                first.seed, p.seed
            ));
        }
        if p.engines != first.engines {
            return Err(format!("{a} compared engines {} and {b} engines {}", first.engines, p.engines));
        }
        for (k, (x, y)) in SAME.iter().zip(first.same.iter().zip(&p.same)) {
            if x != y {
                return Err(format!("{a} has \"{k}\" {x} and {b} \"{k}\" {y}: they ran different cases"));
            }
        }
        if p.features.keys().ne(first.features.keys()) {
            let only: Vec<&String> = p
                .features
                .keys()
                .filter(|k| !first.features.contains_key(*k))
                .chain(first.features.keys().filter(|k| !p.features.contains_key(*k)))
                .collect();
            return Err(format!(
                "{a} and {b} count different features ({only:?}): written by different versions of the tool"
            ));
        }
    }
    let mut owner: BTreeMap<u64, &str> = BTreeMap::new();
    let n = first.shards[0].count;
    for p in parts {
        for s in &p.shards {
            if s.count != n {
                return Err(format!(
                    "{} holds shard {} and {} shard {}: the shards of one campaign share their N",
                    first.path, first.shards[0], p.path, s
                ));
            }
            if let Some(other) = owner.insert(s.index, &p.path) {
                return Err(format!("shard {s} is in both {other} and {}: its cases would be counted twice", p.path));
            }
        }
    }
    Ok(())
}

fn add(into: &mut BTreeMap<String, u64>, from: &BTreeMap<String, u64>) {
    for (k, n) in from {
        *into.entry(k.clone()).or_default() += n;
    }
}

/// The merged summary of `parts` (already checked).
fn merged(parts: &[Part]) -> Value {
    let first = &parts[0];
    let (mut features, mut real) = (BTreeMap::new(), BTreeMap::new());
    for p in parts {
        add(&mut features, &p.features);
        add(&mut real, &p.real);
    }
    let sum = |f: fn(&Part) -> u64| parts.iter().map(f).sum::<u64>();
    let (cases, seconds) = (sum(|p| p.cases), parts.iter().map(|p| p.seconds).sum::<f64>());
    let mut covered: Vec<Covered> = parts.iter().flat_map(|p| p.covered.iter().copied()).collect();
    covered.sort_by_key(|c| c.shard);
    let shards: Vec<Shard> = covered.iter().map(|c| c.shard).collect();
    let mut findings: Vec<Value> = parts.iter().flat_map(|p| p.findings.iter().cloned()).collect();
    findings.sort_by_key(|f| f.get("case").and_then(Value::as_u64).unwrap_or(u64::MAX));
    let [plant, config, programs] = first.same.clone();
    json!({
        "kind": "run",
        "version": 1,
        "seed": first.seed,
        "jobs": parts.iter().map(|p| p.jobs).sum::<Option<u64>>(),
        "engines": first.engines,
        "plant": plant,
        "config": config,
        "programs": programs,
        "shard": list(&shards),
        "covered": covered.iter().map(Covered::to_json).collect::<Vec<_>>(),
        "prefix": Covered::union_as_prefix(&covered).map(|c| c.count),
        "cases": cases,
        "ops": sum(|p| p.ops),
        "rejected": sum(|p| p.rejected),
        "seconds": seconds,
        "wall_seconds": parts.iter().map(|p| p.wall_seconds).fold(0.0, f64::max),
        "cases_per_sec": cases as f64 / seconds.max(1e-9),
        "features": features,
        "real_programs": real,
        "divergences": sum(|p| p.divergences),
        "divergence": findings.first(),
        "findings": findings,
        "merged": parts.iter().flat_map(|p| p.merged.iter().cloned()).collect::<Vec<_>>(),
    })
}

/// Merge the summaries given as (name, text).
pub fn merge_texts(inputs: &[(String, String)]) -> Result<Value, String> {
    let parts = inputs.iter().map(|(p, t)| read_part(p, t)).collect::<Result<Vec<_>, _>>()?;
    check(&parts)?;
    Ok(merged(&parts))
}

/// `patch-equiv merge SUMMARY… [--out FILE]`: exit 0, or an error (exit 2).
pub fn cmd(paths: &[PathBuf], out: Option<&Path>) -> Result<i32, String> {
    let inputs = paths
        .iter()
        .map(|p| {
            let name = p.display().to_string();
            std::fs::read_to_string(p).map(|t| (name.clone(), t)).map_err(|e| format!("{name}: {e}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let doc = serde_json::to_string_pretty(&merge_texts(&inputs)?).expect("json") + "\n";
    match out {
        Some(o) => std::fs::write(o, doc).map_err(|e| format!("--out {}: {e}", o.display()))?,
        None => crate::cli::say(&doc),
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A shard's summary as `run --json` writes it.
    fn shard_doc(shard: &str, count: u64, finding: Option<u64>) -> (String, String) {
        let s = Shard::parse(shard).unwrap();
        let v = json!({
            "kind": "run", "version": 1, "seed": 9, "jobs": 2, "engines": ["array", "list"],
            "plant": null, "config": null, "programs": null,
            "shard": shard, "covered": [Covered { shard: s, count }.to_json()],
            "cases": count - 1, "ops": 10 * count, "rejected": 1, "seconds": 2.0,
            "features": { "gotol": count / 2, "nop removal": 3 },
            "real_programs": { "a.o:p": 1 },
            "divergences": finding.is_some() as u32,
            "divergence": finding.map(|k| json!({ "case": k, "engine": "list", "kind": "divergence" })),
        });
        (format!("shard-{}.json", s.index), v.to_string())
    }

    #[test]
    fn adds_up_every_statistic_and_keeps_every_finding() {
        let n = 5000;
        let a = shard_doc("0/2", Shard::parse("0/2").unwrap().cases_below(n), Some(3000));
        let b = shard_doc("1/2", Shard::parse("1/2").unwrap().cases_below(n), Some(2100));
        let m = merge_texts(&[a, b]).unwrap();
        assert_eq!(m["cases"], n - 2);
        assert_eq!(m["rejected"], 2);
        assert_eq!(m["ops"], 10 * n);
        assert_eq!(m["seconds"], 4.0);
        assert_eq!(m["wall_seconds"], 2.0);
        assert_eq!(m["jobs"], 4);
        assert_eq!(m["features"]["nop removal"], 6);
        assert_eq!(m["real_programs"]["a.o:p"], 2);
        assert_eq!(m["shard"], "0/2,1/2");
        assert_eq!(m["prefix"], n);
        assert_eq!(m["divergences"], 2);
        assert_eq!(m["findings"].as_array().unwrap().len(), 2);
        assert_eq!(m["divergence"]["case"], 2100, "the lowest-numbered finding");
        assert_eq!(m["merged"], json!(["shard-0.json", "shard-1.json"]));
        // What report reads.
        let r = crate::report::inputs::parse_run(Path::new("m.json"), &m.to_string()).unwrap();
        assert_eq!((r.cases, r.divergence_count(), r.findings().len()), (n - 2, 2, 2));
    }

    #[test]
    fn a_shard_cut_short_leaves_no_prefix_and_merged_summaries_merge_again() {
        let a = shard_doc("0/3", 100, None);
        let b = shard_doc("1/3", 50, None);
        let c = shard_doc("2/3", 70, None);
        let ab = merge_texts(&[a, b]).unwrap();
        assert_eq!(ab["prefix"], Value::Null);
        let abc = merge_texts(&[("ab.json".into(), ab.to_string()), c]).unwrap();
        assert_eq!(abc["shard"], "0/3,1/3,2/3");
        assert_eq!(abc["cases"], 217);
        assert_eq!(abc["merged"], json!(["shard-0.json", "shard-1.json", "shard-2.json"]));
    }

    fn refused(inputs: &[(String, String)]) -> String {
        merge_texts(inputs).unwrap_err()
    }

    #[test]
    fn refuses_what_is_not_one_campaign() {
        let a = shard_doc("0/2", 10, None);
        let edit = |(p, t): &(String, String), f: &dyn Fn(&mut Value)| {
            let mut v: Value = serde_json::from_str(t).unwrap();
            f(&mut v);
            (format!("other-{p}"), v.to_string())
        };
        let b = shard_doc("1/2", 10, None);
        let e = refused(&[a.clone(), edit(&b, &|v| v["seed"] = json!(10))]);
        assert!(e.contains("seed 9") && e.contains("seed 10") && e.contains("other-shard-1.json"), "{e}");
        let e = refused(&[a.clone(), edit(&b, &|v| v["engines"] = json!(["array", "list", "c"]))]);
        assert!(e.contains("engines"), "{e}");
        let e = refused(&[a.clone(), edit(&b, &|v| v["plant"] = json!("aux-at-first-slot"))]);
        assert!(e.contains("\"plant\""), "{e}");
        let e = refused(&[a.clone(), edit(&b, &|v| v["config"] = json!("dense.json"))]);
        assert!(e.contains("\"config\""), "{e}");
        let e = refused(&[a.clone(), edit(&b, &|v| v["features"]["new feature"] = json!(0))]);
        assert!(e.contains("different versions"), "{e}");
        let e = refused(&[a.clone(), a.clone()]);
        assert!(e.contains("shard 0/2 is in both"), "{e}");
        let e = refused(&[a.clone(), shard_doc("1/3", 10, None)]);
        assert!(e.contains("share their N"), "{e}");
        let e = refused(&[a.clone(), ("x.json".into(), r#"{"kind": "run", "version": 1, "error": "bad"}"#.into())]);
        assert!(e.contains("x.json: a run that did not start"), "{e}");
        let e = refused(&[a.clone(), ("x.json".into(), r#"{"kind": "bench"}"#.into())]);
        assert!(e.contains("expected \"run\""), "{e}");
        let e = refused(&[a.clone(), ("x.json".into(), "not json".into())]);
        assert!(e.starts_with("x.json: not a JSON document"), "{e}");
        let e = refused(&[edit(&a, &|v| v.as_object_mut().unwrap().remove("ops").map(|_| ()).unwrap())]);
        assert!(e.contains("no \"ops\""), "{e}");
        let e = refused(&[edit(&a, &|v| v["covered"][0]["count"] = json!(3))]);
        assert!(e.contains("do not add up"), "{e}");
    }
}
