//! `cp` / `container cp`: Podman's flags and arguments; the copy is the engine's.

use clap::Args;
use peapod_engine::Engine;
use peapod_engine::container::copy::{CopyEnd, CopyOptions};

use crate::{CliError, CliResult};

#[derive(Debug, Args)]
pub struct CpArgs {
    /// Chown copied files to the primary uid/gid of the destination container
    #[arg(short = 'a', long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub archive: bool,
    /// Allow to overwrite directories with non-directories and vice versa
    #[arg(long)]
    pub overwrite: bool,
    /// Pause the container while copying (accepted; peapod copies without pausing)
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub pause: bool,
    /// [CONTAINER:]SRC_PATH, or - for a tar archive on stdin
    pub source: String,
    /// [CONTAINER:]DEST_PATH, or - for a tar archive on stdout
    pub destination: String,
}

pub fn cp(engine: &Engine, a: CpArgs) -> CliResult {
    let src = match a.source.as_str() {
        // Podman reads /dev/stdin as `-`: a tar archive.
        "/dev/stdin" => CopyEnd::Stream,
        s => CopyEnd::parse(s),
    };
    let dest = CopyEnd::parse(&a.destination);
    if src == CopyEnd::Stream && dest == CopyEnd::Stream {
        return Err(CliError::engine(
            "invalid arguments - -: cannot copy from stdin to stdout",
        ));
    }
    let opts = CopyOptions {
        archive: a.archive,
        overwrite: a.overwrite,
    };
    let mut stdin = std::io::stdin().lock();
    let mut stdout = std::io::stdout().lock();
    engine.copy(&src, &dest, &opts, &mut stdin, &mut stdout)?;
    Ok(0)
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Write to a specified file (default: stdout, which must not be a terminal)
    #[arg(short = 'o', long)]
    pub output: Option<std::path::PathBuf>,
    pub container: String,
}

/// `export` / `container export`: the container's filesystem as a tar archive.
pub fn export(engine: &Engine, a: ExportArgs) -> CliResult {
    use std::io::IsTerminal;
    match &a.output {
        Some(path) => {
            let mut f = std::fs::File::create(path)
                .map_err(|e| CliError::engine(format!("creating {}: {e}", path.display())))?;
            if let Err(e) = engine.export_container(&a.container, &mut f) {
                drop(f);
                let _ = std::fs::remove_file(path);
                return Err(e.into());
            }
        }
        None => {
            if std::io::stdout().is_terminal() {
                return Err(CliError::engine(
                    "refusing to export to terminal. Use -o flag or redirect",
                ));
            }
            let mut out = std::io::stdout().lock();
            engine.export_container(&a.container, &mut out)?;
        }
    }
    Ok(0)
}
