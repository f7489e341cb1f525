//! Our own Markdown and JSON fixtures in fixtures/: each odd form is read
//! the documented way.

mod common;

use common::{find, fixture, read, spot};
use egressgen::model::{Cloud, Product, Requirement, Via};
use egressgen::sources::{ReadOptions, read_file};

#[test]
fn learn_table_quirks() {
    let c = read(&fixture("learn-table-odd.md"));
    assert!(c.rejected.is_empty(), "{:?}", c.rejected);
    assert_eq!(c.sources[0].version.as_deref(), Some("2026-03-09"));
    let hosts: Vec<String> = c.endpoints.iter().map(|e| e.host.to_string()).collect();
    // The process table is not read.
    assert_eq!(
        hosts,
        [
            "*.crl.example.com",
            "a.example.com",
            "b.example.com",
            "c.example.com",
            "d.example.com",
            "e.example.com"
        ]
    );
    let crl = find(&c, "*.crl.example.com")[0];
    assert_eq!(crl.path.as_deref(), Some("/pki/"));
    assert_eq!(crl.clouds, Cloud::GOV.into());
    // `<br>` splits, code spans are plain text, the quoted comment keeps
    // its second line.
    let a = find(&c, "a.example.com")[0];
    assert_eq!(
        spot(a),
        "a.example.com|-|443|GCC|windows=yes* macos=no linux=no|Required|Proxy"
    );
    assert_eq!(
        a.comments.as_deref(),
        Some("*Optional when updates are managed centrally")
    );
    assert_eq!(a.provenance[0].line, Some(13));
    // A TAB where a pipe belongs.
    let storage = find(&c, "c.example.com")[0];
    assert_eq!(storage.required, Requirement::Required);
    assert_eq!(storage.description.as_deref(), Some("Storage"));
    assert_eq!(storage.clouds, [Cloud::GccHigh].into());
    // A short row: the comment is found by content and routes direct.
    let live = find(&c, "d.example.com")[0];
    assert_eq!(live.route, Via::Direct);
    assert_eq!(live.os.len(), 1);
    assert!(
        live.notes
            .iter()
            .any(|n| n.starts_with("ragged row: 9 cells for 13"))
    );
    // Scheme, case and trailing dot; the row without its closing pipe.
    let e = find(&c, "e.example.com")[0];
    assert_eq!(spot(e), "e.example.com|-|443|WW|windows=yes|Required|Proxy");
    assert_eq!(e.comments.as_deref(), Some("No closing pipe"));
    assert_eq!(e.product, Product::Mdav);
}

#[test]
fn service_tags_small() {
    let c = read(&fixture("servicetags-small.json"));
    let got: Vec<(String, String, Option<String>)> = c
        .prefixes
        .iter()
        .map(|p| (p.net.to_string(), p.tag.clone(), p.region.clone()))
        .collect();
    assert_eq!(
        got,
        [
            (
                "20.37.75.0/26".into(),
                "AzureAdvancedThreatProtection".into(),
                None
            ),
            (
                "2603:1000:4::140/123".into(),
                "AzureAdvancedThreatProtection".into(),
                None
            ),
            (
                "51.105.64.0/26".into(),
                "AzureAdvancedThreatProtection.WestEurope".into(),
                Some("westeurope".into())
            ),
            (
                "4.208.13.0/24".into(),
                "MicrosoftDefenderForEndpoint".into(),
                None
            ),
        ]
    );
    assert_eq!(c.rejected.len(), 1);
    assert_eq!(c.rejected[0].code, "default-route");
    assert_eq!(
        c.rejected[0].provenance.json_path.as_deref(),
        Some("$.values[2].properties.addressPrefixes[1]")
    );
    // OneDsCollector is selected by default but absent: a note says so.
    assert!(c.notes.iter().any(|n| n.message.contains("OneDsCollector")));
    assert_eq!(c.sources[0].change_number, Some(42));

    let opts = ReadOptions {
        extra_tags: vec!["AzureMonitor".into()],
        ..Default::default()
    };
    let c = read_file(&fixture("servicetags-small.json"), &opts).unwrap();
    assert!(c.prefixes.iter().any(|p| p.tag == "AzureMonitor"));
}

#[test]
fn m365_small() {
    let c = read(&fixture("m365-small.json"));
    let got: Vec<String> = c.endpoints.iter().map(spot).collect();
    assert_eq!(
        got,
        [
            "*.auth.example.com|-|80,443|WW||Optional|Proxy",
            "login.example.com|-|80,443|WW||Optional|Proxy"
        ]
    );
    assert_eq!(c.endpoints[0].product, Product::M365);
    assert_eq!(
        c.endpoints[0].comments.as_deref(),
        Some("Example endpoint set")
    );
    assert!(c.endpoints[0].notes[0].contains("UDP ports 3478"));
    assert_eq!(c.rejected.len(), 1);
    assert_eq!(c.rejected[0].code, "inner-wildcard");
    let tags: Vec<&str> = c.prefixes.iter().map(|p| p.tag.as_str()).collect();
    assert_eq!(tags, ["m365/Common/1", "m365/Common/1"]);
}
