//! Clang-built BPF objects as inputs: one program of a `.bpf.o` turned into
//! the `Program` the verifier's rewrite passes start from, the way libbpf
//! prepares it for `BPF_PROG_LOAD` and the verifier's load-time steps leave
//! it:
//!
//! - `elf`: sections, function symbols and relocations (the `object` crate);
//! - `btf_ext`: func_info / line_info records and the BTF strings;
//! - `link`: `.text` subprogs appended, pseudo call / pseudo func `imm`
//!   resolved, func and line info moved to instruction units;
//! - `data`: map, global-data, kfunc and ksym references with placeholders;
//! - `tail_call`: `bpf_tail_call` as `do_misc_fixups` leaves it, with poke
//!   descriptors for constant keys.
//!
//! Not modelled (README): CO-RE relocations (left as clang wrote them),
//! big-endian objects, jump tables (`.jumptables`), static programs outside
//! `.text`, exception callbacks, `__weak` subprog resolution across objects.

mod btf_ext;
pub(crate) mod command;
mod data;
mod elf;
mod error;
mod link;
mod tail_call;

pub use error::ObjError;

use crate::case::Case;
use crate::program::Program;
use btf_ext::{string_at, BtfExt};
use std::path::{Path, PathBuf};

/// A parsed object, ready to import any of its programs.
#[derive(Clone, Debug)]
pub struct ObjectFile {
    elf: elf::Elf,
    ext: Option<BtfExt>,
}

/// One program of an object, as the verifier's passes start from it.
#[derive(Clone, Debug)]
pub struct Imported {
    pub name: String,
    pub section: String,
    pub program: Program,
    /// What each placeholder number stands for (`map NAME`, `data .rodata`,
    /// `kfunc NAME`, `ksym NAME`).
    pub refs: Vec<String>,
    /// Functions in append order: (name, first instruction).
    pub functions: Vec<(String, usize)>,
    /// What was left out or approximated, for the report.
    pub notes: Vec<String>,
    strings: Vec<u8>,
}

impl ObjectFile {
    pub fn parse(data: &[u8]) -> Result<ObjectFile, ObjError> {
        let elf = elf::Elf::parse(data)?;
        let ext = match (&elf.btf, &elf.btf_ext) {
            (Some(b), Some(e)) => Some(BtfExt::parse(b, e)?),
            (None, Some(_)) => return Err(error::malformed(".BTF.ext without .BTF")),
            _ => None,
        };
        Ok(ObjectFile { elf, ext })
    }

    /// Entry-point programs (functions outside `.text`), in section order:
    /// (name, section).
    pub fn programs(&self) -> Vec<(String, String)> {
        self.elf
            .funcs
            .iter()
            .filter(|f| Some(f.section) != self.elf.text)
            .map(|f| (f.name.clone(), self.elf.code[&f.section].name.clone()))
            .collect()
    }

    /// What the importer passes over in every program of this object.
    pub fn skipped(&self) -> Vec<String> {
        let mut s: Vec<String> = self.elf.ignored.iter().map(|i| format!("{i} (not code)")).collect();
        if let Some(e) = &self.ext {
            if e.core_relo_bytes > 0 {
                s.push(format!("CO-RE relocations ({} bytes of .BTF.ext): not applied", e.core_relo_bytes));
            }
        }
        if self.ext.is_none() {
            s.push("no .BTF.ext: programs have no func_info or line_info".into());
        }
        s
    }

    /// Import program `name`.
    pub fn import(&self, name: &str) -> Result<Imported, ObjError> {
        let Some(main) = self.elf.funcs.iter().position(|f| f.name == name && Some(f.section) != self.elf.text) else {
            let have = self.programs().into_iter().map(|p| p.0).collect();
            return Err(ObjError::NoSuchProgram { name: name.to_string(), have });
        };
        let mut linked = link::link(&self.elf, self.ext.as_ref(), main)?;
        let refs = data::relocate(&mut linked.insns, &linked.relocs)?;
        let pokes = tail_call::fixup(&mut linked.insns);
        let mut p = Program::from_insns(linked.insns);
        p.pokes = pokes;
        p.linfo = linked.line_info.unwrap_or_default();
        for s in p.subprogs.iter_mut() {
            if let Ok(r) = p.linfo.binary_search_by_key(&s.start, |l| l.insn_off) {
                s.linfo_idx = r as u32;
            }
        }
        let n_sub = p.subprog_cnt();
        if let Some(fi) = linked.func_info {
            p.func_info = Some(fi);
            p.func_info_aux = (0..n_sub as u32).map(|k| 100 + k).collect();
        }
        p.validate().map_err(|e| ObjError::Invalid { program: name.to_string(), why: e.to_string() })?;
        let functions = linked.pieces.iter().map(|&(f, at)| (self.elf.funcs[f].name.clone(), at)).collect::<Vec<_>>();
        Ok(Imported {
            name: name.to_string(),
            section: self.elf.code[&self.elf.funcs[main].section].name.clone(),
            program: p,
            refs,
            functions,
            notes: linked.notes,
            strings: self.ext.as_ref().map(|e| e.strings.clone()).unwrap_or_default(),
        })
    }
}

impl Imported {
    /// The source line a line-info record puts at instruction `k`:
    /// `file:line:col  text`.
    pub fn source_line(&self, k: usize) -> Option<String> {
        let r = self.program.linfo.binary_search_by_key(&(k as u32), |l| l.insn_off).ok()?;
        let l = self.program.linfo[r];
        let file = string_at(&self.strings, l.file_name_off).unwrap_or("?");
        let text = string_at(&self.strings, l.line_off).unwrap_or("").trim();
        Some(format!("{file}:{}:{}  {text}", l.line_col >> 10, l.line_col & 0x3ff))
    }

    /// The program as a case with no ops, named `FILE:PROG`.
    pub fn case(&self, file: &str) -> Case {
        Case {
            name: format!("{file}:{}", self.name),
            prog: self.program.clone(),
            ops: Vec::new(),
            expect: None,
            ignore_tokens: false,
            notes: Vec::new(),
        }
    }

    /// The case as text: after the header, comments naming the section, the
    /// functions and the placeholders; each instruction that starts a source
    /// line preceded by that line as a comment.
    pub fn case_text(&self, file: &str) -> String {
        let text = crate::case_file::to_text_annotated(&self.case(file), &|k| self.source_line(k));
        let (head, rest) = text.split_once('\n').unwrap_or((&text, ""));
        let mut out = format!("{head}\n; imported from {file}, section {}\n", self.section);
        for (f, at) in &self.functions {
            out += &format!("; function {f} at insn {at}\n");
        }
        for (k, r) in self.refs.iter().enumerate() {
            out += &format!("; placeholder {k}: {r}\n");
        }
        for n in &self.notes {
            out += &format!("; note: {n}\n");
        }
        out + rest
    }
}

/// Object files under `paths` (files as given, directories' `*.o` files),
/// sorted within each directory so a run sees them in a fixed order.
pub fn collect_objects(paths: &[PathBuf]) -> Result<Vec<PathBuf>, ObjError> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let rd = std::fs::read_dir(p).map_err(|e| error::malformed(format!("{}: {e}", p.display())))?;
            let mut v: Vec<PathBuf> = rd
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.extension().is_some_and(|x| x == "o") && f.is_file())
                .collect();
            v.sort();
            out.extend(v);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

/// A program file name for messages and case names: the file's name.
pub fn file_label(path: &Path) -> String {
    path.file_name().and_then(|n| n.to_str()).unwrap_or("object").to_string()
}

/// Imported programs by name (`FILE:PROG`), and what was skipped with why.
pub type Loaded = (Vec<(String, Program)>, Vec<String>);

/// Every program of every object under `paths`, imported: the programs by
/// name `FILE:PROG` (sorted by file, then section order), and what was
/// skipped with why. A malformed object is an error; an unsupported or
/// non-loading program is skipped.
pub fn load_all(paths: &[PathBuf]) -> Result<Loaded, (PathBuf, ObjError)> {
    let mut progs = Vec::new();
    let mut skipped = Vec::new();
    for path in collect_objects(paths).map_err(|e| (PathBuf::new(), e))? {
        let data = std::fs::read(&path).map_err(|e| (path.clone(), error::malformed(e.to_string())))?;
        let obj = ObjectFile::parse(&data).map_err(|e| (path.clone(), e))?;
        let label = file_label(&path);
        for (name, _) in obj.programs() {
            match obj.import(&name) {
                Ok(imp) => progs.push((format!("{label}:{name}"), imp.program)),
                Err(e) => skipped.push(format!("{label}:{name}: {e}")),
            }
        }
    }
    Ok((progs, skipped))
}

/// The real programs of `--programs PATH` (a directory of objects, or one),
/// and what was skipped with why; none at all is an error.
pub fn real_programs(path: &Path) -> Result<(crate::gen::RealPrograms, Vec<String>), String> {
    let (progs, skipped) = load_all(std::slice::from_ref(&path.to_path_buf()))
        .map_err(|(f, e)| format!("{}: {e}", if f.as_os_str().is_empty() { path } else { &f }.display()))?;
    if progs.is_empty() {
        return Err(format!("{}: no program imported from any .o file", path.display()));
    }
    Ok((crate::gen::RealPrograms::new(progs), skipped))
}
