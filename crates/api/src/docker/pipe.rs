//! Byte pipes between hyper's async bodies and the engine's blocking `Read`/`Write` calls:
//! a response body fed by a writer (archive GET, export, save) and a request body read as
//! a reader (archive PUT, load). Both hold at most a few chunks in memory: a slow reader on
//! either side makes the other wait, so a big body is never held whole.

use std::io::{self, Read, Write};

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tokio::sync::mpsc;

/// Chunks a writer hands to the response body at once.
const CHUNK: usize = 64 << 10;
/// Chunks in flight between the two sides.
const DEPTH: usize = 8;

/// A `Write` whose bytes become a streamed response body (call from a blocking thread).
pub struct ChanWriter {
    tx: mpsc::Sender<Bytes>,
    buf: Vec<u8>,
}

impl ChanWriter {
    /// The writer and the receiver to give [`crate::http::Body::Stream`].
    pub fn new() -> (ChanWriter, mpsc::Receiver<Bytes>) {
        let (tx, rx) = mpsc::channel(DEPTH);
        (
            ChanWriter {
                tx,
                buf: Vec::with_capacity(CHUNK),
            },
            rx,
        )
    }

    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.tx
            .blocking_send(chunk)
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the client went away"))
    }
}

impl Write for ChanWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send()
    }
}

impl Drop for ChanWriter {
    fn drop(&mut self) {
        let _ = self.send();
    }
}

/// A `Read` over a request body (call from a blocking thread); the body is pumped by a
/// task on the runtime, a chunk at a time.
pub struct BodyReader {
    rx: mpsc::Receiver<io::Result<Bytes>>,
    cur: Bytes,
}

impl BodyReader {
    /// Starts pumping `body` (must run inside the tokio runtime).
    pub fn spawn(body: Incoming) -> BodyReader {
        let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(DEPTH);
        tokio::spawn(async move {
            let mut body = body;
            while let Some(frame) = body.frame().await {
                let item = match frame {
                    Ok(f) => match f.into_data() {
                        Ok(d) => Ok(d),
                        Err(_) => continue, // trailers
                    },
                    Err(e) => Err(io::Error::other(format!("reading the request body: {e}"))),
                };
                let failed = item.is_err();
                if tx.send(item).await.is_err() || failed {
                    return;
                }
            }
        });
        BodyReader {
            rx,
            cur: Bytes::new(),
        }
    }
}

impl Read for BodyReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.cur.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(b)) => self.cur = b,
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = out.len().min(self.cur.len());
        out[..n].copy_from_slice(&self.cur[..n]);
        let _ = self.cur.split_to(n);
        Ok(n)
    }
}
