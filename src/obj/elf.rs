//! The ELF layer, read with the `object` crate: code sections as
//! instructions, function symbols, each code section's relocations resolved to
//! what their symbol names, and the raw `.BTF` / `.BTF.ext` bytes. Everything
//! is bounds-checked here, so the layers above index without fear.

use super::error::{malformed, unsupported, ObjError};
use crate::insn::Insn;
use object::elf::{EM_BPF, SHF_EXECINSTR};
use object::read::elf::ElfFile64;
use object::{Object, ObjectSection, ObjectSymbol, RelocationTarget, SectionFlags, SymbolKind, SymbolSection};
use std::collections::BTreeMap;

/// `sizeof(struct bpf_insn)`.
pub const INSN_SZ: u64 = 8;

/// What a relocation in a code section points at (libbpf's
/// `bpf_program__record_reloc` decides the same way, by the symbol's section).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A symbol in `.text`: a subprog call or a subprog address. `sym_off` is
    /// the symbol's value in bytes (0 for the section symbol).
    Text { sym_off: u64 },
    /// A map definition in `.maps` or `maps`.
    Map { name: String },
    /// A global variable in `.data*`, `.rodata*`, `.bss*`: its section and
    /// byte offset there.
    Data { section: String, sym_off: u64 },
    /// An undefined symbol: a kfunc or a `__ksym` / `__kconfig` variable.
    Extern { name: String },
    /// Anything else; an error if the imported program uses it.
    Other { section: String, name: String },
}

/// One executable section, decoded.
#[derive(Clone, Debug)]
pub struct CodeSection {
    pub name: String,
    pub insns: Vec<Insn>,
    /// Relocations by instruction index within the section.
    pub relocs: BTreeMap<usize, Target>,
}

/// A function symbol: a program (outside `.text`) or a subprog (in `.text`).
#[derive(Clone, Debug)]
pub struct Func {
    pub name: String,
    /// ELF section index.
    pub section: usize,
    /// First instruction within the section, and the count.
    pub off: usize,
    pub len: usize,
}

/// The parts of the object the importer reads.
#[derive(Clone, Debug, Default)]
pub struct Elf {
    /// Code sections by ELF section index.
    pub code: BTreeMap<usize, CodeSection>,
    /// Section index of `.text`, if the object has one.
    pub text: Option<usize>,
    /// Function symbols, sorted by (section, offset).
    pub funcs: Vec<Func>,
    pub btf: Option<Vec<u8>>,
    pub btf_ext: Option<Vec<u8>>,
    /// Sections holding no code that the importer passed over, for the report.
    pub ignored: Vec<String>,
}

const R_BPF_64_64: u32 = 1;
const R_BPF_64_32: u32 = 10;

fn is_data_section(name: &str) -> bool {
    [".data", ".rodata", ".bss"].iter().any(|p| name == *p || name.starts_with(&format!("{p}.")))
}

impl Elf {
    pub fn parse(data: &[u8]) -> Result<Elf, ObjError> {
        if data.get(..4) != Some(b"\x7fELF".as_slice()) {
            return Err(malformed("not an ELF file (no \\x7fELF magic)"));
        }
        if data.get(4) != Some(&2) {
            return Err(unsupported("a 32-bit ELF file (BPF objects are ELF64)"));
        }
        if data.get(5) != Some(&1) {
            return Err(unsupported("a big-endian ELF file (only little-endian BPF objects, clang -target bpfel)"));
        }
        let file = ElfFile64::<object::Endianness>::parse(data).map_err(|e| malformed(format!("ELF: {e}")))?;
        let machine = file.elf_header().e_machine.get(object::Endianness::Little);
        if machine != EM_BPF {
            return Err(unsupported(format!("e_machine {machine} is not EM_BPF ({EM_BPF})")));
        }
        let mut elf = Elf::default();
        for s in file.sections() {
            let name = s.name().map_err(|e| malformed(format!("section {}: name: {e}", s.index().0)))?;
            let exec = matches!(s.flags(), SectionFlags::Elf { sh_flags } if sh_flags & SHF_EXECINSTR as u64 != 0);
            match name {
                ".BTF" => elf.btf = Some(section_bytes(&s, name)?.to_vec()),
                ".BTF.ext" => elf.btf_ext = Some(section_bytes(&s, name)?.to_vec()),
                _ if exec => {
                    let bytes = section_bytes(&s, name)?;
                    if bytes.len() as u64 % INSN_SZ != 0 {
                        return Err(malformed(format!(
                            "section '{name}': size {} is not a multiple of 8",
                            bytes.len()
                        )));
                    }
                    let insns = bytes
                        .chunks_exact(INSN_SZ as usize)
                        .map(|c| Insn::decode(c.try_into().expect("chunks of 8")))
                        .collect();
                    if name == ".text" {
                        elf.text = Some(s.index().0);
                    }
                    elf.code
                        .insert(s.index().0, CodeSection { name: name.to_string(), insns, relocs: BTreeMap::new() });
                }
                _ => {}
            }
        }
        elf.read_funcs(&file)?;
        elf.read_relocs(&file)?;
        Ok(elf)
    }

    /// `bpf_object__add_programs`: every STT_FUNC symbol of a code section.
    fn read_funcs(&mut self, file: &ElfFile64<object::Endianness>) -> Result<(), ObjError> {
        for sym in file.symbols() {
            if sym.kind() != SymbolKind::Text {
                continue;
            }
            let SymbolSection::Section(sec) = sym.section() else { continue };
            let Some(code) = self.code.get(&sec.0) else { continue };
            let name = sym.name().map_err(|e| malformed(format!("symbol {}: name: {e}", sym.index().0)))?;
            let (addr, size) = (sym.address(), sym.size());
            let sec_bytes = code.insns.len() as u64 * INSN_SZ;
            if size == 0
                || addr % INSN_SZ != 0
                || size % INSN_SZ != 0
                || addr.checked_add(size).is_none_or(|e| e > sec_bytes)
            {
                return Err(malformed(format!(
                    "function '{name}' in '{}': offset {addr}, size {size} do not fit the section of {sec_bytes} bytes",
                    code.name
                )));
            }
            if Some(sec.0) != self.text && !sym.is_global() {
                return Err(unsupported(format!(
                    "program '{name}' in '{}' is static (libbpf refuses static programs outside .text)",
                    code.name
                )));
            }
            self.funcs.push(Func {
                name: name.to_string(),
                section: sec.0,
                off: (addr / INSN_SZ) as usize,
                len: (size / INSN_SZ) as usize,
            });
        }
        self.funcs.sort_by(|a, b| (a.section, a.off, &a.name).cmp(&(b.section, b.off, &b.name)));
        for w in self.funcs.windows(2) {
            if w[0].section == w[1].section && w[0].off + w[0].len > w[1].off {
                return Err(malformed(format!("functions '{}' and '{}' overlap", w[0].name, w[1].name)));
            }
        }
        Ok(())
    }

    /// The relocations of every code section, by instruction index.
    fn read_relocs(&mut self, file: &ElfFile64<object::Endianness>) -> Result<(), ObjError> {
        let mut ignored = Vec::new();
        for s in file.sections() {
            let idx = s.index().0;
            let Some(code) = self.code.get(&idx) else {
                if s.relocations().next().is_some() {
                    ignored.push(format!("relocations of '{}'", s.name().unwrap_or("?")));
                }
                continue;
            };
            let sec_name = code.name.clone();
            let n = code.insns.len();
            let mut relocs = BTreeMap::new();
            for (off, rel) in s.relocations() {
                let at = format!("section '{sec_name}': relocation at byte {off}");
                if off % INSN_SZ != 0 || off / INSN_SZ >= n as u64 {
                    return Err(malformed(format!("{at}: not on an instruction of the section")));
                }
                let r_type = match rel.flags() {
                    object::RelocationFlags::Elf { r_type } => r_type,
                    _ => 0,
                };
                if r_type != R_BPF_64_64 && r_type != R_BPF_64_32 {
                    return Err(unsupported(format!("{at}: relocation type {r_type} in code")));
                }
                let RelocationTarget::Symbol(si) = rel.target() else {
                    return Err(malformed(format!("{at}: no symbol")));
                };
                let sym = file.symbol_by_index(si).map_err(|e| malformed(format!("{at}: symbol {}: {e}", si.0)))?;
                let name = sym.name().unwrap_or("").to_string();
                let target = match sym.section() {
                    SymbolSection::Undefined => Target::Extern { name },
                    SymbolSection::Section(t) => {
                        let tname = file
                            .section_by_index(t)
                            .and_then(|ts| ts.name().map(str::to_string))
                            .map_err(|e| malformed(format!("{at}: symbol '{name}' section: {e}")))?;
                        if Some(t.0) == self.text {
                            Target::Text { sym_off: sym.address() }
                        } else if tname == ".maps" || tname == "maps" {
                            Target::Map { name }
                        } else if is_data_section(&tname) {
                            Target::Data { section: tname, sym_off: sym.address() }
                        } else {
                            Target::Other { section: tname, name }
                        }
                    }
                    _ => Target::Other { section: String::new(), name },
                };
                relocs.insert((off / INSN_SZ) as usize, target);
            }
            if let Some(c) = self.code.get_mut(&idx) {
                c.relocs = relocs;
            }
        }
        self.ignored = ignored;
        Ok(())
    }

    /// The function starting at instruction `off` of section `section`.
    pub fn func_at(&self, section: usize, off: usize) -> Option<usize> {
        self.funcs.iter().position(|f| f.section == section && f.off == off)
    }
}

fn section_bytes<'d>(
    s: &object::read::elf::ElfSection64<'d, '_, object::Endianness>,
    name: &str,
) -> Result<&'d [u8], ObjError> {
    s.data().map_err(|e| malformed(format!("section '{name}': data: {e}")))
}
