//! Shell completion as Podman's (cobra's): the hidden `__complete` / `__completeNoDesc`
//! commands answer one completion request, and `completion bash|zsh|fish|powershell`
//! prints a script for the shell that asks them.
//!
//! The protocol is cobra's: `PROG __complete WORDS… PARTIAL` prints one candidate a line
//! (`NAME\tDESCRIPTION` unless NoDesc), then `:N` with the directive's bits, and on stderr
//! `Completion ended with directive: …`.

use clap::{Arg, Command};

use crate::cobra;

#[cfg(test)]
#[path = "completion_tests.rs"]
mod tests;

/// cobra's `ShellCompDirective` bits.
pub const ERROR: u32 = 1;
pub const NO_SPACE: u32 = 2;
pub const NO_FILE_COMP: u32 = 4;

/// The hidden commands the scripts call.
pub fn is_request(args: &[String]) -> bool {
    matches!(
        args.get(1).map(String::as_str),
        Some("__complete" | "__completeNoDesc")
    )
}

/// What a completion request answers: candidates (with descriptions) and the directive.
#[derive(Debug, Default, PartialEq)]
pub struct Answer {
    pub candidates: Vec<(String, String)>,
    pub directive: u32,
}

/// The objects a positional argument names, from its name in the usage line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    Container,
    Pod,
    Image,
    Volume,
    Network,
    /// Paths, commands, contexts: the shell's own file completion.
    Files,
    Nothing,
}

pub fn kind_of(usage_name: &str) -> Kind {
    let n = usage_name.to_uppercase();
    let has = |w: &str| n.contains(w);
    if has("CONTAINER") {
        Kind::Container
    } else if has("POD") {
        Kind::Pod
    } else if has("IMAGE") {
        Kind::Image
    } else if has("VOLUME") {
        Kind::Volume
    } else if has("NETWORK") {
        Kind::Network
    } else if [
        "PATH", "CONTEXT", "FILE", "COMMAND", "ARG", "URI", "DIR", "SRC", "DEST",
    ]
    .iter()
    .any(|w| has(w))
    {
        Kind::Files
    } else {
        Kind::Nothing
    }
}

/// A tree whose paths are completed: an image's (`create`/`run IMAGE …`) or a
/// container's (`cp CONTAINER:…`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Tree<'a> {
    Image(&'a str),
    Container(&'a str),
}

/// The names the store holds, to complete from.
pub trait Objects {
    fn names(&self, kind: Kind, partial: &str) -> Vec<String>;
    /// Completion of `partial` as a path in `tree`, mounted for the request; `None` when
    /// it cannot be mounted.
    fn paths(&self, _tree: Tree<'_>, _partial: &str) -> Option<Answer> {
        None
    }
}

/// Answers `__complete` for the words typed so far (`prior`) and the word being typed.
pub fn answer(
    root: &Command,
    argv0: &str,
    prior: &[String],
    partial: &str,
    objects: &dyn Objects,
) -> Answer {
    let mut cmdline = vec![argv0.to_string()];
    cmdline.extend(prior.iter().cloned());
    let (path, after) = cobra::command_path(root, &cmdline);
    let leaf = path[path.len() - 1];
    if partial.starts_with('-') {
        return flags(leaf, partial);
    }
    // The value of a flag that takes one: the shell's files (cobra's default).
    if let Some(last) = prior.last()
        && last.starts_with('-')
        && !last.contains('=')
        && flag_takes_value(&path, last)
    {
        return Answer::default();
    }
    if leaf.has_subcommands() && after >= cmdline.len() {
        let mut subs: Vec<(String, String)> = leaf
            .get_subcommands()
            .filter(|s| !s.is_hide_set())
            .map(|s| (s.get_name().to_string(), about(s)))
            .collect();
        if path.len() == 1 {
            subs.push(("help".into(), "Help about any command".into()));
        }
        subs.retain(|(n, _)| n.starts_with(partial));
        subs.sort();
        return Answer {
            candidates: subs,
            directive: NO_FILE_COMP,
        };
    }
    let pos = cobra::positionals(leaf);
    let given = cobra::positional_count(&path, &cmdline, after);
    match leaf.get_name() {
        // After the image: paths in the image (Podman mounts it to complete them).
        "create" | "run" if given >= 1 => {
            let image = cobra::positional_values(&path, &cmdline, after)
                .into_iter()
                .next()
                .unwrap_or_default();
            return objects
                .paths(Tree::Image(&image), partial)
                .unwrap_or_default();
        }
        "cp" if given < 2 => return cp_answer(partial, objects),
        _ => {}
    }
    let arg = pos
        .get(given)
        .or_else(|| pos.last().filter(|a| cobra::is_multiple(a)));
    let Some(arg) = arg else {
        return Answer {
            candidates: vec![],
            directive: NO_FILE_COMP,
        };
    };
    let name = cobra::display_name(arg, &path);
    let name = if arg.is_trailing_var_arg_set() && pos.len() >= 2 {
        "COMMAND".to_string()
    } else {
        name
    };
    match kind_of(&name) {
        Kind::Files => Answer::default(),
        Kind::Nothing => Answer {
            candidates: vec![],
            directive: NO_FILE_COMP,
        },
        k => Answer {
            candidates: objects
                .names(k, partial)
                .into_iter()
                .filter(|n| n.starts_with(partial))
                .map(|n| (n, String::new()))
                .collect(),
            directive: NO_FILE_COMP,
        },
    }
}

/// `cp`'s source and destination: `CONTAINER:PATH` completes paths in the container;
/// otherwise the containers the word starts (each with `:`, no space), else the host's
/// files.
fn cp_answer(partial: &str, objects: &dyn Objects) -> Answer {
    if let Some((ctr, rest)) = partial.split_once(':') {
        let mut a = objects
            .paths(Tree::Container(ctr), rest)
            .unwrap_or_default();
        for c in &mut a.candidates {
            c.0 = format!("{ctr}:{}", c.0);
        }
        return a;
    }
    let containers: Vec<(String, String)> = objects
        .names(Kind::Container, partial)
        .into_iter()
        .filter(|n| n.starts_with(partial))
        .map(|n| (format!("{n}:"), String::new()))
        .collect();
    if containers.is_empty() {
        return Answer::default();
    }
    Answer {
        candidates: containers,
        directive: NO_SPACE,
    }
}

fn about(c: &Command) -> String {
    c.get_about().map(|s| s.to_string()).unwrap_or_default()
}

fn flag_takes_value(path: &[&Command], token: &str) -> bool {
    let flags: Vec<&Arg> = path.iter().flat_map(|c| c.get_arguments()).collect();
    cobra::takes_separate_value(&flags, token)
}

/// Every flag of the command (its own and the global ones) that starts as typed.
fn flags(cmd: &Command, partial: &str) -> Answer {
    let mut out = Vec::new();
    for a in cmd
        .get_arguments()
        .filter(|a| !a.is_positional() && !a.is_hide_set())
    {
        let help = a.get_help().map(|s| s.to_string()).unwrap_or_default();
        if let Some(l) = a.get_long() {
            out.push((format!("--{l}"), help.clone()));
        }
        if partial == "-"
            && let Some(s) = a.get_short()
        {
            out.push((format!("-{s}"), help));
        }
    }
    out.retain(|(n, _)| n.starts_with(partial));
    out.sort();
    out.dedup_by(|a, b| a.0 == b.0);
    Answer {
        candidates: out,
        directive: NO_FILE_COMP,
    }
}

/// cobra's names for a directive's bits (`ShellCompDirectiveDefault` when none).
pub fn directive_names(d: u32) -> String {
    let names = [
        (ERROR, "ShellCompDirectiveError"),
        (NO_SPACE, "ShellCompDirectiveNoSpace"),
        (NO_FILE_COMP, "ShellCompDirectiveNoFileComp"),
        (8, "ShellCompDirectiveFilterFileExt"),
        (16, "ShellCompDirectiveFilterDirs"),
    ];
    let set: Vec<&str> = names
        .iter()
        .filter(|(bit, _)| d & bit != 0)
        .map(|(_, n)| *n)
        .collect();
    if set.is_empty() {
        "ShellCompDirectiveDefault".into()
    } else {
        set.join(", ")
    }
}

/// The answer as the scripts read it: stdout's lines and stderr's one line.
pub fn render(a: &Answer, descriptions: bool) -> (String, String) {
    let mut out = String::new();
    for (n, d) in &a.candidates {
        let line = if descriptions && !d.is_empty() {
            format!("{n}\t{}", d.lines().next().unwrap_or(""))
        } else {
            n.clone()
        };
        out.push_str(line.trim());
        out.push('\n');
    }
    out.push_str(&format!(":{}\n", a.directive));
    let err = format!(
        "Completion ended with directive: {}\n",
        directive_names(a.directive)
    );
    (out, err)
}

/// The global flags typed before the first command word, for opening the same store.
pub fn global_prefix(root: &Command, words: &[String]) -> Vec<String> {
    let flags: Vec<&Arg> = root.get_arguments().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < words.len() && words[i].starts_with('-') && words[i] != "--" {
        out.push(words[i].clone());
        if cobra::takes_separate_value(&flags, &words[i]) && i + 1 < words.len() {
            out.push(words[i + 1].clone());
            i += 1;
        }
        i += 1;
    }
    out
}

/// `completion [options] {bash|zsh|fish|powershell}`.
#[derive(Debug, clap::Args)]
pub struct CompletionArgs {
    /// Output the completion to file rather than stdout.
    #[arg(short = 'f', long)]
    pub file: Option<std::path::PathBuf>,
    /// Don't include descriptions in the completion output.
    #[arg(long = "no-desc")]
    pub no_desc: bool,
    #[arg(value_name = "SHELL")]
    pub shell: String,
}

/// `completion SHELL`: the script, on stdout or in `--file`.
pub fn script_command(a: CompletionArgs, argv: &[String]) -> crate::CliResult {
    let name = cobra::program_name(argv);
    let Some(script) = crate::completion_scripts::script(&a.shell, &name, !a.no_desc) else {
        return Err(crate::CliError::engine(format!(
            "invalid argument \"{}\" for \"{name} completion\"",
            a.shell
        )));
    };
    match a.file {
        Some(f) => std::fs::write(&f, script)
            .map_err(|e| crate::CliError::engine(format!("writing {}: {e}", f.display())))?,
        None => {
            use std::io::Write;
            std::io::stdout().write_all(script.as_bytes())?;
        }
    }
    Ok(0)
}

/// The store the typed global flags name, opened only when a completion lists its objects
/// (completing a command or a flag opens nothing, and so makes no store); nothing when it
/// cannot be opened.
struct Store {
    global_line: Vec<String>,
    engine: std::cell::OnceCell<Option<peapod_engine::Engine>>,
}

impl Store {
    fn engine(&self) -> Option<&peapod_engine::Engine> {
        self.engine
            .get_or_init(|| {
                let cli =
                    <crate::cli::Cli as clap::Parser>::try_parse_from(&self.global_line).ok()?;
                peapod_engine::rootless::enter(std::env::current_exe().ok().as_deref()).ok()?;
                crate::commands::open(&cli.global).ok()
            })
            .as_ref()
    }
}

impl Objects for Store {
    fn names(&self, kind: Kind, partial: &str) -> Vec<String> {
        if matches!(kind, Kind::Files | Kind::Nothing) {
            return vec![];
        }
        let Some(e) = self.engine() else {
            return vec![];
        };
        // Ids are offered once something is typed, as Podman's.
        let with_ids = !partial.is_empty();
        let short = |id: &str| id.chars().take(12).collect::<String>();
        let mut out = Vec::new();
        match kind {
            Kind::Container => {
                for c in e.containers().unwrap_or_default() {
                    out.push(c.name().to_string());
                    if with_ids {
                        out.push(short(c.id()));
                    }
                }
            }
            Kind::Pod => {
                for p in e.pods().unwrap_or_default() {
                    out.push(p.name().to_string());
                    if with_ids {
                        out.push(short(p.id()));
                    }
                }
            }
            Kind::Image => {
                for i in e.images().unwrap_or_default() {
                    for n in &i.names {
                        out.push(n.clone());
                        if !partial.is_empty()
                            && let Some((_, rest)) = n.split_once('/')
                        {
                            // `localhost/foo:tag` is also typed `foo:tag`.
                            out.push(rest.to_string());
                            if let Some((_, last)) = rest.rsplit_once('/') {
                                out.push(last.to_string());
                            }
                        }
                    }
                    if partial.len() >= 2 {
                        out.push(short(&i.id));
                    }
                }
            }
            Kind::Volume => out.extend(e.volumes().unwrap_or_default().into_iter().map(|v| v.name)),
            Kind::Network => {
                out.extend(e.networks().unwrap_or_default().into_iter().map(|n| n.name))
            }
            Kind::Files | Kind::Nothing => {}
        }
        out.sort();
        out.dedup();
        out
    }

    fn paths(&self, tree: Tree<'_>, partial: &str) -> Option<Answer> {
        let e = self.engine()?;
        match tree {
            Tree::Image(image) => {
                let m = e.mount_image(image).ok()?;
                let a = crate::completion_paths::path_answer(&m.path, partial);
                let _ = e.unmount_image(image, false);
                Some(a)
            }
            Tree::Container(ctr) => {
                let root = e.mount_container(ctr).ok()?;
                let a = crate::completion_paths::path_answer(&root, partial);
                let _ = e.unmount_container(ctr, false);
                Some(a)
            }
        }
    }
}

/// `__complete WORDS… PARTIAL`: prints the answer; exit 0 as cobra's.
pub fn request(root: &Command, args: &[String]) -> i32 {
    let descriptions = args[1] == "__complete";
    let words = &args[2..];
    let (prior, partial) = match words.split_last() {
        Some((last, prior)) => (prior, last.as_str()),
        None => (&[][..], ""),
    };
    let mut global_line = vec![args[0].clone()];
    global_line.extend(global_prefix(root, prior));
    global_line.push("version".into());
    let store = Store {
        global_line,
        engine: std::cell::OnceCell::new(),
    };
    let a = answer(root, &args[0], prior, partial, &store);
    let (out, err) = render(&a, descriptions);
    use std::io::Write;
    let _ = std::io::stdout().write_all(out.as_bytes());
    let _ = std::io::stderr().write_all(err.as_bytes());
    0
}
