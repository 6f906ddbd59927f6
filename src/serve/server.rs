//! The accept loop: one task per connection (plain or TLS), a cap on open connections, and a
//! graceful shutdown on SIGTERM/SIGINT that stops accepting, closes idle keep-alive
//! connections and waits (up to `shutdown_timeout`) for requests in flight.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::rustls;
use tokio_rustls::TlsAcceptor;

use super::{routes, upstream, App, Config, ServeError, TlsFiles};
use crate::pipeline::Engine;

/// How long a client may take to send its request headers (slow-loris guard) or finish a TLS
/// handshake.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves until SIGTERM or SIGINT, then finishes in-flight requests. `ready` gets the bound
/// address once the socket listens (the CLI prints it, so `--listen 127.0.0.1:0` is usable).
///
/// # Errors
/// The socket cannot be bound, the TLS files are unusable, or the runtime cannot start.
pub fn run(
    engine: Engine,
    config: Config,
    ready: impl FnOnce(std::net::SocketAddr),
) -> Result<(), ServeError> {
    let tls = config.tls.as_ref().map(acceptor).transpose()?;
    let limits = config.limits;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(limits.workers.clamp(1, 4))
        .thread_name("phiscrub-serve")
        .enable_all()
        .build()
        .map_err(ServeError::Runtime)?;
    let app = Arc::new(App {
        otlp_upstream: config.otlp_upstream.clone().map(upstream::Upstream::new),
        scrub_upstream: config.scrub_upstream.clone().map(upstream::Upstream::new),
        engine,
        columns: config.columns,
        token: config.token,
        limits,
        metrics: Default::default(),
        queue: Arc::new(Semaphore::new(limits.queue.max(1))),
        workers: Arc::new(Semaphore::new(limits.workers.max(1))),
        presidio: super::presidio::Names::builtin(),
        text_keys: super::otlp::TextKeys::builtin(),
        subject_column: config.subject_column,
        quiet: config.quiet,
    });
    let result = rt.block_on(async {
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| ServeError::Bind {
                    addr: config.listen,
                    source,
                })?;
        let addr = listener.local_addr().map_err(|source| ServeError::Bind {
            addr: config.listen,
            source,
        })?;
        ready(addr);
        accept_loop(app, listener, tls, shutdown_signal()).await;
        Ok(())
    });
    // Scrubs still running past the shutdown deadline are abandoned with the process.
    rt.shutdown_timeout(Duration::from_secs(1));
    result
}

async fn accept_loop(
    app: Arc<App>,
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    shutdown: impl Future<Output = ()>,
) {
    let graceful = GracefulShutdown::new();
    let conns = Arc::new(Semaphore::new(app.limits.max_connections.max(1)));
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            p = conns.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let stream = tokio::select! {
            r = listener.accept() => match r {
                Ok((s, _)) => s,
                Err(e) => {
                    // Out of file descriptors and the like: wait a little rather than spin.
                    if !app.quiet {
                        eprintln!("phiscrub serve: accept failed: {e}");
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let app2 = app.clone();
        let svc = service_fn(move |req| routes::handle(app2.clone(), req));
        let mut builder = http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_TIMEOUT)
            .max_buf_size(64 << 10);
        let watcher = graceful.watcher();
        let tls = tls.clone();
        tokio::spawn(async move {
            let _permit = permit;
            match tls {
                None => {
                    let conn = builder.serve_connection(TokioIo::new(stream), svc);
                    let _ = watcher.watch(conn).await;
                }
                Some(acceptor) => {
                    let Ok(Ok(stream)) =
                        tokio::time::timeout(HEADER_TIMEOUT, acceptor.accept(stream)).await
                    else {
                        return;
                    };
                    let conn = builder.serve_connection(TokioIo::new(stream), svc);
                    let _ = watcher.watch(conn).await;
                }
            }
        });
    }
    drop(listener);
    if !app.quiet {
        eprintln!("phiscrub serve: shutting down, finishing requests in flight");
    }
    if tokio::time::timeout(app.limits.shutdown_timeout, graceful.shutdown())
        .await
        .is_err()
        && !app.quiet
    {
        eprintln!("phiscrub serve: shutdown deadline passed; closing the remaining connections");
    }
}

/// Resolves on the first SIGTERM or SIGINT.
async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let term = signal(SignalKind::terminate());
    let int = signal(SignalKind::interrupt());
    match (term, int) {
        (Ok(mut t), Ok(mut i)) => {
            tokio::select! {
                _ = t.recv() => {},
                _ = i.recv() => {},
            }
        }
        // No signal handling: serve until killed.
        _ => std::future::pending().await,
    }
}

fn acceptor(files: &TlsFiles) -> Result<TlsAcceptor, ServeError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .and_then(|it| it.collect::<Result<_, _>>())
        .map_err(|e| ServeError::Tls(format!("certificate {}: {e}", files.cert.display())))?;
    if certs.is_empty() {
        return Err(ServeError::Tls(format!(
            "no certificate in {}",
            files.cert.display()
        )));
    }
    // The key's own parse error could quote key material; say only which file failed.
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|_| {
        ServeError::Tls(format!(
            "no usable PEM private key in {}",
            files.key.display()
        ))
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ServeError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| ServeError::Tls(format!("certificate and key do not fit: {e}")))?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(cfg)))
}
