//! Raw bytes → every reader the CLI has: the `.case` parser, the kernel-vector
//! JSON Lines parser (plain and gzip), `import` (`gen::from_bytes`), the
//! `--config` reader, `import-obj` (BPF ELF objects: every program, whose
//! case text must read back as the same case), and the `report` readers (run,
//! bench and replay JSON, the mutation score) with both renderings. Readers
//! must refuse bad input with an error, never panic
//! or allocate out of proportion; a parsed case that passes `Program::validate`
//! then runs through both patchers, so parseable-but-malformed ops reach their
//! precondition checks, and the writer's text must read back as the same case.
#![no_main]
use libfuzzer_sys::fuzz_target;
use patch_equiv::case::Case;
use patch_equiv::patcher::{ArrayPatcher, ListPatcher};
use patch_equiv::report::{self, doc, inputs};
use patch_equiv::{case_file, equiv, gen, obj, vectors};

/// What `show` prints must be what `replay` reads.
fn roundtrip(case: &Case) {
    let text = case_file::to_text(case);
    match case_file::parse("fuzz.case", &text) {
        Ok(again) => assert_eq!(&again, case, "to_text output reads back differently:\n{text}"),
        Err(e) => panic!("to_text output does not parse: {e}\n{text}"),
    }
}

/// What `replay` does with a case: both patchers against the expectation, then side by side.
fn exercise(case: &Case) {
    if case.prog.validate().is_err() {
        return;
    }
    let (a, l) = (case.check::<ArrayPatcher>(), case.check::<ListPatcher>());
    if let Some(r) = equiv::run_case(case).divergence() {
        panic!("{r}");
    }
    assert_eq!(a.is_ok(), l.is_ok(), "patchers agree op by op, yet not on the expectation: {a:?} / {l:?}");
}

fn parsed(file: &str, text: &str) {
    if let Ok(case) = case_file::parse(file, text) {
        roundtrip(&case);
        exercise(&case);
    }
    if let Ok(cases) = vectors::parse_vectors(file, text) {
        for case in &cases {
            let faithful = |p: &patch_equiv::program::Program| p.aux.len() == p.insns.len();
            let exp_ok = match &case.expect {
                Some(patch_equiv::case::Expect::Ok(p)) => faithful(p),
                _ => true,
            };
            if faithful(&case.prog) && exp_ok {
                case_file::parse("fuzz.case", &case_file::to_text(case)).expect("show output of a vector parses");
            }
            exercise(case);
        }
    }
}

/// What `import-obj` and `show FILE.o` do with an object.
fn object(data: &[u8]) {
    let Ok(o) = obj::ObjectFile::parse(data) else { return };
    let _ = o.skipped();
    for (name, _) in o.programs() {
        if let Ok(imp) = o.import(&name) {
            imp.program.validate().expect("import-obj returns only programs that validate");
            let text = imp.case_text("fuzz.o");
            let again = case_file::parse("fuzz.case", &text).unwrap_or_else(|e| panic!("{e}\n{text}"));
            assert_eq!(again, imp.case("fuzz.o"), "the case text of an import reads back differently");
            exercise(&again);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if data.starts_with(b"\x7fELF") {
        object(data);
    }
    let text = String::from_utf8_lossy(data);
    parsed("fuzz", &text);
    if let Ok(t) = vectors::decode_bytes("fuzz.jsonl.gz", data.to_vec()) {
        if data.starts_with(&[0x1f, 0x8b]) {
            parsed("fuzz", &t);
        }
    }
    if let Ok((_, mut g)) = gen::from_bytes(data) {
        g.case.name = "imported".into();
        roundtrip(&g.case);
    }
    if let Ok(cfg) = serde_json::from_str::<gen::Config>(&text) {
        let _ = cfg.sanitize();
    }
    reported(&text);
});

/// The `report` readers on the same text, then both renderings of what they read.
fn reported(text: &str) {
    let p = std::path::Path::new("fuzz.json");
    let mut ev = report::Evidence::default();
    if let Ok(r) = inputs::parse_run(p, text) {
        ev.runs.push(("fuzz.json".into(), r));
    }
    ev.bench = inputs::parse_bench(p, text).ok().map(|b| ("fuzz.json".into(), b));
    ev.replays.extend(inputs::parse_replay(p, text).ok().map(|r| ("fuzz.json".into(), r)));
    ev.mutation = inputs::parse_mutation(text).ok().map(|m| ("fuzz.txt".into(), m));
    let blocks = report::document(&ev);
    let _ = doc::render(report::TITLE, &blocks, doc::Format::Markdown);
    let _ = doc::render(report::TITLE, &blocks, doc::Format::Html);
}
