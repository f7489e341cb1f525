//! Reading an Azure Firewall policy back, for `audit`: ARM template or rule groups.
//!
//! An ARM template or an exported rule collection group (JSON), with its
//! filter rule collections. Azure Firewall processes network rules before
//! application rules; within each, rule collection groups by priority, then
//! collections by priority; the first matching collection decides, and what
//! none allows is denied.
//!
//! Application rules match `targetFqdns` (glob syntax, read with the same
//! spelling code the backend writes with) on their protocol and port, and
//! `fqdnTags` by the hosts Microsoft documents for each tag
//! (`builtin:fqdn-tags`): a listed host matches; a host outside a tag
//! documented completely does not; any other host leaves the rule
//! undecidable for that request. A network rule's service tag admits the
//! names the tag stands for (`builtin:tag-hosts`) and the addresses of its
//! prefixes when the policy holds them; other addresses need `--resolve`.
//! IP groups, web categories and `targetUrls` are reported as undecidable.

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
use crate::sources::fqdn_tags::{self, FqdnTag, Listing};

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
    /// Application rules: the FQDN tags named, with what is known of them.
    tags: Vec<TagUse>,
    /// Network rules: addresses, prefixes, service tags, `*`.
    addresses: Vec<String>,
    /// Network rules: port specs (`443`, `80-443`, `*`).
    ports: Vec<String>,
    ip_protocols: Vec<String>,
    terminate_tls: bool,
    /// Why the rule cannot be evaluated, if it cannot.
    undecidable: Option<String>,
}

/// An FQDN tag as a rule names it, with the table's row when it has one
/// and that row's hosts as patterns (parsed once, not per request).
#[derive(Clone, Debug)]
struct TagUse {
    name: String,
    known: Option<&'static FqdnTag>,
    hosts: Vec<HostPattern>,
    /// Listed suffix globs the model cannot hold (`*-umwatsonc.…`).
    globs: Vec<&'static str>,
}

impl TagUse {
    fn new(name: String) -> TagUse {
        let known = fqdn_tags::find(&name);
        let hosts = known.map(FqdnTag::patterns).unwrap_or_default();
        let globs = known.map(FqdnTag::globs).unwrap_or_default();
        TagUse {
            name,
            known,
            hosts,
            globs,
        }
    }

    /// The listed host test that admits `host`, if one does.
    fn listed(&self, host: &str) -> Option<GrantHost> {
        let name = DnsName::parse(host).ok();
        let pattern = self
            .hosts
            .iter()
            .find(|p| name.as_ref().is_some_and(|n| admits(p, n)));
        if let Some(p) = pattern {
            return Some(GrantHost::Pattern(p.clone()));
        }
        let glob = self.globs.iter().find(|g| fqdn_tags::glob_admits(g, host));
        glob.map(|g| GrantHost::Other(g.to_string()))
    }

    /// Whether the tag holds `host`, as far as Microsoft says: the listed
    /// host test that admits it, none (outside a completely listed tag),
    /// or why it cannot be told.
    fn holds(&self, rule: &str, host: &str) -> Result<Option<GrantHost>, String> {
        match (self.listed(host), self.unknown(rule)) {
            (Some(g), _) => Ok(Some(g)),
            (None, None) => Ok(None),
            (None, Some(why)) => Err(why),
        }
    }

    /// Why a host outside the listed ones may still be in the tag; `None`
    /// when the tag is listed completely. Reported once for the rule too.
    fn unknown(&self, rule: &str) -> Option<String> {
        let tag = &self.name;
        let Some(t) = self.known else {
            return Some(format!(
                "rule {rule} uses fqdnTags {tag}, which builtin:fqdn-tags does not know"
            ));
        };
        match t.listing {
            Listing::Complete => None,
            Listing::AtLeast => Some(format!(
                "rule {rule} uses fqdnTags {tag}, of which Microsoft lists only some hosts ({})",
                t.source()
            )),
            Listing::Unlisted => Some(format!(
                "rule {rule} uses fqdnTags {tag}, whose hosts Microsoft does not publish ({})",
                t.source()
            )),
        }
    }
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

/// An application rule's `(protocol type, port)` pairs.
fn protocols(r: &Value) -> Vec<(String, u16)> {
    let Some(ps) = r.get("protocols").and_then(Value::as_array) else {
        return Vec::new();
    };
    ps.iter()
        .map(|p| {
            let kind = p.get("protocolType").and_then(Value::as_str).unwrap_or("");
            let port = p.get("port").and_then(Value::as_u64).unwrap_or(0);
            (kind.to_string(), u16::try_from(port).unwrap_or(0))
        })
        .collect()
}

/// Why a rule cannot be evaluated at all: a destination or source this
/// reader has no table for (an FQDN tag outside an application rule).
fn unevaluated(r: &Value, name: &str, application: bool) -> Option<String> {
    let keys = [
        "targetUrls",
        "sourceIpGroups",
        "destinationIpGroups",
        "webCategories",
    ];
    let tags = (!application).then_some("fqdnTags");
    keys.into_iter()
        .chain(tags)
        .find(|key| !strings(r, key).is_empty())
        .map(|key| format!("rule {name} uses {key}, which this reader does not evaluate"))
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
            let rule = self.rule(r, (group, priority), allow, lines);
            out.push(rule);
        }
    }

    /// One rule of a filter collection; what cannot be evaluated of it is
    /// noted as undecidable.
    fn rule(&mut self, r: &Value, order: (u64, u64), allow: bool, lines: &LineFinder) -> Rule {
        let name = r
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let at = Origin {
            file: self.file.clone(),
            line: lines.of_name(&name),
        };
        let application = r.get("ruleType").and_then(Value::as_str) == Some("ApplicationRule");
        let undecidable = unevaluated(r, &name, application);
        // FQDN tags belong to application rules; elsewhere they stay an
        // unknown the line above reports.
        let tags: Vec<TagUse> = if application {
            strings(r, "fqdnTags")
                .into_iter()
                .map(TagUse::new)
                .collect()
        } else {
            Vec::new()
        };
        let whys = undecidable
            .iter()
            .cloned()
            .chain(tags.iter().filter_map(|t| t.unknown(&name)));
        self.undecidable.extend(whys.map(|why| Undecidable {
            at: at.clone(),
            why,
        }));
        let mut fqdns = strings(r, "targetFqdns");
        fqdns.extend(strings(r, "destinationFqdns"));
        Rule {
            application,
            order,
            allow,
            at,
            name,
            sources: strings(r, "sourceAddresses"),
            protocols: protocols(r),
            fqdns,
            tags,
            addresses: strings(r, "destinationAddresses"),
            ports: strings(r, "destinationPorts"),
            ip_protocols: strings(r, "ipProtocols"),
            terminate_tls: r
                .get("terminateTLS")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            undecidable,
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
            if let Some(g) = self.fqdn_match(&r.fqdns, &host) {
                return Ok(Some((g, r.at.clone())));
            }
            return tag_match(r, &host).map(|g| g.map(|g| (g, r.at.clone())));
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

/// Whether one of the rule's FQDN tags holds `host`: yes as soon as one
/// does; no when none may; otherwise why it cannot be told, since a tag
/// that may hold it could make the rule match.
fn tag_match(r: &Rule, host: &str) -> Result<Option<GrantHost>, String> {
    let mut unknown = None;
    for t in &r.tags {
        match t.holds(&r.name, host) {
            Ok(Some(p)) => return Ok(Some(p)),
            Ok(None) => {}
            Err(why) => {
                unknown.get_or_insert(why);
            }
        }
    }
    unknown.map_or(Ok(None), Err)
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

/// The ports a rule's grants hold: its protocols' ports, or its
/// destination ports (`None`: any).
fn grant_ports(r: &Rule) -> Option<Vec<u16>> {
    if r.application {
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
    }
}

/// Every host test of a rule with its text: FQDNs, the hosts of its FQDN
/// tags as far as Microsoft lists them (marked with the tag, so a finding
/// on one says where it comes from), and addresses.
fn host_tests(r: &Rule) -> Vec<(GrantHost, String)> {
    let fqdns = r.fqdns.iter().map(|f| {
        let h = if f == "*" {
            GrantHost::Any
        } else {
            read_pattern(Syntax::Glob, f)
                .map(GrantHost::Pattern)
                .unwrap_or_else(|| GrantHost::Other(f.clone()))
        };
        (h, format!("{} {f}", r.name))
    });
    let tags = r.tags.iter().flat_map(|t| {
        let from = t.known.map(FqdnTag::source).unwrap_or_default();
        let patterns = t
            .hosts
            .iter()
            .map(|p| (GrantHost::Pattern(p.clone()), p.to_string()));
        let globs = t
            .globs
            .iter()
            .map(|g| (GrantHost::Other(g.to_string()), g.to_string()));
        patterns.chain(globs).map(move |(h, shown)| {
            let text = format!("{} {shown} (from FQDN tag {}: {from})", r.name, t.name);
            (h, text)
        })
    });
    let addresses = r.addresses.iter().map(|a| {
        let h = if a == "*" {
            GrantHost::Any
        } else {
            GrantHost::Other(a.clone())
        };
        (h, format!("{} {a}", r.name))
    });
    fqdns.chain(tags).chain(addresses).collect()
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
            let ports = grant_ports(r);
            for (host, text) in host_tests(r) {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A rule collection group of `(action, rule)` collections, read back.
    fn read_group(collections: &[(&str, Value)]) -> Box<dyn Config> {
        let cs: Vec<Value> = collections
            .iter()
            .enumerate()
            .map(|(i, (action, rule))| {
                serde_json::json!({
                    "ruleCollectionType": "FirewallPolicyFilterRuleCollection",
                    "name": format!("c{i}"), "priority": 100 + i,
                    "action": {"type": action}, "rules": [rule],
                })
            })
            .collect();
        let group = serde_json::json!({"properties": {"priority": 100, "ruleCollections": cs}});
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("group.json");
        std::fs::write(&path, serde_json::to_string_pretty(&group).unwrap()).unwrap();
        read(&path, &Options::default()).unwrap()
    }

    fn app(name: &str, key: &str, values: &[&str]) -> Value {
        serde_json::json!({
            "ruleType": "ApplicationRule", "name": name,
            "protocols": [{"protocolType": "Https", "port": 443}],
            "sourceAddresses": ["*"], key: values,
        })
    }

    fn access(c: &dyn Config, host: &str) -> Access {
        let probe = Probe {
            host: host.to_string(),
            port: 443,
            scheme: Scheme::Https,
            path: "/".to_string(),
            client: "10.0.0.1".parse().unwrap(),
        };
        c.decide(&probe).access
    }

    fn undecidable_naming(a: &Access, tag: &str) -> bool {
        matches!(a, Access::Undecidable(why) if why.contains(&format!("fqdnTags {tag}")))
    }

    /// A Deny rule's tag denies the hosts Microsoft lists for it; another
    /// host may be in the tag too, so before an allow-all it is open.
    #[test]
    fn an_fqdn_tag_deny_decides_listed_hosts_and_leaves_others_open() {
        let c = read_group(&[
            ("Deny", app("wu", "fqdnTags", &["WindowsUpdate"])),
            ("Allow", app("all", "targetFqdns", &["*"])),
        ]);
        assert_eq!(access(c.as_ref(), "a.update.microsoft.com"), Access::Denied);
        let other = access(c.as_ref(), "winatp-gw-weu.microsoft.com");
        assert!(undecidable_naming(&other, "WindowsUpdate"), "{other:?}");
    }

    /// Of two tags, one listing the host is enough; a host outside a
    /// completely listed tag is outside it, unless another tag of the
    /// rule may hold it.
    #[test]
    fn an_fqdn_tag_rule_matches_when_any_tag_lists_the_host() {
        let both = read_group(&[(
            "Allow",
            app("t", "fqdnTags", &["AzureBackup", "WindowsDiagnostics"]),
        )]);
        assert_eq!(
            access(both.as_ref(), "settings-win.data.microsoft.com"),
            Access::Allowed
        );
        assert_eq!(
            access(both.as_ref(), "eu-umwatsonc.events.data.microsoft.com"),
            Access::Allowed
        );
        let open = access(both.as_ref(), "winatp-gw-weu.microsoft.com");
        assert!(undecidable_naming(&open, "AzureBackup"), "{open:?}");
        let complete = read_group(&[("Allow", app("t", "fqdnTags", &["WindowsDiagnostics"]))]);
        let outside = access(complete.as_ref(), "winatp-gw-weu.microsoft.com");
        assert_eq!(outside, Access::Denied);
        assert!(complete.undecidable().is_empty());
    }

    /// FQDN tags belong to application rules: on a network rule the
    /// reader has no meaning for them and says so.
    #[test]
    fn fqdn_tags_on_a_network_rule_stay_unevaluated() {
        let net = serde_json::json!({
            "ruleType": "NetworkRule", "name": "n", "ipProtocols": ["TCP"],
            "sourceAddresses": ["*"], "destinationPorts": ["443"], "fqdnTags": ["WindowsUpdate"],
        });
        let c = read_group(&[("Allow", net)]);
        let u = c.undecidable();
        assert_eq!(u.len(), 1);
        assert!(
            u[0].why
                .contains("uses fqdnTags, which this reader does not evaluate")
        );
    }
}
