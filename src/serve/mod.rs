//! `phiscrub serve`: the detection engine as an HTTP service, so log shippers (Vector's and
//! Fluent Bit's `http` outputs, the OpenTelemetry Collector's `otlphttp` exporter) and Presidio
//! clients can scrub in flight, with the same keyed tokens `phiscrub scrub` writes.
//!
//! | route | what |
//! |---|---|
//! | `POST /v1/scrub` | NDJSON, a JSON array of events, or text → the same, scrubbed (returned, or forwarded with `--scrub-upstream`) |
//! | `POST /v1/logs` | OTLP/HTTP logs (JSON or protobuf): bodies and string attributes scrubbed, then forwarded upstream or returned |
//! | `POST /analyze`, `POST /anonymize` | Presidio's analyzer and anonymizer request and response fields |
//! | `GET /health` | `ok` (no auth, so probes need no secret) |
//! | `GET /metrics` | Prometheus text: requests, bytes, findings by entity, latency |
//!
//! Secure by default: it binds 127.0.0.1 unless told otherwise, every route but `/health`
//! needs the bearer token (compared in constant time), TLS is rustls. Memory is bounded: a
//! body over the limit is refused (413) before it is read whole; a fixed number of scrubs may
//! be in flight (queued or running), and one more is refused at once with 503 and
//! `Retry-After` rather than waiting in an unbounded queue; connections are capped too.
//! Scrubbing is CPU-bound and runs on blocking threads, `workers` at a time, never on the
//! reactor. SIGTERM or SIGINT stops accepting and lets in-flight requests finish.
//!
//! Nothing a client sends is ever logged: a request's log line holds the route (known routes
//! only; any other path is `other`), status, sizes, finding count and latency. Error replies
//! name positions, never values. The key stays inside the [`Engine`].

pub mod auth;
pub mod metrics;
pub mod otlp;
pub mod presidio;
mod routes;
pub mod scrub;
mod server;
mod upstream;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::classify::ColumnRules;
use crate::pipeline::Engine;

pub use server::run;

/// Everything `serve` needs besides the engine.
#[derive(Debug)]
pub struct Config {
    pub listen: SocketAddr,
    /// `None` only when the operator turned authentication off explicitly.
    pub token: Option<auth::Token>,
    pub tls: Option<TlsFiles>,
    pub limits: Limits,
    /// Where `/v1/logs` forwards scrubbed requests (`http://host:port/v1/logs`).
    pub otlp_upstream: Option<hyper::Uri>,
    /// Where `/v1/scrub` forwards scrubbed batches (a shipper's HTTP source), so the service
    /// is a hop in a pipeline rather than its end.
    pub scrub_upstream: Option<hyper::Uri>,
    pub columns: ColumnRules,
    /// `--subject-column`: the JSON key path whose value keys each event's date shift.
    pub subject_column: Option<String>,
    /// No per-request log lines.
    pub quiet: bool,
}

/// PEM files of the server's certificate chain and private key.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Resource bounds; together they cap memory at about `queue × max_body` plus a few buffers
/// per connection.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest request body, bytes (413 above).
    pub max_body: usize,
    /// Whole-request deadline: reading the body (408) and scrubbing it (503).
    pub request_timeout: Duration,
    /// Scrubs in flight, waiting or running; one more gets 503 with `Retry-After`.
    pub queue: usize,
    /// Scrubs running at once (blocking threads).
    pub workers: usize,
    /// Open connections; further ones wait in the listen backlog.
    pub max_connections: usize,
    /// How long a shutdown waits for in-flight requests.
    pub shutdown_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body: 10 << 20,
            request_timeout: Duration::from_secs(30),
            queue: 64,
            workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
            max_connections: 1024,
            shutdown_timeout: Duration::from_secs(30),
        }
    }
}

/// Why the service could not start or stopped abnormally. Never carries request data.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("TLS: {0}")]
    Tls(String),
    #[error("cannot start the runtime: {0}")]
    Runtime(#[source] std::io::Error),
}

/// Shared by every request.
struct App {
    engine: Engine,
    columns: ColumnRules,
    token: Option<auth::Token>,
    limits: Limits,
    metrics: metrics::Metrics,
    /// Permits for scrubs in flight (queued or running): `try_acquire` or 503.
    queue: std::sync::Arc<tokio::sync::Semaphore>,
    /// Permits for scrubs running on blocking threads.
    workers: std::sync::Arc<tokio::sync::Semaphore>,
    otlp_upstream: Option<upstream::Upstream>,
    scrub_upstream: Option<upstream::Upstream>,
    presidio: presidio::Names,
    text_keys: otlp::TextKeys,
    subject_column: Option<String>,
    quiet: bool,
}
