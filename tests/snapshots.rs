//! Golden outputs: every file of every backend for three rulesets of our
//! own (one small Gov site, one streamlined site with a service-tag file,
//! one Microsoft 365 site with non-default settings for every backend),
//! snapshotted by file list and content. On top of the real-tool tests,
//! never instead of them. Review changes with `cargo insta review`.

mod common;

use egressgen::generate;
use egressgen::ruleset::Ruleset;

const GOLDEN: [&str; 3] = ["small", "golden-streamlined", "golden-m365"];

fn snapshot_every_output(name: &str) {
    let file = if name == "small" {
        "small-ruleset.toml".to_string()
    } else {
        format!("{name}.toml")
    };
    let r = Ruleset::load(&common::fixture(&file)).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let backends = generate::select_backends(&r, None).unwrap();
    let out = tmp.path().join(name);
    let done = generate::generate(&r, &backends, &out).unwrap();
    // The file list is a snapshot of its own: a new or vanished file shows
    // in review instead of a bare count.
    insta::assert_snapshot!(format!("{name}__file-list"), done.files.join("\n"));
    for file in &done.files {
        let text = std::fs::read_to_string(out.join(file)).unwrap();
        // The output directory is a temporary one: name it stably.
        let text = text.replace(
            &std::path::absolute(&out).unwrap().display().to_string(),
            "OUT",
        );
        insta::assert_snapshot!(format!("{name}__{file}"), text);
    }
    // What was published reads back into the policy that was rendered.
    let bytes = std::fs::read(out.join("policy.json")).unwrap();
    let read = egressgen::policy::Policy::from_json(&bytes).unwrap();
    assert_eq!(read, done.policy);
    assert_eq!(read.to_json(), bytes);
}

#[test]
fn every_output_of_the_golden_rulesets() {
    for name in GOLDEN {
        snapshot_every_output(name);
    }
}
