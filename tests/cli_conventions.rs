//! What a CLI user expects of every command: completions and a man page
//! generated from the clap definitions and checked by the real consumers
//! (bash, mandoc), `--quiet` and `-v` everywhere, `--format json` where a
//! result is printed, and no panic on a closed pipe.

mod common;

use std::process::{Command, Stdio};

use common::egressgen;
use common::tools::require;

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asks bash's completion function for the words after `line`.
fn complete(script: &std::path::Path, words: &[&str]) -> String {
    let words_q: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let program = format!(
        "source {}; COMP_WORDS=({}); COMP_CWORD={}; COMP_LINE='{}'; COMP_POINT=${{#COMP_LINE}}; _egressgen egressgen '{}' '{}'; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display(),
        words_q.join(" "),
        words.len() - 1,
        words.join(" "),
        words[words.len() - 1],
        words[words.len() - 2],
    );
    let out = Command::new(require("bash", "bash"))
        .args(["--norc", "-c", &program])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out)
}

#[test]
fn bash_completes_subcommands_and_options_from_the_clap_definitions() {
    let out = egressgen(&["completions", "bash"]);
    assert!(out.status.success());
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("egressgen.bash");
    std::fs::write(&script, &out.stdout).unwrap();
    let subcommands = complete(&script, &["egressgen", "ge"]);
    assert_eq!(subcommands.trim(), "generate");
    let options = complete(&script, &["egressgen", "generate", "--fo"]);
    let options: Vec<&str> = options.split_whitespace().collect();
    assert!(
        options.contains(&"--force") && options.contains(&"--format"),
        "{options:?}"
    );
    // Every shell clap knows gets a script.
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let out = egressgen(&["completions", shell]);
        assert!(out.status.success() && out.stdout.len() > 500, "{shell}");
    }
}

#[test]
fn the_man_page_passes_mandoc_lint_and_documents_every_command() {
    let out = egressgen(&["man"]);
    assert!(out.status.success());
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("egressgen.1");
    std::fs::write(&page, &out.stdout).unwrap();
    let lint = Command::new(require("mandoc", "mandoc"))
        .args(["-T", "lint", "-W", "warning"])
        .arg(&page)
        .output()
        .unwrap();
    assert!(lint.status.success(), "{}{}", stdout(&lint), stderr(&lint));
    let text = Command::new(require("mandoc", "mandoc"))
        .args(["-T", "utf8"])
        .arg(&page)
        .output()
        .unwrap();
    let text = plain(&stdout(&text));
    for section in [
        "EGRESSGEN GENERATE",
        "EGRESSGEN EXPLAIN",
        "EGRESSGEN CATALOG",
        "EXIT STATUS",
    ] {
        assert!(text.contains(section), "{section} missing");
    }
    assert!(text.contains("--force"));
}

/// Text without the overstrike of a terminal renderer (`X\bX` is a bold
/// X): a backspace takes back the character before it.
fn plain(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c == '\u{8}' {
            out.pop();
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn quiet_and_verbose_are_accepted_by_every_command() {
    let cmd = <egressgen::cli::Cli as clap::CommandFactory>::command();
    for sub in cmd.get_subcommands() {
        for flag in ["--quiet", "-v"] {
            let out = egressgen(&[sub.get_name(), flag, "--help"]);
            assert!(
                out.status.success(),
                "{} {flag}: {}",
                sub.get_name(),
                stderr(&out)
            );
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let ruleset = common::fixture("small-ruleset.toml");
    let r = ruleset.to_str().unwrap();
    let out_dir = dir.path().join("q");
    // --quiet: nothing on stdout or stderr, the work done.
    let out = egressgen(&["generate", "-q", r, "--out", out_dir.to_str().unwrap()]);
    assert!(out.status.success());
    assert_eq!((stdout(&out), stderr(&out)), (String::new(), String::new()));
    assert!(out_dir.join("policy.json").is_file());
    // -v: what was read, resolved and published, on stderr.
    let out = egressgen(&["-v", "generate", r, "--out", out_dir.to_str().unwrap()]);
    let log = stderr(&out);
    for event in ["source read", "policy resolved", "published"] {
        assert!(log.contains(event), "{event}: {log}");
    }
    // explain -q answers with its exit status alone.
    let yes = egressgen(&["explain", "-q", "x.cp.wd.microsoft.com"]);
    let no = egressgen(&["explain", "-q", "example.org"]);
    assert_eq!((yes.status.code(), no.status.code()), (Some(0), Some(1)));
    assert!(yes.stdout.is_empty() && no.stdout.is_empty());
    // Both at once is a usage error.
    assert_eq!(egressgen(&["-q", "-v", "catalog"]).status.code(), Some(2));
}

#[test]
fn generate_prints_one_json_document_with_errors_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "name = \"bad\"\n[sources]\nfiles = [\"builtin:nope\"]\n",
    )
    .unwrap();
    let good = common::fixture("small-ruleset.toml");
    let out_dir = dir.path().join("out");
    let out = egressgen(&[
        "generate",
        "--format",
        "json",
        good.to_str().unwrap(),
        bad.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(4));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["format"], "egressgen-generate");
    let rulesets = doc["rulesets"].as_array().unwrap();
    assert_eq!(rulesets.len(), 2);
    assert_eq!(rulesets[0]["ruleset"], "small");
    assert_eq!(
        rulesets[0]["out_dir"],
        out_dir.join("small").to_str().unwrap()
    );
    assert!(
        rulesets[0]["files"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f == "squid.conf")
    );
    assert!(rulesets[0]["entries"].as_u64().unwrap() > 0);
    assert_eq!(rulesets[1]["error"]["exit_code"], 4);
    let message = rulesets[1]["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("bad.toml:3:9: unknown built-in source"),
        "{message}"
    );
    // The error also reaches stderr, for a timer's log.
    assert!(stderr(&out).contains("unknown built-in source"));
}

#[test]
fn a_closed_pipe_ends_the_output_without_a_panic() {
    for args in [
        vec!["catalog"],
        vec!["catalog", "--format", "json"],
        vec!["explain", "x.cp.wd.microsoft.com"],
        vec!["man"],
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_egressgen"))
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Close our end before the program writes.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        assert!(!stderr(&out).contains("panicked"), "{args:?}");
    }
}
