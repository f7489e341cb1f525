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
    let lab = lab();
    let dir = lab.dir.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    chmod(&dir, 0o755);
    let port = free_port();
    let bump = bump.then(|| Bump::new(&dir, &lab.pki.proxy));
    let squid = live_outputs(port, bump.as_ref());
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
            address: ORIGIN,
            hosts: &lab.hosts,
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
