//! Workbooks of our own, written by rust_xlsxwriter in the test, one per
//! layout, with every odd cell form the readers must handle.

mod common;

use common::xlsx::{Sheet, save, workbook};
use common::{find, on_sheet, read, spot};
use egressgen::model::{Cloud, HostPattern, Os, OsFlag, Product, Via};

const CLASSIC_HEADER: [&str; 12] = [
    "Service",
    "Geography",
    "Category",
    "Port",
    "Endpoint/URL",
    "Endpoint/URL Description ",
    "Windows 10 / Server 2019",
    "Windows 7 / 8.1",
    "Windows Server 2008 R2 / 2012 R2 / 2016",
    "Mac",
    "Linux",
    "Comments",
];

fn classic() -> Vec<u8> {
    let mde = "Microsoft Defender for Endpoint";
    let urls = Sheet::new("Microsoft Defender URLs")
        .row(&CLASSIC_HEADER)
        .row(&[
            mde,
            "WW",
            "Common",
            "80",
            "crl.microsoft.com/pki/crl/*",
            "CRL",
            "Yes",
            "",
            "",
            "",
            "",
            "",
        ])
        .row(&[
            mde,
            "WW",
            "Common",
            "443",
            "*.wns.windows.com",
            "WNS",
            "Yes",
            "",
            "",
            "",
            "",
            "Required (Direct Connection/Proxy bypass required)",
        ])
        .row(&[
            mde,
            "US",
            "MDE US",
            "80, 443",
            "WINATP-GW-CUS.Microsoft.COM.",
            "C2",
            "Yes",
            "Yes*",
            "No",
            "Yes",
            "Yes",
            "",
        ])
        .row(&[
            "Microsoft Defender SmartScreen",
            "WW",
            "Reporting",
            "443",
            "*smartscreen.microsoft.com",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
        ])
        .row(&[
            "Microsoft Defender Antivirus",
            "WW",
            "CRL",
            "80",
            "http://www.microsoft.com/pkiops/certs",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
        ])
        .row(&[
            mde,
            "EU",
            "MDE EU",
            "",
            "https://eu-v20.events.data.microsoft.com",
            "",
            "Yes",
            "",
            "",
            "",
            "",
            "",
        ])
        // A port typed as a number.
        .row(&[
            mde,
            "UK",
            "MDE UK",
            "",
            "winatp-gw-uks.microsoft.com",
            "",
            "Yes",
            "",
            "",
            "",
            "",
            "",
        ])
        .number(7, 3, 443.0);
    let gov = Sheet::new("Microsoft Defender URLs - USGov")
        .row(&CLASSIC_HEADER)
        .row(&[
            mde,
            "US Gov",
            "Common",
            "443",
            "events.data.microsoft.com",
            "",
            "Yes",
            "",
            "",
            "",
            "",
            "",
        ])
        .row(&[
            mde,
            "GCC High",
            "MAPS",
            "443",
            "unitedstates1.cp.wd.microsoft.us",
            "",
            "Yes",
            "",
            "",
            "",
            "",
            "",
        ]);
    let portal = Sheet::new("Security Center URLs")
        .row(&["Service", "Geography", "URL", "Comment"])
        .row(&[mde, "WW", "https://securitycenter.windows.com", "Portal"]);
    let processes = Sheet::new("Microsoft Defender Processes")
        .row(&["Process", "Path", "Comment"])
        .row(&["MsSense.exe", "C:\\Program Files", "not a URL"]);
    let log = Sheet::new("Change Log")
        .row(&["Date", "Change Log"])
        .row(&["", "File Created"])
        .row(&["", "Later change"])
        .number(1, 0, 44021.0)
        .number(2, 0, 44245.0);
    workbook(&[urls, gov, portal, processes, log])
}

#[test]
fn classic_layout() {
    let dir = tempfile::tempdir().unwrap();
    let c = read(&save(dir.path(), "mde-urls.xlsx", &classic()));
    assert_eq!(c.sources[0].layout.as_deref(), Some("classic"));
    assert_eq!(c.sources[0].version.as_deref(), Some("2021-02-18"));
    assert!(c.rejected.is_empty(), "{:?}", c.rejected);
    assert_eq!(on_sheet(&c, "Microsoft Defender URLs").len(), 7);
    assert_eq!(on_sheet(&c, "Microsoft Defender URLs - USGov").len(), 2);
    assert_eq!(on_sheet(&c, "Security Center URLs").len(), 1);
    assert!(c.notes.iter().any(|n| n.message.contains("process")));

    let got: Vec<String> = on_sheet(&c, "Microsoft Defender URLs")
        .into_iter()
        .map(spot)
        .collect();
    assert_eq!(
        got,
        [
            "crl.microsoft.com|/pki/crl/|80|WW|windows=yes|Unspecified|Proxy",
            "*.wns.windows.com|-|443|WW|windows=yes|Unspecified|Direct",
            // Upper case and a trailing dot normalized; both ports kept.
            "winatp-gw-cus.microsoft.com|-|80,443|US|windows=yes windows-legacy=yes* windows-server-mma=no macos=yes linux=yes|Unspecified|Proxy",
            "*smartscreen.microsoft.com|-|443|WW||Unspecified|Proxy",
            "www.microsoft.com|/pkiops/certs|80|WW||Unspecified|Proxy",
            // No port cell: the https scheme gives 443.
            "eu-v20.events.data.microsoft.com|-|443|EU|windows=yes|Unspecified|Proxy",
            "winatp-gw-uks.microsoft.com|-|443|UK|windows=yes|Unspecified|Proxy",
        ]
    );
    let gw = find(&c, "winatp-gw-cus.microsoft.com")[0];
    assert_eq!(gw.provenance[0].cell.as_deref(), Some("E4"));
    assert_eq!(gw.provenance[0].row, Some(4));
    assert_eq!(gw.provenance[0].column.as_deref(), Some("Endpoint/URL"));
    assert_eq!(gw.os[&Os::WindowsLegacy], OsFlag::Conditional);
    assert!(matches!(
        find(&c, "*smartscreen.microsoft.com")[0].host,
        HostPattern::SuffixGlob(_)
    ));
    assert_eq!(
        find(&c, "*smartscreen.microsoft.com")[0].product,
        Product::SmartScreen
    );
    let gcch = find(&c, "unitedstates1.cp.wd.microsoft.us")[0];
    assert_eq!(gcch.clouds, [Cloud::GccHigh].into());
    assert_eq!(
        find(&c, "events.data.microsoft.com")[0].clouds,
        Cloud::GOV.into()
    );
    assert_eq!(
        find(&c, "securitycenter.windows.com")[0].product,
        Product::Portal
    );
}

const STANDARD_HEADER: [&str; 13] = [
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

#[test]
fn standard_layout_with_odd_cells() {
    let mde = "Microsoft Defender for Endpoint";
    let sheet = Sheet::new("Microsoft Defender URLs")
        // Header names in other case and spacing still match.
        .row(&STANDARD_HEADER.map(|h| if h == "Port" { " PORT " } else { h }))
        // Several entries: newline, comma, semicolon, spaces, NBSP.
        .row(&[mde, "WW", "Common", "443", "a.example.com\nb.example.com, c.example.com;d.example.com e.example.com\u{a0}f.example.com", "", "Required", "Yes", "", "", "", "", ""])
        .row(&[mde, "AU", "MDE AU", "443", "  winatp-gw-aue.microsoft.com\u{a0} ", "", "Optional", "Yes", "Yes", "Yes", "No", "No", ""])
        .row(&[mde, "All", "Common", "443", "*.endpoint.security.microsoft.com", "", "Required", "Yes*", "", "", "", "", "*Optional when ..."]);
    let dir = tempfile::tempdir().unwrap();
    let c = read(&save(
        dir.path(),
        "mde-urls-commercial.xlsx",
        &workbook(&[sheet]),
    ));
    assert_eq!(c.sources[0].layout.as_deref(), Some("standard"));
    let hosts: Vec<String> = c.endpoints.iter().map(|e| e.host.to_string()).collect();
    assert_eq!(
        hosts,
        [
            "a.example.com",
            "b.example.com",
            "c.example.com",
            "d.example.com",
            "e.example.com",
            "f.example.com",
            "winatp-gw-aue.microsoft.com",
            "*.endpoint.security.microsoft.com",
        ]
    );
    let aue = find(&c, "winatp-gw-aue.microsoft.com")[0];
    assert_eq!(
        spot(aue),
        "winatp-gw-aue.microsoft.com|-|443|AU|windows=yes windows-legacy=yes windows-server-mma=yes macos=no linux=no|Optional|Proxy"
    );
    // `All` is the worldwide geography.
    assert_eq!(
        find(&c, "*.endpoint.security.microsoft.com")[0]
            .geography
            .as_str(),
        "WW"
    );
}

/// The streamlined layout: banner rows, repeated headers, merged and
/// unmerged continuation rows, an IP addresses sheet, an MMA sheet with
/// merged Category cells, sheet names with trailing spaces.
fn streamlined() -> Vec<u8> {
    let header = [
        "Service",
        "Port",
        "Endpoint/URLs",
        "Endpoint/URL Description ",
        "Type",
        "Comments",
        "OS",
    ];
    let common = Sheet::new("Common endpoints")
        .row(&["NOTE: make sure devices meet the prerequisites."])
        .row(&["URLs used for core functionality\nNOTE: banner text"])
        .row(&header)
        .row(&[
            "Core services",
            "443",
            "*.endpoint.security.microsoft.com",
            "Core",
            "Required",
            "",
            "All",
        ])
        // Rows 5-7: Service, Port, OS merged down; each row has its URL.
        .row(&[
            "Certificate checks",
            "80",
            "www.microsoft.com/pkiops/*\nwww.microsoft.com/pki/*",
            "CRL",
            "Required",
            "",
            "Windows",
        ])
        .row(&["", "", "ctldl.windowsupdate.com", "CTL", "Required", "", ""])
        .row(&["", "", "crl.microsoft.com", "CRL", "Required", "", ""])
        // Rows 8-9: a URL cell merged over two rows yields one entry.
        .row(&[
            "SmartScreen",
            "443",
            "*.smartscreen.microsoft.com",
            "SS",
            "Optional",
            "",
            "Windows",
        ])
        .row(&["", "", "", "", "", "", ""])
        .row(&["URLs used for updates\nNOTE: another banner"])
        .row(&header)
        .row(&[
            "Linux updates",
            "443",
            "packages.microsoft.com",
            "",
            "Required",
            "",
            "Linux",
        ])
        // Continuation without merges: Service and Port blank.
        .row(&[
            "",
            "",
            "officecdn-microsoft-com.akamaized.net",
            "",
            "Required",
            "",
            "macOS",
        ])
        .row(&[
            "Live response",
            "443",
            "login.live.com\n*.wns.windows.com",
            "",
            "Optional",
            "(Direct Connection/Proxy bypass required)",
            "Windows",
        ])
        .merge(1, 0, 1, 6)
        .merge(4, 0, 6, 0)
        .merge(4, 1, 6, 1)
        .merge(4, 6, 6, 6)
        .merge(7, 0, 8, 0)
        .merge(7, 1, 8, 1)
        .merge(7, 2, 8, 2)
        .merge(9, 0, 9, 6);
    let ips = Sheet::new("IP addresses")
        .row(&["The following ranges can be used ..."])
        .row(&[
            "Service Tag Name",
            "Defender for Endpoint services included",
            "Comments",
            "OS",
        ])
        .row(&[
            "MicrosoftDefenderForEndpoint",
            "MAPS, ...",
            "Core MDE services",
            "All",
        ])
        .row(&[
            "OneDsCollector (EDR Cyberdata)",
            "EDR Cyber data",
            "Cyber data",
            "All",
        ]);
    let mma = Sheet::new("Windows 7, 8.1, 2008R2 (MMA) ")
        .row(&["MMA URLs: banner"])
        .row(&[
            "Category\n",
            "Port",
            "Endpoint/URL",
            "Endpoint/URL Description ",
            "Comments",
        ])
        .row(&[
            "Microsoft Defender for Endpoint EU",
            "443",
            "winatp-gw-neu.microsoft.com",
            "C2",
            "Only for MMA",
        ])
        .row(&["", "", "winatp-gw-weu.microsoft.com", "", ""])
        .row(&[
            "Microsoft Monitoring Agent (MMA) / EDR Cyberdata",
            "443",
            "*.ods.opinsights.azure.com\n*.oms.opinsights.azure.com",
            "MMA",
            "",
        ])
        .merge(2, 0, 3, 0)
        .merge(2, 1, 3, 1)
        .merge(2, 4, 3, 4);
    let processes = Sheet::new("Client Processes")
        .row(&["Microsoft Defender Processes"])
        .row(&["Process", "Path", "Comment"])
        .row(&["MsSense.exe", "C:\\x", ""]);
    let log = Sheet::new("Change Log")
        .row(&["Date", "Change Log"])
        .row(&["2024-05-06", "Final adjustments"])
        .row(&["2023-10-20", "File Created"]);
    workbook(&[common, ips, mma, processes, log])
}

#[test]
fn streamlined_layout() {
    let dir = tempfile::tempdir().unwrap();
    let c = read(&save(dir.path(), "mde-streamlined.xlsx", &streamlined()));
    assert_eq!(c.sources[0].layout.as_deref(), Some("streamlined"));
    assert_eq!(c.sources[0].version.as_deref(), Some("2024-05-06"));
    assert!(c.rejected.is_empty(), "{:?}", c.rejected);

    let got: Vec<String> = on_sheet(&c, "Common endpoints")
        .into_iter()
        .map(spot)
        .collect();
    assert_eq!(
        got,
        [
            "*.endpoint.security.microsoft.com|-|443|WW|windows=yes macos=yes linux=yes|Required|Proxy",
            "www.microsoft.com|/pkiops/|80|WW|windows=yes|Required|Proxy",
            "www.microsoft.com|/pki/|80|WW|windows=yes|Required|Proxy",
            // Port and OS from the merged cells above.
            "ctldl.windowsupdate.com|-|80|WW|windows=yes|Required|Proxy",
            "crl.microsoft.com|-|80|WW|windows=yes|Required|Proxy",
            "*.smartscreen.microsoft.com|-|443|WW|windows=yes|Optional|Proxy",
            "packages.microsoft.com|-|443|WW|linux=yes|Required|Proxy",
            // Unmerged continuation: Port carried from the row above.
            "officecdn-microsoft-com.akamaized.net|-|443|WW|macos=yes|Required|Proxy",
            "login.live.com|-|443|WW|windows=yes|Optional|Direct",
            "*.wns.windows.com|-|443|WW|windows=yes|Optional|Direct",
        ]
    );
    let ctl = find(&c, "ctldl.windowsupdate.com")[0];
    assert_eq!(ctl.service.as_deref(), Some("Certificate checks"));
    let office = find(&c, "officecdn-microsoft-com.akamaized.net")[0];
    assert_eq!(office.service.as_deref(), Some("Linux updates"));
    assert!(
        office
            .notes
            .iter()
            .any(|n| n.starts_with("continuation row"))
    );

    let mma = on_sheet(&c, "Windows 7, 8.1, 2008R2 (MMA) ");
    assert_eq!(mma.len(), 4);
    let weu = find(&c, "winatp-gw-weu.microsoft.com")[0];
    assert_eq!(
        weu.category.as_deref(),
        Some("Microsoft Defender for Endpoint EU")
    );
    assert_eq!(weu.comments.as_deref(), Some("Only for MMA"));
    assert_eq!(
        find(&c, "*.ods.opinsights.azure.com")[0].product,
        Product::Mma
    );

    let tags: Vec<&str> = c.tag_refs.iter().map(|t| t.tag.as_str()).collect();
    assert_eq!(tags, ["MicrosoftDefenderForEndpoint", "OneDsCollector"]);
    assert_eq!(c.tag_refs[1].provenance.cell.as_deref(), Some("A4"));
    assert!(
        c.endpoints
            .iter()
            .all(|e| e.route == Via::Direct || !e.host.to_string().contains("wns"))
    );
}

/// Writes the layouts above as small fuzz seeds: `scripts/fuzz workbook`
/// runs this first, so the fuzzer starts from workbooks of a few KiB that
/// reach every layout reader, instead of only Microsoft's 40-50 KiB files
/// (which parse about ten times slower per execution).
#[test]
#[ignore = "run by scripts/fuzz to write seeds"]
fn write_fuzz_seeds() {
    let dir = std::env::var_os("EGRESSGEN_FUZZ_SEEDS")
        .expect("EGRESSGEN_FUZZ_SEEDS names the seed directory");
    let dir = std::path::Path::new(&dir);
    save(dir, "classic.xlsx", &classic());
    save(dir, "streamlined.xlsx", &streamlined());
}
