//! `pause`, `unpause` and `top`.

use std::io::Write;

use peapod_engine::container::{Container, Status};
use peapod_engine::{Engine, Error};

use crate::cli::{PauseArgs, TopArgs};
use crate::format::PODMAN_TABWRITER;
use crate::{CliError, CliResult};

/// Podman looks every named container up before acting on any: one missing name fails
/// the whole command and nothing is paused. With `-a`, every container in `state`.
fn targets(engine: &Engine, a: &PauseArgs, state: Status) -> CliResult<Vec<(String, String)>> {
    if a.all {
        if !a.containers.is_empty() {
            return Err(CliError::Coded(
                "when using the --all switch, you may not pass any containers names or IDs".into(),
                125,
            ));
        }
        return Ok(engine
            .containers()?
            .iter()
            .filter(|c| c.state.status == state)
            .map(|c| (c.id().to_string(), c.id().to_string()))
            .collect());
    }
    if a.containers.is_empty() {
        return Err(CliError::Coded(
            "you must provide at least one container name or id".into(),
            125,
        ));
    }
    a.containers
        .iter()
        .map(|n| Ok((n.clone(), engine.container(n)?.id().to_string())))
        .collect()
}

fn each(targets: Vec<(String, String)>, f: impl Fn(&str) -> Result<Container, Error>) -> CliResult {
    let mut code = 0;
    let mut out = std::io::stdout().lock();
    for (shown, id) in targets {
        match f(&id) {
            Ok(_) => writeln!(out, "{shown}")?,
            Err(e) => {
                eprintln!("Error: {e}");
                code = e.exit_code();
            }
        }
    }
    Ok(code)
}

pub fn pause(engine: &Engine, a: PauseArgs) -> CliResult {
    let t = targets(engine, &a, Status::Running)?;
    each(t, |id| engine.pause(id))
}

pub fn unpause(engine: &Engine, a: PauseArgs) -> CliResult {
    let t = targets(engine, &a, Status::Paused)?;
    each(t, |id| engine.unpause(id))
}

pub fn top(engine: &Engine, a: TopArgs) -> CliResult {
    let (ctr, descriptors) = a.args.split_first().ok_or_else(|| {
        CliError::Coded(
            "you must provide the name or id of a running container".into(),
            125,
        )
    })?;
    let lines = match engine.top(ctr, descriptors) {
        Ok(l) => l,
        Err(e @ Error::NoSuchContainer(_)) => {
            return Err(CliError::Coded(
                format!("unable to look up requested container: {e}"),
                125,
            ));
        }
        Err(e) => return Err(e.into()),
    };
    let mut text = lines.join("\n");
    text.push('\n');
    let mut out = std::io::stdout().lock();
    out.write_all(PODMAN_TABWRITER.align(&text).as_bytes())?;
    out.flush()?;
    Ok(0)
}
