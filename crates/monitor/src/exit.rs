//! After the container exits: the exit files and the exit command.
//!
//! conmon closes every fd it was leaked (Podman's reserved host ports) before it writes the
//! exit files, so that by the time the engine's cleanup runs the ports are free.

use std::path::{Path, PathBuf};
use std::process::Command;

use nix::errno::Errno;
use nix::sys::signal::{SigSet, SigmaskHow, sigprocmask};
use nix::sys::wait::{WaitStatus, waitpid};

use crate::cli::Options;
use crate::sys;

/// The files the exit code goes to: `<persist-dir>/exit` and `<exit-dir>/<cid>`.
pub fn exit_file_paths(opts: &Options) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(p) = &opts.persist_dir {
        out.push(p.join("exit"));
    }
    if let (Some(d), Some(cid)) = (&opts.exit_dir, &opts.cid) {
        out.push(d.join(cid));
    }
    out
}

/// Write the decimal exit code, no newline, through a rename so a reader never sees a
/// half-written file.
pub fn write_exit_file(path: &Path, code: i32) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".peapod-tmp");
    std::fs::write(&tmp, code.to_string())?;
    std::fs::rename(&tmp, path)
}

/// The exit command's argv: the command itself, then every `--exit-command-arg` (conmon's
/// `do_exit_command` passes `exit_command` as argv[0]).
pub fn exit_command(opts: &Options) -> Option<Command> {
    let path = opts.exit_command.as_ref()?;
    let mut cmd = Command::new(path);
    cmd.args(&opts.exit_command_args);
    Some(cmd)
}

/// Close leaked fds, write the exit files, run the exit command and wait for it.
/// Returns the monitor's exit code: the exit command's if it failed, else 0.
pub fn finish(opts: &Options, code: i32, old_oom: Option<&str>) -> i32 {
    sys::close_fds_except(&[]);
    for p in exit_file_paths(opts) {
        let _ = write_exit_file(&p, code);
    }
    let Some(mut cmd) = exit_command(opts) else {
        return 0;
    };
    let _ = nix::sys::prctl::set_child_subreaper(false);
    let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None);
    if opts.exit_delay > 0 {
        std::thread::sleep(std::time::Duration::from_secs(opts.exit_delay.into()));
    }
    sys::prepare_child(
        &mut cmd,
        sys::ChildSetup {
            oom_score_adj: old_oom.map(str::to_string),
            wait_fd: None,
        },
    );
    let Ok(child) = cmd.spawn() else { return 1 };
    let exit_pid = child.id() as i32;
    let mut status = 0;
    // Reap everything, including zombies a runtime may have left behind.
    loop {
        match waitpid(None, None) {
            Ok(st @ (WaitStatus::Exited(..) | WaitStatus::Signaled(..))) => {
                if st.pid().map(|p| p.as_raw()) == Some(exit_pid) {
                    status = match st {
                        WaitStatus::Exited(_, c) => c,
                        WaitStatus::Signaled(_, s, _) => 128 + s as i32,
                        _ => 0,
                    };
                }
            }
            Ok(_) | Err(Errno::EINTR) => {}
            Err(_) => break,
        }
    }
    status
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_command_argv_starts_with_the_command() {
        let o = Options::parse([
            "--exit-command",
            "/usr/bin/podman",
            "--exit-command-arg",
            "--root",
            "--exit-command-arg",
            "/x",
            "--exit-command-arg",
            "container",
        ])
        .unwrap();
        let cmd = exit_command(&o).unwrap();
        assert_eq!(cmd.get_program(), "/usr/bin/podman");
        let args: Vec<_> = cmd.get_args().collect();
        assert_eq!(args, ["--root", "/x", "container"]);
        assert!(exit_command(&Options::default()).is_none());
    }

    #[test]
    fn exit_files() {
        let dir = tempfile::tempdir().unwrap();
        let o = Options::parse([
            "-c",
            "abc",
            "--exit-dir",
            dir.path().to_str().unwrap(),
            "--persist-dir",
            dir.path().join("p").to_str().unwrap(),
        ])
        .unwrap();
        let paths = exit_file_paths(&o);
        assert_eq!(paths, [dir.path().join("p/exit"), dir.path().join("abc")]);
        write_exit_file(&paths[1], 137).unwrap();
        assert_eq!(std::fs::read_to_string(&paths[1]).unwrap(), "137");
        write_exit_file(&paths[1], -1).unwrap();
        assert_eq!(
            crate::parse_exit_file(&std::fs::read_to_string(&paths[1]).unwrap()),
            Some(-1)
        );
    }
}
