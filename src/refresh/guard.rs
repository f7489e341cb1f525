//! The guards of a refresh: what a fetched body and a new policy must pass.
//!
//! A fetched body may replace the last good copy of its source ([`vet`])
//! when it reads as the source it claims to be (by the same readers as a
//! file) and is the one asked for (the Public service-tag file, not the
//! Government one; the streamlined Gov page, not the standard commercial
//! one), it is not empty, its service-tag `changeNumber` and its page date
//! do not go backwards, and it has not lost more than a set share of its
//! rows or of any service tag's prefixes. A ruleset's new policy may
//! replace the published one ([`policy`]) when it keeps the essential
//! hosts and does not lose more entries or address space than
//! `[refresh] max_loss` allows.

use std::collections::BTreeMap;
use std::path::Path;

use crate::model::{Catalog, Cloud, HostPattern};
use crate::policy::Policy;
use crate::ruleset::Ruleset;
use crate::sources::live::{LearnPage, Live};
use crate::sources::{ReadOptions, SourceFile, read_body};

/// What the body of one live source must be.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Expect {
    /// A service-tag file's `cloud` field.
    pub tag_cloud: Option<String>,
    /// A Learn page's layout: `standard` or `streamlined`.
    pub layout: Option<String>,
    /// A Learn page for the US Government clouds (true) or commercial.
    pub gov: Option<bool>,
}

impl Expect {
    pub fn of(live: Live) -> Expect {
        match live {
            Live::ServiceTags(c) => Expect {
                tag_cloud: Some(c.file().to_string()),
                ..Default::default()
            },
            Live::Learn(p) => {
                let (layout, gov) = match p {
                    LearnPage::StandardCommercial => ("standard", false),
                    LearnPage::StandardGov => ("standard", true),
                    LearnPage::StreamlinedCommercial => ("streamlined", false),
                    LearnPage::StreamlinedGov => ("streamlined", true),
                };
                Expect {
                    tag_cloud: None,
                    layout: Some(layout.to_string()),
                    gov: Some(gov),
                }
            }
            Live::M365(_) => Expect::default(),
        }
    }
}

/// The limits; `max_loss` is a share (0.10 = 10 %).
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_loss: f64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_loss: 0.10 }
    }
}

/// Why a body was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("does not read as {file}: {detail}")]
    Invalid { file: String, detail: String },
    #[error("holds no endpoint and no prefix")]
    Empty,
    #[error("changeNumber {new} is lower than the {old} already held")]
    Older { old: u64, new: u64 },
    #[error("its date {new} is older than the {old} of the copy already held")]
    OlderPage { old: String, new: String },
    #[error("it is {found}, not {expected}")]
    NotTheSource { expected: String, found: String },
    #[error("{what} fell from {old} to {new}, more than the {share:.0} % a refresh may lose")]
    Shrunk {
        what: String,
        old: usize,
        new: usize,
        share: f64,
    },
}

/// Reads `bytes` as the file `file_name` (its extension says the kind)
/// and checks it against the catalog of the copy it would replace.
pub fn vet(
    file_name: &str,
    bytes: Vec<u8>,
    opts: &ReadOptions,
    previous: Option<&Catalog>,
    limits: Limits,
    expect: &Expect,
) -> Result<Catalog, Refusal> {
    let src = SourceFile::from_bytes(Path::new(file_name), bytes);
    let catalog = read_body(src, opts).map_err(|e| Refusal::Invalid {
        file: file_name.to_string(),
        detail: e.to_string(),
    })?;
    if catalog.endpoints.is_empty() && catalog.prefixes.is_empty() {
        return Err(Refusal::Empty);
    }
    check_identity(&catalog, expect)?;
    if let Some(old) = previous {
        if let (Some(o), Some(n)) = (change_number(old), change_number(&catalog))
            && n < o
        {
            return Err(Refusal::Older { old: o, new: n });
        }
        if let (Some(o), Some(n)) = (page_date(old), page_date(&catalog))
            && n < o
        {
            return Err(Refusal::OlderPage { old: o, new: n });
        }
        for (what, o, n) in counts(old, &catalog) {
            if (n as f64) < (o as f64) * (1.0 - limits.max_loss) {
                return Err(Refusal::Shrunk {
                    what,
                    old: o,
                    new: n,
                    share: limits.max_loss * 100.0,
                });
            }
        }
    }
    Ok(catalog)
}

/// The body is the source asked for: its cloud, layout, Gov or not.
fn check_identity(c: &Catalog, expect: &Expect) -> Result<(), Refusal> {
    let info = c.sources.first();
    let mismatch = |what: &str, expected: &str, found: &str| Refusal::NotTheSource {
        expected: format!("{what} {expected}"),
        found: format!("{what} {found}"),
    };
    if let Some(want) = &expect.tag_cloud {
        let got = info.and_then(|i| i.cloud.as_deref()).unwrap_or("(none)");
        if got != want {
            return Err(mismatch("the service-tag file of cloud", want, got));
        }
    }
    if let Some(want) = &expect.layout {
        let got = info.and_then(|i| i.layout.as_deref()).unwrap_or("(none)");
        if got != want {
            return Err(mismatch("a page of layout", want, got));
        }
    }
    if let Some(gov) = expect.gov {
        let is_gov = |e: &crate::model::Endpoint| e.clouds.iter().all(|c| *c != Cloud::Commercial);
        let found_gov = c.endpoints.iter().filter(|e| is_gov(e)).count();
        let wrong = if gov {
            c.endpoints.len() - found_gov
        } else {
            found_gov
        };
        // More than half the rows for the other clouds: the other page.
        if wrong * 2 > c.endpoints.len() {
            let (want, got) = if gov {
                ("US Government", "commercial")
            } else {
                ("commercial", "US Government")
            };
            return Err(mismatch("a page for the clouds", want, got));
        }
    }
    Ok(())
}

/// A Learn page's `ms.date` (`YYYY-MM-DD`, so text order is date order).
fn page_date(c: &Catalog) -> Option<String> {
    let info = c.sources.first()?;
    (info.kind == crate::model::SourceKind::LearnTable)
        .then(|| info.version.clone())
        .flatten()
}

fn change_number(c: &Catalog) -> Option<u64> {
    c.sources.iter().filter_map(|s| s.change_number).max()
}

/// `(what, old, new)` for the rows and for each service tag the old copy
/// had.
fn counts(old: &Catalog, new: &Catalog) -> Vec<(String, usize, usize)> {
    let per_tag = |c: &Catalog| {
        let mut m: BTreeMap<String, usize> = BTreeMap::new();
        for p in &c.prefixes {
            *m.entry(p.tag.clone()).or_default() += 1;
        }
        m
    };
    let (a, b) = (per_tag(old), per_tag(new));
    let mut out = vec![(
        "the number of rows".to_string(),
        old.endpoints.len(),
        new.endpoints.len(),
    )];
    out.extend(a.iter().map(|(tag, n)| {
        (
            format!("service tag {tag}'s prefixes"),
            *n,
            b.get(tag).copied().unwrap_or(0),
        )
    }));
    out
}

/// Why the new policy may not replace the published one (`old`, when
/// there is one): essential hosts no longer allowed (checked on a first
/// publish too), entries gone that nothing in the new policy covers, or
/// address space lost, beyond `[refresh] max_loss`.
pub fn policy(old: Option<&Policy>, new: &Policy, ruleset: &Ruleset) -> Vec<String> {
    let guards = &ruleset.site.refresh;
    let share = guards.max_loss.0;
    let mut why = Vec::new();
    for pinned in &guards.essential {
        let kept = crate::model::host::parse_pattern(pinned.as_str())
            .is_ok_and(|p| new.entries.iter().any(|e| covers_pattern(&e.host, &p)));
        if !kept {
            why.push(format!(
                "essential host {} would no longer be allowed",
                pinned.as_str()
            ));
        }
    }
    let Some(old) = old else { return why };
    // An old entry is kept when a new one on its route covers its host on
    // all its ports: a wildcard that swallows named hosts loses nothing.
    let kept = |e: &crate::policy::PolicyEntry| {
        new.entries.iter().any(|n| {
            n.route == e.route
                && e.ports.is_subset(&n.ports)
                && covers_pattern(&n.host, &e.host)
                && (n.path.is_none() || n.path == e.path)
        })
    };
    let lost = old.entries.iter().filter(|e| !kept(e)).count();
    if lost as f64 > old.entries.len() as f64 * share {
        why.push(format!(
            "{lost} of {} entries would go, more than the {:.0} % a refresh may take away",
            old.entries.len(),
            share * 100.0
        ));
    }
    // Addresses, not prefixes: a /14 become a /24 is a loss, two /25
    // merged into a /24 is not.
    for (family, (before, after)) in [
        ("IPv4", (space_v4(&old.prefixes), space_v4(&new.prefixes))),
        ("IPv6", (space_v6(&old.prefixes), space_v6(&new.prefixes))),
    ] {
        if (after as f64) < before as f64 * (1.0 - share) {
            why.push(format!(
                "the {family} address space allowed would shrink by {:.0} %, more than the {:.0} % a refresh may take away",
                (1.0 - after as f64 / before as f64) * 100.0,
                share * 100.0
            ));
        }
    }
    why
}

fn space_v4(p: &crate::policy::prefixes::PrefixPolicy) -> u128 {
    p.total_ipv4
        .iter()
        .map(|n| 1u128 << (32 - n.prefix_len()))
        .sum()
}

fn space_v6(p: &crate::policy::prefixes::PrefixPolicy) -> u128 {
    // Prefixes are /16 or longer (model::prefix), so every size fits.
    p.total_ipv6
        .iter()
        .map(|n| {
            1u128
                .checked_shl(u32::from(128 - n.prefix_len()))
                .unwrap_or(u128::MAX)
        })
        .fold(0u128, u128::saturating_add)
}

fn covers_pattern(entry: &HostPattern, pinned: &HostPattern) -> bool {
    entry == pinned || crate::policy::matching::covers(entry, pinned)
}
