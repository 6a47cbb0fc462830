//! `peapod-monitor`: a drop-in for conmon. All the work is in the library.

fn main() {
    std::process::exit(peapod_monitor::run::main(std::env::args().skip(1)));
}
