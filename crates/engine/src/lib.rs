//! peapod's engine: the only entry point is [`Engine`].
pub mod image;
pub mod layer;
