//! peapod-netsetup: the network setup tool (netavark's command line). Issue 3 of 6.
fn main() {
    println!("{{\"error\":\"peapod-netsetup: networking is not implemented yet\"}}");
    std::process::exit(1);
}
