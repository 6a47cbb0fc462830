//! `config.json` for a container, built with oci-spec from the runtime's defaults and
//! Podman's choices (capabilities, mounts, masked paths, rlimits).

use std::path::{Path, PathBuf};

use nix::sys::resource::{Resource, getrlimit};
use oci_spec::runtime::{
    Capability, LinuxBuilder, LinuxCapabilitiesBuilder, LinuxNamespace, LinuxNamespaceBuilder,
    LinuxNamespaceType, Mount, MountBuilder, PosixRlimitBuilder, PosixRlimitType, ProcessBuilder,
    RootBuilder, Spec, UserBuilder,
};

use crate::container::user::ResolvedUser;
use crate::error::{Error, Result};

/// Podman's default capabilities (containers.conf `default_capabilities`).
pub const DEFAULT_CAPS: &[Capability] = &[
    Capability::Chown,
    Capability::DacOverride,
    Capability::Fowner,
    Capability::Fsetid,
    Capability::Kill,
    Capability::NetBindService,
    Capability::Setfcap,
    Capability::Setgid,
    Capability::Setpcap,
    Capability::Setuid,
    Capability::SysChroot,
];

/// Capability names by bit number, as the kernel numbers them.
pub const CAP_NAMES: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// How the container gets its network namespace.
#[derive(Debug, Clone)]
pub enum NetNs {
    /// A new namespace created by the runtime (only `lo`).
    Private,
    /// The host's namespace.
    Host,
    /// Join an existing namespace file.
    Path(PathBuf),
}

pub struct SpecInput<'a> {
    pub args: &'a [String],
    pub env: &'a [String],
    pub cwd: &'a str,
    pub user: &'a ResolvedUser,
    pub hostname: &'a str,
    pub tty: bool,
    pub rootfs: &'a Path,
    /// Files the engine made, bind-mounted over these destinations (hosts, hostname, …).
    pub bind_files: &'a [(PathBuf, &'a str)],
    pub cgroups_path: &'a str,
    pub netns: NetNs,
    pub annotations: &'a std::collections::BTreeMap<String, String>,
    /// `linux.resources` (memory, cpu, pids limits).
    pub resources: Option<oci_spec::runtime::LinuxResources>,
    /// The user's mounts (volumes, binds, tmpfs): they replace a default mount or name file
    /// on the same destination.
    pub mounts: &'a [Mount],
    /// Namespaces other than the network's to join (a pinned file) or, with `None`, to
    /// create where the default would not (a pod's shared pid, ipc, uts or cgroup).
    pub joins: &'a [(LinuxNamespaceType, Option<PathBuf>)],
}

fn err(e: impl std::fmt::Display) -> Error {
    Error::other(format!("generating OCI spec: {e}"))
}

pub fn generate(input: &SpecInput<'_>) -> Result<Spec> {
    let caps: std::collections::HashSet<Capability> = DEFAULT_CAPS.iter().copied().collect();
    let root_user = input.user.uid == 0;
    let capabilities = LinuxCapabilitiesBuilder::default()
        .bounding(caps.clone())
        .effective(if root_user {
            caps.clone()
        } else {
            Default::default()
        })
        .permitted(if root_user {
            caps.clone()
        } else {
            Default::default()
        })
        .inheritable(std::collections::HashSet::new())
        .ambient(std::collections::HashSet::new())
        .build()
        .map_err(err)?;

    let user = UserBuilder::default()
        .uid(input.user.uid)
        .gid(input.user.gid)
        .additional_gids(input.user.additional_gids.clone())
        .build()
        .map_err(err)?;

    let process = ProcessBuilder::default()
        .terminal(input.tty)
        .args(input.args.to_vec())
        .env(input.env.to_vec())
        .cwd(input.cwd)
        .user(user)
        .capabilities(capabilities)
        .rlimits(rlimits()?)
        .no_new_privileges(false)
        .oom_score_adj(0)
        .build()
        .map_err(err)?;

    let mut namespaces: Vec<LinuxNamespace> = [
        LinuxNamespaceType::Pid,
        LinuxNamespaceType::Ipc,
        LinuxNamespaceType::Uts,
        LinuxNamespaceType::Mount,
    ]
    .iter()
    .map(|t| {
        LinuxNamespaceBuilder::default()
            .typ(*t)
            .build()
            .map_err(err)
    })
    .collect::<Result<_>>()?;
    match &input.netns {
        NetNs::Host => {}
        NetNs::Private => namespaces.push(
            LinuxNamespaceBuilder::default()
                .typ(LinuxNamespaceType::Network)
                .build()
                .map_err(err)?,
        ),
        NetNs::Path(p) => namespaces.push(
            LinuxNamespaceBuilder::default()
                .typ(LinuxNamespaceType::Network)
                .path(p.clone())
                .build()
                .map_err(err)?,
        ),
    }
    // A private cgroup namespace only where it is Podman's default: cgroup v2.
    if crate::config::cgroup_unified() {
        namespaces.push(
            LinuxNamespaceBuilder::default()
                .typ(LinuxNamespaceType::Cgroup)
                .build()
                .map_err(err)?,
        );
    }

    for (typ, path) in input.joins {
        namespaces.retain(|n| n.typ() != *typ);
        let mut b = LinuxNamespaceBuilder::default().typ(*typ);
        if let Some(p) = path {
            b = b.path(p.clone());
        }
        namespaces.push(b.build().map_err(err)?);
    }

    let default_linux = oci_spec::runtime::Linux::default();
    let mut masked: Vec<String> = default_linux.masked_paths().clone().unwrap_or_default();
    for extra in [
        "/proc/acpi",
        "/proc/interrupts",
        "/proc/scsi",
        "/sys/devices/virtual/powercap",
        "/sys/dev/block",
    ] {
        if !masked.iter().any(|m| m == extra) {
            masked.push(extra.to_string());
        }
    }
    let linux = LinuxBuilder::default()
        .namespaces(namespaces)
        .masked_paths(masked)
        .readonly_paths(default_linux.readonly_paths().clone().unwrap_or_default())
        .cgroups_path(PathBuf::from(input.cgroups_path))
        .resources(resources(&default_linux, input.resources.as_ref()))
        .build()
        .map_err(err)?;

    let mut mounts = default_mounts(&input.netns)?;
    for (src, dest) in input.bind_files {
        mounts.push(bind(
            src,
            dest,
            &["rbind", "rprivate", "nosuid", "noexec", "nodev"],
        )?);
    }
    add_user_mounts(&mut mounts, input.mounts);

    let mut spec = Spec::default();
    spec.set_version("1.0.2-dev".to_string());
    spec.set_process(Some(process));
    spec.set_root(Some(
        RootBuilder::default()
            .path(input.rootfs)
            .readonly(false)
            .build()
            .map_err(err)?,
    ));
    spec.set_hostname(if matches!(input.netns, NetNs::Host) {
        None
    } else {
        Some(input.hostname.to_string())
    });
    spec.set_mounts(Some(mounts));
    spec.set_linux(Some(linux));
    spec.set_annotations(Some(
        input
            .annotations
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    ));
    Ok(spec)
}

/// The runtime's default resources (the deny-all devices rule) with the container's
/// memory, cpu and pids limits.
fn resources(
    default_linux: &oci_spec::runtime::Linux,
    limits: Option<&oci_spec::runtime::LinuxResources>,
) -> oci_spec::runtime::LinuxResources {
    let mut r = default_linux.resources().clone().unwrap_or_default();
    if let Some(l) = limits {
        r.set_memory(*l.memory());
        r.set_cpu(l.cpu().clone());
        r.set_pids(*l.pids());
    }
    r
}

/// The user's mounts replace ours on the same destination; then every mount is ordered by
/// the depth of its destination (stable), so a parent is mounted before what goes inside it
/// (a volume on `/etc` before the `/etc/hosts` file), as Podman sorts them.
fn add_user_mounts(mounts: &mut Vec<Mount>, user: &[Mount]) {
    if user.is_empty() {
        return;
    }
    mounts.retain(|m| !user.iter().any(|u| u.destination() == m.destination()));
    mounts.extend(user.iter().cloned());
    mounts.sort_by_key(|m| m.destination().components().count());
}

fn bind(src: &Path, dest: &str, opts: &[&str]) -> Result<Mount> {
    MountBuilder::default()
        .destination(dest)
        .typ("bind")
        .source(src)
        .options(opts.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .build()
        .map_err(err)
}

fn mount(dest: &str, typ: &str, source: &str, opts: &[&str]) -> Result<Mount> {
    MountBuilder::default()
        .destination(dest)
        .typ(typ)
        .source(source)
        .options(opts.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .build()
        .map_err(err)
}

/// Podman's standard mounts. `/sys` is bind-mounted from the host when the container shares
/// the host's network namespace (sysfs cannot be mounted fresh there).
fn default_mounts(netns: &NetNs) -> Result<Vec<Mount>> {
    let sys = if matches!(netns, NetNs::Host) {
        bind(
            Path::new("/sys"),
            "/sys",
            &["rbind", "nosuid", "noexec", "nodev", "ro"],
        )?
    } else {
        mount(
            "/sys",
            "sysfs",
            "sysfs",
            &["nosuid", "noexec", "nodev", "ro"],
        )?
    };
    Ok(vec![
        mount("/proc", "proc", "proc", &["nosuid", "noexec", "nodev"])?,
        mount(
            "/dev",
            "tmpfs",
            "tmpfs",
            &["nosuid", "strictatime", "mode=755", "size=65536k"],
        )?,
        mount(
            "/dev/pts",
            "devpts",
            "devpts",
            &[
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
                "gid=5",
            ],
        )?,
        mount(
            "/dev/mqueue",
            "mqueue",
            "mqueue",
            &["nosuid", "noexec", "nodev"],
        )?,
        mount(
            "/dev/shm",
            "tmpfs",
            "shm",
            &["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
        )?,
        sys,
        mount(
            "/sys/fs/cgroup",
            "cgroup",
            "cgroup",
            &["nosuid", "noexec", "nodev", "relatime", "ro"],
        )?,
    ])
}

/// Podman raises nofile to 1048576 and nproc to the hard limit; this host may not allow
/// that even to root, so never ask for more than the current hard limit.
fn rlimits() -> Result<Vec<oci_spec::runtime::PosixRlimit>> {
    let mut out = Vec::new();
    for (res, typ, want) in [
        (
            Resource::RLIMIT_NOFILE,
            PosixRlimitType::RlimitNofile,
            1_048_576u64,
        ),
        (
            Resource::RLIMIT_NPROC,
            PosixRlimitType::RlimitNproc,
            4_194_304u64,
        ),
    ] {
        let (_, hard) = getrlimit(res).map_err(|e| Error::other(format!("getrlimit: {e}")))?;
        let v = want.min(hard);
        out.push(
            PosixRlimitBuilder::default()
                .typ(typ)
                .hard(v)
                .soft(v)
                .build()
                .map_err(err)?,
        );
    }
    Ok(out)
}
