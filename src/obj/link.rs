//! What libbpf does to a program's code before `BPF_PROG_LOAD`
//! (tools/lib/bpf/libbpf.c, `bpf_object__relocate_calls` and
//! `bpf_object__reloc_code`): the program's own instructions first, then each
//! `.text` subprog it uses appended at the end the first time a call or a
//! subprog address reaches it, processed depth-first (the caller is "put on
//! hold" while the appended subprog is relocated), every pseudo call and
//! pseudo func `imm` rewritten to the subprog's new position; func_info and
//! line_info of every appended piece copied along with their offsets turned
//! from clang's bytes into the kernel's instructions
//! (`adjust_prog_btf_ext_info`).

use super::btf_ext::BtfExt;
use super::elf::{Elf, Target, INSN_SZ};
use super::error::{malformed, unsupported, ObjError};
use crate::insn::{code, pseudo, Insn};
use crate::program::{FuncInfo, LineInfo, MAX_INSNS, MAX_SUBPROGS};
use std::collections::BTreeMap;

/// A main program with its subprogs appended.
#[derive(Clone, Debug, Default)]
pub struct Linked {
    pub insns: Vec<Insn>,
    /// Data relocations by instruction index of the linked program.
    pub relocs: BTreeMap<usize, Target>,
    /// `(function index in Elf::funcs, first instruction)` in append order.
    pub pieces: Vec<(usize, usize)>,
    pub func_info: Option<Vec<FuncInfo>>,
    pub line_info: Option<Vec<LineInfo>>,
    /// What libbpf would have warned about (missing func or line info).
    pub notes: Vec<String>,
}

/// `insn_is_subprog_call`.
fn is_subprog_call(i: &Insn) -> bool {
    i.code == code::CALL && i.src == pseudo::CALL && i.dst == 0 && i.off == 0
}

/// One function being relocated: which, where it was appended, next insn.
struct Frame {
    func: usize,
    base: usize,
    next: usize,
}

/// Link function `main` of `elf` into one program.
pub fn link(elf: &Elf, ext: Option<&BtfExt>, main: usize) -> Result<Linked, ObjError> {
    let mut out = Linked::default();
    let mut placed: Vec<Option<usize>> = vec![None; elf.funcs.len()];
    append(elf, ext, &mut out, &mut placed, main)?;
    let mut stack = vec![Frame { func: main, base: 0, next: 0 }];
    while let Some(top) = stack.last_mut() {
        let f = &elf.funcs[top.func];
        if top.next == f.len {
            stack.pop();
            continue;
        }
        let (i, base) = (top.next, top.base);
        top.next += 1;
        let at = base + i;
        let insn = out.insns[at];
        let relo = elf.code[&f.section].relocs.get(&(f.off + i));
        let text_relo = match relo {
            Some(Target::Text { sym_off }) => Some(*sym_off),
            _ => None,
        };
        let pfunc = insn.is_ld_imm64() && text_relo.is_some();
        if !is_subprog_call(&insn) && !pfunc {
            continue;
        }
        let where_ = || format!("'{}' insn {i}", f.name);
        // Kfunc calls are resolved with the data relocations.
        if matches!(relo, Some(Target::Extern { .. })) {
            continue;
        }
        let sub_insn = match (relo, text_relo) {
            (_, Some(sym_off)) if !pfunc => sym_off as i64 / INSN_SZ as i64 + insn.imm as i64 + 1,
            (_, Some(sym_off)) => {
                let bytes = sym_off as i64 + insn.imm as i64;
                if bytes < 0 || bytes % INSN_SZ as i64 != 0 {
                    return Err(malformed(format!("{}: subprog address {bytes} is not an instruction", where_())));
                }
                bytes / INSN_SZ as i64
            }
            (Some(t), None) => {
                return Err(malformed(format!("{}: call relocated against {t:?}", where_())));
            }
            (None, None) => {
                if Some(f.section) != elf.text {
                    return Err(unsupported(format!("{}: a call with no relocation outside .text", where_())));
                }
                (f.off + i) as i64 + insn.imm as i64 + 1
            }
        };
        let text = elf.text.ok_or_else(|| malformed(format!("{}: a subprog call but no .text section", where_())))?;
        let callee = usize::try_from(sub_insn)
            .ok()
            .and_then(|s| elf.func_at(text, s))
            .ok_or_else(|| malformed(format!("{}: no .text function starts at insn {sub_insn}", where_())))?;
        let start = match placed[callee] {
            Some(s) => s,
            None => {
                let s = append(elf, ext, &mut out, &mut placed, callee)?;
                stack.push(Frame { func: callee, base: s, next: 0 });
                s
            }
        };
        let slot = &mut out.insns[at];
        slot.imm = (start as i64 - at as i64 - 1) as i32;
        if pfunc {
            slot.src = pseudo::FUNC;
        }
    }
    Ok(out)
}

/// `bpf_object__append_subprog_code` + `reloc_prog_func_and_line_info`.
fn append(
    elf: &Elf,
    ext: Option<&BtfExt>,
    out: &mut Linked,
    placed: &mut [Option<usize>],
    func: usize,
) -> Result<usize, ObjError> {
    let f = &elf.funcs[func];
    let base = out.insns.len();
    if base + f.len > MAX_INSNS {
        return Err(unsupported(format!("linked program over {MAX_INSNS} instructions")));
    }
    if out.pieces.len() >= MAX_SUBPROGS {
        return Err(unsupported(format!("more than {MAX_SUBPROGS} subprogs")));
    }
    let sec = &elf.code[&f.section];
    out.insns.extend_from_slice(&sec.insns[f.off..f.off + f.len]);
    for (&k, t) in sec.relocs.range(f.off..f.off + f.len) {
        out.relocs.insert(base + k - f.off, t.clone());
    }
    out.pieces.push((func, base));
    placed[func] = Some(base);
    let main = out.pieces.len() == 1;
    if main {
        out.func_info = Some(Vec::new());
        out.line_info = Some(Vec::new());
    }
    let Some(info) = ext.map(|e| e.secs.get(&sec.name).cloned().unwrap_or_default()) else {
        out.func_info = None;
        out.line_info = None;
        return Ok(base);
    };
    let range = (f.off as u64)..(f.off + f.len) as u64;
    let moved = |off: u32| (off as u64 / INSN_SZ - f.off as u64 + base as u64) as u32;
    // func_info: one record per function, at its first instruction.
    let fi: Vec<FuncInfo> = info
        .func
        .iter()
        .filter(|r| range.contains(&(r.insn_off as u64 / INSN_SZ)))
        .map(|r| FuncInfo { insn_off: moved(r.insn_off), type_id: r.type_id })
        .collect();
    let li: Vec<LineInfo> = info
        .line
        .iter()
        .filter(|r| range.contains(&(r.insn_off as u64 / INSN_SZ)))
        .map(|r| LineInfo { insn_off: moved(r.insn_off), ..*r })
        .collect();
    extend_info(&mut out.func_info, fi, main, &f.name, "function", &mut out.notes)?;
    extend_info(&mut out.line_info, li, main, &f.name, "line", &mut out.notes)?;
    Ok(base)
}

/// libbpf's rule when a piece has no records: for the main program, drop
/// that kind of info altogether (a warning); for a subprog once the main
/// program had some, fail.
fn extend_info<T>(
    table: &mut Option<Vec<T>>,
    recs: Vec<T>,
    main: bool,
    name: &str,
    kind: &str,
    notes: &mut Vec<String>,
) -> Result<(), ObjError> {
    let Some(t) = table else { return Ok(()) };
    if recs.is_empty() {
        if main {
            notes.push(format!("no .BTF.ext {kind} info for '{name}': the program goes without {kind} info"));
            *table = None;
            return Ok(());
        }
        return Err(malformed(format!("missing .BTF.ext {kind} info for subprog '{name}'")));
    }
    t.extend(recs);
    Ok(())
}
