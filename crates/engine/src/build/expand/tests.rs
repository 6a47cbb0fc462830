//! Scoping tests: which variables each instruction sees, and which instructions expand.

use super::*;
use crate::build::parse::{Containerfile, Instruction, InstructionKind, parse};

fn cf(text: &str) -> Containerfile {
    parse("Containerfile", text).unwrap()
}

fn build_args(v: &[(&str, &str)]) -> BuildArgs {
    BuildArgs::new(v.iter().map(|(k, val)| (k.to_string(), val.to_string())))
}

fn amd64() -> Platform {
    Platform {
        os: "linux".into(),
        arch: "amd64".into(),
        variant: None,
    }
}

fn global(cf: &Containerfile, args: &BuildArgs) -> GlobalArgs {
    GlobalArgs::resolve(cf, builtin_args(&amd64(), &amd64(), None, args), args).unwrap()
}

/// Run the first stage's instructions through a scope; return the expanded instructions.
fn stage(
    cf: &Containerfile,
    args: &BuildArgs,
    base_env: &[&str],
) -> (StageScope, Vec<Instruction>) {
    let g = global(cf, args);
    let env: Vec<String> = base_env.iter().map(|s| s.to_string()).collect();
    let mut scope = StageScope::new(cf, &env);
    let mut out = Vec::new();
    for i in &cf.stages[0].instructions {
        match &i.kind {
            InstructionKind::Arg(decls) => scope.declare(decls, i.line, &g, args).unwrap(),
            _ => {
                let e = scope.expand(i).unwrap();
                scope.apply(&e);
                out.push(e);
            }
        }
    }
    (scope, out)
}

#[test]
fn global_scope_feeds_from_lines() {
    let c = cf(
        "ARG REG=docker.io\nARG IMG=${REG}/library/alpine\nARG TAG\n\
                FROM ${IMG}:${TAG:-3.20} AS one\nFROM --platform=$BUILDPLATFORM $IMG\nFROM ${NOPE}\n",
    );
    let g = global(&c, &BuildArgs::default());
    assert_eq!(
        g.expand_from(&c.stages[0]).unwrap(),
        ("docker.io/library/alpine:3.20".to_string(), None)
    );
    assert_eq!(
        g.expand_from(&c.stages[1]).unwrap(),
        (
            "docker.io/library/alpine".to_string(),
            Some("linux/amd64".to_string())
        )
    );
    assert_eq!(
        g.expand_from(&c.stages[2]).unwrap_err().to_string(),
        "Containerfile:6: base name (${NOPE}) should not be blank"
    );
    let g = global(
        &c,
        &build_args(&[("REG", "localhost:5000"), ("TAG", "edge")]),
    );
    assert_eq!(
        g.expand_from(&c.stages[0]).unwrap().0,
        "localhost:5000/library/alpine:edge"
    );
    // A build arg overrides an automatic arg too.
    let g = global(&c, &build_args(&[("BUILDPLATFORM", "linux/arm64")]));
    assert_eq!(
        g.expand_from(&c.stages[1]).unwrap().1.as_deref(),
        Some("linux/arm64")
    );
}

#[test]
fn automatic_args() {
    let arm = Platform {
        os: "linux".into(),
        arch: "arm64".into(),
        variant: Some("v8".into()),
    };
    let v = builtin_args(&amd64(), &arm, Some("builder"), &BuildArgs::default());
    assert_eq!(v.get("BUILDPLATFORM"), Some("linux/amd64"));
    assert_eq!(v.get("TARGETPLATFORM"), Some("linux/arm64/v8"));
    assert_eq!(v.get("TARGETVARIANT"), Some("v8"));
    assert_eq!(v.get("BUILDVARIANT"), Some(""));
    assert_eq!(v.get("TARGETSTAGE"), Some("builder"));
    assert_eq!(
        builtin_args(&amd64(), &amd64(), None, &BuildArgs::default()).get("TARGETSTAGE"),
        Some("default")
    );
}

#[test]
fn global_args_need_redeclaring_in_a_stage() {
    let c = cf(
        "ARG V=global\nARG W=w\nFROM scratch\nWORKDIR /$V\nARG V\nWORKDIR /$V/$W\nARG TARGETARCH\nUSER $TARGETARCH\n",
    );
    let (_, out) = stage(&c, &BuildArgs::default(), &[]);
    assert_eq!(
        out[0].kind,
        InstructionKind::Workdir("/".into()),
        "not declared yet"
    );
    assert_eq!(
        out[1].kind,
        InstructionKind::Workdir("/global/".into()),
        "W never declared"
    );
    assert_eq!(out[2].kind, InstructionKind::User("amd64".into()));
    let (_, out) = stage(&c, &build_args(&[("V", "given")]), &[]);
    assert_eq!(out[1].kind, InstructionKind::Workdir("/given/".into()));
}

#[test]
fn arg_values() {
    let c = cf(
        "FROM scratch\nENV BASE=/opt\nARG DIR=$BASE/app NAME EMPTY=\nWORKDIR $DIR/${NAME:-none}/${EMPTY:-e}\n",
    );
    let (scope, out) = stage(&c, &BuildArgs::default(), &[]);
    assert_eq!(
        out[1].kind,
        InstructionKind::Workdir("/opt/app/none/e".into())
    );
    assert_eq!(scope.arg_keys(), ["DIR", "EMPTY"]);
    assert_eq!(scope.history_args(), ["DIR=/opt/app", "EMPTY="]);
    // ARGs are variables for words and RUN, never in the image config.
    assert_eq!(scope.config_env().to_env_list(), ["BASE=/opt"]);
    assert!(
        scope
            .run_env(&BuildArgs::default())
            .contains(&"DIR=/opt/app".to_string())
    );
    let (scope, out) = stage(&c, &build_args(&[("NAME", "n"), ("DIR", "/d")]), &[]);
    assert_eq!(out[1].kind, InstructionKind::Workdir("/d/n/e".into()));
    assert_eq!(scope.history_args(), ["DIR=/d", "EMPTY=", "NAME=n"]);
}

#[test]
fn env_sees_the_values_before_it() {
    let c = cf("FROM scratch\nENV A=0\nENV A=1 B=$A C=\"${A} two\"\nENV D $A and more\n");
    let (scope, out) = stage(&c, &BuildArgs::default(), &["PATH=/usr/bin"]);
    match &out[1].kind {
        InstructionKind::Env(kvs) => {
            let got: Vec<(&str, &str)> = kvs
                .iter()
                .map(|k| (k.key.as_str(), k.value.as_str()))
                .collect();
            assert_eq!(got, [("A", "1"), ("B", "0"), ("C", "0 two")]);
        }
        k => panic!("{k:?}"),
    }
    match &out[2].kind {
        InstructionKind::Env(kvs) => assert_eq!(kvs[0].value, "1 and more"),
        k => panic!("{k:?}"),
    }
    assert_eq!(
        scope.config_env().to_env_list(),
        ["PATH=/usr/bin", "A=1", "B=0", "C=0 two", "D=1 and more"]
    );
}

#[test]
fn later_write_wins_but_history_prefers_env() {
    let c = cf("FROM scratch\nENV X=fromenv\nARG X=fromarg\nUSER $X\n");
    let (scope, out) = stage(&c, &BuildArgs::default(), &[]);
    assert_eq!(out[1].kind, InstructionKind::User("fromarg".into()));
    assert_eq!(scope.config_env().get("X"), Some("fromenv"));
    assert_eq!(scope.history_args(), ["X=fromenv"]);
}

#[test]
fn which_instructions_expand() {
    let c = cf("FROM scratch\nARG V=val\nARG P=\"80 443/udp\"\n\
        COPY --from=stage --chown=$V:$V --chmod=755 src/$V /dst/$V/\n\
        ADD --chown=${V} --checksum=sha256:$V http://x/$V.tgz /$V\n\
        LABEL $V=\"$V x\"\n\
        EXPOSE $P\n\
        VOLUME /$V [\"/b\"]\n\
        VOLUME [\"/$V\"]\n\
        STOPSIGNAL SIG$V\n\
        RUN --mount=type=cache,target=/c/$V,id=$V echo $V\n\
        CMD echo $V\n\
        ENTRYPOINT [\"$V\"]\n\
        SHELL [\"/bin/$V\"]\n\
        HEALTHCHECK CMD $V\n\
        ONBUILD RUN $V\n\
        MAINTAINER $V\n");
    let (_, out) = stage(&c, &BuildArgs::default(), &[]);
    match &out[0].kind {
        InstructionKind::Copy(cp) => {
            assert_eq!(cp.from.as_deref(), Some("stage"));
            assert_eq!(cp.chown.as_deref(), Some("val:val"));
            assert_eq!(cp.sources.paths, ["src/val"]);
            assert_eq!(cp.sources.dest, "/dst/val/");
        }
        k => panic!("{k:?}"),
    }
    match &out[1].kind {
        InstructionKind::Add(a) => {
            assert_eq!(
                (a.chown.as_deref(), a.checksum.as_deref()),
                (Some("val"), Some("sha256:val"))
            );
            assert_eq!(
                (a.sources.paths.as_slice(), a.sources.dest.as_str()),
                (&["http://x/val.tgz".to_string()][..], "/val")
            );
        }
        k => panic!("{k:?}"),
    }
    match &out[2].kind {
        InstructionKind::Label(kv) => {
            assert_eq!((kv[0].key.as_str(), kv[0].value.as_str()), ("val", "val x"))
        }
        k => panic!("{k:?}"),
    }
    assert_eq!(
        out[3].kind,
        InstructionKind::Expose(vec!["80".into(), "443/udp".into()])
    );
    // Not JSON (two words): each word is expanded, quotes removed.
    assert_eq!(
        out[4].kind,
        InstructionKind::Volume(vec!["/val".into(), "[/b]".into()])
    );
    assert_eq!(out[5].kind, InstructionKind::Volume(vec!["/val".into()]));
    assert_eq!(out[6].kind, InstructionKind::StopSignal("SIGval".into()));
    match &out[7].kind {
        InstructionKind::Run(r) => {
            assert_eq!(
                (r.mounts[0].target.as_deref(), r.mounts[0].id.as_deref()),
                (Some("/c/val"), Some("val"))
            );
            assert_eq!(
                r.command.args,
                ["echo $V"],
                "the shell expands RUN commands"
            );
        }
        k => panic!("{k:?}"),
    }
    // Never expanded: CMD, ENTRYPOINT, SHELL, HEALTHCHECK, ONBUILD, MAINTAINER.
    assert_eq!(out[8..].len(), 6);
    for (i, parsed) in out[8..].iter().zip(&c.stages[0].instructions[10..]) {
        assert_eq!(i, parsed);
    }
}

#[test]
fn a_flag_that_expands_to_nothing_is_unset() {
    let c = cf("FROM scratch\nARG OWNER\nCOPY --chown=$OWNER a b\n");
    let (_, out) = stage(&c, &BuildArgs::default(), &[]);
    match &out[0].kind {
        InstructionKind::Copy(cp) => assert_eq!(cp.chown, None),
        k => panic!("{k:?}"),
    }
}

#[test]
fn heredoc_bodies_expand_unless_quoted() {
    let c = cf(
        "FROM scratch\nARG NAME=world\nCOPY <<EOF <<'RAW' /\nhello $NAME \"q\" \\$NAME\nEOF\nhello $NAME\nRAW\n",
    );
    let (_, out) = stage(&c, &BuildArgs::default(), &[]);
    match &out[0].kind {
        InstructionKind::Copy(cp) => {
            assert_eq!(cp.sources.inline[0].data, "hello world \"q\" $NAME\n");
            assert_eq!(cp.sources.inline[1].data, "hello $NAME\n");
        }
        k => panic!("{k:?}"),
    }
}

#[test]
fn backtick_escape_in_words() {
    let c = cf("# escape=`\nFROM scratch\nENV D=c:\\app\nWORKDIR $D\\`$D\n");
    let (_, out) = stage(&c, &BuildArgs::default(), &[]);
    assert_eq!(out[1].kind, InstructionKind::Workdir("c:\\app\\$D".into()));
}

#[test]
fn proxies() {
    let c = cf("FROM scratch\nARG https_proxy\nRUN x\n");
    let args = build_args(&[
        ("HTTP_PROXY", "http://p:3128"),
        ("https_proxy", "http://s:3128"),
    ]);
    let (scope, _) = stage(&c, &args, &[]);
    let env = scope.run_env(&args);
    assert!(
        env.contains(&"HTTP_PROXY=http://p:3128".to_string()),
        "{env:?}"
    );
    assert!(env.contains(&"https_proxy=http://s:3128".to_string()));
    assert_eq!(
        scope.history_args(),
        ["https_proxy=http://s:3128"],
        "undeclared proxies stay out of the history"
    );
    assert!(unused_build_args(&c, &args).is_empty());
}

#[test]
fn unused_build_args_warning() {
    let c = cf("ARG A\nFROM scratch\nARG B C=1\nONBUILD ARG D\n");
    let args = build_args(&[
        ("A", "1"),
        ("C", "2"),
        ("D", "3"),
        ("ZZ", "4"),
        ("no_proxy", "x"),
        ("B", ""),
    ]);
    let unused = unused_build_args(&c, &args);
    assert_eq!(
        unused,
        ["D", "ZZ"],
        "every name of an ARG line counts, ONBUILD ones do not"
    );
    assert_eq!(
        unused_warning(&unused).unwrap(),
        "[Warning] one or more build args were not consumed: [D ZZ]"
    );
    assert_eq!(unused_warning(&[]), None);
}

#[test]
fn expansion_errors_name_file_and_line() {
    let c = cf("FROM scratch\n\nWORKDIR ${DIR:?must be set}\n");
    let scope = StageScope::new(&c, &[]);
    let err = scope
        .expand(&c.stages[0].instructions[0])
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "Containerfile:3: failed to process \"${DIR:?must be set}\": DIR: must be set"
    );
    let c2 = cf("ARG X=${\nFROM scratch\n");
    let err = GlobalArgs::resolve(&c2, Vars::default(), &BuildArgs::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("Containerfile:1: failed to process \"${\""),
        "{err}"
    );
}

#[test]
fn vars_replace_in_place() {
    let mut v = Vars::from_env_list(&["A=1".into(), "B".into(), "C=x=y".into()]);
    v.set("A", "2");
    v.set("D", "4");
    assert_eq!(v.to_env_list(), ["A=2", "B=", "C=x=y", "D=4"]);
}
