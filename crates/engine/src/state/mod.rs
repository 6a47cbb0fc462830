//! The state database (SQLite), per-object locks, and the refresh after a reboot.
//!
//! The database is the single source of truth for configuration. Every write is one
//! transaction; SQLite's own locking (WAL, a long busy timeout) serialises concurrent
//! `peapod` processes, and UNIQUE constraints make sure two of them never hand out the same
//! name. Lifecycle operations on one container also hold its file lock ([`lock`]). What the
//! engine makes for a container or pod is recorded in the [`ledger`] before it is made.

mod db;
pub mod ledger;
pub mod lock;

pub use db::{Db, ImageRecord, repository_of};
pub use ledger::{Held, Holder, Resource};
