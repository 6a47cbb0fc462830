//! `help`, `--help` and usage errors as Podman's cobra prints them, and shell completion
//! (`completion bash|zsh|fish|powershell` driving the hidden `__complete`), as a user meets
//! them: reading help, mistyping, and pressing TAB in bash.

use crate::util::{self, TestEnv};

#[test]
fn help_prints_podmans_sections() {
    let env = TestEnv::new("help_sections");
    let root = env.ok(&["--help"]);
    assert!(
        root.starts_with(
            "Manage pods, containers and images\n\nUsage:\n  peapod [options] [command]\n"
        ),
        "{root}"
    );
    assert!(root.contains("\nAvailable Commands:\n"), "{root}");
    assert!(
        root.contains("\n  help        Help about any command\n"),
        "{root}"
    );
    assert!(root.contains("\n      --root string "), "{root}");
    // `help X` and `X --help` are the same text.
    assert_eq!(
        env.ok(&["help", "container"]),
        env.ok(&["container", "--help"])
    );
    let ps = env.ok(&["ps", "--help"]);
    assert!(ps.contains("Usage:\n  peapod ps [options]\n"), "{ps}");
    assert!(ps.contains("\n  -a, --all "), "{ps}");
    assert!(
        !ps.contains("--root"),
        "global flags are listed only at the top: {ps}"
    );
    let rm = env.ok(&["container", "rm", "--help"]);
    assert!(
        rm.contains("Usage:\n  peapod container rm [options] [CONTAINER...]\n"),
        "{rm}"
    );
    let ls = env.ok(&["container", "ps", "--help"]);
    assert!(ls.contains("\nAliases:\n  ps, ls, list\n"), "{ls}");
}

#[test]
fn the_program_is_named_as_it_was_invoked() {
    let env = TestEnv::new("help_argv0");
    let link = env.dir.join("podman");
    std::os::unix::fs::symlink(&env.peapod, &link).unwrap();
    let out = util::PeapodCmd::program(&link, &["ps", "--help"])
        .output()
        .success();
    assert!(out.contains("Usage:\n  podman ps [options]\n"), "{out}");
}

#[test]
fn usage_errors_are_cobras() {
    let env = TestEnv::new("help_errors");
    let o = env.run(&["container"]).assert_code(125);
    assert!(
        o.stdout.contains("Usage:\n  peapod container [command]"),
        "{o:?}"
    );
    assert_eq!(
        o.stderr,
        "Error: missing command 'peapod container COMMAND'\n"
    );
    env.run(&["container", "nosuch"])
        .assert_error(125, &["unrecognized command `peapod container nosuch`"]);
    let o = env.run(&["bad", "--invalid"]).assert_code(125);
    assert_eq!(
        o.stderr,
        "Error: unknown flag: --invalid\nSee 'peapod --help'\n"
    );
    let o = env.run(&["run", "-h"]).assert_code(125);
    assert_eq!(
        o.stderr,
        "Error: flag needs an argument: 'h' in -h\nSee 'peapod run --help'\n"
    );
    env.run(&["ps", "invalid-arg"])
        .assert_error(125, &["peapod ps takes no arguments"]);
    env.run(&["attach", "a", "b"])
        .assert_error(125, &["accepts at most 1 arg(s), received 2"]);
    env.run(&["rm", "--all", "--latest"])
        .assert_error(125, &["--all and --latest cannot be used together"]);
    env.run(&["network", "reload", "-l", "nosuch"])
        .assert_error(125, &["--latest and containers cannot be used together"]);
}

/// What bash's TAB offers for `line` (the cursor at its end), through the script that
/// `peapod completion bash` prints.
fn bash_tab(env: &TestEnv, script: &std::path::Path, line: &str) -> Vec<String> {
    let program = format!(
        "source {}; COMP_LINE={line:?}; COMP_POINT=${{#COMP_LINE}}; __peapod_complete; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display()
    );
    let out = util::PeapodCmd::program("bash", &["-c", &program]).output();
    assert_eq!(out.code(), 0, "{out:?}");
    let _ = env;
    util::lines(&out.stdout)
}

#[test]
fn bash_completes_commands_flags_and_object_names() {
    let env = TestEnv::new("completion_bash");
    env.import_busybox();
    let ctr = util::name("tabctr");
    env.ok(&["create", "--name", &ctr, "localhost/busybox", "true"]);
    let vol = util::name("tabvol");
    env.ok(&["volume", "create", &vol]);
    let script = env.dir.join("peapod.bash");
    env.ok(&["completion", "bash", "-f", script.to_str().unwrap()]);
    let cmd = format!(
        "{} --root {} --runroot {}",
        env.peapod.display(),
        env.root.display(),
        env.runroot.display()
    );
    assert_eq!(
        bash_tab(&env, &script, &format!("{cmd} con")),
        ["container"]
    );
    assert!(bash_tab(&env, &script, &format!("{cmd} rm ")).contains(&ctr));
    assert_eq!(
        bash_tab(&env, &script, &format!("{cmd} rm {}", &ctr[..6])),
        std::slice::from_ref(&ctr)
    );
    assert!(bash_tab(&env, &script, &format!("{cmd} volume rm ")).contains(&vol));
    assert!(
        bash_tab(&env, &script, &format!("{cmd} rmi localhost/b"))
            .contains(&"localhost/busybox:latest".to_string())
    );
    assert!(bash_tab(&env, &script, &format!("{cmd} ps --a")).contains(&"--all".to_string()));
    env.ok(&["rm", &ctr]);
    assert!(!bash_tab(&env, &script, &format!("{cmd} rm ")).contains(&ctr));
    env.ok(&["volume", "rm", &vol]);
}

#[test]
fn complete_request_speaks_cobras_protocol() {
    let env = TestEnv::new("completion_proto");
    // As cobra's: the request command comes first, the user's words (global flags too) after.
    let root = env.root.to_str().unwrap();
    let runroot = env.runroot.to_str().unwrap();
    let ask = |words: &[&str]| {
        let mut args = vec![words[0], "--root", root, "--runroot", runroot];
        args.extend(&words[1..]);
        util::PeapodCmd::program(&env.peapod, &args).output()
    };
    let o = ask(&["__complete", "network", "rm", ""]);
    assert_eq!(o.code(), 0, "{o:?}");
    assert!(
        o.stdout.lines().any(|l| l == "podman"),
        "the default network: {o:?}"
    );
    assert!(o.stdout.ends_with("\n:4\n"), "{o:?}");
    assert_eq!(
        o.stderr,
        "Completion ended with directive: ShellCompDirectiveNoFileComp\n"
    );
    // A path argument leaves it to the shell's file completion.
    let o = ask(&["__completeNoDesc", "build", ""]);
    assert_eq!(o.stdout, ":0\n", "{o:?}");
    let o = ask(&["__complete", "vol"]);
    assert!(o.stdout.starts_with("volume\tManage volumes\n"), "{o:?}");
}

#[test]
fn completion_scripts_for_each_shell() {
    let env = TestEnv::new("completion_shells");
    assert!(
        env.ok(&["completion", "zsh"])
            .starts_with("#compdef peapod\n")
    );
    assert!(
        env.ok(&["completion", "fish"])
            .contains("complete -c peapod ")
    );
    assert!(
        env.ok(&["completion", "powershell"])
            .contains("Register-ArgumentCompleter")
    );
    env.run(&["completion", "tcsh"]).assert_error(
        125,
        &["invalid argument \"tcsh\" for \"peapod completion\""],
    );
}

/// TAB after `run IMAGE` offers paths in the image, and `cp CONTAINER:` paths in the
/// container, as Podman (which mounts them for the request): `..` stays inside, nothing
/// stays mounted.
#[test]
fn paths_in_images_and_containers_complete() {
    let env = TestEnv::new("completion_paths");
    env.import_busybox();
    let ctr = util::name("pathctr");
    env.ok(&[
        "run",
        "--name",
        &ctr,
        util::IMG,
        "sh",
        "-c",
        "touch /tmp/made1 /tmp/made2 && mkdir /emptydir",
    ]);
    let root = env.root.to_str().unwrap();
    let runroot = env.runroot.to_str().unwrap();
    let ask = |words: &[&str]| {
        let mut args = vec!["__completeNoDesc", "--root", root, "--runroot", runroot];
        args.extend(words);
        let o = util::PeapodCmd::program(&env.peapod, &args).output();
        assert_eq!(o.code(), 0, "{o:?}");
        util::lines(&o.stdout)
    };
    for cmd in ["create", "run"] {
        let top = ask(&[cmd, util::IMG, ""]);
        for d in ["/bin/", "/etc/", "/tmp/"] {
            assert!(top.contains(&d.to_string()), "{cmd}: {top:?}");
        }
        assert_eq!(top.last().map(String::as_str), Some(":2"), "{top:?}");
        assert_eq!(ask(&[cmd, util::IMG, "/etc/pass"]), ["/etc/passwd", ":0"]);
        let up = ask(&[cmd, "--rm", util::IMG, "../../"]);
        assert!(up.contains(&"../../etc/".to_string()), "{up:?}");
    }
    let all = ask(&["cp", ""]);
    assert!(all.contains(&format!("{ctr}:")), "{all:?}");
    assert_eq!(all.last().map(String::as_str), Some(":2"));
    assert_eq!(
        ask(&["cp", &format!("{ctr}:/tmp/made")]),
        [
            format!("{ctr}:/tmp/made1"),
            format!("{ctr}:/tmp/made2"),
            ":2".into()
        ]
    );
    assert_eq!(
        ask(&["cp", &format!("{ctr}:/emptydir")]),
        [format!("{ctr}:/emptydir/"), ":2".into()]
    );
    // A host path: the shell's own completion.
    assert_eq!(ask(&["cp", "/no-such-ctr-path"]), [":0"]);
    env.assert_no_mounts();
    env.ok(&["rm", &ctr]);
}
