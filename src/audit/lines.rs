//! Findings about a configuration's own lines: over-broad, duplicate, shadowed, by index.
//!
//! Findings about the lines of a configuration rather than the policy's
//! entries: a host test that admits far more than the policy needs, one
//! written twice, one that an earlier line makes dead. Duplicate and
//! shadowed need an earlier line that is *certain* to match every request
//! the later one matches: its host test covers the later one's (the
//! policy's own `covers`), its ports and path include the later one's, and
//! its other conditions (clients, methods) match each request the later
//! line matches, as the reader evaluates them. Earlier lines are found
//! through an index by name, so the work grows with the number of host
//! tests, not with its square.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;

use super::engine::{LineFinding, LineIssue};
use super::probe::sample_hosts;
use crate::backends::reader::{Config, Grant, GrantHost, Probe};
use crate::model::HostPattern;
use crate::policy::matching::{covers, path_covers};
use crate::policy::{Policy, PolicyEntry};

/// Earlier host tests examined per name when looking for one that covers
/// a later test: a name a hostile configuration repeats in every rule
/// costs a bounded amount per test.
const PER_NAME: usize = 32;

/// Earlier host tests of allowing lines, by the name they are written
/// for: a test for `a.b.c` can only be covered by one for `a.b.c`, `b.c`
/// or `c`, or by one that names no host, or by a suffix glob.
#[derive(Default)]
struct Earlier {
    by_name: HashMap<String, Vec<usize>>,
    any: Vec<usize>,
    globs: Vec<usize>,
}

impl Earlier {
    fn add(&mut self, i: usize, g: &Grant) {
        match &g.host {
            GrantHost::Any => self.any.push(i),
            GrantHost::Pattern(HostPattern::SuffixGlob(_)) => self.globs.push(i),
            GrantHost::Pattern(p) => {
                let list = self
                    .by_name
                    .entry(p.name().as_str().to_string())
                    .or_default();
                if list.len() < PER_NAME {
                    list.push(i);
                }
            }
            GrantHost::Other(_) => {}
        }
    }

    /// Earlier tests whose host test may cover `p`, nearest name first.
    fn candidates(&self, p: &HostPattern) -> Vec<usize> {
        let mut out = Vec::new();
        let mut name = p.name().as_str();
        loop {
            if let Some(list) = self.by_name.get(name) {
                out.extend(list);
            }
            match name.split_once('.') {
                Some((_, parent)) => name = parent,
                None => break,
            }
        }
        out.extend(self.globs.iter().take(PER_NAME));
        out.extend(self.any.iter().take(PER_NAME));
        out
    }
}

/// Every line finding of a configuration: over-broad tests, duplicates,
/// shadowed tests, lines the product ignores and lines the reader cannot
/// evaluate, ordered by kind and line.
pub fn line_findings(
    policy: &Policy,
    config: &dyn Config,
    grants: &[Grant],
    client: IpAddr,
) -> Vec<LineFinding> {
    let mut out = Vec::new();
    let mut judged = BTreeSet::new();
    let mut earlier = Earlier::default();
    // The earlier grants of each (host, ports, path, inspection), for
    // duplicates: the same test may be written for other clients first.
    let mut same: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, g) in grants.iter().enumerate() {
        // One ACL value may serve several rules: judge what is written
        // once, where it is written.
        if judged.insert((g.at.clone(), g.text.clone()))
            && let Some(why) = over_broad(policy, g)
        {
            out.push(line(LineIssue::OverBroad, g, why));
        }
        let probes = own_requests(config, g, client);
        let key = format!("{:?} {:?} {:?} {:?}", g.host, g.ports, g.path, g.inspect);
        let before = same.entry(key).or_default();
        let twin = before
            .iter()
            .map(|&j| &grants[j])
            .find(|o| o.at != g.at && o.rank <= g.rank && certain(config, o, g, &probes));
        if let Some(o) = twin {
            let why = format!("the same as {} ({})", grant_text(o), o.at);
            out.push(line(LineIssue::Duplicate, g, why));
        } else if let Some(why) = shadowed(config, grants, &earlier, g, &probes) {
            out.push(line(LineIssue::Shadowed, g, why));
        }
        if before.len() < PER_NAME {
            before.push(i);
        }
        earlier.add(i, g);
    }
    for i in config.ignored() {
        out.push(note(LineIssue::Ignored, i.at, i.why));
    }
    for u in config.undecidable() {
        out.push(note(LineIssue::Undecidable, u.at, u.why));
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

fn note(issue: LineIssue, at: crate::backends::reader::Origin, why: String) -> LineFinding {
    LineFinding {
        issue,
        at,
        rule: None,
        text: String::new(),
        why,
    }
}

pub fn grant_text(g: &Grant) -> String {
    match &g.host {
        GrantHost::Any => "a line that tests no destination".to_string(),
        GrantHost::Pattern(p) => format!("{p}{}", g.path.as_deref().unwrap_or("")),
        GrantHost::Other(text) => text.clone(),
    }
}

/// The requests a grant's own line matches, among one per kind of host
/// its test admits on each of its ports (443 and 80 when it names none:
/// a line for plain HTTP only still has requests).
fn own_requests(config: &dyn Config, g: &Grant, client: IpAddr) -> Vec<Probe> {
    let GrantHost::Pattern(p) = &g.host else {
        return Vec::new();
    };
    let ports = g.ports.clone().unwrap_or_else(|| vec![443, 80]);
    let path = g.path.clone().unwrap_or_else(|| "/".to_string());
    let mut out = Vec::new();
    for host in sample_hosts(p) {
        for &port in &ports {
            let probe = Probe::new(&host, port, &path, client);
            if config.rule_matches(g, &probe) {
                out.push(probe);
            }
        }
    }
    out
}

/// Whether the earlier line `o` matches every request of `probes` that
/// the later line `g` matches: only then is the later one dead.
fn certain(config: &dyn Config, o: &Grant, g: &Grant, probes: &[Probe]) -> bool {
    !probes.is_empty() && probes.iter().all(|p| config.matched_before(o, g, p))
}

/// Whether earlier lines, each certain to match, together match every
/// request the grant's line matches; those lines, if so.
fn shadowed(
    config: &dyn Config,
    grants: &[Grant],
    earlier: &Earlier,
    g: &Grant,
    probes: &[Probe],
) -> Option<String> {
    let GrantHost::Pattern(p) = &g.host else {
        return None;
    };
    if probes.is_empty() {
        return None;
    }
    let cover: Vec<&Grant> = earlier
        .candidates(p)
        .into_iter()
        .map(|i| &grants[i])
        .filter(|o| o.rank < g.rank && o.rule != g.rule && covers_test(o, g, p))
        .collect();
    let mut deciders = BTreeSet::new();
    for probe in probes {
        let o = cover.iter().find(|o| config.matched_before(o, g, probe))?;
        deciders.insert(o.rule.clone());
    }
    let list: Vec<String> = deciders.iter().map(|o| o.to_string()).collect();
    Some(format!(
        "every request it matches is matched earlier by {}",
        list.join(", ")
    ))
}

/// Whether the earlier grant's test admits everything the later one
/// does: host, ports, path; and it handles TLS the same way (a
/// no-inspect rule in front of an inspecting one is layering).
fn covers_test(o: &Grant, g: &Grant, p: &HostPattern) -> bool {
    let host = match &o.host {
        GrantHost::Any => true,
        GrantHost::Pattern(q) => covers(q, p),
        GrantHost::Other(_) => false,
    };
    let ports = match (&o.ports, &g.ports) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(a), Some(b)) => b.iter().all(|x| a.contains(x)),
    };
    let tls = o.inspect.is_none() || g.inspect.is_none() || o.inspect == g.inspect;
    host && ports && tls && path_covers(o.path.as_deref(), g.path.as_deref())
}

/// Why a line admits more than a site needs, if it does: a public
/// suffix, a whole registrable domain, or a storage wildcard, when no
/// policy entry needs as much. (A line that tests no destination at all
/// is a security finding, reported with whom it admits.)
fn over_broad(policy: &Policy, g: &Grant) -> Option<String> {
    let GrantHost::Pattern(p) = &g.host else {
        return None;
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
