//! `audit` of Azure Firewall policies against an evaluator of our own.
//!
//! The oracle below is a second, separate reading of a rule collection
//! group, written from Microsoft's documented semantics ("Rule processing
//! using Firewall Policy"): DNAT rules first, then network rules, then
//! application rules; within each kind, rule collection groups by
//! priority, collections by priority within a group; the first rule that
//! matches decides with its collection's action; what none matches is
//! denied. It parses the JSON itself, with the line of every key, so the
//! lines it expects are not the reader's. It knows nothing of FQDN tags
//! but a few hosts copied from Microsoft's pages: any other request a tag
//! might match stays undecided, and it is compared only where it decides.
//!
//! The hand-written fixtures under `fixtures/audit/azure/` reproduce what
//! real policies do: three rules named `CRL`, an `fqdnTags` rule before a
//! certain allow, an allow-all last, a Deny collection in a group of
//! higher priority, a network rule to a prefix before application rules.
//! Every probe of every policy entry is compared, verdict and line.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use common::egressgen;
use egressgen::audit::probe::entry_probes;
use egressgen::backends::reader::Probe;
use egressgen::model::Scheme;
use egressgen::policy::Policy;
use egressgen::ruleset::Ruleset;
use ipnet::IpNet;
use serde_json::Value;

const CLIENT: &str = "10.0.0.1";

fn ruleset() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("rulesets/commercial-eu.toml")
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/audit/azure")
        .join(name)
}

fn policy() -> Policy {
    let r = Ruleset::load(&ruleset()).unwrap_or_else(|e| panic!("{e}"));
    egressgen::generate::policy_for(&r).unwrap_or_else(|e| panic!("{e}"))
}

/// `egressgen audit --format json` of one configuration, with name
/// lookups answered from `resolve`.
fn audit(conf: &Path, resolve: &[(&str, &str)]) -> Value {
    let mut args: Vec<String> = ["audit", "--format", "json", "--client", CLIENT, "--ruleset"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.push(ruleset().display().to_string());
    for (host, ip) in resolve {
        args.push("--resolve".into());
        args.push(format!("{host}:{ip}"));
    }
    args.push(conf.display().to_string());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = egressgen(&args);
    assert!(
        matches!(out.status.code(), Some(0 | 20..=29)),
        "{:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

// ---------------------------------------------------------------------
// A JSON reader that keeps the line of every key.

/// A JSON value; an object's members keep the line their key is on.
#[derive(Debug)]
enum J {
    Obj(Vec<(String, usize, J)>),
    Arr(Vec<J>),
    Str(String),
    Num(f64),
    Other,
}

impl J {
    fn get(&self, key: &str) -> Option<&J> {
        match self {
            J::Obj(m) => m.iter().find(|(k, _, _)| k == key).map(|(_, _, v)| v),
            _ => None,
        }
    }

    fn line_of(&self, key: &str) -> Option<usize> {
        match self {
            J::Obj(m) => m.iter().find(|(k, _, _)| k == key).map(|(_, l, _)| *l),
            _ => None,
        }
    }

    fn str(&self, key: &str) -> &str {
        match self.get(key) {
            Some(J::Str(s)) => s,
            _ => "",
        }
    }

    fn num(&self, key: &str) -> f64 {
        match self.get(key) {
            Some(J::Num(n)) => *n,
            _ => f64::MAX,
        }
    }

    fn items(&self, key: &str) -> &[J] {
        match self.get(key) {
            Some(J::Arr(a)) => a,
            _ => &[],
        }
    }

    /// The strings (and numbers, as text) of an array member.
    fn strings(&self, key: &str) -> Vec<String> {
        self.items(key)
            .iter()
            .filter_map(|v| match v {
                J::Str(s) => Some(s.clone()),
                J::Num(n) => Some(n.to_string()),
                _ => None,
            })
            .collect()
    }
}

struct Scanner<'a> {
    text: &'a [u8],
    at: usize,
    line: usize,
}

impl Scanner<'_> {
    fn parse(text: &str) -> J {
        let mut r = Scanner {
            text: text.as_bytes(),
            at: 0,
            line: 1,
        };
        r.value()
    }

    fn skip_space(&mut self) {
        while let Some(&c) = self.text.get(self.at) {
            match c {
                b'\n' => self.line += 1,
                b' ' | b'\t' | b'\r' => {}
                _ => return,
            }
            self.at += 1;
        }
    }

    fn next(&mut self) -> u8 {
        let c = self.text[self.at];
        self.at += 1;
        c
    }

    fn value(&mut self) -> J {
        self.skip_space();
        match self.text[self.at] {
            b'{' => self.object(),
            b'[' => self.array(),
            b'"' => J::Str(self.string()),
            b'-' | b'0'..=b'9' => self.number(),
            _ => {
                while self.at < self.text.len() && self.text[self.at].is_ascii_alphabetic() {
                    self.at += 1;
                }
                J::Other
            }
        }
    }

    fn object(&mut self) -> J {
        self.next();
        let mut members = Vec::new();
        loop {
            self.skip_space();
            if self.next() == b'}' {
                return J::Obj(members);
            }
            self.at -= 1;
            let line = self.line;
            let key = self.string();
            self.skip_space();
            assert_eq!(self.next(), b':');
            let v = self.value();
            members.push((key, line, v));
            self.skip_space();
            if self.next() == b'}' {
                return J::Obj(members);
            }
        }
    }

    fn array(&mut self) -> J {
        self.next();
        let mut items = Vec::new();
        loop {
            self.skip_space();
            if self.text[self.at] == b']' {
                self.at += 1;
                return J::Arr(items);
            }
            items.push(self.value());
            self.skip_space();
            if self.next() == b']' {
                return J::Arr(items);
            }
        }
    }

    /// A string without escapes beyond `\"` and `\\`: the fixtures are
    /// ours.
    fn string(&mut self) -> String {
        assert_eq!(self.next(), b'"');
        let mut out = Vec::new();
        loop {
            match self.next() {
                b'"' => return String::from_utf8(out).unwrap(),
                b'\\' => out.push(self.next()),
                c => out.push(c),
            }
        }
    }

    fn number(&mut self) -> J {
        let start = self.at;
        while self.at < self.text.len() && b"+-.eE0123456789".contains(&self.text[self.at]) {
            self.at += 1;
        }
        let text = std::str::from_utf8(&self.text[start..self.at]).unwrap();
        J::Num(text.parse().unwrap())
    }
}

// ---------------------------------------------------------------------
// The oracle.

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    Dnat,
    Network,
    Application,
}

/// One rule, where the firewall puts it.
struct Rule<'a> {
    stage: Stage,
    /// (group priority, collection priority, place in the file).
    order: (u64, u64, usize),
    allow: bool,
    /// The line of the rule object's `"name"`.
    line: usize,
    json: &'a J,
}

/// Hosts Microsoft's pages list for an FQDN tag, copied from the pages
/// (the Configuration Manager Internet access requirements, Software
/// updates; Configure Windows diagnostic data, Endpoints), not from the
/// tool's table. The oracle knows nothing else of any tag.
const DOCUMENTED: &[(&str, &[&str])] = &[
    (
        "WindowsUpdate",
        &["*.update.microsoft.com", "*.windowsupdate.com"],
    ),
    (
        "WindowsDiagnostics",
        &["settings-win.data.microsoft.com", "login.live.com"],
    ),
];

/// What the firewall does with a request, if the oracle can tell.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Verdict {
    Allowed(usize),
    /// By a rule's line, or by the default (`None`).
    Denied(Option<usize>),
}

/// Every rule of every filter and DNAT collection of a document, in
/// processing order.
fn rules(doc: &J) -> Vec<Rule<'_>> {
    let mut groups = Vec::new();
    find_groups(doc, &mut groups);
    let mut out = Vec::new();
    for group in groups {
        for c in group.items("ruleCollections") {
            collection_rules(group.num("priority") as u64, c, &mut out);
        }
    }
    out.sort_by_key(|r| (r.stage, r.order));
    out
}

/// Objects holding `ruleCollections`: the groups, at any depth.
fn find_groups<'a>(v: &'a J, out: &mut Vec<&'a J>) {
    match v {
        J::Obj(_) if v.get("ruleCollections").is_some() => out.push(v),
        J::Obj(members) => members.iter().for_each(|(_, _, m)| find_groups(m, out)),
        J::Arr(items) => items.iter().for_each(|m| find_groups(m, out)),
        _ => {}
    }
}

fn collection_rules<'a>(group: u64, c: &'a J, out: &mut Vec<Rule<'a>>) {
    let dnat = c.str("ruleCollectionType") == "FirewallPolicyNatRuleCollection";
    let action = c.get("action").map(|a| a.str("type")).unwrap_or("");
    for r in c.items("rules") {
        let stage = match (dnat, r.str("ruleType")) {
            (true, _) => Stage::Dnat,
            (false, "NetworkRule") => Stage::Network,
            _ => Stage::Application,
        };
        let place = out.len();
        out.push(Rule {
            stage,
            order: (group, c.num("priority") as u64, place),
            allow: !action.eq_ignore_ascii_case("deny"),
            line: r.line_of("name").unwrap_or(0),
            json: r,
        });
    }
}

/// Whether a rule matches: `Some(yes)`, or `None` when the oracle cannot
/// tell (a name with no address against a prefix, a tag's other hosts).
type Tri = Option<bool>;

fn any(tests: impl IntoIterator<Item = Tri>) -> Tri {
    let mut unknown = false;
    for t in tests {
        match t {
            Some(true) => return Some(true),
            None => unknown = true,
            Some(false) => {}
        }
    }
    if unknown { None } else { Some(false) }
}

fn all(tests: impl IntoIterator<Item = Tri>) -> Tri {
    let mut unknown = false;
    for t in tests {
        match t {
            Some(false) => return Some(false),
            None => unknown = true,
            Some(true) => {}
        }
    }
    if unknown { None } else { Some(true) }
}

/// What a request looks like to the firewall: its name, the address the
/// name resolves to when the test says so, its port and scheme.
struct Request<'a> {
    probe: &'a Probe,
    address: Option<IpAddr>,
}

fn cidr(text: &str) -> Option<IpNet> {
    text.parse::<IpNet>()
        .ok()
        .or_else(|| text.parse::<IpAddr>().ok().map(IpNet::from))
}

/// `*` or an address or prefix holding `ip`; anything else (an IP group,
/// a service tag) is unknown.
fn address_test(values: &[String], ip: Option<IpAddr>) -> Tri {
    any(values.iter().map(|v| {
        if v == "*" {
            return Some(true);
        }
        let net = cidr(v)?;
        ip.map(|ip| net.contains(&ip))
    }))
}

fn source_test(rule: &J) -> Tri {
    let client: IpAddr = CLIENT.parse().unwrap();
    let groups = (!rule.items("sourceIpGroups").is_empty()).then_some(None);
    let addresses = address_test(&rule.strings("sourceAddresses"), Some(client));
    any(std::iter::once(addresses).chain(groups))
}

fn port_test(specs: &[String], port: u16) -> Tri {
    Some(specs.iter().any(|s| {
        let (a, b) = s.split_once('-').unwrap_or((s, s));
        s == "*" || (a.parse().unwrap_or(u16::MAX)..=b.parse().unwrap_or(0)).contains(&port)
    }))
}

/// An application rule's FQDN test: `*`, `*.x` (below `x`, not `x`),
/// `*x`, or the name itself, without regard to case.
fn fqdn_test(pattern: &str, host: &str) -> bool {
    let pattern = pattern.to_ascii_lowercase();
    match pattern.strip_prefix('*') {
        Some("") => true,
        Some(rest) => host.len() > rest.len() && host.ends_with(rest),
        None => host == pattern,
    }
}

/// A tag holds a host the oracle was told of; about any other it cannot
/// say.
fn tag_test(tag: &str, host: &str) -> Tri {
    let listed = DOCUMENTED
        .iter()
        .filter(|(t, _)| *t == tag)
        .flat_map(|(_, hosts)| hosts.iter())
        .any(|p| fqdn_test(p, host));
    if listed { Some(true) } else { None }
}

fn application_match(rule: &J, req: &Request) -> Tri {
    let scheme = match req.probe.scheme {
        Scheme::Http => "Http",
        Scheme::Https => "Https",
    };
    let protocol = rule.items("protocols").iter().any(|p| {
        p.str("protocolType").eq_ignore_ascii_case(scheme)
            && p.num("port") == f64::from(req.probe.port)
    });
    let host = req.probe.host.as_str();
    let fqdns = rule
        .strings("targetFqdns")
        .into_iter()
        .map(|f| Some(fqdn_test(&f, host)));
    let tags = rule
        .strings("fqdnTags")
        .into_iter()
        .map(|t| tag_test(&t, host));
    let unknown = ["targetUrls", "webCategories"]
        .into_iter()
        .filter(|k| !rule.items(k).is_empty())
        .map(|_| None);
    all([
        source_test(rule),
        Some(protocol),
        any(fqdns.chain(tags).chain(unknown)),
    ])
}

fn network_match(rule: &J, req: &Request) -> Tri {
    let tcp = rule
        .strings("ipProtocols")
        .iter()
        .any(|p| p.eq_ignore_ascii_case("tcp") || p.eq_ignore_ascii_case("any"));
    let by_name = rule
        .strings("destinationFqdns")
        .iter()
        .any(|f| f.eq_ignore_ascii_case(&req.probe.host));
    all([
        source_test(rule),
        Some(tcp),
        port_test(&rule.strings("destinationPorts"), req.probe.port),
        any([
            Some(by_name),
            address_test(&rule.strings("destinationAddresses"), req.address),
        ]),
    ])
}

/// DNAT rules translate what is sent to the firewall's own public
/// address: a request matches only when its name resolves to one of the
/// rule's destinations. The tests resolve no name there.
fn dnat_match(rule: &J, req: &Request) -> Tri {
    let to_firewall = req.address.is_some_and(|ip| {
        rule.strings("destinationAddresses")
            .iter()
            .filter_map(|a| cidr(a))
            .any(|n| n.contains(&ip))
    });
    all([
        Some(to_firewall),
        port_test(&rule.strings("destinationPorts"), req.probe.port),
    ])
}

/// The verdicts the firewall may reach for a request: the first rule
/// that certainly matches, and before it every rule that may.
fn possible(rules: &[Rule], req: &Request) -> Vec<Verdict> {
    let mut out = Vec::new();
    for r in rules {
        let m = match r.stage {
            Stage::Dnat => dnat_match(r.json, req),
            Stage::Network => network_match(r.json, req),
            Stage::Application => application_match(r.json, req),
        };
        let verdict = match (r.stage, r.allow) {
            (Stage::Dnat, _) | (_, true) => Verdict::Allowed(r.line),
            (_, false) => Verdict::Denied(Some(r.line)),
        };
        match m {
            Some(false) => {}
            Some(true) => {
                out.push(verdict);
                return out;
            }
            None => out.push(verdict),
        }
    }
    out.push(Verdict::Denied(None));
    out
}

// ---------------------------------------------------------------------
// Reading the report.

/// What the report says of one probe of an entry: its detail holds
/// `<probe> is denied by <line>` or `<probe>: <why>` (undecidable), and
/// nothing for one allowed.
#[derive(Debug, PartialEq, Eq)]
enum Said {
    Allowed,
    Denied(String),
    Undecidable,
}

fn said(entry: &Value, probe: &Probe) -> Said {
    let shown = probe.to_string();
    let details = entry["detail"].as_array().cloned().unwrap_or_default();
    for d in details.iter().filter_map(Value::as_str) {
        if let Some(by) = d.strip_prefix(&format!("{shown} is denied by ")) {
            return Said::Denied(by.to_string());
        }
        if d.starts_with(&format!("{shown}: ")) {
            return Said::Undecidable;
        }
    }
    Said::Allowed
}

fn entry_lines(entry: &Value) -> BTreeSet<usize> {
    entry["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["line"].as_u64().unwrap() as usize)
        .collect()
}

/// What the comparisons covered, so a run that compared nothing fails.
#[derive(Default, Debug)]
struct Tally {
    allowed: usize,
    denied_by_rule: usize,
    denied_by_default: usize,
    entries_with_lines: usize,
    undecided: usize,
}

/// Compares the report with the oracle for every probe of every entry of
/// one configuration.
fn compare(policy: &Policy, conf: &Path, resolve: &[(&str, &str)], tally: &mut Tally) {
    let text = std::fs::read_to_string(conf).unwrap();
    let doc = Scanner::parse(&text);
    let rules = rules(&doc);
    let addresses: BTreeMap<&str, IpAddr> = resolve
        .iter()
        .map(|(h, ip)| (*h, ip.parse().unwrap()))
        .collect();
    let report = audit(conf, resolve);
    let entries = report["configs"][0]["entries"].as_array().unwrap().clone();
    let by_key: BTreeMap<String, &Value> = entries
        .iter()
        .map(|e| (e["entry"].as_str().unwrap().to_string(), e))
        .collect();
    let file = conf.display().to_string();
    for e in &policy.entries {
        let entry = by_key[&e.key()];
        let mut lines = BTreeSet::new();
        let mut all_lines_known = true;
        for probe in entry_probes(e, CLIENT.parse().unwrap()) {
            let req = Request {
                probe: &probe,
                address: addresses.get(probe.host.as_str()).copied(),
            };
            let verdicts = possible(&rules, &req);
            let got = said(entry, &probe);
            let context = format!(
                "{}: {probe}: oracle {verdicts:?}, report {got:?}",
                conf.display()
            );
            check_probe(&verdicts, &got, &file, tally, &context);
            match verdicts.as_slice() {
                [Verdict::Allowed(l)] | [Verdict::Denied(Some(l))] => {
                    lines.insert(*l);
                }
                [Verdict::Denied(None)] => {}
                _ => all_lines_known = false,
            }
        }
        if all_lines_known {
            tally.entries_with_lines += 1;
            assert_eq!(entry_lines(entry), lines, "{}: {}", conf.display(), e.key());
        }
    }
}

/// One probe: the report agrees with every verdict the oracle reaches.
fn check_probe(verdicts: &[Verdict], got: &Said, file: &str, tally: &mut Tally, context: &str) {
    let allowed = verdicts.iter().all(|v| matches!(v, Verdict::Allowed(_)));
    let denied = verdicts.iter().all(|v| matches!(v, Verdict::Denied(_)));
    match verdicts {
        [Verdict::Denied(Some(l))] => {
            tally.denied_by_rule += 1;
            assert_eq!(*got, Said::Denied(format!("{file}:{l}")), "{context}");
        }
        [Verdict::Denied(None)] => {
            tally.denied_by_default += 1;
            assert_eq!(*got, Said::Denied("the default".into()), "{context}");
        }
        _ if allowed => {
            tally.allowed += 1;
            assert_eq!(*got, Said::Allowed, "{context}");
        }
        _ if denied => {
            // Denied either way, by lines the oracle cannot tell apart.
            assert!(matches!(got, Said::Denied(_)), "{context}");
        }
        _ => tally.undecided += 1,
    }
}

// ---------------------------------------------------------------------
// The tests.

/// The fixtures, with the name lookups each is audited with.
const FIXTURES: &[(&str, &[(&str, &str)])] = &[
    ("crl-three.json", &[]),
    ("tag-then-allow.json", &[]),
    ("allow-all-last.json", &[]),
    ("deny-first.json", &[]),
    (
        "network-prefix.json",
        &[
            ("winatp-gw-weu.microsoft.com", "20.50.2.3"),
            ("winatp-gw-neu.microsoft.com", "20.60.1.1"),
            ("login.windows.net", "20.50.9.9"),
            ("crl.microsoft.com", "20.50.1.1"),
        ],
    ),
];

#[test]
fn every_probe_agrees_with_an_independent_first_match_evaluator() {
    let policy = policy();
    let mut tally = Tally::default();
    for (name, resolve) in FIXTURES {
        compare(&policy, &fixture(name), resolve, &mut tally);
    }
    // Enough of every kind of answer was compared for the test to mean
    // something, and the oracle left some requests open (tags, prefixes).
    assert!(tally.allowed >= 60, "{tally:?}");
    assert!(tally.denied_by_rule >= 6, "{tally:?}");
    assert!(tally.denied_by_default >= 30, "{tally:?}");
    assert!(tally.entries_with_lines >= 100, "{tally:?}");
    assert!(tally.undecided >= 20, "{tally:?}");
}

/// One configuration written into `dir` from a rule collection group's
/// collections `(name, priority, action, rules)`, pretty-printed.
fn write_group(dir: &Path, file: &str, collections: &[(&str, u64, &str, Value)]) -> PathBuf {
    let cs: Vec<Value> = collections
        .iter()
        .map(|(name, priority, action, rules)| {
            serde_json::json!({
                "ruleCollectionType": "FirewallPolicyFilterRuleCollection",
                "name": name, "priority": priority,
                "action": {"type": action}, "rules": rules,
            })
        })
        .collect();
    let group = serde_json::json!({"properties": {"priority": 100, "ruleCollections": cs}});
    let path = dir.join(file);
    std::fs::write(&path, serde_json::to_string_pretty(&group).unwrap()).unwrap();
    path
}

/// An application rule on HTTP 80 and HTTPS 443 for everyone, with one
/// destination key.
fn app_rule(name: &str, key: &str, values: &[&str]) -> Value {
    serde_json::json!({
        "ruleType": "ApplicationRule", "name": name,
        "protocols": [{"protocolType": "Http", "port": 80}, {"protocolType": "Https", "port": 443}],
        "sourceAddresses": ["*"], key: values, "terminateTLS": false,
    })
}

/// The line of the rule named `name` in a written configuration, by the
/// oracle's own reading.
fn rule_line(path: &Path, name: &str) -> usize {
    let text = std::fs::read_to_string(path).unwrap();
    let doc = Scanner::parse(&text);
    let rules = rules(&doc);
    let rule = rules.iter().find(|r| r.json.str("name") == name).unwrap();
    rule.line
}

fn entry<'a>(report: &'a Value, key: &str) -> &'a Value {
    let entries = report["configs"][0]["entries"].as_array().unwrap();
    entries.iter().find(|e| e["entry"] == key).unwrap()
}

fn line_findings(report: &Value, issue: &str) -> Vec<Value> {
    let lines = report["configs"][0]["lines"].as_array().unwrap();
    lines
        .iter()
        .filter(|l| l["issue"] == issue)
        .cloned()
        .collect()
}

/// Microsoft's Internet access requirements page lists
/// `https://*.update.microsoft.com` and `http://*.windowsupdate.com` for
/// the software update point the WindowsUpdate tag refers to: a rule with
/// only that tag covers the policy's entries for them, at its own line.
/// Other hosts stay undecidable: the page lists only some of the tag.
#[test]
fn a_documented_windows_update_host_is_covered_by_the_tag() {
    let tmp = tempfile::tempdir().unwrap();
    let wu = app_rule("wu", "fqdnTags", &["WindowsUpdate"]);
    let path = write_group(
        tmp.path(),
        "wu.json",
        &[("updates", 100, "Allow", serde_json::json!([wu]))],
    );
    let report = audit(&path, &[]);
    let line = rule_line(&path, "wu");
    for key in [
        "allow/proxy/*.update.microsoft.com@443",
        "allow/proxy/*.windowsupdate.com@443",
    ] {
        let e = entry(&report, key);
        assert_eq!(e["coverage"], "exact", "{e:#}");
        assert_eq!(entry_lines(e), BTreeSet::from([line]), "{e:#}");
    }
    // ctldl.windowsupdate.com lies under *.windowsupdate.com.
    assert_eq!(
        entry(&report, "allow/proxy/ctldl.windowsupdate.com@80")["coverage"],
        "broader"
    );
    let gw = entry(&report, "allow/proxy/winatp-gw-weu.microsoft.com@443");
    assert_eq!(gw["coverage"], "undecidable", "{gw:#}");
    let source = egressgen::sources::fqdn_tags::find("WindowsUpdate")
        .unwrap()
        .source();
    let undecidable = line_findings(&report, "undecidable");
    assert_eq!(undecidable.len(), 1, "{undecidable:#?}");
    let why = undecidable[0]["why"].as_str().unwrap();
    assert!(
        why.contains("fqdnTags WindowsUpdate") && why.contains(&source),
        "{why}"
    );
}

/// A tag the table does not know, and one Microsoft describes without
/// hosts, leave every request they might match undecidable, and say
/// which tag (and, for the known one, where Microsoft describes it).
#[test]
fn a_tag_outside_the_table_stays_undecidable_and_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    for (tag, says) in [
        (
            "SomeFutureTag",
            "which builtin:fqdn-tags does not know".to_string(),
        ),
        (
            "AzureBackup",
            egressgen::sources::fqdn_tags::find("AzureBackup")
                .unwrap()
                .source(),
        ),
    ] {
        let rule = app_rule("tagged", "fqdnTags", &[tag]);
        let path = write_group(
            tmp.path(),
            "t.json",
            &[("c", 100, "Allow", serde_json::json!([rule]))],
        );
        let report = audit(&path, &[]);
        let e = entry(&report, "allow/proxy/*.update.microsoft.com@443");
        assert_eq!(e["coverage"], "undecidable", "{e:#}");
        let detail = e["detail"][0].as_str().unwrap();
        assert!(
            detail.contains(&format!("fqdnTags {tag}")) && detail.contains(&says),
            "{detail}"
        );
        let lines = line_findings(&report, "undecidable");
        assert_eq!(lines.len(), 1, "{lines:#?}");
        assert_eq!(lines[0]["at"]["line"], rule_line(&path, "tagged"));
    }
}

/// Microsoft defines WindowsDiagnostics as all the endpoints of one
/// table: a host in it is covered, a host outside it is not in the tag,
/// so with nothing else the default denies it (missing, not undecidable).
#[test]
fn a_completely_listed_tag_decides_hosts_outside_it() {
    let tmp = tempfile::tempdir().unwrap();
    let wd = app_rule("diag", "fqdnTags", &["WindowsDiagnostics"]);
    let path = write_group(
        tmp.path(),
        "wd.json",
        &[("c", 100, "Allow", serde_json::json!([wd]))],
    );
    let report = audit(&path, &[]);
    let covered = entry(&report, "allow/proxy/settings-win.data.microsoft.com@443");
    assert_eq!(covered["coverage"], "exact", "{covered:#}");
    let gw = entry(&report, "allow/proxy/winatp-gw-weu.microsoft.com@443");
    assert_eq!(gw["coverage"], "missing", "{gw:#}");
    assert_eq!(
        gw["detail"][0],
        "https://winatp-gw-weu.microsoft.com/ is denied by the default"
    );
    assert!(
        line_findings(&report, "undecidable").is_empty(),
        "{report:#}"
    );
}

/// A tag's listed hosts are host tests of its rule: one written again in
/// a later rule is a duplicate, and one a tag repeats is reported with
/// the tag it comes from.
#[test]
fn tag_hosts_take_part_in_duplicate_findings_marked_with_their_tag() {
    let tmp = tempfile::tempdir().unwrap();
    let explicit = app_rule("updates", "targetFqdns", &["*.update.microsoft.com"]);
    let tag = app_rule("wu", "fqdnTags", &["WindowsUpdate"]);
    for (first, second, later) in [
        (explicit.clone(), tag.clone(), "wu"),
        (tag.clone(), explicit.clone(), "updates"),
    ] {
        let path = write_group(
            tmp.path(),
            "dup.json",
            &[
                ("first", 100, "Allow", serde_json::json!([first])),
                ("second", 200, "Allow", serde_json::json!([second])),
            ],
        );
        let report = audit(&path, &[]);
        let dups = line_findings(&report, "duplicate");
        let at_later: Vec<&Value> = dups
            .iter()
            .filter(|d| d["at"]["line"] == rule_line(&path, later))
            .collect();
        assert_eq!(at_later.len(), 1, "{dups:#?}");
        let text = at_later[0]["text"].as_str().unwrap();
        assert!(text.contains("*.update.microsoft.com"), "{text}");
        assert_eq!(
            later == "wu",
            text.contains("from FQDN tag WindowsUpdate"),
            "{text}"
        );
    }
}

/// `catalog` shows the table as a source with its version, and each tag
/// with the page and date Microsoft documents it on, in JSON that matches
/// the catalog schema.
#[test]
fn the_tag_table_shows_its_pages_and_dates_in_catalog() {
    let out = egressgen(&[
        "catalog",
        "--source",
        "builtin:fqdn-tags",
        "--format",
        "json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let schema_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/catalog.schema.json");
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(schema_path).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    assert!(validator.is_valid(&json), "{json:#}");
    let source = &json["sources"][0];
    assert_eq!(source["file"], "builtin:fqdn-tags");
    assert!(
        source["version"].as_str().is_some_and(|v| v.len() == 10),
        "{source:#}"
    );
    let notes = json["notes"].as_array().unwrap();
    let tags = egressgen::sources::fqdn_tags::all();
    assert_eq!(notes.len(), tags.len());
    for t in tags {
        let note = notes
            .iter()
            .filter_map(|n| n["message"].as_str())
            .find(|m| m.starts_with(&format!("FQDN tag {} ", t.name)))
            .unwrap_or_else(|| panic!("{}: {notes:#?}", t.name));
        assert!(note.contains(t.page) && note.contains(t.date), "{note}");
    }
    let table = egressgen(&["catalog", "--source", "builtin:fqdn-tags"]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.contains("builtin:fqdn-tags") && text.contains("FQDN tag WindowsUpdate"),
        "{text}"
    );
}
