//! A real Squid on loopback for the live tests: the generated
//! configuration included from a small wrapper that puts logs, pid and a
//! `hosts_file` in a temporary directory; for ssl-bump, the proxy CA, a
//! certificate database per Squid and the ruleset lines that ask for them.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::pki::Ca;
use super::tools::{require, squid_parse_problems};

pub struct SquidProcess {
    child: Child,
    pub log: PathBuf,
    /// Its service name, which prefixes its shared-memory segments.
    service: String,
}

impl Drop for SquidProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Killed, Squid leaves its segments in /dev/shm (2 MiB each for
        // the TLS session cache): remove this one's.
        let prefix = format!("{}-", self.service);
        for e in std::fs::read_dir("/dev/shm")
            .into_iter()
            .flatten()
            .flatten()
        {
            if e.file_name().to_string_lossy().starts_with(&prefix) {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// What the wrapper configuration adds around the generated one.
pub struct Wrapper<'a> {
    /// The generated file to include (`squid.conf`, `squid-sslbump.conf`).
    pub conf: &'a str,
    /// Where `hosts` resolve to.
    pub address: &'a str,
    pub hosts: &'a BTreeSet<String>,
    /// Test-only directives placed before the include.
    pub extra: &'a str,
}

/// Squid in the foreground with a generated configuration, logs and pid in
/// `dir`, names resolved by the wrapper's hosts only.
///
/// Generated outputs (those with `install-squid.sh`) are first installed
/// by that script, and Squid reads the installed copy, as on a proxy.
pub fn start_squid(dir: &Path, out: &Path, port: u16, w: &Wrapper) -> SquidProcess {
    let squid = require("squid", "squid-openssl");
    let installed;
    let out = if out.join("install-squid.sh").exists() {
        installed = install(out);
        // Squid switches to its own user: every directory of the test's
        // on the way must let it through.
        let tmp = std::env::temp_dir();
        let mut d = installed.as_path();
        while d.starts_with(&tmp) && d != tmp {
            chmod(d, 0o755);
            d = d.parent().unwrap();
        }
        installed.as_path()
    } else {
        out
    };
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    // Squid started as root runs as its own user: it must read the output
    // and write the logs.
    chmod(dir, 0o755);
    chmod(&logs, 0o777);
    chmod(out, 0o755);
    let hosts_file = dir.join("hosts");
    // One name per line: Squid reads a bounded number of names per line.
    let lines: String = w
        .hosts
        .iter()
        .map(|h| format!("{} {h}\n", w.address))
        .collect();
    std::fs::write(&hosts_file, lines).unwrap();
    let conf = dir.join("test-squid.conf");
    std::fs::write(
        &conf,
        format!(
            "visible_hostname egressgen-test\npid_filename {logs}/squid.pid\ncache_log {logs}/cache.log\n\
             access_log stdio:{logs}/access.log\nhosts_file {hosts}\ndns_nameservers 127.0.0.1\n\
             coredump_dir {logs}\nnetdb_filename none\nshutdown_lifetime 1 seconds\n{extra}include {out}/{conf}\n",
            logs = logs.display(),
            hosts = hosts_file.display(),
            out = out.display(),
            extra = w.extra,
            conf = w.conf,
        ),
    )
    .unwrap();
    let problems = squid_parse_problems(&conf);
    assert!(problems.is_empty(), "{problems:#?}");
    // A service name of its own: Squid names its shared-memory segments
    // after it, and two Squids of one name starting at once collide
    // (`shm_open(/squid-cf__metadata.shm): File exists`).
    let service = format!("egressgen{port}");
    let child = Command::new(squid)
        .arg("-n")
        .arg(&service)
        .arg("-N")
        .arg("-f")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start squid");
    let mut proc = SquidProcess {
        child,
        log: logs.join("cache.log"),
        service,
    };
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = proc.child.try_wait() {
            panic!(
                "squid exited ({status}): {}",
                std::fs::read_to_string(&proc.log).unwrap_or_default()
            );
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "squid did not listen on {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    proc
}

/// The CA a bumping Squid signs with, written into a directory: `pem`
/// holds its key and certificate in one file (Squid's `tls-cert`, our
/// `bump_cert`), `crt` the certificate alone, for a client to trust.
pub struct ProxyCa {
    pub pem: PathBuf,
    pub crt: PathBuf,
}

impl ProxyCa {
    /// A proxy CA named `cn` in `dir`.
    pub fn new(dir: &Path, cn: &str) -> ProxyCa {
        let ca = Ca::new(cn).cert();
        ProxyCa {
            pem: ca.write_combined(dir, "proxy-ca"),
            crt: ca.write(dir, "proxy-ca").crt,
        }
    }
}

/// What turns ssl-bump on for one live Squid: the proxy CA's PEM and a
/// certificate database of its own.
pub struct Bump {
    pub pem: PathBuf,
    pub ssl_db: PathBuf,
}

impl Bump {
    /// Bumping with `ca`, a fresh certificate database in `dir`.
    pub fn new(dir: &Path, ca: &ProxyCa) -> Bump {
        Bump {
            pem: ca.pem.clone(),
            ssl_db: init_ssl_db(dir),
        }
    }

    /// The `bump_cert` and `ssl_db` lines of an `[outputs.squid]` table.
    pub fn settings(&self) -> String {
        format!(
            "bump_cert = \"{}\"\nssl_db = \"{}\"\n",
            self.pem.display(),
            self.ssl_db.display()
        )
    }
}

/// The `[outputs.squid]` table of a live test: listening on `port` for
/// 127.0.0.1, bumping when `bump` is given, installed in the proxy's own
/// directory under `tmp` (see [`install`]), never read where generated.
pub fn live_outputs(port: u16, bump: Option<&Bump>, tmp: &Path) -> String {
    format!(
        "[outputs.squid]\nlisten = {port}\nclients = [\"127.0.0.1/32\"]\ninstall_dir = \"{}\"\n{}",
        proxy_dir(tmp).display(),
        bump.map(Bump::settings).unwrap_or_default()
    )
}

/// The directory the Squid files are installed in for a live test: the
/// stand-in for `/etc/squid/egressgen/NAME` on the proxy.
pub fn proxy_dir(tmp: &Path) -> PathBuf {
    tmp.join("proxy-root/etc/squid/egressgen")
}

/// Runs the generated `install-squid.sh` of `out` as an administrator
/// would, and returns where it installed the files (its last line says).
pub fn install(out: &Path) -> PathBuf {
    let run = Command::new("sh")
        .arg(out.join("install-squid.sh"))
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&run.stdout).into_owned();
    assert!(
        run.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let dir = said
        .lines()
        .last()
        .and_then(|l| l.split_once(" installed in "))
        .map(|(_, d)| PathBuf::from(d))
        .unwrap_or_else(|| panic!("install-squid.sh said {said:?}"));
    assert!(
        !dir.starts_with(out),
        "installed inside the output: {dir:?}"
    );
    dir
}

/// Wrapper directives for a bumping Squid in front of a test origin:
/// trust `cafile` (the origin's own certificate, or its CA) and let
/// certificate errors pass, since a self-signed origin names no probe
/// host, so that Squid talks to the origin once it has bumped.
pub fn trust_origin(cafile: &Path) -> String {
    format!(
        "tls_outgoing_options cafile={}\nsslproxy_cert_error allow all\n",
        cafile.display()
    )
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

fn walk(dir: &Path) -> Vec<PathBuf> {
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

/// Answers any HTTP request with 200 on `addr`:80, and with `tls_port`
/// accepts connections on `addr`:443, for the lifetime of the test.
pub fn origin(addr: &str, tls_port: bool) {
    let bind = |port: u16| {
        TcpListener::bind((addr, port)).unwrap_or_else(|e| {
            panic!("the live Squid test needs {addr}:{port} for its origin server (run as root, port free): {e}")
        })
    };
    let http = bind(80);
    let tls = tls_port.then(|| bind(443));
    std::thread::spawn(move || {
        for conn in http.incoming().flatten() {
            std::thread::spawn(move || {
                let mut conn = conn;
                let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
                let mut buf = [0u8; 4096];
                let mut seen = Vec::new();
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = conn.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n\r\norigin",
                );
            });
        }
    });
    let Some(tls) = tls else { return };
    std::thread::spawn(move || {
        for conn in tls.incoming().flatten() {
            std::thread::spawn(move || {
                let mut conn = conn;
                let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
                let mut buf = [0u8; 256];
                while matches!(conn.read(&mut buf), Ok(n) if n > 0) {}
            });
        }
    });
}

/// Sends one request through the proxy; returns the status code and
/// whether Squid said access denied.
pub fn ask(port: u16, request: &str) -> (u16, bool) {
    ask_at("127.0.0.1", port, request)
}

/// [`ask`] from a client at `addr` (127.0.0.5 is not Squid's
/// `localhost`, whose rules then do not apply).
pub fn ask_at(addr: &str, port: u16, request: &str) -> (u16, bool) {
    try_ask_at(addr, port, request).unwrap()
}

/// [`ask_at`], with a proxy that is not listening (yet, or for a moment
/// while it reconfigures) as an error.
pub fn try_ask_at(addr: &str, port: u16, request: &str) -> std::io::Result<(u16, bool)> {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    let from: std::net::SocketAddr = format!("{addr}:0").parse().unwrap();
    socket.bind(&from.into())?;
    let to: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    socket.connect(&to.into())?;
    let mut s: TcpStream = socket.into();
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    s.write_all(request.as_bytes())?;
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&head);
    let code = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    Ok((code, text.contains("X-Squid-Error: ERR_ACCESS_DENIED")))
}

pub fn connect(host: &str, port: u16) -> String {
    format!("CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n")
}

pub fn get(url: &str) -> String {
    let host = url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap_or("");
    format!("GET {url} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")
}
