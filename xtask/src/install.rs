//! `cargo xtask install`: build release binaries and install them.
//!
//! Layout (the `peapod` binary finds its helpers at `<its dir>/../libexec/peapod/`):
//! `P/bin/peapod`, `P/libexec/peapod/{peapod-monitor,peapod-netsetup,peapod-pause}`, and
//! the quadlet generator `P/libexec/peapod/quadlet` with the links systemd runs it by,
//! `P/lib/systemd/{system,user}-generators/peapod-{system,user}-generator` (as Podman's
//! `podman-system-generator` → `libexec/podman/quadlet`), and the API service's socket
//! and service units (`P/lib/systemd/{system,user}/peapod.{socket,service}`; with
//! `--docker-compat` the `/run/docker.sock` links too: [`crate::install_units`]).
//! `cargo xtask test|demo|bench` stage the same layout into `target/test-prefix` through the
//! same code.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::Opts;
use crate::host;
use crate::shell::{self, target_dir};

/// The packages built, and the binary each produces.
const PACKAGES: [&str; 4] = [
    "peapod",
    "peapod-monitor",
    "peapod-netsetup",
    "peapod-pause",
];

/// Binaries that go to `P/libexec/peapod/`.
pub const HELPERS: [&str; 3] = ["peapod-monitor", "peapod-netsetup", "peapod-pause"];

/// The generator binary (built by the `peapod` package) and its installed name.
const QUADLET: (&str, &str) = ("peapod-quadlet", "quadlet");
/// systemd's generator directories under the prefix and the link each gets.
const GENERATOR_LINKS: [(&str, &str); 2] = [
    ("lib/systemd/system-generators", "peapod-system-generator"),
    ("lib/systemd/user-generators", "peapod-user-generator"),
];

pub fn main(args: &[String]) -> Result<()> {
    let opts = Opts::parse(args, &["--prefix"], &["--no-deps", "--docker-compat"])?;
    let prefix = absolute(Path::new(opts.value("--prefix").unwrap_or("/usr/local")))?;
    if opts.flag("--no-deps") {
        for m in host::missing() {
            eprintln!("warning: host lacks {} (package {})", m.what, m.package);
        }
    } else {
        host::ensure(true)?;
    }
    let release = build_release()?;
    let mut installed = install_into(&release, &prefix)?;
    if opts.flag("--docker-compat") {
        installed.extend(install_units(&prefix, true)?);
    }
    println!("installed into {}:", prefix.display());
    for path in installed {
        println!("  {}", path.display());
    }
    let bin = prefix.join("bin");
    if !shell::full_path().split(':').any(|d| Path::new(d) == bin) {
        println!("note: {} is not on PATH", bin.display());
    }
    Ok(())
}

/// The staging prefix the tests, the demo and the bench use.
pub fn stage_prefix() -> PathBuf {
    target_dir().join("test-prefix")
}

/// Checks the host (installing what is missing when possible), builds release binaries and
/// installs them into [`stage_prefix`]. Returns the prefix.
pub fn stage() -> Result<PathBuf> {
    host::ensure(true)?;
    let release = build_release()?;
    let prefix = stage_prefix();
    install_into(&release, &prefix)?;
    eprintln!("staged peapod into {}", prefix.display());
    Ok(prefix)
}

/// The already staged prefix, without building (fails when nothing is staged).
pub fn staged() -> Result<PathBuf> {
    let prefix = stage_prefix();
    let peapod = prefix.join("bin/peapod");
    anyhow::ensure!(
        peapod.is_file(),
        "{} is missing: stage it first (drop --no-build)",
        peapod.display()
    );
    Ok(prefix)
}

/// `cargo build --release --bins -p …` for the four binaries; returns the release dir.
pub fn build_release() -> Result<PathBuf> {
    let mut cmd = shell::cargo();
    cmd.args(["build", "--release", "--bins"]);
    for p in PACKAGES {
        cmd.args(["-p", p]);
    }
    shell::run(&mut cmd).context("building the release binaries")?;
    Ok(target_dir().join("release"))
}

/// Copies the built binaries from `release` into the layout under `prefix`; returns the
/// installed paths.
pub fn install_into(release: &Path, prefix: &Path) -> Result<Vec<PathBuf>> {
    let bin = prefix.join("bin");
    let libexec = prefix.join("libexec/peapod");
    let mut installed = Vec::new();
    installed.push(install_file(&release.join("peapod"), &bin)?);
    for helper in HELPERS {
        installed.push(install_file(&release.join(helper), &libexec)?);
    }
    let quadlet = install_as(&release.join(QUADLET.0), &libexec, QUADLET.1)?;
    installed.push(quadlet);
    for (dir, link) in GENERATOR_LINKS {
        installed.push(link_generator(prefix, dir, link)?);
    }
    installed.extend(install_units(prefix, false)?);
    Ok(installed)
}

/// The unit files of [`crate::install_units`], written atomically (mode 0644).
fn install_units(prefix: &Path, docker: bool) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for (rel, text) in crate::install_units::unit_files(prefix, docker) {
        let dest = prefix.join(&rel);
        let dir = dest.parent().expect("unit paths have a directory");
        fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let tmp = dir.join(format!(".unit.tmp-{}", std::process::id()));
        fs::write(&tmp, text).with_context(|| format!("cannot write {}", tmp.display()))?;
        fs::rename(&tmp, &dest).with_context(|| {
            let _ = fs::remove_file(&tmp);
            format!("cannot rename {} to {}", tmp.display(), dest.display())
        })?;
        out.push(dest);
    }
    Ok(out)
}

/// `P/DIR/LINK` → `libexec/peapod/quadlet`, relative so the prefix can move; replaced
/// atomically like the binaries.
fn link_generator(prefix: &Path, dir: &str, link: &str) -> Result<PathBuf> {
    let d = prefix.join(dir);
    fs::create_dir_all(&d).with_context(|| format!("cannot create {}", d.display()))?;
    let up = "../".repeat(Path::new(dir).components().count());
    let target = format!("{up}libexec/peapod/{}", QUADLET.1);
    let dest = d.join(link);
    let tmp = d.join(format!(".{link}.tmp-{}", std::process::id()));
    let _ = fs::remove_file(&tmp);
    std::os::unix::fs::symlink(&target, &tmp)
        .with_context(|| format!("cannot link {} to {target}", tmp.display()))?;
    fs::rename(&tmp, &dest).with_context(|| {
        let _ = fs::remove_file(&tmp);
        format!("cannot rename {} to {}", tmp.display(), dest.display())
    })?;
    Ok(dest)
}

/// Copies `src` into `dir` with mode 0755, atomically: to a temp name in `dir`, then renamed
/// over the target, so installing over a running binary works.
pub fn install_file(src: &Path, dir: &Path) -> Result<PathBuf> {
    let name = src
        .file_name()
        .with_context(|| format!("{} has no file name", src.display()))?;
    install_as(src, dir, &name.to_string_lossy())
}

/// [`install_file`] under another name.
fn install_as(src: &Path, dir: &Path, name: &str) -> Result<PathBuf> {
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let dest = dir.join(name);
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| -> Result<()> {
        fs::copy(src, &tmp)
            .with_context(|| format!("cannot copy {} to {}", src.display(), tmp.display()))?;
        fs::set_permissions(&tmp, fs::Permissions::from_mode(0o755))
            .with_context(|| format!("cannot chmod {}", tmp.display()))?;
        fs::rename(&tmp, &dest)
            .with_context(|| format!("cannot rename {} to {}", tmp.display(), dest.display()))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map(|()| dest)
}

fn absolute(p: &Path) -> Result<PathBuf> {
    if p.is_absolute() {
        Ok(p.to_path_buf())
    } else {
        Ok(std::env::current_dir()
            .context("cannot read the current directory")?
            .join(p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn install_layout_and_atomic_replace() {
        let tmp = tempfile::tempdir().unwrap();
        let release = tmp.path().join("release");
        fs::create_dir_all(&release).unwrap();
        for b in PACKAGES.iter().chain([&QUADLET.0]) {
            fs::write(release.join(b), format!("#!/bin/sh\necho {b}\n")).unwrap();
        }
        let prefix = tmp.path().join("prefix");
        let installed = install_into(&release, &prefix).unwrap();
        assert_eq!(installed.len(), 11);
        assert!(prefix.join("lib/systemd/system/peapod.socket").is_file());
        // The generator links resolve to the installed quadlet binary.
        for (dir, link) in GENERATOR_LINKS {
            assert_eq!(
                fs::read_to_string(prefix.join(dir).join(link)).unwrap(),
                "#!/bin/sh\necho peapod-quadlet\n"
            );
        }
        assert!(prefix.join("bin/peapod").is_file());
        for h in HELPERS {
            let p = prefix.join("libexec/peapod").join(h);
            assert_eq!(
                fs::metadata(&p).unwrap().permissions().mode() & 0o777,
                0o755
            );
        }
        // Replacing a binary that is open (as a running one would be) works and leaves no
        // temp file behind.
        let held = fs::File::open(prefix.join("bin/peapod")).unwrap();
        fs::write(release.join("peapod"), "new").unwrap();
        install_into(&release, &prefix).unwrap();
        drop(held);
        assert_eq!(
            fs::read_to_string(prefix.join("bin/peapod")).unwrap(),
            "new"
        );
        let names: Vec<_> = fs::read_dir(prefix.join("bin"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("peapod")]);
    }

    #[test]
    fn missing_source_is_an_error_naming_it() {
        let tmp = tempfile::tempdir().unwrap();
        let err = install_file(&tmp.path().join("nope"), tmp.path()).unwrap_err();
        assert!(format!("{err:#}").contains("nope"), "{err:#}");
        assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 0);
    }
}
