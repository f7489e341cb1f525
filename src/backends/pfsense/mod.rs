//! pfSense: a config.xml fragment of aliases and pass rules, and alias import files.
//!
//! A config.xml fragment of `<aliases>` (host aliases for exact names,
//! network aliases for the service tags' prefixes) and `<filter>` pass
//! rules, plus one-entry-per-line files for Firewall > Aliases > Import.
//! Aliases hold at most 5,000 entries (the GUI's limit) and are split into
//! numbered aliases beyond that. pfSense takes no wildcards: a wildcard is
//! replaced by a service tag's prefixes where one covers it, and reported
//! as not expressible otherwise.

pub mod read;

use std::collections::BTreeMap;

use serde::Deserialize;

use super::caps::{Caps, Host, HostCaps, Paths, Ports, Support, TagWords};
use super::loss::plan;
use super::spelling::{Syntax, spell};
use super::{
    Backend, BackendError, LossEntry, LossReport, Registered, Rendered, header_lines,
    provenance_comment, safe_name, xml_comment,
};
use crate::policy::{Policy, PolicyEntry};
use crate::values::{Cidr, Identifier};

const NAME: &str = "pfsense";
/// Entries per alias that the GUI accepts.
pub const MAX_ALIAS_ENTRIES: usize = 5000;
/// Alias names are shorter than 32 characters.
const MAX_ALIAS_NAME: usize = 31;

/// `[outputs.pfsense]`: aliases and pass rules.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
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
    Identifier::fixed("lan")
}

fn pf_source() -> PfSource {
    PfSource::fixed("lan")
}

fn pf_prefix() -> Identifier {
    Identifier::fixed("EG")
}

crate::checked_string!(
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

pub struct Pfsense {
    cfg: Settings,
}

impl Registered for Pfsense {
    type Settings = Settings;
    const NAME: &'static str = NAME;
    const SUMMARY: &'static str =
        "pfSense config.xml aliases and pass rules, plus alias import files";
    const READER: Option<crate::backends::reader::Reader> = Some(crate::backends::reader::Reader {
        kind: "pfsense",
        recognise: read::recognise,
        read: read::read,
    });
    fn new(cfg: Settings) -> Self {
        Pfsense { cfg }
    }
}

const NO_WILDCARDS: TagWords = TagWords {
    whole: "host aliases take no wildcards: the {tag} prefixes stand for it",
    part: "host aliases take no wildcards: the {tag} prefixes serve only {part} within it",
    none: "host aliases take no wildcards and no service tag covers this pattern",
};

const CAPS: Caps = Caps {
    hosts: HostCaps {
        exact: Host::Written(Support::Exact),
        subdomains: Host::ByTag(NO_WILDCARDS),
        domain: Host::ApexThenTag {
            whole: "the names below {name} go through the {tag} prefixes",
            otherwise: "only {name} itself: aliases take no wildcards",
        },
        suffix_glob: Host::ByTag(NO_WILDCARDS),
    },
    paths: Paths::Widened("a firewall sees no paths: {path} widened to the whole host"),
    ports: Ports::Only {
        ports: &[80, 443],
        why: "port {port}: the rules pass tcp/443 and tcp/80 only",
    },
    proxy_route: Support::Exact,
    direct_route: Support::Exact,
    prefixes: true,
    tls_bypass: None,
};

/// An alias before it is split.
struct AliasSpec {
    base: String,
    kind: &'static str,
    ipprotocol: &'static str,
    ports: Vec<u16>,
    descr: String,
    /// Address -> detail.
    entries: BTreeMap<String, String>,
}

/// One alias as written.
struct Alias {
    name: String,
    kind: &'static str,
    ipprotocol: &'static str,
    ports: Vec<u16>,
    descr: String,
    entries: Vec<(String, String)>,
}

/// pfSense's rule: letters, digits and `_`, under 32 characters, not all
/// digits.
pub fn valid_alias_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_ALIAS_NAME
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.chars().all(|c| c.is_ascii_digit())
}

/// XML text: `& < > " '` escaped, control and invisible characters
/// written as `\u{..}` (XML 1.0 cannot carry most of them at all).
pub fn xml_escape(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        match c {
            c if c.is_control() || crate::model::text::is_invisible(c) => {
                out.extend(c.escape_default())
            }
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// `EG` + `AzureAdvancedThreatProtection` + `_v4` cut to fit, with room
/// for a `_NN` split suffix.
fn alias_base(prefix: &str, what: &str, suffix: &str) -> String {
    let clean: String = what.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
    let room = MAX_ALIAS_NAME.saturating_sub(prefix.len() + 1 + suffix.len() + 3);
    let cut: String = clean.chars().take(room).collect();
    format!("{prefix}_{cut}{suffix}")
}

impl Backend for Pfsense {
    fn name(&self) -> &'static str {
        NAME
    }

    fn caps(&self) -> Caps {
        CAPS
    }

    fn render(&self, policy: &Policy) -> Result<Rendered, BackendError> {
        let prefix = self.cfg.alias_prefix.as_str();
        let mut specs = Vec::new();
        let mut loss = Vec::new();
        let mut hosts: BTreeMap<u16, AliasSpec> = BTreeMap::new();
        for e in &policy.entries {
            loss.push(self.express(e, policy, prefix, &mut hosts)?);
        }
        specs.extend(hosts.into_values());
        for t in &policy.prefixes.tags {
            for (family, nets, proto) in [
                (
                    "_v4",
                    t.ipv4.iter().map(|n| n.to_string()).collect::<Vec<_>>(),
                    "inet",
                ),
                (
                    "_v6",
                    t.ipv6.iter().map(|n| n.to_string()).collect::<Vec<_>>(),
                    "inet6",
                ),
            ] {
                if nets.is_empty() {
                    continue;
                }
                let changes: Vec<String> = t.change_numbers.iter().map(u64::to_string).collect();
                let detail = format!("{} changeNumber {}", t.tag, changes.join(","));
                specs.push(AliasSpec {
                    base: alias_base(prefix, &t.tag, family),
                    kind: "network",
                    ipprotocol: proto,
                    ports: vec![443, 80],
                    descr: format!("egressgen {}: {} prefixes", policy.ruleset.name, t.tag),
                    entries: nets.into_iter().map(|n| (n, detail.clone())).collect(),
                });
            }
        }
        let aliases = split(specs)?;
        let mut rendered = Rendered {
            loss: LossReport {
                backend: NAME.to_string(),
                entries: loss,
            },
            ..Default::default()
        };
        let comment: String = header_lines(policy, "pfSense fragment")
            .iter()
            .map(|l| format!("<!-- {} -->\n", xml_comment(&xml_escape(l))))
            .collect();
        let aliases_xml = aliases_xml(&aliases);
        let filter_xml = self.filter_xml(policy, &aliases);
        let f = &mut rendered.files;
        f.insert(
            "pfsense-aliases.xml".into(),
            format!("<?xml version=\"1.0\"?>\n{comment}{aliases_xml}").into_bytes(),
        );
        f.insert(
            "pfsense-filter.xml".into(),
            format!("<?xml version=\"1.0\"?>\n{comment}{filter_xml}").into_bytes(),
        );
        f.insert(
            "pfsense-fragment.xml".into(),
            format!(
                "<?xml version=\"1.0\"?>\n{comment}<pfsense>\n{aliases_xml}{filter_xml}</pfsense>\n"
            )
            .into_bytes(),
        );
        for a in &aliases {
            let text: String = a
                .entries
                .iter()
                .map(|(addr, _)| format!("{addr}\n"))
                .collect();
            f.insert(format!("pfsense-import-{}.txt", a.name), text.into_bytes());
        }
        Ok(rendered)
    }
}

impl Pfsense {
    fn express(
        &self,
        e: &PolicyEntry,
        policy: &Policy,
        prefix: &str,
        hosts: &mut BTreeMap<u16, AliasSpec>,
    ) -> Result<LossEntry, BackendError> {
        let plan = plan(e, &CAPS, &policy.prefixes);
        let mut expressed = Vec::new();
        if !plan.writes.is_empty() {
            safe_name(NAME, &e.host)?;
        }
        for &(port, _) in &plan.writes {
            let spec = hosts.entry(port).or_insert_with(|| AliasSpec {
                base: format!("{prefix}_hosts{port}"),
                kind: "host",
                ipprotocol: "inet46",
                ports: vec![port],
                descr: format!(
                    "egressgen {}: host names for tcp/{port}",
                    policy.ruleset.name
                ),
                entries: BTreeMap::new(),
            });
            for fqdn in spell(Syntax::Name, &e.host) {
                let detail = provenance_comment(&e.provenance);
                spec.entries.entry(fqdn.clone()).or_insert(detail);
                expressed.push(format!("{}_*: {fqdn} (tcp/{port})", spec.base));
            }
        }
        Ok(plan.entry(e, expressed))
    }

    fn filter_xml(&self, policy: &Policy, aliases: &[Alias]) -> String {
        let source = match self.cfg.source.as_str() {
            "any" => "<any/>".to_string(),
            s if s.contains('/') => format!("<address>{}</address>", xml_escape(s)),
            s => format!("<network>{}</network>", xml_escape(s)),
        };
        let mut out = String::from("<filter>\n");
        for a in aliases {
            for port in &a.ports {
                out.push_str(&format!(
                    "  <rule>\n    <type>pass</type>\n    <interface>{}</interface>\n    <ipprotocol>{}</ipprotocol>\n    <protocol>tcp</protocol>\n    <source>{source}</source>\n    <destination><address>{}</address><port>{port}</port></destination>\n    <descr>{}</descr>\n  </rule>\n",
                    xml_escape(self.cfg.interface.as_str()),
                    a.ipprotocol,
                    a.name,
                    xml_escape(&format!("egressgen {}: {} tcp/{port}", policy.ruleset.name, a.name)),
                ));
            }
        }
        out.push_str("</filter>\n");
        out
    }
}

/// Splits every alias at 5,000 entries: `NAME`, then `NAME_2`, `NAME_3`...
fn split(specs: Vec<AliasSpec>) -> Result<Vec<Alias>, BackendError> {
    let mut out: Vec<Alias> = Vec::new();
    for spec in specs {
        let entries: Vec<(String, String)> = spec.entries.into_iter().collect();
        let parts = entries.len().div_ceil(MAX_ALIAS_ENTRIES).max(1);
        for (i, chunk) in entries.chunks(MAX_ALIAS_ENTRIES).enumerate() {
            let mut name = if i == 0 {
                spec.base.clone()
            } else {
                format!("{}_{}", spec.base, i + 1)
            };
            // Two tags cut to the same name: number the later one.
            let mut n = 2;
            while out.iter().any(|a| a.name == name) {
                name = format!("{}{n}", spec.base);
                n += 1;
            }
            if !valid_alias_name(&name) {
                return Err(BackendError {
                    backend: NAME,
                    message: format!("alias name {name:?} breaks pfSense's naming rule"),
                });
            }
            let descr = if parts > 1 {
                format!("{} (part {} of {parts})", spec.descr, i + 1)
            } else {
                spec.descr.clone()
            };
            out.push(Alias {
                name,
                kind: spec.kind,
                ipprotocol: spec.ipprotocol,
                ports: spec.ports.clone(),
                descr,
                entries: chunk.to_vec(),
            });
        }
    }
    Ok(out)
}

fn aliases_xml(aliases: &[Alias]) -> String {
    let mut out = String::from("<aliases>\n");
    for a in aliases {
        let addresses: Vec<&str> = a.entries.iter().map(|(addr, _)| addr.as_str()).collect();
        // `||` separates the per-entry details: keep it out of them.
        let details: Vec<String> = a
            .entries
            .iter()
            .map(|(_, d)| xml_escape(&d.replace('|', "/")))
            .collect();
        out.push_str(&format!(
            "  <alias>\n    <name>{}</name>\n    <type>{}</type>\n    <address>{}</address>\n    <descr>{}</descr>\n    <detail>{}</detail>\n  </alias>\n",
            a.name,
            a.kind,
            addresses.join(" "),
            xml_escape(&a.descr),
            details.join("||")
        ));
    }
    out.push_str("</aliases>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alias_names_follow_pfsense_rules() {
        assert!(valid_alias_name("EG_hosts443"));
        assert!(!valid_alias_name("12345"));
        assert!(!valid_alias_name("EG-hosts"));
        assert!(!valid_alias_name(&"a".repeat(32)));
        let base = alias_base("EG", "AzureAdvancedThreatProtection", "_v4");
        assert!(valid_alias_name(&format!("{base}_12")), "{base}");
    }

    #[test]
    fn xml_is_escaped() {
        assert_eq!(xml_escape("a<b>&\"'\n"), "a&lt;b&gt;&amp;&quot;&apos;\\n");
    }
}
