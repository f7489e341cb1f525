//! The plain list: one entry per line, one file per TCP port
//! (`allowlist-443.txt`, `allowlist-80.txt`), so nothing about ports is
//! lost. `name` is that host, `*.name` the hosts below it, `*name` hosts
//! ending in `name`; a path limits the entry to URLs under it
//! (`crl.microsoft.com/pki/crl/*`). Optionally the policy's aggregated
//! prefixes, one per line.

use std::collections::{BTreeMap, BTreeSet};

use super::{
    Backend, BackendError, Capabilities, LossEntry, LossReport, Outcome, OutputOptions, Rendered,
    comment_block, header_lines, safe_name, safe_path,
};
use crate::model::{HostPattern, Route};
use crate::policy::{Policy, PolicyEntry};
use crate::ruleset::{PlainOutput, RouteFilter};

pub struct Plain {
    cfg: PlainOutput,
}

impl Plain {
    pub fn new(cfg: PlainOutput) -> Self {
        Plain { cfg }
    }

    /// `allowlist.txt` -> `allowlist-443.txt`.
    fn file_for(&self, port: u16) -> String {
        let name = self.cfg.file.as_str();
        match name.rsplit_once('.') {
            Some((stem, ext)) => format!("{stem}-{port}.{ext}"),
            None => format!("{name}-{port}"),
        }
    }

    fn wanted(&self, route: Route) -> bool {
        match self.cfg.route {
            RouteFilter::All => true,
            RouteFilter::Proxy => route == Route::Proxy,
            RouteFilter::Direct => route == Route::Direct,
        }
    }
}

/// The lines that express a pattern (and path) in this format.
pub fn lines(host: &HostPattern, path: Option<&str>) -> Vec<String> {
    let hosts = match host {
        HostPattern::Exact(x) => vec![x.to_string()],
        HostPattern::Subdomains(x) => vec![format!("*.{x}")],
        HostPattern::Domain(x) => vec![x.to_string(), format!("*.{x}")],
        HostPattern::SuffixGlob(x) => vec![format!("*{x}")],
        HostPattern::Template(_) => Vec::new(),
    };
    match path {
        Some(p) => hosts.into_iter().map(|h| format!("{h}{p}*")).collect(),
        None => hosts,
    }
}

impl Backend for Plain {
    fn name(&self) -> &'static str {
        "plain"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            exact: true,
            subdomains: true,
            domain: true,
            suffix_glob: true,
            paths: true,
            prefixes: true,
        }
    }

    fn render(&self, policy: &Policy, _opts: &OutputOptions) -> Result<Rendered, BackendError> {
        let mut per_port: BTreeMap<u16, BTreeSet<String>> = BTreeMap::new();
        let mut loss = LossReport {
            backend: self.name().to_string(),
            entries: Vec::new(),
        };
        for e in &policy.entries {
            loss.entries.push(self.express(e, &mut per_port)?);
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

impl Plain {
    fn express(
        &self,
        e: &PolicyEntry,
        per_port: &mut BTreeMap<u16, BTreeSet<String>>,
    ) -> Result<LossEntry, BackendError> {
        if !self.wanted(e.route) {
            return Ok(LossEntry::new(
                e,
                Outcome::Dropped,
                Vec::new(),
                &format!("route {:?} is not in this list", e.route).to_lowercase(),
            ));
        }
        safe_name("plain", &e.host)?;
        if let Some(p) = &e.path {
            safe_path("plain", p)?;
        }
        let lines = lines(&e.host, e.path.as_deref());
        if lines.is_empty() {
            return Ok(LossEntry::new(
                e,
                Outcome::Dropped,
                Vec::new(),
                "an unfilled placeholder",
            ));
        }
        let mut expressed = Vec::new();
        for &port in &e.ports {
            let file = self.file_for(port);
            for line in &lines {
                per_port.entry(port).or_default().insert(line.clone());
                expressed.push(format!("{file}: {line}"));
            }
        }
        Ok(LossEntry::new(e, Outcome::Exact, expressed, ""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::host::parse_pattern;

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
