//! The parsers of RUN (its --mount/--network/--security flags), COPY and ADD (their sources,
//! heredocs and flags), ONBUILD and HEALTHCHECK.

#[allow(unused_imports)]
use super::*;

pub(super) fn parse_run(node: &Node) -> Result<Run, String> {
    let flags = Flags::parse(
        &node.flags,
        &[
            ("mount", FlagKind::Strs),
            ("network", FlagKind::Str),
            ("security", FlagKind::Str),
            ("device", FlagKind::Strs),
        ],
    )?;
    let mut mounts = Vec::new();
    for spec in flags.list("mount") {
        mounts.push(Mount::parse(&spec, &|v| Ok(v.to_string()))?);
    }
    let network = match flags.str("network").as_deref().unwrap_or("default") {
        "default" => NetworkMode::Default,
        "none" => NetworkMode::None,
        "host" => NetworkMode::Host,
        other => return Err(format!("invalid network mode {other:?}")),
    };
    let security = match flags.str("security").as_deref().unwrap_or("sandbox") {
        "sandbox" => Security::Sandbox,
        "insecure" => Security::Insecure,
        other => return Err(format!("security {other:?} is not valid")),
    };
    Ok(Run {
        command: command_line(node),
        mounts,
        network,
        security,
        devices: flags.list("device"),
        flags_used: flags.used(),
    })
}

/// Sources and destination of COPY/ADD; heredoc sources become inline files.
pub(super) fn sources(node: &Node, cmd: &str) -> Result<Sources, String> {
    let args = &node.args.args;
    if args.len() < 2 {
        return Err(format!(
            "{cmd} requires at least two arguments, but only one was provided. Destination could not be determined"
        ));
    }
    let (srcs, dest) = args.split_at(args.len() - 1);
    let dest = dest[0].clone();
    if parse_heredoc(&dest)?.is_some() {
        return Err(format!("{cmd} cannot accept a heredoc as a destination"));
    }
    let mut paths = Vec::new();
    let mut inline = Vec::new();
    for src in srcs {
        match parse_heredoc(src)? {
            Some(doc) => {
                let content = node
                    .heredocs
                    .iter()
                    .find(|h| h.name == doc.name)
                    .map(|h| h.content.clone())
                    .unwrap_or_default();
                inline.push(InlineSource {
                    name: doc.name,
                    data: if doc.chomp {
                        chomp_tabs(&content)
                    } else {
                        content
                    },
                    expand: doc.expand,
                });
            }
            None => paths.push(src.clone()),
        }
    }
    Ok(Sources {
        paths,
        inline,
        dest,
    })
}

pub(super) fn parse_copy(node: &Node) -> Result<Copy, String> {
    if node.args.args.len() < 2 {
        return Err(
            "COPY requires at least two arguments, but only one was provided. Destination could not be determined"
                .to_string(),
        );
    }
    let flags = Flags::parse(
        &node.flags,
        &[
            ("chown", FlagKind::Str),
            ("from", FlagKind::Str),
            ("chmod", FlagKind::Str),
            ("link", FlagKind::Bool),
            ("exclude", FlagKind::Strs),
            ("parents", FlagKind::Bool),
        ],
    )?;
    let from = flags.str("from");
    if let Some(f) = &from {
        // `--from` names a stage or image as written: no variables.
        let expanded = Lex::new('\\')
            .process_word(f, &NoEnv)
            .map(|p| p.result)
            .map_err(|e| e.to_string())?;
        if &expanded != f {
            return Err("variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a workaround".to_string());
        }
    }
    Ok(Copy {
        sources: sources(node, "COPY")?,
        from,
        chown: flags.str("chown"),
        chmod: flags.str("chmod"),
        link: flags.bool("link"),
        parents: flags.bool("parents"),
        excludes: flags.list("exclude"),
    })
}

pub(super) fn parse_add(node: &Node) -> Result<Add, String> {
    if node.args.args.len() < 2 {
        return Err(
            "ADD requires at least two arguments, but only one was provided. Destination could not be determined"
                .to_string(),
        );
    }
    let flags = Flags::parse(
        &node.flags,
        &[
            ("chown", FlagKind::Str),
            ("chmod", FlagKind::Str),
            ("link", FlagKind::Bool),
            ("keep-git-dir", FlagKind::Bool),
            ("checksum", FlagKind::Str),
            ("unpack", FlagKind::Bool),
            ("exclude", FlagKind::Strs),
        ],
    )?;
    Ok(Add {
        sources: sources(node, "ADD")?,
        chown: flags.str("chown"),
        chmod: flags.str("chmod"),
        link: flags.bool("link"),
        keep_git_dir: flags.opt_bool("keep-git-dir"),
        checksum: flags.str("checksum"),
        unpack: flags.opt_bool("unpack"),
        excludes: flags.list("exclude"),
    })
}

pub(super) fn parse_onbuild(node: &Node) -> Result<Onbuild, String> {
    let args = &node.args.args;
    if args.is_empty() {
        return Err(at_least_one("ONBUILD"));
    }
    Flags::parse(&node.flags, &[])?;
    let trigger = args[0].trim().to_uppercase();
    match trigger.as_str() {
        "ONBUILD" => return Err("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed".to_string()),
        "MAINTAINER" | "FROM" => {
            return Err(format!("{trigger} isn't allowed as an ONBUILD trigger"));
        }
        _ => {}
    }
    let mut expression = strip_onbuild(&node.original).to_string();
    for doc in &node.heredocs {
        expression.push('\n');
        expression.push_str(&doc.content);
        expression.push_str(&doc.name);
    }
    let Some(sub) = &node.sub else {
        return Err(at_least_one("ONBUILD"));
    };
    let mut sub = (**sub).clone();
    sub.heredocs = node.heredocs.clone();
    sub.start_line = node.start_line;
    sub.end_line = node.end_line;
    // Unlike BuildKit, which types the trigger only when a child build runs it, a trigger
    // that could never run is refused now.
    let trigger = match type_node(&sub)? {
        Typed::Instruction(i) => i,
        Typed::From(_) => return Err("FROM isn't allowed as an ONBUILD trigger".to_string()),
    };
    Ok(Onbuild {
        expression,
        trigger: Box::new(trigger),
    })
}

/// Go's `\s`.
pub(super) const GO_SPACE: [char; 5] = ['\t', '\n', '\x0c', '\r', ' '];

/// `(?i)^\s*ONBUILD\s*` removed.
pub(super) fn strip_onbuild(original: &str) -> &str {
    let s = original.trim_start_matches(GO_SPACE);
    if s.get(..7)
        .is_some_and(|p| p.eq_ignore_ascii_case("onbuild"))
    {
        s[7..].trim_start_matches(GO_SPACE)
    } else {
        original
    }
}

pub(super) fn parse_healthcheck(node: &Node) -> Result<Healthcheck, String> {
    let args = &node.args.args;
    if args.is_empty() {
        return Err(at_least_one("HEALTHCHECK"));
    }
    let typ = args[0].to_uppercase();
    let rest = &args[1..];
    if typ == "NONE" {
        // BuildKit does not look at the flags of HEALTHCHECK NONE.
        if !rest.is_empty() {
            return Err("HEALTHCHECK NONE takes no arguments".to_string());
        }
        return Ok(Healthcheck::None);
    }
    let flags = Flags::parse(
        &node.flags,
        &[
            ("interval", FlagKind::Str),
            ("timeout", FlagKind::Str),
            ("start-period", FlagKind::Str),
            ("start-interval", FlagKind::Str),
            ("retries", FlagKind::Str),
        ],
    )?;
    if typ != "CMD" {
        return Err(format!("Unknown type {typ:?} in HEALTHCHECK (try CMD)"));
    }
    let cmd: Vec<String> = if node.args.json || rest.is_empty() {
        rest.to_vec()
    } else {
        vec![rest.join(" ")]
    };
    if cmd.is_empty() {
        return Err("Missing command after HEALTHCHECK CMD".to_string());
    }
    let mut test = vec![if node.args.json { "CMD" } else { "CMD-SHELL" }.to_string()];
    test.extend(cmd);
    let interval = |name: &str| -> Result<Duration, String> {
        let Some(v) = flags.str(name) else {
            return Ok(Duration::ZERO);
        };
        let nanos = parse_go_duration(&v)?;
        if nanos == 0 {
            return Ok(Duration::ZERO);
        }
        if nanos < 1_000_000 {
            return Err(format!("Interval {name:?} cannot be less than 1ms"));
        }
        Ok(Duration::from_nanos(nanos as u64))
    };
    let retries = match flags.str("retries") {
        None => 0,
        Some(v) => {
            let n: i64 = v
                .parse()
                .ok()
                .filter(|n| i32::try_from(*n).is_ok())
                .ok_or_else(|| format!("strconv.ParseInt: parsing {v:?}: invalid syntax"))?;
            if n < 0 {
                return Err(format!("--retries cannot be negative ({n})"));
            }
            n as u32
        }
    };
    Ok(Healthcheck::Check {
        test,
        interval: interval("interval")?,
        timeout: interval("timeout")?,
        start_period: interval("start-period")?,
        start_interval: interval("start-interval")?,
        retries,
    })
}
