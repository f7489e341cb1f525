//! The PAC output evaluated by two real engines: Debian's pactester
//! (libpacparser1) and PyPI pacparser 1.5.3. Both must give the answer the
//! policy implies for every allowed, direct and look-alike host, in mixed
//! case too.

mod common;

use std::collections::BTreeMap;
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

/// A PAC file clients would refuse is not written: 32,000 entries, each
/// under a parent of its own (so the table shares nothing), make about
/// 1.3 MB, over the 1 MiB Chromium and libproxy accept, so
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
            "[[allow]]\nurl = \"www.host{i}.contoso-example.com\"\n"
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

/// A large policy: 30,000-odd entries under shared parents (sites of
/// companies), exact names, subtrees (`*.x`), domains (`.x`), a name that
/// is both exact and a subtree, direct-route names and subtrees (some
/// inside a proxied subtree, some holding proxied names), names whose
/// labels are JavaScript property names, and a few of Microsoft's.
fn large_ruleset() -> String {
    let mut text = format!(
        "name = \"large\"\n[sources]\nfiles = []\n[scope]\ncloud = \"commercial\"\nproducts = []\n\
         [outputs.pac]\nproxy = \"{PROXY}\"\ndefault = \"{DEFAULT}\"\n"
    );
    let mut allow = |url: &str, direct: bool| {
        text.push_str(&format!("[[allow]]\nurl = \"{url}\"\n"));
        if direct {
            text.push_str("direct = true\n");
        }
    };
    for k in 0..12 {
        let corp = format!("corp{k}.contoso-example.com");
        if k == 11 {
            allow(&format!("*.{corp}"), false);
        }
        for j in 0..100 {
            let site = format!("site{j}.{corp}");
            match j % 10 {
                0 => allow(&format!("*.{site}"), false),
                1 => allow(&format!(".{site}"), false),
                2 => allow(&site, false),
                3 => allow(&format!("*.{site}"), true),
                5 => {
                    allow(&site, false);
                    allow(&format!("*.{site}"), false);
                }
                6 => allow(&format!(".{site}"), true),
                _ => {}
            }
            for i in 0..40 {
                // Direct names inside proxied sites, and the other way.
                let direct = (j % 10 == 7 && i % 5 == 0) || (j % 10 == 0 && i == 3);
                allow(&format!("host{i}.{site}"), direct);
            }
            if j % 20 == 9 {
                allow(&format!("a.b.deep{j}.{site}"), false);
                allow(&format!("*.c.deep{j}.{site}"), j % 40 == 9);
            }
        }
        for js in [
            "constructor",
            "tostring",
            "valueof",
            "prototype",
            "hasownproperty",
        ] {
            allow(&format!("{js}.{corp}"), false);
            allow(&format!("*.{js}.site8.{corp}"), false);
        }
    }
    for (url, direct) in [
        ("winatp-gw-cus.microsoft.com", false),
        ("*.blob.core.windows.net", false),
        ("automatedirstrprdcus.blob.core.windows.net", true),
        (".events.data.microsoft.com", false),
        ("a.b.example.com", false),
        ("*smartscreen.contoso.com", false),
        ("login.live.com", true),
    ] {
        allow(url, direct);
    }
    text
}

/// What the policy implies, with the Rust matcher (`admits`) over the
/// entries that can admit the host: those named as the host or one of
/// its parents (a name admits itself and names below it), and every
/// suffix glob. The index changes no answer, only the time.
struct Oracle<'a> {
    by_name: std::collections::HashMap<&'a str, Vec<&'a egressgen::policy::PolicyEntry>>,
    globs: Vec<&'a egressgen::policy::PolicyEntry>,
}

impl<'a> Oracle<'a> {
    fn new(policy: &'a Policy) -> Self {
        let mut by_name = std::collections::HashMap::<&str, Vec<_>>::new();
        let mut globs = Vec::new();
        for e in &policy.entries {
            match &e.host {
                HostPattern::SuffixGlob(_) => globs.push(e),
                HostPattern::Template(_) => panic!("no templates here"),
                h => by_name.entry(h.name().as_str()).or_default().push(e),
            }
        }
        Oracle { by_name, globs }
    }

    fn expected(&self, host: &str) -> &'static str {
        let Ok(name) = DnsName::parse(host) else {
            return DEFAULT;
        };
        let n = name.as_str();
        let mut candidates = self.globs.clone();
        let parents = n.match_indices('.').map(|(i, _)| &n[i + 1..]);
        for key in std::iter::once(n).chain(parents) {
            candidates.extend(self.by_name.get(key).into_iter().flatten());
        }
        let hit = |route: Via| {
            candidates
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
}

/// A PAC of tens of thousands of entries, whose names share parents,
/// gives the policy's answer in pactester (and PyPI pacparser) for every
/// name it admits and for look-alikes: each entry's name, names below
/// it, its parent, a label with a letter added, the name under an
/// attacker's domain, JavaScript property names, mixed case and a
/// trailing dot. The URLs go to pactester in one file (`-f`), the hosts
/// to pacparser in one run.
#[test]
fn a_large_policy_of_shared_parents_routes_as_the_policy_says_in_two_engines() {
    let pactester = require("pactester", "libpacparser1");
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("large.toml");
    std::fs::write(&path, large_ruleset()).unwrap();
    let r = Ruleset::load(&path).unwrap();
    let backends = generate::select_backends(&r, None).unwrap();
    let policy = generate::generate(&r, &backends, &tmp.path().join("out"))
        .unwrap()
        .policy;
    assert!(policy.entries.len() > 30_000, "{}", policy.entries.len());
    let pac = tmp.path().join("out/proxy.pac");
    // Within the default 1 MiB: 31,911 entries take 423 KB, against
    // 1.52 MB in the layout before this one (a line per full name).
    let size = std::fs::metadata(&pac).unwrap().len();
    assert!(size < 1 << 20, "{size}");

    // For each entry, the names it admits and its look-alikes in turn
    // (about three hosts an entry, to keep both engines' runs short).
    let mut hosts = Vec::new();
    for (i, e) in policy.entries.iter().enumerate() {
        let n = e.host.name().as_str();
        let (first, parent) = n.split_once('.').unwrap();
        match &e.host {
            HostPattern::Exact(_) => hosts.push(n.to_string()),
            HostPattern::Subdomains(_) => hosts.extend([format!("a.{n}"), n.to_string()]),
            HostPattern::Domain(_) => hosts.extend([format!("a.{n}"), n.to_string()]),
            _ => hosts.push(format!("x{n}")),
        }
        hosts.push(match i % 7 {
            0 => format!("x{n}"),
            1 => format!("{n}.evil.example"),
            2 => format!("{first}x.{parent}"),
            3 => format!("{first}.x{parent}"),
            4 => parent.to_string(),
            5 => format!("b.c.{n}"),
            _ => format!("{}.", n.to_uppercase()),
        });
        if i % 5 == 0 {
            hosts.push(format!("Z.{}", n.to_uppercase()));
        }
    }
    hosts.extend(
        [
            "a.b.example.com",
            "b.example.com",
            "x.a.b.example.com",
            "a.b.example.com.evil.example",
            "automatedirstrprdcus.blob.core.windows.net",
            "x.automatedirstrprdcus.blob.core.windows.net",
            "prototype",
            "constructor.contoso-example.com",
            "constructor.corp0.contoso-example.com.evil.example",
            "tostring.site1.corp0.contoso-example.com",
            "x.valueof.site8.corp3.contoso-example.com",
            "site8.corp3.contoso-example.com",
            "contoso-example.com",
            "com",
            "example",
        ]
        .map(str::to_string),
    );
    hosts.sort();
    hosts.dedup();
    assert!(hosts.len() > 60_000, "{}", hosts.len());
    let oracle = Oracle::new(&policy);

    // pactester 1.3.6 runs out of JavaScript memory after some 200,000
    // calls in one process: 20,000 URLs a run.
    let urls = tmp.path().join("urls.txt");
    let mut first = Vec::new();
    for chunk in hosts.chunks(20_000) {
        let list: String = chunk.iter().map(|h| format!("https://{h}/\n")).collect();
        std::fs::write(&urls, list).unwrap();
        let out = Command::new(&pactester)
            .arg("-p")
            .arg(&pac)
            .arg("-f")
            .arg(&urls)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "pactester: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        for (line, host) in text.lines().zip(chunk) {
            let (url, answer) = line.rsplit_once(" : ").unwrap();
            assert_eq!(url, format!("https://{host}/"));
            first.push(answer.to_string());
        }
    }
    assert_eq!(first.len(), hosts.len());

    let python = require("python3", "python3");
    let mut child = Command::new(python)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pac_eval.py"))
        .arg(&pac)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = hosts.join("\n");
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(
        out.status.success(),
        "pacparser: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let second: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(second.len(), hosts.len());

    let mut wrong = Vec::new();
    let mut seen = BTreeMap::<&str, usize>::new();
    for ((host, a), b) in hosts.iter().zip(&first).zip(&second) {
        let want = oracle.expected(host);
        *seen.entry(want).or_default() += 1;
        if a != want || b != want {
            wrong.push(format!(
                "{host}: pactester {a:?}, pacparser {b:?}, policy {want:?}"
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} wrong: {:#?}",
        wrong.len(),
        &wrong[..wrong.len().min(40)]
    );
    // Thousands of hosts of each answer.
    for answer in ["DIRECT", PROXY, DEFAULT] {
        assert!(seen.get(answer).copied().unwrap_or(0) > 1_000, "{seen:?}");
    }
}
