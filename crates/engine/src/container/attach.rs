//! The client side of the monitor's attach socket (conmon's framing): packets from the
//! monitor start with one byte naming the stream; bytes we send go to the container's stdin.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;

use nix::sys::socket::{AddressFamily, SockFlag, SockType, UnixAddr, connect, socket};
use peapod_monitor::{STREAM_STDERR, STREAM_STDOUT};

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
