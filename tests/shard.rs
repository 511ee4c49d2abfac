//! Scale-out (issue 16), through the real binary: the shards of one seed,
//! merged, are the unsharded run in every statistic; a finding in a shard is
//! reproduced by its printed per-case command; `merge` refuses summaries of
//! different campaigns (exit 2); `report` reads a merged summary.
//!
//! The case count is `PATCH_EQUIV_SHARD_CASES` (default 4,500: three blocks
//! of 2,048, so shard 0 of 2 holds two separated blocks, one cut short; a
//! debug build checks about 500 cases/s per core). `.ci/run` runs the
//! issue's check, 40,000 cases, with the release binary:
//! `PATCH_EQUIV_SHARD_CASES=40000 PATCH_EQUIV_BIN=target/release/patch-equiv
//! cargo test --test shard merged_shards` (`PATCH_EQUIV_BIN`: the binary to
//! test instead of this build's).

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The binary under test: `PATCH_EQUIV_BIN`, or this build's.
fn bin() -> PathBuf {
    match std::env::var("PATCH_EQUIV_BIN") {
        Ok(p) => Path::new(&p).canonicalize().unwrap_or_else(|e| panic!("PATCH_EQUIV_BIN={p}: {e}")),
        Err(_) => PathBuf::from(env!("CARGO_BIN_EXE_patch-equiv")),
    }
}
const PREFIX: &str = "cargo run --release -q --";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn pe(args: &[&str]) -> Output {
    Command::new(bin()).args(args).current_dir(root()).stdin(Stdio::null()).output().expect("run patch-equiv")
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("patch-equiv-shard-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "not one JSON document ({e}): {}\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    })
}

/// `run --json` of seed `seed` over `cases` cases (`shard`: `--shard`), saved to `dir`.
fn run(dir: &Path, seed: u64, cases: u64, shard: Option<&str>) -> PathBuf {
    let (seed, cases, out) = (seed.to_string(), cases.to_string(), dir.join("artifacts"));
    let mut args = vec!["run", "--seed", &seed, "--cases", &cases, "--jobs", "2", "--json", "--out"];
    args.push(out.to_str().unwrap());
    if let Some(s) = shard {
        args.extend(["--shard", s]);
    }
    let o = pe(&args);
    assert_eq!(o.status.code(), Some(0), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
    let path = dir.join(format!("run-{}.json", shard.unwrap_or("all").replace('/', "-of-")));
    std::fs::write(&path, &o.stdout).unwrap();
    path
}

fn merge(paths: &[PathBuf]) -> Output {
    let mut args = vec!["merge".to_string()];
    args.extend(paths.iter().map(|p| p.display().to_string()));
    Command::new(bin()).args(&args).current_dir(root()).output().expect("merge")
}

/// Every statistic of a run summary (what does not depend on time or on how
/// the cases were spread): shards of one run must add up to exactly this.
const STATISTICS: &[&str] = &[
    "seed",
    "engines",
    "plant",
    "config",
    "programs",
    "cases",
    "ops",
    "rejected",
    "features",
    "real_programs",
    "divergences",
    "divergence",
    "prefix",
];

#[test]
fn merged_shards_equal_the_unsharded_run() {
    let cases: u64 = std::env::var("PATCH_EQUIV_SHARD_CASES").map_or(4500, |v| v.parse().expect("a case count"));
    let dir = scratch("equal");
    let whole: Value = serde_json::from_slice(&std::fs::read(run(&dir, 9, cases, None)).unwrap()).unwrap();
    assert_eq!(whole["cases"].as_u64().unwrap() + whole["rejected"].as_u64().unwrap(), cases);
    assert_eq!(whole["prefix"], cases);
    let shards: Vec<PathBuf> = ["0/2", "1/2"].iter().map(|s| run(&dir, 9, cases, Some(s))).collect();
    let o = merge(&shards);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let merged = json(&o);
    for k in STATISTICS {
        assert_eq!(merged[k], whole[k], "\"{k}\" of the merged shards differs from the unsharded run");
    }
    // Neither shard alone is the run: each covers its own blocks only.
    for p in &shards {
        let one: Value = serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
        assert!(one["cases"].as_u64() < whole["cases"].as_u64(), "{}", p.display());
        assert_eq!(one["prefix"], Value::Null);
    }
    assert_eq!(merged["shard"], "0/2,1/2");
    assert_eq!(merged["findings"], Value::Array(vec![]));

    // What the evidence report reads: the merged totals.
    let md = dir.join("report.md");
    let mp = dir.join("merged.json");
    std::fs::write(&mp, &o.stdout).unwrap();
    let r = pe(&["report", mp.to_str().unwrap(), "--out", md.to_str().unwrap()]);
    assert_eq!(r.status.code(), Some(0), "{}", String::from_utf8_lossy(&r.stderr));
    let text = std::fs::read_to_string(&md).unwrap();
    assert!(text.contains(&format!("| cases | {} |", whole["cases"])), "{text}");
    assert!(text.contains("No divergence"), "{text}");
}

/// `run --seed 3 --cases 8192 --shard SHARD --plant aux-at-first-slot --json`:
/// a finding (exit 1); its summary is saved to `dir`.
fn planted(dir: &Path, shard: &str) -> (PathBuf, Value) {
    let out = dir.join("artifacts");
    let o = pe(&[
        "run",
        "--seed",
        "3",
        "--cases",
        "8192",
        "--shard",
        shard,
        "--plant",
        "aux-at-first-slot",
        "--json",
        "--shrink-time",
        "2",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", String::from_utf8_lossy(&o.stderr));
    let path = dir.join(format!("planted-{}.json", shard.replace('/', "-of-")));
    std::fs::write(&path, &o.stdout).unwrap();
    (path, json(&o))
}

#[test]
fn findings_in_shards_are_reproduced_by_their_case_numbers_and_all_kept() {
    let dir = scratch("finding");
    let (p1, doc) = planted(&dir, "1/2");
    assert_eq!(doc["shard"], "1/2");
    let k = doc["divergence"]["case"].as_u64().unwrap();
    assert!((2048..4096).contains(&k) || (6144..8192).contains(&k), "case {k} is not in shard 1/2");
    let original = doc["divergence"]["original"].as_str().unwrap();
    assert_eq!(
        original,
        format!("{PREFIX} repro --seed 3 --case {k} --engines array,list,c --plant aux-at-first-slot"),
        "the printed command names the case, not the shard"
    );
    let args: Vec<&str> = original.strip_prefix(PREFIX).unwrap().split_whitespace().collect();
    assert_eq!(pe(&args).status.code(), Some(1), "{original} does not reproduce");

    // Both shards' findings survive the merge, the lowest first.
    let (p0, doc0) = planted(&dir, "0/2");
    let k0 = doc0["divergence"]["case"].as_u64().unwrap();
    assert!(k0 < 2048 || (4096..6144).contains(&k0), "case {k0} is not in shard 0/2");
    let m = merge(&[p1, p0]);
    assert_eq!(m.status.code(), Some(0), "{}", String::from_utf8_lossy(&m.stderr));
    let m = json(&m);
    assert_eq!(m["divergences"], 2);
    let cases: Vec<u64> = m["findings"].as_array().unwrap().iter().map(|f| f["case"].as_u64().unwrap()).collect();
    assert_eq!(cases, [k0.min(k), k0.max(k)]);
    assert_eq!(m["divergence"]["case"], k0.min(k));
    assert!(m["findings"][0]["original"].as_str().unwrap().contains("repro --seed 3 --case"));
}

#[test]
fn merge_refuses_summaries_of_different_campaigns() {
    let dir = scratch("refuse");
    let a = run(&dir, 9, 100, Some("0/2"));
    let b = dir.join("seed10.json");
    std::fs::rename(run(&dir, 10, 100, Some("1/2")), &b).unwrap();
    let o = merge(&[a.clone(), b]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("seed 9") && err.contains("seed 10"), "{err}");
    assert!(o.stdout.is_empty(), "nothing merged is printed");
    let o = merge(&[a.clone(), a]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("counted twice"));
    let o = pe(&["run", "--seed", "1", "--cases", "10", "--shard", "2/2", "--json"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(json(&o)["kind"], "run");
    assert!(String::from_utf8_lossy(&o.stderr).contains("the index must be below the count"));
}
