//! `init` writes a ruleset that checks and generates as written; `check` is `generate` without the writing.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::egressgen;
use common::tools::require;

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("an exit status, not a signal")
}

/// Every path below `dir`, sorted, with the file contents: what a command
/// that writes nothing leaves as it found it.
fn tree(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p.clone());
                out.push((p, Vec::new()));
            } else {
                let bytes = std::fs::read(&p).unwrap();
                out.push((p, bytes));
            }
        }
    }
    out.sort();
    out
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The flags of the book's example (docs/your-own-site.md).
const SITE: &[&str] = &[
    "--name",
    "site",
    "--cloud",
    "commercial",
    "--geography",
    "EU",
    "--product",
    "mde",
    "--product",
    "mdav",
    "--proxy",
    "proxy.contoso.com:3128",
];

fn init(file: &Path, flags: &[&str]) -> Output {
    let mut args = vec!["init", s(file)];
    args.extend_from_slice(flags);
    // Not a terminal: stdin is /dev/null (Command::output), so a missing
    // value fails instead of waiting for an answer.
    egressgen(&args)
}

#[test]
fn init_writes_a_ruleset_that_checks_and_generates_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("site.toml");
    let out = init(&file, SITE);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stdout(&out).starts_with("wrote "), "{}", stdout(&out));
    let text = std::fs::read_to_string(&file).unwrap();
    for key in [
        "name = \"site\"",
        "cloud = \"commercial\"",
        "geographies = [\"EU\"]",
        "products = [\"mde\", \"mdav\"]",
        "addresses = [\"proxy.contoso.com:3128\"]",
        "[outputs.squid]",
        "listen = 3128",
        "[outputs.pac]",
        "[outputs.tls_bypass]",
    ] {
        assert!(text.contains(key), "{key} missing:\n{text}");
    }
    assert!(!text.contains("[outputs.plain]"), "{text}");
    assert!(!text.contains("[site]"), "{text}");

    // check, even strict: no warning, nothing written.
    let before = tree(dir.path());
    let out = egressgen(&["check", "--strict", s(&file)]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with("site: ") && stdout(&out).contains("generate would write"),
        "{}",
        stdout(&out)
    );
    assert_eq!(tree(dir.path()), before);
    assert!(!dir.path().join("out").exists());

    let out = egressgen(&["generate", "--strict", s(&file)]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let site = dir.path().join("out/site");
    for f in ["policy.json", "proxy.pac", "squid-egressgen.conf"] {
        assert!(site.join(f).is_file(), "{f} missing: {:?}", tree(&site));
    }
    // The PAC sends devices to the proxy given.
    let pac = std::fs::read_to_string(site.join("proxy.pac")).unwrap();
    assert!(pac.contains("PROXY proxy.contoso.com:3128"), "{pac}");
}

#[test]
fn init_with_every_output_and_the_id_products_generates() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("all.toml");
    let out = init(
        &file,
        &[
            "--name",
            "all",
            "--cloud",
            "commercial",
            "--product",
            "mde,mma",
            "--product",
            "mdi",
            "--workspace-id",
            "0E2B1D6C-1111-2222-3333-444455556666",
            "--mdi-instance",
            "contoso-corp",
            "--proxy",
            "10.1.2.3:8080",
            "--output",
            "plain,squid,pac,tls-bypass,pfsense,azure_firewall,nftables",
            "--output",
            "windows",
            "--output",
            "mdi-sensor",
            "--output",
            "mdatp",
        ],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("listen = 8080"), "{text}");
    assert!(
        text.contains("workspace_ids = [\"0e2b1d6c-1111-2222-3333-444455556666\"]"),
        "{text}"
    );
    let out = egressgen(&["generate", "--strict", s(&file)]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let files = stdout(&out);
    for f in ["mdatp-proxy.sh", "proxy.pac", "policy.json"] {
        assert!(files.contains(f), "{f} missing:\n{files}");
    }
}

#[test]
fn init_never_overwrites_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("site.toml");
    let mine = b"# my own ruleset\nname = \"mine\"\n";
    std::fs::write(&file, mine).unwrap();
    let out = init(&file, SITE);
    assert_eq!(code(&out), 5, "{}", stderr(&out));
    assert!(stderr(&out).contains("exists"), "{}", stderr(&out));
    assert_eq!(std::fs::read(&file).unwrap(), mine);
    // Nor through a dangling symbolic link.
    let link = dir.path().join("link.toml");
    std::os::unix::fs::symlink(dir.path().join("nowhere.toml"), &link).unwrap();
    let out = init(&link, SITE);
    assert_eq!(code(&out), 5, "{}", stderr(&out));
    assert!(!dir.path().join("nowhere.toml").exists());
}

#[test]
fn without_a_terminal_missing_values_are_named_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("site.toml");
    let out = init(&file, &[]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("missing --name, --cloud, --proxy"),
        "{}",
        stderr(&out)
    );
    // mma needs a workspace ID, mdi an instance.
    let out = init(
        &file,
        &[SITE, &["--product", "mma", "--product", "mdi"]].concat(),
    );
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("missing --workspace-id, --mdi-instance"),
        "{}",
        stderr(&out)
    );
    // ... and only they take them.
    let out = init(
        &file,
        &[
            SITE,
            &["--workspace-id", "0e2b1d6c-1111-2222-3333-444455556666"],
        ]
        .concat(),
    );
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--workspace-id is only for the mma product"),
        "{}",
        stderr(&out)
    );
    let out = init(&file, &[SITE, &["--mdi-instance", "contoso"]].concat());
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--mdi-instance is only for the mdi product"),
        "{}",
        stderr(&out)
    );
    // A PAC needs a proxy; firewall outputs do not.
    let out = init(
        &file,
        &["--name", "s", "--cloud", "commercial", "--output", "pac"],
    );
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("--proxy"), "{}", stderr(&out));
    assert!(!file.exists());
    let out = init(
        &file,
        &["--name", "s", "--cloud", "gcc", "--output", "nftables"],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(file.exists());
}

#[test]
fn invalid_values_are_refused_with_a_suggestion_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("site.toml");
    let cases: &[(&[&str], &str)] = &[
        (
            &["--geography", "Europe"],
            "unknown geography \"Europe\" (did you mean EU?); accepted: WW, US, EU",
        ),
        (&["--product", "mdavv"], "(did you mean mdav?)"),
        (&["--output", "tls-bypas"], "(did you mean tls_bypass?)"),
    ];
    for (extra, message) in cases {
        let out = init(&file, &[SITE, extra].concat());
        assert_eq!(code(&out), 2, "{extra:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains(message),
            "{extra:?}: {}",
            stderr(&out)
        );
        assert!(!file.exists(), "{extra:?}");
    }
    let out = init(&file, &["--name", "Site 1", "--cloud", "gcc"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("lower-case"), "{}", stderr(&out));
    let out = init(
        &file,
        &[
            "--name",
            "s",
            "--cloud",
            "mars",
            "--proxy",
            "p.contoso.com:1",
        ],
    );
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("unknown cloud \"mars\"; accepted: commercial, gcc, gcc-high, dod"),
        "{}",
        stderr(&out)
    );
    let out = init(
        &file,
        &[
            "--name",
            "s",
            "--cloud",
            "gcc",
            "--proxy",
            "proxy.contoso.com",
        ],
    );
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("host:port"), "{}", stderr(&out));
    assert!(!file.exists());
}

/// Rulesets that end every way `generate` can end before it writes.
fn cases(dir: &Path) -> Vec<(&'static str, Vec<String>, i32)> {
    let write = |name: &str, text: &str| -> String {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    };
    let base = "name = \"x\"\n[scope]\ncloud = \"commercial\"\n[proxy]\naddresses = [\"proxy.contoso.com:3128\"]\n";
    let good = write(
        "good.toml",
        &format!("{base}[outputs.squid]\n[outputs.pac]\n"),
    );
    let bad_toml = write("bad.toml", "name = \"x\"\n[scope\ncloud = 1\n");
    let quiet = write("no-outputs.toml", base);
    let geo = write(
        "geo.toml",
        &format!("{base}[outputs.squid]\n").replace(
            "cloud = \"commercial\"",
            "cloud = \"commercial\"\ngeographies = [\"Europe\"]",
        ),
    );
    let live = write(
        "live.toml",
        &format!(
            "{base}[sources]\nfiles = [\"live:learn-standard-commercial\"]\n[outputs.squid]\n"
        ),
    );
    let no_proxy = write(
        "no-proxy.toml",
        "name = \"np\"\n[scope]\ncloud = \"commercial\"\n[outputs.pac]\n",
    );
    let unknown = write(
        "unknown.toml",
        &format!(
            "name = \"u\"\n[sources]\nfiles = [{:?}]\n[scope]\ncloud = \"commercial\"\n[outputs.plain]\n",
            common::fixture("learn-unknown-header.md").to_str().unwrap()
        ),
    );
    let other = write("other.toml", &format!("{base}[outputs.squid]\n"));
    let empty_cache = dir.join("empty-cache");
    let cache = empty_cache.to_str().unwrap().to_string();
    let v = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    vec![
        ("good", v(&[&good]), 0),
        ("good, strict", v(&["--strict", &good]), 0),
        ("bad TOML", v(&[&bad_toml]), 4),
        ("warnings", v(&[&quiet]), 0),
        ("warnings, strict", v(&["--strict", &quiet]), 3),
        ("unknown geography", v(&[&geo]), 4),
        (
            "live source, empty cache",
            v(&["--cache", &cache, &live]),
            4,
        ),
        ("PAC without a proxy", v(&[&no_proxy]), 6),
        ("unknown table", v(&[&unknown]), 4),
        (
            "unknown table, skipped",
            v(&["--skip-unknown-tables", &unknown]),
            0,
        ),
        (
            "--only not configured",
            v(&["--only", "nftables", &good]),
            2,
        ),
        ("two rulesets, one directory", v(&[&good, &other]), 2),
        ("first failure wins", v(&[&bad_toml, &no_proxy]), 4),
    ]
}

#[test]
fn check_ends_as_generate_does_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    for (what, args, want) in cases(dir.path()) {
        // Never-created directories: check leaves them absent, and the
        // whole tree as it was.
        let check_out = dir.path().join("check-out/deeper");
        let before = tree(dir.path());
        let mut check_args = vec!["check".to_string(), "--out".into(), s(&check_out).into()];
        check_args.extend(args.iter().cloned());
        let a: Vec<&str> = check_args.iter().map(String::as_str).collect();
        let checked = egressgen(&a);
        assert_eq!(tree(dir.path()), before, "{what}: check wrote something");
        assert!(!dir.path().join("check-out").exists(), "{what}");
        let gen_out = dir
            .path()
            .join(format!("gen-{}", what.replace([' ', ','], "-")));
        let mut gen_args = vec!["generate".to_string(), "--out".into(), s(&gen_out).into()];
        gen_args.extend(args.iter().cloned());
        let a: Vec<&str> = gen_args.iter().map(String::as_str).collect();
        let generated = egressgen(&a);
        assert_eq!(
            code(&generated),
            want,
            "{what}: generate: {}",
            stderr(&generated)
        );
        assert_eq!(
            code(&checked),
            code(&generated),
            "{what}: check: {}\ngenerate: {}",
            stderr(&checked),
            stderr(&generated)
        );
        // The same error said the same way (the directory aside).
        if want != 0 {
            let first = |o: &Output| {
                stderr(o)
                    .lines()
                    .find(|l| l.starts_with("egressgen: error:"))
                    .unwrap_or_default()
                    .replace(s(&check_out), "DIR")
                    .replace(s(&gen_out), "DIR")
            };
            assert_eq!(first(&checked), first(&generated), "{what}");
        }
        // Warnings are said by both.
        if what == "warnings" {
            assert!(
                stderr(&checked).contains("warning: "),
                "{}",
                stderr(&checked)
            );
            assert_eq!(
                stderr(&checked)
                    .lines()
                    .filter(|l| l.contains("warning"))
                    .count(),
                stderr(&generated)
                    .lines()
                    .filter(|l| l.contains("warning"))
                    .count()
            );
        }
    }
}

#[test]
fn check_without_out_leaves_the_default_directory_absent() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("r.toml");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("rulesets/commercial-eu.toml"),
        &file,
    )
    .unwrap();
    let out = egressgen(&["check", s(&file)]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let summary = stdout(&out);
    assert!(
        summary.contains("commercial-eu: ") && summary.contains("out/commercial-eu"),
        "{summary}"
    );
    assert_eq!(tree(dir.path()).len(), 1, "{:?}", tree(dir.path()));
    // The loss summary generate prints, check prints too.
    let generated = egressgen(&["generate", s(&file)]);
    assert_eq!(code(&generated), 0);
    let counts = |t: &str| {
        t.lines()
            .next()
            .unwrap()
            .split(" -> ")
            .next()
            .unwrap()
            .split("; generate")
            .next()
            .unwrap()
            .to_string()
    };
    assert_eq!(counts(&summary), counts(&stdout(&generated)));
    assert_eq!(stderr(&out), stderr(&generated));
}

/// Runs `egressgen init ARGS` on a pseudo-terminal, answering `steps`.
fn on_a_terminal(steps: serde_json::Value, args: &[&str]) -> (Option<i64>, String) {
    let out = Command::new(require("python3", "python3"))
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/init_pty.py"))
        .arg(steps.to_string())
        .arg(env!("CARGO_BIN_EXE_egressgen"))
        .arg("init")
        .args(args)
        .env(
            "EGRESSGEN_CACHE",
            std::env::temp_dir().join("egressgen-tests-empty-cache"),
        )
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}{}", stdout(&out), stderr(&out));
    });
    let transcript = doc["transcript"].as_str().unwrap().to_string();
    assert!(
        out.status.success(),
        "{}: {transcript}",
        doc["error"].as_str().unwrap_or("")
    );
    (doc["status"].as_i64(), transcript)
}

#[test]
fn on_a_terminal_init_asks_for_each_missing_value() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("asked.toml");
    let steps = serde_json::json!([
        ["Name of the site", "asked"],
        ["Cloud (commercial, gcc, gcc-high, dod) [commercial]: ", ""],
        ["Geographies", "Europe"],
        // The invalid answer is said and the question asked again.
        ["did you mean EU?", false],
        ["Geographies", "EU, UK"],
        ["Products", "mde, mdav, mma"],
        ["Log Analytics workspace IDs", "not-a-guid"],
        ["is not a GUID", false],
        [
            "Log Analytics workspace IDs",
            "0e2b1d6c-1111-2222-3333-444455556666"
        ],
        ["Outputs", ""],
        [
            "Proxy devices are sent to, host:port: ",
            "proxy.contoso.com:8080"
        ],
        ["wrote ", false],
    ]);
    let (status, transcript) = on_a_terminal(steps, &[s(&file)]);
    assert_eq!(status, Some(0), "{transcript}");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.contains("geographies = [\"EU\", \"UK\"]"),
        "{text}\n{transcript}"
    );
    assert!(
        text.contains("products = [\"mde\", \"mdav\", \"mma\"]"),
        "{text}"
    );
    assert!(text.contains("listen = 8080"), "{text}");
    assert!(text.contains("[outputs.tls_bypass]"), "{text}");
    let out = egressgen(&["generate", "--strict", s(&file)]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(dir.path().join("out/asked/proxy.pac").is_file());
}

#[test]
fn on_a_terminal_mma_without_a_workspace_id_is_asked_for_one() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mma.toml");
    let flags = [
        "--name",
        "mma",
        "--cloud",
        "gcc",
        "--product",
        "mde",
        "--product",
        "mma",
        "--proxy",
        "proxy.agency.gov:3128",
        "--output",
        "squid",
    ];
    let steps = serde_json::json!([
        ["Geographies", ""],
        [
            "Log Analytics workspace IDs",
            "3f2a9c1e-7b4d-4e8a-9f10-2c6d8e4b1a57"
        ],
    ]);
    let mut args = vec![s(&file)];
    args.extend(flags);
    let (status, transcript) = on_a_terminal(steps, &args);
    assert_eq!(status, Some(0), "{transcript}");
    // Only what was missing was asked.
    for not_asked in [
        "Name of",
        "Cloud (",
        "Products,",
        "Outputs,",
        "Proxy devices",
    ] {
        assert!(!transcript.contains(not_asked), "{not_asked}: {transcript}");
    }
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.contains("workspace_ids = [\"3f2a9c1e-7b4d-4e8a-9f10-2c6d8e4b1a57\"]"),
        "{text}"
    );
    // Without the terminal the same flags fail, naming the missing one.
    let other = dir.path().join("other.toml");
    let out = init(&other, &flags);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("missing --workspace-id"),
        "{}",
        stderr(&out)
    );
    assert!(!other.exists());
}

#[test]
fn on_a_terminal_the_end_of_input_aborts_without_writing() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("eof.toml");
    let steps = serde_json::json!([["Name of the site", "eof"], ["Cloud", null]]);
    let (status, transcript) = on_a_terminal(steps, &[s(&file)]);
    assert_eq!(status, Some(2), "{transcript}");
    assert!(transcript.contains("nothing written"), "{transcript}");
    assert!(!file.exists());
}

/// What only publishing used to find, `check` finds too: a directory
/// egressgen does not own (a file it did not write, or one of its files
/// changed since), and one that holds the run's own ruleset. Both end
/// as `generate` ends (exit 5, the same error), and neither touches the
/// directory; a directory egressgen wrote and nobody changed checks.
#[test]
fn check_refuses_the_directories_generate_would_refuse() {
    let dir = tempfile::tempdir().unwrap();
    let ruleset = dir.path().join("site.toml");
    std::fs::write(
        &ruleset,
        "name = \"x\"\n[scope]\ncloud = \"commercial\"\n[proxy]\naddresses = [\"proxy.contoso.com:3128\"]\n[outputs.squid]\n",
    )
    .unwrap();
    let run = |cmd: &str, out: &Path| egressgen(&[cmd, "--out", s(out), s(&ruleset)]);
    let first_error = |o: &Output| {
        stderr(o)
            .lines()
            .find(|l| l.starts_with("egressgen: error:"))
            .unwrap_or_default()
            .to_string()
    };
    let both_refuse = |out: &Path, said: &str| {
        let before = tree(dir.path());
        let checked = run("check", out);
        assert_eq!(tree(dir.path()), before, "check changed something");
        let generated = run("generate", out);
        assert_eq!(tree(dir.path()), before, "generate changed something");
        assert_eq!(code(&checked), 5, "{}", stderr(&checked));
        assert_eq!(code(&generated), 5, "{}", stderr(&generated));
        assert_eq!(first_error(&checked), first_error(&generated));
        assert!(first_error(&checked).contains(said), "{}", stderr(&checked));
    };

    // A directory with a file of someone else's.
    let foreign = dir.path().join("foreign");
    std::fs::create_dir(&foreign).unwrap();
    std::fs::write(foreign.join("notes.txt"), "mine\n").unwrap();
    both_refuse(&foreign, "holds a file egressgen did not write");
    // With --force generate would take it over: check says so, and still
    // removes nothing.
    let before = tree(dir.path());
    let forced = egressgen(&["check", "--force", "--out", s(&foreign), s(&ruleset)]);
    assert_eq!(code(&forced), 0, "{}", stderr(&forced));
    assert_eq!(tree(dir.path()), before, "check --force removed something");

    // The directory that holds the ruleset itself.
    both_refuse(dir.path(), "an input of this run");

    // Ours and unchanged: checks; one of our files edited: refused.
    let ours = dir.path().join("ours");
    assert_eq!(code(&run("generate", &ours)), 0);
    let checked = run("check", &ours);
    assert_eq!(code(&checked), 0, "{}", stderr(&checked));
    let conf = ours.join("squid.conf");
    let mut text = std::fs::read(&conf).unwrap();
    text.extend_from_slice(b"# a local edit\n");
    std::fs::write(&conf, text).unwrap();
    both_refuse(&ours, "squid.conf");
}

/// A directory `generate` would refuse is no fault of the ruleset: `init`
/// writes it and says that `generate` will refuse the directory; `check`
/// then fails with exit 5 until the directory is emptied.
#[test]
fn init_writes_beside_a_foreign_output_directory_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out/site");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("mine.txt"), "mine\n").unwrap();
    let file = dir.path().join("site.toml");
    let made = init(
        &file,
        &[
            "--name",
            "site",
            "--cloud",
            "commercial",
            "--proxy",
            "proxy.contoso.com:3128",
        ],
    );
    assert_eq!(code(&made), 0, "{}", stderr(&made));
    assert!(file.exists());
    assert!(
        stderr(&made).contains("holds a file egressgen did not write")
            && stderr(&made).contains("warning"),
        "{}",
        stderr(&made)
    );
    assert_eq!(std::fs::read(out.join("mine.txt")).unwrap(), b"mine\n");
    let checked = egressgen(&["check", s(&file)]);
    assert_eq!(code(&checked), 5, "{}", stderr(&checked));
    std::fs::remove_file(out.join("mine.txt")).unwrap();
    let checked = egressgen(&["check", s(&file)]);
    assert_eq!(code(&checked), 0, "{}", stderr(&checked));
}
