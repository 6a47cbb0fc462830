//! Container commands: create, run, start, stop, kill, restart, rm, wait, logs, exists,
//! cleanup, prune.

use std::io::Write;

use peapod_engine::container::spec::{LogConfig, NamespaceMode, parse_entrypoint};
use peapod_engine::container::{
    Container, ContainerSpec, RemoveOptions, RestartPolicy, RunOutcome, RunSession, SessionEnd,
    Status, logs::LogOptions,
};
use peapod_engine::parallel::Target;
use peapod_engine::volume::spec::{parse_mount_flag, parse_tmpfs_flag, parse_volume_flag};
use peapod_engine::{Engine, Error};

use std::os::unix::net::UnixStream;

use super::attach::{AttachFlags, Outcome, detach_keys, follow, session};
use crate::cli::*;
use crate::output::print_each;
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
        (None, Some(file)) => Some(
            std::fs::read_to_string(file)
                .map_err(|e| {
                    CliError::engine(format!("reading pod ID file {}: {e}", file.display()))
                })?
                .trim()
                .to_string(),
        ),
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
        image: f.image.clone(),
        name: f.name.clone(),
        replace: f.replace,
        command: f.command.clone(),
        entrypoint: f.entrypoint.as_deref().map(parse_entrypoint).transpose()?,
        env: f.env.clone(),
        env_files: f.env_file.clone(),
        http_proxy: f.http_proxy,
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
        resources: peapod_engine::container::resources::parse(
            &peapod_engine::container::ResourceFlags {
                memory: f.memory.clone(),
                memory_swap: f.memory_swap.clone(),
                cpus: f.cpus,
                cpu_shares: f.cpu_shares,
                pids_limit: f.pids_limit,
            },
        )?,
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
        },
        run_extras: peapod_engine::container::RunExtras {
            timeout: f.timeout,
            device_cgroup_rules: f.device_cgroup_rule.clone(),
            conmon_pidfile: f.conmon_pidfile.clone(),
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
        RunOutcome::Exited(code) => Ok(code),
        RunOutcome::Detached => {
            if a.detach {
                println!("{}", report.id);
            }
            Ok(0)
        }
    }
}

/// Run `f` on every target; print each error and go on, as Podman does; the last error's
/// code.
fn each(
    targets: &[String],
    ignore_missing: bool,
    mut f: impl FnMut(&str) -> Result<(), Error>,
) -> CliResult {
    let mut code = 0;
    for t in targets {
        match f(t) {
            Ok(()) => {}
            Err(Error::NoSuchContainer(_)) if ignore_missing => {}
            Err(e) => {
                eprintln!("Error: {e}");
                code = crate::exit_code(&e);
            }
        }
    }
    Ok(code)
}

pub fn start(engine: &Engine, a: StartArgs) -> CliResult {
    if a.attach {
        if a.containers.len() != 1 || a.all || !a.filter.is_empty() {
            return Err(CliError::engine(
                "you cannot start and attach multiple containers at once",
            ));
        }
        detach_keys(&a.detach_keys)?;
        // Podman's `start` exits 125 for any failure, a command that cannot run included
        // (126/127 are `run`'s and `exec`'s).
        let started = engine
            .start(&a.containers[0], true)
            .map_err(|e| CliError::engine(e.to_string()))?;
        let c = &started.container;
        let socket = match started.socket {
            Some(s) => s,
            // Already running: attach to it, as Podman does.
            None if c.config.log_driver != "passthrough" => engine.attach_container(c)?,
            None => return Ok(0),
        };
        let flags = AttachFlags {
            stdin: a.interactive && c.config.stdin,
            stdout: true,
            stderr: true,
            sig_proxy: a.sig_proxy,
            detach_keys: &a.detach_keys,
        };
        return match follow(engine, c, &socket, &flags)? {
            Outcome::Exited(code) => Ok(code),
            Outcome::Detached => Ok(0),
        };
    }
    let t = engine.start_selection(&a.containers, a.all, &a.filter)?;
    let ids = ids(&t);
    let results = engine.on_many(&ids, |e, id| e.start(id, false).map(drop));
    print_each(
        &t,
        results,
        |t, _| Some(t.given.clone()),
        |_| peapod_engine::error::exit::ENGINE,
    )
}

/// The containers a command acts on, each looked up before anything is done (Podman: one
/// missing name fails the command and nothing happens; `ignore_missing` skips it). With
/// `--all`, every container `pick` keeps, shown by id.
fn targets(
    engine: &Engine,
    given: &[String],
    all: bool,
    ignore_missing: bool,
    pick: impl Fn(&Container) -> bool,
) -> CliResult<Vec<Target>> {
    if all {
        Ok(engine
            .containers()?
            .iter()
            .filter(|c| pick(c))
            .map(|c| Target {
                given: c.id().to_string(),
                id: c.id().to_string(),
            })
            .collect())
    } else if given.is_empty() {
        Err(CliError::engine(
            "you must provide at least one container name or id",
        ))
    } else {
        Ok(engine.resolve_containers(given, ignore_missing)?)
    }
}

fn ids(targets: &[Target]) -> Vec<String> {
    targets.iter().map(|t| t.id.clone()).collect()
}

/// `stop a b c`: all at once through the engine's worker pool (a container that ignores
/// SIGTERM costs one timeout, not one each); names printed in argument order.
pub fn stop(engine: &Engine, a: StopArgs) -> CliResult {
    let t = targets(engine, &a.containers, a.all, a.ignore, |c| {
        c.state.status.is_active()
    })?;
    let results = engine.on_many(&ids(&t), |e, id| e.stop(id, a.time).map(drop));
    print_each(
        &t,
        results,
        |t, _| Some(t.given.clone()),
        ignored_missing(a.ignore),
    )
}

/// The exit code of a failure; with `--ignore`, a container removed by someone else
/// between the look-up and the act is no failure.
fn ignored_missing(ignore: bool) -> impl Fn(&Error) -> i32 {
    move |e| match e {
        Error::NoSuchContainer(_) if ignore => 0,
        e => crate::exit_code(e),
    }
}

pub fn restart(engine: &Engine, a: StopArgs) -> CliResult {
    let t = targets(engine, &a.containers, a.all, a.ignore, |_| true)?;
    let results = engine.on_many(&ids(&t), |e, id| e.restart(id, a.time).map(drop));
    print_each(
        &t,
        results,
        |t, _| Some(t.given.clone()),
        ignored_missing(a.ignore),
    )
}

pub fn kill(engine: &Engine, a: KillArgs) -> CliResult {
    let sig = peapod_engine::signal::parse(&a.signal)?;
    let t = targets(engine, &a.containers, a.all, false, |c| {
        c.state.status == Status::Running
    })?;
    let results = engine.on_many(&ids(&t), |e, id| e.kill(id, sig).map(drop));
    print_each(&t, results, |t, _| Some(t.given.clone()), crate::exit_code)
}

/// `rm` uses Podman's own exit codes: 1 for a missing container, 2 for one that runs.
/// With `--force`, as with `--ignore`, a missing name is skipped silently (Podman 4.3).
pub fn rm(engine: &Engine, mut a: RmArgs) -> CliResult {
    if a.latest {
        let latest = engine.ps(&peapod_engine::container::ps::PsRequest {
            latest: true,
            ..Default::default()
        })?;
        match latest.first() {
            Some(e) => a.containers = vec![e.container.id().to_string()],
            None => return Err(CliError::engine("no containers to remove")),
        }
    }
    let skip_missing = a.ignore || a.force;
    // `rm -a` leaves infra containers to `pod rm`.
    let t = match targets(engine, &a.containers, a.all, skip_missing, |c| {
        !c.config.is_infra
    }) {
        Ok(t) => t,
        Err(CliError::Engine(e @ Error::NoSuchContainer(_))) => {
            return Err(CliError::Coded(e.to_string(), 1));
        }
        Err(e) => return Err(e),
    };
    let opts = RemoveOptions {
        force: a.force,
        volumes: a.volumes,
        timeout: a.time,
    };
    if a.depend || a.all {
        // Dependents first. Under `--all` another worker may have removed a target as a
        // dependent of its own: no failure.
        let results = engine.on_many(&ids(&t), |e, id| match e.remove_depend(id, &opts) {
            Err(Error::NoSuchContainer(_)) if a.all => Ok(Vec::new()),
            r => r,
        });
        let shown =
            |_: &Target, removed: &Vec<String>| (!removed.is_empty()).then(|| removed.join("\n"));
        return print_each(&t, results, shown, |e| match e {
            Error::NoSuchContainer(_) if skip_missing => 0,
            Error::NoSuchContainer(_) => 1,
            Error::BadState { .. } => 2,
            e => crate::exit_code(e),
        });
    }
    let results = engine.on_many(&ids(&t), |e, id| e.remove(id, &opts));
    let shown = |t: &Target, _: &String| Some(t.given.clone());
    print_each(&t, results, shown, |e| match e {
        Error::NoSuchContainer(_) if skip_missing => 0,
        Error::NoSuchContainer(_) => 1,
        Error::BadState { .. } => 2,
        e => crate::exit_code(e),
    })
}

pub fn wait(engine: &Engine, a: WaitArgs) -> CliResult {
    each(&a.containers, false, |c| {
        let code = engine.wait(c)?;
        println!("{code}");
        Ok(())
    })
}

pub fn exists(engine: &Engine, a: ExistsArgs) -> CliResult {
    Ok(if engine.container_exists(&a.container)? {
        0
    } else {
        1
    })
}

pub fn cleanup(engine: &Engine, a: CleanupArgs) -> CliResult {
    if let Some(session) = &a.exec {
        let [c] = a.containers.as_slice() else {
            return Err(CliError::engine(
                "you must provide exactly one container with --exec",
            ));
        };
        engine.exec_cleanup(c, session)?;
        return Ok(0);
    }
    let t = targets(engine, &a.containers, a.all, false, |c| {
        !c.state.status.is_active()
    })?;
    let t: Vec<String> = t.into_iter().map(|t| t.given).collect();
    each(&t, false, |c| {
        engine.cleanup(c, a.stopped_only, a.rm)?;
        // The monitor's exit command (--stopped-only) stays quiet: with the passthrough
        // log driver its stdout is the user's terminal.
        if !a.stopped_only {
            println!("{c}");
        }
        Ok(())
    })
}

pub fn prune(engine: &Engine, a: PruneArgs) -> CliResult {
    let _ = a.force;
    let labels: Vec<(String, Option<String>)> = a
        .filter
        .iter()
        .filter_map(|f| f.strip_prefix("label="))
        .map(|l| match l.split_once('=') {
            Some((k, v)) => (k.to_string(), Some(v.to_string())),
            None => (l.to_string(), None),
        })
        .collect();
    let mut code = 0;
    for c in engine.containers()? {
        if c.state.status.is_active()
            || !labels.iter().all(|(k, v)| {
                c.config
                    .labels
                    .get(k)
                    .is_some_and(|cv| v.as_ref().is_none_or(|v| v == cv))
            })
        {
            continue;
        }
        match engine.remove(c.id(), &RemoveOptions::default()) {
            Ok(id) => println!("{id}"),
            Err(e) => {
                eprintln!("Error: {e}");
                code = crate::exit_code(&e);
            }
        }
    }
    Ok(code)
}

pub fn logs(engine: &Engine, a: LogsArgs) -> CliResult {
    let since = a
        .since
        .as_deref()
        .map(peapod_engine::container::logs::parse_time)
        .transpose()?;
    let until = a
        .until
        .as_deref()
        .map(peapod_engine::container::logs::parse_time)
        .transpose()?;
    // Podman prefixes lines only when it shows several containers: with the name under
    // --names, else the short id.
    let many = a.containers.len() > 1;
    let mut code = 0;
    let mut found = Vec::new();
    for name in &a.containers {
        match engine.container(name) {
            Ok(c) => found.push(c),
            Err(e) => {
                eprintln!("Error: {e}");
                code = crate::exit_code(&e);
            }
        }
    }
    let opts_for = |c: &Container| LogOptions {
        follow: a.follow,
        tail: if a.tail < 0 {
            None
        } else {
            Some(a.tail as usize)
        },
        since,
        until,
        timestamps: a.timestamps,
        prefix: many.then(|| {
            if a.names {
                c.name().to_string()
            } else {
                c.id()[..12].to_string()
            }
        }),
    };
    if a.follow && found.len() > 1 {
        // Follow them all at once, whole lines interleaved as they come.
        let stdout = std::sync::Mutex::new(());
        let engines = found
            .iter()
            .map(|_| engine.reopen())
            .collect::<Result<Vec<_>, _>>()?;
        let results: Vec<Result<(), Error>> = std::thread::scope(|s| {
            let handles: Vec<_> = found
                .iter()
                .zip(engines)
                .map(|(c, engine)| {
                    let opts = opts_for(c);
                    let stdout = &stdout;
                    s.spawn(move || -> Result<(), Error> {
                        let mut out = LineLocked::new(stdout, false);
                        let mut err = LineLocked::new(stdout, true);
                        engine.logs(c, &opts, &mut out, &mut err)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(Error::other("log reader panicked")))
                })
                .collect()
        });
        for r in results {
            if let Err(e) = r {
                eprintln!("Error: {e}");
                code = crate::exit_code(&e);
            }
        }
        return Ok(code);
    }
    for c in &found {
        let mut out = std::io::stdout().lock();
        let mut err = std::io::stderr();
        engine.logs(c, &opts_for(c), &mut out, &mut err)?;
        out.flush()?;
    }
    Ok(code)
}

/// Writes whole lines to stdout or stderr while holding a shared lock, so lines from
/// several threads never mix.
struct LineLocked<'a> {
    lock: &'a std::sync::Mutex<()>,
    stderr: bool,
    buf: Vec<u8>,
}

impl<'a> LineLocked<'a> {
    fn new(lock: &'a std::sync::Mutex<()>, stderr: bool) -> Self {
        LineLocked {
            lock,
            stderr,
            buf: Vec::new(),
        }
    }
}

impl Write for LineLocked<'_> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if let Some(end) = self.buf.iter().rposition(|b| *b == b'\n') {
            let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
            let lines: Vec<u8> = self.buf.drain(..=end).collect();
            if self.stderr {
                let mut e = std::io::stderr().lock();
                e.write_all(&lines)?;
                e.flush()?;
            } else {
                let mut o = std::io::stdout().lock();
                o.write_all(&lines)?;
                o.flush()?;
            }
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
