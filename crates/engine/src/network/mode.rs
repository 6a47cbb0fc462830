//! `--network`: how a container gets its network, as a typed request. Parsing is pure (no
//! lookups): names of networks and containers are resolved at create by
//! [`crate::Engine::plan_network`]. The CLI, `kube play`, `build`'s RUN steps and the API
//! all fill a [`NetworkMode`].

use std::fmt;
use std::net::IpAddr;

use crate::error::{Error, Result};

/// One named network a container joins, with its per-network options
/// (`--network NAME:ip=…,mac=…,alias=…,interface_name=…`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkRequest {
    pub name: String,
    pub static_ips: Vec<IpAddr>,
    pub static_mac: Option<String>,
    pub aliases: Vec<String>,
    /// Empty: `ethN` by position.
    pub interface_name: String,
}

impl NetworkRequest {
    pub fn named(name: impl Into<String>) -> Self {
        NetworkRequest {
            name: name.into(),
            ..Default::default()
        }
    }
}

/// The closed set of network modes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum NetworkMode {
    /// Not given: the default bridge network as root, slirp4netns rootless.
    #[default]
    Default,
    /// `bridge` (the default network) or named networks.
    Bridge(Vec<NetworkRequest>),
    /// `none` or `private`: a namespace with loopback only.
    None,
    /// The host's namespace.
    Host,
    /// `ns:PATH`: a namespace file to join.
    Path(String),
    /// `container:NAME|ID`: another container's namespace.
    Container(String),
    /// `slirp4netns[:OPTIONS]`, the whole mode string.
    Slirp4netns(String),
    /// `pasta[:OPTIONS]`, the whole mode string.
    Pasta(String),
}

impl NetworkMode {
    /// Parse the values of `--network` (repeatable; each may be a comma list of names).
    pub fn parse(values: &[String]) -> Result<NetworkMode> {
        let mut named: Vec<NetworkRequest> = Vec::new();
        let mut mode = NetworkMode::Default;
        for value in values {
            let single = values.len() == 1 || value.is_empty();
            let special = match value.as_str() {
                "" => Some(NetworkMode::Default),
                "bridge" => Some(NetworkMode::Bridge(Vec::new())),
                "none" | "private" => Some(NetworkMode::None),
                "host" => Some(NetworkMode::Host),
                s if s.starts_with("ns:") => {
                    if !s[3..].starts_with('/') {
                        return Err(Error::invalid(format!(
                            "network namespace path {:?} must be absolute",
                            &s[3..]
                        )));
                    }
                    Some(NetworkMode::Path(s[3..].to_string()))
                }
                s if s.starts_with("container:") => {
                    Some(NetworkMode::Container(s[10..].to_string()))
                }
                s if super::slirp::is_slirp(s) => {
                    super::slirp::SlirpOptions::from_mode(s)?;
                    Some(NetworkMode::Slirp4netns(s.to_string()))
                }
                s if super::pasta::is_pasta(s) => Some(NetworkMode::Pasta(s.to_string())),
                _ => None,
            };
            if let Some(m) = special {
                if !single {
                    return Err(Error::invalid(format!(
                        "--network {value} cannot be combined with other networks"
                    )));
                }
                mode = m;
                continue;
            }
            for request in parse_named(value)? {
                if named.iter().any(|n| n.name == request.name) {
                    return Err(Error::invalid(format!(
                        "network {} given twice",
                        request.name
                    )));
                }
                named.push(request);
            }
        }
        if !named.is_empty() {
            mode = NetworkMode::Bridge(named);
        }
        Ok(mode)
    }

    /// Named networks or `bridge`.
    pub fn is_bridge(&self) -> bool {
        matches!(self, NetworkMode::Bridge(_))
    }
}

/// `NAME:ip=…,mac=…,alias=…,interface_name=…`, or `NAME[,NAME…]`.
fn parse_named(value: &str) -> Result<Vec<NetworkRequest>> {
    let Some((name, opts)) = value.split_once(':') else {
        return Ok(value.split(',').map(NetworkRequest::named).collect());
    };
    let mut r = NetworkRequest::named(name);
    for o in opts.split(',') {
        match o.split_once('=') {
            Some(("ip" | "ip6", v)) => r.static_ips.push(super::attach::parse_ip(v, "IP")?),
            Some(("mac", v)) => r.static_mac = Some(super::attach::parse_mac(v)?),
            Some(("alias", v)) => r.aliases.push(v.to_string()),
            Some(("interface_name", v)) => r.interface_name = v.to_string(),
            _ => {
                return Err(Error::invalid(format!(
                    "unknown network option {o:?} for network {name}"
                )));
            }
        }
    }
    Ok(vec![r])
}

/// As the user would write it in `--network` (for messages).
impl fmt::Display for NetworkMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NetworkMode::Default => f.write_str("none"),
            NetworkMode::Bridge(v) if v.is_empty() => f.write_str("bridge"),
            NetworkMode::Bridge(v) => {
                let names: Vec<&str> = v.iter().map(|n| n.name.as_str()).collect();
                f.write_str(&names.join(","))
            }
            NetworkMode::None => f.write_str("none"),
            NetworkMode::Host => f.write_str("host"),
            NetworkMode::Path(p) => write!(f, "ns:{p}"),
            NetworkMode::Container(c) => write!(f, "container:{c}"),
            NetworkMode::Slirp4netns(s) | NetworkMode::Pasta(s) => f.write_str(s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: &[&str]) -> Result<NetworkMode> {
        NetworkMode::parse(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn modes() {
        assert_eq!(parse(&[]).unwrap(), NetworkMode::Default);
        assert_eq!(parse(&[""]).unwrap(), NetworkMode::Default);
        assert_eq!(parse(&["host"]).unwrap(), NetworkMode::Host);
        assert_eq!(parse(&["private"]).unwrap(), NetworkMode::None);
        assert_eq!(parse(&["bridge"]).unwrap(), NetworkMode::Bridge(vec![]));
        assert_eq!(
            parse(&["ns:/run/netns/x"]).unwrap(),
            NetworkMode::Path("/run/netns/x".into())
        );
        assert_eq!(
            parse(&["container:web"]).unwrap(),
            NetworkMode::Container("web".into())
        );
        assert_eq!(
            parse(&["slirp4netns:port_handler=slirp4netns"]).unwrap(),
            NetworkMode::Slirp4netns("slirp4netns:port_handler=slirp4netns".into())
        );
        assert_eq!(
            parse(&["pasta"]).unwrap(),
            NetworkMode::Pasta("pasta".into())
        );
    }

    #[test]
    fn named_networks_and_options() {
        let m = parse(&["a,b", "c"]).unwrap();
        let names: Vec<String> = match &m {
            NetworkMode::Bridge(v) => v.iter().map(|n| n.name.clone()).collect(),
            other => panic!("{other:?}"),
        };
        assert_eq!(names, ["a", "b", "c"]);
        assert_eq!(m.to_string(), "a,b,c");
        let m =
            parse(&["n1:ip=10.9.0.5,mac=02:00:00:00:00:01,alias=web,interface_name=e9"]).unwrap();
        let NetworkMode::Bridge(v) = m else {
            panic!("not bridged")
        };
        assert_eq!(v[0].static_ips, ["10.9.0.5".parse::<IpAddr>().unwrap()]);
        assert_eq!(v[0].static_mac.as_deref(), Some("02:00:00:00:00:01"));
        assert_eq!(v[0].aliases, ["web"]);
        assert_eq!(v[0].interface_name, "e9");
    }

    #[test]
    fn refusals() {
        let e = parse(&["host", "n1"]).unwrap_err().to_string();
        assert_eq!(e, "--network host cannot be combined with other networks");
        let e = parse(&["ns:relative"]).unwrap_err().to_string();
        assert!(e.contains("must be absolute"), "{e}");
        let e = parse(&["n1", "n1"]).unwrap_err().to_string();
        assert_eq!(e, "network n1 given twice");
        let e = parse(&["n1:bogus=1"]).unwrap_err().to_string();
        assert!(e.contains("unknown network option \"bogus=1\""), "{e}");
        assert!(parse(&["slirp4netns:mtu=x"]).is_err());
    }
}
