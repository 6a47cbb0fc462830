//! `config.json` for a container, built with oci-spec from the runtime's defaults and
//! Podman's choices (mounts, rlimits), with the security settings decided at create
//! (capabilities, seccomp, masked paths, sysctls, privileged mode: see
//! [`crate::container::security`]).

use std::path::{Path, PathBuf};

use oci_spec::runtime::{
    LinuxBuilder, LinuxCapabilitiesBuilder, LinuxDeviceCgroupBuilder, LinuxNamespace,
    LinuxNamespaceBuilder, LinuxNamespaceType, Mount, MountBuilder, ProcessBuilder, RootBuilder,
    Spec, UserBuilder,
};

use crate::container::SecurityConfig;
use crate::container::user::ResolvedUser;
use crate::error::{Error, Result};

pub use super::caps::CAP_NAMES;

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

/// What `/dev/shm` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Shm {
    /// A tmpfs of the container's own.
    #[default]
    Private,
    /// The host's, bound.
    Host,
    /// None at all.
    Absent,
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
    /// Namespaces the container shares with the host (`--pid host`, …): none is made.
    pub host_namespaces: &'a [LinuxNamespaceType],
    /// `--ipc none`: no `/dev/shm`. `--ipc host`: the host's `/dev/shm`.
    pub shm: Shm,
    /// Capabilities, seccomp, masks, sysctls, privileged mode.
    pub security: &'a SecurityConfig,
    /// Set for a rootless user's container.
    pub rootless: Option<RootlessSpec>,
    /// `--device-cgroup-rule`s: allowed after the first rule (deny all).
    pub device_rules: &'a [String],
    /// `--read-only`, `--shm-size`, `--device`.
    pub host: &'a crate::container::hostcfg::HostConfigExtras,
}

/// What a rootless user's container spec leaves out or does otherwise, as Podman 4.3 writes
/// it (measured on a cgroup v1 host): the runtime runs inside the user's namespace, so the
/// spec has no `uidMappings`; no `cgroupsPath` (the runtime's rootless cgroup manager then
/// makes none), no resources, no `oomScoreAdj` (a user may not lower its own); devpts with
/// `gid=5` only when gid 5 exists in the namespace; a privileged container gets the host's
/// devices bind-mounted (they cannot be made in a user namespace).
#[derive(Debug, Clone, Copy)]
pub struct RootlessSpec {
    /// Gid 5 (tty) is mapped in the user namespace (it is not with a single mapping).
    pub tty_gid_mapped: bool,
}

fn err(e: impl std::fmt::Display) -> Error {
    Error::other(format!("generating OCI spec: {e}"))
}

pub fn generate(input: &SpecInput<'_>) -> Result<Spec> {
    let sec = input.security;
    let mut spec = Spec::default();
    spec.set_version("1.0.2-dev".to_string());
    spec.set_process(Some(process(input)?));
    spec.set_root(Some(
        RootBuilder::default()
            .path(input.rootfs)
            .readonly(input.host.read_only)
            .build()
            .map_err(err)?,
    ));
    let host_uts = input.host_namespaces.contains(&LinuxNamespaceType::Uts);
    spec.set_hostname(if matches!(input.netns, NetNs::Host) || host_uts {
        None
    } else {
        Some(input.hostname.to_string())
    });
    let mut mounts = default_mounts(&input.netns, sec, input.rootless)?;
    match input.shm {
        Shm::Private => {
            if let Some(size) = input.host.shm_size {
                set_shm_size(&mut mounts, size);
            }
        }
        Shm::Absent => mounts.retain(|m| m.destination() != Path::new("/dev/shm")),
        Shm::Host => {
            mounts.retain(|m| m.destination() != Path::new("/dev/shm"));
            mounts.push(bind(
                Path::new("/dev/shm"),
                "/dev/shm",
                &["rbind", "nosuid", "noexec", "nodev"],
            )?);
        }
    }
    if sec.privileged && input.rootless.is_some() {
        // After `/dev` (Podman lists them first, then sorts every mount by depth).
        mounts.extend(super::devices::rootless_device_binds(Path::new("/dev"))?);
    }
    if input.rootless.is_some() {
        // `--device` in a user namespace: bind mounts of the host's nodes, as Podman.
        for d in &input.host.devices {
            for (dev, _) in crate::container::hostcfg::resolve_device(d)? {
                let host = host_node(d, dev.path());
                mounts.push(bind(
                    &host,
                    &dev.path().to_string_lossy(),
                    &["slave", "nosuid", "noexec", "rw", "rbind"],
                )?);
            }
        }
    }
    // A file or directory the engine made replaces a default mount there (a pod's
    // shared /dev/shm).
    mounts.retain(|m| {
        !input
            .bind_files
            .iter()
            .any(|(_, d)| m.destination() == Path::new(d))
    });
    for (src, dest) in input.bind_files {
        mounts.push(bind(
            src,
            dest,
            &["rbind", "rprivate", "nosuid", "noexec", "nodev"],
        )?);
    }
    if sec.systemd {
        mounts.extend(super::systemd::mounts(
            input.mounts,
            crate::config::cgroup_unified(),
        )?);
    }
    add_user_mounts(&mut mounts, input.mounts);
    if let Some(init) = &input.host.init {
        // After every other mount: a tmpfs on /run (--read-only) must not hide it.
        mounts.push(bind(
            init,
            crate::container::hostcfg::INIT_PATH,
            &["bind", "ro", "nosuid", "nodev"],
        )?);
    }
    spec.set_mounts(Some(mounts));
    spec.set_linux(Some(linux(input)?));
    spec.set_annotations(Some(
        input
            .annotations
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    ));
    Ok(spec)
}

/// `--shm-size`: the size option of the `/dev/shm` tmpfs, in bytes.
fn set_shm_size(mounts: &mut [Mount], size: u64) {
    for m in mounts.iter_mut() {
        if m.destination() == Path::new("/dev/shm") {
            let mut opts: Vec<String> = m
                .options()
                .clone()
                .unwrap_or_default()
                .into_iter()
                .filter(|o| !o.starts_with("size="))
                .collect();
            opts.push(format!("size={size}"));
            m.set_options(Some(opts));
        }
    }
}

/// The host node behind a device the container sees at `in_container` (a directory
/// mapping's node keeps its path under the directory).
fn host_node(d: &crate::container::hostcfg::DeviceMapping, in_container: &Path) -> PathBuf {
    let rel = in_container
        .strip_prefix(&d.path_in_container)
        .unwrap_or(Path::new(""));
    let host =
        std::fs::canonicalize(&d.path_on_host).unwrap_or_else(|_| PathBuf::from(&d.path_on_host));
    if rel.as_os_str().is_empty() {
        host
    } else {
        host.join(rel)
    }
}

/// The process: command, user, capabilities, no-new-privileges, AppArmor, rlimits.
fn process(input: &SpecInput<'_>) -> Result<oci_spec::runtime::Process> {
    let sec = input.security;
    let effective = super::caps::to_oci(&sec.effective);
    let ambient = super::caps::to_oci(&sec.ambient);
    let capabilities = LinuxCapabilitiesBuilder::default()
        .bounding(super::caps::to_oci(&sec.bounding))
        .effective(effective.clone())
        .permitted(effective)
        .inheritable(ambient.clone())
        .ambient(ambient)
        .build()
        .map_err(err)?;
    let user = UserBuilder::default()
        .uid(input.user.uid)
        .gid(input.user.gid)
        .additional_gids(input.user.additional_gids.clone())
        .build()
        .map_err(err)?;
    let mut process = ProcessBuilder::default()
        .terminal(input.tty)
        .args(input.args.to_vec())
        .env(input.env.to_vec())
        .cwd(input.cwd)
        .user(user)
        .capabilities(capabilities)
        .no_new_privileges(sec.no_new_privileges)
        .build()
        .map_err(err)?;
    process.set_rlimits(crate::container::ulimit::to_oci(&sec.rlimits)?);
    if input.rootless.is_none() {
        process.set_oom_score_adj(Some(0));
    }
    if !sec.apparmor_profile.is_empty() {
        process.set_apparmor_profile(Some(sec.apparmor_profile.clone()));
    }
    Ok(process)
}

/// `linux`: namespaces, masks, sysctls, seccomp, devices and resources.
fn linux(input: &SpecInput<'_>) -> Result<oci_spec::runtime::Linux> {
    let sec = input.security;
    let default_linux = oci_spec::runtime::Linux::default();
    let mut resources = resources(&default_linux, input.resources.as_ref());
    let mut masked_paths = sec.masked_paths.clone();
    if sec.systemd
        && !crate::config::cgroup_unified()
        && Path::new(super::systemd::CGROUP_V1_SYSTEMD).exists()
    {
        masked_paths.push(super::systemd::RELEASE_AGENT.to_string());
    }
    let mut b = LinuxBuilder::default()
        .namespaces(namespaces(input)?)
        .masked_paths(masked_paths)
        .readonly_paths(sec.readonly_paths.clone());
    if input.rootless.is_none() {
        b = b.cgroups_path(PathBuf::from(input.cgroups_path));
    }
    if !sec.sysctls.is_empty() {
        b = b.sysctl(
            sec.sysctls
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect::<std::collections::HashMap<_, _>>(),
        );
    }
    if let Some(seccomp) = sec.seccomp_oci()? {
        b = b.seccomp(seccomp);
    }
    if input.rootless.is_some() {
        // No cgroup of the user's to set anything in: what limits there are (cgroup v2)
        // and nothing else, not even the device rule.
        let mut r = oci_spec::runtime::LinuxResources::default();
        if let Some(l) = &input.resources {
            r.set_memory(*l.memory());
            r.set_cpu(l.cpu().clone());
            r.set_pids(*l.pids());
        }
        return b.resources(r).build().map_err(err);
    }
    let mut devices = Vec::new();
    let mut device_rules = Vec::new();
    if sec.privileged {
        // Every host device, and the device cgroup opened to all of them.
        devices = super::devices::host_devices(Path::new("/dev"))?;
        if sec.systemd {
            devices.retain(|d| super::systemd::keep_device(d.path()));
        }
    }
    for d in &input.host.devices {
        for (dev, rule) in crate::container::hostcfg::resolve_device(d)? {
            devices.retain(|x| x.path() != dev.path());
            devices.push(dev);
            device_rules.push(rule);
        }
    }
    if !devices.is_empty() {
        b = b.devices(devices);
    }
    // Podman's first device rule: deny all (the runtime then allows its standard devices),
    // or for a privileged container allow all.
    let mut rules = vec![
        LinuxDeviceCgroupBuilder::default()
            .allow(sec.privileged)
            .access("rwm")
            .build()
            .map_err(err)?,
    ];
    rules.extend(device_rules);
    for r in input.device_rules {
        rules.push(super::devices::parse_cgroup_rule(r)?);
    }
    resources.set_devices(Some(rules));
    b.resources(resources).build().map_err(err)
}

fn namespaces(input: &SpecInput<'_>) -> Result<Vec<LinuxNamespace>> {
    let ns = |typ: LinuxNamespaceType, path: Option<&PathBuf>| {
        let mut b = LinuxNamespaceBuilder::default().typ(typ);
        if let Some(p) = path {
            b = b.path(p.clone());
        }
        b.build().map_err(err)
    };
    let mut namespaces: Vec<LinuxNamespace> = [
        LinuxNamespaceType::Pid,
        LinuxNamespaceType::Ipc,
        LinuxNamespaceType::Uts,
        LinuxNamespaceType::Mount,
    ]
    .iter()
    .map(|t| ns(*t, None))
    .collect::<Result<_>>()?;
    match &input.netns {
        NetNs::Host => {}
        NetNs::Private => namespaces.push(ns(LinuxNamespaceType::Network, None)?),
        NetNs::Path(p) => namespaces.push(ns(LinuxNamespaceType::Network, Some(p))?),
    }
    // A private cgroup namespace only where it is Podman's default: cgroup v2.
    if crate::config::cgroup_unified() {
        namespaces.push(ns(LinuxNamespaceType::Cgroup, None)?);
    }
    for (typ, path) in input.joins {
        namespaces.retain(|n| n.typ() != *typ);
        namespaces.push(ns(*typ, path.as_ref())?);
    }
    namespaces.retain(|n| !input.host_namespaces.contains(&n.typ()));
    Ok(namespaces)
}

/// The runtime's default resources with the container's memory, cpu and pids limits.
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
/// the host's network namespace (sysfs cannot be mounted fresh there). A privileged
/// container gets `/sys` and `/sys/fs/cgroup` read-write; `unmask` can make the cgroup
/// mount writable too.
fn default_mounts(
    netns: &NetNs,
    sec: &SecurityConfig,
    rootless: Option<RootlessSpec>,
) -> Result<Vec<Mount>> {
    let sys_mode = if sec.privileged { "rw" } else { "ro" };
    let sys = if matches!(netns, NetNs::Host) {
        bind(
            Path::new("/sys"),
            "/sys",
            &["rbind", "nosuid", "noexec", "nodev", sys_mode],
        )?
    } else if sec.privileged {
        mount(
            "/sys",
            "sysfs",
            "sysfs",
            &["rprivate", "nosuid", "noexec", "nodev", "rw"],
        )?
    } else {
        mount(
            "/sys",
            "sysfs",
            "sysfs",
            &["nosuid", "noexec", "nodev", "ro"],
        )?
    };
    let cgroup_mode = if sec.cgroup_rw { "rw" } else { "ro" };
    Ok(vec![
        mount("/proc", "proc", "proc", &["nosuid", "noexec", "nodev"])?,
        mount(
            "/dev",
            "tmpfs",
            "tmpfs",
            &["nosuid", "noexec", "strictatime", "mode=755", "size=65536k"],
        )?,
        devpts(rootless)?,
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
            &[
                "rprivate",
                "nosuid",
                "noexec",
                "nodev",
                "relatime",
                cgroup_mode,
            ],
        )?,
    ])
}

/// `/dev/pts`, group tty (5) unless a rootless namespace lacks that gid (the kernel would
/// refuse the mount), as Podman mounts it then.
fn devpts(rootless: Option<RootlessSpec>) -> Result<Mount> {
    let opts = [
        "nosuid",
        "noexec",
        "newinstance",
        "ptmxmode=0666",
        "mode=0620",
    ];
    match rootless {
        Some(r) if !r.tty_gid_mapped => {
            let mut o = vec!["rprivate"];
            o.extend(opts);
            mount("/dev/pts", "devpts", "devpts", &o)
        }
        _ => {
            let mut o = opts.to_vec();
            o.push("gid=5");
            mount("/dev/pts", "devpts", "devpts", &o)
        }
    }
}
