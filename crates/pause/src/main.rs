//! peapod-pause: the infra process of a pod (catatonit -P). Issue 5 of 6.
fn main() {}
