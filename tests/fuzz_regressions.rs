//! Replays every input under fuzz/regressions/TARGET/ through the same
//! target body the fuzzer runs (egressgen::conformance::targets): each
//! finding of a fuzz run, and each hostile input of issue 9, stays fixed.

use std::path::Path;

use egressgen::conformance::targets;

#[test]
fn every_regression_input_passes_its_target() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
    let mut replayed = 0;
    for name in targets::NAMES {
        let dir = root.join(name);
        assert!(dir.is_dir(), "{} is missing", dir.display());
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            {
                continue;
            }
            let data = std::fs::read(&path).unwrap();
            let outcome = std::panic::catch_unwind(|| targets::run(name, &data));
            assert!(outcome.is_ok(), "{}: the target fails", path.display());
            replayed += 1;
        }
    }
    assert!(replayed >= 6, "{replayed} inputs replayed");
}

#[test]
fn the_checks_catch_a_bad_output_line() {
    // The replay is only as good as the checks: they must fail on what
    // issue 9 found.
    use egressgen::conformance::check_file;
    let caught = |name: &str, text: &str| {
        std::panic::catch_unwind(|| check_file(name, text.as_bytes())).is_err()
    };
    assert!(caught(
        "proxy.pac",
        "// source: a\u{2028}FindProxyForURL=0\n"
    ));
    assert!(caught(
        "allowlist-80.txt",
        "crl.example.com/pki/\nhttp_access allow all\n"
    ));
    assert!(caught("squid-https.dstdomain", "*.x.example.com\n"));
    assert!(caught("pfsense-aliases.xml", "<!-- a -- b -->\n"));
    assert!(caught("tls-bypass.txt", "a.example.com\r\n"));
    // Windows files end lines in CRLF, and nowhere else has a CR.
    assert!(!caught(
        "defender-proxy.reg",
        "Windows Registry Editor Version 5.00\r\n\r\n"
    ));
    assert!(caught("defender-proxy.reg", "\"A\"=\"x\ry\"\r\n"));
    assert!(caught("mdatp-proxy.sh", "set -eu\r\n"));
    assert!(!caught(
        "squid-https.dstdomain",
        "# comment\n.x.example.com\na.example.com\n"
    ));
}
