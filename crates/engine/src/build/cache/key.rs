//! The cache key of a build step: everything the step's result depends on, so that a
//! step is reused only when it would produce the same image.
//!
//! Podman 4.3 reuses an image when its parent and last `created_by` match, which misses
//! inputs the history string does not carry (buildah#1780, podman#8591, podman#21498): the
//! values an `ENV` or `COPY --chown` expanded `$ARG`s to, heredoc bodies, the build args a
//! RUN sees, the ignore rules of a context copy. The key here has, besides the parent image
//! id and the `created_by`:
//!
//! - the instruction with its words expanded (line numbers left out, so moving an
//!   instruction does not miss); for ARG only the names, as the values reach later steps
//!   through their own keys;
//! - for RUN, its whole environment (base Env, ENVs, ARG values) except the proxy args,
//!   which Docker keeps out of cache keys so a proxy change does not rebuild everything;
//!   heredoc bodies are part of the instruction, verbatim;
//! - for COPY/ADD, the content summary of the sources (see `digest`), and for a copy from
//!   the build context, the ignore patterns in force;
//! - `extra` facts only the executor knows (e.g. digests of `RUN --mount=type=bind`
//!   sources, a downloaded file, `--timestamp`). Cache mounts and secrets are not part of
//!   the key, as in Docker.
//!
//! Changing the file format or any of this changes [`KEY_VERSION`].

use serde::Serialize;
use sha2::{Digest as _, Sha256};

use super::history::created_by;
use crate::build::expand::{PROXY_ARGS, StageScope};
use crate::build::parse::{Instruction, InstructionKind};

/// Bumped whenever what goes into a key changes, so old keys never match.
pub const KEY_VERSION: u32 = 1;

/// Everything a step's result depends on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CacheKey {
    version: u32,
    /// The id of the image the step starts from.
    pub parent: String,
    /// The history entry the step writes (Podman's format).
    pub created_by: String,
    /// The expanded instruction (JSON of its kind).
    pub instruction: String,
    /// RUN: the environment the command sees, proxy args excepted.
    pub run_env: Vec<String>,
    /// COPY/ADD: the content summary of the sources.
    pub content: Option<String>,
    /// COPY/ADD from the build context: the ignore patterns.
    pub ignore: Option<Vec<String>>,
    /// Facts the executor adds, as (name, value).
    pub extra: Vec<(String, String)>,
}

/// One step, described for its key.
pub struct Step<'a> {
    /// The id of the image the step starts from.
    pub parent: &'a str,
    /// The instruction as written.
    pub written: &'a Instruction,
    /// The instruction after `StageScope::expand` (for ARG: as written).
    pub expanded: &'a Instruction,
    /// The stage's scope for the step: after the declaration for ARG, before the step
    /// otherwise.
    pub scope: &'a StageScope,
    /// COPY/ADD: the content summary of the sources.
    pub content: Option<&'a str>,
    /// COPY/ADD from the build context: the ignore patterns.
    pub ignore: Option<&'a [String]>,
}

impl CacheKey {
    pub fn new(step: &Step<'_>) -> CacheKey {
        let instruction = match &step.expanded.kind {
            InstructionKind::Arg(_) => format!("ARG {}", step.scope.arg_keys().join(" ")),
            // Plain data: serialising cannot fail, and an empty key would be a wrong hit.
            kind => serde_json::to_string(kind).expect("an instruction serialises to JSON"),
        };
        let run_env = match &step.expanded.kind {
            InstructionKind::Run(_) => step
                .scope
                .vars()
                .iter()
                .filter(|(k, _)| !PROXY_ARGS.contains(k))
                .map(|(k, v)| format!("{k}={v}"))
                .collect(),
            _ => Vec::new(),
        };
        CacheKey {
            version: KEY_VERSION,
            parent: step.parent.to_string(),
            created_by: created_by(step.written, step.scope, step.content.unwrap_or("")),
            instruction,
            run_env,
            content: step.content.map(str::to_string),
            ignore: step.ignore.map(<[String]>::to_vec),
            extra: Vec::new(),
        }
    }

    /// Add a fact the executor knows changes the result.
    pub fn with(mut self, name: &str, value: &str) -> CacheKey {
        self.extra.push((name.to_string(), value.to_string()));
        self
    }

    /// The key as 64 hex digits (sha256 of its JSON).
    pub fn digest(&self) -> String {
        let json = serde_json::to_vec(self).expect("a cache key serialises to JSON");
        hex::encode(Sha256::digest(&json))
    }
}
