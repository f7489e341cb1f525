//! `audit` of PAC files against a real PAC engine: for our generated PAC
//! and hand-written ones (fixtures/audit/pac: a Get-PacFile style
//! `shExpMatch` chain, one with `isInNet`, one that routes wrongly, one
//! with many returns), the route the audit's embedded engine gives every
//! request equals pactester's answer; then the findings the wrong routes
//! must produce, and hostile scripts that loop or allocate without end.
//!
//! Lookups: pactester is given each answer by a copy of the script that
//! redefines `dnsResolve` (pacparser's `isInNet` and `isResolvable` call
//! it), so no test asks DNS. Where the table has no answer, the audit's
//! route for each kind of answer it names equals pactester's for that
//! answer, and a route is decided exactly when pactester's answers agree.
//! The line of each decision is checked against pactester too: a copy
//! whose returns prefix their line to the answer.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};
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
            // Each return of returns.pac.
            "x.blob.core.windows.net",
            "a-long-name-for-the-switch.example.com",
            "a.windows.com",
            "update.example.org",
            "update.x.override.example.org",
            "example.org",
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
        fixture("returns.pac"),
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

/// A copy of `pac` with `extra` JavaScript appended: a function declared
/// there replaces pacparser's own.
fn variant(pac: &Path, extra: &str, dir: &Path, tag: &str) -> PathBuf {
    let text = std::fs::read_to_string(pac).unwrap();
    let copy = dir.join(format!("{tag}.pac"));
    std::fs::write(&copy, format!("{text}\n{extra}\n")).unwrap();
    copy
}

/// `dnsResolve` answering `table` (name, address or no answer), and no
/// answer for any other name; `None` as the name answers every name.
fn dns_js(table: &[(Option<&str>, Option<&str>)]) -> String {
    let js = |a: Option<&str>| a.map_or("null".to_string(), |a| format!("\"{a}\""));
    let mut body = String::new();
    for (name, answer) in table {
        match name {
            Some(n) => body.push_str(&format!("if (h == \"{n}\") {{ return {}; }} ", js(*answer))),
            None => body.push_str(&format!("return {}; ", js(*answer))),
        }
    }
    // pacparser answers an address with itself, as the audit's helper does.
    let literal = "if (/^\\d+\\.\\d+\\.\\d+\\.\\d+$/.test(h)) { return h; }";
    format!("function dnsResolve(h) {{ {literal} {body}return null; }}")
}

/// One kind of answer, as the audit names it: `no answer`,
/// `an address outside the tested ranges (A)`, `inside N (A)`.
#[derive(Debug)]
struct Reply {
    name: Option<String>,
    addr: Option<Ipv4Addr>,
    label: String,
}

/// A lookup as a why names it: line, name, helper.
type Asked = (usize, String, String);
/// The answers tried in one run, and the route they led to.
type Outcome = (Vec<Reply>, String);

/// An undecidable answer's why: the lookups and the outcomes.
fn parse_why(why: &str) -> (Vec<Asked>, Vec<Outcome>) {
    let split = why.find("): ").unwrap_or_else(|| panic!("{why}"));
    let (head, rest) = (&why[..=split], &why[split + 3..]);
    let asked_re = regex::Regex::new(r"line (\d+) (?:asks DNS )?for (\S+) \((\w+)\)").unwrap();
    let asked = asked_re
        .captures_iter(head)
        .map(|c| (c[1].parse().unwrap(), c[2].to_string(), c[3].to_string()))
        .collect();
    let outcome_re = regex::Regex::new(r#"(.*?) -> "([^"]*)"(?:; |$)"#).unwrap();
    let reply_re = regex::Regex::new(r"^(?:(\S+): )?(.*?)(?: \(([\d.]+)\))?$").unwrap();
    let outcomes = outcome_re
        .captures_iter(rest)
        .map(|c| {
            let replies = c[1]
                .split(", ")
                .map(|r| {
                    let m = reply_re.captures(r).unwrap_or_else(|| panic!("{r}"));
                    Reply {
                        name: m.get(1).map(|n| n.as_str().to_string()),
                        addr: m.get(3).map(|a| a.as_str().parse().unwrap()),
                        label: m[2].to_string(),
                    }
                })
                .collect();
            (replies, c[2].to_string())
        })
        .collect();
    (asked, outcomes)
}

/// Whether the label says where the address is, truly: inside the
/// network it names, or outside both ranges dns-lookup.pac tests.
fn label_is_true(r: &Reply) -> bool {
    let tested: [ipnet::Ipv4Net; 2] = [
        "10.0.0.0/8".parse().unwrap(),
        "192.168.0.0/16".parse().unwrap(),
    ];
    match (r.addr, r.label.strip_prefix("inside ")) {
        (None, _) => r.label == "no answer",
        (Some(a), Some(net)) => net.parse::<ipnet::Ipv4Net>().is_ok_and(|n| n.contains(&a)),
        (Some(a), None) => {
            r.label == "an address outside the tested ranges"
                && !tested.iter().any(|n| n.contains(&a))
        }
    }
}

/// The hosts of the policy and the names dns-lookup.pac treats apart.
fn dns_probes(policy: &Policy) -> Vec<Probe> {
    let mut hosts = common::audit_hosts(policy);
    hosts.extend(
        [
            "intranet",
            "files.contoso.local",
            "winatp-gw-cus.microsoft.com",
            "a.winatp-gw-cus.microsoft.com",
            "winatp-gw-weu.microsoft.com",
            "fe2.update.microsoft.com",
            "ctldl.windowsupdate.com",
            "10.1.2.3",
            "192.168.4.5",
            "8.8.8.8",
            "example.org",
        ]
        .map(String::from),
    );
    hosts
        .into_iter()
        .map(|host| Probe {
            host,
            port: 443,
            scheme: Scheme::Https,
            path: "/".to_string(),
            client: CLIENT.parse().unwrap(),
        })
        .collect()
}

fn find<'a>(probes: &'a [Probe], host: &str) -> &'a Probe {
    probes.iter().find(|p| p.host == host).unwrap()
}

/// The line of the script holding `text` (1-based).
fn line_of(script: &str, text: &str) -> usize {
    script.lines().position(|l| l.contains(text)).unwrap() + 1
}

#[test]
fn a_lookup_the_table_cannot_answer_is_tried_each_way_as_pactester_answers_it() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, policy, _) = example(tmp.path());
    let pac = fixture("dns-lookup.pac");
    let script = std::fs::read_to_string(&pac).unwrap();
    let lines: Vec<&str> = script.lines().collect();
    let probes = dns_probes(&policy);
    let urls: Vec<String> = probes.iter().map(url_of).collect();
    // This test's own answers, from the ranges the script tests: none,
    // outside both, inside each.
    let answers = [
        None,
        Some("203.0.113.7"),
        Some("10.20.30.40"),
        Some("192.168.77.1"),
    ];
    let by_answer: Vec<Vec<String>> = answers
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let copy = variant(
                &pac,
                &dns_js(&[(None, *a)]),
                tmp.path(),
                &format!("answer{i}"),
            );
            pactester(&copy, &urls, tmp.path())
        })
        .collect();
    let config = read_config(&pac, None, &Options::default()).unwrap();
    // Each address the audit tried, with the probes and routes it named.
    let mut named: BTreeMap<Ipv4Addr, Vec<(usize, String)>> = BTreeMap::new();
    let (mut decided, mut open) = (0, 0);
    for (i, p) in probes.iter().enumerate() {
        let routes: BTreeSet<&String> = by_answer.iter().map(|r| &r[i]).collect();
        let v = config.decide(p);
        if routes.len() == 1 {
            decided += 1;
            assert_eq!(v.access, Access::Allowed, "{}: {v:?}", url_of(p));
            assert_eq!(v.route.as_ref(), routes.first().copied(), "{}", url_of(p));
            continue;
        }
        open += 1;
        let Access::Undecidable(why) = &v.access else {
            panic!("{}: pactester {routes:?}, audit {v:?}", url_of(p))
        };
        let (asked, outcomes) = parse_why(why);
        assert_eq!(asked.len(), 1, "{why}");
        let (line, name, via) = &asked[0];
        assert_eq!(
            (name.as_str(), via.as_str()),
            (p.host.as_str(), "dnsResolve"),
            "{why}"
        );
        assert!(lines[line - 1].contains("dnsResolve(host)"), "{why}");
        assert_eq!(v.by.as_ref().map(|o| o.line), Some(*line));
        let got: BTreeSet<&String> = outcomes.iter().map(|(_, r)| r).collect();
        assert_eq!(got, routes, "{why}");
        let labels: Vec<&str> = outcomes.iter().map(|(r, _)| r[0].label.as_str()).collect();
        for want in [
            "no answer",
            "an address outside the tested ranges",
            "inside 10.0.0.0/8",
        ] {
            assert!(labels.contains(&want), "{want}: {why}");
        }
        for (replies, route) in &outcomes {
            assert!(label_is_true(&replies[0]), "{replies:?} in {why}");
            match replies[0].addr {
                None => assert_eq!(route, &by_answer[0][i], "{why}"),
                Some(a) => named.entry(a).or_default().push((i, route.clone())),
            }
        }
    }
    assert!(decided > 10 && open > 10, "{decided} decided, {open} open");
    // pactester, given each address the audit tried, routes as it said.
    for (addr, checks) in &named {
        let a = addr.to_string();
        let copy = variant(&pac, &dns_js(&[(None, Some(&a))]), tmp.path(), &a);
        let got = pactester(&copy, &urls, tmp.path());
        for (i, route) in checks {
            assert_eq!(&got[*i], route, "{} with {a}", urls[*i]);
        }
    }
    // Windows Update's names look a name up, but every answer ends at
    // the same return: decided, by that return.
    let wu = config.decide(find(&probes, "fe2.update.microsoft.com"));
    assert_eq!(wu.route.as_deref(), Some("PROXY proxy.contoso.com:8080"));
    let wu_return = line_of(&script, "\".windowsupdate.com\"") + 1;
    assert!(lines[wu_return - 1].contains("return proxy;"));
    assert_eq!(wu.by.unwrap().line, wu_return);
    // The gateway's own name fails its leading-dot test, and the why
    // says so; a name below it passes.
    let gw_test = line_of(&script, "\".winatp-gw-weu.microsoft.com\"");
    let gw = config.decide(find(&probes, "winatp-gw-weu.microsoft.com"));
    let Access::Undecidable(why) = gw.access else {
        panic!("{gw:?}")
    };
    let note = format!(
        "; line {gw_test}: dnsDomainIs(host, \".winatp-gw-weu.microsoft.com\") does not match winatp-gw-weu.microsoft.com itself"
    );
    assert!(why.contains(&note), "{why}");
    let below = config.decide(find(&probes, "a.winatp-gw-cus.microsoft.com"));
    assert_eq!(below.route.as_deref(), Some("PROXY proxy.contoso.com:8080"));
    assert_eq!(below.by.unwrap().line, gw_test + 1);
}

#[test]
fn lookups_the_table_answers_route_as_pactester_given_that_answer() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, policy, _) = example(tmp.path());
    let pac = fixture("dns-lookup.pac");
    let probes = dns_probes(&policy);
    let urls: Vec<String> = probes.iter().map(url_of).collect();
    for addr in ["10.20.30.40", "192.168.77.1", "203.0.113.7"] {
        let mut options = Options::default();
        for p in &probes {
            options
                .resolve
                .insert(p.host.clone(), addr.parse().unwrap());
        }
        let config = read_config(&pac, None, &options).unwrap();
        let copy = variant(&pac, &dns_js(&[(None, Some(addr))]), tmp.path(), addr);
        let want = pactester(&copy, &urls, tmp.path());
        for (p, want) in probes.iter().zip(&want) {
            let v = config.decide(p);
            assert_eq!(
                v.access,
                Access::Allowed,
                "{} with {addr}: {v:?}",
                url_of(p)
            );
            assert_eq!(v.route.as_ref(), Some(want), "{} with {addr}", url_of(p));
        }
    }
}

#[test]
fn several_unanswered_names_are_tried_together_as_pactester_answers_them() {
    let tmp = tempfile::tempdir().unwrap();
    let pac = tmp.path().join("two-lookups.pac");
    // Off the corporate network the proxy's name does not resolve: go
    // direct. Internal servers direct, the rest to the proxy.
    std::fs::write(
        &pac,
        "function FindProxyForURL(url, host) {\n\
         if (!isResolvable(\"proxy.contoso.com\")) {\n\
         return \"DIRECT\";\n\
         }\n\
         if (isInNet(host, \"10.0.0.0\", \"255.0.0.0\")) {\n\
         return \"DIRECT\";\n\
         }\n\
         return \"PROXY proxy.contoso.com:8080\";\n\
         }\n",
    )
    .unwrap();
    let config = read_config(&pac, None, &Options::default()).unwrap();
    let probe = |host: &str| Probe {
        host: host.to_string(),
        port: 443,
        scheme: Scheme::Https,
        path: "/".to_string(),
        client: CLIENT.parse().unwrap(),
    };
    // An address needs no second lookup, and every answer for the
    // proxy's name ends DIRECT.
    let literal = config.decide(&probe("10.1.2.3"));
    assert_eq!(
        (literal.access, literal.route.as_deref()),
        (Access::Allowed, Some("DIRECT"))
    );
    let v = config.decide(&probe("app.example.org"));
    let Access::Undecidable(why) = &v.access else {
        panic!("{v:?}")
    };
    let (asked, outcomes) = parse_why(why);
    let names: Vec<(usize, &str, &str)> = asked
        .iter()
        .map(|(l, n, h)| (*l, n.as_str(), h.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            (2, "proxy.contoso.com", "isResolvable"),
            (5, "app.example.org", "isInNet")
        ],
        "{why}"
    );
    // Both names answered each way, and the routes of both kinds.
    assert!(outcomes.iter().any(|(r, _)| r.len() == 2), "{why}");
    let routes: BTreeSet<&str> = outcomes.iter().map(|(_, r)| r.as_str()).collect();
    assert_eq!(
        routes,
        BTreeSet::from(["DIRECT", "PROXY proxy.contoso.com:8080"]),
        "{why}"
    );
    for (i, (replies, route)) in outcomes.iter().enumerate() {
        let table: Vec<(Option<&str>, Option<String>)> = replies
            .iter()
            .map(|r| (r.name.as_deref(), r.addr.map(|a| a.to_string())))
            .collect();
        let table: Vec<(Option<&str>, Option<&str>)> =
            table.iter().map(|(n, a)| (*n, a.as_deref())).collect();
        let copy = variant(&pac, &dns_js(&table), tmp.path(), &format!("combo{i}"));
        let got = pactester(&copy, &[url_of(&probe("app.example.org"))], tmp.path());
        assert_eq!(&got[0], route, "{replies:?} in {why}");
    }
}

/// A `return` statement in a line of these scripts: at the start of a
/// line or after `{` or `)` (so not one in a string).
fn return_statement() -> regex::Regex {
    regex::Regex::new(r"(^\s*|[{)]\s*)return\b").unwrap()
}

/// A copy of `pac` whose FindProxyForURL returns say their line: each
/// `return` after `function FindProxyForURL` (the last function of these
/// scripts) becomes `return "@LINE@" + `, so pactester's answer starts
/// with the line of the return that gave it. Comment lines are left.
fn line_marked(pac: &Path, dir: &Path, tag: &str) -> PathBuf {
    let text = std::fs::read_to_string(pac).unwrap();
    let start = line_of(&text, "function FindProxyForURL");
    let word = return_statement();
    let marked: Vec<String> = text
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i + 1 > start && !l.trim_start().starts_with("//") {
                word.replace_all(l, format!("${{1}}return \"@{}@\" + ", i + 1).as_str())
                    .into_owned()
            } else {
                l.to_string()
            }
        })
        .collect();
    let copy = dir.join(format!("{tag}.pac"));
    std::fs::write(&copy, marked.join("\n") + "\n").unwrap();
    copy
}

#[test]
fn each_decision_names_the_return_that_answered_as_pactester_shows_it() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, policy, out) = example(tmp.path());
    let mut probes = probes(&policy);
    probes.extend(dns_probes(&policy));
    let urls: Vec<String> = probes.iter().map(url_of).collect();
    let every = |addr: &str| {
        let mut o = Options::default();
        for p in &probes {
            o.resolve.insert(p.host.clone(), addr.parse().unwrap());
        }
        o
    };
    let pacs = [
        (out.join("proxy.pac"), Options::default(), None),
        (fixture("get-pacfile.pac"), Options::default(), None),
        (fixture("isinnet.pac"), Options::default(), None),
        (fixture("wrong-routes.pac"), Options::default(), None),
        (fixture("returns.pac"), Options::default(), None),
        (
            fixture("dns-lookup.pac"),
            every("10.20.30.40"),
            Some("10.20.30.40"),
        ),
        (
            fixture("dns-lookup.pac"),
            every("203.0.113.7"),
            Some("203.0.113.7"),
        ),
    ];
    for (n, (pac, options, addr)) in pacs.iter().enumerate() {
        let text = std::fs::read_to_string(pac).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let mut copy = line_marked(pac, tmp.path(), &format!("lines{n}"));
        if let Some(a) = addr {
            copy = variant(
                &copy,
                &dns_js(&[(None, Some(a))]),
                tmp.path(),
                &format!("lines{n}-dns"),
            );
        }
        let want = pactester(&copy, &urls, tmp.path());
        let config = read_config(pac, None, options).unwrap();
        let mut seen = BTreeSet::new();
        for (p, want) in probes.iter().zip(&want) {
            let (line, route) = want
                .strip_prefix('@')
                .and_then(|w| w.split_once('@'))
                .unwrap_or_else(|| panic!("{}: no line in {want:?}", url_of(p)));
            let line: usize = line.parse().unwrap();
            let v = config.decide(p);
            assert_eq!(
                v.route.as_deref(),
                Some(route),
                "{}: {}",
                pac.display(),
                url_of(p)
            );
            let by = v.by.unwrap();
            assert_eq!(by.line, line, "{}: {}", pac.display(), url_of(p));
            assert!(lines[by.line - 1].contains("return"), "{by}");
            seen.insert(line);
        }
        assert!(seen.len() > 1, "{}: {seen:?}", pac.display());
        if pac.ends_with("returns.pac") {
            // Every return of FindProxyForURL answered some request.
            let start = line_of(&text, "function FindProxyForURL");
            let all: BTreeSet<usize> = (start + 1..=lines.len())
                .filter(|&l| return_statement().is_match(lines[l - 1]))
                .collect();
            assert_eq!(seen, all);
        }
    }
}

#[test]
fn the_audit_of_a_lookup_names_its_line_and_the_suffix_test() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, policy, _) = example(tmp.path());
    let pac = fixture("dns-lookup.pac");
    let script = std::fs::read_to_string(&pac).unwrap();
    let c = read_config(&pac, None, &Options::default()).unwrap();
    let a = audit(&policy, c.as_ref(), CLIENT.parse().unwrap());
    let gw = a
        .entries
        .iter()
        .find(|e| e.entry == "allow/proxy/winatp-gw-weu.microsoft.com@443")
        .unwrap();
    assert_eq!(gw.coverage, Coverage::Undecidable);
    let detail = gw.detail.join("\n");
    let ask = line_of(&script, "isInNet(dnsResolve(host), \"10.0.0.0\"");
    assert!(
        detail.contains(&format!("line {ask} asks DNS for winatp-gw-weu.microsoft.com (dnsResolve): no answer -> \"PROXY proxy.contoso.com:8080; DIRECT\"")),
        "{detail}"
    );
    assert!(
        detail.contains("inside 10.0.0.0/8 (10.0.0.1) -> \"DIRECT\""),
        "{detail}"
    );
    assert!(
        detail.contains("does not match winatp-gw-weu.microsoft.com itself"),
        "{detail}"
    );
    assert!(gw.lines.iter().any(|o| o.line == ask), "{:?}", gw.lines);
}

/// A decided route still carries what the script did not mean: a
/// leading-dot `dnsDomainIs` misses the bare gateway name, so the gateway
/// goes DIRECT; the audit says so beside the route it reports.
#[test]
fn a_decided_route_names_the_suffix_test_that_missed_the_bare_name() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, policy, _) = example(tmp.path());
    let pac = tmp.path().join("dot.pac");
    std::fs::write(
        &pac,
        "function FindProxyForURL(url, host) {\n\
         \x20 if (dnsDomainIs(host, \".winatp-gw-weu.microsoft.com\")) return \"PROXY proxy.contoso.com:8080\";\n\
         \x20 return \"DIRECT\";\n}\n",
    )
    .unwrap();
    let c = read_config(&pac, None, &Options::default()).unwrap();
    let a = audit(&policy, c.as_ref(), CLIENT.parse().unwrap());
    let gw = a
        .entries
        .iter()
        .find(|e| e.entry == "allow/proxy/winatp-gw-weu.microsoft.com@443")
        .unwrap();
    assert_eq!(gw.coverage, Coverage::RoutedWrong, "{:#?}", gw.detail);
    assert!(
        gw.detail.iter().any(|d| d
            == "line 2: dnsDomainIs(host, \".winatp-gw-weu.microsoft.com\") does not match winatp-gw-weu.microsoft.com itself (a suffix test: the name needs a test of its own)"),
        "{:#?}",
        gw.detail
    );
    // A host the test does match carries no such note.
    let other = a
        .entries
        .iter()
        .find(|e| e.entry == "allow/proxy/winatp-gw-neu.microsoft.com@443")
        .unwrap();
    assert!(!other.detail.iter().any(|d| d.contains("suffix test")));
}

/// The default route is the `return` pactester's line-marked copy gives
/// for a host no script names, and it covers exactly the entries all of
/// whose requests pactester answers from that line. Our own PAC names
/// every entry, so it has none; a Get-PacFile chain ending in `return
/// direct` has one; a script whose last word needs a lookup has none.
#[test]
fn the_default_route_is_the_return_pactester_gives_an_unnamed_host() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, policy, out) = example(tmp.path());
    let client: IpAddr = CLIENT.parse().unwrap();
    let unnamed = Probe::new(egressgen::audit::security::UNNAMED, 443, "/", client);
    let pacs = [
        (out.join("proxy.pac"), false),
        (fixture("get-pacfile.pac"), true),
        (fixture("isinnet.pac"), true),
        (fixture("wrong-routes.pac"), true),
        (fixture("returns.pac"), true),
        (fixture("dns-lookup.pac"), false),
    ];
    for (n, (pac, expected)) in pacs.iter().enumerate() {
        let config = read_config(pac, None, &Options::default()).unwrap();
        let report = audit(&policy, config.as_ref(), client);
        assert_eq!(
            report.default_route.is_some(),
            *expected,
            "{}: {:?}",
            pac.display(),
            report.default_route
        );
        let Some(d) = report.default_route else {
            continue;
        };
        // Every entry's requests, and the unnamed host's, in one call.
        let per_entry: Vec<Vec<Probe>> = policy
            .entries
            .iter()
            .map(|e| egressgen::audit::probe::entry_probes(e, client))
            .collect();
        let mut urls = vec![url_of(&unnamed)];
        urls.extend(per_entry.iter().flatten().map(url_of));
        let copy = line_marked(pac, tmp.path(), &format!("default{n}"));
        let want = pactester(&copy, &urls, tmp.path());
        let line = |answer: &str| -> usize {
            let (line, _) = answer[1..].split_once('@').unwrap();
            line.parse().unwrap()
        };
        assert_eq!(d.at.line, line(&want[0]), "{}", pac.display());
        assert!(
            d.at.file
                .ends_with(pac.file_name().unwrap().to_str().unwrap())
        );
        let mut answers = want[1..].iter();
        let only: usize = per_entry
            .iter()
            .filter(|probes| {
                let lines: Vec<usize> = answers
                    .by_ref()
                    .take(probes.len())
                    .map(|a| line(a))
                    .collect();
                !lines.is_empty() && lines.iter().all(|&l| l == d.at.line)
            })
            .count();
        assert_eq!(d.covers, only, "{}", pac.display());
        assert!(
            d.why
                .contains(&format!("{only} of {}", policy.entries.len())),
            "{}",
            d.why
        );
    }
}
