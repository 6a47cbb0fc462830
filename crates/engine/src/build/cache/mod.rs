//! The pure parts of the layer cache: the history strings Podman writes ([`created_by`]),
//! digests of what COPY/ADD copy ([`digest_path`], [`content_summary`]), and a cache key
//! that changes whenever a step's result could ([`CacheKey`]).

mod digest;
mod history;
mod key;

pub use digest::{ContentDigest, ContentKind, content_summary, digest_data, digest_path};
pub use history::created_by;
pub use key::{CacheKey, KEY_VERSION, Step};

#[cfg(test)]
mod tests;
