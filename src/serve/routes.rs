//! Request handling: route, authenticate, bound, hand the body to a blocking worker, answer.
//!
//! Order of checks, cheapest first: unknown route (404), wrong method (405), token (401),
//! `Content-Length` over the limit (413, nothing read), a free place in the scrub queue (503
//! with `Retry-After`, nothing read), the body read under the size limit (413) and the request
//! deadline (408), a free worker within the deadline, the scrub (400 for malformed input),
//! and with an upstream (`--otlp-upstream` for `/v1/logs`, `--scrub-upstream` for
//! `/v1/scrub`) the forward (502 when it fails, 504 past the deadline).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use tokio::time::timeout_at;

use super::scrub::{self, BodyKind, Counts};
use super::{otlp, presidio, App};
use crate::entity::Entity;

/// The routes, for dispatch, metrics labels and log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Scrub,
    Logs,
    Analyze,
    Anonymize,
    Health,
    Metrics,
    /// Any other path: never logged or labelled by its text, which could hold data.
    Other,
}

impl Route {
    pub const ALL: [Route; 7] = [
        Route::Scrub,
        Route::Logs,
        Route::Analyze,
        Route::Anonymize,
        Route::Health,
        Route::Metrics,
        Route::Other,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Route::Scrub => "/v1/scrub",
            Route::Logs => "/v1/logs",
            Route::Analyze => "/analyze",
            Route::Anonymize => "/anonymize",
            Route::Health => "/health",
            Route::Metrics => "/metrics",
            Route::Other => "other",
        }
    }

    fn of(path: &str) -> Route {
        Route::ALL
            .into_iter()
            .find(|r| *r != Route::Other && r.name() == path)
            .unwrap_or(Route::Other)
    }

    fn method(self) -> Method {
        match self {
            Route::Health | Route::Metrics => Method::GET,
            _ => Method::POST,
        }
    }
}

/// A response being built, with what the log line and metrics need.
pub(super) struct Reply {
    status: StatusCode,
    content_type: HeaderValue,
    body: Bytes,
    headers: Vec<(header::HeaderName, HeaderValue)>,
    bytes_in: u64,
    findings: u64,
}

impl Reply {
    pub(super) fn ok(content_type: HeaderValue, body: impl Into<Bytes>) -> Reply {
        Reply {
            status: StatusCode::OK,
            content_type,
            body: body.into(),
            headers: Vec::new(),
            bytes_in: 0,
            findings: 0,
        }
    }

    /// An error as `{"error": "…"}` (Presidio's shape too). `msg` must hold no request data.
    pub(super) fn error(status: StatusCode, msg: &str) -> Reply {
        let body = serde_json::json!({ "error": msg }).to_string();
        Reply {
            status,
            ..Reply::ok(HeaderValue::from_static("application/json"), body)
        }
    }

    fn header(mut self, name: header::HeaderName, value: &'static str) -> Reply {
        self.headers.push((name, HeaderValue::from_static(value)));
        self
    }

    fn busy(msg: &str) -> Reply {
        Reply::error(StatusCode::SERVICE_UNAVAILABLE, msg).header(header::RETRY_AFTER, "1")
    }
}

/// What a blocking worker made of a body.
pub(super) struct Done {
    pub body: Vec<u8>,
    pub content_type: HeaderValue,
    pub counts: Counts,
}

pub(super) async fn handle(
    app: Arc<App>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let started = Instant::now();
    let route = Route::of(req.uri().path());
    let method = match *req.method() {
        Method::GET => "GET",
        Method::POST => "POST",
        _ => "other",
    };
    let r = dispatch(&app, route, req).await;
    let took = started.elapsed();
    let out = r.body.len() as u64;
    app.metrics
        .request(route, r.status.as_u16(), r.bytes_in, out, took);
    if !app.quiet && route != Route::Health {
        eprintln!(
            "phiscrub serve: {method} {} {} in={} out={out} findings={} {:.2}ms",
            route.name(),
            r.status.as_u16(),
            r.bytes_in,
            r.findings,
            took.as_secs_f64() * 1e3
        );
    }
    let mut resp = Response::new(Full::new(r.body));
    *resp.status_mut() = r.status;
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, r.content_type);
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    for (k, v) in r.headers {
        h.insert(k, v);
    }
    Ok(resp)
}

async fn dispatch(app: &Arc<App>, route: Route, req: Request<Incoming>) -> Reply {
    if route == Route::Other {
        return Reply::error(StatusCode::NOT_FOUND, "no such route");
    }
    if req.method() != route.method() {
        let allow = if route.method() == Method::GET {
            "GET"
        } else {
            "POST"
        };
        return Reply::error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
            .header(header::ALLOW, allow);
    }
    if route != Route::Health {
        if let Some(t) = &app.token {
            let given = req
                .headers()
                .get(header::AUTHORIZATION)
                .map(HeaderValue::as_bytes);
            if !t.accepts(given) {
                return Reply::error(StatusCode::UNAUTHORIZED, "a valid bearer token is required")
                    .header(header::WWW_AUTHENTICATE, "Bearer");
            }
        }
    }
    match route {
        Route::Health => Reply::ok(
            HeaderValue::from_static("text/plain; charset=utf-8"),
            "ok\n",
        ),
        Route::Metrics => {
            let inflight = app.limits.queue.max(1) - app.queue.available_permits();
            Reply::ok(
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
                app.metrics.render(inflight),
            )
        }
        _ => with_body(app, route, req).await,
    }
}

async fn with_body(app: &Arc<App>, route: Route, req: Request<Incoming>) -> Reply {
    let deadline = tokio::time::Instant::now() + app.limits.request_timeout;
    let max = app.limits.max_body;
    let too_large = || {
        Reply::error(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("request body over the limit of {max} bytes (--max-body)"),
        )
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return too_large();
    }
    let Ok(permit) = app.queue.clone().try_acquire_owned() else {
        app.metrics.busy();
        return Reply::busy("too many requests in flight; retry shortly");
    };
    let text_header = |name: header::HeaderName| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let content_type = text_header(header::CONTENT_TYPE);
    let encoding = text_header(header::CONTENT_ENCODING);
    let body = match timeout_at(deadline, Limited::new(req.into_body(), max).collect()).await {
        Err(_) => {
            return Reply::error(
                StatusCode::REQUEST_TIMEOUT,
                "request body not received in time",
            )
        }
        Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => return too_large(),
        Ok(Err(_)) => {
            return Reply::error(
                StatusCode::BAD_REQUEST,
                "the request body could not be read",
            )
        }
        Ok(Ok(c)) => c.to_bytes(),
    };
    let bytes_in = body.len() as u64;
    let Ok(Ok(worker)) = timeout_at(deadline, app.workers.clone().acquire_owned()).await else {
        return Reply::busy("no worker free within the request timeout");
    };
    let app2 = app.clone();
    let job = tokio::task::spawn_blocking(move || {
        let done = match scrub::decode(encoding.as_deref(), &body, app2.limits.max_body) {
            Ok(plain) => work(&app2, route, content_type.as_deref(), &plain),
            Err(e @ scrub::DecodeError::TooLarge(_)) => {
                Err(Reply::error(StatusCode::PAYLOAD_TOO_LARGE, &e.to_string()))
            }
            Err(e @ scrub::DecodeError::Unsupported(_)) => Err(Reply::error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                &e.to_string(),
            )),
            Err(e) => Err(Reply::error(StatusCode::BAD_REQUEST, &e.to_string())),
        };
        drop(worker);
        // The queue place is held until the scrub ends, even if the client has given up.
        (done, permit)
    });
    let mut reply = match timeout_at(deadline, job).await {
        Err(_) => Reply::busy("request timed out"),
        Ok(Err(_)) => Reply::error(StatusCode::INTERNAL_SERVER_ERROR, "internal error"),
        Ok(Ok((Err(r), _))) => r,
        Ok(Ok((Ok(done), permit))) => {
            app.metrics.findings(&done.counts);
            let findings = done.counts.iter().sum();
            let up = match route {
                Route::Logs => app.otlp_upstream.as_ref(),
                Route::Scrub => app.scrub_upstream.as_ref(),
                _ => None,
            };
            let mut r = match up {
                Some(up) => forward(up, done, deadline).await,
                None => Reply::ok(done.content_type, done.body),
            };
            drop(permit);
            r.findings = findings;
            r
        }
    };
    reply.bytes_in = bytes_in;
    reply
}

async fn forward(
    up: &super::upstream::Upstream,
    done: Done,
    deadline: tokio::time::Instant,
) -> Reply {
    let ct = done
        .content_type
        .to_str()
        .unwrap_or("application/x-protobuf")
        .to_string();
    match timeout_at(deadline, up.post(&ct, done.body)).await {
        Err(_) => Reply::error(
            StatusCode::GATEWAY_TIMEOUT,
            "upstream did not answer in time",
        ),
        Ok(Err(msg)) => Reply::error(StatusCode::BAD_GATEWAY, &msg),
        Ok(Ok(rep)) if (200..300).contains(&rep.status) => {
            let ct = rep.content_type.unwrap_or(done.content_type);
            Reply {
                status: StatusCode::from_u16(rep.status).unwrap_or(StatusCode::OK),
                ..Reply::ok(ct, rep.body)
            }
        }
        Ok(Ok(rep)) => Reply::error(
            StatusCode::BAD_GATEWAY,
            &format!("upstream answered {}", rep.status),
        ),
    }
}

/// The blocking part: runs on a worker thread.
fn work(app: &App, route: Route, content_type: Option<&str>, body: &[u8]) -> Result<Done, Reply> {
    let bad = |e: &dyn std::fmt::Display| Reply::error(StatusCode::BAD_REQUEST, &e.to_string());
    match route {
        Route::Scrub => {
            let kind = BodyKind::of(content_type, body);
            let mut counts = [0; Entity::ALL.len()];
            let out = scrub::body(
                &app.engine,
                &app.columns,
                kind,
                body,
                app.subject_column.as_deref(),
                &mut counts,
            )
            .map_err(|e| bad(&e))?;
            let ct = match (
                content_type.and_then(|c| HeaderValue::from_str(c).ok()),
                kind,
            ) {
                (Some(c), _) => c,
                (None, BodyKind::Text) => HeaderValue::from_static("text/plain; charset=utf-8"),
                (None, BodyKind::Ndjson) => HeaderValue::from_static("application/x-ndjson"),
                (None, _) => HeaderValue::from_static("application/json"),
            };
            Ok(Done {
                body: out,
                content_type: ct,
                counts,
            })
        }
        Route::Logs => otlp::handle(
            &app.engine,
            &app.columns,
            &app.text_keys,
            content_type,
            body,
        ),
        Route::Analyze => presidio::analyze(app, body),
        Route::Anonymize => presidio::anonymize(app, body),
        _ => Err(Reply::error(StatusCode::NOT_FOUND, "no such route")),
    }
}
