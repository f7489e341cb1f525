//! Tests every registered backend passes, a toy registered only here included.
//!
//! Tests every registered backend passes, written over a slice of
//! registry rows so that a new backend is covered by adding its row: the
//! registry's own rows here, and a toy backend that only a test module
//! registers.

use std::collections::BTreeMap;
use std::path::Path;

use super::caps::{Caps, Host, HostCaps, Paths, Ports, Support};
use super::injection_tests::{check_injection, check_provenance_in_comments};
use super::loss::{plan, plan_bypass};
use super::spelling::{Syntax, spell};
use super::{Backend, BackendError, REGISTRY, Registered, Rendered, Row, loss_report, safe_name};
use crate::model::{Catalog, Cloud, Prefix, Provenance};
use crate::policy::{Policy, resolve};
use crate::ruleset::Ruleset;

/// A policy with every host-pattern kind, with and without a path, on
/// ports 80, 443 and 8443, through the proxy and direct, TLS exemptions
/// of every kind, and a service tag that covers one wildcard.
fn wide_policy() -> Policy {
    let text = r#"
name = "caps"
[scope]
cloud = "commercial"
products = ["mde"]
[site]
service_tags = ["MicrosoftDefenderForEndpoint"]
[proxy]
addresses = ["proxy.example.com:3128"]
[tls]
bypass = ["a.cap.example.com", "*.b.cap.example.com", ".c.cap.example.com", "*d.cap.example.com"]
[[allow]]
url = "a.cap.example.com"
ports = [80, 443, 8443]
[[allow]]
url = "*.b.cap.example.com"
[[allow]]
url = ".c.cap.example.com"
[[allow]]
url = "*d.cap.example.com"
[[allow]]
url = "http://e.cap.example.com/pki/*"
[[allow]]
url = "https://f.cap.example.com/q/*"
ports = [443, 8443]
[[allow]]
url = "*.g.cap.example.com/p/*"
ports = [80]
[[allow]]
url = "direct.cap.example.com"
direct = true
[[allow]]
url = "*.endpoint.security.microsoft.com"
[[allow]]
url = ".h.cap.example.net"
"#;
    let ruleset = Ruleset::parse(text, Path::new("caps.toml")).expect("ruleset");
    let catalog = Catalog {
        prefixes: vec![Prefix {
            net: "192.0.2.0/24".parse().expect("prefix"),
            tag: "MicrosoftDefenderForEndpoint".to_string(),
            region: None,
            change_number: Some(1),
            clouds: [Cloud::Commercial].into(),
            product: None,
            provenance: Provenance::default(),
        }],
        ..Catalog::default()
    };
    resolve(&catalog, &ruleset.site)
}

fn render(b: &dyn Backend, policy: &Policy) -> Rendered {
    b.render(policy)
        .unwrap_or_else(|e| panic!("{}: {e}", b.name()))
}

/// The same policy renders to the same bytes, twice.
pub fn check_determinism(rows: &[Row]) {
    let policy = wide_policy();
    for row in rows {
        let b = (row.default)().expect("defaults");
        let first = render(b.as_ref(), &policy);
        let again = render(b.as_ref(), &policy.clone());
        assert_eq!(first.files, again.files, "{}", row.name);
        assert_eq!(first.loss, again.loss, "{}", row.name);
    }
}

/// Every loss-report line agrees with the backend's declared capabilities
/// (the shared classifier's verdict for that entry), one line per entry,
/// and every `FILE: LINE` it claims is really in that file.
pub fn check_capabilities(rows: &[Row]) {
    let policy = wide_policy();
    assert!(policy.entries.len() >= 10, "{:?}", policy.entries);
    for row in rows {
        let b = (row.default)().expect("defaults");
        let caps = b.caps();
        let rendered = render(b.as_ref(), &policy);
        // Exemption lines carry no ports; each kind keeps policy order (a
        // format that carries no allow entry writes no line for them).
        let (bypass, allows): (Vec<_>, Vec<_>) = rendered
            .loss
            .entries
            .iter()
            .partition(|l| l.ports.is_empty());
        let mut lines = allows.into_iter();
        let carries_allows = caps.hosts != HostCaps::NONE;
        if carries_allows {
            for e in &policy.entries {
                let actual = lines
                    .next()
                    .unwrap_or_else(|| panic!("{}: no line", row.name));
                let expected =
                    plan(e, &caps, &policy.prefixes).entry(e, actual.expressed_as.clone());
                assert_eq!(actual, &expected, "{}: {}", row.name, e.host);
                claims_hold(row.name, &rendered.files, &actual.expressed_as);
            }
        }
        assert!(lines.next().is_none(), "{}: extra loss lines", row.name);
        let mut lines = bypass.into_iter();
        if let Some(tls) = caps.tls_bypass {
            for t in &policy.tls.bypass {
                let actual = lines
                    .next()
                    .unwrap_or_else(|| panic!("{}: no line", row.name));
                let (p, _) = plan_bypass(t, &tls);
                let expected = p.bypass_entry(&t.host, actual.expressed_as.clone());
                assert_eq!(actual, &expected, "{}: bypass {}", row.name, t.host);
                claims_hold(row.name, &rendered.files, &actual.expressed_as);
            }
        }
        assert!(lines.next().is_none(), "{}: extra loss lines", row.name);
    }
}

/// `FILE: LINE` claims name a written file that holds that line.
fn claims_hold(backend: &str, files: &BTreeMap<String, Vec<u8>>, claims: &[String]) {
    for claim in claims {
        let Some((file, line)) = claim.split_once(": ") else {
            continue;
        };
        let Some(bytes) = files.get(file) else {
            continue;
        };
        let text = String::from_utf8_lossy(bytes);
        assert!(
            text.lines().any(|l| l == line),
            "{backend}: {file} has no line {line:?}"
        );
    }
}

#[test]
fn every_registered_backend_is_deterministic() {
    check_determinism(REGISTRY);
}

#[test]
fn every_registered_backend_agrees_with_its_capabilities() {
    check_capabilities(REGISTRY);
}

#[test]
fn the_book_capability_table_is_generated_from_the_registry() {
    crate::generated_docs::assert_block(
        "outputs.md",
        "<!-- capabilities: generated from the backend registry -->",
        "<!-- capabilities: end -->",
        &super::registry::capability_table(REGISTRY),
    );
}

/// A toy format: exact names only, one list file.
struct Toy {
    careless: bool,
}

#[derive(Clone, Debug, serde::Deserialize)]
struct ToySettings {}

impl Registered for Toy {
    type Settings = ToySettings;
    const NAME: &'static str = "toy";
    const SUMMARY: &'static str = "a test double";
    fn new(_: ToySettings) -> Self {
        Toy { careless: false }
    }
}

const TOY_CAPS: Caps = Caps {
    hosts: HostCaps {
        exact: Host::Written(Support::Exact),
        subdomains: Host::Written(Support::Cannot("toy lists take names only")),
        domain: Host::Written(Support::Narrowed("only {name} itself")),
        suffix_glob: Host::Written(Support::Cannot("toy lists take names only")),
    },
    paths: Paths::Widened("toy lists see no paths: {path} widened"),
    ports: Ports::NotFiltered,
    proxy_route: Support::Exact,
    direct_route: Support::Cannot("direct entries are not listed"),
    prefixes: false,
    tls_bypass: None,
};

impl Backend for Toy {
    fn name(&self) -> &'static str {
        "toy"
    }

    fn caps(&self) -> Caps {
        TOY_CAPS
    }

    fn render(&self, policy: &Policy) -> Result<Rendered, BackendError> {
        let mut loss = loss_report("toy");
        let mut text = String::new();
        for e in &policy.entries {
            let plan = plan(e, &TOY_CAPS, &policy.prefixes);
            let mut expressed = Vec::new();
            if self.careless {
                // Writes every name raw, and claims it exact.
                text.push_str(&format!("{}\n", e.host.name()));
                loss.entries.push(super::LossEntry::new(
                    e,
                    super::Outcome::Exact,
                    vec![format!("toy.txt: {}", e.host.name())],
                    "",
                ));
                continue;
            }
            if !plan.writes.is_empty() {
                safe_name("toy", &e.host)?;
                for line in spell(Syntax::Name, &e.host) {
                    text.push_str(&format!("{line}\n"));
                    expressed.push(format!("toy.txt: {line}"));
                }
            }
            loss.entries.push(plan.entry(e, expressed));
        }
        let mut files = BTreeMap::new();
        files.insert("toy.txt".to_string(), text.into_bytes());
        Ok(Rendered { files, loss })
    }
}

fn toy_row(careless: bool) -> Row {
    Row {
        key: "toy",
        name: "toy",
        summary: "a test double",
        configured: |_| None,
        default: if careless {
            || Some(Box::new(Toy { careless: true }) as Box<dyn Backend>)
        } else {
            || Some(Box::new(Toy { careless: false }) as Box<dyn Backend>)
        },
        reader: None,
    }
}

#[test]
fn a_backend_added_through_the_registry_alone_is_covered() {
    let mut rows = REGISTRY.to_vec();
    rows.push(toy_row(false));
    check_injection(&rows);
    check_provenance_in_comments(&rows);
    check_determinism(&rows);
    check_capabilities(&rows);
    assert!(
        super::registry::capability_table(&rows).contains("| `toy` | yes | no | narrowed | no |")
    );

    // The same tests catch a toy that writes names raw and claims every
    // entry exact.
    let careless = [toy_row(true)];
    for (what, check) in [
        ("injection", check_injection as fn(&[Row])),
        ("capabilities", check_capabilities),
    ] {
        let caught = std::panic::catch_unwind(|| check(&careless)).is_err();
        assert!(caught, "the {what} test missed a careless backend");
    }
}
