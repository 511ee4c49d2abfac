//! The `import-obj` subcommand and `show` of an object: thin glue between
//! the importer and the command line.

use super::{collect_objects, file_label, ObjError, ObjectFile};
use crate::cli::{bad, write_text, Exit};
use std::path::{Path, PathBuf};

/// Whether `path` starts with the ELF magic.
pub fn is_elf(path: &Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 4];
    std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut magic)).is_ok() && &magic == b"\x7fELF"
}

fn open(path: &Path) -> Result<ObjectFile, Exit> {
    let data = std::fs::read(path).map_err(|e| bad(format!("{}: {e}", path.display())))?;
    ObjectFile::parse(&data).map_err(|e| bad(format!("{}: {e}", path.display())))
}

fn one_program(obj: &ObjectFile, path: &Path, prog: Option<&str>) -> Result<String, Exit> {
    if let Some(p) = prog {
        return Ok(p.to_string());
    }
    let progs = obj.programs();
    match progs.as_slice() {
        [(name, _)] => Ok(name.clone()),
        _ => Err(bad(format!(
            "{}: {} programs ({}); pick one with --prog NAME",
            path.display(),
            progs.len(),
            progs.iter().map(|p| p.0.as_str()).collect::<Vec<_>>().join(", ")
        ))),
    }
}

fn import_err(path: &Path, e: ObjError) -> Exit {
    bad(format!("{}: {e}", path.display()))
}

/// `show FILE.o [--prog NAME]`: the program as a case with its source lines.
pub fn show(path: &Path, prog: Option<&str>) -> Result<i32, Exit> {
    let obj = open(path)?;
    let name = one_program(&obj, path, prog)?;
    let imp = obj.import(&name).map_err(|e| import_err(path, e))?;
    print!("{}", imp.case_text(&file_label(path)));
    Ok(0)
}

/// `import-obj PATH... [--prog NAME] [--out FILE|DIR]`.
pub fn import(paths: &[PathBuf], prog: Option<&str>, out: Option<&Path>) -> Result<i32, Exit> {
    let files = collect_objects(paths).map_err(|e| bad(e.to_string()))?;
    if files.is_empty() {
        return Err(bad("no .o files found"));
    }
    if let Some(name) = prog {
        let [path] = files.as_slice() else {
            return Err(bad("--prog needs exactly one object file"));
        };
        let imp = open(path)?.import(name).map_err(|e| import_err(path, e))?;
        let text = imp.case_text(&file_label(path));
        match out {
            Some(o) => {
                write_text(o, &text)?;
                eprintln!("{}:{name}: written to {}", file_label(path), o.display());
            }
            None => print!("{text}"),
        }
        return Ok(0);
    }
    let (mut imported, mut skipped) = (0usize, 0usize);
    for path in &files {
        let obj = open(path)?;
        let label = file_label(path);
        for s in obj.skipped() {
            println!("{label}: skipped {s}");
        }
        for (name, section) in obj.programs() {
            match obj.import(&name) {
                Ok(imp) => {
                    imported += 1;
                    let p = &imp.program;
                    println!(
                        "{label}:{name} ({section}): {} insns, {} subprogs, {} line info, {} func_info, {} pokes, {} refs",
                        p.len(),
                        p.subprog_cnt(),
                        p.linfo.len(),
                        p.func_info.as_ref().map_or(0, Vec::len),
                        p.pokes.len(),
                        imp.refs.len()
                    );
                    for n in &imp.notes {
                        println!("{label}:{name}: note: {n}");
                    }
                    if let Some(dir) = out {
                        let stem = label.strip_suffix(".o").unwrap_or(&label);
                        write_text(&dir.join(format!("{stem}.{name}.case")), &imp.case_text(&label))?;
                    }
                }
                Err(e) => {
                    skipped += 1;
                    println!("{label}:{name} ({section}): not imported: {e}");
                }
            }
        }
    }
    println!("{imported} programs imported, {skipped} not imported, from {} objects", files.len());
    // A program that does not import is bad input, as a malformed object is.
    Ok(if skipped > 0 { 2 } else { 0 })
}
