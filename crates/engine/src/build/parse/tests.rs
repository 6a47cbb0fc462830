//! Table tests for the Containerfile parser, covering the behaviours of BuildKit's parser
//! test files (continuations, escapes, directives, heredocs, JSON forms, every instruction)
//! with our own cases.

use std::time::Duration;

use super::*;

fn ok(text: &str) -> Containerfile {
    match parse("Containerfile", text) {
        Ok(c) => c,
        Err(e) => panic!("parse failed: {e}\n{text}"),
    }
}

fn err(text: &str) -> String {
    match parse("Containerfile", text) {
        Ok(c) => panic!("parsed, expected an error: {c:?}"),
        Err(e) => e.to_string(),
    }
}

/// The instructions of the only stage.
fn instrs(text: &str) -> Vec<Instruction> {
    let c = ok(text);
    assert_eq!(c.stages.len(), 1, "{text}");
    c.stages.into_iter().next().unwrap().instructions
}

fn one(text: &str) -> InstructionKind {
    let mut i = instrs(&format!("FROM scratch\n{text}"));
    assert_eq!(i.len(), 1, "{text}");
    i.remove(0).kind
}

fn run(text: &str) -> Run {
    match one(text) {
        InstructionKind::Run(r) => r,
        k => panic!("not RUN: {k:?}"),
    }
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

#[test]
fn stages_and_meta_args() {
    let c = ok("# syntax=docker/dockerfile:1\n\
        ARG BASE=alpine\n\
        ARG TAG\n\
        FROM ${BASE}:${TAG} AS Builder\n\
        RUN make\n\
        from --platform=$BUILDPLATFORM scratch\n\
        COPY --from=builder /out /\n");
    assert_eq!(c.directives.syntax.as_deref(), Some("docker/dockerfile:1"));
    assert_eq!(c.directives.escape, '\\');
    assert_eq!(c.args_before_from.len(), 2);
    assert_eq!(
        c.args_before_from[0].args[0],
        ArgDecl {
            key: "BASE".into(),
            default: Some("alpine".into())
        }
    );
    assert_eq!(
        c.args_before_from[1].args[0],
        ArgDecl {
            key: "TAG".into(),
            default: None
        }
    );
    assert_eq!(c.stages.len(), 2);
    let s0 = &c.stages[0];
    assert_eq!(
        (s0.base.as_str(), s0.name.as_deref(), s0.line),
        ("${BASE}:${TAG}", Some("builder"), 4)
    );
    assert_eq!(s0.code(), "FROM ${BASE}:${TAG} AS Builder");
    let s1 = &c.stages[1];
    assert_eq!(
        (s1.base.as_str(), s1.platform.as_deref()),
        ("scratch", Some("$BUILDPLATFORM"))
    );
    assert_eq!(c.stage_index("BUILDER"), Some(0));
    assert_eq!(c.target(None).unwrap(), 1);
    assert_eq!(c.target(Some("builder")).unwrap(), 0);
    assert_eq!(
        c.target(Some("buildr")).unwrap_err().to_string(),
        "target stage \"buildr\" could not be found (did you mean builder?)"
    );
    assert_eq!(c.declared_args(), ["BASE", "TAG"]);
}

#[test]
fn lines_numbers_and_original_text() {
    let i = instrs("FROM scratch\n\n# comment\nRUN echo a \\\n    b\nENV X=1\n");
    assert_eq!((i[0].line, i[0].end_line), (4, 5));
    assert_eq!(i[0].original, "RUN echo a     b");
    assert_eq!(i[0].code(), "RUN echo a     b");
    assert_eq!((i[1].line, i[1].end_line), (6, 6));
}

#[test]
fn continuations_as_buildkit_joins_them() {
    let cases: &[(&str, &str)] = &[
        // leading blanks of later lines are kept, of the first line dropped
        ("  RUN a \\\n  b", "a   b"),
        // a comment inside a continuation is dropped
        ("RUN a \\\n# note\n  b", "a   b"),
        ("RUN a \\\n    # indented note\n b", "a  b"),
        // blanks after the escape still continue the line
        ("RUN a \\  \t\nb", "a b"),
        // an escaped escape at the end does not continue
        ("RUN a \\\\\nRUN b", "a \\\\"),
        // the escape alone on a line continues
        ("RUN a\\\n\\\nb", "ab"),
        // continuation at end of file
        ("RUN a \\", "a"),
        // CRLF line endings
        ("RUN a \\\r\n b\r\n", "a  b"),
    ];
    for (text, want) in cases {
        let i = instrs(&format!("FROM scratch\n{text}"));
        match &i[0].kind {
            InstructionKind::Run(r) => assert_eq!(r.command.args, [*want], "{text:?}"),
            k => panic!("{k:?}"),
        }
    }
}

#[test]
fn empty_continuation_lines_warn() {
    let c = ok("FROM scratch\nRUN a \\\n\n  b\n");
    assert_eq!(c.warnings, ["Empty continuation line found in: RUN a   b"]);
    assert_eq!(c.stages[0].instructions.len(), 1);
}

#[test]
fn escape_directive() {
    let c = ok("# escape=`\nFROM scratch\nRUN dir c:\\ `\n  /b\nCOPY a\\b c\\d\n");
    assert_eq!(c.directives.escape, '`');
    let i = &c.stages[0].instructions;
    match &i[0].kind {
        InstructionKind::Run(r) => assert_eq!(r.command.args, ["dir c:\\   /b"]),
        k => panic!("{k:?}"),
    }
    match &i[1].kind {
        InstructionKind::Copy(c) => assert_eq!(
            (c.sources.paths.as_slice(), c.sources.dest.as_str()),
            (&s(&["a\\b"])[..], "c\\d")
        ),
        k => panic!("{k:?}"),
    }
    // After an instruction it is an ordinary comment.
    let c = ok("FROM scratch\n# escape=`\nRUN a \\\n b\n");
    assert_eq!(c.directives.escape, '\\');
    // A BOM before the directives is skipped.
    let c = ok("\u{feff}# escape=`\nFROM scratch\n");
    assert_eq!(c.directives.escape, '`');
    assert!(
        err("# escape=`\n# escape=\\\nFROM scratch\n")
            .contains("only one escape parser directive can be used")
    );
    assert_eq!(
        err("# escape=|\nFROM scratch\n"),
        "Containerfile: dockerfile parse error on line 1: invalid escape token '|' does not match ` or \\"
    );
}

#[test]
fn check_and_unknown_directives() {
    let c = ok("# check=skip=JSONArgsRecommended\n# foo=bar\n# escape=`\nFROM scratch\n");
    assert_eq!(
        c.directives.check.as_deref(),
        Some("skip=JSONArgsRecommended")
    );
    assert_eq!(
        c.directives.escape, '\\',
        "an unknown directive ends the block"
    );
}

#[test]
fn instruction_names_are_case_insensitive() {
    let i = instrs("from scratch\nrUn echo\nEnV a=b\ncopy a b\n");
    assert_eq!(
        i.iter().map(|i| i.name()).collect::<Vec<_>>(),
        ["RUN", "ENV", "COPY"]
    );
}

#[test]
fn run_forms() {
    let r = run("RUN echo \"hi there\"");
    assert_eq!(
        (r.command.args.as_slice(), r.command.prepend_shell),
        (&s(&["echo \"hi there\""])[..], true)
    );
    let r = run("RUN [\"echo\", \"hi there\"]");
    assert_eq!(
        (r.command.args.as_slice(), r.command.prepend_shell),
        (&s(&["echo", "hi there"])[..], false)
    );
    let r = run("RUN [\"echo\", 'x']");
    assert_eq!(
        r.command.args,
        ["[\"echo\", 'x']"],
        "invalid JSON is the shell form"
    );
    assert_eq!(r.network, NetworkMode::Default);
    assert!(err("FROM scratch\nRUN [\"a\", 1]").ends_with(
        "line 2: when using JSON array syntax, arrays must be comprised of strings only"
    ));
}

#[test]
fn run_flags() {
    let r = run(
        "RUN --mount=type=cache,target=/var/cache/apt,sharing=locked --network=none --mount=type=secret,id=tok apt-get update",
    );
    assert_eq!(r.mounts.len(), 2);
    assert_eq!(
        (
            r.mounts[0].kind,
            r.mounts[0].target.as_deref(),
            r.mounts[0].sharing
        ),
        (
            MountType::Cache,
            Some("/var/cache/apt"),
            Some(Sharing::Locked)
        )
    );
    assert_eq!(
        (r.mounts[1].kind, r.mounts[1].id.as_deref()),
        (MountType::Secret, Some("tok"))
    );
    assert_eq!(r.network, NetworkMode::None);
    assert_eq!(r.flags_used, ["mount", "network"]);
    assert_eq!(r.command.args, ["apt-get update"]);
    assert_eq!(run("RUN --network=host x").network, NetworkMode::Host);
    assert!(
        err("FROM scratch\nRUN --network=bridge x").ends_with("invalid network mode \"bridge\"")
    );
    assert!(
        err("FROM scratch\nRUN --mount=type=foo x").ends_with("unsupported mount type \"foo\"")
    );
    assert!(
        err("FROM scratch\nRUN --mout=type=bind x")
            .ends_with("unknown flag: --mout (did you mean mount?)")
    );
    assert!(
        err("FROM scratch\nRUN --network=none --network=host x")
            .ends_with("duplicate flag specified: --network")
    );
}

#[test]
fn heredocs() {
    let r = run("RUN <<EOF\necho $HOME\n\tindented\nEOF");
    assert_eq!(r.command.args, ["<<EOF"]);
    let h = &r.command.heredocs[0];
    assert_eq!(
        (h.name.as_str(), h.expand, h.chomp, h.fd),
        ("EOF", true, false, 0)
    );
    assert_eq!(h.content, "echo $HOME\n\tindented\n");

    // <<- strips leading tabs from the body and the terminator line.
    let r = run("RUN <<-EOT\n\techo a\n\t\techo b\n\tEOT");
    assert_eq!(r.command.heredocs[0].content, "\techo a\n\t\techo b\n");
    assert_eq!(r.command.heredocs[0].body(), "echo a\necho b\n");

    // Quoted words disable expansion.
    for word in ["<<'EOF'", "<<\"EOF\"", "<<E\"OF\""] {
        let r = run(&format!("RUN cat {word}\nx\nEOF"));
        let h = &r.command.heredocs[0];
        assert_eq!((h.name.as_str(), h.expand), ("EOF", false), "{word}");
    }

    // Several heredocs on one line, read in order; a descriptor number.
    let r = run("RUN cat <<A 3<<B > out\na\nA\nb\nB");
    let docs: Vec<(&str, &str, u32)> = r
        .command
        .heredocs
        .iter()
        .map(|h| (h.name.as_str(), h.content.as_str(), h.fd))
        .collect();
    assert_eq!(docs, [("A", "a\n", 0), ("B", "b\n", 3)]);

    // The line after the bodies is the next instruction.
    let i = instrs("FROM scratch\nRUN <<EOF\nx\nEOF\nUSER u\n");
    assert_eq!((i[0].line, i[0].end_line, i[1].line), (2, 4, 5));

    // JSON forms and other instructions do not open heredocs.
    let i = instrs("FROM scratch\nRUN [\"cat\", \"<<EOF\"]\nENV A=<<EOF\n");
    assert_eq!(i.len(), 2);

    assert_eq!(
        err("FROM scratch\nRUN <<EOF\nnever ends\n"),
        "Containerfile: dockerfile parse error on line 2: unterminated heredoc"
    );
}

#[test]
fn copy_heredoc_and_paths() {
    match one("COPY <<EOF <<\"RAW\" a.txt /dest/\nhello $X\nEOF\nkeep $X\nRAW") {
        InstructionKind::Copy(c) => {
            assert_eq!(c.sources.paths, ["a.txt"]);
            assert_eq!(c.sources.dest, "/dest/");
            assert_eq!(
                c.sources.inline,
                [
                    InlineSource {
                        name: "EOF".into(),
                        data: "hello $X\n".into(),
                        expand: true
                    },
                    InlineSource {
                        name: "RAW".into(),
                        data: "keep $X\n".into(),
                        expand: false
                    },
                ]
            );
        }
        k => panic!("{k:?}"),
    }
    match one("COPY <<-EOF /x\n\t\tindented\n\tEOF") {
        InstructionKind::Copy(c) => assert_eq!(c.sources.inline[0].data, "indented\n"),
        k => panic!("{k:?}"),
    }
    assert!(
        err("FROM scratch\nCOPY a <<EOF\nx\nEOF")
            .ends_with("COPY cannot accept a heredoc as a destination")
    );
}

#[test]
fn copy_and_add_flags() {
    match one("COPY --from=builder --chown=app:app --chmod=0755 --link *.js [ab].txt ./") {
        InstructionKind::Copy(c) => {
            assert_eq!(c.from.as_deref(), Some("builder"));
            assert_eq!(c.chown.as_deref(), Some("app:app"));
            assert_eq!(c.chmod.as_deref(), Some("0755"));
            assert!(c.link && !c.parents);
            assert_eq!(
                c.sources.paths,
                ["*.js", "[ab].txt"],
                "globs are kept as patterns"
            );
            assert_eq!(c.sources.dest, "./");
        }
        k => panic!("{k:?}"),
    }
    match one("COPY [\"a b\", \"/c d/\"]") {
        InstructionKind::Copy(c) => assert_eq!(
            (c.sources.paths.as_slice(), c.sources.dest.as_str()),
            (&s(&["a b"])[..], "/c d/")
        ),
        k => panic!("{k:?}"),
    }
    match one("ADD --chown=1:2 --unpack=false --checksum=sha256:abc https://x/y.tgz /z") {
        InstructionKind::Add(a) => {
            assert_eq!(
                (a.chown.as_deref(), a.unpack, a.checksum.as_deref()),
                (Some("1:2"), Some(false), Some("sha256:abc"))
            );
            assert_eq!(a.sources.paths, ["https://x/y.tgz"]);
        }
        k => panic!("{k:?}"),
    }
    assert!(err("FROM scratch\nCOPY onlyone").ends_with(
        "COPY requires at least two arguments, but only one was provided. Destination could not be determined"
    ));
    assert!(err("FROM scratch\nADD --from=x a b").ends_with("unknown flag: --from"));
    assert!(err("FROM scratch\nCOPY --from=$STAGE a b").ends_with(
        "variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a workaround"
    ));
}

#[test]
fn env_label_and_arg() {
    let kv = |k: &str, v: &str, legacy: bool| KeyValue {
        key: k.into(),
        value: v.into(),
        legacy,
    };
    assert_eq!(
        one("ENV APP /app server"),
        InstructionKind::Env(vec![kv("APP", "/app server", true)])
    );
    assert_eq!(
        one("ENV A=1 B=\"two words\" C=three\\ words"),
        InstructionKind::Env(vec![
            kv("A", "1", false),
            kv("B", "\"two words\"", false),
            kv("C", "three\\ words", false)
        ])
    );
    assert_eq!(
        one("LABEL org.example=demo \"quoted key\"=v"),
        InstructionKind::Label(vec![
            kv("org.example", "demo", false),
            kv("\"quoted key\"", "v", false)
        ])
    );
    assert_eq!(
        one("ARG A B=2 C="),
        InstructionKind::Arg(vec![
            ArgDecl {
                key: "A".into(),
                default: None
            },
            ArgDecl {
                key: "B".into(),
                default: Some("2".into())
            },
            ArgDecl {
                key: "C".into(),
                default: Some("".into())
            },
        ])
    );
    assert!(err("FROM scratch\nENV A").ends_with("ENV must have two arguments"));
    assert!(err("FROM scratch\nENV").ends_with("ENV requires at least one argument"));
    assert!(err("FROM scratch\nENV =x").ends_with("ENV names can not be blank"));
    assert!(err("FROM scratch\nLABEL a=b c").contains("Syntax error - can't find = in \"c\""));
    assert!(err("FROM scratch\nARG =x").ends_with("ARG names can not be blank"));
    assert!(err("FROM scratch\nARG").ends_with("ARG requires at least one argument"));
}

#[test]
fn single_argument_instructions() {
    assert_eq!(one("WORKDIR /a b"), InstructionKind::Workdir("/a b".into()));
    assert_eq!(one("USER app:app"), InstructionKind::User("app:app".into()));
    assert_eq!(
        one("STOPSIGNAL SIGTERM"),
        InstructionKind::StopSignal("SIGTERM".into())
    );
    assert_eq!(
        one("MAINTAINER Jane <j@example.org>"),
        InstructionKind::Maintainer("Jane <j@example.org>".into())
    );
    assert!(err("FROM scratch\nWORKDIR").ends_with("WORKDIR requires exactly one argument"));
    assert!(err("FROM scratch\nUSER --x=1 u").ends_with("unknown flag: --x"));
}

#[test]
fn list_instructions() {
    assert_eq!(
        one("EXPOSE 8080 80/udp 3001"),
        InstructionKind::Expose(s(&["3001", "80/udp", "8080"]))
    );
    assert_eq!(
        one("VOLUME /a /b"),
        InstructionKind::Volume(s(&["/a", "/b"]))
    );
    assert_eq!(
        one("VOLUME [\"/a b\", \"/c\"]"),
        InstructionKind::Volume(s(&["/a b", "/c"]))
    );
    assert!(
        err("FROM scratch\nVOLUME [\"\"]").ends_with("VOLUME specified can not be an empty string")
    );
    assert!(err("FROM scratch\nEXPOSE").ends_with("EXPOSE requires at least one argument"));
}

#[test]
fn cmd_entrypoint_shell() {
    let cl = |args: &[&str], shell: bool| CommandLine {
        args: s(args),
        prepend_shell: shell,
        heredocs: vec![],
    };
    assert_eq!(
        one("CMD [\"cat\", \"/app/greet.txt\"]"),
        InstructionKind::Cmd(cl(&["cat", "/app/greet.txt"], false))
    );
    assert_eq!(
        one("CMD node app.js"),
        InstructionKind::Cmd(cl(&["node app.js"], true))
    );
    assert_eq!(one("CMD"), InstructionKind::Cmd(cl(&[], true)));
    assert_eq!(
        one("ENTRYPOINT []"),
        InstructionKind::Entrypoint(cl(&[], false))
    );
    assert_eq!(
        one("SHELL [\"/bin/bash\", \"-c\"]"),
        InstructionKind::Shell(s(&["/bin/bash", "-c"]))
    );
    assert!(
        err("FROM scratch\nSHELL /bin/bash -c")
            .ends_with("SHELL requires the arguments to be in JSON form")
    );
    assert!(err("FROM scratch\nSHELL []").ends_with("SHELL requires at least one argument"));
}

#[test]
fn healthcheck() {
    assert_eq!(
        one("HEALTHCHECK NONE"),
        InstructionKind::Healthcheck(Healthcheck::None)
    );
    match one(
        "HEALTHCHECK --interval=30s --timeout=3s --start-period=1m --retries=3 CMD curl -f http://localhost/ || exit 1",
    ) {
        InstructionKind::Healthcheck(Healthcheck::Check {
            test,
            interval,
            timeout,
            start_period,
            start_interval,
            retries,
        }) => {
            assert_eq!(test, ["CMD-SHELL", "curl -f http://localhost/ || exit 1"]);
            assert_eq!(
                (interval, timeout, start_period, start_interval, retries),
                (
                    Duration::from_secs(30),
                    Duration::from_secs(3),
                    Duration::from_secs(60),
                    Duration::ZERO,
                    3
                )
            );
        }
        k => panic!("{k:?}"),
    }
    match one("HEALTHCHECK CMD [\"/bin/check\", \"-q\"]") {
        InstructionKind::Healthcheck(Healthcheck::Check { test, .. }) => {
            assert_eq!(test, ["CMD", "/bin/check", "-q"])
        }
        k => panic!("{k:?}"),
    }
    assert!(
        err("FROM scratch\nHEALTHCHECK NONE x").ends_with("HEALTHCHECK NONE takes no arguments")
    );
    assert!(
        err("FROM scratch\nHEALTHCHECK CMD").ends_with("Missing command after HEALTHCHECK CMD")
    );
    assert!(
        err("FROM scratch\nHEALTHCHECK RUN x")
            .ends_with("Unknown type \"RUN\" in HEALTHCHECK (try CMD)")
    );
    assert!(
        err("FROM scratch\nHEALTHCHECK --interval=1us CMD x")
            .ends_with("Interval \"interval\" cannot be less than 1ms")
    );
    assert!(
        err("FROM scratch\nHEALTHCHECK --retries=-1 CMD x")
            .ends_with("--retries cannot be negative (-1)")
    );
    assert!(
        err("FROM scratch\nHEALTHCHECK --timeout=5 CMD x")
            .ends_with("time: missing unit in duration \"5\"")
    );
}

#[test]
fn onbuild() {
    match one("ONBUILD RUN --mount=type=cache,target=/c make") {
        InstructionKind::Onbuild(o) => {
            assert_eq!(o.expression, "RUN --mount=type=cache,target=/c make");
            match &o.trigger.kind {
                InstructionKind::Run(r) => assert_eq!(
                    (r.command.args.as_slice(), r.mounts.len()),
                    (&s(&["make"])[..], 1)
                ),
                k => panic!("{k:?}"),
            }
        }
        k => panic!("{k:?}"),
    }
    match one("onbuild COPY <<EOF /x\nbody\nEOF") {
        InstructionKind::Onbuild(o) => {
            assert_eq!(o.expression, "COPY <<EOF /x\nbody\nEOF");
            match &o.trigger.kind {
                InstructionKind::Copy(c) => assert_eq!(c.sources.inline[0].data, "body\n"),
                k => panic!("{k:?}"),
            }
        }
        k => panic!("{k:?}"),
    }
    assert!(
        err("FROM scratch\nONBUILD ONBUILD RUN x")
            .ends_with("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
    );
    assert!(
        err("FROM scratch\nONBUILD FROM x").ends_with("FROM isn't allowed as an ONBUILD trigger")
    );
    assert!(
        err("FROM scratch\nONBUILD maintainer x")
            .ends_with("MAINTAINER isn't allowed as an ONBUILD trigger")
    );
    assert!(err("FROM scratch\nONBUILD").ends_with("ONBUILD requires at least one argument"));
}

#[test]
fn from_errors() {
    assert!(err("FROM").ends_with("FROM requires either one or three arguments"));
    assert!(err("FROM a b").ends_with("FROM requires either one or three arguments"));
    assert!(err("FROM a AS 1x").ends_with(
        "invalid name for build stage: \"1x\", name can't start with a number or contain symbols"
    ));
    assert!(
        err("FROM --plaform=linux/amd64 a")
            .ends_with("unknown flag: --plaform (did you mean platform?)")
    );
}

#[test]
fn file_level_errors_name_file_and_line() {
    assert_eq!(
        err("FROM scratch\nRUN x\nCOPPY a b\n"),
        "Containerfile: dockerfile parse error on line 3: unknown instruction: COPPY (did you mean COPY?)"
    );
    assert_eq!(
        err("FROM scratch\nfrobnicate bar\n"),
        "Containerfile: dockerfile parse error on line 2: unknown instruction: frobnicate"
    );
    assert_eq!(
        err("RUN x\nFROM scratch\n"),
        "Containerfile: dockerfile parse error on line 1: no build stage in current context"
    );
    assert_eq!(
        err("# only comments\n\n   \n"),
        "Containerfile: file with no instructions"
    );
    assert_eq!(err(""), "Containerfile: file with no instructions");
    assert_eq!(
        err("ARG A=1\n"),
        "Containerfile: dockerfile contains no stages to build"
    );
}

#[test]
fn run_argv() {
    let sh = s(&["/bin/sh", "-c"]);
    assert_eq!(
        run("RUN echo hi").argv(&sh).unwrap().args,
        ["/bin/sh", "-c", "echo hi"]
    );
    assert_eq!(
        run("RUN [\"echo\", \"hi\"]").argv(&sh).unwrap().args,
        ["echo", "hi"]
    );
    let a = run("RUN <<EOF\necho a\necho b\nEOF").argv(&sh).unwrap();
    assert_eq!(
        (a.args.as_slice(), a.script),
        (&s(&["/bin/sh", "-c", "echo a\necho b\n"])[..], None)
    );
    let a = run("RUN <<-EOF\n\techo a\n\tEOF").argv(&sh).unwrap();
    assert_eq!(a.args[2], "echo a\n");
    let a = run("RUN <<script.py\n#!/usr/bin/env python3\nprint(1)\nscript.py")
        .argv(&sh)
        .unwrap();
    assert_eq!(a.args, ["/bin/sh", "-c", "/dev/pipes/script.py"]);
    assert_eq!(
        a.script,
        Some((
            "script.py".to_string(),
            "#!/usr/bin/env python3\nprint(1)\n".to_string()
        ))
    );
    let a = run("RUN python3 <<EOF > out\nprint(1)\nEOF")
        .argv(&sh)
        .unwrap();
    assert_eq!(a.args[2], "python3 <<EOF > out\nprint(1)\nEOF");
}

#[test]
fn unsupported_features_are_named() {
    let c = ok("FROM scratch\nCOPY --parents a/b /x\n");
    assert_eq!(
        c.check_supported().unwrap_err().to_string(),
        "Containerfile: dockerfile parse error on line 2: COPY --parents is not supported"
    );
    let c = ok("FROM scratch\nONBUILD RUN --mount=type=ssh x\n");
    assert!(
        c.check_supported()
            .unwrap_err()
            .to_string()
            .ends_with("RUN --mount=type=ssh is not supported")
    );
    let c =
        ok("FROM scratch\nRUN --mount=type=cache,target=/c --network=none x\nCOPY --link a b\n");
    c.check_supported().unwrap();
}

#[test]
fn argument_counts() {
    for cmd in ["MAINTAINER", "WORKDIR", "USER", "STOPSIGNAL"] {
        assert!(
            err(&format!("FROM x\n{cmd}\n"))
                .ends_with(&format!("{cmd} requires exactly one argument")),
            "{cmd}"
        );
    }
    for cmd in [
        "ENV",
        "LABEL",
        "ONBUILD",
        "HEALTHCHECK",
        "EXPOSE",
        "VOLUME",
        "ARG",
        "SHELL",
    ] {
        assert!(
            err(&format!("FROM x\n{cmd}\n"))
                .ends_with(&format!("{cmd} requires at least one argument")),
            "{cmd}"
        );
    }
    for cmd in ["ADD", "COPY"] {
        assert!(err(&format!("FROM x\n{cmd} arg1\n")).ends_with(&format!(
            "{cmd} requires at least two arguments, but only one was provided. Destination could not be determined"
        )));
    }
    assert!(err("FROM x\nMAINTAINER --boo joe@example.com\n").ends_with("unknown flag: --boo"));
    // STOPSIGNAL's flags are not looked at, as in BuildKit.
    assert_eq!(
        one("STOPSIGNAL --whatever SIGKILL"),
        InstructionKind::StopSignal("SIGKILL".into())
    );
}
