//! What a generated case exercised, counted over a run so a person can see
//! the generator reaches every rule (and a test can insist that it does).

use std::collections::BTreeMap;
use std::fmt;

macro_rules! features {
    ($($name:ident = $bit:expr, $text:expr;)*) => {
        /// One thing a case can exercise.
        #[derive(Clone, Copy, PartialEq, Eq, Debug)]
        #[repr(u8)]
        pub enum Feature { $($name = $bit,)* }

        impl Feature {
            /// Every feature, in the order the statistics list them.
            pub const ALL: &'static [Feature] = &[$(Feature::$name,)*];
            pub fn name(self) -> &'static str {
                match self { $(Feature::$name => $text,)* }
            }
        }
    };
}

features! {
    Gotol = 0, "gotol";
    PseudoCall = 1, "pseudo call";
    PseudoFunc = 2, "pseudo func";
    MayGoto = 3, "may_goto";
    LdImm64 = 4, "ld_imm64";
    LdImm64InPatchlet = 5, "ld_imm64 in a patchlet";
    JumpOutOfPatchlet = 6, "jump out of a patchlet";
    CallOutOfPatchlet = 7, "pseudo call/func out of a patchlet";
    JumpToPatchletEnd = 8, "jump to the slot after a patchlet";
    InternalJump = 9, "jump inside a patchlet";
    PatchAtSlot0 = 10, "patch at slot 0";
    PatchAtSubprogStart = 11, "patch at a subprog start";
    PatchAtJumpTarget = 12, "patch at a jump target";
    PatchAtLineInfo = 13, "patch at a line-info record";
    PatchAtPoke = 14, "patch at a poke site";
    PatchOfInsertedSlot = 15, "patch of an inserted slot";
    PatchLen1 = 16, "len == 1 patch";
    RemoveWholeSubprog = 17, "removal of a whole subprog";
    RemoveSubprogHead = 18, "removal of a subprog head";
    RemoveTail = 19, "removal of the program tail";
    LineInfoInherit = 20, "line-info inheritance";
    InsnArrayDeleted = 21, "insn-array entry deleted";
    HiddenSubprog = 22, "hidden subprog";
    Efault = 23, "-EFAULT (second hidden subprog)";
    Erange = 24, "-ERANGE";
    AdjustJmpOff = 25, "prepend + adjust_jmp_off";
    HardWire = 26, "hard-wired dead branch";
    NopRemoval = 27, "nop removal";
    DeadRunRemoval = 28, "dead-code removal";
    Set = 29, "in-place set";
    Read = 30, "read between ops";
    LargeProgram = 31, "program over 32767 slots";
    PatchBeforeRemoved = 32, "patch of the slot before a removed range";
    Tailcall = 33, "tail call with poke";
    InsnArray = 34, "insn-array map";
    PreconditionError = 35, "precondition error";
    RemoveJumpIntoRange = 36, "branch into a removed range (Q7)";
    OutOfBytes = 37, "cases that ran out of input bytes";
}

/// A set of features.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub struct Features(pub u64);

impl Features {
    pub fn add(&mut self, f: Feature) {
        self.0 |= 1 << f as u8;
    }
    pub fn has(&self, f: Feature) -> bool {
        self.0 & (1 << f as u8) != 0
    }
}

/// Per-feature case counts over a run, plus cases and rejected inputs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub cases: u64,
    pub rejected: u64,
    pub ops: u64,
    pub counts: Vec<u64>,
    /// Cases per real program they started from (`run --programs`).
    pub real: BTreeMap<String, u64>,
}

impl Stats {
    pub fn record(&mut self, f: Features, ops: usize) {
        if self.counts.is_empty() {
            self.counts = vec![0; Feature::ALL.len()];
        }
        self.cases += 1;
        self.ops += ops as u64;
        for (k, feat) in Feature::ALL.iter().enumerate() {
            self.counts[k] += f.has(*feat) as u64;
        }
    }

    pub fn merge(&mut self, o: &Stats) {
        if self.counts.is_empty() {
            self.counts = vec![0; Feature::ALL.len()];
        }
        self.cases += o.cases;
        self.rejected += o.rejected;
        self.ops += o.ops;
        for (a, b) in self.counts.iter_mut().zip(&o.counts) {
            *a += b;
        }
        for (name, n) in &o.real {
            *self.real.entry(name.clone()).or_default() += n;
        }
    }

    /// One more case started from real program `name`.
    pub fn record_real(&mut self, name: &str) {
        *self.real.entry(name.to_string()).or_default() += 1;
    }

    pub fn count(&self, f: Feature) -> u64 {
        Feature::ALL.iter().position(|x| *x == f).and_then(|k| self.counts.get(k).copied()).unwrap_or(0)
    }

    /// Features the generator aims for that no case exercised (running out
    /// of bytes is a symptom, counted to be seen, not a goal).
    pub fn missing(&self) -> Vec<Feature> {
        Feature::ALL.iter().copied().filter(|f| *f != Feature::OutOfBytes && self.count(*f) == 0).collect()
    }
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total = self.cases + self.rejected;
        let pct = |n: u64| {
            if total == 0 {
                0.0
            } else {
                100.0 * n as f64 / total as f64
            }
        };
        writeln!(
            f,
            "cases: {}  ops: {}  rejected inputs: {} ({:.2}%)",
            self.cases,
            self.ops,
            self.rejected,
            pct(self.rejected)
        )?;
        for feat in Feature::ALL {
            let n = self.count(*feat);
            writeln!(
                f,
                "  {:<42} {:>10}  {:>6.2}%",
                feat.name(),
                n,
                if self.cases == 0 { 0.0 } else { 100.0 * n as f64 / self.cases as f64 }
            )?;
        }
        if !self.real.is_empty() {
            writeln!(f, "cases per real program:")?;
            for (name, n) in &self.real {
                writeln!(f, "  {name:<42} {n:>10}")?;
            }
        }
        Ok(())
    }
}
