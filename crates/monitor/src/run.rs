//! The monitor proper: conmon's startup sequence, the runtime call, and the event loop
//! (one thread, `poll(2)`, a signalfd for SIGCHLD and the forwarded signals).
//!
//! Order of work (conmon's): start pipe → fork (the parent writes `--conmon-pidfile` and
//! exits) → setsid + subreaper → stdio pipes or console socket → attach socket and fifos →
//! `runtime create|exec` → pid on the sync pipe → relay output to logs and attach clients
//! until the container exits → exit files → exit command.

use std::collections::HashMap;
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SigSet, SigmaskHow, Signal, kill, killpg, sigprocmask};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid};

use crate::attach::AttachServer;
use crate::cli::{LogDriver, Options};
use crate::log::{K8sWriter, Stream};
use crate::{STDIO_BUF_SIZE, STREAM_STDERR, STREAM_STDOUT, SyncMessage, sys};

/// Bytes of client input buffered for the container's stdin before we stop reading clients.
const STDIN_BUF_MAX: usize = 32 * 1024;

/// A failure of the monitor itself: reported on the sync pipe (or stderr before the fork).
#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    #[error("{what}: {source}")]
    Sys { what: String, source: Errno },
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Runtime(String),
}

fn sys_err(what: impl Into<String>) -> impl FnOnce(Errno) -> MonitorError {
    let what = what.into();
    move |source| MonitorError::Sys { what, source }
}

fn io_err(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> MonitorError {
    let what = what.into();
    move |source| MonitorError::Io { what, source }
}

/// The binary's entry point: parse, run, and return the process exit code.
pub fn main<I: IntoIterator<Item = String>>(args: I) -> i32 {
    let mut opts = match Options::parse(args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("peapod-monitor: {e}");
            return 1;
        }
    };
    if opts.version {
        print!("{}", crate::cli::version_text());
        return 0;
    }
    if opts.help {
        println!("Usage: peapod-monitor [OPTION…] (conmon-compatible container monitor)");
        return 0;
    }
    if let Err(e) = opts.validate() {
        eprintln!("peapod-monitor: {e}");
        return 1;
    }
    let drivers = match opts.log_drivers() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("peapod-monitor: {e}");
            return 1;
        }
    };
    run(opts, drivers)
}

/// Read an inherited pipe fd named by an environment variable and mark it close-on-exec.
fn env_fd(name: &str) -> Result<Option<OwnedFd>, MonitorError> {
    let Ok(v) = std::env::var(name) else {
        return Ok(None);
    };
    let raw: RawFd = v
        .parse()
        .map_err(|_| MonitorError::Runtime(format!("unable to parse {name}={v:?}")))?;
    if raw < 0 {
        return Ok(None);
    }
    sys::inherited_fd(raw)
        .map(Some)
        .map_err(sys_err(format!("making {name} fd {raw} close-on-exec")))
}

fn read_start_pipe(fd: &OwnedFd) -> Result<(), MonitorError> {
    let mut b = [0u8; 256];
    loop {
        match nix::unistd::read(fd, &mut b) {
            Ok(_) => return Ok(()),
            Err(Errno::EINTR) => {}
            Err(e) => return Err(sys_err("reading the start pipe")(e)),
        }
    }
}

fn send_sync(fd: Option<&OwnedFd>, msg: &SyncMessage) {
    if let Some(fd) = fd {
        let line = msg.to_line();
        let _ = nix::unistd::write(fd, line.as_bytes());
    }
}

fn exit_status_code(status: WaitStatus) -> Option<i32> {
    match status {
        WaitStatus::Exited(_, code) => Some(code),
        WaitStatus::Signaled(_, sig, _) => Some(128 + sig as i32),
        _ => None,
    }
}

fn set_nonblocking(fd: &impl AsFd) {
    if let Ok(bits) = fcntl(fd, FcntlArg::F_GETFL) {
        let flags = OFlag::from_bits_truncate(bits) | OFlag::O_NONBLOCK;
        let _ = fcntl(fd, FcntlArg::F_SETFL(flags));
    }
}

fn pipe() -> Result<(OwnedFd, OwnedFd), MonitorError> {
    nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(sys_err("creating a pipe"))
}

/// Open a fifo in the bundle for reading (non-blocking) plus a dummy writer so it never
/// reports hang-up.
fn open_fifo(path: &Path) -> Result<(std::fs::File, std::fs::File), MonitorError> {
    use std::os::unix::fs::OpenOptionsExt;
    let _ = std::fs::remove_file(path);
    nix::unistd::mkfifo(path, nix::sys::stat::Mode::from_bits_truncate(0o660))
        .map_err(sys_err(format!("creating fifo {}", path.display())))?;
    let r = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(io_err(format!("opening fifo {}", path.display())))?;
    let w = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(io_err(format!(
            "opening fifo {} for writing",
            path.display()
        )))?;
    Ok((r, w))
}

/// Where the container's stdout/stderr arrive.
struct Source {
    fd: OwnedFd,
    stream: Stream,
    id: u8,
}

/// Everything the event loop owns.
struct Monitor {
    opts: Options,
    logs: Vec<K8sWriter>,
    logged_total: u64,
    attach: Option<AttachServer>,
    sources: Vec<Source>,
    pty: Option<OwnedFd>,
    pty_paused_until: Option<Instant>,
    stdin_pipe: Option<OwnedFd>,
    stdin_open: bool,
    stdin_buf: Vec<u8>,
    stdin_close_pending: bool,
    ctl: Option<(std::fs::File, std::fs::File, Vec<u8>)>,
    winsz: Option<(std::fs::File, std::fs::File, Vec<u8>)>,
    oom: Option<crate::oom::OomWatch>,
    sigfd: SignalFd,
    runtime_pid: Option<Pid>,
    container_pid: Option<Pid>,
    statuses: HashMap<Pid, i32>,
    container_status: Option<i32>,
}

/// Run the monitor: never returns on the parent side of the fork.
pub fn run(opts: Options, drivers: Vec<LogDriver>) -> i32 {
    let passthrough = drivers.contains(&LogDriver::Passthrough);
    let old_oom = std::fs::read_to_string("/proc/self/oom_score_adj")
        .ok()
        .map(|s| s.trim().to_string());
    let _ = std::fs::write("/proc/self/oom_score_adj", "-1000");

    // 1. Start pipe: the caller moves us into a cgroup first, then writes one byte.
    let start = match env_fd(crate::ENV_STARTPIPE) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("peapod-monitor: {e}");
            return 1;
        }
    };
    if let Some(fd) = &start
        && let Err(e) = read_start_pipe(fd)
    {
        eprintln!("peapod-monitor: {e}");
        return 1;
    }
    // Moved either way: a shadowed pipe would stay open until `run` returns, after
    // `exit::finish` closed every fd, and its drop would close a stranger's fd.
    let start = start.filter(|_| opts.exec_attach);

    // 2. Fork: the parent records the long-lived pid and returns to the caller.
    if !opts.sync {
        match sys::fork() {
            Ok(ForkResult::Parent { child }) => {
                if let Some(p) = &opts.conmon_pidfile
                    && let Err(e) = std::fs::write(p, child.to_string())
                {
                    eprintln!(
                        "peapod-monitor: writing conmon pid file {}: {e}",
                        p.display()
                    );
                    let _ = kill(child, Signal::SIGKILL);
                    return 1;
                }
                return 0;
            }
            Ok(ForkResult::Child) => {}
            Err(e) => {
                eprintln!("peapod-monitor: fork: {e}");
                return 1;
            }
        }
    } else if let Some(p) = &opts.conmon_pidfile {
        let _ = std::fs::write(p, std::process::id().to_string());
    }

    let sync = match env_fd(crate::ENV_SYNCPIPE) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("peapod-monitor: {e}");
            return 1;
        }
    };
    let attach_pipe = match env_fd(crate::ENV_ATTACHPIPE) {
        Ok(s) => s,
        Err(e) => {
            send_sync(sync.as_ref(), &SyncMessage::error(e.to_string()));
            return 1;
        }
    };
    match monitor(
        opts,
        drivers,
        passthrough,
        old_oom.clone(),
        start,
        sync.as_ref(),
        attach_pipe,
    ) {
        Ok((opts, code)) => {
            drop(sync);
            crate::exit::finish(&opts, code, old_oom.as_deref())
        }
        Err(e) => {
            send_sync(sync.as_ref(), &SyncMessage::error(e.to_string()));
            1
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn monitor(
    opts: Options,
    drivers: Vec<LogDriver>,
    passthrough: bool,
    old_oom: Option<String>,
    start: Option<OwnedFd>,
    sync: Option<&OwnedFd>,
    attach_pipe: Option<OwnedFd>,
) -> Result<(Options, i32), MonitorError> {
    if !passthrough {
        let null = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/null")
            .map_err(io_err("opening /dev/null"))?;
        nix::unistd::dup2_stdin(&null).map_err(sys_err("redirecting stdin"))?;
        nix::unistd::dup2_stdout(&null).map_err(sys_err("redirecting stdout"))?;
        nix::unistd::dup2_stderr(&null).map_err(sys_err("redirecting stderr"))?;
    }
    let _ = nix::unistd::setsid();
    nix::sys::prctl::set_child_subreaper(true).map_err(sys_err("becoming a subreaper"))?;

    let cid = opts.cid.clone().unwrap_or_default();
    let mut logs = Vec::new();
    for d in &drivers {
        if let LogDriver::K8sFile(path) = d {
            let w = K8sWriter::open(path, opts.log_size_max, opts.log_max_files.unwrap_or(1))
                .map_err(io_err(format!("opening log file {}", path.display())))?;
            logs.push(w);
        }
    }

    // 3. stdio for the runtime and the container.
    let mut console: Option<(UnixListener, PathBuf)> = None;
    let (mut child_in, mut child_out, mut child_err) =
        (Stdio::inherit(), Stdio::inherit(), Stdio::inherit());
    let mut sources = Vec::new();
    let mut stdin_pipe = None;
    if !passthrough {
        let (err_r, err_w) = pipe()?;
        child_err = Stdio::from(err_w);
        sources.push(Source {
            fd: err_r,
            stream: Stream::Stderr,
            id: STREAM_STDERR,
        });
        if opts.terminal {
            let dir = std::env::var_os("TMPDIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| "/tmp".into());
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0);
            let path = dir.join(format!("conmon-term.{}.{nanos:x}", std::process::id()));
            let l = UnixListener::bind(&path)
                .map_err(io_err(format!("binding console socket {}", path.display())))?;
            l.set_nonblocking(true)
                .map_err(io_err("setting console socket non-blocking"))?;
            console = Some((l, path));
            child_in = Stdio::null();
            child_out = Stdio::null();
        } else {
            let (out_r, out_w) = pipe()?;
            child_out = Stdio::from(out_w);
            sources.insert(
                0,
                Source {
                    fd: out_r,
                    stream: Stream::Stdout,
                    id: STREAM_STDOUT,
                },
            );
            if opts.stdin {
                let (in_r, in_w) = pipe()?;
                child_in = Stdio::from(in_r);
                stdin_pipe = Some(in_w);
            } else {
                child_in = Stdio::null();
            }
        }
    }

    // 4. Runtime argv (conmon's runtime_args.c).
    let runtime = opts.runtime.clone().unwrap_or_default();
    let pidfile = opts.container_pidfile.clone().unwrap_or_default();
    let mut cmd = Command::new(&runtime);
    if !opts.exec && opts.systemd_cgroup {
        cmd.arg("--systemd-cgroup");
    }
    cmd.args(&opts.runtime_args);
    if opts.exec {
        cmd.arg("exec").arg("--pid-file").arg(&pidfile);
        cmd.arg("--process")
            .arg(opts.exec_process_spec.clone().unwrap_or_default());
        cmd.arg("--detach");
    } else {
        let bundle = opts.bundle.clone().unwrap_or_default();
        cmd.arg(if opts.restore.is_some() {
            "restore"
        } else {
            "create"
        });
        cmd.arg("--bundle")
            .arg(&bundle)
            .arg("--pid-file")
            .arg(&pidfile);
        if opts.no_pivot {
            cmd.arg("--no-pivot");
        }
        if opts.no_new_keyring {
            cmd.arg("--no-new-keyring");
        }
        if let Some(r) = &opts.restore {
            cmd.arg("--detach")
                .arg("--image-path")
                .arg(r)
                .arg("--work-path")
                .arg(&bundle);
        }
    }
    cmd.args(&opts.runtime_opts);
    if let Some((_, path)) = &console {
        cmd.arg("--console-socket").arg(path);
    }
    cmd.arg(&cid);
    cmd.stdin(child_in).stdout(child_out).stderr(child_err);

    // 5. Attach socket and fifos.
    let mut attach = None;
    let mut ctl = None;
    let mut winsz = None;
    let mut symlink = None;
    if let Some(bundle) = opts.bundle.clone().filter(|_| !passthrough) {
        let dir = if opts.full_attach {
            bundle.clone()
        } else {
            let sockdir = opts
                .socket_dir_path
                .clone()
                .unwrap_or_else(|| crate::cli::DEFAULT_SOCKET_DIR.into());
            std::fs::create_dir_all(&sockdir)
                .map_err(io_err(format!("creating socket dir {}", sockdir.display())))?;
            let link = sockdir.join(opts.cuuid.clone().unwrap_or_default());
            let _ = std::fs::remove_file(&link);
            std::os::unix::fs::symlink(&bundle, &link).map_err(io_err(format!(
                "creating attach symlink {}",
                link.display()
            )))?;
            symlink = Some(link.clone());
            link
        };
        attach = Some(AttachServer::bind(&dir).map_err(|e| MonitorError::Runtime(e.to_string()))?);
        let (r, w) = open_fifo(&bundle.join("ctl"))?;
        ctl = Some((r, w, Vec::new()));
        let (r, w) = open_fifo(&bundle.join("winsz"))?;
        winsz = Some((r, w, Vec::new()));
        if opts.exec_attach {
            send_sync(attach_pipe.as_ref(), &SyncMessage::ok(0));
        }
    }

    // 6. Signals through a signalfd; the runtime child gets an empty mask from std.
    let mut mask = SigSet::empty();
    for s in [
        Signal::SIGCHLD,
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGQUIT,
    ] {
        mask.add(s);
    }
    sigprocmask(SigmaskHow::SIG_BLOCK, Some(&mask), None).map_err(sys_err("blocking signals"))?;
    let sigfd = SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
        .map_err(sys_err("creating signalfd"))?;

    sys::prepare_child(
        &mut cmd,
        sys::ChildSetup {
            oom_score_adj: old_oom,
            wait_fd: start.as_ref().map(|f| f.as_raw_fd()),
        },
    );
    let child = cmd
        .spawn()
        .map_err(io_err(format!("executing runtime {}", runtime.display())))?;
    drop(cmd); // closes our copies of the container's pipe ends
    drop(start);

    let mut m = Monitor {
        opts,
        logs,
        logged_total: 0,
        attach,
        sources,
        pty: None,
        pty_paused_until: None,
        stdin_open: stdin_pipe.is_some(),
        stdin_pipe,
        stdin_buf: Vec::new(),
        stdin_close_pending: false,
        ctl,
        winsz,
        oom: None,
        sigfd,
        runtime_pid: Some(Pid::from_raw(child.id() as i32)),
        container_pid: None,
        statuses: HashMap::new(),
        container_status: None,
    };
    let runtime_status = m.wait_runtime(console.as_ref().map(|c| &c.0));
    if let Some((_, path)) = &console {
        let _ = std::fs::remove_file(path);
    }
    drop(console);

    if runtime_status != Some(0) {
        let mut msg = m.read_stderr_now();
        if msg.is_empty() {
            msg = format!(
                "runtime {} failed with status {:?}",
                runtime.display(),
                runtime_status
            );
        }
        m.finish_symlink(symlink.as_deref());
        return Err(MonitorError::Runtime(msg));
    }
    if m.opts.terminal && m.pty.is_none() {
        m.finish_symlink(symlink.as_deref());
        return Err(MonitorError::Runtime(
            "Runtime did not set up terminal".into(),
        ));
    }
    let pid = match std::fs::read_to_string(&pidfile)
        .ok()
        .and_then(|s| s.trim().parse::<i32>().ok())
    {
        Some(p) if p > 0 => p,
        _ => {
            let mut msg = m.read_stderr_now();
            if msg.is_empty() {
                msg = format!("reading container pid file {}", pidfile.display());
            }
            m.finish_symlink(symlink.as_deref());
            return Err(MonitorError::Runtime(msg));
        }
    };
    m.container_pid = Some(Pid::from_raw(pid));
    if let Some(st) = m.statuses.remove(&Pid::from_raw(pid)) {
        m.container_status = Some(st);
    }
    send_sync(sync, &SyncMessage::ok(pid.into()));

    m.oom = crate::oom::OomWatch::new(pid);

    for s in &m.sources {
        set_nonblocking(&s.fd);
    }
    if let Some(p) = &m.stdin_pipe {
        set_nonblocking(p);
    }
    // From here on the monitor relays output and waits: the code that parsed its arguments
    // and ran the runtime is not needed again, so its pages leave our resident set (the
    // kernel maps back, from the page cache, whatever runs next).
    sys::release_code_pages();
    let timed_out = m.main_loop();
    m.drain();
    if let Some(a) = &mut m.attach {
        a.flush_all(1000);
    }
    if !m.opts.no_sync_log {
        for l in &m.logs {
            let _ = l.sync();
        }
    }
    let code = if timed_out {
        -1
    } else {
        m.container_status.unwrap_or(-1)
    };
    if m.opts.exec {
        // The exit file lands before the sync message, so whoever hears the exit code
        // can read the file at once (conmon's order too).
        for p in crate::exit::exit_file_paths(&m.opts) {
            let _ = crate::exit::write_exit_file(&p, code);
        }
        let msg = if timed_out {
            SyncMessage {
                data: -1,
                message: Some("command timed out".into()),
            }
        } else {
            SyncMessage::ok(code.into())
        };
        send_sync(sync, &msg);
    }
    let opts = m.opts.clone();
    m.finish_symlink(symlink.as_deref());
    drop(m);
    drop(attach_pipe);
    Ok((opts, code))
}

impl Monitor {
    fn finish_symlink(&self, link: Option<&Path>) {
        if let Some(l) = link {
            let _ = std::fs::remove_file(l);
        }
    }

    /// Wait for the runtime to exit, accepting the pty master meanwhile. Returns its
    /// exit status (None if it could not be determined).
    fn wait_runtime(&mut self, console: Option<&UnixListener>) -> Option<i32> {
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

    fn accept_console(&mut self, l: &UnixListener) {
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
    fn handle_signals(&mut self) {
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

    fn reap(&mut self) {
        loop {
            match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) => return,
                Ok(st) => {
                    let (Some(pid), Some(code)) = (st.pid(), exit_status_code(st)) else {
                        continue;
                    };
                    if Some(pid) == self.container_pid {
                        self.container_status = Some(code);
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
    fn read_stderr_now(&mut self) -> String {
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

    fn output(&mut self, stream: Stream, id: u8, data: &[u8]) {
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
    fn read_source(&mut self, idx: usize) -> bool {
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
    fn read_pty(&mut self) -> bool {
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

    fn drain(&mut self) {
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
    fn read_source_drain(&mut self, idx: usize) -> bool {
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

    fn stdin_sink(&self) -> Option<BorrowedFd<'_>> {
        if !self.stdin_open {
            return None;
        }
        self.stdin_pipe
            .as_ref()
            .map(|f| f.as_fd())
            .or_else(|| self.pty.as_ref().map(|f| f.as_fd()))
    }

    fn flush_stdin(&mut self) {
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

    fn close_stdin(&mut self) {
        self.stdin_close_pending = false;
        self.stdin_open = false;
        self.stdin_pipe = None;
    }

    fn client_input(&mut self, idx: usize) {
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

    fn client_hangup(&mut self, idx: usize) {
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

    fn resize(&self, rows: i64, cols: i64) {
        if let Some(pty) = &self.pty
            && (0..=1000).contains(&rows)
            && (0..=1000).contains(&cols)
        {
            let _ = sys::set_winsize(pty, rows as u16, cols as u16);
        }
    }

    /// Read the ctl fifo (`<type> <h> <w>` lines) or the winsz fifo (`<h> <w>` lines).
    fn read_fifo(&mut self, is_ctl: bool) {
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
    fn main_loop(&mut self) -> bool {
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
        }
    }
}
