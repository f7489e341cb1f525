//! The security findings of `audit` against a real Squid: a configuration
//! in the order many sites copy (the sites allowed before the port
//! guards, no client test) lets a live Squid tunnel to ports 25 and 2525
//! and serve a client outside its network; the audit names both lines,
//! and after applying the fixes it prints, word for word as a person
//! would, the live Squid refuses both and the audit finds nothing more.

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};

use common::egressgen;
use common::squid::{Wrapper, ask, chmod, connect, free_port, get, origin, start_squid};
use common::tools::squid_parse_problems;
use serde_json::Value;

/// A loopback address of its own, so the origin's ports do not collide
/// with other live tests.
const ADDR: &str = "127.0.0.5";
const HOST: &str = "login.microsoftonline-p.windows.net";

fn ruleset() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("rulesets/commercial-eu.toml")
}

/// The fixture with its port filled in, written into `dir`.
fn fixture(dir: &Path, port: u16) -> PathBuf {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/audit/squid/d4iot-order.conf"),
    )
    .unwrap()
    .replace("@PORT@", &port.to_string());
    let conf = dir.join("squid.conf");
    std::fs::write(&conf, text).unwrap();
    conf
}

fn audit(conf: &Path) -> (Option<i32>, Value) {
    let out = egressgen(&[
        "audit",
        "--format",
        "json",
        "--ruleset",
        ruleset().to_str().unwrap(),
        conf.to_str().unwrap(),
    ]);
    let json = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code(), json)
}

/// The security findings of the report: (issue, line, fix).
fn findings(report: &Value) -> Vec<(String, u64, String)> {
    report["configs"][0]["security"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["issue"].as_str().unwrap().to_string(),
                f["at"]["line"].as_u64().unwrap(),
                f["fix"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The line numbers a fix names, in the order it names them
/// (`…at FILE:N…at FILE:M`).
fn lines_named(fix: &str, file: &Path) -> Vec<usize> {
    let key = format!("{}:", file.display());
    fix.split(&key)
        .skip(1)
        .map(|rest| {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().unwrap()
        })
        .collect()
}

/// What a live Squid does with a tunnel to each port and with a plain
/// request, from 127.0.0.1: `true` where it refuses.
fn live(dir: &Path, conf: &Path, port: u16) -> [bool; 3] {
    let hosts = [HOST.to_string()].into_iter().collect();
    let name = conf.file_name().unwrap().to_str().unwrap();
    let _squid = start_squid(
        dir,
        conf.parent().unwrap(),
        port,
        &Wrapper {
            conf: name,
            address: ADDR,
            hosts: &hosts,
            extra: "",
        },
    );
    let denied = |request: String| ask(port, &request).1;
    [
        denied(connect(HOST, 25)),
        denied(connect(HOST, 2525)),
        denied(get(&format!("http://{HOST}/"))),
    ]
}

#[test]
fn a_tunnel_to_any_port_and_an_open_proxy_are_found_and_their_fixes_close_them() {
    let tmp = tempfile::tempdir().unwrap();
    chmod(tmp.path(), 0o755);
    origin(ADDR, false);
    // Listeners on the tunnel ports, so a forwarded CONNECT succeeds.
    let _listeners: Vec<TcpListener> = [25, 2525]
        .iter()
        .map(|&p| TcpListener::bind((ADDR, p)).unwrap())
        .collect();
    let port = free_port();
    let conf = fixture(tmp.path(), port);

    // As written: Squid tunnels to both ports and serves 127.0.0.1, which
    // is outside its only network (10.0.0.0/8).
    assert_eq!(live(tmp.path(), &conf, port), [false, false, false]);
    let (code, report) = audit(&conf);
    let found = findings(&report);
    let issues: Vec<&str> = found.iter().map(|(i, _, _)| i.as_str()).collect();
    assert_eq!(issues, ["open-proxy", "connect-any-port"], "{found:#?}");
    // Both at the allow line (line 12 of the fixture), and the exit says so.
    assert!(found.iter().all(|(_, line, _)| *line == 12), "{found:#?}");
    assert_eq!(code, Some(24));

    // The CONNECT fix names the guard line and the allow line: move it.
    let (_, _, fix) = &found[1];
    assert!(fix.starts_with("move the line at"), "{fix}");
    let named = lines_named(fix, &conf);
    let text = std::fs::read_to_string(&conf).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    let guard = lines.remove(named[0] - 1);
    lines.insert(named[1] - 1, guard);
    std::fs::write(&conf, lines.join("\n") + "\n").unwrap();
    assert_eq!(live(tmp.path(), &conf, port), [true, true, false]);
    let (_, report) = audit(&conf);
    let found = findings(&report);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].0, "open-proxy");

    // The open-proxy fix names the client ACL to add to the allow line.
    let (_, at, fix) = &found[0];
    assert!(fix.starts_with("add the client ACL localnet"), "{fix}");
    let text = std::fs::read_to_string(&conf).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let at = usize::try_from(*at).unwrap();
    assert_eq!(lines_named(fix, &conf).last(), Some(&at));
    lines[at - 1].push_str(" localnet");
    std::fs::write(&conf, lines.join("\n") + "\n").unwrap();
    assert_eq!(live(tmp.path(), &conf, port), [true, true, true]);
    let (code, report) = audit(&conf);
    assert!(findings(&report).is_empty(), "{report:#}");
    assert_ne!(code, Some(24));
}

/// A Squid configuration with its guards in place (no hole of its own)
/// up to line 5; line 6 follows.
const GUARDED: &str = "acl localnet src 10.0.0.0/8\nacl SSL_ports port 443\n\
    acl crl dstdomain crl.microsoft.com\nhttp_access deny CONNECT !SSL_ports\n\
    http_access allow localnet crl\n";

/// An allow-all line says whom it admits: `localhost` only the proxy host
/// (an over-broad line, not a hole); a network ACL, the clients in it (a
/// security finding counting every entry that passes only because of
/// it). An Azure policy that ends in an application rule for `*` is
/// reported the same way, with every entry it lets through counted.
#[test]
fn an_allow_all_line_says_whom_it_admits_and_what_passes_only_through_it() {
    let tmp = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let p = tmp.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let local = write(
        "local.conf",
        &format!("{GUARDED}http_access allow localhost\nhttp_access deny all\n"),
    );
    let (_, report) = audit(&local);
    let c = &report["configs"][0];
    assert!(findings(&report).is_empty(), "{c:#}");
    let broad: Vec<&Value> = c["lines"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["issue"] == "over-broad" && l["at"]["line"] == 6)
        .collect();
    assert_eq!(broad.len(), 1, "{c:#}");
    assert!(
        broad[0]["why"]
            .as_str()
            .unwrap()
            .contains("only for clients on the proxy host itself"),
        "{c:#}"
    );

    let lan = write(
        "lan.conf",
        &format!("{GUARDED}http_access allow localnet\nhttp_access deny all\n"),
    );
    let (code, report) = audit(&lan);
    let c = &report["configs"][0];
    let found = findings(&report);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!((found[0].0.as_str(), found[0].1), ("allow-all", 6));
    let security = &c["security"][0];
    assert!(
        security["why"]
            .as_str()
            .unwrap()
            .contains("clients in acl localnet"),
        "{security:#}"
    );
    // Every entry that passes, but crl.microsoft.com, passes through it.
    let passing = c["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| matches!(e["coverage"].as_str(), Some("exact" | "broader")))
        .filter(|e| {
            e["lines"]
                .as_array()
                .unwrap()
                .iter()
                .any(|l| l["line"] == 6)
        })
        .count();
    assert!(passing > 20, "{c:#}");
    assert_eq!(security["covers"], passing);
    assert_eq!(code, Some(24));

    // Azure: certain rules first, an allow-all application rule last.
    let app = |name: &str, fqdn: &str| {
        serde_json::json!({
            "ruleType": "ApplicationRule", "name": name,
            "protocols": [{"protocolType": "Http", "port": 80}, {"protocolType": "Https", "port": 443}],
            "sourceAddresses": ["10.0.0.0/8"], "targetFqdns": [fqdn],
        })
    };
    let collection = |priority: u64, rule: Value| {
        serde_json::json!({
            "ruleCollectionType": "FirewallPolicyFilterRuleCollection",
            "name": format!("c{priority}"), "priority": priority,
            "action": {"type": "Allow"}, "rules": [rule],
        })
    };
    let group = serde_json::json!({"properties": {"priority": 100, "ruleCollections": [
        collection(100, app("crl", "crl.microsoft.com")),
        collection(200, app("everything", "*")),
    ]}});
    let azure = write(
        "allow-all.json",
        &serde_json::to_string_pretty(&group).unwrap(),
    );
    let (_, report) = audit(&azure);
    let found = findings(&report);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].0, "allow-all");
    let c = &report["configs"][0];
    assert!(c["security"][0]["covers"].as_u64().unwrap() > 20, "{c:#}");
}

/// The configuration Debian's squid package installs (read in place) has
/// no hole: only clients on the proxy host may use it. The audit finds no
/// security finding, and its one allow-all line, `http_access allow
/// localhost`, is over-broad only, found at the line the file has it
/// (the cache manager's line, `allow localhost manager`, admits no
/// destination).
#[test]
fn the_stock_debian_squid_conf_has_no_hole_and_its_localhost_line_is_named() {
    let stock = Path::new("/etc/squid/squid.conf");
    let text = std::fs::read_to_string(stock).expect("the squid package installs it");
    let want: Vec<u64> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| {
            l.split_whitespace().collect::<Vec<_>>() == ["http_access", "allow", "localhost"]
        })
        .map(|(i, _)| i as u64 + 1)
        .collect();
    assert_eq!(want.len(), 1, "the stock file allows localhost once");
    let (_, report) = audit(stock);
    let c = &report["configs"][0];
    assert!(findings(&report).is_empty(), "{:#}", c["security"]);
    let broad: Vec<u64> = c["lines"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["issue"] == "over-broad")
        .map(|l| l["at"]["line"].as_u64().unwrap())
        .collect();
    assert_eq!(broad, want, "{:#}", c["lines"]);
}

/// A gap whose host Squid cannot write as a dstdomain (a suffix glob,
/// `*ecs.office.com`) gets a regex fix; applied as printed, the audit finds
/// the entry covered and `squid -k parse` accepts the file.
#[test]
fn a_suffix_glob_gap_is_fixed_with_a_regex_squid_accepts() {
    let tmp = tempfile::tempdir().unwrap();
    let conf = tmp.path().join("squid.conf");
    std::fs::write(
        &conf,
        "http_port 8080\nacl localnet src 10.0.0.0/8\nacl SSL_ports port 443\n\
         http_access deny CONNECT !SSL_ports\nhttp_access deny all\n",
    )
    .unwrap();
    let entry = |report: &Value| {
        report["configs"][0]["entries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["host"] == "*ecs.office.com")
            .cloned()
            .expect("the policy has *ecs.office.com")
    };
    let (_, report) = audit(&conf);
    let gap = entry(&report);
    let fix = gap["fix"].as_str().unwrap().to_string();
    assert!(fix.contains("dstdom_regex -i"), "{fix}");
    // `add `A` and `B` before FILE:N`: insert A and B before line N.
    let quoted: Vec<&str> = fix.split('`').skip(1).step_by(2).collect();
    let before = lines_named(&fix, &conf)[0];
    let text = std::fs::read_to_string(&conf).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.insert(before - 1, quoted[1]);
    lines.insert(before - 1, quoted[0]);
    std::fs::write(&conf, lines.join("\n") + "\n").unwrap();
    let parse = std::process::Command::new("squid")
        .args(["-k", "parse", "-f"])
        .arg(&conf)
        .output()
        .unwrap();
    assert!(
        parse.status.success(),
        "{}",
        String::from_utf8_lossy(&parse.stderr)
    );
    let (_, report) = audit(&conf);
    let after = entry(&report);
    assert!(
        matches!(after["coverage"].as_str(), Some("exact" | "broader")),
        "{after:#}"
    );
}

/// A gap for a path entry (`crl.contoso.com/pki/` over plain HTTP) gets
/// the anchored `url_regex` fix, not the whole host: applied as printed —
/// a new ACL, or the value added to the `url_regex` ACL already allowed —
/// `squid -k parse` accepts it, the audit finds the entry covered exactly
/// (a dstdomain line would be "broader"), and a live Squid serves that
/// path and still refuses another path of the same host.
#[test]
fn a_path_gap_is_fixed_with_a_url_regex_that_admits_only_that_path() {
    const PATH_HOST: &str = "crl.contoso.com";
    let head = "acl localnet src 10.0.0.0/8 127.0.0.0/8\nacl SSL_ports port 443\nacl CONNECT method CONNECT\n";
    let cases = [
        // No url_regex ACL yet: a new one, before the deny all.
        "acl gw dstdomain .microsoft.com\nhttp_access deny CONNECT !SSL_ports\n\
         http_access allow localnet gw\nhttp_access deny all\n",
        // One already allowed: the value goes into it.
        "acl gw dstdomain .microsoft.com\nacl paths url_regex ^http://example\\.org/\n\
         http_access deny CONNECT !SSL_ports\nhttp_access allow localnet gw\n\
         http_access allow localnet paths\nhttp_access deny all\n",
    ];
    for (k, body) in cases.iter().enumerate() {
        let tmp = tempfile::tempdir().unwrap();
        let port = free_port();
        let conf = tmp.path().join("squid.conf");
        std::fs::write(&conf, format!("http_port {port}\n{head}{body}")).unwrap();
        let entry = |report: &Value| {
            report["configs"][0]["entries"]
                .as_array()
                .unwrap()
                .iter()
                .find(|e| e["host"] == "crl.contoso.com" && e["path"] == "/pki/")
                .cloned()
                .expect("the ruleset allows crl.contoso.com/pki/")
        };
        let (_, report) = audit(&conf);
        let gap = entry(&report);
        assert_eq!(gap["coverage"], "missing", "{gap:#}");
        let fix = gap["fix"].as_str().unwrap().to_string();
        let text = std::fs::read_to_string(&conf).unwrap();
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        if k == 0 {
            // `add `A` and `B` before FILE:N`
            assert!(fix.contains("url_regex ^http://crl"), "{fix}");
            let quoted: Vec<&str> = fix.split('`').skip(1).step_by(2).collect();
            let before = lines_named(&fix, &conf)[0];
            lines.insert(before - 1, quoted[1].to_string());
            lines.insert(before - 1, quoted[0].to_string());
        } else {
            // `add REGEX to acl paths at FILE:N (…)`
            let value = fix
                .strip_prefix("add ")
                .and_then(|r| r.split_once(" to acl paths at "))
                .unwrap_or_else(|| panic!("{fix}"))
                .0;
            let at = lines_named(&fix, &conf)[0];
            lines[at - 1] = format!("{} {value}", lines[at - 1]);
        }
        std::fs::write(&conf, lines.join("\n") + "\n").unwrap();
        // Accepted without a word: no error, warning or unrecognized line.
        let problems = squid_parse_problems(&conf);
        assert!(problems.is_empty(), "{fix}: {problems:#?}");
        let (_, report) = audit(&conf);
        assert_eq!(entry(&report)["coverage"], "exact", "{fix}");
        let hosts = [PATH_HOST.to_string()].into_iter().collect();
        let _squid = start_squid(
            tmp.path(),
            tmp.path(),
            port,
            &Wrapper {
                conf: "squid.conf",
                address: ADDR,
                hosts: &hosts,
                extra: "",
            },
        );
        let denied = |url: &str| ask(port, &get(url)).1;
        assert!(!denied("http://crl.contoso.com/pki/root.crl"), "{fix}");
        assert!(denied("http://crl.contoso.com/private/"), "{fix}");
    }
}
