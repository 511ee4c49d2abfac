//! Programs over 32767 slots with branches near the s16 limit, so that the
//! probe pass of `bpf_patch_insn_single` and its `-ERANGE` are exercised.

use super::program::{aux_for, ProgramInfo};
use crate::insn::build::*;
use crate::insn::{class, field, op, pseudo, Insn};
use crate::program::{LineInfo, Program, Subprog};
use arbitrary::{Result, Unstructured};

/// A long subprog 0 (filler ALU code, a long forward and a long backward jump
/// with little slack, a far gotol, a pseudo call and a pseudo func to a short
/// subprog 1), then subprog 1.
/// A third of them sit right at the probe threshold (a few slots around
/// 32767), where whether the probe runs at all decides the outcome.
pub fn generate(u: &mut Unstructured) -> Result<(Program, ProgramInfo)> {
    let main_len: usize =
        if u.ratio(1, 3)? { u.int_in_range(32_760..=32_785)? } else { u.int_in_range(33_000..=40_000)? };
    let sub_len = 4;
    let len = main_len + sub_len;
    let mut insns: Vec<Insn> = (0..len)
        .map(|i| match i % 4 {
            0 => mov64_imm((i % 10) as u8, (i % 97) as i32),
            1 => alu32_imm(op::ADD, (i % 10) as u8, 1),
            2 => raw(class::LDX | field::W | field::MEM, 1, 10, -8, 0),
            _ => alu64_imm(op::XOR, (i % 10) as u8, 3),
        })
        .collect();
    // Often no slack at all: then one more slot anywhere in the span overflows.
    let slack_f: i64 = if u.ratio(1, 4)? { 0 } else { u.int_in_range(0..=40)? };
    let slack_b: i64 = u.int_in_range(0..=40)?;
    // Forward: slot a jumps +(32767 - slack_f); backward: slot b jumps back.
    let a: usize = u.int_in_range(3..=40)?;
    // Both jumps stay inside subprog 0 and clear of the ld_imm64 at a + 1.
    let fwd = (32767 - slack_f).min((main_len - a - 3) as i64);
    insns[a] = if u.arbitrary()? { ja(fwd as i16) } else { jmp_imm(op::JNE, 1, 0, fwd as i16) };
    let b = main_len - 1 - u.int_in_range(1..=40)?;
    let back = (32768 - slack_b).min((b - a - 3) as i64);
    insns[b] = if u.arbitrary()? { ja(-back as i16) } else { jmp_imm(op::JEQ, 2, 5, -back as i16) };
    // gotol from slot 1 to near the end of subprog 0 (s32 field).
    let g_t = main_len - 2;
    insns[1] = gotol((g_t - 1 - 1) as i32);
    insns[0] = call_rel((main_len - 1) as i32);
    let pf = ld_imm64(2, pseudo::FUNC, 0);
    insns[a + 1] = Insn { imm: (main_len - (a + 1) - 1) as i32, ..pf[0] };
    insns[a + 2] = pf[1];
    insns[main_len - 1] = exit();
    insns[len - 1] = exit();
    let mut prog = Program::from_insns(insns);
    for (i, a) in prog.aux.iter_mut().enumerate() {
        *a = aux_for(i, &prog.insns[i]);
    }
    prog.subprogs = vec![
        Subprog { start: 0, linfo_idx: 0 },
        Subprog { start: main_len as u32, linfo_idx: 0 },
        Subprog { start: len as u32, linfo_idx: 0 },
    ];
    let mut linfo = vec![LineInfo { insn_off: 0, line_off: 7, line_col: 1 << 10, file_name_off: 0 }];
    for k in 1..8u32 {
        let at = (main_len as u32 / 8) * k;
        linfo.push(LineInfo {
            insn_off: at + (at == (a + 2) as u32) as u32,
            line_off: 7 * (k + 1),
            line_col: (k + 1) << 10,
            file_name_off: 17,
        });
    }
    prog.subprogs[1].linfo_idx = linfo.len() as u32;
    linfo.push(LineInfo { insn_off: main_len as u32, line_off: 99, line_col: 9 << 10, file_name_off: 34 });
    prog.linfo = linfo;
    prog.insn_arrays = vec![vec![a as u32, b as u32, (main_len / 2) as u32]];
    Ok((prog, ProgramInfo { dead: 0, large: true }))
}
