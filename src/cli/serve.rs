//! `phiscrub serve`: flags to [`phiscrub::serve::Config`]; the token, key and TLS files are
//! checked before the socket is bound.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context as _, Result};
use clap::Args;

use super::Common;
use phiscrub::serve::{auth::Token, Config, Limits, TlsFiles};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free one (the bound address is printed on stderr).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// File holding the bearer token every route but /health requires (or PHISCRUB_AUTH_TOKEN).
    #[arg(long, value_name = "FILE")]
    pub auth_token_file: Option<PathBuf>,
    #[arg(
        long = "auth-token-env",
        env = "PHISCRUB_AUTH_TOKEN",
        hide_env_values = true,
        hide = true
    )]
    pub auth_token_env: Option<String>,
    /// Serve without authentication (only ever behind something that authenticates).
    #[arg(long, conflicts_with = "auth_token_file")]
    pub no_auth: bool,
    /// TLS certificate chain (PEM); with --tls-key, serves HTTPS only.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Forward scrubbed /v1/logs requests to this OTLP/HTTP URL (http://host:port/v1/logs);
    /// without it, /v1/logs returns the scrubbed request.
    #[arg(long, value_name = "URL")]
    pub otlp_upstream: Option<String>,
    /// Forward scrubbed /v1/scrub batches to this http:// URL (e.g. a Vector `http_server` or
    /// Fluent Bit `http` input), with the request's content type; without it, /v1/scrub
    /// returns them.
    #[arg(long, value_name = "URL")]
    pub scrub_upstream: Option<String>,
    /// Largest request body, bytes (K, M suffixes: 512K, 10M); larger ones get 413.
    #[arg(long, value_name = "SIZE", default_value = "10M", value_parser = parse_size)]
    pub max_body: usize,
    /// Scrubs in flight (queued or running); one more gets 503 with Retry-After.
    #[arg(long, value_name = "N", default_value_t = 64)]
    pub queue: usize,
    /// Deadline of a whole request, seconds (reading the body and scrubbing it).
    #[arg(long, value_name = "SECS", default_value_t = 30.0)]
    pub request_timeout: f64,
    /// Open connections at most.
    #[arg(long, value_name = "N", default_value_t = 1024)]
    pub max_connections: usize,
    /// How long SIGTERM/SIGINT waits for requests in flight, seconds.
    #[arg(long, value_name = "SECS", default_value_t = 30.0)]
    pub shutdown_timeout: f64,
    #[command(flatten)]
    pub common: Common,
}

fn parse_size(s: &str) -> Result<usize, String> {
    let t = s.trim();
    let (num, mul) = match t.char_indices().last() {
        Some((i, 'k' | 'K')) => (&t[..i], 1usize << 10),
        Some((i, 'm' | 'M')) => (&t[..i], 1 << 20),
        Some((i, 'g' | 'G')) => (&t[..i], 1 << 30),
        _ => (t, 1),
    };
    num.trim()
        .parse::<usize>()
        .ok()
        .and_then(|n| n.checked_mul(mul))
        .filter(|&n| n > 0)
        .ok_or_else(|| format!("`{s}` is no size (e.g. 65536, 512K, 10M)"))
}

fn upstream(url: Option<&str>, flag: &str) -> Result<Option<hyper::Uri>> {
    let Some(u) = url else {
        return Ok(None);
    };
    let uri: hyper::Uri = u.parse().with_context(|| format!("{flag} is no URL"))?;
    if uri.scheme_str() != Some("http") || uri.host().is_none() {
        bail!("{flag} takes an http:// URL (for TLS, put a local collector or shipper in between)");
    }
    Ok(Some(uri))
}

fn secs(s: f64, flag: &str) -> Result<Duration> {
    if !(s.is_finite() && s > 0.0) {
        bail!("{flag} must be a positive number of seconds");
    }
    Ok(Duration::from_secs_f64(s))
}

pub fn run(a: ServeArgs) -> Result<i32> {
    let token = match (&a.auth_token_file, &a.auth_token_env, a.no_auth) {
        (_, _, true) => None,
        (Some(p), _, _) => Some(Token::from_file(p)?),
        (None, Some(t), _) if !t.trim().is_empty() => {
            Some(Token::new(t).context("PHISCRUB_AUTH_TOKEN")?)
        }
        _ => bail!(
            "phiscrub serve needs a bearer token: --auth-token-file FILE or PHISCRUB_AUTH_TOKEN \
             (make one with `openssl rand -hex 32`), or --no-auth to serve without one"
        ),
    };
    if a.common.format != phiscrub::formats::Format::Auto || a.common.delimiter.is_some() {
        bail!("serve reads each request's Content-Type; --format and --delimiter do not apply");
    }
    let otlp_upstream = upstream(a.otlp_upstream.as_deref(), "--otlp-upstream")?;
    let scrub_upstream = upstream(a.scrub_upstream.as_deref(), "--scrub-upstream")?;
    let engine = a.common.shared.engine()?;
    a.common.shared.notice_placeholders(&engine);
    let limits = Limits {
        max_body: a.max_body,
        request_timeout: secs(a.request_timeout, "--request-timeout")?,
        queue: a.queue.max(1),
        workers: a.common.shared.threads(),
        max_connections: a.max_connections.max(1),
        shutdown_timeout: secs(a.shutdown_timeout, "--shutdown-timeout")?,
    };
    let tls = match (a.tls_cert, a.tls_key) {
        (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
        _ => None,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    if token.is_none() && !a.common.shared.quiet {
        eprintln!("phiscrub serve: warning: --no-auth: anyone who can reach the port can use it");
    }
    let config = Config {
        listen: a.listen,
        token,
        tls,
        limits,
        otlp_upstream,
        scrub_upstream,
        columns: phiscrub::classify::ColumnRules::builtin()?,
        subject_column: a.common.subject_column.clone(),
        quiet: a.common.shared.quiet,
    };
    phiscrub::serve::run(engine, config, |addr| {
        // Always printed, even with --quiet: a supervisor or test reads the port from it.
        eprintln!("phiscrub serve: listening on {scheme}://{addr}");
    })?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::parse_size;
    use clap::Parser;

    #[test]
    fn listens_on_loopback_unless_told_otherwise() {
        let parse = |args: &[&str]| match crate::cli::Cli::try_parse_from(args).unwrap().command {
            crate::cli::Command::Serve(a) => a,
            _ => unreachable!(),
        };
        let a = parse(&["phiscrub", "serve"]);
        assert!(a.listen.ip().is_loopback());
        assert_eq!(a.listen.port(), 8080);
        assert_eq!((a.max_body, a.queue), (10 << 20, 64));
        let a = parse(&[
            "phiscrub",
            "serve",
            "--listen",
            "0.0.0.0:9000",
            "--max-body",
            "1M",
        ]);
        assert_eq!(a.listen.to_string(), "0.0.0.0:9000");
        assert_eq!(a.max_body, 1 << 20);
        assert!(
            crate::cli::Cli::try_parse_from(["phiscrub", "serve", "--tls-cert", "c.pem"]).is_err()
        );
    }

    #[test]
    fn sizes() {
        for (s, want) in [
            ("65536", Some(65536)),
            ("512K", Some(512 << 10)),
            ("10m", Some(10 << 20)),
            ("1G", Some(1 << 30)),
            ("0", None),
            ("ten", None),
            ("", None),
            ("-1K", None),
        ] {
            assert_eq!(parse_size(s).ok(), want, "{s}");
        }
    }
}
