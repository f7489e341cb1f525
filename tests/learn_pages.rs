//! Microsoft's current Learn pages, read completely: every host name in an
//! endpoint column reaches the catalog, tables are found by what their
//! headers mean, a table that cannot be recognised but holds host names is
//! never dropped in silence, and the UAE geographies are selectable with
//! Microsoft's own labelling mistake reported.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use common::{data, egressgen, find, fixture, read, spot};
use egressgen::model::{Catalog, Cloud, Os, OsFlag, Via};
use egressgen::sources::{ReadOptions, read_file};
use regex::Regex;

const NEW_PAGES: [&str; 3] = [
    "mde/standard-device-connectivity-urls-commercial.learn.md",
    "mde/streamlined-device-connectivity-urls-commercial.learn.md",
    "mde/streamlined-device-connectivity-urls-gov.learn.md",
];

/// One table as a plain reading of the Markdown sees it: its heading, its
/// data rows, and the host names of its endpoint column.
struct RawTable {
    heading: String,
    rows: usize,
    hosts: BTreeSet<String>,
}

/// Reads the tables of a page without egressgen: a table is a `|` line
/// followed by a `|-` line; its endpoint column is the one whose header
/// says URL or Endpoint and not Description; a cell's host names are its
/// words (after removing Markdown escapes, code spans and `<br>`) that look
/// like `[*][.]label.label...`, with any scheme and path cut off.
fn raw_tables(text: &str) -> Vec<RawTable> {
    let host = Regex::new(r"^\*?\.?[a-z0-9-]+(\.[a-z0-9-]+)+$").unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mut tables = Vec::new();
    let mut heading = String::new();
    let mut i = 0;
    while i < lines.len() {
        if let Some(h) = lines[i].strip_prefix('#') {
            heading = h.trim_start_matches('#').trim().to_string();
        }
        let is_table = lines[i].starts_with('|')
            && lines
                .get(i + 1)
                .is_some_and(|l| l.starts_with("|-") || l.starts_with("|:"));
        if !is_table {
            i += 1;
            continue;
        }
        let header: Vec<String> = cells(lines[i]);
        let col = header.iter().position(|h| {
            let h = h.to_lowercase();
            (h.contains("url") || h.contains("endpoint")) && !h.contains("description")
        });
        let mut table = RawTable {
            heading: heading.clone(),
            rows: 0,
            hosts: BTreeSet::new(),
        };
        i += 2;
        while i < lines.len() && lines[i].starts_with('|') {
            table.rows += 1;
            if let Some(cell) = col.and_then(|c| cells(lines[i]).get(c).cloned()) {
                let cleaned = cell.replace("<br>", " ").replace(['`', '\\'], "");
                for word in cleaned.split_whitespace() {
                    let word = word.to_lowercase();
                    let word = word
                        .strip_prefix("https://")
                        .or_else(|| word.strip_prefix("http://"))
                        .unwrap_or(&word);
                    let name = word.split('/').next().unwrap_or("").trim_end_matches('.');
                    if host.is_match(name) {
                        table.hosts.insert(name.to_string());
                    }
                }
            }
            i += 1;
        }
        tables.push(table);
    }
    tables
}

fn cells(line: &str) -> Vec<String> {
    let inner = line.trim().trim_start_matches('|');
    inner.split('|').map(|c| c.trim().to_string()).collect()
}

/// The catalog's host patterns per table (Markdown section).
fn catalog_tables(c: &Catalog) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for e in &c.endpoints {
        let sheet = e.provenance[0].sheet.clone().unwrap_or_default();
        out.entry(sheet).or_default().insert(e.host.to_string());
    }
    out
}

/// Data rows per endpoint table, as ../shared/data/PROVENANCE.md records
/// them for each file (tables without an endpoint column left out).
fn published_rows(page: &str) -> Vec<(&'static str, usize)> {
    match page {
        "mde/standard-device-connectivity-urls-commercial.learn.md" => {
            vec![
                ("Microsoft Defender URLs", 102),
                ("Defender portal URLs", 9),
            ]
        }
        "mde/streamlined-device-connectivity-urls-commercial.learn.md" => vec![
            ("URLs used for core functionality", 4),
            ("URLs used for updates", 4),
            ("URLs used for certificate validation checks", 3),
            ("Other URLs", 2),
            ("Windows 1607 to 1803", 46),
            ("Windows 7, 8.1, 2008R2 (MMA)", 5),
            ("Defender portal URLs", 8),
        ],
        "mde/streamlined-device-connectivity-urls-gov.learn.md" => vec![
            ("General URLs", 7),
            ("URLs used for updates", 6),
            ("URLs used for certificate validation checks", 4),
            ("Other URLs", 3),
            ("Security center URLs", 14),
        ],
        other => panic!("no provenance for {other}"),
    }
}

#[test]
fn every_host_of_every_endpoint_table_reaches_the_catalog() {
    for page in NEW_PAGES {
        let path = data(page);
        let text = std::fs::read_to_string(&path).unwrap();
        let catalog = read(&path);
        let by_table = catalog_tables(&catalog);
        let raw: Vec<RawTable> = raw_tables(&text)
            .into_iter()
            .filter(|t| !t.hosts.is_empty())
            .collect();
        let shape: Vec<(&str, usize)> = raw.iter().map(|t| (t.heading.as_str(), t.rows)).collect();
        assert_eq!(shape, published_rows(page), "{page}: tables and rows");
        for t in &raw {
            let got = by_table.get(&t.heading).cloned().unwrap_or_default();
            assert_eq!(got, t.hosts, "{page}, table {:?}", t.heading);
        }
        let tables: BTreeSet<&String> = raw.iter().map(|t| &t.heading).collect();
        assert_eq!(tables, by_table.keys().collect(), "{page}: no other tables");
        assert!(
            catalog.rejected.is_empty(),
            "{page}: {:?}",
            catalog.rejected
        );
        assert!(catalog.notes.is_empty(), "{page}: {:?}", catalog.notes);
    }
}

#[test]
fn the_streamlined_update_table_under_its_new_header_is_read() {
    let c = read(&data(NEW_PAGES[1]));
    assert_eq!(c.sources[0].layout.as_deref(), Some("streamlined"));
    assert_eq!(c.sources[0].version.as_deref(), Some("2025-12-25"));
    for host in [
        "packages.microsoft.com",
        "officecdn-microsoft-com.akamaized.net",
        "go.microsoft.com",
        "definitionupdates.microsoft.com",
        "*.update.microsoft.com",
        "*.delivery.mp.microsoft.com",
        "*.download.windowsupdate.com",
        "*.download.microsoft.com",
    ] {
        let found = find(&c, host);
        assert_eq!(found.len(), 1, "{host}");
        assert_eq!(
            found[0].provenance[0].sheet.as_deref(),
            Some("URLs used for updates")
        );
    }
    // The single OS column: `Linux` names Linux only.
    let linux = find(&c, "packages.microsoft.com")[0];
    assert_eq!(linux.os, [(Os::Linux, OsFlag::Yes)].into());
    // "This service can't be used through a proxy" in the Description.
    assert_eq!(find(&c, "*.wns.windows.com")[0].route, Via::Direct);
}

#[test]
fn the_gov_streamlined_page_keeps_its_os_columns_and_geographies() {
    let c = read(&data(NEW_PAGES[2]));
    assert_eq!(c.sources[0].layout.as_deref(), Some("streamlined"));
    let core = find(&c, "*.endpoint.security.microsoft.us")[0];
    assert_eq!(
        spot(core),
        "*.endpoint.security.microsoft.us|-|443|US Gov|windows=yes windows-legacy=no windows-server-mma=yes macos=yes linux=yes|Required|Proxy"
    );
    // `GCC Mod` is GCC (Moderate); `USGov` and `US Gov` are one value.
    let gccmod = find(&c, "gccmod.ecs.office.com")[0];
    assert_eq!(gccmod.geography.as_str(), "GCC");
    assert_eq!(gccmod.clouds, [Cloud::Gcc].into());
    let geos: BTreeSet<&str> = c.endpoints.iter().map(|e| e.geography.as_str()).collect();
    assert_eq!(geos, ["DoD", "GCC", "GCC High", "US Gov"].into());
    // The note above "Other URLs" says Direct Connection/Proxy bypass.
    let wns = find(&c, "*.wns.windows.com")[0];
    assert_eq!(wns.route, Via::Direct);
    assert!(wns.notes.iter().any(|n| n.contains("note above the table")));
}

#[test]
fn renamed_headers_are_read_by_meaning() {
    let c = read(&fixture("learn-renamed-headers.md"));
    assert_eq!(c.sources[0].layout.as_deref(), Some("streamlined"));
    let hosts: Vec<String> = c.endpoints.iter().map(|e| e.host.to_string()).collect();
    assert_eq!(
        hosts,
        [
            "packages.example.com",
            "go.example.com",
            "definitions.example.com",
            "www.example.com",
            "*.wns.example.com",
            "login.example.com",
            "winatp-gw-aec0a.example.com",
            "automatedirstrprdaen0a.blob.example.net",
            "gccmod.example.com",
        ]
    );
    let wns = find(&c, "*.wns.example.com")[0];
    assert_eq!(
        spot(wns),
        "*.wns.example.com|-|443|WW|windows=yes windows-legacy=no windows-server-mma=no|Unspecified|Direct"
    );
    assert_eq!(wns.comments.as_deref(), Some("Push notifications"));
    let aec = find(&c, "winatp-gw-aec0a.example.com")[0];
    assert_eq!(aec.geography.as_str(), "AEC");
    assert!(
        aec.notes
            .iter()
            .any(|n| n == "geography \"Azure UAE Central (AEC)\" read as AEC"),
        "{:?}",
        aec.notes
    );
    assert_eq!(c.inconsistencies.len(), 1);
    let i = &c.inconsistencies[0];
    assert_eq!(
        (i.host.as_str(), i.labelled.as_str(), i.implied.as_str()),
        ("automatedirstrprdaen0a.blob.example.net", "AU", "AEN")
    );
    assert_eq!(i.provenance.line, Some(30));
}

#[test]
fn an_unrecognised_table_holding_hosts_is_an_error_with_file_and_line() {
    let path = fixture("learn-unknown-header.md");
    let err = read_file(&path, &ReadOptions::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("learn-unknown-header.md: line 18:"), "{err}");
    assert!(err.contains("(Ziel | Beschreibung)"), "{err}");
    assert!(err.contains("*.ziel.example.com"), "{err}");
    // The CLI exits non-zero with the same message, and writes nothing.
    let out = egressgen(&["catalog", "--source", path.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 18"));

    // Under the documented option: skipped, with a note saying where.
    let opts = ReadOptions {
        skip_unknown_tables: true,
        ..Default::default()
    };
    let c = read_file(&path, &opts).unwrap();
    let hosts: Vec<String> = c.endpoints.iter().map(|e| e.host.to_string()).collect();
    assert_eq!(hosts, ["core.example.com"]);
    assert_eq!(c.notes.len(), 1);
    assert_eq!(c.notes[0].provenance.line, Some(18));
    assert!(c.notes[0].message.starts_with("table skipped"));
    let out = egressgen(&[
        "catalog",
        "--skip-unknown-tables",
        "--source",
        path.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("table skipped"));
}

#[test]
fn a_workbook_sheet_with_an_unrecognised_header_is_an_error_with_sheet_and_cell() {
    use common::xlsx::{Sheet, save, workbook};
    let sheet = Sheet::new("Neue URLs")
        .row(&["Dienst", "Ziel"])
        .row(&["Kern", "core.example.com"]);
    let known = Sheet::new("Microsoft Defender URLs")
        .row(&["Service", "Port", "Endpoint/URL"])
        .row(&["MDE", "443", "known.example.com"]);
    let dir = tempfile::tempdir().unwrap();
    let path = save(dir.path(), "renamed.xlsx", &workbook(&[known, sheet]));
    let err = read_file(&path, &ReadOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("renamed.xlsx: sheet \"Neue URLs\", cell B2:"),
        "{err}"
    );
    assert!(err.contains("(Dienst | Ziel)"), "{err}");
    let opts = ReadOptions {
        skip_unknown_tables: true,
        ..Default::default()
    };
    let c = read_file(&path, &opts).unwrap();
    assert_eq!(c.endpoints.len(), 1);
    assert_eq!(c.notes[0].provenance.cell.as_deref(), Some("B2"));
}

/// Generates one site of the real standard page and returns its output
/// directory's policy and loss report.
fn site(dir: &Path, name: &str, geographies: &str) -> (serde_json::Value, String, String) {
    let ruleset = dir.join(format!("{name}.toml"));
    std::fs::write(
        &ruleset,
        format!(
            "name = \"{name}\"\n[sources]\nfiles = [{:?}]\n[scope]\ncloud = \"commercial\"\ngeographies = {geographies}\n[outputs.plain]\n",
            data(NEW_PAGES[0]).display().to_string()
        ),
    )
    .unwrap();
    let out = dir.join(name);
    let run = egressgen(&[
        "generate",
        ruleset.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let policy = std::fs::read_to_string(out.join("policy.json")).unwrap();
    let loss = std::fs::read_to_string(out.join("loss-report.md")).unwrap();
    (
        serde_json::from_str(&policy).unwrap(),
        loss,
        String::from_utf8_lossy(&run.stderr).into_owned(),
    )
}

fn patterns(policy: &serde_json::Value) -> BTreeSet<String> {
    policy["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["host"]["pattern"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_uae_site_gets_the_uae_gateways_and_hears_of_the_au_labels() {
    let dir = tempfile::tempdir().unwrap();
    let (policy, loss, stderr) = site(dir.path(), "uae", r#"["UAE"]"#);
    let hosts = patterns(&policy);
    assert!(hosts.contains("winatp-gw-aec0a.microsoft.com"), "{hosts:?}");
    assert!(hosts.contains("winatp-gw-aen0a.microsoft.com"));
    // Labelled AU by Microsoft: kept as published, so not here...
    assert!(!hosts.contains("automatedirstrprdaec0a.blob.core.windows.net"));
    assert!(!hosts.iter().any(|h| h.starts_with("winatp-gw-au")));
    // ...but reported everywhere the site looks.
    let reported = policy["report"]["inconsistencies"].as_array().unwrap();
    let named: BTreeSet<&str> = reported
        .iter()
        .map(|i| i["host"].as_str().unwrap())
        .collect();
    assert_eq!(
        named,
        [
            "automatedirstrprdaec0a.blob.core.windows.net",
            "automatedirstrprdaen0a.blob.core.windows.net"
        ]
        .into()
    );
    assert!(loss.contains("## Source inconsistencies"), "{loss}");
    assert!(loss.contains("`automatedirstrprdaec0a.blob.core.windows.net` | AU | AEC |"));
    assert!(
        stderr.contains("warning: source inconsistency: automatedirstrprdaen0a.blob.core.windows.net is labelled AU"),
        "{stderr}"
    );

    // The codes and the long labels select the same rows.
    let (by_code, ..) = site(
        dir.path(),
        "uae-codes",
        r#"["AEC", "Azure UAE North (AEN)"]"#,
    );
    assert_eq!(patterns(&by_code), hosts);
}

#[test]
fn an_au_site_gets_the_au_labelled_uae_hosts_with_the_same_report() {
    let dir = tempfile::tempdir().unwrap();
    let (policy, loss, stderr) = site(dir.path(), "au", r#"["AU"]"#);
    let hosts = patterns(&policy);
    assert!(hosts.contains("automatedirstrprdaec0a.blob.core.windows.net"));
    assert!(!hosts.contains("winatp-gw-aec0a.microsoft.com"));
    assert_eq!(
        policy["report"]["inconsistencies"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert!(loss.contains("## Source inconsistencies"));
    assert!(stderr.contains("is labelled AU, but its name is that of region AEC"));

    // A site in neither hears nothing of it.
    let (eu, eu_loss, eu_err) = site(dir.path(), "eu", r#"["EU"]"#);
    assert!(eu["report"].get("inconsistencies").is_none());
    assert!(!eu_loss.contains("inconsistenc"));
    assert!(!eu_err.contains("inconsistency"));
}

#[test]
fn the_baseline_serves_a_streamlined_gov_site_offline() {
    use egressgen::policy::resolve;
    use egressgen::ruleset::Ruleset;
    let r = Ruleset::parse(
        "name = \"gcc-streamlined\"\n[scope]\ncloud = \"gcc\"\nconnectivity = \"streamlined\"\n",
        Path::new("gcc.toml"),
    )
    .unwrap();
    let catalog = egressgen::generate::SourceCache::new(Default::default())
        .catalog(&[])
        .unwrap();
    let p = resolve(&catalog, &r.site);
    let hosts: BTreeSet<String> = p.entries.iter().map(|e| e.host.to_string()).collect();
    assert!(
        hosts.contains("*.endpoint.security.microsoft.us"),
        "{hosts:?}"
    );
    assert!(hosts.contains("unitedstates4.ss.wd.microsoft.us"));
    // GCC Mod is GCC: its Linux configuration host is this site's...
    assert!(hosts.contains("gccmod.ecs.office.com"));
    // ...and the other Gov clouds' own hosts are not.
    assert!(!hosts.contains("unitedstates1.ss.wd.microsoft.us"));
    assert!(!hosts.contains("config.ecs.dod.teams.microsoft.us"));
    assert!(
        !hosts
            .iter()
            .any(|h| h.ends_with("endpoint.security.microsoft.com"))
    );
    // Every entry comes from a streamlined source or a built-in table.
    let layouts: BTreeMap<&str, Option<&str>> = catalog
        .sources
        .iter()
        .map(|s| (s.file.as_str(), s.layout.as_deref()))
        .collect();
    for e in &p.entries {
        for prov in &e.provenance {
            let layout = layouts.get(prov.file.as_str()).copied().flatten();
            assert!(
                layout.is_none() || layout == Some("streamlined"),
                "{} from {} ({layout:?})",
                e.host,
                prov.file
            );
        }
    }
    // The baseline records the versions it was built from.
    let versions: BTreeSet<(String, Option<String>)> = catalog
        .sources
        .iter()
        .filter(|s| s.file.ends_with(".md"))
        .map(|s| (s.file.clone(), s.version.clone()))
        .collect();
    let v = |f: &str, d: &str| (f.to_string(), Some(d.to_string()));
    assert_eq!(
        versions,
        [
            v(
                "standard-device-connectivity-urls-commercial.learn.md",
                "2026-03-11"
            ),
            v(
                "standard-device-connectivity-urls-gov.urltables.md",
                "2025-10-16"
            ),
            v(
                "streamlined-device-connectivity-urls-commercial.learn.md",
                "2025-12-25"
            ),
            v(
                "streamlined-device-connectivity-urls-gov.learn.md",
                "2025-12-25"
            ),
        ]
        .into()
    );
}

/// A header taken for another kind of table (here `Path` makes it look
/// like a process list) does not hide host names: the read fails and
/// says where.
#[test]
fn a_foreign_looking_table_of_hosts_is_not_dropped() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("page.md");
    std::fs::write(
        &path,
        "---\ntitle: Example\n---\n\n|Service|Port|Endpoint/URL|\n|-|-|-|\n|Core|443|core.example.com|\n\n|Service|Address|Path|\n|-|-|-|\n|Core|core2.example.com|/x|\n",
    )
    .unwrap();
    let err = read_file(&path, &ReadOptions::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("page.md: line 9:"), "{err}");
    assert!(err.contains("core2.example.com"), "{err}");
}
