//! The scheduling files in contrib/: systemd accepts the units, and the
//! command line the service runs is one egressgen understands.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::tools::require;

fn contrib(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("contrib")
        .join(name);
    std::fs::read_to_string(path).unwrap()
}

#[test]
fn systemd_analyze_verify_accepts_the_units() {
    let analyze = require("systemd-analyze", "systemd");
    let tmp = tempfile::tempdir().unwrap();
    // verify checks that ExecStart= names an executable: point it at this
    // build instead of the installed path.
    let service = contrib("egressgen-refresh.service")
        .replace("/usr/local/bin/egressgen", env!("CARGO_BIN_EXE_egressgen"));
    std::fs::write(tmp.path().join("egressgen-refresh.service"), service).unwrap();
    std::fs::write(
        tmp.path().join("egressgen-refresh.timer"),
        contrib("egressgen-refresh.timer"),
    )
    .unwrap();
    let out = Command::new(analyze)
        .arg("verify")
        .arg(tmp.path().join("egressgen-refresh.service"))
        .arg(tmp.path().join("egressgen-refresh.timer"))
        .output()
        .unwrap();
    let said =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{said}");
    assert!(said.trim().is_empty(), "no warning either: {said}");
}

#[test]
fn the_service_command_line_is_accepted() {
    let service = contrib("egressgen-refresh.service");
    let exec = service
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("an ExecStart line");
    let mut words: Vec<&str> = exec.split_whitespace().collect();
    assert_eq!(words.remove(0), "/usr/local/bin/egressgen");
    // The ruleset does not exist here: a usage error (2) would mean a
    // flag of the unit is wrong; the missing file is exit 4.
    let out = common::egressgen(&words);
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("/etc/egressgen/site.toml"));
    // 10 (published) is success to systemd; 11-13 are not.
    assert!(service.contains("\nSuccessExitStatus=10\n"));
}
