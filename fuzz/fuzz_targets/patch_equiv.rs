//! bytes → swarm Config → Case → every built-in engine (array, list, c); a finding panics with the report.
#![no_main]
use libfuzzer_sys::fuzz_target;
use patch_equiv::fuzz_input::FuzzCase;

fuzz_target!(|input: FuzzCase| input.check());
