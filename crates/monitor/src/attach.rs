//! The `attach` socket: a SEQPACKET listener in the bundle; every chunk of container output
//! goes to every client as one packet `[stream id][bytes]`; client bytes (no prefix) go to
//! the container's stdin. A client that misbehaves is dropped, never the monitor.

use std::collections::VecDeque;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{OFlag, open};
use nix::sys::socket::{
    AddressFamily, Backlog, MsgFlags, Shutdown, SockFlag, SockType, UnixAddr, accept4, bind,
    listen, recv, send, shutdown, socket,
};
use nix::sys::stat::Mode;

use crate::sys::own_fd;

/// Output queued for one slow client before it is dropped.
const CLIENT_QUEUE_MAX: usize = 4 << 20;

#[derive(Debug, thiserror::Error)]
#[error("{what} {path}: {source}")]
pub struct AttachError {
    what: &'static str,
    path: PathBuf,
    source: Errno,
}

/// One connected client.
#[derive(Debug)]
pub struct Client {
    fd: OwnedFd,
    /// Still reading input from it (it has not shut down its write side).
    pub readable: bool,
    /// Still sending output to it.
    pub writable: bool,
    queue: VecDeque<Vec<u8>>,
    queued: usize,
}

impl Client {
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    pub fn wants_write(&self) -> bool {
        self.writable && !self.queue.is_empty()
    }

    fn stop_writing(&mut self) {
        let _ = shutdown(self.fd.as_raw_fd(), Shutdown::Write);
        self.writable = false;
        self.queue.clear();
        self.queued = 0;
    }

    /// Send queued packets until the socket would block.
    pub fn flush(&mut self) {
        while let Some(p) = self.queue.front() {
            match send(
                self.fd.as_raw_fd(),
                p,
                MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_NOSIGNAL,
            ) {
                Ok(_) => {
                    self.queued -= p.len();
                    self.queue.pop_front();
                }
                Err(Errno::EAGAIN) => return,
                Err(Errno::EINTR) => {}
                Err(_) => return self.stop_writing(),
            }
        }
    }

    fn push(&mut self, packet: &[u8]) {
        if !self.writable {
            return;
        }
        if self.queue.is_empty() {
            match send(
                self.fd.as_raw_fd(),
                packet,
                MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_NOSIGNAL,
            ) {
                Ok(_) => return,
                Err(Errno::EAGAIN) => {}
                Err(_) => return self.stop_writing(),
            }
        }
        if self.queued + packet.len() > CLIENT_QUEUE_MAX {
            return self.stop_writing();
        }
        self.queued += packet.len();
        self.queue.push_back(packet.to_vec());
    }

    /// Read what the client sent. `Ok(None)`: it shut down its write side or hung up.
    pub fn read(&mut self, buf: &mut [u8]) -> Result<Option<usize>, Errno> {
        match recv(self.fd.as_raw_fd(), buf, MsgFlags::MSG_DONTWAIT) {
            Ok(0) => {
                let _ = shutdown(self.fd.as_raw_fd(), Shutdown::Read);
                self.readable = false;
                Ok(None)
            }
            Ok(n) => Ok(Some(n)),
            Err(e) => Err(e),
        }
    }
}

/// The listening socket and its clients.
#[derive(Debug)]
pub struct AttachServer {
    listener: OwnedFd,
    pub clients: Vec<Client>,
}

impl AttachServer {
    /// Bind `<dir>/attach` (through `/proc/self/fd/<dirfd>/attach`, so long paths work),
    /// mode 0700, backlog 10.
    pub fn bind(dir: &Path) -> Result<AttachServer, AttachError> {
        let err = |what, source| AttachError {
            what,
            path: dir.join("attach"),
            source,
        };
        let dirfd = open(
            dir,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| err("opening the directory of attach socket", e))?;
        let short = PathBuf::from(format!("/proc/self/fd/{}/attach", dirfd.as_raw_fd()));
        match std::fs::remove_file(&short) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(err(
                    "removing old attach socket",
                    Errno::from_raw(e.raw_os_error().unwrap_or(0)),
                ));
            }
            _ => {}
        }
        let listener = socket(
            AddressFamily::Unix,
            SockType::SeqPacket,
            SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
            None,
        )
        .map_err(|e| err("creating attach socket", e))?;
        let addr = UnixAddr::new(&short).map_err(|e| err("naming attach socket", e))?;
        bind(listener.as_raw_fd(), &addr).map_err(|e| err("binding attach socket", e))?;
        nix::sys::stat::fchmodat(
            &dirfd,
            "attach",
            Mode::from_bits_truncate(0o700),
            nix::sys::stat::FchmodatFlags::FollowSymlink,
        )
        .map_err(|e| err("setting mode of attach socket", e))?;
        listen(&listener, Backlog::new(10).expect("10 is a valid backlog"))
            .map_err(|e| err("listening on attach socket", e))?;
        Ok(AttachServer {
            listener,
            clients: Vec::new(),
        })
    }

    pub fn listener(&self) -> BorrowedFd<'_> {
        self.listener.as_fd()
    }

    /// Accept every pending connection.
    pub fn accept(&mut self) {
        loop {
            match accept4(
                self.listener.as_raw_fd(),
                SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
            ) {
                Ok(raw) => self.clients.push(Client {
                    fd: own_fd(raw),
                    readable: true,
                    writable: true,
                    queue: VecDeque::new(),
                    queued: 0,
                }),
                Err(Errno::EINTR) => {}
                Err(_) => return,
            }
        }
    }

    /// Send one chunk of container output to every client.
    pub fn broadcast(&mut self, stream: u8, data: &[u8]) {
        if self.clients.is_empty() {
            return;
        }
        let mut packet = Vec::with_capacity(data.len() + 1);
        packet.push(stream);
        packet.extend_from_slice(data);
        for c in &mut self.clients {
            c.push(&packet);
        }
        // No gc here: the event loop holds client indices from its poll set while it relays
        // output, and collects dead clients itself once per iteration.
    }

    /// Drop clients we can neither read from nor write to.
    pub fn gc(&mut self) {
        self.clients.retain(|c| c.readable || c.writable);
    }

    /// Try for up to `timeout_ms` to hand every client its queued output (before exit).
    pub fn flush_all(&mut self, timeout_ms: u16) {
        use nix::poll::{PollFd, PollFlags, poll};
        let deadline =
            std::time::Instant::now() + std::time::Duration::from_millis(timeout_ms.into());
        loop {
            for c in &mut self.clients {
                c.flush();
            }
            let waiting: Vec<&Client> = self.clients.iter().filter(|c| c.wants_write()).collect();
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if waiting.is_empty() || left.is_zero() {
                return;
            }
            let mut fds: Vec<PollFd> = waiting
                .iter()
                .map(|c| PollFd::new(c.fd(), PollFlags::POLLOUT))
                .collect();
            let ms = u16::try_from(left.as_millis()).unwrap_or(u16::MAX);
            let _ = poll(&mut fds, ms);
        }
    }
}
