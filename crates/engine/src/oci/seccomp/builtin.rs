//! Podman 4.3's default seccomp profile as data: containers/common v0.50's default profile
//! (the one Debian ships as `/usr/share/containers/seccomp.json`), rule for rule and in the
//! same order, so the `linux.seccomp` we generate equals Podman's for the same capabilities.
//!
//! Unlisted calls fail with ENOSYS (so a program falls back as on an older kernel); the
//! dangerous ones listed here fail with EPERM; a few are allowed only with the capability
//! that makes them meaningful, or only on some architectures, or only with some arguments.

use oci_spec::runtime::{Arch, LinuxSeccompAction as Action, LinuxSeccompOperator as Op};

use super::{ArchMap, Arg, Filter, Profile, Rule};

/// Refused with EPERM whatever the capabilities.
const REFUSED: &[&str] = &[
    "bdflush",
    "io_pgetevents",
    "kexec_file_load",
    "kexec_load",
    "migrate_pages",
    "move_pages",
    "nfsservctl",
    "nice",
    "oldfstat",
    "oldlstat",
    "oldolduname",
    "oldstat",
    "olduname",
    "pciconfig_iobase",
    "pciconfig_read",
    "pciconfig_write",
    "sgetmask",
    "ssetmask",
    "swapcontext",
    "swapoff",
    "swapon",
    "sysfs",
    "uselib",
    "userfaultfd",
    "ustat",
    "vm86",
    "vm86old",
    "vmsplice",
];

/// Allowed whatever the capabilities: a list of ~370 names, kept as data in `allowed.txt`.
fn allowed() -> Vec<&'static str> {
    include_str!("allowed.txt")
        .lines()
        .filter(|l| !l.starts_with('#'))
        .flat_map(str::split_whitespace)
        .collect()
}

/// `personality(2)` values allowed: PER_LINUX, PER_LINUX32, UNAME26, UNAME26|PER_LINUX32, and
/// 0xffffffff (query the current persona). Any other persona fails with ENOSYS.
const PERSONALITIES: &[u64] = &[0x0, 0x8, 0x2_0000, 0x2_0008, 0xffff_ffff];

/// Calls allowed only on some architectures (libseccomp's architecture names).
const BY_ARCH: &[(&[&str], &[&str])] = &[
    (&["sync_file_range2"], &["ppc64le"]),
    (
        &[
            "arm_fadvise64_64",
            "arm_sync_file_range",
            "breakpoint",
            "cacheflush",
            "set_tls",
            "sync_file_range2",
        ],
        &["arm", "arm64"],
    ),
    (&["arch_prctl"], &["amd64", "x32"]),
    (&["modify_ldt"], &["amd64", "x32", "x86"]),
    (
        &[
            "s390_pci_mmio_read",
            "s390_pci_mmio_write",
            "s390_runtime_instr",
        ],
        &["s390", "s390x"],
    ),
];

/// Calls allowed when the capability is in the container's bounding set, refused with
/// EPERM when it is not.
const BY_CAPABILITY: &[(&str, &[&str])] = &[
    ("CAP_DAC_READ_SEARCH", &["open_by_handle_at"]),
    (
        "CAP_SYS_ADMIN",
        &[
            "bpf",
            "fanotify_init",
            "lookup_dcookie",
            "perf_event_open",
            "quotactl",
            "setdomainname",
            "sethostname",
            "setns",
        ],
    ),
    ("CAP_SYS_CHROOT", &["chroot"]),
    (
        "CAP_SYS_MODULE",
        &[
            "delete_module",
            "finit_module",
            "init_module",
            "query_module",
        ],
    ),
    ("CAP_SYS_PACCT", &["acct"]),
    ("CAP_SYS_PTRACE", &["kcmp", "process_madvise"]),
    ("CAP_SYS_RAWIO", &["ioperm", "iopl"]),
    (
        "CAP_SYS_TIME",
        &["clock_settime", "clock_settime64", "settimeofday", "stime"],
    ),
    ("CAP_SYS_TTY_CONFIG", &["vhangup"]),
];

/// `socket(2)` arguments of the audit rules.
const AF_NETLINK: u64 = 16;
const NETLINK_AUDIT: u64 = 9;

/// The native architecture and its compatible ones, per native architecture.
const ARCH_MAP: &[(Arch, &[Arch])] = &[
    (
        Arch::ScmpArchX86_64,
        &[Arch::ScmpArchX86, Arch::ScmpArchX32],
    ),
    (Arch::ScmpArchAarch64, &[Arch::ScmpArchArm]),
    (
        Arch::ScmpArchMips64,
        &[Arch::ScmpArchMips, Arch::ScmpArchMips64n32],
    ),
    (
        Arch::ScmpArchMips64n32,
        &[Arch::ScmpArchMips, Arch::ScmpArchMips64],
    ),
    (
        Arch::ScmpArchMipsel64,
        &[Arch::ScmpArchMipsel, Arch::ScmpArchMipsel64n32],
    ),
    (
        Arch::ScmpArchMipsel64n32,
        &[Arch::ScmpArchMipsel, Arch::ScmpArchMipsel64],
    ),
    (Arch::ScmpArchS390x, &[Arch::ScmpArchS390]),
];

fn names(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn rule(calls: &[&str], action: Action) -> Rule {
    Rule {
        names: names(calls),
        action,
        ..Default::default()
    }
}

fn eperm(calls: &[&str]) -> Rule {
    Rule {
        errno: "EPERM".into(),
        ..rule(calls, Action::ScmpActErrno)
    }
}

fn arg(index: usize, value: u64, op: Op) -> Arg {
    Arg {
        index,
        value,
        value_two: 0,
        op,
    }
}

fn caps(cap: &str) -> Filter {
    Filter {
        caps: vec![cap.to_string()],
        ..Default::default()
    }
}

/// The profile, in containers/common's order.
pub fn profile() -> Profile {
    let mut rules = vec![eperm(REFUSED), rule(&allowed(), Action::ScmpActAllow)];
    for &p in PERSONALITIES {
        rules.push(Rule {
            args: vec![arg(0, p, Op::ScmpCmpEq)],
            ..rule(&["personality"], Action::ScmpActAllow)
        });
    }
    for (calls, arches) in BY_ARCH {
        rules.push(Rule {
            includes: Filter {
                arches: names(arches),
                ..Default::default()
            },
            ..rule(calls, Action::ScmpActAllow)
        });
    }
    for (cap, calls) in BY_CAPABILITY {
        rules.push(Rule {
            includes: caps(cap),
            ..rule(calls, Action::ScmpActAllow)
        });
        rules.push(Rule {
            excludes: caps(cap),
            ..eperm(calls)
        });
    }
    rules.extend(audit_socket_rules());
    Profile {
        default_action: Some(Action::ScmpActErrno),
        default_errno: "ENOSYS".into(),
        arch_map: ARCH_MAP
            .iter()
            .map(|(arch, subs)| ArchMap {
                architecture: *arch,
                sub_architectures: subs.to_vec(),
            })
            .collect(),
        syscalls: rules,
        ..Default::default()
    }
}

/// Without CAP_AUDIT_WRITE, an audit netlink socket fails with EINVAL and every other
/// socket is allowed; with it, every socket is. (The repeated rule is containers/common's.)
fn audit_socket_rules() -> Vec<Rule> {
    let without = caps("CAP_AUDIT_WRITE");
    let allow = |args: Vec<Arg>| Rule {
        args,
        excludes: without.clone(),
        ..rule(&["socket"], Action::ScmpActAllow)
    };
    vec![
        Rule {
            args: vec![
                arg(0, AF_NETLINK, Op::ScmpCmpEq),
                arg(2, NETLINK_AUDIT, Op::ScmpCmpEq),
            ],
            excludes: without.clone(),
            errno: "EINVAL".into(),
            ..rule(&["socket"], Action::ScmpActErrno)
        },
        allow(vec![arg(2, NETLINK_AUDIT, Op::ScmpCmpNe)]),
        allow(vec![arg(0, AF_NETLINK, Op::ScmpCmpNe)]),
        allow(vec![arg(2, NETLINK_AUDIT, Op::ScmpCmpNe)]),
        Rule {
            includes: caps("CAP_AUDIT_WRITE"),
            ..rule(&["socket"], Action::ScmpActAllow)
        },
    ]
}
