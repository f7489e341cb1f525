//! One coverage engine: every policy entry asked of a configuration as concrete requests.
//!
//! One coverage engine for every kind of configuration: each policy entry
//! is asked of the configuration as concrete requests ([`super::probe`]),
//! and the answers are read with the policy's own matching relations
//! (`covers`, `overlaps`), the same ones `explain` and collapse use.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use serde::Serialize;

use super::probe::{LABEL, entry_probes, sample_hosts};
use crate::backends::reader::{Access, Config, Decision, Grant, GrantHost, Origin, Probe, TlsSeen};
use crate::model::Scheme;
use crate::model::{HostPattern, Provenance, TlsHandling, Via};
use crate::policy::matching::{admits, covers, overlaps};
use crate::policy::{Policy, PolicyEntry};

/// How a configuration carries one policy entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Coverage {
    /// Every request of the entry passes, through lines no broader than
    /// the entry.
    Exact,
    /// Every request passes, through a line that admits more.
    Broader,
    /// Some requests pass, others do not (a port, the apex, a path, a
    /// narrower line).
    Partly,
    Missing,
    /// A line the reader cannot evaluate decides.
    Undecidable,
    /// Sent the wrong way by a configuration that routes (a PAC file): a
    /// direct-route host to a proxy, a proxied host DIRECT or to a proxy
    /// the ruleset does not list.
    RoutedWrong,
    /// The configuration's format cannot express the entry (a wildcard
    /// in a pfSense host alias): its own backend drops it too.
    NotExpressible,
    /// A direct-route entry: the devices do not use the proxy for it.
    DirectRoute,
    /// A placeholder the ruleset left open: nothing to probe.
    Unresolved,
}

impl Coverage {
    pub fn as_str(self) -> &'static str {
        match self {
            Coverage::Exact => "covered",
            Coverage::Broader => "covered more broadly",
            Coverage::Partly => "partly covered",
            Coverage::Missing => "missing",
            Coverage::Undecidable => "undecidable",
            Coverage::RoutedWrong => "routed wrong",
            Coverage::NotExpressible => "not expressible in this format",
            Coverage::DirectRoute => "direct route",
            Coverage::Unresolved => "unresolved",
        }
    }

    /// Whether the entry is a gap a CI gate fails on.
    pub fn is_gap(self) -> bool {
        matches!(
            self,
            Coverage::Partly | Coverage::Missing | Coverage::RoutedWrong
        )
    }
}

/// The finding about one policy entry.
#[derive(Clone, Debug, Serialize)]
pub struct EntryFinding {
    /// The policy entry's key (as in the loss report and `explain`).
    pub entry: String,
    pub host: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    pub ports: Vec<u16>,
    pub products: Vec<String>,
    pub route: Via,
    pub tls: TlsHandling,
    pub coverage: Coverage,
    /// Why, one sentence per request that did not simply pass.
    pub detail: Vec<String>,
    /// The configuration lines that decided.
    pub lines: Vec<Origin>,
    pub provenance: Vec<Provenance>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TlsIssue {
    /// A host Microsoft says must not be inspected is decrypted.
    Inspected,
    /// Any host under a storage wildcard is exempt from inspection.
    StorageWildcardExempted,
    /// A line the reader cannot evaluate decides whether it is inspected.
    Undecidable,
}

#[derive(Clone, Debug, Serialize)]
pub struct TlsFinding {
    pub issue: TlsIssue,
    /// The entry key, or the never-exempt pattern.
    pub subject: String,
    /// The request that showed it.
    pub request: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by: Option<Origin>,
    pub why: String,
    pub provenance: Vec<Provenance>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LineIssue {
    /// Admits a whole registrable domain, a public suffix, every host, or
    /// a storage wildcard, beyond what any policy entry needs.
    OverBroad,
    /// The same host test again, on the same ports.
    Duplicate,
    /// Every request it would allow is decided by an earlier line.
    Shadowed,
    /// Read but not evaluable here.
    Undecidable,
    /// Ignored by the product itself (a misspelt directive).
    Ignored,
}

#[derive(Clone, Debug, Serialize)]
pub struct LineFinding {
    pub issue: LineIssue,
    pub at: Origin,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<Origin>,
    pub text: String,
    pub why: String,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Summary {
    pub entries: usize,
    pub covered: usize,
    pub broader: usize,
    pub partly: usize,
    pub missing: usize,
    pub undecidable: usize,
    pub routed_wrong: usize,
    pub not_expressible: usize,
    pub direct_route: usize,
    pub unresolved: usize,
    pub tls_violations: usize,
    pub over_broad_lines: usize,
    pub duplicate_lines: usize,
    pub shadowed_lines: usize,
    pub undecidable_lines: usize,
    /// Lines the product ignores (misspelt directives).
    pub ignored_lines: usize,
}

/// The audit of one configuration against one policy.
#[derive(Clone, Debug, Serialize)]
pub struct ConfigAudit {
    pub kind: &'static str,
    pub files: Vec<String>,
    /// Whether the configuration can decrypt TLS at all.
    pub inspects: bool,
    pub client: IpAddr,
    pub summary: Summary,
    pub entries: Vec<EntryFinding>,
    pub tls: Vec<TlsFinding>,
    pub lines: Vec<LineFinding>,
}

/// Host tests checked for shadowing, each with a few requests: enough for
/// any hand-written configuration, bounded for a hostile one.
const MAX_SHADOW_CHECKS: usize = 5000;
/// Rule evaluations the shadowing checks may spend in all.
const SHADOW_BUDGET: usize = 20_000_000;

/// Audits one configuration against a policy, for a device at `client`.
pub fn audit(policy: &Policy, config: &dyn Config, client: IpAddr) -> ConfigAudit {
    let mut tls = Vec::new();
    let cannot = super::inexpressible(policy, config.kind());
    let entries: Vec<EntryFinding> = policy
        .entries
        .iter()
        .map(|e| {
            let mut f = entry_finding(e, &policy.ruleset.proxies, config, client, &mut tls);
            // What the format cannot say is no gap of this configuration,
            // and no wonder when only a lookup could tell.
            let open = f.coverage.is_gap() || f.coverage == Coverage::Undecidable;
            if let (true, Some(why)) = (open, cannot.get(&f.entry)) {
                f.coverage = Coverage::NotExpressible;
                f.detail.insert(0, format!("{} {why}", config.kind()));
            }
            f
        })
        .collect();
    if config.inspects() {
        tls.extend(storage_exemptions(policy, config, client));
    }
    let lines = line_findings(policy, config, client);
    let summary = summarize(&entries, &tls, &lines);
    ConfigAudit {
        kind: config.kind(),
        files: config.files(),
        inspects: config.inspects(),
        client,
        summary,
        entries,
        tls,
        lines,
    }
}

fn entry_finding(
    e: &PolicyEntry,
    proxies: &[String],
    config: &dyn Config,
    client: IpAddr,
    tls: &mut Vec<TlsFinding>,
) -> EntryFinding {
    let mut f = EntryFinding {
        entry: e.key(),
        host: e.host.to_string(),
        path: e.path.clone(),
        ports: e.ports.iter().copied().collect(),
        products: e.products.iter().map(|p| p.as_str().to_string()).collect(),
        route: e.route,
        tls: e.tls,
        coverage: Coverage::Unresolved,
        detail: Vec::new(),
        lines: Vec::new(),
        provenance: e.provenance.clone(),
    };
    if e.route == Via::Direct && config.is_proxy() {
        f.coverage = Coverage::DirectRoute;
        f.detail
            .push("routed direct by the policy: the proxy is not asked".to_string());
        return f;
    }
    let probes = entry_probes(e, client);
    if probes.is_empty() {
        f.detail.push(format!(
            "{} has a placeholder the ruleset left open",
            e.host
        ));
        return f;
    }
    let answers: Vec<(Probe, Decision)> = probes
        .into_iter()
        .map(|p| {
            let v = config.decide(&p);
            (p, v)
        })
        .collect();
    let mut lines = BTreeSet::new();
    for (_, v) in &answers {
        lines.extend(v.by.clone());
        lines.extend(v.granted_by.as_ref().map(|(_, at)| at.clone()));
        lines.extend(v.tls_by.clone());
    }
    f.lines = lines.into_iter().collect();
    f.coverage = if config.routes() {
        route_coverage(e, proxies, &answers, &mut f.detail)
    } else {
        coverage(e, config, &answers, &mut f.detail)
    };
    check_tls(e, &answers, tls);
    f
}

/// The first route of a PAC answer: `PROXY a:1; DIRECT` -> `PROXY a:1`.
pub fn first_route(answer: &str) -> String {
    answer
        .split(';')
        .map(|r| r.split_whitespace().collect::<Vec<_>>().join(" "))
        .find(|r| !r.is_empty())
        .unwrap_or_default()
}

/// Whether a route sends a request where the policy wants it: DIRECT for
/// a direct-route entry; otherwise a proxy, one the ruleset lists if it
/// lists any.
fn route_ok(e: &PolicyEntry, proxies: &[String], first: &str) -> bool {
    let upper = first.to_ascii_uppercase();
    match e.route {
        Via::Direct => upper == "DIRECT",
        Via::Proxy => match upper.split_once(' ') {
            Some(("PROXY" | "HTTPS", address)) => {
                proxies.is_empty() || proxies.iter().any(|p| p.eq_ignore_ascii_case(address))
            }
            _ => false,
        },
    }
}

/// Reads the answers of a routing configuration (a PAC file).
fn route_coverage(
    e: &PolicyEntry,
    proxies: &[String],
    answers: &[(Probe, Decision)],
    detail: &mut Vec<String>,
) -> Coverage {
    let want = match e.route {
        Via::Direct => "DIRECT".to_string(),
        Via::Proxy if proxies.is_empty() => "through a proxy".to_string(),
        Via::Proxy => format!("through {}", proxies.join(" or ")),
    };
    let mut wrong = false;
    let mut undecided = false;
    for (p, v) in answers {
        if let Access::Undecidable(why) = &v.access {
            undecided = true;
            detail.push(format!("{p}: {why}"));
            continue;
        }
        let first = first_route(v.route.as_deref().unwrap_or(""));
        if !route_ok(e, proxies, &first) {
            wrong = true;
            let shown = if first.is_empty() {
                "nowhere (empty answer)"
            } else {
                &first
            };
            detail.push(format!("{p} goes {shown}; the policy sends it {want}"));
        }
    }
    if wrong {
        Coverage::RoutedWrong
    } else if undecided {
        Coverage::Undecidable
    } else {
        Coverage::Exact
    }
}

/// Reads the answers of an entry's probes as one coverage verdict.
fn coverage(
    e: &PolicyEntry,
    config: &dyn Config,
    answers: &[(Probe, Decision)],
    detail: &mut Vec<String>,
) -> Coverage {
    let allowed = answers
        .iter()
        .filter(|(_, v)| v.access == Access::Allowed)
        .count();
    let mut undecided = false;
    for (p, v) in answers {
        match &v.access {
            Access::Allowed => {}
            Access::Denied => detail.push(format!("{p} is denied by {}", by(v))),
            Access::Undecidable(why) => {
                undecided = true;
                detail.push(format!("{p}: {why} ({})", by(v)));
            }
        }
    }
    if undecided {
        return Coverage::Undecidable;
    }
    if allowed == answers.len() {
        return breadth(e, answers, detail);
    }
    if allowed > 0 {
        return Coverage::Partly;
    }
    // No probe passed: a line that lets some of the entry's hosts through
    // (a single name under a wildcard) still covers part of it.
    let client = answers.first().map(|(p, _)| p.client);
    let partial = config
        .grants()
        .into_iter()
        .find(|g| match (&g.host, client) {
            (GrantHost::Pattern(p), Some(client)) => {
                overlaps(p, &e.host) && lets_some_through(config, e, p, client)
            }
            _ => false,
        });
    if let Some(g) = partial {
        detail.push(format!(
            "only {} ({}) admits part of it",
            grant_text(&g),
            g.at
        ));
        return Coverage::Partly;
    }
    Coverage::Missing
}

/// Whether a host both `line` and the entry admit passes on one of the
/// entry's ports.
fn lets_some_through(
    config: &dyn Config,
    e: &PolicyEntry,
    line: &HostPattern,
    client: IpAddr,
) -> bool {
    let shared = sample_hosts(line)
        .into_iter()
        .chain(sample_hosts(&e.host))
        .filter(|h| {
            crate::model::DnsName::parse(h).is_ok_and(|n| admits(line, &n) && admits(&e.host, &n))
        });
    let path = e.path.clone().unwrap_or_else(|| "/".to_string());
    for host in shared {
        for &port in &e.ports {
            let probe = Probe {
                host: host.clone(),
                port,
                scheme: Scheme::for_port(port),
                path: path.clone(),
                client,
            };
            if config.decide(&probe).access == Access::Allowed {
                return true;
            }
        }
    }
    false
}

fn by(v: &Decision) -> String {
    v.by.as_ref()
        .map(|o| o.to_string())
        .unwrap_or_else(|| "the default".to_string())
}

fn grant_text(g: &Grant) -> String {
    match &g.host {
        GrantHost::Any => "a line that tests no destination".to_string(),
        GrantHost::Pattern(p) => format!("{p}{}", g.path.as_deref().unwrap_or("")),
        GrantHost::Other(text) => text.clone(),
    }
}

/// Every request passed: exact, or through a line that admits more.
fn breadth(e: &PolicyEntry, answers: &[(Probe, Decision)], detail: &mut Vec<String>) -> Coverage {
    let mut broader = false;
    let mut seen = BTreeSet::new();
    for (_, v) in answers {
        let Some((host, at)) = &v.granted_by else {
            continue;
        };
        if !seen.insert(at.clone()) {
            continue;
        }
        match host {
            GrantHost::Any => {
                broader = true;
                detail.push(format!("allowed by {at}, which admits every destination"));
            }
            GrantHost::Pattern(p) if !covers(&e.host, p) => {
                broader = true;
                detail.push(format!("allowed by {p} ({at}), {}", wider(&e.host, p)));
            }
            GrantHost::Pattern(_) | GrantHost::Other(_) => {}
        }
    }
    if e.path.is_some() {
        let path = e.path.as_deref().unwrap_or("");
        if answers.iter().any(|(p, _)| p.scheme == Scheme::Https) {
            // Over TLS the path is not visible without inspection.
            broader = true;
            detail.push(format!(
                "the path {path} cannot be enforced over TLS: the whole host is allowed"
            ));
        }
    }
    if broader {
        Coverage::Broader
    } else {
        Coverage::Exact
    }
}

/// How a pattern that covers an entry's requests admits more than it.
fn wider(entry: &HostPattern, line: &HostPattern) -> String {
    match (entry, line) {
        (HostPattern::Subdomains(x), HostPattern::Domain(y)) if x == y => {
            format!("which also admits the apex {x}")
        }
        _ => "which admits more than the entry".to_string(),
    }
}

/// A must-not-inspect entry whose requests are decrypted, or whose
/// inspection a line decides that cannot be evaluated.
fn check_tls(e: &PolicyEntry, answers: &[(Probe, Decision)], out: &mut Vec<TlsFinding>) {
    if e.tls != TlsHandling::MustNotInspect {
        return;
    }
    for (p, v) in answers {
        let (issue, why) = match &v.tls {
            TlsSeen::Inspected => (
                TlsIssue::Inspected,
                "decrypted, but Microsoft says inspection breaks this connection".to_string(),
            ),
            TlsSeen::Undecidable(why) => (TlsIssue::Undecidable, why.clone()),
            TlsSeen::Spliced | TlsSeen::NotApplicable => continue,
        };
        out.push(TlsFinding {
            issue,
            subject: e.key(),
            request: p.to_string(),
            by: v.tls_by.clone(),
            why,
            provenance: e.provenance.clone(),
        });
        // One request shows it; the others would say the same.
        return;
    }
}

/// A storage wildcard (a never-exempt pattern) whose arbitrary hosts are
/// spliced: anyone can create a storage account and be exempt.
fn storage_exemptions(policy: &Policy, config: &dyn Config, client: IpAddr) -> Vec<TlsFinding> {
    let mut out = Vec::new();
    for n in &policy.tls.never_bypass {
        for host in sample_hosts(&n.host) {
            // The apex of a wildcard is not a storage account.
            if !host.starts_with(LABEL) {
                continue;
            }
            let probe = Probe {
                host,
                port: 443,
                scheme: Scheme::Https,
                path: "/".to_string(),
                client,
            };
            let v = config.decide(&probe);
            if v.access == Access::Allowed && v.tls == TlsSeen::Spliced {
                out.push(TlsFinding {
                    issue: TlsIssue::StorageWildcardExempted,
                    subject: n.host.to_string(),
                    request: probe.to_string(),
                    by: v.tls_by.clone(),
                    why: format!(
                        "any host under {} is exempt from inspection: anyone can create a storage account there",
                        n.host
                    ),
                    provenance: n.provenance.clone(),
                });
            }
        }
    }
    out
}

fn line_findings(policy: &Policy, config: &dyn Config, client: IpAddr) -> Vec<LineFinding> {
    let grants = config.grants();
    let checks = MAX_SHADOW_CHECKS.min(SHADOW_BUDGET / (4 * config.size().max(1)));
    let mut out = Vec::new();
    let mut judged = BTreeSet::new();
    // The first grant of each (host, ports, path), for duplicates.
    let mut first: BTreeMap<String, usize> = BTreeMap::new();
    for (i, g) in grants.iter().enumerate() {
        // One ACL value may serve several rules: judge what is written
        // once, where it is written.
        if judged.insert((g.at.clone(), g.rule.clone(), g.text.clone()))
            && let Some(why) = over_broad(policy, g)
            && !out.iter().any(|f: &LineFinding| {
                f.issue == LineIssue::OverBroad && f.at == g.at && f.text == g.text
            })
        {
            out.push(line(LineIssue::OverBroad, g, why));
        }
        // The same test written twice; not one value used by two rules.
        let key = format!("{:?} {:?} {:?} {:?}", g.host, g.ports, g.path, g.inspect);
        let earlier = *first.entry(key).or_insert(i);
        let o = &grants[earlier];
        if earlier != i && o.at != g.at {
            let why = format!("the same as {} ({})", grant_text(o), o.at);
            out.push(line(LineIssue::Duplicate, g, why));
        } else if i < checks
            && let Some(why) = shadowed(config, g, client)
        {
            out.push(line(LineIssue::Shadowed, g, why));
        }
    }
    if grants.len() > checks {
        let g = &grants[checks];
        out.push(LineFinding {
            issue: LineIssue::Undecidable,
            at: g.at.clone(),
            rule: Some(g.rule.clone()),
            text: g.text.clone(),
            why: format!(
                "{} host tests from here on were not checked for shadowing (only the first {checks} are, in a configuration this large)",
                grants.len() - checks
            ),
        });
    }
    for i in config.ignored() {
        out.push(LineFinding {
            issue: LineIssue::Ignored,
            at: i.at,
            rule: None,
            text: String::new(),
            why: i.why,
        });
    }
    for u in config.undecidable() {
        out.push(LineFinding {
            issue: LineIssue::Undecidable,
            at: u.at,
            rule: None,
            text: String::new(),
            why: u.why,
        });
    }
    out.sort_by(|a, b| (a.issue, &a.at).cmp(&(b.issue, &b.at)));
    out
}

fn line(issue: LineIssue, g: &Grant, why: String) -> LineFinding {
    LineFinding {
        issue,
        at: g.at.clone(),
        rule: Some(g.rule.clone()),
        text: g.text.clone(),
        why,
    }
}

/// Why a line admits more than a site needs, if it does: every
/// destination, a public suffix, a whole registrable domain, or a storage
/// wildcard, when no policy entry needs as much.
fn over_broad(policy: &Policy, g: &Grant) -> Option<String> {
    let p = match &g.host {
        GrantHost::Any => return Some("admits every destination".to_string()),
        GrantHost::Pattern(p) => p,
        GrantHost::Other(_) => return None,
    };
    if matches!(p, HostPattern::Exact(_) | HostPattern::Template(_)) {
        return None;
    }
    // What the policy needs; `*.x` needs `.x` but for the apex, which is
    // as close as some formats (Squid) can say it.
    let needed = |e: &PolicyEntry| {
        covers(&e.host, p)
            || matches!((&e.host, p), (HostPattern::Subdomains(a), HostPattern::Domain(b)) if a == b)
    };
    if policy.entries.iter().any(needed) {
        return None;
    }
    let name = p.name().as_str();
    if crate::model::host::is_public_suffix(name) {
        return Some(format!(
            "{p} admits every domain under the public suffix {name}"
        ));
    }
    if psl::domain_str(name) == Some(name) {
        return Some(format!(
            "{p} admits the whole registrable domain {name}, beyond what the policy needs"
        ));
    }
    if let Some(n) = policy.tls.never_bypass.iter().find(|n| covers(p, &n.host)) {
        return Some(format!(
            "{p} admits every storage account under {}, beyond what the policy needs",
            n.host
        ));
    }
    None
}

/// Whether every request the grant would allow is decided by an earlier
/// line; the deciding line, if so.
fn shadowed(config: &dyn Config, g: &Grant, client: IpAddr) -> Option<String> {
    let GrantHost::Pattern(p) = &g.host else {
        return None;
    };
    let ports = g.ports.clone().unwrap_or_else(|| vec![443]);
    let mut deciders = BTreeSet::new();
    for host in sample_hosts(p) {
        for &port in &ports {
            let probe = Probe {
                host: host.clone(),
                port,
                scheme: Scheme::for_port(port),
                path: g.path.clone().unwrap_or_else(|| "/".to_string()),
                client,
            };
            if !config.rule_matches(g, &probe) {
                return None;
            }
            let v = config.decide(&probe);
            // A rule that decides TLS differently in front of this one
            // is layering (an exemption before an inspecting rule).
            let layered = g.inspect.is_some()
                && v.tls != TlsSeen::NotApplicable
                && (v.tls == TlsSeen::Inspected) != g.inspect.unwrap_or(false);
            match (v.rank, &v.by) {
                (Some(rank), Some(by)) if rank < g.rank && !layered => {
                    deciders.insert(by.clone());
                }
                _ => return None,
            }
        }
    }
    let list: Vec<String> = deciders.iter().map(|o| o.to_string()).collect();
    (!list.is_empty()).then(|| format!("decided earlier by {}", list.join(", ")))
}

fn summarize(entries: &[EntryFinding], tls: &[TlsFinding], lines: &[LineFinding]) -> Summary {
    let mut s = Summary {
        entries: entries.len(),
        ..Default::default()
    };
    for e in entries {
        match e.coverage {
            Coverage::Exact => s.covered += 1,
            Coverage::Broader => s.broader += 1,
            Coverage::Partly => s.partly += 1,
            Coverage::Missing => s.missing += 1,
            Coverage::Undecidable => s.undecidable += 1,
            Coverage::RoutedWrong => s.routed_wrong += 1,
            Coverage::NotExpressible => s.not_expressible += 1,
            Coverage::DirectRoute => s.direct_route += 1,
            Coverage::Unresolved => s.unresolved += 1,
        }
    }
    s.tls_violations = tls
        .iter()
        .filter(|t| t.issue != TlsIssue::Undecidable)
        .count();
    for l in lines {
        match l.issue {
            LineIssue::OverBroad => s.over_broad_lines += 1,
            LineIssue::Duplicate => s.duplicate_lines += 1,
            LineIssue::Shadowed => s.shadowed_lines += 1,
            LineIssue::Undecidable => s.undecidable_lines += 1,
            LineIssue::Ignored => s.ignored_lines += 1,
        }
    }
    s
}
