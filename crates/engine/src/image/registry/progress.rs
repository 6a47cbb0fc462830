//! What a pull or push reports while it runs. The engine only emits events; a front end
//! renders them (the CLI prints Podman's lines on stderr, or its progress bars on a TTY).
//! Events may come from several threads at once.

/// One step of a copy, in the order Podman prints them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// `Resolved "alpine" as an alias (…)` / `Resolving "x" using unqualified-search …`.
    Resolved(String),
    /// `Trying to pull NAME...`.
    Trying(String),
    /// `Getting image source signatures`.
    GettingSignatures,
    /// A blob starts copying (`Copying blob sha256:…`); `size` when known.
    BlobStart { digest: String, size: Option<u64> },
    /// Bytes of a blob copied so far.
    BlobProgress { digest: String, done: u64 },
    /// A blob finished copying.
    BlobDone { digest: String },
    /// A blob was not copied: the destination has it (`skipped: already exists`).
    BlobSkipped { digest: String },
    /// `Copying config sha256:…`, and it is done.
    Config { digest: String },
    /// `Writing manifest to image destination`.
    WritingManifest,
    /// `Storing signatures`.
    StoringSignatures,
    /// A line of a list copy, as Podman prints it (`Copying 2 of 2 images in list`, …).
    List(String),
}

/// Receives events.
pub trait ProgressSink: Sync {
    fn event(&self, e: Event);
}

/// Drops every event (`-q`, internal pulls).
pub struct Silent;

impl ProgressSink for Silent {
    fn event(&self, _: Event) {}
}
