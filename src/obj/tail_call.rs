//! Tail calls as `do_misc_fixups` leaves them (kernel/bpf/verifier.c): every
//! `call bpf_tail_call` becomes `BPF_JMP | BPF_TAIL_CALL`; when the verifier
//! knows the key as a constant (`!bpf_map_key_poisoned`) the site gets a poke
//! descriptor (`bpf_jit_add_poke_descriptor`, `insn_idx = i + delta`) and
//! `imm = index + 1`, otherwise `imm = 0`.
//!
//! Whether the key is constant is the verifier's value tracking; here it is
//! approximated within the straight-line code before the call: the last write
//! to r3 is `r3 = K` (or `w3 = K`, or `ld_imm64 r3`) with no branch target,
//! subprog start or call in between.

use crate::insn::{class, code, op, Insn};
use crate::program::{subprog_starts, Program};

/// `BPF_FUNC_tail_call`.
pub const BPF_FUNC_TAIL_CALL: i32 = 12;

/// Rewrite the tail calls of `insns`; returns the poke descriptors' `insn_idx`.
pub fn fixup(insns: &mut [Insn]) -> Vec<u32> {
    let half = Program::second_halves(insns);
    let mut entry = vec![false; insns.len()];
    for s in subprog_starts(insns) {
        entry[s as usize] = true;
    }
    for (i, x) in insns.iter().enumerate() {
        if half[i] || !x.is_jmp_class() || x.is_call() || x.is_exit() {
            continue;
        }
        if let Some(t) = x.target(i).filter(|&t| t >= 0 && (t as usize) < insns.len()) {
            entry[t as usize] = true;
        }
    }
    let mut pokes = Vec::new();
    for i in 0..insns.len() {
        let x = insns[i];
        if half[i] || !x.is_helper_call() || x.imm != BPF_FUNC_TAIL_CALL {
            continue;
        }
        let imm = if key_is_const(insns, &half, &entry, i) {
            pokes.push(i as u32);
            pokes.len() as i32
        } else {
            0
        };
        insns[i] = Insn { code: code::TAIL_CALL, imm, ..x };
    }
    pokes
}

/// The last write to r3 before slot `call`, on the only path to it.
fn key_is_const(insns: &[Insn], half: &[bool], entry: &[bool], call: usize) -> bool {
    let mut j = call;
    loop {
        if entry[j] || j == 0 {
            return false;
        }
        j -= 1;
        if half[j] {
            j -= 1;
        }
        let x = insns[j];
        if x.is_jmp_class() {
            if x.is_cond_jump() && x.code != code::TAIL_CALL {
                continue;
            }
            return false;
        }
        if x.def_regno() == Some(3) {
            let mov_k = matches!(x.class(), class::ALU | class::ALU64) && x.op() == op::MOV && !x.is_src_x();
            return mov_k || (x.is_ld_imm64() && x.src == 0);
        }
    }
}
