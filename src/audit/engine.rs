//! One coverage engine: every policy entry asked of a configuration as concrete requests.
//!
//! One coverage engine for every kind of configuration: each policy entry
//! is asked of the configuration as concrete requests ([`super::probe`]),
//! and the answers are read with the policy's own matching relations
//! (`covers`, `overlaps`), the same ones `explain` and collapse use.

use std::collections::BTreeSet;
use std::net::IpAddr;

use serde::Serialize;

use super::lines::grant_text;
use super::probe::{LABEL, entry_probes, sample_hosts};
use crate::backends::reader::{
    Access, Change, Config, Decision, Grant, GrantHost, Origin, Probe, TlsSeen,
};
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
    /// For a gap: the change that closes it, in the configuration's own
    /// syntax and naming where (`add x to acl gw at squid.conf:6`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
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
    /// The change that ends it, in the configuration's own syntax (the
    /// splice rule to add).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    pub provenance: Vec<Provenance>,
}

/// A hole an administrator of the product would want closed, whatever
/// the policy: reported before the policy's own findings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SecurityIssue {
    /// A line admits every destination for clients beyond the proxy host
    /// itself: the policy's own lines decide nothing it covers.
    AllowAll,
    /// A client outside every network the configuration names is let
    /// through: an open proxy wherever its port is reachable.
    OpenProxy,
    /// A tunnel (CONNECT) to a port other than 443 is let through: clients
    /// can reach mail, SSH or anything else through the proxy.
    ConnectAnyPort,
}

#[derive(Clone, Debug, Serialize)]
pub struct SecurityFinding {
    pub issue: SecurityIssue,
    /// The line that lets it through.
    pub at: Origin,
    pub text: String,
    pub why: String,
    /// The change that closes it, in the configuration's own syntax.
    pub fix: String,
    /// Policy entries whose requests only this line lets through (an
    /// allow-all in front of the policy's own lines).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub covers: Option<usize>,
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
    pub security_findings: usize,
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
    /// Holes whatever the policy, most severe first.
    pub security: Vec<SecurityFinding>,
    pub lines: Vec<LineFinding>,
    /// For a configuration that routes (a PAC file): the statement that
    /// answers hosts no earlier test names, when policy entries get their
    /// route only from it. Information, not a finding: a default `PROXY`
    /// is how most PAC files end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_route: Option<DefaultRoute>,
}

/// The route a PAC file gives every host it does not name.
#[derive(Clone, Debug, Serialize)]
pub struct DefaultRoute {
    /// The `return` that answers.
    pub at: Origin,
    /// Its first route (`PROXY p:8080`, `DIRECT`).
    pub route: String,
    /// Policy entries whose route comes only from it.
    pub covers: usize,
    pub why: String,
}

/// Audits one configuration against a policy, for a device at `client`.
pub fn audit(policy: &Policy, config: &dyn Config, client: IpAddr) -> ConfigAudit {
    let mut tls = Vec::new();
    let cannot = super::inexpressible(policy, config.kind());
    // Built once: a configuration may hold 100,000 host tests.
    let grants = config.grants();
    let entries: Vec<EntryFinding> = policy
        .entries
        .iter()
        .map(|e| {
            let mut f = entry_finding(
                e,
                &policy.ruleset.proxies,
                config,
                &grants,
                client,
                &mut tls,
            );
            // What the format cannot say is no gap of this configuration,
            // and no wonder when only a lookup could tell.
            let open = f.coverage.is_gap() || f.coverage == Coverage::Undecidable;
            if let (true, Some(why)) = (open, cannot.get(&f.entry)) {
                f.coverage = Coverage::NotExpressible;
                f.fix = None;
                f.detail.insert(0, format!("{} {why}", config.kind()));
            }
            f
        })
        .collect();
    if config.inspects() {
        tls.extend(storage_exemptions(policy, config, client));
    }
    let mut lines = super::lines::line_findings(policy, config, &grants, client);
    let (security, local) = super::security::findings(policy, config, &grants, client, &entries);
    lines.extend(local);
    lines.sort_by(|a, b| (a.issue, &a.at).cmp(&(b.issue, &b.at)));
    let mut summary = summarize(&entries, &tls, &lines);
    summary.security_findings = security.len();
    let default_route = super::security::default_route(config, client, &entries);
    ConfigAudit {
        kind: config.kind(),
        files: config.files(),
        inspects: config.inspects(),
        client,
        summary,
        entries,
        tls,
        security,
        lines,
        default_route,
    }
}

fn entry_finding(
    e: &PolicyEntry,
    proxies: &[String],
    config: &dyn Config,
    grants: &[Grant],
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
        fix: None,
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
    // What a reader noticed beside its answers (a PAC suffix test that
    // misses the bare name), once each.
    for (_, v) in &answers {
        for n in &v.notes {
            if !f.detail.contains(n) {
                f.detail.push(n.clone());
            }
        }
    }
    f.coverage = if config.routes() {
        route_coverage(e, proxies, &answers, &mut f.detail)
    } else {
        coverage(e, config, grants, &answers, &mut f.detail)
    };
    if f.coverage.is_gap() {
        let ports: Vec<u16> = e.ports.iter().copied().collect();
        f.fix = config.spell(&Change::Admit {
            host: &e.host,
            ports: &ports,
            path: e.path.as_deref(),
        });
    }
    check_tls(e, config, &answers, tls);
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
    grants: &[Grant],
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
    let partial = grants.iter().find(|g| match (&g.host, client) {
        (GrantHost::Pattern(p), Some(client)) => {
            overlaps(p, &e.host) && lets_some_through(config, e, p, client)
        }
        _ => false,
    });
    if let Some(g) = partial {
        detail.push(format!(
            "only {} ({}) admits part of it",
            grant_text(g),
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
            let probe = Probe::new(&host, port, &path, client);
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
fn check_tls(
    e: &PolicyEntry,
    config: &dyn Config,
    answers: &[(Probe, Decision)],
    out: &mut Vec<TlsFinding>,
) {
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
        let fix = (issue == TlsIssue::Inspected)
            .then(|| {
                config.spell(&Change::Splice {
                    host: &e.host,
                    by: v.tls_by.as_ref(),
                })
            })
            .flatten();
        out.push(TlsFinding {
            issue,
            subject: e.key(),
            request: p.to_string(),
            by: v.tls_by.clone(),
            why,
            fix,
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
                    fix: None,
                    provenance: n.provenance.clone(),
                });
            }
        }
    }
    out
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
