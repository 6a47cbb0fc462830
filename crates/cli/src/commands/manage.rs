//! `rename` and `init` (also under `container`).

use clap::Args;
use peapod_engine::Engine;

use crate::output::print_each;
use crate::{CliError, CliResult};

#[derive(Debug, Args)]
pub struct RenameArgs {
    pub container: String,
    pub name: String,
}

pub fn rename(engine: &Engine, a: RenameArgs) -> CliResult {
    engine.rename_container(&a.container, &a.name)?;
    Ok(0)
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Initialize all containers
    #[arg(short = 'a', long)]
    pub all: bool,
    /// The containers to initialize
    pub containers: Vec<String>,
}

/// `init`: each container initialized (in parallel), printed as given (`--all`: by id).
pub fn init(engine: &Engine, a: InitArgs) -> CliResult {
    if a.all && !a.containers.is_empty() {
        return Err(CliError::engine(
            "--all and containers cannot be used together",
        ));
    }
    if !a.all && a.containers.is_empty() {
        return Err(CliError::engine(
            "you must provide at least one container name or ID",
        ));
    }
    let targets = if a.all {
        engine
            .containers()?
            .into_iter()
            .filter(|c| {
                matches!(
                    c.state.status,
                    peapod_engine::container::Status::Created
                        | peapod_engine::container::Status::Exited
                )
            })
            .map(|c| peapod_engine::parallel::Target {
                given: c.id().to_string(),
                id: c.id().to_string(),
            })
            .collect()
    } else {
        engine.resolve_containers(&a.containers, false)?
    };
    let ids: Vec<String> = targets.iter().map(|t| t.id.clone()).collect();
    let results = engine.on_many(&ids, |e, id| e.init_container(id).map(drop));
    print_each(
        &targets,
        results,
        |t, _| Some(t.given.clone()),
        |_| peapod_engine::error::exit::ENGINE,
    )
}
