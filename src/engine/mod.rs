//! Engines: the implementations the harness compares, behind one trait (as
//! wasmtime keeps its foreign engines behind `DiffEngine`). The array patcher
//! is the oracle, always present and always first; every other engine is
//! compared with it. `--engines array,list,c,lib:PATH` picks them.

pub mod ffi;
pub mod plant;

use crate::patcher::list::plant::{Fault, Planted};
use crate::patcher::{ArrayPatcher, ListPatcher, Patcher};
use crate::program::Program;

/// One implementation of the `Patcher` operations.
pub trait Engine: Send + Sync {
    /// As written in --engines and shown in reports: "array", "list", "c", "lib:PATH".
    fn name(&self) -> String;
    /// A patcher over a program the caller has validated.
    fn load(&self, prog: Program) -> Result<Box<dyn Patcher>, String>;
    /// Runs foreign code that can kill the process (segfault, abort, ASan): the harness
    /// must isolate it in a child process to turn a crash into a finding.
    fn can_crash(&self) -> bool {
        false
    }
}

/// The oracle: the kernel's functions, modelled.
pub struct ArrayEngine;

impl Engine for ArrayEngine {
    fn name(&self) -> String {
        ORACLE.to_string()
    }
    fn load(&self, prog: Program) -> Result<Box<dyn Patcher>, String> {
        Ok(Box::new(ArrayPatcher::from_valid(prog)))
    }
}

/// The Rust list patcher.
pub struct ListEngine;

impl Engine for ListEngine {
    fn name(&self) -> String {
        "list".to_string()
    }
    fn load(&self, prog: Program) -> Result<Box<dyn Patcher>, String> {
        Ok(Box::new(ListPatcher::from_valid(prog)))
    }
}

/// The list patcher with a planted fault; it keeps the name `list` (the
/// reproduce command carries `--plant`).
pub struct PlantedListEngine(pub Fault);

impl Engine for PlantedListEngine {
    fn name(&self) -> String {
        "list".to_string()
    }
    fn load(&self, prog: Program) -> Result<Box<dyn Patcher>, String> {
        Ok(Box::new(Planted::with_fault(prog, self.0)))
    }
    fn can_crash(&self) -> bool {
        self.0.crashes()
    }
}

/// The oracle's name.
pub const ORACLE: &str = "array";

/// Every built-in engine, the default of `--engines`.
pub const BUILTIN: &str = "array,list,c";

/// What `--engines` accepts, for messages and `--help`.
pub const KNOWN: &str = "array, list, c, lib:PATH";

/// One engine by its `--engines` name.
fn make(name: &str) -> Result<Box<dyn Engine>, String> {
    match name {
        "array" => Ok(Box::new(ArrayEngine)),
        "list" => Ok(Box::new(ListEngine)),
        "c" => ffi::c_engine(),
        _ => match name.strip_prefix("lib:") {
            Some("") => Err("engine `lib:` needs a path: lib:PATH.so".to_string()),
            Some(path) => ffi::lib_engine(std::path::Path::new(path)),
            None => Err(format!("unknown engine `{name}` (known: {KNOWN})")),
        },
    }
}

/// The engines of one command: the oracle first, then the others in the
/// order given; at most one of them holds a planted fault.
pub struct EngineSet {
    engines: Vec<Box<dyn Engine>>,
    plant: Option<&'static plant::Plant>,
}

impl EngineSet {
    /// Parse `--engines` (comma-separated; the oracle is added first when
    /// absent) and apply `--plant` to the engine that holds that fault.
    pub fn parse(spec: &str, plant_name: Option<&str>) -> Result<EngineSet, String> {
        let mut names: Vec<&str> = Vec::new();
        for n in spec.split(',').map(str::trim) {
            if n.is_empty() {
                return Err(format!("--engines {spec:?}: empty engine name (known: {KNOWN})"));
            }
            if names.contains(&n) {
                return Err(format!("--engines {spec:?}: `{n}` given twice"));
            }
            names.push(n);
        }
        names.retain(|n| *n != ORACLE);
        names.insert(0, ORACLE);
        let plant = match plant_name {
            None => None,
            Some(p) => Some(plant::find(p)?),
        };
        if let Some(p) = plant {
            if !names.contains(&p.engine) {
                return Err(format!(
                    "--plant {} plants a fault in the `{}` engine, which --engines {} does not select",
                    p.name,
                    p.engine,
                    names.join(",")
                ));
            }
        }
        let mut engines = Vec::with_capacity(names.len());
        for n in &names {
            engines.push(match plant {
                Some(p) if p.engine == *n => (p.make)()?,
                _ => make(n)?,
            });
        }
        Ok(EngineSet { engines, plant })
    }

    /// Every built-in engine, no fault planted.
    pub fn builtin() -> EngineSet {
        EngineSet::parse(BUILTIN, None).expect("the built-in engines exist")
    }

    pub fn oracle(&self) -> &dyn Engine {
        &*self.engines[0]
    }

    /// All engines, the oracle first.
    pub fn all(&self) -> &[Box<dyn Engine>] {
        &self.engines
    }

    pub fn names(&self) -> Vec<String> {
        self.engines.iter().map(|e| e.name()).collect()
    }

    /// As `--engines` takes it.
    pub fn spec(&self) -> String {
        self.names().join(",")
    }

    pub fn plant(&self) -> Option<&'static plant::Plant> {
        self.plant
    }

    /// Some engine must run in a child process.
    pub fn can_crash(&self) -> bool {
        self.engines.iter().any(|e| e.can_crash())
    }

    /// The engines that can crash the process.
    pub fn crashing(&self) -> Vec<String> {
        self.engines.iter().filter(|e| e.can_crash()).map(|e| e.name()).collect()
    }

    /// The flags that select these engines, for printed commands.
    pub fn flags(&self) -> Vec<String> {
        let mut v = vec!["--engines".to_string(), self.spec()];
        if let Some(p) = self.plant {
            v.push("--plant".to_string());
            v.push(p.name.to_string());
        }
        v
    }
}

impl std::fmt::Debug for EngineSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EngineSet({}", self.spec())?;
        if let Some(p) = self.plant {
            write!(f, ", plant {}", p.name)?;
        }
        write!(f, ")")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oracle_comes_first_and_is_added_when_absent() {
        assert_eq!(EngineSet::parse("list", None).unwrap().names(), ["array", "list"]);
        assert_eq!(EngineSet::parse("list,array", None).unwrap().names(), ["array", "list"]);
        assert_eq!(EngineSet::parse("array", None).unwrap().names(), ["array"]);
    }

    #[test]
    #[cfg_attr(miri, ignore = "loads foreign code (dlopen, the C engine)")]
    fn bad_specs_are_refused_with_a_reason() {
        for (spec, part) in [
            ("array,,list", "empty engine name"),
            ("list,list", "given twice"),
            ("wasm", "unknown engine `wasm`"),
            ("lib:", "needs a path"),
            ("lib:/nonexistent/x.so", "/nonexistent/x.so"),
        ] {
            let e = EngineSet::parse(spec, None).unwrap_err();
            assert!(e.contains(part), "{spec}: {e}");
        }
    }

    #[test]
    fn a_plant_needs_its_engine() {
        let e = EngineSet::parse("array", Some("aux-at-first-slot")).unwrap_err();
        assert!(e.contains("`list` engine"), "{e}");
        let s = EngineSet::parse("array,list", Some("aux-at-first-slot")).unwrap();
        assert_eq!(s.flags(), ["--engines", "array,list", "--plant", "aux-at-first-slot"]);
        assert!(EngineSet::parse("list", Some("no-such-fault")).unwrap_err().contains("no-such-fault"));
    }

    #[test]
    #[cfg_attr(miri, ignore = "loads foreign code (dlopen, the C engine)")]
    fn foreign_engines_and_the_abort_fault_need_a_child_process() {
        assert!(!EngineSet::parse("array,list", None).unwrap().can_crash());
        assert!(!EngineSet::parse("array,list", Some("tail-removal-out-of-bounds")).unwrap().can_crash());
        let s = EngineSet::parse("array,list", Some("abort-in-hidden-subprog")).unwrap();
        assert!(s.can_crash());
        assert_eq!(s.crashing(), ["list"]);
        assert_eq!(EngineSet::builtin().crashing(), ["c"]);
    }
}
