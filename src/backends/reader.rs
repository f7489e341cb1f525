//! What a reader of a foreign configuration produces: the reading contract.
//!
//! The reading contract, beside the rendering contract
//! ([`super::Backend`]).
//!
//! A reader (living next to the backend that writes the same format, and
//! registered in its row) turns a configuration into a [`Config`]:
//! something that answers, for one concrete request ([`Probe`]), what the
//! product would do with it ([`Decision`]), and that lists the host tests
//! of its allowing lines ([`Grant`]) in the model's vocabulary. `audit`
//! asks every reader the same questions; no reader decides coverage on its
//! own.

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::model::{HostPattern, Scheme};

/// A line of a foreign configuration (0: not known).
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Origin {
    pub file: String,
    pub line: usize,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// One concrete request from a device.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Probe {
    /// Lower-case host name.
    pub host: String,
    pub port: u16,
    pub scheme: Scheme,
    /// Starts with `/`.
    pub path: String,
    /// The device's address, for source-address tests.
    pub client: IpAddr,
}

impl Probe {
    /// A request to `host:port` at `path`, over TLS or plain HTTP as the
    /// port says (`Scheme::for_port`).
    pub fn new(host: &str, port: u16, path: &str, client: IpAddr) -> Probe {
        Probe {
            host: host.to_string(),
            port,
            scheme: Scheme::for_port(port),
            path: path.to_string(),
            client,
        }
    }
}

impl fmt::Display for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (scheme, default) = match self.scheme {
            Scheme::Http => ("http", 80),
            Scheme::Https => ("https", 443),
        };
        if self.port == default {
            write!(f, "{scheme}://{}{}", self.host, self.path)
        } else {
            write!(f, "{scheme}://{}:{}{}", self.host, self.port, self.path)
        }
    }
}

/// Whether a configuration lets a request through.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "access", content = "why")]
pub enum Access {
    Allowed,
    Denied,
    /// A line this reader cannot evaluate here decides (an external ACL
    /// helper, a time window, authentication, a DNS lookup).
    Undecidable(String),
}

/// What a TLS-inspecting product does with a request it lets through.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "tls", content = "why")]
pub enum TlsSeen {
    /// Not a TLS request, or not let through.
    NotApplicable,
    /// Passed through without decryption (or the product cannot inspect).
    Spliced,
    Inspected,
    Undecidable(String),
}

/// What matched in the line that let a request through: a host test in
/// the model's vocabulary, or none at all.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "value")]
pub enum GrantHost {
    /// The line tests no destination: it admits every host.
    Any,
    Pattern(HostPattern),
    /// A host test with no equivalent pattern (a foreign regex); judged
    /// request by request only.
    Other(String),
}

/// The answer of a configuration for one probe.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub access: Access,
    /// The line that decided; `None` when the product's default did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by: Option<Origin>,
    /// Its place in evaluation order (first match wins), to tell a line
    /// decided before another from one decided after it.
    #[serde(skip)]
    pub rank: Option<usize>,
    /// The host test that matched in the allowing line, and where it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub granted_by: Option<(GrantHost, Origin)>,
    pub tls: TlsSeen,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_by: Option<Origin>,
    /// For a configuration that routes (a PAC file): its answer, such as
    /// `PROXY proxy.contoso.com:8080; DIRECT`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route: Option<String>,
    /// What the reader noticed while deciding that the answer alone does
    /// not show (a PAC suffix test that misses the bare name).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl Decision {
    pub fn denied(by: Option<Origin>, rank: Option<usize>) -> Decision {
        Decision {
            access: Access::Denied,
            by,
            rank,
            granted_by: None,
            tls: TlsSeen::NotApplicable,
            tls_by: None,
            route: None,
            notes: Vec::new(),
        }
    }
}

/// One host test of a line that allows traffic: the unit of the per-line
/// findings (over-broad, duplicate, shadowed).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Grant {
    /// The allowing rule.
    pub rule: Origin,
    /// The rule's place in evaluation order (see [`Decision::rank`]).
    #[serde(skip)]
    pub rank: usize,
    /// Where the host test is written (an ACL file line, or the rule).
    pub at: Origin,
    pub host: GrantHost,
    /// The ports the rule limits it to; `None`: any port.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ports: Option<Vec<u16>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The configuration text, for reports.
    pub text: String,
    /// Whether the line decrypts what it allows, where a format says so
    /// per line (Azure `terminateTLS`). A no-inspect rule in front of an
    /// inspecting one for the same host is layering, not a duplicate.
    #[serde(skip)]
    pub inspect: Option<bool>,
}

/// Three-valued, for a test of a line: one that cannot be decided makes
/// the line undecidable. `Yes` carries the destination test that matched,
/// when there is one.
#[derive(Clone, Debug)]
pub enum Tri {
    Yes(Option<(GrantHost, Origin)>),
    No,
    Unknown(String),
}

impl std::ops::Not for Tri {
    type Output = Tri;

    /// The negation: an undecidable test stays undecidable.
    fn not(self) -> Tri {
        match self {
            Tri::Yes(_) => Tri::No,
            Tri::No => Tri::Yes(None),
            u => u,
        }
    }
}

/// A port or a range of ports as a configuration writes it: `443`, or
/// `80-443` (pfSense also writes `80:443`). The one port-spec parser of
/// the readers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortRange {
    pub first: u16,
    pub last: u16,
}

impl PortRange {
    /// `N`, or `A` and `B` joined by one of `separators`; `None` unless
    /// both are port numbers. A reversed range is kept: it holds no port.
    pub fn parse(spec: &str, separators: &[char]) -> Option<PortRange> {
        let spec = spec.trim();
        let (a, b) = spec.split_once(separators).unwrap_or((spec, spec));
        Some(PortRange {
            first: a.trim().parse().ok()?,
            last: b.trim().parse().ok()?,
        })
    }

    pub fn contains(self, port: u16) -> bool {
        self.first <= port && port <= self.last
    }

    /// Every port of a small range (at most `max`), for a finding to list.
    pub fn ports(self, max: u16) -> Option<Vec<u16>> {
        (self.first <= self.last && self.last - self.first < max)
            .then(|| (self.first..=self.last).collect())
    }
}

/// A line the reader read but cannot evaluate; reported, never guessed.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Undecidable {
    pub at: Origin,
    pub why: String,
}

/// A line the product itself ignores (a misspelt directive): it looks
/// like configuration but does nothing, which its author rarely means.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct IgnoredLine {
    pub at: Origin,
    pub why: String,
}

/// Whom a rule lets through, as far as its client tests say.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Clients {
    /// It tests no client address: anyone who reaches the port.
    Any,
    /// Only clients on the product's own host (Squid `localhost`).
    ProxyHost,
    /// Clients its tests name, in words (`acl localnet: 10.0.0.0/8, …`).
    Named(String),
    /// The reader cannot say.
    Unknown,
}

/// A change the audit asks a reader to spell in its own syntax, so a
/// finding says what to write and where.
#[derive(Clone, Copy, Debug)]
pub enum Change<'a> {
    /// Let `host` through on `ports`, only under `path` when the entry
    /// names one (a plain-HTTP path prefix).
    Admit {
        host: &'a HostPattern,
        ports: &'a [u16],
        path: Option<&'a str>,
    },
    /// Stop decrypting `host`; `by` is the line that decrypts it.
    Splice {
        host: &'a HostPattern,
        by: Option<&'a Origin>,
    },
    /// Refuse tunnels to ports other than 443 before the allowing line.
    DenyConnect { allow: &'a Origin },
    /// Limit the allowing line to the site's own clients.
    RestrictClients { allow: &'a Origin },
}

/// A foreign configuration, read.
pub trait Config {
    /// The reader's name (`squid`, `pac`, …).
    fn kind(&self) -> &'static str;
    /// Every file read, the main one first.
    fn files(&self) -> Vec<String>;
    /// What the product would do with one request.
    fn decide(&self, probe: &Probe) -> Decision;
    /// The host tests of every allowing line, in evaluation order.
    fn grants(&self) -> Vec<Grant>;
    /// Whether the grant's own line, taken alone, matches a request the
    /// product makes for `probe` (so an earlier line deciding it means
    /// the grant's line is shadowed, not merely not asked).
    fn rule_matches(&self, grant: &Grant, probe: &Probe) -> bool;
    /// Whether `earlier`'s line matches every request the product makes
    /// for `probe` that `later`'s line matches: a probe may stand for
    /// several requests (a tunnel and the requests decrypted inside it),
    /// and a line shadows another only request by request.
    fn matched_before(&self, earlier: &Grant, later: &Grant, probe: &Probe) -> bool {
        !self.rule_matches(later, probe) || self.rule_matches(earlier, probe)
    }
    /// Lines read but not evaluable.
    fn undecidable(&self) -> Vec<Undecidable>;
    /// Lines the product ignores.
    fn ignored(&self) -> Vec<IgnoredLine> {
        Vec::new()
    }
    /// Whom the rule at `rule` lets through.
    fn clients(&self, _rule: &Origin) -> Clients {
        Clients::Unknown
    }
    /// The change, written as this product's configuration, with where
    /// to make it; `None` when the reader cannot spell it.
    fn spell(&self, _change: &Change) -> Option<String> {
        None
    }
    /// Rules one request may be checked against, to bound the work an
    /// audit spends on a huge configuration.
    fn size(&self) -> usize;
    /// Whether it routes requests (a PAC file: to a proxy or DIRECT)
    /// rather than allowing or denying them.
    fn routes(&self) -> bool {
        false
    }
    /// Whether it is a proxy, which devices skip for direct-route hosts
    /// (a firewall sees those too).
    fn is_proxy(&self) -> bool {
        false
    }
    /// The service tags its rules name, for `--service-tags` to answer.
    fn service_tags(&self) -> Vec<String> {
        Vec::new()
    }
    /// Whether the configuration can decrypt TLS at all (a Squid
    /// `http_port … ssl-bump`): without it nothing is inspected.
    fn inspects(&self) -> bool;
}

/// Bounds on what a reader takes in: a hostile configuration gets an
/// error, never a hang or unbounded memory.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Bytes of one file.
    pub file_bytes: u64,
    /// Bytes of all files of one configuration together.
    pub total_bytes: u64,
    /// Files of one configuration (includes, ACL files).
    pub files: usize,
    /// Nesting of includes.
    pub depth: usize,
    /// Directive lines and ACL values of one configuration together. The
    /// reader and the audit's indexes hold up to a kilobyte per item, so
    /// a file of short lines would otherwise cost ~500 times its size.
    pub items: usize,
    /// Bytes the regular expressions of one configuration take compiled
    /// (their forward automata, the engine's own measure, summed over the
    /// values; the engine holds about three times as much in all).
    pub regex_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            file_bytes: 64 << 20,
            total_bytes: 256 << 20,
            files: 4096,
            depth: 16,
            items: 1_000_000,
            regex_bytes: 128 << 20,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{file}: {detail}")]
    Read { file: String, detail: String },
    #[error("{at}: {detail}")]
    Syntax { at: Origin, detail: String },
    #[error("{file}: {detail}")]
    Limit { file: String, detail: String },
    #[error(
        "{file}: cannot tell what kind of configuration this is; name it with --kind ({known})"
    )]
    UnknownKind { file: String, known: String },
}

/// What a reader needs besides the file.
#[derive(Clone, Debug, Default)]
pub struct Options {
    pub limits: Limits,
    /// Answers for name lookups a configuration makes (PAC `dnsResolve`,
    /// `isInNet`): a fixed table, never the network.
    pub resolve: std::collections::BTreeMap<String, IpAddr>,
    /// The names each service tag stands for (`builtin:tag-hosts`), for
    /// firewall rules that name a tag.
    pub tag_hosts: Vec<(String, HostPattern)>,
    /// The prefixes of the policy's service tags.
    pub tag_prefixes: std::collections::BTreeMap<String, Vec<ipnet::IpNet>>,
    /// Where the proxy's `/` is, for a copy of its files taken off the
    /// box: an absolute path in the configuration is read below it.
    pub root: Option<PathBuf>,
    /// The proxy ports devices send to (the ruleset's `[proxy]`, or
    /// `--port`): a Squid inspects only what arrives on a bumping one.
    /// Empty: unknown.
    pub ports: Vec<u16>,
}

impl Options {
    /// Options that know the policy's service tags.
    pub fn for_policy(policy: &crate::policy::Policy) -> Options {
        let mut o = Options::default();
        for t in &policy.prefixes.tags {
            o.tag_hosts
                .extend(t.stands_for.iter().map(|h| (t.tag.clone(), h.host.clone())));
            let nets = t
                .ipv4
                .iter()
                .map(|n| ipnet::IpNet::V4(*n))
                .chain(t.ipv6.iter().map(|n| ipnet::IpNet::V6(*n)))
                .collect();
            o.tag_prefixes.insert(t.tag.clone(), nets);
        }
        o
    }
}

/// Reads one configuration (a file and what it includes).
pub type ReadFn = fn(&Path, &Options) -> Result<Box<dyn Config>, ReadError>;

/// How a reader is found: by name (`--kind`), or by looking at a file.
#[derive(Clone, Copy)]
pub struct Reader {
    pub kind: &'static str,
    /// Whether a file looks like this kind (its name and first bytes).
    pub recognise: fn(&Path, &[u8]) -> bool,
    pub read: ReadFn,
}

/// Every reader, in the registry's order.
pub fn readers() -> Vec<Reader> {
    crate::backends::REGISTRY
        .iter()
        .filter_map(|row| row.reader)
        .collect()
}

/// Reads one configuration, of the given kind or the one it looks like.
pub fn read_config(
    path: &Path,
    kind: Option<&str>,
    options: &Options,
) -> Result<Box<dyn Config>, ReadError> {
    let all = readers();
    let known = || all.iter().map(|r| r.kind).collect::<Vec<_>>().join(", ");
    let reader = match kind {
        Some(k) => all.iter().find(|r| r.kind == k).copied(),
        None => {
            let head = read_head(path, &options.limits)?;
            all.iter().find(|r| (r.recognise)(path, &head)).copied()
        }
    };
    let reader = reader.ok_or_else(|| ReadError::UnknownKind {
        file: shown(path),
        known: known(),
    })?;
    (reader.read)(path, options)
}

/// The first bytes of a file, for recognising its kind.
fn read_head(path: &Path, limits: &Limits) -> Result<Vec<u8>, ReadError> {
    let bytes =
        crate::input::read_limited(path, limits.file_bytes).map_err(|e| ReadError::Read {
            file: shown(path),
            detail: e.to_string(),
        })?;
    Ok(bytes.into_iter().take(64 * 1024).collect())
}

/// A path as reports show it: printable, whatever its bytes.
pub fn shown(path: &Path) -> String {
    crate::model::text::display_escape(&path.to_string_lossy())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_specs_read_as_each_format_writes_them() {
        let r = |s: &str, sep: &[char]| PortRange::parse(s, sep);
        assert_eq!(
            r("443", &['-']),
            Some(PortRange {
                first: 443,
                last: 443
            })
        );
        assert_eq!(
            r(" 80-443 ", &['-']),
            Some(PortRange {
                first: 80,
                last: 443
            })
        );
        assert_eq!(
            r("80:443", &[':', '-']),
            Some(PortRange {
                first: 80,
                last: 443
            })
        );
        assert_eq!(r("80:443", &['-']), None);
        for bad in ["", "x", "80-", "-80", "70000", "1-70000"] {
            assert_eq!(r(bad, &['-']), None, "{bad:?}");
        }
        let range = PortRange {
            first: 80,
            last: 443,
        };
        assert!(range.contains(80) && range.contains(443) && !range.contains(444));
        assert_eq!(
            PortRange {
                first: 80,
                last: 81
            }
            .ports(64),
            Some(vec![80, 81])
        );
        assert_eq!(range.ports(64), None);
        let reversed = PortRange {
            first: 443,
            last: 80,
        };
        assert!(!reversed.contains(100) && reversed.ports(64).is_none());
        assert!(matches!(!Tri::Unknown("x".into()), Tri::Unknown(_)));
        assert!(matches!(!Tri::No, Tri::Yes(None)));
    }
}
