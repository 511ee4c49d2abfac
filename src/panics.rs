//! A panic inside an engine is a finding, not the end of the run: engine
//! calls go through `catch`, which turns a panic into its message and
//! location. While checking, the default panic hook prints nothing (the
//! report says it all); outside, or in a `panic = "abort"` build where nothing
//! can be caught, panics print as usual.

use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

/// A caught panic.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Caught {
    pub message: String,
    /// `file:line:col`, when the hook saw it.
    pub location: Option<String>,
}

impl Caught {
    /// What identifies "the same panic" while a case shrinks: the location
    /// (messages carry indices that change as the case gets smaller).
    pub fn site(&self) -> String {
        match &self.location {
            Some(l) => l.clone(),
            None => self.message.chars().filter(|c| !c.is_ascii_digit()).collect(),
        }
    }
}

impl std::fmt::Display for Caught {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.location {
            Some(l) => write!(f, "{} (at {l})", self.message),
            None => write!(f, "{}", self.message),
        }
    }
}

thread_local! {
    static QUIET: Cell<bool> = const { Cell::new(false) };
    static LAST: RefCell<Option<Caught>> = const { RefCell::new(None) };
}

static HOOK: Once = Once::new();

/// Install the hook once per process; it defers to the previous hook unless
/// the panicking thread is inside `catch`.
fn install() {
    HOOK.call_once(|| {
        let prev = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if cfg!(panic = "unwind") && QUIET.with(Cell::get) {
                let caught = Caught {
                    message: payload_text(info.payload()),
                    location: info.location().map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column())),
                };
                LAST.with(|l| *l.borrow_mut() = Some(caught));
            } else {
                prev(info);
            }
        }));
    });
}

fn payload_text(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "(panic with a non-text payload)".to_string()
    }
}

/// Run `f`; a panic becomes `Err` with its message, printed by nobody.
pub fn catch<T>(f: impl FnOnce() -> T) -> Result<T, Caught> {
    install();
    let was = QUIET.with(|q| q.replace(true));
    let r = panic::catch_unwind(AssertUnwindSafe(f));
    QUIET.with(|q| q.set(was));
    r.map_err(|payload| {
        LAST.with(|l| l.borrow_mut().take())
            .unwrap_or_else(|| Caught { message: payload_text(&*payload), location: None })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_its_message_and_location() {
        let v: Vec<u32> = Vec::new();
        let i = std::hint::black_box(3);
        let e = catch(|| v[i]).unwrap_err();
        assert!(e.message.contains("index out of bounds"), "{e}");
        assert!(e.location.as_deref().is_some_and(|l| l.starts_with("src/panics.rs:")), "{e:?}");
        assert_eq!(catch(|| 7).unwrap(), 7);
    }

    #[test]
    fn the_site_ignores_numbers_in_the_message() {
        let a = Caught { message: "index 3 of 5".into(), location: None };
        let b = Caught { message: "index 4 of 9".into(), location: None };
        assert_eq!(a.site(), b.site());
    }
}
