//! What each format can express, as data.
//!
//! Every backend declares its [`Caps`]; one classifier
//! ([`super::loss::plan`]) turns a policy entry plus those capabilities
//! into the entry's loss-report line, the README's capability table is
//! generated from them ([`super::registry::capability_table`]), and
//! `audit` asks the same classifier which entries a format it reads cannot
//! carry at all. Reasons are templates: `{name}`, `{path}`,
//! `{port}`, `{tag}`, `{part}`, `{route}` and `{via}` are filled in per
//! entry.

use serde::Serialize;

/// How a format carries one aspect of an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "support", content = "why")]
pub enum Support {
    /// Written as the policy says.
    Exact,
    /// Written so that it admits more than the entry.
    Broadened(&'static str),
    /// Written so that it admits less than the entry.
    Narrowed(&'static str),
    /// Not written at all.
    Cannot(&'static str),
}

/// What stands in for a host name in a format that takes no names (or no
/// wildcards): a service tag of the policy whose prefixes cover it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct TagWords {
    /// The tag's prefixes serve every host the pattern admits (replaced).
    pub whole: &'static str,
    /// The tag serves `{part}` within the pattern (narrowed).
    pub part: &'static str,
    /// No tag covers it (dropped).
    pub none: &'static str,
}

/// How a format carries one kind of host pattern.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "support")]
pub enum Host {
    /// Written as one of the format's own patterns, with this fidelity.
    Written(Support),
    /// No name is written: a covering service tag's prefixes stand in.
    ByTag(TagWords),
    /// The name itself is written; the names below it go through a
    /// covering service tag (`whole`), else they are lost (`otherwise`,
    /// narrowed).
    ApexThenTag {
        whole: &'static str,
        otherwise: &'static str,
    },
}

/// The four kinds of host pattern a policy entry can hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct HostCaps {
    /// `x`
    pub exact: Host,
    /// `*.x`: below x, not x itself.
    pub subdomains: Host,
    /// `.x`: x and everything below.
    pub domain: Host,
    /// `*x`: names ending in x.
    pub suffix_glob: Host,
}

impl HostCaps {
    /// Every kind written exactly.
    pub const EXACT: HostCaps = HostCaps {
        exact: Host::Written(Support::Exact),
        subdomains: Host::Written(Support::Exact),
        domain: Host::Written(Support::Exact),
        suffix_glob: Host::Written(Support::Exact),
    };

    /// No kind written at all.
    pub const NONE: HostCaps = HostCaps {
        exact: Host::Written(Support::Cannot("not carried by this format")),
        subdomains: Host::Written(Support::Cannot("not carried by this format")),
        domain: Host::Written(Support::Cannot("not carried by this format")),
        suffix_glob: Host::Written(Support::Cannot("not carried by this format")),
    };

    /// The capability for a pattern kind (`None` for a template: no
    /// format can write an unfilled placeholder).
    pub fn of(&self, host: &crate::model::HostPattern) -> Option<Host> {
        use crate::model::HostPattern as P;
        Some(match host {
            P::Exact(_) => self.exact,
            P::Subdomains(_) => self.subdomains,
            P::Domain(_) => self.domain,
            P::SuffixGlob(_) => self.suffix_glob,
            P::Template(_) => return None,
        })
    }
}

/// How a format carries an entry limited to a path prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "support", content = "why")]
pub enum Paths {
    /// Host and path written together, the host as [`Caps::hosts`] says.
    Exact,
    /// On plain HTTP (port 80) the URL is matched, host included, exactly;
    /// on any other port the path is widened to the whole host (`why`).
    HttpOnly(&'static str),
    /// Widened to the whole host on every port.
    Widened(&'static str),
}

/// The TCP ports a format carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "support")]
pub enum Ports {
    /// Any port: the format keeps them apart (a file per port, say).
    Any,
    /// Only these; any other is narrowed away with `why`.
    Only {
        ports: &'static [u16],
        why: &'static str,
    },
    /// The format does not filter on ports (a PAC file routes hosts; the
    /// proxy enforces ports).
    NotFiltered,
}

impl Ports {
    pub fn carries(&self, port: u16) -> bool {
        match self {
            Ports::Any | Ports::NotFiltered => true,
            Ports::Only { ports, .. } => ports.contains(&port),
        }
    }
}

/// Everything a format can express.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Caps {
    /// Allow entries by host pattern kind.
    pub hosts: HostCaps,
    pub paths: Paths,
    pub ports: Ports,
    /// Entries reached through the proxy.
    pub proxy_route: Support,
    /// Entries that must bypass the proxy.
    pub direct_route: Support,
    /// Whether the policy's aggregated service-tag prefixes are written.
    pub prefixes: bool,
    /// The TLS exemptions (hosts a TLS-inspecting proxy must splice), by
    /// pattern kind; `None` when the format carries none.
    pub tls_bypass: Option<HostCaps>,
}

impl Caps {
    /// A format that carries nothing of a policy (a test double, say).
    pub const NONE: Caps = Caps {
        hosts: HostCaps::NONE,
        paths: Paths::Widened("not carried by this format"),
        ports: Ports::NotFiltered,
        proxy_route: Support::Cannot("not carried by this format"),
        direct_route: Support::Cannot("not carried by this format"),
        prefixes: false,
        tls_bypass: None,
    };
}

/// One cell of the README's capability table.
fn host_cell(h: Host) -> &'static str {
    match h {
        Host::Written(s) => support_cell(s),
        Host::ByTag(_) => "service tag",
        Host::ApexThenTag { .. } => "name; below: service tag",
    }
}

fn support_cell(s: Support) -> &'static str {
    match s {
        Support::Exact => "yes",
        Support::Broadened(_) => "broadened",
        Support::Narrowed(_) => "narrowed",
        Support::Cannot(_) => "no",
    }
}

fn paths_cell(p: Paths) -> &'static str {
    match p {
        Paths::Exact => "yes",
        Paths::HttpOnly(_) => "port 80 only",
        Paths::Widened(_) => "whole host",
    }
}

fn ports_cell(p: Ports) -> String {
    match p {
        Ports::Any => "any".to_string(),
        Ports::NotFiltered => "not filtered".to_string(),
        Ports::Only { ports, .. } => ports
            .iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// The header of the capability table (see [`super::registry::capability_table`]).
pub const TABLE_HEADER: &str = "| output | `x` | `*.x` | `.x` | `*x` | paths | ports | proxy route | direct route | prefixes | TLS exemptions |\n\
     |---|---|---|---|---|---|---|---|---|---|---|\n";

impl Caps {
    /// This format's row of the capability table.
    pub fn table_row(&self, name: &str) -> String {
        let tls = match self.tls_bypass {
            None => "no".to_string(),
            Some(t) => [t.exact, t.subdomains, t.domain, t.suffix_glob]
                .map(host_cell)
                .join(" / "),
        };
        format!(
            "| `{}` | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            name,
            host_cell(self.hosts.exact),
            host_cell(self.hosts.subdomains),
            host_cell(self.hosts.domain),
            host_cell(self.hosts.suffix_glob),
            paths_cell(self.paths),
            ports_cell(self.ports),
            support_cell(self.proxy_route),
            support_cell(self.direct_route),
            if self.prefixes { "yes" } else { "no" },
            tls
        )
    }
}
