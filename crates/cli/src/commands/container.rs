//! Container commands: start, stop, kill, restart, rm, wait, exists, cleanup, prune
//! (`create`/`run` are in [`super::run`], `logs` in [`super::logs`]).

use peapod_engine::container::{Container, RemoveOptions, Status};
use peapod_engine::parallel::Target;
use peapod_engine::{Engine, Error};

use super::attach::{AttachFlags, Outcome, detach_keys, follow};
use crate::cli::*;
use crate::output::print_each;
use crate::{CliError, CliResult};

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
pub fn stop(engine: &Engine, mut a: StopArgs) -> CliResult {
    a.containers.extend(crate::commands::read_id_files(
        &a.cidfile, "CIDFile", a.ignore,
    )?);
    if !a.cidfile.is_empty() && a.containers.is_empty() {
        return Ok(0);
    }
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
    a.containers.extend(crate::commands::read_id_files(
        &a.cidfile, "CIDFile", a.ignore,
    )?);
    if !a.cidfile.is_empty() && a.containers.is_empty() {
        return Ok(0);
    }
    let skip_missing = a.ignore || a.force;
    let t = match targets(engine, &a.containers, a.all, skip_missing, |_| true) {
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
        let mut t = t;
        if a.all {
            // Podman: the pods whose infra containers are targets go first, whole, with
            // every container of theirs named; the rest then run in parallel.
            let infra: std::collections::BTreeSet<String> = engine
                .containers()?
                .into_iter()
                .filter(|c| c.config.is_infra)
                .map(|c| c.config.id)
                .collect();
            let (pods, rest): (Vec<Target>, Vec<Target>) =
                t.into_iter().partition(|x| infra.contains(&x.id));
            let results = engine.on_many(&ids(&pods), |e, id| e.remove_depend(id, &opts));
            let mut gone = std::collections::BTreeSet::new();
            for r in results.iter().flatten() {
                gone.extend(r.iter().cloned());
            }
            let shown = |_: &Target, removed: &Vec<String>| {
                (!removed.is_empty()).then(|| removed.join("\n"))
            };
            let code = print_each(&pods, results, shown, crate::exit_code)?;
            t = rest.into_iter().filter(|x| !gone.contains(&x.id)).collect();
            if code != 0 {
                return Ok(code);
            }
        }
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
    Ok(if engine.container_exists_with(&a.container, a.external)? {
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
