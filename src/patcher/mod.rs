//! The operations the verifier performs on a program under rewrite, addressed
//! by current index, and the two implementations that must agree on them.

pub mod array;
pub mod branch_slots;
pub mod list;
mod seq;

use crate::insn::Insn;
use crate::program::{Aux, Invalid, Program, Tables};
use std::fmt;

pub use array::{ArrayPatcher, Walk};
pub use list::ListPatcher;

/// `-ERANGE`.
pub const ERANGE: i32 = -34;
/// `-EFAULT`.
pub const EFAULT: i32 = -14;

/// Why an operation failed. The first two are the kernel's own errors; the rest
/// are preconditions the kernel only assumes, checked before any state changes.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum PatchError {
    /// `-ERANGE` from the probe pass of `bpf_patch_insn_single` (or from
    /// `adjust_jmp_off`): the branch at `insn` would leave its field. `orig_idx`
    /// is what the kernel logs ("insn %d cannot be patched due to 16-bit range").
    Range { insn: usize, orig_idx: u32 },
    /// `-EFAULT` from `add_hidden_subprog`: only one hidden subprog supported.
    Fault,
    /// A patch with no instructions (`len == 0` underflows in the kernel).
    EmptyPatch,
    /// `off` is not an instruction of the program.
    OffOutOfRange { off: usize, len: usize },
    /// `[off, off + cnt)` is empty or runs past the end.
    RangeOutOfProgram { off: usize, cnt: usize, len: usize },
    /// A branch of the patchlet (or of a `set`) would target outside `[0, len]`.
    TargetOutOfProgram { insn: usize, target: i64, len: usize },
    /// Patching the last slot while the new length is > S16_MAX: the kernel's
    /// probe then reads one slot past the program (quirk Q1); refused.
    ProbePastEnd { off: usize },
    /// `adjust_jmp_off` asked to move targets past the end.
    JmpOffOutOfRange { tgt: usize, delta: u32, len: usize },
    /// A removal would leave a subprog starting inside the removed range (Q13).
    CutsSubprog { subprog: usize, start: usize, off: usize, cnt: usize },
    /// The program given to the patcher breaks a load-time rule.
    InvalidProgram(Invalid),
    /// A foreign engine failed in a way no patcher may: out of memory, or the
    /// engine ABI misused (`code` is its `pe_result`).
    EngineFailure { code: i32 },
}

impl PatchError {
    /// The kernel errno, for the errors the kernel itself returns.
    pub fn errno(&self) -> Option<i32> {
        match self {
            PatchError::Range { .. } => Some(ERANGE),
            PatchError::Fault => Some(EFAULT),
            _ => None,
        }
    }
}

impl fmt::Display for PatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PatchError::Range { insn, orig_idx } => write!(
                f,
                "-ERANGE: branch at insn {insn} would overflow (kernel log: insn {orig_idx} cannot be patched due to 16-bit range)"
            ),
            PatchError::Fault => write!(f, "-EFAULT: only one hidden subprog supported"),
            PatchError::EmptyPatch => write!(f, "patch of length 0"),
            PatchError::OffOutOfRange { off, len } => write!(f, "off {off} is not an instruction of a {len}-insn program"),
            PatchError::RangeOutOfProgram { off, cnt, len } => {
                write!(f, "range [{off}, {off}+{cnt}) is empty or past the end of a {len}-insn program")
            }
            PatchError::TargetOutOfProgram { insn, target, len } => {
                write!(f, "branch at insn {insn} would target {target}, outside [0, {len}]")
            }
            PatchError::ProbePastEnd { off } => {
                write!(f, "patch of the last slot {off} with new length > 32767 (probe reads past the end, Q1)")
            }
            PatchError::JmpOffOutOfRange { tgt, delta, len } => {
                write!(f, "adjust_jmp_off({tgt}, {delta}) past the end of a {len}-insn program")
            }
            PatchError::CutsSubprog { subprog, start, off, cnt } => write!(
                f,
                "removal [{off}, {off}+{cnt}) cuts subprog {subprog} (start {start}) below its head (Q13)"
            ),
            PatchError::InvalidProgram(e) => write!(f, "{e}"),
            PatchError::EngineFailure { code } => write!(f, "the engine failed (pe_result {code})"),
        }
    }
}

impl std::error::Error for PatchError {}

/// The verifier's view of a program under rewrite. All indices are current.
/// Object safe: engines hand out `Box<dyn Patcher>` (`crate::engine`).
pub trait Patcher {
    /// Take ownership of a program; it must pass `Program::validate()`.
    fn new(prog: Program) -> Result<Self, PatchError>
    where
        Self: Sized,
    {
        prog.validate().map_err(PatchError::InvalidProgram)?;
        Ok(Self::from_valid(prog))
    }
    /// Take a program the caller has already validated.
    fn from_valid(prog: Program) -> Self
    where
        Self: Sized;
    /// `bpf_patch_insn_data(env, off, insns, len)`.
    fn patch(&mut self, off: usize, insns: &[Insn]) -> Result<(), PatchError>;
    /// `verifier_remove_insns(env, off, cnt)`.
    fn remove(&mut self, off: usize, cnt: usize) -> Result<(), PatchError>;
    /// In-place write of one slot (aux untouched), as callers rewrite `imm`/`code`.
    fn set(&mut self, off: usize, insn: Insn) -> Result<(), PatchError>;
    /// `add_hidden_subprog(env, insns, len)`; `insns[0]` is the current last insn.
    fn add_hidden_subprog(&mut self, insns: &[Insn]) -> Result<(), PatchError>;
    /// `adjust_jmp_off(prog, tgt, delta)`.
    fn adjust_jmp_off(&mut self, tgt: usize, delta: u32) -> Result<(), PatchError>;
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The instruction at current index `i`, with its current relative offsets.
    fn insn(&self, i: usize) -> Option<Insn>;
    fn aux(&self, i: usize) -> Option<Aux>;
    fn into_program(self) -> Program
    where
        Self: Sized;
    /// The whole current state as a `Program`, without consuming the patcher.
    fn snapshot(&self) -> Program;
    /// The final program from a boxed patcher (`into_program` where the
    /// patcher can give up its storage; a snapshot otherwise).
    fn finish(self: Box<Self>) -> Program {
        self.snapshot()
    }
    /// The whole current state borrowed, when the patcher keeps it as the
    /// program's tables (the array model): compared without a copy. `None`:
    /// the harness takes a `snapshot`.
    fn tables(&self) -> Option<Tables<'_>> {
        None
    }
    /// Heap bytes the patcher holds, when it can tell (benchmarks only).
    fn memory_bytes(&self) -> Option<usize> {
        None
    }
}

/// Checks shared by both patchers before anything changes.
pub(crate) mod pre {
    use super::PatchError;
    use crate::insn::Insn;
    use crate::insn::S16_MAX;

    pub fn patch(off: usize, insns: &[Insn], len: usize) -> Result<(), PatchError> {
        if insns.is_empty() {
            return Err(PatchError::EmptyPatch);
        }
        if off >= len {
            return Err(PatchError::OffOutOfRange { off, len });
        }
        let new_len = len + insns.len() - 1;
        if insns.len() > 1 && new_len as i64 > S16_MAX && off == len - 1 {
            return Err(PatchError::ProbePastEnd { off });
        }
        patchlet_targets(off, insns, new_len)
    }

    /// Every branch of a patchlet placed at `off` must land in `[0, new_len]`.
    pub fn patchlet_targets(off: usize, insns: &[Insn], new_len: usize) -> Result<(), PatchError> {
        // Slots are judged by their bytes alone, as bpf_adj_branches does.
        for (j, insn) in insns.iter().enumerate() {
            if let Some(t) = insn.target(off + j) {
                if t < 0 || t > new_len as i64 {
                    return Err(PatchError::TargetOutOfProgram { insn: off + j, target: t, len: new_len });
                }
            }
        }
        Ok(())
    }

    pub fn remove(off: usize, cnt: usize, len: usize) -> Result<(), PatchError> {
        // Removing every slot is no verifier pass's doing: refused.
        if cnt == 0 || off >= len || cnt > len - off || cnt == len {
            return Err(PatchError::RangeOutOfProgram { off, cnt, len });
        }
        Ok(())
    }

    /// Refuse a removal that cuts a subprog whose start lies strictly inside
    /// the range but which goes on past it: the kernel would give it start
    /// `start - cnt`, outside its code (Q13); no verifier pass does this.
    pub fn remove_keeps_subprogs(starts: &[usize], len: usize, off: usize, cnt: usize) -> Result<(), PatchError> {
        let end = off + cnt;
        for (k, &s) in starts.iter().enumerate() {
            let next = starts.get(k + 1).copied().unwrap_or(len);
            if off < s && s < end && next > end {
                return Err(PatchError::CutsSubprog { subprog: k, start: s, off, cnt });
            }
        }
        Ok(())
    }

    pub fn jmp_off(tgt: usize, delta: u32, len: usize) -> Result<(), PatchError> {
        if tgt >= len || tgt as u64 + delta as u64 > len as u64 {
            return Err(PatchError::JmpOffOutOfRange { tgt, delta, len });
        }
        Ok(())
    }
}
