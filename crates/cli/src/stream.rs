//! The client end of an attach: the container's output to ours, our stdin to the container
//! (watching for the detach keys), our terminal in raw mode and its size following ours.
//!
//! Podman's behaviour: detach keys are handled entirely on the client side (the monitor
//! never sees them); the window size goes to the monitor's `ctl` fifo as `1 ROWS COLS\n`
//! at attach time and on every SIGWINCH; stdin EOF half-closes the socket so the monitor
//! closes the container's stdin.
#![allow(unsafe_code)]

use std::io::{Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use nix::sys::termios::{self, SetArg, Termios};
use peapod_engine::container::attach;

/// Podman's default detach sequence.
pub const DEFAULT_DETACH_KEYS: &str = "ctrl-p,ctrl-q";

/// Parse Podman's detach-key syntax (`ctrl-p,ctrl-q`, `a,b`, `ctrl-@`, `ctrl-[`); an empty
/// string disables detaching.
pub fn parse_detach_keys(spec: &str) -> Result<Vec<u8>, String> {
    if spec.is_empty() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for key in spec.split(',') {
        let lower = key.to_ascii_lowercase();
        if let Some(c) = lower.strip_prefix("ctrl-") {
            let b = match c.as_bytes() {
                [b @ b'a'..=b'z'] => b - b'a' + 1,
                [b'@'] => 0,
                [b'['] => 27,
                [b'\\'] => 28,
                [b']'] => 29,
                [b'^'] => 30,
                [b'_'] => 31,
                _ => return Err(format!("invalid detach keys {spec:?}: unknown key {key:?}")),
            };
            out.push(b);
        } else if key.len() == 1 && key.is_ascii() {
            out.push(key.as_bytes()[0]);
        } else {
            return Err(format!("invalid detach keys {spec:?}: unknown key {key:?}"));
        }
    }
    Ok(out)
}

/// Watches a byte stream for the detach sequence. Bytes that might begin it are held back
/// until it is clear they do not; a complete match is swallowed.
#[derive(Debug, Default)]
pub struct DetachScanner {
    keys: Vec<u8>,
    matched: usize,
}

impl DetachScanner {
    pub fn new(keys: Vec<u8>) -> Self {
        DetachScanner { keys, matched: 0 }
    }

    /// Feed `input`; what to forward, and whether the sequence completed (the rest of the
    /// input is then dropped, as Podman drops it).
    pub fn feed(&mut self, input: &[u8]) -> (Vec<u8>, bool) {
        if self.keys.is_empty() {
            return (input.to_vec(), false);
        }
        let mut out = Vec::with_capacity(input.len());
        for &b in input {
            if b == self.keys[self.matched] {
                self.matched += 1;
                if self.matched == self.keys.len() {
                    self.matched = 0;
                    return (out, true);
                }
                continue;
            }
            // Mismatch: release what was held, then look at this byte afresh.
            out.extend_from_slice(&self.keys[..self.matched]);
            self.matched = 0;
            if b == self.keys[0] {
                self.matched = 1;
                if self.keys.len() == 1 {
                    self.matched = 0;
                    return (out, true);
                }
            } else {
                out.push(b);
            }
        }
        (out, false)
    }
}

pub struct StreamOptions {
    /// Forward our stdin to the container.
    pub stdin: bool,
    /// The container (or exec session) has a terminal.
    pub tty: bool,
    pub detach_keys: Vec<u8>,
    /// The monitor's `ctl` fifo, for window sizes.
    pub ctl: Option<PathBuf>,
    /// Show the container's stdout and stderr (`run --attach` may leave either out).
    pub stdout: bool,
    pub stderr: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamEnd {
    /// The monitor closed the stream: the process exited.
    Exited,
    /// The user typed the detach keys.
    Detached,
}

/// Restores the terminal's settings when dropped.
struct RawGuard {
    saved: Termios,
}

impl RawGuard {
    fn enter(fd: BorrowedFd<'_>) -> Option<RawGuard> {
        let saved = termios::tcgetattr(fd).ok()?;
        let mut raw = saved.clone();
        termios::cfmakeraw(&mut raw);
        termios::tcsetattr(fd, SetArg::TCSANOW, &raw).ok()?;
        Some(RawGuard { saved })
    }
}

impl Drop for RawGuard {
    fn drop(&mut self) {
        let _ = termios::tcsetattr(std::io::stdin().as_fd(), SetArg::TCSANOW, &self.saved);
    }
}

fn is_terminal(fd: BorrowedFd<'_>) -> bool {
    nix::unistd::isatty(fd).unwrap_or(false)
}

nix::ioctl_read_bad!(tiocgwinsz, libc::TIOCGWINSZ, libc::winsize);

/// Our terminal's size (rows, cols), from stdin or stdout, whichever is a terminal.
fn window_size() -> Option<(u16, u16)> {
    for fd in [libc::STDIN_FILENO, libc::STDOUT_FILENO, libc::STDERR_FILENO] {
        let mut ws = libc::winsize {
            ws_row: 0,
            ws_col: 0,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCGWINSZ writes one `winsize` into the struct we own.
        if unsafe { tiocgwinsz(fd, &mut ws) }.is_ok() && ws.ws_row > 0 {
            return Some((ws.ws_row, ws.ws_col));
        }
    }
    None
}

/// Tell the monitor our window size (`1 ROWS COLS\n` on its ctl fifo).
fn send_resize(ctl: &std::path::Path) {
    let Some((rows, cols)) = window_size() else {
        return;
    };
    // Non-blocking: if the monitor is gone there is no reader and the open fails.
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(ctl)
    {
        let _ = f.write_all(format!("1 {rows} {cols}\n").as_bytes());
    }
}

use std::os::unix::fs::OpenOptionsExt;

/// Stream until the process exits or the user detaches.
pub fn stream(sock: &UnixStream, opts: &StreamOptions) -> std::io::Result<StreamEnd> {
    let stdin = std::io::stdin();
    let _raw = if opts.tty && opts.stdin && is_terminal(stdin.as_fd()) {
        RawGuard::enter(stdin.as_fd())
    } else {
        None
    };

    let mut winch = None;
    if opts.tty
        && let Some(ctl) = &opts.ctl
    {
        send_resize(ctl);
        if let Ok(signals) = signal_hook::iterator::Signals::new([libc::SIGWINCH]) {
            let handle = signals.handle();
            let ctl = ctl.clone();
            let mut signals = signals;
            std::thread::spawn(move || {
                for _ in signals.forever() {
                    send_resize(&ctl);
                }
            });
            winch = Some(handle);
        }
    }

    let detached = Arc::new(AtomicBool::new(false));
    if opts.stdin {
        let sock = sock.try_clone()?;
        let detached = detached.clone();
        // Detach keys are keys someone types: from a terminal. Data piped in is passed
        // through whole (Podman's CopyDetachable only matches keys read one at a time, which
        // bulk input never is), so a file holding ctrl-p ctrl-q is not cut short.
        let keys = if is_terminal(stdin.as_fd()) {
            opts.detach_keys.clone()
        } else {
            Vec::new()
        };
        let mut scanner = DetachScanner::new(keys);
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            let mut input = std::io::stdin().lock();
            loop {
                let n = match input.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(_) => break,
                };
                let (out, detach) = scanner.feed(&buf[..n]);
                if !out.is_empty() && (&sock).write_all(&out).is_err() {
                    return;
                }
                if detach {
                    detached.store(true, Ordering::SeqCst);
                    // Wakes the output loop with EOF.
                    let _ = sock.shutdown(std::net::Shutdown::Both);
                    return;
                }
            }
            // EOF: the monitor closes the container's stdin (unless it leaves it open).
            let _ = sock.shutdown(std::net::Shutdown::Write);
        });
    }

    let mut out: Box<dyn Write> = if opts.stdout {
        Box::new(std::io::stdout())
    } else {
        Box::new(std::io::sink())
    };
    let mut err: Box<dyn Write> = if opts.stderr {
        Box::new(std::io::stderr())
    } else {
        Box::new(std::io::sink())
    };
    let result = attach::copy_output(sock, &mut out, &mut err);
    if let Some(h) = winch {
        h.close();
    }
    if detached.load(Ordering::SeqCst) {
        return Ok(StreamEnd::Detached);
    }
    result.map(|()| StreamEnd::Exited)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_podman_detach_keys() {
        assert_eq!(parse_detach_keys("ctrl-p,ctrl-q").unwrap(), vec![16, 17]);
        assert_eq!(parse_detach_keys("ctrl-a,x").unwrap(), vec![1, b'x']);
        assert_eq!(
            parse_detach_keys("ctrl-@,ctrl-[,ctrl-_").unwrap(),
            vec![0, 27, 31]
        );
        assert_eq!(parse_detach_keys("").unwrap(), Vec::<u8>::new());
        assert!(parse_detach_keys("ctrl-").is_err());
        assert!(parse_detach_keys("ctrl-pp").is_err());
        assert!(parse_detach_keys("esc").is_err());
        assert!(parse_detach_keys("a,,b").is_err());
    }

    #[test]
    fn scanner_swallows_the_sequence_and_keeps_the_rest() {
        let mut s = DetachScanner::new(vec![16, 17]);
        assert_eq!(s.feed(b"ls\n"), (b"ls\n".to_vec(), false));
        assert_eq!(s.feed(b"ab\x10\x11cd"), (b"ab".to_vec(), true));
    }

    #[test]
    fn scanner_holds_a_partial_match_across_reads() {
        let mut s = DetachScanner::new(vec![16, 17]);
        assert_eq!(s.feed(b"x\x10"), (b"x".to_vec(), false));
        assert_eq!(s.feed(b"\x11"), (vec![], true));
        // A prefix that turns out not to be the sequence is released, in order.
        assert_eq!(s.feed(b"\x10"), (vec![], false));
        assert_eq!(s.feed(b"y"), (b"\x10y".to_vec(), false));
        // A repeated first key: the second one may still start the sequence.
        assert_eq!(s.feed(b"\x10\x10\x11"), (b"\x10".to_vec(), true));
    }

    #[test]
    fn empty_keys_never_detach() {
        let mut s = DetachScanner::new(vec![]);
        assert_eq!(s.feed(b"\x10\x11"), (b"\x10\x11".to_vec(), false));
    }
}
