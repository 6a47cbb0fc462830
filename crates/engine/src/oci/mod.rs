//! The OCI side: `config.json` generation ([`spec`]) and the runtime's command line ([`runtime`]).

pub mod runtime;
pub mod spec;

pub use runtime::Runtime;
