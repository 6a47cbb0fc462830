//! Link `peapod-pause` as a static, non-PIE executable with no C runtime.
//!
//! The infra container's rootfs holds nothing but this file, so there must be no
//! `PT_INTERP` (no dynamic loader) and no libc. `_start` is ours (see
//! `src/main.rs`), hence `-nostartfiles -nostdlib`. `-no-pie` because a static
//! PIE would need a self-relocating start routine; a fixed-address executable
//! needs none. These arguments go to the binary only, never to the library or
//! the tests, which are ordinary std programs.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os != "linux" {
        // src/sys.rs refuses to compile for anything else; say it here too.
        println!("cargo:warning=peapod-pause supports Linux only (target os {os:?})");
        return;
    }
    for arg in [
        "-nostartfiles",
        "-nostdlib",
        "-static",
        "-no-pie",
        "-Wl,--gc-sections",
        "-Wl,--build-id=none",
    ] {
        println!("cargo:rustc-link-arg-bins={arg}");
    }
}
