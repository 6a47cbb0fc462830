//! `--ulimit` (run, create, build) and containers.conf `default_ulimits`: the container
//! process' rlimits, parsed as Podman parses them (docker/go-units `ParseUlimit`), decided at
//! create and written into the OCI spec's `process.rlimits`.
//!
//! Podman's rules (v4.3.1, `specgenutil` and `specgen/generate/oci.go`): the `--ulimit`s
//! given replace containers.conf's `default_ulimits`; `host` anywhere means no rlimits in
//! the spec (the process keeps the runtime's, the host's); nofile and nproc, unless set,
//! default to 1048576 (peapod: never above the engine's own hard limit, which this host may
//! not let even root raise).
//!
//! A limit above the engine's hard limit is refused at create when the engine may not raise
//! it (no `CAP_SYS_RESOURCE`, or nofile above `fs.nr_open`): Podman passes it to the runtime,
//! whose start then fails with `error setting rlimit type 7: operation not permitted`.

use nix::sys::resource::{Resource, getrlimit};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Podman's default nofile (`define.RLimitDefaultValue`, 2^20).
pub const DEFAULT_NOFILE: u64 = 1_048_576;
/// peapod's default nproc (Podman's containers.conf default on a host with pid_max 4194304).
pub const DEFAULT_NPROC: u64 = 4_194_304;

/// One limit: go-units' `Ulimit` (`-1` is unlimited).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ulimit {
    /// `nofile`, `nproc`, … (go-units' names).
    pub name: String,
    pub soft: i64,
    pub hard: i64,
}

/// The rlimits a container gets, decided at create.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Rlimits {
    /// Nothing given: nofile and nproc at their defaults.
    #[default]
    Default,
    /// `--ulimit host`: no rlimits in the spec; the process keeps the host's.
    Host,
    /// These, then nofile and nproc at their defaults unless among them.
    Set { limits: Vec<Ulimit> },
}

/// go-units' names and the resource each sets (`as` is left out there too).
const NAMES: &[(&str, Resource)] = &[
    ("core", Resource::RLIMIT_CORE),
    ("cpu", Resource::RLIMIT_CPU),
    ("data", Resource::RLIMIT_DATA),
    ("fsize", Resource::RLIMIT_FSIZE),
    ("locks", Resource::RLIMIT_LOCKS),
    ("memlock", Resource::RLIMIT_MEMLOCK),
    ("msgqueue", Resource::RLIMIT_MSGQUEUE),
    ("nice", Resource::RLIMIT_NICE),
    ("nofile", Resource::RLIMIT_NOFILE),
    ("nproc", Resource::RLIMIT_NPROC),
    ("rss", Resource::RLIMIT_RSS),
    ("rtprio", Resource::RLIMIT_RTPRIO),
    ("rttime", Resource::RLIMIT_RTTIME),
    ("sigpending", Resource::RLIMIT_SIGPENDING),
    ("stack", Resource::RLIMIT_STACK),
];

fn resource(name: &str) -> Option<Resource> {
    NAMES.iter().find(|(n, _)| *n == name).map(|(_, r)| *r)
}

/// Go's `strconv.ParseInt(s, 10, 64)`, with its error text.
fn go_int(s: &str) -> std::result::Result<i64, String> {
    s.parse::<i64>()
        .map_err(|_| format!("strconv.ParseInt: parsing {s:?}: invalid syntax"))
}

/// go-units `ParseUlimit`: `name=soft[:hard]` (one value sets both); errors are go-units'.
pub fn parse_ulimit(val: &str) -> std::result::Result<Ulimit, String> {
    let Some((name, values)) = val.split_once('=') else {
        return Err(format!("invalid ulimit argument: {val}"));
    };
    if resource(name).is_none() {
        return Err(format!("invalid ulimit type: {name}"));
    }
    let parts: Vec<&str> = values.split(':').collect();
    let (soft, hard) = match parts.as_slice() {
        [soft] => {
            let s = go_int(soft)?;
            (s, s)
        }
        [soft, hard] => {
            let h = go_int(hard)?;
            (go_int(soft)?, h)
        }
        _ => {
            return Err(format!(
                "too many limit value arguments - {values}, can only have up to two, `soft[:hard]`"
            ));
        }
    };
    if hard != -1 {
        if soft == -1 {
            return Err(format!(
                "ulimit soft limit must be less than or equal to hard limit: soft: -1 (unlimited), hard: {hard}"
            ));
        }
        if soft > hard {
            return Err(format!(
                "ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}"
            ));
        }
    }
    Ok(Ulimit {
        name: name.to_string(),
        soft,
        hard,
    })
}

/// The rlimits of a new container: `flags` (`--ulimit`s as given) over containers.conf's
/// `default_ulimits`, checked against what the engine may set.
pub fn plan(flags: &[String], conf_defaults: &[String]) -> Result<Rlimits> {
    let (given, what) = if flags.is_empty() {
        (conf_defaults, "containers.conf default_ulimits")
    } else {
        (flags, "ulimit option")
    };
    if given.iter().any(|u| u == "host") {
        return Ok(Rlimits::Host);
    }
    if given.is_empty() {
        return Ok(Rlimits::Default);
    }
    let mut limits = Vec::new();
    for u in given {
        let l = parse_ulimit(u).map_err(|e| {
            Error::invalid(format!(
                "{what} {u:?} requires name=SOFT:HARD, failed to be parsed: {e}"
            ))
        })?;
        check_settable(&l, u)?;
        limits.push(l);
    }
    Ok(Rlimits::Set { limits })
}

fn as_rlim(v: i64) -> u64 {
    if v < 0 { u64::MAX } else { v as u64 }
}

/// Refuses a hard limit the runtime could not set: above the engine's own hard limit when
/// the engine may not raise it.
fn check_settable(l: &Ulimit, given: &str) -> Result<()> {
    let Some(res) = resource(&l.name) else {
        return Ok(());
    };
    let want = as_rlim(l.hard);
    let (_, hard) = getrlimit(res).map_err(|e| Error::other(format!("getrlimit: {e}")))?;
    if want <= hard {
        return Ok(());
    }
    let nr_open = (res == Resource::RLIMIT_NOFILE)
        .then(|| {
            std::fs::read_to_string("/proc/sys/fs/nr_open")
                .ok()
                .and_then(|s| s.trim().parse::<u64>().ok())
        })
        .flatten();
    let why = if !may_raise_rlimits() {
        "the engine lacks CAP_SYS_RESOURCE to raise it"
    } else if nr_open.is_some_and(|n| want > n) {
        "it is above fs.nr_open"
    } else {
        return Ok(());
    };
    let shown = |v: u64| {
        if v == u64::MAX {
            "unlimited".to_string()
        } else {
            v.to_string()
        }
    };
    Err(Error::invalid(format!(
        "ulimit {given:?}: the hard limit {} is above this host's hard limit for {} ({}), and {why}",
        shown(want),
        l.name,
        shown(hard)
    )))
}

/// CAP_SYS_RESOURCE (bit 24) in the engine's effective set.
fn may_raise_rlimits() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapEff:"))
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        })
        .is_some_and(|eff| eff & (1 << 24) != 0)
}

/// `process.rlimits` for config.json; `None` for `host`.
pub fn to_oci(r: &Rlimits) -> Result<Option<Vec<oci_spec::runtime::PosixRlimit>>> {
    use oci_spec::runtime::{PosixRlimitBuilder, PosixRlimitType};
    let limits: &[Ulimit] = match r {
        Rlimits::Host => return Ok(None),
        Rlimits::Default => &[],
        Rlimits::Set { limits } => limits,
    };
    let err = |e: oci_spec::OciSpecError| Error::other(e.to_string());
    let mut out = Vec::new();
    let mut push = |typ: PosixRlimitType, soft: u64, hard: u64| -> Result<()> {
        out.push(
            PosixRlimitBuilder::default()
                .typ(typ)
                .soft(soft)
                .hard(hard)
                .build()
                .map_err(err)?,
        );
        Ok(())
    };
    for l in limits {
        let typ = oci_type(&l.name)
            .ok_or_else(|| Error::invalid(format!("invalid ulimit type: {}", l.name)))?;
        push(typ, as_rlim(l.soft), as_rlim(l.hard))?;
    }
    for (name, res, want) in [
        ("nofile", Resource::RLIMIT_NOFILE, DEFAULT_NOFILE),
        ("nproc", Resource::RLIMIT_NPROC, DEFAULT_NPROC),
    ] {
        if limits.iter().any(|l| l.name == name) {
            continue;
        }
        let (_, hard) = getrlimit(res).map_err(|e| Error::other(format!("getrlimit: {e}")))?;
        let v = want.min(hard);
        push(oci_type(name).expect("a known name"), v, v)?;
    }
    Ok(Some(out))
}

fn oci_type(name: &str) -> Option<oci_spec::runtime::PosixRlimitType> {
    use oci_spec::runtime::PosixRlimitType as T;
    Some(match name {
        "core" => T::RlimitCore,
        "cpu" => T::RlimitCpu,
        "data" => T::RlimitData,
        "fsize" => T::RlimitFsize,
        "locks" => T::RlimitLocks,
        "memlock" => T::RlimitMemlock,
        "msgqueue" => T::RlimitMsgqueue,
        "nice" => T::RlimitNice,
        "nofile" => T::RlimitNofile,
        "nproc" => T::RlimitNproc,
        "rss" => T::RlimitRss,
        "rtprio" => T::RlimitRtprio,
        "rttime" => T::RlimitRttime,
        "sigpending" => T::RlimitSigpending,
        "stack" => T::RlimitStack,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ul(name: &str, soft: i64, hard: i64) -> Ulimit {
        Ulimit {
            name: name.into(),
            soft,
            hard,
        }
    }

    #[test]
    fn parses_as_go_units() {
        assert_eq!(
            parse_ulimit("nofile=1024:2048"),
            Ok(ul("nofile", 1024, 2048))
        );
        assert_eq!(parse_ulimit("nofile=512"), Ok(ul("nofile", 512, 512)));
        assert_eq!(parse_ulimit("core=-1"), Ok(ul("core", -1, -1)));
        assert_eq!(parse_ulimit("core=10:-1"), Ok(ul("core", 10, -1)));
        assert_eq!(
            parse_ulimit("nofile"),
            Err("invalid ulimit argument: nofile".into())
        );
        assert_eq!(
            parse_ulimit("bogus=1"),
            Err("invalid ulimit type: bogus".into())
        );
        assert_eq!(
            parse_ulimit("nofile=2048:1024"),
            Err("ulimit soft limit must be less than or equal to hard limit: 2048 > 1024".into())
        );
        assert_eq!(
            parse_ulimit("nofile=-1:1024"),
            Err(
                "ulimit soft limit must be less than or equal to hard limit: soft: -1 (unlimited), hard: 1024"
                    .into()
            )
        );
        assert!(
            parse_ulimit("nofile=1:2:3")
                .unwrap_err()
                .starts_with("too many")
        );
        assert!(
            parse_ulimit("nofile=x")
                .unwrap_err()
                .contains("invalid syntax")
        );
    }

    #[test]
    fn flags_replace_conf_and_host_clears() {
        let conf = vec!["nofile=100:200".to_string()];
        assert_eq!(
            plan(&[], &conf).unwrap(),
            Rlimits::Set {
                limits: vec![ul("nofile", 100, 200)]
            }
        );
        assert_eq!(
            plan(&["nproc=50:60".into()], &conf).unwrap(),
            Rlimits::Set {
                limits: vec![ul("nproc", 50, 60)]
            }
        );
        assert_eq!(
            plan(&["nofile=1:2".into(), "host".into()], &conf).unwrap(),
            Rlimits::Host
        );
        assert_eq!(plan(&[], &[]).unwrap(), Rlimits::Default);
        let e = plan(&["nofile=2:1".into()], &[]).unwrap_err().to_string();
        assert!(
            e.contains("ulimit option \"nofile=2:1\" requires name=SOFT:HARD"),
            "{e}"
        );
    }

    #[test]
    fn defaults_fill_nofile_and_nproc() {
        let set = Rlimits::Set {
            limits: vec![ul("core", -1, -1), ul("nofile", 10, 20)],
        };
        let r = to_oci(&set).unwrap().unwrap();
        assert_eq!(r.len(), 3);
        assert_eq!(r[0].hard(), u64::MAX);
        assert_eq!((r[1].soft(), r[1].hard()), (10, 20));
        assert_eq!(to_oci(&Rlimits::Host).unwrap(), None);
        assert_eq!(to_oci(&Rlimits::Default).unwrap().unwrap().len(), 2);
    }
}
