//! Podman's remote client starts an exec session (`POST /libpod/exec/{id}/start`) without
//! `Upgrade` headers and then uses the connection as a raw stream, as Podman's Go server
//! hijacks any connection it likes. hyper hands a connection over only for a request that
//! asked for an upgrade, so the first request line of each connection is read here and,
//! for that endpoint, `Upgrade: tcp` and `Connection: Upgrade` are added after it. The
//! client opens a fresh connection for the start (its own transport), so only a
//! connection's first request needs looking at.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A request line longer than this is passed on as it is (hyper refuses it anyway).
const MAX_LINE: usize = 8192;

const HINT: &[u8] = b"Upgrade: tcp\r\nConnection: Upgrade\r\n";

/// Whether a request line is libpod's exec start (`POST /v4.3.1/libpod/exec/ID/start …`).
pub fn wants_hijack(line: &[u8]) -> bool {
    let Ok(line) = std::str::from_utf8(line) else {
        return false;
    };
    let mut parts = line.split(' ');
    let (Some("POST"), Some(target)) = (parts.next(), parts.next()) else {
        return false;
    };
    let path = target.split('?').next().unwrap_or(target);
    let Some(rest) = crate::libpod::libpod_path(path) else {
        return false;
    };
    let segs: Vec<&str> = rest.trim_matches('/').split('/').collect();
    matches!(segs.as_slice(), ["exec", id, "start"] if !id.is_empty())
}

/// The connection, its first request line looked at (and the hint added) before hyper reads.
pub struct FirstLine<T> {
    inner: T,
    /// Bytes read while looking for the first line, then handed out.
    pending: Vec<u8>,
    /// `None` until the first line was seen (or the look was given up).
    decided: bool,
}

impl<T> FirstLine<T> {
    pub fn new(inner: T) -> Self {
        FirstLine {
            inner,
            pending: Vec::new(),
            decided: false,
        }
    }

    /// Once the buffer holds the first line (or enough to give up), rewrite it if needed.
    fn decide(&mut self, eof: bool) {
        if let Some(end) = self.pending.windows(2).position(|w| w == b"\r\n") {
            if wants_hijack(&self.pending[..end]) {
                let at = end + 2;
                self.pending.splice(at..at, HINT.iter().copied());
            }
            self.decided = true;
        } else if eof || self.pending.len() > MAX_LINE {
            self.decided = true;
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for FirstLine<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        while !this.decided {
            let mut chunk = [0u8; 1024];
            let mut rb = ReadBuf::new(&mut chunk);
            match Pin::new(&mut this.inner).poll_read(cx, &mut rb) {
                Poll::Ready(Ok(())) => {
                    let got = rb.filled();
                    let eof = got.is_empty();
                    this.pending.extend_from_slice(got);
                    this.decide(eof);
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        if !this.pending.is_empty() {
            let n = this.pending.len().min(buf.remaining());
            buf.put_slice(&this.pending[..n]);
            this.pending.drain(..n);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for FirstLine<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    #[test]
    fn finds_libpods_exec_start() {
        assert!(wants_hijack(b"POST /v4.3.1/libpod/exec/abc/start HTTP/1.1"));
        assert!(wants_hijack(b"POST /libpod/exec/abc/start?x=1 HTTP/1.1"));
        assert!(!wants_hijack(b"POST /v1.41/exec/abc/start HTTP/1.1"));
        assert!(!wants_hijack(b"GET /v4.3.1/libpod/exec/abc/json HTTP/1.1"));
        assert!(!wants_hijack(b"POST /v4.3.1/libpod/exec//start HTTP/1.1"));
    }

    #[test]
    fn adds_the_hint_after_the_first_line_only() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let read_all = |input: &'static [u8]| {
            rt.block_on(async {
                let mut c = FirstLine::new(input);
                let mut out = Vec::new();
                c.read_to_end(&mut out).await.unwrap();
                String::from_utf8(out).unwrap()
            })
        };
        let got = read_all(b"POST /v4.3.1/libpod/exec/i/start HTTP/1.1\r\nHost: d\r\n\r\n{}");
        assert_eq!(
            got,
            "POST /v4.3.1/libpod/exec/i/start HTTP/1.1\r\nUpgrade: tcp\r\nConnection: Upgrade\r\nHost: d\r\n\r\n{}"
        );
        let plain = "GET /_ping HTTP/1.1\r\nHost: d\r\n\r\nPOST /libpod/exec/i/start HTTP/1.1\r\n";
        assert_eq!(read_all(plain.as_bytes()), plain);
        assert_eq!(
            read_all(b"POST /libpod/exec/i/st"),
            "POST /libpod/exec/i/st"
        );
    }
}
