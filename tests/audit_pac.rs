//! `audit` of PAC files against a real PAC engine: for our generated PAC
//! and three hand-written ones (fixtures/audit/pac: a Get-PacFile style
//! `shExpMatch` chain, one with `isInNet`, one that routes wrongly), the
//! route the audit's embedded engine gives every request equals
//! pactester's answer; then the findings the wrong routes must produce,
//! and hostile scripts that loop or allocate without end.

mod common;

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::tools::require;
use egressgen::audit::engine::{Coverage, audit};
use egressgen::backends::pac::read::url_of;
use egressgen::backends::reader::{Access, Options, Probe, read_config};
use egressgen::generate;
use egressgen::model::Scheme;
use egressgen::policy::Policy;
use egressgen::ruleset::Ruleset;

const CLIENT: &str = "10.0.0.1";

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/audit/pac")
        .join(name)
}

fn example(dir: &Path) -> (PathBuf, Policy, PathBuf) {
    let ruleset = Path::new(env!("CARGO_MANIFEST_DIR")).join("rulesets/commercial-eu.toml");
    let r = Ruleset::load(&ruleset).unwrap();
    let out = dir.join("out");
    let backends = generate::select_backends(&r, None).unwrap();
    let policy = generate::generate(&r, &backends, &out).unwrap().policy;
    (ruleset, policy, out)
}

/// Requests for the policy's hosts and their near misses, address
/// literals inside and outside private ranges, plain and local names.
fn probes(policy: &Policy) -> Vec<Probe> {
    let client: IpAddr = CLIENT.parse().unwrap();
    let mut hosts = common::audit_hosts(policy);
    hosts.extend(
        [
            "10.1.2.3",
            "172.20.0.1",
            "172.32.0.1",
            "192.168.10.10",
            "8.8.8.8",
            "127.0.0.1",
            "intranet",
            "localhost",
            "files.contoso.local",
            "login.live.com.evil.example",
        ]
        .map(String::from),
    );
    let mut out = Vec::new();
    for h in hosts {
        for (port, path) in [(443, "/"), (80, "/pki/crl/products/probe")] {
            out.push(Probe {
                host: h.clone(),
                port,
                scheme: if port == 80 {
                    Scheme::Http
                } else {
                    Scheme::Https
                },
                path: path.to_string(),
                client,
            });
        }
    }
    out
}

/// pactester's answer for each URL, in order.
fn pactester(pac: &Path, urls: &[String], dir: &Path) -> Vec<String> {
    let list = dir.join("urls.txt");
    std::fs::write(&list, urls.join("\n") + "\n").unwrap();
    let out = Command::new(require("pactester", "libpacparser1"))
        .arg("-p")
        .arg(pac)
        .arg("-f")
        .arg(&list)
        .args(["-c", CLIENT])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let answers: Vec<String> = text
        .lines()
        .map(|l| {
            l.split_once(" : ")
                .map(|(_, r)| r.to_string())
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(answers.len(), urls.len(), "{text}");
    answers
}

#[test]
fn the_audit_routes_every_request_as_pactester_does() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, policy, out) = example(tmp.path());
    let pacs = [
        out.join("proxy.pac"),
        fixture("get-pacfile.pac"),
        fixture("isinnet.pac"),
        fixture("wrong-routes.pac"),
    ];
    let probes = probes(&policy);
    assert!(probes.len() >= 300, "{}", probes.len());
    let urls: Vec<String> = probes.iter().map(url_of).collect();
    let mut failures = Vec::new();
    for pac in &pacs {
        let config = read_config(pac, None, &Options::default()).unwrap();
        assert_eq!(config.kind(), "pac");
        let expected = pactester(pac, &urls, tmp.path());
        let mut routes = BTreeSet::new();
        for (p, want) in probes.iter().zip(&expected) {
            let v = config.decide(p);
            routes.insert(want.clone());
            match (&v.access, &v.route) {
                (Access::Allowed, Some(got)) if got == want => {}
                other => failures.push(format!(
                    "{}: {}: pactester {want:?}, audit {other:?}",
                    pac.display(),
                    url_of(p)
                )),
            }
        }
        // Every script gives more than one answer over these requests.
        assert!(routes.len() > 1, "{}: {routes:?}", pac.display());
    }
    assert!(
        failures.is_empty(),
        "{} differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn wrong_routes_are_reported_per_entry() {
    let tmp = tempfile::tempdir().unwrap();
    let (ruleset, policy, out) = example(tmp.path());
    let client: IpAddr = CLIENT.parse().unwrap();
    let coverage = |pac: &Path| {
        let c = read_config(pac, None, &Options::default()).unwrap();
        audit(&policy, c.as_ref(), client)
    };
    // Our own PAC: every entry where the policy sends it.
    let own = coverage(&out.join("proxy.pac"));
    assert_eq!(
        own.summary.covered, own.summary.entries,
        "{:#?}",
        own.entries
    );
    // The wrong one: Microsoft hosts DIRECT, the sign-in host proxied, one
    // host to a proxy the ruleset does not list.
    let wrong = coverage(&fixture("wrong-routes.pac"));
    let find = |key: &str| {
        wrong
            .entries
            .iter()
            .find(|e| e.entry == key)
            .unwrap_or_else(|| panic!("{key}"))
    };
    let gw = find("allow/proxy/winatp-gw-weu.microsoft.com@443");
    assert_eq!(gw.coverage, Coverage::RoutedWrong);
    assert!(gw.detail[0].contains("goes DIRECT"), "{:?}", gw.detail);
    let signin = find("allow/direct/login.microsoftonline.com@443");
    assert_eq!(signin.coverage, Coverage::RoutedWrong);
    assert!(
        signin.detail[0].contains("the policy sends it DIRECT"),
        "{:?}",
        signin.detail
    );
    let old = find("allow/proxy/login.windows.net@443");
    assert!(
        old.detail[0].contains("PROXY old-proxy.contoso.com:8080"),
        "{:?}",
        old.detail
    );
    assert_eq!(
        find("allow/proxy/officecdn-microsoft-com.akamaized.net@443").coverage,
        Coverage::Exact
    );
    // Exit status 20 (a gap) from the command line.
    let cli = common::egressgen(&[
        "audit",
        "--ruleset",
        ruleset.to_str().unwrap(),
        fixture("wrong-routes.pac").to_str().unwrap(),
    ]);
    assert_eq!(cli.status.code(), Some(20));
    let text = String::from_utf8_lossy(&cli.stdout);
    assert!(
        text.contains("routed wrong: winatp-gw-weu.microsoft.com"),
        "{text}"
    );
}

#[test]
fn lookups_come_from_the_table_and_an_unanswered_one_is_undecidable() {
    let tmp = tempfile::tempdir().unwrap();
    let pac = tmp.path().join("lookup.pac");
    std::fs::write(
        &pac,
        "function FindProxyForURL(url, host) {\n\
         if (isInNet(host, \"10.0.0.0\", \"255.0.0.0\")) return \"DIRECT\";\n\
         return \"PROXY proxy.contoso.com:8080\"; }\n",
    )
    .unwrap();
    let probe = |host: &str| Probe {
        host: host.to_string(),
        port: 443,
        scheme: Scheme::Https,
        path: "/".to_string(),
        client: CLIENT.parse().unwrap(),
    };
    let mut options = Options::default();
    options.resolve.insert(
        "intranet.contoso.com".to_string(),
        "10.9.9.9".parse().unwrap(),
    );
    let c = read_config(&pac, None, &options).unwrap();
    assert_eq!(
        c.decide(&probe("intranet.contoso.com")).route.as_deref(),
        Some("DIRECT")
    );
    assert_eq!(
        c.decide(&probe("10.1.1.1")).route.as_deref(),
        Some("DIRECT"),
        "an address needs no lookup"
    );
    let v = c.decide(&probe("other.contoso.com"));
    match v.access {
        Access::Undecidable(why) => assert!(why.contains("other.contoso.com"), "{why}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn hostile_scripts_end_within_their_limits() {
    let tmp = tempfile::tempdir().unwrap();
    let (ruleset, policy, _) = example(tmp.path());
    let client: IpAddr = CLIENT.parse().unwrap();
    let scripts = [
        (
            "loop.pac",
            "function FindProxyForURL(u, h) { while (true) {} }\n",
            "did not answer",
        ),
        (
            "alloc.pac",
            "function FindProxyForURL(u, h) { var a = []; for (;;) { a.push(new Array(1 << 16).join('x')); } }\n",
            "MiB",
        ),
        (
            "recurse.pac",
            "function f(n) { return f(n + 1) + 1; }\nfunction FindProxyForURL(u, h) { return f(0); }\n",
            "deep",
        ),
    ];
    for (name, text, why) in scripts {
        let pac = tmp.path().join(name);
        std::fs::write(&pac, text).unwrap();
        let c = read_config(&pac, None, &Options::default()).unwrap();
        let a = audit(&policy, c.as_ref(), client);
        assert_eq!(a.summary.undecidable, a.summary.entries, "{name}");
        assert!(
            a.entries[0].detail.iter().any(|d| d.contains(why)),
            "{name}: {:?}",
            a.entries[0].detail
        );
        // After a few limit hits the script is not asked again.
        assert!(
            a.entries
                .last()
                .unwrap()
                .detail
                .iter()
                .any(|d| d.contains("not evaluated")),
            "{name}"
        );
    }
    // A script that never loads, and one too large for a browser.
    let bad = tmp.path().join("bad.pac");
    std::fs::write(&bad, "function FindProxyForURL(u, h) { return ").unwrap();
    let e = read_config(&bad, None, &Options::default()).err().unwrap();
    assert!(e.to_string().contains("bad.pac:1"), "{e}");
    let none = tmp.path().join("none.pac");
    std::fs::write(&none, "var x = 1;\n").unwrap();
    let e = read_config(&none, None, &Options::default()).err().unwrap();
    assert!(e.to_string().contains("FindProxyForURL"), "{e}");
    let big = tmp.path().join("big.pac");
    std::fs::write(
        &big,
        format!(
            "// {}\nfunction FindProxyForURL(u, h) {{ return \"DIRECT\"; }}\n",
            "x".repeat(1 << 20)
        ),
    )
    .unwrap();
    let e = read_config(&big, None, &Options::default()).err().unwrap();
    assert!(e.to_string().contains("1 MiB"), "{e}");
    // A loop at load time is stopped too.
    let top = tmp.path().join("top.pac");
    std::fs::write(
        &top,
        "while (true) {}\nfunction FindProxyForURL(u, h) { return \"DIRECT\"; }\n",
    )
    .unwrap();
    assert!(read_config(&top, None, &Options::default()).is_err());
    let _ = ruleset;
}
