fn main() {
    eprintln!("peapod-monitor: not built yet");
    std::process::exit(1);
}
