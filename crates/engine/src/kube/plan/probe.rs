//! A container's `livenessProbe` as its healthcheck, as Podman 4.3's kube play maps it
//! (`setupLivenessProbe`): an exec probe runs its command, an httpGet probe `curl -f`, a
//! tcpSocket probe `nc -z -v`, each `|| exit 1`, in the shell; Kubernetes' defaults for the
//! period (10 s), failure threshold (3) and timeout (1 s); `initialDelaySeconds` is the
//! start period. Under a restart policy of Always or OnFailure an unhealthy container is
//! restarted.

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

/// The healthcheck flags of a container's liveness probe (none without one).
pub(super) fn liveness_health(c: &KubeContainer, restart: RestartPolicy) -> HealthFlags {
    let Some(p) = &c.liveness_probe else {
        return HealthFlags::default();
    };
    let Some(cmd) = probe_command(p) else {
        return HealthFlags::default();
    };
    // Podman splits the line on spaces after CMD-SHELL; the shell joins it back.
    let mut test = vec!["CMD-SHELL".to_string()];
    test.extend(cmd.split(' ').map(str::to_string));
    let secs =
        |v: Option<i32>, default: i32| format!("{}s", v.filter(|n| *n >= 1).unwrap_or(default));
    HealthFlags {
        cmd: Some(serde_json::to_string(&test).expect("strings serialize")),
        interval: Some(secs(p.period_seconds, 10)),
        timeout: Some(secs(p.timeout_seconds, 1)),
        start_period: Some(format!("{}s", p.initial_delay_seconds.unwrap_or(0).max(0))),
        retries: Some(p.failure_threshold.filter(|n| *n >= 1).unwrap_or(3) as u32),
        on_failure: matches!(
            restart,
            RestartPolicy::Always | RestartPolicy::OnFailure { .. }
        )
        .then(|| "restart".to_string()),
        disabled: false,
    }
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
        let f = liveness_health(&c, RestartPolicy::Always);
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
        let f = liveness_health(&c, RestartPolicy::No);
        assert_eq!(
            f.cmd.as_deref(),
            Some(r#"["CMD-SHELL","curl","-f","HTTP://localhost:8080/healthz","||","exit","1"]"#)
        );
        assert_eq!(
            (f.interval.as_deref(), f.retries, f.on_failure),
            (Some("10s"), Some(3), None)
        );
        let c = container("  tcpSocket: {host: db, port: 5432}\n");
        let f = liveness_health(&c, RestartPolicy::No);
        assert_eq!(
            f.cmd.as_deref(),
            Some(r#"["CMD-SHELL","nc","-z","-v","db","5432","||","exit","1"]"#)
        );
        let none: KubeContainer = serde_yaml_ng::from_str("name: c\n").unwrap();
        assert!(liveness_health(&none, RestartPolicy::Always).cmd.is_none());
    }
}
