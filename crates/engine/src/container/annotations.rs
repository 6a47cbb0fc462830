//! Annotations (`--annotation KEY=VALUE`, a Kubernetes pod's `metadata.annotations`),
//! checked as Podman checks them (its `pkg/annotations`, after Kubernetes' own rules):
//! every key a qualified name, case aside, and all keys and values together at most
//! 256 KiB.
//!
//! Podman 4.3 also refuses any kube annotation value over 63 characters, in a pod's
//! `metadata.annotations` and in `kube play --annotation` (a label rule applied by mistake,
//! later replaced by the size limit); `kube play` keeps that rule, as its users' scripts
//! see it (see `kube::play`); `--annotation` of `create`/`run` has only the rules here.

use std::collections::BTreeMap;

use crate::error::{Error, Result};

/// Kubernetes' `TotalAnnotationSizeLimitB`, which Podman adopted.
pub const TOTAL_SIZE_LIMIT: usize = 256 * 1024;

const NAME_MAX: usize = 63;
const PREFIX_MAX: usize = 253;
const NAME_RULE: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const PREFIX_RULE: &str = "annotations must be formatted as a valid lowercase RFC1123 subdomain of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

/// `--annotation` values: `KEY=VALUE` each, later ones winning; then [`validate`]d.
pub(crate) fn parse(list: &[String]) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for a in list {
        let Some((k, v)) = a.split_once('=') else {
            return Err(Error::invalid(format!(
                "annotation {a:?}: annotations must be formatted KEY=VALUE"
            )));
        };
        out.insert(k.to_string(), v.to_string());
    }
    validate(&out).map_err(Error::invalid)?;
    Ok(out)
}

/// Podman's `ValidateAnnotations`: the first bad key (in key order), else the total size.
pub(crate) fn validate(annotations: &BTreeMap<String, String>) -> std::result::Result<(), String> {
    for k in annotations.keys() {
        qualified_name(&k.to_lowercase())?;
    }
    let size: usize = annotations.iter().map(|(k, v)| k.len() + v.len()).sum();
    if size > TOTAL_SIZE_LIMIT {
        return Err(format!(
            "annotations size {size} is larger than limit {TOTAL_SIZE_LIMIT}"
        ));
    }
    Ok(())
}

/// Kubernetes' qualified name: `[prefix/]name`, the prefix a DNS subdomain.
fn qualified_name(key: &str) -> std::result::Result<(), String> {
    let parts: Vec<&str> = key.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                return Err(format!("prefix part of {key} must be non-empty"));
            }
            if prefix.len() > PREFIX_MAX {
                return Err(format!(
                    "prefix part must be no more than {PREFIX_MAX} characters"
                ));
            }
            if !prefix.split('.').all(dns_label) {
                return Err(PREFIX_RULE.to_string());
            }
            *name
        }
        _ => {
            return Err(format!(
                "a qualified name of {key} {NAME_RULE} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
            ));
        }
    };
    if name.is_empty() {
        return Err(format!("name part of {key} must be non-empty"));
    }
    if name.len() > NAME_MAX {
        return Err(format!(
            "name part of {key} must be no more than {NAME_MAX} characters"
        ));
    }
    let b = name.as_bytes();
    let inner_ok = b
        .iter()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'));
    if !inner_ok || !b[0].is_ascii_alphanumeric() || !b[b.len() - 1].is_ascii_alphanumeric() {
        return Err(format!("name part of {key} {NAME_RULE}"));
    }
    Ok(())
}

/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?`
fn dns_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn keys_are_qualified_names() {
        for ok in [
            "simple",
            "UpperCase123",
            "1234/5678",
            "now.with.dots/simple",
            "io.podman.annotations.init.container.type",
            "a_b-c.d",
        ] {
            assert_eq!(validate(&map(&[(ok, "x")])), Ok(()), "{ok}");
        }
        let bad = |k: &str| validate(&map(&[(k, "x")])).unwrap_err();
        assert!(
            bad("nospecialchars^=@").starts_with("name part of nospecialchars^=@ must consist")
        );
        assert!(bad("cantendwithadash-").contains("must start and end with an alphanumeric"));
        assert!(bad("only/one/slash").starts_with("a qualified name of only/one/slash"));
        assert_eq!(bad("/name"), "prefix part of /name must be non-empty");
        assert_eq!(
            bad("example.com/"),
            "name part of example.com/ must be non-empty"
        );
        assert!(bad(&"a".repeat(64)).ends_with("must be no more than 63 characters"));
        assert!(
            bad("Bad_Prefix/x")
                .starts_with("annotations must be formatted as a valid lowercase RFC1123")
        );
    }

    #[test]
    fn total_size_is_bounded() {
        let half = "b".repeat(TOTAL_SIZE_LIMIT / 2 - 1);
        assert_eq!(validate(&map(&[("a", &half), ("c", &half)])), Ok(()));
        let whole = "b".repeat(TOTAL_SIZE_LIMIT);
        assert_eq!(
            validate(&map(&[("a", &whole)])),
            Err("annotations size 262145 is larger than limit 262144".into())
        );
    }

    #[test]
    fn parse_flags() {
        let m = parse(&["a=1".into(), "b=x=y".into(), "a=2".into()]).unwrap();
        assert_eq!(m, map(&[("a", "2"), ("b", "x=y")]));
        let e = parse(&["novalue".into()]).unwrap_err().to_string();
        assert!(e.contains("annotations must be formatted KEY=VALUE"), "{e}");
        assert!(parse(&[format!("big={}", "x".repeat(50 << 20))]).is_err());
    }
}
