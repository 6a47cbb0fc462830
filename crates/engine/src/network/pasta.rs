//! `--network pasta[:ARG,ARG…]`: the second userspace backend, Debian's `passt` package as
//! `pasta`. It copies the host's addresses and routes into the container's namespace
//! (`--config-net`), forwards the published ports itself (`-t`/`-u`, the client's address
//! kept) and nothing else (`-T none -U none`); resolv.conf keeps the host's nameservers.
//! Extra arguments after `pasta:` are passed through, comma-separated, as Podman does.
//!
//! pasta daemonizes once the namespace is set up, writes its pid (`--pid`), and quits by
//! itself when the namespace file it was given is removed, which teardown does; it is also a
//! row of the ledger (`Resource::Helper`), released by killing it by that pid.

use std::path::Path;
use std::process::{Command, Stdio};

use peapod_netsetup::types::PortMapping;

use crate::Engine;
use crate::container::Container;
use crate::error::{Error, IoContext, Result};
use crate::state::{Holder, Resource};

const PASTA: &str = "pasta";
const PID_FILE: &str = "pasta.pid";
const LOG_FILE: &str = "pasta.log";

/// Is `mode` pasta?
pub fn is_pasta(mode: &str) -> bool {
    mode == PASTA || mode.starts_with("pasta:")
}

/// pasta's port options for `ports`: `-t`/`-u` `[IP/]HOST[-END]:PORT[-END]` per protocol,
/// `none` for a protocol without any.
fn port_args(ports: &[PortMapping]) -> Vec<String> {
    let mut args = Vec::new();
    for (flag, proto) in [("-t", "tcp"), ("-u", "udp")] {
        let mut any = false;
        for p in ports {
            if !super::ports::protocols(p).contains(&proto) {
                continue;
            }
            any = true;
            let n = p.range.max(1) - 1;
            let span = |start: u16| {
                if n == 0 {
                    start.to_string()
                } else {
                    format!("{start}-{}", start + n)
                }
            };
            let addr = if p.host_ip.is_empty() {
                String::new()
            } else {
                format!("{}/", p.host_ip)
            };
            args.push(flag.to_string());
            args.push(format!(
                "{addr}{}:{}",
                span(p.host_port),
                span(p.container_port)
            ));
        }
        if !any {
            args.extend([flag.to_string(), "none".to_string()]);
        }
    }
    args
}

/// The whole command line after `pasta`.
fn args(mode: &str, ports: &[PortMapping], netns: &Path, pid_file: &Path) -> Vec<String> {
    let mut a = vec!["--config-net".to_string()];
    a.extend(port_args(ports));
    a.extend(["-T", "none", "-U", "none", "--no-map-gw", "--quiet"].map(String::from));
    // pasta drops to "nobody" when it runs as uid 0, and nobody cannot enter the namespace:
    // stay who we are (root, or the user as root of its namespace).
    a.extend(["--runas".to_string(), "0".to_string()]);
    a.push("--pid".into());
    a.push(pid_file.display().to_string());
    if let Some(extra) = mode.strip_prefix("pasta:") {
        a.extend(extra.split(',').filter(|s| !s.is_empty()).map(String::from));
    }
    a.push("--netns".into());
    a.push(netns.display().to_string());
    a
}

impl Engine {
    /// Starts pasta for the namespace at `c.state.netns` and waits until it is set up.
    pub(crate) fn pasta_setup(&self, c: &mut Container, holder: &Holder) -> Result<()> {
        super::slirp::check_tun()?;
        let bin = crate::config::which(PASTA).ok_or_else(|| {
            Error::invalid(
                "pasta not found in $PATH: install it (Debian: apt-get install passt) or use --network slirp4netns",
            )
        })?;
        super::slirp::check_ports(&c.config.network_mode, &c.config.ports)?;
        let owner = self.lease_owner(holder);
        std::fs::create_dir_all(&owner.run_dir).ctx("creating", &owner.run_dir)?;
        let pid_file = owner.run_dir.join(PID_FILE);
        let log = owner.run_dir.join(LOG_FILE);
        let netns = Path::new(&c.state.netns);
        let args = args(&c.config.network_mode, &c.config.ports, netns, &pid_file);
        let row = Resource::Helper {
            pidfile: pid_file.clone(),
            // passt's binary, whichever variant (passt.avx2) it execs.
            comm: "pas".into(),
            files: vec![log.clone()],
        };
        self.hold(holder, row, |_| run_pasta(&bin, &args, &log))?;
        c.state.ports = c.config.ports.clone();
        Ok(())
    }
}

/// Runs pasta until it has daemonized with the namespace set up.
fn run_pasta(bin: &Path, args: &[String], log: &Path) -> Result<()> {
    let log_file = std::fs::File::create(log).ctx("creating", log)?;
    // Its daemon keeps stdout and stderr: a file, so nothing waits on a pipe.
    let status = Command::new(bin)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(log_file))
        .status()
        .map_err(|e| Error::other(format!("starting {}: {e}", bin.display())))?;
    if status.success() {
        return Ok(());
    }
    let said = std::fs::read_to_string(log).unwrap_or_default();
    let said: Vec<&str> = said
        .lines()
        .filter(|l| !l.starts_with("Failed to send"))
        .collect();
    Err(Error::other(format!(
        "pasta failed to set up the network ({status}): {}",
        said.join("; ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_become_pastas_specs() {
        let p = |ip: &str, host, ctr, range, proto: &str| PortMapping {
            host_ip: ip.into(),
            container_port: ctr,
            host_port: host,
            range,
            protocol: proto.into(),
        };
        assert_eq!(port_args(&[]), ["-t", "none", "-u", "none"]);
        assert_eq!(
            port_args(&[
                p("", 8080, 80, 1, "tcp"),
                p("127.0.0.1", 9000, 90, 3, "tcp,udp")
            ]),
            [
                "-t",
                "8080:80",
                "-t",
                "127.0.0.1/9000-9002:90-92",
                "-u",
                "127.0.0.1/9000-9002:90-92"
            ]
        );
        let a = args("pasta:--mtu,1500", &[], Path::new("/n"), Path::new("/p"));
        assert_eq!(
            a.join(" "),
            "--config-net -t none -u none -T none -U none --no-map-gw --quiet --runas 0 --pid /p --mtu 1500 --netns /n"
        );
    }
}
