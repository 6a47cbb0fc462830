//! `commit` (also `container commit`): Podman's flags; the new image's id on stdout, the
//! copy's progress on stderr unless `-q`.

use std::path::PathBuf;

use clap::Args;
use peapod_engine::Engine;
use peapod_engine::container::{CommitFormat, CommitOptions};

use super::registry::sink;
use crate::{CliError, CliResult};

#[derive(Debug, Args)]
pub struct CommitArgs {
    /// Apply the following possible instructions to the created image: CMD | ENTRYPOINT | ENV | EXPOSE | LABEL | ONBUILD | STOPSIGNAL | USER | VOLUME | WORKDIR
    #[arg(short = 'c', long)]
    pub change: Vec<String>,
    /// Format of the image manifest and metadata (oci, docker)
    #[arg(short = 'f', long, default_value = "oci")]
    pub format: String,
    /// File to write the image ID to
    #[arg(long)]
    pub iidfile: Option<PathBuf>,
    /// Set commit message for imported image (docker format only)
    #[arg(short = 'm', long)]
    pub message: Option<String>,
    /// Set the author for the image committed
    #[arg(short = 'a', long)]
    pub author: Option<String>,
    /// Pause container during commit
    #[arg(short = 'p', long)]
    pub pause: bool,
    /// Suppress output
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Squash newly built layers into a single new layer
    #[arg(short = 's', long)]
    pub squash: bool,
    /// Include container volumes as image volumes
    #[arg(long = "include-volumes")]
    pub include_volumes: bool,
    /// The container to commit
    pub container: String,
    /// The name of the new image
    pub image: Option<String>,
}

pub fn commit(engine: &Engine, a: CommitArgs) -> CliResult {
    let opts = CommitOptions {
        name: a.image.clone(),
        changes: a.change.clone(),
        message: a.message.clone(),
        author: a.author.clone(),
        pause: a.pause,
        squash: a.squash,
        format: CommitFormat::parse(&a.format)?,
        include_volumes: a.include_volumes,
    };
    let sink = sink(a.quiet);
    let rec = engine.commit(&a.container, &opts, sink.as_ref())?;
    if let Some(f) = &a.iidfile {
        std::fs::write(f, &rec.id)
            .map_err(|e| CliError::engine(format!("failed to write image ID: {e}")))?;
    }
    println!("{}", rec.id);
    Ok(0)
}
