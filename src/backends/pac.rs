//! A PAC file. `FindProxyForURL` lowercases the host, answers `DIRECT` for
//! direct-route endpoints, the proxy string for allowed endpoints, and a
//! configurable answer for everything else. Look-up walks the host's label
//! suffixes through object maps (exact names, subtrees, domains), so its
//! cost grows with the number of labels, not of entries. ES3 only, no DNS
//! (`isInNet`, `dnsResolve`), every string escaped.

use std::collections::BTreeSet;

use super::{
    Backend, BackendError, Capabilities, LossEntry, LossReport, Outcome, OutputOptions, Rendered,
    header_lines, safe_name,
};
use crate::model::{HostPattern, Route};
use crate::normalize::text::printable_ascii;
use crate::policy::{Policy, PolicyEntry};
use crate::ruleset::PacOutput;

const NAME: &str = "pac";

pub struct Pac {
    cfg: PacOutput,
}

impl Pac {
    pub fn new(cfg: PacOutput) -> Self {
        Pac { cfg }
    }

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

/// The sets of one route.
#[derive(Default)]
struct Sets {
    exact: BTreeSet<String>,
    below: BTreeSet<String>,
    domain: BTreeSet<String>,
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

fn object(name: &str, keys: &BTreeSet<String>) -> String {
    if keys.is_empty() {
        return format!("var {name} = {{}};\n");
    }
    let body: Vec<String> = keys
        .iter()
        .map(|k| format!("  {}: 1", js_string(k)))
        .collect();
    format!("var {name} = {{\n{}\n}};\n", body.join(",\n"))
}

fn array(name: &str, items: &BTreeSet<String>) -> String {
    let body: Vec<String> = items.iter().map(|k| js_string(k)).collect();
    format!("var {name} = [{}];\n", body.join(", "))
}

/// The look-up, written once; the data sets above it change.
const LOOKUP: &str = r#"
function egressgenHas(set, key) {
  return Object.prototype.hasOwnProperty.call(set, key);
}

function egressgenMatch(h, exact, below, domain, globs) {
  if (egressgenHas(exact, h) || egressgenHas(domain, h)) {
    return true;
  }
  var i = h.indexOf(".");
  while (i >= 0) {
    var parent = h.substring(i + 1);
    if (egressgenHas(below, parent) || egressgenHas(domain, parent)) {
      return true;
    }
    i = h.indexOf(".", i + 1);
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
  if (egressgenMatch(h, DIRECT_EXACT, DIRECT_BELOW, DIRECT_DOMAIN, DIRECT_GLOBS)) {
    return "DIRECT";
  }
  if (egressgenMatch(h, PROXY_EXACT, PROXY_BELOW, PROXY_DOMAIN, PROXY_GLOBS)) {
    return PROXY_ANSWER;
  }
  return DEFAULT_ANSWER;
}
"#;

impl Backend for Pac {
    fn name(&self) -> &'static str {
        NAME
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            exact: true,
            subdomains: true,
            domain: true,
            suffix_glob: true,
            paths: false,
            prefixes: false,
        }
    }

    fn render(&self, policy: &Policy, _opts: &OutputOptions) -> Result<Rendered, BackendError> {
        let proxy = self.proxy_answer(policy)?;
        let default = self
            .cfg
            .default
            .as_ref()
            .map_or(proxy.clone(), |d| d.to_string());
        let (mut direct, mut proxied) = (Sets::default(), Sets::default());
        let mut loss = LossReport {
            backend: NAME.to_string(),
            entries: Vec::new(),
        };
        for e in &policy.entries {
            let sets = if e.route == Route::Direct {
                &mut direct
            } else {
                &mut proxied
            };
            loss.entries.push(express(e, sets)?);
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
        for (prefix, sets) in [("DIRECT", &direct), ("PROXY", &proxied)] {
            js.push_str(&object(&format!("{prefix}_EXACT"), &sets.exact));
            js.push_str(&object(&format!("{prefix}_BELOW"), &sets.below));
            js.push_str(&object(&format!("{prefix}_DOMAIN"), &sets.domain));
            js.push_str(&array(&format!("{prefix}_GLOBS"), &sets.globs));
            js.push('\n');
        }
        js.push_str(LOOKUP);
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

fn express(e: &PolicyEntry, sets: &mut Sets) -> Result<LossEntry, BackendError> {
    let name = safe_name(NAME, &e.host)?.to_string();
    let answer = if e.route == Route::Direct {
        "DIRECT"
    } else {
        "proxy"
    };
    let (set, label) = match &e.host {
        HostPattern::Exact(_) => (&mut sets.exact, "exact"),
        HostPattern::Subdomains(_) => (&mut sets.below, "below"),
        HostPattern::Domain(_) => (&mut sets.domain, "domain"),
        HostPattern::SuffixGlob(_) => (&mut sets.globs, "glob"),
        HostPattern::Template(_) => {
            return Ok(LossEntry::new(
                e,
                Outcome::Dropped,
                Vec::new(),
                "an unfilled placeholder",
            ));
        }
    };
    set.insert(name.clone());
    let expressed = vec![format!("{label} {name} -> {answer}")];
    Ok(match &e.path {
        Some(p) => LossEntry::new(
            e,
            Outcome::Broadened,
            expressed,
            &format!(
                "a PAC file routes hosts, not paths: the whole host goes to the {answer}, which enforces {p}"
            ),
        ),
        None => LossEntry::new(e, Outcome::Exact, expressed, ""),
    })
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
