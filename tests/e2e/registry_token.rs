//! Bearer-token auth: a `docker-registry` that sends clients to a token server (a realm on
//! 127.0.0.1, tokens signed with a key the registry trusts). Anonymous pulls get a token
//! without access and fail as Podman's do; after `login` pull and push take tokens with the
//! scopes they ask for; a wrong password is refused by the token server.

use peapod_tests::registry::RegistryOptions;

use super::registry_util::{RegEnv, images, skopeo_config_digest_with, tools_missing};

/// The sha256 of the image's config as skopeo reads it with carol's credentials.
fn config_digest(image: &str) -> String {
    skopeo_config_digest_with(image, &["--creds", "carol:t0ken-pass"])
}

#[test]
fn bearer_token_registry_pull_push_login() {
    if tools_missing() {
        return;
    }
    let mut e = RegEnv::new("reg-token");
    let r = e.start(&RegistryOptions {
        token: Some(("carol".into(), "t0ken-pass".into())),
        ..Default::default()
    });
    let addr = e.reg(r).addr.clone();
    peapod_tests::registry::skopeo_copy(
        &images().layout,
        "single",
        &e.reg(r).docker("tok/bb"),
        &["--dest-creds", "carol:t0ken-pass"],
    )
    .unwrap();
    let img = format!("{addr}/tok/bb");

    // Anonymous: the token server answers, but grants nothing.
    e.run(&["pull", "--tls-verify=false", &img])
        .assert_error(125, &["authentication required"]);
    let token = e.reg(r).token.as_ref().unwrap();
    let anon = token.requests();
    assert!(
        anon.iter().any(|q| q.account.is_none() && q.status == 200),
        "the anonymous pull asked the token server: {anon:?}"
    );
    assert!(
        e.image_ids().is_empty(),
        "nothing stored: {:?}",
        e.image_ids()
    );

    // A wrong password is the token server's 401, said as Podman says it.
    e.run(&[
        "login",
        "--tls-verify=false",
        "-u",
        "carol",
        "-p",
        "wrong",
        &addr,
    ])
    .assert_error(
        125,
        &[&format!(
            "Error: logging into \"{addr}\": invalid username/password"
        )],
    );
    let out = e.ok(&[
        "login",
        "--tls-verify=false",
        "-u",
        "carol",
        "-p",
        "t0ken-pass",
        &addr,
    ]);
    assert_eq!(out, "Login Succeeded!\n");

    // Pull with the stored credentials: the id is the config's digest, and the token
    // server saw carol ask to pull tok/bb.
    let id = e.ok(&["pull", "-q", "--tls-verify=false", &img]);
    let config = config_digest(&format!("docker://{img}"));
    assert_eq!(id.trim(), config, "pulled id is the config digest");
    let reqs = token.requests();
    assert!(
        reqs.iter().any(|q| q.account.as_deref() == Some("carol")
            && q.status == 200
            && q.scopes.iter().any(|s| s == "repository:tok/bb:pull")),
        "carol's pull took a token for repository:tok/bb:pull: {reqs:?}"
    );

    // Push under a new name: a push+pull scope, and the registry has it afterwards.
    let pushed = format!("{addr}/tok/again:v1");
    e.ok(&["tag", &img, &pushed]);
    e.ok(&["push", "-q", "--tls-verify=false", &pushed]);
    let reqs = token.requests();
    assert!(
        reqs.iter().any(|q| q.account.as_deref() == Some("carol")
            && q.scopes
                .iter()
                .any(|s| s.starts_with("repository:tok/again:") && s.contains("push"))),
        "the push asked for a push scope: {reqs:?}"
    );
    let back = config_digest(&format!("docker://{pushed}"));
    assert_eq!(back, config, "the pushed image is the same image");

    // --creds on the command line works without a login.
    e.ok(&["logout", &addr]);
    e.ok(&["rmi", "-a"]);
    let id2 = e.ok(&[
        "pull",
        "-q",
        "--tls-verify=false",
        "--creds",
        "carol:t0ken-pass",
        &pushed,
    ]);
    assert_eq!(id2.trim(), config);
}
