//! `build`: the Containerfile language, `.containerignore`, and the pure parts of the layer
//! cache. The executor (running `RUN` steps, committing layers) sits on top of this later.
//!
//! What this module owns, and what it follows:
//! - [`parse`]: a port of BuildKit's Dockerfile grammar (moby/buildkit
//!   `frontend/dockerfile/parser` and `instructions`, read at dockerfile/1.26): parser
//!   directives, continuations, comments, heredocs, JSON and shell forms, flags, and a typed
//!   instruction per line with its original text and line number.
//! - [`expand`]: BuildKit's word expansion (`shell/lex.go`) and its build-arg scoping rules;
//!   which instructions expand follows BuildKit's list.
//! - [`ignore`]: `.containerignore` / `.dockerignore` with Docker's exact semantics (moby's
//!   `patternmatcher` and `ignorefile.ReadAll`, fsutil's walk).
//! - [`cache`]: the history `created_by` strings Podman 4.3 (Buildah 1.28) writes, and a
//!   cache key that is never wrong: every input that can change a step's result is in it.
//!
//! It never runs a container, mounts anything or touches the image store: everything here is
//! plain data in, plain data out (the only I/O is reading a context tree to digest or walk it).

pub mod cache;
pub(crate) mod exec;
pub mod expand;
mod gopath;
pub mod ignore;
pub mod parse;

pub use exec::{
    BuildOptions, BuildOutput, BuildResult, RunNames, RunSpec, StepImage, run_create_options,
};

use std::io;
use std::path::PathBuf;

pub use gopath::{go_clean, go_match};

/// What went wrong while reading a Containerfile, expanding a word, or reading a context.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A syntax or instruction error, with BuildKit's wording and the file and line.
    #[error("{file}: dockerfile parse error on line {line}: {message}")]
    Parse {
        file: String,
        line: usize,
        message: String,
    },
    /// A Containerfile with nothing to build.
    #[error("{file}: file with no instructions")]
    NoInstructions { file: String },
    /// A Containerfile with ARGs but no FROM.
    #[error("{file}: dockerfile contains no stages to build")]
    NoStages { file: String },
    /// An instruction failed while its stage was being prepared (word expansion, with
    /// BuildKit's wording: `failed to process "…": …`), at a line of the file.
    #[error("{file}:{line}: {message}")]
    Step {
        file: String,
        line: usize,
        message: String,
    },
    /// A build argument, stage or target that does not fit the Containerfile.
    #[error("{0}")]
    Invalid(String),
    /// A bad pattern in an ignore file.
    #[error("{file}: pattern {pattern:?}: {message}")]
    Ignore {
        file: String,
        pattern: String,
        message: String,
    },
    /// Reading the build context failed.
    #[error("{what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

impl BuildError {
    pub(crate) fn io(what: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        BuildError::Io {
            what,
            path: path.into(),
            source,
        }
    }
}

impl From<BuildError> for crate::Error {
    fn from(e: BuildError) -> Self {
        match e {
            BuildError::Io { what, path, source } => crate::Error::Io { what, path, source },
            other => crate::Error::InvalidArgument(other.to_string()),
        }
    }
}

pub type Result<T, E = BuildError> = std::result::Result<T, E>;

/// `build -`: what came on stdin is a tar of the context (plain or compressed: unpacked
/// into `dir` with the layer unpacker's safety) or a Containerfile (written as
/// `containerfile`, and `dir` made empty). True when it was a tar.
pub fn context_from_bytes(
    data: &[u8],
    dir: &std::path::Path,
    containerfile: &std::path::Path,
) -> crate::Result<bool> {
    use std::io::Read;
    let ustar = |b: &[u8]| b.len() >= 262 && &b[257..262] == b"ustar";
    let is_tar = ustar(data)
        || crate::layer::decompress(data)
            .ok()
            .and_then(|mut r| {
                let mut b = [0u8; 512];
                r.read_exact(&mut b).ok().map(|_| ustar(&b))
            })
            .unwrap_or(false);
    if is_tar {
        crate::layer::unpack(data, dir).map_err(|e| {
            crate::Error::invalid(format!("extracting the build context from stdin: {e}"))
        })?;
    } else {
        std::fs::create_dir_all(dir)
            .map_err(|e| crate::Error::invalid(format!("creating {}: {e}", dir.display())))?;
        std::fs::write(containerfile, data).map_err(|e| {
            crate::Error::invalid(format!("writing {}: {e}", containerfile.display()))
        })?;
    }
    Ok(is_tar)
}
