//! How a device sends a request: plain HTTP or TLS, and the port each implies.
//!
//! Plain HTTP or TLS, and the port each implies.

use serde::Serialize;

/// How a device sends a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scheme {
    /// Plain HTTP: the proxy sees the whole URL.
    Http,
    /// TLS: the proxy sees `CONNECT host:port`, and the URL only if it
    /// inspects.
    Https,
}

impl Scheme {
    /// How a request on `port` travels: plain HTTP on 80, TLS otherwise.
    pub fn for_port(port: u16) -> Scheme {
        if port == 80 {
            Scheme::Http
        } else {
            Scheme::Https
        }
    }

    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }
}
