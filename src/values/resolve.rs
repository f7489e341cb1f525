//! A `--resolve` answer: host, optional port and address, as curl writes it.
//!
//! `HOST:IP` answers for every port, curl's `HOST:PORT:IP` for one. An
//! IPv6 address goes in brackets: bare, `h:2001:db8::1` could be port
//! 2001. One grammar for `audit` and `verify`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::model::DnsName;

/// One answer: the port it is for (every port when `None`) and the
/// address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolve {
    /// Lower-case, validated.
    pub host: String,
    pub port: Option<u16>,
    pub ip: IpAddr,
}

impl Resolve {
    /// `HOST:IP` or `HOST:PORT:IP`.
    pub fn parse(text: &str) -> Result<Resolve, String> {
        let (host, rest) = text
            .split_once(':')
            .ok_or_else(|| format!("{text:?}: expected HOST:IP or HOST:PORT:IP"))?;
        let name = DnsName::parse(host).map_err(|e| format!("{host:?}: {e}"))?;
        let host = name.as_str().to_string();
        if rest.starts_with('[') || !rest.contains(':') {
            let ip = address(rest)?;
            return Ok(Resolve {
                host,
                port: None,
                ip,
            });
        }
        let (port, ip) = rest.split_once(':').unwrap_or((rest, ""));
        let port =
            port.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| {
                format!("{port:?}: not a port (an IPv6 address goes in brackets)")
            })?;
        let ip = address(ip)?;
        Ok(Resolve {
            host,
            port: Some(port),
            ip,
        })
    }

    /// An answer for a name lookup (a PAC file's `dnsResolve`), which asks
    /// for no port: `HOST:IP` only.
    pub fn parse_lookup(text: &str) -> Result<Resolve, String> {
        let r = Resolve::parse(text)?;
        match r.port {
            None => Ok(r),
            Some(_) => Err(format!(
                "{text:?}: a name lookup has no port; write HOST:IP"
            )),
        }
    }
}

/// An IPv4 address, or an IPv6 one in brackets.
fn address(t: &str) -> Result<IpAddr, String> {
    match t.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
        Some(v6) => v6.parse::<Ipv6Addr>().map(IpAddr::V6).ok(),
        None => t.parse::<Ipv4Addr>().map(IpAddr::V4).ok(),
    }
    .ok_or_else(|| format!("{t:?}: not an IPv4 address or an [IPv6] address in brackets"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(host: &str, port: Option<u16>, ip: &str) -> Resolve {
        Resolve {
            host: host.into(),
            port,
            ip: ip.parse().unwrap(),
        }
    }

    #[test]
    fn reads_as_curl_writes_it() {
        assert_eq!(
            Resolve::parse("a.example.com:127.0.0.2").unwrap(),
            r("a.example.com", None, "127.0.0.2")
        );
        assert_eq!(
            Resolve::parse("A.example.com:443:127.0.0.2").unwrap(),
            r("a.example.com", Some(443), "127.0.0.2")
        );
        assert_eq!(
            Resolve::parse("a.example.com:[::1]").unwrap(),
            r("a.example.com", None, "::1")
        );
        assert_eq!(
            Resolve::parse("a.example.com:443:[::1]").unwrap(),
            r("a.example.com", Some(443), "::1")
        );
        for bad in [
            "a.example.com",
            "a.example.com:x",
            "bad host:127.0.0.1",
            "a.example.com:0:127.0.0.1",
            "a.example.com:2001:db8::1",
            "a.example.com:443:2001:db8::1",
            "a.example.com:[127.0.0.1]",
        ] {
            assert!(Resolve::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_lookup_takes_no_port() {
        assert_eq!(
            Resolve::parse_lookup("wpad.contoso.com:[2001:db8::1]").unwrap(),
            r("wpad.contoso.com", None, "2001:db8::1")
        );
        let e = Resolve::parse_lookup("wpad.contoso.com:80:10.0.0.1").unwrap_err();
        assert!(e.contains("no port"), "{e}");
    }
}
