//! Forwarding scrubbed requests to the next hop (a collector's OTLP/HTTP receiver, a
//! shipper's HTTP source). Only
//! the scrubbed body and its content type go out: the client's `Authorization` header is ours
//! and is never passed on.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::{Request, Uri};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;

/// Largest upstream reply read back (an OTLP export response is a few bytes).
const MAX_REPLY: usize = 1 << 20;

#[derive(Debug)]
pub struct Upstream {
    uri: Uri,
    client: Client<HttpConnector, Full<Bytes>>,
}

/// What the upstream answered.
pub struct Reply {
    pub status: u16,
    pub content_type: Option<hyper::header::HeaderValue>,
    pub body: Bytes,
}

impl Upstream {
    pub fn new(uri: Uri) -> Upstream {
        Upstream {
            uri,
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    /// POSTs `body`. `Err` carries a message for the log (never data): unreachable, or a
    /// reply too large or cut short.
    pub async fn post(&self, content_type: &str, body: Vec<u8>) -> Result<Reply, String> {
        let req = Request::post(self.uri.clone())
            .header(hyper::header::CONTENT_TYPE, content_type)
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| format!("bad upstream request: {e}"))?;
        let resp = self
            .client
            .request(req)
            .await
            .map_err(|e| format!("upstream unreachable: {e}"))?;
        let status = resp.status().as_u16();
        let content_type = resp.headers().get(hyper::header::CONTENT_TYPE).cloned();
        let body = Limited::new(resp.into_body(), MAX_REPLY)
            .collect()
            .await
            .map_err(|e| format!("upstream reply: {e}"))?
            .to_bytes();
        Ok(Reply {
            status,
            content_type,
            body,
        })
    }
}
