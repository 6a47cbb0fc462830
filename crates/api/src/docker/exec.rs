//! Exec: POST `/containers/{id}/exec` (create), `/exec/{id}/start` (hijacked, or detached),
//! `/exec/{id}/resize`, GET `/exec/{id}/json`.
//!
//! Docker splits an exec into create and start; the engine starts a session in one call
//! ([`peapod_engine::Engine::exec_start`]). An exec id is the API's handle on a pending or
//! finished session, kept in this service's memory as Docker's daemon keeps its exec
//! configs: create records the options, start runs the engine's session, and its exit code
//! stays readable by inspect (the session itself is cleaned up by the engine).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use peapod_engine::Error;
use peapod_engine::container::Status;
use peapod_engine::container::exec::ExecOptions;
use serde::Deserialize;
use serde_json::json;

use super::attach::size;
use super::hijack::{self, Streams};
use crate::http::{ErrorStyle, Resp, empty, json, query, read_json};
use crate::pool::EnginePool;

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
struct CreateBody {
    attach_stdin: bool,
    attach_stdout: bool,
    attach_stderr: bool,
    tty: bool,
    cmd: Option<Vec<String>>,
    env: Option<Vec<String>>,
    working_dir: String,
    user: String,
    privileged: bool,
    detach_keys: String,
    console_size: Option<Vec<u16>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
struct StartBody {
    detach: bool,
    tty: bool,
    console_size: Option<Vec<u16>>,
    /// Podman's client sends the terminal's size as `h` and `w`.
    #[serde(rename = "h")]
    height: u16,
    #[serde(rename = "w")]
    width: u16,
}

#[derive(Debug, Clone)]
enum Phase {
    Created,
    Running { pid: i32, ctl: PathBuf },
    Exited { pid: i32, code: i32 },
}

#[derive(Debug, Clone)]
struct Session {
    container: String,
    opts: ExecOptions,
    stdout: bool,
    stderr: bool,
    detach_keys: String,
    phase: Phase,
}

/// Exec sessions by id; finished ones are kept (Docker keeps them until the container goes).
const KEEP_FINISHED: usize = 1024;

fn sessions() -> &'static Mutex<HashMap<String, Session>> {
    static S: OnceLock<Mutex<HashMap<String, Session>>> = OnceLock::new();
    S.get_or_init(Default::default)
}

/// A session by id; 404 when there is none.
fn get(id: &str, errs: ErrorStyle) -> Result<Session, Resp> {
    sessions()
        .lock()
        .ok()
        .and_then(|m| m.get(id).cloned())
        .ok_or_else(|| {
            (errs.message)(
                StatusCode::NOT_FOUND,
                &format!("No such exec instance: {id}"),
            )
        })
}

fn set_phase(id: &str, phase: Phase) {
    if let Ok(mut m) = sessions().lock()
        && let Some(s) = m.get_mut(id)
    {
        s.phase = phase;
    }
}

/// Forget the oldest finished sessions beyond [`KEEP_FINISHED`] (ids are random: any).
fn trim(m: &mut HashMap<String, Session>) {
    let finished: Vec<String> = m
        .iter()
        .filter(|(_, s)| matches!(s.phase, Phase::Exited { .. }))
        .map(|(k, _)| k.clone())
        .collect();
    for k in finished.iter().skip(KEEP_FINISHED) {
        m.remove(k);
    }
}

/// POST `/containers/{id}/exec`: 201 `{"Id"}`; 409 when the container is not running.
pub async fn create(
    req: Request<Incoming>,
    container: String,
    pool: EnginePool,
    errs: ErrorStyle,
) -> Resp {
    let body: CreateBody = match read_json(req).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let command = body.cmd.clone().unwrap_or_default();
    if command.is_empty() {
        return (errs.engine)(&Error::invalid("no exec command specified"));
    }
    let r = pool
        .run(move |e| {
            running(e, &container)?;
            Ok(e.container(&container)?.id().to_string())
        })
        .await;
    let container = match r {
        Ok(c) => c,
        Err(e) => return (errs.engine)(&e),
    };
    let opts = ExecOptions {
        command,
        env: body.env.clone().unwrap_or_default(),
        user: Some(body.user.clone()).filter(|u| !u.is_empty()),
        workdir: Some(body.working_dir.clone()).filter(|w| !w.is_empty()),
        tty: body.tty,
        interactive: body.attach_stdin,
        privileged: body.privileged,
        ..Default::default()
    };
    let id = peapod_engine::names::new_id();
    let session = Session {
        container,
        opts,
        stdout: body.attach_stdout,
        stderr: body.attach_stderr,
        detach_keys: body.detach_keys,
        phase: Phase::Created,
    };
    let _ = body.console_size;
    if let Ok(mut m) = sessions().lock() {
        trim(&mut m);
        m.insert(id.clone(), session);
    }
    json(StatusCode::CREATED, &json!({ "Id": id }))
}

/// `[h, w]` of a body's `ConsoleSize`, when both are set.
fn console(size: &Option<Vec<u16>>) -> Option<(u16, u16)> {
    match size.as_deref() {
        Some([h, w]) if *h > 0 && *w > 0 => Some((*h, *w)),
        _ => None,
    }
}

/// When the process starts: before the answer (Docker's clients read the upgraded stream
/// through their HTTP reader), or once the connection was handed over (Podman's client
/// reads the raw connection after the headers: output sent with them would be lost in its
/// HTTP reader's buffer, so the process starts after them, as Podman's server starts it).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum StartAt {
    BeforeAnswer,
    AfterUpgrade,
}

/// A started session's bookkeeping (running, the terminal's size) and its output reader;
/// `None` when detached.
fn begin(
    id: &str,
    mut started: peapod_engine::container::exec::ExecStarted,
    size: Option<(u16, u16)>,
    streams: Streams,
    pool: EnginePool,
) -> Option<hijack::Output> {
    set_phase(
        id,
        Phase::Running {
            pid: started.pid,
            ctl: started.ctl.clone(),
        },
    );
    if let Some((h, w)) = size.filter(|_| streams.tty) {
        let _ = peapod_engine::container::attach::resize_tty(&started.ctl, h, w);
    }
    // Detached: the monitor's exit command cleans the session up.
    let sock = started.socket.take()?;
    let pid = started.pid;
    let finish_id = id.to_string();
    Some(hijack::read_output(sock, streams, move || {
        let code = pool
            .blocking(move |e| e.exec_finish(started))
            .unwrap_or_else(|e| {
                tracing::warn!("exec session {finish_id}: {e}");
                -1
            });
        set_phase(&finish_id, Phase::Exited { pid, code });
    }))
}

/// POST `/exec/{id}/start`: the hijacked stream, or 200 at once with `Detach`.
pub async fn start(
    mut req: Request<Incoming>,
    id: String,
    pool: EnginePool,
    errs: ErrorStyle,
    at: StartAt,
) -> Resp {
    let upgrade = hyper::upgrade::on(&mut req);
    let body: StartBody = match read_json(req).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let session = match get(&id, errs) {
        Ok(s) => s,
        Err(r) => return r,
    };
    if !matches!(session.phase, Phase::Created) {
        return (errs.message)(
            StatusCode::CONFLICT,
            &format!("exec session {id} has already been started"),
        );
    }
    let mut opts = session.opts.clone();
    opts.detach = body.detach;
    opts.tty = opts.tty || body.tty;
    let size = console(&body.console_size)
        .or(Some((body.height, body.width)).filter(|(h, w)| *h > 0 && *w > 0));
    let streams = Streams {
        tty: opts.tty,
        stdin: session.opts.interactive,
        stdout: session.stdout,
        stderr: session.stderr,
    };
    let tty = opts.tty;
    let container = session.container.clone();
    if at == StartAt::AfterUpgrade && !opts.detach {
        let check = container.clone();
        if let Err(e) = pool.run(move |e| running(e, &check)).await {
            return (errs.engine)(&e);
        }
        // Started once: a second start is refused while this one waits for the connection.
        set_phase(
            &id,
            Phase::Running {
                pid: 0,
                ctl: PathBuf::new(),
            },
        );
        tokio::spawn(async move {
            let upgraded = match upgrade.await {
                Ok(u) => u,
                Err(e) => {
                    tracing::debug!("connection upgrade: {e}");
                    set_phase(&id, Phase::Exited { pid: 0, code: -1 });
                    return;
                }
            };
            let run_pool = pool.clone();
            match run_pool.run(move |e| e.exec_start(&container, &opts)).await {
                Ok(started) => {
                    if let Some(output) = begin(&id, started, size, streams, pool) {
                        hijack::serve_upgraded(upgraded, output).await;
                    }
                }
                // A command that cannot run (126, 127) exits with that code, its message
                // on stderr; another failure is the stream's error.
                Err(e) => {
                    let (code, stream) = match e.kind() {
                        peapod_engine::ErrorKind::Command(c) => (c, 2),
                        _ => (125, 3),
                    };
                    set_phase(&id, Phase::Exited { pid: 0, code });
                    let text = format!("Error: {e}\n");
                    hijack::serve_error(upgraded, tty, stream, &text).await;
                }
            }
        });
        return hijack::upgraded(tty);
    }
    let started = match pool.run(move |e| e.exec_start(&container, &opts)).await {
        Ok(s) => s,
        Err(e) => return (errs.engine)(&e),
    };
    let Some(output) = begin(&id, started, size, streams, pool) else {
        return empty(StatusCode::OK);
    };
    tokio::spawn(async move {
        match upgrade.await {
            Ok(u) => hijack::serve_upgraded(u, output).await,
            Err(e) => tracing::debug!("connection upgrade: {e}"),
        }
    });
    hijack::upgraded(tty)
}

/// The container runs (an exec needs it); Docker's 409 otherwise.
fn running(e: &peapod_engine::Engine, container: &str) -> Result<(), Error> {
    let c = e.container(container)?;
    if c.state.status != Status::Running {
        return Err(Error::BadState {
            id: c.id().to_string(),
            state: c.state.status.to_string(),
            what: format!("container {} is not running", c.id()),
        });
    }
    Ok(())
}

/// POST `/exec/{id}/resize?h=&w=`.
pub async fn resize(req: Request<Incoming>, id: String, errs: ErrorStyle) -> Resp {
    let (rows, cols) = match size(&query(&req)) {
        Ok(s) => s,
        Err(e) => return (errs.engine)(&e),
    };
    let session = match get(&id, errs) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let Phase::Running { ctl, .. } = session.phase else {
        return (errs.message)(
            StatusCode::CONFLICT,
            &format!("exec session {id} is not running: cannot resize"),
        );
    };
    let r = tokio::task::spawn_blocking(move || {
        peapod_engine::container::attach::resize_tty(&ctl, rows, cols)
    })
    .await
    .unwrap_or_else(|e| Err(Error::other(e.to_string())));
    match r {
        Ok(()) => empty(StatusCode::OK),
        Err(e) => (errs.engine)(&e),
    }
}

/// Whether a detached session's process still runs (its monitor reaps it, so a zombie
/// does not linger).
fn alive(pid: i32) -> bool {
    pid > 0 && nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok()
}

/// GET `/exec/{id}/json`: Docker's `ExecInspectResponse`.
pub async fn inspect(id: String, errs: ErrorStyle) -> Resp {
    let s = match get(&id, errs) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let (running, pid, code) = match &s.phase {
        Phase::Created => (false, 0, None),
        Phase::Running { pid, .. } => (alive(*pid), *pid, None),
        Phase::Exited { pid, code } => (false, *pid, Some(*code)),
    };
    let (entrypoint, args) = s
        .opts
        .command
        .split_first()
        .map(|(a, b)| (a.clone(), b.to_vec()))
        .unwrap_or_default();
    json(
        StatusCode::OK,
        &json!({
            "ID": id,
            "Running": running,
            "ExitCode": code,
            "ProcessConfig": {
                "tty": s.opts.tty,
                "entrypoint": entrypoint,
                "arguments": args,
                "privileged": s.opts.privileged,
                "user": s.opts.user.clone().unwrap_or_default(),
            },
            "OpenStdin": s.opts.interactive,
            "OpenStderr": s.stderr,
            "OpenStdout": s.stdout,
            "CanRemove": false,
            "ContainerID": s.container,
            "DetachKeys": s.detach_keys,
            "Pid": pid,
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_docker_cli_exec_bodies() {
        let b: CreateBody = serde_json::from_str(
            r#"{"User":"","Privileged":false,"Tty":true,"ConsoleSize":[24,80],
                "AttachStdin":true,"AttachStderr":true,"AttachStdout":true,"Detach":false,
                "DetachKeys":"","Env":null,"WorkingDir":"","Cmd":["sh"]}"#,
        )
        .unwrap();
        assert!(b.tty && b.attach_stdin);
        assert_eq!(b.cmd.unwrap(), ["sh"]);
        assert_eq!(console(&b.console_size), Some((24, 80)));
        assert_eq!(console(&Some(vec![0, 0])), None);
        assert_eq!(console(&None), None);
    }
}
