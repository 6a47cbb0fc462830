//! Seccomp profiles: the Docker/Podman JSON profile format ([`Profile`]), Podman's default
//! profile as our own data ([`builtin`]), and the conversion to config.json's
//! `linux.seccomp` as containers/common v0.50 (Podman 4.3) does it.
//!
//! The conversion keeps a rule only when its conditions hold for this container: every
//! capability in `includes.caps` is in the container's bounding set and none of
//! `excludes.caps` is; the native architecture (libseccomp's name: `amd64`, `arm64`, …) is
//! in `includes.arches` and not in `excludes.arches`. `archMap` contributes the native
//! architecture with its compatible ones. Errno names (`"errno": "EPERM"`) win over numbers
//! (`errnoRet`). The result depends on the final capability set, so it is computed when
//! config.json is written, from the capabilities fixed at create.
//!
//! Departures, on purpose: unknown actions, operators and architectures are refused when
//! the profile is read (Podman passes them on and the runtime fails at start); `minKernel`
//! (Docker's newer profiles) is ignored, as containers/common v0.50 ignores it. And
//! `archMap`'s x32 is left out on a kernel that does not run x32 code (see [`abi`]): a
//! filter the runtime builds for nothing (24 ms of every `runc create` here).

mod abi;
pub mod builtin;

use std::path::Path;

use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompArgBuilder,
    LinuxSeccompFilterFlag, LinuxSeccompOperator, LinuxSyscall,
};
use serde::{Deserialize, Deserializer, Serialize};

use crate::error::{Error, Result};

/// A profile in the JSON format Docker and Podman read (containers/common's `Seccomp`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_action: Option<LinuxSeccompAction>,
    /// Obsolete form of `defaultErrno`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_errno_ret: Option<u32>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub default_errno: String,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub architectures: Vec<Arch>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub arch_map: Vec<ArchMap>,
    #[serde(default, deserialize_with = "nullable")]
    pub syscalls: Vec<Rule>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub flags: Vec<LinuxSeccompFilterFlag>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub listener_path: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub listener_metadata: String,
}

/// A native architecture and the compatible ones its filter also covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArchMap {
    pub architecture: Arch,
    #[serde(default, deserialize_with = "nullable")]
    pub sub_architectures: Vec<Arch>,
}

/// One rule: calls, an action, optional argument matches and conditions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub names: Vec<String>,
    pub action: LinuxSeccompAction,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub args: Vec<Arg>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub comment: String,
    #[serde(default, skip_serializing_if = "Filter::is_empty")]
    pub includes: Filter,
    #[serde(default, skip_serializing_if = "Filter::is_empty")]
    pub excludes: Filter,
    /// Obsolete form of `errno`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errno_ret: Option<u32>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub errno: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Arg {
    pub index: usize,
    pub value: u64,
    #[serde(default)]
    pub value_two: u64,
    pub op: LinuxSeccompOperator,
}

/// Conditions on capabilities (`CAP_…`) and architectures (libseccomp's names).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filter {
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub caps: Vec<String>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub arches: Vec<String>,
}

impl Filter {
    fn is_empty(&self) -> bool {
        self.caps.is_empty() && self.arches.is_empty()
    }
}

/// Go's decoder takes `null` for a list; serde needs telling.
fn nullable<'de, D, T>(d: D) -> std::result::Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

impl Profile {
    /// Read a profile file, with Podman's messages for a missing or malformed one.
    pub fn load(path: &Path) -> Result<Profile> {
        let text = std::fs::read(path).map_err(|e| {
            Error::invalid(format!(
                "opening seccomp profile failed: open {}: {}",
                path.display(),
                crate::error::go_io_error(&e)
            ))
        })?;
        Profile::parse(&text).map_err(|why| {
            Error::invalid(format!(
                "loading seccomp profile ({}) failed: {why}",
                path.display()
            ))
        })
    }

    /// Parse and check a profile: everything [`Profile::to_oci`] can refuse is refused here.
    pub fn parse(text: &[u8]) -> std::result::Result<Profile, String> {
        let p: Profile = serde_json::from_slice(text)
            .map_err(|e| format!("decoding seccomp profile failed: {e}"))?;
        p.to_oci(&[]).map_err(|e| e.to_string())?;
        Ok(p)
    }

    /// `linux.seccomp` for a container whose bounding set is `bounding`; `None` when the
    /// profile has neither a default action nor rules (it disables seccomp).
    pub fn to_oci(&self, bounding: &[String]) -> Result<Option<LinuxSeccomp>> {
        let Some(default_action) = self.default_action else {
            if self.syscalls.is_empty() {
                return Ok(None);
            }
            return Err(Error::invalid(
                "seccomp profile has rules but no defaultAction",
            ));
        };
        let native = native_arch();
        let mut out = LinuxSeccomp::default();
        out.set_default_action(default_action);
        out.set_default_errno_ret(errno(&self.default_errno, self.default_errno_ret)?);
        let arches = self.architectures(native)?;
        out.set_architectures((!arches.is_empty()).then_some(arches));
        out.set_flags((!self.flags.is_empty()).then(|| self.flags.clone()));
        out.set_listener_path(
            (!self.listener_path.is_empty()).then(|| self.listener_path.clone().into()),
        );
        out.set_listener_metadata(
            (!self.listener_metadata.is_empty()).then(|| self.listener_metadata.clone()),
        );
        let mut calls = Vec::new();
        for rule in &self.syscalls {
            if let Some(call) = rule.to_oci(native, bounding)? {
                calls.push(call);
            }
        }
        out.set_syscalls((!calls.is_empty()).then_some(calls));
        Ok(Some(out))
    }

    /// `architectures` as given, or from `archMap` the native one and its compatible ones.
    fn architectures(&self, native: &str) -> Result<Vec<Arch>> {
        if !self.architectures.is_empty() && !self.arch_map.is_empty() {
            return Err(Error::invalid(
                "'architectures' and 'archMap' were specified in the seccomp profile, use either 'architectures' or 'archMap'",
            ));
        }
        let mut out = self.architectures.clone();
        if let Some(native) = seccomp_arch(native)
            && let Some(m) = self.arch_map.iter().find(|m| m.architecture == native)
        {
            out.push(m.architecture);
            out.extend(
                (m.sub_architectures.iter().copied())
                    .filter(|a| *a != Arch::ScmpArchX32 || abi::kernel_runs_x32()),
            );
        }
        Ok(out)
    }
}

impl Rule {
    /// The rule for this container, or `None` when its conditions do not hold.
    fn to_oci(&self, native: &str, bounding: &[String]) -> Result<Option<LinuxSyscall>> {
        let has = |c: &String| bounding.contains(c);
        let skip = self.excludes.arches.iter().any(|a| a == native)
            || self.excludes.caps.iter().any(has)
            || (!self.includes.arches.is_empty()
                && !self.includes.arches.iter().any(|a| a == native))
            || !self.includes.caps.iter().all(has);
        if skip {
            return Ok(None);
        }
        if !self.name.is_empty() && !self.names.is_empty() {
            return Err(Error::invalid(
                "'name' and 'names' were specified in the seccomp profile, use either 'name' or 'names'",
            ));
        }
        let names = if self.name.is_empty() {
            self.names.clone()
        } else {
            vec![self.name.clone()]
        };
        if names.is_empty() {
            return Ok(None);
        }
        let mut call = LinuxSyscall::default();
        call.set_names(names);
        call.set_action(self.action);
        call.set_errno_ret(errno(&self.errno, self.errno_ret)?);
        if !self.args.is_empty() {
            call.set_args(Some(self.args.iter().copied().map(Arg::to_oci).collect()));
        }
        Ok(Some(call))
    }
}

impl Arg {
    fn to_oci(self) -> LinuxSeccompArg {
        let b = LinuxSeccompArgBuilder::default()
            .index(self.index)
            .value(self.value)
            .op(self.op);
        // Go omits a zero `valueTwo`; so do we.
        let b = if self.value_two == 0 {
            b
        } else {
            b.value_two(self.value_two)
        };
        b.build().expect("every field of a seccomp argument is set")
    }
}

/// An errno by name (wins) or number.
fn errno(name: &str, number: Option<u32>) -> Result<Option<u32>> {
    if name.is_empty() {
        return Ok(number);
    }
    if let Ok(n) = name.parse::<u32>() {
        return Ok(Some(n));
    }
    ERRNO_NAMES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| Some(*v as u32))
        .ok_or_else(|| Error::invalid(format!("unknown errno {name}")))
}

/// The names containers/common accepts, with this architecture's numbers.
const ERRNO_NAMES: &[(&str, i32)] = &[
    ("EPERM", libc::EPERM),
    ("ENOENT", libc::ENOENT),
    ("ESRCH", libc::ESRCH),
    ("EIO", libc::EIO),
    ("ENXIO", libc::ENXIO),
    ("E2BIG", libc::E2BIG),
    ("ENOEXEC", libc::ENOEXEC),
    ("EBADF", libc::EBADF),
    ("ECHILD", libc::ECHILD),
    ("EDEADLK", libc::EDEADLK),
    ("ENOMEM", libc::ENOMEM),
    ("EACCES", libc::EACCES),
    ("EFAULT", libc::EFAULT),
    ("ENOTBLK", libc::ENOTBLK),
    ("EBUSY", libc::EBUSY),
    ("EEXIST", libc::EEXIST),
    ("EXDEV", libc::EXDEV),
    ("ENODEV", libc::ENODEV),
    ("ENOTDIR", libc::ENOTDIR),
    ("EISDIR", libc::EISDIR),
    ("EINVAL", libc::EINVAL),
    ("ENFILE", libc::ENFILE),
    ("EMFILE", libc::EMFILE),
    ("ENOTTY", libc::ENOTTY),
    ("ETXTBSY", libc::ETXTBSY),
    ("EFBIG", libc::EFBIG),
    ("ENOSPC", libc::ENOSPC),
    ("ESPIPE", libc::ESPIPE),
    ("EROFS", libc::EROFS),
    ("EMLINK", libc::EMLINK),
    ("EPIPE", libc::EPIPE),
    ("EDOM", libc::EDOM),
    ("ERANGE", libc::ERANGE),
    ("EAGAIN", libc::EAGAIN),
    ("EINPROGRESS", libc::EINPROGRESS),
    ("EALREADY", libc::EALREADY),
    ("ENOTSOCK", libc::ENOTSOCK),
    ("EDESTADDRREQ", libc::EDESTADDRREQ),
    ("EMSGSIZE", libc::EMSGSIZE),
    ("EPROTOTYPE", libc::EPROTOTYPE),
    ("ENOPROTOOPT", libc::ENOPROTOOPT),
    ("EPROTONOSUPPORT", libc::EPROTONOSUPPORT),
    ("ESOCKTNOSUPPORT", libc::ESOCKTNOSUPPORT),
    ("EOPNOTSUPP", libc::EOPNOTSUPP),
    ("EPFNOSUPPORT", libc::EPFNOSUPPORT),
    ("EAFNOSUPPORT", libc::EAFNOSUPPORT),
    ("EADDRINUSE", libc::EADDRINUSE),
    ("EADDRNOTAVAIL", libc::EADDRNOTAVAIL),
    ("ENETDOWN", libc::ENETDOWN),
    ("ENETUNREACH", libc::ENETUNREACH),
    ("ENETRESET", libc::ENETRESET),
    ("ECONNABORTED", libc::ECONNABORTED),
    ("ECONNRESET", libc::ECONNRESET),
    ("ENOBUFS", libc::ENOBUFS),
    ("EISCONN", libc::EISCONN),
    ("ENOTCONN", libc::ENOTCONN),
    ("ESHUTDOWN", libc::ESHUTDOWN),
    ("ETOOMANYREFS", libc::ETOOMANYREFS),
    ("ETIMEDOUT", libc::ETIMEDOUT),
    ("ECONNREFUSED", libc::ECONNREFUSED),
    ("ELOOP", libc::ELOOP),
    ("ENAMETOOLONG", libc::ENAMETOOLONG),
    ("EHOSTDOWN", libc::EHOSTDOWN),
    ("EHOSTUNREACH", libc::EHOSTUNREACH),
    ("ENOTEMPTY", libc::ENOTEMPTY),
    ("EUSERS", libc::EUSERS),
    ("EDQUOT", libc::EDQUOT),
    ("ESTALE", libc::ESTALE),
    ("EREMOTE", libc::EREMOTE),
    ("ENOLCK", libc::ENOLCK),
    ("ENOSYS", libc::ENOSYS),
    ("EILSEQ", libc::EILSEQ),
    ("ENOMEDIUM", libc::ENOMEDIUM),
    ("EMEDIUMTYPE", libc::EMEDIUMTYPE),
    ("EOVERFLOW", libc::EOVERFLOW),
    ("ECANCELED", libc::ECANCELED),
    ("EIDRM", libc::EIDRM),
    ("ENOMSG", libc::ENOMSG),
    ("ENOTSUP", libc::ENOTSUP),
    ("EBADMSG", libc::EBADMSG),
    ("ENOTRECOVERABLE", libc::ENOTRECOVERABLE),
    ("EOWNERDEAD", libc::EOWNERDEAD),
];

/// This machine's architecture as libseccomp names it (the names `arches` filters use).
pub fn native_arch() -> &'static str {
    let little = cfg!(target_endian = "little");
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "x86" => "x86",
        "aarch64" => "arm64",
        "arm" => "arm",
        "s390x" => "s390x",
        "powerpc64" if little => "ppc64le",
        "powerpc64" => "ppc64",
        "powerpc" => "ppc",
        "mips64" if little => "mipsel64",
        "mips64" => "mips64",
        "mips" if little => "mipsel",
        "mips" => "mips",
        "riscv64" => "riscv64",
        "loongarch64" => "loong64",
        other => other,
    }
}

/// The `archMap` key for a native architecture (containers/common maps only these).
fn seccomp_arch(native: &str) -> Option<Arch> {
    Some(match native {
        "amd64" => Arch::ScmpArchX86_64,
        "arm64" => Arch::ScmpArchAarch64,
        "mips64" => Arch::ScmpArchMips64,
        "mips64n32" => Arch::ScmpArchMips64n32,
        "mipsel64" => Arch::ScmpArchMipsel64,
        "mipsel64n32" => Arch::ScmpArchMipsel64n32,
        "s390x" => Arch::ScmpArchS390x,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn oci(bounding: &[&str]) -> LinuxSeccomp {
        builtin::profile().to_oci(&caps(bounding)).unwrap().unwrap()
    }

    fn rules_for<'a>(s: &'a LinuxSeccomp, name: &str) -> Vec<&'a LinuxSyscall> {
        s.syscalls()
            .as_ref()
            .unwrap()
            .iter()
            .filter(|c| c.names().iter().any(|n| n == name))
            .collect()
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn default_profile_for_podmans_default_caps() {
        let s = oci(crate::oci::caps::BUILTIN_DEFAULT);
        assert_eq!(s.default_action(), LinuxSeccompAction::ScmpActErrno);
        assert_eq!(s.default_errno_ret(), Some(libc::ENOSYS as u32));
        assert_eq!(
            s.architectures().as_deref(),
            Some(if abi::kernel_runs_x32() {
                &[Arch::ScmpArchX86_64, Arch::ScmpArchX86, Arch::ScmpArchX32][..]
            } else {
                &[Arch::ScmpArchX86_64, Arch::ScmpArchX86][..]
            })
        );
        // Podman 4.3 generates 19 rules for these capabilities on x86_64.
        assert_eq!(s.syscalls().as_ref().unwrap().len(), 19);
        // Not listed at all: the default action.
        assert!(rules_for(&s, "add_key").is_empty());
        assert!(rules_for(&s, "io_uring_setup").is_empty());
        // Refused with EPERM without CAP_SYS_ADMIN.
        let bpf = rules_for(&s, "bpf");
        assert_eq!(bpf.len(), 1);
        assert_eq!(bpf[0].action(), LinuxSeccompAction::ScmpActErrno);
        assert_eq!(bpf[0].errno_ret(), Some(libc::EPERM as u32));
        // AUDIT_WRITE is there: one unconditional socket rule.
        assert_eq!(rules_for(&s, "socket").len(), 1);
        assert_eq!(rules_for(&s, "arch_prctl").len(), 1);
        assert!(rules_for(&s, "s390_runtime_instr").is_empty());
    }

    #[test]
    fn capability_conditions_follow_the_bounding_set() {
        let with = oci(&["CAP_SYS_ADMIN", "CAP_SYS_PTRACE"]);
        let bpf = rules_for(&with, "bpf");
        assert_eq!(bpf.len(), 1);
        assert_eq!(bpf[0].action(), LinuxSeccompAction::ScmpActAllow);
        assert_eq!(
            rules_for(&with, "kcmp")[0].action(),
            LinuxSeccompAction::ScmpActAllow
        );
        // No AUDIT_WRITE: audit sockets get EINVAL, others are allowed by argument rules.
        let socket = rules_for(&with, "socket");
        assert_eq!(socket.len(), 4);
        assert_eq!(socket[0].errno_ret(), Some(libc::EINVAL as u32));
        assert_eq!(socket[0].args().as_ref().unwrap().len(), 2);
    }

    #[test]
    fn docker_json_profiles_are_read() {
        let p = Profile::parse(
            br#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64"],
                "syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":13,"args":null},
                            {"name":"chmod","action":"SCMP_ACT_ERRNO","errno":"EACCES",
                             "includes":{"minKernel":"4.8"}}]}"#,
        )
        .unwrap();
        let s = p.to_oci(&[]).unwrap().unwrap();
        let calls = s.syscalls().as_ref().unwrap();
        assert_eq!(calls[0].names(), &["mkdir", "mkdirat"]);
        assert_eq!(calls[0].errno_ret(), Some(13));
        assert_eq!(calls[1].names(), &["chmod"]);
        assert_eq!(calls[1].errno_ret(), Some(libc::EACCES as u32));
        // No action, no rules: seccomp is off.
        assert!(
            Profile::parse(b"{}")
                .unwrap()
                .to_oci(&[])
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn bad_profiles_are_refused_when_read() {
        let e = Profile::parse(br#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":["#).unwrap_err();
        assert!(e.starts_with("decoding seccomp profile failed:"), "{e}");
        assert!(Profile::parse(br#"{"defaultAction":"SCMP_ACT_BOGUS"}"#).is_err());
        let e = Profile::parse(
            br#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["x"],"action":"SCMP_ACT_ERRNO","errno":"EWHAT"}]}"#,
        )
        .unwrap_err();
        assert_eq!(e, "unknown errno EWHAT");
        let e = Profile::parse(
            br#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86"],"archMap":[{"architecture":"SCMP_ARCH_X86_64","subArchitectures":[]}]}"#,
        )
        .unwrap_err();
        assert!(e.contains("use either 'architectures' or 'archMap'"), "{e}");
    }

    #[test]
    fn the_builtin_profile_round_trips_through_json() {
        let p = builtin::profile();
        let json = serde_json::to_vec(&p).unwrap();
        assert_eq!(Profile::parse(&json).unwrap(), p);
    }
}
