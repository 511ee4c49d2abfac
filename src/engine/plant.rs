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

/// Every fault `--plant` knows. C faults join here as `engine: "c"` entries.
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
        assert_eq!(PLANTS.len(), Fault::ALL.len());
    }
}
