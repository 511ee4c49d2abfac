//! patch-equiv: a kernel-exact model of the BPF verifier's array patcher, a
//! list patcher whose per-patch cost does not grow with the program, and a
//! differential harness that shows they agree.
//!
//! Data flows one way: `insn`/`program` (the model) → `patcher` (array and
//! list) → `engine` (the patchers the harness compares, the array patcher as
//! the oracle) → `gen` (valid programs and verifier-shaped ops) → `equiv`
//! (run every engine, compare, report; `panics` turns a panic into a finding)
//! → `case_file`/`campaign`/`isolate` (child processes for engines that can
//! crash)/`shrink`/`cli`.

pub mod bench;
pub mod campaign;
pub mod case;
pub mod case_file;
pub mod cli;
pub mod diff;
pub mod disasm;
pub mod engine;
pub mod equiv;
pub mod finding;
pub mod fuzz_input;
pub mod gen;
pub mod input;
pub mod insn;
pub mod isolate;
pub mod merge;
pub mod obj;
pub mod op;
pub mod panics;
pub mod patcher;
pub mod program;
pub mod replay;
pub mod report;
pub mod shard;
pub mod shrink;
pub mod vectors;
