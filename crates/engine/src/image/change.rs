//! `--change` instructions of `import` and `commit` (a subset of Dockerfile syntax) and
//! their effect on an OCI image `Config`.
//!
//! Podman (c/common `ImageConfigFromChanges`) accepts CMD, ENTRYPOINT, ENV, EXPOSE, LABEL,
//! ONBUILD, STOPSIGNAL, USER, VOLUME and WORKDIR; anything else is an error. We follow its
//! quirks where they are visible: the instruction is split from its value at the first
//! space (or `=` when there is no space), `CMD` in shell form with an empty value gives
//! `["/bin/sh","-c"]` while an empty `ENTRYPOINT` clears it, `WORKDIR` joins with the previous
//! value, `STOPSIGNAL` is stored as the signal number. We accept more of Dockerfile than
//! Podman does: several `k=v` pairs (quoted) in ENV and LABEL, legacy `ENV K V`, several
//! ports in EXPOSE. ONBUILD is validated and dropped: an OCI config has no field for it.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use oci_spec::image::Config;

use super::ImageError;

/// One parsed `--change` instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Cmd(Vec<String>),
    Entrypoint(Vec<String>),
    Env(Vec<(String, String)>),
    /// Normalised `PORT/proto`.
    Expose(Vec<String>),
    Label(Vec<(String, String)>),
    OnBuild(String),
    /// The signal number, as text.
    StopSignal(String),
    User(String),
    Volume(Vec<String>),
    Workdir(String),
}

fn invalid(change: &str, reason: impl Into<String>) -> ImageError {
    ImageError::InvalidChange {
        change: change.to_string(),
        reason: reason.into(),
    }
}

/// Parses one instruction, e.g. `CMD ["/bin/sh"]` or `ENV A=1 B="x y"`.
pub fn parse_change(change: &str) -> Result<Change, ImageError> {
    let (key, value) = change
        .split_once(' ')
        .or_else(|| change.split_once('='))
        .ok_or_else(|| invalid(change, "must be formatted as KEY VALUE"))?;
    let key = key.trim().to_ascii_uppercase();
    let value = value.trim();
    Ok(match key.as_str() {
        "CMD" => Change::Cmd(json_or_shell(value).unwrap_or_else(|| {
            let mut v = vec!["/bin/sh".to_string(), "-c".to_string()];
            if !value.is_empty() {
                v.push(value.to_string());
            }
            v
        })),
        "ENTRYPOINT" => Change::Entrypoint(json_or_shell(value).unwrap_or_else(|| {
            if value.is_empty() {
                Vec::new()
            } else {
                vec!["/bin/sh".to_string(), "-c".to_string(), value.to_string()]
            }
        })),
        "ENV" => Change::Env(parse_env(change, value)?),
        "EXPOSE" => {
            let ports = value
                .split_whitespace()
                .map(|p| parse_port(change, p))
                .collect::<Result<Vec<_>, _>>()?;
            if ports.is_empty() {
                return Err(invalid(change, "EXPOSE needs at least one port"));
            }
            Change::Expose(ports)
        }
        "LABEL" => Change::Label(parse_labels(change, value)?),
        "ONBUILD" => {
            if value.is_empty() {
                return Err(invalid(change, "ONBUILD must be given an argument"));
            }
            Change::OnBuild(value.to_string())
        }
        "STOPSIGNAL" => {
            let n = parse_signal(value).ok_or_else(|| {
                invalid(
                    change,
                    format!("STOPSIGNAL must be given a valid signal, not {value:?}"),
                )
            })?;
            Change::StopSignal(n.to_string())
        }
        "USER" => {
            if value.is_empty() {
                return Err(invalid(change, "must provide a value to USER"));
            }
            Change::User(value.to_string())
        }
        "VOLUME" => {
            let vols = json_array(value)
                .unwrap_or_else(|| value.split_whitespace().map(str::to_string).collect());
            if vols.is_empty() {
                return Err(invalid(
                    change,
                    "must provide at least one argument to VOLUME",
                ));
            }
            if vols.iter().any(String::is_empty) {
                return Err(invalid(change, "VOLUME paths must not be empty"));
            }
            Change::Volume(vols)
        }
        "WORKDIR" => {
            if value.is_empty() {
                return Err(invalid(change, "must provide a non-empty WORKDIR"));
            }
            Change::Workdir(value.to_string())
        }
        other => return Err(invalid(change, format!("invalid instruction {other}"))),
    })
}

/// Parses every change, then applies them in order. Nothing is applied if one is invalid.
pub fn apply_changes(config: &mut Config, changes: &[String]) -> Result<(), ImageError> {
    let parsed = changes
        .iter()
        .map(|c| parse_change(c))
        .collect::<Result<Vec<_>, _>>()?;
    for c in &parsed {
        apply_change(config, c);
    }
    Ok(())
}

/// Applies one change to `config`.
pub fn apply_change(config: &mut Config, change: &Change) {
    match change {
        Change::Cmd(v) => {
            config.set_cmd(Some(v.clone()));
        }
        Change::Entrypoint(v) => {
            config.set_entrypoint(Some(v.clone()));
        }
        Change::Env(pairs) => {
            let mut env = config.env().clone().unwrap_or_default();
            for (k, v) in pairs {
                let entry = format!("{k}={v}");
                match env
                    .iter_mut()
                    .find(|e| e.split_once('=').map(|(ek, _)| ek).unwrap_or(e) == k)
                {
                    Some(e) => *e = entry,
                    None => env.push(entry),
                }
            }
            config.set_env(Some(env));
        }
        Change::Expose(ports) => {
            let mut all = config.exposed_ports().clone().unwrap_or_default();
            for p in ports {
                if !all.contains(p) {
                    all.push(p.clone());
                }
            }
            config.set_exposed_ports(Some(all));
        }
        Change::Label(pairs) => {
            let mut labels: HashMap<String, String> = config.labels().clone().unwrap_or_default();
            for (k, v) in pairs {
                labels.insert(k.clone(), v.clone());
            }
            config.set_labels(Some(labels));
        }
        Change::OnBuild(v) => {
            tracing::debug!(onbuild = %v, "ONBUILD has no place in an OCI image config; dropped");
        }
        Change::StopSignal(s) => {
            config.set_stop_signal(Some(s.clone()));
        }
        Change::User(u) => {
            config.set_user(Some(u.clone()));
        }
        Change::Volume(vols) => {
            let mut all = config.volumes().clone().unwrap_or_default();
            for v in vols {
                if !all.contains(v) {
                    all.push(v.clone());
                }
            }
            config.set_volumes(Some(all));
        }
        Change::Workdir(w) => {
            let base = config.working_dir().clone().unwrap_or_default();
            config.set_working_dir(Some(join_clean(&base, w)));
        }
    }
}

/// Go's `filepath.Join(base, w)`: joined and cleaned; an absolute `w` does not reset.
fn join_clean(base: &str, w: &str) -> String {
    let joined = if base.is_empty() {
        PathBuf::from(w)
    } else {
        PathBuf::from(format!("{base}/{w}"))
    };
    let absolute = joined.is_absolute();
    let mut parts: Vec<&std::ffi::OsStr> = Vec::new();
    for c in Path::new(&joined).components() {
        match c {
            Component::Normal(s) => parts.push(s),
            Component::ParentDir => match parts.last() {
                Some(last) if *last != ".." => {
                    parts.pop();
                }
                _ if !absolute => parts.push("..".as_ref()),
                _ => {}
            },
            _ => {}
        }
    }
    let body = parts
        .iter()
        .map(|p| p.to_string_lossy())
        .collect::<Vec<_>>()
        .join("/");
    match (absolute, body.is_empty()) {
        (true, _) => format!("/{body}"),
        (false, true) => ".".to_string(),
        (false, false) => body,
    }
}

/// A JSON array of strings, if `value` is one.
fn json_array(value: &str) -> Option<Vec<String>> {
    serde_json::from_str::<Vec<String>>(value).ok()
}

fn json_or_shell(value: &str) -> Option<Vec<String>> {
    json_array(value)
}

fn parse_port(change: &str, spec: &str) -> Result<String, ImageError> {
    let (num, proto) = match spec.split_once('/') {
        Some((n, p)) => (n, p.to_ascii_lowercase()),
        None => (spec, "tcp".to_string()),
    };
    if proto.contains('/') {
        return Err(invalid(
            change,
            "EXPOSE port must be formatted as PORT[/PROTO]",
        ));
    }
    let port: u32 = num.parse().map_err(|_| {
        invalid(
            change,
            format!("EXPOSE port must be an integer, not {num:?}"),
        )
    })?;
    if port == 0 || port > 65535 {
        return Err(invalid(
            change,
            format!("EXPOSE port {port} is not a valid port number"),
        ));
    }
    if proto != "tcp" && proto != "udp" {
        return Err(invalid(
            change,
            format!("EXPOSE protocol must be TCP or UDP, not {proto:?}"),
        ));
    }
    Ok(format!("{port}/{proto}"))
}

/// Splits Dockerfile words: whitespace separates, `"…"` groups (with `\` escapes inside),
/// `'…'` groups literally, `\` escapes outside quotes. Quotes are removed.
fn words(change: &str, s: &str) -> Result<Vec<String>, ImageError> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        None => return Err(invalid(change, "unterminated double quote")),
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(e @ ('"' | '\\' | '$' | '`')) => cur.push(e),
                            Some(e) => {
                                cur.push('\\');
                                cur.push(e);
                            }
                            None => return Err(invalid(change, "unterminated double quote")),
                        },
                        Some(ch) => cur.push(ch),
                    }
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        None => return Err(invalid(change, "unterminated single quote")),
                        Some('\'') => break,
                        Some(ch) => cur.push(ch),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some(e) => cur.push(e),
                    None => cur.push('\\'),
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    Ok(out)
}

fn parse_env(change: &str, value: &str) -> Result<Vec<(String, String)>, ImageError> {
    let first = value.split_whitespace().next().unwrap_or("");
    if first.is_empty() {
        return Err(invalid(change, "ENV must have at least one argument"));
    }
    if !first.contains('=') {
        // Legacy `ENV KEY VALUE…`: the rest of the line, taken literally, is the value.
        let rest = value[first.len()..].trim();
        return Ok(vec![(first.to_string(), rest.to_string())]);
    }
    words(change, value)?
        .into_iter()
        .map(|w| match w.split_once('=') {
            Some(("", _)) => Err(invalid(change, "ENV names must not be empty")),
            Some((k, v)) => Ok((k.to_string(), v.to_string())),
            None => Err(invalid(
                change,
                format!("ENV {w:?} must be formatted as KEY=VALUE"),
            )),
        })
        .collect()
}

fn parse_labels(change: &str, value: &str) -> Result<Vec<(String, String)>, ImageError> {
    let pairs = words(change, value)?
        .into_iter()
        .map(|w| match w.split_once('=') {
            Some(("", _)) => Err(invalid(change, "LABEL must have a non-empty key")),
            Some((k, v)) => Ok((k.to_string(), v.to_string())),
            None => Err(invalid(change, "LABEL must be formatted key=value")),
        })
        .collect::<Result<Vec<_>, _>>()?;
    if pairs.is_empty() {
        return Err(invalid(change, "LABEL must be formatted key=value"));
    }
    Ok(pairs)
}

/// A signal name (`SIGTERM`, `term`) or number, as Linux numbers it.
fn parse_signal(s: &str) -> Option<u32> {
    const NAMES: [&str; 31] = [
        "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2",
        "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG",
        "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "PWR", "SYS",
    ];
    const RTMIN: u32 = 34;
    const RTMAX: u32 = 64;
    if let Ok(n) = s.parse::<u32>() {
        return (1..=RTMAX).contains(&n).then_some(n);
    }
    let up = s.to_ascii_uppercase();
    let name = up.strip_prefix("SIG").unwrap_or(&up);
    if let Some(i) = NAMES.iter().position(|n| *n == name) {
        return Some(i as u32 + 1);
    }
    match name {
        "IOT" => Some(6),
        "CLD" => Some(17),
        "POLL" => Some(29),
        "RTMIN" => Some(RTMIN),
        "RTMAX" => Some(RTMAX),
        _ => {
            if let Some(off) = name.strip_prefix("RTMIN+") {
                let n = RTMIN + off.parse::<u32>().ok()?;
                (n <= RTMAX).then_some(n)
            } else if let Some(off) = name.strip_prefix("RTMAX-") {
                RTMAX
                    .checked_sub(off.parse::<u32>().ok()?)
                    .filter(|n| *n >= RTMIN)
            } else {
                None
            }
        }
    }
}

#[cfg(test)]
#[path = "change_tests.rs"]
mod tests;
