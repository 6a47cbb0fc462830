//! End-to-end tests: drive the *installed* peapod (staged by `cargo xtask test` into
//! `$PEAPOD_PREFIX`) as a Podman user would, as root, against the real runtime and kernel.
//!
//! Every test makes its own [`util::TestEnv`] (private `--root`/`--runroot`, unique names)
//! and so can run in parallel with the others; the env cleans up even when the test fails.
//! Expected outputs and exit codes are Podman's.

mod leftovers;
mod podman;
mod pty;
mod registry_util;
mod util;

mod api_build_push;
mod api_compose;
mod api_exec;
mod api_libpod;
mod api_service;
mod api_streams;
mod api_util;
mod bad_input;
mod build;
mod build_extras;
mod build_features;
mod build_podman;
mod commit;
mod concurrent;
mod conmon_swap;
mod containers;
mod cp;
mod crash;
mod crash_loop;
mod events;
mod global_flags;
mod health;
mod hostile;
mod image_filters;
mod image_history;
mod images;
mod images_archive;
mod kube;
mod kube_bad_input;
mod kube_objects;
mod kube_service;
mod lifecycle;
mod limits_systemd;
mod logs;
mod manifest;
mod many;
mod mount;
mod namespaces;
mod network_connect;
mod network_machine;
mod network_options;
mod network_swap;
mod networks;
mod ops;
mod pod_members;
mod pods;
mod quadlet;
mod races;
mod registry_faults;
mod registry_pull;
mod registry_push;
mod registry_token;
mod reports;
mod rm_force;
mod rootless;
mod rootless_net;
mod rootless_util;
mod run;
mod run_flags;
mod security;
mod security_conf;
mod stats;
mod suite_pod;
mod suite_run;
mod system;
mod systemd;
mod terminal;
mod userns;
mod volume_cmds;
mod volume_mount;
mod volumes;
