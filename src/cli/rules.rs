use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use phiscrub::detect;
use phiscrub::entity::Entity;
use phiscrub::policy::Policy;

#[derive(Debug, Args)]
pub struct RulesArgs {
    /// Extra rule packs to include in the list.
    #[arg(long = "rules", value_name = "DIR")]
    pub rules: Vec<PathBuf>,
    /// Show the default actions as they are with a key.
    #[arg(long)]
    pub keyed: bool,
}

pub fn run(a: RulesArgs) -> Result<i32> {
    let det = detect::load(&a.rules)?;
    let policy = Policy::defaults(a.keyed);
    // Through a handle, not `println!`: `phiscrub rules | head` closes the pipe early, and
    // that must end the listing quietly instead of panicking.
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{:<16} {:<6} {:<12} DESCRIPTION",
        "ENTITY", "HIPAA", "ACTION"
    )?;
    for &e in Entity::ALL {
        let letter = e
            .hipaa_letter()
            .map_or("-".to_string(), |c| format!("({c})"));
        writeln!(
            out,
            "{:<16} {:<6} {:<12} {}",
            e.name(),
            letter,
            policy.entity_action(e).name(),
            e.describe()
        )?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "{:<36} {:<16} {:<14} {:>5}  CONTEXT",
        "RULE", "ENTITY", "VALIDATOR", "SCORE"
    )?;
    for r in det.rules() {
        let ctx = if r.requires_context {
            "required"
        } else if r.hotwords.is_empty() {
            "-"
        } else {
            "boosts"
        };
        writeln!(
            out,
            "{:<36} {:<16} {:<14} {:>5.2}  {}",
            r.id,
            r.entity.name(),
            r.validator.as_deref().unwrap_or("-"),
            r.score,
            ctx
        )?;
    }
    Ok(0)
}
