//! `exec`: run a process in a running container through its own monitor, as Podman runs
//! conmon in exec mode.
//!
//! Each session gets a directory `<bundle>/<session id>/` holding the process spec, the
//! monitor's pid files, its `attach` socket, `ctl` fifo and exit dir. Attached sessions use
//! conmon's exec-attach handshake: the monitor says on the attach pipe that its socket is
//! ready, we connect, then a second byte on the start pipe lets the process start, so not a
//! byte of output is lost. The exit code comes back on the sync pipe; a detached session is
//! cleaned up by the monitor's exit command (`container cleanup --exec SESSION ID`).

use std::collections::HashSet;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;

use oci_spec::runtime::{Spec, UserBuilder};

use super::{Container, ExecSession, Status};
use crate::Engine;
use crate::error::{Error, IoContext, Result};
use crate::monitor::{ExecMode, Launched, MonitorRequest};

/// What `peapod exec` asks for.
#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    pub command: Vec<String>,
    pub env: Vec<String>,
    pub env_files: Vec<PathBuf>,
    pub user: Option<String>,
    pub workdir: Option<String>,
    pub tty: bool,
    pub interactive: bool,
    pub detach: bool,
    pub privileged: bool,
}

/// The session's capabilities, as Podman's `setProcessCapabilitiesExec`: `--privileged`
/// raises the bounding set to ours (the container's seccomp filter and no-new-privileges
/// stay: the runtime applies the container's to every process it starts in it); root gets
/// the whole bounding set; the container's own user keeps the container's capabilities.
fn set_exec_capabilities(
    process: &mut oci_spec::runtime::Process,
    opts: &ExecOptions,
    c: &Container,
) -> Result<()> {
    let mut caps = process
        .capabilities()
        .clone()
        .ok_or_else(|| Error::other("the container's process has no capabilities"))?;
    if opts.privileged {
        caps.set_bounding(Some(crate::oci::caps::to_oci(
            &crate::oci::caps::bounding_set(),
        )));
    }
    caps.set_inheritable(Some(HashSet::new()));
    let same_user = opts.user.as_deref().is_none_or(|u| u == c.config.user);
    if process.user().uid() == 0 {
        caps.set_effective(caps.bounding().clone());
        caps.set_permitted(caps.bounding().clone());
    } else if same_user {
        let own = caps.effective().clone();
        caps.set_inheritable(own.clone());
        caps.set_permitted(own.clone());
        caps.set_ambient(own);
    }
    process.set_capabilities(Some(caps));
    Ok(())
}

/// A started exec session. With attach, read `socket` until EOF, then
/// [`Engine::exec_finish`] for the exit code.
pub struct ExecStarted {
    pub container: Container,
    pub session: String,
    pub pid: i32,
    pub socket: Option<UnixStream>,
    /// The session's `ctl` fifo (window size).
    pub ctl: PathBuf,
    launched: Launched,
}

impl Engine {
    /// Start an exec session in a running container.
    pub fn exec_start(&self, reference: &str, opts: &ExecOptions) -> Result<ExecStarted> {
        if opts.command.is_empty() {
            return Err(Error::invalid(
                "must provide a non-empty command to start an exec session",
            ));
        }
        let found = self.db.lookup_container(reference)?;
        let id = found.id().to_string();
        let session = crate::names::new_id();
        let dir = self.paths.bundle(&id).join(&session);
        let container;
        {
            let _lock = self.lock(&id)?;
            let mut c = self.container(&id)?;
            if c.state.status != Status::Running {
                return Err(Error::BadState {
                    id: c.id().to_string(),
                    state: c.state.status.to_string(),
                    what: "can only create exec sessions on running containers: container state improper".into(),
                });
            }
            c.state.exec_sessions.insert(
                session.clone(),
                ExecSession {
                    id: session.clone(),
                    pid: 0,
                    command: opts.command.clone(),
                    tty: opts.tty,
                },
            );
            let prepared = (|| {
                // conmon writes into both and creates neither.
                std::fs::create_dir_all(dir.join("exit")).ctx("creating", &dir)?;
                std::fs::create_dir_all(dir.join("persist")).ctx("creating", &dir)?;
                self.write_exec_spec(&c, opts, &dir.join("process.json"))?;
                self.db.update_state(&id, &c.state)
            })();
            if let Err(e) = prepared {
                let _ = std::fs::remove_dir_all(&dir);
                return Err(e);
            }
            container = c;
        }
        match self.exec_launch(&container, &session, opts) {
            Ok(started) => {
                let _ = self.set_exec_pid(&id, &session, started.pid);
                self.emit_container(&container, "exec");
                Ok(started)
            }
            Err(e) => {
                let _ = self.exec_cleanup(&id, &session);
                Err(e)
            }
        }
    }

    fn exec_launch(&self, c: &Container, session: &str, opts: &ExecOptions) -> Result<ExecStarted> {
        let id = c.id();
        let dir = self.paths.bundle(id).join(session);
        let runtime = self.runtime()?.clone();
        let monitor = self.monitor_path()?;
        let spec = dir.join("process.json");
        let mut exit_command = self.global_command();
        exit_command.extend([
            "container".into(),
            "cleanup".into(),
            "--exec".into(),
            session.to_string(),
            id.to_string(),
        ]);
        let mut launched = crate::monitor::launch(&MonitorRequest {
            monitor: &monitor,
            runtime: &runtime,
            id,
            uuid: session,
            name: &c.config.name,
            bundle: &dir,
            pidfile: &dir.join("exec_pid"),
            conmon_pidfile: &dir.join("conmon.pid"),
            exit_dir: &dir.join("exit"),
            persist_dir: &dir.join("persist"),
            log: "none".into(),
            log_size_max: None,
            timeout: None,
            log_max_files: None,
            no_sync_log: false,
            tty: opts.tty,
            stdin: opts.interactive,
            log_level: self.options().log_level.as_deref().unwrap_or("warning"),
            exit_command,
            exec: Some(ExecMode {
                process_spec: &spec,
                attach: !opts.detach,
            }),
            hold: None,
            preserve_fds: 0,
            health: Vec::new(),
            notify_socket: false,
        })?;
        // Past this point a failure must not leave the command to run unattended.
        let attached = if opts.detach {
            Ok(None)
        } else {
            launched.wait_attach_ready().and_then(|()| {
                let s = super::attach::attach_socket_in(&dir, id)?;
                launched.begin()?;
                Ok(Some(s))
            })
        };
        let socket = attached.inspect_err(|_| launched.kill())?;
        let pid = launched.read_pid().inspect_err(|_| launched.kill())?;
        Ok(ExecStarted {
            container: c.clone(),
            session: session.to_string(),
            pid,
            socket,
            ctl: dir.join("ctl"),
            launched,
        })
    }

    /// The process spec: the container's own process, with the command, env, user, working
    /// directory and terminal of this session.
    fn write_exec_spec(
        &self,
        c: &Container,
        opts: &ExecOptions,
        path: &std::path::Path,
    ) -> Result<()> {
        let config = self.paths.bundle(c.id()).join("config.json");
        let spec = Spec::load(&config)
            .map_err(|e| Error::other(format!("reading {}: {e}", config.display())))?;
        let mut process = spec
            .process()
            .clone()
            .ok_or_else(|| Error::other(format!("{} has no process", config.display())))?;
        let base_env = process.env().clone().unwrap_or_default();
        let mut env = super::env::build_env(&base_env, &opts.env_files, &opts.env)?;
        if opts.tty && !env.iter().any(|e| e.starts_with("TERM=")) {
            env.push("TERM=xterm".into());
        }
        super::env::check_exec_size(&opts.command, &env)?;
        process.set_env(Some(env));
        process.set_args(Some(opts.command.clone()));
        process.set_terminal(Some(opts.tty));
        process.set_console_size(None);
        if let Some(w) = &opts.workdir {
            if !w.starts_with('/') {
                return Err(Error::invalid(format!(
                    "workdir {w:?} must be an absolute path"
                )));
            }
            process.set_cwd(PathBuf::from(w));
        }
        if let Some(u) = &opts.user {
            let rootfs = self.paths.rootfs(c.id());
            let passwd = super::user::read_in_root(&rootfs, "/etc/passwd").unwrap_or_default();
            let group = super::user::read_in_root(&rootfs, "/etc/group").unwrap_or_default();
            let mut user = super::user::resolve(u, &passwd, &group)?;
            // The container's --group-add groups, as its own process has them.
            super::userns::add_groups(&mut user.additional_gids, &c.config.group_add, &group)?;
            let oci_user = UserBuilder::default()
                .uid(user.uid)
                .gid(user.gid)
                .additional_gids(user.additional_gids.clone())
                .build()
                .map_err(|e| Error::other(e.to_string()))?;
            process.set_user(oci_user);
            if let Some(env) = process.env().clone() {
                let env = env
                    .into_iter()
                    .map(|e| {
                        if e.starts_with("HOME=")
                            && !opts.env.iter().any(|x| x.starts_with("HOME="))
                        {
                            format!("HOME={}", user.home)
                        } else {
                            e
                        }
                    })
                    .collect();
                process.set_env(Some(env));
            }
        }
        set_exec_capabilities(&mut process, opts, c)?;
        let json = serde_json::to_vec_pretty(&process).map_err(|e| Error::other(e.to_string()))?;
        std::fs::write(path, json).ctx("writing", path)
    }

    fn set_exec_pid(&self, id: &str, session: &str, pid: i32) -> Result<()> {
        let _lock = self.lock(id)?;
        let mut c = self.container(id)?;
        if let Some(s) = c.state.exec_sessions.get_mut(session) {
            s.pid = pid;
            self.db.update_state(id, &c.state)?;
        }
        Ok(())
    }

    /// Wait for an attached session's process to exit: its exit code. The session is
    /// cleaned up.
    pub fn exec_finish(&self, started: ExecStarted) -> Result<i32> {
        let id = started.container.id().to_string();
        let result = started.launched.read_exit().or_else(|e| {
            // The monitor died: the exit file may still be there.
            let exit = self
                .paths
                .bundle(&id)
                .join(&started.session)
                .join("exit")
                .join(&id);
            std::fs::read_to_string(exit)
                .ok()
                .and_then(|t| peapod_monitor::parse_exit_file(&t))
                .ok_or(e)
        });
        let _ = self.exec_cleanup(&id, &started.session);
        result
    }

    /// Forget an exec session and remove its directory (the exec monitor's exit command).
    pub fn exec_cleanup(&self, reference: &str, session: &str) -> Result<()> {
        let found = match self.db.lookup_container(reference) {
            Ok(c) => c,
            Err(Error::NoSuchContainer(_)) => return Ok(()),
            Err(e) => return Err(e),
        };
        let id = found.id().to_string();
        let _lock = self.lock(&id)?;
        if let Some(mut c) = self.db.container(&id)?
            && c.state.exec_sessions.remove(session).is_some()
        {
            self.db.update_state(&id, &c.state)?;
            self.emit_exec_died(&c, session);
        }
        if session.len() == 64 && session.bytes().all(|b| b.is_ascii_hexdigit()) {
            let _ = std::fs::remove_dir_all(self.paths.bundle(&id).join(session));
        }
        Ok(())
    }
}
