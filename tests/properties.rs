//! Property tests: the cell parsers never panic, and whatever they accept
//! is canonical and safe for any backend to print.

use egressgen::model::host::parse_pattern;
use egressgen::model::prefix::{PrefixRules, parse_prefix};
use egressgen::model::text::display_escape;
use egressgen::model::{DnsName, HostPattern};
use egressgen::normalize::url_cell::{parse_entry, split_cell};
use proptest::prelude::*;

fn assert_canonical(name: &DnsName) {
    let s = name.as_str();
    assert!(s.len() <= 253, "{s}");
    assert!(s.contains('.'), "{s}");
    for label in s.split('.') {
        assert!((1..=63).contains(&label.len()), "{s}");
        assert!(!label.starts_with('-') && !label.ends_with('-'), "{s}");
        assert!(
            label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
            "{s}"
        );
    }
    // Canonical names survive a round trip through validation unchanged.
    assert_eq!(DnsName::try_from(s.to_string()).as_ref(), Ok(name));
}

fn host_like() -> impl Strategy<Value = String> {
    let label = "[a-zA-Z0-9-]{1,12}|[*]|xn--[a-z0-9]{1,8}|[äöüйоа]{1,4}";
    (prop::collection::vec(label, 1..5), "[.]?").prop_map(|(labels, dot)| labels.join(".") + &dot)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn url_cells_never_panic(cell in "\\PC{0,80}|[\\s\\S]{0,80}") {
        for token in split_cell(&cell) {
            let _ = parse_entry(token);
            let shown = display_escape(token);
            prop_assert!(!shown.chars().any(|c| c.is_control()));
        }
    }

    #[test]
    fn accepted_hosts_are_canonical(text in host_like(), prefix in "(\\*\\.?)?") {
        let text = prefix + &text;
        if let Ok(pattern) = parse_pattern(&text) {
            assert_canonical(pattern.name());
            let shown = pattern.to_string();
            prop_assert!(!shown[1..].contains('*'), "{}", shown);
            match &pattern {
                HostPattern::Subdomains(_) => prop_assert!(text.starts_with("*.")),
                HostPattern::SuffixGlob(_) => prop_assert!(text.starts_with('*') && !text.starts_with("*.")),
                HostPattern::Exact(_) => prop_assert!(!text.starts_with('*')),
                _ => {}
            }
            // Parsing the canonical text again gives the same pattern.
            prop_assert_eq!(parse_pattern(&shown).ok(), Some(pattern.clone()));
        }
    }

    #[test]
    fn accepted_prefixes_are_networks(a in any::<[u8; 4]>(), len in 0u8..=40) {
        let text = format!("{}.{}.{}.{}/{}", a[0], a[1], a[2], a[3], len);
        if let Ok(net) = parse_prefix(&text, &PrefixRules::default()) {
            prop_assert_eq!(net.trunc(), net);
            prop_assert!(net.prefix_len() >= 8);
            prop_assert_eq!(net.to_string(), text);
        }
    }

    #[test]
    fn prefix_text_never_panics(text in "\\PC{0,60}") {
        let _ = parse_prefix(&text, &PrefixRules::default());
    }
}

mod collapse_props {
    use std::collections::BTreeSet;

    use egressgen::model::{
        DnsName, HostPattern, Product, Provenance, Requirement, TlsHandling, Via,
    };
    use egressgen::policy::collapse::{Candidate, collapse};
    use egressgen::policy::matching::{admits, covers, path_covers};
    use proptest::prelude::*;

    const NAMES: [&str; 6] = [
        "example.com",
        "a.example.com",
        "b.a.example.com",
        "ba.example.com",
        "c.example.org",
        "a.c.example.org",
    ];
    const PATHS: [Option<&str>; 3] = [None, Some("/a/"), Some("/a/b")];

    fn pattern(kind: u8, name: &str) -> HostPattern {
        let n = DnsName::parse(name).unwrap();
        match kind % 4 {
            0 => HostPattern::Exact(n),
            1 => HostPattern::Subdomains(n),
            2 => HostPattern::Domain(n),
            _ => HostPattern::SuffixGlob(n),
        }
    }

    fn candidate() -> impl Strategy<Value = Candidate> {
        (
            0u8..4,
            0..NAMES.len(),
            0..PATHS.len(),
            prop::sample::subsequence(vec![80u16, 443, 8443], 1..=3),
            any::<bool>(),
        )
            .prop_filter(
                "suffix globs need a parent below a public suffix",
                |(kind, n, ..)| !(kind % 4 == 3 && NAMES[*n].matches('.').count() < 2),
            )
            .prop_map(|(kind, n, p, ports, direct)| Candidate {
                host: pattern(kind, NAMES[n]),
                path: PATHS[p].map(str::to_string),
                ports: ports.into_iter().collect(),
                route: if direct { Via::Direct } else { Via::Proxy },
                tls: TlsHandling::Unspecified,
                products: [Product::Mde].into(),
                required: Requirement::Required,
                notes: Vec::new(),
                provenance: vec![Provenance {
                    file: format!("{kind}-{n}-{p}"),
                    ..Default::default()
                }],
            })
    }

    /// Hosts to probe: every name, a child of each, and look-alikes.
    fn probes() -> Vec<DnsName> {
        let mut out = Vec::new();
        for n in NAMES {
            for h in [n.to_string(), format!("x.{n}"), format!("x{n}")] {
                out.push(DnsName::parse(&h).unwrap());
            }
        }
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]

        #[test]
        fn collapse_keeps_meaning_and_leaves_no_covered_pair(cands in prop::collection::vec(candidate(), 1..25)) {
            let entries = collapse(cands.clone(), &mut Vec::new());
            // No entry covers another on a shared port and the same route.
            for a in &entries {
                for b in &entries {
                    if std::ptr::eq(a, b) || a.route != b.route || a.ports.is_disjoint(&b.ports) {
                        continue;
                    }
                    prop_assert!(!(covers(&a.host, &b.host) && path_covers(a.path.as_deref(), b.path.as_deref())),
                        "{}{:?} covers {}{:?}", a.host, a.path, b.host, b.path);
                }
            }
            // The same host, port and path combinations are allowed.
            for host in probes() {
                for port in [80u16, 443, 8443] {
                    for path in ["/", "/a/x", "/a/b/x"] {
                        let before = cands.iter().any(|c| admits(&c.host, &host) && c.ports.contains(&port)
                            && path_covers(c.path.as_deref(), Some(path)));
                        let after = entries.iter().any(|e| admits(&e.host, &host) && e.ports.contains(&port)
                            && path_covers(e.path.as_deref(), Some(path)));
                        prop_assert_eq!(before, after, "{} {} {}", host, port, path);
                    }
                }
            }
            // Nothing is lost from the record.
            let before: BTreeSet<_> = cands.iter().flat_map(|c| c.provenance.clone()).collect();
            let after: BTreeSet<_> = entries.iter().flat_map(|e| e.provenance.clone()).collect();
            prop_assert_eq!(before, after);
        }
    }
}

/// TLS decisions for random candidates and random site lists: whatever the
/// inputs, no exemption overlaps a never-exempt pattern except a named host
/// inside it, none touches a host the site inspects, and every Defender
/// candidate on a TLS port is exempt unless one of those two forbids it.
mod tls_props {
    use std::path::Path;

    use egressgen::model::{
        DnsName, HostPattern, Product, Provenance, Requirement, TlsHandling, Via,
    };
    use egressgen::policy::collapse::Candidate;
    use egressgen::policy::matching::{covers, overlaps};
    use egressgen::policy::tls::decide;
    use egressgen::ruleset::Ruleset;
    use proptest::prelude::*;

    const NAMES: [&str; 6] = [
        "blob.core.windows.net",
        "a.blob.core.windows.net",
        "wd.microsoft.com",
        "x.wd.microsoft.com",
        "events.data.microsoft.com",
        "c.example.org",
    ];

    fn pattern(kind: u8, name: &str) -> HostPattern {
        let n = DnsName::parse(name).unwrap();
        match kind % 3 {
            0 => HostPattern::Exact(n),
            1 => HostPattern::Subdomains(n),
            _ => HostPattern::Domain(n),
        }
    }

    fn spelled(kind: u8, name: &str) -> String {
        match kind % 3 {
            0 => name.to_string(),
            1 => format!("*.{name}"),
            _ => format!(".{name}"),
        }
    }

    fn candidate() -> impl Strategy<Value = Candidate> {
        (
            0u8..3,
            0..NAMES.len(),
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(|(kind, n, tls_port, defender, explicit)| Candidate {
                host: pattern(kind, NAMES[n]),
                path: None,
                ports: [if tls_port { 443 } else { 80 }].into(),
                route: Via::Proxy,
                tls: if explicit {
                    TlsHandling::MustNotInspect
                } else {
                    TlsHandling::Unspecified
                },
                products: [if defender {
                    Product::Mde
                } else {
                    Product::M365
                }]
                .into(),
                required: Requirement::Required,
                notes: Vec::new(),
                provenance: vec![Provenance {
                    file: format!("{kind}-{n}"),
                    ..Default::default()
                }],
            })
    }

    fn list() -> impl Strategy<Value = Vec<(u8, usize)>> {
        prop::collection::vec((0u8..3, 0..NAMES.len()), 0..3)
    }

    fn toml_list(items: &[(u8, usize)]) -> String {
        let quoted: Vec<String> = items
            .iter()
            .map(|(k, n)| format!("{:?}", spelled(*k, NAMES[*n])))
            .collect();
        format!("[{}]", quoted.join(", "))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn exemptions_respect_every_never_and_inspect_pattern(
            cands in prop::collection::vec(candidate(), 1..12),
            never in list(),
            bypass in list(),
            inspect in list(),
            bypass_wins in any::<bool>(),
        ) {
            let text = format!(
                "name = \"p\"\n[scope]\ncloud = \"commercial\"\n[tls]\nnever_bypass = {}\nbypass = {}\ninspect_anyway = {}\nconflict = \"{}\"\n",
                toml_list(&never), toml_list(&bypass), toml_list(&inspect),
                if bypass_wins { "bypass-wins" } else { "never-bypass-wins" }
            );
            let ruleset = Ruleset::parse(&text, Path::new("p.toml")).unwrap();
            let guidance = egressgen::sources::tls_guidance::catalog().tls_guidance;
            let tls = decide(&cands, &ruleset.site, &guidance);
            for b in &tls.bypass {
                for n in &tls.never_bypass {
                    let allowed = !overlaps(&b.host, &n.host) || (matches!(b.host, HostPattern::Exact(_)) && b.host != n.host);
                    // Only the site's bypass-wins choice lets an exemption
                    // through, and never silently.
                    prop_assert!(allowed || (bypass_wins && tls.conflicts.iter().any(|c| c.decision == egressgen::policy::ConflictDecision::Bypassed)),
                        "{} overlaps never-exempt {} and is not a named host inside it", b.host, n.host);
                }
                for i in &tls.inspect_anyway {
                    prop_assert!(!overlaps(&b.host, &i.host), "{} touches inspected {}", b.host, i.host);
                }
                for other in &tls.bypass {
                    prop_assert!(std::ptr::eq(b, other) || !covers(&b.host, &other.host), "{} covers {}", b.host, other.host);
                }
            }
            // Storage wildcards stay never-exempt unless bypass-wins let an
            // explicit exemption take them.
            let storage = HostPattern::Subdomains(DnsName::parse("blob.core.windows.net").unwrap());
            let explicit_storage = cands.iter().any(|c| c.tls == TlsHandling::MustNotInspect && c.ports.contains(&443) && overlaps(&c.host, &storage) && covers(&c.host, &storage))
                || bypass.iter().any(|(k, n)| { let p = pattern(*k, NAMES[*n]); covers(&p, &storage) });
            if !(bypass_wins && explicit_storage) {
                prop_assert!(tls.never_bypass.iter().any(|n| covers(&n.host, &storage)));
            }
            // Every Defender candidate on a TLS port is exempt, unless the
            // site inspects it or it is as broad as a never-exempt pattern.
            for c in cands.iter().filter(|c| c.ports.contains(&443) && c.products.contains(&Product::Mde)) {
                let inspected = tls.inspect_anyway.iter().any(|i| overlaps(&i.host, &c.host));
                let too_broad = tls.never_bypass.iter().any(|n| overlaps(&n.host, &c.host) && !(matches!(c.host, HostPattern::Exact(_)) && c.host != n.host));
                let exempt = tls.bypass.iter().any(|b| covers(&b.host, &c.host));
                prop_assert!(exempt || inspected || too_broad, "{} lost its exemption", c.host);
            }
        }
    }
}

/// `policy.json` is a contract: what `generate` writes reads back into the
/// same `Policy` and writes again byte for byte, and entry keys depend on
/// content only, never on the order of the source rows.
mod policy_json {
    use std::path::Path;
    use std::sync::OnceLock;

    use egressgen::generate::SourceCache;
    use egressgen::model::Catalog;
    use egressgen::policy::{Policy, resolve};
    use egressgen::ruleset::Ruleset;
    use egressgen::sources::ReadOptions;
    use proptest::prelude::*;

    /// Every row kind we have: Microsoft's rows of the built-in baseline,
    /// the MMA and MDI templates, our service-tag and M365 fixtures.
    fn pool() -> &'static Catalog {
        static POOL: OnceLock<Catalog> = OnceLock::new();
        POOL.get_or_init(|| {
            let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
            let specs = [
                "baseline".to_string(),
                "builtin:mma".to_string(),
                "builtin:mdi".to_string(),
                fixtures
                    .join("servicetags-small.json")
                    .display()
                    .to_string(),
                fixtures.join("m365-small.json").display().to_string(),
            ];
            let opts = ReadOptions {
                extra_tags: vec!["AzureMonitor".to_string()],
                ..Default::default()
            };
            SourceCache::new(opts)
                .catalog(&specs.map(|s| s.parse().unwrap()))
                .unwrap()
        })
    }

    const CLOUDS: [&str; 3] = ["commercial", "gcc", "gcc-high"];
    const PRODUCTS: [&str; 7] = [
        "mde",
        "mdav",
        "mdi",
        "mma",
        "smart-screen",
        "portal",
        "m365",
    ];
    const GEOS: [&str; 4] = ["WW", "US", "EU", "UK"];
    const ALLOWS: [&str; 5] = [
        "*.endpoint.security.microsoft.com",
        "http://crl.example.net/pki/*",
        "svc.example.net:8443",
        ".contoso.example",
        "*.blob.core.windows.net",
    ];
    const BYPASS: [&str; 4] = [
        "*.blob.core.windows.net",
        "*.wd.microsoft.com",
        "svc.example.net",
        "x.cp.wd.microsoft.com",
    ];

    fn pick<'a>(items: &'a [&'a str], mask: u8) -> Vec<&'a str> {
        items
            .iter()
            .enumerate()
            .filter(|(i, _)| mask & (1 << i) != 0)
            .map(|(_, s)| *s)
            .collect()
    }

    fn quoted(items: &[&str]) -> String {
        let q: Vec<String> = items.iter().map(|s| format!("{s:?}")).collect();
        format!("[{}]", q.join(", "))
    }

    /// A site over the given choices; `direct` routes the allows direct.
    fn site(choice: &Choice) -> Ruleset {
        let mut text = format!(
            "name = \"prop\"\n[scope]\ncloud = {:?}\ngeographies = {}\nproducts = {}\nconnectivity = {:?}\ninclude_optional = {}\n",
            CLOUDS[choice.cloud],
            quoted(&pick(&GEOS, choice.geos)),
            quoted(&pick(&PRODUCTS, choice.products | 1)),
            if choice.streamlined {
                "streamlined"
            } else {
                "standard"
            },
            choice.optional,
        );
        text.push_str("[site]\nmdi_instances = [\"contoso\"]\n");
        if choice.workspace {
            text.push_str("workspace_ids = [\"0b5a9c3e-1f2d-4c5b-8a7e-6d9f0e1a2b3c\"]\n");
        } else {
            text.push_str("allow_unresolved_wildcards = true\n");
        }
        text.push_str(&format!(
            "[tls]\nbypass = {}\nconflict = {:?}\n",
            quoted(&pick(&BYPASS, choice.bypass)),
            if choice.bypass_wins {
                "bypass-wins"
            } else {
                "never-bypass-wins"
            }
        ));
        for (i, url) in pick(&ALLOWS, choice.allows).iter().enumerate() {
            text.push_str(&format!(
                "[[allow]]\nurl = {url:?}\ndirect = {}\n",
                i % 2 == 1
            ));
        }
        Ruleset::parse(&text, Path::new("prop.toml")).unwrap_or_else(|e| panic!("{e}\n{text}"))
    }

    #[derive(Clone, Debug)]
    struct Choice {
        cloud: usize,
        geos: u8,
        products: u8,
        streamlined: bool,
        optional: bool,
        workspace: bool,
        bypass: u8,
        bypass_wins: bool,
        allows: u8,
    }

    fn choice() -> impl Strategy<Value = Choice> {
        (
            (0..CLOUDS.len(), any::<u8>(), any::<u8>(), any::<bool>()),
            (
                any::<bool>(),
                any::<bool>(),
                any::<u8>(),
                any::<bool>(),
                any::<u8>(),
            ),
        )
            .prop_map(
                |(
                    (cloud, geos, products, streamlined),
                    (optional, workspace, bypass, bypass_wins, allows),
                )| Choice {
                    cloud,
                    geos,
                    products,
                    streamlined,
                    optional,
                    workspace,
                    bypass,
                    bypass_wins,
                    allows,
                },
            )
    }

    /// A catalog of some of the pool's rows, in the given order.
    fn catalog(endpoints: &[usize], prefixes: &[usize]) -> Catalog {
        let pool = pool();
        Catalog {
            endpoints: endpoints
                .iter()
                .map(|&i| pool.endpoints[i].clone())
                .collect(),
            prefixes: prefixes.iter().map(|&i| pool.prefixes[i].clone()).collect(),
            ..pool.clone()
        }
    }

    /// Indices into the pool, a random subset in a random order, and the
    /// same subset in another order.
    fn rows(len: usize, max: usize) -> impl Strategy<Value = (Vec<usize>, Vec<usize>)> {
        prop::sample::subsequence((0..len).collect::<Vec<_>>(), 0..=max.min(len))
            .prop_flat_map(|rows| (Just(rows.clone()).prop_shuffle(), Just(rows).prop_shuffle()))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn policy_json_round_trips_and_keys_ignore_row_order(
            choice in choice(),
            (endpoints, endpoints_again) in rows(pool().endpoints.len(), 80),
            (prefixes, prefixes_again) in rows(pool().prefixes.len(), 20),
        ) {
            let ruleset = site(&choice);
            let policy = resolve(&catalog(&endpoints, &prefixes), &ruleset.site);
            let bytes = policy.to_json();
            let read = Policy::from_json(&bytes).unwrap_or_else(|e| panic!("{e}"));
            prop_assert_eq!(&read, &policy);
            prop_assert_eq!(String::from_utf8(read.to_json()).unwrap(), String::from_utf8(bytes).unwrap());

            let again = resolve(&catalog(&endpoints_again, &prefixes_again), &ruleset.site);
            let keys = |p: &Policy| p.entries.iter().map(|e| e.key()).collect::<Vec<_>>();
            prop_assert_eq!(keys(&again), keys(&policy));
            let bypass = |p: &Policy| p.tls.bypass.iter().map(|t| egressgen::policy::TlsEntry::bypass_key(&t.host)).collect::<Vec<_>>();
            prop_assert_eq!(bypass(&again), bypass(&policy));
            // More than the keys: the whole policy is the same, provenance
            // lists included.
            prop_assert_eq!(String::from_utf8(again.to_json()).unwrap(), String::from_utf8(policy.to_json()).unwrap());
        }
    }
}
