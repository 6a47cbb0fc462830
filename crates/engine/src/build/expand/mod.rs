//! Variable expansion: BuildKit's lexer ([`Lex`]) and its build-arg scoping rules.

mod lex;
mod pattern;

pub use lex::{Env, Lex, NoEnv, Processed};
