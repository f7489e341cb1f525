//! A probe URL: `http` or `https`, a DNS name, an optional port and a path.
//!
//! `http` or `https`, a DNS name, an optional port and a path. Parsed once
//! where it enters (the built-in table, the ruleset's `[verify]` table), so
//! the request line written from it can hold nothing but the characters
//! checked here.

use std::fmt;

use crate::model::{DnsName, Scheme};

/// The longest path a probe may ask for.
const MAX_PATH: usize = 2048;

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Deserialize)]
#[serde(try_from = "String")]
pub struct ProbeUrl {
    pub scheme: Scheme,
    pub host: DnsName,
    pub port: u16,
    /// Starts with `/`; printable ASCII without spaces, quotes or angle
    /// brackets.
    pub path: String,
}

impl ProbeUrl {
    pub fn new(scheme: Scheme, host: DnsName, port: u16, path: &str) -> Result<ProbeUrl, String> {
        check_path(path)?;
        if port == 0 {
            return Err("port 0".to_string());
        }
        Ok(ProbeUrl {
            scheme,
            host,
            port,
            path: path.to_string(),
        })
    }

    pub fn parse(text: &str) -> Result<ProbeUrl, String> {
        let (scheme, rest) = if let Some(rest) = text.strip_prefix("https://") {
            (Scheme::Https, rest)
        } else if let Some(rest) = text.strip_prefix("http://") {
            (Scheme::Http, rest)
        } else {
            return Err(format!(
                "{text:?}: a probe URL starts with http:// or https://"
            ));
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) => {
                let port = p
                    .parse::<u16>()
                    .ok()
                    .filter(|p| *p > 0)
                    .ok_or_else(|| format!("{text:?}: port {p:?} is not 1-65535"))?;
                (h, port)
            }
            None => (authority, scheme.default_port()),
        };
        let host = DnsName::parse(host).map_err(|e| format!("{text:?}: host {host:?}: {e}"))?;
        ProbeUrl::new(scheme, host, port, path).map_err(|e| format!("{text:?}: {e}"))
    }

    /// `host:port` as a CONNECT request names it.
    pub fn authority(&self) -> String {
        format!("{}:{}", self.host.as_str(), self.port)
    }

    /// The `Host` header: the port only when it is not the scheme's.
    pub fn host_header(&self) -> String {
        if self.port == self.scheme.default_port() {
            self.host.as_str().to_string()
        } else {
            self.authority()
        }
    }
}

impl fmt::Display for ProbeUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match self.scheme {
            Scheme::Http => "http",
            Scheme::Https => "https",
        };
        write!(f, "{scheme}://{}{}", self.host_header(), self.path)
    }
}

impl TryFrom<String> for ProbeUrl {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        ProbeUrl::parse(&text)
    }
}

impl serde::Serialize for ProbeUrl {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

fn check_path(path: &str) -> Result<(), String> {
    if !path.starts_with('/') {
        return Err(format!("path {path:?} does not start with /"));
    }
    if path.len() > MAX_PATH {
        return Err(format!("path longer than {MAX_PATH} characters"));
    }
    match path.chars().find(|c| {
        !c.is_ascii_graphic() || matches!(c, '"' | '<' | '>' | '\\' | '^' | '`' | '{' | '|' | '}')
    }) {
        Some(c) => Err(format!("path has {c:?}, which a request line cannot carry")),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_back() {
        for (text, shown) in [
            ("https://winatp-gw-weu.microsoft.com/commands/test", None),
            ("http://ctldl.windowsupdate.com/msdownload/x.cab", None),
            ("https://a.example.com", Some("https://a.example.com/")),
            (
                "https://a.example.com:443/x",
                Some("https://a.example.com/x"),
            ),
            ("http://a.example.com:8080/x?y=1", None),
        ] {
            let u = ProbeUrl::parse(text).unwrap();
            assert_eq!(u.to_string(), shown.unwrap_or(text));
        }
        let u = ProbeUrl::parse("https://A.Example.com:8443/p").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.path.as_str()),
            ("a.example.com", 8443, "/p")
        );
    }

    #[test]
    fn refuses_what_a_request_line_cannot_carry() {
        for bad in [
            "ftp://a.example.com/",
            "https://a.example.com/x y",
            "https://a.example.com/x\r\nHost: evil",
            "https://a.example.com:0/",
            "https://a.example.com:99999/",
            "https://bad_host!/",
            "https://a.example.com/\"",
            "https:///x",
        ] {
            assert!(ProbeUrl::parse(bad).is_err(), "{bad:?}");
        }
    }
}
