//! Device-side outputs, checked by what reads them: the `.reg` file is
//! imported into Wine's registry and read back with `reg query`; the
//! PowerShell script is parsed by the tree-sitter PowerShell grammar and
//! its commands read from the tree; the Linux managed JSON is validated
//! against docs/mdatp_managed.schema.json; the mdatp commands run in a
//! real POSIX shell against a stub `mdatp`; the installer line is split
//! as cmd splits it (mslex) and its wrapper run by Wine's cmd. Mismatches
//! between what devices are told and what the proxy serves stop
//! `generate` before anything is written.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use common::tools::require;
use egressgen::model::{HostPattern, Via};
use egressgen::policy::Policy;
use serde_json::Value;

const PROXY_1: &str = "proxy1.contoso.com:8080";
const PROXY_2: &str = "proxy2.contoso.com:8080";
const PAC_URL: &str = "http://wpad.contoso.com/proxy.pac";

/// A commercial site on the built-in data with two proxies; Windows and
/// Identity on the second, macOS and Linux on the first.
fn site(devices: &str) -> String {
    format!(
        "name = \"devices\"\n[scope]\ncloud = \"commercial\"\ngeographies = [\"EU\"]\n\
         products = [\"mde\", \"mdav\", \"smart-screen\", \"mdi\"]\n\
         [sources]\nfiles = [\"baseline\", \"builtin:mdi\"]\n[site]\nmdi_instances = [\"contoso-corp\"]\n\
         [proxy]\naddresses = [\"{PROXY_1}\", \"{PROXY_2}\"]\n\
         [outputs.squid]\nlisten = 8080\n[outputs.pac]\n[outputs.windows]\n[outputs.mdi_sensor]\n[outputs.mdatp]\n\
         [devices]\n{devices}"
    )
}

const DEVICES: &str = "windows_proxy = \"proxy2.contoso.com:8080\"\nidentity_proxy = \"proxy2.contoso.com:8080\"\n\
    pac_url = \"http://wpad.contoso.com/proxy.pac\"\noffline = true\nssl_options = 2\n";

/// Generates the site into `dir/out`; the policy and the output dir.
fn generate(dir: &Path, devices: &str) -> (Policy, PathBuf) {
    let ruleset = dir.join("devices.toml");
    std::fs::write(&ruleset, site(devices)).unwrap();
    let out = dir.join("out");
    let r = egressgen::ruleset::Ruleset::load(&ruleset).unwrap_or_else(|e| panic!("{e}"));
    let backends = egressgen::generate::select_backends(&r, None).unwrap();
    let done = egressgen::generate::generate(&r, &backends, &out).unwrap_or_else(|e| panic!("{e}"));
    (done.policy, out)
}

/// The bypass list the policy calls for, worked out here from the
/// direct-route entries, independently of the backend.
fn expected_bypass(policy: &Policy) -> Vec<String> {
    let mut out = Vec::new();
    for e in policy.entries.iter().filter(|e| e.route == Via::Direct) {
        let n = e.host.name().as_str();
        let items = match &e.host {
            HostPattern::Exact(_) => vec![n.to_string()],
            HostPattern::Subdomains(_) => vec![format!("*.{n}")],
            HostPattern::Domain(_) => vec![n.to_string(), format!("*.{n}")],
            HostPattern::SuffixGlob(_) => vec![format!("*{n}")],
            HostPattern::Template(_) => vec![],
        };
        for i in items {
            if !out.contains(&i) {
                out.push(i);
            }
        }
    }
    out
}

/// (key, name) -> (type, value) of what Windows devices must hold.
fn expected_registry(policy: &Policy) -> BTreeMap<(String, String), (String, String)> {
    let dc = r"HKEY_LOCAL_MACHINE\SOFTWARE\Policies\Microsoft\Windows\DataCollection";
    let atp = r"HKEY_LOCAL_MACHINE\SOFTWARE\Policies\Microsoft\Windows Advanced Threat Protection";
    let av = r"HKEY_LOCAL_MACHINE\SOFTWARE\Policies\Microsoft\Windows Defender";
    let spynet = r"HKEY_LOCAL_MACHINE\SOFTWARE\Policies\Microsoft\Windows Defender\Spynet";
    let v =
        |k: &str, n: &str, t: &str, x: String| ((k.to_string(), n.to_string()), (t.to_string(), x));
    [
        v(dc, "TelemetryProxyServer", "REG_SZ", PROXY_2.to_string()),
        v(
            dc,
            "DisableEnterpriseAuthProxy",
            "REG_DWORD",
            "0x1".to_string(),
        ),
        v(
            atp,
            "PreferStaticProxyForHttpRequest",
            "REG_DWORD",
            "0x1".to_string(),
        ),
        v(av, "ProxyServer", "REG_SZ", format!("http://{PROXY_2}")),
        v(av, "ProxyPacUrl", "REG_SZ", PAC_URL.to_string()),
        v(
            av,
            "ProxyBypass",
            "REG_SZ",
            expected_bypass(policy).join(";"),
        ),
        v(spynet, "SSLOptions", "REG_DWORD", "0x2".to_string()),
    ]
    .into_iter()
    .collect()
}

fn wine(prefix: &Path, args: &[&str]) -> std::process::Output {
    Command::new(require("wine", "wine"))
        .args(args)
        .env("WINEPREFIX", prefix)
        .env("WINEDEBUG", "-all")
        .env("WINEDLLOVERRIDES", "mscoree,mshtml=")
        .output()
        .expect("run wine")
}

#[test]
fn the_reg_file_imports_into_a_real_registry_with_every_value_and_type() {
    let tmp = tempfile::tempdir().unwrap();
    let (policy, out) = generate(tmp.path(), DEVICES);
    assert!(
        !expected_bypass(&policy).is_empty(),
        "the site has hosts that must bypass the proxy"
    );
    let prefix = tmp.path().join("wine");
    let import = wine(
        &prefix,
        &[
            "reg",
            "import",
            out.join("defender-proxy.reg").to_str().unwrap(),
        ],
    );
    assert!(
        import.status.success(),
        "{}",
        String::from_utf8_lossy(&import.stderr)
    );
    let expected = expected_registry(&policy);
    let keys: BTreeSet<&String> = expected.keys().map(|(k, _)| k).collect();
    let mut seen = BTreeMap::new();
    for key in keys {
        let q = wine(&prefix, &["reg", "query", key]);
        assert!(
            q.status.success(),
            "{key}: {}",
            String::from_utf8_lossy(&q.stderr)
        );
        for line in String::from_utf8_lossy(&q.stdout).lines() {
            let parts: Vec<&str> = line.trim().splitn(3, "    ").collect();
            if let [name, kind, value] = parts[..] {
                seen.insert(
                    (key.clone(), name.to_string()),
                    (kind.to_string(), value.trim_end().to_string()),
                );
            }
        }
    }
    assert_eq!(seen, expected);
}

/// The script's tree, from tests/ps_tree.py.
fn ps_tree(script: &Path) -> Value {
    let out = Command::new(require("python3", "python3"))
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ps_tree.py"))
        .arg(script)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `-Param value` pairs of a command, values as the tree reads them.
fn params(command: &Value) -> BTreeMap<String, Value> {
    let els = command["elements"].as_array().unwrap();
    let mut out = BTreeMap::new();
    let mut i = 0;
    while i < els.len() {
        let name = els[i]["param"]
            .as_str()
            .unwrap_or_else(|| panic!("a value without a parameter: {command}"));
        let v = &els[i + 1];
        let value = v
            .get("value")
            .or(v.get("values"))
            .or(v.get("token"))
            .unwrap_or_else(|| panic!("{name}: not a literal: {v}"))
            .clone();
        out.insert(name.to_string(), value);
        i += 2;
    }
    out
}

#[test]
fn the_powershell_script_parses_and_sets_exactly_the_registry_mp_and_winhttp_values() {
    let tmp = tempfile::tempdir().unwrap();
    let (policy, out) = generate(tmp.path(), DEVICES);
    let tree = ps_tree(&out.join("defender-proxy.ps1"));
    assert_eq!(tree["errors"], serde_json::json!([]), "{tree}");
    let attributes: Vec<&str> = tree["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        attributes.first(),
        Some(&"CmdletBinding(SupportsShouldProcess = $true)"),
        "-WhatIf support: {attributes:?}"
    );
    // Every function that changes something asks ShouldProcess first,
    // so -WhatIf stops it.
    let functions = tree["functions"].as_object().unwrap();
    assert_eq!(functions.len(), 4, "{functions:?}");
    for (name, f) in functions {
        assert_eq!(f["should_process"], true, "{name}");
    }
    let commands = tree["commands"].as_array().unwrap();
    // This site's devices are offline: nothing is removed.
    assert!(
        commands
            .iter()
            .all(|c| c["name"] != "Remove-EgressgenRegistryValue"),
        "{commands:?}"
    );
    let calls = |name: &str| -> Vec<BTreeMap<String, Value>> {
        commands
            .iter()
            .filter(|c| c["name"] == name)
            .map(params)
            .collect()
    };
    let expected = expected_registry(&policy);
    // Registry values the script sets itself (Defender Antivirus's go
    // through Set-MpPreference).
    let registry: BTreeMap<(String, String), (String, String)> =
        calls("Set-EgressgenRegistryValue")
            .into_iter()
            .map(|p| {
                let path = p["-Path"]
                    .as_str()
                    .unwrap()
                    .replace("HKLM:", "HKEY_LOCAL_MACHINE");
                let kind = match p["-Kind"].as_str().unwrap() {
                    "String" => "REG_SZ",
                    "DWord" => "REG_DWORD",
                    other => panic!("kind {other}"),
                };
                let value = p["-Value"].as_str().unwrap().to_string();
                let value = if kind == "REG_DWORD" {
                    format!("0x{:x}", value.parse::<u32>().unwrap())
                } else {
                    value
                };
                (
                    (path, p["-Name"].as_str().unwrap().to_string()),
                    (kind.to_string(), value),
                )
            })
            .collect();
    let not_av: BTreeMap<_, _> = expected
        .iter()
        .filter(|((k, _), _)| !k.ends_with(r"\Windows Defender"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    assert_eq!(registry, not_av);
    let mp: BTreeMap<String, Value> = calls("Set-EgressgenMpPreference")
        .into_iter()
        .map(|p| {
            (
                p["-Name"].as_str().unwrap().to_string(),
                p["-Value"].clone(),
            )
        })
        .collect();
    let bypass = expected_bypass(&policy);
    assert_eq!(
        mp,
        [
            (
                "ProxyServer".to_string(),
                Value::from(format!("http://{PROXY_2}"))
            ),
            ("ProxyPacUrl".to_string(), Value::from(PAC_URL)),
            ("ProxyBypass".to_string(), Value::from(bypass.clone())),
        ]
        .into_iter()
        .collect()
    );
    let winhttp = calls("Set-EgressgenWinHttpProxy");
    assert_eq!(winhttp.len(), 1);
    assert_eq!(
        winhttp[0]["-Arguments"],
        serde_json::json!([
            format!("proxy-server={PROXY_2}"),
            format!("bypass-list={}", bypass.join(";"))
        ])
    );
}

#[test]
fn the_linux_managed_json_validates_and_names_the_linux_proxy() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, out) = generate(
        tmp.path(),
        &format!("{DEVICES}linux_proxy = \"{PROXY_1}\"\n"),
    );
    let value: Value =
        serde_json::from_slice(&std::fs::read(out.join("mdatp_managed.json")).unwrap()).unwrap();
    common::assert_docs_schema("mdatp_managed.schema.json", &value);
    assert_eq!(value["cloudService"]["proxy"], format!("http://{PROXY_1}/"));
    // The schema is not a rubber stamp.
    for bad in [
        serde_json::json!({"cloudService": {"proxy": "http://p:8080"}}),
        serde_json::json!({"cloudService": {"proxy": "http://p:8080/", "enabled": false}}),
        serde_json::json!({"cloudService": {"proxy": "socks5://p:1080/"}}),
    ] {
        let refused = std::panic::catch_unwind(|| {
            common::assert_docs_schema("mdatp_managed.schema.json", &bad)
        });
        assert!(refused.is_err(), "{bad}");
    }
}

#[test]
fn the_mdatp_commands_run_in_a_real_shell_with_the_arguments_mdatp_expects() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, out) = generate(
        tmp.path(),
        &format!("{DEVICES}macos_proxy = \"{PROXY_2}\"\nlinux_proxy = \"{PROXY_1}\"\n"),
    );
    // Linux takes no PAC: neither file hands one to it, though the
    // ruleset publishes one.
    for file in ["mdatp-proxy.sh", "mdatp_managed.json"] {
        let text = std::fs::read_to_string(out.join(file)).unwrap();
        for line in text.lines().filter(|l| !l.trim_start().starts_with('#')) {
            assert!(
                !line.contains(PAC_URL) && !line.to_lowercase().contains("pac"),
                "{file}: {line}"
            );
        }
    }
    let stubs = tmp.path().join("stubs");
    std::fs::create_dir_all(&stubs).unwrap();
    let argv = tmp.path().join("argv");
    let script = |name: &str, body: String| {
        let p = stubs.join(name);
        std::fs::write(&p, body).unwrap();
        common::squid::chmod(&p, 0o755);
    };
    // A stub mdatp that writes each argument on its own line.
    script(
        "mdatp",
        format!(
            "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done > {}\n",
            argv.display()
        ),
    );
    for (os, proxy) in [("Linux", PROXY_1), ("Darwin", PROXY_2)] {
        script("uname", format!("#!/bin/sh\necho {os}\n"));
        let path = format!(
            "{}:{}",
            stubs.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let run = Command::new(require("sh", "dash"))
            .arg(out.join("mdatp-proxy.sh"))
            .env("PATH", path)
            .output()
            .unwrap();
        assert!(
            run.status.success(),
            "{os}: {}",
            String::from_utf8_lossy(&run.stderr)
        );
        let args: Vec<String> = std::fs::read_to_string(&argv)
            .unwrap()
            .lines()
            .map(String::from)
            .collect();
        assert_eq!(
            args,
            [
                "config",
                "proxy",
                "set",
                "--value",
                &format!("http://{proxy}")
            ],
            "{os}"
        );
    }
}

#[test]
fn the_sensor_install_line_splits_as_cmd_splits_it_and_its_wrapper_runs_in_cmd() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, out) = generate(tmp.path(), DEVICES);
    let file = out.join("mdi-sensor-install.cmd");
    let text = String::from_utf8(std::fs::read(&file).unwrap()).unwrap();
    assert!(text.contains("\r\n"), "cmd files keep CRLF");
    // The wrapper as cmd runs it, with an access key like Microsoft's
    // (base64, ending in "="), the installer call made to print its line
    // instead; then that line split as cmd splits a command line.
    let installer = "\"%~dp0Azure ATP sensor Setup.exe\"";
    assert_eq!(
        text.lines().filter(|l| l.starts_with(installer)).count(),
        1,
        "{text}"
    );
    let echoing = tmp.path().join("echoing.cmd");
    let echo = format!("\r\necho ARGS: {installer}");
    std::fs::write(&echoing, text.replace(&format!("\r\n{installer}"), &echo)).unwrap();
    let prefix = tmp.path().join("wine");
    let key = "Zm9vYmFy+/K3y==";
    let run = wine(&prefix, &["cmd", "/c", echoing.to_str().unwrap(), key]);
    let shown = String::from_utf8_lossy(&run.stdout).into_owned();
    let line = shown
        .lines()
        .find_map(|l| l.strip_prefix("ARGS: "))
        .unwrap_or_else(|| panic!("{shown}"));
    let split = Command::new(require("python3", "python3"))
        .args([
            "-c",
            "import json, sys, mslex; print(json.dumps(mslex.split(sys.argv[1], like_cmd=True)))",
            line,
        ])
        .output()
        .unwrap();
    assert!(
        split.status.success(),
        "{}",
        String::from_utf8_lossy(&split.stderr)
    );
    let args: Vec<String> = serde_json::from_slice(&split.stdout).unwrap();
    assert!(
        args[0].ends_with("\\Azure ATP sensor Setup.exe"),
        "beside the script: {args:?}"
    );
    assert_eq!(
        args[1..],
        [
            "/quiet".to_string(),
            "NetFrameworkCommandLineArguments=/q".to_string(),
            format!("AccessKey={key}"),
            format!("ProxyUrl=http://{PROXY_2}"),
        ]
    );
    // Credentials only as a placeholder in a comment, never as a value.
    for l in text.lines().filter(|l| l.contains("ProxyUserPassword")) {
        assert!(
            l.starts_with("rem ") && l.contains("ProxyUserPassword=\"...\""),
            "{l}"
        );
    }
    // Without the access key, the wrapper stops before the installer.
    let run = wine(&prefix, &["cmd", "/c", file.to_str().unwrap()]);
    assert_eq!(
        run.status.code(),
        Some(2),
        "{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(
        String::from_utf8_lossy(&run.stderr).contains("usage"),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
}

#[test]
fn the_loss_reports_say_what_each_device_format_cannot_carry() {
    let tmp = tempfile::tempdir().unwrap();
    let (policy, out) = generate(tmp.path(), DEVICES);
    let report: Value =
        serde_json::from_slice(&std::fs::read(out.join("loss-report.json")).unwrap()).unwrap();
    let backend = |name: &str| {
        report["backends"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["backend"] == name)
            .unwrap()
            .clone()
    };
    let direct: BTreeSet<String> = policy
        .entries
        .iter()
        .filter(|e| e.route == Via::Direct)
        .map(|e| e.key())
        .collect();
    assert!(!direct.is_empty());
    for e in backend("mdatp")["entries"].as_array().unwrap() {
        let is_direct = direct.contains(e["key"].as_str().unwrap());
        let outcome = e["outcome"].as_str().unwrap();
        assert_eq!(outcome == "dropped", is_direct, "{e}");
    }
    for e in backend("windows")["entries"].as_array().unwrap() {
        assert_ne!(e["outcome"], "dropped", "{e}");
    }
}

/// `generate` with these `[devices]` lines: its exit code, stderr, and
/// whether anything was written.
fn refused(devices: &str, extra: &str) -> (Option<i32>, String, bool) {
    let tmp = tempfile::tempdir().unwrap();
    let ruleset = tmp.path().join("devices.toml");
    std::fs::write(&ruleset, format!("{}{devices}{extra}", site(""))).unwrap();
    let out = tmp.path().join("out");
    let run = common::egressgen(&[
        "generate",
        ruleset.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    (
        run.status.code(),
        String::from_utf8_lossy(&run.stderr).into_owned(),
        out.exists(),
    )
}

#[test]
fn a_device_told_something_the_proxy_does_not_serve_stops_generate_before_anything_is_written() {
    for (devices, extra, both) in [
        (
            "windows_proxy = \"proxy3.contoso.com:8080\"\n",
            "",
            [
                "proxy3.contoso.com:8080",
                "proxy1.contoso.com:8080, proxy2.contoso.com:8080",
            ],
        ),
        (
            "pac_url = \"http://wpad.contoso.com/wpad.dat\"\n",
            "",
            ["wpad.dat", "proxy.pac"],
        ),
        ("ssl_options = 0\n", "", ["ssl_options", "offline"]),
    ] {
        let (code, stderr, written) = refused(devices, extra);
        assert_eq!(code, Some(4), "{stderr}");
        assert!(!written, "{devices}: something was written");
        for side in both {
            assert!(
                stderr.contains(side),
                "{devices}: {side} not named: {stderr}"
            );
        }
        // The line of the setting, not a comment or the table.
        let line = site("").lines().count() + 1;
        assert!(
            stderr.contains(&format!("devices.toml:{line}:")),
            "{stderr}"
        );
    }
    // The Squid devices are sent to listens elsewhere.
    let tmp = tempfile::tempdir().unwrap();
    let ruleset = tmp.path().join("devices.toml");
    std::fs::write(
        &ruleset,
        site(DEVICES).replace("listen = 8080", "listen = 3128"),
    )
    .unwrap();
    let out = tmp.path().join("out");
    let run = common::egressgen(&[
        "generate",
        ruleset.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(4), "{stderr}");
    assert!(
        stderr.contains(PROXY_2) && stderr.contains("3128"),
        "{stderr}"
    );
    // The line of the device setting that names the proxy.
    let named = site(DEVICES)
        .lines()
        .position(|l| l.starts_with("windows_proxy"))
        .unwrap()
        + 1;
    assert!(
        stderr.contains(&format!("devices.toml:{named}:")),
        "{stderr}"
    );
    assert!(!out.exists());
    // A PAC whose own answer sends Windows devices elsewhere.
    let text = site(DEVICES).replace(
        "[outputs.pac]\n",
        &format!("[outputs.pac]\nproxy = \"PROXY {PROXY_1}\"\n"),
    );
    std::fs::write(&ruleset, &text).unwrap();
    let run = common::egressgen(&[
        "generate",
        ruleset.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(4), "{stderr}");
    assert!(
        stderr.contains(PROXY_1) && stderr.contains(PROXY_2),
        "{stderr}"
    );
    assert!(!out.exists());
    // A PAC URL with a query still names the published file.
    let text = site(&DEVICES.replace("proxy.pac\"", "proxy.pac?v=2\""));
    std::fs::write(&ruleset, &text).unwrap();
    let run = common::egressgen(&[
        "generate",
        ruleset.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    std::fs::remove_dir_all(&out).unwrap();
    // With the proxy left to its default (the [proxy] addresses), the
    // error points at those addresses and names the port Squid listens
    // on: checked whether or not device outputs are configured.
    let text = site("").replace("listen = 8080", "listen = 3128");
    std::fs::write(&ruleset, &text).unwrap();
    let run = common::egressgen(&[
        "generate",
        ruleset.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    let addresses = text
        .lines()
        .position(|l| l.starts_with("addresses"))
        .unwrap()
        + 1;
    assert_eq!(run.status.code(), Some(4), "{stderr}");
    assert!(
        stderr.contains(&format!("devices.toml:{addresses}:"))
            && stderr.contains("listens on port 3128"),
        "{stderr}"
    );
    // A PAC URL a device setting cannot carry safely is refused by the
    // backend, naming it.
    let (code, stderr, _) = refused("pac_url = \"http://wpad.contoso.com/it's/proxy.pac\"\n", "");
    assert_ne!(code, Some(0), "{stderr}");
    assert!(stderr.contains("refusing URL"), "{stderr}");
}

#[test]
fn importing_the_settings_of_devices_no_longer_offline_removes_the_offline_values() {
    let tmp = tempfile::tempdir().unwrap();
    let prefix = tmp.path().join("wine");
    let offline = tmp.path().join("offline");
    let online = tmp.path().join("online");
    std::fs::create_dir_all(&offline).unwrap();
    std::fs::create_dir_all(&online).unwrap();
    let (_, a) = generate(&offline, DEVICES);
    let (_, b) = generate(&online, "windows_proxy = \"proxy2.contoso.com:8080\"\n");
    for out in [&a, &b] {
        let reg = out.join("defender-proxy.reg");
        let import = wine(&prefix, &["reg", "import", reg.to_str().unwrap()]);
        assert!(
            import.status.success(),
            "{}",
            String::from_utf8_lossy(&import.stderr)
        );
    }
    let query = |key: &str| {
        String::from_utf8_lossy(&wine(&prefix, &["reg", "query", key]).stdout).into_owned()
    };
    let policies = r"HKEY_LOCAL_MACHINE\SOFTWARE\Policies\Microsoft";
    let atp = query(&format!(r"{policies}\Windows Advanced Threat Protection"));
    let spynet = query(&format!(r"{policies}\Windows Defender\Spynet"));
    let av = query(&format!(r"{policies}\Windows Defender"));
    assert!(!atp.contains("PreferStaticProxyForHttpRequest"), "{atp}");
    assert!(!spynet.contains("SSLOptions"), "{spynet}");
    assert!(
        !av.contains("ProxyPacUrl") && av.contains("ProxyServer"),
        "{av}"
    );
    // The script removes them too.
    let tree = ps_tree(&b.join("defender-proxy.ps1"));
    let removed: BTreeSet<String> = tree["commands"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["name"] == "Remove-EgressgenRegistryValue")
        .map(|c| params(c)["-Name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        removed,
        ["PreferStaticProxyForHttpRequest", "SSLOptions"]
            .map(String::from)
            .into()
    );
}
