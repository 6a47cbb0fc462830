//! The monitor proper: conmon's startup sequence, the runtime call, and the event loop
//! (one thread, `poll(2)`, a signalfd for SIGCHLD and the forwarded signals).
//!
//! Order of work (conmon's): start pipe → fork (the parent writes `--conmon-pidfile` and
//! exits) → setsid + subreaper → stdio pipes or console socket → attach socket and fifos →
//! `runtime create|exec` → pid on the sync pipe → relay output to logs and attach clients
//! until the container exits → exit files → exit command.

use std::collections::HashMap;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use nix::errno::Errno;
use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::sys::signal::{SigSet, SigmaskHow, Signal, kill, sigprocmask};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::WaitStatus;
use nix::unistd::{ForkResult, Pid};

use crate::attach::AttachServer;
use crate::cli::{LogDriver, Options};
use crate::log::{K8sWriter, Stream};
use crate::{STREAM_STDERR, STREAM_STDOUT, SyncMessage, sys};

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
    health: Option<crate::health::HealthTimer>,
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
        health: None,
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
    m.health = crate::health::HealthTimer::new(&m.opts);

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

mod event_loop;
