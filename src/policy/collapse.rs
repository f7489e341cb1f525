//! Collapse: duplicates merge, `x` and `*.x` become one, covered entries join broader ones.
//!
//! Duplicates merge (ports and provenance unioned), an exact host and `*.`
//! of the same name on the same port become one Domain entry, and an entry
//! covered by a broader one on the same port and route merges into it.
//! Path-scoped entries stay path-scoped unless a whole-host entry covers
//! them.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::PolicyEntry;
use super::matching::{covers, path_covers};
use crate::model::{Endpoint, HostPattern, Product, Provenance, Requirement, TlsHandling, Via};

/// An entry before collapse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    pub host: HostPattern,
    pub path: Option<String>,
    pub ports: BTreeSet<u16>,
    pub route: Via,
    /// What the source says about inspection.
    pub tls: TlsHandling,
    pub products: BTreeSet<Product>,
    pub required: Requirement,
    pub notes: Vec<String>,
    pub provenance: Vec<Provenance>,
}

impl Candidate {
    pub fn from_endpoint(e: &Endpoint) -> Self {
        Candidate {
            host: e.host.clone(),
            path: e.path.clone(),
            ports: e.ports.clone(),
            route: e.route,
            tls: e.tls,
            products: [e.product].into(),
            required: e.required,
            notes: Vec::new(),
            provenance: e.provenance.clone(),
        }
    }
}

/// Everything but host, path and port, merged across contributors.
#[derive(Clone, Debug, Default)]
struct Meta {
    products: BTreeSet<Product>,
    required: Option<Requirement>,
    notes: BTreeSet<String>,
    provenance: BTreeSet<Provenance>,
}

impl Meta {
    fn of(c: &Candidate) -> Self {
        Meta {
            products: c.products.clone(),
            required: Some(c.required),
            notes: c.notes.iter().cloned().collect(),
            provenance: c.provenance.iter().cloned().collect(),
        }
    }

    fn absorb(&mut self, other: &Meta) {
        self.products.extend(other.products.iter().copied());
        self.notes.extend(other.notes.iter().cloned());
        self.provenance.extend(other.provenance.iter().cloned());
        // Required beats Optional beats Unspecified.
        let rank = |r: Option<Requirement>| match r {
            Some(Requirement::Required) => 3,
            Some(Requirement::Optional) => 2,
            Some(Requirement::Unspecified) => 1,
            None => 0,
        };
        if rank(other.required) > rank(self.required) {
            self.required = other.required;
        }
    }
}

type Key = (HostPattern, Option<String>);

/// Collapses candidates into policy entries. Hosts that some rows route
/// direct and others through the proxy go direct; they are listed in
/// `route_conflicts`.
pub fn collapse(candidates: Vec<Candidate>, route_conflicts: &mut Vec<String>) -> Vec<PolicyEntry> {
    let candidates = settle_routes(candidates, route_conflicts);
    let mut entries = Vec::new();
    for route in [Via::Proxy, Via::Direct] {
        let mut by_port: BTreeMap<u16, BTreeMap<Key, Meta>> = BTreeMap::new();
        for c in candidates.iter().filter(|c| c.route == route) {
            for &port in &c.ports {
                by_port
                    .entry(port)
                    .or_default()
                    .entry((c.host.clone(), c.path.clone()))
                    .or_default()
                    .absorb(&Meta::of(c));
            }
        }
        let mut merged: BTreeMap<Key, (BTreeSet<u16>, Meta)> = BTreeMap::new();
        for (port, units) in by_port {
            for (key, meta) in drop_covered(promote_domains(units)) {
                let slot = merged.entry(key).or_default();
                slot.0.insert(port);
                slot.1.absorb(&meta);
            }
        }
        entries.extend(
            merged
                .into_iter()
                .map(|((host, path), (ports, meta))| PolicyEntry {
                    host,
                    path,
                    ports,
                    route,
                    tls: TlsHandling::Unspecified,
                    products: meta.products,
                    required: meta.required.unwrap_or_default(),
                    notes: meta.notes.into_iter().collect(),
                    provenance: meta.provenance.into_iter().collect(),
                }),
        );
    }
    entries
}

/// A host and path that any row routes direct is routed direct by all.
fn settle_routes(mut candidates: Vec<Candidate>, conflicts: &mut Vec<String>) -> Vec<Candidate> {
    let direct: BTreeSet<Key> = candidates
        .iter()
        .filter(|c| c.route == Via::Direct)
        .map(|c| (c.host.clone(), c.path.clone()))
        .collect();
    let mut seen = BTreeSet::new();
    for c in candidates.iter_mut().filter(|c| c.route == Via::Proxy) {
        let key = (c.host.clone(), c.path.clone());
        if direct.contains(&key) {
            c.route = Via::Direct;
            c.notes
                .push("also listed as proxy-routed; direct route wins".to_string());
            if seen.insert(key) {
                conflicts.push(c.label());
            }
        }
    }
    candidates
}

/// `x` and `*.x` on the same port and path become `.x` (Domain): exactly
/// the same hosts, and one entry instead of two that proxies treat as
/// overlapping.
fn promote_domains(mut units: BTreeMap<Key, Meta>) -> BTreeMap<Key, Meta> {
    let pairs: Vec<Key> = units
        .keys()
        .filter_map(|(host, path)| match host {
            HostPattern::Exact(x) => {
                let wild = (HostPattern::Subdomains(x.clone()), path.clone());
                units
                    .contains_key(&wild)
                    .then(|| (host.clone(), path.clone()))
            }
            _ => None,
        })
        .collect();
    for (exact, path) in pairs {
        let HostPattern::Exact(name) = &exact else {
            continue;
        };
        let mut meta = units
            .remove(&(exact.clone(), path.clone()))
            .unwrap_or_default();
        if let Some(wild) = units.remove(&(HostPattern::Subdomains(name.clone()), path.clone())) {
            meta.absorb(&wild);
        }
        units
            .entry((HostPattern::Domain(name.clone()), path))
            .or_default()
            .absorb(&meta);
    }
    units
}

/// Moves every unit covered by another into a maximal cover.
///
/// Only a unit with the same name, a unit named after an ancestor, or a
/// suffix glob can cover another, so candidates come from a name index and
/// the work grows with entries times labels, not entries squared.
fn drop_covered(units: BTreeMap<Key, Meta>) -> BTreeMap<Key, Meta> {
    let keys: Vec<Key> = units.keys().cloned().collect();
    let mut by_name: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut globs = Vec::new();
    for (i, (host, _)) in keys.iter().enumerate() {
        match host {
            HostPattern::SuffixGlob(_) => globs.push(i),
            _ => by_name.entry(host.name().as_str()).or_default().push(i),
        }
    }
    let covers_key = |a: &Key, b: &Key| {
        a != b && covers(&a.0, &b.0) && path_covers(a.1.as_deref(), b.1.as_deref())
    };
    let coverers = |k: &Key| -> Vec<usize> {
        let name = k.0.name().as_str();
        let mut names = vec![name];
        let mut rest = name;
        while let Some((_, parent)) = rest.split_once('.') {
            names.push(parent);
            rest = parent;
        }
        let mut out: Vec<usize> = names
            .iter()
            .filter_map(|n| by_name.get(n))
            .flatten()
            .chain(globs.iter())
            .copied()
            .filter(|&i| covers_key(&keys[i], k))
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    };
    let maximal: Vec<bool> = keys.iter().map(|k| coverers(k).is_empty()).collect();
    let mut out: BTreeMap<Key, Meta> = BTreeMap::new();
    for (key, meta) in units {
        // The first maximal cover in key order, so the result does not
        // depend on input order. A chain's top is also a cover of `key`.
        let target = coverers(&key)
            .into_iter()
            .find(|&i| maximal[i])
            .map(|i| keys[i].clone())
            .unwrap_or(key);
        out.entry(target).or_default().absorb(&meta);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::host::parse_pattern;

    fn cand(host: &str, path: Option<&str>, ports: &[u16], route: Via) -> Candidate {
        Candidate {
            host: parse_pattern(host).unwrap(),
            path: path.map(str::to_string),
            ports: ports.iter().copied().collect(),
            route,
            tls: TlsHandling::Unspecified,
            products: [Product::Mde].into(),
            required: Requirement::Required,
            notes: Vec::new(),
            provenance: vec![Provenance {
                file: format!("{host}{} {route:?}", path.unwrap_or("")),
                ..Default::default()
            }],
        }
    }

    fn show(entries: &[PolicyEntry]) -> Vec<String> {
        entries
            .iter()
            .map(|e| {
                let ports: Vec<String> = e.ports.iter().map(u16::to_string).collect();
                format!(
                    "{}{} {} {:?} ({})",
                    e.host,
                    e.path.as_deref().unwrap_or(""),
                    ports.join(","),
                    e.route,
                    e.provenance.len()
                )
            })
            .collect()
    }

    #[test]
    fn covered_entries_merge_per_port() {
        let out = collapse(
            vec![
                cand("*.example.com", None, &[443], Via::Proxy),
                cand("a.example.com", None, &[80, 443], Via::Proxy),
                cand("*.b.example.com", None, &[443], Via::Proxy),
                cand("a.example.com", None, &[443], Via::Proxy),
            ],
            &mut Vec::new(),
        );
        assert_eq!(
            show(&out),
            ["a.example.com 80 Proxy (1)", "*.example.com 443 Proxy (3)"]
        );
    }

    #[test]
    fn exact_and_wildcard_become_domain() {
        let out = collapse(
            vec![
                cand("x.example.com", None, &[443], Via::Proxy),
                cand("*.x.example.com", None, &[443], Via::Proxy),
                cand("y.x.example.com", None, &[443], Via::Proxy),
            ],
            &mut Vec::new(),
        );
        assert_eq!(show(&out), [".x.example.com 443 Proxy (3)"]);
    }

    #[test]
    fn paths_stay_scoped_unless_the_host_is_allowed() {
        let out = collapse(
            vec![
                cand("crl.example.com", Some("/pki/crl/"), &[80], Via::Proxy),
                cand(
                    "crl.example.com",
                    Some("/pki/crl/products"),
                    &[80],
                    Via::Proxy,
                ),
                cand("www.example.com", Some("/pki/"), &[80], Via::Proxy),
                cand("www.example.com", None, &[80], Via::Proxy),
            ],
            &mut Vec::new(),
        );
        assert_eq!(
            show(&out),
            [
                "crl.example.com/pki/crl/ 80 Proxy (2)",
                "www.example.com 80 Proxy (2)"
            ]
        );
    }

    #[test]
    fn direct_wins_a_route_conflict() {
        let mut conflicts = Vec::new();
        let out = collapse(
            vec![
                cand("login.example.com", None, &[443], Via::Proxy),
                cand("login.example.com", None, &[443], Via::Direct),
            ],
            &mut conflicts,
        );
        assert_eq!(show(&out), ["login.example.com 443 Direct (2)"]);
        assert_eq!(conflicts, ["login.example.com"]);
    }
}
