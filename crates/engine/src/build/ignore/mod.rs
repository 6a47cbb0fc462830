//! `.containerignore` / `.dockerignore` with Docker's exact semantics: moby's
//! `ignorefile.ReadAll` ([`read_all`]), `patternmatcher` ([`Matcher`]), and BuildKit's
//! walk of the context ([`walk`]). Where Buildah differs (buildah#6417: `**.md`,
//! buildah#2936: a leading `/`, `!` exceptions under excluded directories) we follow Docker.

mod file;
mod pattern;
mod regex;
mod walk;

use std::path::{Path, PathBuf};

pub use file::{locate, read_all};
pub use pattern::{MatchInfo, Matcher, Pattern};
pub use walk::{WalkEntry, walk};

use super::{BuildError, Result};

/// The ignore rules of one build.
#[derive(Debug, Clone, Default)]
pub struct Ignore {
    /// Where they came from (none: nothing is ignored).
    pub file: Option<PathBuf>,
    /// The patterns as read (part of every context copy's cache key).
    pub patterns: Vec<String>,
    pub matcher: Matcher,
}

impl Ignore {
    /// No ignore file.
    pub fn none() -> Ignore {
        Ignore::default()
    }

    /// Rules from `text`; `file` names them in errors.
    pub fn from_text(file: &Path, text: &str) -> Result<Ignore> {
        let patterns = read_all(text);
        let matcher = Matcher::new(&patterns).map_err(|(pattern, message)| BuildError::Ignore {
            file: file.display().to_string(),
            pattern,
            message,
        })?;
        Ok(Ignore {
            file: Some(file.to_path_buf()),
            patterns,
            matcher,
        })
    }

    /// The rules for a build in `context` (see [`locate`]).
    pub fn load(
        context: &Path,
        containerfiles: &[PathBuf],
        explicit: Option<&Path>,
    ) -> Result<Ignore> {
        let Some(file) = locate(context, containerfiles, explicit) else {
            return Ok(Ignore::none());
        };
        let bytes =
            std::fs::read(&file).map_err(|e| BuildError::io("reading ignore file", &file, e))?;
        Ignore::from_text(&file, &String::from_utf8_lossy(&bytes))
    }

    /// Whether `rel` (slash path relative to the context) is excluded.
    pub fn excludes(&self, rel: &str) -> bool {
        self.matcher.matches(rel)
    }
}
