//! TLS inspection as Microsoft specifies it, on Microsoft's real files for
//! three sites (commercial EU standard with MMA and MDI, US streamlined,
//! GCC with MMA): every Defender connection is exempt in every bypass form
//! except the storage wildcards, the Azure no-inspect collection holds
//! exactly the exemptions, and a real Squid doing ssl-bump on loopback
//! splices every exempt host and bumps the rest.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use common::azure::{check_arm, collections, fqdns};
use common::squid::{Bump, Wrapper, chmod, free_port, live_outputs, start_squid, trust_origin};
use common::tls::{BumpCerts, bump_certs, probe, start_origin};
use common::{data, domain_line_admits, edl_line_admits, list_lines};
use egressgen::generate;
use egressgen::model::{DnsName, HostPattern, Via};
use egressgen::policy::Policy;
use egressgen::policy::matching::admits;
use egressgen::ruleset::Ruleset;
use serde_json::Value;

const WORKSPACE: &str = "3f2a9c1e-7b4d-4e8a-9f10-2c6d8e4b1a57";
/// Any storage account: no bypass form may admit these.
const ANY_ACCOUNTS: [&str; 2] = [
    "anyaccount.blob.core.windows.net",
    "anyaccount.blob.core.usgovcloudapi.net",
];
/// The storage wildcards Microsoft lists and says never to exempt.
const STORAGE: [&str; 2] = ["blob.core.windows.net", "blob.core.usgovcloudapi.net"];
const ORIGIN_CN: &str = "egressgen test origin";
const PROXY_CN: &str = "egressgen test proxy CA";

/// One test site: its ruleset body and the hosts on 443 the site allows
/// that a TLS-inspecting proxy must bump.
struct Site {
    name: &'static str,
    body: String,
    bumped: &'static [&'static str],
    mma: bool,
}

fn quoted(rel: &str) -> String {
    format!("{:?}", data(rel).display().to_string())
}

fn sites() -> Vec<Site> {
    vec![
        Site {
            name: "commercial-eu",
            body: format!(
                "[sources]\nfiles = [{}, \"builtin:mma\", \"builtin:mdi\"]\n\
                 [scope]\ncloud = \"commercial\"\ngeographies = [\"EU\"]\n\
                 products = [\"mde\", \"mdav\", \"smart-screen\", \"mma\", \"mdi\"]\n\
                 [site]\nworkspace_ids = [\"{WORKSPACE}\"]\nmdi_instances = [\"contoso-corp\"]\n",
                quoted("mde/standard-device-connectivity-urls-commercial.urltables.md")
            ),
            bumped: &["anyaccount.blob.core.windows.net"],
            mma: true,
        },
        Site {
            name: "us-streamlined",
            body: format!(
                "[sources]\nfiles = [{}]\n\
                 [scope]\ncloud = \"commercial\"\ngeographies = [\"US\"]\nconnectivity = \"streamlined\"\n\
                 products = [\"mde\", \"mdav\", \"smart-screen\"]\n\
                 [[allow]]\nurl = \"https://intranet.contoso.com\"\n",
                quoted("mde/mde-streamlined-urls-commercial.xlsx")
            ),
            bumped: &["intranet.contoso.com"],
            mma: false,
        },
        Site {
            name: "gcc",
            body: format!(
                "[sources]\nfiles = [{}, \"builtin:mma\"]\n\
                 [scope]\ncloud = \"gcc\"\n\
                 products = [\"mde\", \"mdav\", \"smart-screen\", \"mma\"]\n\
                 [site]\nworkspace_ids = [\"{WORKSPACE}\"]\n",
                quoted("mde/standard-device-connectivity-urls-gov.urltables.md")
            ),
            bumped: &["anyaccount.blob.core.usgovcloudapi.net"],
            mma: true,
        },
    ]
}

/// Writes the site's ruleset with every TLS-relevant output and generates;
/// with `live`, the port and bump settings of a Squid to run it.
fn generate_site(dir: &Path, site: &Site, live: Option<(u16, &Bump)>) -> (Policy, PathBuf) {
    let squid = match live {
        Some((port, bump)) => live_outputs(port, Some(bump), dir),
        None => "[outputs.squid]\n".to_string(),
    };
    let text = format!(
        "name = \"{}\"\n{}[outputs.tls_bypass]\n[outputs.azure_firewall]\n{squid}",
        site.name, site.body
    );
    let path = dir.join(format!("{}.toml", site.name));
    std::fs::write(&path, text).unwrap();
    let r = Ruleset::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let out = dir.join(format!("out-{}", site.name));
    let backends = generate::select_backends(&r, None).unwrap();
    let done = generate::generate(&r, &backends, &out).unwrap_or_else(|e| panic!("{e}"));
    (done.policy, out)
}

fn is_storage_wildcard(host: &HostPattern) -> bool {
    matches!(host, HostPattern::Subdomains(n) | HostPattern::Domain(n) if STORAGE.contains(&n.as_str()))
}

/// Whether a policy entry comes from one of Microsoft's lists (not only
/// from the ruleset or the guidance).
fn from_microsoft(policy: &Policy, provenance: &[egressgen::model::Provenance]) -> bool {
    provenance
        .iter()
        .any(|p| p.file != policy.ruleset.file && p.file != "builtin:tls-guidance")
}

/// Every bypass form of one output directory.
struct Forms {
    plain: Vec<String>,
    squid_acl: Vec<String>,
    edl: Vec<String>,
    csv: Vec<String>,
    nobump: Vec<String>,
    nobump_regex: Vec<regex::Regex>,
    azure: BTreeSet<String>,
}

impl Forms {
    fn read(out: &Path) -> Forms {
        let lines = |file: &str| -> Vec<String> {
            let text = std::fs::read_to_string(out.join(file)).unwrap_or_default();
            list_lines(&text).into_iter().map(str::to_string).collect()
        };
        let mut csv = csv::Reader::from_path(out.join("tls-bypass.csv")).unwrap();
        let template = check_arm(out);
        Forms {
            plain: lines("tls-bypass.txt"),
            squid_acl: lines("tls-bypass.ssl_server_name"),
            edl: lines("tls-bypass-edl.txt"),
            csv: csv.records().map(|r| r.unwrap()[0].to_string()).collect(),
            nobump: lines("squid-nobump.ssl_server_name"),
            nobump_regex: lines("squid-nobump.ssl_server_name_regex")
                .iter()
                .map(|r| regex::Regex::new(&format!("(?i){r}")).unwrap())
                .collect(),
            azure: fqdns(&template, "egressgen-no-inspect"),
        }
    }

    /// For each form, whether it exempts `host`.
    fn exempting(&self, host: &str) -> Vec<(&'static str, bool)> {
        let domain = |lines: &[String]| lines.iter().any(|l| domain_line_admits(l, host));
        let azure = self.azure.iter().any(|f| match f.strip_prefix('*') {
            Some(rest) => host.ends_with(rest) && host != rest.trim_start_matches('.'),
            None => f == host,
        });
        vec![
            ("tls-bypass.txt", domain(&self.plain)),
            ("tls-bypass.ssl_server_name", domain(&self.squid_acl)),
            (
                "tls-bypass-edl.txt",
                self.edl.iter().any(|l| edl_line_admits(l, host, true)),
            ),
            ("tls-bypass.csv", domain(&self.csv)),
            (
                "squid splice",
                domain(&self.nobump) || self.nobump_regex.iter().any(|r| r.is_match(host)),
            ),
            ("azure no-inspect", azure),
        ]
    }
}

#[test]
fn every_defender_endpoint_is_exempt_in_every_bypass_form_except_storage_wildcards() {
    let tmp = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for site in sites() {
        let (policy, out) = generate_site(tmp.path(), &site, None);
        let forms = Forms::read(&out);
        let mut checked = 0;
        for e in policy.entries.iter().filter(|e| {
            e.route == Via::Proxy
                && e.ports.contains(&443)
                && from_microsoft(&policy, &e.provenance)
                && !is_storage_wildcard(&e.host)
        }) {
            for host in common::probe_hosts(&e.host) {
                checked += 1;
                for (form, exempt) in forms.exempting(&host) {
                    if !exempt {
                        failures.push(format!("{}: {host} ({}) not in {form}", site.name, e.host));
                    }
                }
            }
        }
        assert!(checked > 10, "{}: only {checked} hosts checked", site.name);
        for any in ANY_ACCOUNTS {
            for (form, exempt) in forms.exempting(any) {
                if exempt {
                    failures.push(format!("{}: {form} exempts {any}", site.name));
                }
            }
        }
        if site.mma {
            let storage = policy
                .tls
                .conflicts
                .iter()
                .find(|c| is_storage_wildcard(&c.bypass) && c.bypass == c.never_bypass);
            match storage {
                Some(c) => assert_eq!(
                    c.decision,
                    egressgen::policy::ConflictDecision::NotBypassed,
                    "{}",
                    site.name
                ),
                None => failures.push(format!("{}: no MMA storage conflict", site.name)),
            }
        }
        if site.name == "us-streamlined" {
            let streamlined = "probe.endpoint.security.microsoft.com";
            assert!(
                forms.exempting(streamlined).iter().all(|(_, x)| *x),
                "{streamlined}: {:?}",
                forms.exempting(streamlined)
            );
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// The Azure spelling of a pattern, as FORMATS.md gives it.
fn azure_fqdns(host: &HostPattern) -> Vec<String> {
    let n = host.name().as_str();
    match host {
        HostPattern::Exact(_) => vec![n.to_string()],
        HostPattern::Subdomains(_) => vec![format!("*.{n}")],
        HostPattern::Domain(_) => vec![n.to_string(), format!("*.{n}")],
        HostPattern::SuffixGlob(_) => vec![format!("*{n}")],
        HostPattern::Template(_) => Vec::new(),
    }
}

#[test]
fn azure_no_inspect_collection_holds_exactly_the_exemptions() {
    let tmp = tempfile::tempdir().unwrap();
    for site in sites() {
        let (policy, out) = generate_site(tmp.path(), &site, None);
        let template = check_arm(&out);
        let expected: BTreeSet<String> = policy
            .tls
            .bypass
            .iter()
            .flat_map(|t| azure_fqdns(&t.host))
            .collect();
        let no_inspect = fqdns(&template, "egressgen-no-inspect");
        assert_eq!(no_inspect, expected, "{}", site.name);
        for storage in STORAGE {
            assert!(
                !no_inspect.contains(&format!("*.{storage}")),
                "{}: {storage}",
                site.name
            );
        }
        // terminateTLS: false on every no-inspect rule and nowhere else.
        for c in collections(&template) {
            let is_no_inspect = c["name"] == "egressgen-no-inspect";
            for r in c["rules"].as_array().unwrap() {
                let spliced = r.get("terminateTLS") == Some(&Value::Bool(false));
                assert_eq!(spliced, is_no_inspect, "{}: {r}", site.name);
            }
        }
    }
}

/// What one probe must show, or why it does not.
fn check(host: &str, r: &Value, issuer: &str, failures: &mut Vec<String>) {
    let ok = r["status"] == 200
        && r["error"] == ""
        && r["issuer"] == issuer
        && r["http"] == 200
        && r["from_origin"] == true;
    if !ok {
        failures.push(format!(
            "{host}: expected a certificate from {issuer:?} and the origin's answer, got {r}"
        ));
    }
}

#[test]
fn live_squid_splices_every_exempt_host_and_bumps_the_rest() {
    let tmp = tempfile::tempdir().unwrap();
    chmod(tmp.path(), 0o755);
    let BumpCerts {
        origin,
        proxy,
        trust,
    } = bump_certs(tmp.path(), ORIGIN_CN, PROXY_CN);
    let _origin = start_origin("127.0.0.3", &origin);

    let mut failures = Vec::new();
    for site in sites() {
        let dir = tmp.path().join(site.name);
        std::fs::create_dir_all(&dir).unwrap();
        chmod(&dir, 0o755);
        let port = free_port();
        let bump = Bump::new(&dir, &proxy);
        let (policy, out) = generate_site(&dir, &site, Some((port, &bump)));
        let allowed_443 = |host: &str| {
            let name = DnsName::parse(host).unwrap();
            policy
                .entries
                .iter()
                .any(|e| e.route == Via::Proxy && e.ports.contains(&443) && admits(&e.host, &name))
        };
        // Every exempt host the proxy lets through, not a sample.
        let exempt: BTreeSet<String> = policy
            .tls
            .bypass
            .iter()
            .flat_map(|t| common::probe_hosts(&t.host))
            .filter(|h| allowed_443(h))
            .collect();
        assert!(exempt.len() > 10, "{}: {exempt:?}", site.name);
        for h in site.bumped {
            assert!(allowed_443(h), "{}: {h} must be allowed", site.name);
        }
        let denied = "evil.example.com";
        let mut hosts = exempt.clone();
        hosts.extend(site.bumped.iter().map(|h| h.to_string()));
        hosts.insert(denied.to_string());
        let squid = start_squid(
            &dir,
            &out,
            port,
            &Wrapper {
                conf: "squid-sslbump.conf",
                address: "127.0.0.3",
                hosts: &hosts,
                extra: &trust_origin(&origin.crt),
            },
        );
        let results = probe(port, &trust, &hosts);
        for h in &exempt {
            check(h, &results[h], ORIGIN_CN, &mut failures);
        }
        for h in site.bumped {
            check(h, &results[*h], PROXY_CN, &mut failures);
        }
        // A denied CONNECT is bumped only to show Squid's error page.
        let d = &results[denied];
        if d["http"] != 403
            || !d["squid_error"]
                .as_str()
                .unwrap_or("")
                .starts_with("ERR_ACCESS_DENIED")
        {
            failures.push(format!(
                "{}: {denied}: expected 403 ERR_ACCESS_DENIED, got {d}",
                site.name
            ));
        }
        if !failures.is_empty() {
            let log = std::fs::read_to_string(&squid.log).unwrap_or_default();
            failures.push(format!("{} cache.log:\n{log}", site.name));
            break;
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

use common::egressgen;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A built-in-catalog site with MMA, and its ruleset file.
fn choice_site(dir: &Path, tls: &str) -> PathBuf {
    let path = dir.join("choices.toml");
    std::fs::write(
        &path,
        format!(
            "name = \"choices\"\n[scope]\ncloud = \"commercial\"\ngeographies = [\"EU\"]\n\
             products = [\"mde\", \"mdav\", \"smart-screen\", \"mma\"]\n\
             [site]\nworkspace_ids = [\"{WORKSPACE}\"]\n[tls]\n{tls}[outputs.tls_bypass]\n"
        ),
    )
    .unwrap();
    path
}

fn explain_text(ruleset: &Path, host: &str) -> String {
    let out = egressgen(&["explain", host, "--ruleset", ruleset.to_str().unwrap()]);
    text(&out.stdout)
}

#[test]
fn explain_says_spliced_or_bumped_and_why() {
    let tmp = tempfile::tempdir().unwrap();
    let r = choice_site(tmp.path(), "");
    let any = explain_text(&r, "anyaccount.blob.core.windows.net");
    assert!(
        any.contains("TLS: bumped, inspected by *.blob.core.windows.net (tls never_bypass)"),
        "{any}"
    );
    assert!(
        any.contains("Exclude only the Defender for Endpoint blob URLs listed"),
        "{any}"
    );
    assert!(
        any.contains("conflict: *.blob.core.windows.net to be exempt"),
        "{any}"
    );
    assert!(
        any.contains("from builtin:tls-guidance [TLS inspection guidance]"),
        "{any}"
    );
    let named = explain_text(&r, "automatedirstrprdneu.blob.core.windows.net");
    assert!(
        named.contains(
            "TLS: spliced, not inspected by automatedirstrprdneu.blob.core.windows.net (tls bypass)"
        ),
        "{named}"
    );
    assert!(named.contains("certificate pinning"), "{named}");
    let gw = explain_text(&r, "winatp-gw-neu.microsoft.com");
    assert!(gw.contains("TLS: spliced"), "{gw}");
    let json = egressgen(&[
        "explain",
        "x.wdcp.microsoft.com",
        "--ruleset",
        r.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let v: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["tls"]["decision"], "spliced");
    assert_eq!(v["tls"]["list"], "bypass");
}

#[test]
fn site_choices_against_the_guidance_are_warned_on_every_run() {
    let tmp = tempfile::tempdir().unwrap();
    let r = choice_site(
        tmp.path(),
        "conflict = \"bypass-wins\"\ninspect_anyway = [\"winatp-gw-neu.microsoft.com\"]\n",
    );
    let out_dir = tmp.path().join("out");
    for run in 0..2 {
        let out = egressgen(&[
            "generate",
            r.to_str().unwrap(),
            "--out",
            out_dir.to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let err = text(&out.stderr);
        assert!(
            err.contains(
                "warning: tls.conflict = bypass-wins: *.blob.core.windows.net is exempted"
            ),
            "run {run}: {err}"
        );
        assert!(
            err.contains(
                "warning: winatp-gw-neu.microsoft.com is inspected because of tls.inspect_anyway"
            ) && err.contains("Microsoft does not support inspecting this connection"),
            "run {run}: {err}"
        );
        assert!(
            err.contains("TLS conflict: *.blob.core.windows.net"),
            "{err}"
        );
    }
    let report = std::fs::read_to_string(out_dir.join("loss-report.md")).unwrap();
    assert!(
        report.contains("- warning: tls.conflict = bypass-wins"),
        "{report}"
    );
    assert!(report.contains("| bypassed |"), "{report}");
    let bypass = std::fs::read_to_string(out_dir.join("tls-bypass.txt")).unwrap();
    let lines = list_lines(&bypass);
    assert!(
        lines.contains(&".blob.core.windows.net"),
        "bypass-wins splices the wildcard"
    );
    assert!(
        !lines
            .iter()
            .any(|l| domain_line_admits(l, "winatp-gw-neu.microsoft.com"))
    );
    let policy: Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("policy.json")).unwrap()).unwrap();
    let gw = policy["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["host"]["pattern"] == "winatp-gw-neu.microsoft.com")
        .unwrap();
    assert_eq!(gw["tls"], "must-be-inspected");
    let explained = explain_text(&r, "winatp-gw-neu.microsoft.com");
    assert!(
        explained
            .contains("TLS: bumped, inspected by winatp-gw-neu.microsoft.com (tls inspect_anyway)")
            && explained.contains("Microsoft does not support inspecting this connection"),
        "{explained}"
    );
}

#[test]
fn never_bypass_forbids_as_broad_an_exemption_and_keeps_named_hosts() {
    let tmp = tempfile::tempdir().unwrap();
    let r = choice_site(
        tmp.path(),
        "never_bypass = [\"*.wd.microsoft.com\", \"*.data.microsoft.com\"]\n",
    );
    let ruleset = Ruleset::load(&r).unwrap();
    let policy = generate::policy_for(&ruleset).unwrap();
    let pattern = |t: &egressgen::policy::TlsEntry| t.host.to_string();
    let bypass: Vec<String> = policy.tls.bypass.iter().map(pattern).collect();
    // Equal: the guidance's *.wd.microsoft.com is a conflict, and loses.
    assert!(
        !bypass.contains(&"*.wd.microsoft.com".to_string()),
        "{bypass:?}"
    );
    assert!(
        policy
            .tls
            .conflicts
            .iter()
            .any(|c| c.bypass.to_string() == "*.wd.microsoft.com"
                && c.decision == egressgen::policy::ConflictDecision::NotBypassed)
    );
    // Strictly inside *.data.microsoft.com: still exempt.
    assert!(
        bypass.contains(&"eu.vortex-win.data.microsoft.com".to_string()),
        "{bypass:?}"
    );
    assert!(
        policy
            .tls
            .warnings
            .iter()
            .any(|w| w.contains("*.wd.microsoft.com is inspected because of tls.never_bypass")),
        "{:?}",
        policy.tls.warnings
    );
}
