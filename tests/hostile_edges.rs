//! The edges around cell validation, as a careless or hostile user finds
//! them: devices, FIFOs and symbolic links as inputs, file names that are
//! code in another syntax, encoded path tricks, workbooks that two readers
//! would read differently, and names that are terminal control sequences.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Runs egressgen, killing it (and failing) if it has not finished in
/// ten seconds: a hang is a failure, not a stuck test run.
fn bounded(args: &[&str], dir: &Path) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_egressgen"))
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run egressgen");
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            panic!("egressgen {args:?} hung");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(status.success());
}

#[test]
fn devices_fifos_and_links_to_them_are_refused_without_reading() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::os::unix::fs::symlink("/dev/zero", dir.join("zero.json")).unwrap();
    mkfifo(&dir.join("pipe.json"));
    mkfifo(&dir.join("pipe.toml"));
    std::fs::write(
        dir.join("site.toml"),
        "name = \"s\"\n[sources]\nfiles = [\"pipe.json\"]\n[scope]\ncloud = \"commercial\"\n[outputs.plain]\n",
    )
    .unwrap();
    for (args, what) in [
        (
            vec!["catalog", "--source", "/dev/zero"],
            "a character device",
        ),
        (
            vec!["catalog", "--source", "zero.json"],
            "a character device",
        ),
        (vec!["catalog", "--source", "pipe.json"], "a FIFO"),
        (vec!["generate", "/dev/zero"], "a character device"),
        (vec!["generate", "pipe.toml"], "a FIFO"),
        (vec!["generate", "site.toml"], "a FIFO"),
        (vec!["catalog", "--source", "."], "a directory"),
    ] {
        let out = bounded(&args, dir);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(what), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("not a regular file"),
            "{}",
            stderr(&out)
        );
    }
    assert!(!dir.join("out").exists());
}

#[test]
fn an_oversized_ruleset_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let big = tmp.path().join("big.toml");
    let mut text = String::from("name = \"big\"\n");
    while text.len() < 2 * 1024 * 1024 {
        text.push_str("# padding padding padding padding padding padding padding\n");
    }
    std::fs::write(&big, text).unwrap();
    let out = bounded(&["generate", "big.toml"], tmp.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("is more than 1048576 bytes"),
        "{}",
        stderr(&out)
    );
}
