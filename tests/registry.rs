//! Real registries for tests, the demo and the bench: Debian's `docker-registry` on
//! 127.0.0.1 and a free port, with its own storage dir; plain HTTP, htpasswd Basic auth
//! (`htpasswd -B`), Bearer tokens from a [`TokenServer`], or TLS with a certificate made here with `openssl`. The server is killed
//! when the [`Registry`] is dropped, even when a test panicked.

use std::fs;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::token::TokenServer;

/// How a registry is set up.
#[derive(Debug, Clone, Default)]
pub struct RegistryOptions {
    /// htpasswd Basic auth with this user and password.
    pub htpasswd: Option<(String, String)>,
    /// Serve HTTPS with a self-signed certificate for 127.0.0.1.
    pub tls: bool,
    /// Bearer-token auth: a token server (started with the registry, stopped with it)
    /// grants this user and password what they ask for.
    pub token: Option<(String, String)>,
}

/// A running registry.
pub struct Registry {
    /// `127.0.0.1:PORT`.
    pub addr: String,
    pub dir: PathBuf,
    /// The CA (the self-signed certificate) of a TLS registry.
    pub ca: Option<PathBuf>,
    /// The token server of a Bearer-auth registry.
    pub token: Option<TokenServer>,
    child: Option<Child>,
}

fn err(msg: String) -> io::Error {
    io::Error::other(msg)
}

fn run(cmd: &mut Command) -> io::Result<Vec<u8>> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| err(format!("cannot run {cmd:?}: {e}")))?;
    if !out.status.success() {
        return Err(err(format!(
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(out.stdout)
}

/// Whether the registry binary is installed.
pub fn available() -> bool {
    Path::new("/usr/bin/docker-registry").exists()
}

fn free_port() -> io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

impl Registry {
    /// Starts a registry whose files live in `dir` (created); waits until it answers.
    pub fn start(dir: &Path, opts: &RegistryOptions) -> io::Result<Registry> {
        fs::create_dir_all(dir.join("storage"))?;
        let port = free_port()?;
        let addr = format!("127.0.0.1:{port}");
        let mut http = format!("{{addr: {addr}, secret: peapod-test");
        let mut ca = None;
        if opts.tls {
            // A CA and a server certificate it signed, for IP 127.0.0.1 (a self-signed
            // certificate that is its own CA is refused by rustls as an end entity).
            let ca_key = dir.join("ca.key");
            let ca_crt = dir.join("ca.crt");
            let key = dir.join("tls.key");
            let csr = dir.join("tls.csr");
            let crt = dir.join("tls.crt");
            let ext = dir.join("ext.cnf");
            fs::write(&ext, "subjectAltName=IP:127.0.0.1\n")?;
            run(Command::new("openssl")
                .args([
                    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                ])
                .arg("-keyout")
                .arg(&ca_key)
                .arg("-out")
                .arg(&ca_crt)
                .args(["-subj", "/CN=peapod test CA"]))?;
            run(Command::new("openssl")
                .args([
                    "req",
                    "-newkey",
                    "rsa:2048",
                    "-nodes",
                    "-subj",
                    "/CN=127.0.0.1",
                ])
                .arg("-keyout")
                .arg(&key)
                .arg("-out")
                .arg(&csr))?;
            run(Command::new("openssl")
                .args(["x509", "-req", "-days", "2", "-set_serial", "1"])
                .arg("-in")
                .arg(&csr)
                .arg("-CA")
                .arg(&ca_crt)
                .arg("-CAkey")
                .arg(&ca_key)
                .arg("-out")
                .arg(&crt)
                .arg("-extfile")
                .arg(&ext))?;
            http.push_str(&format!(
                ", tls: {{certificate: {}, key: {}}}",
                crt.display(),
                key.display()
            ));
            ca = Some(ca_crt);
        }
        http.push('}');
        let mut auth = String::new();
        if let Some((user, pass)) = &opts.htpasswd {
            let line = run(Command::new("htpasswd").args(["-Bbn", user, pass]))?;
            let path = dir.join("htpasswd");
            fs::write(&path, line)?;
            auth = format!(
                "auth: {{htpasswd: {{realm: basic-realm, path: {}}}}}\n",
                path.display()
            );
        }
        let mut token = None;
        if let Some((user, pass)) = &opts.token {
            let server = TokenServer::start(&dir.join("token"), user, pass)?;
            auth = format!(
                "auth: {{token: {{realm: \"{}\", service: {}, issuer: {}, rootcertbundle: {}}}}}\n",
                server.realm,
                crate::token::SERVICE,
                crate::token::ISSUER,
                server.cert.display()
            );
            token = Some(server);
        }
        let config = format!(
            "version: 0.1\nlog: {{level: error}}\nstorage: {{filesystem: {{rootdirectory: {}}}, delete: {{enabled: true}}}}\nhttp: {http}\n{auth}",
            dir.join("storage").display()
        );
        let conf_path = dir.join("config.yml");
        fs::write(&conf_path, config)?;
        let log = fs::File::create(dir.join("registry.log"))?;
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&conf_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .map_err(|e| err(format!("cannot start docker-registry: {e}")))?;
        let mut reg = Registry {
            addr,
            dir: dir.to_path_buf(),
            ca,
            token,
            child: Some(child),
        };
        reg.wait_ready()?;
        Ok(reg)
    }

    fn wait_ready(&mut self) -> io::Result<()> {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(20) {
            if let Some(c) = self.child.as_mut()
                && let Ok(Some(status)) = c.try_wait()
            {
                let log = fs::read_to_string(self.dir.join("registry.log")).unwrap_or_default();
                return Err(err(format!("docker-registry exited ({status}): {log}")));
            }
            if TcpStream::connect(&self.addr).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(err(format!(
            "docker-registry on {} did not start",
            self.addr
        )))
    }

    /// Kills the server now (a test of a registry dying mid-pull).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The server's pid, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// `docker://ADDR/REPO`.
    pub fn docker(&self, repo: &str) -> String {
        format!("docker://{}/{repo}", self.addr)
    }

    /// Where the registry keeps a blob (to corrupt it in a fault test).
    pub fn blob_path(&self, digest: &str) -> PathBuf {
        let hex = digest.trim_start_matches("sha256:");
        self.dir.join(format!(
            "storage/docker/registry/v2/blobs/sha256/{}/{hex}/data",
            &hex[..2]
        ))
    }

    /// A plain HTTP GET of `path` (no TLS): the status line.
    pub fn http_status(&self, path: &str) -> Option<String> {
        let mut s = TcpStream::connect(&self.addr).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        write!(s, "GET {path} HTTP/1.0\r\nHost: {}\r\n\r\n", self.addr).ok()?;
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out.lines().next().map(str::to_owned)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `skopeo copy` with `args` (e.g. `--format v2s2`, `--multi-arch all`) from an OCI layout
/// tag to a registry that needs no TLS verification.
pub fn skopeo_copy(layout: &Path, tag: &str, dest: &str, args: &[&str]) -> io::Result<()> {
    run(Command::new("skopeo")
        .args(["copy", "--quiet", "--dest-tls-verify=false"])
        .args(args)
        .arg(format!("oci:{}:{tag}", layout.display()))
        .arg(dest))?;
    Ok(())
}

/// `skopeo inspect --tls-verify=false ARGS docker://…`: its stdout.
pub fn skopeo_inspect(image: &str, args: &[&str]) -> io::Result<String> {
    let out = run(Command::new("skopeo")
        .args(["inspect", "--tls-verify=false"])
        .args(args)
        .arg(image))?;
    Ok(String::from_utf8_lossy(&out).trim().to_owned())
}
