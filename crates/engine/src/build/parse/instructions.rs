//! Typed instructions (BuildKit's `instructions/parse.go` and `commands.go`): each node's
//! flags are checked against what its instruction accepts, its arguments are counted and
//! shaped, with BuildKit's error messages. Values are kept as written (quotes included
//! where BuildKit keeps them): expansion happens per stage, later (see `build::expand`).

use std::time::Duration;

use serde::Serialize;

use super::duration::parse_go_duration;
use super::flags::{FlagKind, Flags, suggest};
use super::lines::{Heredoc, Node, chomp_tabs, parse_heredoc};
use super::mount::Mount;
use crate::build::expand::{Lex, NoEnv};

mod commands;
#[allow(unused_imports)]
pub use commands::*;

/// One instruction of a stage, with where it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Instruction {
    /// First and last line in the file (1-based).
    pub line: usize,
    pub end_line: usize,
    /// The logical line as written (continuations joined, comments dropped); `code()` is
    /// what `STEP n/m:` prints.
    pub original: String,
    pub kind: InstructionKind,
}

impl Instruction {
    /// The instruction's source, trimmed (BuildKit's `String()`).
    pub fn code(&self) -> &str {
        self.original.trim()
    }

    /// The instruction's name in capitals.
    pub fn name(&self) -> &'static str {
        self.kind.name()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum InstructionKind {
    Run(Run),
    Copy(Copy),
    Add(Add),
    Env(Vec<KeyValue>),
    Arg(Vec<ArgDecl>),
    Workdir(String),
    User(String),
    Label(Vec<KeyValue>),
    /// Port specs, sorted as BuildKit sorts them when parsing.
    Expose(Vec<String>),
    Volume(Vec<String>),
    Cmd(CommandLine),
    Entrypoint(CommandLine),
    /// SHELL takes the JSON form only.
    Shell(Vec<String>),
    StopSignal(String),
    Healthcheck(Healthcheck),
    Onbuild(Onbuild),
    Maintainer(String),
}

impl InstructionKind {
    pub fn name(&self) -> &'static str {
        match self {
            InstructionKind::Run(_) => "RUN",
            InstructionKind::Copy(_) => "COPY",
            InstructionKind::Add(_) => "ADD",
            InstructionKind::Env(_) => "ENV",
            InstructionKind::Arg(_) => "ARG",
            InstructionKind::Workdir(_) => "WORKDIR",
            InstructionKind::User(_) => "USER",
            InstructionKind::Label(_) => "LABEL",
            InstructionKind::Expose(_) => "EXPOSE",
            InstructionKind::Volume(_) => "VOLUME",
            InstructionKind::Cmd(_) => "CMD",
            InstructionKind::Entrypoint(_) => "ENTRYPOINT",
            InstructionKind::Shell(_) => "SHELL",
            InstructionKind::StopSignal(_) => "STOPSIGNAL",
            InstructionKind::Healthcheck(_) => "HEALTHCHECK",
            InstructionKind::Onbuild(_) => "ONBUILD",
            InstructionKind::Maintainer(_) => "MAINTAINER",
        }
    }
}

/// `ENV`/`LABEL` pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyValue {
    pub key: String,
    pub value: String,
    /// Written in the legacy `ENV key value` form.
    pub legacy: bool,
}

/// One name of an `ARG`, with its default as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ArgDecl {
    pub key: String,
    pub default: Option<String>,
}

/// The command of RUN, CMD or ENTRYPOINT (BuildKit's `ShellDependantCmdLine`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommandLine {
    /// Exec form: the array. Shell form: one string (none for an empty CMD).
    pub args: Vec<String>,
    /// Shell form: the image's shell is put in front.
    pub prepend_shell: bool,
    /// Heredocs opened on the line (RUN only).
    pub heredocs: Vec<Heredoc>,
}

/// `RUN --network=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NetworkMode {
    Default,
    None,
    Host,
}

/// `RUN --security=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    Sandbox,
    Insecure,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Run {
    pub command: CommandLine,
    pub mounts: Vec<Mount>,
    pub network: NetworkMode,
    pub security: Security,
    /// `--device=` values as written.
    pub devices: Vec<String>,
    /// The flags that were given, sorted.
    pub flags_used: Vec<String>,
}

/// A COPY/ADD source written as a heredoc.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InlineSource {
    /// The heredoc's word: the file name it is written as.
    pub name: String,
    /// The body (tabs already stripped for `<<-`).
    pub data: String,
    /// Expand variables in the body (no part of the word was quoted).
    pub expand: bool,
}

/// What COPY and ADD share.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sources {
    /// Paths, URLs or globs as written.
    pub paths: Vec<String>,
    pub inline: Vec<InlineSource>,
    pub dest: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Copy {
    pub sources: Sources,
    /// `--from=` a stage name, stage index or image (never expanded).
    pub from: Option<String>,
    pub chown: Option<String>,
    pub chmod: Option<String>,
    pub link: bool,
    pub parents: bool,
    pub excludes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Add {
    pub sources: Sources,
    pub chown: Option<String>,
    pub chmod: Option<String>,
    pub link: bool,
    pub keep_git_dir: Option<bool>,
    pub checksum: Option<String>,
    pub unpack: Option<bool>,
    pub excludes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Healthcheck {
    /// `HEALTHCHECK NONE`: disable the base image's check.
    None,
    Check {
        /// `["CMD", …]` (exec form) or `["CMD-SHELL", "…"]`.
        test: Vec<String>,
        /// Zero when not given.
        interval: Duration,
        timeout: Duration,
        start_period: Duration,
        start_interval: Duration,
        retries: u32,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Onbuild {
    /// The trigger as stored in the image (`ONBUILD ` removed, heredoc bodies appended).
    pub expression: String,
    /// The trigger, parsed.
    pub trigger: Box<Instruction>,
}

/// `FROM`, the start of a stage.
pub(super) struct From {
    pub base: String,
    pub name: Option<String>,
    pub platform: Option<String>,
}

/// A typed node: a stage start or an instruction.
pub(super) enum Typed {
    From(From),
    Instruction(Instruction),
}

pub(super) const ALL_INSTRUCTIONS: &[&str] = &[
    "ADD",
    "ARG",
    "CMD",
    "COPY",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "FROM",
    "HEALTHCHECK",
    "LABEL",
    "MAINTAINER",
    "ONBUILD",
    "RUN",
    "SHELL",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
];

fn at_least_one(cmd: &str) -> String {
    format!("{cmd} requires at least one argument")
}

fn exactly_one(cmd: &str) -> String {
    format!("{cmd} requires exactly one argument")
}

/// Type one node (BuildKit's `ParseInstruction`).
pub(super) fn type_node(node: &Node) -> Result<Typed, String> {
    let args = &node.args.args;
    let no_flags = || Flags::parse(&node.flags, &[]);
    let kind = match node.cmd.to_ascii_lowercase().as_str() {
        "from" => return parse_from(node).map(Typed::From),
        "env" => {
            no_flags()?;
            InstructionKind::Env(key_values(args, "ENV")?)
        }
        "label" => {
            no_flags()?;
            InstructionKind::Label(key_values(args, "LABEL")?)
        }
        "maintainer" => InstructionKind::Maintainer(one_arg(node, "MAINTAINER", true)?),
        "workdir" => InstructionKind::Workdir(one_arg(node, "WORKDIR", true)?),
        "user" => InstructionKind::User(one_arg(node, "USER", true)?),
        // BuildKit does not check STOPSIGNAL's flags.
        "stopsignal" => InstructionKind::StopSignal(one_arg(node, "STOPSIGNAL", false)?),
        "add" => InstructionKind::Add(parse_add(node)?),
        "copy" => InstructionKind::Copy(parse_copy(node)?),
        "onbuild" => InstructionKind::Onbuild(parse_onbuild(node)?),
        "run" => InstructionKind::Run(parse_run(node)?),
        "cmd" => {
            no_flags()?;
            InstructionKind::Cmd(command_line(node))
        }
        "entrypoint" => {
            no_flags()?;
            InstructionKind::Entrypoint(command_line(node))
        }
        "healthcheck" => InstructionKind::Healthcheck(parse_healthcheck(node)?),
        "expose" => {
            let mut ports = list_args(node, "EXPOSE")?;
            ports.sort();
            InstructionKind::Expose(ports)
        }
        "volume" => {
            let mut vols = Vec::new();
            for v in list_args(node, "VOLUME")? {
                let v = v.trim();
                if v.is_empty() {
                    return Err("VOLUME specified can not be an empty string".to_string());
                }
                vols.push(v.to_string());
            }
            InstructionKind::Volume(vols)
        }
        "arg" => InstructionKind::Arg(parse_arg(args)?),
        "shell" => InstructionKind::Shell(parse_shell(node)?),
        _ => {
            return Err(suggest(
                format!("unknown instruction: {}", node.cmd),
                &node.cmd,
                ALL_INSTRUCTIONS,
                false,
            ));
        }
    };
    Ok(Typed::Instruction(Instruction {
        line: node.start_line,
        end_line: node.end_line,
        original: node.original.clone(),
        kind,
    }))
}

/// An instruction that takes exactly one argument (and, if `flags`, no flag).
fn one_arg(node: &Node, name: &str, flags: bool) -> Result<String, String> {
    let args = &node.args.args;
    if args.len() != 1 {
        return Err(exactly_one(name));
    }
    if flags {
        Flags::parse(&node.flags, &[])?;
    }
    Ok(args[0].clone())
}

/// An instruction that takes one or more arguments and no flag.
fn list_args(node: &Node, name: &str) -> Result<Vec<String>, String> {
    if node.args.args.is_empty() {
        return Err(at_least_one(name));
    }
    Flags::parse(&node.flags, &[])?;
    Ok(node.args.args.clone())
}

fn parse_shell(node: &Node) -> Result<Vec<String>, String> {
    Flags::parse(&node.flags, &[])?;
    if node.args.args.is_empty() {
        return Err(at_least_one("SHELL"));
    }
    if !node.args.json {
        return Err("SHELL requires the arguments to be in JSON form".to_string());
    }
    Ok(node.args.args.clone())
}

fn parse_from(node: &Node) -> Result<From, String> {
    let args = &node.args.args;
    let name = match args.len() {
        3 if args[1].eq_ignore_ascii_case("as") => {
            let name = args[2].to_lowercase();
            if !valid_stage_name(&name) {
                return Err(format!(
                    "invalid name for build stage: {:?}, name can't start with a number or contain symbols",
                    args[2]
                ));
            }
            Some(name)
        }
        1 => None,
        _ => return Err("FROM requires either one or three arguments".to_string()),
    };
    let flags = Flags::parse(&node.flags, &[("platform", FlagKind::Str)])?;
    Ok(From {
        base: args[0].clone(),
        name,
        platform: flags.str("platform"),
    })
}

/// `^[a-z][a-z0-9-_.]*$`
fn valid_stage_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'))
}

/// (key, value, separator) triples from the line parser into pairs.
fn key_values(args: &[String], cmd: &str) -> Result<Vec<KeyValue>, String> {
    if args.is_empty() {
        return Err(at_least_one(cmd));
    }
    if args.len() % 3 != 0 {
        return Err(format!("Bad input to {cmd}, too many arguments"));
    }
    let mut out = Vec::new();
    for t in args.chunks(3) {
        if t[0].is_empty() {
            return Err(format!("{cmd} names can not be blank"));
        }
        out.push(KeyValue {
            key: t[0].clone(),
            value: t[1].clone(),
            legacy: t[2].is_empty(),
        });
    }
    Ok(out)
}

fn parse_arg(args: &[String]) -> Result<Vec<ArgDecl>, String> {
    if args.is_empty() {
        return Err(at_least_one("ARG"));
    }
    let mut out = Vec::new();
    for a in args {
        out.push(match a.split_once('=') {
            Some(("", _)) => return Err("ARG names can not be blank".to_string()),
            Some((k, v)) => ArgDecl {
                key: k.to_string(),
                default: Some(v.to_string()),
            },
            None => ArgDecl {
                key: a.clone(),
                default: None,
            },
        });
    }
    Ok(out)
}

/// Shell-dependent command lines (RUN, CMD, ENTRYPOINT): `handleJSONArgs`.
fn command_line(node: &Node) -> CommandLine {
    let args = &node.args.args;
    let out = if node.args.json || args.is_empty() {
        args.clone()
    } else {
        vec![args.join(" ")]
    };
    CommandLine {
        args: out,
        prepend_shell: !node.args.json,
        heredocs: node.heredocs.clone(),
    }
}
