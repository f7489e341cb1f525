//! Endpoint/URL cells: scheme, host pattern, port and path prefix of each entry.
//!
//! One cell may hold several entries, each an optional scheme, a host
//! pattern, an optional port and an optional path prefix.
//!
//! `crl.microsoft.com/pki/crl/*` becomes the exact host with path prefix
//! `/pki/crl/`; `https://x` carries port 443 when the row gives none.

use crate::model::HostPattern;
use crate::model::host::{self, HostError};

/// One entry of a URL cell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UrlEntry {
    pub host: HostPattern,
    /// Path prefix starting with `/`, without a trailing `*`.
    pub path: Option<String>,
    /// Port implied by the scheme (`http` 80, `https` 443).
    pub scheme_port: Option<u16>,
    /// Port written after the host (`host:8443`).
    pub explicit_port: Option<u16>,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    #[error("{0}")]
    Host(#[from] HostError),
    #[error("unsupported scheme {0:?}: only http and https")]
    Scheme(String),
    #[error("user information (`@`) in a URL")]
    Userinfo,
    #[error("query or fragment in a URL: only a path prefix is supported")]
    Query,
    #[error("invalid port {0:?}")]
    Port(String),
    #[error("path {path:?}: {why}")]
    Path { path: String, why: &'static str },
}

impl EntryError {
    pub fn code(&self) -> &'static str {
        match self {
            EntryError::Host(e) => e.code(),
            EntryError::Scheme(_) => "scheme",
            EntryError::Userinfo => "userinfo",
            EntryError::Query => "query",
            EntryError::Port(_) => "url-port",
            EntryError::Path { .. } => "path",
        }
    }
}

/// Splits a cell into entries: newlines, commas, semicolons and any
/// whitespace (non-breaking spaces included) separate them.
pub fn split_cell(text: &str) -> Vec<&str> {
    text.split(|c: char| c.is_whitespace() || c == ',' || c == ';')
        .filter(|t| !t.is_empty())
        .collect()
}

/// Parses one entry of a URL cell.
pub fn parse_entry(token: &str) -> Result<UrlEntry, EntryError> {
    let (scheme_port, rest) = strip_scheme(token)?;
    if rest.contains(['?', '#']) {
        return Err(EntryError::Query);
    }
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], Some(&rest[i..])),
        None => (rest, None),
    };
    if authority.contains('@') {
        return Err(EntryError::Userinfo);
    }
    if authority.starts_with('[') {
        return Err(HostError::IpLiteral.into());
    }
    let (host_text, explicit_port) = split_port(authority)?;
    let host = host::parse_pattern(host_text)?;
    let path = path.map(normalize_path).transpose()?.flatten();
    Ok(UrlEntry {
        host,
        path,
        scheme_port,
        explicit_port,
    })
}

fn strip_scheme(token: &str) -> Result<(Option<u16>, &str), EntryError> {
    let Some((scheme, rest)) = token.split_once("://") else {
        return Ok((None, token));
    };
    let is_scheme = scheme
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !is_scheme {
        // `://` somewhere that is not a scheme: let host validation say why.
        return Ok((None, token));
    }
    match scheme.to_ascii_lowercase().as_str() {
        "http" => Ok((Some(80), rest)),
        "https" => Ok((Some(443), rest)),
        _ => Err(EntryError::Scheme(scheme.to_string())),
    }
}

fn split_port(authority: &str) -> Result<(&str, Option<u16>), EntryError> {
    let Some((host, port)) = authority.rsplit_once(':') else {
        return Ok((authority, None));
    };
    match port.parse::<u16>() {
        Ok(p) if p > 0 && port.chars().all(|c| c.is_ascii_digit()) => Ok((host, Some(p))),
        _ => Err(EntryError::Port(port.to_string())),
    }
}

/// Whether a stored path prefix (`/pki/crl/`) is one [`parse_entry`]
/// would have produced: the check for paths that did not come through a
/// cell (a catalog read back, a policy built by hand).
pub fn check_path_prefix(path: &str) -> Result<(), EntryError> {
    match normalize_path(path)? {
        Some(p) if p == path => Ok(()),
        _ => Err(EntryError::Path {
            path: path.to_string(),
            why: "not a normalized path prefix",
        }),
    }
}

/// `/pki/crl/*` -> `/pki/crl/`; `/` or `/*` -> no path. Only characters
/// that need no escaping in any backend's syntax are accepted.
fn normalize_path(path: &str) -> Result<Option<String>, EntryError> {
    let fail = |why| EntryError::Path {
        path: path.to_string(),
        why,
    };
    let trimmed = path.strip_suffix('*').unwrap_or(path);
    if trimmed.contains('*') {
        return Err(fail("a wildcard is only supported at the end"));
    }
    if let Some(c) = trimmed.chars().find(|&c| !path_char(c)) {
        return Err(if c.is_ascii_graphic() {
            fail("character not allowed in a path prefix")
        } else {
            fail("control, space or non-ASCII character")
        });
    }
    if trimmed.split('/').any(|seg| seg == "." || seg == "..") {
        return Err(fail("dot segments are not allowed"));
    }
    if !valid_percent_escapes(trimmed) {
        return Err(fail("broken percent escape"));
    }
    if let Some(why) = dangerous_escape(trimmed) {
        return Err(fail(why));
    }
    Ok((trimmed != "/").then(|| trimmed.to_string()))
}

/// What a percent escape would smuggle past the checks above: servers and
/// proxies decode before they match, so `%2e%2e`, `%2f` and `%00` are the
/// dot segments, separators and NULs the literal checks refuse.
fn dangerous_escape(path: &str) -> Option<&'static str> {
    let bytes = path.as_bytes();
    (0..bytes.len())
        .filter(|&i| bytes[i] == b'%')
        .filter_map(|i| {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            u8::from_str_radix(hex, 16).ok()
        })
        .find_map(|b| match b {
            b'.' => {
                Some("an encoded dot (%2e) is not allowed: it can form a dot segment once decoded")
            }
            b'/' | b'\\' => Some("an encoded slash is not allowed"),
            b'%' => Some("an encoded percent sign (double encoding) is not allowed"),
            b if b < 0x20 || b == 0x7f => {
                Some("an encoded control character (such as %00) is not allowed")
            }
            _ => None,
        })
}

fn path_char(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(c, '/' | '-' | '.' | '_' | '~' | '%' | ':' | '@' | '+' | '=')
}

fn valid_percent_escapes(path: &str) -> bool {
    let bytes = path.as_bytes();
    bytes.iter().enumerate().all(|(i, &b)| {
        b != b'%'
            || (bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(token: &str) -> String {
        let e = parse_entry(token).unwrap_or_else(|e| panic!("{token}: {e}"));
        format!(
            "{} {} path={} scheme={:?} port={:?}",
            e.host.kind(),
            e.host,
            e.path.as_deref().unwrap_or("-"),
            e.scheme_port,
            e.explicit_port
        )
    }

    #[test]
    fn splits_cells_on_every_separator() {
        assert_eq!(
            split_cell("a.com\nb.com, c.com;d.com\u{a0}e.com \t"),
            vec!["a.com", "b.com", "c.com", "d.com", "e.com"]
        );
        assert!(split_cell(" \n\u{a0}").is_empty());
    }

    #[test]
    fn parses_paths_schemes_and_ports() {
        assert_eq!(
            show("crl.microsoft.com/pki/crl/*"),
            "exact crl.microsoft.com path=/pki/crl/ scheme=None port=None"
        );
        assert_eq!(
            show("http://www.microsoft.com/pkiops/certs"),
            "exact www.microsoft.com path=/pkiops/certs scheme=Some(80) port=None"
        );
        assert_eq!(
            show("HTTPS://Security.Microsoft.com"),
            "exact security.microsoft.com path=- scheme=Some(443) port=None"
        );
        assert_eq!(
            show("*.blob.core.windows.net/networkscannerstable/*"),
            "subdomains *.blob.core.windows.net path=/networkscannerstable/ scheme=None port=None"
        );
        assert_eq!(
            show("https://*.microsoftonline-p.com"),
            "subdomains *.microsoftonline-p.com path=- scheme=Some(443) port=None"
        );
        assert_eq!(
            show("x.example.com:8443/"),
            "exact x.example.com path=- scheme=None port=Some(8443)"
        );
    }

    #[test]
    fn rejects_what_backends_cannot_carry_safely() {
        let code = |t: &str| parse_entry(t).unwrap_err().code();
        assert_eq!(code("ftp://x.example.com"), "scheme");
        assert_eq!(code("https://user@x.example.com"), "userinfo");
        assert_eq!(code("x.example.com/a?b=c"), "query");
        assert_eq!(code("x.example.com:0"), "url-port");
        assert_eq!(code("x.example.com:99999"), "url-port");
        assert_eq!(code("x.example.com/a/*/b"), "path");
        assert_eq!(code("x.example.com/a\"b"), "path");
        assert_eq!(code("x.example.com/../etc"), "path");
        assert_eq!(code("x.example.com/%zz"), "path");
        for encoded in [
            "crl.example.com/pki/%2e%2e/*",
            "crl.example.com/pki/%2E./x",
            "crl.example.com/pki/..%2fetc",
            "crl.example.com/pki/..%5cetc",
            "crl.example.com/pki/%00/x",
            "crl.example.com/pki/%252e%252e/x",
            "crl.example.com/pki/%0a",
        ] {
            assert_eq!(code(encoded), "path", "{encoded}");
        }
        assert!(parse_entry("crl.example.com/pki/a%20b/*").is_ok());
        assert_eq!(code("[::1]/x"), "ip-literal");
    }
}
