//! Reading input files: the error every reader reports (file, line, what is
//! wrong) and the capped, gzip-aware text reader they share. Shared by the
//! case-file format, the kernel-vector reader and the CLI, with the checks
//! both formats make of what they read.

use std::io::Read;
use std::path::Path;

/// A malformed input: which file, which line, what is wrong.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct InputError {
    pub file: String,
    pub line: usize,
    pub msg: String,
}

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line > 0 {
            write!(f, "{}:{}: {}", self.file, self.line, self.msg)
        } else {
            write!(f, "{}: {}", self.file, self.msg)
        }
    }
}

impl std::error::Error for InputError {}

/// Cap on an input file's (decompressed) size, so a small gzip bomb, or a
/// path such as `/dev/zero`, cannot exhaust memory. The largest kernel-vector
/// file is 14 MB decompressed; a case file of a 1M-insn program with its
/// expected program is about 150 MB.
pub const MAX_INPUT_BYTES: u64 = 512 << 20;

/// Read at most `cap` bytes; `Ok(None)` when there is more. The buffer's
/// capacity never exceeds `cap` (no doubling past it).
fn read_capped<R: Read>(mut r: R, cap: usize, hint: usize) -> std::io::Result<Option<Vec<u8>>> {
    let mut out = Vec::with_capacity(hint.min(cap));
    let mut buf = vec![0u8; 64 << 10];
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => return Ok(Some(out)),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if out.len() + n > cap {
            return Ok(None);
        }
        if out.len() + n > out.capacity() {
            let want = (out.capacity() * 2).max(out.len() + n).min(cap);
            out.reserve_exact(want - out.len());
        }
        out.extend_from_slice(&buf[..n]);
    }
}

/// Read a whole file as UTF-8, gunzipping gzip data (by its magic bytes).
pub fn read_text(path: &Path) -> Result<String, InputError> {
    let file = path.display().to_string();
    let err = |msg: String| InputError { file: file.clone(), line: 0, msg };
    let f = std::fs::File::open(path).map_err(|e| err(format!("cannot read: {e}")))?;
    let meta = f.metadata().map_err(|e| err(format!("cannot read: {e}")))?;
    if meta.is_dir() {
        return Err(err("is a directory".into()));
    }
    if meta.is_file() && meta.len() > MAX_INPUT_BYTES {
        return Err(err(format!("{} bytes: larger than the limit of {MAX_INPUT_BYTES} bytes", meta.len())));
    }
    let hint = if meta.is_file() { meta.len() as usize } else { 0 };
    let raw = read_capped(f, MAX_INPUT_BYTES as usize, hint)
        .map_err(|e| err(format!("cannot read: {e}")))?
        .ok_or_else(|| err(format!("larger than the limit of {MAX_INPUT_BYTES} bytes")))?;
    decode_bytes(&file, raw)
}

/// The text of a file's bytes: gunzipped when they start with the gzip magic
/// (every member of a multi-member file; anything after the last member is
/// an error, not ignored), then checked to be UTF-8. Writes nothing.
pub fn decode_bytes(file: &str, raw: Vec<u8>) -> Result<String, InputError> {
    let err = |msg: String| InputError { file: file.to_string(), line: 0, msg };
    let bytes = if raw.starts_with(&[0x1f, 0x8b]) {
        let dec = flate2::read::MultiGzDecoder::new(&raw[..]);
        read_capped(dec, MAX_INPUT_BYTES as usize, raw.len().saturating_mul(4))
            .map_err(|e| err(format!("bad gzip data: {e}")))?
            .ok_or_else(|| err(format!("decompresses to more than {MAX_INPUT_BYTES} bytes")))?
    } else {
        raw
    };
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let line = e.as_bytes()[..at].iter().filter(|&&b| b == b'\n').count() + 1;
        InputError { file: file.to_string(), line, msg: format!("not UTF-8 (invalid byte at offset {at})") }
    })
}

/// Poke descriptors of a program as loaded point at its instructions, so
/// below `MAX_INSNS`; a larger value is garbage (and would overflow the
/// patchers' `u32` index arithmetic).
pub fn check_input_pokes(pokes: &[u32]) -> Result<(), String> {
    match pokes.iter().position(|&p| p as usize >= crate::program::MAX_INSNS) {
        Some(k) => Err(format!(
            "pokes[{k}] = {} is not an instruction index (a loaded program's are below {})",
            pokes[k],
            crate::program::MAX_INSNS
        )),
        None => Ok(()),
    }
}

/// An `expect fail` that can be met at all: an existing op, a negative errno.
pub fn check_fail(op: usize, errno: i32, ops: usize) -> Result<(), String> {
    if op >= ops {
        return Err(format!("expect: failed op {op} does not exist (the case has {ops} ops)"));
    }
    if errno >= 0 {
        return Err(format!("expect: errno {errno} is not a negative errno (e.g. -14 for -EFAULT, -34 for -ERANGE)"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capped_read_stops_at_the_cap_without_overallocating() {
        assert_eq!(read_capped(&[7u8; 100][..], 100, 0).unwrap().unwrap().len(), 100);
        assert!(read_capped(&[7u8; 101][..], 100, 0).unwrap().is_none());
        let v = read_capped(std::io::repeat(1).take(300_000), 300_000, 0).unwrap().unwrap();
        assert!(v.capacity() <= 300_000, "capacity {}", v.capacity());
        assert!(read_capped(std::io::repeat(1), 1 << 20, 0).unwrap().is_none());
    }
}
