//! Variable expansion: BuildKit's lexer ([`Lex`]) and its build-arg scoping rules
//! ([`GlobalArgs`] for FROM lines, [`StageScope`] inside a stage).

mod lex;
mod pattern;
mod scope;

pub use lex::{Env, Lex, NoEnv, Processed};
pub use scope::{
    ArgValue, BuildArgs, GlobalArgs, PROXY_ARGS, Platform, StageScope, Vars, builtin_args,
    unused_build_args, unused_warning,
};

#[cfg(test)]
mod tests;
