//! A fleet in one run: the sources are read once with every tag any
//! ruleset selects, yet each ruleset's output is what it is when generated
//! alone.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{egressgen, fixture};

/// Every file but the manifest, with the output directory's own path
/// (which the Squid configurations name) replaced by `OUT`; the manifest
/// holds the hashes of those files, so it differs by the path alone.
fn tree(dir: &Path) -> BTreeMap<String, String> {
    let own = std::path::absolute(dir).unwrap().display().to_string();
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .filter(|(name, _)| name != ".egressgen-manifest.json")
        .map(|(name, path)| {
            let text = std::fs::read_to_string(path).unwrap();
            (name, text.replace(&own, "OUT"))
        })
        .collect()
}

fn generate(args: &[String]) {
    let out = egressgen(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn each_ruleset_of_a_fleet_writes_what_it_writes_alone() {
    // (fixture, ruleset name). The first two both read
    // servicetags-small.json; golden-m365 also selects AzureMonitor, which
    // golden-streamlined must not see.
    let sites = [
        ("golden-streamlined", "golden-streamlined"),
        ("golden-m365", "golden-m365"),
        ("small-ruleset", "small"),
    ];
    let tmp = tempfile::tempdir().unwrap();
    let fleet = tmp.path().join("fleet");
    let file = |f: &str| fixture(&format!("{f}.toml")).display().to_string();
    let mut args = vec!["generate".to_string()];
    args.extend(sites.iter().map(|(f, _)| file(f)));
    args.extend(["--out".to_string(), fleet.display().to_string()]);
    generate(&args);
    for (f, name) in sites {
        let alone = tmp.path().join(format!("alone-{name}"));
        generate(&[
            "generate".into(),
            file(f),
            "--out".into(),
            alone.display().to_string(),
        ]);
        let (a, b) = (tree(&alone), tree(&fleet.join(name)));
        assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
        let differ: Vec<&String> = a.keys().filter(|k| a[*k] != b[*k]).collect();
        assert!(
            differ.is_empty(),
            "{name}: {differ:?} differ from a run alone"
        );
    }
    // The fleet did read AzureMonitor, for golden-m365 only.
    let policy =
        |name: &str| std::fs::read_to_string(fleet.join(name).join("policy.json")).unwrap();
    assert!(policy("golden-m365").contains("\"AzureMonitor\""));
    assert!(!policy("golden-streamlined").contains("AzureMonitor"));
}
