//! Planted faults (`--plant`): each is an engine variant with one deliberate
//! bug, to show the harness finds it. The table says which engine holds it;
//! `--plant` replaces that engine of the set.

use super::{Engine, PlantedListEngine};
use crate::patcher::list::plant::Fault;

/// One plantable fault.
pub struct Plant {
    /// As `--plant` takes it.
    pub name: &'static str,
    /// The engine that holds it (must be selected by `--engines`).
    pub engine: &'static str,
    /// One line for `--help`.
    pub help: &'static str,
    /// The engine with the fault planted.
    pub make: fn() -> Result<Box<dyn Engine>, String>,
}

macro_rules! list_fault {
    ($f:expr) => {
        Plant { name: $f.name(), engine: "list", help: $f.help(), make: || Ok(Box::new(PlantedListEngine($f))) }
    };
}

macro_rules! c_fault {
    ($name:literal, $help:literal) => {
        Plant { name: concat!("c-", $name), engine: "c", help: $help, make: || super::ffi::c_planted($name) }
    };
}

/// Every fault `--plant` knows: the Rust list patcher's, then the C patcher's
/// (compiled in with `BPF_PATCHER_PLANT`, see c/bpf_patcher.c and build.rs).
pub const PLANTS: &[Plant] = &[
    list_fault!(Fault::LinfoAtOffMoves),
    list_fault!(Fault::SubprogStartMoves),
    list_fault!(Fault::PseudoFuncNotAdjusted),
    list_fault!(Fault::AuxAtFirstSlot),
    list_fault!(Fault::PokeNotMoved),
    list_fault!(Fault::NoLinfoInherit),
    list_fault!(Fault::InsnArrayNotDeleted),
    list_fault!(Fault::TailRemovalOutOfBounds),
    list_fault!(Fault::AbortInHiddenSubprog),
    c_fault!("linfo-first-inherits", "removal lets the first removed line-info record inherit, not the last"),
    c_fault!("probe-skips-later-branches", "the -ERANGE probe ignores branches after the patched slot"),
    c_fault!("aux-stays-first", "the original aux entry stays on the first patchlet slot"),
    c_fault!("jmp-off-crash", "adjust_jmp_off walks an empty incoming list past its end (a segfault)"),
];

/// The fault called `name`.
pub fn find(name: &str) -> Result<&'static Plant, String> {
    PLANTS.iter().find(|p| p.name == name).ok_or_else(|| {
        let known: Vec<&str> = PLANTS.iter().map(|p| p.name).collect();
        format!("unknown fault `{name}` for --plant (known: {})", known.join(", "))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_list_fault_is_in_the_table_once() {
        for f in Fault::ALL {
            assert_eq!(PLANTS.iter().filter(|p| p.name == f.name()).count(), 1, "{f:?}");
        }
        let c = PLANTS.iter().filter(|p| p.engine == "c").count();
        assert_eq!(c, crate::engine::ffi::C_PLANTS.len());
        assert_eq!(PLANTS.len(), Fault::ALL.len() + c);
    }
}
