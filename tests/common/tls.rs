//! A TLS origin and a TLS client through a proxy (tests/tls_probe.py),
//! and the certificates they use, for the live ssl-bump tests.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

use super::pki::{Cert, Files};
use super::squid::ProxyCa;
use super::tools::require;

/// A TLS origin on ADDR:443, presenting its own certificate.
pub struct Origin(Child);

impl Drop for Origin {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tls_probe.py")
}

pub fn start_origin(addr: &str, origin: &Files) -> Origin {
    let python = require("python3", "python3");
    let mut child = Command::new(python)
        .arg(script())
        .args(["origin", addr, "443"])
        .arg(&origin.crt)
        .arg(&origin.key)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the TLS origin");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(
        line.trim(),
        "ready",
        "the live ssl-bump test needs {addr}:443 for its origin (run as root, port free)"
    );
    Origin(child)
}

/// CONNECT + TLS handshake + GET through the proxy for each host.
pub fn probe(port: u16, trust: &Path, hosts: &BTreeSet<String>) -> BTreeMap<String, Value> {
    let out = Command::new(require("python3", "python3"))
        .arg(script())
        .arg("probe")
        .arg(port.to_string())
        .arg(trust)
        .args(hosts)
        .output()
        .expect("run the TLS probe");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The certificates of a live ssl-bump test: the origin's own
/// (self-signed, naming no host), the proxy's CA, and the client's trust
/// file holding exactly those two anchors, so the issuer of what a client
/// is shown says which one it chains to.
pub struct BumpCerts {
    pub origin: Files,
    pub proxy: ProxyCa,
    pub trust: PathBuf,
}

pub fn bump_certs(dir: &Path, origin_cn: &str, proxy_cn: &str) -> BumpCerts {
    let origin = Cert::self_signed(origin_cn, &[]);
    let proxy = ProxyCa::new(dir, proxy_cn);
    let trust = dir.join("trust.pem");
    let mut anchors = origin.cert.clone();
    anchors.push_str(&std::fs::read_to_string(&proxy.crt).unwrap());
    std::fs::write(&trust, anchors).unwrap();
    BumpCerts {
        origin: origin.write(dir, "origin"),
        proxy,
        trust,
    }
}
