//! The monitor's event loop: the runtime's exit, signals, output to logs and attach
//! clients, stdin, the ctl and winsize fifos.

use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{Signal, kill, killpg};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};

use crate::log::Stream;
use crate::{STDIO_BUF_SIZE, STREAM_STDOUT, sys};

use super::*;

impl Monitor {
    pub(super) fn finish_symlink(&self, link: Option<&Path>) {
        if let Some(l) = link {
            let _ = std::fs::remove_file(l);
        }
    }

    /// Wait for the runtime to exit, accepting the pty master meanwhile. Returns its
    /// exit status (None if it could not be determined).
    pub(super) fn wait_runtime(&mut self, console: Option<&UnixListener>) -> Option<i32> {
        let runtime = self.runtime_pid?;
        loop {
            if let Some(st) = self.statuses.remove(&runtime) {
                self.runtime_pid = None;
                return Some(st);
            }
            let want_console = console.filter(|_| self.pty.is_none());
            let mut fds = vec![PollFd::new(self.sigfd.as_fd(), PollFlags::POLLIN)];
            if let Some(l) = want_console {
                fds.push(PollFd::new(l.as_fd(), PollFlags::POLLIN));
            }
            match poll(&mut fds, PollTimeout::NONE) {
                Ok(_) | Err(Errno::EINTR) => {}
                Err(_) => return None,
            }
            let console_ready = fds
                .get(1)
                .and_then(|f| f.revents())
                .is_some_and(|r| !r.is_empty());
            drop(fds);
            if console_ready && let Some(l) = want_console {
                self.accept_console(l);
            }
            self.handle_signals();
        }
    }

    pub(super) fn accept_console(&mut self, l: &UnixListener) {
        let Ok((stream, _)) = l.accept() else { return };
        let mut buf = [0u8; 4096];
        let mut iov = [std::io::IoSliceMut::new(&mut buf)];
        let mut space = nix::cmsg_space!([RawFd; 4]);
        let Ok(msg) = nix::sys::socket::recvmsg::<()>(
            stream.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            nix::sys::socket::MsgFlags::MSG_CMSG_CLOEXEC,
        ) else {
            return;
        };
        let mut received = Vec::new();
        if let Ok(cmsgs) = msg.cmsgs() {
            for c in cmsgs {
                if let nix::sys::socket::ControlMessageOwned::ScmRights(fds) = c {
                    received.extend(fds.into_iter().map(sys::own_fd));
                }
            }
        }
        let Some(master) = received.into_iter().next() else {
            return;
        };
        if let Ok(mut t) = nix::sys::termios::tcgetattr(&master) {
            t.output_flags |= nix::sys::termios::OutputFlags::ONLCR;
            let _ = nix::sys::termios::tcsetattr(&master, nix::sys::termios::SetArg::TCSADRAIN, &t);
        }
        set_nonblocking(&master);
        // As conmon: the pty master is the container's stdin whether or not -i was given
        // (Podman passes -t alone for `run -it`).
        self.stdin_open = true;
        self.pty = Some(master);
    }

    /// Read pending signals: reap children, forward termination signals.
    pub(super) fn handle_signals(&mut self) {
        let mut reap = false;
        while let Ok(Some(info)) = self.sigfd.read_signal() {
            let signo = info.ssi_signo as i32;
            if signo == libc::SIGCHLD {
                reap = true;
            } else if let Ok(sig) = Signal::try_from(signo) {
                let target = self.container_pid.or(self.runtime_pid);
                if let Some(p) = target
                    && kill(p, sig).is_err()
                {
                    reap = true;
                }
            }
        }
        if reap {
            self.reap();
        }
    }

    pub(super) fn reap(&mut self) {
        loop {
            match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) => return,
                Ok(st) => {
                    let (Some(pid), Some(code)) = (st.pid(), exit_status_code(st)) else {
                        continue;
                    };
                    if Some(pid) == self.container_pid {
                        self.container_status = Some(code);
                    } else if self.health.as_mut().is_some_and(|h| h.reaped(pid, code)) {
                        // A healthcheck ended; the engine has its result.
                    } else if Some(pid) == self.runtime_pid || self.container_pid.is_none() {
                        self.statuses.insert(pid, code);
                    }
                }
                Err(Errno::EINTR) => {}
                Err(_) => return,
            }
        }
    }

    /// What the runtime wrote on stderr (up to 8 KiB), for an error message.
    pub(super) fn read_stderr_now(&mut self) -> String {
        let Some(s) = self.sources.iter().find(|s| s.stream == Stream::Stderr) else {
            return String::new();
        };
        set_nonblocking(&s.fd);
        let mut buf = vec![0u8; STDIO_BUF_SIZE];
        match nix::unistd::read(&s.fd, &mut buf) {
            Ok(n) => String::from_utf8_lossy(&buf[..n]).trim_end().to_string(),
            Err(_) => String::new(),
        }
    }

    pub(super) fn output(&mut self, stream: Stream, id: u8, data: &[u8]) {
        let global_ok = self
            .opts
            .log_global_size_max
            .is_none_or(|max| self.logged_total < max);
        if global_ok {
            for l in &mut self.logs {
                let _ = l.write_chunk(stream, data);
            }
            self.logged_total += data.len() as u64;
        }
        if let Some(a) = &mut self.attach {
            a.broadcast(id, data);
        }
    }

    /// Read one chunk from a source. Returns false at end of input.
    pub(super) fn read_source(&mut self, idx: usize) -> bool {
        let mut buf = [0u8; STDIO_BUF_SIZE];
        let (stream, id) = (self.sources[idx].stream, self.sources[idx].id);
        match nix::unistd::read(&self.sources[idx].fd, &mut buf) {
            Ok(0) => false,
            Ok(n) => {
                self.output(stream, id, &buf[..n]);
                true
            }
            Err(Errno::EAGAIN | Errno::EINTR) => true,
            Err(_) => false,
        }
    }

    /// Read one chunk from the pty. Returns Ok(false) when there is nothing (HUP / EIO).
    pub(super) fn read_pty(&mut self) -> bool {
        let Some(pty) = &self.pty else { return false };
        let mut buf = [0u8; STDIO_BUF_SIZE];
        match nix::unistd::read(pty, &mut buf) {
            Ok(0) => false,
            Ok(n) => {
                self.output(Stream::Stdout, STREAM_STDOUT, &buf[..n]);
                true
            }
            Err(_) => false,
        }
    }

    pub(super) fn drain(&mut self) {
        // A short-lived process may exit before the event loop ever polled the listener
        // (`podman exec` connects before the process starts): accept those clients now so
        // they get the output drained below.
        if let Some(a) = &mut self.attach {
            a.accept();
        }
        let mut i = 0;
        while i < self.sources.len() {
            let mut budget = 4096; // chunks; guards against a writer that never stops
            loop {
                let before = self.logged_total;
                let alive = self.read_source_drain(i);
                budget -= 1;
                if !alive || budget == 0 || self.logged_total == before {
                    break;
                }
            }
            i += 1;
        }
        let mut budget = 4096;
        while self.pty.is_some() && budget > 0 && self.read_pty() {
            budget -= 1;
        }
    }

    /// Like read_source, but false on EAGAIN too (nothing more buffered).
    pub(super) fn read_source_drain(&mut self, idx: usize) -> bool {
        let mut buf = [0u8; STDIO_BUF_SIZE];
        let (stream, id) = (self.sources[idx].stream, self.sources[idx].id);
        match nix::unistd::read(&self.sources[idx].fd, &mut buf) {
            Ok(0) | Err(_) => false,
            Ok(n) => {
                self.output(stream, id, &buf[..n]);
                true
            }
        }
    }

    pub(super) fn stdin_sink(&self) -> Option<BorrowedFd<'_>> {
        if !self.stdin_open {
            return None;
        }
        self.stdin_pipe
            .as_ref()
            .map(|f| f.as_fd())
            .or_else(|| self.pty.as_ref().map(|f| f.as_fd()))
    }

    pub(super) fn flush_stdin(&mut self) {
        while !self.stdin_buf.is_empty() {
            let Some(fd) = self.stdin_sink() else {
                self.stdin_buf.clear();
                break;
            };
            match nix::unistd::write(fd, &self.stdin_buf) {
                Ok(n) => {
                    self.stdin_buf.drain(..n);
                }
                Err(Errno::EINTR) => {}
                Err(Errno::EAGAIN) => return,
                Err(_) => {
                    self.stdin_buf.clear();
                    self.close_stdin();
                }
            }
        }
        if self.stdin_close_pending {
            self.close_stdin();
        }
    }

    pub(super) fn close_stdin(&mut self) {
        self.stdin_close_pending = false;
        self.stdin_open = false;
        self.stdin_pipe = None;
    }

    pub(super) fn client_input(&mut self, idx: usize) {
        let mut buf = vec![0u8; STDIO_BUF_SIZE];
        let Some(a) = &mut self.attach else { return };
        let Some(c) = a.clients.get_mut(idx) else {
            return;
        };
        match c.read(&mut buf) {
            Ok(Some(n)) => {
                if self.stdin_open {
                    self.stdin_buf.extend_from_slice(&buf[..n]);
                    self.flush_stdin();
                }
            }
            Ok(None) => {
                a.gc();
                if self.opts.stdin && !self.opts.leave_stdin_open {
                    self.stdin_close_pending = true;
                    self.flush_stdin();
                }
            }
            Err(Errno::EAGAIN | Errno::EINTR) => {}
            Err(_) => {
                c.readable = false;
                c.writable = false;
                a.gc();
            }
        }
    }

    pub(super) fn client_hangup(&mut self, idx: usize) {
        let Some(a) = &mut self.attach else { return };
        let Some(c) = a.clients.get_mut(idx) else {
            return;
        };
        let was_reading = c.readable;
        c.readable = false;
        c.writable = false;
        a.gc();
        if was_reading && self.opts.stdin && !self.opts.leave_stdin_open {
            self.stdin_close_pending = true;
            self.flush_stdin();
        }
    }

    pub(super) fn resize(&self, rows: i64, cols: i64) {
        if let Some(pty) = &self.pty
            && (0..=1000).contains(&rows)
            && (0..=1000).contains(&cols)
        {
            let _ = sys::set_winsize(pty, rows as u16, cols as u16);
        }
    }

    /// Read the ctl fifo (`<type> <h> <w>` lines) or the winsz fifo (`<h> <w>` lines).
    pub(super) fn read_fifo(&mut self, is_ctl: bool) {
        let slot = if is_ctl {
            &mut self.ctl
        } else {
            &mut self.winsz
        };
        let Some((r, _, pending)) = slot else { return };
        let mut buf = [0u8; 512];
        match r.read(&mut buf) {
            Ok(n) if n > 0 => pending.extend_from_slice(&buf[..n]),
            _ => return,
        }
        let mut lines = Vec::new();
        while let Some(pos) = pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = pending.drain(..=pos).collect();
            lines.push(String::from_utf8_lossy(&line).trim().to_string());
        }
        if pending.len() > 4096 {
            pending.clear();
        }
        for line in lines {
            let nums: Vec<i64> = line
                .split_whitespace()
                .filter_map(|w| w.parse().ok())
                .collect();
            match (is_ctl, nums.as_slice()) {
                (true, [t, h, w]) if *t == i64::from(crate::CTL_WIN_RESIZE) => self.resize(*h, *w),
                (true, [t, _, _]) if *t == i64::from(crate::CTL_REOPEN_LOGS) => {
                    for l in &mut self.logs {
                        let _ = l.reopen();
                    }
                }
                (false, [h, w]) => self.resize(*h, *w),
                _ => {}
            }
        }
    }

    /// Relay until the container exits (or the timeout fires: returns true).
    pub(super) fn main_loop(&mut self) -> bool {
        #[derive(Clone, Copy)]
        enum Ev {
            Signal,
            Source(usize),
            Pty,
            Listener,
            Client(usize),
            Ctl,
            Winsz,
            Stdin,
            Oom,
        }
        let deadline = (self.opts.timeout > 0)
            .then(|| Instant::now() + Duration::from_secs(self.opts.timeout.into()));
        let mut sources_open = vec![true; self.sources.len()];
        loop {
            if self.container_status.is_some() {
                return false;
            }
            if let Some(d) = deadline
                && Instant::now() >= d
            {
                if let Some(p) = self.container_pid {
                    let _ = killpg(p, Signal::SIGKILL);
                    let _ = kill(p, Signal::SIGKILL);
                }
                return true;
            }
            if let Some(until) = self.pty_paused_until
                && Instant::now() >= until
            {
                self.pty_paused_until = None;
            }
            let mut evs = Vec::new();
            let mut fds = Vec::new();
            evs.push(Ev::Signal);
            fds.push(PollFd::new(self.sigfd.as_fd(), PollFlags::POLLIN));
            // The listener before the output sources: a client that connected before the
            // output was produced (Podman connects, then starts the container or the exec
            // session) must be accepted before that output is broadcast, or it never sees it.
            if let Some(a) = &self.attach {
                evs.push(Ev::Listener);
                fds.push(PollFd::new(a.listener(), PollFlags::POLLIN));
            }
            for (i, s) in self.sources.iter().enumerate() {
                if sources_open[i] {
                    evs.push(Ev::Source(i));
                    fds.push(PollFd::new(s.fd.as_fd(), PollFlags::POLLIN));
                }
            }
            if let Some(p) = &self.pty
                && self.pty_paused_until.is_none()
            {
                evs.push(Ev::Pty);
                fds.push(PollFd::new(p.as_fd(), PollFlags::POLLIN));
            }
            if let Some(a) = &self.attach {
                let want_input = self.stdin_buf.len() < STDIN_BUF_MAX;
                for (i, c) in a.clients.iter().enumerate() {
                    let mut f = PollFlags::empty();
                    if c.readable && want_input {
                        f |= PollFlags::POLLIN;
                    }
                    if c.wants_write() {
                        f |= PollFlags::POLLOUT;
                    }
                    evs.push(Ev::Client(i));
                    fds.push(PollFd::new(c.fd(), f));
                }
            }
            if let Some((r, _, _)) = &self.ctl {
                evs.push(Ev::Ctl);
                fds.push(PollFd::new(r.as_fd(), PollFlags::POLLIN));
            }
            if let Some((r, _, _)) = &self.winsz {
                evs.push(Ev::Winsz);
                fds.push(PollFd::new(r.as_fd(), PollFlags::POLLIN));
            }
            if !self.stdin_buf.is_empty()
                && let Some(fd) = self.stdin_sink()
            {
                evs.push(Ev::Stdin);
                fds.push(PollFd::new(fd, PollFlags::POLLOUT));
            }
            if let Some(o) = &self.oom {
                evs.push(Ev::Oom);
                fds.push(PollFd::new(o.fd(), PollFlags::POLLIN));
            }
            let mut wait_ms: Option<u128> =
                deadline.map(|d| d.saturating_duration_since(Instant::now()).as_millis() + 1);
            if let Some(until) = self.pty_paused_until {
                let ms = until.saturating_duration_since(Instant::now()).as_millis() + 1;
                wait_ms = Some(wait_ms.map_or(ms, |w| w.min(ms)));
            }
            if let Some(ms) = self.health.as_ref().and_then(|h| h.wait_ms()) {
                wait_ms = Some(wait_ms.map_or(ms, |w| w.min(ms)));
            }
            let timeout = wait_ms
                .map(|ms| PollTimeout::try_from(ms.min(60_000)).unwrap_or(PollTimeout::MAX))
                .unwrap_or(PollTimeout::NONE);
            match poll(&mut fds, timeout) {
                Ok(_) | Err(Errno::EINTR) => {}
                Err(_) => return false,
            }
            let ready: Vec<(Ev, PollFlags)> = evs
                .iter()
                .zip(fds.iter())
                .filter_map(|(e, f)| f.revents().filter(|r| !r.is_empty()).map(|r| (*e, r)))
                .collect();
            drop(fds);
            // New clients first: a client that connected before the process started (exec
            // attach, `start --attach`) must get the output read in this same round.
            if ready.iter().any(|(e, _)| matches!(e, Ev::Listener))
                && let Some(a) = &mut self.attach
            {
                a.accept();
            }
            // Clients are handled from the highest index down so removals keep indices valid.
            let mut client_evs: Vec<(usize, PollFlags)> = Vec::new();
            for (ev, r) in ready {
                match ev {
                    Ev::Signal => self.handle_signals(),
                    Ev::Source(i) => {
                        if r.contains(PollFlags::POLLIN) {
                            if !self.read_source(i) {
                                sources_open[i] = false;
                            }
                        } else {
                            sources_open[i] = false;
                        }
                    }
                    Ev::Pty => {
                        let had_input = r.contains(PollFlags::POLLIN) && self.read_pty();
                        if r.intersects(PollFlags::POLLHUP | PollFlags::POLLERR) && !had_input {
                            // No slave open right now: poll again a little later.
                            self.pty_paused_until =
                                Some(Instant::now() + Duration::from_millis(100));
                        }
                    }
                    Ev::Listener => {}
                    Ev::Client(i) => client_evs.push((i, r)),
                    Ev::Ctl => self.read_fifo(true),
                    Ev::Winsz => self.read_fifo(false),
                    Ev::Stdin => self.flush_stdin(),
                    Ev::Oom => {
                        if let Some(o) = &mut self.oom
                            && o.fired()
                        {
                            let persist = self.opts.persist_dir.clone();
                            let bundle = self.opts.bundle.clone();
                            for dir in [persist, bundle].into_iter().flatten() {
                                let _ = std::fs::File::create(dir.join("oom"));
                            }
                        }
                    }
                }
            }
            client_evs.sort_by_key(|e| std::cmp::Reverse(e.0));
            for (i, r) in client_evs {
                if r.contains(PollFlags::POLLOUT)
                    && let Some(c) = self.attach.as_mut().and_then(|a| a.clients.get_mut(i))
                {
                    c.flush();
                }
                if r.contains(PollFlags::POLLIN) {
                    self.client_input(i);
                } else if r.intersects(PollFlags::POLLHUP | PollFlags::POLLERR) {
                    self.client_hangup(i);
                }
            }
            if let Some(a) = &mut self.attach {
                a.gc();
            }
            if let Some(h) = &mut self.health {
                h.fire_if_due();
            }
        }
    }
}
