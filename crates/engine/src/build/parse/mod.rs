//! The Containerfile language: BuildKit's grammar, ported (moby/buildkit
//! `frontend/dockerfile/parser` and `instructions`, read at dockerfile/1.26).
//!
//! [`parse`] turns a file into a [`Containerfile`]: its parser directives, the `ARG`s before
//! the first `FROM`, and its stages, each a list of typed [`Instruction`]s that keep their
//! source text and line for `STEP n/m:` and for errors. Errors carry the file name and line
//! and BuildKit's words (`dockerfile parse error on line 3: unknown instruction: FOO`).
//!
//! Departures from BuildKit, on purpose: an `ONBUILD` trigger is typed now (BuildKit waits
//! for a child build), so a trigger that could never run is refused at once; a variable in a
//! `RUN --mount` field that must be a literal (`type=$T`) is refused (see [`Mount`]).
//! Lines are not limited to 64 KiB. Line numbers of directive errors are 1-based.

mod directives;
pub(crate) mod duration;
mod flags;
mod instructions;
mod lines;
mod mount;
pub(crate) use mount::csv_fields;
mod words;

pub use directives::Directives;
pub use instructions::{
    Add, ArgDecl, CommandLine, Copy, Healthcheck, InlineSource, Instruction, InstructionKind,
    KeyValue, NetworkMode, Onbuild, Run, Security, Sources,
};
pub use lines::Heredoc;
pub use mount::{Mount, MountType, Sharing};

pub(crate) use lines::parse_heredoc;

use serde::Serialize;

use super::{BuildError, Result};
use instructions::Typed;

/// A parsed Containerfile (at least one stage).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Containerfile {
    /// The name used in messages (the path as given).
    pub file: String,
    pub directives: Directives,
    /// `ARG`s before the first `FROM`: visible in `FROM` lines only, unless a stage
    /// declares them again.
    pub args_before_from: Vec<MetaArg>,
    pub stages: Vec<Stage>,
    /// Parser warnings, as BuildKit words them (`Empty continuation line found in: …`).
    pub warnings: Vec<String>,
}

/// An `ARG` before the first `FROM`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MetaArg {
    pub line: usize,
    pub original: String,
    pub args: Vec<ArgDecl>,
}

/// One `FROM` and the instructions up to the next.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Stage {
    /// The base as written: an image, `scratch`, or an earlier stage's name (may hold
    /// `$ARG`s of the global scope).
    pub base: String,
    /// `AS name`, lower-cased.
    pub name: Option<String>,
    /// `--platform=` as written.
    pub platform: Option<String>,
    pub line: usize,
    pub original: String,
    pub instructions: Vec<Instruction>,
}

impl Stage {
    /// The FROM line, trimmed, as `STEP 1/n:` prints it.
    pub fn code(&self) -> &str {
        self.original.trim()
    }
}

/// Parse `text`; `file` names it in errors.
pub fn parse(file: &str, text: &str) -> Result<Containerfile> {
    let err = |line: usize, message: String| BuildError::Parse {
        file: file.to_string(),
        line,
        message,
    };
    let scanned = lines::scan(text).map_err(|e| err(e.line, e.message))?;
    if scanned.nodes.is_empty() {
        return Err(BuildError::NoInstructions {
            file: file.to_string(),
        });
    }
    let mut args_before_from = Vec::new();
    let mut stages: Vec<Stage> = Vec::new();
    for node in &scanned.nodes {
        match instructions::type_node(node).map_err(|m| err(node.start_line, m))? {
            Typed::From(f) => stages.push(Stage {
                base: f.base,
                name: f.name,
                platform: f.platform,
                line: node.start_line,
                original: node.original.clone(),
                instructions: Vec::new(),
            }),
            Typed::Instruction(i) => match (stages.last_mut(), &i.kind) {
                (Some(stage), _) => stage.instructions.push(i),
                (None, InstructionKind::Arg(args)) => args_before_from.push(MetaArg {
                    line: i.line,
                    original: i.original.clone(),
                    args: args.clone(),
                }),
                (None, _) => {
                    return Err(err(
                        node.start_line,
                        "no build stage in current context".to_string(),
                    ));
                }
            },
        }
    }
    if stages.is_empty() {
        return Err(BuildError::NoStages {
            file: file.to_string(),
        });
    }
    Ok(Containerfile {
        file: file.to_string(),
        directives: scanned.directives,
        args_before_from,
        stages,
        warnings: scanned.warnings,
    })
}

impl Containerfile {
    /// The index of the stage named `name` (stage names are case-insensitive).
    pub fn stage_index(&self, name: &str) -> Option<usize> {
        self.stages.iter().position(|s| {
            s.name
                .as_deref()
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
        })
    }

    /// The stage `--target` names (the last stage without one), with BuildKit's error.
    pub fn target(&self, target: Option<&str>) -> Result<usize> {
        let Some(t) = target else {
            return Ok(self.stages.len() - 1);
        };
        self.stage_index(t).ok_or_else(|| {
            let names: Vec<&str> = self
                .stages
                .iter()
                .filter_map(|s| s.name.as_deref())
                .collect();
            BuildError::Invalid(flags::suggest(
                format!("target stage {t:?} could not be found"),
                t,
                &names,
                true,
            ))
        })
    }

    /// Every ARG name declared anywhere (before FROM or in a stage).
    pub fn declared_args(&self) -> Vec<&str> {
        let meta = self.args_before_from.iter().flat_map(|m| m.args.iter());
        let staged = self.stages.iter().flat_map(|s| {
            s.instructions.iter().flat_map(|i| match &i.kind {
                InstructionKind::Arg(a) => a.as_slice(),
                _ => &[],
            })
        });
        meta.chain(staged).map(|a| a.key.as_str()).collect()
    }

    /// Refuse what BuildKit accepts but peapod's builder does not do, naming the line.
    pub fn check_supported(&self) -> Result<()> {
        for stage in &self.stages {
            for i in &stage.instructions {
                let trigger = match &i.kind {
                    InstructionKind::Onbuild(o) => &*o.trigger,
                    _ => i,
                };
                if let Some(what) = unsupported(&trigger.kind) {
                    return Err(BuildError::Parse {
                        file: self.file.clone(),
                        line: i.line,
                        message: format!("{what} is not supported"),
                    });
                }
            }
        }
        Ok(())
    }
}

fn unsupported(kind: &InstructionKind) -> Option<&'static str> {
    match kind {
        InstructionKind::Copy(c) if c.parents => Some("COPY --parents"),
        InstructionKind::Copy(c) if !c.excludes.is_empty() => Some("COPY --exclude"),
        InstructionKind::Add(a) if !a.excludes.is_empty() => Some("ADD --exclude"),
        InstructionKind::Add(a) if a.keep_git_dir.is_some() => {
            Some("ADD --keep-git-dir (git sources)")
        }
        InstructionKind::Add(a) if a.checksum.is_some() => Some("ADD --checksum"),
        InstructionKind::Run(r) if r.security == Security::Insecure => {
            Some("RUN --security=insecure")
        }
        InstructionKind::Run(r) if !r.devices.is_empty() => Some("RUN --device"),
        InstructionKind::Run(r) if r.mounts.iter().any(|m| m.kind == MountType::Ssh) => {
            Some("RUN --mount=type=ssh")
        }
        _ => None,
    }
}

/// What a RUN step executes, after BuildKit's heredoc handling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunArgv {
    /// The argv (the shell already in front for the shell form).
    pub args: Vec<String>,
    /// A script to provide read-only at `/dev/pipes/<name>` with mode 0755 (a heredoc that
    /// starts with `#!`).
    pub script: Option<(String, String)>,
}

/// The directory a shebang heredoc script is mounted in (BuildKit's choice).
pub const SCRIPT_DIR: &str = "/dev/pipes/";

impl Run {
    /// The argv of this step, given the stage's shell (`["/bin/sh", "-c"]` by default).
    pub fn argv(&self, shell: &[String]) -> std::result::Result<RunArgv, String> {
        let c = &self.command;
        let mut args = c.args.clone();
        let mut script = None;
        if !c.heredocs.is_empty() {
            if args.len() != 1 || !c.prepend_shell {
                return Err(format!("parsing produced an invalid run command: {args:?}"));
            }
            if parse_heredoc(&args[0])?.is_some() {
                // The whole command is one heredoc: run its body.
                let doc = &c.heredocs[0];
                let data = doc.body();
                if data.starts_with("#!") {
                    args = vec![format!("{SCRIPT_DIR}{}", doc.name)];
                    script = Some((doc.name.clone(), data));
                } else {
                    args = vec![data];
                }
            } else {
                // Hand the line and the bodies to the shell, which reads the heredocs.
                let mut b = args[0].clone();
                for doc in &c.heredocs {
                    b.push('\n');
                    b.push_str(&doc.content);
                    b.push_str(&doc.name);
                }
                args = vec![b];
            }
        }
        if c.prepend_shell {
            let mut full = shell.to_vec();
            full.extend(args);
            args = full;
        }
        Ok(RunArgv { args, script })
    }
}

#[cfg(test)]
mod tests;
