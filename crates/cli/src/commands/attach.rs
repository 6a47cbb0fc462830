//! Commands that hold a terminal: `attach`, `exec`, and the attached half of `run` and
//! `start -a`.

use std::os::unix::net::UnixStream;

use peapod_engine::Engine;
use peapod_engine::container::{Container, ExecOptions, SessionEnd, Status};

use crate::cli::{AttachArgs, ExecArgs};
use crate::stream::{StreamEnd, StreamOptions, parse_detach_keys, stream};
use crate::{CliError, CliResult};

/// How a foreground session ended.
pub(crate) enum Outcome {
    /// The container exited with this code (and was cleaned up).
    Exited(i32),
    /// The user detached; the container runs on.
    Detached,
}

pub(crate) struct AttachFlags<'a> {
    pub stdin: bool,
    /// The container's stdout and stderr shown (`run --attach` picks).
    pub stdout: bool,
    pub stderr: bool,
    pub sig_proxy: bool,
    pub detach_keys: &'a str,
}

pub(crate) fn detach_keys(spec: &str) -> CliResult<Vec<u8>> {
    parse_detach_keys(spec).map_err(CliError::engine)
}

/// Forward signals we receive to the container's process, as `--sig-proxy` does.
fn proxy_signals(engine: &Engine, id: &str) -> CliResult<()> {
    let runtime = engine.runtime()?.clone();
    let id = id.to_string();
    if let Ok(mut signals) = signal_hook::iterator::Signals::new([
        libc::SIGINT,
        libc::SIGTERM,
        libc::SIGHUP,
        libc::SIGQUIT,
        libc::SIGUSR1,
        libc::SIGUSR2,
    ]) {
        std::thread::spawn(move || {
            for sig in signals.forever() {
                let _ = runtime.kill(&id, sig, false);
            }
        });
    }
    Ok(())
}

/// Stream a running container's output (and our stdin), until it exits — then its exit
/// code, after cleaning it up — or until the user detaches.
pub(crate) fn follow(
    engine: &Engine,
    c: &Container,
    socket: &UnixStream,
    f: &AttachFlags<'_>,
) -> CliResult<Outcome> {
    match session(engine, c, socket, f)? {
        SessionEnd::Detached => Ok(Outcome::Detached),
        SessionEnd::Finished => Ok(Outcome::Exited(engine.finish_attached(c)?)),
    }
}

/// The terminal half of an attached container: our stdin to it, its output to ours,
/// signals proxied, detach keys watched.
pub(crate) fn session(
    engine: &Engine,
    c: &Container,
    socket: &UnixStream,
    f: &AttachFlags<'_>,
) -> CliResult<SessionEnd> {
    let keys = detach_keys(f.detach_keys)?;
    if f.sig_proxy {
        proxy_signals(engine, c.id())?;
    }
    let end = stream(
        socket,
        &StreamOptions {
            stdin: f.stdin,
            tty: c.config.tty,
            detach_keys: keys,
            ctl: Some(engine.attach_ctl_path(c.id())),
            stdout: f.stdout,
            stderr: f.stderr,
        },
    )?;
    Ok(match end {
        StreamEnd::Detached => SessionEnd::Detached,
        _ => SessionEnd::Finished,
    })
}

/// `attach CONTAINER`: the exit code of the container, or 0 after a detach.
pub fn attach(engine: &Engine, a: AttachArgs) -> CliResult {
    detach_keys(&a.detach_keys)?;
    let c = engine.container(&a.container)?;
    let (c, socket) = match c.state.status {
        Status::Running => {
            let s = engine.attach_container(&c)?;
            (c, s)
        }
        // Podman starts a created container it is asked to attach to.
        Status::Created | Status::Initialized => {
            let started = engine.start(c.id(), true)?;
            let Some(s) = started.socket else {
                return Err(CliError::engine(format!(
                    "container {} has no attach socket",
                    c.id()
                )));
            };
            (started.container, s)
        }
        _ => {
            return Err(CliError::engine(
                "you can only attach to running containers",
            ));
        }
    };
    let flags = AttachFlags {
        stdin: !a.no_stdin && c.config.stdin,
        stdout: true,
        stderr: true,
        sig_proxy: a.sig_proxy,
        detach_keys: &a.detach_keys,
    };
    match follow(engine, &c, &socket, &flags)? {
        Outcome::Exited(code) => Ok(code),
        Outcome::Detached => Ok(0),
    }
}

/// `exec CONTAINER COMMAND…`: the command's exit code; with `-d`, the session id.
pub fn exec(engine: &Engine, a: ExecArgs) -> CliResult {
    let keys = detach_keys(&a.detach_keys)?;
    let opts = ExecOptions {
        command: a.command,
        env: a.env,
        env_files: a.env_file,
        user: a.user,
        workdir: a.workdir,
        tty: a.tty,
        interactive: a.interactive,
        detach: a.detach,
        privileged: a.privileged,
    };
    let mut started = engine.exec_start(&a.container, &opts)?;
    if a.detach {
        println!("{}", started.session);
        return Ok(0);
    }
    let Some(socket) = started.socket.take() else {
        return Err(CliError::engine("exec session has no attach socket"));
    };
    let end = stream(
        &socket,
        &StreamOptions {
            stdin: a.interactive,
            tty: a.tty,
            detach_keys: keys,
            ctl: Some(started.ctl.clone()),
            stdout: true,
            stderr: true,
        },
    )?;
    if end == StreamEnd::Detached {
        // The session runs on; its monitor's exit command forgets it when it ends.
        return Ok(0);
    }
    Ok(engine.exec_finish(started)?)
}
