//! Checked setting values shared by the site, the ruleset and the backends' settings.
//!
//! Validated setting values, shared by the ruleset and the backends' own
//! settings: a leaf module, so the backends need not import the ruleset
//! (which imports them for its outputs table). Each newtype refuses a bad
//! value with a message that the TOML error then places on its line.

use serde::Deserialize;

use crate::model::Geography;

mod probe_url;
mod resolve;
pub use probe_url::ProbeUrl;
pub use resolve::Resolve;

/// Validated newtypes: each refuses a bad value with a message that the
/// TOML error then places on its line.
#[macro_export]
#[doc(hidden)]
macro_rules! checked_string {
    ($(#[$doc:meta])* $name:ident, $check:expr) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Deserialize, serde::Serialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl TryFrom<String> for $name {
            type Error = String;
            fn try_from(value: String) -> Result<Self, String> {
                let check: fn(&str) -> Result<String, String> = $check;
                check(&value).map($name)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// A built-in default, written in the source and checked by
            /// the tests that parse an empty settings table.
            #[allow(dead_code)]
            pub(crate) fn fixed(value: &'static str) -> Self {
                $name(value.to_string())
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

crate::checked_string!(
    /// Lower-case letters, digits, `-` and `_`: it names a directory.
    RulesetName,
    |s| {
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if ok {
            Ok(s.to_string())
        } else {
            Err(format!("name {s:?}: use 1-64 lower-case letters, digits, '-' or '_'"))
        }
    }
);

crate::checked_string!(
    /// A Log Analytics workspace ID: a GUID, stored lower-case.
    WorkspaceId,
    |s| {
        let groups: Vec<&str> = s.split('-').collect();
        let lens = [8, 4, 4, 4, 12];
        let ok = groups.len() == 5
            && groups
                .iter()
                .zip(lens)
                .all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_hexdigit()));
        if ok {
            Ok(s.to_ascii_lowercase())
        } else {
            Err(format!("workspace ID {s:?} is not a GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)"))
        }
    }
);

crate::checked_string!(
    /// A Defender for Identity instance name: one DNS label short enough
    /// that `<instance>sensorapi` still fits in 63 characters.
    InstanceName,
    |s| {
        let lower = s.to_ascii_lowercase();
        let ok = !lower.is_empty()
            && lower.len() <= 63 - "sensorapi".len()
            && !lower.starts_with('-')
            && !lower.ends_with('-')
            && lower
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if ok {
            Ok(lower)
        } else {
            Err(format!(
                "MDI instance {s:?}: one DNS label of letters, digits and '-', at most 54 characters, no dot or space"
            ))
        }
    }
);

crate::checked_string!(
    /// A service tag name (`AzureCloud.westeurope`).
    TagName,
    |s| {
        if crate::model::valid_tag_name(s) {
            Ok(s.to_string())
        } else {
            Err(format!("service tag {s:?}: letters, digits and dots only"))
        }
    }
);

crate::checked_string!(
    /// A host pattern (`x`, `*.x`, `*x`, `.x`), validated like catalog
    /// entries.
    HostText,
    |s| crate::model::host::parse_pattern(s.trim())
        .map(|p| p.to_string())
        .map_err(|e| format!("host {s:?}: {e}"))
);

crate::checked_string!(
    /// A URL cell (`[scheme://]host[:port][/path]`), validated like
    /// catalog entries.
    UrlText,
    |s| crate::normalize::url_cell::parse_entry(s.trim())
        .map(|_| s.trim().to_string())
        .map_err(|e| format!("allow entry {s:?}: {e}"))
);

crate::checked_string!(
    /// `host:port` of a proxy.
    ProxyAddress,
    |s| {
        let (host, port) = s
            .rsplit_once(':')
            .ok_or_else(|| format!("proxy {s:?}: expected host:port"))?;
        port.parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| format!("proxy {s:?}: invalid port"))?;
        let host_ok = host.parse::<std::net::Ipv4Addr>().is_ok()
            || crate::model::DnsName::parse(host).is_ok()
            || host == "localhost";
        if host_ok {
            Ok(s.to_ascii_lowercase())
        } else {
            Err(format!("proxy {s:?}: not a host name or IPv4 address"))
        }
    }
);

impl ProxyAddress {
    /// The port (checked when the address was read).
    pub fn port(&self) -> u16 {
        self.as_str()
            .rsplit_once(':')
            .and_then(|(_, port)| port.parse().ok())
            .unwrap_or(0)
    }
}

crate::checked_string!(
    /// A plain file name inside the output directory: no directories, no
    /// dot files.
    FileName,
    |s| {
        let ok = !s.is_empty()
            && s.len() <= 100
            && !s.starts_with('.')
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
        if ok {
            Ok(s.to_string())
        } else {
            Err(format!("file name {s:?}: letters, digits, '.', '-', '_' only, no directories"))
        }
    }
);

crate::checked_string!(
    /// An absolute path made of characters that need no quoting in a
    /// Squid configuration.
    AbsPath,
    |s| {
        let ok = s.starts_with('/')
            && s.len() <= 200
            && !s.split('/').any(|seg| seg == "..")
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '-' | '_'));
        if ok {
            Ok(s.trim_end_matches('/').to_string())
        } else {
            Err(format!("path {s:?}: absolute, letters, digits, '/', '.', '-', '_' only"))
        }
    }
);

crate::checked_string!(
    /// A client network (`10.0.0.0/8`, `2001:db8::/32`).
    Cidr,
    |s| s
        .trim()
        .parse::<ipnet::IpNet>()
        .ok()
        .filter(|n| n.trunc() == *n)
        .map(|n| n.to_string())
        .ok_or_else(|| format!("client network {s:?}: expected a network such as 10.0.0.0/8"))
);

crate::checked_string!(
    /// A name for nftables, pfSense or Azure: a letter, then letters,
    /// digits and `_`, at most 31 characters.
    Identifier,
    |s| {
        let ok = s.len() <= 31
            && s.starts_with(|c: char| c.is_ascii_alphabetic())
            && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if ok {
            Ok(s.to_string())
        } else {
            Err(format!("name {s:?}: a letter, then letters, digits or '_', at most 31 characters"))
        }
    }
);

crate::checked_string!(
    /// A data location (`EU`, `US`, ...), normalized like the workbooks'
    /// Geography column.
    GeoName,
    |s| Geography::site_choice(s).map(|g| g.as_str().to_string())
);

/// A TCP port in a ruleset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "i64")]
pub struct PortNumber(pub u16);

impl TryFrom<i64> for PortNumber {
    type Error = String;
    fn try_from(value: i64) -> Result<Self, String> {
        u16::try_from(value)
            .ok()
            .filter(|p| *p > 0)
            .map(PortNumber)
            .ok_or_else(|| format!("port {value} is not 1-65535"))
    }
}

/// The default of a setting that is on unless turned off.
pub fn yes() -> bool {
    true
}
