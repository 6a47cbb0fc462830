//! Content store, names and tags, import.
