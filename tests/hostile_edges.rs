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
        assert_eq!(out.status.code(), Some(4), "{args:?}: {}", stderr(&out));
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
    while text.len() < 17 * 1024 * 1024 {
        text.push_str("# padding padding padding padding padding padding padding\n");
    }
    std::fs::write(&big, text).unwrap();
    let out = bounded(&["generate", "big.toml"], tmp.path());
    assert_eq!(out.status.code(), Some(4));
    assert!(
        stderr(&out).contains("is more than 16777216 bytes"),
        "{}",
        stderr(&out)
    );
}

/// `FindProxyForURL(url, host)` of a PAC file, evaluated by Node's `vm`
/// (V8: U+2028 and U+2029 end a line, as in Chrome).
fn node_pac(pac: &Path, host: &str) -> String {
    let script = "const vm = require('vm'); const fs = require('fs');\n\
                  const ctx = {}; vm.createContext(ctx);\n\
                  vm.runInContext(fs.readFileSync(process.argv[1], 'utf8'), ctx);\n\
                  process.stdout.write(ctx.FindProxyForURL('https://' + process.argv[2] + '/', process.argv[2]));";
    let out = Command::new(common::tools::require("node", "nodejs"))
        .arg("-e")
        .arg(script)
        .arg(pac)
        .arg(host)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn a_file_name_cannot_become_code_in_the_pac_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let payload = "src\u{2028}FindProxyForURL=function(u,h){return \"DIRECT\"};<!--.md";
    std::fs::copy(common::fixture("learn-table-odd.md"), dir.join(payload)).unwrap();
    std::fs::write(
        dir.join("site\u{2029}x.toml"),
        "name = \"pac\"\n[sources]\nfiles = [\"src\\u2028FindProxyForURL=function(u,h){return \\\"DIRECT\\\"};<!--.md\"]\n\
         [scope]\ncloud = \"gcc\"\nproducts = [\"mde\"]\n[proxy]\naddresses = [\"proxy.example.com:8080\"]\n[outputs.pac]\n",
    )
    .unwrap();
    let out = bounded(&["generate", "site\u{2029}x.toml", "--out", "out"], dir);
    assert!(out.status.success(), "{}", stderr(&out));
    let pac = dir.join("out/proxy.pac");
    let text = std::fs::read_to_string(&pac).unwrap();
    assert!(text.is_ascii(), "the PAC file is ASCII");
    assert!(
        text.contains("src\\u{2028}FindProxyForURL"),
        "the name is shown, escaped"
    );
    assert_eq!(
        node_pac(&pac, "a.example.com"),
        "PROXY proxy.example.com:8080"
    );
    // The same file with the name written raw, as before: V8 runs it.
    let raw = text.replace("\\u{2028}", "\u{2028}");
    let raw_pac = dir.join("raw.pac");
    std::fs::write(&raw_pac, raw).unwrap();
    assert_eq!(
        node_pac(&raw_pac, "a.example.com"),
        "DIRECT",
        "the test can see the attack"
    );
}

#[test]
fn encoded_dot_segments_slashes_and_nuls_never_reach_an_output() {
    let tmp = tempfile::tempdir().unwrap();
    let table = std::fs::read_to_string(common::fixture("learn-table-odd.md"))
        .unwrap()
        .replace(
            "\\*.crl.example.com/pki/*",
            "crl.example.com/pki/%2e%2e/*<br>crl.example.com/pki/..%2fx/*<br>crl.example.com/pki/%00/*",
        );
    std::fs::write(tmp.path().join("enc.md"), table).unwrap();
    let out = bounded(
        &["catalog", "--source", "enc.md", "--format", "csv"],
        tmp.path(),
    );
    let csv = String::from_utf8_lossy(&out.stdout);
    for bad in ["%2e%2e", "..%2fx", "%00"] {
        let line = csv
            .lines()
            .find(|l| l.contains(bad))
            .unwrap_or_else(|| panic!("{bad}: {csv}"));
        assert!(
            line.starts_with("rejected,") && line.contains(",path,"),
            "{line}"
        );
    }
}

#[test]
fn a_workbook_with_two_members_of_one_name_is_refused() {
    use common::xlsx::{Sheet, workbook};
    let tmp = tempfile::tempdir().unwrap();
    let good = workbook(&[Sheet::new("URLs")
        .row(&["Service", "Port", "Endpoint/URL"])
        .row(&["MDE", "443", "a.example.com"])]);
    // A second copy of xl/sharedStrings.xml under a name of the same
    // length, renamed in place so the archive stays well-formed.
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(good)).unwrap();
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default();
    let mut strings = Vec::new();
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).unwrap();
        let name = f.name().unwrap().to_string();
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut f, &mut bytes).unwrap();
        if name == "xl/sharedStrings.xml" {
            strings = bytes.clone();
        }
        out.start_file(name, opts).unwrap();
        std::io::Write::write_all(&mut out, &bytes).unwrap();
    }
    assert!(!strings.is_empty(), "the workbook has shared strings");
    let evil = String::from_utf8(strings)
        .unwrap()
        .replace("a.example.com", "evil.example.com");
    out.start_file("xl/sharedStrings.xmX", opts).unwrap();
    std::io::Write::write_all(&mut out, evil.as_bytes()).unwrap();
    let mut bytes = out.finish().unwrap().into_inner();
    let from = b"xl/sharedStrings.xmX";
    let mut i = 0;
    while let Some(at) = bytes[i..].windows(from.len()).position(|w| w == from) {
        bytes[i + at + from.len() - 1] = b'l';
        i += at + from.len();
    }
    let path = tmp.path().join("twice.xlsx");
    std::fs::write(&path, &bytes).unwrap();
    let out = bounded(&["catalog", "--source", "twice.xlsx"], tmp.path());
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        stderr(&out).contains("two members share a name"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_service_tag_name_with_a_newline_is_rejected_and_never_printed_raw() {
    let tmp = tempfile::tempdir().unwrap();
    let json = r#"{"changeNumber": 1, "cloud": "Public", "values": [
        {"name": "AzureAdvancedThreatProtection.x\n\u001b[31mred", "id": "x", "properties": {
          "changeNumber": 1, "region": "", "addressPrefixes": ["192.0.2.0/24"]}}]}"#;
    std::fs::write(tmp.path().join("tags.json"), json).unwrap();
    let out = bounded(&["catalog", "--source", "tags.json"], tmp.path());
    assert!(out.status.success(), "{}", stderr(&out));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("tag-name"), "{table}");
    assert!(
        !table.contains('\u{1b}'),
        "no raw escape sequence reaches the terminal"
    );
    assert!(
        !table
            .lines()
            .any(|l| l.starts_with("\u{1b}") || l.trim_start().starts_with("[31mred")),
        "{table}"
    );
    assert!(
        !table.contains("192.0.2.0/24"),
        "the tag's prefixes are not taken"
    );
}

#[test]
fn a_cell_reference_past_any_sheet_is_refused_before_the_reader_overflows() {
    // Found by the workbook fuzz target: the workbook reader multiplies a
    // column of many letters into an overflow.
    use common::xlsx::{Sheet, edit_member, workbook};
    let tmp = tempfile::tempdir().unwrap();
    let good = workbook(&[Sheet::new("URLs")
        .row(&["Service", "Port", "Endpoint/URL"])
        .row(&["MDE", "443", "a.example.com"])]);
    let bad = edit_member(&good, "xl/worksheets/sheet1.xml", |xml| {
        assert!(xml.contains("r=\"C2\""), "{xml}");
        xml.replace("r=\"C2\"", "r=\"AAAAAAAAAAAAAAAAC2\"")
    });
    std::fs::write(tmp.path().join("far.xlsx"), bad).unwrap();
    let out = bounded(&["catalog", "--source", "far.xlsx"], tmp.path());
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("xl/worksheets/sheet1.xml: cell reference \"AAAAAAAAAAAAAAAAC2\""),
        "{}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
}
