//! Finding each live source, against a scripted server on 127.0.0.1 that
//! stands in for Microsoft's hosts (the bases are configurable).

mod common;

use std::time::Duration;

use common::http::{Reply, Server};
use egressgen::cache::Validators;
use egressgen::refresh::fetch::{FetchConfig, Fetched, Fetcher, ProxyChoice};
use egressgen::refresh::live::{
    Bases, Known, LearnPage, Live, M365Instance, TagCloud, client_request_id, fetch,
};
use time::{Date, Month};

const PUBLIC: &str = "/download/7/1/D/71D86715-5596-4529-9B13-DA13A5DE5B63";

fn setup() -> (Server, Bases, Fetcher) {
    let s = Server::start();
    let bases = Bases {
        docs: s.url("/docs"),
        download: s.base.clone(),
        download_pages: s.url("/pages"),
        m365: s.url("/m365"),
    };
    let f = Fetcher::new(FetchConfig {
        allowed_hosts: bases.hosts(),
        proxy: ProxyChoice::Direct,
        timeout: Duration::from_secs(2),
        retries: 0,
        backoff: Duration::from_millis(10),
        ..Default::default()
    })
    .unwrap();
    (s, bases, f)
}

fn day(d: u8) -> Date {
    Date::from_calendar_date(2025, Month::October, d).unwrap()
}

fn bytes(f: &Fetched) -> &[u8] {
    match f {
        Fetched::Body { bytes, .. } => bytes,
        Fetched::NotModified => panic!("no body"),
    }
}

#[test]
fn the_newest_service_tag_file_of_the_week_is_found_by_date() {
    let (s, bases, f) = setup();
    s.route(
        &format!("{PUBLIC}/ServiceTags_Public_20251013.json"),
        vec![Reply::ok(b"monday")],
    );
    s.route(
        &format!("{PUBLIC}/ServiceTags_Public_20251006.json"),
        vec![Reply::ok(b"older")],
    );
    let got = fetch(
        Live::ServiceTags(TagCloud::Public),
        &bases,
        &f,
        &Known::default(),
        day(15),
        "id",
    )
    .unwrap();
    assert_eq!(bytes(&got.fetched), b"monday");
    assert!(got.url.ends_with("ServiceTags_Public_20251013.json"));
    // Today and yesterday were asked for first, and nothing older.
    for d in ["20251015", "20251014"] {
        assert_eq!(
            s.seen(&format!("{PUBLIC}/ServiceTags_Public_{d}.json"))
                .len(),
            1,
            "{d}"
        );
    }
    assert!(
        s.seen(&format!("{PUBLIC}/ServiceTags_Public_20251006.json"))
            .is_empty()
    );
    // A failing (not absent) day stops the probe: no older file instead.
    s.route(
        &format!("{PUBLIC}/ServiceTags_Public_20251014.json"),
        vec![Reply::status(500)],
    );
    let err = fetch(
        Live::ServiceTags(TagCloud::Public),
        &bases,
        &f,
        &Known::default(),
        day(15),
        "id",
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("ServiceTags_Public_20251014.json: answered 500"),
        "{err}"
    );
}

#[test]
fn without_a_file_this_week_the_download_page_link_is_followed() {
    let (s, bases, f) = setup();
    let link = s.url(&format!("{PUBLIC}/ServiceTags_Public_20251001.json"));
    s.route(
        "/pages/details.aspx?id=56519",
        vec![Reply::ok(
            format!("<a href=\"{link}\">download</a>").as_bytes(),
        )],
    );
    s.route(
        &format!("{PUBLIC}/ServiceTags_Public_20251001.json"),
        vec![Reply::ok(b"from the page")],
    );
    let got = fetch(
        Live::ServiceTags(TagCloud::Public),
        &bases,
        &f,
        &Known::default(),
        day(15),
        "id",
    )
    .unwrap();
    assert_eq!(bytes(&got.fetched), b"from the page");
    assert_eq!(got.url, link);
    // Eight days probed first.
    let probed = (8..=15)
        .filter(|d| {
            !s.seen(&format!("{PUBLIC}/ServiceTags_Public_202510{d:02}.json"))
                .is_empty()
        })
        .count();
    assert_eq!(probed, 8);
    // A page without the link says so.
    s.route(
        "/pages/details.aspx?id=57063",
        vec![Reply::ok(b"<html>redesigned</html>")],
    );
    let err = fetch(
        Live::ServiceTags(TagCloud::AzureGovernment),
        &bases,
        &f,
        &Known::default(),
        day(15),
        "id",
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("links no ServiceTags_AzureGovernment_YYYYMMDD.json"),
        "{err}"
    );
}

#[test]
fn a_learn_page_is_asked_for_conditionally() {
    let (s, bases, f) = setup();
    let path = "/docs/defender-endpoint/standard-device-connectivity-urls-commercial.md";
    s.route(
        path,
        vec![Reply::Conditional {
            etag: "\"abc\"".into(),
            body: b"| table |".to_vec(),
        }],
    );
    let live = Live::Learn(LearnPage::StandardCommercial);
    let got = fetch(live, &bases, &f, &Known::default(), day(15), "id").unwrap();
    let Fetched::Body { validators, .. } = &got.fetched else {
        panic!()
    };
    let known = Known {
        url: Some(got.url.clone()),
        validators: Some(validators.clone()),
        version: None,
    };
    assert_eq!(
        fetch(live, &bases, &f, &known, day(15), "id")
            .unwrap()
            .fetched,
        Fetched::NotModified
    );
    // Validators of another URL are not sent.
    let other = Known {
        url: Some("elsewhere".into()),
        validators: Some(Validators {
            etag: Some("\"abc\"".into()),
            last_modified: None,
        }),
        version: None,
    };
    assert!(matches!(
        fetch(live, &bases, &f, &other, day(15), "id")
            .unwrap()
            .fetched,
        Fetched::Body { .. }
    ));
}

#[test]
fn m365_endpoints_are_fetched_only_when_the_version_moved() {
    let (s, bases, f) = setup();
    let dir = tempfile::tempdir().unwrap();
    let id = client_request_id(dir.path()).unwrap();
    assert_eq!(
        client_request_id(dir.path()).unwrap(),
        id,
        "one id per installation"
    );
    let version = format!("/m365/version/Worldwide?clientrequestid={id}");
    let endpoints = format!("/m365/endpoints/Worldwide?clientrequestid={id}");
    s.route(
        &version,
        vec![Reply::ok(
            br#"{"instance":"Worldwide","latest":"2025101300"}"#,
        )],
    );
    s.route(&endpoints, vec![Reply::ok(b"[]")]);
    let live = Live::M365(M365Instance::Worldwide);
    let got = fetch(live, &bases, &f, &Known::default(), day(15), &id).unwrap();
    assert_eq!(
        (got.version.as_deref(), bytes(&got.fetched)),
        (Some("2025101300"), &b"[]"[..])
    );
    let known = Known {
        version: got.version.clone(),
        ..Default::default()
    };
    let again = fetch(live, &bases, &f, &known, day(15), &id).unwrap();
    assert_eq!(again.fetched, Fetched::NotModified);
    assert_eq!((s.seen(&version).len(), s.seen(&endpoints).len()), (2, 1));
    // A version older than the one held is refused before /endpoints.
    s.route(
        &version,
        vec![Reply::ok(
            br#"{"instance":"Worldwide","latest":"2025100100"}"#,
        )],
    );
    let err = fetch(live, &bases, &f, &known, day(15), &id)
        .unwrap_err()
        .to_string();
    assert!(
        err.ends_with("offers version 2025100100, older than the 2025101300 already held"),
        "{err}"
    );
    assert_eq!(s.seen(&endpoints).len(), 1);
}
