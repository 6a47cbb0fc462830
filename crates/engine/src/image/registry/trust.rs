//! The signature policy (`policy.json`, containers-policy.json(5)): `image trust set` and
//! `show` as Podman 4.3 edits and describes it, and its check before a pull. peapod
//! verifies no signatures: a pull whose policy asks for one (`signedBy`,
//! `sigstoreSigned`) is refused rather than let through unchecked.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::RegistryError;
use super::conf::FullName;

/// The system's policy file.
pub const SYSTEM_POLICY: &str = "/etc/containers/policy.json";

/// Where the policy is read, as containers/image chooses: the user's
/// `~/.config/containers/policy.json` when it exists, else the system's.
pub fn default_policy_path() -> PathBuf {
    std::env::var_os("HOME")
        .map(|h| PathBuf::from(h).join(".config/containers/policy.json"))
        .filter(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from(SYSTEM_POLICY))
}

/// One row of `image trust show` (Podman's `trust.Policy` and its JSON names).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrustRow {
    pub transport: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub repo_name: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<String>,
    #[serde(rename = "sigstore", skip_serializing_if = "String::is_empty")]
    pub signature_store: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub gpg_id: String,
}

fn invalid(msg: String) -> RegistryError {
    RegistryError::Invalid(msg)
}

fn read(path: &Path) -> Result<Map<String, Value>, RegistryError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| invalid(format!("unable to read policy file: {e}")))?;
    match serde_json::from_str(&text) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(invalid(format!(
            "could not parse trust policies from {}: not an object",
            path.display()
        ))),
        Err(e) => Err(invalid(format!(
            "could not parse trust policies from {}: {e}",
            path.display()
        ))),
    }
}

/// `image trust set --type KIND [-f KEYFILE…] SCOPE` (Podman's `AddPolicyEntries`): the
/// requirements of `default` or of a docker scope replaced, the file written back indented
/// as Go writes it. A scope needs a default policy first.
pub fn set_trust(
    path: &Path,
    scope: &str,
    kind: &str,
    keys: &[String],
) -> Result<(), RegistryError> {
    let kind = if kind == "accept" {
        "insecureAcceptAnything"
    } else {
        kind
    };
    let reqs: Vec<Value> = match kind {
        "insecureAcceptAnything" | "reject" => {
            if !keys.is_empty() {
                return Err(invalid(format!(
                    "{} public keys unexpectedly provided for trust type {kind}",
                    keys.len()
                )));
            }
            vec![json!({ "type": kind })]
        }
        "signedBy" | "sigstoreSigned" => {
            if keys.is_empty() {
                return Err(invalid(format!(
                    "at least one public key must be defined for type '{kind}'"
                )));
            }
            keys.iter()
                .map(|k| {
                    if kind == "signedBy" {
                        json!({ "type": kind, "keyType": "GPGKeys", "keyPath": k })
                    } else {
                        json!({ "type": kind, "keyPath": k })
                    }
                })
                .collect()
        }
        other => return Err(invalid(format!("unknown trust type {other:?}"))),
    };
    let mut policy = if path.exists() {
        read(path).map_err(|_| invalid("could not read trust policies".into()))?
    } else {
        Map::new()
    };
    if scope == "default" {
        policy.insert("default".into(), Value::Array(reqs));
    } else {
        if policy
            .get("default")
            .and_then(Value::as_array)
            .is_none_or(|d| d.is_empty())
        {
            return Err(invalid("default trust policy must be set".into()));
        }
        let transports = policy
            .entry("transports")
            .or_insert_with(|| Value::Object(Map::new()));
        let Some(transports) = transports.as_object_mut() else {
            return Err(invalid("could not read trust policies".into()));
        };
        // The transport that already has the scope, else docker.
        let owner = transports
            .iter()
            .find(|(_, scopes)| scopes.get(scope).is_some())
            .map(|(t, _)| t.clone())
            .unwrap_or_else(|| "docker".into());
        let scopes = transports
            .entry(owner)
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(scopes) = scopes.as_object_mut() {
            scopes.insert(scope.to_string(), Value::Array(reqs));
        }
    }
    let mut out = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
    Value::Object(policy)
        .serialize(&mut ser)
        .map_err(|e| invalid(format!("setting trust policy: {e}")))?;
    std::fs::write(path, out).map_err(|e| invalid(format!("setting trust policy: {e}")))
}

/// Podman's words for a requirement's type in `show`.
fn describe_type(kind: &str) -> &'static str {
    match kind {
        "insecureAcceptAnything" => "accept",
        "signedBy" => "signed",
        "sigstoreSigned" => "sigstoreSigned",
        "reject" => "reject",
        _ => "",
    }
}

fn rows_of(reqs: &Value, transport: &str, name: &str, repo: &str) -> Vec<TrustRow> {
    reqs.as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            let kind = r["type"].as_str().unwrap_or_default();
            TrustRow {
                transport: transport.into(),
                name: name.into(),
                repo_name: repo.into(),
                keys: Vec::new(),
                signature_store: String::new(),
                kind: describe_type(kind).into(),
                gpg_id: if kind == "sigstoreSigned" {
                    "N/A".into()
                } else {
                    String::new()
                },
            }
        })
        .collect()
}

/// `image trust show`: the default first, then each transport's scopes in order (`docker`
/// shown as `repository`), as Podman's `PolicyDescription` lists them. The GPG key ids of
/// `signedBy` entries are not read (Podman runs gpg2 for them).
pub fn describe(path: &Path) -> Result<Vec<TrustRow>, RegistryError> {
    let policy = read(path).map_err(|e| invalid(format!("could not read trust policies: {e}")))?;
    let mut rows = Vec::new();
    if let Some(d) = policy.get("default") {
        rows.extend(rows_of(d, "all", "* (default)", "default"));
    }
    if let Some(Value::Object(transports)) = policy.get("transports") {
        // serde_json's maps are ordered by key, as Podman sorts them.
        for (t, scopes) in transports {
            let shown = if t == "docker" { "repository" } else { t };
            for (scope, reqs) in scopes.as_object().into_iter().flatten() {
                rows.extend(rows_of(reqs, shown, scope, scope));
            }
        }
    }
    Ok(rows)
}

/// The scopes a docker image matches, most specific first (containers/image's
/// `PolicyConfigurationNamespaces`, then its wildcard host scopes): `host/repo:tag`,
/// `host/repo`, each parent namespace, `host`, `*.domain` for each parent domain.
fn scopes(name: &FullName) -> Vec<String> {
    let repo = name.repository();
    let mut out = Vec::new();
    if let Some(d) = &name.digest {
        out.push(format!("{repo}@{d}"));
    } else if let Some(t) = &name.tag {
        out.push(format!("{repo}:{t}"));
    }
    let mut r = repo.as_str();
    out.push(r.to_string());
    while let Some((parent, _)) = r.rsplit_once('/') {
        out.push(parent.to_string());
        r = parent;
    }
    let host = name.domain.split(':').next().unwrap_or_default();
    let mut d = host;
    while let Some((_, rest)) = d.split_once('.') {
        out.push(format!("*.{rest}"));
        d = rest;
    }
    out
}

/// The signature policy a pull is checked against, read once per pull.
pub struct Policy {
    path: PathBuf,
    /// None: no policy file (pulls are allowed: containers/image refuses to work without
    /// one; peapod has always pulled without).
    doc: Option<Map<String, Value>>,
}

impl Policy {
    pub fn load(path: &Path) -> Result<Policy, RegistryError> {
        let doc = if path.as_os_str().is_empty() || !path.exists() {
            None
        } else {
            Some(read(path)?)
        };
        Ok(Policy {
            path: path.to_path_buf(),
            doc,
        })
    }

    /// Whether `name` may be pulled: `reject` is refused in containers/image's words; a
    /// requirement for a signature is refused, since peapod verifies none. The docker
    /// transport's most specific scope decides, then its default scope `""`, then the
    /// policy's default.
    pub fn check_pull(&self, name: &FullName) -> Result<(), RegistryError> {
        let Some(policy) = &self.doc else {
            return Ok(());
        };
        let path = self.path.display();
        let mut wanted = scopes(name);
        wanted.push(String::new());
        let scoped = policy
            .get("transports")
            .and_then(|t| t.get("docker"))
            .and_then(|scopes| wanted.iter().find_map(|s| scopes.get(s)));
        let reqs = scoped
            .or_else(|| policy.get("default"))
            .and_then(Value::as_array)
            .filter(|r| !r.is_empty())
            .ok_or_else(|| {
                invalid(format!(
                    "invalid policy in {path}: no requirements for docker://{name}"
                ))
            })?;
        for r in reqs {
            match r["type"].as_str().unwrap_or_default() {
                "insecureAcceptAnything" => {}
                "reject" => {
                    return Err(RegistryError::Rejected(format!(
                        "Running image docker://{name} is rejected by policy."
                    )));
                }
                kind @ ("signedBy" | "sigstoreSigned" | "signedBaseLayer") => {
                    return Err(RegistryError::Rejected(format!(
                        "the policy in {path} wants docker://{name} {kind}, and peapod verifies no signatures"
                    )));
                }
                other => {
                    return Err(invalid(format!(
                        "invalid policy in {path}: unknown policy requirement type {other:?}"
                    )));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full(s: &str) -> FullName {
        let (repo, tag) = s.rsplit_once(':').unwrap();
        let (domain, path) = repo.split_once('/').unwrap();
        FullName {
            domain: domain.into(),
            path: path.into(),
            tag: Some(tag.into()),
            digest: None,
        }
    }

    #[test]
    fn scopes_most_specific_first() {
        assert_eq!(
            scopes(&full("quay.io/libpod/testimage:1")),
            [
                "quay.io/libpod/testimage:1",
                "quay.io/libpod/testimage",
                "quay.io/libpod",
                "quay.io",
                "*.io"
            ]
        );
    }

    #[test]
    fn set_show_and_check_as_podman() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("policy.json");
        assert!(
            set_trust(&p, "docker.io", "reject", &[]).is_err(),
            "needs a default"
        );
        set_trust(&p, "default", "accept", &[]).unwrap();
        set_trust(&p, "default", "reject", &[]).unwrap();
        set_trust(&p, "docker.io", "reject", &[]).unwrap();
        set_trust(&p, "127.0.0.1:5000/ok", "accept", &[]).unwrap();
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            "{\n    \"default\": [\n        {\n            \"type\": \"reject\"\n        }\n    ],\n    \"transports\": {\n        \"docker\": {\n            \"127.0.0.1:5000/ok\": [\n                {\n                    \"type\": \"insecureAcceptAnything\"\n                }\n            ],\n            \"docker.io\": [\n                {\n                    \"type\": \"reject\"\n                }\n            ]\n        }\n    }\n}"
        );
        let rows = describe(&p).unwrap();
        let short: Vec<(&str, &str, &str)> = rows
            .iter()
            .map(|r| (r.transport.as_str(), r.repo_name.as_str(), r.kind.as_str()))
            .collect();
        assert_eq!(
            short,
            [
                ("all", "default", "reject"),
                ("repository", "127.0.0.1:5000/ok", "accept"),
                ("repository", "docker.io", "reject")
            ]
        );
        let check = |name: &str| Policy::load(&p).unwrap().check_pull(&full(name));
        assert!(check("127.0.0.1:5000/ok:latest").is_ok());
        let refused = check("127.0.0.1:5000/other:latest").unwrap_err();
        assert_eq!(
            refused.to_string(),
            "Source image rejected: Running image docker://127.0.0.1:5000/other:latest is rejected by policy."
        );
        let none = Policy::load(&dir.path().join("none.json")).unwrap();
        assert!(none.check_pull(&full("a.io/b:c")).is_ok());
        assert!(set_trust(&p, "default", "bogus", &[]).is_err());
        assert!(set_trust(&p, "default", "signedBy", &[]).is_err());
        set_trust(&p, "quay.io", "signedBy", &["/k.gpg".into()]).unwrap();
        let e = check("quay.io/a/b:1").unwrap_err().to_string();
        assert!(e.contains("peapod verifies no signatures"), "{e}");
    }
}
