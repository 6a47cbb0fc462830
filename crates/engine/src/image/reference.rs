//! Image names: parsing per the distribution reference grammar, and the normalisation
//! Podman applies to names it stores locally.
//!
//! `import busybox` stores `localhost/busybox:latest` (Podman does not send a local name
//! through the registries.conf search list when storing). A name whose first component is
//! a registry host (has a `.` or a `:`, or is `localhost`) keeps it. The tag defaults to
//! `latest` unless a digest is given. Lookup of a short name tries `localhost/` and then
//! Docker Hub (`docker.io/library/` for one-component names), see [`candidates`].

use std::fmt;

use super::ImageError;

/// A parsed image reference: `[domain/]path[:tag][@digest]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub domain: Option<String>,
    pub path: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(d) = &self.domain {
            write!(f, "{d}/")?;
        }
        f.write_str(&self.path)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

fn bad(name: &str, reason: impl Into<String>) -> ImageError {
    ImageError::InvalidReference {
        name: name.to_string(),
        reason: reason.into(),
    }
}

/// Parses and validates `name` without adding anything.
pub fn parse_reference(name: &str) -> Result<Reference, ImageError> {
    if name.is_empty() {
        return Err(bad(name, "empty name"));
    }
    let (rest, digest) = match name.split_once('@') {
        Some((r, d)) => {
            let ok = d.strip_prefix("sha256:").is_some_and(|h| {
                h.len() == 64
                    && h.bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            });
            if !ok {
                return Err(bad(name, format!("invalid digest {d:?}")));
            }
            (r, Some(d.to_string()))
        }
        None => (name, None),
    };
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (rest, tag) = match rest[last_slash..].rfind(':') {
        Some(i) => {
            let i = last_slash + i;
            let t = &rest[i + 1..];
            if !valid_tag(t) {
                return Err(bad(name, format!("invalid tag {t:?}")));
            }
            (&rest[..i], Some(t.to_string()))
        }
        None => (rest, None),
    };
    let (domain, path) = match rest.split_once('/') {
        Some((first, remainder))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.to_lowercase() != first =>
        {
            if !valid_domain(first) {
                return Err(bad(name, format!("invalid registry host {first:?}")));
            }
            (Some(first.to_string()), remainder)
        }
        _ => (None, rest),
    };
    if path.is_empty() {
        return Err(bad(name, "empty repository name"));
    }
    for comp in path.split('/') {
        if comp.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(bad(name, "repository name must be lowercase"));
        }
        if !valid_path_component(comp) {
            return Err(bad(
                name,
                format!("invalid repository name component {comp:?}"),
            ));
        }
    }
    let full_len = domain.as_ref().map_or(0, |d| d.len() + 1) + path.len();
    if full_len > 255 {
        return Err(bad(
            name,
            "repository name must not be more than 255 characters",
        ));
    }
    Ok(Reference {
        domain,
        path: path.to_string(),
        tag,
        digest,
    })
}

/// The name Podman stores for `name`: a registry host (`localhost` when none), the tag
/// (`latest` when neither tag nor digest is given).
pub fn normalize(name: &str) -> Result<String, ImageError> {
    let mut r = parse_reference(name)?;
    match r.domain.as_deref() {
        None => r.domain = Some("localhost".to_string()),
        Some("docker.io" | "index.docker.io") => {
            r.domain = Some("docker.io".to_string());
            if !r.path.contains('/') {
                r.path = format!("library/{}", r.path);
            }
        }
        Some(_) => {}
    }
    if r.tag.is_none() && r.digest.is_none() {
        r.tag = Some("latest".to_string());
    }
    Ok(r.to_string())
}

/// Full names a local lookup of `name` should try, in order: for a short name,
/// `localhost/NAME` and then Docker Hub's; a fully-qualified name only matches itself.
pub fn candidates(name: &str) -> Result<Vec<String>, ImageError> {
    let r = parse_reference(name)?;
    if r.domain.is_some() {
        return Ok(vec![normalize(name)?]);
    }
    let local = normalize(name)?;
    let hub = normalize(&format!("docker.io/{name}"))?;
    Ok(vec![local, hub])
}

fn valid_tag(t: &str) -> bool {
    let b = t.as_bytes();
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    !b.is_empty()
        && b.len() <= 128
        && word(b[0])
        && b[1..].iter().all(|&c| word(c) || c == b'.' || c == b'-')
}

/// `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`
fn valid_path_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        // A separator run: ".", "_", "__" or one or more "-".
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

/// `host(.host)*(:port)?`, each host label `[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?`.
fn valid_domain(d: &str) -> bool {
    let (host, port) = match d.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (d, None),
    };
    if let Some(p) = port
        && (p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return false;
    }
    !host.is_empty()
        && host.split('.').all(|l| {
            let b = l.as_bytes();
            !b.is_empty()
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn normalizes_like_podman_import() {
        let cases = [
            ("busybox", "localhost/busybox:latest"),
            ("busybox:1.36", "localhost/busybox:1.36"),
            ("my/app", "localhost/my/app:latest"),
            ("localhost/x", "localhost/x:latest"),
            ("quay.io/x/y:tag", "quay.io/x/y:tag"),
            ("localhost:5000/x", "localhost:5000/x:latest"),
            ("docker.io/busybox", "docker.io/library/busybox:latest"),
            (
                "registry.example.com:443/a/b/c:v1.0-rc_1",
                "registry.example.com:443/a/b/c:v1.0-rc_1",
            ),
            ("a__b-c--d.e_f", "localhost/a__b-c--d.e_f:latest"),
        ];
        for (input, want) in cases {
            assert_eq!(normalize(input).unwrap(), want, "{input}");
        }
        assert_eq!(
            normalize(&format!("busybox@{D}")).unwrap(),
            format!("localhost/busybox@{D}")
        );
        assert_eq!(
            normalize(&format!("quay.io/a:t@{D}")).unwrap(),
            format!("quay.io/a:t@{D}")
        );
    }

    #[test]
    fn rejects_invalid_names() {
        let long_tag = format!("x:{}", "a".repeat(129));
        let long_name = "a".repeat(256);
        for bad_name in [
            "",
            "Busybox",
            "library/Busybox",
            "a//b",
            "a/",
            "-a",
            "a-",
            "a..b",
            "a___b",
            "a:",
            "a:-tag",
            "a:t@g",
            "a@sha256:123",
            "a@md5:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "bad_host.com/x",
            "host:port/x",
            "quay.io/",
            long_tag.as_str(),
            long_name.as_str(),
        ] {
            let e = normalize(bad_name).unwrap_err().to_string();
            assert!(e.contains(&format!("{bad_name:?}")), "{bad_name}: {e}");
        }
        assert!(normalize("UPPER.io/x").is_ok(), "uppercase hosts are hosts");
    }

    #[test]
    fn lookup_candidates() {
        assert_eq!(
            candidates("busybox").unwrap(),
            vec![
                "localhost/busybox:latest",
                "docker.io/library/busybox:latest"
            ]
        );
        assert_eq!(
            candidates("busybox:1").unwrap(),
            vec!["localhost/busybox:1", "docker.io/library/busybox:1"]
        );
        assert_eq!(
            candidates("org/app").unwrap(),
            vec!["localhost/org/app:latest", "docker.io/org/app:latest"]
        );
        assert_eq!(
            candidates("quay.io/a/b").unwrap(),
            vec!["quay.io/a/b:latest"]
        );
        assert!(candidates("Nope").is_err());
    }

    #[test]
    fn parse_keeps_parts() {
        let r = parse_reference("localhost:5000/a/b:t").unwrap();
        assert_eq!(r.domain.as_deref(), Some("localhost:5000"));
        assert_eq!(r.path, "a/b");
        assert_eq!(r.tag.as_deref(), Some("t"));
        assert_eq!(r.digest, None);
        assert_eq!(r.to_string(), "localhost:5000/a/b:t");
    }
}
