//! Diagnostics of a running filter, on standard error only and at most one message a second, so
//! a stream of bad lines cannot flood the shipper's log. A message names the line number and
//! why, never content; the lines not reported in between are counted in the next message.

use std::fmt::Display;
use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The least time between two messages.
const INTERVAL: Duration = Duration::from_secs(1);

/// A rate-limited writer of notices to standard error.
pub struct Diag {
    quiet: bool,
    state: Mutex<State>,
}

struct State {
    last: Option<Instant>,
    /// Notices held back since the last message.
    held: u64,
    /// Every notice so far.
    total: u64,
}

impl Diag {
    /// `quiet` prints nothing (the notices are still counted).
    pub fn new(quiet: bool) -> Diag {
        Diag {
            quiet,
            state: Mutex::new(State {
                last: None,
                held: 0,
                total: 0,
            }),
        }
    }

    /// Reports something about input line `line` (1-based), or holds it back when the last
    /// message was less than a second ago.
    pub fn line(&self, line: u64, what: &dyn Display, handled: &str) {
        let mut st = match self.state.lock() {
            Ok(s) => s,
            Err(p) => p.into_inner(),
        };
        st.total += 1;
        if self.quiet || st.last.is_some_and(|t| t.elapsed() < INTERVAL) {
            st.held += 1;
            return;
        }
        let more = match st.held {
            0 => String::new(),
            n => format!(" ({n} more since the last message)"),
        };
        // A failed write to standard error has nowhere to be reported.
        let _ = writeln!(
            std::io::stderr(),
            "phiscrub filter: line {line}: {what}; {handled}{more}"
        );
        st.last = Some(Instant::now());
        st.held = 0;
    }

    /// Notices held back and not yet printed.
    pub fn held(&self) -> u64 {
        self.state.lock().map_or(0, |s| s.held)
    }

    /// Every notice so far, printed or not.
    pub fn total(&self) -> u64 {
        self.state.lock().map_or(0, |s| s.total)
    }
}
