//! The PAC output evaluated by two real engines: Debian's pactester
//! (libpacparser1) and PyPI pacparser 1.5.3. Both must give the answer the
//! policy implies for every allowed, direct and look-alike host, in mixed
//! case too.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use common::tools::require;
use egressgen::generate;
use egressgen::model::{DnsName, HostPattern, Via};
use egressgen::policy::Policy;
use egressgen::policy::matching::admits;
use egressgen::ruleset::Ruleset;

const PROXY: &str = "PROXY proxy.contoso.com:8080; DIRECT";
const DEFAULT: &str = "PROXY default.contoso.com:3128";

fn setup(dir: &Path) -> Policy {
    let text = format!(
        "name = \"pac\"\n[scope]\ncloud = \"commercial\"\ngeographies = [\"US\", \"EU\"]\n\
         products = [\"mde\", \"mdav\", \"smart-screen\", \"mma\", \"mdi\"]\n\
         [site]\nworkspace_ids = [\"0e2b1d6c-1111-2222-3333-444455556666\"]\nmdi_instances = [\"contoso-corp\"]\n\
         [[allow]]\nurl = \"*smartscreen.contoso.com\"\n\
         [outputs.pac]\nproxy = \"{PROXY}\"\ndefault = \"{DEFAULT}\"\n"
    );
    let path = dir.join("pac.toml");
    std::fs::write(&path, text).unwrap();
    let r = Ruleset::load(&path).unwrap();
    let backends = generate::select_backends(&r, None).unwrap();
    generate::generate(&r, &backends, &dir.join("out"))
        .unwrap()
        .policy
}

/// Hosts to ask about: names each entry admits, and look-alikes.
fn hosts(policy: &Policy) -> Vec<String> {
    let mut out = Vec::new();
    for e in &policy.entries {
        let n = e.host.name().as_str();
        match &e.host {
            HostPattern::Exact(_) => out.push(n.to_string()),
            HostPattern::Subdomains(_) => {
                out.extend([format!("a.{n}"), format!("b.c.{n}"), n.to_string()])
            }
            HostPattern::Domain(_) => out.extend([n.to_string(), format!("a.{n}")]),
            HostPattern::SuffixGlob(_) => out.extend([format!("x{n}"), n.to_string()]),
            HostPattern::Template(_) => {}
        }
        out.push(format!("x{n}"));
        out.push(format!("{n}.evil.example"));
    }
    out.extend(
        [
            "blob.core.windows.net.evil.example",
            "xwinatp-gw-cus.microsoft.com",
            "winatp-gw-cus.microsoft.com.attacker.example",
            "constructor",
            "hasownproperty.example.com",
        ]
        .map(str::to_string),
    );
    // Mixed case: the PAC lowercases the host first.
    let mixed: Vec<String> = out.iter().step_by(3).map(|h| h.to_uppercase()).collect();
    out.extend(mixed);
    out.sort();
    out.dedup();
    out
}

/// The answer the policy implies, computed with the Rust matcher.
fn expected(policy: &Policy, host: &str) -> &'static str {
    let Ok(name) = DnsName::parse(host) else {
        return DEFAULT;
    };
    let hit = |route: Via| {
        policy
            .entries
            .iter()
            .any(|e| e.route == route && admits(&e.host, &name))
    };
    if hit(Via::Direct) {
        "DIRECT"
    } else if hit(Via::Proxy) {
        PROXY
    } else {
        DEFAULT
    }
}

#[test]
fn two_pac_engines_agree_with_the_policy() {
    let pactester = require("pactester", "libpacparser1");
    let tmp = tempfile::tempdir().unwrap();
    let policy = setup(tmp.path());
    let pac = tmp.path().join("out/proxy.pac");
    let text = std::fs::read_to_string(&pac).unwrap();
    for banned in ["isInNet", "dnsResolve", "let ", "const ", "=>"] {
        assert!(!text.contains(banned), "{banned} in the PAC");
    }
    let hosts = hosts(&policy);
    assert!(hosts.len() > 100);

    let mut first = Vec::new();
    for host in &hosts {
        let out = Command::new(&pactester)
            .arg("-p")
            .arg(&pac)
            .arg("-u")
            .arg(format!("https://{host}/"))
            .arg("-h")
            .arg(host)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "pactester: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        first.push(String::from_utf8_lossy(&out.stdout).trim().to_string());
    }

    let python = require("python3", "python3");
    let mut child = Command::new(python)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pac_eval.py"))
        .arg(&pac)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(hosts.join("\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "pacparser (pip install pacparser==1.5.3, done by scripts/test): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let second: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(second.len(), hosts.len());

    let mut wrong = Vec::new();
    for ((host, a), b) in hosts.iter().zip(&first).zip(&second) {
        let want = expected(&policy, host);
        if a != want || b != want {
            wrong.push(format!(
                "{host}: pactester {a:?}, pacparser {b:?}, policy {want:?}"
            ));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
    // The answers cover all three cases.
    for answer in ["DIRECT", PROXY, DEFAULT] {
        assert!(
            first.iter().any(|a| a == answer),
            "no host answered {answer}"
        );
    }
}

/// A PAC file clients would refuse is not written: 32,000 entries make
/// about 1.5 MB, over the 1 MiB Chromium and libproxy accept, so
/// `generate` exits 6 naming the size, the limit and who enforces it, and
/// publishes nothing; `[outputs.pac] max_bytes` raises the limit for
/// clients that take more.
#[test]
fn a_pac_over_what_browsers_accept_is_refused_unless_the_limit_is_raised() {
    let tmp = tempfile::tempdir().unwrap();
    let mut text = String::from(
        "name = \"big\"\n[sources]\nfiles = []\n[scope]\ncloud = \"commercial\"\nproducts = []\n\
         [proxy]\naddresses = [\"proxy.contoso.com:8080\"]\n[outputs.pac]\n",
    );
    let head = text.clone();
    for i in 0..32_000 {
        text.push_str(&format!(
            "[[allow]]\nurl = \"host{i}.branch{}.contoso-example.com\"\n",
            i % 500
        ));
    }
    let ruleset = tmp.path().join("big.toml");
    let out = tmp.path().join("out");
    let run = |text: &str| {
        std::fs::write(&ruleset, text).unwrap();
        common::egressgen(&[
            "generate",
            ruleset.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
    };
    let refused = run(&text);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(6), "{stderr}");
    assert!(
        stderr.contains("proxy.pac would be ")
            && stderr.contains("for 32000 entries, over the limit of 1048576 bytes: Chromium's PAC fetcher (and libproxy since 2026) refuse"),
        "{stderr}"
    );
    assert!(!out.exists(), "nothing published");
    let raised = text.replace(&head, &format!("{head}max_bytes = 4194304\n"));
    let done = run(&raised);
    assert_eq!(
        done.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    let size = std::fs::metadata(out.join("proxy.pac")).unwrap().len();
    assert!(size > 1 << 20 && size <= 4 << 20, "{size}");
}
