//! Policy resolution on Microsoft's real files: scope filters, placeholders,
//! collapse, TLS decisions, routes, prefixes.

mod common;

use std::path::Path;

use common::data;
use egressgen::generate::SourceCache;
use egressgen::model::{HostPattern, TlsHandling, Via};
use egressgen::policy::matching::{covers, path_covers};
use egressgen::policy::{Policy, resolve};
use egressgen::ruleset::Ruleset;
use egressgen::sources::ReadOptions;

/// A ruleset over the given sources (absolute paths or built-ins).
fn ruleset(sources: &[&str], body: &str) -> Ruleset {
    let files: Vec<String> = sources.iter().map(|s| format!("{s:?}")).collect();
    let text = format!(
        "name = \"t\"\n{body}\n[sources]\nfiles = [{}]\n",
        files.join(", ")
    );
    Ruleset::parse(&text, Path::new("/tmp/t.toml")).unwrap_or_else(|e| panic!("{e}"))
}

fn policy(r: &Ruleset) -> Policy {
    let opts = ReadOptions {
        extra_tags: egressgen::policy::prefixes::selected_tags(&r.site),
        ..Default::default()
    };
    let catalog = SourceCache::new(opts).catalog(&r.source_specs()).unwrap();
    resolve(&catalog, &r.site)
}

fn hosts(p: &Policy) -> Vec<String> {
    p.entries
        .iter()
        .map(|e| format!("{}{}", e.host, e.path.as_deref().unwrap_or("")))
        .collect()
}

/// Whether some entry admits the host (whatever its pattern).
fn allows(p: &Policy, host: &str) -> bool {
    let host = egressgen::model::DnsName::parse(host).unwrap();
    p.entries
        .iter()
        .any(|e| egressgen::policy::matching::admits(&e.host, &host))
}

fn has(p: &Policy, pattern: &str) -> bool {
    p.entries.iter().any(|e| e.host.to_string() == pattern)
}

fn commercial_md() -> String {
    data("mde/standard-device-connectivity-urls-commercial.urltables.md")
        .display()
        .to_string()
}

fn gov_md() -> String {
    data("mde/standard-device-connectivity-urls-gov.urltables.md")
        .display()
        .to_string()
}

/// Every source row behind the policy's entries has one of `geos`.
fn assert_rows_from(p: &Policy, source: &str, geos: &[&str]) {
    let catalog = SourceCache::new(ReadOptions::default())
        .catalog(&[source.parse().unwrap()])
        .unwrap();
    for e in &p.entries {
        for prov in &e.provenance {
            let row = catalog
                .endpoints
                .iter()
                .find(|c| c.provenance.contains(prov))
                .unwrap();
            assert!(
                geos.contains(&row.geography.as_str()),
                "{} from a {} row",
                e.host,
                row.geography.as_str()
            );
        }
    }
}

/// No entry covers another on the same port and route.
fn assert_no_cover(p: &Policy) {
    for a in &p.entries {
        for b in &p.entries {
            if std::ptr::eq(a, b) || a.route != b.route || a.ports.is_disjoint(&b.ports) {
                continue;
            }
            assert!(
                !(covers(&a.host, &b.host) && path_covers(a.path.as_deref(), b.path.as_deref())),
                "{}{:?} covers {}{:?}",
                a.host,
                a.path,
                b.host,
                b.path
            );
            // An exact name and the wildcard below it would overlap in
            // Squid: they must have become one Domain entry.
            if let (HostPattern::Exact(x), HostPattern::Subdomains(y)) = (&a.host, &b.host) {
                assert!(!(x == y && a.path == b.path), "{x} and *.{y} left apart");
            }
        }
    }
}

#[test]
fn commercial_eu_keeps_ww_and_eu_rows() {
    let md = commercial_md();
    let r = ruleset(
        &[&md],
        "[scope]\ncloud = \"commercial\"\ngeographies = [\"EU\"]\n",
    );
    let p = policy(&r);
    assert!(has(&p, "winatp-gw-neu.microsoft.com"));
    // Merged into the *.events.data.microsoft.com row of the WW table.
    assert!(allows(&p, "eu-v20.events.data.microsoft.com"));
    assert!(!has(&p, "eu-v20.events.data.microsoft.com"));
    assert!(has(&p, "go.microsoft.com"), "WW row kept");
    for dropped in [
        "winatp-gw-cus.microsoft.com",
        "winatp-gw-uks.microsoft.com",
        "winatp-gw-aue.microsoft.com",
        "us.vortex-win.data.microsoft.com",
        "au.vortex-win.data.microsoft.com",
    ] {
        assert!(!has(&p, dropped), "{dropped}");
        let f = p
            .report
            .filtered
            .iter()
            .find(|f| f.host == dropped)
            .unwrap();
        assert!(f.reason.starts_with("geography "), "{}", f.reason);
    }
    // Every kept row comes from a WW or EU line of the table.
    assert_rows_from(&p, &md, &["WW", "EU"]);
    assert_no_cover(&p);
}

#[test]
fn gcc_keeps_only_the_gov_geographies_of_gcc() {
    let md = gov_md();
    let r = ruleset(&[&md], "[scope]\ncloud = \"gcc\"\n");
    let p = policy(&r);
    assert!(has(&p, "winatp-gw-usmt.microsoft.com"), "GCC row");
    assert!(has(&p, "unitedstates4.cp.wd.microsoft.us"), "GCC row");
    assert!(has(&p, "events.data.microsoft.com"), "US Gov row");
    assert!(
        has(&p, "*.endpoint.security.microsoft.com"),
        "WW row of the Gov table"
    );
    for other in [
        "winatp-gw-usgt.microsoft.com",
        "unitedstates1.cp.wd.microsoft.us",
        "unitedstates2.cp.wd.microsoft.us",
    ] {
        assert!(!has(&p, other), "{other} is GCC High / DoD");
    }
    assert_rows_from(&p, &md, &["US Gov", "GCC", "WW"]);
    // The commercial table gives a GCC site nothing.
    let r = ruleset(&[&commercial_md()], "[scope]\ncloud = \"gcc\"\n");
    assert!(policy(&r).entries.is_empty());
}

#[test]
fn two_workspace_ids_give_exactly_six_mma_hosts() {
    let a = "0e2b1d6c-1111-2222-3333-444455556666";
    let b = "9f8e7d6c-aaaa-bbbb-cccc-ddddeeeeffff";
    let r = ruleset(
        &["baseline"],
        &format!(
            "[scope]\ncloud = \"commercial\"\nproducts = [\"mma\"]\n[site]\nworkspace_ids = [\"{a}\", \"{b}\"]\n"
        ),
    );
    let p = policy(&r);
    let mut mma: Vec<String> = hosts(&p)
        .into_iter()
        .filter(|h| h.contains("opinsights") || h.contains("azure-automation"))
        .collect();
    mma.sort();
    let mut expected: Vec<String> = [a, b]
        .iter()
        .flat_map(|id| {
            [
                format!("{id}.agentsvc.azure-automation.net"),
                format!("{id}.ods.opinsights.azure.com"),
                format!("{id}.oms.opinsights.azure.com"),
            ]
        })
        .collect();
    expected.sort();
    assert_eq!(mma, expected);
    assert!(
        !hosts(&p)
            .iter()
            .any(|h| h.contains('*') && h.contains("opinsights"))
    );
    // The Learn page's wildcard rows are folded into the resolved hosts.
    let ods = p
        .entries
        .iter()
        .find(|e| e.host.to_string() == format!("{a}.ods.opinsights.azure.com"))
        .unwrap();
    assert!(ods.provenance.iter().any(|p| p.file == "builtin:mma"));
    assert!(ods.provenance.iter().any(|p| p.file.ends_with(".learn.md")));
    assert!(p.report.unresolved.is_empty());
    assert_no_cover(&p);
}

#[test]
fn unresolved_placeholders_are_reported_and_kept_only_if_allowed() {
    let body = "[scope]\ncloud = \"commercial\"\nproducts = [\"mma\"]\n";
    let p = policy(&ruleset(&["baseline"], body));
    assert!(!hosts(&p).iter().any(|h| h.contains("opinsights")));
    let needs: Vec<&str> = p
        .report
        .unresolved
        .iter()
        .map(|u| u.needs.as_str())
        .collect();
    assert!(needs.contains(&"site.workspace_ids"));
    assert!(p.report.unresolved.iter().all(|u| u.kept_as.is_none()));

    let p = policy(&ruleset(
        &["baseline"],
        &format!("{body}[site]\nallow_unresolved_wildcards = true\n"),
    ));
    assert!(has(&p, "*.ods.opinsights.azure.com"));
    assert!(has(&p, "*.azure-automation.net"));
    assert!(
        p.report
            .unresolved
            .iter()
            .any(|u| u.kept_as.as_deref() == Some("*.ods.opinsights.azure.com"))
    );
}

#[test]
fn mdi_instance_yields_its_hosts_and_the_service_tag() {
    let r = ruleset(
        &["baseline"],
        "[scope]\ncloud = \"commercial\"\nproducts = [\"mdi\"]\n[site]\nmdi_instances = [\"contoso-corp\"]\n",
    );
    let p = policy(&r);
    assert_eq!(
        hosts(&p),
        [
            "contoso-corp.atp.azure.com",
            "contoso-corpsensorapi.atp.azure.com"
        ]
    );
    let sensor = &p.entries[1];
    assert_eq!(sensor.tls, TlsHandling::MustNotInspect, "mutual TLS");
    assert!(
        p.tls
            .bypass
            .iter()
            .any(|b| b.host.to_string() == "contoso-corpsensorapi.atp.azure.com")
    );
    let aatp = p
        .prefixes
        .tags
        .iter()
        .find(|t| t.tag == "AzureAdvancedThreatProtection")
        .unwrap();
    assert_eq!(aatp.read, 168);
    assert_eq!(aatp.change_numbers, [36].into());
    // Gov: the .us forms.
    let r = ruleset(
        &["baseline"],
        "[scope]\ncloud = \"gcc-high\"\nproducts = [\"mdi\"]\n[site]\nmdi_instances = [\"contoso-corp\"]\n",
    );
    let p = policy(&r);
    assert_eq!(
        hosts(&p),
        [
            "contoso-corp.atp.azure.us",
            "contoso-corpsensorapi.atp.azure.us"
        ]
    );
    assert_eq!(p.prefixes.tags[0].read, 15);
}

#[test]
fn tls_conflict_is_decided_by_the_ruleset_and_reported() {
    let id = "0e2b1d6c-1111-2222-3333-444455556666";
    let body = format!(
        "[scope]\ncloud = \"commercial\"\nproducts = [\"mma\", \"mdav\"]\n[site]\nworkspace_ids = [\"{id}\"]\n"
    );
    let p = policy(&ruleset(&["baseline"], &body));
    let c = p
        .tls
        .conflicts
        .iter()
        .find(|c| c.bypass.to_string() == "*.blob.core.windows.net")
        .expect("MMA bypass vs 2023 guidance");
    assert_eq!(c.decision, egressgen::policy::ConflictDecision::NotBypassed);
    assert!(
        !p.tls
            .bypass
            .iter()
            .any(|b| b.host.to_string() == "*.blob.core.windows.net")
    );
    assert!(
        p.tls
            .never_bypass
            .iter()
            .any(|b| b.host.to_string() == "*.blob.core.windows.net")
    );
    let blob = p
        .entries
        .iter()
        .find(|e| e.host.to_string() == "*.blob.core.windows.net")
        .unwrap();
    assert_eq!(blob.tls, TlsHandling::MustBeInspected);
    // The opinsights hosts stay bypassed; MAPS too (certificate pinning).
    let ods = p
        .entries
        .iter()
        .find(|e| e.host.to_string() == format!("{id}.ods.opinsights.azure.com"))
        .unwrap();
    assert_eq!(ods.tls, TlsHandling::MustNotInspect);
    assert!(
        p.tls
            .bypass
            .iter()
            .any(|b| b.host.to_string() == "*.wdcp.microsoft.com")
    );

    let p = policy(&ruleset(
        &["baseline"],
        &format!("{body}[tls]\nconflict = \"bypass-wins\"\n"),
    ));
    assert_eq!(
        p.tls.conflicts[0].decision,
        egressgen::policy::ConflictDecision::Bypassed
    );
    assert!(
        p.tls
            .bypass
            .iter()
            .any(|b| b.host.to_string() == "*.blob.core.windows.net")
    );
    assert!(
        !p.tls
            .never_bypass
            .iter()
            .any(|b| b.host.to_string() == "*.blob.core.windows.net")
    );
    // No bypass entry is covered by a never-bypass entry.
    for b in &p.tls.bypass {
        for n in &p.tls.never_bypass {
            assert!(!egressgen::policy::matching::overlaps(&b.host, &n.host));
        }
    }
}

#[test]
fn routes_excludes_and_extra_allows() {
    let body = r#"
exclude = ["login.live.com", "x.dm.microsoft.com", "nothing.example.com"]
[scope]
cloud = "commercial"
[[allow]]
url = "http://crl.contoso.com/pki/*"
[[allow]]
url = "updates.contoso.com:8443"
direct = true
"#;
    let p = policy(&ruleset(&[&commercial_md()], body));
    let wns = p
        .entries
        .iter()
        .find(|e| e.host.to_string() == "*.wns.windows.com")
        .unwrap();
    assert_eq!(wns.route, Via::Direct);
    assert!(!has(&p, "login.live.com"));
    assert!(
        p.report
            .filtered
            .iter()
            .any(|f| f.host == "login.live.com" && f.reason.contains("excluded"))
    );
    assert!(
        p.report
            .unapplied_excludes
            .iter()
            .any(|u| u.contains("x.dm.microsoft.com lies inside the allowed *.dm.microsoft.com"))
    );
    assert!(
        p.report
            .unapplied_excludes
            .iter()
            .any(|u| u.contains("nothing.example.com matches nothing"))
    );
    let crl = p
        .entries
        .iter()
        .find(|e| e.host.to_string() == "crl.contoso.com")
        .unwrap();
    assert_eq!(
        (
            crl.path.as_deref(),
            crl.ports.iter().copied().collect::<Vec<_>>()
        ),
        (Some("/pki/"), vec![80])
    );
    let upd = p
        .entries
        .iter()
        .find(|e| e.host.to_string() == "updates.contoso.com")
        .unwrap();
    assert_eq!(
        (upd.route, upd.ports.iter().copied().collect::<Vec<_>>()),
        (Via::Direct, vec![8443])
    );
    // login.microsoftonline.com is direct in the WNS row and wins.
    let login = p
        .entries
        .iter()
        .find(|e| e.host.to_string() == "login.microsoftonline.com")
        .unwrap();
    assert_eq!(login.route, Via::Direct);
}

#[test]
fn example_rulesets_resolve_without_covered_pairs() {
    let tmp = tempfile::tempdir().unwrap();
    let mut seen = 0;
    for path in common::examples(tmp.path()) {
        {
            let r = Ruleset::load(&path).unwrap_or_else(|e| panic!("{e}"));
            let p = policy(&r);
            assert!(!p.entries.is_empty(), "{}", path.display());
            assert_no_cover(&p);
            seen += 1;
        }
    }
    assert!(seen >= 5);
}

#[test]
fn streamlined_uses_the_streamlined_workbook_and_tags() {
    let p = policy(
        &Ruleset::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("rulesets/streamlined.toml"))
            .unwrap(),
    );
    assert!(has(&p, "*.endpoint.security.microsoft.com"));
    // The standard table's per-region storage hosts are not in this model.
    assert!(!has(&p, "automatedirstrprdneu.blob.core.windows.net"));
    assert!(
        p.report
            .filtered
            .iter()
            .any(|f| f.reason.contains("standard-connectivity source"))
    );
    let tags: Vec<&str> = p.prefixes.tags.iter().map(|t| t.tag.as_str()).collect();
    assert_eq!(tags, ["MicrosoftDefenderForEndpoint", "OneDsCollector"]);
    // Aggregation never grows the list and keeps every address.
    let one = &p.prefixes.tags[1];
    assert!(one.ipv4.len() + one.ipv6.len() <= one.read);
    // MMA sheet rows take their geography from the Category: US only.
    assert!(has(&p, "winatp-gw-cus.microsoft.com"));
    assert!(!has(&p, "winatp-gw-neu.microsoft.com"));
}
