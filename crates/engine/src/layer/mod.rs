//! Safe unpacking of layers, whiteouts, the overlay rootfs of a container.
