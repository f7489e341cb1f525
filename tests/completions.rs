//! The zsh completion script, as an interactive zsh runs it on a terminal.
//!
//! clap writes a value name such as `HOST:IP` into a zsh spec unescaped,
//! which zsh reads as the end of the message and runs the rest as the
//! action (`bad pattern: [PORT`, `_arguments: ']' expected`). Here a real
//! zsh completes the options whose value names hold colons, a source
//! argument with a `live:` name, and a subcommand.

mod common;

use std::path::Path;
use std::process::Command;

use common::egressgen;
use common::tools::require;

#[test]
fn zsh_completes_every_kind_of_argument_without_an_error() {
    let zsh = require("zsh", "zsh");
    let python = require("python3", "python3");
    let dir = tempfile::tempdir().unwrap();
    let fpath = dir.path().join("fpath");
    std::fs::create_dir(&fpath).unwrap();
    let script = egressgen(&["completions", "zsh"]);
    assert!(script.status.success());
    std::fs::write(fpath.join("_egressgen"), &script.stdout).unwrap();
    // Files to offer, so zsh lists them under the description instead of
    // completing the only one.
    for name in ["hosts-a.txt", "hosts-b.txt"] {
        std::fs::write(dir.path().join(name), "").unwrap();
    }
    let lines = [
        "egressgen verify --resolve ",
        "egressgen audit --ruleset r.toml --resolve ",
        "egressgen diff live:service-tags-p",
        "egressgen ge",
    ];
    let out = Command::new(python)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/zsh_pty.py"))
        .arg(&fpath)
        .args(lines)
        .current_dir(dir.path())
        .env(
            "PATH",
            format!("{}:/usr/bin:/bin", zsh.parent().unwrap().display()),
        )
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown: Vec<String> = serde_json::from_slice(&out.stdout).unwrap();
    for (line, seen) in lines.iter().zip(&shown) {
        for error in ["bad pattern", "expected", "command not found", "not found"] {
            assert!(!seen.contains(error), "{line}: {seen}");
        }
    }
    assert!(shown[0].contains("DESC[HOST:[PORT:]IP]"), "{}", shown[0]);
    assert!(shown[1].contains("DESC[HOST:IP]"), "{}", shown[1]);
    assert!(
        shown[2].contains("egressgen diff live:service-tags-public "),
        "{}",
        shown[2]
    );
    assert!(shown[3].contains("egressgen generate "), "{}", shown[3]);
}
