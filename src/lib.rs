//! patch-equiv: a kernel-exact model of the BPF verifier's array patcher, a
//! list patcher whose per-patch cost does not grow with the program, and a
//! differential harness that shows they agree.

pub mod case;
pub mod diff;
pub mod disasm;
pub mod insn;
pub mod op;
pub mod patcher;
pub mod program;
pub mod vectors;
