//! The socket side: accept, TLS (LDAPS from the first byte, or after StartTLS), frame
//! messages with the ldap3_proto codec, and pass each to the handler. Thin on purpose.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use ldap3_proto::LdapCodec;
use ldap3_proto::proto::{LdapMsg, LdapResultCode};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_util::bytes::BytesMut;
use tokio_util::codec::Framed;
use tokio_util::codec::{Decoder, Encoder};
use tracing::Instrument;

use super::ops::{After, Reply, notice_of_disconnection};
use super::{Face, MAX_BER_DEPTH, Session};

/// ldap3_proto's codec for what clients send; for what we send, its encoder or the
/// bytes a search already encoded.
struct Wire(LdapCodec);

impl Decoder for Wire {
    type Item = LdapMsg;
    type Error = std::io::Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<LdapMsg>, std::io::Error> {
        self.0.decode(src)
    }
}

impl Encoder<Reply> for Wire {
    type Error = std::io::Error;

    fn encode(&mut self, reply: Reply, dst: &mut BytesMut) -> Result<(), std::io::Error> {
        match reply {
            Reply::Message(m) => self.0.encode(m, dst),
            Reply::Encoded(bytes) => {
                dst.extend_from_slice(&bytes);
                Ok(())
            }
        }
    }
}

/// Longest TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs an LDAP listener until `stop` turns true. With `implicit_tls`, every
/// connection starts with a TLS handshake (LDAPS); otherwise `tls` serves StartTLS.
pub fn spawn(
    listener: TcpListener,
    face: Arc<Face>,
    tls: Option<TlsAcceptor>,
    implicit_tls: bool,
    mut stop: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                _ = stop.wait_for(|s| *s) => return,
                a = listener.accept() => a,
            };
            let (tcp, peer) = match accepted {
                Ok(x) => x,
                Err(e) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::warn!(error = %e, "ldap: accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let Some(slot) = face.connections.admit(peer.ip()) else {
                tracing::debug!(%peer, "ldap: too many open connections, one closed");
                continue;
            };
            let face = Arc::clone(&face);
            let tls = tls.clone();
            let stop = stop.clone();
            // Every line a connection logs names it (`connection`, `peer`), as a request
            // id does over HTTP; at the highest level, so that the span is on whenever
            // any line is logged.
            let span = tracing::error_span!(
                "ldap",
                connection = %uuid::Uuid::new_v4().simple(),
                peer = %peer.ip()
            );
            tokio::spawn(
                async move {
                    face.metrics.ldap_connection(true);
                    connection(tcp, peer, &face, tls, implicit_tls, stop).await;
                    face.metrics.ldap_connection(false);
                    drop(slot);
                }
                .instrument(span),
            );
        }
    })
}

async fn connection(
    tcp: TcpStream,
    peer: SocketAddr,
    face: &Face,
    tls: Option<TlsAcceptor>,
    implicit_tls: bool,
    mut stop: watch::Receiver<bool>,
) {
    let _ = tcp.set_nodelay(true);
    let mut session = Session::new(peer.ip(), implicit_tls, tls.is_some());
    let bind_by = Instant::now() + face.limits().bind_timeout;
    let plain = if implicit_tls {
        Some(tcp)
    } else {
        match run(tcp, face, &mut session, bind_by, &mut stop).await {
            Some(tcp) => Some(tcp),
            None => return,
        }
    };
    // Here for LDAPS, or after a StartTLS response: TLS from now on.
    let (Some(tcp), Some(acceptor)) = (plain, tls) else {
        return;
    };
    let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            tracing::debug!(%peer, error = %e, "ldap: TLS handshake failed");
            return;
        }
        Err(_) => return,
    };
    session.tls = true;
    // A second StartTLS is refused by the handler, so `run` returns None here.
    let _ = run(stream, face, &mut session, bind_by, &mut stop).await;
}

/// Serves one stream until it ends; returns it when the client asked for StartTLS.
/// Until a person or an application has bound, the connection lives until `bind_by`
/// at most: unauthenticated connections cannot be held open for long.
async fn run<S: AsyncRead + AsyncWrite + Unpin>(
    io: S,
    face: &Face,
    session: &mut Session,
    bind_by: Instant,
    stop: &mut watch::Receiver<bool>,
) -> Option<S> {
    let limits = face.limits();
    let codec = Wire(LdapCodec::new(
        Some(limits.max_message_bytes),
        Some(MAX_BER_DEPTH),
    ));
    let mut framed = Framed::new(io, codec);
    loop {
        // Past the bind deadline nothing more is read: a client that keeps requests
        // queued ahead cannot outlive it either.
        if !session.authenticated() && Instant::now() >= bind_by {
            return None;
        }
        let next = tokio::select! {
            stopping = stop.wait_for(|s| *s) => {
                drop(stopping);
                None
            }
            n = tokio::time::timeout(wait(session, limits, bind_by), framed.next()) => Some(n),
        };
        let Some(next) = next else {
            let bye =
                notice_of_disconnection(LdapResultCode::Unavailable, "the server is stopping");
            let _ = send(&mut framed, vec![Reply::Message(bye)], limits.idle_timeout).await;
            return None;
        };
        let msg = match next {
            Err(_idle) => return None,
            Ok(None) => return None,
            Ok(Some(Err(e))) => {
                tracing::debug!(peer = %session.peer, error = %e, "ldap: undecodable message");
                let bye = notice_of_disconnection(
                    LdapResultCode::ProtocolError,
                    "malformed or oversized LDAP message",
                );
                let _ = send(&mut framed, vec![Reply::Message(bye)], limits.idle_timeout).await;
                return None;
            }
            Ok(Some(Ok(msg))) => msg,
        };
        let kind = super::ops::kind_of(&msg.op);
        let start = std::time::Instant::now();
        let answer = face.handle(session, msg).await;
        face.metrics
            .ldap_operation(kind, answer.succeeded(), start.elapsed().as_secs_f64());
        if send(&mut framed, answer.messages, limits.idle_timeout)
            .await
            .is_err()
        {
            return None;
        }
        match answer.after {
            // Operations are answered one at a time, and each connection gives the
            // others a turn after each: a client pipelining costly searches does not
            // starve the rest.
            After::Continue => tokio::task::yield_now().await,
            After::Close => return None,
            After::StartTls => {
                let parts = framed.into_parts();
                // Anything the client sent before the handshake would be read in clear.
                return parts.read_buf.is_empty().then_some(parts.io);
            }
        }
    }
}

/// How long the next message may take: the idle timeout, and before a bind no
/// longer than the bind deadline.
fn wait(session: &Session, limits: &super::Limits, bind_by: Instant) -> Duration {
    match session.authenticated() {
        true => limits.idle_timeout,
        false => bind_by
            .saturating_duration_since(Instant::now())
            .min(limits.idle_timeout),
    }
}

/// Writes messages; a client that does not read in time is dropped.
async fn send<S: AsyncRead + AsyncWrite + Unpin>(
    framed: &mut Framed<S, Wire>,
    messages: Vec<Reply>,
    timeout: Duration,
) -> Result<(), ()> {
    let write = async {
        for m in messages {
            framed.feed(m).await?;
        }
        framed.flush().await
    };
    match tokio::time::timeout(timeout, write).await {
        Ok(Ok(())) => Ok(()),
        _ => Err(()),
    }
}
