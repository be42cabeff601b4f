//! Fault injection for the tests, by environment variables that are not config keys
//! (`config`'s list of them): closeloop fails at a chosen point as a bug would, so that a
//! test can show that it survives. Unset, each check costs one load of a cached value.
//! The crash faults live where they strike (`pipeline::marks`' abort while reading,
//! `outbox`'s kill after a send); the panics are here.

use std::sync::OnceLock;

/// Where [`panic_at`] strikes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Reading a message (extraction) whose raw bytes contain the text.
    Reading,
    /// Storing a message whose subject contains the text.
    Storing,
    /// Building a letter whose subject contains the text.
    Sending,
    /// Starting the daemon's task (`intake`, `outbox`, `timers`, `http`) whose name
    /// contains the text.
    Task,
}

impl Stage {
    /// The variable holding the text that makes this stage panic.
    pub const fn env(self) -> &'static str {
        match self {
            Stage::Reading => "CLOSELOOP_FAULT_PANIC_READING",
            Stage::Storing => "CLOSELOOP_FAULT_PANIC_STORING",
            Stage::Sending => "CLOSELOOP_FAULT_PANIC_SENDING",
            Stage::Task => "CLOSELOOP_FAULT_PANIC_TASK",
        }
    }
}

/// Panics when the variable of `stage` is set and `haystack` contains its value, with a
/// message quoting `haystack`, as a bug slicing a reporter's text would.
pub fn panic_at(stage: Stage, haystack: &[u8]) {
    static CELLS: [OnceLock<Option<String>>; 4] = [const { OnceLock::new() }; 4];
    let Some(text) = needle(&CELLS[stage as usize], stage.env()) else {
        return;
    };
    if memchr::memmem::find(haystack, text.as_bytes()).is_some() {
        panic!(
            "{}: panicking at {:?}",
            stage.env(),
            String::from_utf8_lossy(haystack)
        );
    }
}

/// The value of a fault-injection variable, read once into `cell`; unset or empty: none.
pub fn needle(cell: &'static OnceLock<Option<String>>, env: &str) -> Option<&'static str> {
    cell.get_or_init(|| std::env::var(env).ok().filter(|v| !v.is_empty()))
        .as_deref()
}
