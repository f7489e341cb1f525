//! TLS inspection is judged per listening port: a Squid with `ssl-bump`
//! on one `http_port` and not on another inspects only what devices send
//! to the first. The audit, told the port devices use (`--port`, or the
//! ruleset's `[proxy]`), answers as a live Squid does on each.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::egressgen;
use common::squid::{Bump, Wrapper, chmod, free_port, start_squid, trust_origin};
use common::tls::{bump_certs, probe as tls_probe, start_origin};
use serde_json::Value;

const ADDR: &str = "127.0.0.6";
const ORIGIN_CN: &str = "egressgen tls-ports origin";
const PROXY_CN: &str = "egressgen tls-ports proxy CA";
/// A host Microsoft says must not be inspected.
const PINNED: &str = "winatp-gw-weu.microsoft.com";

fn ruleset(dir: &Path, proxy_port: u16) -> std::path::PathBuf {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("rulesets/commercial-eu.toml"),
    )
    .unwrap()
    .replace(
        "addresses = [\"proxy.contoso.com:8080\"]",
        &format!("addresses = [\"proxy.contoso.com:{proxy_port}\"]"),
    )
    // The generated Squid must listen where devices are sent.
    .replace("listen = 8080 ", &format!("listen = {proxy_port} "));
    assert!(
        text.contains(&format!(":{proxy_port}\"]")),
        "the example lists one proxy"
    );
    let path = dir.join("site.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// The audit's TLS findings for `conf`, with `args` added.
fn audit(ruleset: &Path, conf: &Path, args: &[&str]) -> (Value, Vec<String>) {
    let mut all = vec![
        "audit",
        "--format",
        "json",
        "--ruleset",
        ruleset.to_str().unwrap(),
        // The live Squid's only client, as the requests above came.
        "--client",
        "127.0.0.1",
    ];
    all.extend(args);
    all.push(conf.to_str().unwrap());
    let out = egressgen(&all);
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    let inspected = report["configs"][0]["tls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["issue"] == "inspected")
        .map(|t| t["request"].as_str().unwrap().to_string())
        .collect();
    (report, inspected)
}

#[test]
fn ssl_bump_on_one_port_inspects_only_what_arrives_there() {
    let tmp = tempfile::tempdir().unwrap();
    chmod(tmp.path(), 0o755);
    let certs = bump_certs(tmp.path(), ORIGIN_CN, PROXY_CN);
    let _origin = start_origin(ADDR, &certs.origin);
    let bump = Bump::new(tmp.path(), &certs.proxy);
    let (plain, bumping) = (free_port(), free_port());
    let conf_dir = tmp.path().join("etc");
    std::fs::create_dir_all(&conf_dir).unwrap();
    let conf = conf_dir.join("squid.conf");
    std::fs::write(
        &conf,
        format!(
            "http_port {plain}\n\
             http_port {bumping} ssl-bump tls-cert={pem} generate-host-certificates=on\n\
             sslcrtd_program /usr/lib/squid/security_file_certgen -s {db} -M 4MB\n\
             acl localnet src 127.0.0.1/32\n\
             acl SSL_ports port 443\n\
             acl step1 at_step SslBump1\n\
             http_access deny CONNECT !SSL_ports\n\
             http_access allow localnet\n\
             http_access deny all\n\
             ssl_bump peek step1\n\
             ssl_bump bump all\n",
            pem = bump.pem.display(),
            db = bump.ssl_db.display(),
        ),
    )
    .unwrap();
    chmod(&conf_dir, 0o755);
    let hosts: BTreeSet<String> = [PINNED.to_string()].into_iter().collect();
    let _squid = start_squid(
        tmp.path(),
        &conf_dir,
        plain,
        &Wrapper {
            conf: "squid.conf",
            address: ADDR,
            hosts: &hosts,
            extra: &trust_origin(&certs.origin.crt),
        },
    );
    // The live Squid: the origin's own certificate through one port, the
    // proxy CA's through the other.
    let issuer = |port: u16| tls_probe(port, &certs.trust, &hosts)[PINNED]["issuer"].clone();
    assert_eq!(issuer(plain), ORIGIN_CN);
    assert_eq!(issuer(bumping), PROXY_CN);

    let want = format!("https://{PINNED}/");
    let site = ruleset(tmp.path(), plain);
    // Devices on the plain port (from the ruleset's [proxy]): nothing
    // they send is inspected.
    let (report, inspected) = audit(&site, &conf, &[]);
    assert!(!inspected.contains(&want), "{report:#}");
    assert_eq!(report["configs"][0]["inspects"], false);
    // Told the bumping port: the pinned host is inspected, as live.
    let (report, inspected) = audit(&site, &conf, &["--port", &bumping.to_string()]);
    assert!(inspected.contains(&want), "{report:#}");
    // The ruleset naming a port no http_port listens on: said, at the
    // first http_port line.
    let (report, _) = audit(&ruleset(tmp.path(), 1), &conf, &[]);
    let lines = report["configs"][0]["lines"].as_array().unwrap();
    assert!(
        lines.iter().any(|l| l["issue"] == "undecidable"
            && l["at"]["line"] == 1
            && l["why"]
                .as_str()
                .unwrap()
                .contains("no http_port listens on it")),
        "{report:#}"
    );
}
