//! The harness finds planted faults: each fault in the list patcher is
//! reported, naming the right table (or `panic`), within a bounded number of
//! seeded cases; and `run` shrinks, writes and `replay` reproduces a planted
//! divergence. The crash fault and the printed commands: `tests/findings.rs`.

use patch_equiv::campaign::{check_one, generate_case};
use patch_equiv::engine::plant::PLANTS;
use patch_equiv::engine::{EngineSet, BUILTIN};
use patch_equiv::equiv;
use patch_equiv::gen::Feature;
use patch_equiv::patcher::list::plant::Fault;
use std::process::Command;

/// Seeded cases tried per fault before giving up.
const BOUND: u64 = 3000;

#[test]
fn every_planted_fault_is_found_and_named() {
    // The abort fault kills the process: tests/findings.rs checks it through the binary.
    for fault in Fault::ALL.into_iter().filter(|f| !f.crashes()) {
        let engines = EngineSet::parse(BUILTIN, Some(fault.name())).unwrap();
        let found = (0..BOUND).find_map(|k| {
            let g = generate_case(5, k, None).ok()?;
            equiv::check(&g.case, &engines).divergence().map(|r| (k, r))
        });
        let Some((k, report)) = found else { panic!("{fault:?}: no divergence in {BOUND} seeded cases") };
        assert!(
            report.table.starts_with(fault.table()),
            "{fault:?}: found at case {k} but the first difference is in {} (expected {}):\n{report}",
            report.table,
            fault.table()
        );
        let text = report.to_string();
        let (head, what) =
            if fault.table() == "panic" { ("PANIC", "panicked") } else { ("DIVERGENCE", "first difference") };
        for part in [head, "after op", what, "the case:", "patch-equiv-case 1"] {
            assert!(text.contains(part), "{fault:?}: report lacks {part:?}:\n{text}");
        }
    }
}

/// The seeded runner checks a case while it generates it (`equiv::Follow`:
/// the generator's shadow stands for the oracle). Case by case it must find
/// exactly what `equiv::check` finds on the finished case, with every planted
/// fault that does not kill the process and with none.
#[test]
fn the_runner_finds_what_check_finds() {
    let faults = PLANTS.iter().filter(|p| !["abort-in-hidden-subprog", "c-jmp-off-crash"].contains(&p.name));
    let sets = std::iter::once(None).chain(faults.map(|p| Some(p.name)));
    for plant in sets {
        let spec = if plant.is_some_and(|p| p.starts_with("c-")) { "array,c" } else { "array,list" };
        let engines = EngineSet::parse(spec, plant).unwrap();
        let mut found = 0;
        for k in 0..400 {
            let r = check_one(5, k, None, None, &engines);
            let Ok(g) = generate_case(5, k, None) else {
                assert!(r.rejected, "{plant:?} case {k}: the runner generated a case the generator refuses");
                continue;
            };
            let c = equiv::check(&g.case, &engines);
            let erange = c.errors.iter().any(|(_, e)| e.errno() == Some(patch_equiv::patcher::ERANGE));
            assert_eq!(r.features.has(Feature::Erange), g.features.has(Feature::Erange) || erange, "{plant:?} {k}");
            assert_eq!(r.ops, g.case.ops.len(), "{plant:?} case {k}");
            let want = c.divergence().map(|d| d.signature());
            assert_eq!(r.finding.map(|d| d.signature()), want, "{plant:?} case {k}");
            found += want.is_some() as usize;
        }
        // Every fault shows in these cases but the probe's, which needs a
        // program over 32767 slots and a patch that overflows.
        let shows = plant.is_some_and(|p| p != "c-probe-skips-later-branches");
        assert!(plant.is_some() || found == 0, "{found} findings with no fault planted");
        assert!(!shows || found > 0, "{plant:?}: no finding in 400 cases");
    }
}

#[test]
fn the_real_list_patcher_passes_the_same_cases() {
    let engines = EngineSet::builtin();
    for k in 0..BOUND / 3 {
        if let Ok(g) = generate_case(5, k, None) {
            assert!(equiv::check(&g.case, &engines).divergence().is_none(), "case {k} diverges on the real patchers");
        }
    }
}

#[test]
fn run_shrinks_writes_and_replay_reproduces_a_planted_divergence() {
    let bin = env!("CARGO_BIN_EXE_patch-equiv");
    let dir = std::env::temp_dir().join(format!("patch-equiv-selftest-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = Command::new(bin)
        .args(["run", "--seed", "3", "--cases", "4000", "--jobs", "2", "--plant", "aux-at-first-slot", "--out"])
        .arg(&dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "run must report the divergence:\n{stdout}");
    assert!(stdout.contains("DIVERGENCE") && stdout.contains("reproduce with"), "{stdout}");
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().map(|e| e.path()).collect();
    files.sort();
    assert_eq!(files.len(), 2, "the raw and the shrunk case written: {files:?}");
    assert!(files[0].to_string_lossy().ends_with(".case") && files[1].to_string_lossy().ends_with(".min.case"));
    files.remove(0);
    let text = std::fs::read_to_string(&files[0]).unwrap();
    let case = patch_equiv::case_file::parse("repro.case", &text).unwrap();
    assert!(case.prog.len() <= 12, "shrunk to a handful of instructions, got {}:\n{text}", case.prog.len());
    assert!(case.ops.len() <= 4, "shrunk to a handful of ops, got {}:\n{text}", case.ops.len());
    // The reproducer diverges with the fault planted, and not on the real patchers.
    let planted = Command::new(bin).args(["replay", "--plant", "aux-at-first-slot"]).arg(&files[0]).output().unwrap();
    let planted_out = String::from_utf8_lossy(&planted.stdout);
    assert_eq!(planted.status.code(), Some(1), "{planted_out}");
    assert!(planted_out.contains("0 passed, 1 failed") && planted_out.contains(": aux["), "{planted_out}");
    let real = Command::new(bin).args(["replay"]).arg(&files[0]).output().unwrap();
    assert_eq!(real.status.code(), Some(0), "{}", String::from_utf8_lossy(&real.stdout));
    let _ = std::fs::remove_dir_all(&dir);
}
