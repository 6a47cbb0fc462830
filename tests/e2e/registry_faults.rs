//! Registry faults and robustness: a corrupted blob, a registry killed mid-pull, a peapod
//! killed mid-pull, two pulls at once, a hostile layer; and the terminal progress lines.
//! Each failure must say what failed, exit 125 and leave nothing in `images -a`, the blob
//! dir or the layer dir.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use peapod_tests::oci::Layout;
use peapod_tests::registry::{RegistryOptions, skopeo_copy};

use super::registry_util::{RegEnv, images, tools_missing};
use super::util::lines;

/// A tar with one file of `size` incompressible bytes at `name`.
fn random_layer(name: &str, size: usize, seed: u64) -> Vec<u8> {
    let mut data = vec![0u8; size];
    let mut x = seed | 1;
    for chunk in data.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let b = x.to_le_bytes();
        chunk.copy_from_slice(&b[..chunk.len()]);
    }
    let mut t = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_ustar();
    h.set_size(size as u64);
    h.set_mode(0o644);
    h.set_mtime(1_700_000_000);
    t.append_data(&mut h, name, &data[..]).unwrap();
    t.into_inner().unwrap()
}

/// Asserts the store holds no image, no blob and no layer (temp entries included).
fn assert_store_empty(e: &RegEnv) {
    assert!(e.image_ids().is_empty(), "images left: {:?}", e.image_ids());
    let (blobs, layers) = e.store_entries();
    assert!(blobs.is_empty(), "blobs left: {blobs:?}");
    assert!(layers.is_empty(), "layers left: {layers:?}");
}

#[test]
fn corrupted_blob_and_missing_tag_leave_nothing() {
    if tools_missing() {
        return;
    }
    let mut e = RegEnv::new("reg-corrupt");
    let r = e.start_with_images();
    let addr = e.reg(r).addr.clone();
    let layer = images().amd64.layers[0].clone();
    let path = e.reg(r).blob_path(&layer);
    let mut bytes = std::fs::read(&path).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&path, &bytes).unwrap();
    let out = e.run(&["pull", "--tls-verify=false", &format!("{addr}/py/single")]);
    out.assert_error(
        125,
        &[
            &format!("initializing source docker://{addr}/py/single:latest"),
            &layer,
        ],
    );
    assert_store_empty(&e);
    e.run(&[
        "pull",
        "--tls-verify=false",
        &format!("{addr}/py/nothere:v1"),
    ])
    .assert_error(125, &["manifest unknown"]);
    assert_store_empty(&e);
}

/// A layer whose tar tries to write outside its directory through a symlink: nothing
/// appears outside, and the pull either stores the contained result or fails cleanly.
#[test]
fn hostile_layer_stays_contained() {
    if tools_missing() {
        return;
    }
    let mut e = RegEnv::new("reg-hostile");
    let r = e.start(&RegistryOptions::default());
    let target = e.env.dir.join("outside");
    std::fs::create_dir_all(&target).unwrap();
    let mut t = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_size(0);
    h.set_mode(0o777);
    t.append_link(&mut h, "escape", &target).unwrap();
    let mut h = tar::Header::new_ustar();
    h.set_size(5);
    h.set_mode(0o644);
    t.append_data(&mut h, "escape/pwned", &b"owned"[..])
        .unwrap();
    // The tar crate refuses to write `..`: put the name into the header by hand.
    let mut h = tar::Header::new_old();
    let name = b"../../../../../../tmp/pp-reg-hostile-dotdot";
    h.as_old_mut().name[..name.len()].copy_from_slice(name);
    h.set_size(5);
    h.set_mode(0o644);
    h.set_cksum();
    t.append(&h, &b"owned"[..]).unwrap();
    let tar = t.into_inner().unwrap();
    let dir = e.env.dir.join("layout");
    let mut l = Layout::create(&dir).unwrap();
    l.image(Some("evil"), "amd64", &[tar], &["sh"]).unwrap();
    l.finish().unwrap();
    skopeo_copy(&dir, "evil", &e.reg(r).docker("evil"), &[]).unwrap();
    let out = e.run(&[
        "pull",
        "--tls-verify=false",
        &format!("{}/evil", e.reg(r).addr),
    ]);
    assert!(
        !target.join("pwned").exists(),
        "a layer wrote outside its directory"
    );
    assert!(!Path::new("/tmp/pp-reg-hostile-dotdot").exists());
    if out.code() != 0 {
        let out = out.assert_error(125, &["applying layer"]);
        drop(out);
        assert_store_empty(&e);
    }
}

/// Checks 15 and the truncated-stream fault: a peapod killed mid-pull leaves no image and a
/// rerun completes (and sweeps what the killed one left); a registry killed mid-pull makes
/// the pull fail naming the blob, leaving nothing; two pulls at once both succeed and store
/// every layer once.
#[test]
fn killed_pulls_and_concurrent_pulls() {
    if tools_missing() {
        return;
    }
    let mut e = RegEnv::new("reg-killed");
    let r = e.start(&RegistryOptions::default());
    let addr = e.reg(r).addr.clone();
    let dir = e.env.dir.join("layout");
    let mut l = Layout::create(&dir).unwrap();
    let busybox = std::fs::read(peapod_tests::busybox_rootfs_tar().unwrap()).unwrap();
    let big = random_layer("big.bin", 160 << 20, 7);
    l.image(Some("big"), "amd64", &[busybox, big], &["sh"])
        .unwrap();
    l.finish().unwrap();
    skopeo_copy(&dir, "big", &e.reg(r).docker("big"), &[]).unwrap();
    let img = format!("{addr}/big");
    let blob_dir = e.env.root.join("images/blobs/sha256");
    let partial = |dir: &Path| -> bool {
        std::fs::read_dir(dir)
            .map(|r| {
                r.flatten().any(|x| {
                    x.file_name().to_string_lossy().starts_with(".tmp-")
                        && x.metadata().map(|m| m.len() > 1 << 20).unwrap_or(false)
                })
            })
            .unwrap_or(false)
    };
    let wait_partial = || {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(30) {
            if partial(&blob_dir) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        false
    };

    // peapod killed while the big blob streams in.
    let mut child = e
        .peapod(&["pull", "-q", "--tls-verify=false", &img])
        .command()
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    assert!(
        wait_partial(),
        "the pull never started writing the big blob"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(e.image_ids().is_empty(), "a killed pull left an image");
    let id = e.ok(&["pull", "-q", "--tls-verify=false", &img]);
    assert_eq!(e.image_ids(), vec![id.trim().to_string()]);
    let (blobs, layers) = e.store_entries();
    assert!(
        blobs.iter().chain(&layers).all(|n| !n.starts_with('.')),
        "temp entries left after the rerun: {blobs:?} {layers:?}"
    );
    e.ok(&["rmi", "-a"]);
    assert_store_empty(&e);

    // Two pulls at once: both succeed, each layer stored once.
    let a = e.peapod(&["pull", "-q", "--tls-verify=false", &img]);
    let b = e.peapod(&["pull", "-q", "--tls-verify=false", &img]);
    let ta = std::thread::spawn(move || a.output());
    let tb = std::thread::spawn(move || b.output());
    let (oa, ob) = (ta.join().unwrap(), tb.join().unwrap());
    assert_eq!(oa.code(), 0, "{oa:?}");
    assert_eq!(ob.code(), 0, "{ob:?}");
    assert_eq!(oa.stdout, ob.stdout);
    let (blobs, layers) = e.store_entries();
    assert_eq!(layers.len(), 2, "{layers:?}");
    // Two compressed layer blobs, the config and the manifest.
    assert_eq!(blobs.len(), 4, "{blobs:?}");
    e.ok(&["rmi", "-a"]);
    assert_store_empty(&e);

    // The registry killed mid-pull: a clear error naming the image, nothing left.
    let child = e
        .peapod(&["pull", "--tls-verify=false", &img])
        .timeout(Duration::from_secs(60));
    let t = std::thread::spawn(move || child.output());
    assert!(
        wait_partial(),
        "the pull never started writing the big blob"
    );
    e.reg_mut(r).kill();
    let out = t.join().unwrap();
    let out = out.assert_error(
        125,
        &[&format!("initializing source docker://{img}:latest")],
    );
    assert!(out.stderr.contains("reading blob sha256:"), "{out:?}");
    assert_store_empty(&e);
}

/// Check 14: on a terminal, Podman's short progress lines; a second pull and a second push
/// print `skipped: already exists`.
#[test]
fn terminal_progress_lines() {
    if tools_missing()
        || peapod_tests::skip_unless(Path::new("/usr/bin/script").exists(), "script (util-linux)")
    {
        return;
    }
    let mut e = RegEnv::new("reg-tty");
    let r = e.start_with_images();
    let addr = e.reg(r).addr.clone();
    let prefix = super::util::prefix().join("bin/peapod");
    let in_tty = |args: &str| -> String {
        let cmdline = format!(
            "{} --root {} --runroot {} {args}",
            prefix.display(),
            e.env.root.display(),
            e.env.runroot.display()
        );
        let out = std::process::Command::new("script")
            .args(["-qec", &cmdline, "/dev/null"])
            .env("HOME", &e.home)
            .env("XDG_RUNTIME_DIR", &e.xdg_runtime)
            .env("CONTAINERS_REGISTRIES_CONF", &e.conf)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert!(out.status.success(), "{cmdline}: {out:?}");
        String::from_utf8_lossy(&out.stdout).replace('\r', "")
    };
    let layer = images().amd64.layers[0]
        .trim_start_matches("sha256:")
        .to_owned();
    let config = images()
        .amd64
        .config
        .trim_start_matches("sha256:")
        .to_owned();
    let first = in_tty(&format!("pull --tls-verify=false {addr}/py/single"));
    let l = lines(&first);
    assert!(
        l.contains(&format!("Copying blob {} done", &layer[..12])),
        "{first}"
    );
    assert!(
        l.contains(&format!("Copying config {} done", &config[..10])),
        "{first}"
    );
    let second = in_tty(&format!("pull --tls-verify=false {addr}/py/single"));
    assert!(
        lines(&second).contains(&format!(
            "Copying blob {} skipped: already exists",
            &layer[..12]
        )),
        "{second}"
    );
    let dest = format!("{addr}/tty/pushed");
    in_tty(&format!("push --tls-verify=false {addr}/py/single {dest}"));
    let again = in_tty(&format!("push --tls-verify=false {addr}/py/single {dest}"));
    assert!(again.contains("skipped: already exists"), "{again}");
    let _ = std::io::stderr().flush();
}

/// The signature policy: `image trust set` writes the user's policy.json as Podman does,
/// `show` lists it, and a pull the policy rejects is refused in containers/image's words
/// and leaves nothing; a registry the policy accepts is pulled from. A policy that wants a
/// signature refuses the pull too (peapod verifies none).
#[test]
fn trust_policy_rejects_and_accepts_pulls() {
    if tools_missing() {
        return;
    }
    let mut e = RegEnv::new("reg-trust");
    let r = e.start_with_images();
    let addr = e.reg(r).addr.clone();
    let policy = e.home.join(".config/containers/policy.json");
    std::fs::create_dir_all(policy.parent().unwrap()).unwrap();
    let pp = format!("--policypath={}", policy.display());
    e.run(&["image", "trust", "set", &pp, "--type=bogus", "default"])
        .assert_error(125, &["invalid choice: bogus"]);
    e.ok(&["image", "trust", "set", &pp, "--type=reject", "default"]);
    e.ok(&[
        "image",
        "trust",
        "set",
        &pp,
        "--type=accept",
        &format!("{addr}/py/single"),
    ]);
    let shown = e.ok(&["image", "trust", "show", &pp]);
    assert!(
        shown.contains("all         default") && shown.contains(&format!("{addr}/py/single")),
        "{shown}"
    );

    let rejected = format!("{addr}/py/v2s2");
    e.run(&["pull", "--tls-verify=false", &rejected]).assert_error(
        125,
        &[&format!(
            "Source image rejected: Running image docker://{rejected}:latest is rejected by policy."
        )],
    );
    assert!(e.image_ids().is_empty(), "{:?}", e.image_ids());
    let (blobs, layers) = e.store_entries();
    assert!(
        blobs.is_empty() && layers.is_empty(),
        "{blobs:?} {layers:?}"
    );

    e.ok(&[
        "pull",
        "-q",
        "--tls-verify=false",
        &format!("{addr}/py/single"),
    ]);
    assert_eq!(e.image_ids().len(), 1);

    let key = e.home.join("key.gpg");
    std::fs::write(&key, "not a key").unwrap();
    e.ok(&[
        "image",
        "trust",
        "set",
        &pp,
        "--type=signedBy",
        "-f",
        key.to_str().unwrap(),
        &format!("{addr}/py/multi"),
    ]);
    e.run(&["pull", "--tls-verify=false", &format!("{addr}/py/multi")])
        .assert_error(125, &["peapod verifies no signatures"]);
}
