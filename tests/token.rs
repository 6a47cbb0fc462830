//! A Bearer-token server for registry tests: the `realm` a `docker-registry` configured with
//! `auth: token` sends clients to. It answers `GET /token?service=…&scope=…` with a JWT
//! signed (RS256, by `openssl dgst`) with a key whose self-signed certificate is the
//! registry's `rootcertbundle`; the certificate travels in the token's `x5c` header, which is
//! how the registry (distribution 2.8) finds the key. Basic credentials decide the grant: the
//! right ones get every action asked for, none get a token without access (as Docker Hub
//! answers an anonymous client for a private repository), wrong ones get 401. Every request
//! is logged, so a test can show the token path was taken.

use std::fs;
use std::io::{self, BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

/// The `service` the registry names and the token's audience.
pub const SERVICE: &str = "peapod-test-registry";
/// The token's issuer, as the registry's config expects it.
pub const ISSUER: &str = "peapod-test-token-server";

/// One request the server answered: the account of its credentials (None when it had
/// none), the scopes asked for, and the status it answered.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    pub account: Option<String>,
    pub scopes: Vec<String>,
    pub status: u16,
}

/// A running token server; stopped when dropped.
pub struct TokenServer {
    /// `http://127.0.0.1:PORT/token`: the registry's `realm`.
    pub realm: String,
    /// The certificate the registry trusts (`rootcertbundle`).
    pub cert: PathBuf,
    log: Arc<Mutex<Vec<TokenRequest>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

fn err(msg: String) -> io::Error {
    io::Error::other(msg)
}

impl TokenServer {
    /// Makes a signing key and certificate in `dir` and serves tokens for `user`/`password`.
    pub fn start(dir: &Path, user: &str, password: &str) -> io::Result<TokenServer> {
        fs::create_dir_all(dir)?;
        let key = dir.join("token.key");
        let cert = dir.join("token.crt");
        let out = Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            ])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .args(["-subj", "/CN=peapod test token signer"])
            .stdin(Stdio::null())
            .output()?;
        if !out.status.success() {
            return Err(err(format!(
                "openssl req: {}",
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        // A PEM body is the base64 of the DER: what x5c carries.
        let x5c: String = fs::read_to_string(&cert)?
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        let listener = TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let realm = format!("http://{}/token", listener.local_addr()?);
        let log = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let signer = Signer {
            key,
            x5c,
            user: user.to_owned(),
            password: password.to_owned(),
        };
        let (log2, stop2) = (log.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !stop2.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let _ = stream.set_nonblocking(false);
                        if let Ok(req) = signer.answer(stream) {
                            log2.lock().unwrap().push(req);
                        }
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        Ok(TokenServer {
            realm,
            cert,
            log,
            stop,
            thread: Some(thread),
        })
    }

    /// The requests answered so far.
    pub fn requests(&self) -> Vec<TokenRequest> {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct Signer {
    key: PathBuf,
    x5c: String,
    user: String,
    password: String,
}

impl Signer {
    /// Reads one request from `stream` and answers it.
    fn answer(&self, stream: TcpStream) -> io::Result<TokenRequest> {
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        let mut reader = BufReader::new(stream.try_clone()?);
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let target = line.split_whitespace().nth(1).unwrap_or("").to_owned();
        let mut basic = None;
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h)? == 0 || h.trim().is_empty() {
                break;
            }
            if let Some((name, value)) = h.split_once(':')
                && name.eq_ignore_ascii_case("authorization")
                && let Some(b64) = value.trim().strip_prefix("Basic ")
            {
                basic = STANDARD
                    .decode(b64.trim())
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok());
            }
        }
        let scopes: Vec<String> = query_values(&target, "scope");
        let account = basic
            .as_deref()
            .map(|b| b.split_once(':').map_or(b, |(u, _)| u).to_owned());
        let granted = match basic.as_deref().map(|b| b.split_once(':')) {
            None => Some(false),
            Some(Some((u, p))) if u == self.user && p == self.password => Some(true),
            Some(_) => None,
        };
        let mut out = stream;
        let status = match granted {
            None => {
                let body =
                    r#"{"errors":[{"code":"UNAUTHORIZED","message":"invalid username/password"}]}"#;
                respond(&mut out, "401 Unauthorized", body)?;
                401
            }
            Some(full) => {
                let token = self.token(account.as_deref().unwrap_or(""), &scopes, full)?;
                let body =
                    format!(r#"{{"token":"{token}","access_token":"{token}","expires_in":300}}"#);
                respond(&mut out, "200 OK", &body)?;
                200
            }
        };
        Ok(TokenRequest {
            account,
            scopes,
            status,
        })
    }

    /// A signed JWT granting `scopes` (when `full`) or nothing.
    fn token(&self, subject: &str, scopes: &[String], full: bool) -> io::Result<String> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let access: Vec<serde_json::Value> = if full {
            scopes
                .iter()
                .filter_map(|s| {
                    // repository:NAME:ACTIONS, where NAME may hold a port's colon.
                    let (kind, rest) = s.split_once(':')?;
                    let (name, actions) = rest.rsplit_once(':')?;
                    Some(serde_json::json!({
                        "type": kind,
                        "name": name,
                        "actions": actions.split(',').collect::<Vec<_>>(),
                    }))
                })
                .collect()
        } else {
            Vec::new()
        };
        let header = serde_json::json!({"typ": "JWT", "alg": "RS256", "x5c": [self.x5c]});
        let claims = serde_json::json!({
            "iss": ISSUER, "sub": subject, "aud": SERVICE,
            "exp": now + 300, "nbf": now - 10, "iat": now - 10,
            "jti": format!("{now}-{}", std::process::id()),
            "access": access,
        });
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut child = Command::new("openssl")
            .args(["dgst", "-sha256", "-sign"])
            .arg(&self.key)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        child
            .stdin
            .take()
            .expect("piped stdin")
            .write_all(input.as_bytes())?;
        let out = child.wait_with_output()?;
        if !out.status.success() {
            return Err(err(format!(
                "openssl dgst: {}",
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(out.stdout)))
    }
}

fn respond(out: &mut TcpStream, status: &str, body: &str) -> io::Result<()> {
    write!(
        out,
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    out.flush()
}

/// Every value of query parameter `key` in `target` (`/token?a=b&…`), percent-decoded.
fn query_values(target: &str, key: &str) -> Vec<String> {
    let query = target.split_once('?').map_or("", |(_, q)| q);
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .filter(|(k, _)| *k == key)
        .map(|(_, v)| percent_decode(v))
        .collect()
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(v) => {
                        out.push(v);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_are_decoded() {
        assert_eq!(
            query_values(
                "/token?service=x&scope=repository%3Abb%3Apull%2Cpush&scope=repository:a:pull",
                "scope"
            ),
            vec!["repository:bb:pull,push", "repository:a:pull"]
        );
        assert_eq!(percent_decode("a%2"), "a%2");
    }
}
