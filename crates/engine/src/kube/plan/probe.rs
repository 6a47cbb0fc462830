//! A container's probes as its healthchecks. The `livenessProbe` as Podman 4.3's kube play
//! maps it (`setupLivenessProbe`): an exec probe runs its command, an httpGet probe
//! `curl -f`, a tcpSocket probe `nc -z -v`, each `|| exit 1`, in the shell; Kubernetes'
//! defaults for the period (10 s), failure threshold (3) and timeout (1 s);
//! `initialDelaySeconds` is the start period. Under a restart policy of Always or OnFailure
//! an unhealthy container is restarted. The `startupProbe` as Podman 5 maps it
//! (`setupStartupProbe`): the startup check, `successThreshold` its successes, with a
//! regular check of `exit 0` when there is no other. A `readinessProbe` (which Podman
//! ignores) is the regular check of a container without a liveness probe, with no action
//! on failure: Kubernetes only takes an unready container out of its services, so `ps`
//! shows it unhealthy and nothing restarts it.

use k8s_openapi::api::core::v1::{Container as KubeContainer, Probe};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::container::health::HealthFlags;
use crate::container::restart::RestartPolicy;

/// Go's `IntOrString.IntValue()`: a named port is 0.
fn int_value(p: &IntOrString) -> i32 {
    match p {
        IntOrString::Int(n) => *n,
        IntOrString::String(s) => s.parse().unwrap_or(0),
    }
}

/// The probe's command line, as Podman writes it; None for a probe without a handler.
fn probe_command(p: &Probe) -> Option<String> {
    let fail = "exit 1";
    if let Some(e) = &p.exec {
        let cmd = e.command.as_deref().unwrap_or(&[]).join(" ");
        return Some(format!("{cmd} || {fail}"));
    }
    if let Some(h) = &p.http_get {
        let scheme = h
            .scheme
            .as_deref()
            .filter(|s| !s.is_empty())
            .unwrap_or("HTTP");
        let host = h
            .host
            .as_deref()
            .filter(|s| !s.is_empty())
            .unwrap_or("localhost");
        let path = h.path.as_deref().filter(|s| !s.is_empty()).unwrap_or("/");
        let port = int_value(&h.port);
        return Some(format!("curl -f {scheme}://{host}:{port}{path} || {fail}"));
    }
    if let Some(t) = &p.tcp_socket {
        let host = t.host.as_deref().unwrap_or("");
        let port = int_value(&t.port);
        return Some(format!("nc -z -v {host} {port} || {fail}"));
    }
    None
}

fn secs(v: Option<i32>, default: i32) -> String {
    format!("{}s", v.filter(|n| *n >= 1).unwrap_or(default))
}

/// A probe's test as Podman writes it: the line split on spaces after CMD-SHELL (the shell
/// joins it back), as a JSON array for `--health-cmd`.
fn probe_test(p: &Probe) -> Option<String> {
    let cmd = probe_command(p)?;
    let mut test = vec!["CMD-SHELL".to_string()];
    test.extend(cmd.split(' ').map(str::to_string));
    Some(serde_json::to_string(&test).expect("strings serialize"))
}

/// The regular check's flags of a probe (with `cmd` its test, or another given).
fn regular(p: &Probe, cmd: String) -> HealthFlags {
    HealthFlags {
        cmd: Some(cmd),
        interval: Some(secs(p.period_seconds, 10)),
        timeout: Some(secs(p.timeout_seconds, 1)),
        start_period: Some(format!("{}s", p.initial_delay_seconds.unwrap_or(0).max(0))),
        retries: Some(p.failure_threshold.filter(|n| *n >= 1).unwrap_or(3) as u32),
        ..Default::default()
    }
}

/// The healthcheck flags of a container's probes (none without one).
pub(super) fn probes_health(c: &KubeContainer, restart: RestartPolicy) -> HealthFlags {
    let restarts = matches!(
        restart,
        RestartPolicy::Always | RestartPolicy::OnFailure { .. }
    );
    let mut f = match (&c.liveness_probe, &c.readiness_probe) {
        (Some(p), _) if probe_test(p).is_some() => {
            let mut f = regular(p, probe_test(p).unwrap_or_default());
            f.on_failure = restarts.then(|| "restart".to_string());
            f
        }
        (_, Some(p)) if probe_test(p).is_some() => regular(p, probe_test(p).unwrap_or_default()),
        _ => HealthFlags::default(),
    };
    if let Some(p) = &c.startup_probe
        && let Some(test) = probe_test(p)
    {
        if f.cmd.is_none() {
            f = regular(p, "exit 0".to_string());
        }
        f.startup_cmd = Some(test);
        f.startup_interval = Some(secs(p.period_seconds, 10));
        f.startup_timeout = Some(secs(p.timeout_seconds, 1));
        f.startup_retries = Some(p.failure_threshold.filter(|n| *n >= 1).unwrap_or(3) as u32);
        f.startup_success = Some(p.success_threshold.unwrap_or(0).max(0) as u32);
        if restarts {
            f.on_failure = Some("restart".to_string());
        }
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container(probe: &str) -> KubeContainer {
        serde_yaml_ng::from_str(&format!("name: c\nlivenessProbe:\n{probe}")).unwrap()
    }

    #[test]
    fn probes_become_podmans_commands() {
        let c = container(
            "  exec: {command: [cat, /tmp/ok]}\n  periodSeconds: 2\n  failureThreshold: 1\n  initialDelaySeconds: 5\n",
        );
        let f = probes_health(&c, RestartPolicy::Always);
        assert_eq!(
            f.cmd.as_deref(),
            Some(r#"["CMD-SHELL","cat","/tmp/ok","||","exit","1"]"#)
        );
        assert_eq!(
            (
                f.interval.as_deref(),
                f.timeout.as_deref(),
                f.start_period.as_deref(),
                f.retries
            ),
            (Some("2s"), Some("1s"), Some("5s"), Some(1))
        );
        assert_eq!(f.on_failure.as_deref(), Some("restart"));
        let c = container("  httpGet: {path: /healthz, port: 8080}\n");
        let f = probes_health(&c, RestartPolicy::No);
        assert_eq!(
            f.cmd.as_deref(),
            Some(r#"["CMD-SHELL","curl","-f","HTTP://localhost:8080/healthz","||","exit","1"]"#)
        );
        assert_eq!(
            (f.interval.as_deref(), f.retries, f.on_failure),
            (Some("10s"), Some(3), None)
        );
        let c = container("  tcpSocket: {host: db, port: 5432}\n");
        let f = probes_health(&c, RestartPolicy::No);
        assert_eq!(
            f.cmd.as_deref(),
            Some(r#"["CMD-SHELL","nc","-z","-v","db","5432","||","exit","1"]"#)
        );
        let none: KubeContainer = serde_yaml_ng::from_str("name: c\n").unwrap();
        assert!(probes_health(&none, RestartPolicy::Always).cmd.is_none());
    }

    #[test]
    fn startup_and_readiness_probes() {
        let c: KubeContainer = serde_yaml_ng::from_str(
            "name: c\nstartupProbe:\n  exec: {command: [cat, /tmp/up]}\n  periodSeconds: 1\n  failureThreshold: 5\n  successThreshold: 1\n",
        )
        .unwrap();
        let f = probes_health(&c, RestartPolicy::Always);
        assert_eq!(f.cmd.as_deref(), Some("exit 0"));
        assert_eq!(
            f.startup_cmd.as_deref(),
            Some(r#"["CMD-SHELL","cat","/tmp/up","||","exit","1"]"#)
        );
        assert_eq!(
            (
                f.startup_interval.as_deref(),
                f.startup_retries,
                f.startup_success
            ),
            (Some("1s"), Some(5), Some(1))
        );
        assert_eq!(f.on_failure.as_deref(), Some("restart"));
        let c: KubeContainer =
            serde_yaml_ng::from_str("name: c\nreadinessProbe:\n  tcpSocket: {port: 80}\n").unwrap();
        let f = probes_health(&c, RestartPolicy::Always);
        assert_eq!(
            f.cmd.as_deref(),
            Some(r#"["CMD-SHELL","nc","-z","-v","","80","||","exit","1"]"#)
        );
        assert_eq!(f.on_failure, None, "an unready container is not restarted");
    }
}
