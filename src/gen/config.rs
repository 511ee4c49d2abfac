//! The generator's knobs. `Config::default()` is a balanced mix; `impl
//! Arbitrary` draws every knob from the input (swarm testing, as wasm-smith
//! does), and `sanitize()` only lowers limits or switches features off.

use arbitrary::{Arbitrary, Unstructured};
use serde::{Deserialize, Serialize};

/// Relative weights of the verifier-shaped passes and extra op kinds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OpWeights {
    /// `optimize_bpf_loop`: inline bpf_loop (19 slots, a pseudo call out).
    pub bpf_loop: u8,
    /// Hard-wire dead branches, remove unseen runs, remove nops.
    pub dead_code: u8,
    /// `convert_ctx_accesses`: prologue/epilogue, ctx rewrites, nospec.
    pub ctx: u8,
    /// `do_misc_fixups`: div/mod guards, may_goto, helper and kfunc inlining.
    pub misc: u8,
    /// may_goto stack init prepended at subprog starts + `adjust_jmp_off`.
    pub stack_init: u8,
    /// `add_hidden_subprog` (and, rarely, a second one: `-EFAULT`).
    pub hidden: u8,
    /// The zext pass: `[orig, zext]` after every 32-bit def.
    pub zext: u8,
    /// Speculation hardening over a run of consecutive slots (a hot region):
    /// `[mov ax, limit; nospec; orig]` at every slot, as `convert_ctx_accesses`
    /// and the ALU sanitation in `do_misc_fixups` place them.
    pub nospec: u8,
    /// Patches of random shape at adversarial positions.
    pub random_patch: u8,
    /// Removals of ranges that keep the program valid (subprog heads, bodies).
    pub random_remove: u8,
    /// In-place rewrites.
    pub set: u8,
    /// Reads (`insn(i)`, `aux(i)`, `len()`) between ops.
    pub read: u8,
}

impl Default for OpWeights {
    fn default() -> Self {
        OpWeights {
            bpf_loop: 3,
            dead_code: 6,
            ctx: 6,
            misc: 8,
            stack_init: 3,
            hidden: 3,
            zext: 5,
            nospec: 2,
            random_patch: 8,
            random_remove: 4,
            set: 4,
            read: 6,
        }
    }
}

/// Everything the generator can be told.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Most instructions in a normal program.
    pub max_insns: usize,
    /// Most subprogs (the kernel allows 256).
    pub max_subprogs: usize,
    /// Percent of body slots that are jumps.
    pub jump_pct: u8,
    pub jmp32: bool,
    pub gotol: bool,
    pub may_goto: bool,
    pub gotox: bool,
    /// Percent of body slots that are `ld_imm64` pairs.
    pub ld_imm64_pct: u8,
    /// Percent of `ld_imm64` pairs that are pseudo funcs.
    pub pseudo_func_pct: u8,
    /// Percent of body slots that are calls (helper, kfunc, pseudo).
    pub call_pct: u8,
    /// Most tail calls (each with a poke descriptor).
    pub max_tail_calls: u8,
    pub line_info: bool,
    /// Percent of other slots with a line-info record.
    pub linfo_pct: u8,
    pub func_info: bool,
    /// Most instruction-array maps.
    pub max_insn_arrays: u8,
    /// Percent of conditional jumps with one dead successor.
    pub dead_pct: u8,
    /// Percent of body slots that are `ja +0` / `may_goto +0` nops.
    pub nop_pct: u8,
    /// Most ops per case.
    pub max_ops: usize,
    pub weights: OpWeights,
    /// Percent of cases that are programs over 32767 slots with branches near
    /// the s16 limit (so `-ERANGE` is exercised).
    pub large_pct: u8,
    /// Percent of cases that start from a real program when `run --programs
    /// DIR` gives some (not drawn by the swarm: runs without real programs
    /// keep their cases).
    pub real_pct: u8,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_insns: 160,
            max_subprogs: 6,
            jump_pct: 18,
            jmp32: true,
            gotol: true,
            may_goto: true,
            gotox: true,
            ld_imm64_pct: 6,
            pseudo_func_pct: 30,
            call_pct: 8,
            max_tail_calls: 2,
            line_info: true,
            linfo_pct: 25,
            func_info: true,
            max_insn_arrays: 2,
            dead_pct: 15,
            nop_pct: 3,
            max_ops: 48,
            weights: OpWeights::default(),
            large_pct: 1,
            real_pct: 30,
        }
    }
}

impl Config {
    /// Read a `--config` file (JSON, as `patch-equiv config` prints it), sanitized.
    pub fn load(path: &std::path::Path) -> Result<Config, String> {
        let text = crate::input::read_text(path).map_err(|e| e.to_string())?;
        let cfg: Config = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(cfg.sanitize())
    }

    /// Lower limits and switch off features until the knobs are consistent.
    pub fn sanitize(mut self) -> Config {
        self.max_insns = self.max_insns.clamp(2, 4096);
        self.max_subprogs = self.max_subprogs.clamp(1, crate::program::MAX_SUBPROGS).min(self.max_insns / 2);
        self.jump_pct = self.jump_pct.min(60);
        self.ld_imm64_pct = self.ld_imm64_pct.min(30);
        self.pseudo_func_pct = self.pseudo_func_pct.min(100);
        self.call_pct = self.call_pct.min(30);
        self.linfo_pct = self.linfo_pct.min(100);
        self.dead_pct = self.dead_pct.min(100);
        self.nop_pct = self.nop_pct.min(20);
        self.max_ops = self.max_ops.min(2048);
        self.large_pct = self.large_pct.min(100);
        self.real_pct = self.real_pct.min(100);
        if !self.line_info {
            self.linfo_pct = 0;
        }
        self
    }
}

impl<'a> Arbitrary<'a> for OpWeights {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let mut w = || -> arbitrary::Result<u8> { Ok(if u.ratio(1, 5)? { 0 } else { u.int_in_range(1..=10)? }) };
        Ok(OpWeights {
            bpf_loop: w()?,
            dead_code: w()?,
            ctx: w()?,
            misc: w()?,
            stack_init: w()?,
            hidden: w()?,
            zext: w()?,
            nospec: w()?,
            random_patch: w()?,
            random_remove: w()?,
            set: w()?,
            read: w()?,
        })
    }
}

impl<'a> Arbitrary<'a> for Config {
    /// A swarm configuration: every knob drawn, then sanitized.
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        // Rarely, programs at the kernel's subprog limit (256).
        let many = u.ratio(1, 64)?;
        // Rarely, 1,100-1,500 slots and a long nospec run: about a thousand
        // patches, enough to grow the list patcher's tree by a level.
        let dense = !many && u.ratio(1, 256)?;
        let mut c = Config {
            max_insns: if many {
                1024
            } else if dense {
                u.int_in_range(1100..=1500)?
            } else {
                u.int_in_range(2..=200)?
            },
            max_subprogs: if many { 256 } else { u.int_in_range(1..=8)? },
            jump_pct: u.int_in_range(0..=40)?,
            jmp32: u.arbitrary()?,
            gotol: u.arbitrary()?,
            may_goto: u.arbitrary()?,
            gotox: u.ratio(1, 4)?,
            ld_imm64_pct: u.int_in_range(0..=15)?,
            pseudo_func_pct: u.int_in_range(0..=60)?,
            call_pct: u.int_in_range(0..=20)?,
            max_tail_calls: u.int_in_range(0..=3)?,
            line_info: !u.ratio(1, 6)?,
            linfo_pct: u.int_in_range(0..=80)?,
            func_info: u.arbitrary()?,
            max_insn_arrays: u.int_in_range(0..=3)?,
            dead_pct: u.int_in_range(0..=50)?,
            nop_pct: u.int_in_range(0..=10)?,
            max_ops: if dense { 2048 } else { u.int_in_range(1..=56)? },
            weights: u.arbitrary()?,
            large_pct: 1,
            real_pct: Config::default().real_pct,
        };
        if dense {
            c.max_subprogs = c.max_subprogs.min(4);
            c.weights.nospec = 10;
        }
        Ok(c.sanitize())
    }
}
