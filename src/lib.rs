//! phiscrub finds protected health information (the 18 HIPAA Safe Harbor identifiers of
//! 45 CFR 164.514(b)(2)) and secrets in files and streams, and replaces them with keyed,
//! deterministic tokens before the data reaches test environments, laptops or git.
//!
//! Data flows one way: `formats` cuts input into pieces, `detect` finds spans, `policy` picks an
//! action, `transform` writes the replacement, and `report` says what was found, never the
//! value. `pipeline` runs that on all cores; `job` walks paths and writes outputs atomically.
//!
//! ```
//! use phiscrub::{detect, pipeline::{self, Engine, EntityFilter, Mode, RunOptions}};
//! use phiscrub::{policy::Policy, transform::Transformer};
//! let engine = Engine {
//!     detector: detect::builtin().unwrap(),
//!     transformer: Transformer::new(Policy::defaults(false), None),
//!     filter: EntityFilter::default(),
//!     min_score: 0.5,
//! };
//! let mut out = Vec::new();
//! let opts = RunOptions { mode: Mode::Scrub, threads: 1, limits: Default::default(),
//!                         interactive: false, char_offsets: false, fingerprints: false,
//!                         positions: false, tally: false, progress: None, classes: None,
//!                         table: None, subject_column: None };
//! pipeline::run(&engine, &mut &b"mail jane.roe@mercy-health.org now\n"[..], Some(&mut out), opts, |_| Ok(())).unwrap();
//! assert_eq!(out, b"mail [EMAIL] now\n");
//! ```

pub mod classify;
pub mod dates;
pub mod detect;
pub mod entity;
pub mod filter;
pub mod formats;
pub mod guard;
pub mod job;
pub mod pipeline;
pub mod policy;
pub mod report;
pub mod serve;
pub mod transform;

#[cfg(test)]
mod test_rng;
