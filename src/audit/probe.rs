//! The concrete requests that stand for a policy entry, wildcards included.
//!
//! The concrete requests that stand for a policy entry: a wildcard is
//! judged by names it admits and that no configuration is likely to name
//! on its own (`egressgen-probe.x`), so a line that allows only some hosts
//! below `x` is not taken for one that allows them all.

use std::net::IpAddr;

use crate::model::{DnsName, HostPattern};
use crate::policy::PolicyEntry;

use crate::backends::reader::Probe;

/// The label of the made-up hosts that stand for a wildcard.
pub const LABEL: &str = "egressgen-probe";

/// Hosts a pattern admits, one per kind of host it admits: the name
/// itself where it is admitted, a name one level below where names below
/// are admitted, and for a suffix glob a name that only the glob admits.
pub fn sample_hosts(host: &HostPattern) -> Vec<String> {
    let n = host.name().as_str();
    let below = format!("{LABEL}.{n}");
    let glued = format!("{LABEL}{n}");
    let candidates = match host {
        HostPattern::Exact(_) => vec![n.to_string()],
        HostPattern::Subdomains(_) => vec![below],
        HostPattern::Domain(_) => vec![n.to_string(), below],
        HostPattern::SuffixGlob(_) => vec![n.to_string(), glued, below],
        HostPattern::Template(_) => Vec::new(),
    };
    // A name near the length limit has no room for the label: keep what
    // is still a valid name, and the pattern's own name at least.
    candidates
        .into_iter()
        .filter(|h| DnsName::parse(h).is_ok())
        .collect()
}

/// The probes of one policy entry: every sample host on every port, at
/// the entry's path (or `/`).
pub fn entry_probes(entry: &PolicyEntry, client: IpAddr) -> Vec<Probe> {
    let path = entry.path.clone().unwrap_or_else(|| "/".to_string());
    let mut out = Vec::new();
    for host in sample_hosts(&entry.host) {
        for &port in &entry.ports {
            out.push(Probe::new(&host, port, &path, client));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::host::parse_pattern;
    use crate::policy::matching::admits;

    #[test]
    fn every_sample_is_admitted_by_its_pattern() {
        for text in [
            "a.example.com",
            "*.example.com",
            ".example.com",
            "*ecs.office.com",
        ] {
            let p = parse_pattern(text).unwrap();
            let hosts = sample_hosts(&p);
            assert!(!hosts.is_empty(), "{text}");
            for h in hosts {
                assert!(admits(&p, &DnsName::parse(&h).unwrap()), "{text} {h}");
            }
        }
    }

    #[test]
    fn a_wildcard_is_probed_below_and_a_domain_at_its_apex_too() {
        let p = parse_pattern(".example.com").unwrap();
        assert_eq!(
            sample_hosts(&p),
            ["example.com", "egressgen-probe.example.com"]
        );
        let p = parse_pattern("*.example.com").unwrap();
        assert_eq!(sample_hosts(&p), ["egressgen-probe.example.com"]);
    }
}
