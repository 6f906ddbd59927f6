//! Detection: rule packs compiled once into one multi-pattern regex, confirmed by validators,
//! dictionaries and context.
//!
//! ```
//! use phiscrub::detect::{self, Context};
//! let det = detect::builtin().unwrap();
//! let mut scanner = det.scanner();
//! let mut found = Vec::new();
//! scanner.scan(b"SSN: 219-45-6789", 0, &Context::default(), &mut found);
//! assert_eq!(found[0].entity, phiscrub::entity::Entity::Ssn);
//! assert_eq!((found[0].start, found[0].end), (5, 16));
//! ```

mod dual;
pub mod engine;
pub mod gitleaks;
pub mod names;
pub mod rules;
pub mod validate;

use std::path::PathBuf;

pub use engine::{Context, Detector, Finding, Scanner};
pub use rules::{Rule, RulesError};
use validate::Check;

/// Every validator name a rule may use: the structural ones and the dictionary ones.
pub fn validator_exists(name: &str) -> bool {
    validate::NAMES.contains(&name) || names::NAMES.contains(&name) || name == "has_digit"
}

/// Runs validator `name` (checked at load time, so an unknown one here is a bug: it rejects).
pub fn run_validator(name: &str, value: &[u8]) -> Check {
    if name == "has_digit" {
        return if value.iter().any(u8::is_ascii_digit) {
            Check::Valid
        } else {
            Check::Invalid
        };
    }
    validate::run(name, value)
        .or_else(|| names::check(name, value))
        .unwrap_or(Check::Invalid)
}

/// Errors building the detector from packs.
#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    #[error(transparent)]
    Rules(#[from] RulesError),
    #[error(transparent)]
    Build(#[from] engine::BuildError),
}

/// The built-in packs plus every pack in `extra` (directories or files).
///
/// # Errors
/// Every problem in every pack, or a rule set too large to compile.
pub fn load(extra: &[PathBuf]) -> Result<Detector, DetectError> {
    let rules = rules::load(extra, &validator_exists)?;
    Ok(Detector::new(rules)?)
}

/// The built-in packs only.
///
/// # Errors
/// Only if the built-in packs are broken, which the test suite guards against.
pub fn builtin() -> Result<Detector, DetectError> {
    load(&[])
}
