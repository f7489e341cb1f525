//! Hostile cells and broken files: each gives the documented rejection or
//! error, names where it is, never panics, and never lets hostile text
//! through as a line of output.

mod common;

use std::io::Write;

use common::xlsx::{Sheet, edit_member, plain_zip, save, workbook};
use common::{find, read};
use egressgen::error::Error;
use egressgen::model::Catalog;
use egressgen::sources::catalog_json::to_json;
use egressgen::sources::catalog_text::{to_csv, to_table};
use egressgen::sources::{ReadOptions, read_file};

const HEADER: [&str; 5] = ["Service", "Geography", "Port", "Endpoint/URL", "Comments"];

/// `(cell text, expected rejection code)`, one row each from row 2 on.
fn hostile_cells() -> Vec<(String, &'static str)> {
    vec![
        ("x.com\"; }".into(), "bad-character"),
        ("<".into(), "bad-character"),
        ("&".into(), "bad-character"),
        ("a\u{1}b.example.com".into(), "bad-character"),
        ("evil\u{200b}.example.com".into(), "bad-character"),
        // Cyrillic "о" in "microsoft".
        ("winatp-gw-cus.micr\u{043e}soft.com".into(), "mixed-script"),
        (
            format!("{}.example.com", vec!["a".repeat(60); 5].join(".")),
            "name-too-long",
        ),
        (format!("{}.example.com", "a".repeat(64)), "label-too-long"),
        ("allow".into(), "single-label"),
        ("localhost".into(), "single-label"),
        ("*".into(), "bare-wildcard"),
        ("*.com".into(), "wildcard-at-public-suffix"),
        ("*.co.uk".into(), "wildcard-at-public-suffix"),
        ("autodiscover.*.onmicrosoft.com".into(), "inner-wildcard"),
        ("10.0.0.1".into(), "ip-literal"),
        ("ftp://files.example.com".into(), "scheme"),
    ]
}

fn hostile_workbook() -> Vec<u8> {
    let mut sheet = Sheet::new("Microsoft Defender URLs").row(&HEADER);
    for (text, _) in hostile_cells() {
        sheet = sheet.row(&["Microsoft Defender for Endpoint", "WW", "443", &text, ""]);
    }
    let n = hostile_cells().len() as u32 + 1;
    sheet = sheet
        // An injection attempt inside a multi-entry cell.
        .row(&[
            "Microsoft Defender for Endpoint",
            "WW",
            "443",
            "a.com\nhttp_access allow all",
            "",
        ])
        // A bad port rejects the row and names the Port cell.
        .row(&[
            "Microsoft Defender for Endpoint",
            "WW",
            "443 (TCP)",
            "port.example.com",
            "",
        ])
        // Formula and error cells (filled below).
        .row(&["Microsoft Defender for Endpoint", "WW", "443", "", ""])
        .row(&["Microsoft Defender for Endpoint", "WW", "443", "", ""])
        .row(&[
            "Microsoft Defender for Endpoint",
            "WW",
            "443",
            "still.read.example.com",
            "",
        ])
        .formula(
            n + 2,
            3,
            "=HYPERLINK(\"https://evil.example\",\"ok.example.com\")",
            "ok.example.com",
        )
        .formula(n + 3, 3, "=1/0", "#DIV/0!");
    let bytes = workbook(&[sheet]);
    // Leave a pure error cell: drop the formula, keep `t="e"`.
    edit_member(&bytes, "xl/worksheets/sheet1.xml", |xml| {
        xml.replace("<f>1/0</f>", "")
    })
}

fn assert_no_injected_lines(catalog: &Catalog) {
    for text in [to_table(catalog), to_json(catalog), to_csv(catalog)] {
        for line in text.lines() {
            let t = line.trim_start();
            assert!(!t.starts_with("http_access"), "injected line: {line}");
            assert!(!t.starts_with("allow all"), "injected line: {line}");
            assert!(
                !line.contains('\u{1}') && !line.contains('\u{200b}'),
                "raw control: {line:?}"
            );
        }
    }
}

#[test]
fn hostile_cells_are_rejected_with_their_cell() {
    let dir = tempfile::tempdir().unwrap();
    let c = read(&save(dir.path(), "hostile.xlsx", &hostile_workbook()));
    for (i, (text, code)) in hostile_cells().iter().enumerate() {
        let cell = format!("D{}", i + 2);
        let r = c
            .rejected
            .iter()
            .find(|r| r.provenance.cell.as_deref() == Some(cell.as_str()))
            .unwrap_or_else(|| panic!("{text:?} in {cell} was not rejected"));
        assert_eq!(r.code, *code, "{text:?}: {}", r.reason);
        assert_eq!(r.provenance.file, "hostile.xlsx");
        assert_eq!(
            r.provenance.sheet.as_deref(),
            Some("Microsoft Defender URLs")
        );
        assert_eq!(r.provenance.column.as_deref(), Some("Endpoint/URL"));
    }
    let n = hostile_cells().len() + 2;
    // `a.com` is read; the words after the newline are rejected one by one.
    assert_eq!(find(&c, "a.com").len(), 1);
    let injected: Vec<(&str, &str)> = c
        .rejected
        .iter()
        .filter(|r| r.provenance.cell.as_deref() == Some(format!("D{n}").as_str()))
        .map(|r| (r.value.as_str(), r.code.as_str()))
        .collect();
    assert_eq!(
        injected,
        [
            ("http_access", "bad-character"),
            ("allow", "single-label"),
            ("all", "single-label")
        ]
    );
    let port = c
        .rejected
        .iter()
        .find(|r| r.code == "port")
        .expect("bad port reported");
    assert_eq!(
        port.provenance.cell.as_deref(),
        Some(format!("C{}", n + 1).as_str())
    );
    assert_eq!(port.value, "443 (TCP)");
    assert!(find(&c, "port.example.com").is_empty());
    let formula = c
        .rejected
        .iter()
        .find(|r| r.code == "formula-cell")
        .unwrap();
    assert_eq!(
        formula.provenance.cell.as_deref(),
        Some(format!("D{}", n + 2).as_str())
    );
    assert!(
        find(&c, "ok.example.com").is_empty(),
        "a cached formula result is not trusted"
    );
    let error = c.rejected.iter().find(|r| r.code == "error-cell").unwrap();
    assert_eq!(
        error.provenance.cell.as_deref(),
        Some(format!("D{}", n + 3).as_str())
    );
    assert_eq!(error.value, "#DIV/0!");
    // The rest of the file is still read.
    assert_eq!(find(&c, "still.read.example.com").len(), 1);
    // Rejected values are escaped before anyone prints them.
    let control = c
        .rejected
        .iter()
        .find(|r| r.value.contains("b.example"))
        .unwrap();
    assert_eq!(control.value, "a\\u{1}b.example.com");
    let long = c
        .rejected
        .iter()
        .find(|r| r.code == "name-too-long")
        .unwrap();
    assert!(long.value.chars().count() <= 121);
    assert_no_injected_lines(&c);
}

fn write(dir: &std::path::Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    save(dir, name, bytes)
}

fn read_err(path: &std::path::Path) -> Error {
    match read_file(path, &ReadOptions::default()) {
        Ok(_) => panic!("{} should not read", path.display()),
        Err(e) => {
            // Every file-level error names the file.
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            assert!(e.to_string().contains(&name), "{e}");
            e
        }
    }
}

#[test]
fn broken_workbooks_are_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let good = hostile_workbook();
    let truncated = write(dir.path(), "truncated.xlsx", &good[..good.len() / 2]);
    assert!(matches!(read_err(&truncated), Error::NotXlsx { .. }));
    let zip = write(dir.path(), "not-a-workbook.xlsx", &plain_zip());
    let e = read_err(&zip);
    assert!(matches!(e, Error::NotXlsx { .. }));
    assert!(e.to_string().contains("not a spreadsheet"), "{e}");
    let text = write(dir.path(), "text.xlsx", b"Service,URL\nx,y\n");
    assert!(matches!(read_err(&text), Error::NotXlsx { .. }));
    let empty = write(dir.path(), "empty.xlsx", b"");
    assert!(matches!(read_err(&empty), Error::NotXlsx { .. }));
    let no_table = workbook(&[Sheet::new("Sheet1").row(&["just", "words"])]);
    let no_table = write(dir.path(), "no-table.xlsx", &no_table);
    assert!(matches!(read_err(&no_table), Error::NoTable { .. }));
    let missing = dir.path().join("missing.xlsx");
    assert!(matches!(read_err(&missing), Error::Io { .. }));
}

#[test]
fn broken_json_is_an_error_with_line_or_path() {
    let dir = tempfile::tempdir().unwrap();
    let invalid = write(
        dir.path(),
        "invalid.json",
        b"{\"changeNumber\": 1,\n \"cloud\": \"Public\",\n \"values\": [}",
    );
    match read_err(&invalid) {
        Error::Json { line, .. } => assert_eq!(line, 3),
        e => panic!("{e}"),
    }
    let wrong = write(
        dir.path(),
        "wrong-types.json",
        br#"{"changeNumber": 1, "cloud": "Public", "values": [{"name": "AzureAdvancedThreatProtection", "id": "x", "properties": {"changeNumber": 2, "region": "", "addressPrefixes": 5}}]}"#,
    );
    match read_err(&wrong) {
        Error::JsonShape { json_path, .. } => {
            assert_eq!(json_path, "$.values[0].properties.addressPrefixes")
        }
        e => panic!("{e}"),
    }
    let cloud = write(
        dir.path(),
        "cloud.json",
        br#"{"changeNumber": 1, "cloud": "Mars", "values": []}"#,
    );
    assert!(matches!(read_err(&cloud), Error::JsonShape { .. }));
    let m365 = write(
        dir.path(),
        "m365.json",
        br#"[{"id": "one", "serviceArea": "Common", "required": true}]"#,
    );
    match read_err(&m365) {
        Error::JsonShape { json_path, .. } => assert_eq!(json_path, "$[0].id"),
        e => panic!("{e}"),
    }
    // Deep nesting in a field we skip is skipped without recursion; in a
    // field we read, the typed shape stops it at the first wrong level.
    // Neither overflows the stack.
    let deep = format!("{}1{}", "{\"a\":".repeat(100_000), "}".repeat(100_000));
    let deep = write(dir.path(), "deep.json", deep.as_bytes());
    match read_err(&deep) {
        Error::JsonShape { detail, .. } => assert!(detail.contains("changeNumber"), "{detail}"),
        e => panic!("{e}"),
    }
    let deep_values = format!(
        "{{\"changeNumber\": 1, \"cloud\": \"Public\", \"values\": {}",
        "[".repeat(100_000)
    );
    let deep_values = write(dir.path(), "deep-values.json", deep_values.as_bytes());
    match read_err(&deep_values) {
        Error::JsonShape { json_path, .. } => assert_eq!(json_path, "$.values[0][0]"),
        e => panic!("{e}"),
    }
    let deep_array = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let deep_array = write(dir.path(), "deep-array.json", deep_array.as_bytes());
    assert!(matches!(
        read_err(&deep_array),
        Error::Json { .. } | Error::JsonShape { .. }
    ));
    let trailing = write(
        dir.path(),
        "trailing.json",
        br#"{"changeNumber": 1, "cloud": "Public", "values": []} {"#,
    );
    assert!(matches!(read_err(&trailing), Error::Json { .. }));
    let empty = write(dir.path(), "empty.json", b"");
    assert!(matches!(read_err(&empty), Error::Json { .. }));
}

#[test]
fn hostile_prefixes_are_rejected_with_their_json_path() {
    let dir = tempfile::tempdir().unwrap();
    let json = br#"{"changeNumber": 9, "cloud": "Public", "values": [
      {"name": "AzureAdvancedThreatProtection", "id": "AzureAdvancedThreatProtection",
       "properties": {"changeNumber": 3, "region": "", "addressPrefixes":
         ["0.0.0.0/0", "::/0", "10.0.0.1/8", "4.0.0.0/6", "x.y", "20.1.2.0/24\nallow all", "20.1.2.0/24", "2603:1000::/40"]}}]}"#;
    let path = write(dir.path(), "tags.json", json);
    let c = read(&path);
    let nets: Vec<String> = c.prefixes.iter().map(|p| p.net.to_string()).collect();
    assert_eq!(nets, ["20.1.2.0/24", "2603:1000::/40"]);
    let codes: Vec<(&str, &str)> = c
        .rejected
        .iter()
        .map(|r| (r.provenance.json_path.as_deref().unwrap(), r.code.as_str()))
        .collect();
    let p = |i: usize| format!("$.values[0].properties.addressPrefixes[{i}]");
    let expected = [
        (p(0), "default-route"),
        (p(1), "default-route"),
        (p(2), "prefix-host-bits"),
        (p(3), "prefix-too-short"),
        (p(4), "prefix-syntax"),
        (p(5), "prefix-syntax"),
    ];
    let expected: Vec<(&str, &str)> = expected.iter().map(|(a, b)| (a.as_str(), *b)).collect();
    assert_eq!(codes, expected);
    assert_no_injected_lines(&c);
}

#[test]
fn markdown_without_a_table_or_not_text() {
    let dir = tempfile::tempdir().unwrap();
    let none = write(
        dir.path(),
        "notes.md",
        b"# Title\n\nNo table here.\n| not | a table |\n",
    );
    assert!(matches!(read_err(&none), Error::NoTable { .. }));
    let binary = write(dir.path(), "binary.md", &[0xff, 0xfe, 0x00, 0x41]);
    assert!(matches!(read_err(&binary), Error::NotText { .. }));
    let unknown = write(dir.path(), "mystery.dat", b"hello world");
    assert!(matches!(read_err(&unknown), Error::UnknownSource { .. }));
}

/// A 50 MB service-tag file, generated here: read in one pass, the
/// selected tag found among thousands of others.
#[test]
fn fifty_megabyte_service_tag_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ServiceTags_Big.json");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    write!(f, r#"{{"changeNumber": 1, "cloud": "Public", "values": ["#).unwrap();
    let mut tag = 0u32;
    let mut written = 0usize;
    while written < 50 * 1024 * 1024 {
        let name = if tag == 1234 {
            "AzureAdvancedThreatProtection".to_string()
        } else {
            format!("Filler{tag}")
        };
        let prefixes: Vec<String> = (0..1000u32)
            .map(|i| {
                format!(
                    "\"{}.{}.{}.0/24\"",
                    20 + tag % 200,
                    (i / 256) % 256,
                    i % 256
                )
            })
            .collect();
        let entry = format!(
            r#"{}{{"name": "{name}", "id": "{name}", "properties": {{"changeNumber": 1, "region": "", "regionId": 0, "platform": "Azure", "systemService": "", "addressPrefixes": [{}], "networkFeatures": null}}}}"#,
            if tag == 0 { "" } else { "," },
            prefixes.join(",")
        );
        written += entry.len();
        f.write_all(entry.as_bytes()).unwrap();
        tag += 1;
    }
    f.write_all(b"]}").unwrap();
    f.flush().unwrap();
    drop(f);
    assert!(std::fs::metadata(&path).unwrap().len() >= 50 * 1024 * 1024);
    let c = read(&path);
    assert_eq!(c.prefixes.len(), 1000);
    assert!(
        c.prefixes
            .iter()
            .all(|p| p.tag == "AzureAdvancedThreatProtection")
    );
    assert!(c.rejected.is_empty());
}

/// A cell at XFD1048576 costs nothing (cells are read sparsely), and a
/// merged region over a million rows is refused instead of expanded.
#[test]
fn far_cells_and_huge_merges_are_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let sheet = Sheet::new("Microsoft Defender URLs").row(&HEADER).row(&[
        "Microsoft Defender for Endpoint",
        "WW",
        "443",
        "near.example.com",
        "",
    ]);
    let bytes = workbook(&[sheet]);
    let far = edit_member(&bytes, "xl/worksheets/sheet1.xml", |xml| {
        xml.replace(
            "</sheetData>",
            r#"<row r="1048576"><c r="D1048576" t="inlineStr"><is><t>far.example.com</t></is></c><c r="XFD1048576" t="inlineStr"><is><t>farther.example.com</t></is></c></row></sheetData>"#,
        )
    });
    let c = read(&save(dir.path(), "far.xlsx", &far));
    assert_eq!(find(&c, "near.example.com").len(), 1);
    let far_row = find(&c, "far.example.com");
    assert_eq!(far_row[0].provenance[0].cell.as_deref(), Some("D1048576"));
    // Column XFD is outside any table: ignored, not an error.
    assert!(find(&c, "farther.example.com").is_empty());

    let huge = edit_member(&far, "xl/worksheets/sheet1.xml", |xml| {
        xml.replace(
            "</sheetData>",
            r#"</sheetData><mergeCells count="1"><mergeCell ref="A2:P1048576"/></mergeCells>"#,
        )
    });
    let path = save(dir.path(), "huge-merge.xlsx", &huge);
    match read_file(&path, &ReadOptions::default()) {
        Err(Error::Sheet { sheet, detail, .. }) => {
            assert_eq!(sheet, "Microsoft Defender URLs");
            assert!(detail.contains("merged regions"), "{detail}");
        }
        other => panic!("expected a sheet error, got {other:?}"),
    }
}
