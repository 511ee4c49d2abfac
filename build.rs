//! Builds the kernel-style C list patcher (`c/`) behind the engine ABI
//! (`include/patch_equiv_engine.h`): linked into the crate as the `c` engine,
//! and as shared objects in `$OUT_DIR` (the clean patcher and one per planted
//! fault) that the harness loads as `lib:PATH` engines.
//!
//! Switches:
//! - feature `c-sanitize`: AddressSanitizer + UndefinedBehaviorSanitizer on
//!   the C (any UB aborts), runtimes linked into every binary;
//! - `cargo fuzz` (`--cfg fuzzing`) with clang present: the C is compiled
//!   with `-fsanitize=fuzzer-no-link` (and ASan when cargo-fuzz asks for it),
//!   so libFuzzer steers by the C code's branches as well as the Rust ones.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

const SOURCES: [&str; 2] = ["c/bpf_patcher.c", "c/pe_engine.c"];

/// Planted faults (`BPF_PATCHER_PLANT=n` in `c/bpf_patcher.c`) and the name
/// of the shared object each is built into.
const PLANTS: [(u32, &str); 4] =
    [(1, "linfo-first-inherits"), (2, "probe-skips-later-branches"), (3, "aux-stays-first"), (4, "jmp-off-crash")];

const WARNINGS: [&str; 4] = ["-std=gnu11", "-Wall", "-Wextra", "-Werror"];
const SANITIZE: [&str; 3] =
    ["-fsanitize=address,undefined", "-fno-sanitize-recover=undefined", "-fno-omit-frame-pointer"];

fn has_clang() -> bool {
    Command::new("clang").arg("--version").output().is_ok_and(|o| o.status.success())
}

fn main() {
    for p in ["c", "include", "build.rs"] {
        println!("cargo:rerun-if-changed={p}");
    }
    println!("cargo:rerun-if-env-changed=CC");
    let sanitize = env::var_os("CARGO_FEATURE_C_SANITIZE").is_some();
    let fuzzing = env::var_os("CARGO_CFG_FUZZING").is_some();
    let fuzz_asan = env::var("CARGO_CFG_SANITIZE").is_ok_and(|s| s.contains("address"));

    let mut b = cc::Build::new();
    b.files(SOURCES).include("include").include("c").opt_level(2).flag("-fvisibility=hidden");
    for f in WARNINGS {
        b.flag(f);
    }
    let tool = b.get_compiler();
    let mut extra: Vec<&str> = Vec::new();
    if fuzzing && has_clang() {
        b.compiler("clang");
        extra.push("-fsanitize=fuzzer-no-link");
        if fuzz_asan {
            extra.push("-fsanitize=address");
        }
    }
    if sanitize {
        extra.extend(SANITIZE);
        // rustc links with -nodefaultlibs, so the driver adds no runtime by
        // itself. ASan's must be in the executable (or load first): linked in
        // whole and statically; UBSan's is an ordinary shared library.
        for arg in ["-Wl,--whole-archive", "-l:libasan.a", "-Wl,--no-whole-archive", "-lubsan", "-lstdc++"] {
            println!("cargo:rustc-link-arg={arg}");
        }
        println!("cargo:rustc-link-search=native={}", gcc_lib_dir(tool.path()));
    }
    for f in &extra {
        b.flag(f);
    }
    b.compile("patch_equiv_c");

    let out = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR"));
    println!("cargo:rustc-env=PATCH_EQUIV_C_LIB_DIR={}", out.display());
    if fuzzing {
        return;
    }
    // The shared objects are never sanitized: a sanitized .so needs the
    // runtime loaded first (LD_PRELOAD, see docs/engine-abi.md), and the
    // planted faults are for the harness's self-tests, not for the sanitizers.
    let shared_flags: Vec<&str> = Vec::new();
    build_shared(tool.path(), 0, &out.join("libbpf_patcher.so"), &shared_flags);
    build_w2(tool.path(), &out.join("bpf_patcher_w2"));
    for (n, name) in PLANTS {
        build_shared(tool.path(), n, &out.join(format!("libbpf_patcher-plant-{name}.so")), &shared_flags);
    }
}

/// The documented `.so` build (README, docs/engine-abi.md), with a planted fault when `plant > 0`.
fn build_shared(cc: &Path, plant: u32, out: &Path, extra: &[&str]) {
    let status = Command::new(cc)
        .args(WARNINGS)
        .args(["-O2", "-fPIC", "-shared", "-fvisibility=hidden", "-Iinclude", "-Ic"])
        .arg(format!("-DBPF_PATCHER_PLANT={plant}"))
        .args(extra)
        .args(SOURCES)
        .arg("-o")
        .arg(out)
        .status()
        .unwrap_or_else(|e| panic!("running {}: {e}", cc.display()));
    assert!(status.success(), "building {} failed", out.display());
}

/// The list patcher alone through its kernel API (c/bench/w2.c), which `bench` runs.
fn build_w2(cc: &Path, out: &Path) {
    let status = Command::new(cc)
        .args(WARNINGS)
        .args(["-O2", "-Iinclude", "-Ic", "c/bench/w2.c", "c/bpf_patcher.c", "-o"])
        .arg(out)
        .status()
        .unwrap_or_else(|e| panic!("running {}: {e}", cc.display()));
    assert!(status.success(), "building {} failed", out.display());
}

/// The directory of the compiler's own libraries (where libasan.a lives).
fn gcc_lib_dir(cc: &Path) -> String {
    let out = Command::new(cc).arg("-print-file-name=libasan.a").output().expect("asking the compiler for libasan.a");
    let file = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    file.parent().map(|d| d.display().to_string()).unwrap_or_default()
}
