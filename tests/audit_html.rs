//! The audit's HTML report in a real browser: headless Chromium opens it
//! with no console message and no network request (a proxy that records
//! every connection stands in for the network), the rendered DOM holds a
//! chart bar per product and coverage with the report's own counts, the
//! table sorts, and a screenshot shows the chart's colours. Each check is
//! first shown to catch a copy of the report broken on purpose.

mod common;

use std::collections::BTreeMap;
use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::egressgen;
use common::tools::require;
use egressgen::audit::html::escape;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A listener that records the first line of every request sent to it:
/// Chromium's proxy for the run.
fn trap() -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let mut conn = conn;
            let _ = conn.set_read_timeout(Some(Duration::from_millis(500)));
            let mut buf = [0u8; 1024];
            let n = conn.read(&mut buf).unwrap_or(0);
            let line = String::from_utf8_lossy(&buf[..n])
                .lines()
                .next()
                .unwrap_or("")
                .to_string();
            log.lock().unwrap().push(line);
        }
    });
    (port, seen)
}

/// Chromium's own background traffic (component updates, its clock,
/// accounts), which no flag fully silences; the report names no such
/// host, so a request elsewhere is the page's.
fn browser_own(request: &str) -> bool {
    let target = request.split_whitespace().nth(1).unwrap_or("");
    let host = target
        .trim_start_matches("http://")
        .trim_start_matches("https://")
        .split(['/', ':'])
        .next()
        .unwrap_or("");
    ["google.com", "googleapis.com", "gvt1.com", "gstatic.com"]
        .iter()
        .any(|d| host == *d || host.ends_with(&format!(".{d}")))
}

struct Run {
    dom: String,
    console: Vec<String>,
    /// Requests the page made (the browser's own left out).
    requests: Vec<String>,
}

/// Opens `url` in headless Chromium: the DOM after scripts ran, the
/// console messages, and the connections the trap proxy saw.
fn open(url: &str, profile: &Path, screenshot: Option<&Path>) -> Run {
    let (port, seen) = trap();
    let mut cmd = Command::new(require("chromium", "chromium"));
    cmd.args([
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .args(["--enable-logging=stderr", "--v=0"])
    // Every request, loopback included, goes to the trap.
    .arg(format!("--proxy-server=http://127.0.0.1:{port}"))
    .arg("--proxy-bypass-list=<-loopback>")
    .args([
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-pings",
        "--disable-domain-reliability",
    ])
    .arg("--window-size=1280,1600");
    match screenshot {
        Some(p) => cmd.arg(format!("--screenshot={}", p.display())),
        None => cmd.arg("--dump-dom"),
    };
    let out = cmd.arg(url).output().expect("run chromium");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::thread::sleep(Duration::from_millis(300));
    let stderr = String::from_utf8_lossy(&out.stderr);
    Run {
        dom: String::from_utf8_lossy(&out.stdout).into_owned(),
        console: stderr
            .lines()
            .filter(|l| l.contains(":CONSOLE"))
            .map(String::from)
            .collect(),
        requests: seen
            .lock()
            .unwrap()
            .iter()
            .filter(|r| !browser_own(r))
            .cloned()
            .collect(),
    }
}

/// The values of `name="..."` attributes of the chart's bars.
fn bars(dom: &str) -> BTreeMap<(String, String), usize> {
    let attr = |tag: &str, name: &str| {
        tag.split_once(&format!("{name}=\""))
            .and_then(|(_, r)| r.split_once('"'))
            .map(|(v, _)| v.to_string())
            .unwrap_or_default()
    };
    dom.split("<rect class=\"bar\"")
        .skip(1)
        .map(|t| {
            let tag = t.split('>').next().unwrap_or("");
            (
                (attr(tag, "data-product"), attr(tag, "data-coverage")),
                attr(tag, "data-count").parse().unwrap_or(0),
            )
        })
        .collect()
}

#[test]
fn the_html_report_renders_in_chromium_with_no_error_and_no_request() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let ruleset = common::installed_in_place(
        &root().join("rulesets/commercial-eu.toml"),
        tmp.path(),
        &out,
    );
    let made = egressgen(&[
        "generate",
        ruleset.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let configs = [
        out.join("squid.conf"),
        root().join("fixtures/audit/pac/wrong-routes.pac"),
        out.join("azure-firewall.json"),
    ];
    let mut args = vec!["audit", "--ruleset", ruleset.to_str().unwrap()];
    args.extend(configs.iter().map(|c| c.to_str().unwrap()));
    let run = |format: &str| {
        let mut a = args.clone();
        a.extend(["--format", format]);
        egressgen(&a)
    };
    let html = run("html");
    assert_eq!(html.status.code(), Some(20), "the wrong PAC is a gap");
    let page = tmp.path().join("audit.html");
    std::fs::write(&page, &html.stdout).unwrap();
    let json: serde_json::Value = serde_json::from_slice(&run("json").stdout).unwrap();

    // The checks catch a page broken on purpose first.
    let text = String::from_utf8(html.stdout.clone()).unwrap();
    let broken = tmp.path().join("broken.html");
    std::fs::write(
        &broken,
        text.replace(
            "http-equiv=\"Content-Security-Policy\"",
            "name=\"no-policy\"",
        )
        .replace(
            "</body>",
            "<script>noSuchFunction();</script><img src=\"http://203.0.113.9/x.png\"></body>",
        ),
    )
    .unwrap();
    let b = open(
        &format!("file://{}", broken.display()),
        &tmp.path().join("p0"),
        None,
    );
    assert!(
        b.console.iter().any(|l| l.contains("noSuchFunction")),
        "{:?}",
        b.console
    );
    assert!(
        b.requests.iter().any(|r| r.contains("203.0.113.9")),
        "the trap sees a request the page makes: {:?}",
        b.requests
    );

    let url = format!("file://{}#sort=subject", page.display());
    let r = open(&url, &tmp.path().join("p1"), None);
    assert!(r.console.is_empty(), "console: {:#?}", r.console);
    assert!(
        r.requests.is_empty(),
        "the report made requests: {:?}",
        r.requests
    );
    // The chart: one bar per product and coverage, with the report's counts.
    let mut expected: BTreeMap<(String, String), usize> = BTreeMap::new();
    for c in json["configs"].as_array().unwrap() {
        for e in c["entries"].as_array().unwrap() {
            let coverage = match e["coverage"].as_str().unwrap() {
                "exact" => "covered",
                "broader" => "covered more broadly",
                "partly" => "partly covered",
                "routed-wrong" => "routed wrong",
                "not-expressible" => "not expressible in this format",
                "direct-route" => "direct route",
                other => other,
            };
            let mut products: Vec<String> = e["products"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p.as_str().unwrap().to_string())
                .collect();
            if products.is_empty() {
                products.push(egressgen::audit::html::OWN.to_string());
            }
            for p in products {
                *expected.entry((p, coverage.to_string())).or_default() += 1;
            }
        }
    }
    // Bars are per configuration: sum them.
    let mut shown: BTreeMap<(String, String), usize> = BTreeMap::new();
    for section in r.dom.split("<section class=\"config\"").skip(1) {
        for (k, n) in bars(section) {
            *shown.entry(k).or_default() += n;
        }
    }
    assert_eq!(shown, expected);
    assert!(shown.keys().any(|(_, c)| c == "routed wrong"));
    // The table, sorted by the script on load.
    assert!(r.dom.contains("data-sorted=\"subject\""), "the script ran");
    let body = r
        .dom
        .split("<tbody>")
        .nth(1)
        .unwrap()
        .split("</tbody>")
        .next()
        .unwrap();
    let subjects: Vec<&str> = body
        .split("<tr>")
        .skip(1)
        .map(|row| {
            row.split("<td>")
                .nth(2)
                .unwrap_or("")
                .split("</td>")
                .next()
                .unwrap_or("")
        })
        .collect();
    assert!(subjects.len() > 20);
    let mut sorted = subjects.clone();
    sorted.sort();
    assert_eq!(subjects, sorted);

    // A screenshot shows the chart: pixels of the bars' colours.
    let shot = tmp.path().join("shot.png");
    let s = open(
        &format!("file://{}", page.display()),
        &tmp.path().join("p2"),
        Some(&shot),
    );
    assert!(s.requests.is_empty(), "{:?}", s.requests);
    let counts = Command::new(require("python3", "python3"))
        .arg(root().join("tests/png_colours.py"))
        .arg(&shot)
        .args(["2e7d32", "ad1457", "9e9d24"])
        .output()
        .unwrap();
    let counts: BTreeMap<String, usize> = serde_json::from_slice(&counts.stdout).unwrap();
    for (colour, n) in &counts {
        assert!(*n > 500, "{colour}: {n} pixels: {counts:?}");
    }
}

/// A hand-written Squid configuration with gaps, TLS violations, a
/// security finding and over-broad lines, so every part of the page has
/// rows.
const CONF: &str = "\
http_port 8080 ssl-bump tls-cert=/etc/squid/x.pem
acl localnet src 10.0.0.0/8
acl SSL_ports port 443
acl Safe_ports port 80 443
acl CONNECT method CONNECT
acl gw dstdomain .microsoft.com
ssl_bump bump all
http_access deny !Safe_ports
http_access deny CONNECT !SSL_ports
http_access allow gw
http_access deny all
";

/// Today's date in UTC, as the page writes it.
fn today() -> String {
    let t = time::OffsetDateTime::now_utc();
    format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day())
}

/// The text between `start` and the next `end` after it.
fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let rest = &text[text.find(start)? + start.len()..];
    Some(&rest[..rest.find(end)?])
}

/// A chart segment: its count, where it starts and ends, and the number
/// written on it with where.
struct Segment {
    count: usize,
    from: f64,
    to: f64,
    label: Option<(usize, f64)>,
}

/// Each chart segment of a page.
fn bar_labels(html: &str) -> Vec<Segment> {
    let attr = |tag: &str, name: &str| -> f64 {
        between(tag, &format!(" {name}=\""), "\"")
            .and_then(|v| v.parse().ok())
            .unwrap_or(f64::NAN)
    };
    html.split("<rect class=\"bar\"")
        .skip(1)
        .map(|chunk| {
            let tag = chunk.split('>').next().unwrap();
            let label = chunk
                .split("</rect>")
                .nth(1)
                .and_then(|after| after.trim_start().strip_prefix("<text class=\"count\""))
                .and_then(|t| {
                    let (tag, rest) = t.split_once('>')?;
                    Some((rest.split('<').next()?.parse().ok()?, attr(tag, "x")))
                });
            let from = attr(tag, "x");
            Segment {
                count: attr(tag, "data-count") as usize,
                from,
                to: from + attr(tag, "width"),
                label,
            }
        })
        .collect()
}

/// The page's width at 1280 px as the browser lays it out: what the
/// document scrolls to, the window's inner width and the right edge of
/// the findings table, written into the DOM by a script added to a copy
/// (inline, which the page's own policy allows, as for its own script).
fn layout(page: &str, dir: &Path, name: &str) -> (f64, f64, f64) {
    let probe = "<script>document.documentElement.setAttribute('data-fit', [document.documentElement.scrollWidth, window.innerWidth, document.getElementById('findings').getBoundingClientRect().right].join(' '));</script></body>";
    let copy = dir.join(format!("{name}.html"));
    std::fs::write(&copy, page.replace("</body>", probe)).unwrap();
    let r = open(
        &format!("file://{}", copy.display()),
        &dir.join(format!("profile-{name}")),
        None,
    );
    assert!(r.console.is_empty(), "console: {:#?}", r.console);
    assert!(r.requests.is_empty(), "requests: {:?}", r.requests);
    let fit = between(&r.dom, "data-fit=\"", "\"").expect("the probe ran");
    let n: Vec<f64> = fit.split(' ').map(|v| v.parse().unwrap()).collect();
    (n[0], n[1], n[2])
}

#[test]
fn the_html_report_says_how_the_run_ended_and_fits_a_1280_px_window() {
    let tmp = tempfile::tempdir().unwrap();
    // One long word for a name: the page must wrap it, not widen.
    let name = format!("{}.conf", "squidconfigurationofthemainoffice".repeat(6));
    let conf = tmp.path().join(&name);
    std::fs::write(&conf, CONF).unwrap();
    let ruleset = root().join("rulesets/commercial-eu.toml");
    let run = |format: &str| {
        egressgen(&[
            "audit",
            "--ruleset",
            ruleset.to_str().unwrap(),
            conf.to_str().unwrap(),
            "--format",
            format,
        ])
    };
    let before = today();
    let html = run("html");
    let after = today();
    let text = run("text");
    assert_eq!(html.status.code(), text.status.code());
    let page = String::from_utf8(html.stdout).unwrap();
    let verdict = String::from_utf8(text.stdout).unwrap();
    let verdict = verdict.lines().next().unwrap();

    // The verdict the exit status gives, as the text report's first line.
    let banner = between(&page, "<p id=\"verdict\" class=\"verdict ", "</p>").unwrap();
    let code = html.status.code().unwrap();
    let state = if code == 0 { "pass" } else { "fail" };
    assert_eq!(banner, format!("{state}\">{}", escape(verdict)));
    assert!(verdict.contains(&format!("(exit {code})")), "{verdict}");
    // What it was made with, and when.
    assert_eq!(
        between(&page, "<span id=\"tool-version\">", "<"),
        Some(env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(
        between(&page, "<code id=\"ruleset\">", "<"),
        Some("commercial-eu")
    );
    let at = between(&page, "<time id=\"run-at\">", "<").unwrap();
    assert!(
        (at.starts_with(&before) || at.starts_with(&after)) && at.ends_with(" UTC"),
        "{at}"
    );
    // Every source as the generated files' headers name it.
    let rs = egressgen::ruleset::Ruleset::load(&ruleset).unwrap();
    let policy = egressgen::generate::policy_for(&rs).unwrap();
    let sources: Vec<String> = egressgen::backends::header_lines(&policy, "audit")
        .into_iter()
        .filter(|l| l.starts_with("source: "))
        .collect();
    assert!(sources.len() > 3 && sources.iter().any(|s| s.contains(" version ")));
    let listed = between(&page, "<ul class=\"run\" id=\"sources\">", "</ul>").unwrap();
    let items: Vec<&str> = listed
        .split("<li>")
        .skip(1)
        .map(|l| l.split("</li>").next().unwrap())
        .collect();
    let wanted: Vec<String> = sources.iter().map(|s| escape(s)).collect();
    assert_eq!(items, wanted);
    // A number on every chart segment, inside it: the segment's count.
    let bars = bar_labels(&page);
    assert!(bars.len() >= 3, "{}", bars.len());
    for b in &bars {
        let (n, x) = b
            .label
            .unwrap_or_else(|| panic!("no number on a bar of {}", b.count));
        assert_eq!(n, b.count);
        assert!(b.from < x && x < b.to, "{} < {x} < {}", b.from, b.to);
    }

    // At 1280 px nothing is wider than the window: the long names wrap.
    let (scroll, inner, table) = layout(&page, tmp.path(), "page");
    assert!((1200.0..=1280.0).contains(&inner), "window {inner}");
    assert!(
        scroll <= inner,
        "the page scrolls sideways: {scroll} > {inner}"
    );
    assert!(table <= inner, "the table ends at {table} > {inner}");
    // The measurement catches a page that does not wrap.
    let unwrapped = page
        .replace("overflow-wrap:anywhere", "overflow-wrap:normal")
        .replace("table-layout:fixed", "table-layout:auto");
    assert_ne!(unwrapped, page);
    let (scroll, inner, _) = layout(&unwrapped, tmp.path(), "unwrapped");
    assert!(scroll > inner, "{scroll} <= {inner}");
}
