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

impl Event {
    /// The line Podman prints for this step when its output is not a terminal (what its
    /// API's pull stream carries too); `None` for steps it does not print there.
    pub fn plain_line(&self) -> Option<String> {
        Some(match self {
            Event::Resolved(m) | Event::List(m) => m.clone(),
            Event::Trying(n) => format!("Trying to pull {n}..."),
            Event::GettingSignatures => "Getting image source signatures".into(),
            Event::BlobStart { digest, .. } => format!("Copying blob {digest}"),
            Event::Config { digest } => format!("Copying config {digest}"),
            Event::WritingManifest => "Writing manifest to image destination".into(),
            Event::StoringSignatures => "Storing signatures".into(),
            Event::BlobProgress { .. } | Event::BlobDone { .. } | Event::BlobSkipped { .. } => {
                return None;
            }
        })
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_lines_are_podmans() {
        let d = "sha256:abc".to_string();
        assert_eq!(
            Event::Trying("docker.io/library/x:1".into()).plain_line(),
            Some("Trying to pull docker.io/library/x:1...".into())
        );
        assert_eq!(
            Event::BlobStart {
                digest: d.clone(),
                size: None
            }
            .plain_line(),
            Some("Copying blob sha256:abc".into())
        );
        assert_eq!(Event::BlobDone { digest: d }.plain_line(), None);
    }
}
