//! The Squid output proven by a real Squid: `squid -k parse` on every
//! generated configuration, and a live Squid on 127.0.0.1 that lets every
//! allowed endpoint through and answers 403 to look-alikes, IP literals,
//! other ports and paths outside a path-scoped entry.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::data;
use common::squid::{
    ProxyCa, Wrapper, ask, connect, free_port, get, install, live_outputs, origin, proxy_dir,
    start_squid,
};
use common::tools::squid_parse_problems;
use egressgen::generate;
use egressgen::model::Via;
use egressgen::policy::Policy;
use egressgen::ruleset::Ruleset;

fn write_ruleset(dir: &Path, name: &str, text: &str) -> Ruleset {
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    Ruleset::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

fn generate_into(ruleset: &Ruleset, out: &Path) -> Policy {
    let backends = generate::select_backends(ruleset, None).unwrap();
    generate::generate(ruleset, &backends, out)
        .unwrap_or_else(|e| panic!("{e}"))
        .policy
}

/// Installs the generated files as on a proxy, and has Squid parse the
/// installed configurations.
fn assert_parses(out: &Path) {
    let installed = install(out);
    for conf in ["squid.conf", "squid-sslbump.conf"] {
        let problems = squid_parse_problems(&installed.join(conf));
        assert!(
            problems.is_empty(),
            "{}: {problems:#?}",
            installed.join(conf).display()
        );
    }
}

/// Every example ruleset, the built-in baseline, and Microsoft's real files
/// (commercial, GCC and DoD scopes, every product).
#[test]
fn squid_parses_every_generated_configuration() {
    let tmp = tempfile::tempdir().unwrap();
    let pem = ProxyCa::new(tmp.path(), "egressgen test").pem;
    // Each ruleset installs in its own folder of the stand-in proxy.
    let bump = |name: &str| {
        format!(
            "[outputs.squid]\nbump_cert = \"{}\"\ninstall_dir = \"{}/{name}\"\n",
            pem.display(),
            proxy_dir(tmp.path()).display()
        )
    };
    let copies = tmp.path().join("rulesets");
    std::fs::create_dir(&copies).unwrap();
    for path in common::examples(&copies) {
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path)
            .unwrap()
            .replace("[outputs.squid]\n", &bump(&name));
        assert!(
            text.contains("bump_cert"),
            "{} has an [outputs.squid] table",
            path.display()
        );
        let r = write_ruleset(tmp.path(), &name, &text);
        let out = tmp.path().join(format!("out-{name}"));
        generate_into(&r, &out);
        assert_parses(&out);
    }
    let real: Vec<String> = [
        "mde/mde-urls_2021-03-25.xlsx",
        "mde/mde-streamlined-urls-commercial.xlsx",
        "mde/standard-device-connectivity-urls-commercial.urltables.md",
        "mde/standard-device-connectivity-urls-gov.urltables.md",
        "servicetags/ServiceTags_Public_20251013.json",
        "servicetags/ServiceTags_AzureGovernment_20251013.json",
        "m365/get_endpoints_usgov_dod.json",
    ]
    .iter()
    .map(|f| format!("{:?}", data(f).display().to_string()))
    .chain(["\"builtin:mma\"".to_string(), "\"builtin:mdi\"".to_string()])
    .collect();
    for (name, files, cloud, geos) in [
        (
            "baseline",
            "\"baseline\"".to_string(),
            "commercial",
            "[\"US\", \"EU\", \"UK\", \"AU\"]",
        ),
        (
            "real-commercial",
            real.join(", "),
            "commercial",
            "[\"US\", \"EU\", \"UK\", \"AU\"]",
        ),
        ("real-gcc", real.join(", "), "gcc", "[]"),
        ("real-dod", real.join(", "), "dod", "[]"),
    ] {
        let text = format!(
            "name = \"{name}\"\n[sources]\nfiles = [{files}]\n[scope]\ncloud = \"{cloud}\"\ngeographies = {geos}\n\
             products = [\"mde\", \"mdav\", \"smart-screen\", \"mma\", \"mdi\", \"portal\", \"m365\"]\n\
             [site]\nworkspace_ids = [\"0e2b1d6c-1111-2222-3333-444455556666\"]\nmdi_instances = [\"contoso-corp\"]\n\
             [proxy]\naddresses = [\"proxy.example.com:3128\"]\n{}",
            bump(name)
        );
        let r = write_ruleset(tmp.path(), name, &text);
        let out = tmp.path().join(format!("out-{name}"));
        let policy = generate_into(&r, &out);
        assert!(!policy.entries.is_empty(), "{name}");
        assert_parses(&out);
        // The MMA table asks to bypass *.blob.core.windows.net; the
        // guidance forbids it: no line may splice an arbitrary storage
        // account (named Defender blob hosts may be spliced).
        let nobump =
            std::fs::read_to_string(out.join("squid-nobump.ssl_server_name")).unwrap_or_default();
        for line in common::list_lines(&nobump) {
            for any in [
                "anyaccount.blob.core.windows.net",
                "anyaccount.blob.core.usgovcloudapi.net",
            ] {
                assert!(
                    !common::domain_line_admits(line, any),
                    "{name}: {line} splices {any}"
                );
            }
        }
        if cloud == "commercial" {
            assert!(
                policy
                    .tls
                    .conflicts
                    .iter()
                    .any(|c| c.never_bypass.to_string() == "*.blob.core.windows.net")
            );
            assert!(
                nobump.lines().any(|l| l.ends_with("opinsights.azure.com")),
                "{name}: MMA hosts spliced"
            );
        }
    }
}

#[test]
fn live_squid_enforces_the_policy() {
    origin("127.0.0.1", true);
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let text = format!(
        "name = \"live\"\n[scope]\ncloud = \"commercial\"\ngeographies = [\"US\", \"EU\"]\n\
         products = [\"mde\", \"mdav\", \"smart-screen\", \"mma\", \"mdi\"]\n\
         [site]\nworkspace_ids = [\"0e2b1d6c-1111-2222-3333-444455556666\"]\nmdi_instances = [\"contoso-corp\"]\n\
         [[allow]]\nurl = \"http://crl.contoso.com/pki/*\"\n{}",
        live_outputs(port, None, tmp.path())
    );
    let r = write_ruleset(tmp.path(), "live", &text);
    let out = tmp.path().join("out");
    let policy = generate_into(&r, &out);
    // Made on one machine, used on another: the tree is copied away and
    // the original is gone before Squid starts from the installed copy.
    let shipped = tmp.path().join("shipped");
    let copy = std::process::Command::new("cp")
        .arg("-a")
        .arg(&out)
        .arg(&shipped)
        .status()
        .unwrap();
    assert!(copy.success());
    std::fs::remove_dir_all(&out).unwrap();
    let made_in = out.display().to_string();
    for f in std::fs::read_dir(&shipped).unwrap().flatten() {
        let text = String::from_utf8_lossy(&std::fs::read(f.path()).unwrap()).into_owned();
        assert!(
            !text.contains(&made_in),
            "{} names the directory it was generated in",
            f.path().display()
        );
    }

    let mut allowed: Vec<(String, String)> = Vec::new();
    let mut hosts = BTreeSet::new();
    for e in policy.entries.iter().filter(|e| e.route == Via::Proxy) {
        for host in common::probe_hosts(&e.host) {
            hosts.insert(host.clone());
            for &p in &e.ports {
                match p {
                    443 => allowed.push((format!("{host}:443"), connect(&host, 443))),
                    80 => {
                        let url = format!("http://{host}{}probe", e.path.as_deref().unwrap_or("/"));
                        allowed.push((url.clone(), get(&url)));
                    }
                    _ => {}
                }
            }
        }
    }
    assert!(
        allowed.len() > 30,
        "a real policy: {} probes",
        allowed.len()
    );
    assert!(
        allowed.iter().any(
            |(what, _)| what.starts_with("http://crl.microsoft.com/pki/crl/")
                || what.starts_with("http://www.microsoft.com/pki")
        ),
        "CRL paths probed"
    );
    let direct = policy
        .entries
        .iter()
        .find(|e| e.route == Via::Direct)
        .expect("a direct-route entry");
    let direct_host = common::probe_hosts(&direct.host)[0].clone();
    let denied = [
        connect("blob.core.windows.net.evil.example", 443),
        get("http://blob.core.windows.net.evil.example/"),
        connect("xwinatp-gw-cus.microsoft.com", 443),
        connect("winatp-gw-cus.microsoft.com.evil.example", 443),
        get("http://127.0.0.1/"),
        connect("127.0.0.1", 443),
        connect("winatp-gw-cus.microsoft.com", 8443),
        get("http://www.microsoft.com/outside/the/paths"),
        connect(&direct_host, 443),
    ];
    for h in [
        "blob.core.windows.net.evil.example",
        "xwinatp-gw-cus.microsoft.com",
        "winatp-gw-cus.microsoft.com.evil.example",
        &direct_host,
    ] {
        hosts.insert(h.to_string());
    }
    let squid = start_squid(
        tmp.path(),
        &shipped,
        port,
        &Wrapper {
            conf: "squid.conf",
            address: "127.0.0.1",
            hosts: &hosts,
            extra: "",
        },
    );

    let mut failures = Vec::new();
    for (what, request) in &allowed {
        let (code, denied) = ask(port, request);
        if code != 200 || denied {
            failures.push(format!("{what}: {code} (expected 200)"));
        }
    }
    // Squid lowercases the host: mixed case is the same destination.
    let (code, _) = ask(port, &connect("WINATP-GW-CUS.Microsoft.COM", 443));
    if code != 200 {
        failures.push(format!("mixed-case CONNECT: {code}"));
    }
    for request in &denied {
        let (code, access_denied) = ask(port, request);
        if code != 403 || !access_denied {
            failures.push(format!(
                "{}: {code} (expected 403 ERR_ACCESS_DENIED)",
                request.lines().next().unwrap_or("")
            ));
        }
    }
    let log = std::fs::read_to_string(&squid.log).unwrap_or_default();
    drop(squid);
    assert!(failures.is_empty(), "{failures:#?}\ncache.log:\n{log}");
}
