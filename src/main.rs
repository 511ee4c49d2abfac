use clap::Parser;
use patch_equiv::cli::{json_error, json_kind, run, say, Cli, Exit};

fn main() {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let cli = match Cli::try_parse_from(&args) {
        Ok(c) => c,
        Err(e) => {
            // `--json` promises one JSON document on stdout, even for a bad argument.
            let words: Vec<String> = args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
            if let (Some(kind), true) = (json_kind(&words), e.use_stderr()) {
                say(&format!("{}\n", json_error(kind, &e.kind().to_string())));
            }
            e.exit()
        }
    };
    let code = match run(cli) {
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
