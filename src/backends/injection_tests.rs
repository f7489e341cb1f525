//! A policy built with hostile names, bypassing validation on purpose:
//! every backend must refuse it or escape it, never write a raw hostile
//! line.

use std::path::Path;

use super::{Backend, OutputOptions, configured};
use crate::model::{
    Catalog, Cloud, DnsName, Endpoint, Geography, HostPattern, Product, Provenance, Requirement,
    Route, TlsHandling,
};
use crate::policy::resolve;
use crate::ruleset::Ruleset;

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
        route: Route::Proxy,
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

fn ruleset() -> Ruleset {
    let text = "name = \"hostile\"\n[scope]\ncloud = \"commercial\"\n[proxy]\naddresses = [\"proxy.example.com:8080\"]\n\
                [outputs.plain]\n[outputs.squid]\n[outputs.pac]\n[outputs.tls_bypass]\n";
    Ruleset::parse(text, Path::new("hostile.toml")).expect("ruleset")
}

fn render_all(catalog: &Catalog) -> Vec<(String, Result<Vec<String>, String>)> {
    let r = ruleset();
    let policy = resolve(catalog, &r);
    let opts = OutputOptions {
        ruleset: &r,
        out_dir: Path::new("/srv/egressgen"),
    };
    let backends: Vec<Box<dyn Backend>> = configured(&r);
    assert_eq!(backends.len(), 4);
    backends
        .iter()
        .map(|b| {
            let out = b.render(&policy, &opts).map(|rendered| {
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

#[test]
fn hostile_names_are_refused_or_escaped() {
    for name in HOSTILE {
        for tls in [TlsHandling::Unspecified, TlsHandling::MustNotInspect] {
            for (backend, result) in render_all(&hostile_catalog(name, tls)) {
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

#[test]
fn hostile_provenance_stays_inside_comments() {
    let catalog = hostile_catalog("ok.example.com", TlsHandling::MustNotInspect);
    for (backend, result) in render_all(&catalog) {
        let files = result.unwrap_or_else(|e| panic!("{backend}: {e}"));
        for text in files {
            for line in text.lines() {
                assert!(!line.starts_with("file.xlsx"), "{backend}: {line}");
            }
        }
    }
}
