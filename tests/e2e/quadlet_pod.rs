//! A quadlet `.pod` with a member `.container`, their generated units' commands run as
//! systemd would run them: the pod made and started (its infra's monitor pid in the
//! unit's PID file), the member joining it and answering on the pod's published port, then
//! the pod unit's stop taking everything away.

use std::path::Path;
use std::process::Command;

use crate::systemd::{key, run_line};
use crate::util::{IMG, TestEnv, free_port, name, prefix};

#[test]
fn a_generated_pod_and_its_member_run_as_systemd_would_run_them() {
    let env = TestEnv::new("quadlet-pod");
    env.import_busybox();
    let dir = env.dir.join("quadlets");
    std::fs::create_dir_all(&dir).unwrap();
    let base = name("qpod");
    let port = free_port();
    let store = format!(
        "GlobalArgs=--root {} --runroot {}\n",
        env.root.display(),
        env.runroot.display()
    );
    std::fs::write(
        dir.join(format!("{base}.pod")),
        format!("[Pod]\n{store}PublishPort=127.0.0.1:{port}:80\n"),
    )
    .unwrap();
    std::fs::write(
        dir.join(format!("{base}-web.container")),
        format!(
            "[Container]\n{store}Image={IMG}\nPod={base}.pod\nRunInit=yes\nExec=httpd -f -p 80 -h /etc\n"
        ),
    )
    .unwrap();
    let out = Command::new(prefix().join("libexec/peapod/quadlet"))
        .arg("-dryrun")
        .env("QUADLET_UNIT_DIRS", &dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let unit_text = |n: &str| {
        let start = text.find(&format!("---{n}---")).expect(n);
        let rest = &text[start + n.len() + 6..];
        rest[..rest.find("\n---").unwrap_or(rest.len())].to_string()
    };
    let pod_svc = format!("{base}-pod.service");
    let web_svc = format!("{base}-web.service");
    let pod_unit = unit_text(&pod_svc);
    let web_unit = unit_text(&web_svc);
    assert!(key(&web_unit, "BindsTo").contains(&pod_svc), "{web_unit}");
    let rt = env.dir.join("rt");
    std::fs::create_dir_all(&rt).unwrap();
    let rt = rt.to_str().unwrap();
    let run = |unit: &str, k: &str, svc: &str| {
        for line in key(unit, k) {
            let out = run_line(unit, line.trim_start_matches('-'), rt, svc, None);
            assert!(out.status.success(), "{k}: {out:?}");
        }
    };
    run(&pod_unit, "ExecStartPre", &pod_svc);
    run(&pod_unit, "ExecStart", &pod_svc);
    // Type=forking: the PID file names the infra's monitor.
    let pid = std::fs::read_to_string(Path::new(rt).join(format!("{base}-pod.pid"))).unwrap();
    let pod = format!("systemd-{base}");
    let infra = env.ok(&["pod", "inspect", "--format", "{{.InfraContainerID}}", &pod]);
    assert_eq!(
        pid.trim(),
        env.inspect(infra.trim(), "{{.State.ConmonPid}}")
    );
    run(&web_unit, "ExecStart", &web_svc);
    let web = format!("systemd-{base}-web");
    assert_eq!(env.status(&web), "running");
    assert_eq!(env.inspect(&web, "{{.Pod}}").len(), 64);
    crate::util::wait_until(
        "the member answers",
        std::time::Duration::from_secs(10),
        || {
            Command::new("curl")
                .args(["-sf", &format!("http://127.0.0.1:{port}/hostname")])
                .output()
                .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == pod)
        },
    );
    // RunInit=yes: the command runs under the init.
    assert_eq!(env.inspect(&web, "{{.HostConfig.Init}}"), "true");
    // Stopping the pod's unit stops the units bound to it first, then its own commands.
    run(&web_unit, "ExecStop", &web_svc);
    run(&web_unit, "ExecStopPost", &web_svc);
    run(&pod_unit, "ExecStop", &pod_svc);
    run(&pod_unit, "ExecStopPost", &pod_svc);
    assert_eq!(
        env.ok(&["ps", "-aq"]).trim(),
        "",
        "the pod's units left nothing"
    );
    assert_eq!(env.ok(&["pod", "ps", "-q"]).trim(), "");
    env.assert_no_mounts();
    env.assert_no_processes();
}
