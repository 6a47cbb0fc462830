//! The client side of the monitor's attach socket (conmon's framing): packets from the
//! monitor start with one byte naming the stream; bytes we send go to the container's stdin.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;

use nix::sys::socket::{AddressFamily, SockFlag, SockType, UnixAddr, connect, socket};
use peapod_monitor::{STREAM_STDERR, STREAM_STDOUT};

use super::Status;
use crate::Engine;
use crate::error::{Error, Result};

impl Engine {
    /// Connect to a container's attach socket. The path can be longer than `sun_path`, so
    /// connect through `/proc/self/fd/N/attach` of the bundle directory, as Podman does.
    pub fn attach_socket(&self, id: &str) -> Result<UnixStream> {
        attach_socket_in(&self.paths.bundle(id), id)
    }

    /// `attach`: connect to a running container's output (an `attach` event).
    pub fn attach_container(&self, c: &crate::container::Container) -> Result<UnixStream> {
        let s = self.attach_socket(c.id())?;
        self.emit_container(c, "attach");
        Ok(s)
    }

    /// Set the terminal size of a running container with a tty (`resize`).
    pub fn resize_container(&self, reference: &str, rows: u16, cols: u16) -> Result<()> {
        let c = self.container(reference)?;
        if !matches!(c.state.status, Status::Running | Status::Paused) {
            return Err(Error::BadState {
                id: c.id().to_string(),
                state: c.state.status.to_string(),
                what: format!("container {} is not running: cannot resize", c.id()),
            });
        }
        if !c.config.tty {
            return Err(Error::invalid(format!(
                "container {} has no terminal to resize",
                c.id()
            )));
        }
        resize_tty(&self.attach_ctl_path(c.id()), rows, cols)
    }
}

/// Tell a monitor a terminal's size: `1 ROWS COLS\n` on its `ctl` fifo (a container's, or
/// an exec session's). The open does not block: with no monitor reading it fails.
pub fn resize_tty(ctl: &std::path::Path, rows: u16, cols: u16) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(ctl)
        .map_err(|e| Error::io("opening the terminal control fifo", ctl, e))?;
    f.write_all(format!("1 {rows} {cols}\n").as_bytes())
        .map_err(|e| Error::io("writing the terminal size to", ctl, e))
}

/// Connect to the `attach` socket in `dir` (a container's bundle or an exec session's dir).
pub(crate) fn attach_socket_in(bundle: &std::path::Path, id: &str) -> Result<UnixStream> {
    let dir = File::open(bundle).map_err(|e| Error::io("opening bundle", bundle, e))?;
    let path = format!("/proc/self/fd/{}/attach", dir.as_raw_fd());
    let sock: OwnedFd = socket(
        AddressFamily::Unix,
        SockType::SeqPacket,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(|e| Error::other(format!("attach socket: {e}")))?;
    let addr = UnixAddr::new(path.as_str())
        .map_err(|e| Error::other(format!("attach socket address: {e}")))?;
    connect(sock.as_raw_fd(), &addr)
        .map_err(|e| Error::other(format!("connecting to the attach socket of {id}: {e}")))?;
    // A SEQPACKET socket reads and writes with the same calls as a stream.
    Ok(UnixStream::from(sock))
}

/// The most stdin bytes to write to an attach socket at once: the monitor reads packets
/// of this size from its SEQPACKET socket, and a longer one would be cut.
pub const STDIN_PACKET: usize = peapod_monitor::STDIO_BUF_SIZE;

/// Copy the container's output from the attach socket until the monitor closes it.
pub fn copy_output(
    mut sock: &UnixStream,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> std::io::Result<()> {
    let mut buf = vec![0u8; peapod_monitor::STDIO_BUF_SIZE + 1];
    loop {
        let n = match sock.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return Ok(()),
            Err(e) => return Err(e),
        };
        let payload = &buf[1..n];
        match buf[0] {
            STREAM_STDOUT => {
                stdout.write_all(payload)?;
                stdout.flush()?;
            }
            STREAM_STDERR => {
                stderr.write_all(payload)?;
                stderr.flush()?;
            }
            _ => {}
        }
    }
}
