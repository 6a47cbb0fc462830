//! `--mount type=…,…`: specgenutil's parser for bind, volume, tmpfs, image and devpts
//! mounts, with Podman's messages.

use super::*;

fn parse_bool(key: &str, v: Option<&str>) -> Result<bool> {
    match v {
        None => Ok(true),
        Some("true" | "True" | "TRUE" | "1") => Ok(true),
        Some("false" | "False" | "FALSE" | "0") => Ok(false),
        Some(other) => Err(invalid(format!(
            "invalid value {other:?} for mount option {key}: must be true or false"
        ))),
    }
}

/// `--mount type=bind|volume|tmpfs,src=…,dst=…,…`.
pub fn parse_mount_flag(m: &str) -> Result<MountSpec> {
    let mut kind = None;
    let mut src = None;
    let mut dst = None;
    let mut options: Vec<String> = Vec::new();
    let fields: Vec<&str> = m.split(',').collect();
    for f in &fields {
        let (key, value) = match f.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (*f, None),
        };
        if key == "type" {
            kind = Some(match value {
                Some("bind") => MountKind::Bind,
                Some("volume") => MountKind::Volume,
                Some("tmpfs") => MountKind::Tmpfs,
                Some("image") => MountKind::Image,
                Some(other) => {
                    return Err(invalid(format!("invalid filesystem type {other:?}")));
                }
                None => return Err(invalid(format!("{f}: invalid mount option"))),
            });
        }
    }
    let Some(kind) = kind else {
        return Err(invalid(format!(
            "invalid mount {m:?}: must specify a type (bind, volume, tmpfs or image)"
        )));
    };
    let only = |allowed: &[MountKind], f: &str| -> Result<()> {
        if allowed.contains(&kind) {
            Ok(())
        } else {
            Err(invalid(format!("{f}: invalid mount option")))
        }
    };
    use MountKind::{Bind, Image, Tmpfs, Volume};
    for f in fields {
        let (key, value) = match f.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (f, None),
        };
        let need = || value.ok_or_else(|| invalid(format!("{f}: invalid mount option")));
        // An image mount takes only these (specgenutil's image volume parser).
        if kind == Image
            && !matches!(
                key,
                "type"
                    | "src"
                    | "source"
                    | "dst"
                    | "destination"
                    | "target"
                    | "rw"
                    | "readwrite"
                    | "consistency"
            )
        {
            return Err(invalid(format!("{key}: invalid mount option")));
        }
        match key {
            "type" => {}
            "src" | "source" => {
                only(&[Bind, Volume, Image], f)?;
                src = Some(need()?.to_string());
            }
            "dst" | "destination" | "target" => dst = Some(need()?.to_string()),
            "ro" | "readonly" => {
                if parse_bool(key, value)? {
                    options.push("ro".into());
                } else {
                    options.push("rw".into());
                }
            }
            "rw" | "readwrite" => {
                options.push(if parse_bool(key, value)? { "rw" } else { "ro" }.into());
            }
            "bind-propagation" => {
                only(&[Bind], f)?;
                let p = need()?;
                if !PROPAGATIONS.contains(&p) {
                    return Err(invalid(format!("{f}: invalid mount option")));
                }
                options.push(p.to_string());
            }
            "bind-nonrecursive" => {
                only(&[Bind], f)?;
                if parse_bool(key, value)? {
                    options.push("bind".into());
                }
            }
            "relabel" => {
                only(&[Bind, Volume], f)?;
                options.push(
                    match need()? {
                        "shared" => "z",
                        "private" => "Z",
                        _ => return Err(invalid(format!("{f}: invalid mount option"))),
                    }
                    .into(),
                );
            }
            "z" | "Z" => {
                only(&[Bind, Volume], f)?;
                options.push(key.into());
            }
            "U" | "chown" => {
                only(&[Bind, Volume], f)?;
                if parse_bool(key, value)? {
                    options.push("U".into());
                }
            }
            "nocopy" | "volume-nocopy" => {
                only(&[Volume], f)?;
                if parse_bool(key, value)? {
                    options.push("nocopy".into());
                }
            }
            "exec" | "noexec" | "dev" | "nodev" | "suid" | "nosuid" if value.is_none() => {
                options.push(key.into());
            }
            "tmpfs-size" => {
                only(&[Tmpfs], f)?;
                options.push(format!("size={}", need()?));
            }
            "tmpfs-mode" => {
                only(&[Tmpfs], f)?;
                options.push(format!("mode={}", need()?));
            }
            "tmpcopyup" | "notmpcopyup" if value.is_none() => {
                only(&[Tmpfs], f)?;
                options.push(key.into());
            }
            // Docker's macOS hint; Podman accepts and ignores it.
            "consistency" => {}
            _ => return Err(invalid(format!("{f}: invalid mount option"))),
        }
    }
    let Some(dst) = dst else {
        return Err(invalid(format!(
            "invalid mount {m:?}: must set the destination (dst=, destination= or target=)"
        )));
    };
    let destination = destination(&dst)?;
    match kind {
        Tmpfs => validate_tmpfs_options(&options)?,
        _ => validate_volume_options(&options)?,
    }
    let (kind, source) = match (kind, src) {
        (Image, Some(s)) if !s.is_empty() => (Image, s),
        (Image, _) => {
            return Err(invalid(format!(
                "invalid mount {m:?}: must set source and destination for image volume"
            )));
        }
        (Bind, Some(s)) => (Bind, host_path(&s)?),
        (Bind, None) => {
            return Err(invalid(format!(
                "invalid mount {m:?}: a bind mount must set its source (src= or source=)"
            )));
        }
        (Volume, Some(s)) if !s.is_empty() => {
            volume_name(&s)?;
            (Volume, s)
        }
        (Volume, _) => (MountKind::Anonymous, String::new()),
        (k, _) => (k, String::new()),
    };
    Ok(MountSpec {
        kind,
        source,
        destination,
        options,
        from_image: false,
    })
}
