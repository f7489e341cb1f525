//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod azure;
pub mod http;
pub mod origin;
pub mod pki;
pub mod squid;
pub mod tls;
pub mod tools;
pub mod units;
pub mod xlsx;

use std::path::PathBuf;

use egressgen::model::{Catalog, Endpoint};
use egressgen::sources::{ReadOptions, read_file};

/// `../shared/data`, beside the project (CI clones it there). Missing data
/// is a failure, never a skip.
pub fn shared_data() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
    assert!(
        dir.is_dir(),
        "{} is missing: the tests need Microsoft's reference files beside the project",
        dir.display()
    );
    dir
}

/// Source specs from text, as a user writes them.
pub fn specs<S: AsRef<str>>(items: &[S]) -> Vec<egressgen::sources::SourceSpec> {
    items.iter().map(|s| s.as_ref().parse().unwrap()).collect()
}

pub fn data(rel: &str) -> PathBuf {
    shared_data().join(rel)
}

pub fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(rel)
}

pub fn read(path: &std::path::Path) -> Catalog {
    read_file(path, &ReadOptions::default())
        .unwrap_or_else(|e| panic!("{} should read: {e}", path.display()))
}

/// Endpoints whose first provenance is on `sheet`.
pub fn on_sheet<'a>(catalog: &'a Catalog, sheet: &str) -> Vec<&'a Endpoint> {
    catalog
        .endpoints
        .iter()
        .filter(|e| e.provenance[0].sheet.as_deref() == Some(sheet))
        .collect()
}

/// The endpoints with this pattern text (`*.x`, `x`, `*x`).
pub fn find<'a>(catalog: &'a Catalog, pattern: &str) -> Vec<&'a Endpoint> {
    catalog
        .endpoints
        .iter()
        .filter(|e| e.host.to_string() == pattern)
        .collect()
}

/// Compact description of an endpoint for spot checks:
/// `pattern|path|ports|geography|os|required|route`.
pub fn spot(e: &Endpoint) -> String {
    let os: Vec<String> =
        e.os.iter()
            .map(|(os, f)| format!("{}={}", os.as_str(), f.as_str()))
            .collect();
    let ports: Vec<String> = e.ports.iter().map(u16::to_string).collect();
    format!(
        "{}|{}|{}|{}|{}|{:?}|{:?}",
        e.host,
        e.path.as_deref().unwrap_or("-"),
        ports.join(","),
        e.geography.as_str(),
        os.join(" "),
        e.required,
        e.route
    )
}

/// Whether one line of a Squid-style domain list (`x` for that host, `.x`
/// for `x` and below) admits `host`: the semantics of `dstdomain`,
/// `ssl::server_name` and our `tls-bypass.txt`.
pub fn domain_line_admits(line: &str, host: &str) -> bool {
    match line.strip_prefix('.') {
        Some(apex) => host == apex || host.ends_with(line),
        None => host == line,
    }
}

/// Whether one line of a Palo Alto EDL domain list admits `host`; with
/// "Automatically expand to include subdomains" on, every entry also
/// admits the names below it.
pub fn edl_line_admits(line: &str, host: &str, expands: bool) -> bool {
    host == line || (expands && host.ends_with(&format!(".{line}")))
}

/// The non-comment, non-blank lines of a generated list.
pub fn list_lines(text: &str) -> Vec<&str> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
}

/// Runs the egressgen binary of this build. `live:` sources are never
/// read from the cache of whoever runs the tests: without `--cache` the
/// cache is one that holds nothing.
pub fn egressgen(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_egressgen"))
        .args(args)
        .env(
            "EGRESSGEN_CACHE",
            std::env::temp_dir().join("egressgen-tests-empty-cache"),
        )
        .output()
        .expect("run egressgen")
}

/// Concrete hosts a pattern admits: the name itself, a name below it;
/// for a suffix glob `*NAME` also `probeNAME`, which only a glob admits.
pub fn probe_hosts(host: &egressgen::model::HostPattern) -> Vec<String> {
    use egressgen::model::HostPattern;
    let n = host.name().as_str();
    match host {
        HostPattern::Exact(_) => vec![n.to_string()],
        HostPattern::Subdomains(_) => vec![format!("probe.{n}")],
        HostPattern::SuffixGlob(_) => vec![format!("probe{n}"), format!("probe.{n}")],
        HostPattern::Domain(_) => vec![n.to_string(), format!("probe.{n}")],
        HostPattern::Template(_) => Vec::new(),
    }
}

/// Hosts that probe a policy from both sides, for the audit's
/// differential tests: every sample host of every entry, and its near
/// misses (a name glued on, two levels below, under a foreign domain).
pub fn audit_hosts(policy: &egressgen::policy::Policy) -> std::collections::BTreeSet<String> {
    let mut hosts = std::collections::BTreeSet::new();
    for e in &policy.entries {
        let name = e.host.name().as_str();
        hosts.extend(egressgen::audit::probe::sample_hosts(&e.host));
        hosts.insert(format!("x{name}"));
        hosts.insert(format!("a.b.{name}"));
        hosts.insert(format!("{name}.evil.example"));
    }
    hosts
}

/// Fails, naming the first errors, unless `value` is valid against the
/// JSON Schema docs/NAME kept in the repository.
pub fn assert_docs_schema(name: &str, value: &serde_json::Value) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("docs")
        .join(name);
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(value)
        .take(5)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{name}: {errors:#?}");
}

/// A copy of `ruleset`, written in `dir`, whose Squid files are installed
/// where they are generated (`out`), as on a proxy that generates its own:
/// the generated squid.conf then reads its files in `out`.
pub fn installed_in_place(
    ruleset: &std::path::Path,
    dir: &std::path::Path,
    out: &std::path::Path,
) -> PathBuf {
    let text = std::fs::read_to_string(ruleset).unwrap();
    assert!(text.contains("[outputs.squid]\n"), "{}", ruleset.display());
    let text = text.replace(
        "[outputs.squid]\n",
        &format!(
            "[outputs.squid]\ninstall_dir = \"{}\"\n",
            std::path::absolute(out).unwrap().display()
        ),
    );
    let copy = dir.join(ruleset.file_name().unwrap());
    std::fs::write(&copy, text).unwrap();
    copy
}

/// The body each `live:` source of the example rulesets serves, as a file
/// of Microsoft's in ../shared/data.
const LIVE_AS_FILES: [(&str, &str); 2] = [
    (
        "live:learn-standard-commercial",
        "mde/standard-device-connectivity-urls-commercial.learn.md",
    ),
    (
        "live:service-tags-public",
        "servicetags/ServiceTags_Public_20251013.json",
    ),
];

/// Every example ruleset of rulesets/, copied into `dir` as a test can run
/// it: a `live:` source is answered by the file of Microsoft's it serves,
/// and the production example's paths on the proxy (`[outputs] dir`,
/// `install_dir`) are left out so that each test chooses its own.
pub fn examples(dir: &std::path::Path) -> Vec<PathBuf> {
    let from = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rulesets");
    let mut out: Vec<PathBuf> = std::fs::read_dir(from)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .map(|p| {
            let mut text: String = std::fs::read_to_string(&p)
                .unwrap()
                .lines()
                .filter(|l| !l.starts_with("dir = ") && !l.starts_with("install_dir = "))
                .map(|l| format!("{l}\n"))
                .collect();
            for (live, file) in LIVE_AS_FILES {
                text = text.replace(
                    &format!("\"{live}\""),
                    &format!("{:?}", data(file).display().to_string()),
                );
            }
            assert!(
                !text.contains("\"live:"),
                "{}: a live source with no file",
                p.display()
            );
            let copy = dir.join(p.file_name().unwrap());
            std::fs::write(&copy, text).unwrap();
            copy
        })
        .collect();
    out.sort();
    out
}

/// Where the download server keeps Azure's public service-tag files.
pub const TAGS_DIR: &str = "/download/7/1/D/71D86715-5596-4529-9B13-DA13A5DE5B63";

/// Today's public service-tag file (UTC), the first place refresh looks.
pub fn tags_path() -> String {
    let d = time::OffsetDateTime::now_utc().date();
    format!(
        "{TAGS_DIR}/ServiceTags_Public_{:04}{:02}{:02}.json",
        d.year(),
        u8::from(d.month()),
        d.day()
    )
}
