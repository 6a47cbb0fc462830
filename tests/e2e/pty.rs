//! A child process on a real pseudo-terminal, as a user's shell would run `peapod run -it`:
//! the child is a session leader with the pty as its controlling terminal, so it gets
//! SIGWINCH when the test resizes the terminal.
#![allow(unsafe_code)]

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::pty::{Winsize, openpty};

nix::ioctl_write_ptr_bad!(tiocswinsz, libc::TIOCSWINSZ, libc::winsize);

pub struct PtyChild {
    child: Child,
    master: std::fs::File,
    output: Arc<Mutex<Vec<u8>>>,
    /// How much of `output` earlier `expect`s consumed.
    seen: usize,
    what: String,
}

impl PtyChild {
    /// Spawn `cmd` with a fresh pty of `rows`×`cols` as stdin, stdout and stderr.
    pub fn spawn(mut cmd: Command, rows: u16, cols: u16) -> PtyChild {
        let what = format!("{cmd:?}");
        let ws = Winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        let pty = openpty(Some(&ws), None).expect("openpty");
        let slave: OwnedFd = pty.slave;
        let slave_fd = slave.as_raw_fd();
        cmd.stdin(Stdio::from(slave.try_clone().unwrap()))
            .stdout(Stdio::from(slave.try_clone().unwrap()))
            .stderr(Stdio::from(slave.try_clone().unwrap()));
        // SAFETY: setsid and ioctl(TIOCSCTTY) are async-signal-safe and touch only the
        // child's own session and the slave fd it inherited.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut cmd, move || {
                if libc::setsid() < 0 || libc::ioctl(slave_fd, libc::TIOCSCTTY, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().expect("spawning under a pty");
        drop(slave);
        let master = std::fs::File::from(pty.master);
        let output = Arc::new(Mutex::new(Vec::new()));
        let mut reader = master.try_clone().unwrap();
        let sink = output.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            // EIO once every slave fd is closed: the child and its heirs are done.
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        PtyChild {
            child,
            master,
            output,
            seen: 0,
            what,
        }
    }

    /// Type `bytes` on the terminal.
    pub fn send(&mut self, bytes: &[u8]) {
        self.master.write_all(bytes).expect("writing to the pty");
    }

    /// Wait until the output since the last match contains `needle`; panics with what was
    /// seen after `timeout`.
    #[track_caller]
    pub fn expect(&mut self, needle: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            {
                let out = self.output.lock().unwrap();
                let fresh = String::from_utf8_lossy(&out[self.seen..]).into_owned();
                if let Some(at) = fresh.find(needle) {
                    self.seen += fresh[..at + needle.len()].len();
                    return;
                }
                if Instant::now() >= deadline {
                    panic!(
                        "{}: {needle:?} did not appear within {timeout:?}; the terminal showed {fresh:?}",
                        self.what
                    );
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Resize the terminal: the kernel sends SIGWINCH to the child's process group.
    pub fn resize(&mut self, rows: u16, cols: u16) {
        let ws = libc::winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCSWINSZ reads one winsize from the struct we own.
        unsafe { tiocswinsz(self.master.as_raw_fd(), &ws) }.expect("TIOCSWINSZ");
    }

    /// Wait for the child to exit; panics (after killing it) on timeout.
    #[track_caller]
    pub fn wait(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(st) = self.child.try_wait().expect("try_wait") {
                return st;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                let out = self.output.lock().unwrap();
                panic!(
                    "{} did not exit within {timeout:?}; the terminal showed {:?}",
                    self.what,
                    String::from_utf8_lossy(&out)
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for PtyChild {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
