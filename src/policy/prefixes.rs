//! The service-tag prefixes a policy carries, aggregated per family, per tag and in total.
//!
//! The service-tag prefixes a site's policy carries, aggregated per
//! family with ipnet, per tag and in total.

use std::collections::{BTreeMap, BTreeSet};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use serde::{Deserialize, Serialize};

use crate::model::{Catalog, HostPattern, Product, TagHost};
use crate::site::{Connectivity, Site};
use crate::sources::service_tags::DEFAULT_TAGS;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagPrefixes {
    /// Base tag name; regional variants (`Name.Region`) are folded in.
    pub tag: String,
    /// changeNumbers of the tag entries that contributed.
    pub change_numbers: BTreeSet<u64>,
    /// Prefixes read before aggregation.
    pub read: usize,
    /// The host patterns this tag stands for (from `builtin:tag-hosts`),
    /// so a firewall without names can allow the tag instead.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stands_for: Vec<TagHost>,
    pub ipv4: Vec<Ipv4Net>,
    pub ipv6: Vec<Ipv6Net>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrefixPolicy {
    pub tags: Vec<TagPrefixes>,
    /// Selected tags with no prefix for this cloud in the sources.
    pub missing_tags: Vec<String>,
    pub total_ipv4: Vec<Ipv4Net>,
    pub total_ipv6: Vec<Ipv6Net>,
}

/// How a service tag of the policy stands for a host pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TagCover {
    /// The tag's prefixes serve every host the pattern admits.
    Whole(String),
    /// The pattern is broader; the tag serves the part it names.
    Part { tag: String, part: String },
}

/// The policy's service tag (with prefixes) that stands for `host`, if any.
pub fn tag_for(policy: &PrefixPolicy, host: &HostPattern) -> Option<TagCover> {
    let mut part = None;
    let with_prefixes = policy
        .tags
        .iter()
        .filter(|t| !(t.ipv4.is_empty() && t.ipv6.is_empty()));
    for t in with_prefixes {
        for p in &t.stands_for {
            if super::matching::covers(&p.host, host) {
                return Some(TagCover::Whole(t.tag.clone()));
            }
            if part.is_none() && super::matching::covers(host, &p.host) {
                part = Some(TagCover::Part {
                    tag: t.tag.clone(),
                    part: p.host.to_string(),
                });
            }
        }
    }
    part
}

/// The tags a ruleset takes: `site.service_tags` when given, otherwise
/// what the products need.
pub fn selected_tags(site: &Site) -> Vec<String> {
    if let Some(tags) = &site.values.service_tags {
        return tags.iter().map(|t| t.to_string()).collect();
    }
    let mut tags = Vec::new();
    if site.scope.products.contains(&Product::Mdi) {
        tags.push("AzureAdvancedThreatProtection".to_string());
    }
    if site.scope.connectivity == Connectivity::Streamlined {
        tags.push("MicrosoftDefenderForEndpoint".to_string());
        tags.push("OneDsCollector".to_string());
    }
    tags
}

/// Every tag a site reads: Defender's own and what it selects. A catalog
/// may hold more (one read serves every ruleset of a run); the policy
/// keeps only these.
pub fn wanted_tags(site: &Site) -> BTreeSet<String> {
    let mut wanted: BTreeSet<String> = DEFAULT_TAGS.iter().map(|t| t.to_string()).collect();
    wanted.extend(selected_tags(site));
    wanted
}

/// Whether a tag name (regional variants included) is one of `wanted`.
pub fn is_wanted(tag: &str, wanted: &BTreeSet<String>) -> bool {
    let wanted: BTreeSet<&str> = wanted.iter().map(String::as_str).collect();
    crate::sources::service_tags::selected(tag, &wanted)
}

pub fn select(catalog: &Catalog, site: &Site) -> PrefixPolicy {
    let wanted = selected_tags(site);
    let mut by_tag: BTreeMap<String, (BTreeSet<u64>, Vec<IpNet>)> = BTreeMap::new();
    for p in &catalog.prefixes {
        let base = p.tag.split('.').next().unwrap_or(&p.tag);
        let selected = wanted.iter().any(|w| w == base || *w == p.tag);
        if !selected || !p.clouds.contains(&site.scope.cloud) {
            continue;
        }
        let key = if wanted.contains(&p.tag) {
            p.tag.clone()
        } else {
            base.to_string()
        };
        let slot = by_tag.entry(key).or_default();
        slot.0.extend(p.change_number);
        slot.1.push(p.net);
    }
    let missing_tags = wanted
        .iter()
        .filter(|w| !by_tag.contains_key(*w))
        .cloned()
        .collect();
    let mut all = Vec::new();
    let tags = by_tag
        .into_iter()
        .map(|(tag, (change_numbers, nets))| {
            all.extend(nets.iter().copied());
            let (ipv4, ipv6) = aggregate(&nets);
            let stands_for = catalog
                .tag_hosts
                .iter()
                .filter(|h| h.tag == tag)
                .cloned()
                .collect();
            TagPrefixes {
                tag,
                change_numbers,
                read: nets.len(),
                stands_for,
                ipv4,
                ipv6,
            }
        })
        .collect();
    let (total_ipv4, total_ipv6) = aggregate(&all);
    PrefixPolicy {
        tags,
        missing_tags,
        total_ipv4,
        total_ipv6,
    }
}

/// Merges overlapping and adjacent prefixes, per family.
pub fn aggregate(nets: &[IpNet]) -> (Vec<Ipv4Net>, Vec<Ipv6Net>) {
    let v4: Vec<Ipv4Net> = nets
        .iter()
        .filter_map(|n| match n {
            IpNet::V4(n) => Some(*n),
            IpNet::V6(_) => None,
        })
        .collect();
    let v6: Vec<Ipv6Net> = nets
        .iter()
        .filter_map(|n| match n {
            IpNet::V6(n) => Some(*n),
            IpNet::V4(_) => None,
        })
        .collect();
    (Ipv4Net::aggregate(&v4), Ipv6Net::aggregate(&v6))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregation_merges_overlaps_and_neighbours() {
        let nets: Vec<IpNet> = [
            "10.0.0.0/25",
            "10.0.0.128/25",
            "10.0.0.64/26",
            "2001:db8::/33",
            "2001:db8:8000::/33",
        ]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
        let (v4, v6) = aggregate(&nets);
        assert_eq!(v4, ["10.0.0.0/24".parse::<Ipv4Net>().unwrap()]);
        assert_eq!(v6, ["2001:db8::/32".parse::<Ipv6Net>().unwrap()]);
    }
}
