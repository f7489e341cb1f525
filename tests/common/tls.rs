//! A TLS origin and a TLS client through a proxy (tests/tls_probe.py),
//! and Squid's certificate database, for the live ssl-bump tests.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

use super::squid::chmod;
use super::tools::{require, throwaway_named_cert};

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

pub fn start_origin(addr: &str, cert: &Path, key: &Path) -> Origin {
    let python = require("python3", "python3");
    let mut child = Command::new(python)
        .arg(script())
        .args(["origin", addr, "443"])
        .arg(cert)
        .arg(key)
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

/// `security_file_certgen`'s database, initialised empty and writable by
/// the user Squid switches to.
pub fn init_ssl_db(dir: &Path) -> PathBuf {
    let db = dir.join("ssl_db");
    let certgen = Path::new("/usr/lib/squid/security_file_certgen");
    assert!(
        certgen.is_file(),
        "{} is missing: run scripts/test, which installs squid-openssl",
        certgen.display()
    );
    let out = Command::new(certgen)
        .args(["-c", "-s"])
        .arg(&db)
        .args(["-M", "4MB"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    for entry in walk(&db) {
        chmod(&entry, if entry.is_dir() { 0o777 } else { 0o666 });
    }
    db
}

pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![dir.to_path_buf()];
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// The certificates of a live ssl-bump test: the origin's own, the
/// proxy's CA as Squid's `tls-cert` PEM (key and certificate), and the
/// client's trust file holding exactly those two anchors, so the issuer
/// of what a client is shown says which one it chains to.
pub struct BumpCerts {
    pub origin_key: PathBuf,
    pub origin_crt: PathBuf,
    pub pem: PathBuf,
    pub trust: PathBuf,
}

pub fn bump_certs(dir: &Path, origin_cn: &str, proxy_cn: &str) -> BumpCerts {
    let (origin_key, origin_crt) = throwaway_named_cert(dir, "origin", origin_cn, false);
    let (ca_key, ca_crt) = throwaway_named_cert(dir, "proxy-ca", proxy_cn, true);
    let pem = dir.join("bump.pem");
    let mut both = std::fs::read(&ca_key).unwrap();
    both.extend(std::fs::read(&ca_crt).unwrap());
    std::fs::write(&pem, both).unwrap();
    chmod(&pem, 0o644);
    let trust = dir.join("trust.pem");
    let mut anchors = std::fs::read(&origin_crt).unwrap();
    anchors.extend(std::fs::read(&ca_crt).unwrap());
    std::fs::write(&trust, anchors).unwrap();
    BumpCerts {
        origin_key,
        origin_crt,
        pem,
        trust,
    }
}
