//! The OCI side: `config.json` generation ([`spec`]) with its capabilities ([`caps`]) and
//! seccomp filter ([`seccomp`]), and the runtime's command line ([`runtime`]).

pub mod caps;
pub mod devices;
pub mod runtime;
pub mod seccomp;
pub mod spec;
pub mod systemd;

pub use runtime::Runtime;
