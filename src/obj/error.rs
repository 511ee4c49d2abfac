//! Why an object could not be imported: malformed (the file is not what it
//! claims) or unsupported (valid, but uses something the importer does not
//! model). Either way the CLI prints it with the file name and exits 2.

use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ObjError {
    /// Not a well-formed BPF ELF object: what is wrong and where.
    Malformed(String),
    /// Well-formed, but outside what the importer handles (README lists it).
    Unsupported(String),
    /// The object has no program of that name; the names it has.
    NoSuchProgram { name: String, have: Vec<String> },
    /// The imported program breaks a load-time rule of `Program::validate`.
    Invalid { program: String, why: String },
}

impl fmt::Display for ObjError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ObjError::Malformed(m) => write!(f, "malformed BPF object: {m}"),
            ObjError::Unsupported(m) => write!(f, "unsupported: {m}"),
            ObjError::NoSuchProgram { name, have } => {
                write!(f, "no program named '{name}' (programs: {})", have.join(", "))
            }
            ObjError::Invalid { program, why } => write!(f, "program '{program}' does not load: {why}"),
        }
    }
}

impl std::error::Error for ObjError {}

pub(crate) fn malformed(m: impl Into<String>) -> ObjError {
    ObjError::Malformed(m.into())
}

pub(crate) fn unsupported(m: impl Into<String>) -> ObjError {
    ObjError::Unsupported(m.into())
}
