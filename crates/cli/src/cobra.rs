//! Help and usage errors as Podman's cobra prints them.
//!
//! The command tree is clap's; what a user reads is cobra's: `help`, `--help` and `-h`
//! print `Usage:`, `Aliases:`, `Available Commands:` and `Options:` in Podman's template,
//! a group without its command prints its help and `Error: missing command 'podman X
//! COMMAND'`, and a bad command, flag or argument count is refused with cobra's message and
//! exit code 125. The name shown is the program's (`filepath.Base(os.Args[0])`, as Podman).

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Arg, ArgAction, Command};

#[cfg(test)]
#[path = "cobra_tests.rs"]
mod tests;

/// The program's name as cobra's root command shows it: the base name of argv[0].
pub fn program_name(args: &[String]) -> String {
    args.first()
        .map(|a| a.rsplit('/').next().unwrap_or(a).to_string())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "podman".into())
}

/// What to print and the exit code, for a command line clap refused or one that asks for
/// help.
#[derive(Debug, PartialEq)]
pub struct Outcome {
    pub stdout: String,
    pub stderr: String,
    pub code: i32,
}

/// The commands a command line names, from the root: `container rm x` → [root, container,
/// rm]; the index of the first word that is neither a flag (or its value) nor one of them.
pub fn command_path<'a>(root: &'a Command, args: &[String]) -> (Vec<&'a Command>, usize) {
    let mut path = vec![root];
    let mut flags: Vec<&Arg> = root.get_arguments().collect();
    let mut i = 1;
    while i < args.len() {
        let a = &args[i];
        if a == "--" {
            break;
        }
        if a.starts_with('-') && a.len() > 1 {
            if takes_separate_value(&flags, a) {
                i += 1;
            }
            i += 1;
            continue;
        }
        let current = path[path.len() - 1];
        match current.find_subcommand(a) {
            Some(sub) if current.has_subcommands() => {
                flags.extend(sub.get_arguments());
                path.push(sub);
                i += 1;
            }
            _ => break,
        }
    }
    (path, i)
}

/// Whether a flag token (`--root`, `-h`, `--root=x`) is followed by its value as the next
/// argument.
pub(crate) fn takes_separate_value(flags: &[&Arg], token: &str) -> bool {
    if let Some(long) = token.strip_prefix("--") {
        if long.contains('=') {
            return false;
        }
        return flags
            .iter()
            .find(|f| {
                f.get_long() == Some(long)
                    || f.get_all_aliases().is_some_and(|al| al.contains(&long))
            })
            .is_some_and(|f| takes_value(f));
    }
    // A cluster of short flags: the last one may take the next argument.
    let shorts: Vec<char> = token[1..].chars().collect();
    for (n, c) in shorts.iter().enumerate() {
        if let Some(f) = flags.iter().find(|f| f.get_short() == Some(*c))
            && takes_value(f)
        {
            return n == shorts.len() - 1;
        }
    }
    false
}

fn takes_value(a: &Arg) -> bool {
    a.get_action().takes_values()
}

fn is_help_or_version(a: &Arg) -> bool {
    matches!(a.get_id().as_str(), "help" | "version")
        || matches!(
            a.get_action(),
            ArgAction::Help | ArgAction::HelpLong | ArgAction::HelpShort | ArgAction::Version
        )
}

/// The flags a command's `Options:` lists: its own visible ones, not the global ones it
/// inherits, not `--help`.
fn local_flags(cmd: &Command, is_root: bool) -> Vec<&Arg> {
    let mut v: Vec<&Arg> = cmd
        .get_arguments()
        .filter(|a| !a.is_positional() && !a.is_hide_set() && !is_help_or_version(a))
        .filter(|a| is_root || !a.is_global_set())
        .collect();
    v.sort_by_key(|a| flag_name(a));
    v
}

fn flag_name(a: &Arg) -> String {
    a.get_long()
        .map(str::to_string)
        .or_else(|| a.get_short().map(String::from))
        .unwrap_or_else(|| a.get_id().to_string())
}

pub(crate) fn positionals(cmd: &Command) -> Vec<&Arg> {
    let mut v: Vec<&Arg> = cmd
        .get_arguments()
        .filter(|a| a.is_positional() && !a.is_hide_set())
        .collect();
    v.sort_by_key(|a| a.get_index().unwrap_or(usize::MAX));
    v
}

pub(crate) fn is_multiple(a: &Arg) -> bool {
    matches!(a.get_action(), ArgAction::Append)
        || a.get_num_args().is_some_and(|r| r.max_values() > 1)
}

/// How many arguments a command accepts at most (None: any number).
fn max_args(cmd: &Command) -> Option<usize> {
    let p = positionals(cmd);
    if p.iter().any(|a| is_multiple(a)) {
        return None;
    }
    Some(p.len())
}

/// A positional's name in the usage line: `CONTAINER`, `IMAGE`, …; a generic `NAME`
/// under a group is what the group manages (`volume rm VOLUME`).
pub(crate) fn display_name(a: &Arg, path: &[&Command]) -> String {
    let name = a
        .get_value_names()
        .and_then(|v| v.first())
        .map(|s| s.to_string())
        .unwrap_or_else(|| a.get_id().to_string())
        .to_uppercase()
        .replace('-', "_");
    let name = singular(&name);
    if name == "NAME" {
        let group = path.get(1).map(|c| c.get_name());
        let object = match group {
            Some("volume") => Some("VOLUME"),
            Some("network") => Some("NETWORK"),
            Some("pod") => Some("POD"),
            Some("container") => Some("CONTAINER"),
            Some("image") => Some("IMAGE"),
            _ => None,
        };
        if path.len() == 3
            && let Some(o) = object
        {
            return o.to_string();
        }
    }
    name
}

/// `CONTAINER [CONTAINER...]`, `[IMAGE]`, …: a positional as cobra's `Use` spells it.
fn positional_usage(a: &Arg, path: &[&Command]) -> String {
    let name = display_name(a, path);
    match (a.is_required_set(), is_multiple(a)) {
        (true, true) => format!("{name} [{name}...]"),
        (true, false) => name,
        (false, true) => format!("[{name}...]"),
        (false, false) => format!("[{name}]"),
    }
}

/// `CONTAINERS` → `CONTAINER`: a field named for the list it holds names one item.
fn singular(name: &str) -> String {
    match name {
        "ARGS" => "ARG".into(),
        n if n.ends_with("SES") => n[..n.len() - 2].to_string(),
        n if n.ends_with('S') && n.len() > 3 && !n.ends_with("SS") => n[..n.len() - 1].to_string(),
        n => n.to_string(),
    }
}

/// Commands whose arguments are alternatives, spelled as Podman's `Use` spells them.
const USE_ARGS: &[(&[&str], &str)] = &[
    (&["kube", "generate"], "{CONTAINER...|POD...|VOLUME...}"),
    (&["generate", "kube"], "{CONTAINER...|POD...|VOLUME...}"),
];

/// The words after `Usage:`, e.g. `podman rm [options] CONTAINER [CONTAINER...]`.
pub fn usage_line(name: &str, path: &[&Command]) -> String {
    let mut words = vec![name.to_string()];
    words.extend(path.iter().skip(1).map(|c| c.get_name().to_string()));
    let cmd = path[path.len() - 1];
    let is_root = path.len() == 1;
    if is_root {
        words.push("[options]".into());
    }
    if cmd.has_subcommands() {
        words.push("[command]".into());
        return words.join(" ");
    }
    if !local_flags(cmd, is_root).is_empty() {
        words.push("[options]".into());
    }
    let names: Vec<&str> = path.iter().skip(1).map(|c| c.get_name()).collect();
    if let Some(args) = USE_ARGS
        .iter()
        .find(|(p, _)| *p == names.as_slice())
        .map(|(_, a)| a)
    {
        words.push(args.to_string());
        return words.join(" ");
    }
    let pos = positionals(cmd);
    let trailing = pos.len() >= 2 && pos[pos.len() - 1].is_trailing_var_arg_set();
    for (n, a) in pos.iter().enumerate() {
        if trailing && n == pos.len() - 1 {
            // `run IMAGE [COMMAND [ARG...]]`
            words.push("[COMMAND [ARG...]]".into());
        } else {
            words.push(positional_usage(a, path));
        }
    }
    words.join(" ")
}

fn about(cmd: &Command, root: &Command) -> String {
    cmd.get_about()
        .map(|s| s.to_string())
        .or_else(|| {
            // A command shared under a group (`container rm`) is described at the top level.
            root.find_subcommand(cmd.get_name())
                .and_then(|c| c.get_about())
                .map(|s| s.to_string())
        })
        .unwrap_or_default()
}

/// A command's help, in Podman's help and usage templates.
pub fn help(name: &str, path: &[&Command]) -> String {
    let root = path[0];
    let cmd = path[path.len() - 1];
    let is_root = path.len() == 1;
    let short = about(cmd, root);
    let mut out = String::new();
    if is_root {
        out.push_str(&format!("{short}\n\n"));
    } else {
        let long = cmd
            .get_long_about()
            .map(|s| s.to_string())
            .unwrap_or_else(|| short.clone());
        out.push_str(&format!("{short}\n\nDescription:\n  {long}\n\n"));
    }
    out.push_str(&format!("Usage:\n  {}", usage_line(name, path)));
    let aliases: Vec<&str> = cmd.get_all_aliases().collect();
    if !aliases.is_empty() {
        let mut all = vec![cmd.get_name()];
        all.extend(aliases);
        out.push_str(&format!("\n\nAliases:\n  {}", all.join(", ")));
    }
    if cmd.has_subcommands() {
        out.push_str("\n\nAvailable Commands:");
        let mut subs: Vec<(String, String)> = cmd
            .get_subcommands()
            .filter(|s| !s.is_hide_set())
            .map(|s| (s.get_name().to_string(), about(s, root)))
            .collect();
        if is_root {
            subs.push(("help".into(), "Help about any command".into()));
        }
        subs.sort();
        subs.dedup_by(|a, b| a.0 == b.0);
        let pad = subs.iter().map(|s| s.0.len()).max().unwrap_or(0).max(11);
        for (n, s) in subs {
            out.push_str(&format!("\n  {n:<pad$} {s}"));
        }
    }
    let flags = local_flags(cmd, is_root);
    if !flags.is_empty() {
        out.push_str("\n\nOptions:\n");
        out.push_str(&flag_usages(&flags));
    }
    out.push('\n');
    out
}

/// pflag's `FlagUsages`: `  -a, --all   usage (default x)`, aligned.
fn flag_usages(flags: &[&Arg]) -> String {
    let lines: Vec<(String, String)> = flags.iter().map(|a| flag_line(a)).collect();
    let width = lines.iter().map(|l| l.0.len()).max().unwrap_or(0);
    let mut out = String::new();
    for (left, usage) in lines {
        let line = format!("{left:<width$}   {usage}");
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out.pop();
    out
}

fn flag_line(a: &Arg) -> (String, String) {
    let mut left = match (a.get_short(), a.get_long()) {
        (Some(s), Some(l)) => format!("  -{s}, --{l}"),
        (None, Some(l)) => format!("      --{l}"),
        (Some(s), None) => format!("  -{s}"),
        (None, None) => format!("      --{}", a.get_id()),
    };
    if takes_value(a) {
        let ty = if matches!(a.get_action(), ArgAction::Append) {
            "stringArray"
        } else {
            "string"
        };
        left.push(' ');
        left.push_str(ty);
    }
    let mut usage = a
        .get_help()
        .map(|s| s.to_string())
        .unwrap_or_default()
        .replace('\n', " ");
    let defaults: Vec<String> = a
        .get_default_values()
        .iter()
        .map(|v| v.to_string_lossy().into_owned())
        .filter(|v| !v.is_empty() && v != "false")
        .collect();
    if !defaults.is_empty() && takes_value(a) && !usage.contains("(default") {
        if matches!(a.get_action(), ArgAction::Append) {
            usage.push_str(&format!(" (default [{}])", defaults.join(",")));
        } else {
            usage.push_str(&format!(" (default {})", defaults.join(",")));
        }
    }
    (left, usage)
}

/// `help [COMMAND...]` and `COMMAND --help`: the help of the command named, or None when
/// the command line does not ask for help through the `help` command.
pub fn help_command(root: &Command, args: &[String]) -> Option<Outcome> {
    let (path, i) = command_path(root, args);
    if path.len() != 1 || args.get(i).map(String::as_str) != Some("help") {
        return None;
    }
    let name = program_name(args);
    let rest: Vec<&String> = args[i + 1..].iter().collect();
    if rest.iter().any(|a| *a == "--help" || *a == "-h") {
        let text = format!(
            "Help about any command\n\nDescription:\n  Help provides help for any command in the application.\nSimply type {name} help [path to command] for full details.\n\nUsage:\n  {name} help [command]\n"
        );
        return Some(Outcome {
            stdout: text,
            stderr: String::new(),
            code: 0,
        });
    }
    let mut cmdline = vec![args[0].clone()];
    cmdline.extend(
        rest.iter()
            .filter(|a| !a.starts_with('-'))
            .map(|a| a.to_string()),
    );
    let (sub, j) = command_path(root, &cmdline);
    if j < cmdline.len() {
        let mut topic: Vec<String> = cmdline[1..].to_vec();
        topic.retain(|t| !t.is_empty());
        return Some(Outcome {
            stdout: format!("Unknown help topic {topic:?}\n{}", help(&name, &[root])),
            stderr: String::new(),
            code: 0,
        });
    }
    Some(Outcome {
        stdout: help(&name, &sub),
        stderr: String::new(),
        code: 0,
    })
}

fn command_string(name: &str, path: &[&Command]) -> String {
    let mut words = vec![name.to_string()];
    words.extend(path.iter().skip(1).map(|c| c.get_name().to_string()));
    words.join(" ")
}

fn context_str(e: &clap::Error, kind: ContextKind) -> Option<String> {
    match e.get(kind)? {
        ContextValue::String(s) => Some(s.clone()),
        ContextValue::Strings(v) => Some(v.join(", ")),
        other => Some(other.to_string()),
    }
}

/// How many arguments after the command path are not flags or flag values.
pub(crate) fn positional_count(path: &[&Command], args: &[String], from: usize) -> usize {
    positional_values(path, args, from).len()
}

/// The arguments after the command path that are not flags or flag values, in order.
pub(crate) fn positional_values(path: &[&Command], args: &[String], from: usize) -> Vec<String> {
    let flags: Vec<&Arg> = path.iter().flat_map(|c| c.get_arguments()).collect();
    let mut out = Vec::new();
    let mut i = from;
    while i < args.len() {
        let a = &args[i];
        if a == "--" {
            out.extend(args[i + 1..].iter().cloned());
            break;
        }
        if a.starts_with('-') && a.len() > 1 {
            if takes_separate_value(&flags, a) {
                i += 1;
            }
        } else {
            out.push(a.clone());
        }
        i += 1;
    }
    out
}

/// cobra's messages for a command line clap refused; None for errors it words itself.
pub fn clap_error(root: &Command, args: &[String], e: &clap::Error) -> Option<Outcome> {
    let name = program_name(args);
    let (path, after) = command_path(root, args);
    let cmd = path[path.len() - 1];
    let cs = command_string(&name, &path);
    let see = format!("\nSee '{cs} --help'");
    let fail = |msg: String| {
        Some(Outcome {
            stdout: String::new(),
            stderr: format!("Error: {msg}\n"),
            code: crate::ENGINE,
        })
    };
    match e.kind() {
        ErrorKind::DisplayHelp => Some(Outcome {
            stdout: help(&name, &path),
            stderr: String::new(),
            code: 0,
        }),
        ErrorKind::MissingSubcommand | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            Some(Outcome {
                stdout: help(&name, &path),
                stderr: format!("Error: missing command '{cs} COMMAND'\n"),
                code: crate::ENGINE,
            })
        }
        ErrorKind::InvalidSubcommand => {
            // cobra parses the flags first: an unknown one is what it reports.
            let flags: Vec<&Arg> = path.iter().flat_map(|c| c.get_arguments()).collect();
            if let Some(bad) = args[after..]
                .iter()
                .take_while(|a| *a != "--")
                .find(|a| a.starts_with('-') && a.len() > 1 && !is_known_flag(&flags, a))
            {
                return fail(format!("{}{see}", unknown_flag(bad)));
            }
            let sub = context_str(e, ContextKind::InvalidSubcommand).unwrap_or_default();
            fail(format!(
                "unrecognized command `{cs} {sub}`\nTry '{cs} --help' for more information"
            ))
        }
        ErrorKind::UnknownArgument => {
            let bad = context_str(e, ContextKind::InvalidArg).unwrap_or_default();
            if bad.starts_with('-') && bad.len() > 1 {
                return fail(format!("{}{see}", unknown_flag(&bad)));
            }
            let got = positional_count(&path, args, after);
            match max_args(cmd) {
                Some(0) => fail(format!("{cs} takes no arguments")),
                Some(n) => fail(format!("accepts at most {n} arg(s), received {got}")),
                None => None,
            }
        }
        ErrorKind::InvalidValue | ErrorKind::NoEquals => {
            let arg = context_str(e, ContextKind::InvalidArg).unwrap_or_default();
            let given = context_str(e, ContextKind::InvalidValue).unwrap_or_default();
            if !given.is_empty() {
                return None;
            }
            needs_argument(cmd, args, &arg).map(|m| fail(format!("{m}{see}")))?
        }
        ErrorKind::ArgumentConflict => {
            let a = context_str(e, ContextKind::InvalidArg).unwrap_or_default();
            let b = context_str(e, ContextKind::PriorArg).unwrap_or_default();
            let mut words = [conflict_word(&a), conflict_word(&b)];
            // Flags first, in order (`--all and --latest`), then what the arguments are.
            words.sort_by_key(|w| (!w.starts_with('-'), w.clone()));
            fail(format!(
                "{} and {} cannot be used together",
                words[0], words[1]
            ))
        }
        ErrorKind::MissingRequiredArgument => {
            let missing = context_str(e, ContextKind::InvalidArg).unwrap_or_default();
            if missing.starts_with('-') {
                let names: Vec<String> = missing
                    .split(", ")
                    .map(|m| {
                        let flag = m.split_whitespace().next().unwrap_or(m);
                        format!("\"{}\"", flag.trim_start_matches('-'))
                    })
                    .collect();
                return fail(format!("required flag(s) {} not set", names.join(", ")));
            }
            let need = positionals(cmd)
                .iter()
                .filter(|a| a.is_required_set())
                .count();
            let got = positional_count(&path, args, after);
            fail(format!(
                "requires at least {need} arg(s), only received {got}"
            ))
        }
        _ => None,
    }
}

/// How a conflict names one side: a flag as `--latest`, arguments as what they are
/// (`containers`, `pods`) or `arguments`.
fn conflict_word(shown: &str) -> String {
    let first = shown.split_whitespace().next().unwrap_or(shown);
    if first.starts_with('-') {
        return first.split('=').next().unwrap_or(first).to_string();
    }
    let upper = first.to_uppercase();
    if upper.contains("CONTAINER") {
        "containers".into()
    } else if upper.contains("POD") {
        "pods".into()
    } else {
        "arguments".into()
    }
}

fn is_known_flag(flags: &[&Arg], token: &str) -> bool {
    if let Some(long) = token.strip_prefix("--") {
        let long = long.split('=').next().unwrap_or(long);
        return long == "help" || flags.iter().any(|f| f.get_long() == Some(long));
    }
    token[1..]
        .chars()
        .all(|c| c == 'h' || flags.iter().any(|f| f.get_short() == Some(c)))
}

/// pflag's words for a flag it does not know.
fn unknown_flag(token: &str) -> String {
    if let Some(long) = token.strip_prefix("--") {
        let long = long.split('=').next().unwrap_or(long);
        format!("unknown flag: --{long}")
    } else {
        let c = token.chars().nth(1).unwrap_or('-');
        format!("unknown shorthand flag: '{c}' in {token}")
    }
}

/// pflag's words for a flag given without its value: `flag needs an argument: 'h' in -h`.
fn needs_argument(cmd: &Command, args: &[String], shown: &str) -> Option<String> {
    let long = shown
        .split_whitespace()
        .next()?
        .trim_start_matches('-')
        .to_string();
    let arg = cmd.get_arguments().find(|a| a.get_long() == Some(&long))?;
    if let Some(s) = arg.get_short()
        && let Some(tok) = args
            .iter()
            .rev()
            .find(|t| t.starts_with('-') && !t.starts_with("--") && t.ends_with(s))
    {
        return Some(format!("flag needs an argument: '{s}' in {tok}"));
    }
    Some(format!("flag needs an argument: --{long}"))
}
