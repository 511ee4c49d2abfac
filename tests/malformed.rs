//! Every input in `tests/malformed/` through the real binary: the exit code
//! and a message fragment each must give, and never a panic.
//!
//! Each input `NAME` has a sidecar `NAME.expect`:
//! ```text
//! exit 2
//! stderr <fragment>          (or: stdout <fragment>)
//! cmd show                   (optional: replay, show or import-obj; default: replay)
//! ```

use std::path::{Path, PathBuf};
use std::process::Command;

struct Expectation {
    code: i32,
    stream: String,
    fragment: String,
    cmd: String,
}

fn read_expectation(path: &Path) -> Expectation {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines();
    let bad = |what: &str| -> ! { panic!("{}: {what}", path.display()) };
    let code = lines
        .next()
        .and_then(|l| l.strip_prefix("exit "))
        .and_then(|c| c.trim().parse().ok())
        .unwrap_or_else(|| bad("line 1 must be \"exit N\""));
    let (stream, fragment) = lines
        .next()
        .and_then(|l| l.split_once(' '))
        .filter(|(s, f)| (*s == "stderr" || *s == "stdout") && !f.is_empty())
        .unwrap_or_else(|| bad("line 2 must be \"stderr FRAGMENT\" or \"stdout FRAGMENT\""));
    let cmd = match lines.next() {
        None => "replay".to_string(),
        Some(l) => match l.strip_prefix("cmd ") {
            Some(c @ ("replay" | "show" | "import-obj")) => c.to_string(),
            _ => bad("line 3, when present, must be \"cmd replay\", \"cmd show\" or \"cmd import-obj\""),
        },
    };
    if lines.any(|l| !l.trim().is_empty()) {
        bad("more than 3 lines");
    }
    Expectation { code, stream: stream.to_string(), fragment: fragment.to_string(), cmd }
}

fn inputs() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/malformed");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_none_or(|x| x != "expect"))
        .collect();
    v.sort();
    v
}

#[test]
fn every_malformed_input_gives_its_exit_code_and_message() {
    let files = inputs();
    assert!(files.len() >= 25, "only {} malformed inputs", files.len());
    let mut failures = Vec::new();
    for input in &files {
        let mut sidecar = input.clone().into_os_string();
        sidecar.push(".expect");
        let sidecar = PathBuf::from(sidecar);
        assert!(sidecar.exists(), "{} has no {}", input.display(), sidecar.display());
        let want = read_expectation(&sidecar);
        let out = Command::new(env!("CARGO_BIN_EXE_patch-equiv"))
            .arg(&want.cmd)
            .arg(input)
            .output()
            .expect("run patch-equiv");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let text = if want.stream == "stdout" { &stdout } else { &stderr };
        let name = input.file_name().unwrap().to_string_lossy();
        let mut wrong = Vec::new();
        if stderr.contains("panicked") {
            wrong.push("panicked".to_string());
        }
        if out.status.code() != Some(want.code) {
            wrong.push(format!("exit {:?}, want {}", out.status.code(), want.code));
        }
        if !text.contains(&want.fragment) {
            wrong.push(format!("{} lacks {:?}", want.stream, want.fragment));
        }
        if !wrong.is_empty() {
            failures.push(format!(
                "{} {name}: {}\n    stdout: {}\n    stderr: {}",
                want.cmd,
                wrong.join("; "),
                stdout.trim().replace('\n', "\n            "),
                stderr.trim().replace('\n', "\n            ")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} malformed inputs misreported:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}
