use super::*;
use clap::CommandFactory;

fn tree() -> Command {
    let mut root = crate::cli::Cli::command();
    root.build();
    root
}

fn argv(s: &str) -> Vec<String> {
    s.split_whitespace().map(String::from).collect()
}

#[test]
fn path_skips_global_flags_and_their_values() {
    let root = tree();
    let (path, i) = command_path(&root, &argv("podman --root /x container rm -f c1"));
    let names: Vec<&str> = path.iter().map(|c| c.get_name()).collect();
    assert_eq!(names, ["peapod", "container", "rm"]);
    // The first word that is neither a flag nor a command of the path.
    assert_eq!(i, 6);
}

#[test]
fn usage_names_arguments_in_upper_case() {
    let root = tree();
    let (path, _) = command_path(&root, &argv("podman ps"));
    assert_eq!(usage_line("podman", &path), "podman ps [options]");
    let (path, _) = command_path(&root, &argv("podman container"));
    assert_eq!(usage_line("podman", &path), "podman container [command]");
    let (path, _) = command_path(&root, &argv("podman"));
    assert_eq!(usage_line("podman", &path), "podman [options] [command]");
}

#[test]
fn help_lists_commands_and_options_as_cobra() {
    let root = tree();
    let (path, _) = command_path(&root, &argv("podman"));
    let h = help("podman", &path);
    assert!(h.starts_with(
        "Manage pods, containers and images\n\nUsage:\n  podman [options] [command]\n"
    ));
    assert!(h.contains("\nAvailable Commands:\n"), "{h}");
    assert!(
        h.contains("\n  help        Help about any command\n"),
        "{h}"
    );
    assert!(h.contains("\nOptions:\n"), "{h}");
    let (path, _) = command_path(&root, &argv("podman ps"));
    let h = help("podman", &path);
    assert!(h.contains("\n  -a, --all "), "{h}");
    assert!(!h.contains("--root"), "inherited flags are not listed: {h}");
}

#[test]
fn program_name_is_argv0s_base_name() {
    assert_eq!(program_name(&argv("/usr/bin/podman ps")), "podman");
    assert_eq!(program_name(&argv("peapod ps")), "peapod");
}

#[test]
fn unknown_flags_and_extra_arguments_get_cobras_words() {
    let root = tree();
    let run = |line: &str| {
        let args = argv(line);
        let e = crate::cli::Cli::try_parse_from(&args).unwrap_err();
        clap_error(&root, &args, &e).expect("a cobra message")
    };
    use clap::Parser;
    let o = run("podman bad --invalid");
    assert_eq!(
        o.stderr,
        "Error: unknown flag: --invalid\nSee 'podman --help'\n"
    );
    assert_eq!(o.code, 125);
    let o = run("podman run -h");
    assert_eq!(
        o.stderr,
        "Error: flag needs an argument: 'h' in -h\nSee 'podman run --help'\n"
    );
    let o = run("podman ps invalid-arg");
    assert_eq!(o.stderr, "Error: podman ps takes no arguments\n");
    let o = run("podman container NoSuchCommand");
    assert!(
        o.stderr
            .starts_with("Error: unrecognized command `podman container NoSuchCommand`"),
        "{}",
        o.stderr
    );
    let o = run("podman container");
    assert!(o.stdout.contains("Usage:"));
    assert_eq!(
        o.stderr,
        "Error: missing command 'podman container COMMAND'\n"
    );
}
