//! `rm --force` of an object that does not exist: Podman prints nothing and exits 0 for
//! images, volumes and networks (`--force` implies ignoring it), and exits 1 naming it
//! without `--force`.

use super::util::{TestEnv, name};

#[test]
fn rm_force_ignores_what_does_not_exist() {
    let env = TestEnv::new("rm-force");
    let bogus = name("bogus");
    env.run(&["image", "rm", &bogus])
        .assert_error(1, &[&format!("Error: {bogus}: image not known")]);
    env.run(&["volume", "rm", &bogus]).assert_error(
        1,
        &[&format!(
            "Error: no volume with name \"{bogus}\" found: no such volume"
        )],
    );
    env.run(&["network", "rm", &bogus]).assert_error(
        1,
        &[&format!(
            "Error: unable to find network with name or ID {bogus}: network not found"
        )],
    );
    for group in ["image", "volume", "network"] {
        let out = env.run(&[group, "rm", "--force", &bogus]);
        assert_eq!(
            (out.code(), out.stdout.as_str(), out.stderr.as_str()),
            (0, "", ""),
            "{group} rm --force {bogus}"
        );
    }
    // --force still removes what exists, and says so.
    let vol = name("vol");
    env.ok(&["volume", "create", &vol]);
    assert_eq!(
        env.ok(&["volume", "rm", "--force", &vol, &bogus]),
        format!("{vol}\n")
    );
}
