//! A refresh through a real Squid on loopback as its HTTPS proxy (CONNECT),
//! to an HTTPS server (openssl s_server) with a certificate of a throwaway
//! CA passed with `--ca-file`; and NO_PROXY taking a host past the proxy
//! the environment names.

mod common;

use std::collections::BTreeSet;
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::pki::{Ca, Validity};
use common::squid::{Wrapper, free_port, start_squid};
use common::tools::require;

const PAGE: &str = "docs/defender-endpoint/standard-device-connectivity-urls-commercial.md";

struct Https(Child);

impl Drop for Https {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `openssl s_server -WWW`: serves the files under `root` over HTTPS.
fn https_server(root: &Path, cert: &Path, key: &Path, port: u16) -> Https {
    let child = Command::new(require("openssl", "openssl"))
        .args(["s_server", "-quiet", "-WWW", "-accept"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("-cert")
        .arg(cert)
        .arg("-key")
        .arg(key)
        .current_dir(root)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "s_server did not listen"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Https(child)
}

fn refresh(
    dir: &Path,
    name: &str,
    base: &str,
    ca: Option<&Path>,
    env: &[(&str, &str)],
    extra: &[&str],
) -> Output {
    let ruleset = dir.join(format!("{name}.toml"));
    std::fs::write(
        &ruleset,
        format!("name = \"{name}\"\n[sources]\nfiles = [\"live:learn-standard-commercial\"]\n[scope]\ncloud = \"commercial\"\n[outputs.plain]\n"),
    )
    .unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_egressgen"));
    cmd.arg("refresh")
        .arg(&ruleset)
        .arg("--out")
        .arg(dir.join(format!("{name}-out")))
        .arg("--cache")
        .arg(dir.join(format!("{name}-cache")))
        .arg("--docs-base")
        .arg(base)
        .args(["--timeout", "5", "--retries", "0"])
        .args(extra);
    for k in [
        "HTTPS_PROXY",
        "https_proxy",
        "HTTP_PROXY",
        "http_proxy",
        "ALL_PROXY",
        "all_proxy",
        "NO_PROXY",
        "no_proxy",
    ] {
        cmd.env_remove(k);
    }
    if let Some(ca) = ca {
        cmd.arg("--ca-file").arg(ca);
    }
    cmd.envs(env.iter().copied());
    cmd.output().unwrap()
}

fn connects(log: &Path, target: &str) -> usize {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("CONNECT") && l.contains(target))
        .count()
}

#[test]
fn a_refresh_goes_through_squid_by_connect_and_no_proxy_bypasses_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // A throwaway CA, and the server's certificate for localhost it signed.
    let issuer = Ca::new("egressgen test CA");
    let ca = issuer.cert().write(dir, "ca").crt;
    let server = issuer
        .sign("localhost", &["localhost".to_string()], Validity::Current)
        .write(dir, "server");
    let root = dir.join("www");
    std::fs::create_dir_all(root.join("docs/defender-endpoint")).unwrap();
    std::fs::copy(common::fixture("refresh/learn-v1.md"), root.join(PAGE)).unwrap();
    let tls_port = free_port();
    let _https = https_server(&root, &server.crt, &server.key, tls_port);

    let squid_port = free_port();
    let conf_dir = dir.join("squid-conf");
    std::fs::create_dir_all(&conf_dir).unwrap();
    std::fs::write(
        conf_dir.join("proxy.conf"),
        format!(
            "http_port 127.0.0.1:{squid_port}\nacl SSL_ports port {tls_port}\nacl CONNECT method CONNECT\n\
             http_access deny CONNECT !SSL_ports\nhttp_access allow CONNECT\nhttp_access deny all\n"
        ),
    )
    .unwrap();
    let hosts: BTreeSet<String> = ["localhost".to_string()].into();
    let squid_dir = dir.join("squid");
    std::fs::create_dir_all(&squid_dir).unwrap();
    let squid = start_squid(
        &squid_dir,
        &conf_dir,
        squid_port,
        &Wrapper {
            conf: "proxy.conf",
            address: "127.0.0.1",
            hosts: &hosts,
            extra: "",
        },
    );
    let access = squid.log.with_file_name("access.log");
    let base = format!("https://localhost:{tls_port}/docs");
    let target = format!("localhost:{tls_port}");
    let proxy = format!("http://127.0.0.1:{squid_port}");

    // Without our CA the server is not trusted: the CA file is what lets
    // the client in, not a disabled check.
    let untrusted = refresh(dir, "untrusted", &base, None, &[], &["--no-proxy"]);
    let said = String::from_utf8_lossy(&untrusted.stderr);
    assert_eq!(untrusted.status.code(), Some(4), "{said}");
    assert!(said.contains("certificate"), "{said}");
    assert!(!dir.join("untrusted-out").exists());

    // --proxy: through Squid, by CONNECT.
    let out = refresh(dir, "explicit", &base, Some(&ca), &[], &["--proxy", &proxy]);
    assert_eq!(
        out.status.code(),
        Some(10),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.join("explicit-out/allowlist-443.txt").exists());
    let after_explicit = connects(&access, &target);
    assert!(after_explicit >= 1, "Squid saw no CONNECT");

    // HTTPS_PROXY from the environment: through Squid too.
    let out = refresh(
        dir,
        "env",
        &base,
        Some(&ca),
        &[("HTTPS_PROXY", &proxy)],
        &[],
    );
    assert_eq!(
        out.status.code(),
        Some(10),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let after_env = connects(&access, &target);
    assert!(after_env > after_explicit, "HTTPS_PROXY was not used");

    // NO_PROXY names the host: straight to the server, Squid sees nothing.
    let out = refresh(
        dir,
        "bypass",
        &base,
        Some(&ca),
        &[("HTTPS_PROXY", &proxy), ("NO_PROXY", "localhost")],
        &[],
    );
    assert_eq!(
        out.status.code(),
        Some(10),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        connects(&access, &target),
        after_env,
        "NO_PROXY was not honoured"
    );
}
