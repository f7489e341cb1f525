//! A PAC file: direct-route hosts `DIRECT`, allowed hosts to the proxy, the rest set.
//!
//! A PAC file. `FindProxyForURL` lowercases the host, answers `DIRECT` for
//! direct-route endpoints, the proxy string for allowed endpoints, and a
//! configurable answer for everything else. The names of each route sit
//! in one object keyed by parent domain, each name written as its first
//! label with what it admits (1 the name, 2 the names below it, 3 both):
//! a parent shared by many names is written once. Look-up takes the host
//! and each of its parents through that object, so its cost grows with
//! the number of labels, not of entries. ES3 only, no DNS (`isInNet`,
//! `dnsResolve`), every string escaped.

pub mod read;

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use super::caps::{Caps, HostCaps, Paths, Ports, Support};
use super::loss::plan;
use super::{Backend, BackendError, Registered, Rendered, header_lines, loss_report, safe_name};
use crate::model::text::printable_ascii;
use crate::model::{HostPattern, Via};
use crate::policy::{Policy, PolicyEntry};
use crate::values::{FileName, ProxyAddress};

const NAME: &str = "pac";

/// `[outputs.pac]`: a PAC file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
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
    /// The largest PAC file written. Default 1 MiB: Chromium's PAC
    /// fetcher (and libproxy since 2026) refuse a larger script, and
    /// browsers then fall back to their no-proxy behaviour.
    #[serde(default = "max_pac_bytes")]
    pub max_bytes: u64,
}

fn max_pac_bytes() -> u64 {
    read::MAX_PAC_BYTES
}

fn pac_file() -> FileName {
    FileName::fixed("proxy.pac")
}

crate::checked_string!(
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

pub struct Pac {
    cfg: Settings,
}

impl Registered for Pac {
    type Settings = Settings;
    const NAME: &'static str = NAME;
    const SUMMARY: &'static str =
        "a PAC file: direct-route hosts DIRECT, allowed hosts to the proxy";
    const READER: Option<crate::backends::reader::Reader> = Some(crate::backends::reader::Reader {
        kind: "pac",
        recognise: read::recognise,
        read: read::read,
    });
    fn new(cfg: Settings) -> Self {
        Pac { cfg }
    }
}

impl Pac {
    fn proxy_answer(&self, policy: &Policy) -> Result<String, BackendError> {
        if let Some(p) = &self.cfg.proxy {
            return Ok(p.to_string());
        }
        if policy.ruleset.proxies.is_empty() {
            return Err(BackendError {
                backend: NAME,
                message: "no proxy: set [proxy] addresses or [outputs.pac] proxy".to_string(),
            });
        }
        Ok(policy
            .ruleset
            .proxies
            .iter()
            .map(|p| format!("PROXY {p}"))
            .collect::<Vec<_>>()
            .join("; "))
    }
}

/// What a name in the table admits: itself, the names below it, or both
/// (a domain, `EXACT | BELOW`).
const EXACT: u8 = 1;
const BELOW: u8 = 2;

/// The names of one route: by parent domain (its labels, last first, so
/// that related parents sort together), each name's first label and
/// what it admits; and the suffix globs.
#[derive(Default)]
struct Sets {
    hosts: BTreeMap<Vec<String>, BTreeMap<String, u8>>,
    globs: BTreeSet<String>,
}

/// A JavaScript string literal: quotes, backslashes, control and
/// non-ASCII characters, `<` and `>` all escaped.
pub fn js_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_ascii_alphanumeric() || " .-_:;/*@=+%~".contains(c) => out.push(c),
            c => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
        }
    }
    out.push('"');
    out
}

/// The host table of one route: one line per name (`"label":1,`) under
/// its parent's line, or the parent and its only name on one line.
fn table(name: &str, hosts: &BTreeMap<Vec<String>, BTreeMap<String, u8>>) -> String {
    if hosts.is_empty() {
        return format!("var {name} = {{}};\n");
    }
    let groups: Vec<String> = hosts
        .iter()
        .map(|(parent, labels)| {
            let parent: Vec<&str> = parent.iter().rev().map(String::as_str).collect();
            let key = js_string(&parent.join("."));
            let names: Vec<String> = labels
                .iter()
                .map(|(label, flags)| format!("{}:{flags}", js_string(label)))
                .collect();
            match names.as_slice() {
                [one] => format!("{key}:{{{one}}}"),
                _ => format!("{key}:{{\n{}\n}}", names.join(",\n")),
            }
        })
        .collect();
    format!("var {name} = {{\n{}\n}};\n", groups.join(",\n"))
}

fn array(name: &str, items: &BTreeSet<String>) -> String {
    let body: Vec<String> = items.iter().map(|k| js_string(k)).collect();
    format!("var {name} = [{}];\n", body.join(", "))
}

/// What the tables mean, above them.
const TABLES: &str = "\
// Each route's names by parent domain: \"parent\":{\"label\":N} stands for
// the name label.parent; N is 1 for that name, 2 for the names below it
// (*.label.parent), 3 for both (.label.parent).
";

/// The look-up, written once; the data sets above it change.
const LOOKUP: &str = r#"
function egressgenHas(set, key) {
  return Object.prototype.hasOwnProperty.call(set, key);
}

// The host itself (1) and each of its parents (2), split at their first
// dot: the label in the table of the rest.
function egressgenMatch(h, hosts, globs) {
  var start = 0, want = 1;
  var dot = h.indexOf(".");
  while (dot >= 0) {
    var parent = h.substring(dot + 1);
    if (egressgenHas(hosts, parent)) {
      var names = hosts[parent], label = h.substring(start, dot);
      if (egressgenHas(names, label) && (names[label] & want) != 0) {
        return true;
      }
    }
    start = dot + 1;
    want = 2;
    dot = h.indexOf(".", start);
  }
  for (var g = 0; g < globs.length; g++) {
    var s = globs[g];
    if (h.length >= s.length && h.substring(h.length - s.length) == s) {
      return true;
    }
  }
  return false;
}

function FindProxyForURL(url, host) {
  var h = String(host).toLowerCase();
  if (h.length > 0 && h.charAt(h.length - 1) == ".") {
    h = h.substring(0, h.length - 1);
  }
  if (egressgenMatch(h, DIRECT_HOSTS, DIRECT_GLOBS)) {
    return "DIRECT";
  }
  if (egressgenMatch(h, PROXY_HOSTS, PROXY_GLOBS)) {
    return PROXY_ANSWER;
  }
  return DEFAULT_ANSWER;
}
"#;

impl Backend for Pac {
    fn name(&self) -> &'static str {
        NAME
    }

    fn caps(&self) -> Caps {
        Caps {
            hosts: HostCaps::EXACT,
            paths: Paths::Widened(
                "a PAC file routes hosts, not paths: the whole host goes to the {via}, which enforces {path}",
            ),
            ports: Ports::NotFiltered,
            proxy_route: Support::Exact,
            direct_route: Support::Exact,
            prefixes: false,
            tls_bypass: None,
        }
    }

    fn render(&self, policy: &Policy) -> Result<Rendered, BackendError> {
        let proxy = self.proxy_answer(policy)?;
        let default = self
            .cfg
            .default
            .as_ref()
            .map_or(proxy.clone(), |d| d.to_string());
        let (mut direct, mut proxied) = (Sets::default(), Sets::default());
        let caps = self.caps();
        let mut loss = loss_report(NAME);
        for e in &policy.entries {
            let sets = if e.route == Via::Direct {
                &mut direct
            } else {
                &mut proxied
            };
            let plan = plan(e, &caps, &policy.prefixes);
            let expressed = if plan.writes.is_empty() {
                Vec::new()
            } else {
                express(e, sets)?
            };
            loss.entries.push(plan.entry(e, expressed));
        }
        let mut js = String::new();
        for line in header_lines(policy, "PAC file") {
            js.push_str(&format!("// {}\n", printable_ascii(&line)));
        }
        js.push_str("// Routes by host only: the proxy enforces ports and paths.\n\n");
        js.push_str(&format!("var PROXY_ANSWER = {};\n", js_string(&proxy)));
        js.push_str(&format!(
            "var DEFAULT_ANSWER = {};\n\n",
            js_string(&default)
        ));
        js.push_str(TABLES);
        for (prefix, sets) in [("DIRECT", &direct), ("PROXY", &proxied)] {
            js.push_str(&table(&format!("{prefix}_HOSTS"), &sets.hosts));
            js.push_str(&array(&format!("{prefix}_GLOBS"), &sets.globs));
            js.push('\n');
        }
        js.push_str(LOOKUP);
        self.check_size(js.len(), policy.entries.len())?;
        let mut rendered = Rendered {
            loss,
            ..Default::default()
        };
        rendered
            .files
            .insert(self.cfg.file.to_string(), js.into_bytes());
        Ok(rendered)
    }
}

impl Pac {
    /// A PAC file clients refuse is worse than none: refused, with the
    /// size, the limit and who enforces it.
    fn check_size(&self, size: usize, entries: usize) -> Result<(), BackendError> {
        let limit = self.cfg.max_bytes;
        if size as u64 <= limit {
            return Ok(());
        }
        Err(BackendError {
            backend: NAME,
            message: format!(
                "{} would be {size} bytes for {entries} entries, over the limit of {limit} bytes: Chromium's PAC fetcher (and libproxy since 2026) refuse a script over 1 MiB, and browsers then fall back to their no-proxy behaviour; narrow the policy, or set [outputs.pac] max_bytes if every client accepts more",
                self.cfg.file
            ),
        })
    }
}

/// Puts one entry's host into the table or the globs of its route.
fn express(e: &PolicyEntry, sets: &mut Sets) -> Result<Vec<String>, BackendError> {
    let name = safe_name(NAME, &e.host)?.to_string();
    let answer = if e.route == Via::Direct {
        "DIRECT"
    } else {
        "proxy"
    };
    let (flags, label) = match &e.host {
        HostPattern::Exact(_) => (EXACT, "exact"),
        HostPattern::Subdomains(_) => (BELOW, "below"),
        HostPattern::Domain(_) => (EXACT | BELOW, "domain"),
        HostPattern::SuffixGlob(_) => {
            sets.globs.insert(name.clone());
            return Ok(vec![format!("glob {name} -> {answer}")]);
        }
        HostPattern::Template(_) => return Ok(Vec::new()),
    };
    // A checked name has two labels or more, none empty.
    let (first, parent) = name
        .split_once('.')
        .filter(|(f, p)| !f.is_empty() && !p.is_empty())
        .ok_or_else(|| BackendError {
            backend: NAME,
            message: format!("refusing host {name:?}: not a name of two labels or more"),
        })?;
    let parent: Vec<String> = parent.rsplit('.').map(str::to_string).collect();
    *sets
        .hosts
        .entry(parent)
        .or_default()
        .entry(first.to_string())
        .or_default() |= flags;
    Ok(vec![format!("{label} {name} -> {answer}")])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped() {
        assert_eq!(js_string("a.example.com"), "\"a.example.com\"");
        assert_eq!(
            js_string("x\"; alert(1); \""),
            "\"x\\\"; alert\\u00281\\u0029; \\\"\""
        );
        assert_eq!(js_string("</script>\n"), "\"\\u003c/script\\u003e\\u000a\"");
        assert_eq!(js_string("é"), "\"\\u00e9\"");
    }
}
