//! Bring `lo` up in the calling thread's network namespace (a new namespace has it down; the
//! runtime would bring it up only in a namespace it made itself).
#![allow(unsafe_code)]

use std::os::fd::AsRawFd;

use nix::sys::socket::{AddressFamily, SockFlag, SockType, socket};

use crate::error::{Error, Result};

pub fn loopback_up() -> Result<()> {
    let sock = socket(
        AddressFamily::Inet,
        SockType::Datagram,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(|e| Error::other(format!("bringing lo up: socket: {e}")))?;
    // SAFETY: ifreq is a plain C struct for which all-zero bytes are a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = *src as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS reads the name and writes the flags of `req`, which outlives the
    // call; the fd is an open socket.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) } < 0 {
        return Err(Error::other(format!(
            "bringing lo up: SIOCGIFFLAGS: {}",
            std::io::Error::last_os_error()
        )));
    }
    // SAFETY: the union's flags member was just filled by SIOCGIFFLAGS.
    unsafe { req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short };
    // SAFETY: SIOCSIFFLAGS reads `req`, valid for the call; the fd is an open socket.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &req) } < 0 {
        return Err(Error::other(format!(
            "bringing lo up: SIOCSIFFLAGS: {}",
            std::io::Error::last_os_error()
        )));
    }
    Ok(())
}
