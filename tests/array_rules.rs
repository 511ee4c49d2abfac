//! One test per kernel rule and per quirk of the semantics doc
//! (/work/shared/docs/kernel-patching-semantics.md, §1–§6 and the quirks
//! of §8), each run against both patchers.
//!
//! Every expected value is derived by hand from the kernel rules; the short
//! comment next to it is the derivation. Notation as in the doc: a patch
//! `P(off, n)` has `delta = n - 1`, `end_old = off + 1`, `end_new = off + n`;
//! a removal `R(off, cnt)` has `end_old = off + cnt`, `end_new = off`. The
//! branch rule (§2.2) is: `curr < pos && tgt >= end_old => x += delta`,
//! `curr >= end_new && curr + x + 1 < end_new => x -= delta`.
//!
//! `Program::from_insns` gives slot `i` the aux `{orig_idx: i, seen: 1,
//! zext_dst: has_def32, token: i + 1}`; inserted slots get token 0.

use patch_equiv::insn::build::*;
use patch_equiv::insn::{code, field, op, pseudo, Insn};
use patch_equiv::patcher::{ArrayPatcher, ListPatcher, PatchError, Patcher, EFAULT, ERANGE};
use patch_equiv::program::{Aux, FuncInfo, Program, INSN_DELETED};

mod common;
use common::{lines, prog, subs};

/// Each name is a generic `cases::name::<P>(who)` run for both patchers.
macro_rules! both {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                cases::$name::<ArrayPatcher>("array");
                cases::$name::<ListPatcher>("list");
            }
        )*
    };
}

both!(
    patch_jump_to_patched_slot_lands_on_first_slot,
    patch_jump_over_patched_slot_shifts,
    patch_backward_jump_from_after_to_patched_slot,
    patch_backward_jump_from_after_to_before,
    pseudo_call_imm_adjusted,
    pseudo_func_imm_adjusted,
    gotol_uses_imm_with_s32_bounds,
    may_goto_adjusted_as_s16_off,
    helper_and_kfunc_calls_untouched,
    exit_untouched,
    linfo_at_off_stays_later_shift,
    subprog_start_at_off_stays_fake_exit_moves,
    insn_array_entry_at_off_stays,
    poke_at_off_stays_later_shift,
    q4_len1_patch_changes_only_bytes_and_zext,
    q2_original_aux_moves_to_last_slot,
    q3_zext_dst_from_last_patchlet_insn,
    q5_only_code_06_uses_imm,
    q6_probe_only_when_new_len_exceeds_s16_max,
    erange_reports_orig_idx_of_patched_slot,
    q7_removal_jump_into_range_slides,
    removal_of_subprog_head_keeps_start,
    removal_of_whole_subprogs_compacts_table_and_func_info,
    removal_of_program_tail,
    linfo_inherits_last_removed_record,
    linfo_idx_fixup_after_remove,
    q8_insn_array_entries_become_deleted,
    q8_pokes_untouched_by_removal,
    q10_remove_nops_shapes,
    q11_adjust_jmp_off_skips_calls_and_pseudo_funcs,
    adjust_jmp_off_erange_keeps_earlier_rewrites,
    q12_func_info_aux_not_compacted,
    q13_removal_cutting_subprog_is_refused,
    q14_boundaries,
    hidden_subprog_appends_and_second_is_efault,
    q15_hidden_subprog_new_fake_exit_linfo_idx_is_stale_slot,
    zero_length_patch_and_out_of_range_errors,
    q1_last_slot_patch_past_s16_max_is_refused,
    q9_pseudo_func_to_removed_subprog_keeps_its_index,
);

// ---------------------------------------------------------------- helpers

fn mk<P: Patcher>(p: &Program) -> P {
    P::new(p.clone()).unwrap_or_else(|e| panic!("fixture rejected: {e}"))
}

/// The aux entry `adjust_insn_aux_data` gives a non-last patchlet slot: zeroed
/// except `seen = old_seen` and `zext_dst = insn_has_def32(slot)` (§3.1).
fn fresh(seen: u32, insn: Insn) -> Aux {
    Aux { orig_idx: 0, seen, zext_dst: insn.has_def32(), token: 0 }
}

/// `n` distinct 64-bit movs (`r1 = i`): no branch, no 32-bit def.
fn filler(n: usize) -> Vec<Insn> {
    (0..n).map(|i| mov64_imm(1, i as i32)).collect()
}

fn jeq(dst: u8, imm: i32, off: i16) -> Insn {
    jmp_imm(op::JEQ, dst, imm, off)
}

/// A single-subprog program of `len` slots: `filler`, last slot `exit`, with
/// the given slots overwritten.
fn big(len: usize, set: &[(usize, Insn)]) -> Program {
    let mut v = filler(len);
    v[len - 1] = exit();
    for &(i, insn) in set {
        v[i] = insn;
    }
    Program::from_insns(v)
}

/// Equality of two (possibly huge) programs without dumping them.
fn same(got: &Program, want: &Program, who: &str, what: &str) {
    if got == want {
        return;
    }
    assert_eq!(got.insns.len(), want.insns.len(), "{who}: {what}: len");
    if let Some(i) = (0..got.insns.len()).find(|&i| got.insns[i] != want.insns[i]) {
        panic!("{who}: {what}: insn {i}: got {:?}, want {:?}", got.insns[i], want.insns[i]);
    }
    if let Some(i) = (0..got.aux.len()).find(|&i| got.aux[i] != want.aux[i]) {
        panic!("{who}: {what}: aux {i}: got {:?}, want {:?}", got.aux[i], want.aux[i]);
    }
    assert_eq!(got.subprogs, want.subprogs, "{who}: {what}: subprogs");
    assert_eq!(got.linfo, want.linfo, "{who}: {what}: linfo");
    assert_eq!(got.func_info, want.func_info, "{who}: {what}: func_info");
    assert_eq!(got.func_info_aux, want.func_info_aux, "{who}: {what}: func_info_aux");
    assert_eq!(got.pokes, want.pokes, "{who}: {what}: pokes");
    assert_eq!(got.insn_arrays, want.insn_arrays, "{who}: {what}: insn_arrays");
    assert_eq!(got.hidden_subprog_cnt, want.hidden_subprog_cnt, "{who}: {what}: hidden");
    panic!("{who}: {what}: programs differ");
}

const D: u32 = INSN_DELETED;

mod cases {
    use super::*;

    // ------------------------------------------------ §2.2 patch branch rule

    pub fn patch_jump_to_patched_slot_lands_on_first_slot<P: Patcher>(who: &str) {
        // 0: if r0 == 0 goto +1   (target 2 = off)
        // 1: gotol +0             (target 2 = off)
        // 2: r1 = 1               <- P(2, 3)
        // 3: exit
        let p = Program::from_insns(vec![jeq(0, 0, 1), gotol(0), mov64_imm(1, 1), exit()]);
        let mut x: P = mk(&p);
        let patch = [mov64_imm(2, 2), mov64_imm(3, 3), mov64_imm(1, 1)];
        x.patch(2, &patch).unwrap();
        // curr 0, 1 < pos 2, but target 2 < end_old 3: no rule fires, so both
        // keep their value and land on new slot 2, the FIRST patchlet slot.
        let got = x.into_program();
        assert_eq!(got.insns, vec![jeq(0, 0, 1), gotol(0), patch[0], patch[1], patch[2], exit()], "{who}");
    }

    pub fn patch_jump_over_patched_slot_shifts<P: Patcher>(who: &str) {
        // 0: if r0 != 0 goto +3  (target 4)
        // 1: gotol +1            (target 3 = end_old, the boundary)
        // 2: r1 = 1              <- P(2, 3), delta 2
        // 3: ja +0               (target 4; forward jump after the patchlet)
        // 4: exit
        let p = Program::from_insns(vec![jmp_imm(op::JNE, 0, 0, 3), gotol(1), mov64_imm(1, 1), ja(0), exit()]);
        let mut x: P = mk(&p);
        let patch = [mov64_imm(2, 2), mov64_imm(3, 3), mov64_imm(1, 1)];
        x.patch(2, &patch).unwrap();
        // 0: target 4 >= 3 -> off 3+2 = 5 (target 6 = old 4).
        // 1: target 3 >= 3 -> imm 1+2 = 3 (target 5 = old 3).
        // old 3 now at 5 >= end_new 5, target 6 not < 5 -> unchanged.
        let got = x.into_program();
        let want = vec![jmp_imm(op::JNE, 0, 0, 5), gotol(3), patch[0], patch[1], patch[2], ja(0), exit()];
        assert_eq!(got.insns, want, "{who}");

        // The probe uses the same boundary: 32768 slots, 0: ja +32766 (target
        // 32767 = end_old of P(32766, 3)) -> would need +32768: -ERANGE at 0,
        // orig_idx of slot 32766.
        let p = big(32768, &[(0, ja(32766))]);
        let mut x: P = mk(&p);
        let e = x.patch(32766, &[mov64_imm(2, 0), mov64_imm(3, 0), p.insns[32766]]).unwrap_err();
        assert_eq!(e, PatchError::Range { insn: 0, orig_idx: 32766 }, "{who}");
    }

    pub fn patch_backward_jump_from_after_to_patched_slot<P: Patcher>(who: &str) {
        // The doc's worked example, P(1, 3):
        // 0: r0 = 0
        // 1: r1 = 1                 <- patched
        // 2: if r0 < 10 goto -2     (target 1 = off)
        // 3: ja -1                  (target 3, itself)
        // 4: exit
        let p =
            Program::from_insns(vec![mov64_imm(0, 0), mov64_imm(1, 1), jmp_imm(op::JLT, 0, 10, -2), ja(-1), exit()]);
        let mut x: P = mk(&p);
        let patch = [mov64_imm(2, 2), mov64_imm(3, 3), mov64_imm(1, 1)];
        x.patch(1, &patch).unwrap();
        // old 2 -> 4: 4 >= end_new 4 and 4 - 2 + 1 = 3 < 4 -> off -2-2 = -4,
        //   target 1 = first patchlet slot.
        // old 3 -> 5: 5 - 1 + 1 = 5, not < 4 -> unchanged, still itself.
        let got = x.into_program();
        let want = vec![mov64_imm(0, 0), patch[0], patch[1], patch[2], jmp_imm(op::JLT, 0, 10, -4), ja(-1), exit()];
        assert_eq!(got.insns, want, "{who}");

        // The probe counts such a jump too: 32768 slots, 32767: ja -32768
        // (target 0 = off of P(0, 2)); from new 32768: 32768 - 32768 + 1 = 1 <
        // end_new 2 -> would need -32769: -ERANGE at 32767, orig_idx 0.
        let p = big(32768, &[(32767, ja(-32768))]);
        let mut x: P = mk(&p);
        let e = x.patch(0, &[mov64_imm(2, 0), p.insns[0]]).unwrap_err();
        assert_eq!(e, PatchError::Range { insn: 32767, orig_idx: 0 }, "{who}");
    }

    pub fn patch_backward_jump_from_after_to_before<P: Patcher>(who: &str) {
        // 0: r0 = 0
        // 1: if r1 == 0 goto -2   (target 0; backward, before pos)
        // 2: r2 = 2               <- P(2, 4), delta 3
        // 3: if r0 == 0 goto -4   (target 0)
        // 4: ja -4                (target 1)
        // 5: exit
        let p =
            Program::from_insns(vec![mov64_imm(0, 0), jeq(1, 0, -2), mov64_imm(2, 2), jeq(0, 0, -4), ja(-4), exit()]);
        let mut x: P = mk(&p);
        let patch = [mov64_imm(3, 3), mov64_imm(4, 4), mov64_imm(5, 5), mov64_imm(2, 2)];
        x.patch(2, &patch).unwrap();
        // 1: curr < pos but target 0 < end_old 3 -> unchanged.
        // old 3 -> 6: 6 - 4 + 1 = 3 < end_new 6 -> off -4-3 = -7, target 0.
        // old 4 -> 7: 7 - 4 + 1 = 4 < 6 -> off -7, target 1.
        let got = x.into_program();
        let want =
            vec![mov64_imm(0, 0), jeq(1, 0, -2), patch[0], patch[1], patch[2], patch[3], jeq(0, 0, -7), ja(-7), exit()];
        assert_eq!(got.insns, want, "{who}");
    }

    // ------------------------------------------------ imm-carrying branches

    pub fn pseudo_call_imm_adjusted<P: Patcher>(who: &str) {
        // 0: call pc+3      (target 4, subprog 1)
        // 1: r1 = 1         <- P(1, 2), delta 1
        // 2: r0 = 0
        // 3: exit
        // 4: r0 = 1         (subprog 1)
        // 5: call pc-6      (target 0, subprog 0)
        // 6: exit
        let p = Program::from_insns(vec![
            call_rel(3),
            mov64_imm(1, 1),
            mov64_imm(0, 0),
            exit(),
            mov64_imm(0, 1),
            call_rel(-6),
            exit(),
        ]);
        assert_eq!(p.subprogs, subs(&[(0, 0), (4, 0), (7, 0)]));
        let mut x: P = mk(&p);
        x.patch(1, &[mov64_imm(2, 2), mov64_imm(1, 1)]).unwrap();
        // 0: target 4 >= end_old 2 -> imm 4 (target 5 = old 4).
        // old 5 -> 6: 6 - 6 + 1 = 1 < end_new 3 -> imm -7 (target 0).
        // Subprog starts > 1 move by 1: [0, 5], fake exit 8.
        let got = x.into_program();
        assert_eq!(got.insns[0], call_rel(4), "{who}");
        assert_eq!(got.insns[6], call_rel(-7), "{who}");
        assert_eq!(got.subprogs, subs(&[(0, 0), (5, 0), (8, 0)]), "{who}");
    }

    pub fn pseudo_func_imm_adjusted<P: Patcher>(who: &str) {
        // 0,1: r2 = func pc+5   (ld_imm64 src 4, target 6)
        // 2,3: r3 = 5           (ld_imm64 src 0: a constant, never adjusted)
        // 4:   r0 = 0           <- P(4, 3), delta 2
        // 5:   exit
        // 6:   r0 = 1           (subprog 1)
        // 7,8: r2 = func pc-8   (target 0)
        // 9:   exit
        let f0 = ld_imm64(2, pseudo::FUNC, 5);
        let k = ld_imm64(3, 0, 5);
        let f1 = ld_imm64(2, pseudo::FUNC, (-8i32) as u32 as u64);
        let p = Program::from_insns(vec![
            f0[0],
            f0[1],
            k[0],
            k[1],
            mov64_imm(0, 0),
            exit(),
            mov64_imm(0, 1),
            f1[0],
            f1[1],
            exit(),
        ]);
        assert_eq!(p.subprogs, subs(&[(0, 0), (6, 0), (10, 0)]));
        let mut x: P = mk(&p);
        let patch = [mov64_imm(4, 4), mov64_imm(5, 5), mov64_imm(0, 0)];
        x.patch(4, &patch).unwrap();
        // Pseudo func is recognised before the class filter (class LD):
        // 0: target 6 >= end_old 5 -> imm 7 (target 8 = old 6).
        // old 7 -> 9: 9 - 8 + 1 = 2 < end_new 7 -> imm -10 (target 0).
        // The constant ld_imm64 (src 0) and both second halves (code 0) untouched.
        let got = x.into_program();
        let mut g0 = f0[0];
        g0.imm = 7;
        let mut g1 = f1[0];
        g1.imm = -10;
        let want =
            vec![g0, f0[1], k[0], k[1], patch[0], patch[1], patch[2], exit(), mov64_imm(0, 1), g1, f1[1], exit()];
        assert_eq!(got.insns, want, "{who}");
        assert_eq!(got.subprogs, subs(&[(0, 0), (8, 0), (12, 0)]), "{who}");
    }

    pub fn gotol_uses_imm_with_s32_bounds<P: Patcher>(who: &str) {
        // 40000 slots: 0: gotol +39998 (target 39999 = exit),
        // 39998: gotol -39999 (target 0), 39999: exit.
        let p = big(40000, &[(0, gotol(39998)), (39998, gotol(-39999))]);
        let mut x: P = mk(&p);
        // P(1, 2): new len 40001 > 32767, so the probe runs; gotol is checked
        // against s32, so neither value (both beyond s16) is an -ERANGE.
        x.patch(1, &[mov64_imm(2, 0), p.insns[1]]).unwrap();
        // 0: target 39999 >= 2 -> imm 39999 (target 40000 = exit).
        // old 39998 -> 39999: 39999 - 39999 + 1 = 1 < 3 -> imm -40000 (target 0).
        assert_eq!(x.len(), 40001, "{who}");
        assert_eq!(x.insn(0), Some(gotol(39999)), "{who}");
        assert_eq!(x.insn(39999), Some(gotol(-40000)), "{who}");
        assert_eq!(x.insn(40000), Some(exit()), "{who}");
    }

    pub fn may_goto_adjusted_as_s16_off<P: Patcher>(who: &str) {
        // 0: may_goto +2   (target 3)
        // 1: r1 = 1        <- P(1, 2)
        // 2: may_goto -3   (target 0)
        // 3: exit
        let p = Program::from_insns(vec![may_goto(2), mov64_imm(1, 1), may_goto(-3), exit()]);
        let mut x: P = mk(&p);
        x.patch(1, &[mov64_imm(2, 2), mov64_imm(1, 1)]).unwrap();
        // 0: target 3 >= 2 -> off 3.  old 2 -> 3: 3 - 3 + 1 = 1 < 3 -> off -4.
        let got = x.into_program();
        assert_eq!(got.insns, vec![may_goto(3), mov64_imm(2, 2), mov64_imm(1, 1), may_goto(-4), exit()], "{who}");

        // JCOND goes through the s16 `off` path: in 32768 slots, may_goto
        // +32766 at 0 (target 32767 = exit); P(1, 3) gives new len 32770 and
        // would need +32768 > S16_MAX -> -ERANGE at insn 0, orig_idx of slot 1 = 1.
        let p = big(32768, &[(0, may_goto(32766))]);
        let mut x: P = mk(&p);
        let e = x.patch(1, &[mov64_imm(2, 0), mov64_imm(3, 0), p.insns[1]]).unwrap_err();
        assert_eq!(e, PatchError::Range { insn: 0, orig_idx: 1 }, "{who}");
        same(&x.into_program(), &p, who, "state after -ERANGE");
    }

    // ------------------------------------------------ slots the rule skips

    pub fn helper_and_kfunc_calls_untouched<P: Patcher>(who: &str) {
        // Read as relative, these imms would cross the patch (0: "target" 6,
        // 1: 5, 3: 0, 4: 0), so a wrong adjuster would change each of them.
        let p = Program::from_insns(vec![
            call_helper(5),
            call_kfunc(3),
            mov64_imm(1, 1), // <- P(2, 3)
            call_helper(-4),
            call_kfunc(-5),
            exit(),
        ]);
        let mut x: P = mk(&p);
        let patch = [mov64_imm(2, 2), mov64_imm(3, 3), mov64_imm(1, 1)];
        x.patch(2, &patch).unwrap();
        // §2.2 step 3: CALL with src != BPF_PSEUDO_CALL is skipped.
        let got = x.into_program();
        let want =
            vec![call_helper(5), call_kfunc(3), patch[0], patch[1], patch[2], call_helper(-4), call_kfunc(-5), exit()];
        assert_eq!(got.insns, want, "{who}");
    }

    pub fn exit_untouched<P: Patcher>(who: &str) {
        // EXIT is skipped whatever its fields hold. The reserved `off` fields
        // are set here (the verifier would reject them at load time) only so a
        // wrong "exit is a jump" reading becomes observable.
        let e1 = raw(code::EXIT, 0, 0, 3, 0); // "target" 5
        let e2 = raw(code::EXIT, 0, 0, -4, 7); // "target" 0
                                               // 0: if r0 == 0 goto +2 (target 3); 1: e1; 2: r1 = 1; 3: e2
        let p = Program::from_insns(vec![jeq(0, 0, 2), e1, mov64_imm(1, 1), e2]);
        let mut x: P = mk(&p);
        x.patch(2, &[mov64_imm(2, 2), mov64_imm(1, 1)]).unwrap();
        // 0: target 3 >= 3 -> off 3. e1 (curr 1 < 2, "target" 5) and e2 (new
        // 4, "target" 1 < 4) would have moved if they were read as jumps.
        assert_eq!(x.into_program().insns, vec![jeq(0, 0, 3), e1, mov64_imm(2, 2), mov64_imm(1, 1), e2], "{who}");

        // Same on removal, R(2, 1): 0: target 3 >= 3 -> off 1; exits unchanged.
        let mut x: P = mk(&p);
        x.remove(2, 1).unwrap();
        assert_eq!(x.into_program().insns, vec![jeq(0, 0, 1), e1, e2], "{who}");
    }

    // ------------------------------------------------ §2.3, §4 adjusters at off

    pub fn linfo_at_off_stays_later_shift<P: Patcher>(who: &str) {
        let mut p = big(5, &[]);
        p.linfo = lines(&[(0, 10), (2, 12), (3, 13), (4, 14)]);
        let mut x: P = mk(&p);
        x.patch(2, &[mov64_imm(2, 0), mov64_imm(3, 0), p.insns[2]]).unwrap();
        // bpf_adj_linfo: only insn_off > 2 (strict) moves by 2; the record at
        // 2 now covers the whole patchlet.
        assert_eq!(x.into_program().linfo, lines(&[(0, 10), (2, 12), (5, 13), (6, 14)]), "{who}");
    }

    pub fn subprog_start_at_off_stays_fake_exit_moves<P: Patcher>(who: &str) {
        // 0: call pc+2 (3); 1: call pc+4 (6); 2: exit
        // 3: r0 = 1 (subprog 1, <- P(3, 3)); 4: r0 = 2; 5: exit
        // 6: r0 = 3 (subprog 2); 7: exit
        let insns =
            vec![call_rel(2), call_rel(4), exit(), mov64_imm(0, 1), mov64_imm(0, 2), exit(), mov64_imm(0, 3), exit()];
        let mut p = prog(insns, &[(0, 0), (3, 1), (6, 2)]);
        p.linfo = lines(&[(0, 1), (3, 2), (6, 3)]);
        let mut x: P = mk(&p);
        let patch = [st_mem(field::DW, 10, -8, 0), mov64_imm(4, 0), mov64_imm(0, 1)];
        x.patch(3, &patch).unwrap();
        let got = x.into_program();
        // adjust_subprog_starts: 0, 3 <= off stay; 6 -> 8; fake exit 8 -> 10.
        // linfo_idx never changes on a patch.
        assert_eq!(got.subprogs, subs(&[(0, 0), (3, 1), (8, 2), (10, 0)]), "{who}");
        // The call to subprog 1 targets off: unchanged, it enters the patchlet.
        // The call to subprog 2 (target 6 >= 4) gets imm 6.
        assert_eq!(&got.insns[..2], &[call_rel(2), call_rel(6)], "{who}");
        assert_eq!(got.linfo, lines(&[(0, 1), (3, 2), (8, 3)]), "{who}");
    }

    pub fn insn_array_entry_at_off_stays<P: Patcher>(who: &str) {
        let mut p = big(6, &[]);
        p.insn_arrays = vec![vec![0, 2, 3, 5], vec![D, 4]];
        let mut x: P = mk(&p);
        x.patch(2, &[mov64_imm(2, 0), mov64_imm(3, 0), mov64_imm(4, 0), p.insns[2]]).unwrap();
        // bpf_insn_array_adjust: <= 2 stays, INSN_DELETED stays, others += 3.
        assert_eq!(x.into_program().insn_arrays, vec![vec![0, 2, 6, 8], vec![D, 7]], "{who}");
    }

    pub fn poke_at_off_stays_later_shift<P: Patcher>(who: &str) {
        let mut p = big(6, &[]);
        p.pokes = vec![1, 2, 3, 5];
        let mut x: P = mk(&p);
        x.patch(2, &[mov64_imm(2, 0), p.insns[2]]).unwrap();
        // adjust_poke_descs: insn_idx <= 2 stays, others += 1.
        assert_eq!(x.into_program().pokes, vec![1, 2, 4, 6], "{who}");
    }

    // ------------------------------------------------ Q4, Q3: len == 1

    pub fn q4_len1_patch_changes_only_bytes_and_zext<P: Patcher>(who: &str) {
        // 0: call pc+3 (4); 1: if r0 == 0 goto +1 (3); 2: w1 = 5; 3: exit
        // 4: r0 = 1 (subprog 1); 5: if r0 == 0 goto -2 (4); 6: exit
        let insns = vec![call_rel(3), jeq(0, 0, 1), mov32_imm(1, 5), exit(), mov64_imm(0, 1), jeq(0, 0, -2), exit()];
        let mut p = prog(insns, &[(0, 0), (4, 2)]);
        p.linfo = lines(&[(0, 1), (2, 2), (4, 3)]);
        p.insn_arrays = vec![vec![2, 3]];
        p.pokes = vec![2, 3];
        p.func_info = Some(vec![FuncInfo { insn_off: 0, type_id: 1 }, FuncInfo { insn_off: 4, type_id: 2 }]);
        p.func_info_aux = vec![7, 8];
        // The liveness pass decided w1 needs no zext; the slot was seen in pass 9.
        p.aux[2].zext_dst = false;
        p.aux[2].seen = 9;
        let mut x: P = mk(&p);

        // Q3: zext_dst is recomputed even for len 1: w1 = 6 is a 32-bit def.
        x.patch(2, &[mov32_imm(1, 6)]).unwrap();
        let mut want = p.clone();
        want.insns[2] = mov32_imm(1, 6);
        want.aux[2].zext_dst = true;
        assert_eq!(x.aux(2), Some(Aux { orig_idx: 2, seen: 9, zext_dst: true, token: 3 }), "{who}");

        // A 64-bit load: zext_dst false; nothing else moves.
        x.patch(2, &[ldx_mem(field::DW, 1, 10, -8)]).unwrap();
        want.insns[2] = ldx_mem(field::DW, 1, 10, -8);
        want.aux[2].zext_dst = false;

        // A branch in a len-1 patch is written verbatim (no adjustment pass).
        x.patch(1, &[jmp_imm(op::JNE, 0, 0, 0)]).unwrap();
        want.insns[1] = jmp_imm(op::JNE, 0, 0, 0);
        assert_eq!(x.into_program(), want, "{who}");

        // Q4: no probe for len 1 (and no Q1 refusal) even on the last slot of
        // a program longer than S16_MAX.
        let p = big(32768, &[]);
        let mut x: P = mk(&p);
        x.patch(32767, &[exit()]).unwrap();
        same(&x.into_program(), &p, who, "len-1 patch of the last slot");
    }

    // ------------------------------------------------ Q2, Q3: aux placement

    pub fn q2_original_aux_moves_to_last_slot<P: Patcher>(who: &str) {
        // 0: if r1 == 0 goto +0 (target 1 = off); 1: w1 = 5; 2: r0 = 0; 3: exit
        let mut p = Program::from_insns(vec![jeq(1, 0, 0), mov32_imm(1, 5), mov64_imm(0, 0), exit()]);
        p.aux[1] = Aux { orig_idx: 1, seen: 7, zext_dst: false, token: 2 };
        p.linfo = lines(&[(0, 1), (1, 2)]);
        p.insn_arrays = vec![vec![1]];
        p.pokes = vec![1];
        let mut x: P = mk(&p);
        // The original instruction is placed FIRST (orig@0, like zext/nospec_result).
        let patch = [mov32_imm(1, 5), mov64_imm(2, 0), ldx_mem(field::W, 3, 10, -8), mov64_imm(4, 1)];
        x.patch(1, &patch).unwrap();
        let got = x.into_program();
        let want_aux = vec![
            p.aux[0],
            // [off, off+3): zeroed, seen = old seen 7, zext_dst = has_def32(slot).
            Aux { orig_idx: 0, seen: 7, zext_dst: true, token: 0 }, // w1 = 5
            Aux { orig_idx: 0, seen: 7, zext_dst: false, token: 0 }, // r2 = 0
            Aux { orig_idx: 0, seen: 7, zext_dst: true, token: 0 }, // w3 = *(u32 *)
            // The original entry lands on the LAST slot; its zext_dst becomes
            // has_def32(r4 = 1) = false (it was false anyway; see q3 for flips).
            Aux { orig_idx: 1, seen: 7, zext_dst: false, token: 2 },
            p.aux[2],
            p.aux[3],
        ];
        assert_eq!(got.aux, want_aux, "{who}");
        // Everything that pointed at off stays at the FIRST slot (1), although
        // the original aux went to slot 4.
        assert_eq!(got.insns[0], jeq(1, 0, 0), "{who}");
        assert_eq!(got.linfo, lines(&[(0, 1), (1, 2)]), "{who}");
        assert_eq!(got.insn_arrays, vec![vec![1]], "{who}");
        assert_eq!(got.pokes, vec![1], "{who}");
    }

    pub fn q3_zext_dst_from_last_patchlet_insn<P: Patcher>(who: &str) {
        // 0: w1 = 1 (zext_dst true); 1: r2 = 2 (zext_dst false); 2: exit
        let p = Program::from_insns(vec![mov32_imm(1, 1), mov64_imm(2, 2), exit()]);
        assert_eq!((p.aux[0].zext_dst, p.aux[1].zext_dst), (true, false));
        let mut x: P = mk(&p);
        // P(0, [w1 = 1, r5 = 0]): the moved entry (orig 0) takes
        // has_def32(r5 = 0) = false, not its own true.
        x.patch(0, &[mov32_imm(1, 1), mov64_imm(5, 0)]).unwrap();
        assert_eq!(x.aux(0), Some(Aux { orig_idx: 0, seen: 1, zext_dst: true, token: 0 }), "{who}");
        assert_eq!(x.aux(1), Some(Aux { orig_idx: 0, seen: 1, zext_dst: false, token: 1 }), "{who}");
        // The zext shape on old slot 1 (now 2): [r2 = 2, BPF_ZEXT_REG(r2)]. The
        // moved entry (orig 1, was false) takes has_def32(mov32 r2, r2) = true.
        x.patch(2, &[mov64_imm(2, 2), zext_reg(2)]).unwrap();
        assert_eq!(x.aux(2), Some(Aux { orig_idx: 0, seen: 1, zext_dst: false, token: 0 }), "{who}");
        assert_eq!(x.aux(3), Some(Aux { orig_idx: 1, seen: 1, zext_dst: true, token: 2 }), "{who}");
        assert_eq!(x.aux(4), Some(p.aux[2]), "{who}");
    }

    // ------------------------------------------------ Q5, Q6: fields and range

    pub fn q5_only_code_06_uses_imm<P: Patcher>(who: &str) {
        let gotox = raw(code::GOTOX, 2, 0, 0, 0);
        let tail_call = raw(code::TAIL_CALL, 0, 0, 0, 0);
        // 0: if w1 == 3 goto +4  (JMP32 class, imm is the constant; target 5)
        // 1: if r1 == 4 goto +3  (target 5)
        // 2: gotol +2            (0x06; target 5)
        // 3: r1 = 1              <- P(3, 3), delta 2
        // 4: gotox r2            (off 0: target 5)
        // 5: may_goto +1         (target 7)
        // 6: tail_call           (off 0: target 7)
        // 7: if w2 < 100 goto -8 (target 0)
        // 8: exit
        let p = Program::from_insns(vec![
            jmp32_imm(op::JEQ, 1, 3, 4),
            jmp_imm(op::JEQ, 1, 4, 3),
            gotol(2),
            mov64_imm(1, 1),
            gotox,
            may_goto(1),
            tail_call,
            jmp32_imm(op::JLT, 2, 100, -8),
            exit(),
        ]);
        let mut x: P = mk(&p);
        let patch = [mov64_imm(2, 0), mov64_imm(3, 0), mov64_imm(1, 1)];
        x.patch(3, &patch).unwrap();
        // 0, 1: off += 2, imm (the compared constant) untouched, JMP32 or not.
        // 2: only 0x06 moves imm: 2 -> 4.
        // gotox/tail_call: off 0 -> target curr+1, never < end_new from curr >=
        //   end_new -> unchanged. may_goto: forward after -> unchanged.
        // old 7 -> 9: 9 - 8 + 1 = 2 < 6 -> off -10, imm 100 untouched.
        let want = vec![
            jmp32_imm(op::JEQ, 1, 3, 6),
            jmp_imm(op::JEQ, 1, 4, 5),
            gotol(4),
            patch[0],
            patch[1],
            patch[2],
            gotox,
            may_goto(1),
            tail_call,
            jmp32_imm(op::JLT, 2, 100, -10),
            exit(),
        ];
        assert_eq!(x.into_program().insns, want, "{who}");

        // In 32768 slots with P(1, 3) (new len 32770, probe runs): a JMP32
        // conditional at 0 with off +32766 needs +32768 -> -ERANGE (s16)...
        let p = big(32768, &[(0, jmp32_imm(op::JEQ, 1, 3, 32766))]);
        let mut x: P = mk(&p);
        let e = x.patch(1, &[mov64_imm(2, 0), mov64_imm(3, 0), p.insns[1]]).unwrap_err();
        assert_eq!(e, PatchError::Range { insn: 0, orig_idx: 1 }, "{who}");
        // ...while gotol +32766 (0x06, s32 imm) becomes +32768.
        let p = big(32768, &[(0, gotol(32766))]);
        let mut x: P = mk(&p);
        x.patch(1, &[mov64_imm(2, 0), mov64_imm(3, 0), p.insns[1]]).unwrap();
        assert_eq!(x.insn(0), Some(gotol(32768)), "{who}");
    }

    pub fn q6_probe_only_when_new_len_exceeds_s16_max<P: Patcher>(who: &str) {
        // (a) 32766 slots, 0: ja +32764 (target 32765 = exit). P(1, 2) gives
        // new len 32767 = S16_MAX: no probe. It cannot overflow: in a program
        // of L' <= 32767 slots every in-range offset lies in [-L', L' - 2] =
        // [-32767, 32765]. Here the ja becomes +32765 (target 32766 = exit).
        let p = big(32766, &[(0, ja(32764))]);
        let mut x: P = mk(&p);
        x.patch(1, &[mov64_imm(2, 0), p.insns[1]]).unwrap();
        assert_eq!((x.len(), x.insn(0)), (32767, Some(ja(32765))), "{who}");
        assert_eq!(x.insn(32766), Some(exit()), "{who}");

        // (b) Even at new len 32768 (probe runs) no valid program can
        // overflow: the extremes are +32766 forward and -32768 backward. 32767
        // slots, 32766: ja -32767 (target 0); P(1, 2): old 32766 -> 32767,
        // 32767 - 32767 + 1 = 1 < 3 -> off -32768 = S16_MIN: fits.
        let p = big(32767, &[(32766, ja(-32767))]);
        let mut x: P = mk(&p);
        x.patch(1, &[mov64_imm(2, 0), p.insns[1]]).unwrap();
        assert_eq!((x.len(), x.insn(32767)), (32768, Some(ja(-32768))), "{who}");

        // (c) So the first -ERANGE is at new len 32769, backward: 32768 slots,
        // 32767: ja -32768 (target 0, the last slot, a valid subprog end);
        // P(1, 2) would need -32769 < S16_MIN -> Range at insn 32767 (its index
        // in the unpatched image), orig_idx of slot 1 = 1; nothing changed.
        let p = big(32768, &[(32767, ja(-32768))]);
        let mut x: P = mk(&p);
        let e = x.patch(1, &[mov64_imm(2, 0), p.insns[1]]).unwrap_err();
        assert_eq!(e, PatchError::Range { insn: 32767, orig_idx: 1 }, "{who}");
        assert_eq!(e.errno(), Some(ERANGE), "{who}");
        // Same when the jump sits right after the patched slot: P(32766, 2).
        let e = x.patch(32766, &[mov64_imm(2, 0), p.insns[32766]]).unwrap_err();
        assert_eq!(e, PatchError::Range { insn: 32767, orig_idx: 32766 }, "{who}");
        same(&x.into_program(), &p, who, "state after backward -ERANGE");

        // (d) Forward: 32768 slots, 0: ja +32766 (target 32767 = exit).
        // P(1, 2) -> new len 32769, ja +32767 = S16_MAX: fits.
        let p = big(32768, &[(0, ja(32766))]);
        let mut x: P = mk(&p);
        let a = mov64_imm(2, 0);
        x.patch(1, &[a, p.insns[1]]).unwrap();
        assert_eq!(x.insn(0), Some(ja(32767)), "{who}");
        // Then P(5, 2) -> new len 32770, ja would need +32768: -ERANGE at 0;
        // slot 5 is old slot 4 (orig_idx 4). State stays the one after the
        // first patch: [ja +32767, a, f1, f2, ..., exit] with aux
        // [a0, fresh(a), a1 (zext_dst = has_def32(f1) = false), a2, ...].
        let e = x.patch(5, &[mov64_imm(3, 0), p.insns[4]]).unwrap_err();
        assert_eq!(e, PatchError::Range { insn: 0, orig_idx: 4 }, "{who}");
        let mut want = p.clone();
        want.insns[0] = ja(32767);
        want.insns.insert(1, a);
        want.aux.insert(1, fresh(1, a));
        want.subprogs = subs(&[(0, 0), (32769, 0)]);
        same(&x.into_program(), &want, who, "state after forward -ERANGE");
    }

    pub fn erange_reports_orig_idx_of_patched_slot<P: Patcher>(who: &str) {
        // 32766 slots; 32765: ja -32766 (target 0).
        let p = big(32766, &[(32765, ja(-32766))]);
        let mut x: P = mk(&p);
        // P(10, 2): new len 32767, no probe. Slot 10 gets a fresh aux
        // (orig_idx 0), slot 11 the original (orig_idx 10), later slot i has
        // orig_idx i - 1. The ja (now 32766) becomes -32767.
        x.patch(10, &[mov64_imm(2, 0), p.insns[10]]).unwrap();
        assert_eq!(x.insn(32766), Some(ja(-32767)), "{who}");
        // Any P(_, 3) now gives new len 32769 and the ja would need -32769:
        // -ERANGE, failing branch at index 32766, and the log's orig_idx is
        // that of the PATCHED slot.
        let three = |i: Insn| [mov64_imm(3, 0), mov64_imm(4, 0), i];
        for (off, orig_idx) in [(20, 19), (10, 0), (11, 10)] {
            let e = x.patch(off, &three(x.insn(off).unwrap())).unwrap_err();
            assert_eq!(e, PatchError::Range { insn: 32766, orig_idx }, "{who}: P({off}, 3)");
        }
        // A len-2 patch still fits: new len 32768, ja -32768.
        x.patch(20, &[mov64_imm(5, 0), x.insn(20).unwrap()]).unwrap();
        assert_eq!((x.len(), x.insn(32767)), (32768, Some(ja(-32768))), "{who}");
    }

    // ------------------------------------------------ §5 removal

    pub fn q7_removal_jump_into_range_slides<P: Patcher>(who: &str) {
        // The doc's §5.2 example: R(off = 2, cnt = 3) on 9 slots.
        // A: 0: ja +5 (6); 1: if r1 == 0 goto +0 (2, k = 0);
        //    7: ja -6 (2, k = 0); 8: ja -8 (1).
        let mut v = filler(9);
        v[0] = ja(5);
        v[1] = jeq(1, 0, 0);
        v[7] = ja(-6);
        v[8] = ja(-8);
        let p = Program::from_insns(v.clone());
        let mut x: P = mk(&p);
        x.remove(2, 3).unwrap();
        // 0: target 6 >= 5 -> off 2 (target 3 = old 6).
        // 1: target 2 = off, not >= 5 -> unchanged: lands on new 2 = old 5.
        // old 7 -> 4: 4 - 6 + 1 = -1 < 2 -> off -3 (target 2 = old 5).
        // old 8 -> 5: 5 - 8 + 1 = -2 < 2 -> off -5 (target 1).
        let want = vec![ja(2), jeq(1, 0, 0), v[5], v[6], ja(-3), ja(-5)];
        assert_eq!(x.into_program().insns, want, "{who}: A");

        // B (k = 1, Q7): 1: if r1 == 0 goto +1 (3); 7: ja -5 (3).
        v[1] = jeq(1, 0, 1);
        v[7] = ja(-5);
        let p = Program::from_insns(v.clone());
        let mut x: P = mk(&p);
        x.remove(2, 3).unwrap();
        // 1: unchanged +1 -> new 3 = old 6 (skips old 5, no clamping).
        // old 7 -> 4: 4 - 5 + 1 = 0 < 2 -> off -5+3 = -2, target 3 = old 6.
        let want = vec![ja(2), jeq(1, 0, 1), v[5], v[6], ja(-2), ja(-5)];
        assert_eq!(x.into_program().insns, want, "{who}: B");
    }

    pub fn removal_of_subprog_head_keeps_start<P: Patcher>(who: &str) {
        // 0: call pc+2 (3); 1: r0 = 0; 2: exit
        // 3: r0 = 1 (subprog 1 head, removed); 4: r0 = 2 (removed); 5: r0 = 3; 6: exit
        let insns =
            vec![call_rel(2), mov64_imm(0, 0), exit(), mov64_imm(0, 1), mov64_imm(0, 2), mov64_imm(0, 3), exit()];
        let mut p = prog(insns.clone(), &[(0, 0), (3, 1)]);
        p.linfo = lines(&[(0, 1), (3, 2), (4, 3)]);
        let mut x: P = mk(&p);
        x.remove(3, 2).unwrap();
        let got = x.into_program();
        // Subprogs: i = 1 (3 >= 3); j: no start >= 5 -> 2 (fake, 7 != 5) -> 1;
        // not j > i, start_i == off -> i = 2: only the fake exit moves, 7 -> 5.
        // linfo: l_off 1, records 3, 4 inside (l_cnt 2), i = 3 == nr -> inherit:
        // record (4, line 3) becomes 5, then -2 -> 3; record (3, 2) dropped.
        // linfo_idx 1 is not > l_off 1 -> stays.
        assert_eq!(got.subprogs, subs(&[(0, 0), (3, 1), (5, 0)]), "{who}");
        assert_eq!(got.linfo, lines(&[(0, 1), (3, 3)]), "{who}");
        // The call targets off (k = 0): unchanged, now reaches old 5.
        assert_eq!(got.insns, vec![call_rel(2), insns[1], insns[2], insns[5], insns[6]], "{who}");
        assert_eq!(got.aux, vec![p.aux[0], p.aux[1], p.aux[2], p.aux[5], p.aux[6]], "{who}");
    }

    /// 0: call pc+6 (7); 1: exit; 2: r0 = 1; 3: exit (subprog 1);
    /// 4: r0 = 2; 5: r0 = 3; 6: exit (subprog 2); 7: r0 = 4; 8: exit (subprog 3).
    fn four_subprogs() -> Program {
        let insns = vec![
            call_rel(6),
            exit(),
            mov64_imm(0, 1),
            exit(),
            mov64_imm(0, 2),
            mov64_imm(0, 3),
            exit(),
            mov64_imm(0, 4),
            exit(),
        ];
        let mut p = prog(insns, &[(0, 0), (2, 1), (4, 2), (7, 3)]);
        p.linfo = lines(&[(0, 100), (2, 102), (4, 104), (7, 107)]);
        p.func_info = Some((0..4).map(|k| FuncInfo { insn_off: [0, 2, 4, 7][k], type_id: 10 + k as u32 }).collect());
        p.func_info_aux = vec![20, 21, 22, 23];
        p
    }

    /// What R(2, 5) does to `four_subprogs` (subprogs 1 and 2 wholly removed).
    fn four_subprogs_after_r2_5() -> Program {
        let p = four_subprogs();
        let mut w = p.clone();
        // call: target 7 >= 7 -> imm 6 - 5 = 1.
        w.insns = vec![call_rel(1), exit(), mov64_imm(0, 4), exit()];
        w.aux = vec![p.aux[0], p.aux[1], p.aux[7], p.aux[8]];
        // i = 1 (2 >= 2), j = 3 (7 == off + cnt): drop entries 1, 2, then
        // starts from i - 5: [0, 2], fake 9 -> 4. linfo_idx of old subprog 3:
        // l_off 1, l_cnt 2 (records 2, 4; record 7 == off + cnt: no inherit),
        // 3 >= 3 -> 1.
        w.subprogs = subs(&[(0, 0), (2, 1), (4, 0)]);
        w.linfo = lines(&[(0, 100), (2, 107)]);
        // func_info records 1, 2 dropped; insn_off NOT rewritten (adjust_btf_func).
        w.func_info = Some(vec![FuncInfo { insn_off: 0, type_id: 10 }, FuncInfo { insn_off: 7, type_id: 13 }]);
        // Q12: func_info_aux is not compacted.
        w.func_info_aux = vec![20, 21, 22, 23];
        w
    }

    pub fn removal_of_whole_subprogs_compacts_table_and_func_info<P: Patcher>(who: &str) {
        let mut x: P = mk(&four_subprogs());
        x.remove(2, 5).unwrap();
        assert_eq!(x.into_program(), four_subprogs_after_r2_5(), "{who}");
    }

    pub fn q12_func_info_aux_not_compacted<P: Patcher>(who: &str) {
        let mut x: P = mk(&four_subprogs());
        x.remove(2, 5).unwrap();
        let got = x.into_program();
        // func_info is compacted to type ids [10, 13]; func_info_aux keeps all
        // four entries in place, so entry 1 (21) is now misaligned with
        // subprog 1 (old subprog 3, whose aux is 23).
        assert_eq!(
            got.func_info.as_ref().map(|f| f.iter().map(|r| r.type_id).collect::<Vec<_>>()),
            Some(vec![10, 13]),
            "{who}"
        );
        assert_eq!(got.func_info_aux, vec![20, 21, 22, 23], "{who}");
    }

    pub fn removal_of_program_tail<P: Patcher>(who: &str) {
        // 0: r0 = 0; 1: if r0 == 0 goto +1 (3); 2: r0 = 1; 3: exit
        // 4: r0 = 2 (subprog 1); 5, 6: filler; 7: exit
        let insns = vec![
            mov64_imm(0, 0),
            jeq(0, 0, 1),
            mov64_imm(0, 1),
            exit(),
            mov64_imm(0, 2),
            mov64_imm(0, 3),
            mov64_imm(0, 4),
            exit(),
        ];
        let mut p = prog(insns.clone(), &[(0, 0), (4, 2)]);
        p.linfo = lines(&[(0, 1), (2, 2), (4, 3), (6, 4)]);
        let mut x: P = mk(&p);
        x.remove(4, 4).unwrap();
        let got = x.into_program();
        // i = 1, j = 2 (fake start 8 == off + cnt) > i: entry 1 dropped, the fake
        // exit moves into slot 1 and 8 - 4 = 4 = new len.
        assert_eq!(got.subprogs, subs(&[(0, 0), (4, 0)]), "{who}");
        // prog->len == off: no inheritance, records 4 and 6 simply go (an
        // inherited record would have landed at 4 = len).
        assert_eq!(got.linfo, lines(&[(0, 1), (2, 2)]), "{who}");
        assert_eq!(got.insns, insns[..4].to_vec(), "{who}");
        assert_eq!(got.aux, p.aux[..4].to_vec(), "{who}");

        // The tail of a single subprog: records [0, 3, 5], R(4, 2).
        let insns = vec![mov64_imm(0, 0), jeq(0, 0, 1), mov64_imm(0, 1), mov64_imm(0, 2), mov64_imm(0, 3), exit()];
        let mut p = Program::from_insns(insns);
        p.linfo = lines(&[(0, 1), (3, 2), (5, 3)]);
        let mut x: P = mk(&p);
        x.remove(4, 2).unwrap();
        let got = x.into_program();
        // Fake exit 6 -> 4; record 5 dropped, not inherited.
        assert_eq!(got.subprogs, subs(&[(0, 0), (4, 0)]), "{who}");
        assert_eq!(got.linfo, lines(&[(0, 1), (3, 2)]), "{who}");
    }

    pub fn linfo_inherits_last_removed_record<P: Patcher>(who: &str) {
        // §5.5 example: records at [0, 3, 5, 8], R(3, 3), program continues.
        let mut p = big(10, &[]);
        p.linfo = lines(&[(0, 10), (3, 13), (5, 15), (8, 18)]);
        let mut x: P = mk(&p);
        x.remove(3, 3).unwrap();
        // l_off 1, l_cnt 2 (3, 5); record 8 != 6 -> inherit: the LAST removed
        // record (line 15) becomes 6; record (3, 13) dropped; -3 -> [0, 3, 5].
        assert_eq!(x.into_program().linfo, lines(&[(0, 10), (3, 15), (5, 18)]), "{who}");
    }

    pub fn linfo_idx_fixup_after_remove<P: Patcher>(who: &str) {
        // 0: call pc+5 (6); 1: call pc+7 (9); 2, 3, 4: filler; 5: exit
        // 6: r0 = 1 (subprog 1); 7: filler; 8: exit; 9: r0 = 2 (subprog 2); 10: exit
        let mut v = filler(11);
        v[0] = call_rel(5);
        v[1] = call_rel(7);
        v[5] = exit();
        v[6] = mov64_imm(0, 1);
        v[8] = exit();
        v[9] = mov64_imm(0, 2);
        v[10] = exit();
        let mut p = prog(v, &[(0, 0), (6, 3), (9, 5)]);
        p.linfo = lines(&[(0, 1), (2, 2), (3, 3), (6, 4), (7, 5), (9, 6)]);

        // A: R(2, 2). l_off 1, records 2, 3 inside (l_cnt 2); record 6 != 4 ->
        // inherit (line 3 -> 4), l_cnt 1; drop record 1; -2 from index 1 on.
        // linfo_idx > 1 and >= 1 + 1 -> -1: 3 -> 2, 5 -> 4. Starts -2.
        let mut x: P = mk(&p);
        x.remove(2, 2).unwrap();
        let got = x.into_program();
        assert_eq!(got.linfo, lines(&[(0, 1), (2, 3), (4, 4), (5, 5), (7, 6)]), "{who}: A");
        assert_eq!(got.subprogs, subs(&[(0, 0), (4, 2), (7, 4), (9, 0)]), "{who}: A");
        assert_eq!(&got.insns[..2], &[call_rel(3), call_rel(5)], "{who}: A");

        // B: R(2, 4): records 2, 3 inside (l_cnt 2), record 6 == off + cnt -> no
        // inherit. The fake exit entry is part of the linfo_idx loop (Q14); its
        // linfo_idx is normally 0, set to 2 here to make that observable: 2 is
        // in (l_off, l_off + l_cnt) = (1, 3) -> l_off = 1. Others: 3 -> 1, 5 -> 3.
        p.subprogs[3].linfo_idx = 2;
        let mut x: P = mk(&p);
        x.remove(2, 4).unwrap();
        let got = x.into_program();
        assert_eq!(got.linfo, lines(&[(0, 1), (2, 4), (3, 5), (5, 6)]), "{who}: B");
        // Subprog 1 starts at off + cnt: 6 -> 2, 9 -> 5, fake 11 -> 7.
        assert_eq!(got.subprogs, subs(&[(0, 0), (2, 1), (5, 3), (7, 1)]), "{who}: B");
        assert_eq!(&got.insns[..2], &[call_rel(1), call_rel(3)], "{who}: B");
    }

    pub fn q8_insn_array_entries_become_deleted<P: Patcher>(who: &str) {
        // 0: if r1 == 0 goto +1 (target 2 = off); 1..6: filler; 7: exit
        let mut p = big(8, &[(0, jeq(1, 0, 1))]);
        p.insn_arrays = vec![vec![0, 2, 3, 4, 5, 7], vec![D, 3]];
        let mut x: P = mk(&p);
        x.remove(2, 3).unwrap();
        let got = x.into_program();
        // < 2 stays, [2, 5) -> INSN_DELETED, >= 5 -> -3, DELETED stays.
        assert_eq!(got.insn_arrays, vec![vec![0, D, D, D, 2, 4], vec![D, D]], "{who}");
        // ...while the jump to slot 2 slides to the first survivor (old 5).
        assert_eq!(got.insns[0], jeq(1, 0, 1), "{who}");

        // The nop case: removing a single `ja +0` at 2 deletes the array entry
        // that pointed at it, while the jump to it slides to old 3.
        let mut p = Program::from_insns(vec![jeq(1, 0, 1), mov64_imm(1, 1), ja(0), mov64_imm(1, 3), exit()]);
        p.insn_arrays = vec![vec![2, 3]];
        let mut x: P = mk(&p);
        x.remove(2, 1).unwrap();
        let got = x.into_program();
        assert_eq!(got.insn_arrays, vec![vec![D, 2]], "{who}");
        assert_eq!(got.insns, vec![jeq(1, 0, 1), mov64_imm(1, 1), mov64_imm(1, 3), exit()], "{who}");
    }

    pub fn q8_pokes_untouched_by_removal<P: Patcher>(who: &str) {
        let mut p = big(8, &[]);
        p.pokes = vec![1, 2, 3, 5, 6, 7];
        let mut x: P = mk(&p);
        x.remove(2, 3).unwrap();
        // verifier_remove_insns never touches pokes, even in/after the range
        // and even past the new length 5.
        assert_eq!(x.len(), 5, "{who}");
        let a = mov64_imm(2, 0);
        x.patch(1, &[a, x.insn(1).unwrap()]).unwrap();
        // A later P(1, 2) moves every insn_idx > 1 by one.
        assert_eq!(x.into_program().pokes, vec![1, 3, 4, 6, 7, 8], "{who}");
        let mut x: P = mk(&p);
        x.remove(2, 3).unwrap();
        assert_eq!(x.into_program().pokes, vec![1, 2, 3, 5, 6, 7], "{who}");
    }

    pub fn q10_remove_nops_shapes<P: Patcher>(who: &str) {
        // 0: r0 = 0; 1: may_goto +1 (3); 2: may_goto +0; 3: ja +1 (5);
        // 4: ja +0; 5: gotol +0; 6: exit
        let p = Program::from_insns(vec![mov64_imm(0, 0), may_goto(1), may_goto(0), ja(1), ja(0), gotol(0), exit()]);
        let mut x: P = mk(&p);
        opt_remove_nops(&mut x);
        // i = 2 (may_goto +0): R(2, 1), the may_goto at 1 (target 3 >= 3)
        //   becomes +0, revisit i - 1 = 1: R(1, 1). Now [r0, ja +1, ja +0, gotol, exit].
        // i = 2 (ja +0): R(2, 1), the ja at 1 becomes ja +0 but is not revisited.
        // gotol +0 (0x06) is never a nop.
        let got = x.into_program();
        assert_eq!(got.insns, vec![mov64_imm(0, 0), ja(0), gotol(0), exit()], "{who}");
        assert_eq!(got.aux, vec![p.aux[0], p.aux[3], p.aux[5], p.aux[6]], "{who}");
    }

    /// `opt_remove_nops` (§5.7 step 3) over the trait.
    fn opt_remove_nops<P: Patcher>(x: &mut P) {
        let mut i: isize = 0;
        let mut cnt = x.len() as isize;
        while i < cnt {
            let insn = x.insn(i as usize).unwrap();
            let is_ja0 = insn == ja(0);
            let is_mg0 = insn == may_goto(0);
            if is_ja0 || is_mg0 {
                x.remove(i as usize, 1).unwrap();
                cnt -= 1;
                i -= if is_mg0 && i > 0 { 2 } else { 1 };
            }
            i += 1;
        }
    }

    // ------------------------------------------------ §4.5 adjust_jmp_off

    pub fn q11_adjust_jmp_off_skips_calls_and_pseudo_funcs<P: Patcher>(who: &str) {
        // 0: call pc+4 (5); 1,2: r2 = func pc+3 (5); 3: r0 = 0; 4: exit
        // 5: r0 = 1 (subprog 1); 6: if r0 == 0 goto -2 (5); 7: gotol -3 (5); 8: exit
        let f = ld_imm64(2, pseudo::FUNC, 3);
        let insns =
            vec![call_rel(4), f[0], f[1], mov64_imm(0, 0), exit(), mov64_imm(0, 1), jeq(0, 0, -2), gotol(-3), exit()];
        let mut p = prog(insns, &[(0, 0), (5, 1)]);
        p.linfo = lines(&[(0, 1), (5, 2)]);
        p.insn_arrays = vec![vec![5, 6]];
        p.pokes = vec![5];
        let mut x: P = mk(&p);
        // A 2-slot prologue at the subprog start whose second slot jumps back
        // to the first: P(5, 3), delta 2.
        let pro = [mov64_imm(3, 0), jeq(3, 1, -2)];
        x.patch(5, &[pro[0], pro[1], mov64_imm(0, 1)]).unwrap();
        // call and func target 5 = off: unchanged. old 6 -> 8: 8 - 2 + 1 = 7 < 8
        // -> off -4 (target 5); old 7 -> 9: imm -5 (target 5). Array entry 6 -> 8.
        assert_eq!(x.insn(8), Some(jeq(0, 0, -4)), "{who}");
        assert_eq!(x.insn(9), Some(gotol(-5)), "{who}");
        x.adjust_jmp_off(5, 2).unwrap();
        let got = x.into_program();
        // Plain jumps to 5 from outside [5, 7) -> +2 (target 7, the original):
        // 8: -4 -> -2; 9: gotol (imm) -5 -> -3. Slot 6 is inside: stays -2.
        // Calls and pseudo funcs keep entering the prologue.
        let want = vec![
            call_rel(4),
            f[0],
            f[1],
            mov64_imm(0, 0),
            exit(),
            pro[0],
            pro[1],
            mov64_imm(0, 1),
            jeq(0, 0, -2),
            gotol(-3),
            exit(),
        ];
        assert_eq!(got.insns, want, "{who}");
        // Nothing else is touched: insn array entry 5, poke 5, record 5 and
        // subprog start 5 keep pointing at the prologue.
        assert_eq!(got.insn_arrays, vec![vec![5, 8]], "{who}");
        assert_eq!(got.pokes, vec![5], "{who}");
        assert_eq!(got.linfo, lines(&[(0, 1), (5, 2)]), "{who}");
        assert_eq!(got.subprogs, subs(&[(0, 0), (5, 1), (11, 0)]), "{who}");
        let mut want_aux = p.aux.clone();
        want_aux.splice(5..5, [fresh(1, pro[0]), fresh(1, pro[1])]);
        assert_eq!(got.aux, want_aux, "{who}");
    }

    pub fn adjust_jmp_off_erange_keeps_earlier_rewrites<P: Patcher>(who: &str) {
        // 32772 slots. Jumps to 32768: 0: gotol +32767; 1: ja +32766;
        // 2: if r1 == 0 goto +32765; 32770: ja -3. 32771: exit.
        let p = big(32772, &[(0, gotol(32767)), (1, ja(32766)), (2, jeq(1, 0, 32765)), (32770, ja(-3))]);
        let mut x: P = mk(&p);
        let e = x.adjust_jmp_off(32768, 2).unwrap_err();
        // Index order: 0 (gotol, s32) -> imm 32769, written. 1 -> +32768 >
        // S16_MAX: -ERANGE at insn 1 (orig_idx 1), the loop stops: slot 2
        // and slot 32770 keep their old values.
        assert_eq!(e, PatchError::Range { insn: 1, orig_idx: 1 }, "{who}");
        assert_eq!(e.errno(), Some(ERANGE), "{who}");
        let mut want = p.clone();
        want.insns[0] = gotol(32769);
        same(&x.into_program(), &want, who, "after adjust_jmp_off -ERANGE");
    }

    // ------------------------------------------------ Q13, Q14

    pub fn q13_removal_cutting_subprog_is_refused<P: Patcher>(who: &str) {
        // 0: call pc+5 (6); 1: r0 = 0; 2: exit
        // 3: r0 = 1 (subprog 1, uncalled); 4: filler; 5: exit
        // 6: r0 = 2 (subprog 2); 7: filler; 8: exit
        let insns = vec![
            call_rel(5),
            mov64_imm(0, 0),
            exit(),
            mov64_imm(0, 1),
            mov64_imm(1, 1),
            exit(),
            mov64_imm(0, 2),
            mov64_imm(1, 2),
            exit(),
        ];
        let p = prog(insns.clone(), &[(0, 0), (3, 0), (6, 0)]);
        let mut x: P = mk(&p);
        // R(4, 3) = slots 4..6: subprog 2 starts at 6 in (4, 7) and goes on to 9.
        assert_eq!(x.remove(4, 3), Err(PatchError::CutsSubprog { subprog: 2, start: 6, off: 4, cnt: 3 }), "{who}");
        // R(2, 2) = slots 2, 3: subprog 1 starts at 3 in (2, 4) and goes on to 6.
        assert_eq!(x.remove(2, 2), Err(PatchError::CutsSubprog { subprog: 1, start: 3, off: 2, cnt: 2 }), "{who}");
        // R(2, 4) ends exactly where subprog 2 starts: subprog 1 is dropped
        // whole (i = 1, j = 2), allowed. call: 6 >= 6 -> imm 1.
        x.remove(2, 4).unwrap();
        let got = x.into_program();
        assert_eq!(got.insns, vec![call_rel(1), insns[1], insns[6], insns[7], insns[8]], "{who}");
        assert_eq!(got.subprogs, subs(&[(0, 0), (2, 0), (5, 0)]), "{who}");
        let mut x: P = mk(&p);
        let _ = x.remove(4, 3);
        assert_eq!(x.into_program(), p, "{who}: refused removal changed state");
    }

    pub fn q14_boundaries<P: Patcher>(who: &str) {
        // Patch side, "> off moves": P(3, 2) with every kind of reference at
        // off - 1 = 2, off = 3 and off + 1 = 4.
        // 0: call pc+2 (3); 1: call pc+2 (4); 2: exit; 3: exit (subprog 1)
        // 4: r0 = 2 (subprog 2); 5: exit
        let insns = vec![call_rel(2), call_rel(2), exit(), exit(), mov64_imm(0, 2), exit()];
        let mut p = prog(insns, &[(0, 0), (3, 1), (4, 2)]);
        p.linfo = lines(&[(0, 1), (3, 2), (4, 3)]);
        p.insn_arrays = vec![vec![2, 3, 4]];
        p.pokes = vec![2, 3, 4];
        let mut x: P = mk(&p);
        x.patch(3, &[mov64_imm(0, 9), exit()]).unwrap();
        let got = x.into_program();
        assert_eq!(got.subprogs, subs(&[(0, 0), (3, 1), (5, 2), (7, 0)]), "{who}: patch subprogs");
        assert_eq!(got.linfo, lines(&[(0, 1), (3, 2), (5, 3)]), "{who}: patch linfo");
        assert_eq!(got.insn_arrays, vec![vec![2, 3, 5]], "{who}: patch arrays");
        assert_eq!(got.pokes, vec![2, 3, 5], "{who}: patch pokes");
        // Branches: target 3 (= off) not >= end_old 4 stays; target 4 moves.
        assert_eq!(&got.insns[..2], &[call_rel(2), call_rel(3)], "{who}: patch calls");

        // Removal side, R(2, 3) windows [2, 5):
        // 0: call pc+4 (5); 1..3: filler; 4: exit; 5: r0 = 7 (subprog 1); 6: exit
        let mut v = filler(7);
        v[0] = call_rel(4);
        v[4] = exit();
        v[5] = mov64_imm(0, 7);
        v[6] = exit();
        let mut p = prog(v.clone(), &[(0, 0), (5, 3)]);
        p.linfo = lines(&[(0, 1), (1, 2), (2, 3), (5, 4)]);
        p.insn_arrays = vec![vec![1, 2, 3, 4, 5]];
        p.pokes = vec![1, 2, 5];
        let mut x: P = mk(&p);
        x.remove(2, 3).unwrap();
        let got = x.into_program();
        // Arrays: 1 < off stays; 2, 3, 4 deleted; 5 == off + cnt -> 2.
        assert_eq!(got.insn_arrays, vec![vec![1, D, D, D, 2]], "{who}: remove arrays");
        // Subprog 1 starts at off + cnt: j stays at it, not > i: 5 -> 2, fake 7 -> 4.
        // linfo: l_off 2 (record 1 = off - 1 is before it), l_cnt 1 (record 2),
        // record 5 == off + cnt -> no inherit; linfo_idx 3 > 2 -> 3 - 1 = 2.
        assert_eq!(got.subprogs, subs(&[(0, 0), (2, 2), (4, 0)]), "{who}: remove subprogs");
        assert_eq!(got.linfo, lines(&[(0, 1), (1, 2), (2, 4)]), "{who}: remove linfo");
        assert_eq!(got.pokes, vec![1, 2, 5], "{who}: remove pokes");
        assert_eq!(got.insns, vec![call_rel(1), v[1], v[5], v[6]], "{who}: remove insns");
    }

    // ------------------------------------------------ §6.5 add_hidden_subprog

    pub fn hidden_subprog_appends_and_second_is_efault<P: Patcher>(who: &str) {
        // 0: ja +1 (target 2 = the last insn); 1: r0 = 1; 2: exit
        let mut p = Program::from_insns(vec![ja(1), mov64_imm(0, 1), exit()]);
        p.linfo = lines(&[(0, 5)]);
        p.func_info = Some(vec![FuncInfo { insn_off: 0, type_id: 9 }]);
        let mut x: P = mk(&p);
        let hidden = [exit(), mov64_reg(0, 1), exit()];
        x.add_hidden_subprog(&hidden).unwrap();
        let got = x.into_program();
        let mut want = p.clone();
        // P(L - 1 = 2, 3): the ja targets off -> unchanged, still the old last
        // insn at 2. The original exit's aux goes to slot 4 (Q2); 2, 3 fresh.
        want.insns = vec![ja(1), mov64_imm(0, 1), exit(), mov64_reg(0, 1), exit()];
        want.aux = vec![p.aux[0], p.aux[1], fresh(1, exit()), fresh(1, mov64_reg(0, 1)), p.aux[2]];
        // Fake exit 3 -> 5, copied to slot 2; slot 1 (the old fake exit entry,
        // linfo_idx 0) gets start 5 - 3 + 1 = 3. No line info, no func_info.
        want.subprogs = subs(&[(0, 0), (3, 0), (5, 0)]);
        want.hidden_subprog_cnt = 1;
        assert_eq!(got, want, "{who}");

        let mut x: P = mk(&p);
        x.add_hidden_subprog(&hidden).unwrap();
        let e = x.add_hidden_subprog(&[exit(), mov64_reg(0, 2), exit()]).unwrap_err();
        assert_eq!(e, PatchError::Fault, "{who}");
        assert_eq!(e.errno(), Some(EFAULT), "{who}");
        assert_eq!(x.into_program(), want, "{who}: state after -EFAULT");
    }

    pub fn q15_hidden_subprog_new_fake_exit_linfo_idx_is_stale_slot<P: Patcher>(who: &str) {
        // four_subprogs, R(2, 5): memmove(info + 1, info + 3, 2 entries) leaves
        // info[3] = the old subprog 3 entry {start 7, linfo_idx 3} past the new
        // subprog_cnt + 1 = 3 entries; the linfo_idx loop stops at subprog_cnt
        // (2), so it is never fixed (Q15).
        let mut x: P = mk(&four_subprogs());
        x.remove(2, 5).unwrap();
        let hidden = [exit(), mov64_reg(0, 1), exit()];
        x.add_hidden_subprog(&hidden).unwrap();
        let got = x.into_program();
        let mut want = four_subprogs_after_r2_5();
        let a = want.aux.clone();
        // P(3, 3) appends: the call (target 2 < 4) is unchanged.
        want.insns = vec![call_rel(1), exit(), mov64_imm(0, 4), exit(), mov64_reg(0, 1), exit()];
        want.aux = vec![a[0], a[1], a[2], fresh(1, exit()), fresh(1, mov64_reg(0, 1)), a[3]];
        // Fake exit 4 -> 6. info[3].start = info[2].start = 6 with info[3]'s
        // stale linfo_idx 3; info[2] (the old fake exit, linfo_idx 0) gets
        // start 6 - 3 + 1 = 4.
        want.subprogs = subs(&[(0, 0), (2, 1), (4, 0), (6, 3)]);
        want.hidden_subprog_cnt = 1;
        assert_eq!(got, want, "{who}");
    }

    // ------------------------------------------------ tool preconditions

    pub fn zero_length_patch_and_out_of_range_errors<P: Patcher>(who: &str) {
        // 0: if r1 == 0 goto +2 (3); 1, 2: filler; 3: exit
        let mut p = big(4, &[(0, jeq(1, 0, 2))]);
        p.linfo = lines(&[(0, 1), (2, 2)]);
        p.insn_arrays = vec![vec![1, 3]];
        p.pokes = vec![2];
        type Step<P> = (&'static str, fn(&mut P) -> Result<(), PatchError>, PatchError);
        let steps: Vec<Step<P>> = vec![
            ("patch(0, [])", |x| x.patch(0, &[]), PatchError::EmptyPatch),
            ("patch(9, []) (empty is checked first)", |x| x.patch(9, &[]), PatchError::EmptyPatch),
            ("patch(4, [m])", |x| x.patch(4, &[mov64_imm(2, 0)]), PatchError::OffOutOfRange { off: 4, len: 4 }),
            ("set(4, m)", |x| x.set(4, mov64_imm(2, 0)), PatchError::OffOutOfRange { off: 4, len: 4 }),
            ("remove(1, 0)", |x| x.remove(1, 0), PatchError::RangeOutOfProgram { off: 1, cnt: 0, len: 4 }),
            ("remove(3, 2)", |x| x.remove(3, 2), PatchError::RangeOutOfProgram { off: 3, cnt: 2, len: 4 }),
            ("remove(4, 1)", |x| x.remove(4, 1), PatchError::RangeOutOfProgram { off: 4, cnt: 1, len: 4 }),
            ("remove(0, 4)", |x| x.remove(0, 4), PatchError::RangeOutOfProgram { off: 0, cnt: 4, len: 4 }),
            // The patchlet's ja at 1 targets 1 + 100 + 1 = 102 > new len 5.
            (
                "patch(1, [ja +100, m])",
                |x| x.patch(1, &[ja(100), mov64_imm(2, 0)]),
                PatchError::TargetOutOfProgram { insn: 1, target: 102, len: 5 },
            ),
            (
                "adjust_jmp_off(4, 0)",
                |x| x.adjust_jmp_off(4, 0),
                PatchError::JmpOffOutOfRange { tgt: 4, delta: 0, len: 4 },
            ),
            (
                "adjust_jmp_off(2, 3)",
                |x| x.adjust_jmp_off(2, 3),
                PatchError::JmpOffOutOfRange { tgt: 2, delta: 3, len: 4 },
            ),
            ("add_hidden_subprog([])", |x| x.add_hidden_subprog(&[]), PatchError::EmptyPatch),
        ];
        let mut x: P = mk(&p);
        for (what, f, want) in steps {
            assert_eq!(f(&mut x), Err(want), "{who}: {what}");
            assert_eq!(x.len(), 4, "{who}: {what}");
        }
        assert_eq!(x.into_program(), p, "{who}: state after the refused operations");

        // Not an error: a removal may leave a jump pointing past the end (Q7,
        // the kernel neither clamps nor checks). R(2, 2): the jump at 0 targets
        // 3 = off + 1 (k = 1); 0 < 2 but 3 < end_old 4 -> unchanged +2, now
        // one past the new length 2. Record 2 goes (tail: no inheritance),
        // array entry 3 is deleted, fake exit 4 -> 2, the poke stays.
        let mut x: P = mk(&p);
        x.remove(2, 2).unwrap();
        let mut want = p.clone();
        want.insns = vec![jeq(1, 0, 2), p.insns[1]];
        want.aux.truncate(2);
        want.subprogs = subs(&[(0, 0), (2, 0)]);
        want.linfo = lines(&[(0, 1)]);
        want.insn_arrays = vec![vec![1, D]];
        assert_eq!(x.snapshot(), want, "{who}: R(2, 2) past the end");
        // Such a jump is then adjusted like any other: P(1, 2): target 3 >=
        // end_old 2 -> +3 (still one past the new length 3).
        let m = mov64_imm(2, 0);
        x.patch(1, &[m, p.insns[1]]).unwrap();
        assert_eq!(
            x.into_program().insns,
            vec![jeq(1, 0, 3), m, p.insns[1]],
            "{who}: patch after a past-the-end removal"
        );

        // Q1 exclusion: patching the last slot with new length > S16_MAX
        // (directly, or through add_hidden_subprog, which always patches L - 1).
        let p = big(32767, &[]);
        let mut x: P = mk(&p);
        assert_eq!(x.patch(32766, &[exit(), exit()]), Err(PatchError::ProbePastEnd { off: 32766 }), "{who}");
        assert_eq!(
            x.add_hidden_subprog(&[exit(), mov64_reg(0, 1), exit()]),
            Err(PatchError::ProbePastEnd { off: 32766 }),
            "{who}"
        );
        same(&x.into_program(), &p, who, "after ProbePastEnd");
    }

    /// Q1: the probe would read one slot past the program when the last slot
    /// is patched and the new length exceeds S16_MAX; both patchers refuse it
    /// before any change, and the same patch one slot earlier goes through.
    pub fn q1_last_slot_patch_past_s16_max_is_refused<P: Patcher>(who: &str) {
        let p = big(32767, &[]);
        let mut x: P = mk(&p);
        assert_eq!(x.patch(32766, &[exit(), exit()]), Err(PatchError::ProbePastEnd { off: 32766 }), "{who}");
        assert_eq!(x.len(), 32767, "{who}: unchanged");
        // At 32765 (not the last slot) the new length 32768 is probed and fits.
        x.patch(32765, &[mov64_imm(2, 2), mov64_imm(3, 3)]).unwrap();
        assert_eq!(x.len(), 32768, "{who}");
    }

    /// Q9: a pseudo func whose callee subprog is removed keeps its index: it
    /// now names the next subprog's start (here: 3 - 3 = the old start 6, now
    /// at 3), or the program end when the callee was the tail.
    pub fn q9_pseudo_func_to_removed_subprog_keeps_its_index<P: Patcher>(who: &str) {
        let f = ld_imm64(2, pseudo::FUNC, 0);
        // 0: r2 = func (imm 1 → 3); 2: exit | 3: r0 = 1; 4: r0 = 2; 5: exit | 6: exit
        let insns = vec![Insn { imm: 2, ..f[0] }, f[1], exit(), mov64_imm(0, 1), mov64_imm(0, 2), exit(), exit()];
        let mut p = prog(insns, &[(0, 0), (3, 0), (6, 0)]);
        p.insns[0].imm = 2; // target 0 + 2 + 1 = 3
        let mut x: P = mk(&p);
        x.remove(3, 3).unwrap();
        let got = x.into_program();
        // Target stays at index 3, which is now subprog 2's start (old 6).
        assert_eq!(got.insns[0].imm, 2, "{who}");
        assert_eq!(got.subprogs, subs(&[(0, 0), (3, 0), (4, 0)]), "{who}");
        // The callee at the tail: the target becomes the program end.
        let mut y: P = mk(&p);
        y.remove(3, 4).unwrap_or_else(|e| panic!("{who}: {e}"));
        let got = y.into_program();
        assert_eq!(got.insns.len(), 3, "{who}");
        assert_eq!(got.insns[0].imm, 2, "{who}: now targets 3 = the end");
    }
}
