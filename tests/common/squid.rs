//! A real Squid on loopback for the live tests: the generated
//! configuration included from a small wrapper that puts logs, pid and a
//! `hosts_file` in a temporary directory.

use std::collections::BTreeSet;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::tools::{require, squid_parse_problems};

pub struct SquidProcess {
    child: Child,
    pub log: PathBuf,
}

impl Drop for SquidProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
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
pub fn start_squid(dir: &Path, out: &Path, port: u16, w: &Wrapper) -> SquidProcess {
    let squid = require("squid", "squid-openssl");
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
    let child = Command::new(squid)
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
