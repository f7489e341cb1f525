//! Ruleset mistakes a person makes, each refused with the exact message:
//! where (file:line:col), what in plain words, the accepted values and a
//! "did you mean", and the line itself under a caret, as cargo shows it.
//! Nothing is written.

mod common;

use common::egressgen;

const HEAD: &str = "name = \"site\"\n[scope]\ncloud = \"commercial\"\n";
const ACCEPTED: &str = "WW, US, EU, UK, AU, AEC, AEN, UAE, US Gov, GCC, GCC High, DoD";

/// The stderr of `generate` on `text` (line 4 onward after HEAD), which
/// must exit 4 and write nothing.
fn refused(text: &str) -> String {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("site.toml");
    std::fs::write(&path, format!("{HEAD}{text}")).unwrap();
    let out_dir = tmp.path().join("o");
    let out = egressgen(&[
        "generate",
        path.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(4), "{text}");
    assert!(!out_dir.exists(), "nothing written");
    String::from_utf8_lossy(&out.stderr).replace(path.to_str().unwrap(), "site.toml")
}

/// The message of line 4, column `col`, with the line quoted.
fn message(col: usize, what: &str, line: &str) -> String {
    format!(
        "egressgen: error: site.toml:4:{col}: {what}\n  |\n4 | {line}\n  | {}^\n",
        " ".repeat(col - 1)
    )
}

#[test]
fn a_geography_microsoft_does_not_use_is_refused_with_what_it_takes() {
    for (given, hint) in [
        ("Europe", " (did you mean EU?)"),
        ("DE", " (did you mean EU?)"),
        ("GB", " (did you mean UK?)"),
        ("United Kingdom", " (did you mean UK?)"),
        ("GCC Hihg", " (did you mean GCC High?)"),
        ("Narnia", ""),
    ] {
        let line = format!("geographies = [\"{given}\"]");
        let what = format!("unknown geography \"{given}\"{hint}; accepted: {ACCEPTED}");
        assert_eq!(refused(&format!("{line}\n")), message(15, &what, &line));
    }
    let line = "geographies = [\"\"]";
    let what = format!("geography \"\" is empty; accepted: {ACCEPTED}");
    assert_eq!(refused(&format!("{line}\n")), message(15, &what, line));
}

/// Microsoft's own spellings and case are still read as the geography
/// they stand for.
#[test]
fn microsofts_spellings_of_a_geography_are_accepted() {
    let tmp = tempfile::tempdir().unwrap();
    for given in [
        "eu",
        " EU ",
        "US Gov",
        "usgov",
        "GCC-High",
        "uae",
        "Azure UAE North (AEN)",
    ] {
        let path = tmp.path().join("site.toml");
        std::fs::write(
            &path,
            format!("{HEAD}geographies = [{given:?}]\n[outputs.plain]\n"),
        )
        .unwrap();
        let out = egressgen(&[
            "generate",
            path.to_str().unwrap(),
            "--out",
            tmp.path().join("o").to_str().unwrap(),
            "--force",
        ]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{given}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn misspelt_names_get_a_did_you_mean_and_the_accepted_values() {
    let products = "mde, mdav, smart-screen, mma, mdi, portal, m365";
    for (text, col, what) in [
        (
            "products = [\"mde\", \"mdavv\"]",
            20,
            format!("products: unknown value \"mdavv\" (did you mean mdav?); accepted: {products}"),
        ),
        (
            "prodcts = [\"mde\"]",
            1,
            "unknown key \"prodcts\" (did you mean products?); accepted: cloud, geographies, os, products, connectivity, include_optional".to_string(),
        ),
        (
            "region = \"EU\"",
            1,
            "unknown key \"region\" (did you mean geographies?); accepted: cloud, geographies, os, products, connectivity, include_optional".to_string(),
        ),
    ] {
        assert_eq!(refused(&format!("{text}\n")), message(col, &what, text));
    }
}

#[test]
fn type_errors_say_what_the_key_takes() {
    let tmp_head = "[outputs.squid]\n";
    let got = refused(&format!("{tmp_head}listen = \"x\"\n"));
    assert_eq!(
        got,
        "egressgen: error: site.toml:5:10: listen: a port number such as 3128, not the text \"x\"\n  |\n5 | listen = \"x\"\n  |          ^\n"
    );
    let got = refused("include_optional = \"yes\"\n");
    assert_eq!(
        got,
        message(
            20,
            "include_optional: true or false, not the text \"yes\"",
            "include_optional = \"yes\""
        )
    );
}

#[test]
fn an_unknown_output_is_named_with_the_ones_there_are() {
    let got = refused("[outputs.squidd]\n");
    assert!(
        got.starts_with("egressgen: error: site.toml:4:10: unknown key \"squidd\" (did you mean squid?); accepted: dir, plain, squid, pac,"),
        "{got}"
    );
    assert!(
        got.ends_with("\n4 | [outputs.squidd]\n  |          ^\n"),
        "{got}"
    );
}

/// `generate` on a ruleset file written into a fresh directory: its
/// exit code, its stderr (paths shown as `site.toml`), and the folder.
fn generate(
    text: &str,
    extra: &[&str],
) -> (Option<i32>, String, std::path::PathBuf, tempfile::TempDir) {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("site.toml");
    std::fs::write(&path, text).unwrap();
    let out_dir = tmp.path().join("o");
    let mut args = vec![
        "generate",
        path.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
    ];
    args.extend(extra);
    let out = egressgen(&args);
    let stderr = String::from_utf8_lossy(&out.stderr).replace(path.to_str().unwrap(), "site.toml");
    (out.status.code(), stderr, out_dir, tmp)
}

/// A ruleset that is valid but does not give devices what it seems to:
/// each choice is one warning on stderr with its line and the fix, the
/// same lines open loss-report.md, and `--strict` refuses to publish.
#[test]
fn choices_that_change_what_devices_get_are_warned_and_strict_refuses_them() {
    let text = "name = \"warn\"\n\
                exclude = [\"nosuch.microsoft.com\"]\n\
                [scope]\n\
                cloud = \"commercial\"\n\
                geographies = [\"EU\"]\n\
                products = [\"mde\", \"mma\"]\n\
                [site]\n\
                mdi_instances = [\"contoso\"]\n\
                [tls]\n\
                bypass = [\"nothing.example.com\"]\n";
    let want = [
        "site.toml:2:1: exclude nosuch.microsoft.com matches nothing in scope; remove it, or exclude a host the sources list",
        "site.toml:3:1: no [outputs.*] table: only policy.json and the loss report are written; add the outputs the site deploys, such as [outputs.squid] or [outputs.pac]",
        "site.toml:7:1: 5 endpoints need site.workspace_ids and are left out: *.ods.opinsights.azure.com; add workspace_ids = [\"…\"] under [site]",
        "site.toml:8:1: mdi_instances is set but mdi is not among products: nothing uses it; add \"mdi\" to products, or remove mdi_instances",
        "site.toml:10:1: [tls] bypass nothing.example.com is exempt from inspection, but the policy allows no such host; add it to [[allow]] as well, or remove it from bypass",
    ];
    let (code, stderr, out, _tmp) = generate(text, &[]);
    assert_eq!(code, Some(0), "{stderr}");
    let warned: Vec<&str> = stderr
        .lines()
        .filter_map(|l| l.strip_prefix("egressgen: warn: warning: "))
        .collect();
    assert_eq!(warned, want, "{stderr}");
    let report = std::fs::read_to_string(out.join("loss-report.md")).unwrap();
    let section = report
        .split("## Ruleset warnings\n\n")
        .nth(1)
        .and_then(|r| r.split("\n\n").next())
        .unwrap_or_else(|| panic!("{report}"));
    assert_eq!(section.lines().count(), want.len(), "{report}");
    // -q keeps stderr to errors.
    let (_, quiet, _, _tmp) = generate(text, &["-q"]);
    assert!(!quiet.contains("warning: site.toml"), "{quiet}");

    // --strict: exit 3, the same warnings, nothing published.
    let (code, stderr, out, _tmp) = generate(text, &["--strict"]);
    assert_eq!(code, Some(3), "{stderr}");
    assert!(!out.exists(), "nothing published");
    for w in want {
        assert!(stderr.contains(&format!("\n  {w}")), "{w}\n{stderr}");
    }

    // The same site with those choices fixed: no warning, and --strict
    // publishes.
    let fixed = "name = \"warn\"\n[scope]\ncloud = \"commercial\"\ngeographies = [\"EU\"]\n\
                 products = [\"mde\", \"mma\"]\n[site]\n\
                 workspace_ids = [\"3f2a9c1e-7b4d-4e8a-9f10-2c6d8e4b1a57\"]\n[outputs.plain]\n";
    let (code, stderr, out, _tmp) = generate(fixed, &["--strict"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!stderr.contains("warning"), "{stderr}");
    assert!(out.join("policy.json").is_file());
}

/// `[proxy]` port, the Squid's `listen` and the PAC's answer must agree
/// whether or not device outputs are configured: a PAC sending devices to
/// 8080 of a Squid on 3128 is refused at the line that says so.
#[test]
fn the_proxy_port_squid_listen_and_pac_answer_agree_without_device_outputs() {
    let base = "[proxy]\naddresses = [\"proxy.contoso.com:8080\"]\n[outputs.squid]\nlisten = 3128\n[outputs.pac]\n";
    let got = refused(base);
    assert!(
        got.starts_with("egressgen: error: site.toml:5:1: [proxy] sends devices to proxy.contoso.com:8080, but the generated Squid listens on port 3128 ([outputs.squid] listen): use one port for both\n"),
        "{got}"
    );
    let pac = base.replace("listen = 3128", "listen = 8080")
        + "proxy = \"PROXY proxy.contoso.com:3128; DIRECT\"\n";
    let got = refused(&pac);
    assert!(
        got.starts_with("egressgen: error: site.toml:9:1: the PAC ([outputs.pac] proxy) sends devices to proxy.contoso.com:3128, but the generated Squid listens on port 8080 ([outputs.squid] listen)\n"),
        "{got}"
    );
    // Agreeing, it generates.
    let (code, stderr, _, _tmp) = generate(
        &format!("{HEAD}{}", base.replace("listen = 3128", "listen = 8080")),
        &[],
    );
    assert_eq!(code, Some(0), "{stderr}");
}
