//! Data references, as libbpf's `bpf_object__relocate_data` leaves them for
//! the kernel, with a placeholder where libbpf would put a file descriptor or
//! a BTF id (the importer creates no maps and reads no kernel BTF): maps
//! become `ld_imm64` with `BPF_PSEUDO_MAP_FD`, global data `BPF_PSEUDO_MAP_VALUE`
//! (second half = offset in the section), kfunc calls `BPF_PSEUDO_KFUNC_CALL`,
//! `__ksym` variables `BPF_PSEUDO_BTF_ID`. The placeholder is the reference's
//! number in order of first use, so every use of one map carries the same.

use super::elf::Target;
use super::error::{malformed, unsupported, ObjError};
use crate::insn::{pseudo, Insn};
use std::collections::BTreeMap;

/// `BPF_PSEUDO_BTF_ID`.
const PSEUDO_BTF_ID: u8 = 3;

/// Apply the data relocations of a linked program; returns the names behind
/// each placeholder (maps and data sections, then externs), by number.
pub fn relocate(insns: &mut [Insn], relocs: &BTreeMap<usize, Target>) -> Result<Vec<String>, ObjError> {
    let mut names: Vec<String> = Vec::new();
    let mut number = |name: String| -> i32 {
        match names.iter().position(|n| *n == name) {
            Some(k) => k as i32,
            None => {
                names.push(name);
                names.len() as i32 - 1
            }
        }
    };
    for (&at, target) in relocs {
        let insn = insns[at];
        let pair = insn.is_ld_imm64() && at + 1 < insns.len();
        let need_pair = |what: &str| -> Result<(), ObjError> {
            if pair {
                Ok(())
            } else {
                Err(malformed(format!(
                    "insn {at} (code {:#04x}) relocated against {what} is not an ld_imm64",
                    insn.code
                )))
            }
        };
        match target {
            // Calls and subprog addresses: done by the link step.
            Target::Text { .. } => {}
            Target::Map { name } => {
                need_pair(&format!("map '{name}'"))?;
                insns[at] = Insn { src: pseudo::MAP_FD, imm: number(format!("map {name}")), ..insn };
            }
            Target::Data { section, sym_off } => {
                need_pair(&format!("section '{section}'"))?;
                let off = (insn.imm as i64).wrapping_add(*sym_off as i64) as i32;
                insns[at] = Insn { src: pseudo::MAP_VALUE, imm: number(format!("data {section}")), ..insn };
                insns[at + 1].imm = off;
            }
            Target::Extern { name } if insn.is_call() => {
                insns[at] = Insn { src: pseudo::KFUNC_CALL, imm: number(format!("kfunc {name}")), off: 0, ..insn };
            }
            Target::Extern { name } => {
                need_pair(&format!("extern '{name}'"))?;
                insns[at] = Insn { src: PSEUDO_BTF_ID, imm: number(format!("ksym {name}")), ..insn };
                insns[at + 1].imm = 0;
            }
            Target::Other { section, name } => {
                return Err(unsupported(format!(
                    "insn {at} refers to '{name}' in section '{section}' (not .text, a map or global data)"
                )));
            }
        }
    }
    Ok(names)
}
