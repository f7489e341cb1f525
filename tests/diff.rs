//! `egressgen diff`: the change report between two versions of a source,
//! two catalogs, two policies or two output directories.

mod common;

use std::collections::BTreeSet;

use common::{data, egressgen, fixture};

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The AzureAdvancedThreatProtection prefixes and changeNumber of a
/// service-tag file, read with serde_json alone (not our reader).
fn atp(file: &str) -> (u64, BTreeSet<String>) {
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(data(&format!("servicetags/{file}"))).unwrap())
            .unwrap();
    let tag = v["values"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "AzureAdvancedThreatProtection")
        .unwrap();
    let prefixes = tag["properties"]["addressPrefixes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_string())
        .collect();
    (
        tag["properties"]["changeNumber"].as_u64().unwrap(),
        prefixes,
    )
}

#[test]
fn two_weeks_of_service_tags_show_the_defender_for_identity_change() {
    let (old_cn, old) = atp("ServiceTags_Public_20251006.json");
    let (new_cn, new) = atp("ServiceTags_Public_20251013.json");
    assert_eq!((old.len(), new.len()), (166, 168));
    let added: Vec<&String> = new.difference(&old).collect();
    let removed: Vec<&String> = old.difference(&new).collect();
    let a = data("servicetags/ServiceTags_Public_20251006.json");
    let b = data("servicetags/ServiceTags_Public_20251013.json");
    let out = egressgen(&[
        "diff",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(1), "different files exit 1");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let tags = report["prefixes"].as_array().unwrap();
    let t = tags
        .iter()
        .find(|t| t["tag"] == "AzureAdvancedThreatProtection")
        .unwrap();
    assert_eq!(t["change_number"], serde_json::json!([old_cn, new_cn]));
    let got: BTreeSet<String> = serde_json::from_value(t["added"].clone()).unwrap();
    assert_eq!(got.iter().collect::<Vec<_>>(), added);
    assert_eq!(t["removed"].as_array().unwrap().len(), removed.len());
    let count = report["sources"][0]["tags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["tag"] == "AzureAdvancedThreatProtection")
        .unwrap()
        .clone();
    assert_eq!(count["prefixes"], serde_json::json!([166, 168]));
    // Text and Markdown say the same.
    let text = stdout(&egressgen(&[
        "diff",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
    ]));
    assert!(
        text.contains(
            "tag AzureAdvancedThreatProtection: changeNumber 35 -> 36, prefixes 166 -> 168"
        ),
        "{text}"
    );
    for p in &added {
        assert!(text.contains(&format!("  + {p}")), "{text}");
    }
    let md = stdout(&egressgen(&[
        "diff",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--format",
        "markdown",
    ]));
    assert!(
        md.starts_with("# Changes:") && md.contains("## Prefixes"),
        "{md}"
    );
    // A file against itself: equal, exit 0.
    let same = egressgen(&["diff", b.to_str().unwrap(), b.to_str().unwrap()]);
    assert_eq!(same.status.code(), Some(0));
    assert!(stdout(&same).ends_with("are the same\n"));
}

/// Two rulesets one allow apart, generated into two directories.
fn two_dirs(tmp: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let base = std::fs::read_to_string(fixture("small-ruleset.toml")).unwrap();
    let more = format!("{base}\n[[allow]]\nurl = \"extra.example.net\"\n");
    let (ra, rb) = (tmp.join("a.toml"), tmp.join("b.toml"));
    std::fs::write(&ra, base.replace("name = \"small\"", "name = \"site\"")).unwrap();
    std::fs::write(&rb, more.replace("name = \"small\"", "name = \"site\"")).unwrap();
    // The fixture's relative source resolves against the copies' directory.
    let source = "learn-table-odd.md";
    std::fs::copy(fixture(source), tmp.join(source)).unwrap();
    let (da, db) = (tmp.join("out-a"), tmp.join("out-b"));
    for (r, d) in [(&ra, &da), (&rb, &db)] {
        let out = egressgen(&[
            "generate",
            r.to_str().unwrap(),
            "--out",
            d.to_str().unwrap(),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    (da, db)
}

#[test]
fn output_directories_and_policies_show_the_added_entry_and_changed_files() {
    let tmp = tempfile::tempdir().unwrap();
    let (da, db) = two_dirs(tmp.path());
    let out = egressgen(&[
        "diff",
        da.to_str().unwrap(),
        db.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report["policy"]["entries"]["added"],
        serde_json::json!(["allow/proxy/extra.example.net@443"])
    );
    assert_eq!(
        report["policy"]["entries"]["removed"],
        serde_json::json!([])
    );
    let changed: Vec<String> = serde_json::from_value(report["files"]["changed"].clone()).unwrap();
    for f in ["policy.json", "allowlist-443.txt", "proxy.pac"] {
        assert!(changed.iter().any(|c| c == f), "{f} not in {changed:?}");
    }
    // The two policy.json files alone: the same entry change, no files.
    let (pa, pb) = (da.join("policy.json"), db.join("policy.json"));
    let out = egressgen(&[
        "diff",
        pa.to_str().unwrap(),
        pb.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report["policy"]["entries"]["added"][0],
        "allow/proxy/extra.example.net@443"
    );
    assert!(report.get("files").is_none());
    // A directory against itself is the same.
    assert_eq!(
        egressgen(&["diff", da.to_str().unwrap(), da.to_str().unwrap()])
            .status
            .code(),
        Some(0)
    );
    // A policy against a directory is a usage error that says so.
    let out = egressgen(&["diff", pa.to_str().unwrap(), db.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("cannot compare a policy.json with an output directory")
    );
}

/// A damaged catalog file is named as the file it is, not as the built-in
/// baseline (which it was called before catalog JSON had its own reader).
#[test]
fn a_damaged_catalog_file_is_named_by_its_path() {
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("site-catalog.json");
    let good = egressgen(&["catalog", "--format", "json"]).stdout;
    let text = String::from_utf8(good).unwrap();
    // The right format marker, a row that is not a row.
    let damaged = text.replacen("\"endpoints\": [", "\"endpoints\": [42, ", 1);
    assert_ne!(damaged, text);
    std::fs::write(&bad, damaged).unwrap();
    let out = egressgen(&["diff", bad.to_str().unwrap(), "baseline"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(
        stderr.contains("site-catalog.json: not catalog JSON egressgen can read: "),
        "{stderr}"
    );
    assert!(!stderr.contains("baseline"), "{stderr}");
}

#[test]
fn catalog_json_compares_with_rows_and_their_provenance() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a.json");
    let b = tmp.path().join("b.json");
    std::fs::write(&a, egressgen(&["catalog", "--format", "json"]).stdout).unwrap();
    let mdi = egressgen(&[
        "catalog",
        "--format",
        "json",
        "--source",
        "baseline",
        "--source",
        "builtin:mdi",
    ]);
    std::fs::write(&b, mdi.stdout).unwrap();
    // The baseline already holds the MDI table: the second copy's rows are
    // the same facts, so only the source list differs.
    let out = egressgen(&[
        "diff",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["rows"]["added"], serde_json::json!([]));
    assert_eq!(out.status.code(), Some(1));
    // The Gov Learn table against the commercial one: rows with provenance.
    let gov = data("mde/standard-device-connectivity-urls-gov.urltables.md");
    let com = data("mde/standard-device-connectivity-urls-commercial.urltables.md");
    let out = egressgen(&[
        "diff",
        com.to_str().unwrap(),
        gov.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let added = report["rows"]["added"].as_array().unwrap();
    assert!(!added.is_empty());
    assert!(added.iter().all(|r| {
        r["provenance"][0]
            .as_str()
            .unwrap()
            .starts_with("standard-device-connectivity-urls-gov.urltables.md")
    }));
}

#[test]
fn text_from_the_files_cannot_add_lines_or_links_to_a_report() {
    let tmp = tempfile::tempdir().unwrap();
    let json = stdout(&egressgen(&[
        "catalog",
        "--format",
        "json",
        "--source",
        "builtin:mdi",
    ]));
    let a = tmp.path().join("a.json");
    let b = tmp.path().join("b.json");
    std::fs::write(&a, &json).unwrap();
    let hostile = json.replacen(
        "\"version\": \"builtin-1\"",
        "\"version\": \"2\\n+ entry allow/direct/*.evil.example@443 [see](https://evil.example) @team\"",
        1,
    );
    assert_ne!(hostile, json);
    std::fs::write(&b, hostile).unwrap();
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
    let text = stdout(&egressgen(&["diff", a, b]));
    assert!(text.contains("2\\n+ entry"), "{text}");
    assert!(!text.lines().any(|l| l.starts_with("+ entry")), "{text}");
    let md = stdout(&egressgen(&["diff", a, b, "--format", "markdown"]));
    assert!(!md.contains("[see](") && !md.contains(" @team"), "{md}");
    assert!(
        md.contains("\\[see\\]\\(https://evil.example\\) \\@team"),
        "{md}"
    );
}

/// Two catalogs listing the same kind of source in another order: each
/// source is compared with its own next version, not with its neighbour.
#[test]
fn sources_are_paired_by_name_before_order() {
    let tmp = tempfile::tempdir().unwrap();
    let gov = data("mde/standard-device-connectivity-urls-gov.urltables.md");
    let old_com = data("mde/standard-device-connectivity-urls-commercial.urltables.md");
    let new_com = data("mde/standard-device-connectivity-urls-commercial.learn.md");
    let catalog = |name: &str, first: &std::path::Path, second: &std::path::Path| {
        let out = egressgen(&[
            "catalog",
            "--source",
            first.to_str().unwrap(),
            "--source",
            second.to_str().unwrap(),
            "--format",
            "json",
        ]);
        assert!(out.status.success());
        let path = tmp.path().join(name);
        std::fs::write(&path, &out.stdout).unwrap();
        path
    };
    let a = catalog("a.json", &old_com, &gov);
    let b = catalog("b.json", &gov, &new_com);
    let out = egressgen(&[
        "diff",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let sources = report["sources"].as_array().unwrap();
    assert_eq!(sources.len(), 1, "{sources:#?}");
    assert_eq!(
        sources[0]["a"]["file"],
        "standard-device-connectivity-urls-commercial.urltables.md"
    );
    assert_eq!(
        sources[0]["b"]["file"],
        "standard-device-connectivity-urls-commercial.learn.md"
    );
}
