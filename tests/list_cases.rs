//! The cases a naive node-list patcher gets wrong, each run through both
//! patchers at once.
//!
//! Every test builds a valid program and an op sequence, applies each op to
//! the `ArrayPatcher` (the kernel model) and the `ListPatcher` side by side
//! (`Both`), compares the results and every `insn(i)` / `aux(i)` / `len()`
//! after every op, asserts concrete values derived by hand from the kernel
//! rules (/work/shared/docs/kernel-patching-semantics.md), and finally replays
//! the recorded case with `equiv::run_thorough` (whole state after every op).
//!
//! Notation as in the doc and tests/array_rules.rs: `P(off, n)` is a patch of
//! `n` slots at `off` (`delta = n - 1`, `end_old = off + 1`, `end_new = off +
//! n`); `R(off, cnt)` a removal (`end_old = off + cnt`, `end_new = off`). The
//! branch rule (§2.2): `curr < pos && tgt >= end_old => x += delta`, else
//! `curr >= end_new && curr + x + 1 < end_new => x -= delta`.
//!
//! `Program::from_insns` gives slot `i` the aux `{orig_idx: i, seen: 1,
//! zext_dst: has_def32, token: i + 1}` (written `a<i>` in comments); a slot
//! inserted by a patch gets `fresh(seen, insn)` (§3.1), written `F`.

use patch_equiv::case::Case;
use patch_equiv::diff::first_difference;
use patch_equiv::equiv::run_thorough;
use patch_equiv::insn::build::*;
use patch_equiv::insn::{class, field, op, pseudo, Insn};
use patch_equiv::op::Op;
use patch_equiv::patcher::{ArrayPatcher, ListPatcher, PatchError, Patcher};
use patch_equiv::program::{Aux, FuncInfo, LineInfo, Program, Subprog, INSN_DELETED};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::time::Instant;

mod common;
use common::{lines, prog, subs};

// ---------------------------------------------------------------- helpers

const D: u32 = INSN_DELETED;
/// `BPF_REG_AX`.
const AX: u8 = 11;

/// The two patchers side by side plus the case recorded so far.
struct Both {
    a: ArrayPatcher,
    l: ListPatcher,
    case: Case,
    /// Compare every slot after each op; otherwise only around the op (the
    /// long random tests, which add their own `Op::Read`s).
    full: bool,
}

impl Both {
    fn new(p: &Program) -> Both {
        let a = ArrayPatcher::new(p.clone()).unwrap_or_else(|e| panic!("fixture rejected: {e}"));
        let l = ListPatcher::new(p.clone()).unwrap_or_else(|e| panic!("fixture rejected by the list patcher: {e}"));
        let case = Case {
            name: "list_cases".into(),
            prog: p.clone(),
            ops: Vec::new(),
            expect: None,
            ignore_tokens: false,
            notes: Vec::new(),
        };
        let b = Both { a, l, case, full: true };
        b.compare_all("load");
        b
    }

    /// Apply `op` to both; the results must be equal, and so must every read.
    fn try_op(&mut self, op: Op) -> Result<(), PatchError> {
        let k = self.case.ops.len();
        let ra = op.apply(&mut self.a);
        let rl = op.apply(&mut self.l);
        assert_eq!(ra, rl, "op {k} ({op:?}): array and list results differ");
        let around = touched(&op);
        self.case.ops.push(op);
        if self.full {
            self.compare_all(&format!("after op {k}"));
        } else {
            self.compare_at(&format!("after op {k}"), around);
        }
        ra.map(|_| ())
    }

    fn ok(&mut self, op: Op) {
        let k = self.case.ops.len();
        let d = format!("{op:?}");
        if let Err(e) = self.try_op(op) {
            panic!("op {k} ({d}) failed on both patchers: {e}");
        }
    }

    /// `op` must fail with `want` on both and leave both states unchanged.
    fn fails(&mut self, op: Op, want: PatchError) {
        let before = self.snap();
        let k = self.case.ops.len();
        let got = self.try_op(op).expect_err("op should fail");
        assert_eq!(got, want, "op {k}");
        let after = self.snap();
        if let Some(d) = first_difference(&before, &after, false) {
            panic!("op {k} failed but changed the state: {d}");
        }
    }

    fn patch(&mut self, off: usize, insns: &[Insn]) {
        self.ok(Op::Patch { off, insns: insns.to_vec() });
    }
    fn remove(&mut self, off: usize, cnt: usize) {
        self.ok(Op::Remove { off, cnt });
    }
    fn set(&mut self, off: usize, insn: Insn) {
        self.ok(Op::Set { off, insn });
    }
    fn hidden(&mut self, insns: &[Insn]) {
        self.ok(Op::HiddenSubprog { insns: insns.to_vec() });
    }
    fn adjust(&mut self, tgt: usize, delta: u32) {
        self.ok(Op::AdjustJmpOff { tgt, delta });
    }

    fn len(&self) -> usize {
        self.a.len()
    }
    fn insn(&self, i: usize) -> Insn {
        self.a.insn(i).unwrap_or_else(|| panic!("no slot {i}"))
    }
    fn aux(&self, i: usize) -> Aux {
        self.a.aux(i).unwrap_or_else(|| panic!("no slot {i}"))
    }
    /// Absolute branch target of slot `i`.
    fn tgt(&self, i: usize) -> i64 {
        self.insn(i).target(i).unwrap_or_else(|| panic!("slot {i} is not a branch: {:?}", self.insn(i)))
    }

    /// Both snapshots, which must be equal.
    fn snap(&self) -> Program {
        let (pa, pl) = (self.a.snapshot(), self.l.snapshot());
        if let Some(d) = first_difference(&pa, &pl, false) {
            panic!("after {} ops, snapshots differ (array = expected, list = got): {d}", self.case.ops.len());
        }
        pa
    }

    fn compare_all(&self, when: &str) {
        assert_eq!(self.a.len(), self.l.len(), "{when}: len");
        for i in 0..self.a.len() + 2 {
            self.compare_slot(when, i);
        }
    }

    fn compare_at(&self, when: &str, idx: Vec<usize>) {
        let len = self.a.len();
        assert_eq!(len, self.l.len(), "{when}: len");
        for i in idx.into_iter().chain([0, len.saturating_sub(1), len, len + 1]) {
            self.compare_slot(when, i);
        }
    }

    fn compare_slot(&self, when: &str, i: usize) {
        assert_eq!(self.a.insn(i), self.l.insn(i), "{when}: insn({i}) (left array, right list)");
        assert_eq!(self.a.aux(i), self.l.aux(i), "{when}: aux({i}) (left array, right list)");
    }

    /// Final comparison plus the thorough replay of the whole case; returns
    /// the final state.
    fn finish(self) -> Program {
        let p = self.snap();
        if let Some(r) = run_thorough::<ArrayPatcher, ListPatcher>(&self.case).divergence() {
            panic!("run_thorough found a divergence:\n{r}");
        }
        p
    }
}

/// Slots worth reading after `op`: around its position.
fn touched(op: &Op) -> Vec<usize> {
    let (lo, hi) = match op {
        Op::Patch { off, insns } => (*off, off + insns.len()),
        Op::Remove { off, .. } | Op::Set { off, .. } => (*off, off + 1),
        Op::AdjustJmpOff { tgt, delta } => (*tgt, tgt + *delta as usize),
        Op::Read { idx } => (*idx, idx + 1),
        Op::HiddenSubprog { .. } => (0, 0),
    };
    (lo.saturating_sub(2)..hi + 2).collect()
}

fn func_info(offs: &[u32]) -> Option<Vec<FuncInfo>> {
    Some(offs.iter().enumerate().map(|(k, &insn_off)| FuncInfo { insn_off, type_id: 10 + k as u32 }).collect())
}

/// The aux entry of a non-last patchlet slot (§3.1).
fn fresh(seen: u32, insn: Insn) -> Aux {
    Aux { orig_idx: 0, seen, zext_dst: insn.has_def32(), token: 0 }
}

/// `F` with `seen = 1` and the given `zext_dst`.
fn f1(zext_dst: bool) -> Aux {
    Aux { orig_idx: 0, seen: 1, zext_dst, token: 0 }
}

/// Filler slot `r1 = i` (64-bit: no branch, no 32-bit def).
fn fl(i: i32) -> Insn {
    mov64_imm(1, i)
}

fn jeq(dst: u8, imm: i32, off: i16) -> Insn {
    jmp_imm(op::JEQ, dst, imm, off)
}

fn ld_func(dst: u8, imm: i32) -> [Insn; 2] {
    ld_imm64(dst, pseudo::FUNC, imm as u32 as u64)
}

/// A single-subprog program of `len` filler slots ending in `exit`, with the
/// given slots overwritten.
fn big(len: usize, set: &[(usize, Insn)]) -> Program {
    let mut v: Vec<Insn> = (0..len as i32).map(fl).collect();
    v[len - 1] = exit();
    for &(i, insn) in set {
        v[i] = insn;
    }
    Program::from_insns(v)
}

/// `want` must equal `got`; the first differing table is named.
fn same(got: &Program, want: &Program, what: &str) {
    if let Some(d) = first_difference(want, got, false) {
        panic!("{what}: {d}");
    }
}

// ---------------------------------------------------------------- §3, §6.3

#[test]
fn patch_of_slot_inserted_by_earlier_patch() {
    // 0: r0 = 0
    // 1: if r0 == 0 goto +1   (-> 3)
    // 2: r1 = 1
    // 3: r2 = 2               <- P1
    // 4: ja -2                (-> 3)
    // 5: exit
    let insns = vec![mov64_imm(0, 0), jeq(0, 0, 1), mov64_imm(1, 1), mov64_imm(2, 2), ja(-2), exit()];
    let mut p = Program::from_insns(insns.clone());
    p.linfo = lines(&[(0, 10), (3, 13), (5, 15)]);
    p.insn_arrays = vec![vec![3, 4, 5]];
    p.pokes = vec![3, 4];
    // Slot 3 was seen in pass 5 and liveness wanted a zext (Q3 will drop it).
    p.aux[3].seen = 5;
    p.aux[3].zext_dst = true;
    let a = p.aux.clone();
    let mut x = Both::new(&p);
    let f = |z| Aux { orig_idx: 0, seen: 5, zext_dst: z, token: 0 };

    // P1(3, 4): [if r3 == 1 goto +1 (-> 5), if r3 == 2 goto +1 (-> 6),
    // w4 = 4, r2 = 2]. delta 3. The jump at 1 targets 3 = off: unchanged, it
    // now lands on the first patchlet slot. Old 4 (ja -2) is now 7 >= end_new
    // 7 and 7 - 2 + 1 = 6 < 7: x -= 3 -> -5 (-> 3). Slots 3..5 get F(seen 5),
    // slot 6 gets a3 with zext_dst = has_def32(r2 = 2) = false. Line info,
    // insn array and pokes: > 3 moves by 3, == 3 stays.
    x.patch(3, &[jeq(3, 1, 1), jeq(3, 2, 1), mov32_imm(4, 4), mov64_imm(2, 2)]);
    assert_eq!((x.tgt(1), x.tgt(3), x.tgt(4), x.tgt(7)), (3, 5, 6, 3));
    assert_eq!(x.aux(6), Aux { zext_dst: false, ..a[3] });

    // P2: the MIDDLE slot 5 (w4 = 4, inserted by P1, aux F(5, true)) with
    // [r5 = 5, w4 = 4]. delta 1. Slot 3 (-> 5 = off) stays and lands on r5 = 5;
    // slot 4 (-> 6 >= end_old 6) gets +1 -> +2 (-> 7, still r2 = 2). Old 7
    // (-> 3) now 8: 8 - 5 + 1 = 4 < 7 -> -6. The inserted slot's aux moves to
    // slot 6 with zext_dst = has_def32(w4 = 4) = true; slot 5 gets F(5, false).
    x.patch(5, &[mov64_imm(5, 5), mov32_imm(4, 4)]);
    assert_eq!((x.tgt(3), x.tgt(4), x.tgt(8)), (5, 7, 3));
    assert_eq!((x.aux(5), x.aux(6)), (f(false), f(true)));

    // P3: the FIRST slot 3 (if r3 == 1 goto +1, the slot that took over the
    // original's references: the jump at 1, record 13, array entry 3, poke 3)
    // with [w6 = 6, if r3 == 1 goto +1]. The re-emitted jump at 4 targets 6 =
    // old 5 (r5 = 5), as before. Slot 1 (-> 3 = off) stays; old 4 (-> 7, now
    // at 5): 5 + 2 + 1 = 8 >= end_new: unchanged. Old 8 (-> 3) now 9: -7.
    // Aux: slot 3 F(5, has_def32(w6) = true), slot 4 the old F with
    // zext_dst = has_def32(jeq) = false.
    x.patch(3, &[mov32_imm(6, 6), jeq(3, 1, 1)]);
    assert_eq!((x.tgt(1), x.tgt(4), x.tgt(5), x.tgt(9)), (3, 6, 8, 3));
    assert_eq!((x.aux(3), x.aux(4)), (f(true), f(false)));

    // P4: the LAST slot of P1's patchlet (slot 8, r2 = 2, holding a3) with
    // [r2 = 2, w7 = 7] (orig first, like zext). a3 moves to slot 9 with
    // zext_dst = has_def32(w7) = true; slot 8 gets F(5, false). Slot 5 (-> 8
    // = off) stays; old 9 (-> 3) now 10: -8. Records, entries, pokes > 8 move.
    x.patch(8, &[mov64_imm(2, 2), mov32_imm(7, 7)]);
    assert_eq!(x.aux(9), Aux { zext_dst: true, ..a[3] });

    let got = x.finish();
    let mut want = p.clone();
    want.insns = vec![
        mov64_imm(0, 0),
        jeq(0, 0, 1),
        mov64_imm(1, 1),
        mov32_imm(6, 6),
        jeq(3, 1, 1),
        jeq(3, 2, 2),
        mov64_imm(5, 5),
        mov32_imm(4, 4),
        mov64_imm(2, 2),
        mov32_imm(7, 7),
        ja(-8),
        exit(),
    ];
    want.aux = vec![
        a[0],
        a[1],
        a[2],
        f(true),
        f(false),
        f(false),
        f(false),
        f(true),
        f(false),
        Aux { zext_dst: true, ..a[3] },
        a[4],
        a[5],
    ];
    // Record 13, entry 3 and poke 3 never left slot 3; the others moved by
    // 3 + 1 + 1 + 1.
    want.linfo = lines(&[(0, 10), (3, 13), (11, 15)]);
    want.insn_arrays = vec![vec![3, 10, 11]];
    want.pokes = vec![3, 10];
    want.subprogs = subs(&[(0, 0), (12, 0)]);
    same(&got, &want, "final");
}

// ---------------------------------------------------------------- §6.4

#[test]
fn patchlet_jump_to_slot_after_patchlet() {
    // A: the unsigned div X guard of do_misc_fixups (orig@3, `JA +1` -> end).
    // 0: r0 = 0; 1: r1 /= r2 (64); 2: r3 = 3; 3: exit
    let div = raw(class::ALU64 | op::DIV | field::X, 1, 2, 0, 0);
    let xor = raw(class::ALU | op::XOR | field::X, 1, 1, 0, 0);
    let mut p = Program::from_insns(vec![mov64_imm(0, 0), div, mov64_imm(3, 3), exit()]);
    p.linfo = lines(&[(0, 1), (2, 2)]);
    p.insn_arrays = vec![vec![2]];
    p.pokes = vec![2];
    let a = p.aux.clone();
    let mut x = Both::new(&p);

    // P(1, 4): [if r2 != 0 goto +2 (-> 4 = orig), w1 ^= w1, ja +1 (-> 5 =
    // end_new = old 2), orig]. Record/entry/poke at 2 -> 5.
    x.patch(1, &[jmp_imm(op::JNE, 2, 0, 2), xor, ja(1), div]);
    assert_eq!((x.tgt(1), x.tgt(3)), (4, 5));
    assert_eq!(x.insn(5), mov64_imm(3, 3));

    // Patch the ja's target (slot 5) with [w4 = 4, r3 = 3]: the ja targets
    // off, so it stays and now enters the new patchlet's first slot.
    x.patch(5, &[mov32_imm(4, 4), mov64_imm(3, 3)]);
    assert_eq!(x.tgt(3), 5);
    assert_eq!(x.insn(5), mov32_imm(4, 4));

    // Patch the last slot of the first patchlet (the div, holding a1) with
    // [div, r5 = 5]: the ja (-> 5 >= end_old 5) moves to +2 (-> 6 = w4 = 4);
    // the jne (-> 4 = off) stays on the div.
    x.patch(4, &[div, mov64_imm(5, 5)]);
    assert_eq!((x.insn(3), x.tgt(3), x.tgt(1)), (ja(2), 6, 4));
    assert_eq!(x.aux(5), a[1]);

    // Patch inside the first patchlet before the ja (slot 2, w1 ^= w1) with
    // [xor, r6 = 6]: jne (-> 4 >= 3) -> +3 (-> 5, the div); the ja, now at 4,
    // has 4 + 2 + 1 = 7 >= end_new 4: unchanged (-> 7 = w4 = 4).
    x.patch(2, &[xor, mov64_imm(6, 6)]);
    assert_eq!((x.insn(1), x.tgt(1), x.insn(4), x.tgt(4)), (jmp_imm(op::JNE, 2, 0, 3), 5, ja(2), 7));

    let got = x.finish();
    let mut want = p.clone();
    want.insns = vec![
        mov64_imm(0, 0),
        jmp_imm(op::JNE, 2, 0, 3),
        xor,
        mov64_imm(6, 6),
        ja(2),
        div,
        mov64_imm(5, 5),
        mov32_imm(4, 4),
        mov64_imm(3, 3),
        exit(),
    ];
    // Aux: P(1): [a0, F, F(xor: def32), F, a1, a2, a3]; P(5): [.., a1, F(w4),
    // a2, a3]; P(4): [.., F(div), a1, F(w4), a2, a3]; P(2): the xor's F moves
    // to 3 with zext_dst = has_def32(r6 = 6) = false, slot 2 fresh F(xor).
    want.aux = vec![a[0], f1(false), f1(true), f1(false), f1(false), f1(false), a[1], f1(true), a[2], a[3]];
    // Record/entry/poke at old 2: P(1) -> 5, P(5) stays (now on w4 = 4),
    // P(4) -> 6, P(2) -> 7 (still on w4 = 4).
    want.linfo = lines(&[(0, 1), (7, 2)]);
    want.insn_arrays = vec![vec![7]];
    want.pokes = vec![7];
    want.subprogs = subs(&[(0, 0), (10, 0)]);
    same(&got, &want, "A");

    // B: end_new == the new length (the list's sentinel). Patching the last
    // slot (exit) with [if r0 == 0 goto +1, exit] gives a jump to index 4 =
    // len, which the patcher accepts (targets may be in [0, new_len]).
    let q = Program::from_insns(vec![mov64_imm(0, 0), mov64_imm(1, 1), exit()]);
    let b = q.aux.clone();
    let mut x = Both::new(&q);
    x.patch(2, &[jeq(0, 0, 1), exit()]);
    assert_eq!((x.len(), x.tgt(2)), (4, 4));
    // P(0, 2): the jump is after the patchlet, 3 + 1 + 1 = 5 >= end_new:
    // unchanged, target 5 = len.
    x.patch(0, &[mov64_imm(2, 2), mov64_imm(0, 0)]);
    assert_eq!((x.len(), x.tgt(3)), (5, 5));
    // P(4, 2) on the last slot: the jump is before pos and 5 >= end_old 5 ->
    // +1: target 6 = len again.
    x.patch(4, &[mov64_imm(3, 3), exit()]);
    assert_eq!((x.len(), x.tgt(3)), (6, 6));
    // add_hidden_subprog patches the last slot too (delta 2): target 8 = len.
    x.hidden(&[exit(), mov64_reg(0, 1), exit()]);
    assert_eq!((x.len(), x.tgt(3)), (8, 8));
    // R(0, 1): the jump is after the range and 2 + 4 + 1 = 7 >= 0: unchanged,
    // target 7 = len.
    x.remove(0, 1);
    assert_eq!((x.len(), x.insn(2), x.tgt(2)), (7, jeq(0, 0, 4), 7));
    let got = x.finish();
    assert_eq!(
        got.insns,
        vec![mov64_imm(0, 0), mov64_imm(1, 1), jeq(0, 0, 4), mov64_imm(3, 3), exit(), mov64_reg(0, 1), exit()]
    );
    // [a0, a1, F(jeq), F(r3), F(exit), F(r0 = r1), a2]; the hidden subprog
    // took the fake exit's place at 8 - 3 + 1 = 6 before the removal, then
    // the removal of slot 0 (subprog 0's head, kept at 0) moved it to 5.
    assert_eq!(got.aux, vec![b[0], b[1], f1(false), f1(false), f1(false), f1(false), b[2]]);
    assert_eq!(got.subprogs, subs(&[(0, 0), (5, 0), (7, 0)]));
    assert_eq!(got.hidden_subprog_cnt, 1);
}

#[test]
fn patchlet_backward_jump_out() {
    // Constant blinding of a backward conditional jump (§6.2, last row):
    // AX = imm ^ rnd; AX ^= rnd; jcc dst, AX, off - 2.
    // 0: r0 = 0; 1: r1 = 0 (loop head); 2: r1 += 1;
    // 3: if r1 < 10 goto -3 (-> 1); 4: exit
    let jlt = jmp_imm(op::JLT, 1, 10, -3);
    let add = alu64_imm(op::ADD, 1, 1);
    let p = Program::from_insns(vec![mov64_imm(0, 0), mov64_imm(1, 0), add, jlt, exit()]);
    let a = p.aux.clone();
    let mut x = Both::new(&p);
    let rnd = 0x5a5a_1234;
    let (mov_ax, xor_ax) = (mov64_imm(AX, rnd ^ 10), alu64_imm(op::XOR, AX, rnd));

    // P(3, 3): the jump at 5 is `off - 2 = -5`: 5 - 5 + 1 = 1, the old target
    // (before pos, so the caller needs no delta; the patch's own pass never
    // touches patchlet slots).
    x.patch(3, &[mov_ax, xor_ax, jmp_reg(op::JLT, 1, AX, -5)]);
    assert_eq!((x.len(), x.tgt(5)), (7, 1));

    // P(2, 2) between target and source: the jump, now at 6, has 6 - 5 + 1 =
    // 2 < end_new 4 -> x -= 1 = -6 (-> 1).
    x.patch(2, &[add, mov32_imm(2, 2)]);
    assert_eq!((x.insn(6), x.tgt(6)), (jmp_reg(op::JLT, 1, AX, -6), 1));

    // P(4, 2) inside the blinding patchlet, before its jump: now at 7,
    // 7 - 6 + 1 = 2 < 6 -> -7 (-> 1).
    x.patch(4, &[mov_ax, mov64_imm(3, 3)]);
    assert_eq!((x.insn(7), x.tgt(7)), (jmp_reg(op::JLT, 1, AX, -7), 1));

    // P(1, 2) at the loop head itself: now at 8, 8 - 7 + 1 = 2 < end_new 3 ->
    // -8 (-> 1): the loop enters the new patchlet's first slot (r4 = 4).
    x.patch(1, &[mov64_imm(4, 4), mov64_imm(1, 0)]);
    assert_eq!((x.insn(8), x.tgt(8)), (jmp_reg(op::JLT, 1, AX, -8), 1));

    // R(3, 2) (r1 += 1 and w2 = 2) between target and source: the jump, now
    // at 6, has 6 - 8 + 1 = -1 < 3 -> x += 2 = -6 (-> 1).
    x.remove(3, 2);
    assert_eq!((x.insn(6), x.tgt(6)), (jmp_reg(op::JLT, 1, AX, -6), 1));

    // adjust_jmp_off(1, 1): the jump (outside [1, 2)) now skips r4 = 4.
    x.adjust(1, 1);
    assert_eq!((x.insn(6), x.tgt(6)), (jmp_reg(op::JLT, 1, AX, -5), 2));

    // A len-1 patch of the jump itself with another branch: bytes only, the
    // new offset is read at the slot's index (-> 2).
    x.patch(6, &[jmp_reg(op::JGE, 1, AX, -5)]);
    assert_eq!(x.tgt(6), 2);

    let got = x.finish();
    let want_insns = vec![
        mov64_imm(0, 0),
        mov64_imm(4, 4),
        mov64_imm(1, 0),
        mov_ax,
        mov64_imm(3, 3),
        xor_ax,
        jmp_reg(op::JGE, 1, AX, -5),
        exit(),
    ];
    assert_eq!(got.insns, want_insns);
    // Blinding: [a0, a1, a2, F, F, a3, a4]; P(2): [a0, a1, F(add), a2 with
    // zext_dst = has_def32(w2) = true, F, F, a3, a4]; P(4): the AX mov's F
    // moves on (zext of r3 = 3: false); P(1): [a0, F, a1, ...]; R(3, 2) drops
    // F(add) and a2; the len-1 patch recomputes a3.zext_dst = false.
    assert_eq!(got.aux, vec![a[0], f1(false), a[1], f1(false), f1(false), f1(false), a[3], a[4]]);
}

/// `inline_bpf_loop`'s 19-slot patchlet (verifier.c), `CALL_REL(0)` at 12.
fn inline_bpf_loop() -> Vec<Insn> {
    let dw = field::DW;
    vec![
        jmp_imm(op::JLE, 1, 1 << 23, 2), // 0 -> 3
        mov32_imm(0, -7),                // -E2BIG
        ja(16),                          // 2 -> 19 = end
        stx_mem(dw, 10, 6, -8),
        stx_mem(dw, 10, 7, -16),
        stx_mem(dw, 10, 8, -24),
        mov64_reg(6, 1),
        mov32_imm(7, 0),
        mov64_reg(8, 3),
        jmp_reg(op::JGE, 7, 6, 5), // 9 -> 15
        mov64_reg(1, 7),
        mov64_reg(2, 8),
        call_rel(0), // 12, fixed after the patch
        alu64_imm(op::ADD, 7, 1),
        jeq(0, 0, -6), // 14 -> 9
        mov64_reg(0, 7),
        ldx_mem(dw, 6, 10, -8),
        ldx_mem(dw, 7, 10, -16),
        ldx_mem(dw, 8, 10, -24),
    ]
}

#[test]
fn patchlet_pseudo_call_out() {
    // 0: r1 = 10; 1-2: r2 = func pc+5 (-> 7); 3: r3 = 0; 4: r4 = 0;
    // 5: call bpf_loop (helper 181); 6: exit; 7: r0 = 0 (callback); 8: exit
    let f = ld_func(2, 5);
    let insns = vec![
        mov64_imm(1, 10),
        f[0],
        f[1],
        mov64_imm(3, 0),
        mov64_imm(4, 0),
        call_helper(181),
        exit(),
        mov64_imm(0, 0),
        exit(),
    ];
    let mut p = prog(insns, &[(0, 0), (7, 2)]);
    p.linfo = lines(&[(0, 1), (5, 5), (7, 7)]);
    p.func_info = func_info(&[0, 7]);
    let a = p.aux.clone();
    let mut x = Both::new(&p);

    // P(5, 19), delta 18: the pseudo func (-> 7 >= end_old 6) gets imm 23
    // (-> 25); subprog 1 and record 7 move to 25, the fake exit to 27; record
    // 5 stays on the patchlet start. The CALL_REL(0) at 17 targets 18.
    let lp = inline_bpf_loop();
    x.patch(5, &lp);
    assert_eq!((x.tgt(1), x.tgt(17)), (25, 18));
    // Patchlet jumps: 5 -> 8, 7 (ja +16) -> 24 = end_new = the old exit,
    // 14 -> 20, 19 -> 14 (all relative to the patchlet, untouched).
    assert_eq!((x.tgt(5), x.tgt(7), x.tgt(14), x.tgt(19)), (8, 24, 20, 14));
    // The helper call's aux went to the last slot (Q2).
    assert_eq!(x.aux(23), Aux { zext_dst: false, ..a[5] });
    // Then the caller fixes the call: imm = start - (pos + 12) - 1 = 25 - 17
    // - 1 = 7, an in-place write that must rebind the call.
    let start = x.snap().subprogs[1].start as i32;
    assert_eq!(start, 25);
    x.set(17, call_rel(start - 17 - 1));
    assert_eq!(x.tgt(17), 25);

    // Prepend in the callback: P(25, 2). The call and the pseudo func target
    // 25 = off: unchanged, they enter the prepended slot; subprog 1 keeps 25.
    x.patch(25, &[mov64_imm(9, 9), mov64_imm(0, 0)]);
    assert_eq!((x.tgt(1), x.tgt(17), x.insn(25)), (25, 25, mov64_imm(9, 9)));

    // P(18, 2) right after the call (r7 += 1): the call (-> 25 >= 19) gets
    // imm 8 (-> 26), the func imm 24 (-> 26); the loop's jeq (now 20,
    // 20 - 6 + 1 = 15 < 20) -> -7 (-> 14); the jge (-> 20 >= 19) -> +6
    // (-> 21); the ja (-> 24 >= 19) -> +17 (-> 25 = the exit).
    x.patch(18, &[alu64_imm(op::ADD, 7, 1), mov32_imm(5, 5)]);
    assert_eq!((x.insn(17), x.tgt(17), x.tgt(1)), (call_rel(8), 26, 26));
    assert_eq!((x.insn(20), x.tgt(20), x.tgt(14), x.tgt(7)), (jeq(0, 0, -7), 14, 21, 25));
    assert_eq!(x.insn(25), exit());

    // P(0, 2) at the program start: everything after moves, no relative value
    // changes (all branches are after the patchlet with targets after it).
    x.patch(0, &[mov64_imm(8, 8), mov64_imm(1, 10)]);
    assert_eq!((x.tgt(2), x.tgt(18)), (27, 27));

    let got = x.finish();
    assert_eq!(got.subprogs, subs(&[(0, 0), (27, 2), (30, 0)]));
    assert_eq!(got.linfo, lines(&[(0, 1), (6, 5), (27, 7)]));
    let mut want = vec![mov64_imm(8, 8), mov64_imm(1, 10), ld_func(2, 24)[0], f[1], mov64_imm(3, 0), mov64_imm(4, 0)];
    let mut body = lp.clone();
    body[2] = ja(17);
    body[9] = jmp_reg(op::JGE, 7, 6, 6);
    body[12] = call_rel(8);
    body[14] = jeq(0, 0, -7);
    body.insert(14, mov32_imm(5, 5));
    want.extend(body);
    want.extend([exit(), mov64_imm(9, 9), mov64_imm(0, 0), exit()]);
    assert_eq!(got.insns, want);
    // a5 sits on the last slot of the inlined loop (ldx r8), at 6 + 19 + 1 - 1.
    assert_eq!(got.aux[25], Aux { zext_dst: false, ..a[5] });
    assert_eq!((got.aux[1], got.aux[26], got.aux[30 - 2]), (a[0], a[6], a[7]));
}

/// do_misc_fixups' non-timed may_goto expansion at `cur` (§6.2): the JEQ is
/// pre-biased, `off + 2` forward, `off - 1` backward.
fn may_goto_expansion(mg: Insn) -> [Insn; 4] {
    let stack_off = -24;
    let off = if mg.off >= 0 { mg.off + 2 } else { mg.off - 1 };
    [
        ldx_mem(field::DW, AX, 10, stack_off),
        jeq(AX, 0, off),
        alu64_imm(op::SUB, AX, 1),
        stx_mem(field::DW, 10, AX, stack_off),
    ]
}

#[test]
fn may_goto_prebiased_expansion() {
    // 0: r0 = 0
    // 1: r1 += 1            (loop head)
    // 2: may_goto +3        (-> 6, forward)
    // 3: r0 += 1
    // 4: may_goto +0        (-> 5, the next slot)
    // 5: may_goto -5        (-> 1, backward)
    // 6: exit
    let insns = vec![
        mov64_imm(0, 0),
        alu64_imm(op::ADD, 1, 1),
        may_goto(3),
        alu64_imm(op::ADD, 0, 1),
        may_goto(0),
        may_goto(-5),
        exit(),
    ];
    let mut p = Program::from_insns(insns.clone());
    p.linfo = lines(&[(0, 1), (2, 2), (4, 4), (5, 5), (6, 6)]);
    let mut x = Both::new(&p);

    // The kernel's loop: `i` counts original slots, `delta` the growth so far.
    let mut delta = 0;
    for i in 0..insns.len() {
        let cur = i + delta;
        let insn = x.insn(cur);
        if insn.is_may_goto() {
            x.patch(cur, &may_goto_expansion(insn));
            delta += 3;
        }
    }
    // i = 2 (cur 2): JEQ +5 at 3 (-> 9 = old 6 + 3). Old 5 (may_goto -5), now
    // 8: 8 - 5 + 1 = 4 < 6 -> -8 (-> 1).
    // i = 4 (cur 7, may_goto +0): JEQ +2 at 8 (-> 11 = end_new, the slot after
    // the expansion). The first JEQ (-> 9 >= end_old 8) -> +8 (-> 12); old 8
    // (may_goto -8), now 11: 11 - 8 + 1 = 4 < 11 -> -11 (-> 1).
    // i = 5 (cur 11, may_goto -11): JEQ -12 at 12 (-> 1). The first JEQ (-> 12
    // >= 12) -> +11 (-> 15); the second (-> 11 = off) stays: it lands on the
    // start of the third expansion, where its may_goto +0 used to lead.
    assert_eq!(x.len(), 16);
    assert_eq!((x.insn(3), x.tgt(3)), (jeq(AX, 0, 11), 15));
    assert_eq!((x.insn(8), x.tgt(8)), (jeq(AX, 0, 2), 11));
    assert_eq!((x.insn(12), x.tgt(12)), (jeq(AX, 0, -12), 1));
    // ... and those are the original targets: 15 holds the exit (a6), 11 the
    // expansion whose last slot carries may_goto -5's aux (a5), 1 the loop
    // head (a1).
    assert_eq!((x.insn(15), x.aux(15).orig_idx, x.aux(14).orig_idx, x.aux(1).orig_idx), (exit(), 6, 5, 1));
    assert_eq!((x.aux(5).orig_idx, x.aux(10).orig_idx), (2, 4));

    // A later patch inside the loop body (slot 6, r0 += 1): JEQ 3 (-> 15 >= 7)
    // -> +12 (-> 16); JEQ 8 (now 9): 9 + 2 + 1 = 12 >= end_new 8: unchanged
    // (-> 12); JEQ 12 (now 13): 13 - 12 + 1 = 2 < 8 -> -13 (-> 1).
    x.patch(6, &[alu64_imm(op::ADD, 0, 1), mov32_imm(2, 2)]);
    assert_eq!((x.tgt(3), x.tgt(9), x.tgt(13)), (16, 12, 1));
    assert_eq!((x.insn(16), x.insn(12)), (exit(), ldx_mem(field::DW, AX, 10, -24)));

    let got = x.finish();
    // Records: > 2 moved by 3 (P at 2), > 7 by 3, > 11 by 3, > 6 by 1.
    assert_eq!(got.linfo, lines(&[(0, 1), (2, 2), (8, 4), (12, 5), (16, 6)]));
}

#[test]
fn jump_pseudo_call_pseudo_func_targeting_patched_slot() {
    // 0: call pc+4 (-> 5)           pseudo call from before
    // 1-2: r2 = func pc+3 (-> 5)    pseudo func from before
    // 3: call pc+6 (-> 10)
    // 4: exit
    // 5: r0 = 1                     S = subprog 1
    // 6: if r0 > 3 goto -2 (-> 5)   jump from after
    // 7: if r0 < 1 goto +1 (-> 9)
    // 8: gotol -4 (-> 5)            gotol (imm) from after
    // 9: exit
    // 10: call pc-6 (-> 5)          pseudo call from after (subprog 2)
    // 11-12: r3 = func pc-7 (-> 5)  pseudo func from after
    // 13: exit
    let (f2, f3) = (ld_func(2, 3), ld_func(3, -7));
    let jgt = |o| jmp_imm(op::JGT, 0, 3, o);
    let jlt = jmp_imm(op::JLT, 0, 1, 1);
    let insns = vec![
        call_rel(4),
        f2[0],
        f2[1],
        call_rel(6),
        exit(),
        mov64_imm(0, 1),
        jgt(-2),
        jlt,
        gotol(-4),
        exit(),
        call_rel(-6),
        f3[0],
        f3[1],
        exit(),
    ];
    let mut p = prog(insns, &[(0, 0), (5, 1), (10, 2)]);
    p.linfo = lines(&[(0, 100), (5, 105), (10, 110)]);
    p.func_info = func_info(&[0, 5, 10]);
    p.insn_arrays = vec![vec![5, 6]];
    p.pokes = vec![5];
    let a = p.aux.clone();
    let mut x = Both::new(&p);
    let at_s = [0, 1, 8, 10, 12, 13];

    // P(5, 3), delta 2. Before pos with target 5 = off (call 0, func 1):
    // unchanged. After (new index >= end_new 8) with target <= off: x -= 2:
    // jgt 8: -4, gotol 10: -6, call 12: -8, func 13: -9. All land on 5, the
    // first patchlet slot. The call at 3 (-> 10 >= 6) gets +2 = 8 (-> 12).
    x.patch(5, &[mov64_imm(4, 4), mov32_imm(5, 5), mov64_imm(0, 1)]);
    for i in at_s {
        assert_eq!(x.tgt(i), 5, "slot {i}");
    }
    assert_eq!((x.insn(8), x.insn(10), x.insn(12), x.insn(13)), (jgt(-4), gotol(-6), call_rel(-8), ld_func(3, -9)[0]));
    assert_eq!((x.tgt(3), x.tgt(9)), (12, 11));
    let after_first = x.snap();
    assert_eq!(after_first.subprogs, subs(&[(0, 0), (5, 1), (12, 2), (16, 0)]));
    assert_eq!(after_first.linfo, lines(&[(0, 100), (5, 105), (12, 110)]));
    assert_eq!((after_first.insn_arrays.clone(), after_first.pokes.clone()), (vec![vec![5, 8]], vec![5]));
    assert_eq!(&after_first.aux[5..8], &[f1(false), f1(true), a[5]]);

    // P(5, 2) again at the patchlet start (a node that is itself inserted
    // content now): all six still land on 5 (x -= 1 for those after).
    x.patch(5, &[mov64_imm(6, 6), mov64_imm(4, 4)]);
    let at_s2 = [0, 1, 9, 11, 13, 14];
    for i in at_s2 {
        assert_eq!(x.tgt(i), 5, "slot {i}");
    }
    assert_eq!(x.tgt(3), 13);

    // R(5, 1) removes that slot again: every reference is k = 0 and slides to
    // the first survivor (r4 = 4). Subprog 1 keeps start 5 (its head went);
    // record 105 is inherited by slot 6 (no record there) and lands on 5;
    // the array entry at 5 becomes INSN_DELETED; the poke stays at 5.
    x.remove(5, 1);
    for i in at_s {
        assert_eq!(x.tgt(i), 5, "slot {i}");
    }
    let got = x.finish();
    // Back to the state after the first patch, except the array entry.
    let mut want = after_first;
    want.insn_arrays = vec![vec![D, 8]];
    same(&got, &want, "after R(5, 1)");
}

#[test]
fn ld_imm64_pairs_in_program_and_patchlet() {
    // 0: r0 = 0
    // 1: if r0 == 0 goto +3 (-> 5)     over the pair at 3-4
    // 2: r1 = 1
    // 3-4: r2 = 0x7_fffffffd           second half imm 7, low half -3
    // 5: r3 = 3
    // 6-7: r4 = func pc+3 (-> 10)
    // 8: if r0 != 1 goto -4 (-> 5)     back over the pair at 6-7
    // 9: exit
    // 10: r0 = 2 (subprog 1); 11: exit
    let l2 = ld_imm64(2, 0, 0x7_ffff_fffd);
    let f4 = ld_func(4, 3);
    let jne = |o| jmp_imm(op::JNE, 0, 1, o);
    let insns = vec![
        mov64_imm(0, 0),
        jeq(0, 0, 3),
        mov64_imm(1, 1),
        l2[0],
        l2[1],
        mov64_imm(3, 3),
        f4[0],
        f4[1],
        jne(-4),
        exit(),
        mov64_imm(0, 2),
        exit(),
    ];
    let mut p = prog(insns, &[(0, 0), (10, 3)]);
    p.linfo = lines(&[(0, 1), (3, 3), (5, 5), (10, 10)]);
    let a = p.aux.clone();
    let mut x = Both::new(&p);

    // a) Right before the pair at 3, a patch that contains an ld_imm64 (like
    // the kfunc fixups): P(2, [r5 = 1 << 32 (2 slots), r1 = 1]), delta 2.
    // jeq (-> 5 >= 3) -> +5 (-> 7 = r3 = 3); the func at 6 -> 8 and the jne at
    // 8 -> 10 are after the patchlet with targets after it: unchanged.
    let l5 = ld_imm64(5, 0, 1 << 32);
    x.patch(2, &[l5[0], l5[1], mov64_imm(1, 1)]);
    assert_eq!((x.tgt(1), x.tgt(8), x.tgt(10)), (7, 12, 7));
    assert_eq!((x.insn(3), x.insn(5), x.insn(6)), (l5[1], l2[0], l2[1]));

    // b) Again right before that pair (now 5-6), on the last slot of the
    // first patchlet: P(4, [r1 = 1, w6 = 6]). jeq -> +6 (-> 8); the others
    // unchanged (func -> 13, jne at 11 -> 8).
    x.patch(4, &[mov64_imm(1, 1), mov32_imm(6, 6)]);
    assert_eq!((x.tgt(1), x.tgt(9), x.tgt(11)), (8, 13, 8));

    // c) A patch at the jump target (r3 = 3, 8) that holds a pseudo func
    // ld_imm64 pointing out of the patchlet to the callback: after the patch
    // subprog 1 starts at 13 + 2 = 15, so imm = 15 - 8 - 1 = 6. jeq (-> 8 =
    // off) stays and enters the pair; the jne, now 13: 13 - 4 + 1 = 10 < 11 ->
    // -6 (-> 8); the program's func (now 11) keeps imm 3 (-> 15).
    let f7 = ld_func(7, 6);
    x.patch(8, &[f7[0], f7[1], mov64_imm(3, 3)]);
    assert_eq!((x.tgt(1), x.tgt(8), x.tgt(11), x.tgt(13)), (8, 15, 15, 8));
    assert_eq!(x.snap().subprogs[1].start, 15);

    // d) Remove the patchlet's plain pair (2-3): jeq (-> 8 >= 4) -> +4 (-> 6);
    // the funcs (now 6 and 9) and the jne (now 11) are after the range with
    // targets after it: unchanged (-> 13, 13, 6).
    x.remove(2, 2);
    assert_eq!((x.tgt(1), x.tgt(6), x.tgt(9), x.tgt(11)), (6, 13, 13, 6));

    // e) A patch between both pseudo funcs and their target: P(11, [r8 = 8,
    // jne re-emitted at 12 as -7 (-> 6)]). Both funcs (-> 13 >= end_old 12)
    // get imm + 1 (-> 14, subprog 1's new start).
    x.patch(11, &[mov64_imm(8, 8), jne(-7)]);
    assert_eq!((x.insn(6), x.insn(9), x.tgt(6), x.tgt(9), x.tgt(12)), (ld_func(7, 7)[0], ld_func(4, 4)[0], 14, 14, 6));

    let got = x.finish();
    let want = vec![
        mov64_imm(0, 0),
        jeq(0, 0, 4),
        mov64_imm(1, 1),
        mov32_imm(6, 6),
        l2[0],
        l2[1],
        ld_func(7, 7)[0],
        f7[1],
        mov64_imm(3, 3),
        ld_func(4, 4)[0],
        f4[1],
        mov64_imm(8, 8),
        jne(-7),
        exit(),
        mov64_imm(0, 2),
        exit(),
    ];
    assert_eq!(got.insns, want);
    // a) [a0, a1, F, F, a2, a3 ...]; b) [.., F(r1), a2 (zext_dst of w6:
    // true), ..]; c) [.., F(f7a), F(f7b), a5, ..]; d) drops F, F of l5;
    // e) [.., F(r8), a8, ..].
    let a2z = Aux { zext_dst: true, ..a[2] };
    let want_aux = vec![
        a[0],
        a[1],
        f1(false),
        a2z,
        a[3],
        a[4],
        f1(false),
        f1(false),
        a[5],
        a[6],
        a[7],
        f1(false),
        a[8],
        a[9],
        a[10],
        a[11],
    ];
    assert_eq!(got.aux, want_aux);
    // Records: 3 -> 5 -> 6 -> 6 -> 4 -> 4 (on the pair's first half), 5 -> 7
    // -> 8 -> 8 (the patchlet start) -> 6 -> 6, 10 -> 12 -> 13 -> 15 -> 13 -> 14.
    assert_eq!(got.linfo, lines(&[(0, 1), (4, 3), (6, 5), (14, 10)]));
    assert_eq!(got.subprogs, subs(&[(0, 0), (14, 3), (16, 0)]));
}

// ---------------------------------------------------------------- §5

#[test]
fn removal_holding_subprog_head() {
    // 0: call pc+3 (-> 4); 1: call pc+6 (-> 8); 2: r0 = 0; 3: exit
    // 4: r0 = 1 (S1 head); 5: r0 = 2; 6: if r0 == 2 goto -3 (-> 4); 7: exit
    // 8: call pc-5 (-> 4) (S2); 9: exit
    let insns = vec![
        call_rel(3),
        call_rel(6),
        mov64_imm(0, 0),
        exit(),
        mov64_imm(0, 1),
        mov64_imm(0, 2),
        jeq(0, 2, -3),
        exit(),
        call_rel(-5),
        exit(),
    ];
    let mut p = prog(insns.clone(), &[(0, 0), (4, 2), (8, 4)]);
    p.linfo = lines(&[(0, 10), (2, 12), (4, 14), (5, 15), (8, 18)]);
    p.insn_arrays = vec![vec![4, 5, 6]];
    p.func_info = func_info(&[0, 4, 8]);
    let a = p.aux.clone();
    let mut x = Both::new(&p);

    // Prepend at the head, so that the head is a patchlet start: P(4, 2).
    // call 0 (-> 4 = off) stays; jeq now 7: -4; call now 9: -6 (both -> 4);
    // call 1 (-> 8 >= 5) -> 7 (-> 9).
    x.patch(4, &[mov64_imm(3, 3), mov64_imm(0, 1)]);
    assert_eq!((x.tgt(0), x.tgt(7), x.tgt(9), x.tgt(1)), (4, 4, 4, 9));

    // R(4, 2): the head (r3 = 3) and the original head (r0 = 1) go, the
    // subprog goes on. Subprogs: i = 1 (4 >= 4), j = 2 (9 >= 6) -> 9 != 6 ->
    // j = 1; start_i == off -> i = 2: S1 keeps 4, S2 9 -> 7, fake 11 -> 9.
    // Calls/jumps to 4 are k = 0: they slide to the first survivor (r0 = 2).
    // call 1 (-> 9 >= 6) -> 5 (-> 7). Line info: l_off 2 (record 14 at 4),
    // l_cnt 1; record 15 sits on 6 = off + cnt: no inheritance, record 14
    // goes; 15 -> 4, 18 -> 7. linfo_idx: S1's 2 is not > l_off: stays (record
    // 15, now at its start); S2's 4 -> 3. Array entry 4 -> DELETED, 6 -> 4,
    // 7 -> 5.
    x.remove(4, 2);
    assert_eq!((x.tgt(0), x.tgt(5), x.tgt(7), x.tgt(1)), (4, 4, 4, 7));
    assert_eq!(x.insn(4), mov64_imm(0, 2));
    let s = x.snap();
    assert_eq!(s.subprogs, subs(&[(0, 0), (4, 2), (7, 3), (9, 0)]));
    assert_eq!(s.linfo, lines(&[(0, 10), (2, 12), (4, 15), (7, 18)]));
    assert_eq!(s.insn_arrays, vec![vec![D, 4, 5]]);
    assert_eq!(s.func_info, func_info(&[0, 4, 8]));

    // A removal whose range holds S1's head strictly inside while S1 goes on
    // past it is refused (Q13), identically, with nothing changed.
    x.fails(Op::Remove { off: 3, cnt: 2 }, PatchError::CutsSubprog { subprog: 1, start: 4, off: 3, cnt: 2 });

    // P(4, 2) at the new head: everything at 4 stays on the patchlet start,
    // call 1 (-> 7 >= 5) -> 6 (-> 8), S2 -> 8.
    x.patch(4, &[mov64_imm(5, 5), mov64_imm(0, 2)]);
    assert_eq!((x.tgt(0), x.tgt(6), x.tgt(8), x.tgt(1)), (4, 4, 4, 8));

    // R(4, 1) once more: this time slot 5 has no record, so record 15 is
    // inherited by it and lands on 4 again; entry 4 (the old 6) -> DELETED.
    x.remove(4, 1);
    let got = x.finish();
    let mut want = s.clone();
    want.insn_arrays = vec![vec![D, D, 5]];
    same(&got, &want, "after R(4, 1)");
    assert_eq!(
        got.insns,
        vec![call_rel(3), call_rel(5), insns[2], insns[3], insns[5], jeq(0, 2, -2), exit(), call_rel(-4), exit()]
    );
    assert_eq!(got.aux, vec![a[0], a[1], a[2], a[3], a[5], a[6], a[7], a[8], a[9]]);
}

#[test]
fn removal_of_whole_subprogs() {
    // opt_remove_dead_code's shape: one run covering the dead tail of S1 and
    // the wholly dead S2 and S3, up to S4's start.
    // 0: call pc+2 (-> 3); 1: call pc+9 (-> 11); 2: exit
    // 3: r0 = 1 (S1); 4: exit; 5: r0 = 2 (dead); 6: exit (dead)
    // 7: call pc+1 (-> 9) (S2, dead); 8: exit
    // 9: r0 = 3 (S3, dead); 10: exit
    // 11: r0 = 4 (S4); 12: exit
    let insns = vec![
        call_rel(2),
        call_rel(9),
        exit(),
        mov64_imm(0, 1),
        exit(),
        mov64_imm(0, 2),
        exit(),
        call_rel(1),
        exit(),
        mov64_imm(0, 3),
        exit(),
        mov64_imm(0, 4),
        exit(),
    ];
    let mut p = prog(insns, &[(0, 0), (3, 1), (7, 3), (9, 4), (11, 5)]);
    p.linfo = lines(&[(0, 100), (3, 103), (5, 105), (7, 107), (9, 109), (11, 111)]);
    p.func_info = func_info(&[0, 3, 7, 9, 11]);
    p.func_info_aux = vec![20, 21, 22, 23, 24];
    p.insn_arrays = vec![vec![4, 5, 9, 11, 12]];
    let a = p.aux.clone();
    let mut x = Both::new(&p);

    // Prepend at S1 first (the starts after it are then moved nodes): P(3, 2).
    // Starts > 3 and the fake exit +1; records and entries > 3 +1.
    x.patch(3, &[mov64_imm(6, 6), mov64_imm(0, 1)]);
    assert_eq!((x.tgt(0), x.tgt(1), x.tgt(8)), (3, 12, 10));

    // R(6, 6): slots 6..12 = S1's dead tail, S2, S3. Subprogs: i = 2 (8 >= 6),
    // j = 4 (12 >= 12, == off + cnt): entries 2, 3 dropped with their
    // func_info; S4 (12 -> 6) and the fake exit (14 -> 8) move down. Line
    // info: l_off 2, records 6, 8, 10 inside (l_cnt 3), record 12 == off + cnt:
    // no inheritance -> [0, 3, 6]; S4's linfo_idx 5 >= 2 + 3 -> 2. The call
    // at 1 (-> 12 >= 12) -> 4 (-> 6). Entries: 5 stays, 6 and 10 DELETED,
    // 12 -> 6, 13 -> 7. func_info_aux is not compacted (Q12).
    x.remove(6, 6);
    assert_eq!((x.tgt(0), x.tgt(1)), (3, 6));
    let s = x.snap();
    assert_eq!(s.subprogs, subs(&[(0, 0), (3, 1), (6, 2), (8, 0)]));
    assert_eq!(s.linfo, lines(&[(0, 100), (3, 103), (6, 111)]));
    assert_eq!(
        s.func_info,
        Some(vec![
            FuncInfo { insn_off: 0, type_id: 10 },
            FuncInfo { insn_off: 3, type_id: 11 },
            FuncInfo { insn_off: 11, type_id: 14 }
        ])
    );
    assert_eq!(s.func_info_aux, vec![20, 21, 22, 23, 24]);
    assert_eq!(s.insn_arrays, vec![vec![5, D, D, 6, 7]]);

    // Prepend at S4 (now 6): the call (-> 6 = off) stays; fake exit 9.
    x.patch(6, &[mov64_imm(7, 7), mov64_imm(0, 4)]);
    assert_eq!(x.tgt(1), 6);

    // add_hidden_subprog after the compaction: it appends at 8 (delta 2, the
    // fake exit 9 -> 11), then copies the fake exit's start into entry
    // cnt + 1 = 4, whose linfo_idx is the STALE one left there by the
    // compaction's memmove (old S4's 5, Q15), and gives entry 3 (the former
    // fake exit, linfo_idx 0) the start 11 - 3 + 1 = 9.
    x.hidden(&[exit(), mov64_reg(0, 1), exit()]);
    let got = x.finish();
    assert_eq!(got.subprogs, subs(&[(0, 0), (3, 1), (6, 2), (9, 0), (11, 5)]));
    assert_eq!(got.hidden_subprog_cnt, 1);
    assert_eq!(
        got.insns,
        vec![
            call_rel(2),
            call_rel(4),
            exit(),
            mov64_imm(6, 6),
            mov64_imm(0, 1),
            exit(),
            mov64_imm(7, 7),
            mov64_imm(0, 4),
            exit(),
            mov64_reg(0, 1),
            exit()
        ]
    );
    assert_eq!(got.aux, vec![a[0], a[1], a[2], f1(false), a[3], a[4], f1(false), a[11], f1(false), f1(false), a[12]]);
    assert_eq!(got.insn_arrays, vec![vec![5, D, D, 6, 8]]);
    assert_eq!(got.linfo, lines(&[(0, 100), (3, 103), (6, 111)]));
}

#[test]
fn removal_of_program_tail() {
    // 0: r0 = 0
    // 1-2: r1 = func pc+4 (-> 6, the subprog that will be dead: Q9)
    // 3: if r0 == 0 goto +1 (-> 5)
    // 4: r0 = 1
    // 5: exit
    // 6: r0 = 2 (S1); 7: r0 = 3; 8: exit
    let f = ld_func(1, 4);
    let insns = vec![
        mov64_imm(0, 0),
        f[0],
        f[1],
        jeq(0, 0, 1),
        mov64_imm(0, 1),
        exit(),
        mov64_imm(0, 2),
        mov64_imm(0, 3),
        exit(),
    ];
    let mut p = prog(insns, &[(0, 0), (6, 2)]);
    p.linfo = lines(&[(0, 1), (3, 3), (6, 6), (7, 7)]);
    p.func_info = func_info(&[0, 6]);
    p.insn_arrays = vec![vec![3, 6, 8, D]];
    p.pokes = vec![2, 5, 6, 8];
    let a = p.aux.clone();
    let mut x = Both::new(&p);

    // P(4, [r0 = 1, w2 = 2]), delta 1: jeq (-> 5 >= 5) -> +2 (-> 6); func
    // (-> 6 >= 5) -> imm 5 (-> 7). S1 7, fake 10; records 6, 7 -> 7, 8;
    // entries 6, 8 -> 7, 9; pokes 5, 6, 8 -> 6, 7, 9.
    x.patch(4, &[mov64_imm(0, 1), mov32_imm(2, 2)]);
    assert_eq!((x.tgt(1), x.tgt(3)), (7, 6));

    // R(7, 3): S1, the tail. The func targets off (k = 0): unchanged, it now
    // points at index 7 = the new length. Subprogs: i = 1, j = 2 (the fake
    // exit's 10 == off + cnt) > i: S1 dropped (and its func_info), fake 10 ->
    // 7. prog->len == off: no line-info inheritance, records 7, 8 go.
    // Entries 7, 9 DELETED. Pokes untouched, two of them now >= len.
    x.remove(7, 3);
    assert_eq!((x.len(), x.tgt(1), x.tgt(3)), (7, 7, 6));
    let s = x.snap();
    assert_eq!(s.subprogs, subs(&[(0, 0), (7, 0)]));
    assert_eq!(s.linfo, lines(&[(0, 1), (3, 3)]));
    assert_eq!(s.func_info, func_info(&[0]));
    assert_eq!(s.insn_arrays, vec![vec![3, D, D, D]]);
    assert_eq!(s.pokes, vec![2, 6, 7, 9]);

    // do_misc_fixups then appends the hidden subprog at 6 (delta 2). The func
    // (-> 7 >= end_old 7) -> imm 7 (-> 9 = the new length, not the hidden
    // subprog's start 7); the jeq (-> 6 = off) stays. Pokes > 6 move by 2.
    x.hidden(&[exit(), mov64_reg(0, 1), exit()]);
    assert_eq!((x.len(), x.tgt(1), x.tgt(3)), (9, 9, 6));

    // A later patch at 0 still moves the end-pointing func (imm unchanged,
    // target 10 = len) and the pokes past the end.
    x.patch(0, &[mov64_imm(5, 5), mov64_imm(0, 0)]);
    assert_eq!((x.len(), x.tgt(2)), (10, 10));
    let got = x.finish();
    assert_eq!(
        got.insns,
        vec![
            mov64_imm(5, 5),
            mov64_imm(0, 0),
            ld_func(1, 7)[0],
            f[1],
            jeq(0, 0, 2),
            mov64_imm(0, 1),
            mov32_imm(2, 2),
            exit(),
            mov64_reg(0, 1),
            exit()
        ]
    );
    let a4z = Aux { zext_dst: true, ..a[4] };
    assert_eq!(got.aux, vec![f1(false), a[0], a[1], a[2], a[3], f1(false), a4z, f1(false), f1(false), a[5]]);
    // Hidden: entry 2 gets the fake exit's start; its linfo_idx is whatever
    // the compaction left in slot 2 (the old fake exit's 0).
    assert_eq!(got.subprogs, subs(&[(0, 0), (8, 0), (10, 0)]));
    assert_eq!(got.pokes, vec![3, 7, 10, 12]);
    assert_eq!(got.insn_arrays, vec![vec![4, D, D, D]]);
    assert_eq!(got.linfo, lines(&[(0, 1), (4, 3)]));
}

#[test]
fn removal_of_line_info_records() {
    // 0: call pc+11 (-> 12); 1..10: filler; 11: exit; 12: r0 = 0 (S1); 13: exit
    let mut v: Vec<Insn> = (0..14).map(fl).collect();
    v[0] = call_rel(11);
    v[11] = exit();
    v[12] = mov64_imm(0, 0);
    v[13] = exit();
    let mut p = prog(v.clone(), &[(0, 0), (12, 7)]);
    p.linfo = lines(&[(0, 10), (2, 12), (3, 13), (5, 15), (6, 16), (9, 19), (11, 21), (12, 22)]);
    let a = p.aux.clone();
    let mut x = Both::new(&p);
    let linfo = |x: &Both| x.snap().linfo;
    let sub1 = |x: &Both| x.snap().subprogs[1];

    // 1. P(3, [w2 = 2, w3 = 3, f3]): records > 3 move by 2; 3 stays on w2.
    x.patch(3, &[mov32_imm(2, 2), mov32_imm(3, 3), v[3]]);
    assert_eq!(linfo(&x), lines(&[(0, 10), (2, 12), (3, 13), (7, 15), (8, 16), (11, 19), (13, 21), (14, 22)]));

    // 2. R(3, 2) removes the two inserted slots, record 13's slot among them.
    // l_off 2, l_cnt 1; slot 5 (f3) has no record -> record 13 is inherited
    // (5 -> 3 after the shift): it now belongs to f3's node.
    x.remove(3, 2);
    assert_eq!(linfo(&x), p.linfo);
    assert_eq!(sub1(&x), Subprog { start: 12, linfo_idx: 7 });

    // 3. P(3, [r4 = 4, f3]): record 13 stays on the patchlet start (r4).
    x.patch(3, &[mov64_imm(4, 4), v[3]]);
    assert_eq!(linfo(&x), lines(&[(0, 10), (2, 12), (3, 13), (6, 15), (7, 16), (10, 19), (12, 21), (13, 22)]));

    // 4. R(3, 5): r4, f3, f4, f5, f6. Records 3, 6, 7 inside (l_cnt 3); slot 8
    // (f7) has none -> the LAST one (16) is inherited; 13 and 15 go. S1's
    // linfo_idx 7 >= 2 + 2 -> 5.
    x.remove(3, 5);
    assert_eq!(linfo(&x), lines(&[(0, 10), (2, 12), (3, 16), (5, 19), (7, 21), (8, 22)]));
    assert_eq!(sub1(&x), Subprog { start: 8, linfo_idx: 5 });

    // 5. R(2, 1): f2 carries record 12, but slot 3 already has record 16
    // (== off + cnt): no inheritance, 12 goes. linfo_idx 5 -> 4.
    x.remove(2, 1);
    assert_eq!(linfo(&x), lines(&[(0, 10), (2, 16), (4, 19), (6, 21), (7, 22)]));
    assert_eq!(sub1(&x), Subprog { start: 7, linfo_idx: 4 });

    // 6. R(4, 1): f9 (record 19); f10 has none -> inherited, lands on 4.
    // linfo_idx 4 > l_off 2 and >= 2 + 0 -> 4.
    x.remove(4, 1);
    assert_eq!(linfo(&x), lines(&[(0, 10), (2, 16), (4, 19), (5, 21), (6, 22)]));

    // 7. P(4, [r4 = 4, f10]): the twice-moved record 19 stays on the start.
    x.patch(4, &[mov64_imm(4, 4), v[10]]);
    let got = x.finish();
    assert_eq!(got.linfo, lines(&[(0, 10), (2, 16), (4, 19), (6, 21), (7, 22)]));
    assert_eq!(got.subprogs, subs(&[(0, 0), (7, 4), (9, 0)]));
    // The call followed S1: 12 -> 14 -> 12 -> 13 -> 8 -> 7 -> 6 -> 7.
    assert_eq!(got.insns, vec![call_rel(6), v[1], v[7], v[8], mov64_imm(4, 4), v[10], v[11], v[12], v[13]]);
    assert_eq!(got.aux, vec![a[0], a[1], a[7], a[8], f1(false), a[10], a[11], a[12], a[13]]);
}

#[test]
fn removal_of_insn_array_entries() {
    // 0: if r1 == 0 goto +3 (-> 4); 1..8: filler; 9: exit. Two maps, unsorted,
    // with a duplicate entry and a DELETED one.
    let mut p = big(10, &[(0, jeq(1, 0, 3))]);
    p.insn_arrays = vec![vec![4, 2, 4, 9, 7, D], vec![8, 0, 5]];
    let a = p.aux.clone();
    let mut x = Both::new(&p);
    let ia = |x: &Both| x.snap().insn_arrays;

    // P(4, 3): entries == 4 stay (first patchlet slot), > 4 move by 2.
    x.patch(4, &[mov64_imm(2, 2), mov64_imm(3, 3), fl(4)]);
    assert_eq!(ia(&x), vec![vec![4, 2, 4, 11, 9, D], vec![10, 0, 7]]);

    // R(4, 1): the patchlet start (holding both entries 4) goes: they become
    // DELETED, while the jump to 4 slides to the survivor (r3 = 3).
    x.remove(4, 1);
    assert_eq!(ia(&x), vec![vec![D, 2, D, 10, 8, D], vec![9, 0, 6]]);
    assert_eq!((x.tgt(0), x.insn(4)), (4, mov64_imm(3, 3)));

    // P(4, 2): DELETED entries are never moved (0xffffffff > off is skipped).
    x.patch(4, &[mov64_imm(4, 4), mov64_imm(3, 3)]);
    assert_eq!(ia(&x), vec![vec![D, 2, D, 11, 9, D], vec![10, 0, 7]]);

    // R(6, 3): f4, f5, f6. Entry 7 (f5) -> DELETED, >= 9 move down by 3.
    x.remove(6, 3);
    assert_eq!(ia(&x), vec![vec![D, 2, D, 8, 6, D], vec![7, 0, D]]);
    // They still name the same instructions: f7 at 6, f8 at 7, exit at 8.
    assert_eq!((x.insn(6), x.insn(7), x.insn(8)), (fl(7), fl(8), exit()));

    // adjust_jmp_off(4, 1) moves the jump, never an entry (Q11).
    x.adjust(4, 1);
    assert_eq!((x.tgt(0), ia(&x)), (5, vec![vec![D, 2, D, 8, 6, D], vec![7, 0, D]]));

    // R(0, 1): entry 0 -> DELETED, the others down by 1.
    x.remove(0, 1);
    let got = x.finish();
    assert_eq!(got.insn_arrays, vec![vec![D, 1, D, 7, 5, D], vec![6, D, D]]);
    assert_eq!(got.insns, vec![fl(1), fl(2), fl(3), mov64_imm(4, 4), mov64_imm(3, 3), fl(7), fl(8), exit()]);
    assert_eq!(got.aux, vec![a[1], a[2], a[3], f1(false), f1(false), a[7], a[8], a[9]]);
}

#[test]
fn jumps_into_removed_range() {
    // A: k = 0 and k > 0, from before and after the range.
    // 0: r0 = 0
    // 1: if r0 == 1 goto +2 (-> 4)     before
    // 2: if r0 == 2 goto +3 (-> 6)     before
    // 3: if r0 == 3 goto +1 (-> 5)     before
    // 4, 5, 6: filler
    // 7: r1 = 7
    // 8: if r0 == 4 goto -4 (-> 5)     after
    // 9: if r0 == 5 goto -6 (-> 4)     after
    // 10: if r0 == 6 goto -5 (-> 6)    after
    // 11: gotol -8 (-> 4)              after (imm)
    // 12: r1 = 12; 13: exit
    let j = |n: i32, o: i16| jeq(0, n, o);
    let mut v: Vec<Insn> = (0..14).map(fl).collect();
    v[0] = mov64_imm(0, 0);
    v[1] = j(1, 2);
    v[2] = j(2, 3);
    v[3] = j(3, 1);
    v[8] = j(4, -4);
    v[9] = j(5, -6);
    v[10] = j(6, -5);
    v[11] = gotol(-8);
    v[13] = exit();
    let p = Program::from_insns(v.clone());
    let mut x = Both::new(&p);

    // P(5, [r2 = 2, f5]) first, so the range holds an inserted node: 1 (-> 4)
    // and 3 (-> 5 = off) stay, 2 (-> 6 >= 6) -> +4 (-> 7); from after (now
    // 9..12): 9: 9 - 4 + 1 = 6 < 7 -> -5 (-> 5), 10: -7 (-> 4), 11: 11 - 5
    // + 1 = 7: unchanged (-> 7), 12: gotol -9 (-> 4).
    x.patch(5, &[mov64_imm(2, 2), fl(5)]);
    let t: Vec<i64> = [1, 2, 3, 9, 10, 11, 12].iter().map(|&i| x.tgt(i)).collect();
    assert_eq!(t, vec![4, 7, 5, 5, 4, 7, 4]);

    // R(4, 4): f4 (k 0), r2 (k 1), f5 (k 2), f6 (k 3). Each jump into the
    // range keeps its INDEX off + k (Q7): from before unchanged (1 -> 4, 2
    // -> 7, 3 -> 5); from after x += 4 where the target was < off + cnt:
    // old 9 (now 5): -5 -> -1, i.e. ITSELF (k = 1); old 10 (now 6): -7 -> -3
    // (-> 4, k = 0); old 11 (now 7): -1, itself again (k = 3); gotol (now 8)
    // -9 -> -5 (-> 4).
    x.remove(4, 4);
    let t: Vec<i64> = (1..=8).filter(|&i| i != 4).map(|i| x.tgt(i)).collect();
    assert_eq!(t, vec![4, 7, 5, 5, 4, 7, 4]);
    assert_eq!(
        (x.insn(1), x.insn(2), x.insn(3), x.insn(5), x.insn(6), x.insn(7), x.insn(8)),
        (j(1, 2), j(2, 4), j(3, 1), j(4, -1), j(5, -3), j(6, -1), gotol(-5))
    );

    // P(5, [r3 = 3, old 9 re-emitted last]): the re-emitted self-jump at 6
    // targets itself. 3 (-> 5 = off) stays; 2 (-> 7 >= 6) -> +5 (-> 8); old 6
    // (now 7): -3 -> -4 (-> 4); old 7 (now 8): self, 8 - 1 + 1 = 8 >= 7:
    // unchanged; gotol (now 9): -6 (-> 4).
    x.patch(5, &[mov64_imm(3, 3), j(4, -1)]);
    let got = x.finish();
    assert_eq!(
        got.insns,
        vec![
            mov64_imm(0, 0),
            j(1, 2),
            j(2, 5),
            j(3, 1),
            mov64_imm(1, 7),
            mov64_imm(3, 3),
            j(4, -1),
            j(5, -4),
            j(6, -1),
            gotol(-6),
            fl(12),
            exit()
        ]
    );

    // B: targets at and past the end.
    // 0: if r0 == 0 goto +4 (-> 5)    k = 3 of R(2, 7): new 5 = the new len
    // 1: if r0 == 1 goto +6 (-> 8)    k = 6: new 8, past the end by 3
    // 2..8: filler (removed)
    // 9: r1 = 9
    // 10: if r0 == 2 goto -4 (-> 7)   k = 5, from after: new 7, past by 2
    // 11: exit
    let mut v: Vec<Insn> = (0..12).map(fl).collect();
    v[0] = j(0, 4);
    v[1] = j(1, 6);
    v[10] = j(2, -4);
    v[11] = exit();
    let q = Program::from_insns(v.clone());
    let b = q.aux.clone();
    let mut x = Both::new(&q);
    x.remove(2, 7);
    // old 10 (now 3): 3 - 4 + 1 = 0 < 2 -> x += 7 = 3 (-> 7).
    assert_eq!((x.len(), x.tgt(0), x.tgt(1), x.insn(3), x.tgt(3)), (5, 5, 8, j(2, 3), 7));

    // The dead-code pass removes the past-the-end jump itself next: R(3, 1).
    // 0 (-> 5 >= end_old 4) -> +3 (-> 4 = len); 1 (-> 8 >= 4) -> +5 (-> 7,
    // still past the end by 3).
    x.remove(3, 1);
    assert_eq!((x.len(), x.insn(0), x.tgt(0), x.insn(1), x.tgt(1)), (4, j(0, 3), 4, j(1, 5), 7));

    // A later patch still adjusts both: P(2, 2): targets >= end_old 3 -> +1.
    x.patch(2, &[mov64_imm(2, 2), fl(9)]);
    assert_eq!((x.len(), x.tgt(0), x.tgt(1)), (5, 5, 8));
    // And a removal before them, then a patch of the last slot (end_old ==
    // len == the end target).
    x.remove(2, 1);
    assert_eq!((x.len(), x.tgt(0), x.tgt(1)), (4, 4, 7));
    x.patch(3, &[mov64_imm(4, 4), exit()]);
    assert_eq!((x.len(), x.tgt(0), x.tgt(1)), (5, 5, 8));
    let got = x.finish();
    assert_eq!(got.insns, vec![j(0, 4), j(1, 6), fl(9), mov64_imm(4, 4), exit()]);
    assert_eq!(got.aux, vec![b[0], b[1], b[9], f1(false), b[11]]);
}

// ---------------------------------------------------------------- §4.5

#[test]
fn prepend_then_adjust_jmp_off() {
    // do_misc_fixups' may_goto stack init: for each subprog, P(start,
    // [*(u64 *)(fp - 8) = BPF_MAX_LOOPS, orig]) then adjust_jmp_off(start, 1).
    // 0: r0 = 0 (S0)
    // 1: call pc+4 (-> 6)
    // 2: if r0 > 5 goto -3 (-> 0)       loop back to S0
    // 3-4: r1 = func pc+2 (-> 6)
    // 5: exit
    // 6: r0 = 1 (S1)
    // 7: r0 += 1
    // 8: if r0 < 3 goto -3 (-> 6)       loop back to S1 (off)
    // 9: if r0 > 9 goto +1 (-> 11)
    // 10: gotol -5 (-> 6)               loop back to S1 (imm)
    // 11: exit
    let fu = ld_func(1, 2);
    let jgt = jmp_imm(op::JGT, 0, 5, -3);
    let jlt = |o| jmp_imm(op::JLT, 0, 3, o);
    let j9 = jmp_imm(op::JGT, 0, 9, 1);
    let insns = vec![
        mov64_imm(0, 0),
        call_rel(4),
        jgt,
        fu[0],
        fu[1],
        exit(),
        mov64_imm(0, 1),
        alu64_imm(op::ADD, 0, 1),
        jlt(-3),
        j9,
        gotol(-5),
        exit(),
    ];
    let mut p = prog(insns, &[(0, 0), (6, 2)]);
    p.linfo = lines(&[(0, 100), (2, 102), (6, 106), (9, 109)]);
    p.insn_arrays = vec![vec![0, 6, 8]];
    let a = p.aux.clone();
    let mut x = Both::new(&p);
    let init = st_mem(field::DW, 10, -8, 1 << 23);

    for k in 0..2 {
        let start = x.snap().subprogs[k].start as usize;
        let orig = x.insn(start);
        x.patch(start, &[init, orig]);
        x.adjust(start, 1);
    }
    // k = 0: P(0, 2): the S0 loop (now 3): 3 - 3 + 1 = 1 < 2 -> -4 (-> 0);
    // adjust_jmp_off(0, 1) -> -3 (-> 1, the original r0 = 0). Everything else
    // is after the patchlet with targets after it.
    // k = 1: S1 is now 7. P(7, 2): the call (2) and the func (4) target 7 =
    // off: unchanged, they run the init; jlt (now 10): 10 - 3 + 1 = 8 < 9 ->
    // -4 (-> 7), gotol (now 12): -6 (-> 7); adjust_jmp_off(7, 1) -> -3 and -5
    // (-> 8). Records: 2 -> 3, 6 -> 7 (stays at the init), 9 -> 10 -> 11.
    let s = x.snap();
    assert_eq!(
        s.insns,
        vec![
            init,
            mov64_imm(0, 0),
            call_rel(4),
            jgt,
            fu[0],
            fu[1],
            exit(),
            init,
            mov64_imm(0, 1),
            alu64_imm(op::ADD, 0, 1),
            jlt(-3),
            j9,
            gotol(-5),
            exit(),
        ]
    );
    assert_eq!((x.tgt(2), x.tgt(3), x.tgt(4), x.tgt(10), x.tgt(12)), (7, 1, 7, 8, 8));
    assert_eq!(s.subprogs, subs(&[(0, 0), (7, 2), (14, 0)]));
    assert_eq!(s.linfo, lines(&[(0, 100), (3, 102), (7, 106), (11, 109)]));
    // Insn arrays are not touched by adjust_jmp_off (Q11): 0 and 7 stay on
    // the inits, 8 -> 9 -> 10 (the jlt).
    assert_eq!(s.insn_arrays, vec![vec![0, 7, 10]]);
    assert_eq!((s.aux[0], s.aux[1], s.aux[7], s.aux[8]), (f1(false), a[0], f1(false), a[6]));

    // The loops are now bound to r0 = 1, not to S1's start: a patch at the
    // init (7) leaves them on r0 = 1 (jlt, now 11: 11 - 3 + 1 = 9 >= end_new
    // 9: unchanged), while the call and the func (-> 7 = off) stay on 7.
    x.patch(7, &[mov64_imm(2, 2), init]);
    assert_eq!((x.tgt(2), x.tgt(4), x.tgt(11), x.tgt(13)), (7, 7, 9, 9));
    assert_eq!(x.insn(9), mov64_imm(0, 1));
    // A patch at r0 = 1 (9): the loops target off: x -= 1, they enter r5.
    x.patch(9, &[mov64_imm(5, 5), mov64_imm(0, 1)]);
    assert_eq!((x.tgt(2), x.tgt(12), x.tgt(14)), (7, 9, 9));
    assert_eq!((x.insn(12), x.insn(14)), (jlt(-4), gotol(-6)));
    let got = x.finish();
    assert_eq!(got.subprogs, subs(&[(0, 0), (7, 2), (16, 0)]));
}

// ---------------------------------------------------------------- §6.5

#[test]
fn add_hidden_subprog_then_patches() {
    // 0: call pc+2 (-> 3); 1: r0 = 0; 2: exit; 3: r0 = 1 (S1); 4: exit
    let insns = vec![call_rel(2), mov64_imm(0, 0), exit(), mov64_imm(0, 1), exit()];
    let mut p = prog(insns, &[(0, 0), (3, 1)]);
    p.linfo = lines(&[(0, 1), (3, 2)]);
    p.func_info = func_info(&[0, 3]);
    let a = p.aux.clone();
    let mut x = Both::new(&p);
    let body = [exit(), mov64_reg(0, 1), exit()];

    // Append at 4 (delta 2): fake exit 5 -> 7; entry 3 gets it (linfo_idx of
    // the unused slot 3: 0), entry 2 (the old fake exit) starts at 7 - 3 + 1 = 5.
    x.hidden(&body);
    let s = x.snap();
    assert_eq!(s.subprogs, subs(&[(0, 0), (3, 1), (5, 0), (7, 0)]));
    assert_eq!((s.hidden_subprog_cnt, s.aux[4], s.aux[6]), (1, f1(false), a[4]));

    // a) Prepend at S1 (3): the call stays on 3; hidden 5 -> 6, fake 8.
    x.patch(3, &[mov64_imm(5, 5), mov64_imm(0, 1)]);
    // b) A patch at the hidden subprog's start (6): it keeps 6, fake 9.
    x.patch(6, &[mov64_imm(6, 6), mov64_reg(0, 1)]);
    // c) The last slot (the hidden exit, a4): [r7 = 7, exit], fake 10.
    x.patch(8, &[mov64_imm(7, 7), exit()]);
    assert_eq!(x.snap().subprogs, subs(&[(0, 0), (3, 1), (6, 0), (10, 0)]));
    // d) An in-place rewrite turning slot 1 into a call of the hidden subprog
    // (1 + 4 + 1 = 6): the list must bind the new branch.
    x.set(1, call_rel(4));
    assert_eq!(x.tgt(1), 6);
    // e) P(0, [r8 = 8, call pc+2]): the re-emitted call at 1 reaches 4 (S1,
    // shifted); the set call (now 2) is after the patchlet with its target
    // after it: unchanged (-> 7, the hidden start, shifted).
    x.patch(0, &[mov64_imm(8, 8), call_rel(2)]);
    assert_eq!((x.tgt(1), x.tgt(2)), (4, 7));
    assert_eq!(x.snap().subprogs, subs(&[(0, 0), (4, 1), (7, 0), (11, 0)]));
    // f) A second hidden subprog is -EFAULT on both, nothing changed.
    x.fails(Op::HiddenSubprog { insns: body.to_vec() }, PatchError::Fault);
    // g) R(4, 1) (S1's head r5 = 5): the call at 1 (k = 0) slides to r0 = 1,
    // the one at 2 (-> 7 >= 5) -> imm 3 (-> 6); S1 keeps 4, the hidden entry
    // and the fake exit move down. Record 2 (on 4) is inherited by slot 5
    // and lands on 4 again.
    x.remove(4, 1);
    assert_eq!((x.tgt(1), x.tgt(2)), (4, 6));
    let got = x.finish();
    assert_eq!(
        got.insns,
        vec![
            mov64_imm(8, 8),
            call_rel(2),
            call_rel(3),
            exit(),
            mov64_imm(0, 1),
            exit(),
            mov64_imm(6, 6),
            mov64_reg(0, 1),
            mov64_imm(7, 7),
            exit()
        ]
    );
    assert_eq!(got.subprogs, subs(&[(0, 0), (4, 1), (6, 0), (10, 0)]));
    assert_eq!(got.linfo, lines(&[(0, 1), (4, 2)]));
    assert_eq!(got.func_info, func_info(&[0, 3]));
    // [F(r8), a0, a1 (bytes rewritten by set, aux untouched), a2, a3, F(exit)
    // of the hidden body, F(r6), F(r0 = r1) moved by b), F(r7), a4].
    let want_aux = vec![f1(false), a[0], a[1], a[2], a[3], f1(false), f1(false), f1(false), f1(false), a[4]];
    assert_eq!(got.aux, want_aux);
}

// ---------------------------------------------------------------- Q3, Q4

#[test]
fn len1_path_only_zext_changes() {
    // 0: if r0 == 0 goto +2 (-> 3)
    // 1: w1 = 1               (liveness: no zext needed, zext_dst false)
    // 2: w2 s/= -1            (sdiv K, off 1; zext_dst false)
    // 3: r3 = 3               (jump target, record, array entry, poke)
    // 4: call pc+2 (-> 7)
    // 5: ja -3 (-> 3)
    // 6: exit
    // 7: r0 = 0 (S1); 8: exit
    let sdiv = raw(class::ALU | op::DIV | field::K, 2, 0, 1, -1);
    let neg = raw(class::ALU | op::NEG | field::K, 2, 0, 0, 0);
    let insns = vec![
        jeq(0, 0, 2),
        mov32_imm(1, 1),
        sdiv,
        mov64_imm(3, 3),
        call_rel(2),
        ja(-3),
        exit(),
        mov64_imm(0, 0),
        exit(),
    ];
    let mut p = prog(insns, &[(0, 0), (7, 2)]);
    p.linfo = lines(&[(0, 1), (3, 3), (7, 7)]);
    p.insn_arrays = vec![vec![3, 5]];
    p.pokes = vec![3, 4];
    for i in [1, 2] {
        p.aux[i].zext_dst = false;
        p.aux[i].seen = 3;
    }
    let mut x = Both::new(&p);

    // Each len-1 op must change exactly the bytes of its slot and (patch
    // only) that slot's zext_dst = has_def32(new insn); nothing moves.
    let step = |x: &mut Both, op: Op, off: usize, insn: Insn, zext: Option<bool>| {
        let mut want = x.snap();
        want.insns[off] = insn;
        if let Some(z) = zext {
            want.aux[off].zext_dst = z;
        }
        x.ok(op);
        same(&x.snap(), &want, &format!("len-1 op at {off}"));
    };
    // sdiv by -1 -> neg (do_misc_fixups, cnt 1): zext_dst false -> true (Q3).
    step(&mut x, Op::Patch { off: 2, insns: vec![neg] }, 2, neg, Some(true));
    // An in-place set never touches aux, even when the def32-ness changes...
    step(&mut x, Op::Set { off: 1, insn: mov64_imm(1, 1) }, 1, mov64_imm(1, 1), None);
    assert!(!x.aux(1).zext_dst);
    // ...a len-1 patch always recomputes it, even with the original bytes.
    step(&mut x, Op::Patch { off: 1, insns: vec![mov32_imm(1, 1)] }, 1, mov32_imm(1, 1), Some(true));
    // At the jump target: jumps, record, entry and poke at 3 stay put.
    step(&mut x, Op::Patch { off: 3, insns: vec![mov64_imm(3, 4)] }, 3, mov64_imm(3, 4), Some(false));
    // A branch replaced by another branch: the new offset is read at its own
    // index (5 - 5 + 1 -> 1).
    step(&mut x, Op::Patch { off: 5, insns: vec![jeq(0, 9, -5)] }, 5, jeq(0, 9, -5), Some(false));
    assert_eq!(x.tgt(5), 1);
    // A branch replaced by a non-branch.
    step(&mut x, Op::Patch { off: 0, insns: vec![mov64_imm(0, 0)] }, 0, mov64_imm(0, 0), Some(false));
    // A pseudo call replaced by a helper call (no branch), then back.
    step(&mut x, Op::Patch { off: 4, insns: vec![call_helper(5)] }, 4, call_helper(5), Some(false));
    step(&mut x, Op::Patch { off: 4, insns: vec![call_rel(2)] }, 4, call_rel(2), Some(false));
    assert_eq!(x.tgt(4), 7);

    // A multi-slot patch afterwards adjusts what the len-1 ops bound: P(1, 2)
    // with [r9 = 9, w1 = 1]. The jeq at 5 (-> 1 = off), now 6: 6 - 5 + 1 = 2
    // < 3 -> -6 (-> 1); the call (now 5) keeps imm 2 (-> 8 = S1). Slot 1's
    // aux (zext_dst true since the len-1 patch) moves to 2 with
    // has_def32(w1) = true; slot 1 gets fresh(seen 3).
    let a1 = x.aux(1);
    x.patch(1, &[mov64_imm(9, 9), mov32_imm(1, 1)]);
    assert_eq!((x.insn(6), x.tgt(6), x.tgt(5)), (jeq(0, 9, -6), 1, 8));
    let got = x.finish();
    let a = &p.aux;
    assert_eq!(
        got.insns,
        vec![
            mov64_imm(0, 0),
            mov64_imm(9, 9),
            mov32_imm(1, 1),
            neg,
            mov64_imm(3, 4),
            call_rel(2),
            jeq(0, 9, -6),
            exit(),
            mov64_imm(0, 0),
            exit()
        ]
    );
    let want_aux = vec![
        a[0],
        fresh(3, mov64_imm(9, 9)),
        Aux { zext_dst: true, ..a1 },
        Aux { zext_dst: true, ..a[2] },
        a[3],
        a[4],
        a[5],
        a[6],
        a[7],
        a[8],
    ];
    assert_eq!(got.aux, want_aux);
    assert_eq!(a1, Aux { zext_dst: true, ..a[1] });
    assert_eq!(got.linfo, lines(&[(0, 1), (4, 3), (8, 7)]));
    assert_eq!((got.insn_arrays.clone(), got.pokes.clone()), (vec![vec![4, 6]], vec![4, 5]));
    assert_eq!(got.subprogs, subs(&[(0, 0), (8, 2), (10, 0)]));
}

// ---------------------------------------------------------------- Q6, §2.4

#[test]
fn erange_probe_detected_at_the_patch() {
    // 32768 slots: 10: ja +32740 (J, -> 32751, slack 27); 32760: ja -32740
    // (B, -> 21, slack 32768 - 32740 = 28); 32767: exit. Every patch of more
    // than one slot makes the new length > 32767, so the probe runs.
    // A patch P(off, n) "crosses" a branch s -> t when s < off < t (forward) or
    // t <= off < s (backward); off == s (the patched branch itself) and off ==
    // t for a forward one do not count.
    let p = big(32768, &[(10, ja(32740)), (32760, ja(-32740))]);
    let mut x = Both::new(&p);
    let fill = |n: usize, orig: Insn, first: bool| {
        let mut v: Vec<Insn> = (0..n as i32 - 1).map(|k| mov64_imm(2, k)).collect();
        if first {
            v.insert(0, orig);
        } else {
            v.push(orig);
        }
        v
    };
    let pat = |x: &Both, off: usize, n: usize| Op::Patch { off, insns: fill(n, x.insn(off), false) };

    // 1. P(10, 31) at J itself (delta 30 > its slack): not crossing. B (t =
    // 21 > 10) not crossing. J -> 40 (-> 32781), B -> 32790 (-> 51).
    x.ok(pat(&x, 10, 31));
    assert_eq!((x.insn(40), x.tgt(40), x.insn(32790), x.tgt(32790)), (ja(32740), 32781, ja(-32740), 51));
    // 2. P(32781, 29) at J's target (delta 28 > J's slack, not crossing); B
    // crosses with slack 28: exactly S16_MIN. B -> 32818.
    x.ok(pat(&x, 32781, 29));
    assert_eq!((x.tgt(40), x.insn(32818), x.tgt(32818)), (32781, ja(-32768), 51));
    // 3. P(45, 2): crosses J (slack 27 -> 26). B (t = 51) not.
    x.ok(pat(&x, 45, 2));
    assert_eq!((x.insn(40), x.tgt(40), x.tgt(32819)), (ja(32741), 32782, 52));
    // 4. P(41, 28), delta 27 > J's slack 26: -ERANGE at J (40); orig_idx of
    // slot 41 = original slot 11. State unchanged.
    x.fails(pat(&x, 41, 28), PatchError::Range { insn: 40, orig_idx: 11 });
    // 5. The smaller P(41, 27) fits: J becomes S16_MAX.
    x.ok(pat(&x, 41, 27));
    assert_eq!((x.insn(40), x.tgt(40), x.insn(32845), x.tgt(32845)), (ja(32767), 32808, ja(-32768), 78));
    // 6. P(78, 2) at B's target crosses both (no slack left on either): the
    // probe reports the lowest index, J's 40; orig_idx of slot 78 = 21.
    x.fails(pat(&x, 78, 2), PatchError::Range { insn: 40, orig_idx: 21 });
    // 7. P(32808, 2) at J's target: only B; slot 32808 was inserted by op 2,
    // so the log's orig_idx is 0.
    x.fails(pat(&x, 32808, 2), PatchError::Range { insn: 32845, orig_idx: 0 });
    // 8. P(32845, 6) at B itself, B first (orig@0): not crossing anything.
    x.ok(Op::Patch { off: 32845, insns: fill(6, x.insn(32845), true) });
    assert_eq!((x.insn(32845), x.tgt(32845), x.tgt(40)), (ja(-32768), 78, 32808));
    // 9. R(80, 5) between both pairs of ends gives each 5 slots of slack:
    // J (-> 32808 >= 85) -> 32762; B (now 32840, 32840 - 32768 + 1 = 73 < 80)
    // -> -32763. Targets keep their slots.
    x.remove(80, 5);
    assert_eq!((x.insn(40), x.tgt(40), x.insn(32840), x.tgt(32840)), (ja(32762), 32803, ja(-32763), 78));
    // 10. P(100, 6), delta 5, crosses both: fits exactly.
    x.ok(pat(&x, 100, 6));
    assert_eq!((x.insn(40), x.insn(32845)), (ja(32767), ja(-32768)));
    // 11. One more slot anywhere inside both: J first; slot 100 is inserted.
    x.fails(pat(&x, 100, 2), PatchError::Range { insn: 40, orig_idx: 0 });
    x.fails(pat(&x, 32000, 2), PatchError::Range { insn: 40, orig_idx: x.aux(32000).orig_idx });
    // 12. Before both (32 < J, 32 < B's target) still fits.
    x.ok(pat(&x, 32, 2));
    assert_eq!((x.len(), x.tgt(41), x.tgt(32846)), (32859, 32809, 79));
    let got = x.finish();
    assert_eq!(got.insns[41], ja(32767));
    assert_eq!(got.insns[32846], ja(-32768));
}

// ---------------------------------------------------------------- random

/// A valid program of about `len` slots with `nsub` subprogs: pseudo calls
/// from slot 0.., a pseudo func pair, conditional jumps and gotols inside each
/// subprog, line info at every start plus random records, an insn array and
/// pokes.
fn random_program(rng: &mut ChaCha8Rng, len: usize, nsub: usize) -> Program {
    let per = len / nsub;
    let starts: Vec<usize> = (0..nsub).map(|k| k * per).collect();
    let mut v: Vec<Insn> = Vec::with_capacity(len);
    for i in 0..len {
        v.push(if rng.gen_bool(0.5) { mov32_imm(rng.gen_range(0..10), i as i32) } else { fl(i as i32) });
    }
    for k in 0..nsub {
        let end = if k + 1 < nsub { starts[k + 1] } else { len };
        v[end - 1] = exit();
    }
    // Calls from subprog 0 to every other subprog, and one pseudo func.
    for k in 1..nsub {
        v[k - 1] = call_rel((starts[k] - (k - 1) - 1) as i32);
    }
    let fp = nsub;
    let fu = ld_func(3, (starts[nsub - 1] - fp - 1) as i32);
    v[fp] = fu[0];
    v[fp + 1] = fu[1];
    // Jumps inside each subprog (never from or to the pair, never into a
    // second half, never on a subprog's last slot).
    for k in 0..nsub {
        let (s, e) = (starts[k], if k + 1 < nsub { starts[k + 1] } else { len });
        for (i, slot) in v.iter_mut().enumerate().take(e - 1).skip(s) {
            if i <= fp + 1 || !rng.gen_bool(0.2) {
                continue;
            }
            let mut t = rng.gen_range(s..e);
            if t == fp + 1 {
                t += 1;
            }
            let rel = t as i64 - i as i64 - 1;
            *slot = if rng.gen_bool(0.1) {
                gotol(rel as i32)
            } else {
                jmp_imm(op::JSGT, rng.gen_range(0..10), rng.gen_range(-5..5), rel as i16)
            };
        }
    }
    let mut p = prog(v, &[]);
    p.subprogs = starts.iter().map(|&s| Subprog { start: s as u32, linfo_idx: 0 }).collect();
    p.subprogs.push(Subprog { start: len as u32, linfo_idx: 0 });
    let mut recs: Vec<u32> = starts.iter().map(|&s| s as u32).collect();
    for _ in 0..len / 20 {
        let r = rng.gen_range(0..len as u32);
        if r as usize != fp + 1 {
            recs.push(r);
        }
    }
    recs.sort_unstable();
    recs.dedup();
    p.linfo = recs.iter().map(|&o| LineInfo { insn_off: o, line_off: o * 7 + 1, ..LineInfo::default() }).collect();
    for (k, s) in p.subprogs.iter_mut().take(nsub).enumerate() {
        s.linfo_idx = recs.binary_search(&(starts[k] as u32)).unwrap() as u32;
    }
    p.func_info = func_info(&starts.iter().map(|&s| s as u32).collect::<Vec<_>>());
    p.insn_arrays = vec![(0..50).map(|_| rng.gen_range(0..len as u32)).collect(), vec![D, 0, len as u32 - 1]];
    p.pokes = (0..20).map(|_| rng.gen_range(0..len as u32)).collect();
    p.validate().unwrap_or_else(|e| panic!("random program: {e}"));
    p
}

/// A random patchlet for `off` in a program of `len` slots: `n` slots with
/// the original at a random position (at the end when it is an ld_imm64
/// first half), branches to the slot after the patchlet, inside the
/// patchlet, anywhere in the program (in the new layout) and pseudo calls
/// to subprog starts.
fn random_patchlet(
    rng: &mut ChaCha8Rng,
    off: usize,
    orig: Insn,
    len: usize,
    starts: &[u32],
    max_n: usize,
) -> Vec<Insn> {
    let n = match rng.gen_range(0..10) {
        0..=1 => 1,
        2..=5 => 2,
        6..=7 => 3,
        _ => rng.gen_range(4..=8),
    }
    .min(max_n);
    let new_len = len + n - 1;
    let orig_at = if orig.is_ld_imm64() || rng.gen_bool(0.5) { n - 1 } else { rng.gen_range(0..n) };
    let mut v = Vec::with_capacity(n);
    let mut j = 0;
    while j < n {
        if j == orig_at {
            v.push(orig);
            j += 1;
            continue;
        }
        let at = off + j;
        let rel = |t: usize| t as i64 - at as i64 - 1;
        let insn = match rng.gen_range(0..12) {
            0 => ja(rel(off + n) as i16),
            1 => jeq(0, 1, rel(off + rng.gen_range(0..n)) as i16),
            2 => jmp_imm(op::JNE, 1, 2, rel(rng.gen_range(0..=new_len)) as i16),
            3 => gotol(rel(rng.gen_range(0..new_len)) as i32),
            4 => {
                // Subprog starts as seen after the patch: > off moves.
                let s = starts[rng.gen_range(0..starts.len())] as usize;
                let s = if s > off { s + n - 1 } else { s };
                call_rel(rel(s) as i32)
            }
            5 if j + 1 < n && j + 1 != orig_at => {
                let pair = ld_imm64(4, 0, rng.gen());
                v.push(pair[0]);
                v.push(pair[1]);
                j += 2;
                continue;
            }
            6..=7 => mov32_imm(rng.gen_range(0..10), rng.gen()),
            _ => mov64_imm(rng.gen_range(0..10), rng.gen()),
        };
        v.push(insn);
        j += 1;
    }
    v
}

#[test]
fn many_random_reads_between_ops() {
    let t0 = Instant::now();
    let mut rng = ChaCha8Rng::seed_from_u64(0x1157_ca5e);
    let p = random_program(&mut rng, 5000, 4);
    let mut x = Both::new(&p);
    x.full = false;
    let mut patches = 0;
    let mut inserted = 0;
    while patches < 600 {
        let len = x.len();
        let off = rng.gen_range(0..len);
        // Never patch an ld_imm64 second half (patches never split pairs).
        if off > 0 && x.insn(off - 1).is_ld_imm64() && x.insn(off).code == 0 {
            continue;
        }
        let starts: Vec<u32> = x.a.view().subprogs.iter().map(|s| s.start).collect();
        let insns = random_patchlet(&mut rng, off, x.insn(off), len, &starts[..starts.len() - 1], 8);
        inserted += insns.len() - 1;
        x.ok(Op::Patch { off, insns }); // panics on an error
        patches += 1;
        // Reads everywhere: recorded in the case, so run_thorough replays
        // them too; and both patchers' reads compared now.
        let len = x.len();
        for _ in 0..12 {
            let idx = rng.gen_range(0..len + 2);
            x.ok(Op::Read { idx });
        }
        if patches % 50 == 0 {
            x.compare_all(&format!("after {patches} patches"));
        }
    }
    assert_eq!(x.len(), 5000 + inserted);
    x.finish();
    let el = t0.elapsed();
    eprintln!("many_random_reads_between_ops: {} ops in {el:?}", 600 * 13);
}

#[test]
fn order_statistic_stress() {
    let t0 = Instant::now();
    let mut rng = ChaCha8Rng::seed_from_u64(0x57a7_5eed);
    let p = random_program(&mut rng, 2000, 3);
    let (mut a, mut l) = (ArrayPatcher::new(p.clone()).unwrap(), ListPatcher::new(p.clone()).unwrap());
    let mut ops = Vec::new();
    let (mut n_patch, mut n_remove) = (0, 0);
    for k in 0..20_000usize {
        let len = a.len();
        let off = rng.gen_range(0..len);
        let patch = if len > 2400 {
            rng.gen_bool(0.3)
        } else if len < 1600 {
            rng.gen_bool(0.7)
        } else {
            rng.gen_bool(0.5)
        };
        let op = if patch {
            n_patch += 1;
            let starts: Vec<u32> = a.view().subprogs.iter().map(|s| s.start).collect();
            let insns = random_patchlet(&mut rng, off, a.insn(off).unwrap(), len, &starts[..starts.len() - 1], 3);
            Op::Patch { off, insns }
        } else {
            n_remove += 1;
            Op::Remove { off, cnt: 1 }
        };
        let ra = op.apply(&mut a);
        let rl = op.apply(&mut l);
        assert_eq!(ra, rl, "op {k} ({op:?})");
        // Every generated op is within the preconditions.
        ra.unwrap_or_else(|e| panic!("op {k} ({op:?}) failed: {e}"));
        let len = a.len();
        assert_eq!(len, l.len(), "op {k}: len");
        let r = rng.gen_range(0..len);
        for i in [off.saturating_sub(1), off, off + 1, off + 2, r, len - 1, len] {
            assert_eq!((a.insn(i), a.aux(i)), (l.insn(i), l.aux(i)), "op {k} ({op:?}): slot {i}");
        }
        ops.push(op);
        if (k + 1) % 500 == 0 {
            let (pa, pl) = (a.snapshot(), l.snapshot());
            if let Some(d) = first_difference(&pa, &pl, false) {
                panic!("after op {k}: snapshots differ (left array, right list): {d}");
            }
        }
    }
    assert!(n_patch > 8000 && n_remove > 8000, "{n_patch} patches, {n_remove} removals");
    same(&l.into_program(), &a.into_program(), "final");
    // Whole-state comparison after every op for the first 2000 ops (all
    // 20000 would take ~7 s in debug).
    ops.truncate(2000);
    let case = Case {
        name: "order_statistic_stress".into(),
        prog: p,
        ops,
        expect: None,
        ignore_tokens: false,
        notes: Vec::new(),
    };
    if let Some(r) = run_thorough::<ArrayPatcher, ListPatcher>(&case).divergence() {
        panic!("run_thorough found a divergence:\n{r}");
    }
    eprintln!("order_statistic_stress: 20000 ops in {:?}", t0.elapsed());
}
