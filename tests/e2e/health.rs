//! Healthchecks without systemd: the monitor runs `healthcheck run` every interval, so the
//! status moves on its own (Podman 4.3 needs systemd timers: podman#19326); `healthcheck
//! run` by hand, `ps` STATUS and `--filter health=`, inspect's `State.Health`,
//! `health_status` events, an image's HEALTHCHECK, `--health-on-failure`, timeouts, bad
//! flags. What Podman prints was measured on podman 4.3.1 here
//! (`../shared/reference/systemd-events-health.md`).

use std::time::Duration;

use crate::util::{IMG, TestEnv, lines, name, wait_until};

fn status(env: &TestEnv, ctr: &str) -> String {
    env.ok(&[
        "ps",
        "-a",
        "--filter",
        &format!("name=^{ctr}$"),
        "--format",
        "{{.Status}}",
    ])
    .trim()
    .to_string()
}

/// The issue's bound: a 1 s interval shows the new status within 3 s.
fn wait_status(env: &TestEnv, ctr: &str, suffix: &str) {
    wait_until(
        &format!("{ctr}'s status to end with {suffix}"),
        Duration::from_secs(3),
        || status(env, ctr).ends_with(suffix),
    );
}

#[test]
fn checks_run_on_their_own_and_move_the_status() {
    let env = TestEnv::new("health-timer");
    env.import_busybox();
    let h = name("h");
    env.ok(&[
        "run",
        "-d",
        "--name",
        &h,
        "--network",
        "none",
        "--health-cmd",
        "test -e /tmp/ok",
        "--health-interval",
        "1s",
        "--health-retries",
        "1",
        IMG,
        "sleep",
        "1000",
    ]);
    // Nothing runs a check by hand here: the monitor's timer does.
    wait_status(&env, &h, "(unhealthy)");
    assert!(status(&env, &h).starts_with("Up "), "{}", status(&env, &h));
    let out = env.run(&["healthcheck", "run", &h]);
    assert_eq!(out.code(), 1, "{out:?}");
    assert_eq!(out.stdout.trim(), "unhealthy");
    assert_eq!(env.inspect(&h, "{{.State.Health.Status}}"), "unhealthy");
    assert_eq!(
        lines(&env.ok(&[
            "ps",
            "--filter",
            "health=unhealthy",
            "--format",
            "{{.Names}}"
        ])),
        [h.as_str()]
    );
    env.ok(&["exec", &h, "touch", "/tmp/ok"]);
    wait_status(&env, &h, "(healthy)");
    let out = env.run(&["healthcheck", "run", &h]);
    assert_eq!((out.code(), out.stdout.as_str()), (0, ""), "{out:?}");
    // Podman 4.3's names for the state: .State.Health, and .State.Healthcheck too.
    assert_eq!(
        env.inspect(
            &h,
            "{{.State.Health.Status}} {{.State.Healthcheck.FailingStreak}}"
        ),
        "healthy 0"
    );
    let log: serde_json::Value =
        serde_json::from_str(&env.inspect(&h, "{{json .State.Health}}")).unwrap();
    let results = log["Log"].as_array().unwrap();
    assert!(!results.is_empty() && results.len() <= 5, "{log}");
    assert_eq!(results.last().unwrap()["ExitCode"], 0);
    assert!(results.iter().any(|r| r["ExitCode"] == 1), "{log}");
    assert_eq!(
        env.inspect(
            &h,
            "{{json .Config.Healthcheck.Test}} {{.Config.Healthcheck.Retries}}"
        ),
        r#"["CMD-SHELL","test -e /tmp/ok"] 1"#
    );
    // Each check's event carries the status it left.
    let events = lines(&env.ok(&[
        "events",
        "--stream=false",
        "--filter",
        "event=health_status",
        "--format",
        "{{.HealthStatus}}",
    ]));
    assert!(events.iter().any(|e| e == "unhealthy"), "{events:?}");
    assert_eq!(
        events.last().map(String::as_str),
        Some("healthy"),
        "{events:?}"
    );
    env.ok(&["rm", "-f", "-t", "0", &h]);
}

#[test]
fn an_image_healthcheck_applies_unless_turned_off() {
    let env = TestEnv::new("health-image");
    env.import_busybox();
    let ctx = env.dir.join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(
        ctx.join("Containerfile"),
        format!("FROM {IMG}\nHEALTHCHECK --interval=1s --retries=1 CMD test -e /ready || exit 1\n"),
    )
    .unwrap();
    let img = "localhost/with-health";
    crate::build::build(&env, &ctx, &["--format", "docker", "-t", img]).success();
    let a = name("img-check");
    env.ok(&[
        "run",
        "-d",
        "--name",
        &a,
        "--network",
        "none",
        img,
        "sleep",
        "1000",
    ]);
    assert_eq!(
        env.inspect(&a, "{{json .Config.Healthcheck.Test}}"),
        r#"["CMD-SHELL","test -e /ready || exit 1"]"#
    );
    wait_status(&env, &a, "(unhealthy)");
    let b = name("no-check");
    env.ok(&[
        "run",
        "-d",
        "--name",
        &b,
        "--network",
        "none",
        "--no-healthcheck",
        img,
        "sleep",
        "1000",
    ]);
    assert!(status(&env, &b).starts_with("Up "));
    assert!(!status(&env, &b).contains('('), "{}", status(&env, &b));
    env.run(&["healthcheck", "run", &b])
        .assert_error(125, &["has no defined healthcheck"]);
    // A flag changes one setting; the image's command stays.
    let c = name("more-retries");
    env.ok(&[
        "create",
        "--name",
        &c,
        "--health-retries",
        "9",
        img,
        "sleep",
        "1000",
    ]);
    assert_eq!(
        env.inspect(
            &c,
            "{{.Config.Healthcheck.Retries}} {{.Config.Healthcheck.Interval}}"
        ),
        "9 1000000000"
    );
    env.ok(&["rm", "-af", "-t", "0"]);
}

#[test]
fn on_failure_kill_and_a_check_past_its_timeout() {
    let env = TestEnv::new("health-failure");
    env.import_busybox();
    let k = name("k");
    env.ok(&[
        "run",
        "-d",
        "--name",
        &k,
        "--network",
        "none",
        "--health-cmd",
        "exit 1",
        "--health-interval",
        "1s",
        "--health-retries",
        "2",
        "--health-on-failure",
        "kill",
        IMG,
        "sleep",
        "1000",
    ]);
    assert_eq!(
        env.inspect(&k, "{{.Config.HealthcheckOnFailureAction}}"),
        "kill"
    );
    wait_until(
        "the unhealthy container killed",
        Duration::from_secs(8),
        || env.status(&k) == "exited",
    );
    assert_eq!(env.inspect(&k, "{{.State.ExitCode}}"), "137");
    // --health-on-failure restart: the unhealthy container runs again (a new start).
    let r = name("r");
    env.ok(&[
        "run",
        "-d",
        "--name",
        &r,
        "--network",
        "none",
        "--health-cmd",
        "test -e /tmp/ok",
        "--health-interval",
        "1s",
        "--health-retries",
        "1",
        "--health-on-failure",
        "restart",
        IMG,
        "sh",
        "-c",
        "trap 'exit 0' TERM; while :; do sleep 0.2; done",
    ]);
    let first = env.inspect(&r, "{{.State.StartedAt}}");
    wait_until(
        "the unhealthy container restarted",
        Duration::from_secs(8),
        || env.inspect(&r, "{{.State.StartedAt}}") != first,
    );
    assert_eq!(env.status(&r), "running");
    // A check that runs too long fails with Podman's words, and is killed.
    let t = name("t");
    env.ok(&[
        "run",
        "-d",
        "--name",
        &t,
        "--network",
        "none",
        "--health-cmd",
        "sleep 30",
        "--health-timeout",
        "1s",
        "--health-interval",
        "disable",
        IMG,
        "sleep",
        "1000",
    ]);
    let started = std::time::Instant::now();
    let out = env.run(&["healthcheck", "run", &t]);
    assert!(started.elapsed() < Duration::from_secs(10));
    // One failure of three: still starting (Podman's rule), exit 1.
    assert_eq!((out.code(), out.stdout.trim()), (1, "starting"), "{out:?}");
    assert_eq!(
        env.inspect(
            &t,
            "{{range .State.Health.Log}}{{.ExitCode}}: {{.Output}}{{end}}"
        ),
        "-1: healthcheck command exceeded timeout of 1s"
    );
    let top = env.ok(&["top", &t, "args"]);
    assert!(
        !top.contains("sleep 30"),
        "the timed-out check still runs:\n{top}"
    );
    env.ok(&["rm", "-af", "-t", "0"]);
}

#[test]
fn bad_healthcheck_flags_are_refused_and_leave_nothing() {
    let env = TestEnv::new("health-bad");
    env.import_busybox();
    let cases: [(&[&str], &str); 5] = [
        (
            &["--health-cmd", "true", "--health-interval", "soon"],
            "healthcheck-interval \"soon\"",
        ),
        (
            &["--health-cmd", "true", "--health-timeout", "10ms"],
            "at least 1 second",
        ),
        (
            &["--health-cmd", "true", "--health-retries", "0"],
            "greater than 0",
        ),
        (
            &["--health-cmd", "true", "--health-on-failure", "explode"],
            "\"explode\"",
        ),
        (
            &["--health-cmd", "true", "--no-healthcheck"],
            "--no-healthcheck",
        ),
    ];
    for (flags, needle) in cases {
        let mut args = vec!["create", "--name", "bad"];
        args.extend_from_slice(flags);
        args.extend([IMG, "true"]);
        env.run(&args).assert_error(125, &[needle]);
    }
    assert_eq!(env.ok(&["ps", "-aq"]).trim(), "");
    env.run(&["healthcheck", "run", "nosuch"])
        .assert_error(125, &["nosuch"]);
    let stopped = name("stopped");
    env.ok(&[
        "create",
        "--name",
        &stopped,
        "--health-cmd",
        "true",
        IMG,
        "true",
    ]);
    env.run(&["healthcheck", "run", &stopped])
        .assert_error(125, &["is not running"]);
}

/// A liveness probe in `kube play` YAML becomes the container's healthcheck, as Podman
/// maps it; under `restartPolicy: Always` an unhealthy container is restarted.
#[test]
fn kube_liveness_probes_are_healthchecks() {
    let env = TestEnv::new("health-kube");
    env.import_busybox();
    let pod = name("probed");
    let yaml = format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {pod}\nspec:\n  restartPolicy: Always\n  containers:\n  - name: app\n    image: {IMG}\n    command: [sh, -c, 'trap \"exit 0\" TERM; while :; do sleep 0.2; done']\n    livenessProbe:\n      exec:\n        command: [cat, /tmp/ok]\n      periodSeconds: 1\n      failureThreshold: 1\n"
    );
    let file = env.dir.join("probe.yaml");
    std::fs::write(&file, yaml).unwrap();
    env.ok(&["kube", "play", "--network", "none", file.to_str().unwrap()]);
    let ctr = format!("{pod}-app");
    assert_eq!(
        env.inspect(
            &ctr,
            "{{json .Config.Healthcheck.Test}} {{.Config.HealthcheckOnFailureAction}}"
        ),
        r#"["CMD-SHELL","cat","/tmp/ok","||","exit","1"] restart"#
    );
    let first = env.inspect(&ctr, "{{.State.StartedAt}}");
    // Unhealthy after one failed check, then restarted (the probe never passes: again).
    wait_until(
        "the unhealthy member restarted",
        Duration::from_secs(10),
        || env.inspect(&ctr, "{{.State.StartedAt}}") != first,
    );
    let events = lines(&env.ok(&[
        "events",
        "--stream=false",
        "--filter",
        "event=health_status",
        "--format",
        "{{.Name}} {{.HealthStatus}}",
    ]));
    assert!(events.contains(&format!("{ctr} unhealthy")), "{events:?}");
    env.ok(&["kube", "down", file.to_str().unwrap()]);
}

#[test]
fn a_startup_check_runs_first_then_the_regular_one() {
    let env = TestEnv::new("health-startup");
    env.import_busybox();
    let c = name("st");
    env.ok(&[
        "run",
        "-d",
        "--name",
        &c,
        "--health-cmd",
        "test -e /tmp/healthy",
        "--health-interval",
        "1s",
        "--health-retries",
        "1",
        "--health-startup-cmd",
        "test -e /tmp/up",
        "--health-startup-interval",
        "1s",
        IMG,
        "sleep",
        "1000",
    ]);
    assert_eq!(
        env.inspect(&c, "{{.Config.StartupHealthCheck.Test}}"),
        "[CMD-SHELL test -e /tmp/up]"
    );
    // Failing startup checks keep it starting (the regular check, which would fail at once
    // with one retry, does not run yet).
    wait_until("startup checks logged", Duration::from_secs(10), || {
        env.inspect(&c, "{{len .State.Health.Log}}")
            .parse::<usize>()
            .is_ok_and(|n| n >= 2)
    });
    assert!(
        status(&env, &c).ends_with("(starting)"),
        "{}",
        status(&env, &c)
    );
    // The startup check passes: healthy; then the regular check runs and fails.
    env.ok(&["exec", &c, "touch", "/tmp/up"]);
    wait_status(&env, &c, "(healthy)");
    wait_status(&env, &c, "(unhealthy)");
    env.ok(&["exec", &c, "touch", "/tmp/healthy"]);
    wait_status(&env, &c, "(healthy)");
    env.ok(&["rm", "-f", "-t", "0", &c]);

    // Startup retries used up: the container is restarted (a new start time), as Podman.
    let r = name("st-retry");
    env.ok(&[
        "run",
        "-d",
        "--name",
        &r,
        "--health-cmd",
        "true",
        "--health-startup-cmd",
        "false",
        "--health-startup-interval",
        "1s",
        "--health-startup-retries",
        "2",
        IMG,
        "sleep",
        "1000",
    ]);
    let first = env.inspect(&r, "{{.State.StartedAt}}");
    wait_until(
        "a restart by the startup check",
        Duration::from_secs(15),
        || env.inspect(&r, "{{.State.StartedAt}}") != first,
    );
    assert_eq!(env.status(&r), "running");
    env.ok(&["rm", "-f", "-t", "0", &r]);
    env.run(&["create", "--health-startup-cmd", "true", IMG, "true"])
        .assert_error(
            125,
            &["cannot set a startup healthcheck when there is no regular healthcheck"],
        );
}
