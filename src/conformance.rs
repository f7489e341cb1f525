//! Invariants of everything egressgen accepts and writes, for the fuzz targets.
//!
//! Invariants of everything egressgen accepts and writes, checked by the
//! fuzz targets (`fuzz/`) and by the regression tests of their findings:
//! - every host a reader accepts validates again and reads back the same;
//! - every path prefix is one the cell parser would produce;
//! - every file every backend renders from such a catalog is printable
//!   (no control character but the newline, no line or paragraph
//!   separator), and each list file's lines fit their format's grammar.

use std::path::Path;
use std::sync::OnceLock;

use crate::backends;
use crate::model::host::{check_pattern, parse_pattern};
use crate::model::{Catalog, HostPattern};
use crate::normalize::url_cell::check_path_prefix;
use crate::policy;
use crate::ruleset::Ruleset;
use regex::Regex;

/// A ruleset that keeps as much of any catalog as possible and configures
/// every backend.
pub const WIDE_RULESET: &str = r#"
name = "fuzz"
[scope]
cloud = "commercial"
geographies = ["US", "EU", "UK", "AU"]
products = ["mde", "mdav", "smart-screen", "mma", "mdi", "portal", "m365"]
[site]
workspace_ids = ["0e2b1d6c-1111-2222-3333-444455556666"]
mdi_instances = ["contoso"]
allow_unresolved_wildcards = true
[proxy]
addresses = ["proxy.example.com:3128"]
[outputs.plain]
prefixes_file = "prefixes.txt"
[outputs.squid]
[outputs.pac]
[outputs.tls_bypass]
[outputs.pfsense]
[outputs.azure_firewall]
[outputs.nftables]
"#;

pub fn wide_ruleset() -> &'static Ruleset {
    static R: OnceLock<Ruleset> = OnceLock::new();
    R.get_or_init(|| Ruleset::parse(WIDE_RULESET, Path::new("fuzz.toml")).expect("valid"))
}

/// Every accepted host validates again; every path is canonical.
pub fn check_catalog(catalog: &Catalog) {
    for e in &catalog.endpoints {
        check_pattern(&e.host).unwrap_or_else(|err| panic!("{}: {err}", e.host));
        if !matches!(e.host, HostPattern::Template(_)) {
            let again = parse_pattern(&e.host.to_string()).expect("re-parses");
            assert_eq!(again, e.host);
        }
        if let Some(p) = &e.path {
            check_path_prefix(p).unwrap_or_else(|err| panic!("{p}: {err}"));
        }
    }
}

fn list_line() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| Regex::new(r"^\.?[a-z0-9-]+(\.[a-z0-9-]+)+$").expect("regex"))
}

fn allow_line() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| {
        Regex::new(r"^(\*\.?)?[a-z0-9-]+(\.[a-z0-9-]+)+(/[A-Za-z0-9/._~%:@+=-]*\*)?$")
            .expect("regex")
    })
}

/// One rendered file: printable, and in its grammar where it is a list.
pub fn check_file(name: &str, bytes: &[u8]) {
    let text = std::str::from_utf8(bytes).unwrap_or_else(|e| panic!("{name}: not UTF-8: {e}"));
    // Windows files (a registry file, a cmd script) end their lines in
    // CRLF; a CR anywhere else, or in any other file, is a fault.
    let crlf = name.ends_with(".reg") || name.ends_with(".cmd");
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let line_end = c == '\n' || (crlf && c == '\r' && chars.peek() == Some(&'\n'));
        assert!(
            line_end || !(c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{85}')),
            "{name}: control or separator {c:?}"
        );
    }
    if name.ends_with(".json") {
        serde_json::from_str::<serde_json::Value>(text).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    if name == "proxy.pac" {
        assert!(text.is_ascii(), "{name}: not ASCII");
    }
    let lines = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty());
    match name {
        n if n.ends_with(".dstdomain")
            || n.ends_with(".ssl_server_name")
            || n == "tls-bypass.txt" =>
        {
            for l in lines {
                assert!(list_line().is_match(l), "{name}: {l:?}");
            }
        }
        n if n.starts_with("allowlist-") => {
            for l in lines {
                assert!(allow_line().is_match(l), "{name}: {l:?}");
            }
        }
        n if n.ends_with("_regex") => {
            for l in lines {
                Regex::new(l).unwrap_or_else(|e| panic!("{name}: {l:?}: {e}"));
            }
        }
        n if n.ends_with(".xml") => {
            for l in text.lines().filter(|l| l.starts_with("<!--")) {
                let inner = &l[4..l.len().saturating_sub(3)];
                assert!(!inner.contains("--"), "{name}: {l:?}");
            }
        }
        _ => {}
    }
}

/// Resolves the catalog with the wide ruleset and checks every file of
/// every backend (a backend may refuse a policy, never emit a bad line).
pub fn check_outputs(catalog: &Catalog) {
    let ruleset = wide_ruleset();
    let policy = policy::resolve(catalog, &ruleset.site);
    for b in backends::registry::configured(&ruleset.outputs) {
        if let Ok(rendered) = b.render(&policy) {
            for (name, bytes) in &rendered.files {
                check_file(name, bytes);
            }
        }
    }
}

/// The body of each fuzz target, shared with the regression tests that
/// replay the targets' findings (`fuzz/regressions/TARGET/*`).
pub mod targets {
    use std::path::Path;
    use std::sync::OnceLock;

    use crate::model::Catalog;
    use crate::model::host::parse_pattern;
    use crate::normalize::url_cell::{check_path_prefix, parse_entry, split_cell};
    use crate::ruleset::Ruleset;
    use crate::sources::{ReadOptions, SourceFile, learn_table, mde_workbook, service_tags};

    pub const NAMES: [&str; 6] = [
        "url_cell",
        "learn_markdown",
        "service_tags",
        "workbook",
        "ruleset_toml",
        "audit_config",
    ];

    /// Runs the target `name` on one input.
    pub fn run(name: &str, data: &[u8]) {
        match name {
            "url_cell" => url_cell(data),
            "learn_markdown" => learn_markdown(data),
            "service_tags" => service_tags(data),
            "workbook" => workbook(data),
            "ruleset_toml" => ruleset_toml(data),
            "audit_config" => audit_config(data),
            other => panic!("no fuzz target {other}"),
        }
    }

    /// URL cells: whatever is accepted validates again.
    pub fn url_cell(data: &[u8]) {
        let Ok(cell) = std::str::from_utf8(data) else {
            return;
        };
        for token in split_cell(cell) {
            if let Ok(entry) = parse_entry(token) {
                let again =
                    parse_pattern(&entry.host.to_string()).expect("accepted host re-parses");
                assert_eq!(again, entry.host);
                if let Some(p) = &entry.path {
                    check_path_prefix(p).expect("accepted path is canonical");
                }
            }
        }
    }

    fn from_reader(catalog: crate::error::Result<Catalog>) {
        if let Ok(catalog) = catalog {
            super::check_catalog(&catalog);
            super::check_outputs(&catalog);
        }
    }

    pub fn learn_markdown(data: &[u8]) {
        let src = SourceFile::from_bytes(Path::new("fuzz.md"), data.to_vec());
        from_reader(learn_table::read(&src, &ReadOptions::default()));
    }

    pub fn service_tags(data: &[u8]) {
        let src = SourceFile::from_bytes(Path::new("fuzz.json"), data.to_vec());
        from_reader(service_tags::read(&src, &ReadOptions::default()));
    }

    pub fn workbook(data: &[u8]) {
        let src = SourceFile::from_bytes(Path::new("fuzz.xlsx"), data.to_vec());
        from_reader(mde_workbook::read(&src, &ReadOptions::default()));
    }

    /// The policy of the default `explain` ruleset, for the audit target.
    fn default_policy() -> &'static crate::policy::Policy {
        static P: OnceLock<crate::policy::Policy> = OnceLock::new();
        P.get_or_init(|| {
            let r = Ruleset::parse(
                crate::explain::DEFAULT_RULESET,
                Path::new("/fuzz/default.toml"),
            )
            .expect("default ruleset");
            crate::policy::resolve(baseline(), &r.site)
        })
    }

    /// The default policy cut to one entry of each kind (host pattern kind,
    /// route, TLS handling, path or not, ports): every way an entry is
    /// probed stays, and an execution costs a few dozen decisions instead
    /// of several hundred, so the fuzzer reaches millions of inputs.
    fn fuzz_policy() -> &'static crate::policy::Policy {
        static P: OnceLock<crate::policy::Policy> = OnceLock::new();
        P.get_or_init(|| {
            let mut p = default_policy().clone();
            let mut seen = std::collections::BTreeSet::new();
            p.entries.retain(|e| {
                seen.insert(format!(
                    "{} {:?} {:?} {} {:?}",
                    e.host.kind(),
                    e.route,
                    e.tls,
                    e.path.is_some(),
                    e.ports
                ))
            });
            p
        })
    }

    /// A foreign configuration for `audit`: the first byte picks the reader
    /// (Squid, pfSense, Azure Firewall), the rest is the file. An accepted
    /// configuration audits without a panic, every finding names the file,
    /// and every answer is the same when asked twice.
    pub fn audit_config(data: &[u8]) {
        use crate::backends::reader::{Limits, Options, read_config};
        let Some((&which, body)) = data.split_first() else {
            return;
        };
        let (kind, name) = match which % 3 {
            0 => ("squid", "squid.conf"),
            1 => ("pfsense", "config.xml"),
            _ => ("azure-firewall", "policy.json"),
        };
        let dir = std::env::temp_dir().join(format!("egressgen-fuzz-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join(name);
        if std::fs::write(&path, body).is_err() {
            return;
        }
        let options = Options {
            limits: Limits {
                files: 8,
                file_bytes: 1 << 20,
                total_bytes: 4 << 20,
                depth: 4,
                ..Limits::default()
            },
            ..Options::default()
        };
        let Ok(config) = read_config(&path, Some(kind), &options) else {
            return;
        };
        let policy = fuzz_policy();
        let report = crate::audit::engine::audit(
            policy,
            config.as_ref(),
            "10.0.0.1".parse().expect("address"),
        );
        for e in &report.entries {
            for probe in crate::audit::probe::entry_probes(
                policy
                    .entries
                    .iter()
                    .find(|p| p.key() == e.entry)
                    .expect("entry"),
                report.client,
            )
            .iter()
            .take(2)
            {
                assert_eq!(config.decide(probe), config.decide(probe), "deterministic");
            }
        }
        let shown = crate::backends::reader::shown(&path);
        assert!(report.files.contains(&shown), "{:?}", report.files);
        // Every line a finding names is in a file that was read.
        for at in report
            .lines
            .iter()
            .map(|l| &l.at)
            .chain(report.entries.iter().flat_map(|e| &e.lines))
        {
            assert!(
                at.file.is_empty() || report.files.contains(&at.file),
                "{at:?}"
            );
        }
        let _ =
            crate::audit::report::to_json(&crate::audit::report::Report::new("fuzz", vec![report]));
    }

    fn baseline() -> &'static Catalog {
        static C: OnceLock<Catalog> = OnceLock::new();
        C.get_or_init(|| {
            crate::generate::SourceCache::new(Default::default())
                .catalog(&[])
                .expect("baseline")
        })
    }

    /// Ruleset TOML: an accepted ruleset resolves against the baseline and
    /// every backend it configures renders conforming files.
    pub fn ruleset_toml(data: &[u8]) {
        let Ok(text) = std::str::from_utf8(data) else {
            return;
        };
        let Ok(ruleset) = Ruleset::parse(text, Path::new("/fuzz/site.toml")) else {
            return;
        };
        let policy = crate::policy::resolve(baseline(), &ruleset.site);
        for b in crate::backends::registry::configured(&ruleset.outputs) {
            if let Ok(rendered) = b.render(&policy) {
                for (name, bytes) in &rendered.files {
                    super::check_file(name, bytes);
                }
            }
        }
    }
}
