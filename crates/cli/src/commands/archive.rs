//! `save` and `load` (also under `image`): Podman's flags, its refusals of a terminal, and
//! its `Loaded image: NAME` lines. Progress goes to stderr as for a pull.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::Args;
use peapod_engine::Engine;
use peapod_engine::image::archive::{ArchiveFormat, LoadInput};
use peapod_engine::images::{SaveOutput, SaveRequest};

use super::registry::sink;
use crate::{CliError, CliResult};

#[derive(Debug, Args)]
pub struct SaveArgs {
    /// Compress tarball image layers when saving to a directory using the 'dir' transport (docker-dir only)
    #[arg(long)]
    pub compress: bool,
    /// Save image to oci-archive, oci-dir (directory with oci manifest type), docker-archive, docker-dir (directory with v2s2 manifest type)
    #[arg(long, default_value = "docker-archive")]
    pub format: String,
    /// Write to a specified file (default: stdout, which must be redirected)
    #[arg(short = 'o', long)]
    pub output: Option<PathBuf>,
    /// Suppress the output
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Interpret additional arguments as images not tags and create a multi-image-archive (only for docker-archive)
    #[arg(short = 'm', long = "multi-image-archive")]
    pub multi_image_archive: bool,
    /// Accept uncompressed layers when copying OCI images (oci-archive, oci-dir keep them uncompressed)
    #[arg(long)]
    pub uncompressed: bool,
    /// Pathname of a signature policy file (accepted for Podman compatibility)
    #[arg(long = "signature-policy", hide = true)]
    pub signature_policy: Option<String>,
    /// Images to save
    #[arg(required = true)]
    pub images: Vec<String>,
}

#[derive(Debug, Args)]
pub struct LoadArgs {
    /// Read from specified archive file (default: stdin)
    #[arg(short = 'i', long)]
    pub input: Option<PathBuf>,
    /// Suppress the output
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Pathname of a signature policy file (accepted for Podman compatibility)
    #[arg(long = "signature-policy", hide = true)]
    pub signature_policy: Option<String>,
}

pub fn save(engine: &Engine, a: SaveArgs) -> CliResult {
    let format = ArchiveFormat::parse(&a.format).map_err(peapod_engine::Error::from)?;
    let req = SaveRequest {
        names: a.images.clone(),
        format,
        multi_image: a.multi_image_archive,
        compress: a.compress,
        uncompressed: a.uncompressed,
        quiet: false,
    };
    match &a.output {
        Some(p) => {
            let sink = sink(a.quiet);
            engine.save_images(&req, SaveOutput::Path(p), sink.as_ref())?;
        }
        None => {
            let stdout = std::io::stdout();
            if stdout.is_terminal() {
                return Err(CliError::engine(
                    "refusing to save to terminal. Use -o flag or redirect",
                ));
            }
            if format.is_dir() {
                return Err(CliError::engine(format!(
                    "--format {} needs a directory: use -o",
                    format.name()
                )));
            }
            // Podman is quiet when the archive goes to stdout.
            let sink = sink(true);
            let mut out = stdout.lock();
            engine.save_images(&req, SaveOutput::Stream(&mut out), sink.as_ref())?;
        }
    }
    Ok(0)
}

pub fn load(engine: &Engine, a: LoadArgs) -> CliResult {
    let sink = sink(a.quiet);
    let names = match &a.input {
        Some(p) => engine.load_images(LoadInput::Path(p), sink.as_ref())?,
        None => {
            let stdin = std::io::stdin();
            if stdin.is_terminal() {
                return Err(CliError::engine(
                    "cannot read from terminal, use command-line redirection or the --input flag",
                ));
            }
            let mut input = stdin.lock();
            engine.load_images(LoadInput::Stream(&mut input), sink.as_ref())?
        }
    };
    for n in names {
        println!("Loaded image: {n}");
    }
    Ok(0)
}
