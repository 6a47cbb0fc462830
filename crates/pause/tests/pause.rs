//! Integration tests of the real `peapod-pause` binary. They start processes
//! (and, for reaping, a pid namespace), so they run as root; each kills and
//! reaps whatever it started, even when an assertion fails.

use std::io::{Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

const PAUSE: &str = env!("CARGO_BIN_EXE_peapod-pause");

/// A child process killed (SIGKILL) and reaped when dropped.
struct Guard(Option<Child>);

impl Guard {
    fn spawn(cmd: &mut Command) -> Guard {
        Guard(Some(
            cmd.spawn().unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}")),
        ))
    }

    fn pid(&self) -> i32 {
        self.0.as_ref().expect("child").id() as i32
    }

    fn try_wait(&mut self) -> Option<ExitStatus> {
        self.0.as_mut().expect("child").try_wait().expect("waitpid")
    }

    /// Polls for the exit for at most `limit`.
    fn wait_for(&mut self, limit: Duration) -> Option<ExitStatus> {
        let start = Instant::now();
        loop {
            if let Some(status) = self.try_wait() {
                return Some(status);
            }
            if start.elapsed() > limit {
                return None;
            }
            sleep(Duration::from_millis(1));
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn is_root() -> bool {
    // Read the effective uid from /proc: no unsafe geteuid() in tests.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

fn send(pid: i32, sig: &str) {
    let status = Command::new("kill")
        .args([&format!("-{sig}"), &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{sig} {pid} failed");
}

/// A field of /proc/PID/status, e.g. "SigBlk" or "State".
fn proc_status(pid: i32, field: &str) -> String {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("read /proc/{pid}/status: {e}"));
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
        .trim()
        .to_string()
}

/// Starts the pause process and waits until its signal mask is in place (so a
/// signal sent afterwards goes to the signalfd, not to the default action).
fn start_pause() -> Guard {
    let mut guard = Guard::spawn(Command::new(PAUSE).arg("-P").stdin(Stdio::null()));
    let pid = guard.pid();
    let start = Instant::now();
    loop {
        if let Some(status) = guard.try_wait() {
            panic!("peapod-pause exited early: {status}");
        }
        let ready = std::fs::read_link(format!("/proc/{pid}/fd/3"))
            .map(|t| t.to_string_lossy().contains("signalfd"))
            .unwrap_or(false);
        if ready {
            return guard;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "peapod-pause never became ready"
        );
        sleep(Duration::from_millis(1));
    }
}

/// The ELF program header types of `path` (64-bit little-endian ELF only).
fn program_header_types(path: &str) -> Vec<u32> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .unwrap_or_else(|e| panic!("read {path}: {e}"));
    assert_eq!(&bytes[..4], b"\x7fELF", "{path} is not an ELF file");
    assert_eq!(bytes[4], 2, "{path}: not ELFCLASS64");
    assert_eq!(bytes[5], 1, "{path}: not little-endian");
    let u16_at = |o: usize| u16::from_le_bytes(bytes[o..o + 2].try_into().unwrap());
    let u32_at = |o: usize| u32::from_le_bytes(bytes[o..o + 4].try_into().unwrap());
    let u64_at = |o: usize| u64::from_le_bytes(bytes[o..o + 8].try_into().unwrap());
    let phoff = u64_at(0x20) as usize;
    let phentsize = u16_at(0x36) as usize;
    let phnum = u16_at(0x38) as usize;
    assert!(phnum > 0, "{path}: no program headers");
    (0..phnum).map(|i| u32_at(phoff + i * phentsize)).collect()
}

const PT_LOAD: u32 = 1;
const PT_DYNAMIC: u32 = 2;
const PT_INTERP: u32 = 3;

#[test]
fn binary_is_static() {
    let types = program_header_types(PAUSE);
    assert!(types.contains(&PT_LOAD), "no PT_LOAD segment: {types:?}");
    assert!(
        !types.contains(&PT_INTERP),
        "has PT_INTERP (needs a dynamic loader): {types:?}"
    );
    assert!(
        !types.contains(&PT_DYNAMIC),
        "has PT_DYNAMIC (dynamically linked): {types:?}"
    );
    // Cross-check the parser against a binary that is certainly dynamic.
    let sh = std::fs::canonicalize("/bin/sh").expect("resolve /bin/sh");
    let sh_types = program_header_types(sh.to_str().unwrap());
    assert!(
        sh_types.contains(&PT_INTERP),
        "/bin/sh should have PT_INTERP: {sh_types:?}"
    );
}

#[test]
fn version_and_usage() {
    for flag in ["-V", "--version"] {
        let out = Command::new(PAUSE)
            .arg(flag)
            .output()
            .expect("run peapod-pause");
        assert_eq!(out.status.code(), Some(0), "{flag}: {:?}", out.status);
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            format!("peapod-pause {}\n", env!("CARGO_PKG_VERSION")),
            "{flag}"
        );
    }
    for bad in [&["--nope"][..], &["sleep", "1"][..], &["-P", "-g"][..]] {
        let out = Command::new(PAUSE)
            .args(bad)
            .output()
            .expect("run peapod-pause");
        assert_eq!(out.status.code(), Some(1), "{bad:?}: {:?}", out.status);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("usage: peapod-pause"),
            "{bad:?}: stderr {err:?}"
        );
        assert!(out.stdout.is_empty(), "{bad:?}: stdout {:?}", out.stdout);
    }
}

fn exits_zero_quickly_on(sig: &str) {
    let mut pause = start_pause();
    let kill_at = Instant::now();
    send(pause.pid(), sig);
    let status = pause.wait_for(Duration::from_secs(2));
    let took = kill_at.elapsed();
    let status = status.unwrap_or_else(|| panic!("still running 2 s after SIG{sig}"));
    assert_eq!(
        status.code(),
        Some(0),
        "after SIG{sig}: {status:?} (signal {:?})",
        status.signal()
    );
    assert!(
        took < Duration::from_millis(100),
        "SIG{sig} took {took:?} to end it"
    );
}

#[test]
fn sigterm_exits_zero_within_100ms() {
    exits_zero_quickly_on("TERM");
}

#[test]
fn sigint_exits_zero_within_100ms() {
    exits_zero_quickly_on("INT");
}

#[test]
fn other_signals_are_ignored() {
    let mut pause = start_pause();
    let pid = pause.pid();
    for sig in [
        "HUP", "USR1", "USR2", "QUIT", "PIPE", "ALRM", "TSTP", "TTIN", "TTOU", "WINCH", "CHLD",
    ] {
        send(pid, sig);
    }
    sleep(Duration::from_millis(100));
    assert_eq!(
        pause.try_wait(),
        None,
        "peapod-pause ended on an ignored signal"
    );
    let state = proc_status(pid, "State");
    assert!(
        state.starts_with('S'),
        "expected sleeping (not stopped) after SIGTSTP etc, got {state}"
    );
    // And it still answers SIGTERM afterwards.
    send(pid, "TERM");
    let status = pause
        .wait_for(Duration::from_secs(2))
        .expect("exit after SIGTERM");
    assert_eq!(status.code(), Some(0));
}

/// Waits until `pid` has its signalfd at fd 3, i.e. its setup is done.
fn wait_ready(guard: &mut Guard, pid: i32) {
    let start = Instant::now();
    while !std::fs::read_link(format!("/proc/{pid}/fd/3"))
        .map(|t| t.to_string_lossy().contains("signalfd"))
        .unwrap_or(false)
    {
        assert!(
            guard.try_wait().is_none(),
            "peapod-pause (or its parent) exited early"
        );
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "pid {pid} never became ready"
        );
        sleep(Duration::from_millis(1));
    }
}

#[test]
fn moves_to_root_and_closes_inherited_fds() {
    // The shell opens fd 7 without close-on-exec and execs the pause process,
    // from a directory other than `/`.
    let mut pause = Guard::spawn(
        Command::new("sh")
            .arg("-c")
            .arg(format!("exec 7>/dev/null 9</dev/null; exec {PAUSE} -P"))
            .current_dir(std::env::temp_dir())
            .stdin(Stdio::null()),
    );
    let pid = pause.pid();
    wait_ready(&mut pause, pid);
    let cwd = std::fs::read_link(format!("/proc/{pid}/cwd")).expect("read cwd");
    assert_eq!(cwd, std::path::Path::new("/"));
    let mut fds: Vec<u32> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("list fds")
        .map(|e| {
            e.expect("fd entry")
                .file_name()
                .to_string_lossy()
                .parse()
                .expect("fd number")
        })
        .collect();
    fds.sort();
    assert_eq!(fds, vec![0, 1, 2, 3], "open fds (3 is the signalfd)");
    send(pid, "TERM");
    assert_eq!(
        pause
            .wait_for(Duration::from_secs(2))
            .and_then(|s| s.code()),
        Some(0)
    );
}

/// `(pid, ppid, state)` of every process on the host.
fn processes() -> Vec<(i32, i32, char, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("list /proc").flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // "pid (comm) state ppid ...": comm may contain spaces, cut at the last ')'.
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let comm = stat[open + 1..close].to_string();
        let mut rest = stat[close + 1..].split_whitespace();
        let state = rest.next().and_then(|s| s.chars().next()).unwrap_or('?');
        let ppid = rest.next().and_then(|s| s.parse().ok()).unwrap_or(0);
        out.push((pid, ppid, state, comm));
    }
    out
}

fn children_of(parent: i32) -> Vec<(i32, char, String)> {
    processes()
        .into_iter()
        .filter(|p| p.1 == parent)
        .map(|(pid, _, state, comm)| (pid, state, comm))
        .collect()
}

/// An orphan is reparented to the pause process, then exits: it must be
/// reaped (no zombie left whose parent is the pause process).
fn check_orphan_reaped(pause_pid: i32, orphan_comm: &str) {
    let start = Instant::now();
    // 1. the orphan shows up as a child of the pause process (else the test
    //    would prove nothing)...
    loop {
        let kids = children_of(pause_pid);
        if kids
            .iter()
            .any(|(_, state, comm)| comm == orphan_comm && *state != 'Z')
        {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "no live {orphan_comm} was reparented to pid {pause_pid}; children: {kids:?}"
        );
        sleep(Duration::from_millis(5));
    }
    // 2. ...and once it has exited, it is gone, not a zombie.
    let start = Instant::now();
    loop {
        let kids = children_of(pause_pid);
        if kids.is_empty() {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "children of pid {pause_pid} not reaped: {kids:?}"
        );
        sleep(Duration::from_millis(5));
    }
}

#[test]
fn reaps_orphans_as_subreaper() {
    // sh starts a subshell and execs the pause process, so the subshell is the
    // pause process's child. The subshell waits (the pause process is set up by
    // then), starts a `sleep` in the background and exits: the orphaned `sleep`
    // is reparented to the pause process only because it is a child subreaper.
    let mut pause = Guard::spawn(
        Command::new("sh")
            .arg("-c")
            .arg(format!("(sleep 0.3; sleep 0.4 & exit 0) & exec {PAUSE} -P"))
            .stdin(Stdio::null()),
    );
    let pid = pause.pid();
    wait_ready(&mut pause, pid);
    check_orphan_reaped(pid, "sleep");
    assert_eq!(pause.try_wait(), None, "peapod-pause ended while reaping");
    send(pid, "TERM");
    assert_eq!(
        pause
            .wait_for(Duration::from_secs(2))
            .and_then(|s| s.code()),
        Some(0)
    );
}

#[test]
fn reaps_orphans_as_pid_1_of_a_pid_namespace() {
    if !is_root() {
        // In CI (`.ci/run`, as root) a skip would pass having tested nothing.
        assert!(std::env::var_os("CI").is_none(), "root is required in CI");
        eprintln!("skipped: needs root to create a pid namespace");
        return;
    }
    // unshare forks; its child is pid 1 of a new pid namespace (with its own
    // /proc) and execs the pause process. --kill-child: if unshare dies (the
    // guard kills it), the pause process gets SIGKILL, and with it the namespace.
    let mut unshare = Guard::spawn(
        Command::new("unshare")
            .args([
                "--pid",
                "--fork",
                "--mount-proc",
                "--kill-child",
                PAUSE,
                "-P",
            ])
            .stdin(Stdio::null()),
    );
    let start = Instant::now();
    let pause_pid = loop {
        let kids = children_of(unshare.pid());
        if let Some((pid, _, _)) = kids.iter().find(|(_, _, comm)| comm == "peapod-pause") {
            break *pid;
        }
        assert!(unshare.try_wait().is_none(), "unshare exited early");
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "pause never started under unshare"
        );
        sleep(Duration::from_millis(2));
    };
    wait_ready(&mut unshare, pause_pid);
    let nspid = proc_status(pause_pid, "NSpid");
    assert!(
        nspid.ends_with("\t1") || nspid.ends_with(" 1"),
        "not pid 1 in its namespace: {nspid}"
    );
    // A shell inside the namespace starts a sleep and exits: the sleep is
    // orphaned inside the namespace and reparented to its pid 1, the pause process.
    let status = Command::new("nsenter")
        .args([
            "-t",
            &pause_pid.to_string(),
            "-p",
            "-m",
            "sh",
            "-c",
            "sleep 0.4 & exit 0",
        ])
        .status()
        .expect("run nsenter");
    assert!(status.success(), "nsenter: {status}");
    check_orphan_reaped(pause_pid, "sleep");
    // Still the namespace's init, and SIGTERM from outside still ends it with 0
    // (blocked signals reach a namespace init even without a handler).
    let kill_at = Instant::now();
    send(pause_pid, "TERM");
    let status = unshare
        .wait_for(Duration::from_secs(2))
        .expect("unshare still running after SIGTERM");
    assert!(
        kill_at.elapsed() < Duration::from_millis(500),
        "took {:?}",
        kill_at.elapsed()
    );
    // unshare exits with its child's status.
    assert_eq!(status.code(), Some(0), "pause in the namespace: {status:?}");
}

/// `peapod-pause --userns` started by a shell that hands it the two handshake fifos as
/// fds 3 (ready) and 4 (go), as the engine hands it pipes. Returns the guard (the shell
/// execs the pause, so it is the same process) and the ready/go ends.
fn start_userns_pause(tag: &str) -> (Guard, std::fs::File, std::fs::File, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("pause-userns-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    for f in ["ready", "go"] {
        let st = Command::new("mkfifo")
            .arg(dir.join(f))
            .status()
            .expect("run mkfifo");
        assert!(st.success(), "mkfifo {f}");
    }
    let guard = Guard::spawn(
        Command::new("sh")
            .args(["-c", "exec \"$0\" --userns 3>\"$1\" 4<\"$2\""])
            .arg(PAUSE)
            .arg(dir.join("ready"))
            .arg(dir.join("go"))
            .stdin(Stdio::null()),
    );
    // The shell opens ready, then go: open them in that order so neither side blocks.
    let ready = std::fs::File::open(dir.join("ready")).expect("open ready fifo");
    let go = std::fs::OpenOptions::new()
        .write(true)
        .open(dir.join("go"))
        .expect("open go fifo");
    (guard, ready, go, dir)
}

#[test]
fn userns_mode_holds_new_user_and_mount_namespaces_after_the_go_ahead() {
    let (mut guard, mut ready, mut go, dir) = start_userns_pause("go");
    let pid = guard.pid();
    let mut said = [0u8; 1];
    ready.read_exact(&mut said).expect("read the ready byte");
    assert_eq!(&said, b"1", "the pause did not report its namespaces");
    for ns in ["user", "mnt"] {
        let theirs = std::fs::read_link(format!("/proc/{pid}/ns/{ns}")).expect("its ns");
        let ours = std::fs::read_link(format!("/proc/self/ns/{ns}")).expect("our ns");
        assert_ne!(theirs, ours, "the pause shares our {ns} namespace");
    }
    // A session of its own: the caller's terminal signals never reach it.
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("its stat");
    let after = &stat[stat.rfind(')').expect("comm") + 2..];
    let session: i32 = after.split(' ').nth(3).expect("session").parse().unwrap();
    assert_eq!(session, pid, "not a session leader: {stat}");
    go.write_all(b"1").expect("write the go byte");
    drop(go);
    wait_ready(&mut guard, pid);
    send(pid, "TERM");
    assert_eq!(
        guard
            .wait_for(Duration::from_secs(2))
            .and_then(|s| s.code()),
        Some(0)
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn userns_mode_exits_when_the_engine_gives_up() {
    let (mut guard, mut ready, go, dir) = start_userns_pause("nogo");
    let mut said = [0u8; 1];
    ready.read_exact(&mut said).expect("read the ready byte");
    assert_eq!(&said, b"1");
    // The engine failed to map the ids: it closes the go pipe without a word.
    drop(go);
    let status = guard.wait_for(Duration::from_secs(2));
    assert_eq!(status.and_then(|s| s.code()), Some(1), "{status:?}");
    let _ = std::fs::remove_dir_all(dir);
}
