//! Clang-built objects (tests/bpf/*.bpf.o, rebuilt by scripts/build-bpf.sh):
//! every program imports as libbpf would link it and validates; the linked
//! calls, pseudo funcs, func and line info, tail-call pokes, may_goto and data
//! references come out as the kernel expects them; corrupted objects give
//! errors, never panics; campaigns on real programs are deterministic, keep
//! programs valid and find the patchers in agreement.

use patch_equiv::campaign::{case_bytes, generate_case_from, run, Runner};
use patch_equiv::case_file;
use patch_equiv::engine::EngineSet;
use patch_equiv::equiv::run_case;
use patch_equiv::gen::{Config, RealPrograms};
use patch_equiv::insn::{code, pseudo};
use patch_equiv::obj::{load_all, ObjectFile};
use patch_equiv::patcher::{ArrayPatcher, Patcher};
use patch_equiv::program::Program;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::path::{Path, PathBuf};

fn bpf_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bpf")
}

fn object(name: &str) -> ObjectFile {
    let data = std::fs::read(bpf_dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    ObjectFile::parse(&data).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn real() -> RealPrograms {
    let (progs, skipped) = load_all(&[bpf_dir()]).unwrap_or_else(|(f, e)| panic!("{}: {e}", f.display()));
    assert!(skipped.is_empty(), "skipped: {skipped:?}");
    RealPrograms::new(progs)
}

/// The targets of pseudo calls and pseudo funcs: (slot, target, is_func).
fn call_targets(p: &Program) -> Vec<(usize, usize, bool)> {
    let half = Program::second_halves(&p.insns);
    p.insns
        .iter()
        .enumerate()
        .filter(|(i, x)| !half[*i] && (x.is_pseudo_call() || x.is_pseudo_func()))
        .map(|(i, x)| (i, x.target(i).unwrap() as usize, x.is_pseudo_func()))
        .collect()
}

#[test]
fn every_program_of_the_set_imports_and_validates() {
    let set = real();
    let names: Vec<&str> = set.names().iter().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "may_goto.bpf.o:bounded",
            "pyperf.bpf.o:pyperf",
            "stackwalk.bpf.o:walk",
            "subprogs.bpf.o:loop_calls",
            "subprogs.bpf.o:nested_calls",
            "tailcall.bpf.o:classify",
            "tailcall.bpf.o:dispatch",
            "tailcall.bpf.o:subprog_tail",
            "xdp_parser.bpf.o:tc_parse",
            "xdp_parser.bpf.o:xdp_parse",
        ]
    );
}

/// The structural traits of a program that the kernel vectors' real
/// programs are described by.
#[derive(Debug)]
struct Traits {
    len: usize,
    subprogs: usize,
    pseudo_calls: usize,
    pseudo_funcs: usize,
    map_refs: usize,
    jmp32: usize,
    linfo_per_insn: f64,
    func_info: bool,
}

fn traits(p: &Program) -> Traits {
    let half = Program::second_halves(&p.insns);
    let live = |i: &usize| !half[*i];
    let count =
        |f: &dyn Fn(&patch_equiv::insn::Insn) -> bool| (0..p.len()).filter(live).filter(|&i| f(&p.insns[i])).count();
    Traits {
        len: p.len(),
        subprogs: p.subprog_cnt(),
        pseudo_calls: count(&|x| x.is_pseudo_call()),
        pseudo_funcs: count(&|x| x.is_pseudo_func()),
        map_refs: count(&|x| x.is_ld_imm64() && matches!(x.src, pseudo::MAP_FD | pseudo::MAP_VALUE)),
        jmp32: count(&|x| x.class() == 6),
        linfo_per_insn: p.linfo.len() as f64 / p.len() as f64,
        func_info: p.func_info.is_some(),
    }
}

/// Whether `ours` has every trait `theirs` has, at least as much of it
/// (lengths and call counts within a factor of two).
fn covers(ours: &Traits, theirs: &Traits) -> bool {
    (ours.len * 2 >= theirs.len)
        && ours.subprogs >= theirs.subprogs
        && ours.pseudo_calls * 2 >= theirs.pseudo_calls
        && (theirs.pseudo_funcs == 0 || ours.pseudo_funcs > 0)
        && (theirs.map_refs == 0 || ours.map_refs > 0)
        && (theirs.jmp32 == 0 || ours.jmp32 > 0)
        && ours.linfo_per_insn * 2.0 >= theirs.linfo_per_insn
        && (ours.func_info || !theirs.func_info)
}

#[test]
fn every_real_program_of_the_kernel_vectors_has_a_counterpart_here() {
    // real-public-030 starts from four clang-built programs (an XDP parser
    // with a bpf_loop callback and subprogs, a loop-heavy tracepoint, two
    // unrolled stack walkers). Each must have an imported program here with
    // the same traits; the vectors themselves pass in kernel_vectors.rs, and
    // campaigns on the imports are checked below.
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/kernel-vectors/real-public-030.jsonl.gz");
    let cases = patch_equiv::replay::load_file(&path).unwrap();
    let mut theirs: Vec<Program> = Vec::new();
    for c in cases {
        if !theirs.iter().any(|p| p.insns == c.prog.insns) {
            theirs.push(c.prog);
        }
    }
    assert_eq!(theirs.len(), 4, "distinct starting programs in real-public-030");
    let set = real();
    let (progs, _) = load_all(&[bpf_dir()]).unwrap();
    assert_eq!(progs.len(), set.len());
    for t in &theirs {
        let tt = traits(t);
        let found = progs.iter().find(|(_, p)| covers(&traits(p), &tt));
        let (name, _) = found.unwrap_or_else(|| panic!("no imported program covers a vector program: {tt:?}"));
        eprintln!(
            "vector program of {} insns, {} subprogs, {} pseudo calls: covered by {name}",
            tt.len, tt.subprogs, tt.pseudo_calls
        );
    }
}

#[test]
fn subprogs_are_appended_and_calls_land_on_their_starts() {
    let obj = object("subprogs.bpf.o");
    let imp = obj.import("loop_calls").unwrap();
    let p = &imp.program;
    let starts: Vec<usize> = imp.functions.iter().map(|f| f.1).collect();
    let names: Vec<&str> = imp.functions.iter().map(|f| f.0.as_str()).collect();
    // libbpf's order: depth-first in the order the calls appear.
    assert_eq!(names[0], "loop_calls");
    for f in ["step", "mix", "record", "bucket", "summarize"] {
        assert!(names.contains(&f), "{f} not appended: {names:?}");
    }
    // Each piece's first line-info record lies in that function's body in
    // the C source (found by its definition line, independently of the
    // importer): pieces and their records moved together.
    let src = std::fs::read_to_string(bpf_dir().join("subprogs.bpf.c")).unwrap();
    let defs: Vec<(usize, &str)> = src
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.starts_with(char::is_whitespace) && l.contains('(') && !l.ends_with(';'))
        .map(|(n, l)| (n + 1, l))
        .collect();
    for (name, at) in &imp.functions {
        let k = defs.iter().position(|d| d.1.contains(&format!(" {name}("))).unwrap_or_else(|| panic!("{name}"));
        let (first, end) = (defs[k].0, defs.get(k + 1).map_or(usize::MAX, |d| d.0));
        let r = p.linfo.binary_search_by_key(&(*at as u32), |l| l.insn_off).expect("a record at each start");
        let line = (p.linfo[r].line_col >> 10) as usize;
        assert!((first..end).contains(&line), "{name} at {at}: line {line} not in [{first}, {end})");
    }
    let subprog_starts: Vec<usize> = p.subprogs[..p.subprog_cnt()].iter().map(|s| s.start as usize).collect();
    let mut sorted = starts.clone();
    sorted.sort();
    assert_eq!(subprog_starts, sorted, "every appended function is a subprog");
    let targets = call_targets(p);
    assert!(targets.iter().all(|t| starts.contains(&t.1)), "a call misses a function start: {targets:?}");
    // The bpf_loop callback is a pseudo func to `step`.
    let step = imp.functions.iter().find(|f| f.0 == "step").unwrap().1;
    assert!(targets.iter().any(|&(_, t, func)| func && t == step), "no pseudo func to step: {targets:?}");
    // func_info: one record per function at its start, in instruction units.
    let fi = p.func_info.as_ref().expect("func_info");
    assert_eq!(fi.iter().map(|f| f.insn_off as usize).collect::<Vec<_>>(), sorted);
    // line info in instruction units: inside the program, one at each start.
    assert!(p.linfo.iter().all(|l| (l.insn_off as usize) < p.len()));
    for (k, s) in p.subprogs[..p.subprog_cnt()].iter().enumerate() {
        assert_eq!(p.linfo[s.linfo_idx as usize].insn_off, s.start, "subprog {k}");
    }
    // The global function is called through a relocation (imm -1 in the ELF).
    let summarize = imp.functions.iter().find(|f| f.0 == "summarize").unwrap().1;
    assert!(targets.iter().any(|&(_, t, func)| !func && t == summarize));
}

#[test]
fn tail_calls_get_pokes_only_for_constant_keys() {
    let obj = object("tailcall.bpf.o");
    for (prog, want_pokes, want_plain) in [("classify", 1, 1), ("dispatch", 1, 1), ("subprog_tail", 1, 0)] {
        let p = obj.import(prog).unwrap().program;
        let sites: Vec<usize> = (0..p.len()).filter(|&i| p.insns[i].code == code::TAIL_CALL).collect();
        assert_eq!(p.pokes.len(), want_pokes, "{prog}: pokes {:?}", p.pokes);
        assert_eq!(sites.len(), want_pokes + want_plain, "{prog}: tail-call sites {sites:?}");
        for (k, &at) in p.pokes.iter().enumerate() {
            assert_eq!(p.insns[at as usize].code, code::TAIL_CALL);
            assert_eq!(p.insns[at as usize].imm, k as i32 + 1, "{prog}: poke {k}");
            // The key was set just before: `w3 = K` or `r3 = K`.
            assert!(p.insns[..at as usize].iter().rev().take(4).any(|x| x.dst == 3 && x.op() == 0xb0));
        }
        for &at in &sites {
            if !p.pokes.contains(&(at as u32)) {
                assert_eq!(p.insns[at].imm, 0, "{prog}: tail call at {at} without a poke");
            }
        }
    }
}

#[test]
fn may_goto_is_imported_as_jcond() {
    let p = object("may_goto.bpf.o").import("bounded").unwrap().program;
    let at = p.insns.iter().position(|x| x.is_may_goto()).expect("a may_goto");
    let t = p.insns[at].target(at).unwrap() as usize;
    assert!(t > at && t < p.len(), "may_goto at {at} to {t}");
}

#[test]
fn maps_and_global_data_get_placeholders() {
    let imp = object("xdp_parser.bpf.o").import("xdp_parse").unwrap();
    let p = &imp.program;
    assert!(imp.refs.iter().any(|r| r == "map proto_count"), "{:?}", imp.refs);
    assert!(imp.refs.iter().any(|r| r == "map flows"));
    assert!(imp.refs.iter().any(|r| r.starts_with("data .rodata")));
    assert!(imp.refs.iter().any(|r| r.starts_with("data .bss")));
    let half = Program::second_halves(&p.insns);
    for (i, x) in p.insns.iter().enumerate() {
        if x.is_ld_imm64() && !half[i] && x.src != 0 {
            assert!(matches!(x.src, pseudo::MAP_FD | pseudo::MAP_VALUE), "insn {i}: src {}", x.src);
            let name = &imp.refs[x.imm as usize];
            assert_eq!(name.starts_with("map "), x.src == pseudo::MAP_FD, "insn {i}: {name}");
        }
    }
}

#[test]
fn pyperf_is_a_ten_thousand_insn_program_with_line_info_throughout() {
    let p = object("pyperf.bpf.o").import("pyperf").unwrap().program;
    assert!((9_000..=12_000).contains(&p.len()), "{} insns", p.len());
    assert!(p.linfo.len() > p.len() / 5, "{} line info records", p.linfo.len());
}

#[test]
fn the_case_text_with_source_lines_reads_back_as_the_same_case() {
    for (file, prog) in
        [("subprogs.bpf.o", "loop_calls"), ("tailcall.bpf.o", "classify"), ("may_goto.bpf.o", "bounded")]
    {
        let imp = object(file).import(prog).unwrap();
        let text = imp.case_text(file);
        assert!(text.contains(&format!("; ./tests/bpf/{}", file.replace(".o", ".c"))), "no source lines:\n{text}");
        let case = case_file::parse("x.case", &text).unwrap_or_else(|e| panic!("{file}: {e}\n{text}"));
        assert_eq!(case, imp.case(file));
    }
}

#[test]
fn corrupted_objects_give_errors_never_panics() {
    let mut rng = ChaCha8Rng::seed_from_u64(14);
    let mut errors = 0usize;
    for name in ["subprogs.bpf.o", "tailcall.bpf.o", "may_goto.bpf.o", "xdp_parser.bpf.o"] {
        let data = std::fs::read(bpf_dir().join(name)).unwrap();
        let tries = if cfg!(debug_assertions) { 150 } else { 1500 };
        for t in 0..tries {
            let mut d = data.clone();
            if t % 5 == 0 {
                d.truncate(rng.gen_range(0..d.len()));
            } else {
                for _ in 0..rng.gen_range(1..=4) {
                    let at = rng.gen_range(0..d.len());
                    d[at] = rng.gen();
                }
            }
            match ObjectFile::parse(&d) {
                Err(_) => errors += 1,
                Ok(obj) => {
                    for (p, _) in obj.programs() {
                        if let Ok(imp) = obj.import(&p) {
                            imp.program.validate().expect("import validates what it returns");
                            let _ = imp.case_text(name);
                        }
                    }
                }
            }
        }
    }
    assert!(errors > 0, "no corruption was noticed");
}

#[test]
fn real_program_cases_stay_valid_and_the_patchers_agree() {
    let set = real();
    let cfg = Config { real_pct: 100, ..Config::default() };
    let n = if cfg!(debug_assertions) { 60 } else { 600 };
    let mut seen = std::collections::BTreeSet::new();
    for k in 0..n {
        let g = generate_case_from(21, k, Some(&cfg), Some(&set)).unwrap();
        seen.insert(g.real.clone().expect("real_pct 100 starts every case from a real program"));
        let mut p = ArrayPatcher::new(g.case.prog.clone()).unwrap();
        for (j, op) in g.case.ops.iter().enumerate() {
            let _ = op.apply(&mut p);
            if g.checkpoints[j] {
                p.snapshot().validate().unwrap_or_else(|e| panic!("case {k}: invalid after op {j} ({op:?}): {e}"));
            }
        }
        if let Some(r) = run_case(&g.case).divergence() {
            panic!("case {k}:\n{r}");
        }
    }
    assert_eq!(seen.len(), set.len(), "programs reached: {seen:?}");
}

#[test]
fn same_seed_and_programs_give_the_same_cases_in_any_order() {
    let (mut progs, _) = load_all(&[bpf_dir()]).unwrap();
    let a = RealPrograms::new(progs.clone());
    progs.reverse();
    let b = RealPrograms::new(progs);
    for k in 0..40 {
        let x = generate_case_from(3, k, None, Some(&a)).unwrap();
        let y = generate_case_from(3, k, None, Some(&b)).unwrap();
        assert_eq!(x.case, y.case, "case {k}");
        assert_eq!(x.real, y.real);
    }
    let engines = EngineSet::builtin();
    let run = |jobs| {
        let runner = Runner::InProcess { engines: &engines, cfg: None, real: Some(&a), jobs };
        run(4, Some(300), None, &runner, &std::sync::atomic::AtomicU64::new(0), |_, _| {}).unwrap()
    };
    let (one, two) = (run(1), run(2));
    assert!(one.finding.is_none());
    assert_eq!(one.stats, two.stats);
    assert!(one.stats.real.values().sum::<u64>() > 0);
}

#[test]
fn without_programs_the_generated_cases_are_unchanged() {
    // Real programs present but not chosen must not shift the byte stream:
    // with real_pct 0 the cases equal those of a run without --programs.
    let set = real();
    let cfg = Config { real_pct: 0, ..Config::default() };
    for k in 0..20 {
        let plain = patch_equiv::gen::from_bytes_with(&cfg, &case_bytes(5, k)).unwrap();
        let with = generate_case_from(5, k, Some(&cfg), Some(&set)).unwrap();
        assert_eq!(plain.case.prog, with.case.prog, "case {k}");
        assert_eq!(plain.case.ops, with.case.ops, "case {k}");
    }
}

/// Writes `corpus/real-*.case`: cases cut from real programs (a seeded
/// real-program case whose ops the tool accepts, cut at the first kernel
/// error), with the oracle's outcome as the expectation and the C source
/// lines as comments. Run after changing the objects or the generator:
/// `cargo test --release --test real_objects -- --ignored write_real_program_corpus`
#[test]
#[ignore]
fn write_real_program_corpus() {
    use patch_equiv::case::Expect;
    let set = real();
    let cfg = Config { real_pct: 100, ..Config::default() };
    let wanted = [
        ("subprogs.bpf.o", "loop_calls", "bpf-loop-callback-and-subprogs"),
        ("subprogs.bpf.o", "nested_calls", "global-and-static-subprogs"),
        ("tailcall.bpf.o", "classify", "tail-call-pokes"),
        ("tailcall.bpf.o", "subprog_tail", "tail-call-in-subprog"),
        ("may_goto.bpf.o", "bounded", "may-goto-loop"),
        ("xdp_parser.bpf.o", "xdp_parse", "xdp-parser"),
    ];
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    for (file, prog, what) in wanted {
        let name = format!("{file}:{prog}");
        let (k, mut case) = (0..100_000u64)
            .find_map(|k| {
                let g = generate_case_from(31, k, Some(&cfg), Some(&set)).ok()?;
                (g.real.as_deref() == Some(name.as_str()) && g.case.ops.len() >= 12).then_some((k, g.case))
            })
            .expect("a case from the program");
        // Cut at the first error; refuse cases with a tool (precondition) error.
        let mut p = ArrayPatcher::new(case.prog.clone()).unwrap();
        let mut expect = None;
        for (j, op) in case.ops.iter().enumerate() {
            if let Err(e) = op.apply(&mut p) {
                match e.errno() {
                    Some(errno) => expect = Some((j, errno)),
                    None => expect = Some((j, 0)),
                }
                break;
            }
        }
        case.expect = Some(match expect {
            Some((j, 0)) => {
                case.ops.truncate(j);
                let mut q = ArrayPatcher::new(case.prog.clone()).unwrap();
                for op in &case.ops {
                    op.apply(&mut q).unwrap();
                }
                Expect::Ok(q.into_program())
            }
            Some((j, errno)) => {
                case.ops.truncate(j + 1);
                Expect::Fail { op: j, errno }
            }
            None => Expect::Ok(p.into_program()),
        });
        case.name = format!("real-{what}: seed-31-case-{k} from {name}, expectation from the array patcher");
        let imp = object(file).import(prog).unwrap();
        let text = case_file::to_text_annotated(&case, &|i| imp.source_line(i));
        let path = dir.join(format!("real-{what}.case"));
        std::fs::write(&path, text).unwrap();
        eprintln!("{}: {} ops", path.display(), case.ops.len());
    }
}
