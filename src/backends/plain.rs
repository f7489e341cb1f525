//! The plain list: one entry per line, one file per TCP port.
//!
//! One entry per line, one file per TCP port (`allowlist-443.txt`,
//! `allowlist-80.txt`), so nothing about ports is lost. `name` is that
//! host, `*.name` the hosts below it, `*name` hosts ending in `name`; a
//! path limits the entry to URLs under it (`crl.microsoft.com/pki/crl/*`).
//! Optionally the policy's aggregated prefixes, one per line.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use super::caps::{Caps, HostCaps, Paths, Ports, Support};
use super::loss::{Form, plan};
use super::spelling::{Syntax, spell};
use super::{
    Backend, BackendError, Registered, Rendered, comment_block, header_lines, loss_report,
    safe_name, safe_path,
};
use crate::model::HostPattern;
use crate::policy::Policy;
use crate::values::FileName;

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

/// `[outputs.plain]`: one entry per line.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(default = "plain_file")]
    pub file: FileName,
    #[serde(default)]
    pub route: RouteFilter,
    /// Also write the policy's aggregated prefixes, one per line.
    #[serde(default)]
    pub prefixes_file: Option<FileName>,
}

fn plain_file() -> FileName {
    FileName::fixed("allowlist.txt")
}

pub struct Plain {
    cfg: Settings,
}

impl Registered for Plain {
    type Settings = Settings;
    const NAME: &'static str = "plain";
    const SUMMARY: &'static str =
        "one entry per line and per TCP port, paths kept; optionally the prefixes";
    fn new(cfg: Settings) -> Self {
        Plain { cfg }
    }
}

const NOT_IN_LIST: Support = Support::Cannot("route {route} is not in this list");

impl Plain {
    /// `allowlist.txt` -> `allowlist-443.txt`.
    fn file_for(&self, port: u16) -> String {
        let name = self.cfg.file.as_str();
        match name.rsplit_once('.') {
            Some((stem, ext)) => format!("{stem}-{port}.{ext}"),
            None => format!("{name}-{port}"),
        }
    }
}

/// The lines that express a pattern (and path) in this format.
pub fn lines(host: &HostPattern, path: Option<&str>) -> Vec<String> {
    let hosts = spell(Syntax::Glob, host);
    match path {
        Some(p) => hosts.into_iter().map(|h| format!("{h}{p}*")).collect(),
        None => hosts,
    }
}

impl Backend for Plain {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn caps(&self) -> Caps {
        let (proxy_route, direct_route) = match self.cfg.route {
            RouteFilter::All => (Support::Exact, Support::Exact),
            RouteFilter::Proxy => (Support::Exact, NOT_IN_LIST),
            RouteFilter::Direct => (NOT_IN_LIST, Support::Exact),
        };
        Caps {
            hosts: HostCaps::EXACT,
            paths: Paths::Exact,
            ports: Ports::Any,
            proxy_route,
            direct_route,
            // With `prefixes_file` set.
            prefixes: true,
            tls_bypass: None,
        }
    }

    fn render(&self, policy: &Policy) -> Result<Rendered, BackendError> {
        let caps = self.caps();
        let mut per_port: BTreeMap<u16, BTreeSet<String>> = BTreeMap::new();
        let mut loss = loss_report(Self::NAME);
        for e in &policy.entries {
            let plan = plan(e, &caps, &policy.prefixes);
            let mut expressed = Vec::new();
            if !plan.writes.is_empty() {
                safe_name(Self::NAME, &e.host)?;
                if let Some(p) = &e.path {
                    safe_path(Self::NAME, p)?;
                }
            }
            for &(port, form) in &plan.writes {
                let path = if form == Form::Host {
                    None
                } else {
                    e.path.as_deref()
                };
                let file = self.file_for(port);
                for line in lines(&e.host, path) {
                    expressed.push(format!("{file}: {line}"));
                    per_port.entry(port).or_default().insert(line);
                }
            }
            loss.entries.push(plan.entry(e, expressed));
        }
        let mut files = BTreeMap::new();
        let route = match self.cfg.route {
            RouteFilter::All => "all routes",
            RouteFilter::Proxy => "entries reached through the proxy",
            RouteFilter::Direct => "entries that must bypass the proxy",
        };
        for (port, lines) in per_port {
            let mut text = comment_block(&header_lines(
                policy,
                &format!("plain allowlist, TCP port {port}"),
            ));
            text.push_str(&format!(
                "# {route}; name = that host, *.name = hosts below name, *name = hosts ending in name, /path* = URLs under that path\n"
            ));
            for line in lines {
                text.push_str(&line);
                text.push('\n');
            }
            files.insert(self.file_for(port), text.into_bytes());
        }
        if let Some(name) = &self.cfg.prefixes_file {
            let mut text = comment_block(&header_lines(policy, "aggregated service-tag prefixes"));
            for net in &policy.prefixes.total_ipv4 {
                text.push_str(&format!("{net}\n"));
            }
            for net in &policy.prefixes.total_ipv6 {
                text.push_str(&format!("{net}\n"));
            }
            files.insert(name.to_string(), text.into_bytes());
        }
        Ok(Rendered { files, loss })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::host::parse_pattern;

    #[test]
    fn lines_per_kind() {
        let l = |h: &str, p: Option<&str>| lines(&parse_pattern(h).unwrap(), p);
        assert_eq!(l("a.example.com", None), ["a.example.com"]);
        assert_eq!(l("*.example.com", None), ["*.example.com"]);
        assert_eq!(l(".example.com", None), ["example.com", "*.example.com"]);
        assert_eq!(
            l("*smartscreen.microsoft.com", None),
            ["*smartscreen.microsoft.com"]
        );
        assert_eq!(
            l("crl.microsoft.com", Some("/pki/crl/")),
            ["crl.microsoft.com/pki/crl/*"]
        );
    }
}
