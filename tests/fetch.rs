//! Fetching against a scripted server on 127.0.0.1: every way a live
//! source misbehaves ends in the documented error or a retry, and nothing
//! leaves the machine.

mod common;

use std::time::Duration;

use common::http::{Reply, Server};
use egressgen::cache::Validators;
use egressgen::refresh::fetch::{FetchConfig, FetchError, Fetched, Fetcher, ProxyChoice};

fn fetcher(retries: u32) -> Fetcher {
    Fetcher::new(FetchConfig {
        allowed_hosts: vec!["127.0.0.1".to_string()],
        proxy: ProxyChoice::Direct,
        timeout: Duration::from_secs(1),
        connect_timeout: Duration::from_secs(1),
        retries,
        backoff: Duration::from_millis(10),
        max_wait: Duration::from_secs(5),
        max_body: 1000,
        ..Default::default()
    })
    .unwrap()
}

fn body(f: Fetched) -> Vec<u8> {
    match f {
        Fetched::Body { bytes, .. } => bytes,
        Fetched::NotModified => panic!("expected a body"),
    }
}

#[test]
fn a_body_is_returned_with_its_validators() {
    let s = Server::start();
    s.route(
        "/a.json",
        vec![Reply::Answer {
            status: 200,
            headers: vec![
                ("ETag".into(), "\"v1\"".into()),
                (
                    "Last-Modified".into(),
                    "Mon, 13 Oct 2025 00:00:00 GMT".into(),
                ),
            ],
            body: b"{}".to_vec(),
        }],
    );
    let got = fetcher(0).get(&s.url("/a.json"), None).unwrap();
    assert_eq!(
        got,
        Fetched::Body {
            bytes: b"{}".to_vec(),
            validators: Validators {
                etag: Some("\"v1\"".into()),
                last_modified: Some("Mon, 13 Oct 2025 00:00:00 GMT".into()),
            }
        }
    );
}

#[test]
fn server_errors_resets_and_truncated_bodies_are_retried() {
    let s = Server::start();
    s.route(
        "/x",
        vec![
            Reply::status(500),
            Reply::Close,
            Reply::Truncated {
                body: b"{\"val".to_vec(),
                claimed: 100,
            },
            Reply::status(503),
            Reply::ok(b"good"),
        ],
    );
    assert_eq!(body(fetcher(4).get(&s.url("/x"), None).unwrap()), b"good");
    assert_eq!(s.seen("/x").len(), 5);
    // Out of attempts: the last error is named.
    let s = Server::start();
    s.route("/y", vec![Reply::Close]);
    let err = fetcher(2).get(&s.url("/y"), None).unwrap_err();
    assert!(
        matches!(err, FetchError::GaveUp { attempts: 3, .. }),
        "{err}"
    );
    assert_eq!(s.seen("/y").len(), 3);
    let s = Server::start();
    s.route(
        "/z",
        vec![Reply::Truncated {
            body: b"abc".to_vec(),
            claimed: 900,
        }],
    );
    let err = fetcher(0).get(&s.url("/z"), None).unwrap_err().to_string();
    assert!(err.contains("the body broke off after"), "{err}");
}

#[test]
fn a_missing_file_is_not_retried() {
    let s = Server::start();
    s.route("/gone", vec![Reply::status(404)]);
    let err = fetcher(3).get(&s.url("/gone"), None).unwrap_err();
    assert!(
        matches!(err, FetchError::Status { status: 404, .. }),
        "{err}"
    );
    assert_eq!(s.seen("/gone").len(), 1);
}

#[test]
fn retry_after_is_honoured_and_an_unreasonable_one_refused() {
    let s = Server::start();
    s.route(
        "/busy",
        vec![
            Reply::with_header(429, "Retry-After", "1"),
            Reply::ok(b"ok"),
        ],
    );
    assert_eq!(body(fetcher(1).get(&s.url("/busy"), None).unwrap()), b"ok");
    let seen = s.seen("/busy");
    assert_eq!(seen.len(), 2);
    // The server saw the second request no sooner than it asked.
    assert!(seen[1].at.duration_since(seen[0].at) >= Duration::from_millis(990));
    let s = Server::start();
    s.route(
        "/later",
        vec![Reply::with_header(503, "Retry-After", "3600")],
    );
    let err = fetcher(3).get(&s.url("/later"), None).unwrap_err();
    assert!(matches!(err, FetchError::WaitTooLong { .. }), "{err}");
    assert_eq!(s.seen("/later").len(), 1);
}

#[test]
fn a_stalled_server_times_out() {
    let s = Server::start();
    s.route("/slow", vec![Reply::Stall(Duration::from_secs(3))]);
    let err = fetcher(0)
        .get(&s.url("/slow"), None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("no answer within 1s"), "{err}");
}

#[test]
fn only_allowed_hosts_are_contacted_redirects_included() {
    let s = Server::start();
    s.route(
        "/moved",
        vec![Reply::with_header(
            302,
            "Location",
            "http://download.example.invalid/x.json",
        )],
    );
    let err = fetcher(3).get(&s.url("/moved"), None).unwrap_err();
    match &err {
        FetchError::Redirect { why, .. } => {
            assert!(why.starts_with("to download.example.invalid,"), "{why}")
        }
        other => panic!("{other}"),
    }
    assert_eq!(
        s.seen("/moved").len(),
        1,
        "a refused redirect is not retried"
    );
    // A redirect on the same host is followed.
    s.route("/old", vec![Reply::with_header(301, "Location", "/new")]);
    s.route("/new", vec![Reply::ok(b"new")]);
    assert_eq!(body(fetcher(0).get(&s.url("/old"), None).unwrap()), b"new");
    // A first URL on another host is refused before any connection.
    let err = fetcher(0).get("http://example.com/x", None).unwrap_err();
    assert!(matches!(err, FetchError::ForeignHost { .. }), "{err}");
}

#[test]
fn bodies_over_the_limit_are_refused_while_read() {
    let s = Server::start();
    s.route("/big", vec![Reply::ok(&[b'x'; 2000])]);
    s.route("/chunked", vec![Reply::Chunked(vec![b'y'; 5000])]);
    s.route("/fits", vec![Reply::Chunked(vec![b'z'; 1000])]);
    for path in ["/big", "/chunked"] {
        let err = fetcher(2).get(&s.url(path), None).unwrap_err();
        assert!(
            matches!(err, FetchError::TooLarge { limit: 1000, .. }),
            "{path}: {err}"
        );
        assert_eq!(s.seen(path).len(), 1, "{path}: not retried");
    }
    assert_eq!(
        body(fetcher(0).get(&s.url("/fits"), None).unwrap()).len(),
        1000
    );
}

#[test]
fn a_conditional_get_transfers_no_body_when_nothing_changed() {
    let s = Server::start();
    s.route(
        "/tags.json",
        vec![Reply::Conditional {
            etag: "\"373\"".into(),
            body: b"{\"changeNumber\": 373}".to_vec(),
        }],
    );
    let f = fetcher(0);
    let Fetched::Body { validators, .. } = f.get(&s.url("/tags.json"), None).unwrap() else {
        panic!("first fetch has a body");
    };
    assert_eq!(validators.etag.as_deref(), Some("\"373\""));
    assert_eq!(
        f.get(&s.url("/tags.json"), Some(&validators)).unwrap(),
        Fetched::NotModified
    );
    let seen = s.seen("/tags.json");
    assert_eq!(seen.len(), 2);
    assert_eq!(
        seen[1].headers.get("if-none-match").map(String::as_str),
        Some("\"373\"")
    );
    assert_eq!((seen[0].body_sent, seen[1].body_sent), (21, 0));
}

#[test]
fn an_unasked_304_and_an_endless_retry_after_are_errors() {
    let s = Server::start();
    s.route("/unasked", vec![Reply::status(304)]);
    let err = fetcher(0).get(&s.url("/unasked"), None).unwrap_err();
    assert!(
        matches!(err, FetchError::Status { status: 304, .. }),
        "{err}"
    );
    s.route(
        "/forever",
        vec![Reply::with_header(
            429,
            "Retry-After",
            "99999999999999999999999",
        )],
    );
    let err = fetcher(3).get(&s.url("/forever"), None).unwrap_err();
    assert!(matches!(err, FetchError::WaitTooLong { .. }), "{err}");
    assert_eq!(s.seen("/forever").len(), 1);
}

#[test]
fn a_redirect_stays_on_the_host_asked_for_unless_configured() {
    // Both names are loopback and both allowed: the request may go to
    // either, but an answer from one may not send it to the other.
    let s = Server::start();
    let port = s.base.rsplit(':').next().unwrap().to_string();
    s.route(
        "/hop",
        vec![Reply::with_header(
            302,
            "Location",
            &format!("http://localhost:{port}/there"),
        )],
    );
    s.route("/there", vec![Reply::ok(b"there")]);
    let config = |extra: Vec<String>| FetchConfig {
        allowed_hosts: vec!["127.0.0.1".into(), "localhost".into()],
        redirect_hosts: extra,
        proxy: ProxyChoice::Direct,
        timeout: Duration::from_secs(2),
        retries: 0,
        ..Default::default()
    };
    let err = Fetcher::new(config(vec![]))
        .unwrap()
        .get(&s.url("/hop"), None)
        .unwrap_err();
    assert!(
        matches!(&err, FetchError::Redirect { why, .. } if why.starts_with("to localhost,")),
        "{err}"
    );
    assert!(s.seen("/there").is_empty());
    let got = Fetcher::new(config(vec!["localhost".into()]))
        .unwrap()
        .get(&s.url("/hop"), None)
        .unwrap();
    assert_eq!(body(got), b"there");
}

#[test]
fn a_trickling_body_is_cut_off_at_the_timeout() {
    let s = Server::start();
    // 30 bytes, one every 100 ms: 3 s in all, never 1 s of silence.
    s.route(
        "/trickle",
        vec![Reply::Trickle {
            body: vec![b't'; 30],
            every: Duration::from_millis(100),
        }],
    );
    let started = std::time::Instant::now();
    let err = fetcher(0).get(&s.url("/trickle"), None).unwrap_err();
    let took = started.elapsed();
    assert!(matches!(err, FetchError::Transport { .. }), "{err}");
    assert!(took < Duration::from_millis(2500), "took {took:?}");
}

#[test]
fn retries_stop_at_the_source_deadline() {
    let s = Server::start();
    s.route("/busy", vec![Reply::with_header(503, "Retry-After", "1")]);
    let f = Fetcher::new(FetchConfig {
        allowed_hosts: vec!["127.0.0.1".into()],
        proxy: ProxyChoice::Direct,
        timeout: Duration::from_millis(500),
        retries: 50,
        max_wait: Duration::from_secs(5),
        deadline: Duration::from_secs(3),
        ..Default::default()
    })
    .unwrap();
    let started = std::time::Instant::now();
    let err = f.get(&s.url("/busy"), None).unwrap_err();
    let took = started.elapsed();
    assert!(
        matches!(err, FetchError::Deadline { deadline, .. } if deadline == Duration::from_secs(3)),
        "{err}"
    );
    assert!(took <= Duration::from_secs(3), "took {took:?}");
    // One attempt, then a 1 s wait per further attempt that still fits.
    let tries = s.seen("/busy").len();
    assert!((2..=3).contains(&tries), "{tries} attempts");
}

#[test]
fn credentials_in_a_url_are_never_shown() {
    let s = Server::start();
    s.route("/private", vec![Reply::status(404)]);
    let with_secret = s.base.replace("http://", "http://mirror:s3cret@");
    let err = fetcher(0)
        .get(&format!("{with_secret}/private"), None)
        .unwrap_err()
        .to_string();
    assert!(!err.contains("s3cret") && !err.contains("mirror"), "{err}");
    assert!(err.contains("http://***@127.0.0.1:"), "{err}");
    // The credentials were sent, as basic authentication.
    let seen = s.seen("/private");
    assert!(seen[0].headers["authorization"].starts_with("Basic "));
    // A transport error names the URL through reqwest too.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let err = fetcher(0)
        .get(&format!("http://mirror:s3cret@127.0.0.1:{port}/x"), None)
        .unwrap_err()
        .to_string();
    assert!(!err.contains("s3cret"), "{err}");
    // A proxy given with credentials is not echoed either.
    let err = Fetcher::new(FetchConfig {
        proxy: ProxyChoice::Url("http://user:s3cret@[::1".into()),
        ..Default::default()
    })
    .err()
    .expect("a malformed proxy URL is refused")
    .to_string();
    assert!(
        err.starts_with("cannot set up the HTTP client: --proxy ***@"),
        "{err}"
    );
    assert!(!err.contains("s3cret"), "{err}");
}
