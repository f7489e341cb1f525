//! `audit` without a live proxy: our own outputs audit clean against their
//! own policy; removing any one allow line reports exactly what it
//! carried; an over-broad line is named; hostile configurations get a
//! clear error or a bounded, reported result; the exit codes and report
//! formats.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use common::egressgen;
use egressgen::audit::engine::{ConfigAudit, Coverage, LineIssue, audit};
use egressgen::audit::probe::entry_probes;
use egressgen::backends::reader::{Limits, Options, Origin, ReadError, read_config};
use egressgen::generate;
use egressgen::policy::Policy;
use egressgen::ruleset::Ruleset;

fn client() -> IpAddr {
    "10.0.0.1".parse().unwrap()
}

/// The example rulesets, as a test runs them (see `common::examples`).
fn examples(dir: &Path) -> Vec<PathBuf> {
    let out = common::examples(dir);
    assert_eq!(out.len(), 5);
    out
}

/// The commercial EU example ruleset.
fn commercial_eu() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("rulesets/commercial-eu.toml")
}

/// Generates an example as a proxy that generates its own files does
/// (`refresh` publishing where Squid reads): the Squid files are installed
/// where they are written, so the paths in them name `out`.
fn generate_example(ruleset: &Path, out: &Path) -> Policy {
    let text = std::fs::read_to_string(ruleset).unwrap().replace(
        "[outputs.squid]\n",
        &format!(
            "[outputs.squid]\ninstall_dir = \"{}\"\n",
            std::path::absolute(out).unwrap().display()
        ),
    );
    let r = Ruleset::parse(&text, ruleset).unwrap_or_else(|e| panic!("{e}"));
    let backends = generate::select_backends(&r, None).unwrap();
    generate::generate(&r, &backends, out)
        .unwrap_or_else(|e| panic!("{e}"))
        .policy
}

fn audit_file(policy: &Policy, conf: &Path) -> ConfigAudit {
    let c = read_config(conf, None, &Options::for_policy(policy)).unwrap_or_else(|e| panic!("{e}"));
    audit(policy, c.as_ref(), client())
}

/// The configurations `audit` can read among a generated output.
const READABLE: [&str; 5] = [
    "squid.conf",
    "squid-sslbump.conf",
    "proxy.pac",
    "pfsense-fragment.xml",
    "azure-firewall.json",
];

#[test]
fn every_generated_configuration_audits_clean_against_its_own_policy() {
    let tmp = tempfile::tempdir().unwrap();
    let copies = tmp.path().join("rulesets");
    std::fs::create_dir(&copies).unwrap();
    let mut audited = 0;
    for ruleset in examples(&copies) {
        let out = tmp.path().join(ruleset.file_stem().unwrap());
        let policy = generate_example(&ruleset, &out);
        // Each readable configuration the ruleset generates (the
        // production example generates Squid's and a PAC only).
        for conf in READABLE.into_iter().filter(|c| out.join(c).exists()) {
            audited += 1;
            let a = audit_file(&policy, &out.join(conf));
            let s = &a.summary;
            let name = format!("{}: {conf}", ruleset.display());
            assert_eq!(s.entries, policy.entries.len(), "{name}");
            assert!(s.covered + s.broader > 0, "{name}: {s:?}");
            assert_eq!(
                (s.partly, s.missing, s.undecidable, s.tls_violations),
                (0, 0, 0, 0),
                "{name}: {:#?}",
                a.entries
                    .iter()
                    .filter(|e| e.coverage.is_gap())
                    .collect::<Vec<_>>()
            );
            assert_eq!(s.over_broad_lines, 0, "{name}: {:#?}", a.lines);
            // The Azure template lists each exempt host twice on purpose
            // (the no-inspect collection in front of the allow one, so
            // turning inspection on for the latter keeps the exemptions),
            // and its service-tag network rules decide before application
            // rules: the audit says so. Everything else is written once.
            if a.kind != "azure-firewall" {
                assert_eq!(
                    s.duplicate_lines + s.shadowed_lines,
                    0,
                    "{name}: {:#?}",
                    a.lines
                );
            }
            // The CLI agrees: exit 0.
            let cli = egressgen(&[
                "audit",
                "--ruleset",
                ruleset.to_str().unwrap(),
                out.join(conf).to_str().unwrap(),
            ]);
            assert_eq!(
                cli.status.code(),
                Some(0),
                "{name}: {}",
                String::from_utf8_lossy(&cli.stdout)
            );
        }
    }
    // Four examples with every readable output, the production one with
    // its two Squid configurations and its PAC.
    assert_eq!(audited, 4 * READABLE.len() + 3);
}

/// Per entry, the lines that let its requests through.
fn carriers(policy: &Policy, conf: &Path) -> BTreeMap<String, BTreeSet<Origin>> {
    let c = read_config(conf, None, &Options::for_policy(policy)).unwrap();
    let mut out = BTreeMap::new();
    for e in &policy.entries {
        let mut lines = BTreeSet::new();
        for p in entry_probes(e, client()) {
            if let Some((_, at)) = c.decide(&p).granted_by {
                lines.insert(at);
            }
        }
        out.insert(e.key(), lines);
    }
    out
}

/// Every line of the generated Squid files that allows something: the
/// values of its ACL files.
fn allow_lines(out: &Path) -> Vec<(PathBuf, usize)> {
    let mut lines = Vec::new();
    for e in std::fs::read_dir(out).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let is_acl = name.starts_with("squid-http") && !name.ends_with(".conf");
        if !is_acl {
            continue;
        }
        let text = std::fs::read_to_string(e.path()).unwrap();
        for (i, l) in text.lines().enumerate() {
            if !l.trim().is_empty() && !l.starts_with('#') {
                lines.push((e.path(), i + 1));
            }
        }
    }
    lines.sort();
    lines
}

#[test]
fn removing_any_allow_line_reports_exactly_what_it_carried_as_missing() {
    let tmp = tempfile::tempdir().unwrap();
    let ruleset = commercial_eu();
    let out = tmp.path().join("out");
    let policy = generate_example(&ruleset, &out);
    let conf = out.join("squid.conf");
    let carried = carriers(&policy, &conf);
    let lines = allow_lines(&out);
    assert!(lines.len() > 20, "{lines:?}");
    let mut checked = 0;
    for (file, number) in lines {
        let original = std::fs::read_to_string(&file).unwrap();
        let without: String = original
            .lines()
            .enumerate()
            .filter(|(i, _)| i + 1 != number)
            .map(|(_, l)| format!("{l}\n"))
            .collect();
        std::fs::write(&file, without).unwrap();
        let at = Origin {
            file: file.display().to_string(),
            line: number,
        };
        let expected: BTreeSet<String> = carried
            .iter()
            .filter(|(_, lines)| lines.contains(&at))
            .map(|(k, _)| k.clone())
            .collect();
        let a = audit_file(&policy, &conf);
        let gaps: BTreeSet<String> = a
            .entries
            .iter()
            .filter(|e| e.coverage.is_gap())
            .map(|e| e.entry.clone())
            .collect();
        assert_eq!(gaps, expected, "without {at}");
        assert!(!expected.is_empty(), "{at} carries nothing");
        // Each is missing unless another line still carries part of it.
        for e in a.entries.iter().filter(|e| expected.contains(&e.entry)) {
            let others = carried[&e.entry].len() > 1;
            let want = if others {
                Coverage::Partly
            } else {
                Coverage::Missing
            };
            assert_eq!(e.coverage, want, "without {at}: {}", e.entry);
        }
        let cli = egressgen(&[
            "audit",
            "--ruleset",
            ruleset.to_str().unwrap(),
            conf.to_str().unwrap(),
        ]);
        assert_eq!(cli.status.code(), Some(20), "without {at}");
        std::fs::write(&file, original).unwrap();
        checked += 1;
    }
    assert!(checked > 20);
}

#[test]
fn an_added_allow_for_a_whole_domain_is_reported_over_broad() {
    let tmp = tempfile::tempdir().unwrap();
    let ruleset = commercial_eu();
    let out = tmp.path().join("out");
    let policy = generate_example(&ruleset, &out);
    let snippet = out.join("squid-egressgen.conf");
    let mut text = std::fs::read_to_string(&snippet).unwrap();
    text.push_str("acl x dstdomain .windows.net\nhttp_access allow x\n");
    let added = text.lines().count();
    std::fs::write(&snippet, text).unwrap();
    let a = audit_file(&policy, &out.join("squid.conf"));
    let broad: Vec<_> = a
        .lines
        .iter()
        .filter(|l| l.issue == LineIssue::OverBroad)
        .collect();
    assert_eq!(broad.len(), 1, "{:#?}", a.lines);
    assert_eq!(broad[0].at.line, added - 1);
    assert!(broad[0].why.contains("windows.net"), "{}", broad[0].why);
    let cli = egressgen(&[
        "audit",
        "--ruleset",
        ruleset.to_str().unwrap(),
        "--fail-on",
        "gaps,broad",
        out.join("squid.conf").to_str().unwrap(),
    ]);
    assert_eq!(cli.status.code(), Some(22));
}

/// Checks a JSON report against docs/audit.schema.json.
fn assert_schema(report: &serde_json::Value) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/audit.schema.json");
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let v = jsonschema::validator_for(&schema).expect("schema compiles");
    let errors: Vec<String> = v
        .iter_errors(report)
        .take(5)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// Reads `conf`, expecting a refusal whose message holds every one of
/// `needles` (the file and line it names, what was wrong).
fn refused(conf: &Path, options: &Options, needles: &[&str]) -> ReadError {
    let e = match read_config(conf, None, options) {
        Ok(_) => panic!("{} was read; a refusal was expected", conf.display()),
        Err(e) => e,
    };
    let text = e.to_string();
    for needle in needles {
        assert!(text.contains(needle), "{needle:?} is not in: {text}");
    }
    e
}

#[test]
fn hostile_configurations_end_in_a_clear_error_or_a_bounded_report() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let limits = Options::default();
    // An include loop through two files.
    write(
        d,
        "a.conf",
        &format!("acl x src all\ninclude {}/b.conf\n", d.display()),
    );
    write(
        d,
        "b.conf",
        &format!("http_access allow x\ninclude {}/a.conf\n", d.display()),
    );
    let e = read_config(&d.join("a.conf"), Some("squid"), &limits)
        .err()
        .unwrap();
    assert!(matches!(e, ReadError::Limit { .. }), "{e}");
    assert!(
        e.to_string().contains("a.conf") && e.to_string().contains("loop"),
        "{e}"
    );
    // An ACL file of 1 GB, sparse: refused by size, not read.
    let big = d.join("big.txt");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(1 << 30)
        .unwrap();
    let conf = write(
        d,
        "big.conf",
        &format!(
            "acl big dstdomain \"{}\"\nhttp_access allow big\n",
            big.display()
        ),
    );
    refused(&conf, &limits, &["big.txt", "bytes", "big.conf:1"]);
    // A FIFO as an ACL file: refused, never waited on.
    let fifo = d.join("fifo.txt");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let conf = write(
        d,
        "fifo.conf",
        &format!(
            "acl f dstdomain \"{}\"\nhttp_access allow f\n",
            fifo.display()
        ),
    );
    refused(&conf, &limits, &["FIFO"]);
    // A missing ACL name, a bad regex: errors naming the line.
    let conf = write(
        d,
        "undef.conf",
        "acl a src all\n\nhttp_access allow a nosuch\n",
    );
    refused(&conf, &limits, &["undef.conf:3", "nosuch"]);
    let conf = write(
        d,
        "regex.conf",
        "acl r dstdom_regex (unclosed\nhttp_access allow r\n",
    );
    refused(&conf, &limits, &["regex.conf:1"]);
    // A regex whose automaton alone exceeds the engine's limit.
    let conf = write(
        d,
        "huge.conf",
        "acl a src all\nacl r url_regex -i ^http:// (?:a{1000}){1000}\nhttp_access allow a r\n",
    );
    refused(&conf, &limits, &["huge.conf:2", "size limit"]);
    // Memory: more directive lines and ACL values than the limit stop the
    // read at the ACL line that crosses it, regexes whose automata exceed
    // theirs at the value that does (the values come from files of short
    // lines, what costs the most per byte).
    let tight = Options {
        limits: Limits {
            items: 1_000,
            regex_bytes: 1 << 20,
            ..Limits::default()
        },
        ..Options::default()
    };
    let names: String = (0..1_200).map(|i| format!("h{i}.example\n")).collect();
    write(d, "names.txt", &names);
    let conf = write(
        d,
        "items.conf",
        &format!(
            "acl a src all\nacl n dstdomain \"{}/names.txt\"\nhttp_access allow a n\n",
            d.display()
        ),
    );
    let e = refused(&conf, &tight, &["items.conf:2", "more than 1000"]);
    assert!(matches!(e, ReadError::Limit { .. }), "{e}");
    assert!(read_config(&conf, None, &limits).is_ok());
    let patterns: String = (0..900)
        .map(|i| format!("^http://h{i}\\.example/[a-z]{{20}}/\n"))
        .collect();
    write(d, "patterns.txt", &patterns);
    let conf = write(
        d,
        "regexes.conf",
        &format!(
            "acl a src all\nacl r url_regex \"{}/patterns.txt\"\nhttp_access allow a r\n",
            d.display()
        ),
    );
    refused(&conf, &tight, &["patterns.txt:", "1048576 bytes compiled"]);
    assert!(read_config(&conf, None, &limits).is_ok());
    // 100,000 ACL values and 100,000 allow lines: every line is judged
    // (the duplicate and shadow checks go by index, with no budget), so
    // the three lines written again at the end, and the one under a
    // domain allowed earlier, are each found.
    let mut text = String::new();
    for i in 0..100_000 {
        text.push_str(&format!(
            "acl a{i} dstdomain host{i}.example.com\nhttp_access allow a{i}\n"
        ));
    }
    text.push_str("acl wide dstdomain .wide.example.net\nhttp_access allow wide\n");
    for i in [7, 5_000, 99_999] {
        text.push_str(&format!(
            "acl again{i} dstdomain host{i}.example.com\nhttp_access allow again{i}\n"
        ));
    }
    text.push_str("acl under dstdomain x.wide.example.net\nhttp_access allow under\n");
    text.push_str("http_access deny all\n");
    let conf = write(d, "huge.conf", &text);
    let ruleset = examples(d).into_iter().next().unwrap();
    let policy = generate_example(&ruleset, &d.join("out"));
    let a = audit_file(&policy, &conf);
    assert_eq!(
        a.summary.missing + a.summary.partly,
        a.summary.entries - a.summary.direct_route
    );
    let found = |issue: LineIssue| -> Vec<usize> {
        a.lines
            .iter()
            .filter(|l| l.issue == issue)
            .map(|l| l.at.line)
            .collect()
    };
    // `acl againN` sits at line 200,003 + 2k for the k-th repeat.
    assert_eq!(found(LineIssue::Duplicate), [200_003, 200_005, 200_007]);
    assert_eq!(found(LineIssue::Shadowed), [200_009]);
    assert!(found(LineIssue::Undecidable).is_empty(), "{:?}", a.lines);
}

#[test]
fn undecidable_lines_are_reported_with_their_line_and_fail_when_asked() {
    let tmp = tempfile::tempdir().unwrap();
    let ruleset = commercial_eu();
    let conf = write(
        tmp.path(),
        "helper.conf",
        "acl SSL_ports port 443\nacl CONNECT method CONNECT\n\
         external_acl_type checker %DST /usr/local/bin/checker\nacl checked external checker\n\
         http_access deny CONNECT !SSL_ports\nhttp_access allow checked\nhttp_access deny all\n",
    );
    let run = |fail_on: &str| {
        egressgen(&[
            "audit",
            "--ruleset",
            ruleset.to_str().unwrap(),
            "--format",
            "json",
            "--fail-on",
            fail_on,
            conf.to_str().unwrap(),
        ])
    };
    let out = run("gaps");
    // Nothing is a gap: everything hangs on the helper.
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_schema(&report);
    let c = &report["configs"][0];
    assert_eq!(c["summary"]["missing"], 0);
    assert!(c["summary"]["undecidable"].as_u64().unwrap() > 10);
    let lines = c["lines"].as_array().unwrap();
    assert!(
        lines
            .iter()
            .any(|l| l["issue"] == "undecidable" && l["at"]["line"] == 4),
        "{lines:#?}"
    );
    assert_eq!(run("undecidable").status.code(), Some(23));
}

#[test]
fn reports_in_every_format_and_tls_exit_code() {
    let tmp = tempfile::tempdir().unwrap();
    let ruleset = commercial_eu();
    let out = tmp.path().join("out");
    generate_example(&ruleset, &out);
    // Bump everything on 3128, where devices are sent (`--port`; the
    // generated squid.conf's own 8080 does not bump): TLS violations,
    // exit 21 even with gaps.
    let conf = write(
        tmp.path(),
        "bump.conf",
        &format!(
            "http_port 3128 ssl-bump tls-cert=/etc/squid/x.pem\nssl_bump bump all\ninclude {}/squid.conf\n",
            out.display()
        ),
    );
    let args = |format: &str| {
        egressgen(&[
            "audit",
            "--ruleset",
            ruleset.to_str().unwrap(),
            "--format",
            format,
            "--port",
            "3128",
            conf.to_str().unwrap(),
        ])
    };
    let json = args("json");
    assert_eq!(json.status.code(), Some(21));
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_schema(&report);
    assert_eq!(report["format"], "egressgen-audit");
    let tls = report["configs"][0]["tls"].as_array().unwrap();
    assert!(tls.iter().any(|t| {
        t["issue"] == "inspected"
            && t["subject"]
                .as_str()
                .unwrap()
                .contains("winatp-gw-weu.microsoft.com")
    }));
    let md = String::from_utf8(args("markdown").stdout).unwrap();
    assert!(
        md.starts_with("# Audit against ruleset commercial-eu"),
        "{md}"
    );
    assert!(md.contains("| TLS finding |"));
    let text = String::from_utf8(args("text").stdout).unwrap();
    assert!(
        text.contains("TLS inspected: allow/proxy/winatp-gw-weu.microsoft.com@443"),
        "{text}"
    );
    assert!(!text.contains('\x1b'), "no colour when not a terminal");
    // An unknown kind is an input error naming the file.
    let other = write(tmp.path(), "notes.txt", "hello\n");
    let e = egressgen(&[
        "audit",
        "--ruleset",
        ruleset.to_str().unwrap(),
        other.to_str().unwrap(),
    ]);
    assert_eq!(e.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&e.stderr).contains("notes.txt"));
}

/// The entries of a policy with a gap in an audit.
fn gaps(a: &ConfigAudit) -> BTreeSet<String> {
    a.entries
        .iter()
        .filter(|e| e.coverage.is_gap())
        .map(|e| e.entry.clone())
        .collect()
}

/// The commercial example with its PAC defaulting to DIRECT, so that
/// every proxied host depends on its own line of the PAC.
fn direct_default_example(dir: &Path) -> (PathBuf, Policy, PathBuf) {
    let text = std::fs::read_to_string(commercial_eu())
        .unwrap()
        .replace("[outputs.pac]\n", "[outputs.pac]\ndefault = \"DIRECT\"\n");
    let ruleset = dir.join("commercial-eu.toml");
    std::fs::write(&ruleset, text).unwrap();
    let out = dir.join("out");
    let policy = generate_example(&ruleset, &out);
    (ruleset, policy, out)
}

/// Which entries a set of (table, name) PAC items routes to the proxy:
/// those whose host some item's pattern covers (an independent oracle:
/// the policy's own relation, not the script).
fn pac_carried(policy: &Policy, items: &BTreeSet<(String, String)>) -> BTreeSet<String> {
    use egressgen::model::Via;
    use egressgen::model::host::parse_pattern;
    use egressgen::policy::matching::covers;
    let patterns: Vec<_> = items
        .iter()
        .filter_map(|(table, name)| {
            let text = match table.as_str() {
                "EXACT" => name.clone(),
                "BELOW" => format!("*.{name}"),
                "DOMAIN" => format!(".{name}"),
                _ => format!("*{name}"),
            };
            parse_pattern(&text).ok()
        })
        .collect();
    policy
        .entries
        .iter()
        .filter(|e| e.route == Via::Proxy && patterns.iter().any(|p| covers(p, &e.host)))
        .map(|e| e.key())
        .collect()
}

/// The items of the PAC's proxied names (`PROXY_HOSTS`, by parent
/// domain: `"parent":{"label":N}` on one line, or `"parent":{` and then
/// a `"label":N` line per name; N is 1 for the name, 2 for the names
/// below it, 3 for both) and globs (`PROXY_GLOBS`), with the line each is
/// on, as (line, EXACT | BELOW | DOMAIN | GLOBS, name).
fn pac_items(text: &str) -> Vec<(usize, String, String)> {
    let kind = |n: &str| match n {
        "1" => "EXACT",
        "2" => "BELOW",
        "3" => "DOMAIN",
        other => panic!("flags {other:?}"),
    };
    let unquote = |s: &str| s.trim().trim_matches('"').to_string();
    let mut out = Vec::new();
    let (mut in_hosts, mut parent) = (false, None::<String>);
    for (i, line) in text.lines().enumerate() {
        if let Some(list) = line.strip_prefix("var PROXY_GLOBS = [") {
            for g in list
                .trim_end_matches("];")
                .split(',')
                .filter(|g| !g.trim().is_empty())
            {
                out.push((i, "GLOBS".to_string(), unquote(g)));
            }
            continue;
        }
        if line == "var PROXY_HOSTS = {" {
            in_hosts = true;
            continue;
        }
        if !in_hosts {
            continue;
        }
        let item = line.trim_end_matches(',');
        if item == "};" {
            in_hosts = false;
        } else if item == "}" {
            parent = None;
        } else if let Some(p) = item.strip_suffix(":{") {
            parent = Some(unquote(p));
        } else if let Some((p, rest)) = item.split_once(":{") {
            // A parent and its only name.
            let (label, n) = rest.trim_end_matches('}').split_once(':').unwrap();
            let name = format!("{}.{}", unquote(label), unquote(p));
            out.push((i, kind(n).to_string(), name));
        } else {
            let (label, n) = item.split_once(':').unwrap();
            let p = parent.as_ref().expect("a name inside a parent");
            out.push((i, kind(n).to_string(), format!("{}.{p}", unquote(label))));
        }
    }
    out
}

#[test]
fn removing_any_proxy_line_of_the_pac_reports_what_it_carried() {
    let tmp = tempfile::tempdir().unwrap();
    let (ruleset, policy, out) = direct_default_example(tmp.path());
    let pac = out.join("proxy.pac");
    let original = std::fs::read_to_string(&pac).unwrap();
    let items = pac_items(&original);
    assert!(items.len() > 20, "{items:?}");
    let all: BTreeSet<(String, String)> = items
        .iter()
        .map(|(_, t, n)| (t.clone(), n.clone()))
        .collect();
    // The items read carry every proxied entry.
    let proxied: BTreeSet<String> = policy
        .entries
        .iter()
        .filter(|e| e.route == egressgen::model::Via::Proxy)
        .map(|e| e.key())
        .collect();
    assert_eq!(pac_carried(&policy, &all), proxied);
    assert!(gaps(&audit_file(&policy, &pac)).is_empty());
    let mut lost_something = 0;
    for (line, table, name) in &items {
        let mutated: String = original
            .lines()
            .enumerate()
            .map(|(i, l)| {
                if i != *line {
                    l.to_string()
                } else if table == "GLOBS" {
                    l.replace(&format!("\"{name}\""), "")
                        .replace("[, ", "[")
                        .replace(", ]", "]")
                        .replace(", ,", ",")
                } else {
                    String::new()
                }
            })
            .map(|l| l + "\n")
            .collect();
        std::fs::write(&pac, &mutated).unwrap();
        let mut rest = all.clone();
        rest.remove(&(table.clone(), name.clone()));
        let expected: BTreeSet<String> = pac_carried(&policy, &all)
            .difference(&pac_carried(&policy, &rest))
            .cloned()
            .collect();
        let a = audit_file(&policy, &pac);
        assert_eq!(gaps(&a), expected, "without {table} {name}");
        for e in a.entries.iter().filter(|e| expected.contains(&e.entry)) {
            assert_eq!(e.coverage, Coverage::RoutedWrong, "{}", e.entry);
        }
        lost_something += usize::from(!expected.is_empty());
    }
    // Most lines carry an entry of their own (a named blob host under
    // the blob wildcard does not).
    assert!(lost_something > 20, "{lost_something}");
    let cli = egressgen(&[
        "audit",
        "--ruleset",
        ruleset.to_str().unwrap(),
        pac.to_str().unwrap(),
    ]);
    assert_eq!(cli.status.code(), Some(20));
}

#[test]
fn removing_any_host_of_a_pfsense_alias_reports_what_it_carried() {
    use egressgen::model::HostPattern;
    let tmp = tempfile::tempdir().unwrap();
    let (_, policy, out) = direct_default_example(tmp.path());
    let xml = out.join("pfsense-fragment.xml");
    let original = std::fs::read_to_string(&xml).unwrap();
    // Each host alias: its port (from the name the backend gives it) and
    // its names.
    let mut aliases: Vec<(u16, Vec<String>)> = Vec::new();
    for block in original.split("<alias>").skip(1) {
        let field = |tag: &str| {
            block
                .split_once(&format!("<{tag}>"))
                .and_then(|(_, r)| r.split_once(&format!("</{tag}>")))
                .map(|(v, _)| v.to_string())
                .unwrap_or_default()
        };
        if field("type") != "host" {
            continue;
        }
        let port: u16 = field("name")
            .trim_start_matches("EG_hosts")
            .parse()
            .unwrap();
        aliases.push((
            port,
            field("address")
                .split_whitespace()
                .map(String::from)
                .collect(),
        ));
    }
    assert!(aliases.iter().map(|(_, n)| n.len()).sum::<usize>() > 20);
    let before = audit_file(&policy, &xml);
    assert!(gaps(&before).is_empty());
    for (port, names) in &aliases {
        for name in names {
            let list = names.join(" ");
            let without = names
                .iter()
                .filter(|n| *n != name)
                .cloned()
                .collect::<Vec<_>>()
                .join(" ");
            std::fs::write(&xml, original.replace(&list, &without)).unwrap();
            // The exact-host entries on this port named so: the only
            // thing a host alias entry carries.
            let expected: BTreeSet<String> = policy
                .entries
                .iter()
                .filter(|e| matches!(&e.host, HostPattern::Exact(n) if n.as_str() == name))
                .filter(|e| e.ports.contains(port))
                .map(|e| e.key())
                .collect();
            let a = audit_file(&policy, &xml);
            assert_eq!(
                gaps(&a),
                expected,
                "without {name} from the tcp/{port} alias"
            );
        }
    }
}

/// An application rule of a template: collection and rule index, its
/// (protocol, port) pairs and its FQDNs.
type AppRule = (usize, usize, Vec<(String, u16)>, Vec<String>);

#[test]
fn removing_any_fqdn_of_the_azure_template_reports_what_it_carried() {
    use egressgen::backends::spelling::{Syntax, read};
    use egressgen::policy::matching::covers;
    let tmp = tempfile::tempdir().unwrap();
    let (_, policy, out) = direct_default_example(tmp.path());
    let path = out.join("azure-firewall.json");
    let original: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    // Every (collection, rule, fqdn) of an application rule.
    let rules = |t: &serde_json::Value| -> Vec<AppRule> {
        let mut out = Vec::new();
        let cs = t["resources"][0]["properties"]["ruleCollections"]
            .as_array()
            .unwrap();
        for (ci, c) in cs.iter().enumerate() {
            for (ri, r) in c["rules"].as_array().unwrap().iter().enumerate() {
                if r["ruleType"] != "ApplicationRule" {
                    continue;
                }
                let protocols = r["protocols"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| {
                        (
                            p["protocolType"].as_str().unwrap().to_string(),
                            p["port"].as_u64().unwrap() as u16,
                        )
                    })
                    .collect();
                let fqdns = r["targetFqdns"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|f| f.as_str().unwrap().to_string())
                    .collect();
                out.push((ci, ri, protocols, fqdns));
            }
        }
        out
    };
    // An independent oracle: an entry is carried while, on each of its
    // ports, some application rule left has an FQDN covering its host.
    let carried = |t: &serde_json::Value| -> BTreeSet<String> {
        let all = rules(t);
        policy
            .entries
            .iter()
            .filter(|e| {
                e.ports.iter().all(|port| {
                    all.iter().any(|(_, _, protocols, fqdns)| {
                        protocols.iter().any(|(_, p)| p == port)
                            && fqdns
                                .iter()
                                .any(|f| read(Syntax::Glob, f).is_some_and(|p| covers(&p, &e.host)))
                    })
                })
            })
            .map(|e| e.key())
            .collect()
    };
    let before = carried(&original);
    let mut mutations = 0;
    for (ci, ri, _, fqdns) in rules(&original) {
        for (fi, fqdn) in fqdns.iter().enumerate() {
            let mut t = original.clone();
            t["resources"][0]["properties"]["ruleCollections"][ci]["rules"][ri]["targetFqdns"]
                .as_array_mut()
                .unwrap()
                .remove(fi);
            std::fs::write(&path, serde_json::to_string_pretty(&t).unwrap()).unwrap();
            let expected: BTreeSet<String> = before.difference(&carried(&t)).cloned().collect();
            let a = audit_file(&policy, &path);
            assert_eq!(
                gaps(&a),
                expected,
                "without {fqdn} from collection {ci} rule {ri}"
            );
            mutations += 1;
        }
    }
    assert!(mutations > 40);
    // Removing a host from both collections loses it: the oracle is not
    // blind to duplicates.
    let mut t = original.clone();
    for c in t["resources"][0]["properties"]["ruleCollections"]
        .as_array_mut()
        .unwrap()
    {
        for r in c["rules"].as_array_mut().unwrap() {
            if let Some(f) = r.get_mut("targetFqdns").and_then(|f| f.as_array_mut()) {
                f.retain(|x| x != "winatp-gw-weu.microsoft.com");
            }
        }
    }
    std::fs::write(&path, serde_json::to_string_pretty(&t).unwrap()).unwrap();
    let a = audit_file(&policy, &path);
    assert_eq!(
        gaps(&a),
        BTreeSet::from(["allow/proxy/winatp-gw-weu.microsoft.com@443".to_string()])
    );
}

#[test]
fn lookups_from_a_hosts_file_and_tags_from_a_service_tag_file() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let ruleset = write(
        d,
        "site.toml",
        "name = \"site\"\n[scope]\ncloud = \"commercial\"\nproducts = []\n\
         [[allow]]\nurl = \"https://monitor.contoso.com\"\n[[allow]]\nurl = \"https://files.contoso.com\"\n",
    );
    // A network rule naming a tag the ruleset's sources do not hold, and
    // one with an address.
    let template = write(
        d,
        "policy.json",
        r#"{"properties": {"priority": 100, "ruleCollections": [{
            "ruleCollectionType": "FirewallPolicyFilterRuleCollection", "name": "net",
            "priority": 100, "action": {"type": "Allow"},
            "rules": [
              {"ruleType": "NetworkRule", "name": "monitor", "ipProtocols": ["TCP"],
               "sourceAddresses": ["*"], "destinationAddresses": ["AzureMonitor"], "destinationPorts": ["443"]},
              {"ruleType": "NetworkRule", "name": "files", "ipProtocols": ["TCP"],
               "sourceAddresses": ["*"], "destinationAddresses": ["192.0.2.10/32"], "destinationPorts": ["443"]}
            ]}]}}"#,
    );
    let hosts = write(
        d,
        "hosts",
        "# lab\n13.64.1.2 monitor.contoso.com\n192.0.2.10 files.contoso.com\n",
    );
    let tags = common::fixture("servicetags-small.json");
    let run = |extra: &[&str]| {
        let mut args = vec![
            "audit",
            "--ruleset",
            ruleset.to_str().unwrap(),
            "--format",
            "json",
            "--fail-on",
            "gaps,undecidable",
        ];
        args.extend(extra);
        args.push(template.to_str().unwrap());
        let out = egressgen(&args);
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        assert_schema(&report);
        let coverage: BTreeMap<String, String> = report["configs"][0]["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["host"].as_str().unwrap().to_string(),
                    e["coverage"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        (out.status.code(), coverage)
    };
    // No lookup answers: both undecidable.
    let (code, c) = run(&[]);
    assert_eq!(code, Some(23));
    assert_eq!(c["monitor.contoso.com"], "undecidable");
    assert_eq!(c["files.contoso.com"], "undecidable");
    // The hosts file answers both; the tag still needs its prefixes.
    let (_, c) = run(&["--hosts", hosts.to_str().unwrap()]);
    assert_eq!(c["files.contoso.com"], "exact");
    assert_eq!(c["monitor.contoso.com"], "missing");
    let (code, c) = run(&[
        "--hosts",
        hosts.to_str().unwrap(),
        "--service-tags",
        tags.to_str().unwrap(),
    ]);
    assert_eq!(c["monitor.contoso.com"], "exact");
    assert_eq!(code, Some(0));
    // --resolve wins over the file.
    let (_, c) = run(&[
        "--hosts",
        hosts.to_str().unwrap(),
        "--service-tags",
        tags.to_str().unwrap(),
        "--resolve",
        "files.contoso.com:198.51.100.1",
    ]);
    assert_eq!(c["files.contoso.com"], "missing");
    // A bad hosts line is an error naming the file and line.
    let bad = write(
        d,
        "bad-hosts",
        "192.0.2.1 ok.example\nnot-an-ip x.example\n",
    );
    let out = egressgen(&[
        "audit",
        "--ruleset",
        ruleset.to_str().unwrap(),
        "--hosts",
        bad.to_str().unwrap(),
        template.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad-hosts:2"));
}

/// Copies `from` to `to`, recursively.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            copy_tree(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

/// A copy of the proxy's files taken off the box: the generated squid.conf
/// names its ACL files by absolute paths on the proxy, which `--root`
/// maps below the copy. Without it the copy cannot be read; with it the
/// audit's JSON is the one of the original, but for the file names.
#[test]
fn root_reads_a_copy_of_the_proxys_files_taken_off_the_box() {
    let tmp = tempfile::tempdir().unwrap();
    let ruleset = commercial_eu();
    let on_box = tmp.path().join("proxy/etc/squid");
    generate_example(&ruleset, &on_box);
    let audit_json = |conf: &Path, root: Option<&Path>| {
        let mut args = vec![
            "audit".to_string(),
            "--format".to_string(),
            "json".to_string(),
            "--ruleset".to_string(),
            ruleset.display().to_string(),
        ];
        if let Some(r) = root {
            args.extend(["--root".to_string(), r.display().to_string()]);
        }
        args.push(conf.display().to_string());
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        egressgen(&refs)
    };
    let original = audit_json(&on_box.join("squid.conf"), None);
    assert_eq!(original.status.code(), Some(0));
    // The copy: the proxy's tree below another root, the original gone.
    let root = tmp.path().join("copy");
    let copy = root.join(on_box.strip_prefix("/").unwrap());
    copy_tree(&on_box, &copy);
    std::fs::remove_dir_all(tmp.path().join("proxy")).unwrap();
    let without = audit_json(&copy.join("squid.conf"), None);
    assert_eq!(
        without.status.code(),
        Some(4),
        "the ACL files are not where the copy says"
    );
    let with = audit_json(&copy.join("squid.conf"), Some(&root));
    assert_eq!(
        with.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&with.stderr)
    );
    let shown = |out: &std::process::Output, dir: &Path| {
        String::from_utf8_lossy(&out.stdout).replace(&dir.display().to_string(), "DIR")
    };
    assert_eq!(shown(&with, &copy), shown(&original, &on_box));
}

/// An Azure rule collection group of `(action, collection priority, rule)`
/// filter collections.
fn azure_group(collections: &[(&str, u64, serde_json::Value)]) -> String {
    let cs: Vec<serde_json::Value> = collections
        .iter()
        .enumerate()
        .map(|(i, (action, priority, rule))| {
            serde_json::json!({
                "ruleCollectionType": "FirewallPolicyFilterRuleCollection",
                "name": format!("c{i}"),
                "priority": priority,
                "action": {"type": action},
                "rules": [rule],
            })
        })
        .collect();
    serde_json::json!({"properties": {"priority": 100, "ruleCollections": cs}}).to_string()
}

/// A rule the reader cannot evaluate (an FQDN tag) decides nothing by
/// itself: before an Allow that certainly matches, the request is allowed
/// either way; with no later rule, or before a Deny, it is undecidable;
/// an unknown Deny before a certain Allow is undecidable too.
#[test]
fn an_unreadable_azure_rule_only_matters_when_its_action_could_change_the_answer() {
    let tmp = tempfile::tempdir().unwrap();
    let app = |name: &str, key: &str, value: &str| {
        serde_json::json!({
            "ruleType": "ApplicationRule", "name": name,
            "protocols": [{"protocolType": "Https", "port": 443}],
            "sourceAddresses": ["*"], key: [value],
        })
    };
    let tag = app("wu", "fqdnTags", "WindowsUpdate");
    let gw = app("gw", "targetFqdns", "winatp-gw-weu.microsoft.com");
    let decide = |name: &str, group: String, host: &str| {
        let path = tmp.path().join(format!("{name}.json"));
        std::fs::write(&path, group).unwrap();
        let c = read_config(&path, Some("azure-firewall"), &Options::default()).unwrap();
        let probe = egressgen::backends::reader::Probe {
            host: host.to_string(),
            port: 443,
            scheme: egressgen::model::Scheme::Https,
            path: "/".to_string(),
            client: client(),
        };
        c.decide(&probe).access
    };
    use egressgen::backends::reader::Access;
    let undecidable =
        |a: &Access| matches!(a, Access::Undecidable(why) if why.contains("fqdnTags"));
    let allow_then_allow = azure_group(&[("Allow", 100, tag.clone()), ("Allow", 200, gw.clone())]);
    assert_eq!(
        decide(
            "aa",
            allow_then_allow.clone(),
            "winatp-gw-weu.microsoft.com"
        ),
        Access::Allowed
    );
    let other = decide("aa2", allow_then_allow, "other.example.com");
    assert!(undecidable(&other), "{other:?}");
    let deny_then_allow = azure_group(&[("Deny", 100, tag.clone()), ("Allow", 200, gw.clone())]);
    let d = decide("da", deny_then_allow, "winatp-gw-weu.microsoft.com");
    assert!(undecidable(&d), "{d:?}");
    let allow_then_deny = azure_group(&[("Allow", 100, tag), ("Deny", 200, gw)]);
    let d = decide("ad", allow_then_deny, "winatp-gw-weu.microsoft.com");
    assert!(undecidable(&d), "{d:?}");
}

/// Three rules named alike in three collections are each found at their
/// own line, not all at the first one's; the text is the oracle.
#[test]
fn azure_rules_sharing_a_name_are_each_at_their_own_line() {
    let tmp = tempfile::tempdir().unwrap();
    let crl = |fqdn: &str| {
        serde_json::json!({
            "ruleType": "ApplicationRule", "name": "CRL",
            "protocols": [{"protocolType": "Http", "port": 80}],
            "sourceAddresses": ["*"], "targetFqdns": [fqdn],
        })
    };
    let group = azure_group(&[
        ("Allow", 100, crl("crl.microsoft.com")),
        ("Allow", 200, crl("ctldl.windowsupdate.com")),
        ("Allow", 300, crl("www.microsoft.com")),
    ]);
    let pretty =
        serde_json::to_string_pretty(&serde_json::from_str::<serde_json::Value>(&group).unwrap())
            .unwrap();
    let path = tmp.path().join("crl.json");
    std::fs::write(&path, &pretty).unwrap();
    let expected: Vec<usize> = pretty
        .lines()
        .enumerate()
        .filter(|(_, l)| l.trim() == "\"name\": \"CRL\",")
        .map(|(i, _)| i + 1)
        .collect();
    assert_eq!(expected.len(), 3, "{pretty}");
    let c = read_config(&path, Some("azure-firewall"), &Options::default()).unwrap();
    let mut lines: Vec<usize> = c.grants().iter().map(|g| g.rule.line).collect();
    lines.sort();
    lines.dedup();
    assert_eq!(lines, expected);
}

/// Duplicate and shadowed need an earlier line certain to match every
/// request the later one matches. Not: a Squid rule whose other test
/// cannot be evaluated (an external helper), one for other clients, an
/// Azure network rule whose prefix a name may or may not resolve into, an
/// FQDN-tag rule. Yes: a rule for the same clients whose domain covers
/// the later host, and the same host test written again.
#[test]
fn only_a_line_certain_to_match_makes_a_later_one_shadowed_or_duplicate() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let policy = generate_example(&commercial_eu(), &d.join("out"));
    let lines = |a: &ConfigAudit, issue: LineIssue| -> Vec<usize> {
        a.lines
            .iter()
            .filter(|l| l.issue == issue)
            .map(|l| l.at.line)
            .collect()
    };
    let conf = write(
        d,
        "certain.conf",
        "acl mine src 10.0.0.0/8\n\
         acl theirs src 192.168.0.0/16\n\
         acl helper external nosuch\n\
         acl wide dstdomain .wns.windows.com\n\
         acl gw dstdomain client.wns.windows.com\n\
         acl gw2 dstdomain client.wns.windows.com\n\
         acl gw3 dstdomain client.wns.windows.com\n\
         acl gw4 dstdomain client.wns.windows.com\n\
         acl sub dstdomain .client.wns.windows.com\n\
         acl sub2 dstdomain x.client.wns.windows.com\n\
         http_access allow mine helper wide\n\
         http_access allow theirs gw\n\
         http_access allow mine gw2\n\
         http_access allow mine gw3\n\
         http_access allow mine wide gw4\n\
         http_access allow mine sub\n\
         http_access allow mine sub2\n\
         http_access deny all\n",
    );
    let a = audit_file(&policy, &conf);
    // Nothing follows the helper line for certain, nor the line for other
    // clients (gw, gw2, sub stand). gw3 repeats gw2 for the same clients;
    // so does gw4, whose line also tests `wide`: narrower, so dead too.
    // sub2 lies under sub, allowed earlier for the same clients.
    assert_eq!(lines(&a, LineIssue::Duplicate), [7, 8], "{:#?}", a.lines);
    assert_eq!(lines(&a, LineIssue::Shadowed), [10], "{:#?}", a.lines);

    // Azure: a network rule to a prefix is no certain match for a name,
    // with or without a lookup that puts the name inside it.
    let net = serde_json::json!({
        "ruleType": "NetworkRule", "name": "wns-net",
        "ipProtocols": ["TCP"], "sourceAddresses": ["*"],
        "destinationAddresses": ["20.202.0.0/16"], "destinationPorts": ["443"],
    });
    let app = serde_json::json!({
        "ruleType": "ApplicationRule", "name": "wns-app",
        "protocols": [{"protocolType": "Https", "port": 443}],
        "sourceAddresses": ["*"], "targetFqdns": ["client.wns.windows.com"],
    });
    let group = azure_group(&[("Allow", 100, net), ("Allow", 200, app)]);
    let path = write(d, "wns.json", &group);
    for resolve in [None, Some("20.202.1.1")] {
        let mut options = Options::for_policy(&policy);
        if let Some(ip) = resolve {
            options
                .resolve
                .insert("client.wns.windows.com".into(), ip.parse().unwrap());
        }
        let c = read_config(&path, Some("azure-firewall"), &options).unwrap();
        let a = audit(&policy, c.as_ref(), client());
        assert!(
            lines(&a, LineIssue::Shadowed).is_empty() && lines(&a, LineIssue::Duplicate).is_empty(),
            "{resolve:?}: {:#?}",
            a.lines
        );
    }
}

/// Squid, three-valued: a line whose match the reader cannot decide (an
/// external helper) changes an answer only if its action could: an
/// unknown allow before a certain allow still allows, an unknown deny
/// before the final deny still denies; otherwise the answer is
/// undecidable, at the unknown line.
#[test]
fn an_unknown_squid_line_only_matters_when_its_action_could_change_the_answer() {
    use egressgen::backends::reader::{Access, Probe};
    let tmp = tempfile::tempdir().unwrap();
    let decide = |action: &str, host: &str| {
        let conf = write(
            tmp.path(),
            &format!("{action}.conf"),
            &format!(
                "acl ext external nosuch\nacl ms dstdomain .microsoft.com\n\
                 http_access {action} ext\nhttp_access allow ms\nhttp_access deny all\n"
            ),
        );
        let c = read_config(&conf, None, &Options::default()).unwrap();
        let v = c.decide(&Probe {
            host: host.to_string(),
            port: 80,
            scheme: egressgen::model::Scheme::Http,
            path: "/".to_string(),
            client: client(),
        });
        (v.access, v.by.map(|o| o.line))
    };
    let undecidable = |(a, by): (Access, Option<usize>)| {
        matches!(a, Access::Undecidable(ref why) if why.contains("ext")) && by == Some(3)
    };
    assert_eq!(
        decide("allow", "a.microsoft.com"),
        (Access::Allowed, Some(4))
    );
    assert!(undecidable(decide("allow", "other.example.com")));
    assert!(undecidable(decide("deny", "a.microsoft.com")));
    assert_eq!(
        decide("deny", "other.example.com"),
        (Access::Denied, Some(5))
    );
}

/// pfSense, three-valued like Squid and Azure: a rule to an interface
/// network (which the reader cannot evaluate) changes an answer only if
/// its action could.
#[test]
fn an_unknown_pfsense_rule_only_matters_when_its_action_could_change_the_answer() {
    use egressgen::backends::reader::{Access, Probe};
    let tmp = tempfile::tempdir().unwrap();
    let rule = |action: &str, destination: &str| {
        format!(
            "<rule><type>{action}</type><interface>lan</interface><protocol>tcp</protocol>\
             <source><any/></source><destination>{destination}<port>443</port></destination></rule>"
        )
    };
    let decide = |first: &str, host: &str| {
        let xml = format!(
            "<pfsense><filter>{}{}</filter></pfsense>",
            rule(first, "<network>opt1</network>"),
            rule("pass", "<address>winatp-gw-weu.microsoft.com</address>")
        );
        let path = write(tmp.path(), &format!("{first}.xml"), &xml);
        let c = read_config(&path, Some("pfsense"), &Options::default()).unwrap();
        c.decide(&Probe {
            host: host.to_string(),
            port: 443,
            scheme: egressgen::model::Scheme::Https,
            path: "/".to_string(),
            client: client(),
        })
        .access
    };
    let undecidable = |a: Access| matches!(a, Access::Undecidable(ref why) if why.contains("opt1"));
    assert_eq!(
        decide("pass", "winatp-gw-weu.microsoft.com"),
        Access::Allowed
    );
    assert!(undecidable(decide("pass", "other.example.com")));
    assert!(undecidable(decide("block", "winatp-gw-weu.microsoft.com")));
    assert_eq!(decide("block", "other.example.com"), Access::Denied);
}

/// A generated squid.conf read where it was generated names files that
/// are only where it is installed: the error says so, and the advice
/// works (a copy laid out as on the proxy, read with `--root`).
#[test]
fn a_generated_configuration_is_audited_where_it_is_installed() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let ruleset = commercial_eu();
    let made = egressgen(&[
        "generate",
        ruleset.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "-q",
    ]);
    assert_eq!(made.status.code(), Some(0));
    let audit_with = |extra: &[&str]| {
        let mut args = vec!["audit", "--ruleset", ruleset.to_str().unwrap()];
        args.extend_from_slice(extra);
        egressgen(&args)
    };
    let conf = out.join("squid.conf");
    let where_made = audit_with(&[conf.to_str().unwrap()]);
    let said = String::from_utf8_lossy(&where_made.stderr);
    assert_eq!(where_made.status.code(), Some(4), "{said}");
    assert!(
        said.contains("/etc/squid/egressgen/commercial-eu/squid-egressgen.conf")
            && said.contains("run install-squid.sh first, or map a copy with --root DIR"),
        "{said}"
    );
    // The proxy's layout below another root.
    let root = tmp.path().join("proxy");
    copy_tree(&out, &root.join("etc/squid/egressgen/commercial-eu"));
    let mapped = audit_with(&[
        "--root",
        root.to_str().unwrap(),
        root.join("etc/squid/egressgen/commercial-eu/squid.conf")
            .to_str()
            .unwrap(),
    ]);
    assert_eq!(
        mapped.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&mapped.stdout),
        String::from_utf8_lossy(&mapped.stderr)
    );
}
