use anyhow::{Context as _, Result};
use clap::Args;

use super::EngineArgs;
use phiscrub::filter::{self, run, Config, Diag, FilterFormat, OnError, RsyslogInput};

#[derive(Debug, Args)]
pub struct FilterArgs {
    /// What each line is: text, one JSON value (ndjson), or an rsyslog mmexternal request.
    #[arg(long, value_enum, default_value_t = FilterFormat::Text)]
    pub format: FilterFormat,
    /// ndjson and rsyslog fulljson: scrub only this key path and what lies under it (e.g. msg,
    /// patient.ssn, $!); repeatable. Default: every path (ndjson); msg, rawmsg,
    /// structured-data and $! (rsyslog).
    #[arg(long = "field", value_name = "PATH")]
    pub fields: Vec<String>,
    /// A line that cannot be parsed (not JSON, invalid UTF-8): scrub it as text (pass), write a
    /// fixed marker (mask), or write an empty line / rsyslog `{}` (drop). Always counted.
    #[arg(long, value_enum, default_value_t = OnError::Pass)]
    pub on_error: OnError,
    /// Longest line kept (bytes, or with K/M/G); a longer one is replaced by the marker (with
    /// `--on-error drop`: an empty line / `{}`) without being held in memory.
    #[arg(long, value_name = "SIZE", default_value = "1M", value_parser = filter::parse_size)]
    pub max_line: usize,
    /// rsyslog: what the mmexternal action's `interface.input` sends.
    #[arg(long, value_enum, default_value_t = RsyslogInput::Fulljson)]
    pub rsyslog_input: RsyslogInput,
    /// Rules, policy, key, entity filters and threads, exactly as `scrub` takes them.
    #[command(flatten)]
    pub shared: EngineArgs,
}

pub fn run(a: FilterArgs) -> Result<i32> {
    // The engine is built exactly as `scan` and `scrub` build it, so tokens are theirs.
    let common = &a.shared;
    let engine = common.engine()?;
    let columns = phiscrub::classify::ColumnRules::builtin()?;
    common.notice_placeholders(&engine);
    let cfg = Config {
        format: a.format,
        on_error: a.on_error,
        fields: a.fields,
        max_line: a.max_line,
        rsyslog_input: a.rsyslog_input,
    };
    // A panic message could quote internals; a failed line is masked and noticed instead.
    std::panic::set_hook(Box::new(|_| {}));
    let diag = Diag::new(a.shared.quiet);
    let totals = run::Totals::default();
    let result = run::run_stdio(&engine, &columns, &cfg, common.threads(), &diag, &totals);
    let s = totals.summary();
    if !a.shared.quiet {
        let held = diag.held();
        let more = if held > 0 {
            format!(" ({held} notices not shown)")
        } else {
            String::new()
        };
        eprintln!(
            "phiscrub filter: {} lines, {} changed, {} not parsed ({} over --max-line){more}",
            s.lines, s.changed, s.unparsed, s.oversized
        );
    }
    result.context("phiscrub filter stopped")?;
    Ok(0)
}
