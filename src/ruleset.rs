//! Rulesets: what one site is (cloud, data location, operating systems,
//! products, workspace IDs, MDI instances, proxy, TLS decisions) and which
//! outputs it wants. Read from TOML; an unknown key or an invalid value is
//! an error naming the file, line and column.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::model::{Cloud, Geography, Os, Product};

/// A ruleset that failed to load.
#[derive(Debug, thiserror::Error)]
pub enum RulesetError {
    #[error("{}: cannot read: {detail}", path.display())]
    Unreadable { path: PathBuf, detail: String },
    #[error("{}:{line}:{column}: {message}", path.display())]
    Invalid {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
}

/// Far above a real ruleset (45,000 `[[allow]]` entries are about 2 MB),
/// low enough that no input can exhaust memory.
const MAX_RULESET: u64 = 16 * 1024 * 1024;

/// A site's ruleset.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ruleset {
    /// Names the output directory and appears in every file header.
    pub name: RulesetName,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub sources: Sources,
    pub scope: Scope,
    #[serde(default)]
    pub site: Site,
    #[serde(default)]
    pub proxy: Proxy,
    #[serde(default)]
    pub tls: Tls,
    #[serde(default)]
    pub allow: Vec<AllowEntry>,
    #[serde(default)]
    pub exclude: Vec<HostText>,
    #[serde(default)]
    pub outputs: Outputs,
    /// Where the ruleset was read from (relative source paths resolve
    /// against its directory).
    #[serde(skip)]
    pub file: PathBuf,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sources {
    /// `baseline`, `builtin:mma`, `builtin:mdi`, or file paths (relative to
    /// the ruleset file).
    #[serde(default = "default_sources")]
    pub files: Vec<String>,
}

impl Default for Sources {
    fn default() -> Self {
        Sources {
            files: default_sources(),
        }
    }
}

fn default_sources() -> Vec<String> {
    vec!["baseline".to_string()]
}

/// Which connectivity model the devices use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Connectivity {
    /// The per-service URLs of the standard workbooks and Learn tables.
    #[default]
    Standard,
    /// The consolidated `*.endpoint.security.microsoft.com` model of the
    /// streamlined workbook.
    Streamlined,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scope {
    pub cloud: Cloud,
    /// Data locations beyond WW (`EU`, `US`, `UK`, `AU`, ...). WW is always
    /// included; Gov clouds take their Gov geographies from the cloud.
    #[serde(default)]
    pub geographies: Vec<GeoName>,
    /// Operating systems of the site's devices.
    #[serde(default = "all_os")]
    pub os: BTreeSet<Os>,
    #[serde(default = "default_products")]
    pub products: BTreeSet<Product>,
    #[serde(default)]
    pub connectivity: Connectivity,
    /// Keep endpoints marked Optional.
    #[serde(default = "yes")]
    pub include_optional: bool,
}

fn all_os() -> BTreeSet<Os> {
    Os::ALL.into_iter().collect()
}

fn default_products() -> BTreeSet<Product> {
    [Product::Mde, Product::Mdav, Product::SmartScreen].into()
}

fn yes() -> bool {
    true
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Site {
    /// Log Analytics workspace IDs for the MMA endpoints.
    #[serde(default)]
    pub workspace_ids: Vec<WorkspaceId>,
    /// Defender for Identity instance (workspace) names.
    #[serde(default)]
    pub mdi_instances: Vec<InstanceName>,
    /// Keep Microsoft's wildcard when a placeholder has no value here
    /// (otherwise the endpoint is dropped and reported).
    #[serde(default)]
    pub allow_unresolved_wildcards: bool,
    /// Service tags whose prefixes go into the policy. Default: the tags
    /// the selected products need (AzureAdvancedThreatProtection for MDI;
    /// MicrosoftDefenderForEndpoint and OneDsCollector for streamlined).
    #[serde(default)]
    pub service_tags: Option<Vec<TagName>>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Proxy {
    /// `host:port` of the site's forward proxies, in order of preference.
    #[serde(default)]
    pub addresses: Vec<ProxyAddress>,
}

/// How a conflict between "do not inspect" and "never exempt from
/// inspection" is decided.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConflictRule {
    #[default]
    NeverBypassWins,
    BypassWins,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    /// Patterns no exemption may equal or cover, like the built-in storage
    /// wildcards: named hosts strictly inside stay exempt, anything as
    /// broad is a conflict that `conflict` decides.
    #[serde(default)]
    pub never_bypass: Vec<HostText>,
    /// Extra hosts to exempt from inspection.
    #[serde(default)]
    pub bypass: Vec<HostText>,
    /// Hosts the site inspects although Microsoft says not to (at its own
    /// risk): they beat every exemption they overlap, and each Defender
    /// host they touch is a warning on every run.
    #[serde(default)]
    pub inspect_anyway: Vec<HostText>,
    #[serde(default)]
    pub conflict: ConflictRule,
}

/// An extra destination the site allows: a host pattern with optional
/// scheme, port and path (`http://crl.contoso.com/pki/*`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowEntry {
    pub url: UrlText,
    /// TCP ports; default from the URL (scheme or `:port`), else 443.
    #[serde(default)]
    pub ports: Vec<PortNumber>,
    #[serde(default)]
    pub direct: bool,
    #[serde(default)]
    pub comment: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outputs {
    /// Output directory; `generate --out` overrides it. Default
    /// `out/<name>`.
    #[serde(default)]
    pub dir: Option<PathBuf>,
    #[serde(default)]
    pub plain: Option<PlainOutput>,
    #[serde(default)]
    pub squid: Option<SquidOutput>,
    #[serde(default)]
    pub pac: Option<PacOutput>,
    #[serde(default)]
    pub tls_bypass: Option<TlsBypassOutput>,
    #[serde(default)]
    pub nftables: Option<NftablesOutput>,
    #[serde(default)]
    pub pfsense: Option<PfsenseOutput>,
    #[serde(default)]
    pub azure_firewall: Option<AzureFirewallOutput>,
}

/// Azure Firewall Policy rule collection groups.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AzureFirewallOutput {
    /// Groups are named `<group_name>-1`, `-2`, ...
    #[serde(default = "az_group_name")]
    pub group_name: Identifier,
    /// Priority of the first group (100-65000); later groups follow.
    #[serde(default = "az_group_priority")]
    pub group_priority: Priority,
    /// Priority of the no-inspect collection; the FQDN and network
    /// collections follow at +100 and +200.
    #[serde(default = "az_collection_priority")]
    pub collection_priority: Priority,
    /// `sourceAddresses` of every rule.
    #[serde(default = "az_sources")]
    pub source_addresses: Vec<AzureSource>,
    /// Network rules name the service tag instead of listing prefixes.
    #[serde(default = "yes")]
    pub use_service_tags: bool,
}

fn az_group_name() -> Identifier {
    Identifier("egressgen".to_string())
}

fn az_group_priority() -> Priority {
    Priority(500)
}

fn az_collection_priority() -> Priority {
    Priority(100)
}

fn az_sources() -> Vec<AzureSource> {
    vec![AzureSource("*".to_string())]
}

/// A priority of Azure Firewall Policy: 100 to 65000.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "i64")]
pub struct Priority(pub u16);

impl TryFrom<i64> for Priority {
    type Error = String;
    fn try_from(value: i64) -> Result<Self, String> {
        if (100..=65000).contains(&value) {
            Ok(Priority(value as u16))
        } else {
            Err(format!("priority {value} is not 100-65000"))
        }
    }
}

/// pfSense aliases and pass rules.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PfsenseOutput {
    /// Interface the pass rules sit on (`lan`, `opt1`, ...).
    #[serde(default = "pf_interface")]
    pub interface: Identifier,
    /// Source of the rules: `any`, an interface's network (`lan`), or a
    /// CIDR.
    #[serde(default = "pf_source")]
    pub source: PfSource,
    /// Prefix of every alias name.
    #[serde(default = "pf_prefix")]
    pub alias_prefix: Identifier,
}

fn pf_interface() -> Identifier {
    Identifier("lan".to_string())
}

fn pf_source() -> PfSource {
    PfSource("lan".to_string())
}

fn pf_prefix() -> Identifier {
    Identifier("EG".to_string())
}

/// nftables sets and a chain, declared in the site's own table.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NftablesOutput {
    #[serde(default = "nft_file")]
    pub file: FileName,
    /// The `inet` table the site's chains live in.
    #[serde(default = "nft_table")]
    pub table: Identifier,
    /// The chain to jump to; its sets are `<chain>_v4` and `<chain>_v6`.
    #[serde(default = "nft_chain")]
    pub chain: Identifier,
}

fn nft_file() -> FileName {
    FileName("egressgen.nft".to_string())
}

fn nft_table() -> Identifier {
    Identifier("filter".to_string())
}

fn nft_chain() -> Identifier {
    Identifier("egressgen_allow".to_string())
}

/// Squid ACL files, an include snippet and standalone configurations.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SquidOutput {
    /// Absolute directory the ACL files will be read from on the proxy
    /// (`/etc/squid/egressgen`). Default: the output directory itself, so
    /// the generated configuration works in place.
    #[serde(default)]
    pub acl_dir: Option<AbsPath>,
    /// Port of the standalone configuration's `http_port`.
    #[serde(default = "default_listen")]
    pub listen: PortNumber,
    /// Client networks allowed to use the proxy for these destinations.
    #[serde(default = "default_clients")]
    pub clients: Vec<Cidr>,
    /// PEM file (certificate and key) for the ssl-bump configuration's
    /// `http_port ... ssl-bump`. Default `/etc/squid/egressgen-bump.pem`.
    #[serde(default)]
    pub bump_cert: Option<AbsPath>,
    /// Certificate database of `security_file_certgen` for the ssl-bump
    /// configuration. Default `/var/lib/squid/ssl_db` (Debian's).
    #[serde(default)]
    pub ssl_db: Option<AbsPath>,
}

fn default_listen() -> PortNumber {
    PortNumber(3128)
}

fn default_clients() -> Vec<Cidr> {
    [
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "fc00::/7",
        "fe80::/10",
    ]
    .iter()
    .map(|c| Cidr(c.to_string()))
    .collect()
}

/// A PAC file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PacOutput {
    #[serde(default = "pac_file")]
    pub file: FileName,
    /// Answer for allowed endpoints. Default: the `[proxy]` addresses as
    /// `PROXY host:port; ...`.
    #[serde(default)]
    pub proxy: Option<PacAnswer>,
    /// Answer for every other host. Default: the same as `proxy`, so the
    /// proxy decides.
    #[serde(default)]
    pub default: Option<PacAnswer>,
}

fn pac_file() -> FileName {
    FileName("proxy.pac".to_string())
}

/// The hosts a TLS-inspecting proxy must leave alone, in several forms.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsBypassOutput {
    /// The Palo Alto list's subdomain entries rely on "Automatically
    /// expand to include subdomains" being enabled on the EDL object.
    #[serde(default = "yes")]
    pub edl_expands_subdomains: bool,
}

/// Which routes a list holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RouteFilter {
    /// Entries that go through the proxy.
    #[default]
    Proxy,
    /// Entries that must bypass the proxy.
    Direct,
    All,
}

/// The plain list: one entry per line.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlainOutput {
    #[serde(default = "plain_file")]
    pub file: FileName,
    #[serde(default)]
    pub route: RouteFilter,
    /// Also write the policy's aggregated prefixes, one per line.
    #[serde(default)]
    pub prefixes_file: Option<FileName>,
}

fn plain_file() -> FileName {
    FileName("allowlist.txt".to_string())
}

/// Validated newtypes: each refuses a bad value with a message that the
/// TOML error then places on its line.
macro_rules! checked_string {
    ($(#[$doc:meta])* $name:ident, $check:expr) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, serde::Serialize)]
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
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

checked_string!(
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

checked_string!(
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

checked_string!(
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

checked_string!(
    /// A service tag name (`AzureCloud.westeurope`).
    TagName,
    |s| {
        if crate::sources::service_tags::valid_tag_name(s) {
            Ok(s.to_string())
        } else {
            Err(format!("service tag {s:?}: letters, digits and dots only"))
        }
    }
);

checked_string!(
    /// A host pattern (`x`, `*.x`, `*x`, `.x`), validated like catalog
    /// entries.
    HostText,
    |s| crate::normalize::host::parse_pattern(s.trim())
        .map(|p| p.to_string())
        .map_err(|e| format!("host {s:?}: {e}"))
);

checked_string!(
    /// A URL cell (`[scheme://]host[:port][/path]`), validated like
    /// catalog entries.
    UrlText,
    |s| crate::normalize::url_cell::parse_entry(s.trim())
        .map(|_| s.trim().to_string())
        .map_err(|e| format!("allow entry {s:?}: {e}"))
);

checked_string!(
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

checked_string!(
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

checked_string!(
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

checked_string!(
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

checked_string!(
    /// A PAC answer: `DIRECT` or `PROXY host:port` (also `HTTPS`, `SOCKS`,
    /// `SOCKS4`, `SOCKS5`), several joined by `; `.
    PacAnswer,
    |s| {
        let mut parts = Vec::new();
        for part in s.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let ok = part == "DIRECT" || {
                let (kind, target) = part.split_once(' ').unwrap_or(("", ""));
                ["PROXY", "HTTPS", "SOCKS", "SOCKS4", "SOCKS5"].contains(&kind)
                    && ProxyAddress::try_from(target.trim().to_string()).is_ok()
            };
            if !ok {
                return Err(format!("PAC answer {s:?}: expected DIRECT or PROXY host:port, joined by '; '"));
            }
            parts.push(part.to_string());
        }
        if parts.is_empty() {
            return Err("PAC answer is empty".to_string());
        }
        Ok(parts.join("; "))
    }
);

checked_string!(
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

checked_string!(
    /// A pfSense rule source: `any`, an interface network, or a CIDR.
    PfSource,
    |s| {
        if s == "any" || Identifier::try_from(s.to_string()).is_ok() {
            Ok(s.to_string())
        } else {
            Cidr::try_from(s.to_string()).map(String::from)
        }
    }
);

checked_string!(
    /// An Azure Firewall source address: `*` or a network.
    AzureSource,
    |s| {
        if s == "*" {
            Ok(s.to_string())
        } else {
            Cidr::try_from(s.to_string()).map(String::from)
        }
    }
);

checked_string!(
    /// A data location (`EU`, `US`, ...), normalized like the workbooks'
    /// Geography column.
    GeoName,
    |s| {
        let g = Geography::parse(s);
        let ok = !g.as_str().is_empty()
            && g.as_str().len() <= 32
            && g.as_str()
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == ' ');
        if ok {
            Ok(g.as_str().to_string())
        } else {
            Err(format!("geography {s:?}: letters, digits and spaces only"))
        }
    }
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

impl Ruleset {
    /// Reads and validates a ruleset file.
    pub fn load(path: &Path) -> Result<Ruleset, RulesetError> {
        let unreadable = |detail: String| RulesetError::Unreadable {
            path: path.to_path_buf(),
            detail,
        };
        let bytes =
            crate::input::read_limited(path, MAX_RULESET).map_err(|e| unreadable(e.to_string()))?;
        let text =
            String::from_utf8(bytes).map_err(|e| unreadable(format!("not UTF-8 text: {e}")))?;
        Ruleset::parse(&text, path)
    }

    /// Parses ruleset text; `path` is used in errors and to resolve
    /// relative source paths.
    pub fn parse(text: &str, path: &Path) -> Result<Ruleset, RulesetError> {
        let mut ruleset: Ruleset = toml::from_str(text).map_err(|e| {
            let (line, column) = e
                .span()
                .map(|span| line_col(text, span.start))
                .unwrap_or((1, 1));
            RulesetError::Invalid {
                path: path.to_path_buf(),
                line,
                column,
                message: e.message().to_string(),
            }
        })?;
        ruleset.file = path.to_path_buf();
        Ok(ruleset)
    }

    /// Source specifications with file paths resolved against the
    /// ruleset's directory.
    pub fn source_specs(&self) -> Vec<String> {
        let base = self.file.parent().unwrap_or(Path::new("."));
        self.sources
            .files
            .iter()
            .map(|s| {
                let keep = s == "baseline"
                    || s.starts_with("builtin:")
                    || crate::sources::is_url(s)
                    || Path::new(s).is_absolute();
                if keep {
                    s.clone()
                } else {
                    base.join(s).display().to_string()
                }
            })
            .collect()
    }

    /// The output directory when `generate` gets no `--out`.
    pub fn default_out_dir(&self) -> PathBuf {
        match &self.outputs.dir {
            Some(dir) if dir.is_absolute() => dir.clone(),
            Some(dir) => self.file.parent().unwrap_or(Path::new(".")).join(dir),
            None => PathBuf::from("out").join(self.name.as_str()),
        }
    }
}

/// One-based line and column of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Ruleset, String> {
        Ruleset::parse(text, Path::new("r.toml")).map_err(|e| e.to_string())
    }

    const MIN: &str = "name = \"site\"\n[scope]\ncloud = \"commercial\"\n";

    #[test]
    fn minimal_ruleset_takes_defaults() {
        let r = parse(MIN).unwrap();
        assert_eq!(r.sources.files, ["baseline"]);
        assert_eq!(r.scope.products.len(), 3);
        assert_eq!(r.scope.os.len(), 5);
        assert!(r.scope.include_optional);
        assert_eq!(r.default_out_dir(), PathBuf::from("out/site"));
    }

    #[test]
    fn errors_name_line_and_key() {
        let e = parse(&format!("{MIN}colour = \"blue\"\n")).unwrap_err();
        assert!(e.starts_with("r.toml:4:1: unknown field `colour`"), "{e}");
        let e = parse(&format!("{MIN}[site]\nworkspace_ids = [\"not-a-guid\"]\n")).unwrap_err();
        assert!(e.starts_with("r.toml:5:"), "{e}");
        assert!(e.contains("not a GUID"), "{e}");
        let e = parse(&format!(
            "{MIN}[site]\nmdi_instances = [\"contoso.corp\"]\n"
        ))
        .unwrap_err();
        assert!(e.contains("no dot or space"), "{e}");
        let e = parse(&format!(
            "{MIN}[site]\nmdi_instances = [\"contoso corp\"]\n"
        ))
        .unwrap_err();
        assert!(e.contains("no dot or space"), "{e}");
        let e = parse("name = \"x\"\n[scope]\ncloud = \"mars\"\n").unwrap_err();
        assert!(e.starts_with("r.toml:3:9:"), "{e}");
        let e = parse(&format!("exclude = [\"*.com\"]\n{MIN}")).unwrap_err();
        assert!(e.contains("public suffix"), "{e}");
        let e = parse(&format!("{MIN}[outputs.plain]\nfile = \"../x\"\n")).unwrap_err();
        assert!(e.contains("no directories"), "{e}");
    }

    #[test]
    fn values_are_normalized() {
        let r = parse(&format!(
            "{MIN}[site]\nworkspace_ids = [\"0E2B1D6C-1111-2222-3333-444455556666\"]\nmdi_instances = [\"Contoso-Corp\"]\n"
        ))
        .unwrap();
        assert_eq!(
            r.site.workspace_ids[0].as_str(),
            "0e2b1d6c-1111-2222-3333-444455556666"
        );
        assert_eq!(r.site.mdi_instances[0].as_str(), "contoso-corp");
    }
}
