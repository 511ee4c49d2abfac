//! bytes → swarm Config → Case → both patchers; a divergence panics with the report.
#![no_main]
use libfuzzer_sys::fuzz_target;
use patch_equiv::fuzz_input::FuzzCase;

fuzz_target!(|input: FuzzCase| input.check());
