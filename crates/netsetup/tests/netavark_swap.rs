//! The swap test: the real podman (4.3) using peapod-netsetup as its netavark.
//!
//! A private containers.conf points podman's `helper_binaries_dir` at a directory whose
//! `netavark` is our binary; podman runs in a private --root/--runroot/--tmpdir. A busybox
//! httpd container publishes 127.0.0.1:PORT; the host fetches the page; a second container
//! fetches it by IP. Our nft table holds the container's rules while it runs (proof that our
//! binary, not Debian's netavark, did the work), and everything is gone after `podman rm`.
//! Skipped, with a message, when podman or root is missing.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_peapod-netsetup");
const SUBNET: u8 = 77;
const BRIDGE: &str = "pp77";
const PORT: u16 = 42077;

struct Podman {
    dir: tempfile::TempDir,
}

impl Podman {
    fn new() -> Podman {
        let dir = tempfile::Builder::new().prefix("ppswap").tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("helpers")).unwrap();
        std::fs::create_dir_all(d.join("net")).unwrap();
        std::os::unix::fs::symlink(BIN, d.join("helpers/netavark")).unwrap();
        std::fs::write(
            d.join("containers.conf"),
            format!(
                "[containers]\ndefault_ulimits=[\"nofile=1024:1024\",\"nproc=1024:1024\"]\n\
                 [network]\nnetwork_backend=\"netavark\"\nnetwork_config_dir=\"{net}\"\n\
                 [engine]\nhelper_binaries_dir=[\"{helpers}\"]\nruntime=\"runc\"\n\
                 cgroup_manager=\"cgroupfs\"\nevents_logger=\"file\"\n",
                net = d.join("net").display(),
                helpers = d.join("helpers").display()
            ),
        )
        .unwrap();
        Podman { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn run(&self, args: &[&str]) -> Output {
        let d = self.path();
        Command::new("podman")
            .env("CONTAINERS_CONF", d.join("containers.conf"))
            .arg("--root")
            .arg(d.join("root"))
            .arg("--runroot")
            .arg(d.join("runroot"))
            .arg("--tmpdir")
            .arg(d.join("tmp"))
            .args(args)
            .output()
            .expect("running podman")
    }

    fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(
            o.status.success(),
            "podman {args:?} failed: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let _ = self.run(&["rm", "-fa", "-t", "0"]);
        let _ = self.run(&["network", "rm", "-f", "ppswapnet"]);
        for e in peapod_tests::scrub_dir(self.path()) {
            eprintln!("cleanup: {e}");
        }
        if Path::new(&format!("/sys/class/net/{BRIDGE}")).exists() {
            let _ = Command::new("ip").args(["link", "del", BRIDGE]).status();
        }
    }
}

fn http_get(port: u16, path: &str) -> Result<String, String> {
    let mut s = TcpStream::connect_timeout(
        &format!("127.0.0.1:{port}").parse().unwrap(),
        Duration::from_secs(2),
    )
    .map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").map_err(|e| e.to_string())?;
    let mut out = String::new();
    s.read_to_string(&mut out).map_err(|e| e.to_string())?;
    Ok(out)
}

fn nft_table() -> String {
    let o = Command::new("nft")
        .args(["list", "table", "inet", "peapod"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn which(cmd: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join(cmd))
        .find(|p| p.is_file())
}

#[test]
fn podman_runs_with_peapod_netsetup_as_netavark() {
    if peapod_tests::skip_unless(nix::unistd::geteuid().is_root(), "root")
        || peapod_tests::skip_unless(which("podman").is_some(), "podman")
    {
        return;
    }
    let p = Podman::new();
    let net = "ppswapnet";
    p.ok(&[
        "network",
        "create",
        "--subnet",
        &format!("10.232.{SUBNET}.0/24"),
        net,
    ]);
    // podman 4.3 has no --interface-name: name the bridge in the network file itself.
    let file = p.path().join(format!("net/{net}.json"));
    let mut def: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    def["network_interface"] = BRIDGE.into();
    std::fs::write(&file, def.to_string()).unwrap();
    let net_id = def["id"].as_str().unwrap().to_string();

    let tar = peapod_tests::busybox_rootfs_tar().expect("busybox rootfs");
    p.ok(&["import", tar.to_str().unwrap(), "ppswapimg"]);
    let www = p.path().join("www");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::write(www.join("index.html"), "hello from peapod-netsetup\n").unwrap();
    let id = p.ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "--network",
        net,
        "-p",
        &format!("127.0.0.1:{PORT}:80"),
        "-v",
        &format!("{}:/www", www.display()),
        "ppswapimg",
        "httpd",
        "-f",
        "-p",
        "80",
        "-h",
        "/www",
    ]);

    // Our table carries this container's rules: our binary did the setup.
    let rules = nft_table();
    assert!(rules.contains(&format!("peapod ctr={id}")), "{rules}");
    assert!(rules.contains(&format!("nv_{}", &net_id[..8])), "{rules}");

    let deadline = Instant::now() + Duration::from_secs(10);
    let page = loop {
        match http_get(PORT, "/index.html") {
            Ok(p) if p.contains("hello from peapod-netsetup") => break p,
            r if Instant::now() > deadline => panic!("no page on 127.0.0.1:{PORT}: {r:?}"),
            _ => std::thread::sleep(Duration::from_millis(200)),
        }
    };
    assert!(page.starts_with("HTTP/1."), "{page}");

    let ip = p.ok(&[
        "inspect",
        "web",
        "--format",
        &format!("{{{{(index .NetworkSettings.Networks \"{net}\").IPAddress}}}}"),
    ]);
    assert!(ip.starts_with(&format!("10.232.{SUBNET}.")), "{ip}");
    let got = p.ok(&[
        "run",
        "--rm",
        "--network",
        net,
        "ppswapimg",
        "wget",
        "-qO-",
        &format!("http://{ip}/index.html"),
    ]);
    assert_eq!(got, "hello from peapod-netsetup");
    // And by name, through our DNS server on the gateway (the network has dns_enabled).
    let resolv = p.ok(&[
        "run",
        "--rm",
        "--network",
        net,
        "ppswapimg",
        "cat",
        "/etc/resolv.conf",
    ]);
    assert!(
        resolv.contains(&format!("nameserver 10.232.{SUBNET}.1")),
        "{resolv}"
    );
    let got = p.ok(&[
        "run",
        "--rm",
        "--network",
        net,
        "ppswapimg",
        "wget",
        "-qO-",
        "http://web/index.html",
    ]);
    assert_eq!(got, "hello from peapod-netsetup");

    // Removal goes through our teardown: rules and bridge are gone.
    p.ok(&["rm", "-f", "-t", "0", "web"]);
    let rules = nft_table();
    assert!(
        !rules.contains(&id) && !rules.contains(&net_id[..8]),
        "{rules}"
    );
    assert!(!Path::new(&format!("/sys/class/net/{BRIDGE}")).exists());
    assert!(http_get(PORT, "/").is_err());
}
