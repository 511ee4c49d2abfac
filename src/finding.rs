//! A finding as the command line handles it, whether it was seen in this
//! process (`equiv::Report`) or reported by a child process (`isolate`): what
//! kind, which engine, where, one line in words and the full report.

use crate::equiv::Report;
use serde::{Deserialize, Serialize};

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Finding {
    /// `divergence`, `panic` or `crash`.
    pub kind: String,
    /// The engine that diverged, panicked or crashed.
    pub engine: String,
    /// The op after which (or during which) it happened; `None`: loading.
    pub op: Option<usize>,
    /// The first differing table; `panic` or `crash` for those kinds.
    pub table: String,
    /// One line in words.
    pub summary: String,
    /// Equal for "the same finding" while a case shrinks (`Report::signature`).
    pub signature: String,
    /// The full report, without a reproduce line.
    pub text: String,
}

impl From<&Report> for Finding {
    fn from(r: &Report) -> Finding {
        let mut plain = r.clone();
        plain.reproduce = None;
        Finding {
            kind: r.kind.name().to_string(),
            engine: r.engine.clone(),
            op: r.op,
            table: r.table.clone(),
            summary: r.summary(),
            signature: r.signature(),
            text: plain.to_string(),
        }
    }
}
