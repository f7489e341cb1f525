//! The audit report an auditor acts on, from the command line: the first
//! line is the verdict with the exit status the process returns; each
//! configuration's findings come in a fixed order (gaps with their fixes,
//! undecidable entries, TLS violations grouped by the line that causes
//! them with one fix per group, security findings, over-broad lines, the
//! other lines, the entries covered more broadly as a count unless
//! `--all` or `-v`); Markdown carries the same order and the same fixes
//! as the JSON it is checked against. Expectations are computed from the
//! JSON report of the same run, never written out by hand.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::egressgen;
use egressgen::model::text::{md_code, md_text};
use serde_json::Value;

/// A hand-written Squid configuration with a bit of everything: gaps
/// (nothing admits the windows.net hosts), undecidable entries (an
/// external helper guards storage), two lines that decrypt
/// must-not-inspect hosts (`bump early` for two of them, `bump all` for
/// the rest), an open proxy (`allow gw` names no clients) and entries
/// covered more broadly (`.microsoft.com`).
const CONF: &str = "\
http_port 8080 ssl-bump tls-cert=/etc/squid/x.pem
acl localnet src 10.0.0.0/8
acl SSL_ports port 443
acl Safe_ports port 80 443
acl CONNECT method CONNECT
acl gw dstdomain .microsoft.com
acl storage dstdomain .blob.core.windows.net
external_acl_type checker %DST /usr/bin/true
acl vetted external checker
acl early ssl::server_name go.microsoft.com winatp-gw-neu.microsoft.com
ssl_bump bump early
ssl_bump bump all
http_access deny !Safe_ports
http_access deny CONNECT !SSL_ports
http_access allow localnet storage vetted
http_access allow gw
http_access deny all
";

fn ruleset() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("rulesets/commercial-eu.toml")
}

struct Run {
    code: i32,
    out: String,
}

/// `egressgen audit` of `conf` (run from its directory, so files are
/// named as the auditor wrote them) with more arguments.
fn audit(conf: &Path, more: &[&str]) -> Run {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_egressgen"))
        .current_dir(conf.parent().unwrap())
        .args(["audit", "--ruleset", ruleset().to_str().unwrap()])
        .arg(conf.file_name().unwrap())
        .args(more)
        .output()
        .unwrap();
    assert!(
        out.stderr.is_empty() || out.status.code() != Some(4),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Run {
        code: out.status.code().unwrap(),
        out: String::from_utf8(out.stdout).unwrap(),
    }
}

fn fixture(dir: &Path) -> PathBuf {
    let conf = dir.join("squid.conf");
    std::fs::write(&conf, CONF).unwrap();
    conf
}

fn json(conf: &Path, more: &[&str]) -> (i32, Value) {
    let mut args = vec!["--format", "json"];
    args.extend(more);
    let r = audit(conf, &args);
    (r.code, serde_json::from_str(&r.out).unwrap())
}

fn assert_schema(report: &Value) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/audit.schema.json");
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let v = jsonschema::validator_for(&schema).expect("schema compiles");
    let errors: Vec<String> = v.iter_errors(report).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:#?}");
}

fn config(report: &Value) -> &Value {
    &report["configs"][0]
}

fn list<'a>(v: &'a Value, key: &str) -> &'a Vec<Value> {
    v[key].as_array().unwrap()
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

/// The entries of a coverage group, in the report's order: by coverage
/// in the order given, policy order within each.
fn entries<'a>(report: &'a Value, coverages: &[&str]) -> Vec<&'a Value> {
    coverages
        .iter()
        .flat_map(|c| {
            list(config(report), "entries")
                .iter()
                .filter(move |e| e["coverage"] == *c)
        })
        .collect()
}

const GAPS: [&str; 3] = ["missing", "partly", "routed-wrong"];

fn host(e: &Value) -> String {
    format!("{}{}", s(&e["host"]), s(&e["path"]))
}

/// The TLS findings by the line that causes them, each group's findings
/// in report order.
fn tls_by_line(report: &Value) -> BTreeMap<String, Vec<&Value>> {
    let mut out: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for t in list(config(report), "tls") {
        let by = format!("{}:{}", s(&t["by"]["file"]), t["by"]["line"]);
        out.entry(by).or_default().push(t);
    }
    out
}

/// The text report's sections: heading (`gaps`), its count and its lines.
fn text_sections(text: &str) -> Vec<(String, usize, Vec<String>)> {
    let mut out: Vec<(String, usize, Vec<String>)> = Vec::new();
    for line in text.lines() {
        let heading = line
            .strip_prefix("  ")
            .filter(|l| !l.starts_with(' '))
            .and_then(|l| l.strip_suffix("):"))
            .and_then(|l| l.rsplit_once(" ("))
            .and_then(|(name, n)| Some((name.to_string(), n.parse().ok()?)));
        match heading {
            Some((name, n)) => out.push((name, n, Vec::new())),
            None if line.starts_with("    ") => {
                if let Some(last) = out.last_mut() {
                    last.2.push(line.to_string());
                }
            }
            None => {}
        }
    }
    out
}

fn section<'a>(text: &'a [(String, usize, Vec<String>)], name: &str) -> &'a [String] {
    &text
        .iter()
        .find(|(n, _, _)| n == name)
        .unwrap_or_else(|| panic!("no section {name}: {text:#?}"))
        .2
}

/// `FAIL (exit 20): 5 gaps, ...` -> (pass, exit, {"gaps": 5, ...}).
fn parse_verdict(line: &str) -> (bool, i32, BTreeMap<String, usize>) {
    let (word, rest) = line.split_once(" (exit ").expect(line);
    let (code, counts) = rest.split_once("): ").expect(line);
    let counts = counts
        .split(", ")
        .map(|c| {
            let (n, what) = c.split_once(' ').expect(c);
            (what.trim_end_matches('s').to_string(), n.parse().expect(c))
        })
        .collect();
    assert!(word == "PASS" || word == "FAIL", "{line}");
    (word == "PASS", code.parse().expect(line), counts)
}

fn summed(report: &Value, keys: &[&str]) -> usize {
    list(report, "configs")
        .iter()
        .flat_map(|c| keys.iter().map(move |k| c["summary"][*k].as_u64().unwrap()))
        .sum::<u64>() as usize
}

#[test]
fn the_first_line_is_the_verdict_the_exit_status_gives() {
    let tmp = tempfile::tempdir().unwrap();
    let conf = fixture(tmp.path());
    let mut codes = BTreeMap::new();
    for fail_on in [
        None,
        Some("gaps"),
        Some("security"),
        Some("broad"),
        Some("undecidable"),
    ] {
        let more: Vec<&str> = fail_on.iter().flat_map(|f| ["--fail-on", f]).collect();
        let run = audit(&conf, &more);
        let first = run.out.lines().next().unwrap();
        let (pass, exit, counts) = parse_verdict(first);
        assert_eq!(exit, run.code, "{first}");
        assert_eq!(pass, run.code == 0, "{first}");
        let (code, report) = json(&conf, &more);
        assert_eq!(code, run.code);
        assert_schema(&report);
        let v = &report["verdict"];
        assert_eq!(v["exit"], run.code, "{v}");
        assert_eq!(v["pass"], run.code == 0, "{v}");
        let expected = [
            (
                "gap",
                summed(&report, &["partly", "missing", "routed_wrong"]),
            ),
            ("TLS violation", summed(&report, &["tls_violations"])),
            ("security finding", summed(&report, &["security_findings"])),
        ];
        for (what, n) in expected {
            assert_eq!(counts.get(what), Some(&n), "{what}: {first}");
            assert!(n > 0, "the fixture has every kind: {what}");
        }
        codes.insert(fail_on.unwrap_or("default"), run.code);
    }
    // Each gate gives its own status, TLS before the rest by default.
    assert_eq!(
        codes,
        BTreeMap::from([
            ("default", 21),
            ("gaps", 20),
            ("security", 24),
            ("broad", 22),
            ("undecidable", 23)
        ])
    );

    // A configuration generated from the ruleset passes, and says so.
    let out = tmp.path().join("out");
    let in_place = common::installed_in_place(&ruleset(), tmp.path(), &out);
    let made = egressgen(&[
        "generate",
        in_place.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--only",
        "squid",
    ]);
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let clean = audit(&out.join("squid.conf"), &[]);
    assert_eq!(clean.code, 0, "{}", clean.out);
    let (pass, exit, _) = parse_verdict(clean.out.lines().next().unwrap());
    assert!(pass && exit == 0, "{}", clean.out);
}

#[test]
fn sections_come_in_the_order_an_auditor_acts_on_them() {
    let tmp = tempfile::tempdir().unwrap();
    let conf = fixture(tmp.path());
    let (_, report) = json(&conf, &[]);
    let text = audit(&conf, &[]).out;
    let sections = text_sections(&text);
    let names: Vec<&str> = sections.iter().map(|(n, _, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "gaps",
            "undecidable entries",
            "TLS violations",
            "security findings",
            "over-broad lines",
            "other line findings"
        ],
        "{text}"
    );
    // Each heading counts what the JSON holds.
    let c = config(&report);
    let over_broad = list(c, "lines")
        .iter()
        .filter(|l| l["issue"] == "over-broad")
        .count();
    let counts: Vec<usize> = sections.iter().map(|(_, n, _)| *n).collect();
    assert_eq!(
        counts,
        [
            entries(&report, &GAPS).len(),
            entries(&report, &["undecidable"]).len(),
            list(c, "tls").len(),
            list(c, "security").len(),
            over_broad,
            list(c, "lines").len() - over_broad,
        ]
    );
    // The gaps: missing first, each with the fix the JSON gives.
    let shown: Vec<(String, Option<String>)> = items(section(&sections, "gaps"));
    let wanted: Vec<(String, Option<String>)> = entries(&report, &GAPS)
        .iter()
        .map(|e| (host(e), e["fix"].as_str().map(String::from)))
        .collect();
    assert_eq!(shown, wanted);
    assert!(wanted.iter().all(|(_, fix)| fix.is_some()), "{wanted:?}");
    // Security findings with their fixes.
    let security = section(&sections, "security findings");
    for f in list(c, "security") {
        let at = format!("{}:{}", s(&f["at"]["file"]), f["at"]["line"]);
        let i = security
            .iter()
            .position(|l| l.trim_start().contains(&format!(" at {at}: ")))
            .unwrap_or_else(|| panic!("{at}: {security:#?}"));
        assert_eq!(security[i + 1].trim(), format!("fix: {}", s(&f["fix"])));
    }
    // The covered-more-broadly count closes the configuration.
    let last = text.lines().last().unwrap();
    assert!(last.contains("entries covered more broadly"), "{text}");
}

/// The entries of a text section: `missing: HOST ports P` and the
/// `fix:` line under it.
fn items(lines: &[String]) -> Vec<(String, Option<String>)> {
    let mut out: Vec<(String, Option<String>)> = Vec::new();
    for l in lines {
        if let Some(fix) = l.trim_start().strip_prefix("fix: ") {
            out.last_mut().unwrap().1 = Some(fix.to_string());
        } else if !l.starts_with("        ") {
            let (_, rest) = l.trim().split_once(": ").unwrap();
            let (host, _) = rest.rsplit_once(" ports ").unwrap();
            out.push((host.to_string(), None));
        }
    }
    out
}

/// The fixes a group's fix line stands for: one fix, or a template
/// with `<host>` and the hosts it stands for.
fn expand(fix: &str, each: Option<&str>) -> Vec<String> {
    match each {
        None => vec![fix.to_string()],
        Some(hosts) => hosts.split(' ').map(|h| fix.replace("<host>", h)).collect(),
    }
}

#[test]
fn tls_violations_are_grouped_by_the_line_that_causes_them() {
    let tmp = tempfile::tempdir().unwrap();
    let conf = fixture(tmp.path());
    let (_, report) = json(&conf, &[]);
    let groups = tls_by_line(&report);
    assert!(groups.len() >= 2, "two lines decrypt: {groups:?}");
    assert!(groups.values().any(|g| g.len() > 2));
    let text = audit(&conf, &[]).out;
    let sections = text_sections(&text);
    let tls = section(&sections, "TLS violations");
    let heads: Vec<usize> = (0..tls.len())
        .filter(|i| tls[*i].starts_with("    inspected by "))
        .collect();
    assert_eq!(heads.len(), groups.len(), "one heading per line: {tls:#?}");
    for (k, &at) in heads.iter().enumerate() {
        let end = heads.get(k + 1).copied().unwrap_or(tls.len());
        let body = &tls[at + 1..end];
        let head = tls[at].trim();
        let by = head
            .strip_prefix("inspected by ")
            .and_then(|r| r.split_once(", "))
            .unwrap()
            .0;
        let group = &groups[by];
        assert!(head.contains(&format!(", {} hosts", group.len())), "{head}");
        // The fix once, standing for each finding's own fix.
        let fixes: Vec<&String> = body
            .iter()
            .filter(|l| l.trim().starts_with("fix: "))
            .collect();
        assert_eq!(fixes.len(), 1, "{body:#?}");
        let each = body
            .iter()
            .find_map(|l| l.trim().strip_prefix("for each <host> of: "));
        let mut said = expand(fixes[0].trim().strip_prefix("fix: ").unwrap(), each);
        let mut wanted: Vec<String> = group.iter().map(|t| s(&t["fix"]).to_string()).collect();
        said.sort();
        wanted.sort();
        wanted.dedup();
        assert_eq!(said, wanted, "{by}");
        // And every finding of the group, under it, once.
        let subjects: Vec<&str> = body
            .iter()
            .filter_map(|l| l.trim().strip_prefix("TLS inspected: "))
            .map(|l| l.split_once(" (").unwrap().0)
            .collect();
        let expected: Vec<&str> = group.iter().map(|t| s(&t["subject"])).collect();
        assert_eq!(subjects, expected);
    }
}

#[test]
fn entries_covered_more_broadly_are_counted_unless_asked_for() {
    let tmp = tempfile::tempdir().unwrap();
    let conf = fixture(tmp.path());
    let (_, report) = json(&conf, &[]);
    let broader: Vec<String> = entries(&report, &["broader"])
        .iter()
        .map(|e| host(e))
        .collect();
    assert!(broader.len() > 10);
    let count_line = format!(
        "  {} entries covered more broadly (a wider line admits them; --all lists them)",
        broader.len()
    );
    let listed = |text: &str| -> Vec<String> {
        text.lines()
            .filter_map(|l| l.trim().strip_prefix("covered more broadly: "))
            .map(|l| l.split_once(" ports ").unwrap().0.to_string())
            .collect()
    };
    let plain = audit(&conf, &[]).out;
    assert!(plain.lines().any(|l| l == count_line), "{plain}");
    assert!(listed(&plain).is_empty(), "{plain}");
    for asked in [&["--all"][..], &["-v"]] {
        let text = audit(&conf, asked).out;
        assert!(!text.contains(&count_line), "{asked:?}");
        assert_eq!(listed(&text), broader, "{asked:?}");
        let sections = text_sections(&text);
        assert_eq!(sections.last().unwrap().0, "covered more broadly");
        assert_eq!(sections.last().unwrap().1, broader.len());
    }
    // Markdown alike.
    let md = audit(&conf, &["--format", "markdown"]).out;
    assert!(md.contains(count_line.trim()), "{md}");
    assert!(!md.contains("### Covered more broadly"));
    let md_all = audit(&conf, &["--format", "markdown", "--all"]).out;
    assert!(!md_all.contains(count_line.trim()));
    let rows = md_table(&md_all, "Covered more broadly");
    let hosts: Vec<String> = rows.iter().map(|r| r[0].clone()).collect();
    let wanted: Vec<String> = broader.iter().map(|h| md_code(h)).collect();
    assert_eq!(
        hosts,
        wanted.iter().map(|h| format!("`{h}`")).collect::<Vec<_>>()
    );
    // The HTML page is the whole record: they are its table's last rows.
    let html = audit(&conf, &["--format", "html"]).out;
    let rows = html_rows(&html);
    let first = rows
        .iter()
        .position(|r| r[0] == "covered more broadly")
        .unwrap_or_else(|| panic!("no broader row: {rows:?}"));
    let tail: Vec<&Vec<String>> = rows[first..].iter().collect();
    assert!(
        tail.iter().all(|r| r[0] == "covered more broadly"),
        "{tail:?}"
    );
    assert_eq!(
        tail.iter().map(|r| r[2].clone()).collect::<Vec<_>>(),
        broader
    );
}

/// The cells of the HTML findings table, tags stripped, in page order.
fn html_rows(html: &str) -> Vec<Vec<String>> {
    let body = html.split("<tbody>").nth(1).unwrap();
    let body = body.split("</tbody>").next().unwrap();
    body.split("<tr>")
        .skip(1)
        .map(|row| {
            row.split("<td")
                .skip(1)
                .map(|cell| {
                    let text = cell.split_once('>').unwrap().1;
                    text.split("</td>").next().unwrap().replace("&amp;", "&")
                })
                .collect()
        })
        .collect()
}

/// The Markdown sections of the (only) configuration: `### Gaps (7)`.
fn md_headings(md: &str) -> Vec<String> {
    md.lines()
        .filter_map(|l| l.strip_prefix("### "))
        .map(|l| l.rsplit_once(" (").unwrap().0.to_string())
        .collect()
}

/// The rows of the tables under `### NAME (n)`, cells trimmed, up to the
/// next heading.
fn md_table(md: &str, name: &str) -> Vec<Vec<String>> {
    let start = md
        .find(&format!("### {name} ("))
        .unwrap_or_else(|| panic!("no {name}: {md}"));
    let body = &md[start..];
    let body = &body[..body[4..]
        .find("\n### ")
        .map(|i| i + 4)
        .unwrap_or(body.len())];
    body.lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("|---"))
        .map(|l| {
            // A cell ends at a `|` that is not escaped.
            let mut cells = vec![String::new()];
            let mut escaped = false;
            for ch in l.trim().trim_matches('|').chars() {
                match ch {
                    '|' if !escaped => cells.push(String::new()),
                    c => cells.last_mut().unwrap().push(c),
                }
                escaped = ch == '\\' && !escaped;
            }
            cells.iter().map(|c| c.trim().to_string()).collect()
        })
        .filter(|r: &Vec<String>| !header(r))
        .collect()
}

fn header(row: &[String]) -> bool {
    ["entry", "TLS finding", "security finding", "line"].contains(&row[0].as_str())
}

#[test]
fn markdown_and_json_give_the_same_order_and_fixes() {
    let tmp = tempfile::tempdir().unwrap();
    let conf = fixture(tmp.path());
    let (code, report) = json(&conf, &[]);
    let md = audit(&conf, &["--format", "markdown"]);
    assert_eq!(md.code, code);
    let text = audit(&conf, &[]).out;
    // The verdict first, under the title, as the text says it.
    let verdict = md.out.lines().nth(2).unwrap();
    assert_eq!(
        verdict.trim_matches('*').replace('\\', ""),
        text.lines().next().unwrap()
    );
    // The same sections in the same order as the text.
    let text_names: Vec<String> = text_sections(&text)
        .iter()
        .map(|(n, _, _)| {
            let mut n = n.clone();
            n.replace_range(..1, &n[..1].to_uppercase());
            n
        })
        .collect();
    assert_eq!(md_headings(&md.out), text_names);
    // Gaps: the JSON's, in the report's order, each with its fix.
    let rows = md_table(&md.out, "Gaps");
    let shown: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r[0].as_str(), r[4].as_str()))
        .collect();
    let wanted: Vec<(String, String)> = entries(&report, &GAPS)
        .iter()
        .map(|e| (format!("`{}`", md_code(&host(e))), md_text(s(&e["fix"]))))
        .collect();
    let wanted: Vec<(&str, &str)> = wanted
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    assert_eq!(shown, wanted);
    // TLS: a paragraph per causing line with its fix, then its findings.
    let groups = tls_by_line(&report);
    let paragraphs: Vec<&str> = md
        .out
        .lines()
        .filter(|l| l.starts_with("inspected by "))
        .collect();
    assert_eq!(paragraphs.len(), groups.len());
    for (p, (by, group)) in paragraphs.iter().zip(&groups) {
        assert!(
            p.starts_with(&format!("inspected by {}, ", md_text(by))),
            "{p}"
        );
        let (_, fix) = p.split_once(" Fix: ").expect(p);
        let (fix, each) = match fix.split_once(", for each \\<host\\> of: ") {
            Some((f, hosts)) => (f.replace("\\<host\\>", "<host>"), Some(hosts)),
            None => (fix.to_string(), None),
        };
        let mut said = expand(&fix, each);
        let mut wanted: Vec<String> = group.iter().map(|t| md_text(s(&t["fix"]))).collect();
        said.sort();
        wanted.sort();
        wanted.dedup();
        assert_eq!(said, wanted, "{by}");
    }
    let subjects: Vec<String> = md_table(&md.out, "TLS violations")
        .iter()
        .map(|r| r[1].clone())
        .collect();
    let wanted: Vec<String> = groups
        .values()
        .flatten()
        .map(|t| format!("`{}`", md_code(s(&t["subject"]))))
        .collect();
    assert_eq!(subjects, wanted);
    // Security findings and lines, in the JSON's order, with the fixes.
    let c = config(&report);
    let security: Vec<(String, String)> = md_table(&md.out, "Security findings")
        .iter()
        .map(|r| (r[1].clone(), r[3].clone()))
        .collect();
    let wanted: Vec<(String, String)> = list(c, "security")
        .iter()
        .map(|f| {
            let at = format!("{}:{}", s(&f["at"]["file"]), f["at"]["line"]);
            (md_text(&at), md_text(s(&f["fix"])))
        })
        .collect();
    assert_eq!(security, wanted);
    let lines: Vec<String> = ["Over-broad lines", "Other line findings"]
        .iter()
        .flat_map(|name| md_table(&md.out, name))
        .map(|r| r[0].clone())
        .collect();
    let wanted: Vec<String> = list(c, "lines")
        .iter()
        .map(|l| md_text(&format!("{}:{}", s(&l["at"]["file"]), l["at"]["line"])))
        .collect();
    assert_eq!(lines, wanted);
}
