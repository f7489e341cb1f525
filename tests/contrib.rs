//! The scheduling files in contrib/: systemd accepts the units, the
//! command line the refresh service runs is one egressgen understands,
//! and the units' own command lines, run in order, carry a change from
//! the live source to a running Squid: refresh publishes and touches the
//! file the path unit watches, the reload service's lines have Squid
//! check and load the new lists.

mod common;

use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::http::{Reply, Server};
use common::squid::{Wrapper, ask, chmod, connect, free_port, origin, start_squid};
use common::tools::require;
use common::units::{exec_lines, values};

const PAGE: &str = "/docs/defender-endpoint/standard-device-connectivity-urls-commercial.md";
/// The installed binary, as the units name it.
const BIN: &str = "/usr/bin/egressgen";
/// Where the loopback origin behind the test Squid listens (80 and 443).
const ORIGIN: &str = "127.0.0.12";

fn contrib_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("contrib")
}

fn contrib(name: &str) -> String {
    std::fs::read_to_string(contrib_dir().join(name)).unwrap()
}

#[test]
fn systemd_analyze_verify_accepts_the_units() {
    let analyze = require("systemd-analyze", "systemd");
    let tmp = tempfile::tempdir().unwrap();
    let mut names: Vec<String> = std::fs::read_dir(contrib_dir())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "egressgen-refresh.service",
            "egressgen-refresh.timer",
            "egressgen-reload.path",
            "egressgen-reload.service"
        ]
    );
    for name in &names {
        // verify checks that ExecStart= names an executable: point it at
        // this build instead of the installed path. /usr/sbin/squid is
        // there (scripts/test installs squid-openssl).
        let text = contrib(name).replace(BIN, env!("CARGO_BIN_EXE_egressgen"));
        std::fs::write(tmp.path().join(name), text).unwrap();
    }
    let out = Command::new(analyze)
        .arg("verify")
        .args(names.iter().map(|n| tmp.path().join(n)))
        .output()
        .unwrap();
    let said =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{said}");
    assert!(said.trim().is_empty(), "no warning either: {said}");
}

#[test]
fn the_service_command_line_is_accepted() {
    let service = contrib("egressgen-refresh.service");
    let mut lines = exec_lines(&service);
    assert_eq!(lines.len(), 1, "one command");
    let mut words = lines.remove(0);
    assert_eq!(words.remove(0), BIN);
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    // The ruleset does not exist here: a usage error (2) would mean a
    // flag of the unit is wrong; the missing file is exit 4.
    let out = common::egressgen(&words);
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("/etc/egressgen/site.toml"));
    // 10 (published) is success to systemd; 11-13 are not.
    assert!(service.contains("\nSuccessExitStatus=10\n"));
}

/// A machine laid out as the units expect, under a temporary root: the
/// ruleset in /etc/egressgen, outputs under /var/lib/egressgen/out, the
/// cache in /var/cache/egressgen, and a server on 127.0.0.1 standing in
/// for learn.microsoft.com.
struct Machine {
    tmp: tempfile::TempDir,
    server: Server,
}

impl Machine {
    /// `squid_port`: the `listen` of the ruleset's Squid output.
    fn new(squid_port: u16) -> Machine {
        let tmp = tempfile::tempdir().unwrap();
        let m = Machine {
            tmp,
            server: Server::start(),
        };
        for dir in ["etc/egressgen", "var/lib/egressgen", "var/cache/egressgen"] {
            std::fs::create_dir_all(m.root().join(dir)).unwrap();
        }
        let out = m.out();
        std::fs::write(
            m.at("/etc/egressgen/site.toml"),
            format!(
                "name = \"site\"\n[sources]\nfiles = [\"live:learn-standard-commercial\"]\n\
                 [scope]\ncloud = \"commercial\"\n[outputs]\ndir = \"{out}\"\n\
                 [outputs.squid]\nlisten = {squid_port}\nclients = [\"127.0.0.1/32\"]\n\
                 install_dir = \"{out}\"\n",
                out = out.display()
            ),
        )
        .unwrap();
        m
    }

    fn root(&self) -> &Path {
        self.tmp.path()
    }

    /// An absolute path of the real machine, under the temporary root.
    fn at(&self, path: &str) -> PathBuf {
        self.root().join(path.trim_start_matches('/'))
    }

    /// The output directory of the ruleset: the refresh service's
    /// documented layout, `[outputs] dir` under /var/lib/egressgen/out/.
    fn out(&self) -> PathBuf {
        self.at("/var/lib/egressgen/out/site")
    }

    /// The paths of a unit's command line moved under the root; nothing
    /// else of it changes.
    fn substitute(&self, word: &str) -> String {
        let mut w = word.replace(BIN, env!("CARGO_BIN_EXE_egressgen"));
        for dir in [
            "/etc/egressgen",
            "/var/lib/egressgen",
            "/var/cache/egressgen",
        ] {
            w = w.replace(dir, &self.at(dir).display().to_string());
        }
        w
    }

    fn serve(&self, page: &str) {
        self.server.route(
            PAGE,
            vec![Reply::Conditional {
                etag: format!("\"{page}\""),
                body: std::fs::read(common::fixture(&format!("refresh/{page}"))).unwrap(),
            }],
        );
    }

    /// egressgen-refresh.service's command line, its paths substituted,
    /// with the environment systemd gives it (CacheDirectory=,
    /// StateDirectory=, the user's home) and the test server's addresses
    /// appended in place of Microsoft's.
    fn refresh(&self) -> Output {
        let unit = contrib("egressgen-refresh.service");
        assert_eq!(values(&unit, "CacheDirectory"), ["egressgen"]);
        assert_eq!(values(&unit, "StateDirectory"), ["egressgen"]);
        let lines = exec_lines(&unit);
        assert_eq!(lines.len(), 1);
        let words: Vec<String> = lines[0].iter().map(|w| self.substitute(w)).collect();
        let mut cmd = Command::new(&words[0]);
        cmd.args(&words[1..])
            .arg("--docs-base")
            .arg(self.server.url("/docs"))
            .arg("--download-base")
            .arg(&self.server.base)
            .arg("--download-pages-base")
            .arg(self.server.url("/pages"))
            .arg("--m365-base")
            .arg(self.server.url("/m365"))
            .args(["--no-proxy", "--timeout", "5", "--retries", "0"]);
        for var in [
            "EGRESSGEN_CACHE",
            "XDG_CACHE_HOME",
            "HTTPS_PROXY",
            "HTTP_PROXY",
            "ALL_PROXY",
            "NO_PROXY",
        ] {
            cmd.env_remove(var);
        }
        cmd.env("CACHE_DIRECTORY", self.at("/var/cache/egressgen"))
            .env("STATE_DIRECTORY", self.at("/var/lib/egressgen"))
            .env("HOME", self.at("/var/lib/egressgen"));
        cmd.output().unwrap()
    }

    /// A refresh that ends as the unit's exit codes say it must: `code`,
    /// and success to systemd only for 0 and 10.
    fn refresh_ends(&self, code: i32) {
        let run = self.refresh();
        assert_eq!(
            run.status.code(),
            Some(code),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        let unit = contrib("egressgen-refresh.service");
        assert!(code == 0 || values(&unit, "SuccessExitStatus") == [code.to_string()]);
    }

    /// The path egressgen-reload.path watches, under the root.
    fn watched(&self) -> PathBuf {
        let unit = contrib("egressgen-reload.path");
        for other in [
            "PathExists",
            "PathExistsGlob",
            "PathModified",
            "DirectoryNotEmpty",
        ] {
            assert!(values(&unit, other).is_empty(), "{other}= in the path unit");
        }
        assert_eq!(values(&unit, "Unit"), ["egressgen-reload.service"]);
        let changed = values(&unit, "PathChanged");
        assert_eq!(changed.len(), 1, "one watched path: {changed:?}");
        assert!(
            changed[0].starts_with("/var/lib/egressgen/"),
            "{changed:?} is not where the refresh service writes"
        );
        PathBuf::from(self.substitute(changed[0]))
    }
}

/// How many times Squid has said it accepts connections on its port.
fn listening(cache_log: &Path) -> usize {
    std::fs::read_to_string(cache_log)
        .unwrap_or_default()
        .matches("Accepting HTTP Socket connections")
        .count()
}

/// What a PathChanged= watch sees of a file: which inode, and its
/// modification and change times to the nanosecond.
fn stamp(path: &Path) -> Option<(u64, u64, i64, i64, i64, i64)> {
    let m = std::fs::metadata(path).ok()?;
    Some((
        m.dev(),
        m.ino(),
        m.mtime(),
        m.mtime_nsec(),
        m.ctime(),
        m.ctime_nsec(),
    ))
}

/// The path unit watches what a publish changes, and only a publish: a
/// run that publishes changes it, in place (the same inode, so the watch
/// systemd holds on it sees the change), after the new tree is in place;
/// a run that publishes nothing leaves it alone. It is not the output
/// directory, nor the manifest in it, nor a directory holding them:
/// those are renamed away, or change before the new tree is in place.
#[test]
fn the_path_unit_watches_what_a_publish_changes_after_the_swap() {
    let m = Machine::new(free_port());
    let watched = m.watched();
    let out = m.out();
    assert_eq!(stamp(&watched), None, "nothing has been published yet");

    m.serve("learn-v1.md");
    m.refresh_ends(10);
    let manifest = out.join(egressgen::publish::MANIFEST);
    let first = stamp(&watched).expect("a publish creates the watched file");
    let modified = |p: &Path| std::fs::metadata(p).unwrap().modified().unwrap();
    assert!(modified(&watched) >= modified(&manifest));

    // Nothing new at the source: nothing published, nothing watched moves.
    m.refresh_ends(0);
    assert_eq!(stamp(&watched), Some(first));

    m.serve("learn-v2.md");
    let old_tree = stamp(&manifest);
    m.refresh_ends(10);
    let second = stamp(&watched).unwrap();
    assert_ne!(stamp(&manifest), old_tree, "a new tree was published");
    assert_ne!(second, first, "the publish changed the watched file");
    assert_eq!(
        (second.0, second.1),
        (first.0, first.1),
        "changed in place: the inode systemd watches is the one that changes"
    );
    assert!(modified(&watched) >= modified(&manifest));
    // A directory that holds the output changes as the new tree is
    // written beside the old one, before it is in place: a watch there
    // would reload Squid too early (and more than once).
    assert!(
        !out.starts_with(&watched) && !watched.starts_with(&out),
        "{} is, or holds, the output directory {}",
        watched.display(),
        out.display()
    );
    assert!(
        !out.parent().unwrap().starts_with(&watched),
        "{} holds the directory the new tree is written in beside the old",
        watched.display()
    );
}

/// The units' command lines in order, on a machine laid out as they say:
/// the refresh service publishes a new list from the live source, the
/// reload service's lines (squid -k parse, then squid -k reconfigure,
/// each pointed at the test's squid.conf) run, and the running Squid
/// then allows a host the source added, which it denied before.
#[test]
fn the_units_in_order_carry_a_new_host_to_a_running_squid() {
    origin(ORIGIN, true);
    let port = free_port();
    let m = Machine::new(port);
    m.serve("learn-v1.md");
    m.refresh_ends(10);

    // The proxy includes the published squid.conf where it is, as
    // /etc/squid/conf.d/egressgen.conf would on the machine.
    let conf_d = m.at("/etc/squid/conf.d");
    std::fs::create_dir_all(&conf_d).unwrap();
    let published = m.out().join("squid.conf");
    std::fs::write(
        conf_d.join("egressgen.conf"),
        format!("include {}\n", published.display()),
    )
    .unwrap();
    // Squid runs as its own user: it must reach the published tree.
    let mut dir = m.out().parent().unwrap().to_path_buf();
    while dir.starts_with(m.root()) {
        chmod(&dir, 0o755);
        dir.pop();
    }
    let hosts: BTreeSet<String> = (1..=13).map(|i| format!("h{i:02}.example.com")).collect();
    // Logs and pid of the test Squid, written as its own user too.
    let squid_dir = m.at("/run/squid");
    std::fs::create_dir_all(&squid_dir).unwrap();
    chmod(&m.at("/run"), 0o755);
    let squid = start_squid(
        &squid_dir,
        &conf_d,
        port,
        &Wrapper {
            conf: "egressgen.conf",
            address: ORIGIN,
            hosts: &hosts,
            extra: "",
        },
    );
    let squid_conf = squid_dir.join("test-squid.conf");
    let allowed = |host: &str| {
        let (code, denied) = ask(port, &connect(host, 443));
        !denied && code == 200
    };
    assert!(allowed("h12.example.com"), "v1 lists h12");
    assert!(!allowed("h13.example.com"), "v1 does not list h13");

    // v2 at the source: h13 added, h12 gone. Published, but a running
    // Squid reads its lists when it loads its configuration, not before.
    m.serve("learn-v2.md");
    m.refresh_ends(10);
    let list = std::fs::read_to_string(m.out().join("squid-https.dstdomain")).unwrap();
    assert!(list.contains("h13.example.com") && !list.contains("h12.example.com"));
    assert!(!allowed("h13.example.com"), "denied until Squid reloads");

    let listened = listening(&squid.log);
    // egressgen-reload.service, line by line as systemd runs it: each
    // must succeed for the next to run.
    let reload = exec_lines(&contrib("egressgen-reload.service"));
    assert_eq!(reload.len(), 2, "check, then reload: {reload:?}");
    assert_eq!(reload[0], ["/usr/sbin/squid", "-k", "parse"]);
    for words in &reload {
        let run = Command::new(m.substitute(&words[0]))
            .args(&words[1..])
            .arg("-f")
            .arg(&squid_conf)
            .output()
            .unwrap();
        assert!(
            run.status.success(),
            "{words:?}: {}{}",
            String::from_utf8_lossy(&run.stdout),
            String::from_utf8_lossy(&run.stderr)
        );
    }
    // The reload is asynchronous: Squid reads the files after the signal,
    // and closes its port while it does. It says when it listens again.
    let start = Instant::now();
    while listening(&squid.log) < listened + 1 {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "Squid did not reload: {}",
            std::fs::read_to_string(&squid.log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        allowed("h13.example.com"),
        "h13 is allowed once Squid reloaded"
    );
    assert!(!allowed("h12.example.com"), "h12 is gone from the list");
}
