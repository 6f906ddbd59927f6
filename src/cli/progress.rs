//! A one-line progress display on a terminal's stderr for long runs: nothing for the first
//! second (small inputs finish silently), then bytes done, percent when the total is known, and
//! MB/s, redrawn a few times a second and erased at the end.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Runs `f` with a byte counter that a display thread shows, when `wanted` and stderr is a
/// terminal; otherwise runs `f` with no counter.
pub fn with_progress<T>(
    wanted: bool,
    total: Option<u64>,
    f: impl FnOnce(Option<&AtomicU64>) -> T,
) -> T {
    if !wanted || !std::io::stderr().is_terminal() {
        return f(None);
    }
    let counter = AtomicU64::new(0);
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| draw(&counter, &done, total));
        let r = f(Some(&counter));
        done.store(true, Ordering::Relaxed);
        r
    })
}

fn draw(counter: &AtomicU64, done: &AtomicBool, total: Option<u64>) {
    let start = Instant::now();
    let mut drawn = false;
    let mut err = std::io::stderr();
    while !done.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(100));
        let elapsed = start.elapsed();
        if elapsed < Duration::from_secs(1) {
            continue;
        }
        let _ = write!(
            err,
            "\r\x1b[2K{}",
            line(
                counter.load(Ordering::Relaxed),
                total,
                elapsed.as_secs_f64()
            )
        );
        let _ = err.flush();
        drawn = true;
    }
    if drawn {
        let _ = write!(err, "\r\x1b[2K");
        let _ = err.flush();
    }
}

/// The text of one progress line.
pub fn line(bytes: u64, total: Option<u64>, seconds: f64) -> String {
    let mb = bytes as f64 / 1e6;
    let rate = if seconds > 0.0 { mb / seconds } else { 0.0 };
    match total {
        Some(t) if t > 0 => format!(
            "phiscrub: {mb:.0} / {:.0} MB ({:.0}%), {rate:.0} MB/s",
            t as f64 / 1e6,
            (bytes as f64 * 100.0 / t as f64).min(100.0)
        ),
        _ => format!("phiscrub: {mb:.0} MB, {rate:.0} MB/s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_shows_percent_only_with_a_total() {
        assert_eq!(
            line(50_000_000, Some(200_000_000), 0.5),
            "phiscrub: 50 / 200 MB (25%), 100 MB/s"
        );
        assert_eq!(line(3_000_000, None, 1.0), "phiscrub: 3 MB, 3 MB/s");
        assert_eq!(line(0, Some(0), 0.0), "phiscrub: 0 MB, 0 MB/s");
    }

    #[test]
    fn without_a_terminal_no_counter_is_made() {
        // Tests run with stderr captured or redirected, never a terminal.
        let got = with_progress(true, None, |c| c.is_some());
        assert_eq!(got, std::io::stderr().is_terminal());
        assert!(!with_progress(false, None, |c| c.is_some()));
    }
}
