//! Counters for `GET /metrics`, in the Prometheus text exposition format (version 0.0.4).
//! Labels are only route names, status codes and entity names: never anything a client sent.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::Duration;

use super::routes::Route;
use crate::entity::Entity;

/// Upper bounds of the latency histogram, seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];
const ROUTES: usize = Route::ALL.len();
const ENTITIES: usize = Entity::ALL.len();

fn zeros<const N: usize>() -> [AtomicU64; N] {
    std::array::from_fn(|_| AtomicU64::new(0))
}

/// Service-wide counters; cheap to update from any task.
pub struct Metrics {
    requests: Mutex<BTreeMap<(usize, u16), u64>>,
    bytes_in: [AtomicU64; ROUTES],
    bytes_out: [AtomicU64; ROUTES],
    findings: [AtomicU64; ENTITIES],
    /// Per route: one count per bucket (not cumulative) and one for +Inf.
    latency: [[AtomicU64; BUCKETS.len() + 1]; ROUTES],
    latency_micros: [AtomicU64; ROUTES],
    busy: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            requests: Mutex::new(BTreeMap::new()),
            bytes_in: zeros(),
            bytes_out: zeros(),
            findings: zeros(),
            latency: std::array::from_fn(|_| zeros()),
            latency_micros: zeros(),
            busy: AtomicU64::new(0),
        }
    }
}

impl Metrics {
    /// One finished request.
    pub fn request(
        &self,
        route: Route,
        status: u16,
        bytes_in: u64,
        bytes_out: u64,
        took: Duration,
    ) {
        let r = route as usize;
        if let Ok(mut m) = self.requests.lock() {
            *m.entry((r, status)).or_default() += 1;
        }
        self.bytes_in[r].fetch_add(bytes_in, Relaxed);
        self.bytes_out[r].fetch_add(bytes_out, Relaxed);
        let s = took.as_secs_f64();
        let b = BUCKETS
            .iter()
            .position(|&le| s <= le)
            .unwrap_or(BUCKETS.len());
        self.latency[r][b].fetch_add(1, Relaxed);
        self.latency_micros[r].fetch_add(took.as_micros() as u64, Relaxed);
    }

    /// Findings of one request, by [`Entity::index`].
    pub fn findings(&self, counts: &[u64; ENTITIES]) {
        for (c, n) in self.findings.iter().zip(counts) {
            if *n > 0 {
                c.fetch_add(*n, Relaxed);
            }
        }
    }

    /// A request refused because the scrub queue was full.
    pub fn busy(&self) {
        self.busy.fetch_add(1, Relaxed);
    }

    /// The exposition text; `inflight` is the number of scrubs queued or running now.
    pub fn render(&self, inflight: usize) -> String {
        let mut o = String::with_capacity(4096);
        o.push_str("# HELP phiscrub_requests_total HTTP requests by route and status.\n");
        o.push_str("# TYPE phiscrub_requests_total counter\n");
        if let Ok(m) = self.requests.lock() {
            for (&(r, status), n) in m.iter() {
                let route = Route::ALL[r].name();
                let _ = writeln!(
                    o,
                    "phiscrub_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
                );
            }
        }
        for (name, help, v) in [
            (
                "phiscrub_request_bytes_total",
                "Request body bytes received.",
                &self.bytes_in,
            ),
            (
                "phiscrub_response_bytes_total",
                "Response body bytes sent.",
                &self.bytes_out,
            ),
        ] {
            let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} counter");
            for (r, c) in v.iter().enumerate() {
                let route = Route::ALL[r].name();
                let _ = writeln!(o, "{name}{{route=\"{route}\"}} {}", c.load(Relaxed));
            }
        }
        o.push_str("# HELP phiscrub_findings_total Identifiers found, by entity.\n");
        o.push_str("# TYPE phiscrub_findings_total counter\n");
        for (e, c) in Entity::ALL.iter().zip(&self.findings) {
            let _ = writeln!(
                o,
                "phiscrub_findings_total{{entity=\"{}\"}} {}",
                e.name(),
                c.load(Relaxed)
            );
        }
        o.push_str("# HELP phiscrub_busy_total Requests refused with 503 because the scrub queue was full.\n");
        o.push_str("# TYPE phiscrub_busy_total counter\n");
        let _ = writeln!(o, "phiscrub_busy_total {}", self.busy.load(Relaxed));
        o.push_str("# HELP phiscrub_inflight_scrubs Scrubs queued or running.\n");
        o.push_str("# TYPE phiscrub_inflight_scrubs gauge\n");
        let _ = writeln!(o, "phiscrub_inflight_scrubs {inflight}");
        let name = "phiscrub_request_duration_seconds";
        let _ = writeln!(
            o,
            "# HELP {name} Request latency, from headers read to response ready.\n# TYPE {name} histogram"
        );
        for (r, buckets) in self.latency.iter().enumerate() {
            let route = Route::ALL[r].name();
            let mut cum = 0;
            for (i, c) in buckets.iter().enumerate() {
                cum += c.load(Relaxed);
                let le = BUCKETS.get(i).map_or("+Inf".to_string(), |b| b.to_string());
                let _ = writeln!(o, "{name}_bucket{{route=\"{route}\",le=\"{le}\"}} {cum}");
            }
            let sum = self.latency_micros[r].load(Relaxed) as f64 / 1e6;
            let _ = writeln!(o, "{name}_sum{{route=\"{route}\"}} {sum}");
            let _ = writeln!(o, "{name}_count{{route=\"{route}\"}} {cum}");
        }
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_is_cumulative_and_counts_match() {
        let m = Metrics::default();
        m.request(Route::Scrub, 200, 10, 20, Duration::from_micros(500));
        m.request(Route::Scrub, 200, 10, 20, Duration::from_millis(30));
        m.request(Route::Scrub, 503, 0, 5, Duration::from_secs(60));
        let mut f = [0; ENTITIES];
        f[Entity::Ssn.index()] = 3;
        m.findings(&f);
        let text = m.render(2);
        for want in [
            "phiscrub_requests_total{route=\"/v1/scrub\",status=\"200\"} 2",
            "phiscrub_requests_total{route=\"/v1/scrub\",status=\"503\"} 1",
            "phiscrub_request_bytes_total{route=\"/v1/scrub\"} 20",
            "phiscrub_response_bytes_total{route=\"/v1/scrub\"} 45",
            "phiscrub_findings_total{entity=\"SSN\"} 3",
            "phiscrub_request_duration_seconds_bucket{route=\"/v1/scrub\",le=\"0.001\"} 1",
            "phiscrub_request_duration_seconds_bucket{route=\"/v1/scrub\",le=\"0.05\"} 2",
            "phiscrub_request_duration_seconds_bucket{route=\"/v1/scrub\",le=\"10\"} 2",
            "phiscrub_request_duration_seconds_bucket{route=\"/v1/scrub\",le=\"+Inf\"} 3",
            "phiscrub_request_duration_seconds_count{route=\"/v1/scrub\"} 3",
            "phiscrub_inflight_scrubs 2",
        ] {
            assert!(text.lines().any(|l| l == want), "missing {want}\n{text}");
        }
    }
}
