//! The one module that talks to C: engines behind the engine ABI
//! (`include/patch_equiv_engine.h`, `docs/engine-abi.md`). The kernel-style C
//! list patcher (`c/`) is linked into the crate as the `c` engine; any shared
//! object exporting the ABI's entry point is a `lib:PATH` engine. Both give a
//! `CPatcher`, which implements `Patcher` like the Rust patchers.
//!
//! Every `unsafe` block of the crate's engine code is here, each with its
//! `SAFETY:` argument. The tests of this module are skipped under miri (it
//! cannot run foreign code).

use super::Engine;
use crate::insn::Insn;
use crate::patcher::{PatchError, Patcher};
use crate::program::{Aux, FuncInfo, LineInfo, Program, Subprog};
use std::ffi::{c_char, CStr};
use std::path::{Path, PathBuf};
use std::ptr::NonNull;
use std::sync::Arc;

/// The ABI version this module speaks (`PE_ENGINE_ABI_VERSION`).
pub const ABI_VERSION: u32 = 1;
/// The symbol an engine library exports (`PE_ENGINE_ENTRY`).
pub const ENTRY: &str = "patch_equiv_engine_v1";

/// Where `build.rs` put the shared objects it built from `c/`.
pub const LIB_DIR: &str = env!("PATCH_EQUIV_C_LIB_DIR");

/// Planted faults of the C patcher (`BPF_PATCHER_PLANT`), each built into
/// its own shared object: (name, what it breaks, the table a divergence shows
/// first, or `None` for a crash).
pub const C_PLANTS: [(&str, &str, Option<&str>); 4] = [
    ("linfo-first-inherits", "removal lets the first removed line-info record inherit, not the last", Some("linfo")),
    ("probe-skips-later-branches", "the -ERANGE probe ignores branches after the patched slot", Some("result")),
    ("aux-stays-first", "the original aux entry stays on the first patchlet slot", Some("aux")),
    ("jmp-off-crash", "adjust_jmp_off dereferences an empty incoming list (a segfault)", None),
];

/// The `c` engine: the kernel-style C list patcher linked into this binary.
pub fn c_engine() -> Result<Box<dyn Engine>, String> {
    Ok(Box::new(CEngine::builtin()))
}

/// A `lib:PATH` engine: any shared object implementing the ABI.
pub fn lib_engine(path: &Path) -> Result<Box<dyn Engine>, String> {
    Ok(Box::new(CEngine::load(path)?))
}

/// The `c` engine with planted fault `name` (its shared object, built by
/// build.rs with `BPF_PATCHER_PLANT`); it keeps the name `c`, the reproduce
/// command carries `--plant`.
pub fn c_planted(name: &str) -> Result<Box<dyn Engine>, String> {
    let mut e = CEngine::load(&plant_lib(name))?;
    e.name = "c".to_string();
    Ok(Box::new(e))
}

impl Engine for CEngine {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn load(&self, prog: Program) -> Result<Box<dyn Patcher>, String> {
        match self.instantiate(&prog) {
            Ok(p) => Ok(Box::new(p)),
            Err(e) => Err(format!("engine {}: {e}", self.name)),
        }
    }

    /// Foreign code: a segfault or a sanitizer report ends the process, so
    /// the harness runs C engines in child processes.
    fn can_crash(&self) -> bool {
        true
    }
}

/// The clean C patcher as a shared object (what `--engines lib:PATH` loads).
pub fn clean_lib() -> PathBuf {
    Path::new(LIB_DIR).join("libbpf_patcher.so")
}

/// The shared object of planted fault `name` (one of `C_PLANTS`).
pub fn plant_lib(name: &str) -> PathBuf {
    Path::new(LIB_DIR).join(format!("libbpf_patcher-plant-{name}.so"))
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct PeInsn {
    code: u8,
    regs: u8,
    off: i16,
    imm: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct PeAux {
    orig_idx: u32,
    seen: u32,
    zext_dst: u8,
    pad: [u8; 7],
    token: u64,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct PeSubprog {
    start: u32,
    linfo_idx: u32,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct PeLineInfo {
    insn_off: u32,
    file_name_off: u32,
    line_off: u32,
    line_col: u32,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct PeFuncInfo {
    insn_off: u32,
    type_id: u32,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct PeProg {
    len: u32,
    subprog_cnt: u32,
    hidden_subprog_cnt: u32,
    nr_linfo: u32,
    has_func_info: u32,
    func_info_cnt: u32,
    func_info_aux_cnt: u32,
    poke_cnt: u32,
    insn_array_cnt: u32,
    insn_array_total: u32,
    insns: *mut PeInsn,
    aux: *mut PeAux,
    subprogs: *mut PeSubprog,
    linfo: *mut PeLineInfo,
    func_info: *mut PeFuncInfo,
    func_info_aux: *mut u32,
    pokes: *mut u32,
    insn_array_lens: *mut u32,
    insn_array_vals: *mut u32,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct PeError {
    code: i32,
    reserved: u32,
    a: i64,
    b: i64,
    c: i64,
    d: i64,
}

/// An engine instance, opaque here.
#[repr(C)]
struct PeEngine {
    _opaque: [u8; 0],
}

type CreateFn = unsafe extern "C" fn(*const PeProg, *mut PeError) -> *mut PeEngine;
type DestroyFn = unsafe extern "C" fn(*mut PeEngine);
type PatchFn = unsafe extern "C" fn(*mut PeEngine, u32, *const PeInsn, u32, *mut PeError) -> i32;
type RemoveFn = unsafe extern "C" fn(*mut PeEngine, u32, u32, *mut PeError) -> i32;
type SetFn = unsafe extern "C" fn(*mut PeEngine, u32, *const PeInsn, *mut PeError) -> i32;
type HiddenFn = unsafe extern "C" fn(*mut PeEngine, *const PeInsn, u32, *mut PeError) -> i32;
type JmpOffFn = unsafe extern "C" fn(*mut PeEngine, u32, u32, *mut PeError) -> i32;
type LenFn = unsafe extern "C" fn(*mut PeEngine) -> u32;
type InsnFn = unsafe extern "C" fn(*mut PeEngine, u32, *mut PeInsn) -> i32;
type AuxFn = unsafe extern "C" fn(*mut PeEngine, u32, *mut PeAux) -> i32;
type ProgFn = unsafe extern "C" fn(*mut PeEngine, *mut PeProg) -> i32;
type MemFn = unsafe extern "C" fn(*mut PeEngine) -> u64;

/// `struct pe_engine_ops` as the engine hands it over (any entry may be NULL).
#[repr(C)]
struct PeEngineOps {
    abi_version: u32,
    size: u32,
    name: *const c_char,
    create: Option<CreateFn>,
    destroy: Option<DestroyFn>,
    patch: Option<PatchFn>,
    remove: Option<RemoveFn>,
    set: Option<SetFn>,
    add_hidden_subprog: Option<HiddenFn>,
    adjust_jmp_off: Option<JmpOffFn>,
    len: Option<LenFn>,
    insn: Option<InsnFn>,
    aux: Option<AuxFn>,
    sizes: Option<ProgFn>,
    snapshot: Option<ProgFn>,
    /// Optional: tables may end before it.
    memory_bytes: Option<MemFn>,
}

/// The size of a version-1 table without its optional tail.
const REQUIRED_OPS_SIZE: usize = std::mem::offset_of!(PeEngineOps, memory_bytes);

/// The operations of one engine, checked to be all present.
#[derive(Clone, Copy)]
struct Ops {
    create: CreateFn,
    destroy: DestroyFn,
    patch: PatchFn,
    remove: RemoveFn,
    set: SetFn,
    add_hidden_subprog: HiddenFn,
    adjust_jmp_off: JmpOffFn,
    len: LenFn,
    insn: InsnFn,
    aux: AuxFn,
    sizes: ProgFn,
    snapshot: ProgFn,
    memory_bytes: Option<MemFn>,
}

extern "C" {
    /// The entry point of the C patcher linked into the crate (`c/pe_engine.c`).
    fn patch_equiv_engine_v1() -> *const PeEngineOps;
}

/// A C engine: its checked operations, its name, and (for `lib:`) the library
/// that must stay loaded while any of its instances lives.
#[derive(Clone)]
pub struct CEngine {
    ops: Ops,
    name: String,
    description: String,
    lib: Option<Arc<libloading::Library>>,
}

impl std::fmt::Debug for CEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CEngine({})", self.name)
    }
}

/// Check an ops table and copy its operations out.
fn checked_ops(table: *const PeEngineOps, origin: &str) -> Result<(Ops, String), String> {
    if table.is_null() {
        return Err(format!("{origin}: {ENTRY}() returned NULL"));
    }
    // SAFETY: `table` is non-null and, by the ABI, points at a `struct
    // pe_engine_ops` that lives as long as the engine's code is loaded; the
    // first two fields are read before anything else to check that the
    // engine's table holds every member this module reads.
    let (version, size) = unsafe { ((*table).abi_version, (*table).size) };
    if version != ABI_VERSION {
        return Err(format!("{origin}: engine ABI version {version}, this harness speaks {ABI_VERSION}"));
    }
    if (size as usize) < REQUIRED_OPS_SIZE {
        return Err(format!(
            "{origin}: engine ops table is {size} bytes, version {ABI_VERSION} needs at least {REQUIRED_OPS_SIZE}"
        ));
    }
    // A copy of the members the table has; the optional tail stays NULL when
    // an older table ends before it.
    let n = (size as usize).min(std::mem::size_of::<PeEngineOps>());
    // SAFETY: all-zero bits are a valid `PeEngineOps` (integers, a null
    // pointer, `None` function pointers).
    let mut copy: PeEngineOps = unsafe { std::mem::zeroed() };
    // SAFETY: the checks above say `table` holds at least `n` bytes of the
    // table; `copy` has room for them; the two do not overlap.
    unsafe { std::ptr::copy_nonoverlapping(table.cast::<u8>(), (&mut copy as *mut PeEngineOps).cast::<u8>(), n) };
    let t = &copy;
    let memory_bytes = t.memory_bytes;
    let missing = |n: &str| format!("{origin}: engine ops table has no `{n}`");
    let ops = Ops {
        create: t.create.ok_or_else(|| missing("create"))?,
        destroy: t.destroy.ok_or_else(|| missing("destroy"))?,
        patch: t.patch.ok_or_else(|| missing("patch"))?,
        remove: t.remove.ok_or_else(|| missing("remove"))?,
        set: t.set.ok_or_else(|| missing("set"))?,
        add_hidden_subprog: t.add_hidden_subprog.ok_or_else(|| missing("add_hidden_subprog"))?,
        adjust_jmp_off: t.adjust_jmp_off.ok_or_else(|| missing("adjust_jmp_off"))?,
        len: t.len.ok_or_else(|| missing("len"))?,
        insn: t.insn.ok_or_else(|| missing("insn"))?,
        aux: t.aux.ok_or_else(|| missing("aux"))?,
        sizes: t.sizes.ok_or_else(|| missing("sizes"))?,
        snapshot: t.snapshot.ok_or_else(|| missing("snapshot"))?,
        memory_bytes,
    };
    let description = if t.name.is_null() {
        String::new()
    } else {
        // SAFETY: a non-null `name` is, by the ABI, a NUL-terminated string
        // with the table's lifetime; it is copied at once.
        unsafe { CStr::from_ptr(t.name) }.to_string_lossy().into_owned()
    };
    Ok((ops, description))
}

impl CEngine {
    /// The kernel-style C list patcher linked into this binary.
    pub fn builtin() -> CEngine {
        // SAFETY: `patch_equiv_engine_v1` is defined in c/pe_engine.c, which
        // build.rs compiles and links into the crate; it takes no arguments
        // and returns a pointer to a static table.
        let table = unsafe { patch_equiv_engine_v1() };
        let (ops, description) = checked_ops(table, "c").expect("the built-in C engine implements the ABI");
        CEngine { ops, name: "c".into(), description, lib: None }
    }

    /// An engine from a shared object that exports `patch_equiv_engine_v1`.
    pub fn load(path: &Path) -> Result<CEngine, String> {
        let origin = path.display().to_string();
        // SAFETY: loading a library runs its initialisers; the user named this
        // file as an engine implementing the ABI, which is what it is for.
        let lib = unsafe { libloading::Library::new(path) }.map_err(|e| format!("{origin}: {e}"))?;
        let table = {
            // SAFETY: the ABI fixes the symbol's type to `pe_engine_entry_fn`
            // (no arguments, returns a pointer to the ops table); the symbol
            // is called while `lib` is loaded.
            let entry = unsafe { lib.get::<unsafe extern "C" fn() -> *const PeEngineOps>(ENTRY.as_bytes()) }
                .map_err(|e| format!("{origin}: no `{ENTRY}`: {e}"))?;
            // SAFETY: as above: an ABI entry point, called with no arguments.
            unsafe { entry() }
        };
        let (ops, description) = checked_ops(table, &origin)?;
        Ok(CEngine { ops, name: format!("lib:{origin}"), description, lib: Some(Arc::new(lib)) })
    }

    /// `c`, or `lib:PATH`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What the engine calls itself (its ops table's `name`).
    pub fn description(&self) -> &str {
        &self.description
    }

    /// A new instance over `prog` (already validated).
    pub fn instantiate(&self, prog: &Program) -> Result<CPatcher, PatchError> {
        let mut buf = ProgBuf::from_program(prog);
        let raw = buf.as_raw();
        let mut err = PeError::default();
        // SAFETY: `raw` points into `buf`'s vectors, which outlive the call and
        // hold exactly the counts `raw` declares; the engine copies what it
        // needs and keeps no pointer into them (ABI: create). `err` is a valid
        // out-parameter.
        let eng = unsafe { (self.ops.create)(&raw, &mut err) };
        match NonNull::new(eng) {
            Some(eng) => Ok(CPatcher { ops: self.ops, eng, buf: Default::default(), _lib: self.lib.clone() }),
            None => Err(PatchError::EngineFailure { code: if err.code == 0 { -12 } else { err.code } }),
        }
    }
}

/// Owned arrays in the ABI's layout, for `create` (input) and `snapshot` (output).
#[derive(Default)]
struct ProgBuf {
    counts: Option<PeProg>,
    insns: Vec<PeInsn>,
    aux: Vec<PeAux>,
    subprogs: Vec<PeSubprog>,
    linfo: Vec<PeLineInfo>,
    func_info: Vec<PeFuncInfo>,
    func_info_aux: Vec<u32>,
    pokes: Vec<u32>,
    insn_array_lens: Vec<u32>,
    insn_array_vals: Vec<u32>,
    has_func_info: bool,
    hidden_subprog_cnt: u32,
}

fn to_pe_insn(i: &Insn) -> PeInsn {
    PeInsn { code: i.code, regs: (i.dst & 0xf) | (i.src << 4), off: i.off, imm: i.imm }
}

fn from_pe_insn(i: &PeInsn) -> Insn {
    Insn { code: i.code, dst: i.regs & 0xf, src: i.regs >> 4, off: i.off, imm: i.imm }
}

fn from_pe_aux(a: &PeAux) -> Aux {
    Aux { orig_idx: a.orig_idx, seen: a.seen, zext_dst: a.zext_dst != 0, token: a.token }
}

/// Counts as the ABI's u32; programs are capped far below (1M insns).
fn n32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl ProgBuf {
    fn from_program(p: &Program) -> ProgBuf {
        ProgBuf {
            counts: None,
            insns: p.insns.iter().map(to_pe_insn).collect(),
            aux: p
                .aux
                .iter()
                .map(|a| PeAux {
                    orig_idx: a.orig_idx,
                    seen: a.seen,
                    zext_dst: a.zext_dst as u8,
                    pad: [0; 7],
                    token: a.token,
                })
                .collect(),
            subprogs: p.subprogs.iter().map(|s| PeSubprog { start: s.start, linfo_idx: s.linfo_idx }).collect(),
            linfo: p
                .linfo
                .iter()
                .map(|l| PeLineInfo {
                    insn_off: l.insn_off,
                    file_name_off: l.file_name_off,
                    line_off: l.line_off,
                    line_col: l.line_col,
                })
                .collect(),
            func_info: p
                .func_info
                .iter()
                .flatten()
                .map(|f| PeFuncInfo { insn_off: f.insn_off, type_id: f.type_id })
                .collect(),
            func_info_aux: p.func_info_aux.clone(),
            pokes: p.pokes.clone(),
            insn_array_lens: p.insn_arrays.iter().map(|m| n32(m.len())).collect(),
            insn_array_vals: p.insn_arrays.iter().flatten().copied().collect(),
            has_func_info: p.func_info.is_some(),
            hidden_subprog_cnt: p.hidden_subprog_cnt,
        }
    }

    /// Make these buffers hold exactly the counts an engine's `sizes`
    /// reported (reused from one snapshot to the next: the harness takes many).
    fn fit(&mut self, c: &PeProg) {
        self.counts = Some(*c);
        self.insns.resize(c.len as usize, PeInsn::default());
        self.aux.resize(c.len as usize, PeAux::default());
        self.subprogs.resize(c.subprog_cnt as usize + 1, PeSubprog::default());
        self.linfo.resize(c.nr_linfo as usize, PeLineInfo::default());
        self.func_info.resize(c.func_info_cnt as usize, PeFuncInfo::default());
        self.func_info_aux.resize(c.func_info_aux_cnt as usize, 0);
        self.pokes.resize(c.poke_cnt as usize, 0);
        self.insn_array_lens.resize(c.insn_array_cnt as usize, 0);
        self.insn_array_vals.resize(c.insn_array_total as usize, 0);
        self.has_func_info = c.has_func_info != 0;
        self.hidden_subprog_cnt = c.hidden_subprog_cnt;
    }

    /// The `pe_prog` view of these buffers (valid while `self` is not touched).
    fn as_raw(&mut self) -> PeProg {
        PeProg {
            len: n32(self.insns.len()),
            subprog_cnt: n32(self.subprogs.len().saturating_sub(1)),
            hidden_subprog_cnt: self.hidden_subprog_cnt,
            nr_linfo: n32(self.linfo.len()),
            has_func_info: self.has_func_info as u32,
            func_info_cnt: n32(self.func_info.len()),
            func_info_aux_cnt: n32(self.func_info_aux.len()),
            poke_cnt: n32(self.pokes.len()),
            insn_array_cnt: n32(self.insn_array_lens.len()),
            insn_array_total: n32(self.insn_array_vals.len()),
            insns: self.insns.as_mut_ptr(),
            aux: self.aux.as_mut_ptr(),
            subprogs: self.subprogs.as_mut_ptr(),
            linfo: self.linfo.as_mut_ptr(),
            func_info: self.func_info.as_mut_ptr(),
            func_info_aux: self.func_info_aux.as_mut_ptr(),
            pokes: self.pokes.as_mut_ptr(),
            insn_array_lens: self.insn_array_lens.as_mut_ptr(),
            insn_array_vals: self.insn_array_vals.as_mut_ptr(),
        }
    }

    /// The program a snapshot wrote (`got` is what the engine says it wrote,
    /// checked against what `sizes` announced).
    fn program(&self, got: &PeProg) -> Option<Program> {
        let want = self.counts?;
        if got.len != want.len
            || got.subprog_cnt != want.subprog_cnt
            || got.nr_linfo != want.nr_linfo
            || got.func_info_cnt != want.func_info_cnt
            || got.insn_array_cnt != want.insn_array_cnt
            || got.insn_array_total != want.insn_array_total
        {
            return None;
        }
        let mut insn_arrays = Vec::with_capacity(self.insn_array_lens.len());
        let mut at = 0usize;
        for &n in &self.insn_array_lens {
            let end = at.checked_add(n as usize).filter(|&e| e <= self.insn_array_vals.len())?;
            insn_arrays.push(self.insn_array_vals[at..end].to_vec());
            at = end;
        }
        Some(Program {
            insns: self.insns.iter().map(from_pe_insn).collect(),
            aux: self.aux.iter().map(from_pe_aux).collect(),
            subprogs: self.subprogs.iter().map(|s| Subprog { start: s.start, linfo_idx: s.linfo_idx }).collect(),
            hidden_subprog_cnt: got.hidden_subprog_cnt,
            linfo: self
                .linfo
                .iter()
                .map(|l| LineInfo {
                    insn_off: l.insn_off,
                    file_name_off: l.file_name_off,
                    line_off: l.line_off,
                    line_col: l.line_col,
                })
                .collect(),
            func_info: self.has_func_info.then(|| {
                self.func_info.iter().map(|f| FuncInfo { insn_off: f.insn_off, type_id: f.type_id }).collect()
            }),
            func_info_aux: self.func_info_aux.clone(),
            pokes: self.pokes.clone(),
            insn_arrays,
        })
    }
}

/// One instance of a C engine: a program under rewrite.
pub struct CPatcher {
    ops: Ops,
    eng: NonNull<PeEngine>,
    /// Snapshot buffers, kept from one snapshot to the next.
    buf: std::cell::RefCell<ProgBuf>,
    /// Keeps a `lib:` engine's code loaded while the instance lives.
    _lib: Option<Arc<libloading::Library>>,
}

/// The `PatchError` an engine's `pe_error` stands for.
fn to_patch_error(e: &PeError) -> PatchError {
    let u = |v: i64| usize::try_from(v).unwrap_or(usize::MAX);
    match e.code {
        -34 => PatchError::Range { insn: u(e.a), orig_idx: e.b as u32 },
        -14 => PatchError::Fault,
        1 => PatchError::EmptyPatch,
        2 => PatchError::OffOutOfRange { off: u(e.a), len: u(e.b) },
        3 => PatchError::RangeOutOfProgram { off: u(e.a), cnt: u(e.b), len: u(e.c) },
        4 => PatchError::TargetOutOfProgram { insn: u(e.a), target: e.b, len: u(e.c) },
        5 => PatchError::ProbePastEnd { off: u(e.a) },
        6 => PatchError::JmpOffOutOfRange { tgt: u(e.a), delta: e.b as u32, len: u(e.c) },
        7 => PatchError::CutsSubprog { subprog: u(e.a), start: u(e.b), off: u(e.c), cnt: u(e.d) },
        code => PatchError::EngineFailure { code },
    }
}

/// The result of an operation from its return code and `pe_error`.
fn result(ret: i32, err: &PeError) -> Result<(), PatchError> {
    match ret {
        0 => Ok(()),
        code if err.code == code => Err(to_patch_error(err)),
        code => Err(PatchError::EngineFailure { code }),
    }
}

impl CPatcher {
    fn ptr(&self) -> *mut PeEngine {
        self.eng.as_ptr()
    }

    /// `insns` in the ABI's layout: on the stack for the verifier's patch
    /// sizes (at most 32), on the heap beyond.
    fn with_pe_insns<R>(insns: &[Insn], f: impl FnOnce(&[PeInsn]) -> R) -> R {
        if insns.len() <= 32 {
            let mut buf = [PeInsn::default(); 32];
            for (b, i) in buf.iter_mut().zip(insns) {
                *b = to_pe_insn(i);
            }
            f(&buf[..insns.len()])
        } else {
            f(&insns.iter().map(to_pe_insn).collect::<Vec<_>>())
        }
    }
}

impl Drop for CPatcher {
    fn drop(&mut self) {
        // SAFETY: `eng` came from this engine's `create` and is destroyed once,
        // here; the library holding `destroy` is still loaded (`_lib` drops after).
        unsafe { (self.ops.destroy)(self.ptr()) }
    }
}

impl Patcher for CPatcher {
    fn from_valid(prog: Program) -> Self {
        CEngine::builtin().instantiate(&prog).expect("the C engine could not allocate the program")
    }

    fn patch(&mut self, off: usize, insns: &[Insn]) -> Result<(), PatchError> {
        let len = self.len();
        let Ok(off32) = u32::try_from(off) else {
            return Err(if insns.is_empty() { PatchError::EmptyPatch } else { PatchError::OffOutOfRange { off, len } });
        };
        let mut err = PeError::default();
        let ret = Self::with_pe_insns(insns, |v| {
            // SAFETY: `eng` is a live instance used by this thread only (`&mut
            // self`); `v` holds `v.len()` instructions for the duration of the
            // call; `err` is a valid out-parameter.
            unsafe { (self.ops.patch)(self.ptr(), off32, v.as_ptr(), n32(v.len()), &mut err) }
        });
        result(ret, &err)
    }

    fn remove(&mut self, off: usize, cnt: usize) -> Result<(), PatchError> {
        let len = self.len();
        let (Ok(off32), Ok(cnt32)) = (u32::try_from(off), u32::try_from(cnt)) else {
            return Err(PatchError::RangeOutOfProgram { off, cnt, len });
        };
        let mut err = PeError::default();
        // SAFETY: a live instance used by this thread only; `err` is valid.
        let ret = unsafe { (self.ops.remove)(self.ptr(), off32, cnt32, &mut err) };
        result(ret, &err)
    }

    fn set(&mut self, off: usize, insn: Insn) -> Result<(), PatchError> {
        let len = self.len();
        let Ok(off32) = u32::try_from(off) else {
            return Err(PatchError::OffOutOfRange { off, len });
        };
        let v = to_pe_insn(&insn);
        let mut err = PeError::default();
        // SAFETY: a live instance used by this thread only; `v` and `err` live
        // across the call.
        let ret = unsafe { (self.ops.set)(self.ptr(), off32, &v, &mut err) };
        result(ret, &err)
    }

    fn add_hidden_subprog(&mut self, insns: &[Insn]) -> Result<(), PatchError> {
        let mut err = PeError::default();
        let ret = Self::with_pe_insns(insns, |v| {
            // SAFETY: a live instance used by this thread only; `v` holds
            // `v.len()` instructions for the call; `err` is valid.
            unsafe { (self.ops.add_hidden_subprog)(self.ptr(), v.as_ptr(), n32(v.len()), &mut err) }
        });
        result(ret, &err)
    }

    fn adjust_jmp_off(&mut self, tgt: usize, delta: u32) -> Result<(), PatchError> {
        let len = self.len();
        let Ok(tgt32) = u32::try_from(tgt) else {
            return Err(PatchError::JmpOffOutOfRange { tgt, delta, len });
        };
        let mut err = PeError::default();
        // SAFETY: a live instance used by this thread only; `err` is valid.
        let ret = unsafe { (self.ops.adjust_jmp_off)(self.ptr(), tgt32, delta, &mut err) };
        result(ret, &err)
    }

    fn len(&self) -> usize {
        // SAFETY: a live instance; CPatcher is not Sync, so no other thread
        // calls into it at the same time.
        unsafe { (self.ops.len)(self.ptr()) as usize }
    }

    fn insn(&self, i: usize) -> Option<Insn> {
        let i = u32::try_from(i).ok()?;
        let mut out = PeInsn::default();
        // SAFETY: a live instance, one thread at a time (not Sync); `out` is a
        // valid out-parameter.
        let ret = unsafe { (self.ops.insn)(self.ptr(), i, &mut out) };
        (ret == 0).then(|| from_pe_insn(&out))
    }

    fn aux(&self, i: usize) -> Option<Aux> {
        let i = u32::try_from(i).ok()?;
        let mut out = PeAux::default();
        // SAFETY: as for `insn`.
        let ret = unsafe { (self.ops.aux)(self.ptr(), i, &mut out) };
        (ret == 0).then(|| from_pe_aux(&out))
    }

    fn into_program(self) -> Program {
        self.snapshot()
    }

    fn snapshot(&self) -> Program {
        self.try_snapshot().unwrap_or_default()
    }

    fn memory_bytes(&self) -> Option<usize> {
        let f = self.ops.memory_bytes?;
        // SAFETY: a live instance, one thread at a time (not Sync); the engine
        // only reports its allocations.
        Some(unsafe { f(self.ptr()) } as usize)
    }
}

impl CPatcher {
    /// Linearize into fresh buffers; `None` when the engine fails or writes
    /// other counts than it announced (the comparison then shows an empty
    /// program, a divergence).
    pub fn try_snapshot(&self) -> Option<Program> {
        let mut counts = PeProg {
            len: 0,
            subprog_cnt: 0,
            hidden_subprog_cnt: 0,
            nr_linfo: 0,
            has_func_info: 0,
            func_info_cnt: 0,
            func_info_aux_cnt: 0,
            poke_cnt: 0,
            insn_array_cnt: 0,
            insn_array_total: 0,
            insns: std::ptr::null_mut(),
            aux: std::ptr::null_mut(),
            subprogs: std::ptr::null_mut(),
            linfo: std::ptr::null_mut(),
            func_info: std::ptr::null_mut(),
            func_info_aux: std::ptr::null_mut(),
            pokes: std::ptr::null_mut(),
            insn_array_lens: std::ptr::null_mut(),
            insn_array_vals: std::ptr::null_mut(),
        };
        // SAFETY: a live instance, one thread at a time; `sizes` writes only
        // the count fields of `counts`.
        if unsafe { (self.ops.sizes)(self.ptr(), &mut counts) } != 0 {
            return None;
        }
        let mut buf = self.buf.borrow_mut();
        buf.fit(&counts);
        let mut raw = buf.as_raw();
        // SAFETY: every pointer in `raw` points at a vector of `buf` with
        // exactly the length its count field declares (the subprog array has
        // subprog_cnt + 1 entries); `buf` is borrowed and not touched until the
        // call returns.
        if unsafe { (self.ops.snapshot)(self.ptr(), &mut raw) } != 0 {
            return None;
        }
        buf.program(&raw)
    }
}

#[cfg(all(test, not(miri)))]
mod tests {
    use super::*;
    use crate::patcher::ArrayPatcher;

    #[test]
    fn builtin_engine_round_trips_a_program() {
        let p = crate::bench::workload_program(3000, 7);
        let c = CEngine::builtin().instantiate(&p).unwrap();
        assert_eq!(c.len(), p.len());
        assert_eq!(c.snapshot(), p);
        for i in [0, 1, 1500, 2999] {
            assert_eq!(c.insn(i), Some(p.insns[i]));
            assert_eq!(c.aux(i), Some(p.aux[i]));
        }
        assert_eq!(c.insn(3000), None);
    }

    #[test]
    fn lib_engine_loads_the_built_shared_object() {
        let e = CEngine::load(&clean_lib()).unwrap();
        assert!(e.name().starts_with("lib:"), "{}", e.name());
        let p = crate::bench::workload_program(500, 3);
        let mut c = e.instantiate(&p).unwrap();
        let mut a = ArrayPatcher::new(p.clone()).unwrap();
        let v = [crate::insn::build::mov64_imm(1, 1), crate::insn::build::mov64_imm(2, 2)];
        assert_eq!(c.patch(10, &v), a.patch(10, &v));
        assert_eq!(c.snapshot(), a.snapshot());
    }

    #[test]
    fn loading_a_file_that_is_no_engine_is_an_error() {
        let err = CEngine::load(Path::new("/nonexistent/engine.so")).unwrap_err();
        assert!(err.contains("/nonexistent/engine.so"), "{err}");
    }
}
