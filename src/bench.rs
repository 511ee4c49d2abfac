//! `patch-equiv bench`: every selected engine timed in the same run on the
//! workloads of the benchmark issue (W1 pyperf180 scale, W2 the 2019 table,
//! W3 random positions, W4 removal-heavy, W5 a clang-built program from
//! tests/bpf, and the seeded runner), one column per engine. The same driver runs every engine, so all do exactly the same
//! ops; the final programs are compared after every workload.

use crate::engine::{Engine, EngineSet};
use crate::insn::build::*;
use crate::insn::{class, field, op, Insn};
use crate::patcher::{ArrayPatcher, Patcher, Walk};
use crate::program::{LineInfo, Program, Subprog};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::alloc::{GlobalAlloc, Layout, System};
use std::fmt::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

/// A global allocator that can track the peak of live heap bytes; the binary
/// installs it, tracking is off unless a benchmark turns it on.
pub struct PeakAlloc;

static TRACK: AtomicBool = AtomicBool::new(false);
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// Why `unsafe` here (the only place outside src/engine/ffi.rs, the FFI to C
// engines; none in the list patcher): `GlobalAlloc` is an unsafe
// trait, and measuring the patchers' peak heap needs a global allocator. Every
// method only forwards to `System` with the caller's arguments and updates
// atomic counters, so it upholds exactly the contract `System` does.
unsafe impl GlobalAlloc for PeakAlloc {
    // SAFETY: forwards to the system allocator unchanged; only counts bytes.
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        if TRACK.load(Ordering::Relaxed) {
            let now = LIVE.fetch_add(l.size(), Ordering::Relaxed) + l.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(l) }
    }
    // SAFETY: forwards to the system allocator unchanged; only counts bytes.
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        if TRACK.load(Ordering::Relaxed) {
            LIVE.fetch_sub(l.size(), Ordering::Relaxed);
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(p, l) }
    }
}

/// Run `f` and return its result, seconds and peak heap bytes it added (the
/// peak is 0 unless the binary installed `PeakAlloc`).
fn measure<T>(f: impl FnOnce() -> T) -> (T, f64, usize) {
    LIVE.store(0, Ordering::Relaxed);
    PEAK.store(0, Ordering::Relaxed);
    TRACK.store(true, Ordering::Relaxed);
    let t = Instant::now();
    let r = f();
    let secs = t.elapsed().as_secs_f64();
    TRACK.store(false, Ordering::Relaxed);
    (r, secs, PEAK.load(Ordering::Relaxed))
}

/// A deterministic program of `n` slots in subprogs of about 2000 slots:
/// 32-bit ALU defs, ctx loads, helper calls, divisions by register,
/// conditional jumps within the subprog, a pseudo call per subprog, line info.
pub fn workload_program(n: usize, seed: u64) -> Program {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let sub_len = 2000.max(n / 200).min(n);
    let starts: Vec<usize> = (0..n).step_by(sub_len).filter(|&s| n - s >= 2).collect();
    let mut insns = vec![Insn::default(); n];
    for (k, &s) in starts.iter().enumerate() {
        let e = starts.get(k + 1).copied().unwrap_or(n);
        for (i, slot) in insns.iter_mut().enumerate().take(e - 1).skip(s) {
            *slot = match rng.gen_range(0..100) {
                0..=19 => alu32_imm(op::ADD, rng.gen_range(0..10), rng.gen_range(0..100)),
                20..=34 => ldx_mem(field::W, rng.gen_range(0..10), 1, 4 * rng.gen_range(0..16)),
                35..=44 => call_helper(rng.gen_range(1..200)),
                45..=49 => raw(class::ALU64 | op::DIV | field::X, rng.gen_range(0..10), rng.gen_range(0..10), 0, 0),
                50..=61 => {
                    let t = rng.gen_range(s..e) as i64;
                    jmp_imm(op::JNE, rng.gen_range(0..10), 0, (t - i as i64 - 1) as i16)
                }
                _ => mov64_imm(rng.gen_range(0..10), rng.gen_range(0..100)),
            };
        }
        insns[e - 1] = exit();
        if k + 1 < starts.len() {
            insns[s] = call_rel((starts[k + 1] - s - 1) as i32);
        }
    }
    let mut p = Program::from_insns(insns);
    for a in p.aux.iter_mut() {
        a.zext_dst = a.zext_dst && rng.gen_bool(0.8);
    }
    p.subprogs = starts.iter().chain(std::iter::once(&n)).map(|&s| Subprog { start: s as u32, linfo_idx: 0 }).collect();
    for (k, &s) in starts.iter().enumerate() {
        p.subprogs[k].linfo_idx = p.linfo.len() as u32;
        p.linfo.push(LineInfo { insn_off: s as u32, line_off: 7 * k as u32, ..LineInfo::default() });
        for o in (s + 100..starts.get(k + 1).copied().unwrap_or(n)).step_by(100) {
            p.linfo.push(LineInfo { insn_off: o as u32, line_off: o as u32, ..LineInfo::default() });
        }
    }
    p
}

/// W1: three verifier-like forward passes with reads between patches:
/// ctx-load rewrites (1→1..5), helper inlining (1→3..10 with internal jumps
/// and a jump to the end) and div guards, then zext (1→2 after 32-bit defs).
/// Returns the number of patches.
pub fn w1_passes<P: Drive + ?Sized>(p: &mut P, seed: u64) -> usize {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut patches = 0;
    // convert_ctx_accesses
    let (cnt, mut delta) = (p.len(), 0);
    for i in 0..cnt {
        let insn = p.insn(i + delta).expect("in range");
        if insn.class() == class::LDX {
            let n = rng.gen_range(1..=5);
            let mut v = vec![ldx_mem(field::DW, insn.dst, 1, 8)];
            v.extend((1..n).map(|k| alu64_imm(if k % 2 == 1 { op::RSH } else { op::AND }, insn.dst, 7)));
            p.patch(i + delta, &v).expect("ctx patch");
            delta += n - 1;
            patches += 1;
        }
    }
    // do_misc_fixups
    let (cnt, mut delta) = (p.len(), 0);
    for i in 0..cnt {
        let at = i + delta;
        let insn = p.insn(at).expect("in range");
        let v: Vec<Insn> = if insn.is_helper_call() {
            let n = rng.gen_range(3..=10);
            let mut v: Vec<Insn> = (0..n - 2).map(|k| mov64_imm(0, k as i32)).collect();
            v.insert(0, jmp_imm(op::JGE, 2, 5, (n - 2) as i16)); // to the last slot
            v.push(ja(1)); // to the slot after the patchlet
            v.truncate(n);
            v
        } else if insn.class() == class::ALU64 && insn.op() == op::DIV && insn.is_src_x() {
            vec![
                jmp_imm(op::JNE, insn.src, 0, 2),
                raw(class::ALU64 | op::XOR | field::X, insn.dst, insn.dst, 0, 0),
                ja(1),
                insn,
            ]
        } else {
            continue;
        };
        p.patch(at, &v).expect("misc patch");
        delta += v.len() - 1;
        patches += 1;
    }
    patches + zext_pass(p)
}

/// The zext pass shape: `[orig, zext]` after every slot whose aux asks for it.
pub fn zext_pass<P: Drive + ?Sized>(p: &mut P) -> usize {
    let (cnt, mut delta, mut patches) = (p.len(), 0, 0);
    for i in 0..cnt {
        let at = i + delta;
        if !p.aux(at).expect("in range").zext_dst {
            continue;
        }
        let insn = p.insn(at).expect("in range");
        let Some(r) = insn.def_regno() else { continue };
        p.patch(at, &[insn, zext_reg(r)]).expect("zext patch");
        delta += 1;
        patches += 1;
    }
    patches
}

/// W2: one 1→2 patch per original instruction but the final exit (the 2019
/// measurement; patching the last slot past S16_MAX is refused, Q1).
pub fn w2_every_insn<P: Drive + ?Sized>(p: &mut P, limit: usize) -> usize {
    let cnt = (p.len() - 1).min(limit);
    for i in 0..cnt {
        let at = 2 * i;
        let insn = p.insn(at).expect("in range");
        p.patch(at, &[insn, zext_reg(insn.dst)]).expect("w2 patch");
    }
    cnt
}

/// W3: `n` patches at uniformly random current indices (never the last slot).
pub fn w3_random<P: Drive + ?Sized>(p: &mut P, n: usize, seed: u64) -> usize {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for _ in 0..n {
        let at = rng.gen_range(0..p.len() - 1);
        let insn = p.insn(at).expect("in range");
        if insn.is_ld_imm64() {
            continue;
        }
        // A program grown this much can push a branch past s16: -ERANGE, as
        // the kernel would say; the workload goes on with the next position.
        match p.patch(at, &[mov64_imm(11, 1), insn]) {
            Ok(()) | Err(crate::patcher::PatchError::Range { .. }) => {}
            Err(e) => panic!("w3 patch: {e}"),
        }
    }
    n
}

/// W5's program: the pyperf-like object of tests/bpf, imported as the
/// verifier gets it (about 10k instructions, line info on most of them).
pub fn w5_program() -> Result<Program, String> {
    let data: &[u8] = include_bytes!("../tests/bpf/pyperf.bpf.o");
    let obj = crate::obj::ObjectFile::parse(data).map_err(|e| format!("pyperf.bpf.o: {e}"))?;
    obj.import("pyperf").map(|i| i.program).map_err(|e| format!("pyperf.bpf.o: {e}"))
}

/// W5: the W1 pass sequence (ctx loads, helper inlining and div guards, zext)
/// on the real program: its helper calls and 32-bit defs are where clang put
/// them, not where a generator did.
pub fn w5_passes<P: Drive + ?Sized>(p: &mut P) -> usize {
    w1_passes(p, 11)
}

/// A program for W4: a fraction of slots unseen (in runs) or `ja +0` nops.
pub fn w4_program(n: usize, nops: bool, seed: u64) -> Program {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut insns: Vec<Insn> = (0..n).map(|i| mov64_imm((i % 10) as u8, i as i32)).collect();
    insns[n - 1] = exit();
    let mut dead = vec![false; n];
    let mut i = 1;
    while i < n - 1 {
        if rng.gen_bool(if nops { 0.3 } else { 0.03 }) {
            let run = if nops { 1 } else { rng.gen_range(1..=19) };
            for d in dead.iter_mut().skip(i).take(run.min(n - 1 - i)) {
                *d = true;
            }
            i += run + 1;
        } else {
            i += 1;
        }
    }
    let mut p = Program::from_insns(insns);
    for (k, &d) in dead.iter().enumerate() {
        if d && nops {
            p.insns[k] = ja(0);
        } else if d {
            p.aux[k].seen = 0;
        }
    }
    p.linfo = (0..n)
        .step_by(50)
        .map(|o| LineInfo { insn_off: o as u32, line_off: o as u32, ..LineInfo::default() })
        .collect();
    p
}

/// W4: `opt_remove_dead_code` then `opt_remove_nops`, the kernel's loops.
pub fn w4_remove<P: Drive + ?Sized>(p: &mut P) -> usize {
    let mut removed = 0;
    let mut i = 0;
    while i < p.len() {
        let mut j = 0;
        while i + j < p.len() && p.aux(i + j).expect("in range").seen == 0 {
            j += 1;
        }
        if j > 0 {
            p.remove(i, j).expect("dead run");
            removed += 1;
        }
        i += 1;
    }
    let mut i = 0;
    while i < p.len() {
        if p.insn(i) == Some(ja(0)) {
            p.remove(i, 1).expect("nop");
            removed += 1;
        } else {
            i += 1;
        }
    }
    removed
}

/// One engine's figures in one row.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct EngineTime {
    pub engine: String,
    /// Whole workload, including building and the final linearization.
    pub seconds: f64,
    /// Extrapolated from a measured prefix (O(N·M) fit; the oracle only).
    pub extrapolated: bool,
    /// Peak heap MB (Rust allocations only; `None` when extrapolated).
    pub peak_mb: Option<f64>,
    /// The final linearization (`Patcher::finish`) alone.
    pub linearize_s: f64,
}

/// One row of the table: one column per engine, the oracle first. (Read
/// back by `report`; rows of earlier versions have no `engines`.)
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Row {
    pub workload: String,
    pub insns: usize,
    pub ops: usize,
    #[serde(default)]
    pub engines: Vec<EngineTime>,
    /// One plain copy of the final instruction and aux arrays (the floor).
    pub copy_s: f64,
    // The fields of earlier versions of `bench --json`, from `engines`:
    pub array_s: f64,
    pub array_extrapolated: bool,
    pub list_s: Option<f64>,
    pub array_peak_mb: f64,
    pub list_peak_mb: Option<f64>,
    /// The list engine's linearization.
    pub linearize_s: Option<f64>,
}

impl Row {
    fn new(workload: &str, insns: usize, ops: usize, engines: Vec<EngineTime>, copy_s: f64) -> Row {
        let get = |n: &str| engines.iter().find(|e| e.engine == n);
        let array = get("array").expect("the oracle is always timed");
        Row {
            workload: workload.to_string(),
            insns,
            ops,
            array_s: array.seconds,
            array_extrapolated: array.extrapolated,
            array_peak_mb: array.peak_mb.unwrap_or(0.0),
            list_s: get("list").map(|e| e.seconds),
            list_peak_mb: get("list").and_then(|e| e.peak_mb),
            linearize_s: get("list").map(|e| e.linearize_s),
            copy_s,
            engines,
        }
    }
}

/// A workload: drives any patcher, honouring a limit on its op count where it can.
type Work<'a> = &'a dyn Fn(&mut dyn Patcher, usize) -> usize;

/// Run one workload on a non-oracle engine: (ops, seconds incl. building and
/// linearization, linearize seconds, peak bytes, final program).
fn run_engine(engine: &dyn Engine, prog: &Program, work: Work) -> Result<(usize, f64, f64, usize, Program), String> {
    let (r, secs, peak) = measure(|| -> Result<_, String> {
        let mut p = engine.load(prog.clone())?;
        let ops = work(&mut *p, usize::MAX);
        let t = Instant::now();
        let out = p.finish();
        Ok((ops, t.elapsed().as_secs_f64(), out))
    });
    let (ops, lin, out) = r.map_err(|e| format!("engine {}: {e}", engine.name()))?;
    Ok((ops, secs, lin, peak, out))
}

/// Run a workload on the array patcher. A workload that honours a limit on
/// its op count is first timed on growing prefixes; when the whole run would
/// pass `cap` seconds, its time is extrapolated with the fit
/// `t(op k) = c·(N + g·k)` (so the total is `c·(N·M + g·M²/2)`).
fn run_array(
    prog: &Program,
    ops_total: usize,
    growth: f64,
    cap: f64,
    limited: bool,
    work: Work,
) -> (f64, bool, usize, f64, Option<Program>) {
    if limited {
        let (n, m) = (prog.len() as f64, ops_total as f64);
        let mut probe = 16usize.min(ops_total);
        loop {
            let (_, t, _) = measure(|| {
                let mut a = ArrayPatcher::with_walk(prog.clone(), Walk::EverySlot);
                work(&mut a, probe)
            });
            let pm = probe as f64;
            let c = t / (n * pm + growth * pm * pm / 2.0).max(1.0);
            let predicted = c * (n * m + growth * m * m / 2.0);
            if predicted <= cap || probe >= ops_total {
                break;
            }
            if t > 0.5 {
                return (predicted, true, 0, 0.0, None);
            }
            probe = (probe * 4).min(ops_total);
        }
    }
    let ((out, lin), secs, peak) = measure(|| {
        let mut a = ArrayPatcher::with_walk(prog.clone(), Walk::EverySlot);
        work(&mut a, usize::MAX);
        let t = Instant::now();
        let out = a.into_program();
        (out, t.elapsed().as_secs_f64())
    });
    (secs, false, peak, lin, Some(out))
}

/// Time one plain copy of the final insns and aux (the linearization floor).
fn copy_floor(p: &Program) -> f64 {
    let t = Instant::now();
    let a = p.insns.clone();
    let b = p.aux.clone();
    std::hint::black_box((&a, &b));
    t.elapsed().as_secs_f64()
}

#[allow(clippy::too_many_arguments)]
fn row(
    engines: &EngineSet,
    name: &str,
    prog: &Program,
    ops_total: usize,
    growth: f64,
    cap: f64,
    limited: bool,
    work: Work,
) -> Result<Row, String> {
    let mut times = Vec::new();
    let mut finals: Vec<(String, Program)> = Vec::new();
    let mut ops = 0;
    // Short runs are repeated and the best time kept, as criterion would.
    for e in &engines.all()[1..] {
        let (n, mut secs, mut lin, peak, out) = run_engine(&**e, prog, work)?;
        for _ in 0..4 {
            if secs > 0.2 {
                break;
            }
            let (_, s2, l2, _, _) = run_engine(&**e, prog, work)?;
            secs = secs.min(s2);
            lin = lin.min(l2);
        }
        ops = n;
        times.push(EngineTime {
            engine: e.name(),
            seconds: secs,
            extrapolated: false,
            peak_mb: Some(peak as f64 / 1e6),
            linearize_s: lin,
        });
        finals.push((e.name(), out));
    }
    let (mut array_s, extrapolated, array_peak, mut array_lin, array_out) =
        run_array(prog, ops_total.max(ops), growth, cap, limited, work);
    if let Some(a) = &array_out {
        if ops == 0 {
            ops = ops_total;
        }
        for _ in 0..4 {
            if array_s > 0.2 {
                break;
            }
            let again = run_array(prog, ops, growth, cap, false, work);
            array_s = array_s.min(again.0);
            array_lin = array_lin.min(again.3);
        }
        finals.insert(0, ("array".to_string(), a.clone()));
    }
    // Every engine ends where the oracle does (or, when the oracle's time
    // was extrapolated, where the first other engine does).
    if let Some((ref_name, reference)) = finals.first() {
        for (n, p) in &finals[1..] {
            if let Some(d) = crate::diff::first_difference(reference, p, false) {
                return Err(format!("{name}: {n} and {ref_name} disagree: {d}"));
            }
        }
    }
    times.insert(
        0,
        EngineTime {
            engine: "array".to_string(),
            seconds: array_s,
            extrapolated,
            peak_mb: (!extrapolated).then_some(array_peak as f64 / 1e6),
            linearize_s: array_lin,
        },
    );
    let copy_s = finals.first().map_or(0.0, |(_, p)| copy_floor(p));
    Ok(Row::new(name, prog.len(), ops, times, copy_s))
}

/// What the workload drivers use of a patcher; implemented for every
/// `Patcher`, boxed ones (`dyn Patcher`) included.
#[allow(clippy::len_without_is_empty)]
pub trait Drive {
    fn len(&self) -> usize;
    fn insn(&self, i: usize) -> Option<Insn>;
    fn aux(&self, i: usize) -> Option<crate::program::Aux>;
    fn patch(&mut self, off: usize, insns: &[Insn]) -> Result<(), crate::patcher::PatchError>;
    fn remove(&mut self, off: usize, cnt: usize) -> Result<(), crate::patcher::PatchError>;
}

impl<P: Patcher + ?Sized> Drive for P {
    fn len(&self) -> usize {
        Patcher::len(self)
    }
    fn insn(&self, i: usize) -> Option<Insn> {
        Patcher::insn(self, i)
    }
    fn aux(&self, i: usize) -> Option<crate::program::Aux> {
        Patcher::aux(self, i)
    }
    fn patch(&mut self, off: usize, insns: &[Insn]) -> Result<(), crate::patcher::PatchError> {
        Patcher::patch(self, off, insns)
    }
    fn remove(&mut self, off: usize, cnt: usize) -> Result<(), crate::patcher::PatchError> {
        Patcher::remove(self, off, cnt)
    }
}

/// All rows; `quick` keeps the whole run under a minute.
pub fn rows(engines: &EngineSet, quick: bool, mut each: impl FnMut(&Row)) -> Result<Vec<Row>, String> {
    let cap = if quick { 3.0 } else { 120.0 };
    let mut out = Vec::new();
    let mut push = |r: Row, out: &mut Vec<Row>| {
        each(&r);
        out.push(r);
    };
    let w1 = workload_program(10_000, 1);
    push(row(engines, "W1 pyperf180-like passes", &w1, 5_000, 2.0, cap, false, &|p, _| w1_passes(p, 7))?, &mut out);
    let sizes: &[usize] =
        if quick { &[15_000, 45_000, 1_000_000] } else { &[15_000, 45_000, 95_000, 195_000, 1_000_000] };
    for &n in sizes {
        let prog = workload_program(n, 2);
        push(
            row(engines, &format!("W2 1→2 per insn, {}k", n / 1000), &prog, n, 1.0, cap, true, &|p, lim| {
                w2_every_insn(p, lim)
            })?,
            &mut out,
        );
    }
    let (n3, m3) = if quick { (100_000, 100_000) } else { (1_000_000, 1_000_000) };
    let prog = workload_program(n3, 3);
    push(
        row(
            engines,
            &format!("W3 random positions, {}k×{}k", n3 / 1000, m3 / 1000),
            &prog,
            m3,
            1.0,
            cap,
            true,
            &|p, lim| w3_random(p, m3.min(lim), 5),
        )?,
        &mut out,
    );
    let n4 = if quick { 20_000 } else { 100_000 };
    for nops in [false, true] {
        let prog = w4_program(n4, nops, 4);
        let name = format!("W4 remove 30% of {}k, {}", n4 / 1000, if nops { "single nops" } else { "dead runs" });
        let ops = (n4 as f64 * if nops { 0.23 } else { 0.03 }) as usize;
        push(row(engines, &name, &prog, ops, -1.0, cap, false, &|p, _| w4_remove(p))?, &mut out);
    }
    let w5 = w5_program()?;
    let name = "W5 pyperf-like clang object, passes";
    push(row(engines, name, &w5, 5_000, 2.0, cap, false, &|p, _| w5_passes(p))?, &mut out);
    Ok(out)
}

/// Heap bytes per instruction of each engine's representation of an
/// `n`-slot program, for the engines that can tell.
pub fn bytes_per_insn(engines: &EngineSet, n: usize) -> Vec<(String, Option<f64>)> {
    let prog = workload_program(n, 2);
    engines
        .all()
        .iter()
        .map(|e| {
            let b = e.load(prog.clone()).ok().and_then(|p| p.memory_bytes());
            (e.name(), b.map(|b| b as f64 / n as f64))
        })
        .collect()
}

/// W2 on the C list patcher alone, through its kernel API (c/bench/w2.c,
/// built by build.rs): the best of three rounds in one process, as the
/// driver prints it; `None` when the driver cannot run.
pub fn c_alone(quick: bool) -> Option<String> {
    let exe = Path::new(crate::engine::ffi::LIB_DIR).join("bpf_patcher_w2");
    let n = if quick { "200000" } else { "1000000" };
    let out = std::process::Command::new(exe).args([n, "3"]).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let total = |l: &str| -> Option<f64> { l.split("total ").nth(1)?.split(" ms").next()?.parse().ok() };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| total(l).map(|t| (t, l.to_string())))
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, l)| l)
}

/// Cases per second of the seeded runner on one thread, at the swarm config.
pub fn runner_rate(engines: &EngineSet, quick: bool) -> f64 {
    let n = if quick { 5_000 } else { 40_000 };
    let o = crate::campaign::run_in_process(1, n, engines);
    o.stats.cases as f64 / o.seconds
}

fn fmt_s(s: f64) -> String {
    if s >= 100.0 {
        format!("{s:.0} s")
    } else if s >= 1.0 {
        format!("{s:.2} s")
    } else {
        format!("{:.1} ms", s * 1e3)
    }
}

/// The table as Markdown: one time column per engine, then the oracle's
/// time over each other engine's, µs per op, peak MB and linearization per engine.
pub fn table(rows: &[Row], runner: f64, mem: &[(String, Option<f64>)]) -> String {
    let names: Vec<String> = rows.first().map_or(Vec::new(), |r| r.engines.iter().map(|e| e.engine.clone()).collect());
    let others = &names[1.min(names.len())..];
    let mut head = vec!["workload".to_string(), "insns".into(), "ops".into()];
    head.extend(names.iter().cloned());
    head.extend(others.iter().map(|n| format!("array/{n}")));
    head.extend(names.iter().map(|n| format!("µs/op {n}")));
    head.extend(names.iter().map(|n| format!("peak MB {n}")));
    head.extend(others.iter().map(|n| format!("linearize {n}")));
    head.push("plain copy".into());
    let mut t = format!("| {} |\n|---|{}\n", head.join(" | "), "---:|".repeat(head.len() - 1));
    for r in rows {
        let mut cells = vec![r.workload.clone(), r.insns.to_string(), r.ops.to_string()];
        let oracle = &r.engines[0];
        for e in &r.engines {
            cells.push(format!("{}{}", fmt_s(e.seconds), if e.extrapolated { " (extrapolated)" } else { "" }));
        }
        for e in &r.engines[1..] {
            cells.push(format!("{:.1}×", oracle.seconds / e.seconds.max(1e-12)));
        }
        for e in &r.engines {
            cells.push(format!("{:.3}", e.seconds / r.ops.max(1) as f64 * 1e6));
        }
        for e in &r.engines {
            cells.push(e.peak_mb.map_or("—".to_string(), |m| format!("{m:.1}")));
        }
        for e in &r.engines[1..] {
            cells.push(fmt_s(e.linearize_s));
        }
        cells.push(fmt_s(r.copy_s));
        let _ = writeln!(t, "| {} |", cells.join(" | "));
    }
    let _ = writeln!(t, "\nseeded runner: {runner:.0} cases/s on one core (swarm config, engines {})", names.join(","));
    let mem: Vec<String> = mem
        .iter()
        .map(|(n, b)| format!("{n} {}", b.map_or("? B/insn".to_string(), |b| format!("{b:.0} B/insn"))))
        .collect();
    let _ = writeln!(t, "memory at 1M insns: {}", mem.join(", "));
    t
}

/// A log-log SVG of W2: time against program size, both patchers.
pub fn plot(rows: &[Row]) -> String {
    let pts: Vec<&Row> = rows.iter().filter(|r| r.workload.starts_with("W2")).collect();
    let (w, h, m) = (640.0, 420.0, 60.0);
    let (x0, x1) = (4.0f64, 6.2f64); // log10 insns
    let (y0, y1) = (-4.0f64, 4.0f64); // log10 seconds
    let px = |n: f64| m + (n.log10() - x0) / (x1 - x0) * (w - 2.0 * m);
    let py = |s: f64| h - m - (s.max(1e-4).log10() - y0) / (y1 - y0) * (h - 2.0 * m);
    let mut svg = format!("<svg xmlns='http://www.w3.org/2000/svg' width='{w}' height='{h}' font-family='sans-serif' font-size='12'>\n<rect width='100%' height='100%' fill='white'/>\n");
    let _ = writeln!(svg, "<line x1='{m}' y1='{}' x2='{}' y2='{}' stroke='black'/><line x1='{m}' y1='{m}' x2='{m}' y2='{}' stroke='black'/>", h - m, w - m, h - m, h - m);
    for e in 4..=6 {
        let x = px(10f64.powi(e));
        let _ = writeln!(svg, "<text x='{x}' y='{}' text-anchor='middle'>1e{e}</text>", h - m + 18.0);
    }
    for e in -4..=4 {
        let y = py(10f64.powi(e));
        let _ = writeln!(svg, "<text x='{}' y='{y}' text-anchor='end'>1e{e} s</text><line x1='{m}' x2='{}' y1='{y}' y2='{y}' stroke='#eee'/>", m - 6.0, w - m);
    }
    let _ = writeln!(
        svg,
        "<text x='{}' y='{}' text-anchor='middle'>instructions (one 1→2 patch each)</text>",
        w / 2.0,
        h - 15.0
    );
    const COLORS: [&str; 6] = ["#c0392b", "#2471a3", "#1e8449", "#7d3c98", "#b9770e", "#566573"];
    let names: Vec<String> = pts.first().map_or(Vec::new(), |r| r.engines.iter().map(|e| e.engine.clone()).collect());
    for (j, name) in names.iter().enumerate() {
        let color = COLORS[j % COLORS.len()];
        let at = |r: &Row| r.engines.get(j).map_or((0.0, false), |e| (e.seconds, e.extrapolated));
        let path: Vec<String> = pts.iter().map(|r| format!("{:.1},{:.1}", px(r.insns as f64), py(at(r).0))).collect();
        let _ = writeln!(svg, "<polyline fill='none' stroke='{color}' stroke-width='2' points='{}'/>", path.join(" "));
        for r in &pts {
            let (s, hollow) = at(r);
            let _ = writeln!(
                svg,
                "<circle cx='{:.1}' cy='{:.1}' r='4' fill='{}' stroke='{color}'/>",
                px(r.insns as f64),
                py(s),
                if hollow { "white" } else { color }
            );
        }
        let _ = writeln!(
            svg,
            "<text x='{}' y='{}' fill='{color}'>{name}{}</text>",
            w - m - 150.0,
            m + 16.0 * j as f64,
            if j == 0 { " (hollow: extrapolated)" } else { "" }
        );
    }
    svg += "</svg>\n";
    svg
}

/// Entry point of the subcommand.
pub fn cmd(engines: &EngineSet, quick: bool, json: bool, plot_to: Option<&Path>) -> Result<i32, String> {
    // Engines that can crash run here too: timing them in a child would time the child.
    let rows = rows(engines, quick, |r| {
        if !json {
            let t: Vec<String> = r
                .engines
                .iter()
                .map(|e| format!("{} {:.3}s{}", e.engine, e.seconds, if e.extrapolated { " extrapolated" } else { "" }))
                .collect();
            eprintln!("  done: {} ({})", r.workload, t.join(", "));
        }
    })?;
    let runner = runner_rate(engines, quick);
    let mem = bytes_per_insn(engines, 1_000_000);
    let alone = if engines.names().iter().any(|n| n == "c") { c_alone(quick) } else { None };
    if let Some(p) = plot_to {
        std::fs::write(p, plot(&rows)).map_err(|e| format!("{}: {e}", p.display()))?;
    }
    if json {
        let per: serde_json::Map<String, serde_json::Value> =
            mem.iter().map(|(n, b)| (n.clone(), serde_json::json!(b))).collect();
        let v = serde_json::json!({ "kind": "bench", "version": 1, "engines": engines.names(), "rows": rows,
            "runner_cases_per_sec_per_core": runner, "bytes_per_insn_1m": per, "c_alone": alone });
        crate::cli::sayln(&serde_json::to_string_pretty(&v).map_err(|e| e.to_string())?);
    } else {
        crate::cli::say(&table(&rows, runner, &mem));
        if let Some(a) = &alone {
            crate::cli::sayln(&format!("C list patcher alone (kernel API, no harness; c/bench/w2.c, best of 3): {a}"));
        }
    }
    Ok(0)
}
