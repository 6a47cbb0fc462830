//! The systemd units `cargo xtask install` adds, as Podman's packages ship `podman.socket`
//! and `podman.service`: `peapod.socket` (system: `%t/peapod/peapod.sock` = the service's
//! default `/run/peapod/peapod.sock`; user: `$XDG_RUNTIME_DIR/peapod/peapod.sock`, again its
//! default) activating `peapod.service` (`peapod system service`, which takes the socket
//! from systemd's `LISTEN_FDS` and exits when idle, to be activated again). The sockets are
//! mode 0600: only their owner may connect, unless the administrator says otherwise.
//!
//! With `--docker-compat`, also `lib/tmpfiles.d/peapod-docker.conf`, as Podman's
//! podman-docker package: links `/run/docker.sock` and `/run/podman/podman.sock` to
//! peapod's socket, so clients that look there (or at `DOCKER_HOST`'s default) find it.

use std::path::Path;

/// `(path under the prefix, text)` of every unit file; `docker` adds the tmpfiles links.
pub fn unit_files(prefix: &Path, docker: bool) -> Vec<(String, String)> {
    let peapod = prefix.join("bin/peapod");
    let mut out = Vec::new();
    for (dir, target) in [
        ("lib/systemd/system", "sockets.target"),
        ("lib/systemd/user", "sockets.target"),
    ] {
        out.push((
            format!("{dir}/peapod.socket"),
            format!(
                "[Unit]\nDescription=peapod API Socket\nDocumentation=https://docs.podman.io/en/latest/markdown/podman-system-service.1.html\n\n[Socket]\nListenStream=%t/peapod/peapod.sock\nSocketMode=0600\nDirectoryMode=0700\n\n[Install]\nWantedBy={target}\n"
            ),
        ));
        out.push((
            format!("{dir}/peapod.service"),
            format!(
                "[Unit]\nDescription=peapod API Service\nRequires=peapod.socket\nAfter=peapod.socket\nDocumentation=https://docs.podman.io/en/latest/markdown/podman-system-service.1.html\nStartLimitIntervalSec=0\n\n[Service]\nDelegate=true\nType=exec\nKillMode=process\nEnvironment=LOGGING=\"--log-level=info\"\nExecStart={} $LOGGING system service\n\n[Install]\nWantedBy=default.target\n",
                peapod.display()
            ),
        ));
    }
    if docker {
        out.push((
            "lib/tmpfiles.d/peapod-docker.conf".into(),
            "# Clients of /run/docker.sock and /run/podman/podman.sock reach peapod's socket.\nd /run/podman 0700 root root\nL /run/docker.sock - - - - /run/peapod/peapod.sock\nL /run/podman/podman.sock - - - - /run/peapod/peapod.sock\n".into(),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_name_the_installed_binary_and_the_services_socket() {
        let files = unit_files(Path::new("/opt/pp"), false);
        let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "lib/systemd/system/peapod.socket",
                "lib/systemd/system/peapod.service",
                "lib/systemd/user/peapod.socket",
                "lib/systemd/user/peapod.service",
            ]
        );
        assert!(
            files[0]
                .1
                .contains("ListenStream=%t/peapod/peapod.sock\nSocketMode=0600\n")
        );
        assert!(
            files[1]
                .1
                .contains("ExecStart=/opt/pp/bin/peapod $LOGGING system service\n")
        );
        let with_docker = unit_files(Path::new("/opt/pp"), true);
        assert!(
            with_docker
                .last()
                .unwrap()
                .1
                .contains("L /run/docker.sock - - - - /run/peapod/peapod.sock")
        );
    }
}
