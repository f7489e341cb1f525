//! A policy of hostile names: every backend must refuse or escape it, never write it raw.
//!
//! A policy built with hostile names, bypassing validation on purpose:
//! every backend must refuse it or escape it, never write a raw hostile
//! line.

use std::path::Path;

use super::{REGISTRY, Row};
use crate::model::{
    Catalog, Cloud, DnsName, Endpoint, Geography, HostPattern, Product, Provenance, Requirement,
    TlsHandling, Via,
};
use crate::policy::resolve;
use crate::ruleset::Ruleset;
use crate::site::Site;

const HOSTILE: [&str; 5] = [
    "a.com\nhttp_access allow all",
    "x.com\"; } function FindProxyForURL(u, h) { return \"DIRECT\"; } //",
    "evil.example/../../etc",
    "a.com\r\nacl all src all",
    "\u{202e}moc.elgoog.example",
];

fn hostile_catalog(name: &str, tls: TlsHandling) -> Catalog {
    let endpoint = |host: HostPattern| Endpoint {
        host,
        path: None,
        ports: [80, 443].into(),
        product: Product::Mde,
        service: None,
        clouds: [Cloud::Commercial].into(),
        geography: Geography::worldwide(),
        os: Default::default(),
        required: Requirement::Required,
        category: None,
        description: None,
        comments: None,
        tls,
        route: Via::Proxy,
        notes: Vec::new(),
        provenance: vec![Provenance {
            file: "hostile\nfile.xlsx".to_string(),
            ..Default::default()
        }],
    };
    let n = DnsName::from_checked(name.to_string());
    Catalog {
        endpoints: vec![
            endpoint(HostPattern::Exact(n.clone())),
            endpoint(HostPattern::Subdomains(n.clone())),
            endpoint(HostPattern::SuffixGlob(n)),
        ],
        ..Catalog::default()
    }
}

fn site() -> Site {
    let text = "name = \"hostile\"\n[scope]\ncloud = \"commercial\"\n[proxy]\naddresses = [\"proxy.example.com:8080\"]\n";
    Ruleset::parse(text, Path::new("hostile.toml"))
        .expect("ruleset")
        .site
}

/// Every row's backend, default settings, on one catalog: the files as
/// text, or the refusal.
pub fn render_rows(rows: &[Row], catalog: &Catalog) -> Vec<(String, Result<Vec<String>, String>)> {
    let policy = resolve(catalog, &site());
    rows.iter()
        .filter_map(|row| (row.default)())
        .map(|b| {
            let out = b.render(&policy).map(|rendered| {
                rendered
                    .files
                    .values()
                    .map(|bytes| String::from_utf8_lossy(bytes).into_owned())
                    .collect()
            });
            (b.name().to_string(), out.map_err(|e| e.to_string()))
        })
        .collect()
}

/// Hostile names are refused (`refusing` in the error) or written only
/// escaped, by every backend of `rows`.
pub fn check_injection(rows: &[Row]) {
    for name in HOSTILE {
        for tls in [TlsHandling::Unspecified, TlsHandling::MustNotInspect] {
            for (backend, result) in render_rows(rows, &hostile_catalog(name, tls)) {
                match result {
                    Err(e) => assert!(e.contains("refusing"), "{backend}: {e}"),
                    Ok(files) => {
                        for text in files {
                            assert_no_raw(&text, name);
                            // Only the PAC may carry the name, and only as
                            // an escaped JavaScript string.
                            if backend != "pac" {
                                assert!(!text.contains(name), "{backend} wrote {name:?}");
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Provenance (a file name with a newline) stays inside comments.
pub fn check_provenance_in_comments(rows: &[Row]) {
    let catalog = hostile_catalog("ok.example.com", TlsHandling::MustNotInspect);
    for (backend, result) in render_rows(rows, &catalog) {
        let files = result.unwrap_or_else(|e| panic!("{backend}: {e}"));
        for text in files {
            for line in text.lines() {
                assert!(!line.starts_with("file.xlsx"), "{backend}: {line}");
            }
        }
    }
}

#[test]
fn hostile_names_are_refused_or_escaped_by_every_backend() {
    check_injection(REGISTRY);
}

#[test]
fn hostile_provenance_stays_inside_comments_of_every_backend() {
    check_provenance_in_comments(REGISTRY);
}

/// No line holds the hostile text (or its second line) verbatim, and no
/// control or bidirectional character survives.
fn assert_no_raw(text: &str, name: &str) {
    for line in text.lines() {
        let t = line.trim_start();
        assert!(!t.starts_with("http_access"), "{line}");
        assert!(!t.starts_with("acl all"), "{line}");
        assert!(!line.contains("function FindProxyForURL(u, h)"), "{line}");
        assert!(
            !line.contains('\u{202e}') && !line.contains('\r'),
            "{line:?}"
        );
        if name.contains('"') {
            assert!(!line.contains("x.com\";"), "{line}");
        }
    }
}
