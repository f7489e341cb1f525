//! Microsoft's real files in ../shared/data: every endpoint cell is read,
//! per-sheet counts match the files, spot rows carry the right facts, and
//! nothing valid is reported as rejected.
//!
//! Expected counts were taken by hand from the cell dumps next to the
//! workbooks (`*.dump.tsv`) and from the Markdown pages: one entry per
//! URL in each Endpoint/URL cell.

mod common;

use common::{data, find, on_sheet, read, spot};
use egressgen::model::{Cloud, HostPattern, Product, Via};
use egressgen::sources::{ReadOptions, read_file};

#[test]
fn classic_workbook_sheets_and_spot_rows() {
    let c = read(&data("mde/mde-urls_2021-03-25.xlsx"));
    assert_eq!(on_sheet(&c, "Microsoft Defender URLs").len(), 100);
    assert_eq!(on_sheet(&c, "Microsoft Defender URLs - USGov").len(), 88);
    assert_eq!(on_sheet(&c, "Security Center URLs").len(), 9);
    assert_eq!(on_sheet(&c, "Security Center URLs - US Gov").len(), 14);
    assert_eq!(c.endpoints.len(), 211);
    assert!(c.rejected.is_empty(), "{:?}", c.rejected);
    assert_eq!(c.sources[0].layout.as_deref(), Some("classic"));
    // Change Log: serial 44245 is 2021-02-18.
    assert_eq!(c.sources[0].version.as_deref(), Some("2021-02-18"));

    let commercial = on_sheet(&c, "Microsoft Defender URLs");
    assert_eq!(
        spot(commercial[0]),
        "crl.microsoft.com|/pki/crl/|80|WW|windows=yes|Unspecified|Proxy"
    );
    let wns = commercial
        .iter()
        .find(|e| e.host.to_string() == "*.notify.windows.com")
        .unwrap();
    assert_eq!(wns.route, Via::Direct);
    let gw = commercial
        .iter()
        .find(|e| e.host.to_string() == "winatp-gw-cus.microsoft.com")
        .unwrap();
    assert_eq!(
        spot(gw),
        "winatp-gw-cus.microsoft.com|-|443|US|windows=yes windows-legacy=yes windows-server-mma=yes macos=yes linux=yes|Unspecified|Proxy"
    );
    assert_eq!(gw.provenance[0].cell.as_deref(), Some("E24"));
    // Suffix globs stay globs; scheme URLs keep their path.
    let glob = find(&c, "*smartscreen.microsoft.com");
    assert_eq!(glob.len(), 1);
    assert!(matches!(glob[0].host, HostPattern::SuffixGlob(_)));
    let crl = commercial
        .iter()
        .find(|e| e.path.as_deref() == Some("/pki/crl/products"))
        .unwrap();
    assert_eq!(
        spot(crl),
        "crl.microsoft.com|/pki/crl/products|80|WW||Unspecified|Proxy"
    );
    let mma = find(&c, "*.ods.opinsights.azure.com");
    assert_eq!(mma[0].product, Product::Mma);

    let gov = on_sheet(&c, "Microsoft Defender URLs - USGov");
    let gcc = gov
        .iter()
        .find(|e| e.host.to_string() == "unitedstates4.cp.wd.microsoft.us")
        .unwrap();
    assert_eq!(gcc.geography.as_str(), "GCC");
    assert_eq!(gcc.clouds, [Cloud::Gcc].into());
    assert_eq!(gcc.product, Product::Mdav);
    let usgov = gov[0];
    assert_eq!(usgov.geography.as_str(), "US Gov");
    assert_eq!(usgov.clouds, Cloud::GOV.into());
    let portal = on_sheet(&c, "Security Center URLs");
    assert!(portal.iter().all(|e| e.product == Product::Portal));
    assert_eq!(
        spot(portal[0]),
        "*.blob.core.windows.net|-|443|WW||Unspecified|Proxy"
    );
}

#[test]
fn streamlined_workbook_sheets_and_spot_rows() {
    let c = read(&data("mde/mde-streamlined-urls-commercial.xlsx"));
    assert_eq!(on_sheet(&c, "Common endpoints").len(), 27);
    assert_eq!(on_sheet(&c, "Windows 1607 to 1803").len(), 45);
    assert_eq!(on_sheet(&c, "Windows 7, 8.1, 2008R2 (MMA) ").len(), 15);
    assert_eq!(on_sheet(&c, "Admin portal").len(), 8);
    assert_eq!(c.endpoints.len(), 95);
    assert!(c.rejected.is_empty(), "{:?}", c.rejected);
    assert_eq!(c.sources[0].layout.as_deref(), Some("streamlined"));
    // Change Log: latest serial 45418 is 2024-05-06.
    assert_eq!(c.sources[0].version.as_deref(), Some("2024-05-06"));

    // The IP addresses sheet names service tags.
    let tags: Vec<&str> = c.tag_refs.iter().map(|t| t.tag.as_str()).collect();
    assert_eq!(tags, ["MicrosoftDefenderForEndpoint", "OneDsCollector"]);

    let common = on_sheet(&c, "Common endpoints");
    // Several URLs in one cell: three entries from C6.
    let c6: Vec<String> = common
        .iter()
        .filter(|e| e.provenance[0].cell.as_deref() == Some("C6"))
        .map(|e| e.host.to_string())
        .collect();
    assert_eq!(
        c6,
        [
            "*.smartscreen.microsoft.com",
            "*.checkappexec.microsoft.com",
            "*.urs.microsoft.com"
        ]
    );
    // Continuation rows under merged Service/Port/OS cells (A22:A24).
    let ctl = common
        .iter()
        .find(|e| e.host.to_string() == "ctldl.windowsupdate.com")
        .unwrap();
    assert_eq!(
        spot(ctl),
        "ctldl.windowsupdate.com|-|80|WW|windows=yes|Required|Proxy"
    );
    assert_eq!(
        ctl.service.as_deref(),
        Some("Windows operating system certificate validation checks")
    );
    let pki: Vec<String> = common
        .iter()
        .filter(|e| e.provenance[0].cell.as_deref() == Some("C22"))
        .map(|e| spot(e))
        .collect();
    assert_eq!(
        pki,
        [
            "www.microsoft.com|/pkiops/|80|WW|windows=yes|Required|Proxy",
            "www.microsoft.com|/pki/|80|WW|windows=yes|Required|Proxy"
        ]
    );
    let live: Vec<&str> = common
        .iter()
        .filter(|e| e.route == Via::Direct)
        .map(|e| e.provenance[0].cell.as_deref().unwrap())
        .collect();
    assert_eq!(live, ["C28", "C28", "C28"]);
    let scanner = common
        .iter()
        .find(|e| e.path.as_deref() == Some("/networkscannerstable/"))
        .unwrap();
    assert_eq!(scanner.host.to_string(), "*.blob.core.windows.net");
    let all_os = find(&c, "*.endpoint.security.microsoft.com");
    assert_eq!(
        spot(all_os[0]),
        "*.endpoint.security.microsoft.com|-|443|WW|windows=yes macos=yes linux=yes|Required|Proxy"
    );

    // MMA sheet: Category merged down A11:A14, port merged B11:B14.
    let mma = on_sheet(&c, "Windows 7, 8.1, 2008R2 (MMA) ");
    let cus3 = mma
        .iter()
        .find(|e| e.host.to_string() == "winatp-gw-cus3.microsoft.com")
        .unwrap();
    assert_eq!(
        cus3.category.as_deref(),
        Some("Microsoft Defender for Endpoint US")
    );
    assert_eq!(cus3.ports, [443].into());
    let agents = mma.iter().filter(|e| e.product == Product::Mma).count();
    assert_eq!(agents, 3);

    let w1607 = on_sheet(&c, "Windows 1607 to 1803");
    assert_eq!(
        spot(w1607[0]),
        "settings-win.data.microsoft.com|-|443|WW||Optional|Proxy"
    );
    let au = w1607
        .iter()
        .find(|e| e.host.to_string() == "au-v20.events.data.microsoft.com")
        .unwrap();
    assert_eq!(
        spot(au),
        "au-v20.events.data.microsoft.com|-|443|AU|macos=yes|Required|Proxy"
    );
}

#[test]
fn learn_table_commercial() {
    let c = read(&data(
        "mde/standard-device-connectivity-urls-commercial.urltables.md",
    ));
    assert_eq!(on_sheet(&c, "Microsoft Defender URLs").len(), 96);
    assert_eq!(on_sheet(&c, "Defender portal URLs").len(), 9);
    assert!(c.rejected.is_empty(), "{:?}", c.rejected);
    assert_eq!(c.sources[0].version.as_deref(), Some("2025-10-16"));

    let go = find(&c, "go.microsoft.com")[0];
    // A quoted comment running over two lines stays one row.
    assert_eq!(
        spot(go),
        "go.microsoft.com|-|443|WW|windows=yes* windows-legacy=yes* windows-server-mma=yes* macos=yes linux=yes|Required|Proxy"
    );
    assert!(
        go.comments
            .as_deref()
            .unwrap()
            .contains("Required for Mac and Linux")
    );
    let scanner = find(&c, "*.blob.core.windows.net")
        .into_iter()
        .find(|e| e.path.is_some())
        .unwrap();
    assert_eq!(scanner.path.as_deref(), Some("/networkscannerstable/"));
    let core = find(&c, "*.events.data.microsoft.com")[0];
    assert_eq!(
        spot(core),
        "*.events.data.microsoft.com|-|443|WW|windows=yes windows-legacy=no windows-server-mma=yes macos=no linux=no|Required|Proxy"
    );
    let au = find(&c, "winatp-gw-aue.microsoft.com")[0];
    assert_eq!(au.geography.as_str(), "AU");
    assert_eq!(au.clouds, [Cloud::Commercial].into());
    // The last row has no closing pipe.
    let last = find(&c, "*.endpoint.security.microsoft.com")[0];
    assert!(
        last.comments
            .as_deref()
            .unwrap()
            .starts_with("Only required")
    );
}

#[test]
fn learn_table_gov_tolerates_ragged_rows() {
    let c = read(&data(
        "mde/standard-device-connectivity-urls-gov.urltables.md",
    ));
    assert_eq!(on_sheet(&c, "Microsoft Defender URLs").len(), 58);
    assert_eq!(on_sheet(&c, "Security center URLs").len(), 14);
    assert!(c.rejected.is_empty(), "{:?}", c.rejected);

    // A TAB where a pipe belongs ("...Storage<TAB>Required") is split.
    let autoir = find(&c, "automatedirstrfmusmt.blob.core.usgovcloudapi.net")[0];
    assert_eq!(autoir.required, egressgen::model::Requirement::Required);
    assert_eq!(
        autoir.description.as_deref(),
        Some("Microsoft Defender for Endpoint AutoIR Sample Storage")
    );
    assert!(autoir.notes.iter().any(|n| n.contains("TAB")));
    // A comment in an OS column is recognized as a comment.
    let login = find(&c, "login.microsoftonline.com")
        .into_iter()
        .find(|e| e.product != Product::Portal)
        .unwrap();
    assert_eq!(login.route, Via::Direct);
    assert_eq!(login.os.len(), 1);
    assert!(login.notes.iter().any(|n| n.starts_with("ragged row")));
    // Leading TABs in cells are whitespace.
    let crl = find(&c, "crl.microsoft.com")[0];
    assert_eq!(
        spot(crl).split('|').take(4).collect::<Vec<_>>(),
        ["crl.microsoft.com", "/pki/crl/", "80", "US Gov"]
    );
    let gcch = find(&c, "unitedstates1.cp.wd.microsoft.us")[0];
    assert_eq!(gcch.clouds, [Cloud::GccHigh].into());
    // WW in a Gov table applies to the Gov clouds.
    let ww = find(&c, "*.endpoint.security.microsoft.com")[0];
    assert_eq!(ww.clouds, Cloud::GOV.into());
}

#[test]
fn service_tag_prefix_counts() {
    let count = |file: &str, tag: &str| {
        let c = read(&data(file));
        c.prefixes.iter().filter(|p| p.tag == tag).count()
    };
    let aatp = "AzureAdvancedThreatProtection";
    assert_eq!(
        count("servicetags/ServiceTags_Public_20251006.json", aatp),
        166
    );
    assert_eq!(
        count("servicetags/ServiceTags_Public_20251013.json", aatp),
        168
    );
    assert_eq!(
        count(
            "servicetags/ServiceTags_AzureGovernment_20251013.json",
            aatp
        ),
        15
    );
    assert_eq!(
        count(
            "servicetags/ServiceTags_Public_20251013.json",
            "MicrosoftDefenderForEndpoint"
        ),
        27
    );
    assert_eq!(
        count(
            "servicetags/ServiceTags_AzureGovernment_20251013.json",
            "MicrosoftDefenderForEndpoint"
        ),
        8
    );

    let c = read(&data("servicetags/ServiceTags_Public_20251013.json"));
    assert!(c.rejected.is_empty());
    let info = &c.sources[0];
    assert_eq!(info.change_number, Some(373));
    assert_eq!(info.cloud.as_deref(), Some("Public"));
    let aatp_info = info.tags.iter().find(|t| t.name == aatp).unwrap();
    assert_eq!((aatp_info.change_number, aatp_info.prefixes), (36, 168));
    let added = c
        .prefixes
        .iter()
        .find(|p| p.net.to_string() == "48.198.80.24/29")
        .unwrap();
    assert_eq!(added.tag, aatp);
    assert_eq!(added.change_number, Some(36));
    assert!(
        added
            .provenance
            .json_path
            .as_deref()
            .unwrap()
            .starts_with("$.values[")
    );

    let gov = read(&data(
        "servicetags/ServiceTags_AzureGovernment_20251013.json",
    ));
    assert_eq!(gov.sources[0].change_number, Some(370));
    assert!(gov.prefixes.iter().all(|p| p.clouds == Cloud::GOV.into()));
}

#[test]
fn user_named_tags_and_regional_variants() {
    let opts = ReadOptions {
        extra_tags: vec!["AzureMonitor".to_string()],
        ..Default::default()
    };
    let c = read_file(&data("servicetags/ServiceTags_Public_20251013.json"), &opts).unwrap();
    let regional = c
        .prefixes
        .iter()
        .filter(|p| p.tag.starts_with("AzureMonitor."))
        .count();
    assert!(
        regional > 0,
        "regional AzureMonitor.<region> tags are selected"
    );
    let region = c
        .prefixes
        .iter()
        .find(|p| p.tag.starts_with("AzureMonitor."))
        .and_then(|p| p.region.clone());
    assert!(region.is_some());
}

#[test]
fn m365_endpoint_sets() {
    let c = read(&data("m365/get_endpoints_usgov_dod.json"));
    assert_eq!(c.endpoints.len(), 82);
    assert_eq!(c.prefixes.len(), 36);
    // The only rejections are the mid-name wildcards our model cannot hold.
    assert_eq!(c.rejected.len(), 4);
    assert!(c.rejected.iter().all(|r| r.code == "inner-wildcard"));
    assert_eq!(
        c.rejected[0].provenance.json_path.as_deref(),
        Some("$[2].urls[2]")
    );
    let teams = find(&c, "*.dod.teams.microsoft.us")[0];
    assert_eq!(teams.ports, [443].into());
    assert_eq!(teams.clouds, [Cloud::Dod].into());
    assert!(teams.notes.iter().any(|n| n.contains("UDP")));
    let exo = find(&c, "outlook-dod.office365.us");
    assert_eq!(exo[0].ports, [80, 443].into());
    assert_eq!(exo[1].ports, [25, 143, 587, 993, 995].into());
}

/// The standard layout as a workbook: the commercial Learn table written
/// out as the `mde-urls-commercial.xlsx` successor would hold it (same
/// headers, one row per table row), then read back by the workbook reader.
#[test]
fn standard_layout_workbook_reads_like_the_learn_table() {
    use common::xlsx::{Sheet, save, workbook};
    use egressgen::model::{Os, OsFlag};

    let md = read(&data(
        "mde/standard-device-connectivity-urls-commercial.urltables.md",
    ));
    let rows: Vec<&egressgen::model::Endpoint> = on_sheet(&md, "Microsoft Defender URLs");
    let header = [
        "Service",
        "Geography",
        "Category",
        "Port",
        "Endpoint/URL",
        "Endpoint/URL Description",
        "Required or Optional",
        "Windows 10, 11; Server 2022, 2019, 2016 (Unified Agent); Server 2012 R2 (Unified Agent) ",
        "Windows 7, 8.1",
        "Windows Server 2008 R2, 2012 R2, 2016 (MMA Based)",
        "Mac",
        "Linux",
        "Comments",
    ];
    let mut sheet = Sheet::new("Microsoft Defender URLs").row(&header);
    for e in &rows {
        let url = format!("{}{}", e.host, e.path.as_deref().unwrap_or(""));
        let ports: Vec<String> = e.ports.iter().map(u16::to_string).collect();
        let flag = |os: Os| match e.os.get(&os) {
            Some(OsFlag::Yes) => "Yes",
            Some(OsFlag::Conditional) => "Yes*",
            Some(OsFlag::No) => "No",
            None => "",
        };
        let required = format!("{:?}", e.required);
        sheet = sheet.row(&[
            e.service.as_deref().unwrap_or(""),
            e.geography.as_str(),
            e.category.as_deref().unwrap_or(""),
            &ports.join(", "),
            &url,
            e.description.as_deref().unwrap_or(""),
            &required,
            flag(Os::Windows),
            flag(Os::WindowsLegacy),
            flag(Os::WindowsServerMma),
            flag(Os::Macos),
            flag(Os::Linux),
            e.comments.as_deref().unwrap_or(""),
        ]);
    }
    let dir = tempfile::tempdir().unwrap();
    let xlsx = read(&save(
        dir.path(),
        "mde-urls-commercial.xlsx",
        &workbook(&[sheet]),
    ));
    assert_eq!(xlsx.sources[0].layout.as_deref(), Some("standard"));
    assert!(xlsx.rejected.is_empty());
    let from_md: Vec<String> = rows.iter().map(|e| spot(e)).collect();
    let from_xlsx: Vec<String> = xlsx.endpoints.iter().map(spot).collect();
    assert_eq!(from_xlsx, from_md);
    for (a, b) in xlsx.endpoints.iter().zip(&rows) {
        assert_eq!(
            (a.product, &a.comments, &a.clouds),
            (b.product, &b.comments, &b.clouds)
        );
    }
}
