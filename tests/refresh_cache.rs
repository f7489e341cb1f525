//! The last-known-good cache and the guards in front of it: a body that
//! does not read as its source, is empty, goes back in changeNumber or
//! lost too many rows or prefixes never becomes current, and the cache is
//! left byte for byte as it was.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::fixture;
use egressgen::cache::{Cache, Copy};
use egressgen::refresh::guard::{Expect, Limits, Refusal, vet};
use egressgen::sources::ReadOptions;

fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for sub in ["records", "bodies"] {
        for e in std::fs::read_dir(dir.join(sub)).unwrap().flatten() {
            if e.path().is_file() {
                out.insert(
                    format!("{sub}/{}", e.file_name().to_string_lossy()),
                    std::fs::read(e.path()).unwrap(),
                );
            }
        }
    }
    out
}

fn copy(url: &str, change_number: Option<u64>) -> Copy {
    Copy {
        sha256: String::new(),
        url: url.to_string(),
        validators: Default::default(),
        version: None,
        change_number,
    }
}

/// Vets `bytes` against the current copy of `name`; on success it
/// becomes current.
fn refresh(cache: &Cache, name: &str, file: &str, bytes: Vec<u8>) -> Result<(), Refusal> {
    let previous = cache.record(name).unwrap().current.map(|c| {
        let old = cache.body(&c).unwrap();
        vet(
            file,
            old,
            &ReadOptions::default(),
            None,
            Limits::default(),
            &Expect::default(),
        )
        .unwrap()
    });
    let catalog = vet(
        file,
        bytes.clone(),
        &ReadOptions::default(),
        previous.as_ref(),
        Limits::default(),
        &Expect::default(),
    )?;
    let cn = catalog.sources[0].change_number;
    cache
        .accept(name, &bytes, copy("http://127.0.0.1/x", cn))
        .unwrap();
    Ok(())
}

#[test]
fn bad_service_tag_bodies_never_replace_the_good_one() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::open(dir.path()).unwrap();
    let good = std::fs::read_to_string(fixture("servicetags-small.json")).unwrap();
    let file = "ServiceTags_Public.json";
    refresh(
        &cache,
        "service-tags-public",
        file,
        good.clone().into_bytes(),
    )
    .unwrap();
    let before = snapshot(dir.path());

    let html = b"<!DOCTYPE html><html><body>Sign in to continue</body></html>".to_vec();
    let truncated = good.as_bytes()[..good.len() / 2].to_vec();
    let older = good
        .replacen("\"changeNumber\": 42", "\"changeNumber\": 41", 1)
        .into_bytes();
    let emptied = good
        .replacen(
            "\"addressPrefixes\": [\"20.37.75.0/26\", \"2603:1000:4::140/123\"]",
            "\"addressPrefixes\": []",
            1,
        )
        .replacen("\"changeNumber\": 42", "\"changeNumber\": 43", 1)
        .into_bytes();
    assert_ne!(emptied, good.as_bytes());
    let cases: [(&str, Vec<u8>, &str); 4] = [
        (
            "an HTML login page",
            html,
            "does not read as ServiceTags_Public.json",
        ),
        (
            "a body cut in half",
            truncated,
            "does not read as ServiceTags_Public.json",
        ),
        (
            "an older changeNumber",
            older,
            "changeNumber 41 is lower than the 42 already held",
        ),
        (
            "a tag emptied",
            emptied,
            "service tag AzureAdvancedThreatProtection's prefixes fell from 2 to 0",
        ),
    ];
    for (what, bytes, message) in cases {
        let err = refresh(&cache, "service-tags-public", file, bytes)
            .unwrap_err()
            .to_string();
        assert!(err.contains(message), "{what}: {err}");
        assert_eq!(snapshot(dir.path()), before, "{what}: the cache changed");
    }
    // A newer good file is accepted; the old one becomes the previous copy.
    let newer = good.replacen("\"changeNumber\": 42", "\"changeNumber\": 44", 1);
    refresh(
        &cache,
        "service-tags-public",
        file,
        newer.clone().into_bytes(),
    )
    .unwrap();
    let record = cache.record("service-tags-public").unwrap();
    assert_eq!(
        cache.body(record.current.as_ref().unwrap()).unwrap(),
        newer.as_bytes()
    );
    assert_eq!(
        cache.body(record.previous.as_ref().unwrap()).unwrap(),
        good.as_bytes()
    );
    assert_eq!(record.current.unwrap().change_number, Some(44));
    // A third: the oldest body is collected, two remain.
    let newest = good.replacen("\"changeNumber\": 42", "\"changeNumber\": 45", 1);
    refresh(&cache, "service-tags-public", file, newest.into_bytes()).unwrap();
    assert_eq!(
        std::fs::read_dir(dir.path().join("bodies"))
            .unwrap()
            .count(),
        2
    );
}

#[test]
fn a_learn_table_that_lost_half_its_rows_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::open(dir.path()).unwrap();
    let good = std::fs::read_to_string(fixture("learn-table-odd.md")).unwrap();
    let file = "standard-device-connectivity-urls-gov.md";
    refresh(
        &cache,
        "learn-standard-gov",
        file,
        good.clone().into_bytes(),
    )
    .unwrap();
    let before = snapshot(dir.path());
    let half: String = good
        .lines()
        .filter(|l| !(l.contains("|GCC|") || l.contains("|DoD|") || l.contains("|GCC High|")))
        .map(|l| format!("{l}\n"))
        .collect();
    let err = refresh(&cache, "learn-standard-gov", file, half.into_bytes())
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("the number of rows fell from"), "{err}");
    assert_eq!(snapshot(dir.path()), before);
}

#[test]
fn an_altered_body_is_not_served_as_good() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::open(dir.path()).unwrap();
    let good = std::fs::read(fixture("servicetags-small.json")).unwrap();
    let record = cache
        .accept("t", &good, copy("http://127.0.0.1/t", Some(42)))
        .unwrap();
    let current = record.current.unwrap();
    std::fs::write(dir.path().join("bodies").join(&current.sha256), b"{}").unwrap();
    let err = cache.body(&current).unwrap_err().to_string();
    assert!(err.contains("missing or altered"), "{err}");
}

/// Clean-up removes only bodies a record named and an update displaced:
/// whatever else is in `bodies/` stays.
#[test]
fn clean_up_removes_only_its_own_unreferenced_bodies() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::open(dir.path()).unwrap();
    let bodies = dir.path().join("bodies");
    let not_a_hash = "0".repeat(64);
    let planted = egressgen::publish::sha256_hex(b"planted");
    let foreign = [
        ("notes.txt", b"mine".to_vec()),
        (".abc.tmp-1-0", b"a write in progress".to_vec()),
        // Named like a body, but the content is not what the name says.
        (not_a_hash.as_str(), b"not that hash".to_vec()),
        // Named like a body and holding that content, but no record ever
        // named it: not the cache's to remove.
        (planted.as_str(), b"planted".to_vec()),
    ];
    for (name, bytes) in &foreign {
        std::fs::write(bodies.join(name), bytes).unwrap();
    }
    // Links named like bodies: one to an endless device, one to a file
    // whose content matches the name. Neither is read through nor removed.
    let endless = "1".repeat(64);
    std::os::unix::fs::symlink("/dev/zero", bodies.join(&endless)).unwrap();
    let elsewhere = dir.path().join("elsewhere.txt");
    std::fs::write(&elsewhere, b"someone else's").unwrap();
    let linked = egressgen::publish::sha256_hex(b"someone else's");
    std::os::unix::fs::symlink(&elsewhere, bodies.join(&linked)).unwrap();
    let good = std::fs::read(fixture("servicetags-small.json")).unwrap();
    let first = cache.accept("t", &good, copy("u", Some(42))).unwrap();
    let old = first.current.unwrap().sha256;
    for n in [43, 44] {
        let body = String::from_utf8(good.clone()).unwrap().replacen(
            "\"changeNumber\": 42",
            &format!("\"changeNumber\": {n}"),
            1,
        );
        cache
            .accept("t", body.as_bytes(), copy("u", Some(n)))
            .unwrap();
    }
    // The first body is neither current nor previous any more: removed.
    assert!(!bodies.join(&old).exists());
    for (name, bytes) in &foreign {
        assert_eq!(std::fs::read(bodies.join(name)).unwrap(), *bytes, "{name}");
    }
    for link in [&endless, &linked] {
        assert!(bodies.join(link).symlink_metadata().is_ok(), "{link} stays");
    }
    assert_eq!(std::fs::read(&elsewhere).unwrap(), b"someone else's");
    let left = std::fs::read_dir(&bodies).unwrap().count();
    assert_eq!(left, foreign.len() + 2 + 2);
}

/// A body must be the source asked for: the right cloud's service-tag
/// file, the right Learn page, and not an older page than the one held.
#[test]
fn a_body_for_another_source_or_an_older_page_is_refused() {
    use egressgen::sources::live::{LearnPage, Live, TagCloud};
    let read = |rel: &str| std::fs::read(common::data(rel)).unwrap();
    let vet_as = |live: Live, bytes: Vec<u8>, previous: Option<&egressgen::model::Catalog>| {
        vet(
            &live.file_name(),
            bytes,
            &ReadOptions::default(),
            previous,
            Limits::default(),
            &Expect::of(live),
        )
    };
    let public = Live::ServiceTags(TagCloud::Public);
    let gov_tags = read("servicetags/ServiceTags_AzureGovernment_20251013.json");
    let err = vet_as(public, gov_tags, None).unwrap_err().to_string();
    assert_eq!(
        err,
        "it is the service-tag file of cloud AzureGovernment, not the service-tag file of cloud Public"
    );
    assert!(
        vet_as(
            public,
            read("servicetags/ServiceTags_Public_20251013.json"),
            None
        )
        .is_ok()
    );

    let streamlined_gov = Live::Learn(LearnPage::StreamlinedGov);
    let standard = read("mde/standard-device-connectivity-urls-commercial.learn.md");
    let err = vet_as(streamlined_gov, standard.clone(), None)
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "it is a page of layout standard, not a page of layout streamlined"
    );
    let streamlined_commercial =
        read("mde/streamlined-device-connectivity-urls-commercial.learn.md");
    let err = vet_as(streamlined_gov, streamlined_commercial, None)
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "it is a page for the clouds commercial, not a page for the clouds US Government"
    );
    assert!(
        vet_as(
            streamlined_gov,
            read("mde/streamlined-device-connectivity-urls-gov.learn.md"),
            None
        )
        .is_ok()
    );

    // The 2025-10-16 page after the 2026-03-11 one: a rollback.
    let commercial = Live::Learn(LearnPage::StandardCommercial);
    let newer = vet_as(commercial, standard, None).unwrap();
    let older = read("mde/standard-device-connectivity-urls-commercial.urltables.md");
    let err = vet_as(commercial, older, Some(&newer))
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "its date 2025-10-16 is older than the 2026-03-11 of the copy already held"
    );
}
