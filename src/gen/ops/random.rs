//! Ops no single verifier pass makes but every caller may: patches of random
//! shape at adversarial positions, in-place writes, and invalid ops both
//! patchers must refuse alike.

use super::OpGen;
use crate::gen::features::Feature;
use crate::gen::patchlet::{Item, To};
use crate::gen::program::{plain, reg};
use crate::insn::build::*;
use crate::insn::{class, code, field, op, Insn};
use crate::op::Op;
use crate::program::INSN_DELETED;
use arbitrary::{Result, Unstructured};

impl OpGen<'_> {
    /// A few random patches, removals and sets at adversarial positions.
    pub(super) fn extras(&mut self, u: &mut Unstructured) -> Result<()> {
        let w = &self.cfg.weights;
        let total = w.random_patch as u32 + w.random_remove as u32 + w.set as u32;
        if total == 0 {
            return Ok(());
        }
        let n = u.int_in_range(0..=3)?;
        for _ in 0..n {
            if self.done(u) {
                break;
            }
            let r = u.int_in_range(0..=total - 1)?;
            let w = &self.cfg.weights;
            if u.ratio(1, 40)? {
                self.invalid_op(u)?;
            } else if r < w.random_patch as u32 {
                self.random_patch(u)?;
            } else if r < (w.random_patch + w.random_remove) as u32 {
                self.random_remove(u)?;
            } else {
                self.random_set(u)?;
            }
        }
        Ok(())
    }

    /// An adversarial position: slot 0, a subprog start, a jump target, a
    /// line-info record, a poke, an inserted slot, the slot before a removal,
    /// a subprog's last slot, or anywhere.
    fn adversarial_position(&self, u: &mut Unstructured) -> Result<usize> {
        let v = self.shadow.view();
        let len = v.insns.len();
        let pick = |u: &mut Unstructured, c: &[usize]| -> Result<Option<usize>> {
            Ok(if c.is_empty() { None } else { Some(*u.choose(c)?) })
        };
        let cand: Option<usize> = match u.int_in_range(0..=8)? {
            0 => Some(0),
            1 => pick(u, &v.subprogs[..v.subprogs.len() - 1].iter().map(|s| s.start as usize).collect::<Vec<_>>())?,
            2 => pick(u, &v.targets().map(|(_, t)| t as usize).filter(|&t| t < len).collect::<Vec<_>>())?,
            3 => pick(u, &v.linfo.iter().map(|l| l.insn_off as usize).collect::<Vec<_>>())?,
            4 => pick(u, &v.pokes.iter().map(|&x| x as usize).filter(|&x| x < len).collect::<Vec<_>>())?,
            5 => pick(u, &(0..len).filter(|&i| v.aux[i].token == 0).collect::<Vec<_>>())?,
            6 => self.removed_at.map(|r| r.saturating_sub(1)),
            7 => pick(u, &v.subprogs[1..].iter().map(|s| s.start as usize - 1).collect::<Vec<_>>())?,
            _ => pick(
                u,
                &v.insn_arrays
                    .iter()
                    .flatten()
                    .filter(|&&x| x != INSN_DELETED)
                    .map(|&x| x as usize)
                    .collect::<Vec<_>>(),
            )?,
        };
        let p = match cand {
            Some(p) if p < len => p,
            _ => u.int_in_range(0..=len - 1)?,
        };
        Ok(p)
    }

    /// A patch of random shape at an adversarial position.
    fn random_patch(&mut self, u: &mut Unstructured) -> Result<()> {
        let p = self.adversarial_position(u)?;
        let insn = self.insn(p);
        if self.second_half(p) || insn.is_ld_imm64() || insn.is_gotox() || insn.code == code::TAIL_CALL {
            return Ok(());
        }
        // The original must stay last where control does not fall through
        // (the subprog's terminator, an exit or jump, or live code before dead).
        let last = self.is_last_of_subprog(p)
            || insn.is_exit()
            || insn.is_ja()
            || insn.is_gotol()
            || (self.live(p) && !self.live(p + 1));
        let end_ok = !self.is_last_of_subprog(p) && (self.live(p + 1) || !self.live(p));
        let n_items = u.int_in_range(0..=6)?;
        let mut items = Vec::new();
        for _ in 0..n_items {
            let item = match u.int_in_range(0..=9)? {
                0..=3 => Item::Plain(plain(u)?),
                4 if end_ok => Item::Branch(raw(class::JMP | op::JA, 0, 0, 0, 0), To::End),
                5 => Item::Branch(cond_insn(u)?, To::Slot(u.int_in_range(0..=n_items)?)),
                6 => match self.target_in_subprog(u, p)? {
                    Some(t) => Item::Branch(cond_insn(u)?, To::Old(t)),
                    None => continue,
                },
                7 => Item::LdImm64(ld_imm64(reg(u)?, 0, u.arbitrary()?)),
                8 => match self.callee_for(u, p)? {
                    Some(c) => Item::Branch(call_rel(0), To::Old(c)),
                    None => continue,
                },
                _ => match self.target_in_subprog(u, p)? {
                    Some(t) => Item::Branch(gotol(0), To::Old(t)),
                    None => continue,
                },
            };
            items.push(item);
        }
        // Slot(k) must name a slot inside the patchlet.
        let n_slots: usize = items.iter().map(|i| if matches!(i, Item::LdImm64(_)) { 2 } else { 1 }).sum::<usize>() + 1;
        let orig_at = u.int_in_range(0..=items.len())?;
        let keep_orig = last || u.ratio(2, 3)?;
        if keep_orig {
            items.insert(if last { items.len() } else { orig_at }, Item::Orig);
        } else if items.is_empty() {
            items.push(Item::Plain(plain(u)?));
        }
        let starts: Vec<usize> = {
            let mut k = 0;
            items
                .iter()
                .map(|i| {
                    let s = k;
                    k += if matches!(i, Item::LdImm64(_)) { 2 } else { 1 };
                    s
                })
                .collect()
        };
        let n_total: usize = items.iter().map(|i| if matches!(i, Item::LdImm64(_)) { 2 } else { 1 }).sum();
        for it in items.iter_mut() {
            if let Item::Branch(_, To::Slot(j)) = it {
                // Land on an item start, never on a second half.
                let j2 = (*j).min(n_slots.saturating_sub(1)).min(n_total - 1);
                *j = *starts.iter().rev().find(|&&s| s <= j2).unwrap_or(&0);
            }
        }
        // The last slot of a subprog must stay exit/ja/gotol; a conditional
        // jump or call must not be last.
        if last && !matches!(items.last(), Some(Item::Orig)) {
            return Ok(());
        }
        self.patch_with(u, p, &items)?;
        Ok(())
    }

    /// An op the kernel only assumes valid: both patchers must refuse it with
    /// the same error and leave the state alone.
    fn invalid_op(&mut self, u: &mut Unstructured) -> Result<()> {
        let len = self.len();
        let op = match u.int_in_range(0..=6)? {
            0 => Op::Patch { off: len + u.int_in_range(0..=3)?, insns: vec![exit()] },
            1 => Op::Patch { off: u.int_in_range(0..=len - 1)?, insns: vec![] },
            2 => Op::Remove { off: u.int_in_range(0..=len - 1)?, cnt: len + 1 },
            3 => Op::Remove { off: u.int_in_range(0..=len - 1)?, cnt: 0 },
            4 => Op::Patch { off: 0, insns: vec![ja(i16::MAX), exit()] },
            5 => Op::AdjustJmpOff { tgt: len, delta: 1 },
            _ => Op::Set { off: len, insn: exit() },
        };
        self.emit(op);
        Ok(())
    }

    /// An in-place rewrite that keeps the program valid.
    fn random_set(&mut self, u: &mut Unstructured) -> Result<()> {
        let len = self.len();
        let p = u.int_in_range(0..=len - 1)?;
        let insn = self.insn(p);
        if self.second_half(p) {
            return Ok(());
        }
        let new = if insn.is_helper_call() {
            Insn { imm: u.int_in_range(1..=1_000_000)?, ..insn }
        } else if insn.is_cond_jump()
            && insn.class() == class::JMP
            && insn.op() != op::JCOND
            && insn.op() != op::TAIL_CALL
        {
            // Flip to the JMP32 class: same target, same field.
            Insn { code: insn.code ^ class::JMP ^ class::JMP32, ..insn }
        } else if insn.is_pseudo_call() {
            let Some(c) = self.callee_for(u, p)? else {
                return Ok(());
            };
            Insn { imm: (c as i64 - p as i64 - 1) as i32, ..insn }
        } else if insn.class() == class::ALU64 || insn.class() == class::ALU {
            Insn { imm: u.int_in_range(-100..=100)?, ..insn }
        } else {
            return Ok(());
        };
        self.features.add(Feature::Set);
        self.emit(Op::Set { off: p, insn: new });
        self.maybe_read(u, p)
    }
}

fn cond_insn(u: &mut Unstructured) -> Result<Insn> {
    let o = *u.choose(&[op::JEQ, op::JNE, op::JGT, op::JSLE, op::JSET])?;
    Ok(if u.arbitrary()? {
        jmp_imm(o, reg(u)?, u.int_in_range(-8..=8)?, 0)
    } else {
        raw(class::JMP32 | o | field::X, reg(u)?, reg(u)?, 0, 0)
    })
}
