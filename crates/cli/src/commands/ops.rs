//! `pause`, `unpause` and `top`.

use std::io::Write;

use peapod_engine::container::{Container, Status};
use peapod_engine::parallel::Target;
use peapod_engine::{Engine, Error};

use crate::cli::{PauseArgs, TopArgs};
use crate::format::PODMAN_TABWRITER;
use crate::output::print_each;
use crate::{CliError, CliResult};

/// Podman looks every named container up before acting on any: one missing name fails
/// the whole command and nothing is paused. With `-a`, every container in `state`.
fn targets(engine: &Engine, a: &PauseArgs, state: Status) -> CliResult<Vec<Target>> {
    if a.all {
        if !a.containers.is_empty() {
            return Err(CliError::engine(
                "when using the --all switch, you may not pass any containers names or IDs",
            ));
        }
        return Ok(engine
            .containers()?
            .iter()
            .filter(|c| c.state.status == state)
            .map(|c| Target {
                given: c.id().to_string(),
                id: c.id().to_string(),
            })
            .collect());
    }
    if a.containers.is_empty() {
        return Err(CliError::engine(
            "you must provide at least one container name or id",
        ));
    }
    Ok(engine.resolve_containers(&a.containers, false)?)
}

/// `op` on every target at once (the engine's worker pool), answers in argument order.
fn each(
    engine: &Engine,
    targets: Vec<Target>,
    op: impl Fn(&Engine, &str) -> Result<Container, Error> + Sync,
) -> CliResult {
    let ids: Vec<String> = targets.iter().map(|t| t.id.clone()).collect();
    let results = engine.on_many(&ids, op);
    print_each(
        &targets,
        results,
        |t, _| Some(t.given.clone()),
        crate::exit_code,
    )
}

pub fn pause(engine: &Engine, a: PauseArgs) -> CliResult {
    let t = targets(engine, &a, Status::Running)?;
    each(engine, t, |e, id| e.pause(id))
}

pub fn unpause(engine: &Engine, a: PauseArgs) -> CliResult {
    let t = targets(engine, &a, Status::Paused)?;
    each(engine, t, |e, id| e.unpause(id))
}

pub fn top(engine: &Engine, a: TopArgs) -> CliResult {
    let (ctr, descriptors) = a.args.split_first().ok_or_else(|| {
        CliError::engine("you must provide the name or id of a running container")
    })?;
    let lines = match engine.top(ctr, descriptors) {
        Ok(l) => l,
        Err(e @ Error::NoSuchContainer(_)) => {
            return Err(CliError::engine(format!(
                "unable to look up requested container: {e}"
            )));
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
