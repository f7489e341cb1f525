//! IP prefixes: a network of its family, no default route, not shorter than a bound.
//!
//! Each must be a network of its family (no host bits set), not a default
//! route, and not shorter than a configurable bound.

use std::net::IpAddr;

use ipnet::IpNet;

/// The shortest prefixes accepted. A service tag never needs a /7: a prefix
/// that short is far more likely a typo or a hostile file than a
/// Microsoft range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PrefixRules {
    pub min_v4: u8,
    pub min_v6: u8,
}

impl Default for PrefixRules {
    fn default() -> Self {
        PrefixRules {
            min_v4: 8,
            min_v6: 16,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PrefixError {
    #[error("not an IP prefix")]
    Syntax,
    #[error("host bits set: the network is {0}")]
    HostBits(IpNet),
    #[error("default route covers every address")]
    DefaultRoute,
    #[error("/{len} is shorter than the /{min} allowed for this family")]
    TooShort { len: u8, min: u8 },
    #[error("IPv4-mapped IPv6 prefix: write it as IPv4")]
    Mapped,
}

impl PrefixError {
    pub fn code(&self) -> &'static str {
        match self {
            PrefixError::Syntax => "prefix-syntax",
            PrefixError::HostBits(_) => "prefix-host-bits",
            PrefixError::DefaultRoute => "default-route",
            PrefixError::TooShort { .. } => "prefix-too-short",
            PrefixError::Mapped => "prefix-ipv4-mapped",
        }
    }
}

/// Parses `a.b.c.d/len`, `x::/len`, or a bare address (a host route).
pub fn parse_prefix(text: &str, rules: &PrefixRules) -> Result<IpNet, PrefixError> {
    let (addr, len) = match text.trim().split_once('/') {
        Some((addr, len)) => (addr, Some(len)),
        None => (text.trim(), None),
    };
    // std's parser refuses leading zeros (`010.0.0.0`), which other tools
    // read as octal: such a prefix means different networks to different
    // consumers.
    let addr: IpAddr = addr.parse().map_err(|_| PrefixError::Syntax)?;
    let net = match len {
        None => IpNet::from(addr),
        Some(len)
            if !len.is_empty() && len.len() <= 3 && len.bytes().all(|b| b.is_ascii_digit()) =>
        {
            let len: u8 = len.parse().map_err(|_| PrefixError::Syntax)?;
            IpNet::new(addr, len).map_err(|_| PrefixError::Syntax)?
        }
        Some(_) => return Err(PrefixError::Syntax),
    };
    if net.trunc() != net {
        return Err(PrefixError::HostBits(net.trunc()));
    }
    if net.prefix_len() == 0 {
        return Err(PrefixError::DefaultRoute);
    }
    let min = match net {
        IpNet::V4(_) => rules.min_v4,
        IpNet::V6(v6) => {
            if v6.addr().to_ipv4_mapped().is_some() {
                return Err(PrefixError::Mapped);
            }
            rules.min_v6
        }
    };
    if net.prefix_len() < min {
        return Err(PrefixError::TooShort {
            len: net.prefix_len(),
            min,
        });
    }
    Ok(net)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(text: &str) -> &'static str {
        parse_prefix(text, &PrefixRules::default())
            .unwrap_err()
            .code()
    }

    #[test]
    fn accepts_networks() {
        let rules = PrefixRules::default();
        assert_eq!(
            parse_prefix("20.35.192.0/20", &rules).unwrap().to_string(),
            "20.35.192.0/20"
        );
        assert_eq!(
            parse_prefix("2603:1040:1b02::180/123", &rules)
                .unwrap()
                .prefix_len(),
            123
        );
        assert_eq!(
            parse_prefix("1.2.3.4", &rules).unwrap().to_string(),
            "1.2.3.4/32"
        );
    }

    #[test]
    fn rejects_bad_prefixes() {
        assert_eq!(code("0.0.0.0/0"), "default-route");
        assert_eq!(code("::/0"), "default-route");
        assert_eq!(code("10.0.0.1/8"), "prefix-host-bits");
        assert_eq!(code("10.0.0.0/33"), "prefix-syntax");
        assert_eq!(code("4.0.0.0/6"), "prefix-too-short");
        assert_eq!(code("2000::/3"), "prefix-too-short");
        assert_eq!(code("::ffff:10.0.0.0/104"), "prefix-ipv4-mapped");
        assert_eq!(code("not a prefix"), "prefix-syntax");
        assert_eq!(code("010.0.0.0/8"), "prefix-syntax");
    }

    #[test]
    fn bound_is_configurable() {
        let loose = PrefixRules {
            min_v4: 1,
            min_v6: 1,
        };
        assert!(parse_prefix("4.0.0.0/6", &loose).is_ok());
        assert_eq!(
            parse_prefix("0.0.0.0/0", &loose).unwrap_err().code(),
            "default-route"
        );
    }
}
