//! Reading an Azure Firewall policy back, for `audit`: ARM template or rule groups.
//!
//! An ARM template or an exported rule collection group (JSON), with its
//! filter rule collections. Azure Firewall processes network rules before
//! application rules; within each, rule collection groups by priority, then
//! collections by priority; the first matching collection decides, and what
//! none allows is denied.
//!
//! Application rules match `targetFqdns` (glob syntax, read with the same
//! spelling code the backend writes with) on their protocol and port; a
//! network rule's service tag admits the names the tag stands for
//! (`builtin:tag-hosts`) and the addresses of its prefixes when the
//! policy holds them; other addresses need `--resolve`. FQDN tags, IP
//! groups and `targetUrls` are reported as undecidable.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::path::Path;

use ipnet::IpNet;
use serde_json::Value;

use crate::backends::reader::{
    Access, Config, Decision, Grant, GrantHost, Options, Origin, PortRange, Probe, ReadError,
    TlsSeen, Undecidable, shown,
};
use crate::backends::spelling::{Syntax, read as read_pattern};
use crate::model::Scheme;
use crate::model::{DnsName, HostPattern};
use crate::policy::matching::admits;

pub fn recognise(path: &Path, head: &[u8]) -> bool {
    let text = String::from_utf8_lossy(head);
    path.extension()
        .is_some_and(|x| x.eq_ignore_ascii_case("json"))
        && text.contains("ruleCollections")
}

pub fn read(path: &Path, options: &Options) -> Result<Box<dyn Config>, ReadError> {
    let file = shown(path);
    let bytes = crate::input::read_limited(path, options.limits.file_bytes).map_err(|e| {
        ReadError::Read {
            file: file.clone(),
            detail: e.to_string(),
        }
    })?;
    let text = String::from_utf8(bytes).map_err(|_| ReadError::Read {
        file: file.clone(),
        detail: "is not UTF-8 text".to_string(),
    })?;
    let json: Value = serde_json::from_str(&text).map_err(|e| ReadError::Syntax {
        at: Origin {
            file: file.clone(),
            line: e.line(),
        },
        detail: format!("not JSON: {e}"),
    })?;
    let mut conf = AzConfig {
        file: file.clone(),
        resolve: options.resolve.clone(),
        tag_hosts: options.tag_hosts.clone(),
        tag_prefixes: options.tag_prefixes.clone(),
        ..Default::default()
    };
    let lines = LineFinder::new(&text);
    let mut groups = Vec::new();
    find_groups(&json, 0, &mut groups);
    if groups.is_empty() {
        return Err(ReadError::Syntax {
            at: Origin { file, line: 1 },
            detail: "no rule collection group (properties.ruleCollections) in this document"
                .to_string(),
        });
    }
    let mut rules = Vec::new();
    for g in groups {
        let group_priority = g
            .get("priority")
            .and_then(Value::as_u64)
            .unwrap_or(u64::MAX);
        let empty = Vec::new();
        let collections = g
            .get("ruleCollections")
            .and_then(Value::as_array)
            .unwrap_or(&empty);
        for c in collections {
            conf.collection(c, group_priority, &lines, &mut rules);
        }
    }
    // Network rules first, then application rules; each by group and
    // collection priority (a stable sort keeps file order for ties).
    rules.sort_by_key(|r: &Rule| (r.application, r.order));
    conf.rules = rules;
    Ok(Box::new(conf))
}

/// Every object with a `ruleCollections` array: rule collection groups,
/// at any depth of an ARM template.
fn find_groups<'a>(v: &'a Value, depth: usize, out: &mut Vec<&'a Value>) {
    if depth > 32 {
        return;
    }
    match v {
        Value::Object(map) => {
            if map.get("ruleCollections").is_some_and(Value::is_array) {
                out.push(v);
                return;
            }
            for child in map.values() {
                find_groups(child, depth + 1, out);
            }
        }
        Value::Array(items) => {
            for child in items {
                find_groups(child, depth + 1, out);
            }
        }
        _ => {}
    }
}

/// Line numbers of collection and rule names in the text, so a finding
/// names a line (JSON values carry no positions). Names repeat (a rule
/// "CRL" in three collections): the k-th object asked for by a name, in
/// document order, gets the k-th `"name": "<name>"` of the text. The
/// text is scanned once, whatever the number of rules.
struct LineFinder {
    /// Each name's lines, in order.
    lines: HashMap<String, Vec<usize>>,
    /// How many times each name was asked for.
    asked: std::cell::RefCell<HashMap<String, usize>>,
}

impl LineFinder {
    fn new(text: &str) -> Self {
        let mut lines: HashMap<String, Vec<usize>> = HashMap::new();
        let (mut line, mut counted) = (1, 0);
        for (at, _) in text.match_indices("\"name\"") {
            let rest = text[at + 6..].trim_start();
            let Some(value) = rest.strip_prefix(':').map(str::trim_start) else {
                continue;
            };
            let mut de = serde_json::Deserializer::from_str(value);
            let Ok(name) = <String as serde::Deserialize>::deserialize(&mut de) else {
                continue;
            };
            line += text[counted..at].matches('\n').count();
            counted = at;
            lines.entry(name).or_default().push(line);
        }
        LineFinder {
            lines,
            asked: Default::default(),
        }
    }

    /// The line of the next `"name": "<name>"` not yet given out (the
    /// first again when there are fewer), or 0.
    fn of_name(&self, name: &str) -> usize {
        let Some(lines) = self.lines.get(name) else {
            return 0;
        };
        let mut asked = self.asked.borrow_mut();
        let k = asked.entry(name.to_string()).or_insert(0);
        let line = lines.get(*k).or(lines.first()).copied().unwrap_or(0);
        *k += 1;
        line
    }
}

#[derive(Clone, Debug)]
struct Rule {
    /// Network rules sort before application rules.
    application: bool,
    /// (group priority, collection priority).
    order: (u64, u64),
    allow: bool,
    at: Origin,
    name: String,
    sources: Vec<String>,
    /// Application rules: (protocol type, port).
    protocols: Vec<(String, u16)>,
    /// Application rule FQDN globs, or network rule FQDNs.
    fqdns: Vec<String>,
    /// Network rules: addresses, prefixes, service tags, `*`.
    addresses: Vec<String>,
    /// Network rules: port specs (`443`, `80-443`, `*`).
    ports: Vec<String>,
    ip_protocols: Vec<String>,
    terminate_tls: bool,
    /// Why the rule cannot be evaluated, if it cannot.
    undecidable: Option<String>,
}

#[derive(Debug, Default)]
pub struct AzConfig {
    file: String,
    resolve: BTreeMap<String, IpAddr>,
    tag_hosts: Vec<(String, HostPattern)>,
    tag_prefixes: BTreeMap<String, Vec<IpNet>>,
    rules: Vec<Rule>,
    undecidable: Vec<Undecidable>,
}

fn strings(v: &Value, key: &str) -> Vec<String> {
    v.get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| match x {
                    Value::String(s) => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default()
}

impl AzConfig {
    fn collection(&mut self, c: &Value, group: u64, lines: &LineFinder, out: &mut Vec<Rule>) {
        let name = c.get("name").and_then(Value::as_str).unwrap_or("");
        let at = Origin {
            file: self.file.clone(),
            line: lines.of_name(name),
        };
        let kind = c
            .get("ruleCollectionType")
            .and_then(Value::as_str)
            .unwrap_or("");
        if kind != "FirewallPolicyFilterRuleCollection" {
            self.undecidable.push(Undecidable {
                at,
                why: format!("collection {name}: {kind} is not a filter collection (not judged)"),
            });
            return;
        }
        let allow = c
            .pointer("/action/type")
            .and_then(Value::as_str)
            .is_some_and(|a| a.eq_ignore_ascii_case("allow"));
        let priority = c
            .get("priority")
            .and_then(Value::as_u64)
            .unwrap_or(u64::MAX);
        let empty = Vec::new();
        for r in c.get("rules").and_then(Value::as_array).unwrap_or(&empty) {
            let rule_name = r
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let at = Origin {
                file: self.file.clone(),
                line: lines.of_name(&rule_name),
            };
            let application = r.get("ruleType").and_then(Value::as_str) == Some("ApplicationRule");
            let protocols = r
                .get("protocols")
                .and_then(Value::as_array)
                .map(|ps| {
                    ps.iter()
                        .map(|p| {
                            (
                                p.get("protocolType")
                                    .and_then(Value::as_str)
                                    .unwrap_or("")
                                    .to_string(),
                                p.get("port").and_then(Value::as_u64).unwrap_or(0) as u16,
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            let mut undecidable = None;
            for key in [
                "fqdnTags",
                "targetUrls",
                "sourceIpGroups",
                "destinationIpGroups",
                "webCategories",
            ] {
                if !strings(r, key).is_empty() {
                    undecidable = Some(format!(
                        "rule {rule_name} uses {key}, which this reader does not evaluate"
                    ));
                }
            }
            if let Some(why) = &undecidable {
                self.undecidable.push(Undecidable {
                    at: at.clone(),
                    why: why.clone(),
                });
            }
            let mut fqdns = strings(r, "targetFqdns");
            fqdns.extend(strings(r, "destinationFqdns"));
            out.push(Rule {
                application,
                order: (group, priority),
                allow,
                at,
                name: rule_name,
                sources: strings(r, "sourceAddresses"),
                protocols,
                fqdns,
                addresses: strings(r, "destinationAddresses"),
                ports: strings(r, "destinationPorts"),
                ip_protocols: strings(r, "ipProtocols"),
                terminate_tls: r
                    .get("terminateTLS")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
                undecidable,
            });
        }
    }

    fn address_of(&self, host: &str) -> Option<IpAddr> {
        host.parse()
            .ok()
            .or_else(|| self.resolve.get(host).copied())
    }

    fn source_ok(&self, r: &Rule, client: IpAddr) -> Option<bool> {
        if r.sources.is_empty() {
            return Some(false);
        }
        for s in &r.sources {
            if s == "*" {
                return Some(true);
            }
            match s
                .parse::<IpNet>()
                .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
            {
                Ok(net) if net.contains(&client) => return Some(true),
                Ok(_) => {}
                Err(_) => return None,
            }
        }
        Some(false)
    }

    /// Whether a rule matches a request: `Some(granted)` or `None`, or the
    /// reason it cannot tell.
    fn matches(&self, r: &Rule, p: &Probe) -> Result<Option<(GrantHost, Origin)>, String> {
        if let Some(why) = &r.undecidable {
            return Err(why.clone());
        }
        match self.source_ok(r, p.client) {
            Some(true) => {}
            Some(false) => return Ok(None),
            None => return Err(format!("rule {}: a source that is not an address", r.name)),
        }
        let host = p.host.to_ascii_lowercase();
        if r.application {
            let wanted = match p.scheme {
                Scheme::Https => "https",
                Scheme::Http => "http",
            };
            if !r
                .protocols
                .iter()
                .any(|(t, port)| t.eq_ignore_ascii_case(wanted) && *port == p.port)
            {
                return Ok(None);
            }
            return Ok(self.fqdn_match(&r.fqdns, &host).map(|g| (g, r.at.clone())));
        }
        let tcp = r
            .ip_protocols
            .iter()
            .any(|x| x.eq_ignore_ascii_case("tcp") || x.eq_ignore_ascii_case("any"));
        if !tcp || !r.ports.iter().any(|s| port_in(s, p.port)) {
            return Ok(None);
        }
        if let Some(g) = self.fqdn_match(&r.fqdns, &host) {
            return Ok(Some((g, r.at.clone())));
        }
        self.address_match(r, &host)
    }

    fn fqdn_match(&self, fqdns: &[String], host: &str) -> Option<GrantHost> {
        let name = DnsName::parse(host).ok();
        for f in fqdns {
            if f == "*" {
                return Some(GrantHost::Any);
            }
            if let (Some(p), Some(n)) = (read_pattern(Syntax::Glob, f), &name)
                && admits(&p, n)
            {
                return Some(GrantHost::Pattern(p));
            }
        }
        None
    }

    fn address_match(&self, r: &Rule, host: &str) -> Result<Option<(GrantHost, Origin)>, String> {
        let ip = self.address_of(host);
        let name = DnsName::parse(host).ok();
        let mut unknown = None;
        for a in &r.addresses {
            let hit = || Ok(Some((GrantHost::Other(a.clone()), r.at.clone())));
            if a == "*" {
                return Ok(Some((GrantHost::Any, r.at.clone())));
            }
            if let Ok(net) = a
                .parse::<IpNet>()
                .or_else(|_| a.parse::<IpAddr>().map(IpNet::from))
            {
                match ip {
                    Some(ip) if net.contains(&ip) => return hit(),
                    Some(_) => {}
                    None => {
                        unknown = Some(format!("{host} would need a lookup to compare with {a}"))
                    }
                }
                continue;
            }
            // A service tag: the names it stands for, and its prefixes.
            let base = a.split('.').next().unwrap_or(a);
            let by_name = name.as_ref().is_some_and(|n| {
                self.tag_hosts
                    .iter()
                    .any(|(t, p)| t.eq_ignore_ascii_case(base) && admits(p, n))
            });
            let by_address = ip.is_some_and(|ip| {
                self.tag_prefixes
                    .get(a.as_str())
                    .or_else(|| self.tag_prefixes.get(base))
                    .is_some_and(|nets| nets.iter().any(|n| n.contains(&ip)))
            });
            if by_name || by_address {
                return hit();
            }
        }
        match unknown {
            Some(w) => Err(w),
            None => Ok(None),
        }
    }
}

/// Whether a destination port spec (`443`, `80-443`, `*`) holds `port`.
fn port_in(spec: &str, port: u16) -> bool {
    if spec == "*" {
        return true;
    }
    PortRange::parse(spec, &['-']).is_some_and(|r| r.contains(port))
}

impl AzConfig {
    fn undecidable_at(&self, i: usize, why: String) -> Decision {
        let mut v = Decision::denied(Some(self.rules[i].at.clone()), Some(i));
        v.access = Access::Undecidable(why);
        v
    }

    /// Allowed by rule `i`. An earlier rule that cannot be evaluated
    /// (`unknown`) would allow too, but may decrypt where rule `i` does
    /// not, or the other way round: then the TLS answer is undecidable.
    fn allowed(
        &self,
        i: usize,
        granted: (GrantHost, Origin),
        probe: &Probe,
        unknown: Option<usize>,
    ) -> Decision {
        let r = &self.rules[i];
        let mut v = Decision::denied(Some(r.at.clone()), Some(i));
        v.access = Access::Allowed;
        v.granted_by = Some(granted);
        if probe.scheme == Scheme::Https && r.application {
            v.tls = if r.terminate_tls {
                TlsSeen::Inspected
            } else {
                TlsSeen::Spliced
            };
            v.tls_by = Some(r.at.clone());
            if let Some(u) = unknown.map(|j| &self.rules[j])
                && u.application
                && u.terminate_tls != r.terminate_tls
            {
                v.tls = TlsSeen::Undecidable(format!(
                    "{} may match first and handles TLS otherwise",
                    u.at
                ));
            }
        }
        v
    }
}

impl Config for AzConfig {
    fn kind(&self) -> &'static str {
        "azure-firewall"
    }

    fn files(&self) -> Vec<String> {
        vec![self.file.clone()]
    }

    fn decide(&self, probe: &Probe) -> Decision {
        // A rule that cannot be evaluated changes a verdict only if its
        // action differs from the one that decides: an unknown Allow
        // before a certain Allow still allows, and before a Deny (or the
        // default deny) makes the answer undecidable; a Deny the other way
        // round.
        let mut unknown_allow: Option<(usize, String)> = None;
        let mut unknown_deny: Option<(usize, String)> = None;
        for (i, r) in self.rules.iter().enumerate() {
            match self.matches(r, probe) {
                Ok(None) => continue,
                Err(why) => {
                    let slot = if r.allow {
                        &mut unknown_allow
                    } else {
                        &mut unknown_deny
                    };
                    slot.get_or_insert((i, why));
                }
                Ok(Some(g)) if r.allow => {
                    if let Some((j, why)) = unknown_deny {
                        return self.undecidable_at(j, why);
                    }
                    return self.allowed(i, g, probe, unknown_allow.map(|(j, _)| j));
                }
                Ok(Some(_)) => {
                    if let Some((j, why)) = unknown_allow {
                        return self.undecidable_at(j, why);
                    }
                    return Decision::denied(Some(r.at.clone()), Some(i));
                }
            }
        }
        // Azure Firewall denies what no rule allows.
        match unknown_allow {
            Some((j, why)) => self.undecidable_at(j, why),
            None => Decision::denied(None, Some(self.rules.len())),
        }
    }

    fn grants(&self) -> Vec<Grant> {
        let mut out = Vec::new();
        for (rank, r) in self.rules.iter().enumerate() {
            if !r.allow {
                continue;
            }
            let ports: Option<Vec<u16>> = if r.application {
                Some(r.protocols.iter().map(|(_, p)| *p).collect())
            } else if r.ports.iter().any(|s| s == "*") {
                None
            } else {
                Some(
                    r.ports
                        .iter()
                        .filter_map(|s| s.parse::<u16>().ok())
                        .collect(),
                )
            };
            let mut hosts: Vec<(GrantHost, String)> = r
                .fqdns
                .iter()
                .map(|f| {
                    let h = if f == "*" {
                        GrantHost::Any
                    } else {
                        read_pattern(Syntax::Glob, f)
                            .map(GrantHost::Pattern)
                            .unwrap_or_else(|| GrantHost::Other(f.clone()))
                    };
                    (h, format!("{} {f}", r.name))
                })
                .collect();
            hosts.extend(r.addresses.iter().map(|a| {
                let h = if a == "*" {
                    GrantHost::Any
                } else {
                    GrantHost::Other(a.clone())
                };
                (h, format!("{} {a}", r.name))
            }));
            for (host, text) in hosts {
                out.push(Grant {
                    rule: r.at.clone(),
                    rank,
                    at: r.at.clone(),
                    host,
                    ports: ports.clone(),
                    path: None,
                    text,
                    inspect: r.application.then_some(r.terminate_tls),
                });
            }
        }
        out
    }

    fn rule_matches(&self, grant: &Grant, probe: &Probe) -> bool {
        self.rules
            .get(grant.rank)
            .is_some_and(|r| matches!(self.matches(r, probe), Ok(Some(_))))
    }

    fn undecidable(&self) -> Vec<Undecidable> {
        self.undecidable.clone()
    }

    fn inspects(&self) -> bool {
        self.rules.iter().any(|r| r.terminate_tls)
    }

    fn size(&self) -> usize {
        self.rules.len()
    }

    fn service_tags(&self) -> Vec<String> {
        let mut tags: Vec<String> = self
            .rules
            .iter()
            .flat_map(|r| &r.addresses)
            .filter(|a| {
                a.as_str() != "*" && a.parse::<IpNet>().is_err() && a.parse::<IpAddr>().is_err()
            })
            .cloned()
            .collect();
        tags.sort();
        tags.dedup();
        tags
    }
}
