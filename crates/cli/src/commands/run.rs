//! `create` and `run`: the flags as the engine's typed container spec, `--cidfile`, and the
//! terminal session `run` streams through.

use std::io::Write;

use peapod_engine::container::spec::{LogConfig, NamespaceMode, parse_entrypoint};
use peapod_engine::container::{
    Container, ContainerSpec, RestartPolicy, RunOutcome, RunSession, SessionEnd,
};
use peapod_engine::volume::spec::{parse_mount_flag, parse_tmpfs_flag, parse_volume_flag};
use peapod_engine::{Engine, Error};

use std::os::unix::net::UnixStream;

use super::attach::{AttachFlags, session};
use crate::cli::*;
use crate::{CliError, CliResult};

/// The flags as the engine's typed container spec: every value parsed here, with Podman's
/// messages, before anything is pulled or made.
fn create_options(f: &CreateFlags, argv: &[String]) -> Result<ContainerSpec, CliError> {
    let pod = match (&f.pod, &f.pod_id_file) {
        (Some(_), Some(_)) => {
            return Err(CliError::engine(
                "cannot specify both --pod and --pod-id-file",
            ));
        }
        (Some(p), None) => Some(p.clone()),
        (None, Some(file)) => {
            crate::commands::read_id_files(std::slice::from_ref(file), "pod ID file", false)?.pop()
        }
        (None, None) => None,
    };
    let mut mounts = Vec::new();
    for v in &f.volume {
        mounts.push(parse_volume_flag(v)?);
    }
    for m in &f.mount {
        mounts.push(parse_mount_flag(m)?);
    }
    for t in &f.tmpfs {
        mounts.push(parse_tmpfs_flag(t)?);
    }
    let ns = |kind: &str, v: &Option<String>| {
        v.as_deref()
            .map(|v| NamespaceMode::parse(kind, v))
            .transpose()
    };
    Ok(ContainerSpec {
        pid: ns("pid", &f.pid)?,
        ipc: ns("ipc", &f.ipc)?,
        uts: ns("uts", &f.uts)?,
        health: f.health.to_flags(),
        host: f.host.to_flags(),
        image: f.image.clone(),
        raw_image: Some(f.image.clone()),
        rootfs: None,
        name: f.name.clone(),
        replace: f.replace,
        command: f.command.clone(),
        entrypoint: f.entrypoint.as_deref().map(parse_entrypoint).transpose()?,
        env: f.env.clone(),
        env_files: f.env_file.clone(),
        http_proxy: f.http_proxy,
        env_host: f.env_host,
        unsetenv: f.unsetenv.clone(),
        unsetenv_all: f.unsetenv_all,
        // The last --tz wins, as Podman's.
        timezone: f.tz.last().cloned(),
        workdir: f.workdir.clone(),
        hostname: f.hostname.clone(),
        user: f.user.clone(),
        labels: f.label.clone(),
        annotations: f.annotation.clone(),
        stop_signal: f
            .stop_signal
            .as_deref()
            .map(peapod_engine::signal::parse)
            .transpose()?,
        stop_timeout: f.stop_timeout,
        auto_remove: f.rm,
        network: f.net.spec(f.publish_all)?,
        tty: f.tty,
        interactive: f.interactive,
        log: LogConfig::parse(f.log_driver.as_deref(), &f.log_opt)?,
        create_command: argv.to_vec(),
        restart: RestartPolicy::parse(f.restart.as_deref().unwrap_or(""))?,
        resources: peapod_engine::container::resources::parse(&f.resources.flags())?,
        mounts,
        volumes_from: f.volumes_from.clone(),
        pod,
        init_ctr: f.init_ctr.clone(),
        infra_of: None,
        security: peapod_engine::container::SecurityFlags {
            privileged: f.privileged,
            cap_add: f.cap_add.clone(),
            cap_drop: f.cap_drop.clone(),
            opts: f
                .security_opt
                .iter()
                .map(|o| o.parse())
                .collect::<Result<_, Error>>()?,
            ulimits: f.ulimit.clone(),
            sysctls: f.host.sysctl.clone(),
        },
        run_extras: peapod_engine::container::RunExtras {
            timeout: f.timeout,
            device_cgroup_rules: f.device_cgroup_rule.clone(),
            conmon_pidfile: f.conmon_pidfile.clone(),
            preserve_fds: f.preserve_fds,
            sdnotify: f.unit.sdnotify.clone(),
            cgroups: f.unit.cgroups.clone(),
            requires: f.requires.clone(),
            group_add: f.group_add.clone(),
            userns: f.userns.clone(),
            systemd: f.systemd.clone(),
            id_maps: f
                .uidmap
                .iter()
                .map(|m| format!("--uidmap={m}"))
                .chain(f.gidmap.iter().map(|m| format!("--gidmap={m}")))
                .collect(),
        },
    })
}

/// The create request, with its image pulled first as `--pull` says (pull lines go to
/// stderr only, so `$(peapod run …)` captures the container's output alone).
fn prepared_options(
    engine: &Engine,
    f: &CreateFlags,
    argv: &[String],
) -> Result<ContainerSpec, CliError> {
    if f.kernel_memory.is_some() {
        tracing::warn!("The --kernel-memory flag is no longer supported. This flag is a noop.");
    }
    let mut opts = create_options(f, argv)?;
    if f.rootfs {
        // No image: the path is the container's root.
        opts.rootfs = Some(std::mem::take(&mut opts.image));
        return Ok(opts);
    }
    let policy = peapod_engine::registry::PullPolicy::parse(&f.pull)?;
    let template = f.pull_flags.options(&f.image)?;
    let sink = super::registry::sink(f.quiet);
    opts.image = engine.ensure_image(&f.image, policy, &template, sink.as_ref())?;
    Ok(opts)
}

/// Creates the container and prints Podman's create warnings on stderr.
fn create_warning(engine: &Engine, opts: &ContainerSpec) -> CliResult<Container> {
    let (c, warnings) = engine.create_container_warning(opts)?;
    for w in warnings {
        eprintln!("{w}");
    }
    Ok(c)
}

/// `create`/`run`'s container, its id written to `--cidfile`: that file is made before the
/// container (an existing one is never overwritten, Podman's message) and goes again when
/// the create fails.
fn create_with_cidfile(engine: &Engine, f: &CreateFlags, argv: &[String]) -> CliResult<Container> {
    let Some(path) = &f.cidfile else {
        return create_warning(engine, &prepared_options(engine, f, argv)?);
    };
    let mut file = open_cidfile(path)?;
    let created = prepared_options(engine, f, argv).and_then(|o| create_warning(engine, &o));
    match created {
        Ok(c) => {
            file.write_all(c.id().as_bytes())?;
            Ok(c)
        }
        Err(e) => {
            drop(file);
            let _ = std::fs::remove_file(path);
            Err(e)
        }
    }
}

/// `--cidfile`, made before the container; an existing one is never overwritten (Podman's
/// message).
fn open_cidfile(path: &std::path::Path) -> CliResult<std::fs::File> {
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
    {
        Ok(file) => Ok(file),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(CliError::engine(format!(
            "container id file exists. Ensure another container is not using it or delete {}",
            path.display()
        ))),
        Err(e) => Err(CliError::engine(format!(
            "opening cidfile {}: {e}",
            path.display()
        ))),
    }
}

pub fn create(engine: &Engine, a: CreateArgs, argv: &[String]) -> CliResult {
    let c = create_with_cidfile(engine, &a.flags, argv)?;
    println!("{}", c.id());
    Ok(0)
}

/// `--attach stdin|stdout|stderr` (repeatable): the streams `run` relays; none given, all.
struct Streams {
    stdin: bool,
    stdout: bool,
    stderr: bool,
}

fn attach_streams(given: &[String]) -> CliResult<Streams> {
    if given.is_empty() {
        return Ok(Streams {
            stdin: true,
            stdout: true,
            stderr: true,
        });
    }
    let mut s = Streams {
        stdin: false,
        stdout: false,
        stderr: false,
    };
    for g in given {
        match g.to_lowercase().as_str() {
            "stdin" => s.stdin = true,
            "stdout" => s.stdout = true,
            "stderr" => s.stderr = true,
            _ => {
                return Err(CliError::engine(format!(
                    "invalid stream {g:?} for --attach - must be one of stdin, stdout, or stderr: invalid argument"
                )));
            }
        }
    }
    Ok(s)
}

/// The CLI's side of `run`: warnings on stderr and the `--cidfile` once the container
/// exists, then the terminal session.
struct Terminal<'a> {
    engine: &'a Engine,
    flags: AttachFlags<'a>,
    cidfile: Option<std::fs::File>,
    /// Neither stdout nor stderr attached: the id is printed instead.
    print_id: bool,
}

impl RunSession for Terminal<'_> {
    type Error = CliError;
    fn created(&mut self, c: &Container, warnings: &[String]) -> CliResult<()> {
        for w in warnings {
            eprintln!("{w}");
        }
        if let Some(f) = &mut self.cidfile {
            f.write_all(c.id().as_bytes())?;
        }
        Ok(())
    }
    fn stream(&mut self, c: &Container, socket: &UnixStream) -> CliResult<SessionEnd> {
        if self.print_id {
            println!("{}", c.id());
        }
        session(self.engine, c, socket, &self.flags)
    }
}

pub fn run(engine: &Engine, a: RunArgs, argv: &[String]) -> CliResult {
    let streams = attach_streams(&a.flags.attach)?;
    if a.detach && !a.flags.attach.is_empty() {
        return Err(CliError::engine(
            "--attach and --detach cannot be set at the same time",
        ));
    }
    let cidfile = a.flags.cidfile.as_deref().map(open_cidfile).transpose()?;
    let mut terminal = Terminal {
        engine,
        flags: AttachFlags {
            stdin: a.flags.interactive && streams.stdin,
            stdout: streams.stdout,
            stderr: streams.stderr,
            sig_proxy: a.sig_proxy,
            detach_keys: &a.detach_keys,
        },
        cidfile,
        print_id: !streams.stdout && !streams.stderr,
    };
    let report = prepared_options(engine, &a.flags, argv)
        .and_then(|spec| engine.run(&spec, a.detach, &mut terminal));
    let report = match report {
        Ok(r) => r,
        Err(e) => {
            // A container that was never made leaves no id file behind.
            if let (Some(path), Some(file)) = (&a.flags.cidfile, &terminal.cidfile)
                && file.metadata().map(|m| m.len() == 0).unwrap_or(false)
            {
                let _ = std::fs::remove_file(path);
            }
            return Err(e);
        }
    };
    match report.outcome {
        RunOutcome::Exited(code) => {
            if a.rmi {
                // As Podman: after the run, the image goes unless a container still uses
                // it (then only an error line; the exit code stays the container's).
                if let Err(e) = engine.remove_image_and_dangling_parents(&a.flags.image, false) {
                    tracing::error!("{e}");
                }
            }
            Ok(code)
        }
        RunOutcome::Detached => {
            if a.detach {
                println!("{}", report.id);
            }
            Ok(0)
        }
    }
}
