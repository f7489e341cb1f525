//! Reading a pfSense configuration back, for `audit`: aliases and the LAN's filter rules.
//!
//! `config.xml` (or our fragment) with its `<aliases>` and `<filter>`
//! rules. Rules of the LAN interface are evaluated as pfSense does, first
//! match wins, with the default block at the end. pfSense compares
//! addresses: a host alias entry that is a name matches that name (pfSense
//! resolves it and matches its addresses, which this reader does not), an
//! address or network matches an address literal or a name `--resolve`
//! answers; anything else (a URL table, a floating rule, a destination that
//! is an interface address) is reported as undecidable.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::Path;

use ipnet::IpNet;

use crate::backends::reader::{
    Access, Config, Decision, Grant, GrantHost, Options, Origin, PortRange, Probe, ReadError, Tri,
    Undecidable, shown,
};
use crate::model::HostPattern;
use crate::model::host::parse_pattern;

/// The interface whose rules apply to the devices.
const INTERFACE: &str = "lan";

pub fn recognise(path: &Path, head: &[u8]) -> bool {
    let text = String::from_utf8_lossy(head);
    path.extension()
        .is_some_and(|x| x.eq_ignore_ascii_case("xml"))
        && (text.contains("<pfsense") || text.contains("<filter>") || text.contains("<aliases>"))
}

pub fn read(path: &Path, options: &Options) -> Result<Box<dyn Config>, ReadError> {
    let bytes = crate::input::read_limited(path, options.limits.file_bytes).map_err(|e| {
        ReadError::Read {
            file: shown(path),
            detail: e.to_string(),
        }
    })?;
    let text = String::from_utf8(bytes).map_err(|_| ReadError::Read {
        file: shown(path),
        detail: "is not UTF-8 text".to_string(),
    })?;
    let file = shown(path);
    // roxmltree refuses DTDs with entities past a small limit and never
    // fetches anything: no billion laughs, no external entities.
    let doc = roxmltree::Document::parse(&text).map_err(|e| ReadError::Syntax {
        at: Origin {
            file: file.clone(),
            line: e.pos().row as usize,
        },
        detail: format!("not well-formed XML: {e}"),
    })?;
    let line = |n: roxmltree::Node| Origin {
        file: file.clone(),
        line: doc.text_pos_at(n.range().start).row as usize,
    };
    let mut conf = PfConfig {
        file: file.clone(),
        resolve: options.resolve.clone(),
        tag_hosts: options.tag_hosts.clone(),
        tag_prefixes: options.tag_prefixes.clone(),
        ..Default::default()
    };
    for a in doc.descendants().filter(|n| n.has_tag_name("alias")) {
        let name = child_text(a, "name");
        let kind = child_text(a, "type");
        let entries = child_text(a, "address")
            .split_whitespace()
            .map(str::to_string)
            .collect();
        conf.aliases.insert(
            name,
            Alias {
                kind,
                entries,
                at: line(a),
            },
        );
    }
    for r in doc
        .descendants()
        .filter(|n| n.has_tag_name("rule") && n.parent().is_some_and(|p| p.has_tag_name("filter")))
    {
        let at = line(r);
        if has_child(r, "disabled") {
            continue;
        }
        let interfaces = child_text(r, "interface").to_ascii_lowercase();
        if has_child(r, "floating") && child_text(r, "floating") != "no" {
            conf.undecidable.push(Undecidable {
                at,
                why: "floating rule: evaluated before the interface rules, not judged here"
                    .to_string(),
            });
            continue;
        }
        if !interfaces.split(',').any(|i| i.trim() == INTERFACE) {
            continue;
        }
        conf.rules.push(Rule {
            action: child_text(r, "type"),
            protocol: child_text(r, "protocol").to_ascii_lowercase(),
            source: side(r, "source"),
            destination: side(r, "destination"),
            at,
        });
    }
    conf.check()?;
    Ok(Box::new(conf))
}

fn child<'a, 'i>(n: roxmltree::Node<'a, 'i>, tag: &str) -> Option<roxmltree::Node<'a, 'i>> {
    n.children().find(|c| c.has_tag_name(tag))
}

fn has_child(n: roxmltree::Node, tag: &str) -> bool {
    child(n, tag).is_some()
}

fn child_text(n: roxmltree::Node, tag: &str) -> String {
    child(n, tag)
        .and_then(|c| c.text())
        .unwrap_or("")
        .trim()
        .to_string()
}

/// The source or destination of a rule.
fn side(r: roxmltree::Node, tag: &str) -> Side {
    let Some(s) = child(r, tag) else {
        return Side::default();
    };
    let target = if has_child(s, "any") {
        Target::Any
    } else if let Some(n) = child(s, "network") {
        Target::Network(n.text().unwrap_or("").trim().to_ascii_lowercase())
    } else if let Some(a) = child(s, "address") {
        Target::Address(a.text().unwrap_or("").trim().to_string())
    } else {
        Target::Any
    };
    Side {
        target,
        not: has_child(s, "not"),
        port: child_text(s, "port"),
    }
}

#[derive(Clone, Debug, Default)]
struct Alias {
    kind: String,
    entries: Vec<String>,
    at: Origin,
}

#[derive(Clone, Debug, Default)]
enum Target {
    #[default]
    Any,
    /// An interface network or address (`lan`, `wanip`, …).
    Network(String),
    /// An alias, an address, a network, or a name.
    Address(String),
}

#[derive(Clone, Debug, Default)]
struct Side {
    target: Target,
    not: bool,
    /// Empty for any port.
    port: String,
}

#[derive(Clone, Debug)]
struct Rule {
    action: String,
    protocol: String,
    source: Side,
    destination: Side,
    at: Origin,
}

#[derive(Debug, Default)]
pub struct PfConfig {
    file: String,
    resolve: BTreeMap<String, IpAddr>,
    tag_hosts: Vec<(String, HostPattern)>,
    tag_prefixes: BTreeMap<String, Vec<IpNet>>,
    aliases: BTreeMap<String, Alias>,
    rules: Vec<Rule>,
    undecidable: Vec<Undecidable>,
}

impl PfConfig {
    /// Every alias a rule names exists.
    fn check(&self) -> Result<(), ReadError> {
        for r in &self.rules {
            for side in [&r.source, &r.destination] {
                if let Target::Address(a) = &side.target
                    && is_alias_name(a)
                    && !self.aliases.contains_key(a)
                {
                    return Err(ReadError::Syntax {
                        at: r.at.clone(),
                        detail: format!("alias {a} is not defined in this file"),
                    });
                }
            }
        }
        Ok(())
    }

    /// The entries of an alias, nested aliases expanded, each with the
    /// alias it came from.
    fn expand(&self, name: &str, depth: usize, out: &mut Vec<(String, Origin, String)>) {
        let Some(alias) = self.aliases.get(name) else {
            return;
        };
        for e in &alias.entries {
            if depth < 8 && self.aliases.contains_key(e) {
                self.expand(e, depth + 1, out);
            } else {
                out.push((e.clone(), alias.at.clone(), alias.kind.clone()));
            }
        }
    }

    /// The address of the probe's host: a literal, or a table answer.
    fn address_of(&self, host: &str) -> Option<IpAddr> {
        host.parse()
            .ok()
            .or_else(|| self.resolve.get(host).copied())
    }

    fn target(&self, side: &Side, host: &str, ip: Option<IpAddr>, dest: bool) -> Tri {
        let t = match &side.target {
            Target::Any => Tri::Yes(dest.then(|| (GrantHost::Any, Origin::default()))),
            // The devices are on the LAN: its network is every source.
            Target::Network(n) if !dest && n == INTERFACE => Tri::Yes(None),
            Target::Network(n) => Tri::Unknown(format!("{n} is an interface network or address")),
            Target::Address(a) => self.address(a, host, ip),
        };
        match (t, side.not) {
            (Tri::Yes(_), true) => Tri::No,
            (Tri::No, true) => Tri::Yes(None),
            (t, _) => t,
        }
    }

    fn address(&self, a: &str, host: &str, ip: Option<IpAddr>) -> Tri {
        let mut entries = Vec::new();
        if self.aliases.contains_key(a) {
            self.expand(a, 0, &mut entries);
        } else {
            entries.push((a.to_string(), Origin::default(), String::new()));
        }
        let mut unknown = None;
        // A name that a service tag stands for lies within the tag's
        // prefixes (Microsoft's tag-to-host table): networks that hold
        // all of them admit it, networks that hold none do not.
        let nets: Vec<(IpNet, Origin)> = entries
            .iter()
            .filter_map(|(e, at, _)| e.parse::<IpNet>().ok().map(|n| (n, at.clone())))
            .collect();
        if ip.is_none()
            && !nets.is_empty()
            && let Some(verdict) = self.by_tag(host, &nets)
        {
            return verdict;
        }
        for (e, at, kind) in entries {
            if matches!(
                kind.as_str(),
                "url" | "urltable" | "url_ports" | "urltable_ports"
            ) {
                unknown = Some(format!("alias of type {kind} is fetched by pfSense"));
                continue;
            }
            if let Ok(net) = e
                .parse::<IpNet>()
                .or_else(|_| e.parse::<IpAddr>().map(IpNet::from))
            {
                match ip {
                    Some(ip) if net.contains(&ip) => {
                        return Tri::Yes(Some((GrantHost::Other(e), at)));
                    }
                    Some(_) => {}
                    None => {
                        unknown = Some(format!("{host} would need a lookup to compare with {e}"))
                    }
                }
                continue;
            }
            if let Ok(HostPattern::Exact(n)) = parse_pattern(&e) {
                if n.as_str() == host {
                    return Tri::Yes(Some((GrantHost::Pattern(HostPattern::Exact(n)), at)));
                }
                if ip.is_some() && host.parse::<IpAddr>().is_ok() {
                    unknown = Some(format!("{e} is a name; {host} an address"));
                }
            }
        }
        unknown.map(Tri::Unknown).unwrap_or(Tri::No)
    }

    /// The answer for a name through the service tags that stand for it,
    /// if one decides.
    fn by_tag(&self, host: &str, nets: &[(IpNet, Origin)]) -> Option<Tri> {
        let name = crate::model::DnsName::parse(host).ok()?;
        let tags = self
            .tag_hosts
            .iter()
            .filter(|(_, p)| crate::policy::matching::admits(p, &name))
            .filter_map(|(t, _)| self.tag_prefixes.get(t).filter(|p| !p.is_empty()));
        let mut disjoint = false;
        for prefixes in tags {
            let held = |p: &IpNet| nets.iter().find(|(n, _)| n.contains(p));
            if let Some((n, at)) = prefixes.iter().map(held).next().flatten()
                && prefixes.iter().all(|p| held(p).is_some())
            {
                return Some(Tri::Yes(Some((
                    GrantHost::Other(n.to_string()),
                    at.clone(),
                ))));
            }
            disjoint |= prefixes
                .iter()
                .all(|p| !nets.iter().any(|(n, _)| n.contains(p) || p.contains(n)));
        }
        disjoint.then_some(Tri::No)
    }

    fn port(&self, spec: &str, port: u16) -> Tri {
        if spec.is_empty() || spec == "any" {
            return Tri::Yes(None);
        }
        let specs: Vec<String> = if self.aliases.contains_key(spec) {
            let mut out = Vec::new();
            self.expand(spec, 0, &mut out);
            out.into_iter().map(|(e, _, _)| e).collect()
        } else {
            vec![spec.to_string()]
        };
        for s in specs {
            match PortRange::parse(&s, &[':', '-']) {
                Some(r) if r.contains(port) => return Tri::Yes(None),
                Some(_) => {}
                None => return Tri::Unknown(format!("port {s} is not a number or range")),
            }
        }
        Tri::No
    }

    fn rule_matches(&self, r: &Rule, probe: &Probe) -> Tri {
        if !matches!(r.protocol.as_str(), "" | "any" | "tcp" | "tcp/udp") {
            return Tri::No;
        }
        let host = probe.host.to_ascii_lowercase();
        let ip = self.address_of(&host);
        let mut granted = None;
        let parts = [
            self.target(&r.source, "", Some(probe.client), false),
            // Devices connect from any port: a rule on a source port
            // matches only some of their connections.
            if r.source.port.is_empty() || r.source.port == "any" {
                Tri::Yes(None)
            } else {
                Tri::Unknown(format!("the rule tests the source port {}", r.source.port))
            },
            self.target(&r.destination, &host, ip, true),
            self.port(&r.destination.port, probe.port),
        ];
        let mut unknown = None;
        for p in parts {
            match p {
                Tri::No => return Tri::No,
                Tri::Unknown(w) => unknown = unknown.or(Some(w)),
                Tri::Yes(g) => granted = granted.or(g),
            }
        }
        match unknown {
            Some(w) => Tri::Unknown(w),
            None => Tri::Yes(granted),
        }
    }
}

/// Whether a rule's address names an alias rather than an address.
fn is_alias_name(a: &str) -> bool {
    a.parse::<IpNet>().is_err()
        && a.parse::<IpAddr>().is_err()
        && !a.contains('.')
        && a.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The certain answer `v`, or undecidable at the first unknown rule when
/// one of the unknown rules would answer otherwise.
fn unless_changed(
    v: Decision,
    unknown: Option<(usize, &Rule, String)>,
    passes: &BTreeSet<bool>,
) -> Decision {
    let allowed = v.access == Access::Allowed;
    match unknown {
        Some((i, r, why)) if passes.iter().any(|p| *p != allowed) => {
            let mut u = Decision::denied(Some(r.at.clone()), Some(i));
            u.access = Access::Undecidable(why);
            u
        }
        _ => v,
    }
}

impl Config for PfConfig {
    fn kind(&self) -> &'static str {
        "pfsense"
    }

    fn files(&self) -> Vec<String> {
        vec![self.file.clone()]
    }

    /// First match, three-valued: a rule whose match cannot be decided
    /// makes the answer undecidable only if it would pass what the rules
    /// after it block, or block what they pass.
    fn decide(&self, probe: &Probe) -> Decision {
        let mut unknown: Option<(usize, &Rule, String)> = None;
        let mut passes = BTreeSet::new();
        for (i, r) in self.rules.iter().enumerate() {
            match self.rule_matches(r, probe) {
                Tri::No => continue,
                Tri::Unknown(why) => {
                    passes.insert(r.action == "pass");
                    unknown = unknown.or(Some((i, r, why)));
                }
                Tri::Yes(g) => {
                    let mut v = Decision::denied(Some(r.at.clone()), Some(i));
                    if r.action == "pass" {
                        v.access = Access::Allowed;
                        v.granted_by = g.map(|(h, at)| {
                            let at = if at.line == 0 { r.at.clone() } else { at };
                            (h, at)
                        });
                    }
                    return unless_changed(v, unknown, &passes);
                }
            }
        }
        // pfSense blocks what no rule passes.
        unless_changed(
            Decision::denied(None, Some(self.rules.len())),
            unknown,
            &passes,
        )
    }

    fn grants(&self) -> Vec<Grant> {
        let mut out = Vec::new();
        for (rank, r) in self.rules.iter().enumerate() {
            if r.action != "pass" || r.destination.not {
                continue;
            }
            let ports = port_list(&r.destination.port);
            let hosts: Vec<(GrantHost, Origin, String)> = match &r.destination.target {
                Target::Any => vec![(GrantHost::Any, r.at.clone(), "destination any".to_string())],
                Target::Network(n) => vec![(GrantHost::Other(n.clone()), r.at.clone(), n.clone())],
                Target::Address(a) => {
                    let mut entries = Vec::new();
                    if self.aliases.contains_key(a) {
                        self.expand(a, 0, &mut entries);
                    } else {
                        entries.push((a.clone(), r.at.clone(), String::new()));
                    }
                    entries
                        .into_iter()
                        .map(|(e, at, _)| {
                            let host = match parse_pattern(&e) {
                                Ok(p @ HostPattern::Exact(_)) => GrantHost::Pattern(p),
                                _ => GrantHost::Other(e.clone()),
                            };
                            (host, at, format!("{a} {e}"))
                        })
                        .collect()
                }
            };
            for (host, at, text) in hosts {
                out.push(Grant {
                    rule: r.at.clone(),
                    rank,
                    at,
                    host,
                    ports: ports.clone(),
                    path: None,
                    text,
                    inspect: None,
                });
            }
        }
        out
    }

    fn rule_matches(&self, grant: &Grant, probe: &Probe) -> bool {
        self.rules
            .get(grant.rank)
            .is_some_and(|r| matches!(PfConfig::rule_matches(self, r, probe), Tri::Yes(_)))
    }

    fn undecidable(&self) -> Vec<Undecidable> {
        self.undecidable.clone()
    }

    fn inspects(&self) -> bool {
        false
    }

    fn size(&self) -> usize {
        self.rules.len()
    }
}

/// The ports of a single port or a small range; `None` for any.
fn port_list(spec: &str) -> Option<Vec<u16>> {
    if spec.is_empty() || spec == "any" {
        return None;
    }
    PortRange::parse(spec, &[':', '-'])?.ports(64)
}
