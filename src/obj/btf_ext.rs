//! `.BTF.ext` func_info and line_info, and the `.BTF` string table their
//! names and source lines point into. Records keep clang's byte offsets here
//! (the link step converts them to the kernel's instruction units, as
//! libbpf's `adjust_prog_btf_ext_info` does). Layouts: `struct btf_header`
//! (include/uapi/linux/btf.h) and `struct btf_ext_header` /
//! `btf_ext_info_sec` (tools/lib/bpf/libbpf_internal.h); checks as libbpf's
//! `btf_ext_parse_hdr` and `btf_ext_setup_info`.

use super::error::{malformed, ObjError};
use crate::program::{FuncInfo, LineInfo};
use std::collections::BTreeMap;

const BTF_MAGIC: u16 = 0xeb9f;

/// Records of one section, in file order, `insn_off` in bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SecInfo {
    pub func: Vec<FuncInfo>,
    pub line: Vec<LineInfo>,
}

/// Everything read from `.BTF` and `.BTF.ext`.
#[derive(Clone, Debug, Default)]
pub struct BtfExt {
    /// By section name.
    pub secs: BTreeMap<String, SecInfo>,
    /// The `.BTF` string section.
    pub strings: Vec<u8>,
    /// Bytes of CO-RE relocation records (not applied by the importer).
    pub core_relo_bytes: usize,
}

fn u16_at(d: &[u8], at: usize, what: &str) -> Result<u16, ObjError> {
    d.get(at..at + 2)
        .map(|b| u16::from_le_bytes([b[0], b[1]]))
        .ok_or_else(|| malformed(format!("{what}: truncated at byte {at}")))
}

fn u32_at(d: &[u8], at: usize, what: &str) -> Result<u32, ObjError> {
    d.get(at..at.saturating_add(4))
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .ok_or_else(|| malformed(format!("{what}: truncated at byte {at}")))
}

/// The string at `off` of the `.BTF` string table (None past its end).
pub fn string_at(strings: &[u8], off: u32) -> Option<&str> {
    let rest = strings.get(off as usize..)?;
    let end = rest.iter().position(|&b| b == 0)?;
    std::str::from_utf8(&rest[..end]).ok()
}

/// The `.BTF` string section.
fn btf_strings(btf: &[u8]) -> Result<Vec<u8>, ObjError> {
    let what = ".BTF header";
    if u16_at(btf, 0, what)? != BTF_MAGIC {
        return Err(malformed(".BTF: bad magic"));
    }
    let hdr_len = u32_at(btf, 4, what)? as usize;
    let str_off = u32_at(btf, 16, what)? as usize;
    let str_len = u32_at(btf, 20, what)? as usize;
    let start = hdr_len.checked_add(str_off);
    start.and_then(|s| btf.get(s..s.checked_add(str_len)?)).map(<[u8]>::to_vec).ok_or_else(|| {
        malformed(format!(".BTF: string section {str_off}+{str_len} past the end of {} bytes", btf.len()))
    })
}

/// One info subsection (func_info or line_info): `min` is the smallest
/// record size; `take` reads one record.
fn subsection(
    ext: &[u8],
    start: usize,
    len: usize,
    min: usize,
    strings: &[u8],
    what: &str,
    mut take: impl FnMut(&str, &[u8]) -> Result<(), ObjError>,
) -> Result<(), ObjError> {
    if len == 0 {
        return Ok(());
    }
    let data = start
        .checked_add(len)
        .and_then(|e| ext.get(start..e))
        .ok_or_else(|| malformed(format!(".BTF.ext {what}: {start}+{len} past the end of {} bytes", ext.len())))?;
    let rec = u32_at(data, 0, what)? as usize;
    if rec < min || rec % 4 != 0 {
        return Err(malformed(format!(".BTF.ext {what}: record size {rec} (at least {min}, a multiple of 4)")));
    }
    let mut at = 4;
    while at < data.len() {
        let name_off = u32_at(data, at, what)?;
        let num = u32_at(data, at + 4, what)? as usize;
        at += 8;
        let name = string_at(strings, name_off)
            .ok_or_else(|| malformed(format!(".BTF.ext {what}: section name offset {name_off} not in .BTF strings")))?;
        if num == 0 {
            return Err(malformed(format!(".BTF.ext {what}: section '{name}' has no records")));
        }
        let body =
            num.checked_mul(rec).and_then(|b| at.checked_add(b)).filter(|&e| e <= data.len()).ok_or_else(|| {
                malformed(format!(".BTF.ext {what}: section '{name}': {num} records of {rec} bytes overrun"))
            })?;
        while at < body {
            take(name, &data[at..at + rec])?;
            at += rec;
        }
    }
    Ok(())
}

impl BtfExt {
    pub fn parse(btf: &[u8], ext: &[u8]) -> Result<BtfExt, ObjError> {
        let strings = btf_strings(btf)?;
        let what = ".BTF.ext header";
        if u16_at(ext, 0, what)? != BTF_MAGIC {
            return Err(malformed(".BTF.ext: bad magic"));
        }
        let hdr_len = u32_at(ext, 4, what)? as usize;
        if hdr_len < 24 || hdr_len > ext.len() {
            return Err(malformed(format!(".BTF.ext: header length {hdr_len}")));
        }
        let field = |k: usize| u32_at(ext, 8 + 4 * k, what).map(|v| v as usize);
        let (fi_off, fi_len, li_off, li_len) = (field(0)?, field(1)?, field(2)?, field(3)?);
        let mut secs: BTreeMap<String, SecInfo> = BTreeMap::new();
        subsection(ext, hdr_len.saturating_add(fi_off), fi_len, 8, &strings, "func_info", |name, r| {
            let f = FuncInfo { insn_off: u32_at(r, 0, "")?, type_id: u32_at(r, 4, "")? };
            secs.entry(name.to_string()).or_default().func.push(f);
            Ok(())
        })?;
        subsection(ext, hdr_len.saturating_add(li_off), li_len, 16, &strings, "line_info", |name, r| {
            let l = LineInfo {
                insn_off: u32_at(r, 0, "")?,
                file_name_off: u32_at(r, 4, "")?,
                line_off: u32_at(r, 8, "")?,
                line_col: u32_at(r, 12, "")?,
            };
            secs.entry(name.to_string()).or_default().line.push(l);
            Ok(())
        })?;
        let core_relo_bytes = if hdr_len >= 32 { field(5)? } else { 0 };
        Ok(BtfExt { secs, strings, core_relo_bytes })
    }
}
