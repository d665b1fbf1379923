//! The HTTP accept loop: plain or TLS (rustls), a cap on open connections in all and
//! per client address, deadlines for the TLS handshake and for each request's headers
//! (hyper's timer), and a graceful stop: open connections finish their request.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_util::task::TaskTracker;
use tower_service::Service;

use crate::auth::addr::{Cidr, Connections};

/// Bounds of one listener.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Open connections in all.
    pub max_connections: usize,
    /// Open connections from one source (an IPv6 client by its /64).
    pub per_address: usize,
    /// Deadline of the TLS handshake and of each request's headers.
    pub header_read: Duration,
    /// Peers that `per_address` does not bind: trusted proxies speak for many clients.
    pub unbounded: Vec<Cidr>,
}

/// Serves `app` on `listener` until `stop` turns true, then lets open connections
/// finish their request. With `tls`, every connection is HTTPS.
pub fn spawn(
    listener: TcpListener,
    app: Router,
    tls: Option<TlsAcceptor>,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let open = Connections::new(
            limits.max_connections,
            limits.per_address,
            limits.unbounded.clone(),
        );
        let connections = TaskTracker::new();
        loop {
            let (stream, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // Out of descriptors, most likely: let some close.
                        tracing::warn!(error = %e, "http: accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                () = stopped(&mut stop) => break,
            };
            let Some(slot) = open.admit(peer.ip()) else {
                tracing::debug!(peer = %peer.ip(), "http: too many open connections, one closed");
                continue;
            };
            let _ = stream.set_nodelay(true);
            let (app, tls, stop) = (app.clone(), tls.clone(), stop.clone());
            let header_read = limits.header_read;
            connections.spawn(async move {
                let _slot = slot;
                let Some(tls) = tls else {
                    return serve(stream, app, peer, header_read, stop).await;
                };
                match tokio::time::timeout(header_read, tls.accept(stream)).await {
                    Ok(Ok(stream)) => serve(stream, app, peer, header_read, stop).await,
                    Ok(Err(e)) => {
                        tracing::debug!(peer = %peer.ip(), error = %e, "https: handshake failed")
                    }
                    Err(_) => tracing::debug!(peer = %peer.ip(), "https: handshake too slow"),
                }
            });
        }
        connections.close();
        connections.wait().await;
    })
}

/// Resolves when `stop` turns true (at once if it is).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// One connection: HTTP/1.1 with keep-alive, each request told its peer.
async fn serve<I>(
    io: I,
    app: Router,
    peer: SocketAddr,
    header_read: Duration,
    mut stop: watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        // A Router is always ready: no need to poll it first.
        let mut app = app.clone();
        async move { app.call(request.map(Body::new)).await }
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_read);
    let connection = builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(connection);
    tokio::select! {
        done = connection.as_mut() => {
            if let Err(e) = done {
                tracing::debug!(peer = %peer.ip(), error = %e, "http: connection ended");
            }
        }
        () = stopped(&mut stop) => {
            connection.as_mut().graceful_shutdown();
            let _ = connection.as_mut().await;
        }
    }
}
