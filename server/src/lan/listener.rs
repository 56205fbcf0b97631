//! The server's listener: plain TCP, or — when it has a certificate — TLS and plain HTTP told
//! apart on the same port by the first byte a client sends (a TLS handshake starts with 0x16).
//!
//! Plain HTTP is served to this machine only (a browser here may use `http://localhost`, a
//! secure context, without a certificate warning); anyone else asking in plain HTTP is sent
//! to the `https://` address of what they asked for. Handshakes run in tasks of their own, so
//! a slow or silent client never holds up the next one.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// How long a client may take to say which protocol it speaks and finish a TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest plain request head read before it is redirected.
const MAX_REDIRECT_HEAD: usize = 8 * 1024;
/// Connections handshaken and waiting for the HTTP server to take them.
const READY_QUEUE: usize = 64;
/// Handshakes in progress at once; more connections wait in the kernel's backlog, so silent
/// sockets cannot use up this process's descriptors.
const HANDSHAKES: usize = 256;

/// One accepted connection.
pub enum Conn {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl Conn {
    pub fn set_nodelay(&self) {
        let tcp = match self {
            Conn::Plain(s) => s,
            Conn::Tls(s) => s.get_ref().0,
        };
        let _ = tcp.set_nodelay(true);
    }
}

pub struct ServeListener {
    ready: mpsc::Receiver<(Conn, SocketAddr)>,
    local: SocketAddr,
    accepting: tokio::task::JoinHandle<()>,
}

impl ServeListener {
    /// Serves `listener`; with `tls`, also HTTPS on the same port.
    pub fn new(listener: TcpListener, tls: Option<TlsAcceptor>) -> io::Result<Self> {
        let local = listener.local_addr()?;
        let (tx, ready) = mpsc::channel(READY_QUEUE);
        let accepting = tokio::spawn(accept_loop(listener, tls, tx));
        Ok(Self {
            ready,
            local,
            accepting,
        })
    }
}

impl Drop for ServeListener {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

impl axum::serve::Listener for ServeListener {
    type Io = Conn;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Conn, SocketAddr) {
        match self.ready.recv().await {
            Some(c) => c,
            // The accept loop only ends with the listener; nothing more will come.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.local)
    }
}

async fn accept_loop(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    ready: mpsc::Sender<(Conn, SocketAddr)>,
) {
    let handshakes = std::sync::Arc::new(tokio::sync::Semaphore::new(HANDSHAKES));
    loop {
        let Ok(permit) = handshakes.clone().acquire_owned().await else {
            return;
        };
        let (stream, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                // Out of descriptors and the like: wait rather than spin.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Some(acceptor) = tls.clone() else {
            if ready.send((Conn::Plain(stream), peer)).await.is_err() {
                return;
            }
            continue;
        };
        let ready = ready.clone();
        tokio::spawn(async move {
            let _permit = permit;
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, classify(stream, peer, acceptor)).await {
                Ok(Ok(Some(conn))) => {
                    let _ = ready.send((conn, peer)).await;
                }
                Ok(Ok(None)) => {}
                Ok(Err(e)) => tracing::debug!(%peer, error = %e, "connection refused"),
                Err(_) => tracing::debug!(%peer, "handshake timed out"),
            }
        });
    }
}

/// TLS, plain HTTP from this machine, or a redirect to HTTPS for anyone else (`None`).
async fn classify(
    mut stream: TcpStream,
    peer: SocketAddr,
    acceptor: TlsAcceptor,
) -> io::Result<Option<Conn>> {
    let mut first = [0u8; 1];
    if stream.peek(&mut first).await? == 0 {
        return Ok(None);
    }
    if first[0] == 0x16 {
        return Ok(Some(Conn::Tls(Box::new(acceptor.accept(stream).await?))));
    }
    if peer.ip().is_loopback() || peer.ip().to_canonical().is_loopback() {
        return Ok(Some(Conn::Plain(stream)));
    }
    redirect_to_https(&mut stream).await?;
    Ok(None)
}

/// Answers a plain request with 308 to the same host and path over HTTPS.
async fn redirect_to_https(stream: &mut TcpStream) -> io::Result<()> {
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < MAX_REDIRECT_HEAD {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let response = match redirect_location(&String::from_utf8_lossy(&head)) {
        Some(location) => format!(
            "HTTP/1.1 308 Permanent Redirect\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        ),
        None => "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            .to_owned(),
    };
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}

/// `https://HOST/PATH` for a plain request head, from its request line and Host header.
fn redirect_location(head: &str) -> Option<String> {
    let mut lines = head.split("\r\n");
    let path = lines.next()?.split(' ').nth(1)?;
    if !path.starts_with('/') {
        return None;
    }
    let host = lines.find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("host")
            .then(|| value.trim())
    })?;
    let safe = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_graphic());
    (safe(host) && safe(path)).then(|| format!("https://{host}{path}"))
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_flush(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Conn::Plain(s) => s.is_write_vectored(),
            Conn::Tls(s) => s.is_write_vectored(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::redirect_location;

    #[test]
    fn plain_requests_are_sent_to_the_same_place_over_https() {
        assert_eq!(
            redirect_location("GET /m/abc-defg-hij HTTP/1.1\r\nHost: 10.0.0.5:8080\r\n\r\n")
                .as_deref(),
            Some("https://10.0.0.5:8080/m/abc-defg-hij")
        );
        assert_eq!(
            redirect_location("GET / HTTP/1.1\r\nhost:  parlor.local:8080 \r\n\r\n").as_deref(),
            Some("https://parlor.local:8080/")
        );
        assert_eq!(redirect_location("GET / HTTP/1.1\r\n\r\n"), None, "no Host");
        assert_eq!(
            redirect_location("GET http://x/ HTTP/1.1\r\nHost: a\r\n\r\n"),
            None
        );
        assert_eq!(
            redirect_location("GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n"),
            None
        );
    }
}
