//! The API service as the e2e tests drive it: a `peapod system service` on a private
//! socket for a private store, and the docker CLI and curl pointed at it.

use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::Duration;

use crate::util::{Output, PeapodCmd, TestEnv, wait_until};

pub const DOCKER: &str = "/usr/local/bin/docker";
/// podman 4.3, as the libpod API's client (`podman --url unix://…`).
pub const PODMAN: &str = "/usr/bin/podman";

/// A running `system service`, stopped (by its pid) when dropped.
pub struct Service {
    pub child: Child,
    pub sock: PathBuf,
}

impl Service {
    pub fn start(env: &TestEnv, sock: &Path, time: &str) -> Service {
        let uri = format!("unix://{}", sock.display());
        let child = env
            .peapod(&["system", "service", "--time", time, &uri])
            .command()
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn peapod system service");
        wait_until("the API socket", Duration::from_secs(10), || {
            std::fs::metadata(sock).is_ok_and(|m| m.file_type().is_socket())
        });
        Service {
            child,
            sock: sock.to_path_buf(),
        }
    }

    /// The docker CLI pointed at this service, to be given stdin or a pty.
    pub fn docker_cmd(&self, args: &[&str]) -> PeapodCmd {
        PeapodCmd::program(DOCKER, args)
            .env("DOCKER_HOST", format!("unix://{}", self.sock.display()))
            .env("DOCKER_CONFIG", self.sock.with_extension("docker-config"))
            .timeout(Duration::from_secs(60))
    }

    pub fn docker(&self, args: &[&str]) -> Output {
        self.docker_cmd(args).output()
    }

    /// podman's remote client pointed at this service (the libpod API).
    pub fn podman(&self, args: &[&str]) -> Output {
        let url = format!("unix://{}", self.sock.display());
        let mut all = vec!["--url", &url];
        all.extend_from_slice(args);
        PeapodCmd::program(PODMAN, &all)
            .timeout(Duration::from_secs(60))
            .output()
    }

    /// curl over the socket: (HTTP status, body).
    pub fn curl(&self, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
        let sock = self.sock.display().to_string();
        let url = format!("http://d{path}");
        let mut args = vec![
            "-s",
            "-m",
            "20",
            "--unix-socket",
            &sock,
            "-X",
            method,
            "-w",
            "\n%{http_code}",
        ];
        if let Some(b) = body {
            args.extend(["-H", "Content-Type: application/json", "-d", b]);
        }
        args.push(&url);
        let out = PeapodCmd::program("curl", &args).output();
        let (body, code) = out.stdout.rsplit_once('\n').expect("a status line");
        (
            code.trim().parse().expect("an HTTP status"),
            body.to_string(),
        )
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let _ = self.child.wait();
    }
}

pub fn have_podman() -> bool {
    Path::new(PODMAN).is_file()
}

pub fn have_docker() -> bool {
    Path::new(DOCKER).is_file()
}
