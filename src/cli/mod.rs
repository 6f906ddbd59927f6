//! Command line: clap definitions, one file per subcommand, and the wiring from flags to the
//! library's engine. No detection or transform logic lives here.

mod filter;
mod guard;
mod keygen;
mod panic_hook;
mod profile;
mod progress;
mod rules;
mod scan;
mod scrub;
mod serve;

use std::path::PathBuf;

use anyhow::{bail, Context as _, Result};
use clap::{Args, Parser, Subcommand};

use phiscrub::detect;
use phiscrub::entity::Entity;
use phiscrub::formats::Format;
use phiscrub::pipeline::{Engine, EntityFilter};
use phiscrub::policy::Policy;
use phiscrub::transform::{key::Key, Transformer};

/// Find and de-identify PHI (the 18 HIPAA Safe Harbor identifiers) and secrets in files and
/// streams, with keyed tokens that stay the same everywhere for the same key.
#[derive(Debug, Parser)]
#[command(name = "phiscrub", version, about, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Find PHI and secrets and report them (exit 0: none, 1: found, 2: error).
    Scan(scan::ScanArgs),
    /// Write a de-identified copy (exit 0: done, 2: error).
    Scrub(scrub::ScrubArgs),
    /// Write a new random 256-bit key and print its key id.
    Keygen(keygen::KeygenArgs),
    /// List every entity and rule with its HIPAA letter, validator and default action.
    Rules(rules::RulesArgs),
    /// Show how each column of a CSV/TSV file is classified (entity, kept or scanned).
    Profile(profile::ProfileArgs),
    /// Scrub a stream line by line for log shippers: one line out per line in, flushed at once.
    Filter(filter::FilterArgs),
    /// Pre-commit guard: block commits that carry PHI or secrets (exit 0: clean, 1: found, 2: error).
    Guard(guard::GuardArgs),
    /// Serve scrubbing over HTTP: NDJSON/JSON/text, OTLP logs, Presidio's API (bearer auth).
    Serve(serve::ServeArgs),
}

/// Flags shared by `scan`, `scrub`, `profile` and `serve`: the input's format, and the engine.
#[derive(Debug, Args)]
pub struct Common {
    /// Input format; `auto` picks from the file name and content.
    #[arg(long, value_enum, default_value_t = Format::Auto)]
    pub format: Format,
    /// CSV/TSV field delimiter, one character (`,` `;` `|` or `tab`); sniffed when absent.
    #[arg(long, value_name = "CHAR")]
    pub delimiter: Option<String>,
    /// Structured data: the column (or key path) naming each row's subject, e.g. patient_id;
    /// dates are then shifted by a keyed offset per subject, keeping each one's intervals.
    #[arg(long, value_name = "COLUMN")]
    pub subject_column: Option<String>,
    #[command(flatten)]
    pub shared: EngineArgs,
}

/// Flags of every command that builds the detection engine the same way (`filter` too, so its
/// tokens are `scrub`'s): rules, policy, key, entity filters, threads.
#[derive(Debug, Args)]
pub struct EngineArgs {
    /// Ignore findings scoring below this (0..1); overrides the policy's `min_score`.
    #[arg(long, value_name = "SCORE")]
    pub min_score: Option<f32>,
    /// Only these entities (comma-separated, e.g. SSN,EMAIL).
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub entities: Vec<Entity>,
    /// Leave these entities alone (comma-separated).
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub exclude_entities: Vec<Entity>,
    /// Extra rule packs: a directory of *.toml files or one file; repeatable.
    #[arg(long = "rules", value_name = "DIR")]
    pub rules: Vec<PathBuf>,
    /// Policy file (phiscrub.toml) mapping entities and rules to actions.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Key file (hex or base64, at least 32 bytes) for tokens, shapes, date shifts, fingerprints.
    #[arg(long, value_name = "FILE")]
    pub key_file: Option<PathBuf>,
    /// The key itself, from the environment (never pass a key on the command line).
    #[arg(
        long = "key-env",
        env = "PHISCRUB_KEY",
        hide_env_values = true,
        hide = true
    )]
    pub key_env: Option<String>,
    /// Structured data: what to do with a column no rule classifies: scan its cells as free
    /// text, mask every value (fail closed), or keep it. Overrides the policy's `unknown_columns`.
    #[arg(long, value_enum, value_name = "HOW")]
    pub unknown_columns: Option<phiscrub::policy::UnknownColumns>,
    /// Worker threads (default: all cores).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// No summary or notices on stderr.
    #[arg(long, short)]
    pub quiet: bool,
}

impl Common {
    /// The `--delimiter` byte.
    pub fn delimiter(&self) -> Result<Option<u8>> {
        match self.delimiter.as_deref() {
            None => Ok(None),
            Some("tab") | Some("\\t") | Some("\t") => Ok(Some(b'\t')),
            Some(d) if d.len() == 1 && d.is_ascii() && d != "\"" => Ok(Some(d.as_bytes()[0])),
            Some(_) => bail!("--delimiter takes one ASCII character other than a quote, or `tab`"),
        }
    }
}

impl EngineArgs {
    fn key(&self) -> Result<Option<Key>> {
        if let Some(path) = &self.key_file {
            return Ok(Some(Key::from_file(path)?));
        }
        match &self.key_env {
            Some(text) if !text.trim().is_empty() => Ok(Some(
                Key::parse(text).context("PHISCRUB_KEY does not hold a usable key")?,
            )),
            _ => Ok(None),
        }
    }

    /// Tells a scrub without key or policy that it writes placeholders, and how to get tokens.
    pub fn notice_placeholders(&self, engine: &Engine) {
        if engine.transformer.key().is_none() && self.policy.is_none() && !self.quiet {
            eprintln!(
                "phiscrub: no key given, so values become [ENTITY] placeholders; \
                 a key (`phiscrub keygen`) gives consistent tokens instead"
            );
        }
    }

    pub fn threads(&self) -> usize {
        self.threads
            .filter(|&n| n > 0)
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
    }

    /// Builds the engine, checking rules, policy and key before any input is read.
    pub fn engine(&self) -> Result<Engine> {
        let key = self.key()?;
        let keyed = key.is_some();
        let mut policy = match &self.policy {
            Some(p) => Policy::from_file(p, keyed)?,
            None => Policy::defaults(keyed),
        };
        if let Some(u) = self.unknown_columns {
            policy.unknown_columns = u;
        }
        if policy.needs_key() && !keyed {
            bail!(
                "the policy asks for keyed actions (token, shape, permute or shift) but no key was given; \
                 make one with `phiscrub keygen -o phiscrub.key` and pass `--key-file phiscrub.key` \
                 or set PHISCRUB_KEY"
            );
        }
        let detector = detect::load(&self.rules)?;
        let known = detector.report_rule_ids();
        let unknown: Vec<&str> = policy
            .rule_ids()
            .filter(|id| !known.iter().any(|k| k == id))
            .collect();
        if !unknown.is_empty() {
            bail!("the policy names unknown rules: {}", unknown.join(", "));
        }
        let min_score = match self.min_score {
            Some(s) if !(0.0..=1.0).contains(&s) => bail!("--min-score must be within 0..1"),
            Some(s) => s,
            None => policy.min_score,
        };
        Ok(Engine {
            detector,
            transformer: Transformer::new(policy, key),
            filter: EntityFilter::new(self.entities.clone(), self.exclude_entities.clone()),
            min_score,
        })
    }
}

/// Runs the command line and returns the process exit code.
pub fn main() -> i32 {
    panic_hook::install();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Scan(a) => scan::run(a),
        Command::Scrub(a) => scrub::run(a),
        Command::Keygen(a) => keygen::run(a),
        Command::Rules(a) => rules::run(a),
        Command::Profile(a) => profile::run(a),
        Command::Filter(a) => filter::run(a),
        Command::Guard(a) => guard::run(a),
        Command::Serve(a) => serve::run(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            if is_broken_pipe(&e) {
                return 0;
            }
            eprintln!("phiscrub: error: {e:#}");
            2
        }
    }
}

/// A closed downstream pipe (`phiscrub scrub | head`) is no error worth a message.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Prints per-input failures and says whether there were any.
fn report_failures(failures: &[phiscrub::job::InputError]) -> bool {
    for f in failures {
        if !closed_downstream(f) {
            eprintln!("phiscrub: error: {f}");
        }
    }
    failures.iter().any(|f| !closed_downstream(f))
}

/// The output or the report went to a pipe whose reader has gone (`| head`).
fn closed_downstream(f: &phiscrub::job::InputError) -> bool {
    use phiscrub::pipeline::PipelineError::{Report, Write};
    matches!(&f.source, Write(e) | Report(e) if e.kind() == std::io::ErrorKind::BrokenPipe)
}
