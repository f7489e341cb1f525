//! The routes a device may take, as Microsoft's client analyzer tries them.
//!
//! The routes a device may take, as Microsoft's client analyzer tries
//! them: direct, each proxy of the ruleset, the proxy a PAC file picks for
//! the URL (evaluated with the engine `audit` uses), the environment's
//! `HTTPS_PROXY`/`HTTP_PROXY` with `NO_PROXY`, and `--proxy`.

use std::net::IpAddr;

use crate::backends::pac::read::PacConfig;
use crate::model::text::display_escape;

use super::net::Hop;
use crate::model::Scheme;
use crate::values::ProbeUrl;

/// One route, as configured.
pub enum Route {
    Direct,
    /// A proxy of the ruleset's `[proxy]` or `--proxy`.
    Proxy {
        label: String,
        hop: Hop,
    },
    Pac {
        label: String,
        pac: Box<PacConfig>,
        client: IpAddr,
    },
    Env(EnvProxies),
}

impl Route {
    /// Whether the route picks per URL, so that sending a must-go-direct
    /// endpoint to a proxy is its own mistake.
    pub fn per_url(&self) -> bool {
        matches!(self, Route::Pac { .. } | Route::Env(_))
    }

    pub fn label(&self) -> String {
        match self {
            Route::Direct => "direct".to_string(),
            Route::Proxy { label, .. } | Route::Pac { label, .. } => label.clone(),
            Route::Env(_) => "environment".to_string(),
        }
    }

    /// The hops to try for `url`, in order (a PAC may list several;
    /// a browser falls back to the next when a proxy cannot be reached).
    pub fn hops(&self, url: &ProbeUrl) -> Result<Vec<Hop>, String> {
        match self {
            Route::Direct => Ok(vec![Hop::Direct]),
            Route::Proxy { hop, .. } => Ok(vec![hop.clone()]),
            Route::Env(env) => Ok(vec![env.hop_for(url)]),
            Route::Pac { pac, client, .. } => pac
                .find_proxy(&pac_url(url), url.host.as_str(), *client)
                .and_then(|answer| parse_pac_answer(&answer))
                // The script's own words: escaped and cut before they reach
                // a report.
                .map_err(|e| display_escape(&e)),
        }
    }
}

/// The URL a browser hands `FindProxyForURL`: for https only the origin.
fn pac_url(url: &ProbeUrl) -> String {
    match url.scheme {
        Scheme::Https => format!("https://{}/", url.host_header()),
        Scheme::Http => url.to_string(),
    }
}

/// `PROXY a:1; DIRECT` as hops. A kind this tool cannot probe (SOCKS,
/// HTTPS to the proxy) is an error naming it.
pub fn parse_pac_answer(answer: &str) -> Result<Vec<Hop>, String> {
    let shown = || display_escape(answer);
    let mut hops = Vec::new();
    for part in answer.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let mut words = part.split_whitespace();
        let kind = words.next().unwrap_or("").to_ascii_uppercase();
        match (kind.as_str(), words.next(), words.next()) {
            ("DIRECT", None, _) => hops.push(Hop::Direct),
            ("PROXY", Some(addr), None) => {
                hops.push(proxy_hop(addr).map_err(|e| format!("PAC answer {:?}: {e}", shown()))?)
            }
            _ => {
                return Err(format!(
                    "PAC answer {:?}: {:?} is not PROXY host:port or DIRECT",
                    shown(),
                    display_escape(part)
                ));
            }
        }
    }
    if hops.is_empty() {
        // An empty answer means DIRECT to browsers.
        hops.push(Hop::Direct);
    }
    Ok(hops)
}

/// `host:port` as a proxy hop: a name, an IPv4 address, or an IPv6
/// address in brackets.
pub fn proxy_hop(addr: &str) -> Result<Hop, String> {
    let bad = |why: &str| format!("{:?}: {why}", display_escape(addr));
    let (host, port) = addr
        .rsplit_once(':')
        .ok_or_else(|| bad("expected host:port"))?;
    let port: u16 = port
        .parse()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| bad("port is not 1-65535"))?;
    let host = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(v6) => v6
            .parse::<std::net::Ipv6Addr>()
            .map(|ip| ip.to_string())
            .map_err(|_| bad("not an IPv6 address in brackets"))?,
        None => {
            let ok = host.parse::<std::net::Ipv4Addr>().is_ok()
                || crate::model::DnsName::parse(host).is_ok()
                || host.eq_ignore_ascii_case("localhost");
            if !ok {
                return Err(bad("not a host name, an IPv4 address or [an IPv6 address]"));
            }
            host.to_ascii_lowercase()
        }
    };
    Ok(Hop::Proxy { host, port })
}

/// A proxy URL as the environment and `--proxy` write it, read as curl
/// reads it: `http://host:port` or `host:port`, port 1080 when none is
/// given. Credentials are dropped (Defender's services do not
/// authenticate to proxies); a TLS or SOCKS proxy is an error.
pub fn proxy_from_url(text: &str) -> Result<Hop, String> {
    let rest = match text.split_once("://") {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => rest,
        Some((scheme, _)) => {
            return Err(format!(
                "proxy scheme {scheme:?}: only http:// proxies can be probed"
            ));
        }
        None => text,
    };
    let authority = rest.split('/').next().unwrap_or("");
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    let has_port = !authority.ends_with(']')
        && authority
            .rsplit_once(':')
            .is_some_and(|(_, p)| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()));
    let with_port = if has_port {
        authority.to_string()
    } else {
        format!("{authority}:1080")
    };
    proxy_hop(&with_port)
}

/// `HTTPS_PROXY`, `HTTP_PROXY` (either case) and `NO_PROXY`, read once.
#[derive(Clone, Debug, Default)]
pub struct EnvProxies {
    pub https: Option<Hop>,
    pub http: Option<Hop>,
    pub no_proxy: Vec<String>,
}

impl EnvProxies {
    /// The environment's settings; `None` when it names no proxy.
    pub fn from_env() -> Result<Option<EnvProxies>, String> {
        // As curl reads them: lower case first, an empty one is unset,
        // and `http_proxy` only in lower case (CGI puts a request's
        // `Proxy:` header in `HTTP_PROXY`).
        let var = |names: &[&str]| {
            names
                .iter()
                .filter_map(|n| std::env::var(n).ok())
                .find(|v| !v.trim().is_empty())
        };
        let all = var(&["all_proxy", "ALL_PROXY"]);
        let https = var(&["https_proxy", "HTTPS_PROXY"]).or(all.clone());
        let http = var(&["http_proxy"]).or(all);
        if https.is_none() && http.is_none() {
            return Ok(None);
        }
        let parse = |v: Option<String>| v.map(|v| proxy_from_url(v.trim())).transpose();
        Ok(Some(EnvProxies {
            https: parse(https).map_err(|e| format!("HTTPS_PROXY: {e}"))?,
            http: parse(http).map_err(|e| format!("HTTP_PROXY: {e}"))?,
            no_proxy: var(&["no_proxy", "NO_PROXY"])
                .map(|v| {
                    v.split(',')
                        .map(|s| s.trim().to_ascii_lowercase())
                        .filter(|s| !s.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
        }))
    }

    pub fn hop_for(&self, url: &ProbeUrl) -> Hop {
        let proxy = match url.scheme {
            Scheme::Https => &self.https,
            Scheme::Http => &self.http,
        };
        match proxy {
            Some(hop) if !no_proxy_matches(&self.no_proxy, url.host.as_str()) => hop.clone(),
            _ => Hop::Direct,
        }
    }
}

/// curl's reading of `NO_PROXY`: `*` matches everything; a name matches
/// itself and the names below it, with or without a leading dot (or
/// `*.`, as Go reads it); an address or CIDR block matches a host written
/// as an address.
pub fn no_proxy_matches(list: &[String], host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    list.iter().any(|item| {
        let item = item.trim();
        if item == "*" {
            return true;
        }
        if let Ok(net) = item.parse::<ipnet::IpNet>() {
            return host.parse::<IpAddr>().is_ok_and(|ip| net.contains(&ip));
        }
        if let Ok(ip) = item.parse::<IpAddr>() {
            return host.parse::<IpAddr>().is_ok_and(|h| h == ip);
        }
        // `*.example.com` (Go and many corporate lists) as `.example.com`.
        let name = item.split(':').next().unwrap_or("");
        let name = name
            .strip_prefix('*')
            .unwrap_or(name)
            .trim_start_matches('.');
        !name.is_empty() && (host == name || host.ends_with(&format!(".{name}")))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> ProbeUrl {
        ProbeUrl::parse(text).unwrap()
    }

    #[test]
    fn pac_answers_become_hops_in_order() {
        assert_eq!(
            parse_pac_answer("PROXY p1.example.com:8080; PROXY 10.0.0.1:3128;DIRECT").unwrap(),
            vec![
                Hop::Proxy {
                    host: "p1.example.com".into(),
                    port: 8080
                },
                Hop::Proxy {
                    host: "10.0.0.1".into(),
                    port: 3128
                },
                Hop::Direct
            ]
        );
        assert_eq!(parse_pac_answer("").unwrap(), vec![Hop::Direct]);
        for bad in [
            "SOCKS s:1080",
            "PROXY nowhere",
            "PROXY a:0",
            "HTTPS p:443",
            "PROXY a b:1",
        ] {
            assert!(parse_pac_answer(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn proxy_urls_as_the_environment_writes_them() {
        let hop = |h: &str, p| Hop::Proxy {
            host: h.into(),
            port: p,
        };
        assert_eq!(
            proxy_from_url("http://p.example.com:3128").unwrap(),
            hop("p.example.com", 3128)
        );
        assert_eq!(
            proxy_from_url("http://user:secret@p.example.com:3128/").unwrap(),
            hop("p.example.com", 3128)
        );
        assert_eq!(
            proxy_from_url("p.example.com:8080").unwrap(),
            hop("p.example.com", 8080)
        );
        assert_eq!(
            proxy_from_url("http://p.example.com").unwrap(),
            hop("p.example.com", 1080)
        );
        assert_eq!(
            proxy_from_url("http://[::1]:3128").unwrap(),
            hop("::1", 3128)
        );
        assert_eq!(proxy_from_url("[::1]").unwrap(), hop("::1", 1080));
        assert!(proxy_from_url("::1:3128").is_err());
        assert!(proxy_from_url("[p.example.com]:3128").is_err());
        assert!(proxy_from_url("socks5://p.example.com:1080").is_err());
        assert!(proxy_from_url("https://p.example.com:443").is_err());
    }

    #[test]
    fn no_proxy_reads_as_curl_reads_it() {
        let list: Vec<String> = ["example.com", ".corp.local", "10.0.0.0/8", "192.0.2.7"]
            .map(String::from)
            .to_vec();
        assert!(no_proxy_matches(&list, "example.com"));
        assert!(no_proxy_matches(&list, "a.example.com"));
        assert!(!no_proxy_matches(&list, "badexample.com"));
        assert!(no_proxy_matches(&list, "x.corp.local"));
        assert!(no_proxy_matches(&list, "corp.local"));
        assert!(no_proxy_matches(&list, "10.1.2.3"));
        assert!(no_proxy_matches(&list, "192.0.2.7"));
        assert!(!no_proxy_matches(&list, "192.0.2.8"));
        assert!(no_proxy_matches(&["*".to_string()], "anything.example"));
        assert!(no_proxy_matches(
            &["*.corp.example".to_string()],
            "a.corp.example"
        ));
        assert!(no_proxy_matches(
            &["*.corp.example".to_string()],
            "a.corp.example"
        ));
        let env = EnvProxies {
            https: Some(Hop::Proxy {
                host: "p".into(),
                port: 1,
            }),
            http: None,
            no_proxy: vec!["example.com".into()],
        };
        assert_eq!(env.hop_for(&url("https://a.example.com/")), Hop::Direct);
        assert_eq!(
            env.hop_for(&url("https://a.example.org/")),
            Hop::Proxy {
                host: "p".into(),
                port: 1
            }
        );
        assert_eq!(env.hop_for(&url("http://a.example.org/")), Hop::Direct);
    }
}
