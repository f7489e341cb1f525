//! The `catalog` and `baseline` commands as a user runs them, the stable
//! JSON shape checked against docs/catalog.schema.json, and the built-in
//! baseline checked against the files it is derived from.

mod common;

use std::path::PathBuf;
use std::process::Output;

use common::{data, shared_data, specs};
use egressgen::generate::SourceCache;
use egressgen::sources::ReadOptions;
use egressgen::sources::baseline;
use egressgen::sources::catalog_json::{self, to_json};
use egressgen::sources::catalog_text::CSV_HEADER;

use common::egressgen;

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).expect("UTF-8 output")
}

/// Every real source file, plus the built-ins.
fn all_sources() -> Vec<String> {
    let mut specs: Vec<String> = [
        "mde/mde-urls_2021-03-25.xlsx",
        "mde/mde-streamlined-urls-commercial.xlsx",
        "mde/standard-device-connectivity-urls-commercial.urltables.md",
        "mde/standard-device-connectivity-urls-gov.urltables.md",
        "mde/standard-device-connectivity-urls-commercial.learn.md",
        "mde/streamlined-device-connectivity-urls-commercial.learn.md",
        "mde/streamlined-device-connectivity-urls-gov.learn.md",
        "servicetags/ServiceTags_Public_20251006.json",
        "servicetags/ServiceTags_Public_20251013.json",
        "servicetags/ServiceTags_AzureGovernment_20251013.json",
        "m365/get_endpoints_usgov_dod.json",
    ]
    .iter()
    .map(|f| data(f).display().to_string())
    .collect();
    specs.push("builtin:mma".into());
    specs.push("builtin:mdi".into());
    specs
}

fn schema_validator() -> jsonschema::Validator {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/catalog.schema.json");
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    jsonschema::validator_for(&schema).expect("schema compiles")
}

fn assert_valid(json: &str) {
    let value: serde_json::Value = serde_json::from_str(json).expect("JSON output parses");
    let validator = schema_validator();
    let errors: Vec<String> = validator
        .iter_errors(&value)
        .take(5)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
}

#[test]
fn baseline_is_shown_without_sources() {
    let table = stdout(&egressgen(&["catalog"]));
    // The eight files and tables of the baseline, plus the TLS guidance and
    // the service-tag hosts that join every catalog.
    assert!(table.starts_with("# sources (10)"), "{}", &table[..200]);
    assert!(table.contains("builtin:tls-guidance"));
    assert!(table.contains("builtin:tag-hosts"));
    assert!(table.contains("# service-tag hosts (5)"));
    assert!(table.contains("# TLS guidance (13)"));
    assert!(table.contains("storage-gov             *.blob.core.usgovcloudapi.net      inspect"));
    assert!(table.contains("<instance>sensorapi.atp.azure.com"));
    assert!(table.contains("<workspace-id>.ods.opinsights.azure.com"));
    assert!(table.contains("AzureAdvancedThreatProtection"));
    let json = stdout(&egressgen(&["catalog", "--format", "json"]));
    assert_valid(&json);
    let parsed = catalog_json::parse(&json).unwrap();
    assert_eq!(
        parsed,
        egressgen::sources::with_builtin_facts(baseline::load().unwrap())
    );
}

#[test]
fn json_output_of_every_real_file_matches_the_schema() {
    let mut args = vec!["catalog".to_string(), "--format".into(), "json".into()];
    for spec in all_sources() {
        args.push("--source".into());
        args.push(spec);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let json = stdout(&egressgen(&args));
    assert_valid(&json);
    // Two runs give byte-identical output.
    assert!(json == stdout(&egressgen(&args)), "two runs differ");
    // Reading the JSON back re-validates every name and gives the same
    // catalog.
    let catalog = SourceCache::new(ReadOptions::default())
        .catalog(&specs(&all_sources()))
        .unwrap();
    assert_eq!(catalog_json::parse(&json).unwrap(), catalog);
}

#[test]
fn csv_output_has_one_record_per_entry() {
    let m365 = data("m365/get_endpoints_usgov_dod.json")
        .display()
        .to_string();
    let text = stdout(&egressgen(&[
        "catalog", "--format", "csv", "--source", &m365,
    ]));
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_string)
        .collect();
    assert_eq!(header, CSV_HEADER);
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let count = |kind: &str| records.iter().filter(|r| &r[0] == kind).count();
    assert_eq!(
        (count("endpoint"), count("prefix"), count("rejected")),
        (82, 36, 4)
    );
    let rejected = records.iter().find(|r| &r[0] == "rejected").unwrap();
    assert_eq!(&rejected[15], "inner-wildcard");
    assert!(rejected[14].contains("$[2].urls[2]"));
}

#[test]
fn csv_fields_cannot_start_a_formula() {
    let dir = tempfile::tempdir().unwrap();
    let md = "| Service | URL |\n|-|-|\n| x | =cmd.example.com -a.example.com |\n";
    let path = common::xlsx::save(dir.path(), "t.md", md.as_bytes());
    let text = stdout(&egressgen(&[
        "catalog",
        "--format",
        "csv",
        "--source",
        path.to_str().unwrap(),
    ]));
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    for record in reader.records() {
        for field in record.unwrap().iter() {
            assert!(!field.starts_with(['=', '+', '-', '@']), "{field}");
        }
    }
}

#[test]
fn errors_name_the_file_and_exit_4() {
    let out = egressgen(&["catalog", "--source", "/nonexistent/mde-urls.xlsx"]);
    assert_eq!(out.status.code(), Some(4));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/mde-urls.xlsx"), "{err}");
    assert!(out.stdout.is_empty(), "no half-written output");

    // A misspelt built-in is a bad argument, named with the known ones.
    let out = egressgen(&["catalog", "--source", "builtin:nope"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unknown built-in source \"builtin:nope\" (known: baseline, builtin:mma"),
        "{err}"
    );
    let out = egressgen(&["catalog", "--tag", "bad tag"]);
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad tag"));
    let out = egressgen(&["catalog", "--min-prefix-v4", "0"]);
    assert_eq!(out.status.code(), Some(2), "clap rejects a /0 bound");
}

#[test]
fn strict_mode_fails_on_rejected_cells() {
    let m365 = data("m365/get_endpoints_usgov_dod.json")
        .display()
        .to_string();
    let out = egressgen(&["catalog", "--strict", "--source", &m365]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stdout).contains("# rejected (4)"));
    let tags = data("servicetags/ServiceTags_Public_20251013.json")
        .display()
        .to_string();
    let out = egressgen(&["catalog", "--strict", "--source", &tags]);
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn min_prefix_bound_is_configurable() {
    let dir = tempfile::tempdir().unwrap();
    let json = br#"{"changeNumber": 1, "cloud": "Public", "values": [{"name": "OneDsCollector", "id": "OneDsCollector", "properties": {"changeNumber": 1, "region": "", "addressPrefixes": ["20.0.0.0/12", "20.64.0.0/10"]}}]}"#;
    let path = common::xlsx::save(dir.path(), "tags.json", json);
    let path = path.to_str().unwrap();
    let strict = stdout(&egressgen(&[
        "catalog",
        "--format",
        "json",
        "--min-prefix-v4",
        "11",
        "--source",
        path,
    ]));
    let c = catalog_json::parse(&strict).unwrap();
    assert_eq!(c.prefixes.len(), 1);
    assert_eq!(c.rejected[0].code, "prefix-too-short");
}

/// The committed baseline is exactly what the pinned Microsoft files give:
/// regenerate it with `egressgen baseline` when they change.
#[test]
fn committed_baseline_matches_its_sources() {
    let rebuilt = to_json(&baseline::build(&shared_data()).unwrap());
    let committed = include_str!("../data/baseline.json");
    assert!(
        rebuilt == committed,
        "data/baseline.json is stale: run `cargo run -- baseline --data-dir ../shared/data --out data/baseline.json`"
    );
    let c = baseline::load().unwrap();
    let aatp = c
        .prefixes
        .iter()
        .filter(|p| p.tag == "AzureAdvancedThreatProtection")
        .count();
    assert_eq!(aatp, 168 + 15);
    assert!(c.sources.iter().all(|s| s.version.is_some()));
}

#[test]
fn baseline_command_writes_atomically() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("baseline.json");
    let data_dir = shared_data().display().to_string();
    stdout(&egressgen(&[
        "baseline",
        "--data-dir",
        &data_dir,
        "--out",
        out.to_str().unwrap(),
    ]));
    assert!(std::fs::read_to_string(&out).unwrap() == include_str!("../data/baseline.json"));
    // A failing run leaves the previous file as it was.
    let failed = egressgen(&[
        "baseline",
        "--data-dir",
        "/nonexistent",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(failed.status.code(), Some(4));
    assert!(std::fs::read_to_string(&out).unwrap() == include_str!("../data/baseline.json"));
}

#[test]
fn a_tampered_catalog_is_refused_on_load() {
    let json = baseline::load().map(|c| to_json(&c)).unwrap();
    let tampered = json.replacen(
        "\"pattern\": \"*.wns.windows.com\",\n        \"kind\": \"subdomains\",\n        \"name\": \"wns.windows.com\"",
        "\"pattern\": \"*.com\",\n        \"kind\": \"subdomains\",\n        \"name\": \"com\"",
        1,
    );
    assert_ne!(tampered, json, "the edit applied");
    assert!(catalog_json::parse(&tampered).is_err());
    let upper = json.replacen(
        "\"name\": \"wns.windows.com\"",
        "\"name\": \"WNS.windows.com\"",
        1,
    );
    assert_ne!(upper, json);
    assert!(catalog_json::parse(&upper).is_err());
}
