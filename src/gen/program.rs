//! Valid programs by construction: subprog sizes first, then each slot's kind,
//! then branch targets drawn from the legal set of the slot's subprog (never a
//! random offset repaired later), then liveness (`seen`) by walking the CFG.

use super::config::Config;
use crate::insn::build::*;
use crate::insn::{atomic, class, code, field, op, pseudo, Insn};
use crate::program::{Aux, FuncInfo, LineInfo, Program, Subprog};
use arbitrary::{Result, Unstructured};

/// The kind of a body slot, decided before targets are known.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Plain,
    CondJump,
    Ja,
    Gotol,
    MayGoto,
    Gotox,
    TailCall,
    Nop,
    LdImm64,
    PseudoFunc,
    Helper,
    Kfunc,
    PseudoCall,
}

/// Percent test. Exhausted input reads as 0, which is "no": a short fuzz
/// input must not turn every rare feature (e.g. a 40k-slot program) on.
pub(crate) fn pct(u: &mut Unstructured, p: u8) -> Result<bool> {
    Ok(p > 0 && u.int_in_range(0..=99u8)? >= 100 - p.min(100))
}

/// A general-purpose register (r0..r9).
pub(crate) fn reg(u: &mut Unstructured) -> Result<u8> {
    u.int_in_range(0..=9)
}

/// A non-branch, non-`ld_imm64` instruction covering every `insn_has_def32`
/// branch: ALU/ALU64 (incl. END and sign-extending MOV), LDX (MEM/MEMSX, all
/// sizes), ST, STX, atomics with and without a def, LD_ABS/IND.
pub(crate) fn plain(u: &mut Unstructured) -> Result<Insn> {
    let dst = reg(u)?;
    let src = reg(u)?;
    let imm: i32 = u.int_in_range(-64..=64)?;
    let size = *u.choose(&[field::B, field::H, field::W, field::DW])?;
    let alu_ops =
        [op::ADD, op::SUB, op::MUL, op::DIV, op::OR, op::AND, op::LSH, op::RSH, op::MOD, op::XOR, op::MOV, op::ARSH];
    Ok(match u.int_in_range(0..=13)? {
        0..=2 => alu64_imm(*u.choose(&alu_ops)?, dst, imm),
        3..=4 => alu32_imm(*u.choose(&alu_ops)?, dst, imm),
        5 => raw(class::ALU64 | *u.choose(&alu_ops)? | field::X, dst, src, 0, 0),
        6 => raw(class::ALU | *u.choose(&alu_ops)? | field::X, dst, src, 0, 0),
        7 => raw(class::ALU | op::END | *u.choose(&[field::K, field::X])?, dst, 0, 0, *u.choose(&[16, 32, 64])?),
        8 => raw(class::ALU64 | op::END, dst, 0, 0, *u.choose(&[16, 32, 64])?),
        9 => {
            let mode = *u.choose(&[field::MEM, field::MEM, field::MEMSX])?;
            let size = if mode == field::MEMSX { *u.choose(&[field::B, field::H, field::W])? } else { size };
            raw(class::LDX | size | mode, dst, *u.choose(&[1, 6, 10])?, -8 * u.int_in_range(0..=8)?, 0)
        }
        10 => st_mem(size, 10, -8 * u.int_in_range(1..=8)?, imm),
        11 => stx_mem(size, 10, src, -8 * u.int_in_range(1..=8)?),
        12 => {
            let aimm = *u.choose(&[
                0,
                op::OR as i32,
                atomic::FETCH,
                atomic::XCHG,
                atomic::CMPXCHG,
                op::AND as i32 | atomic::FETCH,
            ])?;
            let size = *u.choose(&[field::W, field::DW])?;
            raw(class::STX | size | field::ATOMIC, 10, src, -8 * u.int_in_range(1..=8)?, aimm)
        }
        _ => raw(
            class::LD | *u.choose(&[field::ABS, field::IND])? | *u.choose(&[field::B, field::H, field::W])?,
            0,
            src,
            0,
            imm,
        ),
    })
}

/// A conditional jump of either class, reg or imm form, with offset 0 (the
/// target is filled in later).
fn cond_jump(u: &mut Unstructured, jmp32: bool) -> Result<Insn> {
    let ops = [op::JEQ, op::JGT, op::JGE, op::JSET, op::JNE, op::JSGT, op::JSGE, op::JLT, op::JLE, op::JSLT, op::JSLE];
    let o = *u.choose(&ops)?;
    let cls = if jmp32 && u.ratio(1, 3)? { class::JMP32 } else { class::JMP };
    Ok(if u.arbitrary()? {
        raw(cls | o | field::X, reg(u)?, reg(u)?, 0, 0)
    } else {
        raw(cls | o | field::K, reg(u)?, 0, 0, u.int_in_range(-16..=16)?)
    })
}

/// What the op generator needs to know about a generated program.
#[derive(Clone, Debug, Default)]
pub struct ProgramInfo {
    /// Slots whose `seen` is 0 (removed by the dead-code passes).
    pub dead: usize,
    pub large: bool,
}

/// Slot ranges of each subprog: `starts[k]..starts[k+1]`.
fn split_sizes(u: &mut Unstructured, total: usize, n: usize) -> Result<Vec<usize>> {
    let mut sizes = vec![2usize; n];
    let mut left = total.saturating_sub(2 * n);
    for s in sizes.iter_mut() {
        let take = u.int_in_range(0..=left)?;
        *s += take;
        left -= take;
    }
    sizes[0] += left;
    Ok(sizes)
}

/// Generate a valid program.
pub fn generate(cfg: &Config, u: &mut Unstructured) -> Result<(Program, ProgramInfo)> {
    if pct(u, cfg.large_pct)? {
        return super::large::generate(u);
    }
    // With a high limit, sit right at it half of the time.
    let n_sub = if cfg.max_subprogs >= 200 && u.ratio(1, 2)? {
        cfg.max_subprogs - u.int_in_range(0..=2)?
    } else {
        u.int_in_range(1..=cfg.max_subprogs.max(1))?
    };
    // With a high limit, also sit near it half of the time.
    let lo = if cfg.max_insns >= 1024 && u.ratio(1, 2)? { cfg.max_insns * 3 / 4 } else { 0 };
    let total = u.int_in_range((2 * n_sub).max(lo)..=cfg.max_insns.max(2 * n_sub))?;
    let sizes = split_sizes(u, total, n_sub)?;
    let mut starts = vec![0usize];
    for s in &sizes {
        starts.push(starts.last().unwrap() + s);
    }
    let len = total;
    let mut kinds = vec![Kind::Plain; len];
    let mut tail_calls = 0;
    // Slot kinds, subprog by subprog; the last slot is the terminator.
    for k in 0..n_sub {
        let (s, e) = (starts[k], starts[k + 1]);
        let later = k + 1 < n_sub;
        let mut i = s;
        while i < e - 1 {
            let r = u.int_in_range(0..=99u8)?;
            let mut kind = Kind::Plain;
            let mut acc = cfg.jump_pct;
            if r < acc {
                kind = match u.int_in_range(0..=9)? {
                    0..=5 => Kind::CondJump,
                    6 => Kind::Ja,
                    7 if cfg.gotol => Kind::Gotol,
                    8 if cfg.may_goto => Kind::MayGoto,
                    9 if cfg.gotox => Kind::Gotox,
                    _ => Kind::CondJump,
                };
            } else if r < {
                acc += cfg.ld_imm64_pct;
                acc
            } {
                if i + 2 < e {
                    kind = if later && pct(u, cfg.pseudo_func_pct)? { Kind::PseudoFunc } else { Kind::LdImm64 };
                }
            } else if r < {
                acc += cfg.call_pct;
                acc
            } {
                kind = match u.int_in_range(0..=3)? {
                    0 | 1 if later => Kind::PseudoCall,
                    2 => Kind::Kfunc,
                    _ if tail_calls < cfg.max_tail_calls => {
                        tail_calls += 1;
                        Kind::TailCall
                    }
                    _ => Kind::Helper,
                };
            } else if r < acc.saturating_add(cfg.nop_pct) {
                kind = Kind::Nop;
            }
            kinds[i] = kind;
            i += if matches!(kind, Kind::LdImm64 | Kind::PseudoFunc) { 2 } else { 1 };
        }
    }
    // Every subprog but 0 is entered by a pseudo call or pseudo func from an
    // earlier subprog, when a plain slot is there to host it.
    let mut forced = vec![usize::MAX; len];
    for k in 1..n_sub {
        let referenced = (0..starts[k]).any(|i| matches!(kinds[i], Kind::PseudoCall | Kind::PseudoFunc));
        if !referenced {
            if let Some(i) = (0..starts[k])
                .find(|&i| kinds[i] == Kind::Plain && i + 1 != starts[sub_of(&starts, i) + 1] && !is_half(&kinds, i))
            {
                kinds[i] = Kind::PseudoCall;
                forced[i] = starts[k];
            }
        }
    }
    let mut insns = vec![Insn::default(); len];
    let mut pokes = Vec::new();
    for k in 0..n_sub {
        let (s, e) = (starts[k], starts[k + 1]);
        let mut i = s;
        while i < e {
            let legal = |u: &mut Unstructured| -> Result<usize> { pick_target(u, &kinds, s, e) };
            let rel = |t: usize, at: usize| t as i64 - at as i64 - 1;
            if i == e - 1 {
                insns[i] = match u.int_in_range(0..=5)? {
                    0 if e - s > 1 => ja(rel(legal(u)?, i) as i16),
                    1 if e - s > 1 && cfg.gotol => gotol(rel(legal(u)?, i) as i32),
                    _ => exit(),
                };
                break;
            }
            let callee = |u: &mut Unstructured| -> Result<usize> { Ok(starts[u.int_in_range(k + 1..=n_sub - 1)?]) };
            match kinds[i] {
                Kind::Plain => insns[i] = plain(u)?,
                Kind::CondJump => {
                    let t = legal(u)?;
                    let j = cond_jump(u, cfg.jmp32)?;
                    insns[i] = j.with_rel(crate::insn::BranchField::Off16, rel(t, i));
                }
                Kind::Ja => insns[i] = ja(rel(legal(u)?, i) as i16),
                Kind::Gotol => insns[i] = gotol(rel(legal(u)?, i) as i32),
                Kind::MayGoto => insns[i] = may_goto(rel(legal(u)?, i) as i16),
                Kind::Gotox => insns[i] = raw(code::GOTOX, reg(u)?, 0, 0, 0),
                Kind::TailCall => {
                    insns[i] = raw(code::TAIL_CALL, 0, 0, 0, pokes.len() as i32 + 1);
                    pokes.push(i as u32);
                }
                Kind::Nop => insns[i] = if u.ratio(1, 4)? { may_goto(0) } else { ja(0) },
                Kind::LdImm64 => {
                    let src = *u.choose(&[0, 0, pseudo::MAP_FD, pseudo::MAP_VALUE])?;
                    let v: u64 = u.arbitrary()?;
                    let pair = ld_imm64(reg(u)?, src, v);
                    insns[i] = pair[0];
                    insns[i + 1] = pair[1];
                    i += 1;
                }
                Kind::PseudoFunc => {
                    let t = callee(u)?;
                    let pair = ld_imm64(reg(u)?, pseudo::FUNC, 0);
                    insns[i] = Insn { imm: rel(t, i) as i32, ..pair[0] };
                    insns[i + 1] = pair[1];
                    i += 1;
                }
                Kind::Helper => insns[i] = call_helper(u.int_in_range(1..=211)?),
                Kind::Kfunc => insns[i] = call_kfunc(u.int_in_range(1..=100_000)?),
                Kind::PseudoCall => {
                    let t = if forced[i] != usize::MAX { forced[i] } else { callee(u)? };
                    insns[i] = call_rel(rel(t, i) as i32);
                }
            }
            i += 1;
        }
    }
    let mut prog = Program::from_insns(insns);
    prog.subprogs = starts.iter().map(|&s| Subprog { start: s as u32, linfo_idx: 0 }).collect();
    add_metadata(cfg, u, &mut prog, &starts, pokes)?;
    let dead = mark_seen(cfg, u, &mut prog)?;
    Ok((prog, ProgramInfo { dead, large: false }))
}

fn sub_of(starts: &[usize], i: usize) -> usize {
    starts.partition_point(|&s| s <= i) - 1
}

fn is_half(kinds: &[Kind], i: usize) -> bool {
    i > 0 && matches!(kinds[i - 1], Kind::LdImm64 | Kind::PseudoFunc)
}

/// A legal branch target in subprog `[s, e)`: any slot but a second half.
fn pick_target(u: &mut Unstructured, kinds: &[Kind], s: usize, e: usize) -> Result<usize> {
    let mut t = u.int_in_range(s..=e - 1)?;
    if is_half(kinds, t) {
        t -= 1;
    }
    Ok(t)
}

/// Line info (a record at every subprog start), func_info and insn arrays.
pub(crate) fn add_metadata(
    cfg: &Config,
    u: &mut Unstructured,
    prog: &mut Program,
    starts: &[usize],
    pokes: Vec<u32>,
) -> Result<()> {
    let len = prog.len();
    let half = Program::second_halves(&prog.insns);
    let n_sub = starts.len() - 1;
    if cfg.line_info {
        // Slot -> the first subprog starting there (a lookup, not a scan per slot).
        let mut subprog_at = vec![None; len];
        for (k, &s) in starts[..n_sub].iter().enumerate().rev() {
            subprog_at[s] = Some(k);
        }
        let mut line = 1u32;
        for (i, &in_pair) in half.iter().enumerate().take(len) {
            if in_pair {
                continue;
            }
            let at_start = subprog_at[i];
            if at_start.is_some() || pct(u, cfg.linfo_pct)? {
                if let Some(k) = at_start {
                    prog.subprogs[k].linfo_idx = prog.linfo.len() as u32;
                }
                line += u.int_in_range(1..=5)?;
                prog.linfo.push(LineInfo {
                    insn_off: i as u32,
                    file_name_off: u.int_in_range(0..=3)? * 17,
                    line_off: line * 7,
                    line_col: (line << 10) | u.int_in_range(0..=40)?,
                });
            }
        }
    }
    if cfg.func_info {
        prog.func_info =
            Some(starts[..n_sub].iter().map(|&s| FuncInfo { insn_off: s as u32, type_id: s as u32 * 3 + 1 }).collect());
        prog.func_info_aux = (0..n_sub as u32).map(|k| 100 + k).collect();
    }
    prog.pokes = pokes;
    let maps = u.int_in_range(0..=cfg.max_insn_arrays)?;
    for _ in 0..maps {
        let n = u.int_in_range(1..=6)?;
        let mut entries = Vec::with_capacity(n);
        for _ in 0..n {
            let mut t = u.int_in_range(0..=len - 1)?;
            if half[t] {
                t -= 1;
            }
            entries.push(t as u32);
        }
        prog.insn_arrays.push(entries);
    }
    Ok(())
}

/// Walk the CFG from slot 0; a conditional jump sometimes keeps only one
/// successor alive. Live slots get a pass number as `seen`, dead ones 0.
/// Pseudo-func callees are kept live (the kernel's quirk Q9 is left to tests).
pub(crate) fn mark_seen(cfg: &Config, u: &mut Unstructured, prog: &mut Program) -> Result<usize> {
    let live = live_slots(prog, |_| Ok(if pct(u, cfg.dead_pct)? { Some(u.arbitrary()?) } else { None }))?;
    let pass = u.int_in_range(1..=3u32)?;
    Ok(set_seen(prog, &live, pass))
}

/// The slots reachable from slot 0 when each conditional jump keeps the
/// successors `keep` says: `None` both, `Some(true)` only its target,
/// `Some(false)` only the next slot.
pub(crate) fn live_slots(prog: &Program, mut keep: impl FnMut(usize) -> Result<Option<bool>>) -> Result<Vec<bool>> {
    let len = prog.len();
    let mut live = vec![false; len];
    let mut work = vec![0usize];
    while let Some(i) = work.pop() {
        if i >= len || live[i] {
            continue;
        }
        live[i] = true;
        let insn = prog.insns[i];
        let next = i + 1;
        if insn.is_ld_imm64() {
            live[next] = true;
            work.push(i + 2);
            if insn.is_pseudo_func() {
                work.push((i as i64 + insn.imm as i64 + 1) as usize);
            }
        } else if insn.is_exit() {
        } else if insn.is_ja() || insn.is_gotol() {
            work.push(insn.target(i).unwrap() as usize);
        } else if insn.is_pseudo_call() {
            work.push(insn.target(i).unwrap() as usize);
            work.push(next);
        } else if insn.is_cond_jump() {
            let t = insn.target(i).unwrap() as usize;
            match keep(i)? {
                Some(true) => work.push(t),
                Some(false) => work.push(next),
                None => {
                    work.push(t);
                    work.push(next);
                }
            }
        } else {
            work.push(next);
        }
    }
    Ok(live)
}

/// `seen = pass` on live slots, 0 on the others; the number of dead slots.
pub(crate) fn set_seen(prog: &mut Program, live: &[bool], pass: u32) -> usize {
    let mut dead = 0;
    for (a, &l) in prog.aux.iter_mut().zip(live) {
        a.seen = if l { pass } else { 0 };
        dead += !l as usize;
    }
    dead
}

/// Fresh aux for a slot built outside `Program::from_insns`.
pub(crate) fn aux_for(i: usize, insn: &Insn) -> Aux {
    Aux { orig_idx: i as u32, seen: 1, zext_dst: insn.has_def32(), token: i as u64 + 1 }
}
