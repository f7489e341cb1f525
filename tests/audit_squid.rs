//! `audit` against a real Squid: for our generated configurations and six
//! hand-written ones (fixtures/audit/squid), the audit's answer for every
//! one of more than 300 host:port:path requests equals what a live Squid
//! on loopback does: 403 or not, and for TLS, spliced or bumped as told by
//! the certificate the client is shown.

mod common;

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use common::squid::{
    Bump, ProxyCa, Wrapper, ask, chmod, free_port, get, live_outputs, origin, start_squid,
    trust_origin,
};
use common::tls::{BumpCerts, bump_certs, probe as tls_probe, start_origin};
use egressgen::audit::probe::sample_hosts;
use egressgen::backends::reader::{Access, Config, Options, Probe, TlsSeen, read_config};
use egressgen::generate;
use egressgen::model::Scheme;
use egressgen::policy::Policy;
use egressgen::ruleset::Ruleset;
use serde_json::Value;

const ADDR: &str = "127.0.0.4";
const ORIGIN_CN: &str = "egressgen audit origin";
const PROXY_CN: &str = "egressgen audit proxy CA";
const WORKSPACE: &str = "3f2a9c1e-7b4d-4e8a-9f10-2c6d8e4b1a57";

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/audit/squid")
}

/// The site every configuration is audited against: commercial EU with
/// the Monitoring Agent and Defender for Identity.
fn ruleset_text(port: u16, bump: Option<&Bump>) -> String {
    format!(
        "name = \"audit-live\"\n[sources]\nfiles = [{:?}, \"builtin:mma\", \"builtin:mdi\"]\n\
         [scope]\ncloud = \"commercial\"\ngeographies = [\"EU\"]\n\
         products = [\"mde\", \"mdav\", \"smart-screen\", \"mma\", \"mdi\"]\n\
         [site]\nworkspace_ids = [\"{WORKSPACE}\"]\nmdi_instances = [\"contoso-corp\"]\n{}",
        common::data("mde/standard-device-connectivity-urls-commercial.urltables.md")
            .display()
            .to_string(),
        live_outputs(port, bump)
    )
}

fn generate_into(dir: &Path, text: &str) -> (Policy, PathBuf) {
    let path = dir.join("audit-live.toml");
    std::fs::write(&path, text).unwrap();
    let r = Ruleset::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let out = dir.join("out");
    let backends = generate::select_backends(&r, None).unwrap();
    let done = generate::generate(&r, &backends, &out).unwrap_or_else(|e| panic!("{e}"));
    (done.policy, out)
}

/// A copy of the fixtures with their placeholders filled in.
fn fixture_copy(dir: &Path, port: u16, bump: &Bump) -> PathBuf {
    let to = dir.join("fixtures");
    copy_filled(
        &fixtures(),
        &to,
        &[
            ("@DIR@", to.display().to_string()),
            ("@PORT@", port.to_string()),
            ("@PEM@", bump.pem.display().to_string()),
            ("@SSLDB@", bump.ssl_db.display().to_string()),
        ],
    );
    to
}

fn copy_filled(from: &Path, to: &Path, subs: &[(&str, String)]) {
    std::fs::create_dir_all(to).unwrap();
    chmod(to, 0o755);
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            copy_filled(&e.path(), &target, subs);
        } else {
            let mut text = std::fs::read_to_string(e.path()).unwrap();
            for (k, v) in subs {
                text = text.replace(k, v);
            }
            std::fs::write(&target, text).unwrap();
            chmod(&target, 0o644);
        }
    }
}

/// Requests that stand for the policy and its near misses: every sample
/// host of every entry on 80 and 443, a host glued to each name, one two
/// levels below it, the name under a foreign domain, paths inside and outside the entries' paths.
fn probes(policy: &Policy) -> Vec<Probe> {
    let client: IpAddr = "127.0.0.1".parse().unwrap();
    let mut hosts = common::audit_hosts(policy);
    let mut paths = BTreeSet::new();
    for e in &policy.entries {
        hosts.insert(e.host.name().as_str().to_string());
        if let Some(p) = &e.path {
            for h in sample_hosts(&e.host) {
                paths.insert((h.clone(), format!("{p}probe")));
                paths.insert((h, "/outside/the/paths".to_string()));
            }
        }
    }
    for n in &policy.tls.never_bypass {
        hosts.extend(sample_hosts(&n.host));
    }
    hosts.extend(
        [
            "microsoft.com",
            "azure.com",
            "anything.windows.net",
            "evil.example.com",
        ]
        .map(String::from),
    );
    let mut out = Vec::new();
    for h in &hosts {
        for port in [80, 443] {
            out.push(Probe {
                host: h.clone(),
                port,
                scheme: if port == 80 {
                    Scheme::Http
                } else {
                    Scheme::Https
                },
                path: "/".to_string(),
                client,
            });
        }
    }
    for (h, p) in paths {
        out.push(Probe {
            host: h,
            port: 80,
            scheme: Scheme::Http,
            path: p,
            client,
        });
    }
    out
}

/// What Squid did with one request, in the audit's terms.
#[derive(Debug, PartialEq, Eq)]
enum Seen {
    Denied,
    Allowed(Option<bool>),
}

fn live_http(port: u16, p: &Probe) -> Result<Seen, String> {
    let (code, denied) = ask(port, &get(&format!("http://{}{}", p.host, p.path)));
    match (code, denied) {
        (403, true) => Ok(Seen::Denied),
        (200, false) => Ok(Seen::Allowed(None)),
        other => Err(format!("unexpected answer {other:?}")),
    }
}

fn live_tls(r: &Value) -> Result<Seen, String> {
    let denied = r["status"] == 403
        || (r["http"] == 403
            && r["squid_error"]
                .as_str()
                .unwrap_or("")
                .starts_with("ERR_ACCESS_DENIED"));
    if denied {
        return Ok(Seen::Denied);
    }
    if r["status"] == 200 && r["http"] == 200 && r["from_origin"] == true {
        if r["issuer"] == ORIGIN_CN {
            return Ok(Seen::Allowed(Some(false)));
        }
        if r["issuer"] == PROXY_CN {
            return Ok(Seen::Allowed(Some(true)));
        }
    }
    Err(format!("unexpected answer {r}"))
}

fn audited(c: &dyn Config, p: &Probe) -> Result<Seen, String> {
    let v = c.decide(p);
    match v.access {
        Access::Denied => Ok(Seen::Denied),
        Access::Allowed => Ok(Seen::Allowed(match (p.scheme, &v.tls) {
            (Scheme::Http, _) => None,
            (Scheme::Https, TlsSeen::Spliced) => Some(false),
            (Scheme::Https, TlsSeen::Inspected) => Some(true),
            (_, other) => return Err(format!("TLS {other:?}")),
        })),
        Access::Undecidable(why) => Err(format!("undecidable: {why}")),
    }
}

struct Case {
    name: &'static str,
    /// The directory holding the configuration, and its file name.
    dir: PathBuf,
    conf: &'static str,
}

#[test]
fn the_audit_answers_every_request_as_a_live_squid_does() {
    let tmp = tempfile::tempdir().unwrap();
    chmod(tmp.path(), 0o755);
    let BumpCerts {
        origin: origin_cert,
        proxy,
        trust,
    } = bump_certs(tmp.path(), ORIGIN_CN, PROXY_CN);
    origin(ADDR, false);
    let _tls_origin = start_origin(ADDR, &origin_cert);

    let port = free_port();
    let bump = Bump::new(tmp.path(), &proxy);
    let (policy, out) = generate_into(tmp.path(), &ruleset_text(port, Some(&bump)));
    let fixtures = fixture_copy(tmp.path(), port, &bump);
    let cases = [
        Case {
            name: "generated",
            dir: out.clone(),
            conf: "squid.conf",
        },
        Case {
            name: "generated ssl-bump",
            dir: out.clone(),
            conf: "squid-sslbump.conf",
        },
        Case {
            name: "wholesale",
            dir: fixtures.clone(),
            conf: "wholesale.conf",
        },
        Case {
            name: "deny first",
            dir: fixtures.clone(),
            conf: "deny-first.conf",
        },
        Case {
            name: "include",
            dir: fixtures.clone(),
            conf: "include.conf",
        },
        Case {
            name: "bump everything",
            dir: fixtures.clone(),
            conf: "bump-everything.conf",
        },
        Case {
            name: "overlapping paths",
            dir: fixtures.clone(),
            conf: "overlapping-paths.conf",
        },
        Case {
            name: "habits",
            dir: fixtures.clone(),
            conf: "habits.conf",
        },
    ];
    let probes = probes(&policy);
    assert!(probes.len() >= 300, "{} probes", probes.len());
    let hosts: BTreeSet<String> = probes.iter().map(|p| p.host.clone()).collect();
    let tls_hosts: BTreeSet<String> = probes
        .iter()
        .filter(|p| p.scheme == Scheme::Https)
        .map(|p| p.host.clone())
        .collect();

    let mut failures = Vec::new();
    for case in &cases {
        let conf = case.dir.join(case.conf);
        let config = read_config(&conf, None, &Options::default())
            .unwrap_or_else(|e| panic!("{}: {e}", case.name));
        let squid = start_squid(
            tmp.path(),
            &case.dir,
            port,
            &Wrapper {
                conf: case.conf,
                address: ADDR,
                hosts: &hosts,
                extra: &trust_origin(&origin_cert.crt),
            },
        );
        let tls = tls_probe(port, &trust, &tls_hosts);
        let mut kinds = BTreeSet::new();
        let mut mismatches = Vec::new();
        for p in &probes {
            let live = match p.scheme {
                Scheme::Http => live_http(port, p),
                Scheme::Https => live_tls(&tls[&p.host]),
            };
            let ours = audited(config.as_ref(), p);
            kinds.insert(format!("{ours:?}"));
            if live != ours || live.is_err() {
                mismatches.push(format!("{p}: squid {live:?}, audit {ours:?}"));
            }
        }
        eprintln!("{}: {} probes, kinds {kinds:?}", case.name, probes.len());
        // Each configuration lets something through and refuses something.
        assert!(
            kinds.contains("Ok(Denied)") && kinds.len() > 1,
            "{}: {kinds:?}",
            case.name
        );
        if !mismatches.is_empty() {
            let log = std::fs::read_to_string(&squid.log).unwrap_or_default();
            failures.push(format!(
                "{}: {} of {} requests differ:\n{}\ncache.log:\n{log}",
                case.name,
                mismatches.len(),
                probes.len(),
                mismatches.join("\n")
            ));
        }
        drop(squid);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Squid's own verdict on a configuration: `squid -k parse` exits 0 and
/// prints no FATAL line; what it printed either way.
fn squid_accepts(conf: &Path) -> Result<String, String> {
    let out = std::process::Command::new("squid")
        .args(["-k", "parse", "-f"])
        .arg(conf)
        .output()
        .expect("run squid -k parse");
    let text = String::from_utf8_lossy(&out.stderr).into_owned();
    if out.status.success() && !text.contains("FATAL") {
        Ok(text)
    } else {
        Err(text)
    }
}

/// The `FILE:LINE` of every line Squid called unrecognized
/// (`FILE(LINE): unrecognized: 'NAME'`).
fn unrecognized(squid: &str) -> BTreeSet<String> {
    squid
        .lines()
        .filter_map(|l| {
            let (head, _) = l.split_once("): unrecognized: ")?;
            let (file, line) = head.rsplit_once('(')?;
            let file = file.rsplit("| ").next()?;
            Some(format!("{file}:{line}"))
        })
        .collect()
}

/// The configuration Debian's squid package installs, read where the
/// package put it (not a copy): Squid accepts it and so does the audit.
/// It holds comments after the words of a line, one quoting a word.
#[test]
fn the_stock_debian_squid_conf_is_read_as_squid_reads_it() {
    let stock = Path::new("/etc/squid/squid.conf");
    assert!(
        stock.is_file(),
        "the squid package installs {}",
        stock.display()
    );
    squid_accepts(stock).unwrap_or_else(|e| panic!("squid -k parse: {e}"));
    let text = std::fs::read_to_string(stock).unwrap();
    assert!(
        text.lines()
            .any(|l| l.starts_with("acl ") && l.contains('#') && l.contains('"')),
        "the stock file still has a trailing comment quoting a word"
    );
    let config = read_config(stock, None, &Options::default()).unwrap_or_else(|e| panic!("{e}"));
    // Its own rules: localhost may use the proxy, the rest of the world not.
    let probe = |host: &str, client: &str| Probe {
        host: host.to_string(),
        port: 80,
        scheme: Scheme::Http,
        path: "/".to_string(),
        client: client.parse().unwrap(),
    };
    assert_eq!(
        config.decide(&probe("example.com", "127.0.0.1")).access,
        Access::Allowed
    );
    assert_eq!(
        config.decide(&probe("example.com", "192.0.2.1")).access,
        Access::Denied
    );
}

/// Every hand-written fixture and both generated configurations are
/// accepted by Squid and by the audit alike; a configuration Squid refuses
/// (an ACL used but never defined) is refused by the audit at the same
/// line.
#[test]
fn the_audit_reads_a_file_exactly_when_squid_accepts_it() {
    let tmp = tempfile::tempdir().unwrap();
    chmod(tmp.path(), 0o755);
    let bump = Bump::new(tmp.path(), &ProxyCa::new(tmp.path(), "accept test CA"));
    let port = free_port();
    let (_, out) = generate_into(tmp.path(), &ruleset_text(port, Some(&bump)));
    let fixtures = fixture_copy(tmp.path(), port, &bump);
    let mut confs: Vec<PathBuf> = vec![out.join("squid.conf"), out.join("squid-sslbump.conf")];
    for e in std::fs::read_dir(&fixtures).unwrap().flatten() {
        if e.path().extension().is_some_and(|x| x == "conf") {
            confs.push(e.path());
        }
    }
    assert!(confs.len() >= 8, "{confs:?}");
    for conf in &confs {
        let squid =
            squid_accepts(conf).unwrap_or_else(|e| panic!("{}: squid: {e}", conf.display()));
        let config = read_config(conf, None, &Options::default())
            .unwrap_or_else(|e| panic!("{}: audit: {e}", conf.display()));
        assert!(unrecognized(&squid).is_empty(), "{squid}");
        assert!(config.ignored().is_empty(), "{}", conf.display());
    }
    // A misspelt directive: `squid -k parse` fails on it (exit 1) naming
    // the line; the audit reads the rest and reports the same line, with
    // the directive meant.
    let misspelt = fixtures.join("misspelt.conf");
    std::fs::write(
        &misspelt,
        "http_port 3128\nacl a dstdomain .a.com\nhttp_acess allow a\nhttp_access deny all\n",
    )
    .unwrap();
    let squid = squid_accepts(&misspelt).unwrap_err();
    assert_eq!(
        unrecognized(&squid),
        BTreeSet::from([format!("{}:3", misspelt.display())])
    );
    let config = read_config(&misspelt, None, &Options::default()).unwrap();
    let ours: BTreeSet<String> = config.ignored().iter().map(|i| i.at.to_string()).collect();
    assert_eq!(ours, unrecognized(&squid));
    assert_eq!(
        config.ignored()[0].why,
        "http_acess is not a Squid directive (did you mean http_access?): the line has no effect, and squid -k parse fails on it"
    );
    let bad = tmp.path().join("undefined.conf");
    std::fs::write(
        &bad,
        "http_port 3128\nacl a dstdomain .a.com # fine\nhttp_access allow a undefined_acl\nhttp_access deny all\n",
    )
    .unwrap();
    let squid = squid_accepts(&bad).unwrap_err();
    assert!(squid.contains("undefined_acl"), "{squid}");
    let ours = read_config(&bad, None, &Options::default())
        .err()
        .expect("refused")
        .to_string();
    assert!(ours.contains("undefined.conf:3:"), "{ours}");
    assert!(squid.contains("line 3"), "{squid}");
}
