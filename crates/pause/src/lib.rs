//! peapod-pause: the infra process of a pod, with catatonit `-P` behaviour.
//!
//! It spawns nothing. It moves to `/` (so it never pins the directory it was
//! started in), closes every inherited fd above stderr, blocks every signal the
//! kernel lets it block (except the ones the kernel raises for our own faults:
//! SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP, SIGSYS, as catatonit does)
//! and reads them from a signalfd: SIGCHLD reaps every zombie (it is pid 1 of a
//! pod's shared pid namespace, or a child subreaper otherwise); SIGTERM and
//! SIGINT end it with status 0; every other signal, including SIGTSTP, SIGTTOU,
//! SIGTTIN, SIGHUP and SIGUSR1, is ignored.
//!
//! The binary is `no_std` and links no C library, so it runs from a rootfs that
//! holds nothing but itself. This library holds the logic (`run`, argument and
//! signal decisions, which are unit tested with std) and the raw system calls
//! ([`sys`], the only module allowed `unsafe`); `src/main.rs` is the entry point.
//! It must never allocate, spawn, or open anything but its signalfd.
//!
//! With `--userns` it is also a rootless user's long-lived namespace holder (Podman runs
//! `catatonit -P` for that): before pausing it leaves the caller's session, enters a new
//! user and mount namespace, and hands over to the engine, which writes its id mappings
//! (newuidmap/newgidmap need the pid of a process already in the namespace). The handshake
//! uses two inherited pipes: on fd [`USERNS_READY_FD`] it writes `1` once it is in the new
//! namespaces (or `E<errno>` if the kernel refused them); then it reads one byte from fd
//! [`USERNS_GO_FD`]: `1` when the mappings are written, anything else (or end of file:
//! the engine gave up) ends it with status 1, so a failed setup leaves no process behind.
#![cfg_attr(not(test), no_std)]

pub mod init;
pub mod sys;

/// What the command line asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command<'a> {
    /// Run as the pause process (`-P` is accepted and ignored).
    Pause,
    /// Enter a new user and mount namespace (the handshake in the module doc), then pause.
    PauseUserns,
    /// `[-g] -- PROGRAM [ARGS…]`: catatonit's init mode — run the program as our child,
    /// forward signals to it (to its process group with `-g`), reap every zombie, exit
    /// with its status. `at` is the program's index among the arguments.
    Init { group: bool, at: usize },
    /// Print `peapod-pause <version>` and exit 0.
    Version,
    /// An argument we do not know: print usage on stderr and exit 1.
    Usage(&'a [u8]),
}

/// Parses the arguments after `argv[0]`. The first argument that decides
/// (version or an unknown one) wins, as with getopt in catatonit.
pub fn parse_args<'a, I>(args: I) -> Command<'a>
where
    I: IntoIterator<Item = &'a [u8]>,
{
    let mut userns = false;
    let mut pause = false;
    let mut group: Option<&'a [u8]> = None;
    let mut args = args.into_iter().enumerate().peekable();
    while let Some((i, arg)) = args.next() {
        match arg {
            b"-P" => pause = true,
            b"-g" => group = Some(arg),
            b"--userns" => userns = true,
            b"-V" | b"--version" => return Command::Version,
            b"--" if !pause && !userns && args.peek().is_some() => {
                return Command::Init {
                    group: group.is_some(),
                    at: i + 1,
                };
            }
            other => return Command::Usage(other),
        }
    }
    if let Some(g) = group {
        return Command::Usage(g);
    }
    if userns {
        Command::PauseUserns
    } else {
        Command::Pause
    }
}

/// `--userns`: the fd on which we report that the namespaces exist.
pub const USERNS_READY_FD: i32 = 3;
/// `--userns`: the fd from which we read the go-ahead once the mappings are written.
pub const USERNS_GO_FD: i32 = 4;

/// `--userns` before pausing: a session of our own, new user and mount namespaces, the
/// handshake. `Err` is the exit code when it cannot go on.
fn enter_userns() -> Result<(), u8> {
    // Not a session leader already (the engine spawns us as an ordinary child); a failure
    // would only mean we are one, which is what we want anyway.
    let _ = sys::setsid();
    if let Err(e) = sys::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNS) {
        let mut digits = [0u8; 10];
        sys::write_all(USERNS_READY_FD, b"E");
        sys::write_all(USERNS_READY_FD, format_u32(e.0.unsigned_abs(), &mut digits));
        return Err(1);
    }
    sys::write_all(USERNS_READY_FD, b"1");
    let mut go = [0u8; 1];
    match sys::read(USERNS_GO_FD, &mut go) {
        Ok(1) if go[0] == b'1' => Ok(()),
        // The engine could not map the ids (or died): nothing to hold.
        _ => Err(1),
    }
}

/// What the pause loop does with one received signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Reap every zombie child.
    Reap,
    /// Exit with status 0.
    Exit,
    /// Nothing.
    Ignore,
}

/// The action for signal number `signo`.
pub fn action_for(signo: u32) -> Action {
    match signo as i32 {
        libc::SIGTERM | libc::SIGINT => Action::Exit,
        libc::SIGCHLD => Action::Reap,
        _ => Action::Ignore,
    }
}

/// Signals raised by the kernel for our own faults: left unblocked so such a
/// fault kills us instead of looping (catatonit's `kernel_signals`).
const KERNEL_SIGNALS: [i32; 7] = [
    libc::SIGFPE,
    libc::SIGILL,
    libc::SIGSEGV,
    libc::SIGBUS,
    libc::SIGABRT,
    libc::SIGTRAP,
    libc::SIGSYS,
];

/// The kernel sigset (bit `n - 1` = signal `n`, signals 1..=64) we block and
/// read from the signalfd: everything but [`KERNEL_SIGNALS`]. SIGKILL and
/// SIGSTOP are in it too; the kernel silently never blocks them.
pub fn blocked_mask() -> u64 {
    KERNEL_SIGNALS
        .iter()
        .fold(u64::MAX, |mask, &sig| mask & !(1u64 << (sig - 1)))
}

const USAGE: &[u8] =
    b"usage: peapod-pause [-P] [--userns] [-V|--version] | [-g] -- PROGRAM [ARGS...]\n";

/// Writes `peapod-pause: <what>: errno N` on stderr.
pub(crate) fn report(what: &[u8], err: sys::Errno) {
    report_parts(&[what], err);
}

/// [`report`] of a message in pieces (no allocation here).
pub(crate) fn report_parts(what: &[&[u8]], err: sys::Errno) {
    let mut digits = [0u8; 10];
    sys::write_all(2, b"peapod-pause: ");
    for w in what {
        sys::write_all(2, w);
    }
    sys::write_all(2, b": errno ");
    sys::write_all(2, format_u32(err.0.unsigned_abs(), &mut digits));
    sys::write_all(2, b"\n");
}

/// Decimal digits of `n`, written at the end of `buf`.
pub fn format_u32(mut n: u32, buf: &mut [u8; 10]) -> &[u8] {
    let mut start = buf.len();
    loop {
        start -= 1;
        buf[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[start..];
        }
    }
}

/// Reaps every zombie child that is waiting.
fn reap_all() {
    loop {
        match sys::reap_one() {
            Ok(Some(_)) => {}
            Ok(None) => return,
            Err(e) => {
                report(b"failed to reap children", e);
                return;
            }
        }
    }
}

/// Runs the program with the arguments after `argv[0]` (`exec`: the same arguments and
/// the environment as the kernel passed them, for init mode's exec); returns the exit
/// code for the cases that end (version, usage, setup failure, SIGTERM/SIGINT, the
/// init's child).
pub fn run<'a, I>(args: I, exec: Option<(sys::StrArray, sys::StrArray)>) -> u8
where
    I: IntoIterator<Item = &'a [u8]>,
{
    // Block first, so a signal sent while we set up stays pending and is read
    // from the signalfd afterwards instead of killing us.
    let mask = blocked_mask();
    if let Err(e) = sys::block_signals(mask) {
        report(b"failed to block signals", e);
        return 1;
    }
    match parse_args(args) {
        Command::Pause => {}
        Command::PauseUserns => {
            if let Err(code) = enter_userns() {
                return code;
            }
        }
        Command::Init { group, at } => {
            let Some((argv, envp)) = exec else {
                return 1;
            };
            let Some(program) = argv.skip(at) else {
                return 1;
            };
            return init::run(program, envp, group, mask);
        }
        Command::Version => {
            sys::write_all(1, b"peapod-pause ");
            sys::write_all(1, env!("CARGO_PKG_VERSION").as_bytes());
            sys::write_all(1, b"\n");
            return 0;
        }
        Command::Usage(arg) => {
            sys::write_all(2, b"peapod-pause: unknown argument '");
            sys::write_all(2, arg);
            sys::write_all(2, b"'\n");
            sys::write_all(2, USAGE);
            return 1;
        }
    }
    // Not pid 1 of a pid namespace: become the reaper of our descendants'
    // orphans anyway, or their zombies would pile up on the host (catatonit
    // refuses to run in that case too).
    if sys::getpid() != 1 {
        if let Err(e) = sys::set_child_subreaper() {
            report(b"failed to set PR_SET_CHILD_SUBREAPER", e);
            return 1;
        }
    }
    // podman starts the infra in a directory it later unmounts; don't pin it.
    // Errors are ignored, as catatonit does: the cwd matters to nobody.
    let _ = sys::chdir_root();
    // Close inherited fds before the signalfd exists, so no exclusion is needed.
    if let Err(e) = sys::close_from(3) {
        report(b"failed to close file descriptors >= 3", e);
    }
    let sfd = match sys::signalfd(mask) {
        Ok(fd) => fd,
        Err(e) => {
            report(b"failed to create signalfd", e);
            return 1;
        }
    };
    // Zombies inherited before the mask was set have already raised their
    // SIGCHLD; reaping once here costs nothing and covers any doubt.
    reap_all();
    let mut signalfd_works = true;
    loop {
        let received = if signalfd_works {
            match sys::read_signal(sfd) {
                Ok(signo) => Some(signo),
                // Cannot really happen: the fd blocks and every signal is blocked.
                Err(sys::Errno(libc::EINTR | libc::EAGAIN)) => None,
                Err(e) => {
                    // A pod must not end because its infra lost its signalfd:
                    // say so once and wait for signals another way.
                    report(b"failed to read signalfd, falling back to sigtimedwait", e);
                    signalfd_works = false;
                    None
                }
            }
        } else {
            match sys::wait_signal(mask) {
                Ok(signo) => Some(signo),
                Err(e) => {
                    // Neither way of receiving signals works: exiting beats
                    // spinning on a CPU forever.
                    report(b"failed to wait for signals", e);
                    return 1;
                }
            }
        };
        match received.map(action_for) {
            Some(Action::Exit) => return 0,
            Some(Action::Reap) => reap_all(),
            Some(Action::Ignore) | None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args<'a>(list: &'a [&'a str]) -> Command<'a> {
        parse_args(list.iter().map(|s| s.as_bytes()))
    }

    #[test]
    fn no_arguments_and_dash_p_mean_pause() {
        assert_eq!(args(&[]), Command::Pause);
        assert_eq!(args(&["-P"]), Command::Pause);
        assert_eq!(args(&["-P", "-P"]), Command::Pause);
    }

    #[test]
    fn userns_flag() {
        assert_eq!(args(&["--userns"]), Command::PauseUserns);
        assert_eq!(args(&["-P", "--userns"]), Command::PauseUserns);
        assert_eq!(args(&["--userns", "-V"]), Command::Version);
        assert_eq!(args(&["--userns", "-x"]), Command::Usage(b"-x"));
    }

    #[test]
    fn version_flags() {
        assert_eq!(args(&["-V"]), Command::Version);
        assert_eq!(args(&["--version"]), Command::Version);
        assert_eq!(args(&["-P", "--version"]), Command::Version);
    }

    #[test]
    fn anything_else_is_usage_and_first_decisive_argument_wins() {
        assert_eq!(args(&["-g"]), Command::Usage(b"-g"));
        assert_eq!(args(&["sleep", "1"]), Command::Usage(b"sleep"));
        assert_eq!(args(&["-P", "--"]), Command::Usage(b"--"));
        assert_eq!(args(&["-x", "-V"]), Command::Usage(b"-x"));
        assert_eq!(args(&["-V", "-x"]), Command::Version);
        assert_eq!(args(&["-PV"]), Command::Usage(b"-PV"));
        assert_eq!(args(&["--"]), Command::Usage(b"--"));
        assert_eq!(args(&["--userns", "--", "sh"]), Command::Usage(b"--"));
    }

    #[test]
    fn init_mode_runs_what_follows_the_double_dash() {
        assert_eq!(
            args(&["--", "sh", "-c", "true"]),
            Command::Init {
                group: false,
                at: 1
            }
        );
        assert_eq!(
            args(&["-g", "--", "sleep", "1"]),
            Command::Init { group: true, at: 2 }
        );
        // What follows `--` is the program's, even `-V`.
        assert_eq!(
            args(&["--", "-V"]),
            Command::Init {
                group: false,
                at: 1
            }
        );
    }

    #[test]
    fn signal_actions() {
        assert_eq!(action_for(libc::SIGTERM as u32), Action::Exit);
        assert_eq!(action_for(libc::SIGINT as u32), Action::Exit);
        assert_eq!(action_for(libc::SIGCHLD as u32), Action::Reap);
        for sig in [
            libc::SIGHUP,
            libc::SIGUSR1,
            libc::SIGUSR2,
            libc::SIGTSTP,
            libc::SIGTTOU,
            libc::SIGTTIN,
            libc::SIGQUIT,
            libc::SIGPIPE,
            libc::SIGWINCH,
        ] {
            assert_eq!(action_for(sig as u32), Action::Ignore, "signal {sig}");
        }
        assert_eq!(action_for(libc::SIGRTMIN() as u32), Action::Ignore);
    }

    #[test]
    fn mask_blocks_everything_but_fault_signals() {
        let mask = blocked_mask();
        let has = |sig: i32| mask & (1u64 << (sig - 1)) != 0;
        for sig in [
            libc::SIGTERM,
            libc::SIGINT,
            libc::SIGCHLD,
            libc::SIGHUP,
            libc::SIGUSR1,
            libc::SIGTSTP,
            libc::SIGTTIN,
            libc::SIGTTOU,
            64,
        ] {
            assert!(has(sig), "signal {sig} should be blocked");
        }
        for sig in KERNEL_SIGNALS {
            assert!(!has(sig), "fault signal {sig} must stay unblocked");
        }
        assert_eq!(mask.count_ones(), 64 - KERNEL_SIGNALS.len() as u32);
    }

    #[test]
    fn formats_numbers() {
        let mut buf = [0u8; 10];
        assert_eq!(format_u32(0, &mut buf), b"0");
        assert_eq!(format_u32(7, &mut buf), b"7");
        assert_eq!(format_u32(1024, &mut buf), b"1024");
        assert_eq!(format_u32(u32::MAX, &mut buf), b"4294967295");
    }
}
