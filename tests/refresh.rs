//! `egressgen refresh` end to end against a scripted server on 127.0.0.1:
//! a healthy change publishes with a change report; every fault, alone
//! and two at once, leaves the published outputs and the cache's good
//! copies as they were, with the documented exit code; a second run
//! against an unchanged server transfers no body.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use common::http::{Reply, Server};
use common::{egressgen, fixture};

const PAGE: &str = "/docs/defender-endpoint/standard-device-connectivity-urls-commercial.md";

fn page(name: &str) -> Vec<u8> {
    std::fs::read(fixture(&format!("refresh/{name}"))).unwrap()
}

fn tags() -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(fixture("servicetags-small.json")).unwrap()).unwrap()
}

fn bytes(v: &serde_json::Value) -> Vec<u8> {
    serde_json::to_vec_pretty(v).unwrap()
}

struct Site {
    _tmp: tempfile::TempDir,
    server: Server,
    ruleset: PathBuf,
    out: PathBuf,
    cache: PathBuf,
}

impl Site {
    fn new(extra: &str) -> Site {
        let tmp = tempfile::tempdir().unwrap();
        let ruleset = tmp.path().join("site.toml");
        std::fs::write(
            &ruleset,
            format!(
                "name = \"site\"\n[sources]\nfiles = [\"live:learn-standard-commercial\", \"live:service-tags-public\"]\n[scope]\ncloud = \"commercial\"\n[site]\nservice_tags = [\"MicrosoftDefenderForEndpoint\", \"AzureAdvancedThreatProtection\"]\n{extra}[outputs.plain]\nprefixes_file = \"prefixes.txt\"\n"
            ),
        )
        .unwrap();
        Site {
            out: tmp.path().join("out"),
            cache: tmp.path().join("cache"),
            ruleset,
            server: Server::start(),
            _tmp: tmp,
        }
    }

    fn serve(&self, learn: Reply, tags: Reply) {
        self.server.route(PAGE, vec![learn]);
        self.server.route(&common::tags_path(), vec![tags]);
    }

    fn refresh(&self, extra: &[&str]) -> Output {
        let mut args = vec![
            "refresh".to_string(),
            self.ruleset.display().to_string(),
            "--out".into(),
            self.out.display().to_string(),
            "--cache".into(),
            self.cache.display().to_string(),
            "--no-proxy".into(),
            "--docs-base".into(),
            self.server.url("/docs"),
            "--download-base".into(),
            self.server.base.clone(),
            "--download-pages-base".into(),
            self.server.url("/pages"),
            "--timeout".into(),
            "1".into(),
            "--retries".into(),
            "0".into(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        egressgen(&args)
    }
}

/// Every file under `dir`, by relative path.
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    if !dir.exists() {
        return out;
    }
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let p = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if p.is_dir() {
            for (k, v) in tree(&p) {
                out.insert(format!("{name}/{k}"), v);
            }
        } else {
            out.insert(name, std::fs::read(&p).unwrap());
        }
    }
    out
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn ok_page(name: &str) -> Reply {
    Reply::Conditional {
        etag: format!("\"{name}\""),
        body: page(name),
    }
}

/// A site published from v1 of both sources.
fn published() -> Site {
    let site = Site::new("");
    site.serve(ok_page("learn-v1.md"), Reply::ok(&bytes(&tags())));
    let first = site.refresh(&[]);
    assert_eq!(code(&first), 10, "{}", stderr(&first));
    site
}

#[test]
fn a_healthy_change_publishes_with_a_report_of_exactly_the_difference() {
    let site = published();
    let before = tree(&site.out);
    assert!(before.contains_key("allowlist-443.txt"));

    // Nothing changed: the page answers 304 to its validators, nothing is
    // published, exit 0.
    let again = site.refresh(&[]);
    assert_eq!(code(&again), 0, "{}", stderr(&again));
    assert_eq!(tree(&site.out), before);
    let seen = site.server.seen(PAGE);
    assert_eq!(seen.len(), 2);
    assert_eq!(
        seen[1].headers.get("if-none-match").map(String::as_str),
        Some("\"learn-v1.md\"")
    );
    assert_eq!(
        seen[1].body_sent, 0,
        "the second request transferred no body"
    );

    // v2: one host gone, one new.
    site.serve(ok_page("learn-v2.md"), Reply::ok(&bytes(&tags())));
    let dir = site.out.parent().unwrap().to_path_buf();
    let md = dir.join("report.md");
    let js = dir.join("report.json");
    let changed = site.refresh(&[
        "--report",
        md.to_str().unwrap(),
        "--report-json",
        js.to_str().unwrap(),
    ]);
    assert_eq!(code(&changed), 10, "{}", stderr(&changed));
    let allow = String::from_utf8(tree(&site.out)["allowlist-443.txt"].clone()).unwrap();
    assert!(allow.contains("h13.example.com") && !allow.contains("h12.example.com"));
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&js).unwrap()).unwrap();
    let learn = &report["sources"][0];
    assert_eq!(learn["source"], "live:learn-standard-commercial");
    assert_eq!(learn["state"], "updated");
    let rows = &learn["changes"]["rows"];
    let texts = |k: &str| -> Vec<String> {
        rows[k]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                r["row"]
                    .as_str()
                    .unwrap()
                    .split(' ')
                    .next()
                    .unwrap()
                    .to_string()
            })
            .collect()
    };
    assert_eq!(texts("added"), ["h13.example.com"]);
    assert_eq!(texts("removed"), ["h12.example.com"]);
    let entries = &report["rulesets"][0]["changes"]["policy"]["entries"];
    assert_eq!(entries["added"].as_array().unwrap().len(), 1);
    assert_eq!(entries["removed"].as_array().unwrap().len(), 1);
    let markdown = std::fs::read_to_string(&md).unwrap();
    assert!(markdown.contains("h13.example.com") && markdown.contains("h12.example.com"));
    assert!(markdown.contains("| `live:learn-standard-commercial` | updated |"));
}

/// One way a source can misbehave.
struct Fault {
    name: String,
    learn: Option<Reply>,
    tags: Option<Reply>,
    /// Texts the warnings must hold.
    says: Vec<&'static str>,
}

fn faults() -> Vec<Fault> {
    let mut older = tags();
    older["changeNumber"] = 41.into();
    let mut emptied = tags();
    for v in emptied["values"].as_array_mut().unwrap() {
        if v["name"] == "MicrosoftDefenderForEndpoint" {
            v["properties"]["addressPrefixes"] = serde_json::json!([]);
        }
    }
    let html = b"<!DOCTYPE html><html><body>Sign in to continue</body></html>".to_vec();
    let learn = |r: Reply, says| Fault {
        name: String::new(),
        learn: Some(r),
        tags: None,
        says: vec![says],
    };
    let tag = |r: Reply, says| Fault {
        name: String::new(),
        learn: None,
        tags: Some(r),
        says: vec![says],
    };
    let list = vec![
        ("500", learn(Reply::status(500), "answered 500")),
        ("404", learn(Reply::status(404), "answered 404")),
        (
            "429 with Retry-After",
            learn(Reply::with_header(429, "Retry-After", "1"), "answered 429"),
        ),
        ("reset", learn(Reply::Close, "learn-standard-commercial")),
        (
            "truncated",
            tag(
                Reply::Truncated {
                    body: bytes(&tags())[..200].to_vec(),
                    claimed: 5000,
                },
                "service-tags-public",
            ),
        ),
        (
            "stall",
            learn(
                Reply::Stall(std::time::Duration::from_secs(3)),
                "no answer within 1s",
            ),
        ),
        (
            "HTML login page",
            learn(
                Reply::Answer {
                    status: 200,
                    headers: vec![],
                    body: html.clone(),
                },
                "does not read as",
            ),
        ),
        (
            "foreign redirect",
            learn(
                Reply::with_header(302, "Location", "https://evil.example/page.md"),
                "redirect refused",
            ),
        ),
        (
            "older changeNumber",
            tag(
                Reply::ok(&bytes(&older)),
                "changeNumber 41 is lower than the 42",
            ),
        ),
        (
            "half the rows",
            learn(Reply::ok(&page("learn-half.md")), "fell from 12 to 6"),
        ),
        (
            "one tag emptied",
            tag(
                Reply::ok(&bytes(&emptied)),
                "service tag MicrosoftDefenderForEndpoint's prefixes fell from 1 to 0",
            ),
        ),
    ];
    let singles: Vec<Fault> = list
        .into_iter()
        .map(|(name, mut f)| {
            f.name = name.to_string();
            f
        })
        .collect();
    // Two at once: every page fault with every tag-file fault.
    let mut all = Vec::new();
    for l in singles.iter().filter(|f| f.learn.is_some()) {
        for t in singles.iter().filter(|f| f.tags.is_some()) {
            all.push(Fault {
                name: format!("{} + {}", l.name, t.name),
                learn: l.learn.clone(),
                tags: t.tags.clone(),
                says: [l.says.clone(), t.says.clone()].concat(),
            });
        }
    }
    singles.into_iter().chain(all).collect()
}

#[test]
fn every_fault_alone_or_two_at_once_keeps_outputs_and_last_good_copies() {
    let site = published();
    let outputs = tree(&site.out);
    let records = tree(&site.cache.join("records"));
    let bodies = tree(&site.cache.join("bodies"));
    for fault in faults() {
        site.serve(
            fault.learn.unwrap_or_else(|| ok_page("learn-v1.md")),
            fault.tags.unwrap_or_else(|| Reply::ok(&bytes(&tags()))),
        );
        let run = site.refresh(&[]);
        let err = stderr(&run);
        assert_eq!(code(&run), 11, "{}: {err}", fault.name);
        assert!(err.contains("last good copy used"), "{}: {err}", fault.name);
        for says in &fault.says {
            assert!(err.contains(says), "{}: {err}", fault.name);
        }
        assert_eq!(tree(&site.out), outputs, "{}: outputs", fault.name);
        assert_eq!(
            tree(&site.cache.join("bodies")),
            bodies,
            "{}: bodies",
            fault.name
        );
        // The records may only have new validators; the good copies stay.
        let now = tree(&site.cache.join("records"));
        for (name, old) in &records {
            let sha = |b: &[u8]| {
                let v: serde_json::Value = serde_json::from_slice(b).unwrap();
                v["current"]["sha256"].clone()
            };
            assert_eq!(sha(&now[name]), sha(old), "{}: {name}", fault.name);
        }
    }
}

#[test]
fn a_policy_guard_refuses_and_force_overrides() {
    let site = Site::new("[refresh]\nessential = [\"h12.example.com\"]\n");
    site.serve(ok_page("learn-v1.md"), Reply::ok(&bytes(&tags())));
    assert_eq!(code(&site.refresh(&[])), 10);
    let before = tree(&site.out);
    // v2 passes the source guards but drops the essential host.
    site.serve(ok_page("learn-v2.md"), Reply::ok(&bytes(&tags())));
    let run = site.refresh(&[]);
    assert_eq!(code(&run), 12, "{}", stderr(&run));
    assert!(stderr(&run).contains("essential host h12.example.com would no longer be allowed"));
    assert_eq!(tree(&site.out), before);
    // The source itself was good: it is the cache's copy now, and
    // --force publishes it (no fetch needed to change anything).
    let forced = site.refresh(&["--force"]);
    assert_eq!(code(&forced), 10, "{}", stderr(&forced));
    assert_ne!(tree(&site.out), before);
}

#[test]
fn offline_regenerates_from_the_cache_without_a_server() {
    let site = published();
    let before = tree(&site.out);
    std::fs::remove_dir_all(&site.out).unwrap();
    // Any request would now fail: the routes answer 500.
    site.serve(Reply::status(500), Reply::status(500));
    let run = site.refresh(&["--offline"]);
    assert_eq!(code(&run), 10, "{}", stderr(&run));
    assert_eq!(tree(&site.out), before);
    assert_eq!(site.server.seen(PAGE).len(), 1, "no request was made");
}

#[test]
fn the_post_change_command_runs_after_a_publish_and_its_failure_is_reported() {
    let site = Site::new("");
    site.serve(ok_page("learn-v1.md"), Reply::ok(&bytes(&tags())));
    let mark = site.out.parent().unwrap().join("reconfigured");
    let cmd = format!(
        "test -f {}/policy.json && touch {}",
        site.out.display(),
        mark.display()
    );
    assert_eq!(code(&site.refresh(&["--post-change", &cmd])), 10);
    assert!(mark.exists(), "ran after the outputs were in place");
    site.serve(ok_page("learn-v2.md"), Reply::ok(&bytes(&tags())));
    let run = site.refresh(&["--post-change", "exit 3"]);
    assert_eq!(code(&run), 13, "{}", stderr(&run));
    assert!(stderr(&run).contains("the new outputs are in place"));
    // Nothing changed: the command does not run.
    std::fs::remove_file(&mark).unwrap();
    assert_eq!(
        code(&site.refresh(&["--post-change", &format!("touch {}", mark.display())])),
        0
    );
    assert!(!mark.exists());
}

/// A progress bar on a terminal (a pseudo-terminal by `script`), nothing
/// of it when stderr is a file or with --quiet.
#[test]
fn a_progress_bar_shows_on_a_terminal_only() {
    let site = Site::new("");
    site.serve(ok_page("learn-v1.md"), Reply::ok(&bytes(&tags())));
    let args: Vec<String> = [
        "refresh",
        site.ruleset.to_str().unwrap(),
        "--out",
        site.out.to_str().unwrap(),
        "--cache",
        site.cache.to_str().unwrap(),
        "--no-proxy",
        "--docs-base",
        &site.server.url("/docs"),
        "--download-base",
        &site.server.base,
        "--retries",
        "0",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let line = std::iter::once(env!("CARGO_BIN_EXE_egressgen").to_string())
        .chain(args.iter().cloned())
        .collect::<Vec<_>>()
        .join(" ");
    let tty = std::process::Command::new(common::tools::require("script", "bsdutils"))
        .args(["-qec", &line, "/dev/null"])
        .output()
        .unwrap();
    let seen = String::from_utf8_lossy(&tty.stdout);
    assert!(seen.contains("live:learn-standard-commercial"), "{seen}");
    assert!(seen.contains("/3 "), "a bar with its count: {seen}");
    // Not a terminal: no bar.
    let plain = egressgen(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code(&plain), 0);
    assert!(!stderr(&plain).contains("/3 "), "{}", stderr(&plain));
}

/// The Microsoft 365 web service: /version first, /endpoints only when
/// the version moved, one client request id kept in the cache; a
/// redirect to another host is followed only when named.
#[test]
fn the_m365_service_is_asked_for_endpoints_only_when_its_version_moves() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start();
    let ruleset = tmp.path().join("m365.toml");
    std::fs::write(
        &ruleset,
        "name = \"m365\"\n[sources]\nfiles = [\"live:m365-worldwide\"]\n[scope]\ncloud = \"commercial\"\nproducts = [\"m365\"]\n[outputs.plain]\n",
    )
    .unwrap();
    let (out, cache) = (tmp.path().join("out"), tmp.path().join("cache"));
    let run = |extra: &[&str]| {
        let mut args = vec![
            "refresh",
            ruleset.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--cache",
            cache.to_str().unwrap(),
            "--no-proxy",
            "--retries",
            "0",
        ];
        args.extend(extra);
        egressgen(&args)
    };
    let m365_base = server.url("/m365");
    let base = ["--m365-base", m365_base.as_str()];
    let body = std::fs::read(fixture("m365-small.json")).unwrap();
    server.route(
        "/m365/version/Worldwide",
        vec![Reply::ok(
            br#"{"instance":"Worldwide","latest":"2025101300"}"#,
        )],
    );
    server.route("/m365/endpoints/Worldwide", vec![Reply::ok(&body)]);
    let first = run(&base);
    assert_eq!(code(&first), 10, "{}", stderr(&first));
    let id = std::fs::read_to_string(cache.join("m365-client-request-id")).unwrap();
    let seen = server.seen_any_query("/m365/endpoints/Worldwide");
    assert_eq!(seen.len(), 1);
    // The same version: no /endpoints request, nothing changed.
    assert_eq!(code(&run(&base)), 0);
    assert_eq!(server.seen_any_query("/m365/endpoints/Worldwide").len(), 1);
    assert_eq!(server.seen_any_query("/m365/version/Worldwide").len(), 2);
    // The id is the one kept on disk.
    assert_eq!(
        std::fs::read_to_string(cache.join("m365-client-request-id")).unwrap(),
        id
    );

    // A new version whose /endpoints answer is a redirect to another
    // loopback name: refused unless named with --allow-redirect-to.
    server.route(
        "/m365/version/Worldwide",
        vec![Reply::ok(
            br#"{"instance":"Worldwide","latest":"2025102000"}"#,
        )],
    );
    let port = server.base.rsplit(':').next().unwrap().to_string();
    server.route(
        "/m365/endpoints/Worldwide",
        vec![Reply::with_header(
            302,
            "Location",
            &format!("http://localhost:{port}/mirror/endpoints.json"),
        )],
    );
    server.route("/mirror/endpoints.json", vec![Reply::ok(&body)]);
    let refused = run(&base);
    assert_eq!(code(&refused), 11, "{}", stderr(&refused));
    assert!(stderr(&refused).contains("redirect refused: to localhost"));
    assert!(server.seen_any_query("/mirror/endpoints.json").is_empty());
    let mut allowed = base.to_vec();
    allowed.extend(["--allow-redirect-to", "localhost"]);
    let followed = run(&allowed);
    // Same endpoints under a new version: the good copy moves on, the
    // policy does not change.
    assert!(matches!(code(&followed), 0 | 10), "{}", stderr(&followed));
    assert_eq!(server.seen_any_query("/mirror/endpoints.json").len(), 1);
}

/// A wildcard that takes the place of the named hosts it covers loses
/// nothing: the policy guard lets it through (the source guard, which
/// counts rows, is opened for the test).
#[test]
fn a_wildcard_covering_the_hosts_it_replaces_is_no_loss() {
    let site = published();
    site.serve(ok_page("learn-wildcard.md"), Reply::ok(&bytes(&tags())));
    let run = site.refresh(&["--max-source-loss", "1"]);
    assert_eq!(code(&run), 10, "{}", stderr(&run));
    let allow = String::from_utf8(tree(&site.out)["allowlist-443.txt"].clone()).unwrap();
    assert!(allow.contains("*.example.com"), "{allow}");
    // Row count is what the source guard watches: without the option the
    // same page is refused at the source and the last good copy stays.
    let other = published();
    other.serve(ok_page("learn-wildcard.md"), Reply::ok(&bytes(&tags())));
    let run = other.refresh(&[]);
    assert_eq!(code(&run), 11, "{}", stderr(&run));
    assert!(stderr(&run).contains("fell from 12 to 1"));
}

/// What is published is compared file by file: a ruleset that gains an
/// output is regenerated even though no source changed.
#[test]
fn a_new_output_is_published_though_no_source_changed() {
    let site = published();
    let text = std::fs::read_to_string(&site.ruleset).unwrap();
    std::fs::write(&site.ruleset, format!("{text}[outputs.tls_bypass]\n")).unwrap();
    let run = site.refresh(&[]);
    assert_eq!(code(&run), 10, "{}", stderr(&run));
    assert!(site.out.join("tls-bypass.txt").exists());
    assert_eq!(code(&site.refresh(&[])), 0);
}

/// The post-change command runs before the report is written: a report
/// that cannot be written does not keep the proxy from hearing of the new
/// outputs.
#[test]
fn the_post_change_command_runs_even_when_the_report_cannot_be_written() {
    let site = Site::new("");
    site.serve(ok_page("learn-v1.md"), Reply::ok(&bytes(&tags())));
    let mark = site.out.parent().unwrap().join("reconfigured");
    let run = site.refresh(&[
        "--post-change",
        &format!("touch {}", mark.display()),
        "--report",
        "/nonexistent-dir/report.md",
    ]);
    assert_eq!(code(&run), 5, "{}", stderr(&run));
    assert!(mark.exists());
    assert!(site.out.join("policy.json").exists());
}

/// One ruleset refused holds back the other's change, and the report says
/// so instead of calling it published.
#[test]
fn a_refused_ruleset_holds_back_the_others() {
    let site = Site::new("");
    let second = site.ruleset.with_file_name("guarded.toml");
    std::fs::write(
        &second,
        std::fs::read_to_string(&site.ruleset)
            .unwrap()
            .replace("name = \"site\"", "name = \"guarded\"")
            .replace(
                "[outputs.plain]",
                "[refresh]\nessential = [\"h12.example.com\"]\n[outputs.plain]",
            ),
    )
    .unwrap();
    site.serve(ok_page("learn-v1.md"), Reply::ok(&bytes(&tags())));
    let both = ["--", second.to_str().unwrap()];
    assert_eq!(code(&site.refresh(&both[1..])), 10);
    let before = tree(&site.out);
    site.serve(ok_page("learn-v2.md"), Reply::ok(&bytes(&tags())));
    let run = site.refresh(&["--format", "json", second.to_str().unwrap()]);
    assert_eq!(code(&run), 12, "{}", stderr(&run));
    assert_eq!(tree(&site.out), before);
    let report: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    let states: Vec<(String, String)> = report["rulesets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["ruleset"].as_str().unwrap().to_string(),
                r["state"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        states,
        [
            ("site".to_string(), "held".to_string()),
            ("guarded".to_string(), "refused".to_string())
        ]
    );
    assert_eq!(report["published"], false);
}

/// A Learn page larger than `generate` reads Markdown (16 MiB) is refused
/// by `refresh` too, with the size and the limit: the last good copy is
/// kept (exit 11), the outputs stay, and what refresh keeps, generate can
/// always read.
#[test]
fn a_page_larger_than_generate_reads_is_refused_by_refresh_too() {
    let site = published();
    let before = tree(&site.out);
    let mut huge = page("learn-v2.md");
    // Comment lines past the table keep it Markdown, only larger.
    while huge.len() <= 16 * 1024 * 1024 {
        huge.extend_from_slice(&[b'\n'; 1 << 20]);
    }
    site.serve(Reply::ok(&huge), Reply::ok(&bytes(&tags())));
    let run = site.refresh(&[]);
    assert_eq!(code(&run), 11, "{}", stderr(&run));
    assert!(
        stderr(&run).contains("above the limit of 16777216 bytes for Markdown"),
        "{}",
        stderr(&run)
    );
    assert_eq!(tree(&site.out), before);
}

/// What the cache's record says of a source's current copy.
fn current_copy(cache: &Path, name: &str) -> serde_json::Value {
    let record = std::fs::read(cache.join(format!("records/{name}.json"))).unwrap();
    serde_json::from_slice::<serde_json::Value>(&record).unwrap()["current"].clone()
}

/// The line every command prints for a copy it read from the cache.
fn used_line(cache: &Path, name: &str) -> String {
    let copy = current_copy(cache, name);
    let version = copy["version"]
        .as_str()
        .map(|v| format!("version {v}, "))
        .unwrap_or_default();
    format!(
        "live:{name}: the last good copy in the cache {} ({version}sha256 {}, fetched from {})",
        cache.display(),
        &copy["sha256"].as_str().unwrap()[..12],
        copy["url"].as_str().unwrap()
    )
}

#[test]
fn every_command_reads_live_sources_from_the_cache_refresh_fills() {
    let site = Site::new("");
    let ruleset = site.ruleset.to_str().unwrap();
    let cache = site.cache.to_str().unwrap();
    let out = site.out.parent().unwrap().join("generated");
    let generate = || {
        egressgen(&[
            "generate",
            ruleset,
            "--out",
            out.to_str().unwrap(),
            "--cache",
            cache,
        ])
    };
    // Before any refresh: no copy, and the message says what to run.
    let before = generate();
    assert_eq!(code(&before), 4, "{}", stderr(&before));
    assert!(
        stderr(&before).contains(&format!(
            "source live:learn-standard-commercial: the cache {cache} holds no copy of it yet: run `egressgen refresh`"
        )),
        "{}",
        stderr(&before)
    );
    assert!(!out.exists(), "nothing was written");
    // catalog and diff read a live source the same way.
    let catalog = || {
        egressgen(&[
            "catalog",
            "--source",
            "live:learn-standard-commercial",
            "--format",
            "csv",
            "--cache",
            cache,
        ])
    };
    let none = catalog();
    assert_eq!(code(&none), 4, "{}", stderr(&none));
    assert!(
        stderr(&none).contains("holds no copy of it yet: run `egressgen refresh`"),
        "{}",
        stderr(&none)
    );

    site.serve(ok_page("learn-v1.md"), Reply::ok(&bytes(&tags())));
    let first = site.refresh(&[]);
    assert_eq!(code(&first), 10, "{}", stderr(&first));

    // generate now makes what refresh published, and names the copies.
    let made = generate();
    assert_eq!(code(&made), 0, "{}", stderr(&made));
    for name in ["learn-standard-commercial", "service-tags-public"] {
        assert!(
            stderr(&made)
                .lines()
                .any(|l| l == used_line(&site.cache, name)),
            "{name}: {}",
            stderr(&made)
        );
    }
    assert_eq!(
        tree(&out)["allowlist-443.txt"],
        tree(&site.out)["allowlist-443.txt"]
    );

    // explain, through EGRESSGEN_CACHE this time: h12 is in v1, h13 not.
    let explain = |host: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_egressgen"))
            .args(["explain", host, "--ruleset", ruleset])
            .env("EGRESSGEN_CACHE", cache)
            .output()
            .unwrap()
    };
    assert_eq!(code(&explain("h12.example.com")), 0);
    assert_eq!(code(&explain("h13.example.com")), 1);
    assert!(
        stderr(&explain("h12.example.com"))
            .contains(&used_line(&site.cache, "learn-standard-commercial"))
    );

    // audit judges a configuration against the cached policy: h12 is
    // an entry, and after v2 is fetched h13 is.
    let conf = site.out.parent().unwrap().join("squid.conf");
    std::fs::write(
        &conf,
        "http_port 3128\nacl lan src 10.0.0.0/8\nacl gw dstdomain h12.example.com\nhttp_access allow lan gw\nhttp_access deny all\n",
    )
    .unwrap();
    let audited = || {
        let o = egressgen(&[
            "audit",
            "--ruleset",
            ruleset,
            conf.to_str().unwrap(),
            "--format",
            "json",
            "--cache",
            cache,
        ]);
        assert_ne!(code(&o), 4, "{}", stderr(&o));
        let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        report["configs"][0]["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["host"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    let v1 = audited();
    assert!(v1.iter().any(|h| h == "h12.example.com"), "{v1:?}");
    assert!(!v1.iter().any(|h| h == "h13.example.com"), "{v1:?}");

    site.serve(ok_page("learn-v2.md"), Reply::ok(&bytes(&tags())));
    let second = site.refresh(&[]);
    assert_eq!(code(&second), 10, "{}", stderr(&second));
    assert_eq!(code(&explain("h13.example.com")), 0);
    assert_eq!(code(&explain("h12.example.com")), 1);
    let listed = catalog();
    assert_eq!(code(&listed), 0, "{}", stderr(&listed));
    assert!(stdout(&listed).contains("h13.example.com"));
    assert!(!stdout(&listed).contains("h12.example.com"));
    assert!(stderr(&listed).contains(&used_line(&site.cache, "learn-standard-commercial")));
    // What the cached copy changed since v1, as diff(1) says it: exit 1.
    let v1_page = fixture("refresh/learn-v1.md");
    let changed = egressgen(&[
        "diff",
        v1_page.to_str().unwrap(),
        "live:learn-standard-commercial",
        "--format",
        "json",
        "--cache",
        cache,
    ]);
    assert_eq!(code(&changed), 1, "{}", stderr(&changed));
    let report = stdout(&changed);
    assert!(
        report.contains("h13.example.com") && report.contains("h12.example.com"),
        "{report}"
    );
    let v2 = audited();
    assert!(v2.iter().any(|h| h == "h13.example.com"), "{v2:?}");

    // verify probes the same policy (through a proxy on loopback that
    // is not there: the run gets as far as probing).
    let verified = egressgen(&[
        "verify",
        "--ruleset",
        ruleset,
        "--route",
        "cli",
        "--proxy",
        "http://127.0.0.1:9",
        "--timeout",
        "0.5",
        "--deadline",
        "5",
        "--format",
        "json",
        "--cache",
        cache,
    ]);
    assert!(
        stderr(&verified).contains(&used_line(&site.cache, "learn-standard-commercial")),
        "{}",
        stderr(&verified)
    );
    let report: serde_json::Value = serde_json::from_slice(&verified.stdout).unwrap();
    let probed = report.to_string();
    assert!(probed.contains("h13.example.com") && !probed.contains("h12.example.com"));
}
