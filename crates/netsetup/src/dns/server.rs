//! The server loop: one UDP and one TCP listener per gateway address the networks' files
//! name, each on its own thread, answering from a snapshot of the records; SIGHUP reloads the
//! files (binding new gateways), and the process ends when no container is left.

#[allow(unused_imports)]
use super::*;

pub(super) type Shared = Arc<RwLock<Records>>;

pub(super) fn host_resolvers() -> Vec<IpAddr> {
    host_upstreams(&fs::read_to_string("/etc/resolv.conf").unwrap_or_default())
}

pub(super) fn serve_udp(sock: UdpSocket, listen: IpAddr, records: Shared) {
    let mut buf = vec![0u8; 4096];
    loop {
        let Ok((n, from)) = sock.recv_from(&mut buf) else {
            continue;
        };
        let query = buf[..n].to_vec();
        let records = records.clone();
        let sock = match sock.try_clone() {
            Ok(s) => s,
            Err(_) => continue,
        };
        // A forwarded query may take seconds: never block the socket on it.
        std::thread::spawn(move || {
            let at = (listen, from.ip());
            if let Some(a) = handle(&snapshot(&records), at, &query, &host_resolvers()) {
                let _ = sock.send_to(&a, from);
            }
        });
    }
}

pub(super) fn snapshot(records: &Shared) -> Records {
    let guard = records.read().unwrap_or_else(|e| e.into_inner());
    Records::new(guard.nets.clone())
}

pub(super) fn serve_tcp(l: TcpListener, listen: IpAddr, records: Shared) {
    for conn in l.incoming().flatten() {
        let records = records.clone();
        std::thread::spawn(move || {
            let _ = tcp_conn(conn, listen, records);
        });
    }
}

pub(super) fn tcp_conn(mut c: TcpStream, listen: IpAddr, records: Shared) -> io::Result<()> {
    c.set_read_timeout(Some(Duration::from_secs(10)))?;
    let at = (listen, c.peer_addr()?.ip());
    loop {
        let mut len = [0u8; 2];
        c.read_exact(&mut len)?;
        let mut q = vec![0u8; usize::from(u16::from_be_bytes(len))];
        c.read_exact(&mut q)?;
        let Some(a) = handle(&snapshot(&records), at, &q, &host_resolvers()) else {
            return Ok(());
        };
        let n = u16::try_from(a.len()).unwrap_or(u16::MAX);
        c.write_all(&n.to_be_bytes())?;
        c.write_all(&a[..usize::from(n)])?;
    }
}

/// `peapod-netsetup dns-server --config DIR --port N`: run until no container is left.
pub fn serve(dir: &Path, port: u16) -> Result<(), Error> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGHUP, SIGTERM, SIGINT])
        .map_err(io_err("installing signal handlers".into()))?;
    let records: Shared = Arc::new(RwLock::new(Records::new(load(dir))));
    let mut bound: HashSet<IpAddr> = HashSet::new();
    // Returns the addresses it could not listen on, with why.
    let bind_new = |bound: &mut HashSet<IpAddr>, records: &Shared| -> Vec<String> {
        let want = records.read().map(|r| r.listen()).unwrap_or_default();
        let mut failed = Vec::new();
        for ip in want {
            if bound.contains(&ip) {
                continue;
            }
            let addr = SocketAddr::new(ip, port);
            // Both or neither: a half-bound address would be retried and fail on EADDRINUSE.
            match (UdpSocket::bind(addr), TcpListener::bind(addr)) {
                (Ok(u), Ok(t)) => {
                    let (r1, r2) = (records.clone(), records.clone());
                    std::thread::spawn(move || serve_udp(u, ip, r1));
                    std::thread::spawn(move || serve_tcp(t, ip, r2));
                    bound.insert(ip);
                }
                (Err(e), _) | (_, Err(e)) => failed.push(format!("{addr}: {e}")),
            }
        }
        failed
    };
    // At start, an address we cannot have (another server holds it) fails the setup that
    // started us, rather than leaving its names to whoever answers there.
    let failed = bind_new(&mut bound, &records);
    if !failed.is_empty() {
        return Err(Error::Invalid(format!(
            "cannot listen on {}",
            failed.join(", ")
        )));
    }
    let pid_path: PathBuf = dir.join(PID_FILE);
    fs::write(&pid_path, std::process::id().to_string())
        .map_err(io_err(format!("writing {}", pid_path.display())))?;
    for sig in signals.forever() {
        if sig != SIGHUP {
            break;
        }
        // The edit count before reading the files: every edit up to it is in this load.
        let edit = generation(dir);
        let fresh = Records::new(load(dir));
        if fresh.is_empty() {
            break;
        }
        *records.write().unwrap_or_else(|e| e.into_inner()) = fresh;
        mark_loaded(dir, edit);
        // Nobody to tell now: an address that failed is tried again on the next reload.
        let _ = bind_new(&mut bound, &records);
    }
    // Remove the pid file only if it is still ours (a new server may have replaced it).
    if fs::read_to_string(&pid_path).ok().as_deref().map(str::trim)
        == Some(std::process::id().to_string().as_str())
    {
        let _ = fs::remove_file(&pid_path);
    }
    Ok(())
}
