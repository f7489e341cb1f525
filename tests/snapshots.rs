//! Snapshots of every output file for one small policy (on top of the
//! real-tool tests, never instead of them). Review changes with
//! `cargo insta review`.

mod common;

use egressgen::generate;
use egressgen::ruleset::Ruleset;

#[test]
fn every_output_of_a_small_policy() {
    let r = Ruleset::load(&common::fixture("small-ruleset.toml")).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let backends = generate::select_backends(&r, None).unwrap();
    let done = generate::generate(&r, &backends, &tmp.path().join("small")).unwrap();
    // The file list is a snapshot of its own: a new or vanished file shows
    // in review instead of a bare count.
    insta::assert_snapshot!("file-list", done.files.join("\n"));
    for file in &done.files {
        let text = std::fs::read_to_string(tmp.path().join("small").join(file)).unwrap();
        insta::assert_snapshot!(file.clone(), text);
    }
}
