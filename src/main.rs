use clap::Parser;
use patch_equiv::cli::{run, Cli, Exit};

fn main() {
    let code = match run(Cli::parse()) {
        Ok(code) => code,
        Err(Exit(code, msg)) => {
            eprintln!("patch-equiv: {msg}");
            code
        }
    };
    std::process::exit(code);
}

/// Counts heap bytes while a benchmark runs (`patch-equiv bench`).
#[global_allocator]
static ALLOC: patch_equiv::bench::PeakAlloc = patch_equiv::bench::PeakAlloc;
