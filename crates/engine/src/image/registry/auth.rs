//! Credentials: Podman's `auth.json`, docker's `config.json`, credential helpers.
//!
//! Reading goes through the `docker_credential` crate (auth entries, identity tokens,
//! `credHelpers`/`credsStore` helpers), one file at a time in c/image's order:
//! `--authfile`/`$REGISTRY_AUTH_FILE` alone when given; else `$XDG_RUNTIME_DIR/containers/auth.json`
//! (root without it: `/run/containers/0/auth.json`), `$XDG_CONFIG_HOME/containers/auth.json`
//! (`~/.config/…`), then `$DOCKER_CONFIG/config.json` (`~/.docker/config.json`).
//!
//! Writing (login/logout) is ours, as Podman writes: `{"auths": {"HOST": {"auth":
//! base64("user:pass")}}}` indented with tabs, mode 0600 in a 0700 directory, replaced
//! atomically under an flock of the directory; other keys of the file are kept. A registry
//! with a `credHelpers` entry (or a file with `credsStore`) goes to `docker-credential-NAME
//! store|erase` instead.

use std::fs::{self, File};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine as _;
use serde_json::{Map, Value};

use super::RegistryError;

/// What to send to a registry.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    Anonymous,
    Basic(String, String),
    /// A docker `identitytoken` (an OAuth2 refresh token).
    IdentityToken(String),
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::Anonymous => f.write_str("Anonymous"),
            Credentials::Basic(u, _) => write!(f, "Basic({u}, ***)"),
            Credentials::IdentityToken(_) => f.write_str("IdentityToken(***)"),
        }
    }
}

impl Credentials {
    /// `--creds USER[:PASSWORD]`.
    pub fn parse_creds(s: &str) -> Result<Credentials, RegistryError> {
        match s.split_once(':') {
            Some((u, p)) if !u.is_empty() => Ok(Credentials::Basic(u.into(), p.into())),
            _ => Err(RegistryError::Invalid(format!(
                "invalid --creds {s:?}: expected USERNAME:PASSWORD"
            ))),
        }
    }
}

/// The auth file a command reads and writes.
#[derive(Debug, Clone)]
pub struct AuthFile {
    /// `--authfile` or `$REGISTRY_AUTH_FILE`: the only file then.
    pub explicit: Option<PathBuf>,
}

impl AuthFile {
    /// From `--authfile` (if given), else `$REGISTRY_AUTH_FILE`.
    pub fn new(authfile: Option<PathBuf>) -> AuthFile {
        let explicit = authfile.or_else(|| {
            std::env::var_os("REGISTRY_AUTH_FILE")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        });
        AuthFile { explicit }
    }

    /// Podman's default file: `$XDG_RUNTIME_DIR/containers/auth.json`, else
    /// `/run/containers/UID/auth.json`.
    pub fn default_path() -> PathBuf {
        match std::env::var_os("XDG_RUNTIME_DIR").filter(|v| !v.is_empty()) {
            Some(d) => PathBuf::from(d).join("containers/auth.json"),
            None => PathBuf::from(format!(
                "/run/containers/{}/auth.json",
                nix::unistd::geteuid()
            )),
        }
    }

    /// The file login and logout write.
    pub fn write_path(&self) -> PathBuf {
        self.explicit.clone().unwrap_or_else(AuthFile::default_path)
    }

    /// The files read, in order.
    pub fn read_paths(&self) -> Vec<PathBuf> {
        if let Some(p) = &self.explicit {
            return vec![p.clone()];
        }
        let home = std::env::var_os("HOME").map(PathBuf::from);
        let config_home = std::env::var_os("XDG_CONFIG_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| home.as_ref().map(|h| h.join(".config")));
        let docker = std::env::var_os("DOCKER_CONFIG")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| home.as_ref().map(|h| h.join(".docker")));
        let mut out = vec![AuthFile::default_path()];
        out.extend(config_home.map(|c| c.join("containers/auth.json")));
        out.extend(docker.map(|d| d.join("config.json")));
        out
    }

    /// The credentials stored for `host`, or anonymous.
    pub fn credentials(&self, host: &str) -> Result<Credentials, RegistryError> {
        for path in self.read_paths() {
            if let Some(c) = read_credentials(&path, host)? {
                return Ok(c);
            }
        }
        Ok(Credentials::Anonymous)
    }
}

/// The entry for `host` in one file: `None` when the file or the entry is missing.
fn read_credentials(path: &Path, host: &str) -> Result<Option<Credentials>, RegistryError> {
    use docker_credential::{CredentialRetrievalError as E, DockerCredential};
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(RegistryError::AuthFile {
                path: path.to_path_buf(),
                detail: e.to_string(),
            });
        }
    };
    // An empty file (a fresh `touch`) holds nothing.
    if file.metadata().map(|m| m.len() == 0).unwrap_or(false) {
        return Ok(None);
    }
    match docker_credential::get_credential_from_reader(std::io::BufReader::new(file), host) {
        Ok(DockerCredential::UsernamePassword(u, p)) => Ok(Some(Credentials::Basic(u, p))),
        Ok(DockerCredential::IdentityToken(t)) => Ok(Some(Credentials::IdentityToken(t))),
        Err(E::NoCredentialConfigured) => Ok(None),
        Err(e) => Err(RegistryError::AuthFile {
            path: path.to_path_buf(),
            detail: format!("reading credentials for {host}: {e}"),
        }),
    }
}

/// `HOST[:PORT]` from what a user gives `login`/`logout` (a scheme and a path are dropped;
/// `index.docker.io` is `docker.io`).
pub fn registry_key(input: &str) -> String {
    let s = input
        .strip_prefix("https://")
        .or_else(|| input.strip_prefix("http://"))
        .unwrap_or(input);
    let s = s.trim_end_matches('/');
    let s = if input.contains("://") {
        s.split('/').next().unwrap_or(s)
    } else {
        s
    };
    match s {
        "index.docker.io" | "registry-1.docker.io" => "docker.io".to_string(),
        _ => s.to_string(),
    }
}

/// The whole JSON object of an auth file (empty when missing).
fn read_object(path: &Path) -> Result<Map<String, Value>, RegistryError> {
    let bad = |detail: String| RegistryError::AuthFile {
        path: path.to_path_buf(),
        detail,
    };
    match fs::read(path) {
        Ok(b) if b.iter().all(u8::is_ascii_whitespace) => Ok(Map::new()),
        Ok(b) => match serde_json::from_slice::<Value>(&b).map_err(|e| bad(e.to_string()))? {
            Value::Object(m) => Ok(m),
            _ => Err(bad("not a JSON object".into())),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Map::new()),
        Err(e) => Err(bad(e.to_string())),
    }
}

/// Rewrites the file atomically (mode 0600, its directory created 0700).
fn write_object(path: &Path, obj: &Map<String, Value>) -> Result<(), RegistryError> {
    let bad = |detail: String| RegistryError::AuthFile {
        path: path.to_path_buf(),
        detail,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut out = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"\t");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
    serde::Serialize::serialize(obj, &mut ser).map_err(|e| bad(e.to_string()))?;
    out.push(b'\n');
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        path.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default(),
        std::process::id()
    ));
    let result = (|| -> std::io::Result<()> {
        let mut f = File::options()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(&out)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(bad(e.to_string()));
    }
    Ok(())
}

/// Runs `f` on the file's JSON under an exclusive lock of its directory, then writes it back
/// if `f` says so.
fn edit<T>(
    path: &Path,
    f: impl FnOnce(&mut Map<String, Value>) -> Result<(T, bool), RegistryError>,
) -> Result<T, RegistryError> {
    let bad = |detail: String| RegistryError::AuthFile {
        path: path.to_path_buf(),
        detail,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| bad(format!("creating {}: {e}", dir.display())))?;
    let dir_file = File::open(dir).map_err(|e| bad(e.to_string()))?;
    let _lock = nix::fcntl::Flock::lock(dir_file, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, e)| bad(format!("locking {}: {e}", dir.display())))?;
    let mut obj = read_object(path)?;
    let (out, changed) = f(&mut obj)?;
    if changed {
        write_object(path, &obj)?;
    }
    Ok(out)
}

/// The helper a registry's credentials go to: `credHelpers[key]`, else `credsStore`.
fn helper_for(obj: &Map<String, Value>, key: &str) -> Option<String> {
    obj.get("credHelpers")
        .and_then(|h| h.get(key))
        .and_then(Value::as_str)
        .or_else(|| obj.get("credsStore").and_then(Value::as_str))
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn run_helper(helper: &str, verb: &str, input: &str) -> Result<(), RegistryError> {
    let program = format!("docker-credential-{helper}");
    let fail = |detail: String| RegistryError::Invalid(format!("{program} {verb}: {detail}"));
    let mut child = Command::new(&program)
        .arg(verb)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| fail(e.to_string()))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(input.as_bytes())
            .map_err(|e| fail(e.to_string()))?;
    }
    let out = child.wait_with_output().map_err(|e| fail(e.to_string()))?;
    if !out.status.success() {
        let msg = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let err = String::from_utf8_lossy(&out.stderr).trim().to_string();
        return Err(fail(if msg.is_empty() { err } else { msg }));
    }
    Ok(())
}

/// Records `user`/`password` for `registry` in the auth file (or its helper).
pub fn login(
    file: &AuthFile,
    registry: &str,
    user: &str,
    password: &str,
) -> Result<(), RegistryError> {
    let key = registry_key(registry);
    let path = file.write_path();
    edit(&path, |obj| {
        if let Some(helper) = helper_for(obj, &key) {
            let input = serde_json::json!({"ServerURL": key, "Username": user, "Secret": password});
            run_helper(&helper, "store", &input.to_string())?;
            return Ok(((), false));
        }
        let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        let auths = obj
            .entry("auths")
            .or_insert_with(|| Value::Object(Map::new()));
        if !auths.is_object() {
            *auths = Value::Object(Map::new());
        }
        let auths = auths.as_object_mut().expect("made an object above");
        auths.insert(key.clone(), serde_json::json!({ "auth": auth }));
        Ok(((), true))
    })
}

/// What `logout` removed.
#[derive(Debug, PartialEq, Eq)]
pub enum LoggedOut {
    One(String),
    All,
}

/// Removes `registry`'s entry (or every entry with `None`) from the auth file.
pub fn logout(file: &AuthFile, registry: Option<&str>) -> Result<LoggedOut, RegistryError> {
    let path = file.write_path();
    let Some(registry) = registry else {
        if !path.exists() {
            return Ok(LoggedOut::All);
        }
        return edit(&path, |obj| {
            obj.insert("auths".into(), Value::Object(Map::new()));
            Ok((LoggedOut::All, true))
        });
    };
    let key = registry_key(registry);
    let removed = if path.exists() {
        edit(&path, |obj| {
            if let Some(helper) = obj
                .get("credHelpers")
                .and_then(|h| h.get(&key))
                .and_then(Value::as_str)
                .map(str::to_string)
            {
                run_helper(&helper, "erase", &key)?;
                return Ok((true, false));
            }
            let gone = obj
                .get_mut("auths")
                .and_then(Value::as_object_mut)
                .and_then(|a| a.remove(&key))
                .is_some();
            Ok((gone, gone))
        })?
    } else {
        false
    };
    if removed {
        return Ok(LoggedOut::One(key));
    }
    // Podman's hint when only docker's file has it.
    if file.explicit.is_none()
        && let Some(docker) = file.read_paths().last()
        && read_credentials(docker, &key).ok().flatten().is_some()
    {
        return Err(RegistryError::Invalid(format!(
            "not logged into {key} with current tool. Existing credentials were established via docker login. Please use docker logout instead"
        )));
    }
    Err(RegistryError::NotLoggedIn(key))
}

/// The user name stored for `registry` (`login --get-login`).
pub fn get_login(file: &AuthFile, registry: &str) -> Result<String, RegistryError> {
    let key = registry_key(registry);
    match file.credentials(&key)? {
        Credentials::Basic(u, _) => Ok(u),
        _ => Err(RegistryError::NotLoggedIn(key)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn login_logout_roundtrip_keeps_other_keys() {
        let t = tempfile::tempdir().unwrap();
        let path = t.path().join("sub/auth.json");
        let file = AuthFile {
            explicit: Some(path.clone()),
        };
        login(&file, "127.0.0.1:5001", "alice", "s3cret").unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            "{\n\t\"auths\": {\n\t\t\"127.0.0.1:5001\": {\n\t\t\t\"auth\": \"YWxpY2U6czNjcmV0\"\n\t\t}\n\t}\n}\n"
        );
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let dmode = fs::metadata(path.parent().unwrap())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(dmode, 0o700);
        assert_eq!(
            file.credentials("127.0.0.1:5001").unwrap(),
            Credentials::Basic("alice".into(), "s3cret".into())
        );
        assert_eq!(get_login(&file, "127.0.0.1:5001").unwrap(), "alice");
        assert_eq!(
            file.credentials("127.0.0.1:5002").unwrap(),
            Credentials::Anonymous
        );

        // Other keys of the file survive.
        let mut obj = read_object(&path).unwrap();
        obj.insert("other".into(), Value::String("kept".into()));
        write_object(&path, &obj).unwrap();
        login(&file, "https://quay.io/v2/", "bob", "pw").unwrap();
        let obj = read_object(&path).unwrap();
        assert_eq!(obj["other"], "kept");
        assert!(obj["auths"].get("quay.io").is_some());

        assert_eq!(
            logout(&file, Some("127.0.0.1:5001")).unwrap(),
            LoggedOut::One("127.0.0.1:5001".into())
        );
        assert_eq!(
            logout(&file, Some("127.0.0.1:5001"))
                .unwrap_err()
                .to_string(),
            "not logged into 127.0.0.1:5001"
        );
        assert_eq!(logout(&file, None).unwrap(), LoggedOut::All);
        assert_eq!(read_object(&path).unwrap()["auths"], serde_json::json!({}));
        // No temp file is left beside it.
        let names: Vec<_> = fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("auth.json")]);
    }

    #[test]
    fn keys_and_creds() {
        assert_eq!(registry_key("https://index.docker.io/v1/"), "docker.io");
        assert_eq!(registry_key("127.0.0.1:5000"), "127.0.0.1:5000");
        assert_eq!(registry_key("quay.io/ns"), "quay.io/ns");
        assert_eq!(
            Credentials::parse_creds("a:b:c").unwrap(),
            Credentials::Basic("a".into(), "b:c".into())
        );
        assert!(Credentials::parse_creds("nopass").is_err());
        assert!(format!("{:?}", Credentials::Basic("u".into(), "pw".into())).contains("***"));
    }
}
