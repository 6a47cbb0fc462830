fn main() {
    std::process::exit(peapod_cli::main());
}
