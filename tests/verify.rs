//! `egressgen verify` on loopback, against real servers: a Squid with the
//! generated configuration (plain and ssl-bump), origins with their own
//! test CA that answer, stall, reset or show an expired certificate, a PAC
//! served over HTTP, and a proxy that is down. JSON is checked against
//! docs/verify.schema.json, JUnit XML against docs/junit.xsd with xmllint.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use common::http::{Reply, Server};
use common::origin::{Behaviour, PROXY_CA_CN, Pki, pki, serve};
use common::squid::{
    Bump, SquidProcess, Wrapper, chmod, free_port, live_outputs, start_squid, trust_origin,
};
use common::tools::require;
use egressgen::ruleset::Ruleset;
use serde_json::Value;

const ORIGIN: &str = "127.0.0.5";
const STALL: &str = "127.0.0.6";
const RESET: &str = "127.0.0.7";
const EXPIRED: &str = "127.0.0.8";
const DENIED: &str = "denied.contoso.com";
/// A must-not-inspect endpoint the modified ssl-bump configuration bumps.
const VICTIM: &str = "winatp-gw-weu.microsoft.com";
/// An endpoint the test PAC sends to a dead proxy first.
const FALLBACK: &str = "nav.smartscreen.microsoft.com";
/// An endpoint the site inspects (its own).
const INSPECTABLE: &str = "intranet.contoso.com";

const SITE: &str = "[scope]\ncloud = \"commercial\"\ngeographies = [\"EU\"]\n\
    products = [\"mde\", \"mdav\", \"smart-screen\"]\n\
    [[allow]]\nurl = \"https://intranet.contoso.com\"\n";
const FAULTS: &str = "[sources]\nfiles = []\n[scope]\ncloud = \"commercial\"\nproducts = []\n\
    [[allow]]\nurl = \"https://stall.contoso.com\"\n[[allow]]\nurl = \"https://reset.contoso.com\"\n\
    [[allow]]\nurl = \"https://expired.contoso.com\"\n";

const PROBES: &str = "[sources]\nfiles = []\n[scope]\ncloud = \"commercial\"\nproducts = []\n\
    [[allow]]\nurl = \"*.c.contoso.com\"\n[[allow]]\nurl = \"*.d.contoso.com\"\n\
    [[verify.probes]]\nhost = \"*.c.contoso.com\"\nurl = \"https://real.c.contoso.com/health\"\nexpect = [204]\n";

/// The origins and the PKI, once per test process.
struct Lab {
    dir: PathBuf,
    pki: Pki,
    /// Every host a probe of the site asks for.
    hosts: BTreeSet<String>,
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, format!("name = \"{name}\"\n{text}")).unwrap();
    path
}

/// The hosts the probes of a ruleset ask for, as the library plans them.
fn probe_hosts(path: &Path) -> BTreeSet<String> {
    let r = Ruleset::load(path).unwrap();
    let policy = egressgen::generate::policy_for(&r).unwrap();
    egressgen::verify::plan::targets(&policy, &r.verify)
        .unwrap()
        .into_iter()
        .map(|t| t.url.host.as_str().to_string())
        .collect()
}

fn lab() -> &'static Lab {
    static LAB: OnceLock<Lab> = OnceLock::new();
    LAB.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("verify-lab");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        chmod(&dir, 0o755);
        let site = write(
            &dir,
            "lab-site",
            &format!("{SITE}[[allow]]\nurl = \"https://{DENIED}\"\n"),
        );
        let mut hosts = probe_hosts(&site);
        let faults = probe_hosts(&write(&dir, "lab-faults", FAULTS));
        let probes = probe_hosts(&write(&dir, "lab-probes", PROBES));
        let names: Vec<String> = hosts
            .iter()
            .chain(&faults)
            .chain(&probes)
            .cloned()
            .collect();
        let pki = pki(&dir, &names);
        serve(ORIGIN, true, &pki.leaf, Behaviour::Answer);
        serve(STALL, false, &pki.leaf, Behaviour::Stall);
        serve(RESET, false, &pki.leaf, Behaviour::Reset);
        serve(EXPIRED, false, &pki.expired, Behaviour::Answer);
        hosts.insert(DENIED.to_string());
        Lab { dir, pki, hosts }
    })
}

/// A Squid with the configuration generated for the site.
struct Proxy {
    port: u16,
    squid: SquidProcess,
    dir: PathBuf,
}

fn start_proxy(name: &str, bump: bool, extra: &str) -> Proxy {
    start_proxy_at(name, bump, extra, ORIGIN, &lab().hosts)
}

/// A Squid with the configuration generated for the site, whose hosts
/// file sends `hosts` to `address`.
fn start_proxy_at(
    name: &str,
    bump: bool,
    extra: &str,
    address: &str,
    hosts: &BTreeSet<String>,
) -> Proxy {
    let lab = lab();
    let dir = lab.dir.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    chmod(&dir, 0o755);
    let port = free_port();
    let bump = bump.then(|| Bump::new(&dir, &lab.pki.proxy));
    let squid = live_outputs(port, bump.as_ref(), &dir);
    let ruleset = write(&dir, &format!("gen-{name}"), &format!("{SITE}{squid}"));
    let out = dir.join("out");
    let r = Ruleset::load(&ruleset).unwrap();
    let backends = egressgen::generate::select_backends(&r, None).unwrap();
    egressgen::generate::generate(&r, &backends, &out).unwrap_or_else(|e| panic!("{e}"));
    let squid = start_squid(
        &dir,
        &out,
        port,
        &Wrapper {
            conf: if bump.is_some() {
                "squid-sslbump.conf"
            } else {
                "squid.conf"
            },
            address,
            hosts,
            extra,
        },
    );
    Proxy { port, squid, dir }
}

/// The ruleset `verify` reads: the site, the denied host, and the proxy.
fn verify_ruleset(dir: &Path, proxy_port: u16) -> PathBuf {
    write(
        dir,
        "verify-site",
        &format!(
            "{SITE}[[allow]]\nurl = \"https://{DENIED}\"\n[proxy]\naddresses = [\"127.0.0.1:{proxy_port}\"]\n"
        ),
    )
}

/// Runs `egressgen verify`, every host resolved to `address`.
fn verify(
    ruleset: &Path,
    hosts: &BTreeSet<String>,
    address: &str,
    extra: &[&str],
) -> (i32, String) {
    let lab = lab();
    let mut args: Vec<String> = vec![
        "verify".into(),
        "--ruleset".into(),
        ruleset.display().to_string(),
        "--origin-ca".into(),
        lab.pki.origin_ca.display().to_string(),
    ];
    for h in hosts {
        args.push("--resolve".into());
        args.push(format!("{h}:{address}"));
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = bounded(&refs);
    assert!(
        out.status.code().is_some(),
        "killed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
    )
}

/// Runs egressgen, killed after a minute: a probe that outlives its
/// deadline fails the test instead of hanging it.
fn bounded(args: &[&str]) -> std::process::Output {
    use std::process::{Command, Stdio};
    let child = Command::new(env!("CARGO_BIN_EXE_egressgen"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let (done, wait) = std::sync::mpsc::channel::<()>();
    let killer = std::thread::spawn(move || {
        if wait
            .recv_timeout(std::time::Duration::from_secs(60))
            .is_err()
        {
            let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
            panic!("egressgen verify ran for over a minute");
        }
    });
    let out = child.wait_with_output().unwrap();
    let _ = done.send(());
    let killed = killer.join().is_err();
    assert!(
        !killed,
        "egressgen verify ran for over a minute and was killed"
    );
    out
}

/// The JSON report, checked against the documented schema.
fn report(text: &str) -> Value {
    let value: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"));
    common::assert_docs_schema("verify.schema.json", &value);
    value
}

fn targets(r: &Value) -> &Vec<Value> {
    r["targets"].as_array().unwrap()
}

fn host_of(t: &Value) -> String {
    let url = t["url"].as_str().unwrap();
    url.split("://")
        .nth(1)
        .unwrap()
        .split(['/', ':'])
        .next()
        .unwrap()
        .to_string()
}

fn route<'a>(t: &'a Value, prefix: &str) -> &'a Value {
    t["routes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["route"].as_str().unwrap().starts_with(prefix))
        .unwrap_or_else(|| panic!("no route {prefix} in {t}"))
}

fn last_attempt(r: &Value) -> &Value {
    r["attempts"]
        .as_array()
        .unwrap()
        .last()
        .unwrap_or_else(|| panic!("no attempt: {r}"))
}

/// The JUnit file, valid against docs/junit.xsd.
fn check_junit(dir: &Path, xml: &str) {
    let file = dir.join("junit.xml");
    std::fs::write(&file, xml).unwrap();
    let xsd = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/junit.xsd");
    let out = std::process::Command::new(require("xmllint", "libxml2-utils"))
        .args(["--noout", "--schema", xsd])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{xml}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn through_the_generated_squid_every_allowed_endpoint_is_reachable_and_the_denied_one_blocked() {
    let lab = lab();
    let proxy = start_proxy("plain", false, "");
    let ruleset = verify_ruleset(&proxy.dir, proxy.port);
    let (code, text) = verify(
        &ruleset,
        &lab.hosts,
        ORIGIN,
        &["--format", "json", "--route", "direct,proxy"],
    );
    let r = report(&text);
    assert_eq!(code, 0, "every endpoint is reachable directly: {text}");
    let mut failures = Vec::new();
    let mut through_proxy = 0;
    for t in targets(&r) {
        let host = host_of(t);
        let direct = route(t, "direct");
        let via = route(t, "proxy");
        if direct["verdict"] != "reachable" || direct["status"] != 200 {
            failures.push(format!("{host}: direct: {direct}"));
        }
        if host == DENIED || t["direct"] == true {
            // Denied, or an endpoint that must bypass the proxy, which the
            // generated Squid configuration does not allow.
            let connect = &last_attempt(via)["connect"];
            let named = via["reason"]
                .as_str()
                .unwrap_or("")
                .starts_with("ERR_ACCESS_DENIED");
            if via["verdict"] != "blocked"
                || via["status"] != 403
                || !named
                || connect["status"] != 403
            {
                failures.push(format!("{host}: expected Squid's ERR_ACCESS_DENIED: {via}"));
            }
            continue;
        }
        through_proxy += 1;
        let a = last_attempt(via);
        if via["verdict"] != "reachable" || via["status"] != 200 {
            failures.push(format!("{host}: proxy: {via}"));
        }
        if t["url"].as_str().unwrap().starts_with("https") {
            if a["connect"]["status"] != 200
                || a["tls"]["presenter"] != "origin"
                || !via["inspected_by"].is_null()
            {
                failures.push(format!(
                    "{host}: expected the origin's own certificate through the tunnel: {via}"
                ));
            }
            for step in ["dns", "tcp"] {
                if a[step]["ms"].as_u64().is_none() {
                    failures.push(format!("{host}: no {step} time: {a}"));
                }
            }
        } else if !a["http"]["via"].as_str().unwrap_or("").contains("squid") {
            failures.push(format!(
                "{host}: plain HTTP answer not relayed by Squid: {a}"
            ));
        }
    }
    assert!(
        through_proxy > 30,
        "only {through_proxy} endpoints went through the proxy"
    );
    if !failures.is_empty() {
        let log = std::fs::read_to_string(&proxy.squid.log).unwrap_or_default();
        panic!("{failures:#?}\ncache.log:\n{log}");
    }
    // The text report ends with a line per route, counted as the JSON
    // summary counts: the denied host blocked, those that must go direct
    // refused by the proxy.
    let (_, table) = verify(&ruleset, &lab.hosts, ORIGIN, &["--route", "direct,proxy"]);
    let s = &r["summary"][1];
    let n = |t: &str, k: &str| s[t][k].as_u64().unwrap();
    let direct = n("direct_route_proxied", "endpoints");
    assert_eq!(
        check_summary(&r, &table, false),
        [
            format!("direct: {0}/{0} reachable", targets(&r).len()),
            format!(
                "proxy 127.0.0.1:{}: {through_proxy}/{} reachable, 1 blocked, {direct}/{direct} direct-route hosts refused",
                proxy.port,
                through_proxy + 1
            )
        ]
    );

    // The proxy alone: exactly the denied endpoint is unreachable; those
    // that must go direct are untested on a route that never goes direct.
    let (code, xml) = verify(
        &ruleset,
        &lab.hosts,
        ORIGIN,
        &["--format", "junit", "--route", "proxy"],
    );
    assert_eq!(code, 30, "{xml}");
    check_junit(&proxy.dir, &xml);
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let failed: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase") && n.children().any(|c| c.has_tag_name("failure")))
        .map(|n| n.attribute("name").unwrap())
        .collect();
    assert_eq!(failed, vec![format!("https://{DENIED}/").as_str()], "{xml}");
}

#[test]
fn through_ssl_bump_spliced_endpoints_pass_and_a_bumped_must_not_inspect_one_is_named() {
    let lab = lab();
    let extra = format!(
        "{}acl egressgen_victim ssl::server_name {VICTIM}\nssl_bump bump egressgen_victim\n",
        trust_origin(&lab.pki.origin_ca)
    );
    let proxy = start_proxy("bump", true, &extra);
    let ruleset = verify_ruleset(&proxy.dir, proxy.port);
    let ca = lab.pki.proxy.crt.display().to_string();
    let (code, text) = verify(
        &ruleset,
        &lab.hosts,
        ORIGIN,
        &[
            "--format",
            "json",
            "--route",
            "direct,proxy",
            "--ca-file",
            &ca,
        ],
    );
    let r = report(&text);
    assert_eq!(code, 31, "a must-not-inspect endpoint was bumped: {text}");
    let mut failures = Vec::new();
    let mut spliced = 0;
    for t in targets(&r) {
        let host = host_of(t);
        let via = route(t, "proxy");
        if !t["url"].as_str().unwrap().starts_with("https") || t["direct"] == true || host == DENIED
        {
            continue;
        }
        if host == VICTIM {
            let shown = &last_attempt(via)["tls"];
            let ok = t["status"] == "inspected"
                && via["inspected_by"] == PROXY_CA_CN
                && shown["presenter"] == "private"
                && shown["issuer"] == PROXY_CA_CN
                && via["chain_differs"].is_string()
                && route(t, "direct")["inspected_by"].is_null();
            if !ok {
                failures.push(format!(
                    "{host}: expected inspection by {PROXY_CA_CN:?}: {t}"
                ));
            }
        } else if host == INSPECTABLE {
            // Bumped, as the site allows: seen, not a violation.
            if t["status"] != "ok"
                || via["inspected_by"] != PROXY_CA_CN
                || via["verdict"] != "reachable"
            {
                failures.push(format!("{host}: expected bumped and reachable: {t}"));
            }
        } else if t["must_not_inspect"] == true {
            spliced += 1;
            let shown = &last_attempt(via)["tls"];
            if t["status"] != "ok"
                || via["verdict"] != "reachable"
                || shown["presenter"] != "origin"
                || !via["inspected_by"].is_null()
            {
                failures.push(format!("{host}: expected spliced: {t}"));
            }
        }
    }
    assert!(spliced > 20, "only {spliced} spliced endpoints checked");
    // Squid shows its refusal of a CONNECT on a bumped connection: a
    // refusal, not an inspection.
    let inspected: Vec<String> = targets(&r)
        .iter()
        .filter(|t| t["status"] == "inspected")
        .map(host_of)
        .collect();
    if inspected != [VICTIM] {
        failures.push(format!("inspected: {inspected:?}, expected only {VICTIM}"));
    }
    for t in targets(&r)
        .iter()
        .filter(|t| host_of(t) == DENIED || t["direct"] == true)
    {
        let via = route(t, "proxy");
        if via["verdict"] != "blocked"
            || !via["inspected_by"].is_null()
            || last_attempt(via)["tls"]["presenter"] != "private"
        {
            failures.push(format!(
                "{}: expected Squid's refusal on a bumped connection: {via}",
                host_of(t)
            ));
        }
    }
    if !failures.is_empty() {
        let log = std::fs::read_to_string(&proxy.squid.log).unwrap_or_default();
        panic!("{failures:#?}\ncache.log:\n{log}");
    }
    // The text report names the CA too.
    let (_, table) = verify(
        &ruleset,
        &lab.hosts,
        ORIGIN,
        &["--route", "proxy", "--ca-file", &ca],
    );
    assert!(
        table
            .lines()
            .any(|l| l.contains(VICTIM) && l.starts_with("INSPECTED")),
        "{table}"
    );
    assert!(
        table.contains(&format!("TLS INSPECTED by {PROXY_CA_CN:?}")),
        "{table}"
    );
}

#[test]
fn each_endpoint_is_probed_on_the_route_the_pac_picks() {
    let lab = lab();
    let proxy = start_proxy("pac", false, "");
    let server = Server::start();
    // One host DIRECT, one through a dead proxy first (a browser falls
    // back to the next entry), the rest to Squid.
    let dead = free_port();
    let pac = format!(
        "function FindProxyForURL(url, host) {{\n  if (host == \"{INSPECTABLE}\") return \"DIRECT\";\n  \
         if (host == \"{FALLBACK}\") return \"PROXY 127.0.0.1:{dead}; PROXY 127.0.0.1:{}\";\n  \
         return \"PROXY 127.0.0.1:{}; DIRECT\";\n}}\n",
        proxy.port, proxy.port
    );
    server.route("/proxy.pac", vec![Reply::ok(pac.as_bytes())]);
    let ruleset = verify_ruleset(&proxy.dir, proxy.port);
    let url = server.url("/proxy.pac");
    let (_, text) = verify(
        &ruleset,
        &lab.hosts,
        ORIGIN,
        &["--format", "json", "--route", "pac", "--pac", &url],
    );
    let r = report(&text);
    assert_eq!(
        server.seen("/proxy.pac").len(),
        1,
        "the PAC is fetched once"
    );
    let mut failures = Vec::new();
    let mut proxied = BTreeSet::new();
    for t in targets(&r) {
        let host = host_of(t);
        let p = route(t, "pac");
        let hop = &last_attempt(p)["hop"];
        let (expected_hops, expected_kind) = if host == INSPECTABLE {
            (vec!["DIRECT".to_string()], "direct")
        } else if host == FALLBACK {
            let attempts = p["attempts"].as_array().unwrap();
            if attempts.len() != 2 || attempts[0]["failure"]["kind"] != "refused" {
                failures.push(format!("{host}: expected the dead proxy tried first: {p}"));
            }
            proxied.insert(host.clone());
            (
                vec![
                    format!("PROXY 127.0.0.1:{dead}"),
                    format!("PROXY 127.0.0.1:{}", proxy.port),
                ],
                "proxy",
            )
        } else {
            proxied.insert(host.clone());
            (
                vec![
                    format!("PROXY 127.0.0.1:{}", proxy.port),
                    "DIRECT".to_string(),
                ],
                "proxy",
            )
        };
        let hops: Vec<String> = p["hops"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h.as_str().unwrap().to_string())
            .collect();
        if hops != expected_hops || hop["kind"] != expected_kind {
            failures.push(format!("{host}: expected {expected_hops:?}: {p}"));
        }
        // The test PAC sends the hosts that must bypass the proxy to it.
        let status = if t["direct"] == true {
            "routed-wrong"
        } else {
            "ok"
        };
        if host != DENIED && t["status"] != status {
            failures.push(format!("{host}: expected {status}: {t}"));
        }
        let expected = if host == DENIED || t["direct"] == true {
            "blocked"
        } else {
            "reachable"
        };
        if p["verdict"] != expected {
            failures.push(format!("{host}: expected {expected}: {p}"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    // The PAC sends one endpoint direct and the rest, those that must go
    // direct too, to Squid: each is counted where it was sent.
    let (_, table) = verify(
        &ruleset,
        &lab.hosts,
        ORIGIN,
        &["--route", "pac", "--pac", &url],
    );
    let lines = check_summary(&r, &table, false);
    assert!(
        lines[0].ends_with(", 1/1 reachable direct")
            && lines[0].contains(" direct-route hosts refused"),
        "{lines:?}"
    );
    // Squid saw exactly the proxied hosts.
    let access = std::fs::read_to_string(proxy.squid.log.with_file_name("access.log")).unwrap();
    for host in &proxied {
        assert!(
            access.contains(host.as_str()),
            "{host} not in Squid's access.log"
        );
    }
    assert!(
        !access.contains(INSPECTABLE),
        "{INSPECTABLE} went through Squid:\n{access}"
    );

    // The environment's proxy, with NO_PROXY, as curl reads them.
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_egressgen"));
    cmd.args([
        "verify",
        "--ruleset",
        ruleset.to_str().unwrap(),
        "--format",
        "json",
        "--route",
        "env",
    ])
    .args(["--origin-ca", lab.pki.origin_ca.to_str().unwrap()])
    .env("HTTPS_PROXY", format!("http://127.0.0.1:{}", proxy.port))
    // Lower case only, as curl reads it; the upper-case one is ignored.
    .env("http_proxy", format!("http://127.0.0.1:{}", proxy.port))
    .env("HTTP_PROXY", "http://127.0.0.1:1")
    .env("NO_PROXY", "localhost,.contoso.com");
    for h in &lab.hosts {
        cmd.args(["--resolve", &format!("{h}:{ORIGIN}")]);
    }
    let out = cmd.output().unwrap();
    let r = report(&String::from_utf8(out.stdout).unwrap());
    let mut bypassed = 0;
    for t in targets(&r) {
        let host = host_of(t);
        let e = route(t, "environment");
        let hop = &last_attempt(e)["hop"];
        let expected = if host.ends_with(".contoso.com") {
            bypassed += 1;
            "direct"
        } else {
            "proxy"
        };
        assert_eq!(hop["kind"], expected, "{host}: {e}");
        let verdict = if expected == "proxy" && t["direct"] == true {
            "blocked"
        } else {
            "reachable"
        };
        assert_eq!(e["verdict"], verdict, "{host}: {e}");
    }
    assert_eq!(bypassed, 2, "intranet and denied go direct");
}

#[test]
fn a_stalling_a_resetting_an_expired_origin_and_a_dead_proxy_each_get_their_own_verdict_in_time() {
    let lab = lab();
    let dir = lab.dir.join("faults");
    std::fs::create_dir_all(&dir).unwrap();
    let ruleset = write(&dir, "faults", FAULTS);
    let dead = format!("http://127.0.0.1:{}", free_port());
    let hosts: BTreeSet<String> = BTreeSet::new();
    let resolve = [
        "--resolve",
        "stall.contoso.com:127.0.0.6",
        "--resolve",
        "reset.contoso.com:127.0.0.7",
        "--resolve",
        "expired.contoso.com:127.0.0.8",
    ];
    let mut args = vec![
        "--format",
        "json",
        "--timeout",
        "2",
        "--deadline",
        "30",
        "--route",
        "direct,cli",
        "--proxy",
        &dead,
    ];
    args.extend(resolve);
    let (code, text) = verify(&ruleset, &hosts, ORIGIN, &args);
    let r = report(&text);
    assert_eq!(code, 30, "{text}");
    assert!(r["elapsed_ms"].as_u64().unwrap() < 30_000);
    let by_host = |h: &str| {
        targets(&r)
            .iter()
            .find(|t| host_of(t) == h)
            .unwrap_or_else(|| panic!("{h}"))
    };
    let failure = |h: &str| {
        let d = route(by_host(h), "direct");
        let a = last_attempt(d);
        assert!(
            a["total_ms"].as_u64().unwrap() < 2_500,
            "{h}: over the timeout: {a}"
        );
        assert_eq!(d["verdict"], "failed", "{h}: {d}");
        (
            d["phase"].as_str().unwrap().to_string(),
            d["kind"].as_str().unwrap().to_string(),
            d["detail"].as_str().unwrap().to_string(),
            a.clone(),
        )
    };
    let (phase, kind, _, _) = failure("stall.contoso.com");
    assert_eq!((phase.as_str(), kind.as_str()), ("tls", "timeout"));
    let (phase, kind, _, _) = failure("reset.contoso.com");
    assert_eq!((phase.as_str(), kind.as_str()), ("tls", "reset"));
    let (phase, kind, detail, a) = failure("expired.contoso.com");
    assert_eq!((phase.as_str(), kind.as_str()), ("tls", "certificate"));
    assert!(detail.contains("expired"), "{detail}");
    assert_eq!(a["tls"]["not_after"], "2021-01-01");
    // Expired, but it still leads to the origin's CA: the dates do not
    // hide whose certificate it is.
    assert_eq!(
        (a["tls"]["anchor"].as_str(), a["tls"]["presenter"].as_str()),
        (Some("origin-ca"), Some("origin")),
        "{a}"
    );
    assert!(
        a["http"].is_null(),
        "no request after a refused certificate: {a}"
    );
    for t in targets(&r) {
        let p = route(t, "--proxy");
        assert_eq!(p["verdict"], "proxy-down", "{p}");
        assert!(p["detail"].as_str().unwrap().contains("refused"), "{p}");
    }
}

#[test]
fn the_deadline_bounds_the_whole_run() {
    let lab = lab();
    let dir = lab.dir.join("deadline");
    std::fs::create_dir_all(&dir).unwrap();
    let mut text =
        String::from("[sources]\nfiles = []\n[scope]\ncloud = \"commercial\"\nproducts = []\n");
    let mut args = vec![
        "--format".to_string(),
        "json".into(),
        "--jobs".into(),
        "1".into(),
        "--timeout".into(),
        "20".into(),
        "--deadline".into(),
        "1".into(),
        "--route".into(),
        "direct".into(),
    ];
    for i in 0..4 {
        text.push_str(&format!(
            "[[allow]]\nurl = \"https://stall{i}.contoso.com\"\n"
        ));
        args.push("--resolve".into());
        args.push(format!("stall{i}.contoso.com:{STALL}"));
    }
    let ruleset = write(&dir, "deadline", &text);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let started = std::time::Instant::now();
    let (code, out) = verify(&ruleset, &BTreeSet::new(), ORIGIN, &refs);
    let took = started.elapsed();
    let r = report(&out);
    assert!(took.as_secs_f64() < 5.0, "took {took:?}");
    assert!(r["elapsed_ms"].as_u64().unwrap() < 2_000, "{out}");
    let verdicts: Vec<&str> = targets(&r)
        .iter()
        .map(|t| route(t, "direct")["verdict"].as_str().unwrap())
        .collect();
    assert_eq!(
        verdicts.iter().filter(|v| **v == "failed").count(),
        1,
        "{verdicts:?}"
    );
    assert_eq!(
        verdicts.iter().filter(|v| **v == "not-run").count(),
        3,
        "{verdicts:?}"
    );
    assert_eq!(code, 30, "{out}");
}

#[test]
fn ruleset_probes_replace_the_made_up_name_and_set_the_expected_answers() {
    let lab = lab();
    let dir = lab.dir.join("probes");
    std::fs::create_dir_all(&dir).unwrap();
    let ruleset = write(&dir, "probes", PROBES);
    let hosts: BTreeSet<String> = ["real.c.contoso.com", "egressgen-probe.d.contoso.com"]
        .map(String::from)
        .into();
    let (code, text) = verify(
        &ruleset,
        &hosts,
        ORIGIN,
        &["--format", "json", "--route", "direct"],
    );
    let r = report(&text);
    let t = |pattern: &str| {
        targets(&r)
            .iter()
            .find(|t| t["pattern"] == pattern)
            .unwrap()
            .clone()
    };
    // The ruleset's URL, judged by its own expected answers: the origin's
    // 200 is not the 204 the site said to expect.
    let c = t("*.c.contoso.com");
    assert_eq!(
        (c["url"].as_str(), c["url_from"].as_str()),
        (Some("https://real.c.contoso.com/health"), Some("ruleset"))
    );
    assert_eq!(c["expect"], serde_json::json!([204]));
    let direct = route(&c, "direct");
    assert_eq!(
        (direct["verdict"].as_str(), direct["status"].as_u64()),
        (Some("unexpected"), Some(200)),
        "{direct}"
    );
    assert_eq!(c["status"], "unreachable");
    // No URL for the other wildcard: a made-up name below it, which the
    // lab's resolver answers, so the origin's 200 counts.
    let d = t("*.d.contoso.com");
    assert_eq!(
        (d["url"].as_str(), d["url_from"].as_str()),
        (
            Some("https://egressgen-probe.d.contoso.com/"),
            Some("made-up")
        )
    );
    assert_eq!(route(&d, "direct")["verdict"], "reachable");
    assert_eq!(code, 30, "{text}");

    // A probe URL the pattern does not admit is refused, naming both.
    let bad = write(
        &dir,
        "bad-probe",
        &PROBES.replace(
            "https://real.c.contoso.com/health",
            "https://elsewhere.contoso.com/",
        ),
    );
    let out = common::egressgen(&["verify", "--ruleset", bad.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(
        stderr.contains("*.c.contoso.com") && stderr.contains("elsewhere.contoso.com"),
        "{stderr}"
    );
    // A URL that is not one is refused where the ruleset says it.
    let broken = write(
        &dir,
        "broken-probe",
        &PROBES.replace(
            "https://real.c.contoso.com/health",
            "https://real.c.contoso.com/a b",
        ),
    );
    let out = common::egressgen(&["verify", "--ruleset", broken.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(
        stderr.contains("broken-probe.toml:") && stderr.contains("request line"),
        "{stderr}"
    );
}

/// What a scripted proxy does after reading a request.
#[derive(Clone, Copy)]
enum Script {
    /// A 200 status line, then this header line over and over.
    Endless(&'static [u8]),
    /// Nothing at all.
    Silent,
    /// The connection closed at once, without a word.
    Close,
    /// These bytes, then the connection held open.
    Answer(&'static [u8]),
    /// These bytes at once, then one byte of `rest` every 1.5 s.
    Trickle(&'static [u8], &'static [u8]),
}

/// A proxy on 127.0.0.1 that follows `script` on every connection.
fn scripted_proxy(script: Script) -> u16 {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut conn = conn;
                let mut buf = [0u8; 1024];
                let _ = conn.read(&mut buf);
                let hold = std::time::Duration::from_secs(60);
                match script {
                    Script::Endless(line) => {
                        let _ = conn.write_all(b"HTTP/1.1 200 OK\r\n");
                        while conn.write_all(line).is_ok() {}
                    }
                    Script::Silent => std::thread::sleep(hold),
                    Script::Close => drop(conn),
                    Script::Answer(bytes) => {
                        let _ = conn.write_all(bytes);
                        std::thread::sleep(hold);
                    }
                    Script::Trickle(first, rest) => {
                        let _ = conn.write_all(first);
                        for b in rest.iter().cycle() {
                            std::thread::sleep(std::time::Duration::from_millis(1500));
                            if conn.write_all(&[*b]).is_err() {
                                break;
                            }
                        }
                    }
                }
            });
        }
    });
    port
}

/// `verify --route cli --proxy` through a scripted proxy, 2 s a probe.
fn through(ruleset: &Path, script: Script, format: &str) -> (i32, String, std::time::Duration) {
    let proxy = format!("http://127.0.0.1:{}", scripted_proxy(script));
    let started = std::time::Instant::now();
    let args = [
        "--format",
        format,
        "--route",
        "cli",
        "--proxy",
        &proxy,
        "--timeout",
        "2",
    ];
    let (code, text) = verify(ruleset, &BTreeSet::new(), ORIGIN, &args);
    (code, text, started.elapsed())
}

#[test]
fn hostile_proxies_and_pac_files_get_bounded_verdicts() {
    let lab = lab();
    let dir = lab.dir.join("hostile");
    std::fs::create_dir_all(&dir).unwrap();
    let ruleset = write(
        &dir,
        "hostile",
        "[sources]\nfiles = []\n[scope]\ncloud = \"commercial\"\nproducts = []\n[[allow]]\nurl = \"https://a.contoso.com\"\n",
    );
    let none = BTreeSet::new();
    // Inside the tunnel, a TLS handshake record announced at 16 KiB and
    // fed a byte at a time, each byte sooner than any read timeout.
    let tunnel: &[u8] = b"HTTP/1.1 200 Connection established\r\n\r\n";
    for (script, phase, kind) in [
        (
            Script::Endless(b"X-Endless: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n"),
            "proxy-connect",
            "protocol",
        ),
        (Script::Silent, "proxy-connect", "timeout"),
        (
            Script::Answer(b"HTTP/1.1 099 Odd\r\n\r\n"),
            "proxy-connect",
            "protocol",
        ),
        (
            Script::Trickle(tunnel, b"\x16\x03\x03\x40\x00\x02\x00\x00"),
            "tls",
            "timeout",
        ),
    ] {
        let (code, text, took) = through(&ruleset, script, "json");
        assert!(took.as_secs_f64() < 5.0, "took {took:?}: {text}");
        let r = report(&text);
        let p = route(&targets(&r)[0], "--proxy");
        assert_eq!(
            (
                p["verdict"].as_str(),
                p["phase"].as_str(),
                p["kind"].as_str()
            ),
            (Some("failed"), Some(phase), Some(kind)),
            "{p}"
        );
        assert!(last_attempt(p)["total_ms"].as_u64().unwrap() < 2_500, "{p}");
        assert_eq!(code, 30);
    }
    // An interim answer before the refusal: the refusal counts.
    let (_, text, _) = through(
        &ruleset,
        Script::Answer(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 403 Forbidden\r\nX-Squid-Error: ERR_ACCESS_DENIED 0\r\n\r\n"),
        "json",
    );
    let r = report(&text);
    let p = route(&targets(&r)[0], "--proxy");
    assert_eq!(
        (p["verdict"].as_str(), p["reason"].as_str()),
        (Some("blocked"), Some("ERR_ACCESS_DENIED 0")),
        "{p}"
    );
    // A reason with a character XML cannot carry (HTTP allows it, as
    // obs-text): escaped in the table, and the JUnit file stays valid.
    let nasty =
        Script::Answer(b"HTTP/1.1 403 Forbidden\r\nX-Squid-Error: ERR_NASTY \xef\xbf\xbf\r\n\r\n");
    let (_, table, _) = through(&ruleset, nasty, "text");
    assert!(!table.contains('\u{ffff}'), "{table}");
    assert!(table.contains("ERR_NASTY \\u{ffff}"), "{table}");
    let (_, xml, _) = through(&ruleset, nasty, "junit");
    check_junit(&dir, &xml);
    // A PAC answer with a terminal escape never reaches the terminal.
    let evil = dir.join("evil.pac");
    std::fs::write(
        &evil,
        "function FindProxyForURL(url, host) { return \"SOCKS \\u001b[2J\\u001b[31mPWNED\\nfake line\"; }\n",
    )
    .unwrap();
    let (_, table) = verify(
        &ruleset,
        &none,
        ORIGIN,
        &["--route", "pac", "--pac", evil.to_str().unwrap()],
    );
    assert!(
        !table.contains('\u{1b}') && !table.contains("\nfake line"),
        "{table}"
    );
    assert!(table.contains("no route"), "{table}");

    // A PAC that never answers: no route, with the reason; a device
    // using it would not get through either.
    let looping = dir.join("loop.pac");
    std::fs::write(
        &looping,
        "function FindProxyForURL(url, host) { while (true) {} }\n",
    )
    .unwrap();
    let started = std::time::Instant::now();
    let (code, text) = verify(
        &ruleset,
        &none,
        ORIGIN,
        &[
            "--format",
            "json",
            "--route",
            "pac",
            "--pac",
            looping.to_str().unwrap(),
        ],
    );
    assert!(started.elapsed().as_secs() < 10, "{text}");
    let r = report(&text);
    let p = route(&targets(&r)[0], "pac");
    assert_eq!(p["verdict"], "no-route", "{p}");
    assert!(
        p["why"].as_str().unwrap().contains("did not answer within"),
        "{p}"
    );
    assert_eq!(code, 30, "{text}");

    // A PAC larger than Chromium accepts, and one that is not a script.
    let big = dir.join("big.pac");
    std::fs::write(&big, vec![b' '; 2 << 20]).unwrap();
    let broken = dir.join("broken.pac");
    std::fs::write(&broken, "function FindProxyForURL(url, host) {\n").unwrap();
    for pac in [&big, &broken] {
        let out = common::egressgen(&[
            "verify",
            "--ruleset",
            ruleset.to_str().unwrap(),
            "--route",
            "pac",
            "--pac",
            pac.to_str().unwrap(),
        ]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(4), "{stderr}");
        assert!(
            stderr.contains(pac.file_name().unwrap().to_str().unwrap()),
            "{stderr}"
        );
    }
}

/// `--pac URL` obeys the run's `--timeout`: a server that accepts and
/// never answers is given up on after the per-attempt timeout asked for
/// (the message says which), not after a fixed 30 s of its own.
#[test]
fn a_pac_url_that_never_answers_is_given_up_on_within_the_timeout_asked_for() {
    let tmp = tempfile::tempdir().unwrap();
    let ruleset = write(tmp.path(), "stall", SITE);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // Accept, read, never answer.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming().flatten() {
            held.push(conn);
        }
    });
    let url = format!("http://127.0.0.1:{port}/proxy.pac");
    let out = bounded(&[
        "verify",
        "--ruleset",
        ruleset.to_str().unwrap(),
        "--route",
        "pac",
        "--pac",
        &url,
        "--timeout",
        "1",
        "--deadline",
        "3",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(stderr.contains("within 1s"), "{stderr}");
}

/// Where the offline lab's Squid sends every name: nothing listens there.
const NOWHERE: &str = "127.0.0.9";
/// Names the offline lab's Squid cannot look up (NXDOMAIN).
const UNRESOLVED: [&str; 2] = [INSPECTABLE, FALLBACK];

/// Answers every DNS query on 127.0.0.1:53 (the lab Squids' only
/// nameserver) with NXDOMAIN, so that a name outside a Squid's hosts file
/// fails at once and on loopback. A resolver already listening there
/// fails the test rather than let a lookup leave the machine.
fn nxdomain_server() {
    static STARTED: OnceLock<()> = OnceLock::new();
    STARTED.get_or_init(|| {
        let sock = std::net::UdpSocket::bind("127.0.0.1:53").unwrap_or_else(|e| {
            panic!("the offline lab answers DNS on 127.0.0.1:53 (run as root, port free): {e}")
        });
        std::thread::spawn(move || {
            let mut buf = [0u8; 512];
            while let Ok((n, from)) = sock.recv_from(&mut buf) {
                if let Some(answer) = nxdomain(&buf[..n]) {
                    let _ = sock.send_to(&answer, from);
                }
            }
        });
    });
}

/// A query's header and question, made an answer: NXDOMAIN, no records.
fn nxdomain(query: &[u8]) -> Option<Vec<u8>> {
    let mut end = 12;
    while *query.get(end)? != 0 {
        end += 1 + usize::from(query[end]);
    }
    // The root label, then QTYPE and QCLASS.
    let mut answer = query.get(..end + 5)?.to_vec();
    answer[2] = 0x80 | (query[2] & 0x01);
    answer[3] = 0x80 | 3;
    answer[4..12].copy_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
    Some(answer)
}

/// A Squid with the generated configuration that can reach no origin:
/// its hosts file sends every lab name to an address where nothing
/// listens (ERR_CONNECT_FAIL), except two names it cannot look up at all
/// (ERR_CANNOT_FORWARD, which is what Squid 5 answers a CONNECT whose
/// name does not resolve).
fn offline_proxy(name: &str, bump: bool) -> Proxy {
    nxdomain_server();
    let hosts: BTreeSet<String> = lab()
        .hosts
        .iter()
        .filter(|h| !UNRESOLVED.contains(&h.as_str()))
        .cloned()
        .collect();
    start_proxy_at(name, bump, "", NOWHERE, &hosts)
}

/// The site and the proxy, without the host the proxy denies.
fn allowed_ruleset(dir: &Path, proxy_port: u16) -> PathBuf {
    write(
        dir,
        "verify-allowed",
        &format!("{SITE}[proxy]\naddresses = [\"127.0.0.1:{proxy_port}\"]\n"),
    )
}

/// One route's results recounted from the targets, as docs/verify-json.md
/// defines the summary: where the route sent each endpoint, and what it
/// came to.
fn recount(r: &Value, label: &str) -> Value {
    let mut tallies = [[0u64; 4]; 3];
    let mut no_route = 0;
    for t in targets(r) {
        let x = route(t, label);
        let hops = x["hops"].as_array().unwrap();
        let Some(first) = hops.first() else {
            no_route += 1;
            continue;
        };
        let tally = &mut tallies[if first == "DIRECT" {
            2
        } else if t["direct"] == true {
            1
        } else {
            0
        }];
        tally[0] += 1;
        let a = x["attempts"].as_array().unwrap().last();
        let closed_by_proxy = a.is_some_and(|a| {
            a["hop"]["kind"] == "proxy"
                && a["connect"].is_null()
                && ["closed", "reset"].contains(&a["failure"]["kind"].as_str().unwrap_or(""))
        });
        match x["verdict"].as_str().unwrap() {
            "reachable" | "admitted" => tally[1] += 1,
            "blocked" => tally[2] += 1,
            "failed" if closed_by_proxy => tally[2] += 1,
            "not-run" | "untestable" => tally[3] += 1,
            _ => {}
        }
    }
    let tally = |t: [u64; 4]| serde_json::json!({"endpoints": t[0], "passed": t[1], "refused": t[2], "untested": t[3]});
    serde_json::json!({
        "route": label,
        "proxied": tally(tallies[0]),
        "direct_route_proxied": tally(tallies[1]),
        "sent_direct": tally(tallies[2]),
        "no_route": no_route,
    })
}

/// The text line of a summary, in the words the README gives.
fn summary_text(s: &Value, admission: bool) -> String {
    let n = |t: &str, k: &str| s[t][k].as_u64().unwrap();
    let (pass, refuse) = if admission {
        ("admitted", "refused")
    } else {
        ("reachable", "blocked")
    };
    let tally = |t: &str, pass: &str, refuse: &str| {
        let failed = n(t, "endpoints") - n(t, "passed") - n(t, "refused") - n(t, "untested");
        let mut words = format!("{}/{} {pass}", n(t, "passed"), n(t, "endpoints"));
        for (count, word) in [
            (n(t, "refused"), refuse),
            (failed, "failed"),
            (n(t, "untested"), "untested"),
        ] {
            if count > 0 {
                words.push_str(&format!(", {count} {word}"));
            }
        }
        words
    };
    let mut parts = Vec::new();
    if n("proxied", "endpoints") > 0 {
        parts.push(tally("proxied", pass, refuse));
    }
    if n("direct_route_proxied", "endpoints") > 0 {
        parts.push(format!(
            "{}/{} direct-route hosts refused",
            n("direct_route_proxied", "refused"),
            n("direct_route_proxied", "endpoints")
        ));
    }
    let direct = n("sent_direct", "endpoints");
    if direct > 0 && admission {
        parts.push(format!("{direct} sent direct, not probed"));
    } else if direct > 0 && parts.is_empty() {
        parts.push(tally("sent_direct", "reachable", "blocked"));
    } else if direct > 0 {
        parts.push(tally("sent_direct", "reachable direct", "blocked direct"));
    }
    if s["no_route"].as_u64().unwrap() > 0 {
        parts.push(format!("{} without a route", s["no_route"]));
    }
    format!("{}: {}", s["route"].as_str().unwrap(), parts.join(", "))
}

/// The JSON summary equals the recount, and the text report ends with
/// its lines.
fn check_summary(r: &Value, text: &str, admission: bool) -> Vec<String> {
    let labels: Vec<&str> = r["routes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    let summary = r["summary"].as_array().unwrap();
    let recounted: Vec<Value> = labels.iter().map(|l| recount(r, l)).collect();
    assert_eq!(summary, &recounted, "{text}");
    let expected: Vec<String> = summary.iter().map(|s| summary_text(s, admission)).collect();
    let lines: Vec<&str> = text.lines().collect();
    let last = &lines[lines.len() - expected.len()..];
    assert_eq!(last, expected, "{text}");
    expected
}

#[test]
fn admission_only_passes_a_proxy_that_admits_but_cannot_reach_the_origins() {
    let lab = lab();
    let proxy = offline_proxy("offline", false);
    let allowed = allowed_ruleset(&proxy.dir, proxy.port);
    let judged = |t: &Value| t["direct"] != true;
    let port = proxy.port;

    // Judged on reachability, every endpoint the proxy admits is
    // unreachable: Squid says it could not get to the origin.
    let args = ["--format", "json", "--route", "proxy"];
    let (code, text) = verify(&allowed, &lab.hosts, NOWHERE, &args);
    let r = report(&text);
    assert_eq!(code, 30, "{text}");
    assert_eq!(r["judge"], "reachability");
    let mut failures = Vec::new();
    for t in targets(&r).iter().filter(|t| judged(t)) {
        let host = host_of(t);
        let via = route(t, "proxy");
        let reason = via["reason"].as_str().unwrap_or("");
        let error = if UNRESOLVED.contains(&host.as_str()) {
            "ERR_CANNOT_FORWARD"
        } else {
            "ERR_CONNECT_FAIL"
        };
        // A made-up name the proxy lets through counts as admitted even
        // here: whether its service answers was never known.
        let (verdict, status) = if t["url_from"] == "made-up" {
            ("admitted", "ok")
        } else if t["required"] == true {
            ("proxy-failed", "unreachable")
        } else {
            ("proxy-failed", "optional-unreachable")
        };
        if via["verdict"] != verdict || t["status"] != status || !reason.starts_with(error) {
            failures.push(format!("{host}: expected {verdict} with {error}: {t}"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    let (_, table) = verify(&allowed, &lab.hosts, NOWHERE, &args[2..]);
    let lines = check_summary(&r, &table, false);
    assert!(lines[0].contains(" failed, "), "{lines:?}");

    // Judged on admission, the same proxy passes; the hosts the policy
    // sends direct are refused by it, as they should be.
    let args = ["--format", "json", "--route", "proxy", "--admission-only"];
    let (code, text) = verify(&allowed, &lab.hosts, NOWHERE, &args);
    let r = report(&text);
    assert_eq!(code, 0, "{text}");
    assert_eq!(r["judge"], "admission");
    for t in targets(&r) {
        let via = route(t, "proxy");
        let expected = if judged(t) {
            ("ok", "admitted")
        } else {
            ("untested", "blocked")
        };
        if (t["status"].as_str(), via["verdict"].as_str()) != (Some(expected.0), Some(expected.1)) {
            failures.push(format!("{}: expected {expected:?}: {t}", host_of(t)));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    let s = &r["summary"][0];
    let (proxied, direct) = (&s["proxied"], &s["direct_route_proxied"]);
    assert!(proxied["endpoints"].as_u64().unwrap() > 30, "{s}");
    assert_eq!(proxied["passed"], proxied["endpoints"], "{s}");
    assert!(direct["endpoints"].as_u64().unwrap() > 0, "{s}");
    assert_eq!(direct["refused"], direct["endpoints"], "{s}");

    // The denied host is refused, and fails the run; the direct route is
    // named but not probed.
    let with_denied = verify_ruleset(&proxy.dir, port);
    let args = ["--route", "direct,proxy", "--admission-only"];
    let (code, text) = verify(
        &with_denied,
        &lab.hosts,
        NOWHERE,
        &[&["--format", "json"], &args[..]].concat(),
    );
    let r = report(&text);
    assert_eq!(code, 30, "{text}");
    for t in targets(&r) {
        let direct = route(t, "direct");
        assert!(direct["attempts"].as_array().unwrap().is_empty(), "{t}");
        assert_eq!(direct["verdict"], "untestable", "{t}");
        let via = route(t, "proxy");
        if host_of(t) == DENIED {
            assert_eq!(t["status"], "refused", "{t}");
            assert_eq!(
                (via["verdict"].as_str(), via["status"].as_u64()),
                (Some("blocked"), Some(403)),
                "{t}"
            );
            assert!(
                via["reason"]
                    .as_str()
                    .unwrap()
                    .starts_with("ERR_ACCESS_DENIED"),
                "{t}"
            );
        } else if judged(t) {
            assert_eq!(t["status"], "ok", "{t}");
        }
    }
    let (code, table) = verify(&with_denied, &lab.hosts, NOWHERE, &args);
    assert_eq!(code, 30, "{table}");
    assert!(
        table.contains("--admission-only: judged on each proxy's answer alone"),
        "{table}"
    );
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("REFUSED") && l.contains(DENIED)),
        "{table}"
    );
    let lines = check_summary(&r, &table, true);
    let s = &r["summary"];
    let n = |i: usize, t: &str, k: &str| s[i][t][k].as_u64().unwrap();
    assert_eq!(
        lines,
        [
            format!("direct: {} sent direct, not probed", targets(&r).len()),
            format!(
                "proxy 127.0.0.1:{port}: {}/{} admitted, 1 refused, {}/{} direct-route hosts refused",
                n(1, "proxied", "endpoints") - 1,
                n(1, "proxied", "endpoints"),
                n(1, "direct_route_proxied", "endpoints"),
                n(1, "direct_route_proxied", "endpoints"),
            )
        ]
    );
    // Only the proxy's answers were judged: nothing went direct.
    let (code, _) = verify(
        &with_denied,
        &lab.hosts,
        NOWHERE,
        &["--route", "direct", "--admission-only"],
    );
    assert_eq!(code, 2);
}

#[test]
fn admission_only_reads_a_bumping_proxys_refusal_inside_the_tunnel_it_accepted() {
    let lab = lab();
    let proxy = offline_proxy("offline-bump", true);
    let ruleset = verify_ruleset(&proxy.dir, proxy.port);
    let ca = lab.pki.proxy.crt.display().to_string();
    let args = [
        "--format",
        "json",
        "--route",
        "proxy",
        "--admission-only",
        "--ca-file",
        &ca,
    ];
    let (code, text) = verify(&ruleset, &lab.hosts, NOWHERE, &args);
    let r = report(&text);
    // Squid answers every CONNECT 200 on its bumping port: the refusal is
    // the 403 it shows under its own CA, which is not inspection.
    assert_eq!(code, 30, "{text}");
    let mut failures = Vec::new();
    for t in targets(&r).iter().filter(|t| t["direct"] != true) {
        let host = host_of(t);
        let via = route(t, "proxy");
        let a = last_attempt(via);
        let https = t["url"].as_str().unwrap().starts_with("https");
        let ok = if host == DENIED {
            t["status"] == "refused"
                && via["verdict"] == "blocked"
                && a["connect"]["status"] == 200
                && a["http"]["squid_error"]
                    .as_str()
                    .unwrap_or("")
                    .starts_with("ERR_ACCESS_DENIED")
                && via["inspected_by"].is_null()
        } else {
            t["status"] == "ok"
                && via["verdict"] == "admitted"
                && (!https || a["connect"]["status"] == 200)
        };
        if !ok {
            failures.push(format!("{host}: {t}"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    // Spliced endpoints whose origin is unreachable are admitted with the
    // tunnel closed behind them; the bumped one with Squid's page.
    let t = targets(&r)
        .iter()
        .find(|t| host_of(t) == INSPECTABLE)
        .unwrap();
    let via = route(t, "proxy");
    let a = last_attempt(via);
    assert!(
        via["reason"]
            .as_str()
            .unwrap()
            .starts_with("it could not reach the origin: 5")
            && a["connect"]["status"] == 200
            && a["http"]["squid_error"].is_string(),
        "{via}"
    );
    assert_eq!(via["inspected_by"], PROXY_CA_CN, "{via}");
    let spliced: Vec<&Value> = targets(&r)
        .iter()
        .filter(|t| t["must_not_inspect"] == true && t["direct"] != true)
        .collect();
    assert!(spliced.len() > 20, "{}", spliced.len());
    for t in &spliced {
        let via = route(t, "proxy");
        assert!(via["inspected_by"].is_null(), "{t}");
        assert!(
            last_attempt(via)["tls"]["presenter"].is_null() || t["url_from"] == "made-up",
            "{t}"
        );
    }
    // Without the proxy's CA its answer inside cannot be read: a bumped
    // endpoint is not taken for admitted, and the report says what to give.
    // Nor can a refusal under the proxy's CA be told from inspection: the
    // must-not-inspect hosts it refuses that way count as inspected (31).
    let args = ["--format", "json", "--route", "proxy", "--admission-only"];
    let (code, text) = verify(&ruleset, &lab.hosts, NOWHERE, &args);
    let r = report(&text);
    assert_eq!(code, 31, "{text}");
    let inspected: Vec<&Value> = targets(&r)
        .iter()
        .filter(|t| t["status"] == "inspected")
        .collect();
    assert!(
        !inspected.is_empty() && inspected.iter().all(|t| t["direct"] == true),
        "{text}"
    );
    for host in [DENIED, INSPECTABLE] {
        let t = targets(&r).iter().find(|t| host_of(t) == host).unwrap();
        let via = route(t, "proxy");
        assert_eq!(
            (
                via["verdict"].as_str(),
                via["kind"].as_str(),
                t["status"].as_str()
            ),
            (Some("failed"), Some("certificate"), Some("unreachable")),
            "{t}"
        );
        assert!(via["detail"].as_str().unwrap().contains("--ca-file"), "{t}");
    }
    for t in &spliced {
        let host = host_of(t);
        let t = targets(&r).iter().find(|x| host_of(x) == host).unwrap();
        assert_eq!(t["status"], "ok", "{t}");
    }
}

/// Any proxy's answer to CONNECT, as --admission-only reads it: a tunnel
/// or an upstream failure (502, 503, 504) admits, its own refusal or a
/// connection it closes refuses.
#[test]
fn admission_only_reads_any_proxys_answer_to_connect() {
    let lab = lab();
    let dir = lab.dir.join("admission-scripted");
    std::fs::create_dir_all(&dir).unwrap();
    let ruleset = write(
        &dir,
        "scripted",
        "[sources]\nfiles = []\n[scope]\ncloud = \"commercial\"\nproducts = []\n[[allow]]\nurl = \"https://a.contoso.com\"\n",
    );
    let tunnel: &[u8] = b"HTTP/1.1 200 Connection established\r\n\r\n";
    for (script, verdict, status, exit) in [
        (Script::Answer(tunnel), "admitted", "ok", 0),
        (
            Script::Answer(b"HTTP/1.1 502 Bad Gateway\r\n\r\n"),
            "admitted",
            "ok",
            0,
        ),
        (
            Script::Answer(b"HTTP/1.1 403 Forbidden\r\n\r\n"),
            "blocked",
            "refused",
            30,
        ),
        (
            Script::Answer(b"HTTP/1.1 500 Internal Server Error\r\n\r\n"),
            "blocked",
            "refused",
            30,
        ),
        (Script::Close, "failed", "refused", 30),
        // No answer at all is neither: the proxy is not judged to admit.
        (Script::Silent, "failed", "unreachable", 30),
    ] {
        let proxy = format!("http://127.0.0.1:{}", scripted_proxy(script));
        let args = [
            "--format",
            "json",
            "--route",
            "cli",
            "--proxy",
            &proxy,
            "--timeout",
            "1",
            "--admission-only",
        ];
        let (code, text) = verify(&ruleset, &BTreeSet::new(), ORIGIN, &args);
        let r = report(&text);
        let t = &targets(&r)[0];
        let p = route(t, "--proxy");
        assert_eq!(
            (p["verdict"].as_str(), t["status"].as_str(), code),
            (Some(verdict), Some(status), exit),
            "{t}"
        );
    }
}
