//! `patch-equiv bench`: the array and list patchers timed in the same run.

use std::path::Path;

/// Entry point of the subcommand.
pub fn cmd(_quick: bool, _json: bool, _plot: Option<&Path>) -> Result<i32, String> {
    Err("bench: not built yet".into())
}
