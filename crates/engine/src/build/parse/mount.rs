//! `RUN --mount=…` (BuildKit's `commands_runmount.go`): a CSV list of `key=value` fields
//! (`type`, `from`, `source`/`src`, `target`/`dst`/`destination`, `ro`/`readonly`,
//! `rw`/`readwrite`, `id`, `sharing`, `required`, `size`, `mode`, `uid`, `gid`, `env`).
//!
//! BuildKit checks the list when parsing and reads it again with variables expanded when the
//! step runs; [`Mount::parse`] does both (with `expand` the identity at parse time). A
//! variable in a field that must be a literal type, mode or number (`type=$T`) is refused at
//! parse time here, where BuildKit would wait to see what it expands to.

use serde::Serialize;

/// The kind of a RUN mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MountType {
    Bind,
    Cache,
    Tmpfs,
    Secret,
    Ssh,
}

impl MountType {
    pub fn as_str(self) -> &'static str {
        match self {
            MountType::Bind => "bind",
            MountType::Cache => "cache",
            MountType::Tmpfs => "tmpfs",
            MountType::Secret => "secret",
            MountType::Ssh => "ssh",
        }
    }
}

/// How concurrent builds share a cache mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Sharing {
    Shared,
    Private,
    Locked,
}

/// One `--mount` of a RUN step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mount {
    /// The flag's value as written (variables not expanded).
    pub spec: String,
    pub kind: MountType,
    pub from: Option<String>,
    pub source: Option<String>,
    pub target: Option<String>,
    pub readonly: bool,
    /// tmpfs `size=`, in bytes (0: no limit).
    pub size_limit: i64,
    /// `id=` of a cache or secret.
    pub id: Option<String>,
    pub sharing: Option<Sharing>,
    pub required: bool,
    /// secret `env=`: expose the secret as this variable.
    pub env: Option<String>,
    pub mode: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
}

const ALL_KEYS: &[&str] = &[
    "type",
    "from",
    "source",
    "target",
    "readonly",
    "id",
    "sharing",
    "required",
    "size",
    "mode",
    "uid",
    "gid",
    "src",
    "dst",
    "destination",
    "ro",
    "rw",
    "readwrite",
    "env",
];

impl Mount {
    /// Parse a `--mount` value, expanding each value with `expand`.
    pub fn parse(
        spec: &str,
        expand: &dyn Fn(&str) -> Result<String, String>,
    ) -> Result<Mount, String> {
        let fields = csv_fields(spec).map_err(|e| format!("failed to parse csv mounts: {e}"))?;
        let mut m = Mount {
            spec: spec.to_string(),
            kind: MountType::Bind,
            from: None,
            source: None,
            target: None,
            readonly: false,
            size_limit: 0,
            id: None,
            sharing: None,
            required: false,
            env: None,
            mode: None,
            uid: None,
            gid: None,
        };
        let mut ro_auto = true;
        for field in &fields {
            let (key, value) = match field.split_once('=') {
                Some((k, v)) => (k.to_lowercase(), Some(v)),
                None => (field.to_lowercase(), None),
            };
            let Some(value) = value else {
                match key.as_str() {
                    "readonly" | "ro" => {
                        m.readonly = true;
                        ro_auto = false;
                    }
                    "readwrite" | "rw" => {
                        m.readonly = false;
                        ro_auto = false;
                    }
                    "required" if matches!(m.kind, MountType::Secret | MountType::Ssh) => {
                        m.required = true;
                    }
                    "required" => {
                        return Err(format!(
                            "unexpected key '{key}' for mount type '{}'",
                            m.kind.as_str()
                        ));
                    }
                    _ => return Err(format!("invalid field '{field}' must be a key=value pair")),
                }
                continue;
            };
            // BuildKit refuses a variable in `from` when it first reads the list.
            if key == "from" && value.find('$').is_some_and(|i| i != value.len() - 1) {
                return Err(format!(
                    "'{key}' doesn't support variable expansion, define alias stage instead"
                ));
            }
            let value = expand(value)?;
            m.set(&key, field, value, &mut ro_auto)?;
        }
        m.check(ro_auto)?;
        Ok(m)
    }

    fn set(
        &mut self,
        key: &str,
        field: &str,
        value: String,
        ro_auto: &mut bool,
    ) -> Result<(), String> {
        match key {
            "type" => {
                self.kind = match value.to_lowercase().as_str() {
                    "bind" => MountType::Bind,
                    "cache" => MountType::Cache,
                    "tmpfs" => MountType::Tmpfs,
                    "secret" => MountType::Secret,
                    "ssh" => MountType::Ssh,
                    _ => {
                        return Err(super::flags::suggest(
                            format!("unsupported mount type {value:?}"),
                            &value,
                            &["bind", "cache", "tmpfs", "secret", "ssh"],
                            true,
                        ));
                    }
                }
            }
            "from" => self.from = Some(value),
            "source" | "src" => self.source = Some(value),
            "target" | "dst" | "destination" => self.target = Some(value),
            "id" => self.id = Some(value),
            "env" => self.env = Some(value),
            "sharing" => {
                self.sharing = Some(match value.to_lowercase().as_str() {
                    "shared" => Sharing::Shared,
                    "private" => Sharing::Private,
                    "locked" => Sharing::Locked,
                    _ => {
                        return Err(super::flags::suggest(
                            format!("unsupported sharing value {value:?}"),
                            &value,
                            &["shared", "private", "locked"],
                            true,
                        ));
                    }
                })
            }
            "readonly" | "ro" | "readwrite" | "rw" | "required" | "size" | "mode" | "uid"
            | "gid" => self.set_typed(key, &value, ro_auto)?,
            _ => {
                return Err(super::flags::suggest(
                    format!("unexpected key '{key}' in '{field}'"),
                    key,
                    ALL_KEYS,
                    true,
                ));
            }
        }
        Ok(())
    }

    /// The keys whose values are booleans, sizes or numbers.
    fn set_typed(&mut self, key: &str, value: &str, ro_auto: &mut bool) -> Result<(), String> {
        let invalid = || format!("invalid value for {key}: {value}");
        let wrong_type = || {
            format!(
                "unexpected key '{key}' for mount type '{}'",
                self.kind.as_str()
            )
        };
        match key {
            "readonly" | "ro" => {
                self.readonly = go_parse_bool(value).ok_or_else(invalid)?;
                *ro_auto = false;
            }
            "readwrite" | "rw" => {
                self.readonly = !go_parse_bool(value).ok_or_else(invalid)?;
                *ro_auto = false;
            }
            "required" if matches!(self.kind, MountType::Secret | MountType::Ssh) => {
                self.required = go_parse_bool(value).ok_or_else(invalid)?;
            }
            "size" if self.kind == MountType::Tmpfs => {
                self.size_limit =
                    crate::container::resources::ram_in_bytes(value).ok_or_else(invalid)?;
            }
            "required" | "size" => return Err(wrong_type()),
            "mode" => {
                let v =
                    go_uint(value, 8).ok_or_else(|| format!("invalid value {value} for mode"))?;
                self.mode = Some(v);
            }
            "uid" => {
                self.uid = Some(
                    go_uint(value, 10).ok_or_else(|| format!("invalid value {value} for uid"))?,
                )
            }
            _ => {
                self.gid = Some(
                    go_uint(value, 10).ok_or_else(|| format!("invalid value {value} for gid"))?,
                )
            }
        }
        Ok(())
    }

    fn check(&mut self, ro_auto: bool) -> Result<(), String> {
        let t = self.kind.as_str();
        if !matches!(
            self.kind,
            MountType::Secret | MountType::Ssh | MountType::Cache
        ) {
            for (name, set) in [
                ("mode", self.mode.is_some()),
                ("uid", self.uid.is_some()),
                ("gid", self.gid.is_some()),
            ] {
                if set {
                    return Err(format!("{name} not allowed for {t:?} type mounts"));
                }
            }
        }
        if ro_auto {
            self.readonly = !matches!(self.kind, MountType::Cache | MountType::Tmpfs);
        }
        if self.kind == MountType::Secret {
            if self.from.is_some() {
                return Err("secret mount should not have a from".to_string());
            }
            if self.sharing.is_some() {
                return Err("secret mount should not define sharing".to_string());
            }
            if self.source.is_none() && self.target.is_none() && self.id.is_none() {
                return Err("invalid secret mount. one of source, target required".to_string());
            }
            if self.source.is_some() && self.id.is_some() {
                return Err("both source and id can't be set".to_string());
            }
        }
        if self.sharing.is_some() && self.kind != MountType::Cache {
            return Err(format!("invalid cache sharing set for {t} mount"));
        }
        Ok(())
    }
}

/// Go's `strconv.ParseUint(s, radix, 32)`: digits only, no sign.
fn go_uint(s: &str, radix: u32) -> Option<u32> {
    if s.starts_with('+') {
        return None;
    }
    u32::from_str_radix(s, radix).ok()
}

/// Go's `strconv.ParseBool`.
pub(crate) fn go_parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Go's `encoding/csv` reading of one record (what BuildKit's csvvalue does): fields split
/// at commas, `"…"` quoting with `""` for a quote, no bare quote inside an unquoted field.
pub(crate) fn csv_fields(s: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    None => return Err("extraneous or missing \" in quoted-field".to_string()),
                    Some('"') => match chars.peek() {
                        Some('"') => {
                            chars.next();
                            field.push('"');
                        }
                        Some(',') | None => break,
                        Some(_) => {
                            return Err("extraneous or missing \" in quoted-field".to_string());
                        }
                    },
                    Some(c) => field.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' {
                    break;
                }
                if c == '"' {
                    return Err("bare \" in non-quoted-field".to_string());
                }
                field.push(c);
                chars.next();
            }
        }
        fields.push(field);
        match chars.next() {
            Some(',') => continue,
            _ => return Ok(fields),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(spec: &str) -> Result<Mount, String> {
        Mount::parse(spec, &|v| Ok(v.to_string()))
    }

    #[test]
    fn typed_mounts() {
        let m = parse("type=cache,target=/root/.cache,id=pip,sharing=locked,mode=0755,uid=1000")
            .unwrap();
        assert_eq!(m.kind, MountType::Cache);
        assert_eq!(m.target.as_deref(), Some("/root/.cache"));
        assert_eq!(m.id.as_deref(), Some("pip"));
        assert_eq!(m.sharing, Some(Sharing::Locked));
        assert_eq!((m.mode, m.uid, m.gid), (Some(0o755), Some(1000), None));
        assert!(!m.readonly, "cache mounts are writable by default");

        let m = parse("target=/src,source=app,from=builder").unwrap();
        assert_eq!(m.kind, MountType::Bind);
        assert!(m.readonly, "bind mounts are read-only by default");
        assert_eq!(
            (m.source.as_deref(), m.from.as_deref()),
            (Some("app"), Some("builder"))
        );
        assert!(!parse("type=bind,target=/x,rw").unwrap().readonly);
        assert!(
            !parse("type=bind,target=/x,readwrite=true")
                .unwrap()
                .readonly
        );

        let m = parse("type=secret,id=tok,env=TOKEN,required").unwrap();
        assert_eq!(
            (m.kind, m.required, m.env.as_deref()),
            (MountType::Secret, true, Some("TOKEN"))
        );
        assert!(m.readonly);

        let m = parse("type=tmpfs,target=/tmp,size=64m").unwrap();
        assert_eq!(
            (m.kind, m.size_limit, m.readonly),
            (MountType::Tmpfs, 64 << 20, false)
        );
        let m = parse("\"type=bind\",\"target=/a,b\"").unwrap();
        assert_eq!(m.target.as_deref(), Some("/a,b"));
    }

    #[test]
    fn refused_mounts() {
        let cases = [
            ("type=nfs,target=/x", "unsupported mount type \"nfs\""),
            (
                "type=cach,target=/x",
                "unsupported mount type \"cach\" (did you mean cache?)",
            ),
            (
                "type=bind,target=/x,mode=0644",
                "mode not allowed for \"bind\" type mounts",
            ),
            (
                "type=tmpfs,target=/x,uid=1",
                "uid not allowed for \"tmpfs\" type mounts",
            ),
            (
                "type=secret",
                "invalid secret mount. one of source, target required",
            ),
            ("type=secret,id=a,src=b", "both source and id can't be set"),
            (
                "type=secret,id=a,from=b",
                "secret mount should not have a from",
            ),
            (
                "type=bind,target=/x,sharing=shared",
                "invalid cache sharing set for bind mount",
            ),
            (
                "type=cache,target=/x,sharing=all",
                "unsupported sharing value \"all\"",
            ),
            (
                "type=bind,target=/x,size=1m",
                "unexpected key 'size' for mount type 'bind'",
            ),
            (
                "type=bind,required",
                "unexpected key 'required' for mount type 'bind'",
            ),
            ("type=cache,target=/x,mode=9", "invalid value 9 for mode"),
            ("type=cache,target=/x,uid=+1", "invalid value +1 for uid"),
            (
                "type=bind,target=/x,ro=maybe",
                "invalid value for ro: maybe",
            ),
            (
                "type=bind,targte=/x",
                "unexpected key 'targte' in 'targte=/x' (did you mean target?)",
            ),
            (
                "type=bind,bogus",
                "invalid field 'bogus' must be a key=value pair",
            ),
            (
                "type=bind,target=/x\"y",
                "failed to parse csv mounts: bare \" in non-quoted-field",
            ),
            (
                "from=$STAGE,target=/x",
                "'from' doesn't support variable expansion, define alias stage instead",
            ),
        ];
        for (spec, want) in cases {
            assert_eq!(parse(spec).unwrap_err(), want, "spec {spec:?}");
        }
    }

    #[test]
    fn expansion_applies_to_values() {
        let m = Mount::parse("type=cache,target=$DIR,id=${ID}", &|v| {
            Ok(v.replace("$DIR", "/cache").replace("${ID}", "x"))
        })
        .unwrap();
        assert_eq!(
            (m.target.as_deref(), m.id.as_deref()),
            (Some("/cache"), Some("x"))
        );
        assert_eq!(m.spec, "type=cache,target=$DIR,id=${ID}");
    }
}
