//! `ADD http://…`: a plain HTTP/1.0 GET (redirects followed a few times). HTTPS is refused
//! with a clear error for now.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::error::{Error, Result};

/// Largest download ADD accepts.
const MAX: u64 = 4 << 30;

/// Downloads `url`; the file name (the last path segment) and the body.
pub fn http_get(url: &str) -> Result<(String, Vec<u8>)> {
    let mut url = url.to_string();
    for _ in 0..5 {
        match get_once(&url)? {
            Fetched::Body(b) => return Ok((file_name(&url), b)),
            Fetched::Redirect(to) => url = to,
        }
    }
    Err(Error::other(format!("ADD {url}: too many redirects")))
}

enum Fetched {
    Body(Vec<u8>),
    Redirect(String),
}

fn file_name(url: &str) -> String {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let after_host = path.splitn(4, '/').nth(3).unwrap_or("");
    let name = after_host.rsplit('/').next().unwrap_or("");
    if name.is_empty() {
        "__unnamed__".to_string()
    } else {
        name.to_string()
    }
}

fn get_once(url: &str) -> Result<Fetched> {
    let bad = |m: &str| Error::invalid(format!("ADD {url}: {m}"));
    let Some(rest) = url.strip_prefix("http://") else {
        return Err(bad(
            "only http:// URLs can be added (https is not supported yet)",
        ));
    };
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let addr = if host.contains(':') {
        host.to_string()
    } else {
        format!("{host}:80")
    };
    let mut s = TcpStream::connect(&addr).map_err(|e| bad(&format!("connecting: {e}")))?;
    let _ = s.set_read_timeout(Some(Duration::from_secs(60)));
    let request =
        format!("GET {path} HTTP/1.0\r\nHost: {host}\r\nUser-Agent: peapod\r\nAccept: */*\r\n\r\n");
    s.write_all(request.as_bytes())
        .map_err(|e| bad(&format!("sending: {e}")))?;
    let mut raw = Vec::new();
    s.take(MAX)
        .read_to_end(&mut raw)
        .map_err(|e| bad(&format!("reading: {e}")))?;
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad("no HTTP response"))?;
    let head = String::from_utf8_lossy(&raw[..end]).to_string();
    let mut lines = head.lines();
    let status: u16 = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| bad("bad HTTP status line"))?;
    let header = |name: &str| {
        head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    };
    if (300..400).contains(&status)
        && let Some(loc) = header("location")
    {
        let to = if loc.starts_with("http") {
            loc
        } else {
            format!("http://{host}{loc}")
        };
        return Ok(Fetched::Redirect(to));
    }
    if status != 200 {
        return Err(bad(&format!("invalid response status {status}")));
    }
    let mut body = raw[end + 4..].to_vec();
    if let Some(n) = header("content-length").and_then(|v| v.parse::<usize>().ok()) {
        if body.len() < n {
            return Err(bad("the download ended early"));
        }
        body.truncate(n);
    }
    Ok(Fetched::Body(body))
}
