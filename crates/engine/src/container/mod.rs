//! Containers: create, start, stop, kill, remove, cleanup, inspect, logs.
//!
//! Every lifecycle change holds the container's lock and writes its state in one
//! statement. Reads (ps, inspect) reconcile what the database says with what the monitor
//! left behind (exit files) without taking the lock: they only move a state forward with a
//! compare-and-swap, so they never undo a concurrent writer's work.

pub(crate) mod annotations;
pub mod attach;
pub mod autoupdate;
pub(crate) mod cgroup;
mod commit;
pub mod copy;
mod create;
pub mod diff;
pub(crate) mod env;
pub mod exec;
pub mod health;
pub mod hostcfg;
pub mod inspect;
mod lifecycle;
pub mod logs;
mod model;
pub mod mount;
mod namespaces;
pub mod pause;
pub mod ps;
pub(crate) mod reconcile;
mod remove;
pub mod resources;
pub mod restart;
mod rootfs;
mod run;
pub mod sdnotify;
pub mod security;
pub mod spec;
pub mod stats;
mod stop;
mod timezone;
pub mod top;
pub mod ulimit;
mod update;
pub mod user;
pub mod userns;

pub use commit::{CommitFormat, CommitOptions};
pub use create::ROOTLESS_V1_LIMITS_WARNING;
pub use exec::{ExecOptions, ExecStarted};
pub use lifecycle::StartedAttached;
pub use model::{
    Container, ContainerConfig, ContainerState, ExecSession, NameConfig, NetworkAttach, RootfsDir,
    Status,
};
pub use remove::RemoveOptions;
pub use resources::{ResourceFlags, Resources};
pub use restart::RestartPolicy;
pub use run::{RunOutcome, RunReport, RunSession, SessionEnd};
pub use security::{SecurityConfig, SecurityFlags, SecurityInfo, SecurityOpt};
pub use spec::{ContainerSpec, LogConfig, LogDriver, RunExtras};
