//! Property tests: the cell parsers never panic, and whatever they accept
//! is canonical and safe for any backend to print.

use egressgen::model::{DnsName, HostPattern};
use egressgen::normalize::host::parse_pattern;
use egressgen::normalize::prefix::{PrefixRules, parse_prefix};
use egressgen::normalize::text::display_escape;
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
