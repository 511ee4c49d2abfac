//! Removals outside the dead-code passes (`verifier_remove_insns` with
//! ranges the callers guarantee): subprog bodies and heads, whole subprogs,
//! and ranges dead code jumps into from outside (Q7).

use super::OpGen;
use crate::gen::features::Feature;
use crate::op::Op;
use arbitrary::{Result, Unstructured};

impl OpGen<'_> {
    /// A removal that keeps the program valid: a body range inside one
    /// subprog (possibly its head), or a whole subprog nothing else references.
    ///
    /// A body range may hold the target of a branch from dead code outside it,
    /// and half of the time, when dead code jumps into the subprog, the range
    /// is drawn around such a target on purpose (dead code jumping into a
    /// later dead run, as `opt_remove_dead_code` meets it): the branch keeps
    /// its index (Q7), so it lands `b - a` slots further on, which must still
    /// be a legal target in the subprog. Live code never jumps into a range.
    pub(super) fn random_remove(&mut self, u: &mut Unstructured) -> Result<()> {
        let len = self.len();
        let subs: Vec<usize> = self.shadow.view().subprogs.iter().map(|s| s.start as usize).collect();
        let hidden = self.shadow.view().hidden_subprog_cnt as usize;
        let n_sub = subs.len() - 1;
        let k = u.int_in_range(0..=n_sub - 1)?;
        let (s, e) = (subs[k], subs[k + 1]);
        if hidden > 0 && k + 1 == n_sub {
            return Ok(());
        }
        let branches: Vec<(usize, usize)> = {
            let v = self.shadow.view();
            v.targets().map(|(i, t)| (i, t as usize)).collect()
        };
        if k > 0 && u.ratio(1, 3)? {
            // Whole subprog: only if nothing outside points into it.
            if branches.iter().any(|&(i, t)| (i < s || i >= e) && t >= s && t < e) || e - s >= len {
                return Ok(());
            }
            self.emit(Op::Remove { off: s, cnt: e - s });
            return self.maybe_read(u, s);
        }
        if e - s < 2 {
            return Ok(());
        }
        // Targets of dead branches a range [a, b) with a < t < b, b < e, can hold.
        let dead_into: Vec<usize> =
            branches.iter().filter(|&&(i, t)| !self.live(i) && t > s && t + 1 < e).map(|&(_, t)| t).collect();
        let (a, b) = if !dead_into.is_empty() && u.ratio(1, 2)? {
            let t = *u.choose(&dead_into)?;
            let a = u.int_in_range(t.saturating_sub(7).max(s)..=t - 1)?;
            (a, u.int_in_range(t + 1..=(e - 1).min(a + 8))?)
        } else {
            let a = if u.ratio(1, 3)? { s } else { u.int_in_range(s..=e - 2)? };
            (a, u.int_in_range(a + 1..=(e - 1).min(a + 8))?)
        };
        if self.second_half(a)
            || self.second_half(b)
            || ((self.live(a) || self.live(a.saturating_sub(1))) && !self.live(b))
        {
            return Ok(());
        }
        let into_range = |&(i, t): &(usize, usize)| (i < a || i >= b) && t > a && t < b;
        let lands_legally = |&(i, t): &(usize, usize)| {
            let lands = b + (t - a);
            !self.live(i) && lands < e && !self.second_half(lands)
        };
        if !branches.iter().filter(|br| into_range(br)).all(lands_legally) {
            return Ok(());
        }
        if a == s {
            self.features.add(Feature::RemoveSubprogHead);
        }
        let inherit = {
            let v = self.shadow.view();
            v.linfo.iter().any(|l| (l.insn_off as usize) >= a && (l.insn_off as usize) < b)
                && !v.linfo.iter().any(|l| l.insn_off as usize == b)
        };
        if self.emit(Op::Remove { off: a, cnt: b - a }) && inherit {
            self.features.add(Feature::LineInfoInherit);
        }
        self.maybe_read(u, a)
    }
}
