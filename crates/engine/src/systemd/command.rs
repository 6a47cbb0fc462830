//! The command lines of a `--new` unit: the container's create command replayed as
//! `run --cidfile=%t/%n.ctr-id --cgroups=no-conmon --rm --sdnotify=conmon -d --replace …`
//! with the flags a unit must own taken out, escaped for systemd and wrapped one flag a
//! line, as Podman's `executeContainerTemplate` does.

use super::{ContainerUnit, SystemdOptions, split};
use crate::container::Container;
use crate::error::{Error, Result};

const CID_FILE: &str = "%t/%n.ctr-id";

/// systemd's quoting of one argument (Podman's `escapeSystemdArg`): `$` and `%` doubled,
/// an argument with a blank or a double quote quoted as Go's `strconv.Quote`, else
/// backslashes doubled.
pub fn escape_arg(arg: &str) -> String {
    let arg = arg.replace('$', "$$").replace('%', "%%");
    if arg.contains([' ', '\t', '"']) {
        go_quote(&arg)
    } else {
        arg.replace('\\', "\\\\")
    }
}

/// Go's `strconv.Quote` for the text arguments hold.
fn go_quote(s: &str) -> String {
    let mut out = String::from('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Podman's `formatOptions`: every flag on a line of its own (`\` then a tab).
pub fn format_options(options: &[String]) -> String {
    let Some((first, rest)) = options.split_first() else {
        return String::new();
    };
    let mut out = first.clone();
    for o in rest {
        if o.starts_with('-') {
            out.push_str(" \\\n\t");
        } else {
            out.push(' ');
        }
        out.push_str(o);
    }
    out
}

/// How many trailing arguments of `args` (after the subcommand) are the image and its
/// command: the flags before it are read with `bool_flags` (those that take no value).
fn positional_count(args: &[String], bool_flags: &[String]) -> usize {
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        if a == "--" {
            return args.len() - i - 1;
        }
        if !a.starts_with('-') || a == "-" {
            return args.len() - i;
        }
        let takes_value = if a.contains('=') {
            false
        } else if a.starts_with("--") {
            !bool_flags.iter().any(|f| f == a)
        } else {
            // `-dit`: a cluster of short flags; the last may take the next argument.
            let last = format!("-{}", a.chars().last().unwrap_or('-'));
            !bool_flags.contains(&last)
        };
        i += if takes_value { 2 } else { 1 };
    }
    0
}

/// The value a flag was given (`--name x`, `--name=x`, `-e x`), each time.
fn values_of(flags: &[String], names: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < flags.len() {
        let a = &flags[i];
        if names.contains(&a.as_str()) {
            if let Some(v) = flags.get(i + 1) {
                out.push(v.clone());
            }
            i += 2;
            continue;
        }
        if let Some((k, v)) = a.split_once('=')
            && names.contains(&k)
        {
            out.push(v.to_string());
        }
        i += 1;
    }
    out
}

/// Whether a boolean flag is set (`-d`, `--detach`, `--detach=true`, in a `-dit` cluster).
fn bool_set(flags: &[String], long: &str, short: Option<char>) -> Option<bool> {
    let mut set = None;
    for a in flags {
        if a == long {
            set = Some(true);
        } else if let Some(v) = a.strip_prefix(&format!("{long}=")) {
            set = Some(v != "false");
        } else if let Some(c) = short
            && a.len() >= 2
            && a.starts_with('-')
            && !a.starts_with("--")
            && a[1..].chars().all(|ch| ch.is_ascii_alphabetic())
            && a[1..].contains(c)
        {
            set = Some(true);
        }
    }
    set
}

/// Removes `--rm`, `--cgroups`, `--cidfile`, `--restart` (Podman's
/// `filterCommonContainerFlags`), `--sdnotify=ignore`, `--detach=false` and
/// `--replace=false` from the flags.
fn filter_flags(flags: &[String], drop_sdnotify: bool) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < flags.len() {
        let a = flags[i].as_str();
        let valued = ["--cgroups", "--cidfile", "--restart"];
        if a == "--rm" || a.starts_with("--rm=") {
            i += 1;
            continue;
        }
        if valued.contains(&a) || (drop_sdnotify && a == "--sdnotify") {
            i += 2;
            continue;
        }
        if valued.iter().any(|v| a.starts_with(&format!("{v}=")))
            || (drop_sdnotify && a.starts_with("--sdnotify="))
            || matches!(a, "-d=false" | "--detach=false" | "--replace=false")
        {
            i += 1;
            continue;
        }
        out.push(a.to_string());
        i += 1;
    }
    out
}

/// `flags` without each of `names` and its value (Podman's `filterPodFlags`).
pub(super) fn drop_flags(flags: &[String], names: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < flags.len() {
        let a = flags[i].as_str();
        if names.contains(&a) {
            i += 2;
            continue;
        }
        if !names.iter().any(|n| a.starts_with(&format!("{n}="))) {
            out.push(a.to_string());
        }
        i += 1;
    }
    out
}

/// Fills `unit` for `--new`: the create command replayed.
pub(super) fn new_unit(
    unit: &mut ContainerUnit,
    c: &Container,
    exe: &str,
    opts: &SystemdOptions,
) -> Result<()> {
    let create = &c.config.create_command;
    let Some(index) = create
        .iter()
        .position(|a| a == "run" || a == "create")
        .map(|i| i + 1)
    else {
        return Err(Error::invalid(format!(
            "container's create command is too short or invalid: {create:?}"
        )));
    };
    unit.notify = true;
    unit.pid_file = None;
    unit.run_root = "%t/containers".into();
    unit.exec_start_pre = Some(format_options(&split(&format!("/bin/rm -f {CID_FILE}"))));
    let t = unit.stop_timeout;
    // The create command's global flags (`--root`…) go to every command of the unit, so
    // stop and removal find the container where it was made (Podman 4.3 gave them to
    // ExecStart only; later Podman to all).
    let root_flags: Vec<String> = if index > 2 {
        create[1..index - 1].to_vec()
    } else {
        Vec::new()
    };
    let mut exe_root = vec![exe.to_string()];
    exe_root.extend(root_flags.iter().map(|a| escape_arg(a)));
    let exe_root = exe_root.join(" ");
    unit.exec_stop = format_options(&split(&format!(
        "{exe_root} stop --ignore -t {t} --cidfile={CID_FILE}"
    )));
    unit.exec_stop_post = format_options(&split(&format!(
        "{exe_root} rm -f --ignore -t {t} --cidfile={CID_FILE}"
    )));
    let mut start: Vec<String> = vec![exe.to_string()];
    start.extend(root_flags);
    start.extend(
        [
            "run",
            "--cidfile=%t/%n.ctr-id",
            "--cgroups=no-conmon",
            "--rm",
        ]
        .map(String::from),
    );
    let rest = &create[index..];
    let n_pos = positional_count(rest, &opts.bool_flags);
    let (flags, positional) = rest.split_at(rest.len() - n_pos);
    // A pod's member: the pod comes from the pod unit's id file.
    let flags: Vec<String> = match &unit.pod_id_file {
        Some(file) => {
            start.extend(["--pod-id-file".to_string(), file.clone()]);
            drop_flags(flags, &["--pod", "--pod-id-file", "--infra-conmon-pidfile"])
        }
        None => flags.to_vec(),
    };
    let flags = flags.as_slice();
    let sdnotify = values_of(flags, &["--sdnotify"]).pop();
    let ignore = sdnotify.as_deref() == Some("ignore");
    if sdnotify.is_none() || ignore {
        start.push("--sdnotify=conmon".into());
    }
    let mut kept = filter_flags(flags, ignore);
    if bool_set(flags, "--detach", Some('d')) != Some(true) {
        start.push("-d".into());
    }
    let named = !values_of(flags, &["--name"]).is_empty();
    if named && bool_set(flags, "--replace", None) != Some(true) {
        start.push("--replace".into());
    }
    if opts.restart_policy.is_none()
        && let Some(policy) = values_of(flags, &["--restart"]).pop()
        && !policy.is_empty()
    {
        unit.restart = match policy.split_once(':') {
            Some(("on-failure", n)) => {
                unit.start_limit_burst = Some(n.to_string());
                "on-failure".into()
            }
            _ if policy == "unless-stopped" => "always".into(),
            _ => policy,
        };
    }
    // `-e NAME` reads the variable from the caller: the unit must set it.
    for e in values_of(flags, &["-e", "--env"]) {
        if !e.contains('=')
            && let Some(v) = c
                .config
                .env
                .iter()
                .find(|kv| kv.split_once('=').map(|(k, _)| k) == Some(e.as_str()))
        {
            unit.extra_envs.push(escape_arg(v));
        }
    }
    start.append(&mut kept);
    start.extend(positional.iter().cloned());
    // Everything replayed is escaped for systemd; the unit's own `%t/%n` stays a specifier.
    let mut start: Vec<String> = start
        .iter()
        .map(|a| {
            if a == "--cidfile=%t/%n.ctr-id" || a.starts_with("%t/") {
                a.clone()
            } else {
                escape_arg(a)
            }
        })
        .collect();
    if opts.template {
        unit.identify = true;
        name_for_template(&mut start, &unit.service)?;
    }
    unit.exec_start = format_options(&start);
    Ok(())
}

/// `--template`: the container's name gets `-%i` (or `--name=SERVICE-%i` is added).
fn name_for_template(start: &mut Vec<String>, service: &str) -> Result<()> {
    if let Some(i) = start.iter().position(|a| a == "--name") {
        if let Some(v) = start.get_mut(i + 1) {
            v.push_str("-%i");
        }
        return Ok(());
    }
    if let Some(a) = start.iter_mut().find(|a| a.starts_with("--name=")) {
        a.push_str("-%i");
        return Ok(());
    }
    let run = start
        .iter()
        .position(|a| a == "run")
        .ok_or_else(|| Error::invalid("\"run\" is missing in the command arguments"))?;
    start.insert(run + 1, format!("--name={service}-%i"));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn escaping_as_podman() {
        assert_eq!(escape_arg("a b"), "\"a b\"");
        assert_eq!(escape_arg("100%"), "100%%");
        assert_eq!(escape_arg("$HOME"), "$$HOME");
        assert_eq!(escape_arg("a\\b"), "a\\\\b");
        assert_eq!(escape_arg("say \"hi\""), "\"say \\\"hi\\\"\"");
    }

    #[test]
    fn options_wrap_at_flags() {
        assert_eq!(
            format_options(&v(&["/bin/rm", "-f", "%t/%n.ctr-id"])),
            "/bin/rm \\\n\t-f %t/%n.ctr-id"
        );
    }

    #[test]
    fn positional_arguments_are_found_with_the_boolean_flags() {
        let bools = v(&["-d", "--detach", "--rm", "-t", "-i", "--privileged"]);
        let args = v(&[
            "--name",
            "web",
            "--privileged",
            "-dti",
            "-e",
            "A=1",
            "img",
            "sleep",
            "--x",
        ]);
        assert_eq!(positional_count(&args, &bools), 3);
        let args = v(&["--label=a=b", "img"]);
        assert_eq!(positional_count(&args, &bools), 1);
        let args = v(&["-p", "8080:80", "--", "img", "-x"]);
        assert_eq!(positional_count(&args, &bools), 2);
    }

    #[test]
    fn unit_owned_flags_are_filtered() {
        let flags = v(&[
            "--rm",
            "--cgroups",
            "split",
            "--cidfile=/x",
            "--restart",
            "always",
            "--detach=false",
            "--name",
            "w",
        ]);
        assert_eq!(filter_flags(&flags, false), v(&["--name", "w"]));
        assert_eq!(bool_set(&v(&["-dit"]), "--detach", Some('d')), Some(true));
        assert_eq!(
            bool_set(&v(&["--detach=false"]), "--detach", Some('d')),
            Some(false)
        );
        assert_eq!(
            values_of(&v(&["-e", "A", "--env=B=2"]), &["-e", "--env"]),
            v(&["A", "B=2"])
        );
    }
}
