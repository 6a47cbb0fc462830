//! `rename` / `container rename`.

use clap::Args;
use peapod_engine::Engine;

use crate::CliResult;

#[derive(Debug, Args)]
pub struct RenameArgs {
    pub container: String,
    pub name: String,
}

pub fn rename(engine: &Engine, a: RenameArgs) -> CliResult {
    engine.rename_container(&a.container, &a.name)?;
    Ok(0)
}
