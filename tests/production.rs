//! The README's "Running it in production", run line by line on loopback:
//! the production example ruleset with its `live:` sources, a first
//! refresh against a local server standing in for Microsoft, the outputs
//! included from Debian's own squid.conf (read from the installed
//! package) by a live Squid, `explain`, `audit` and `verify` on the same
//! ruleset and cache; then a change at the server, the units' command
//! lines (refresh, then the reload service), and Squid serving the new
//! list.
//!
//! What cannot run in a test is moved, never skipped silently: the
//! machine's paths (/etc/egressgen, /var/lib/egressgen,
//! /var/cache/egressgen, /etc/squid) live under a temporary root; `sudo`
//! and `sudo -u egressgen` run as the test's user (so `useradd` is not
//! run and `install -o` keeps the owner); `squid` is the test's Squid
//! (`-f` its wrapper); refresh is pointed at the local server; verify runs
//! `--admission-only`, since the lab has no internet; and `systemctl
//! enable` stands for the units, whose own command lines the test runs
//! when the list changes.

mod common;

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::http::{Reply, Server};
use common::squid::{SquidProcess, Wrapper, chmod, connect, free_port, start_squid, try_ask_at};
use common::units::exec_lines;

const PAGE: &str = "/docs/defender-endpoint/standard-device-connectivity-urls-commercial.md";
/// The devices' address: for Squid not `localhost`, so the stock
/// `http_access allow localhost` does not let them through.
const CLIENT: &str = "127.0.0.5";
/// Where the origins would be: nothing listens, Squid's connects fail.
const NOWHERE: &str = "127.0.0.9";
/// A gateway the second version of the Learn page adds.
const NEW_HOST: &str = "winatp-gw-egressgen.microsoft.com";
/// The machine's paths the section names, moved under the test's root.
const MOVED: [&str; 4] = [
    "/etc/egressgen",
    "/var/lib/egressgen",
    "/var/cache/egressgen",
    "/etc/squid",
];

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The command lines of the README's production section, in order.
fn readme_lines() -> Vec<String> {
    let readme = std::fs::read_to_string(repo().join("docs/production.md")).unwrap();
    let start = readme
        .find("<!-- production: run by tests/production.rs")
        .expect("the README's production section");
    let block = readme[start..].split("```sh\n").nth(1).unwrap();
    let block = block.split("```").next().unwrap();
    block
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

struct Site {
    tmp: tempfile::TempDir,
    server: Server,
    port: u16,
}

impl Site {
    fn at(&self, path: &str) -> PathBuf {
        self.tmp.path().join(path.trim_start_matches('/'))
    }

    fn wrapper(&self) -> PathBuf {
        self.at("/squid-run/test-squid.conf")
    }

    /// Serves Microsoft's real Learn page (with one more gateway row when
    /// `v2`) and the real service-tag file.
    fn serve(&self, v2: bool) {
        let mut page = std::fs::read_to_string(common::data(
            "mde/standard-device-connectivity-urls-commercial.learn.md",
        ))
        .unwrap();
        if v2 {
            // The row of a known gateway, once more with a new name.
            page = page
                .lines()
                .flat_map(|l| {
                    let mut rows = vec![format!("{l}\n")];
                    if l.contains("`winatp-gw-weu.microsoft.com`") {
                        rows.push(format!(
                            "{}\n",
                            l.replace("winatp-gw-weu.microsoft.com", NEW_HOST)
                        ));
                    }
                    rows
                })
                .collect();
            assert!(page.contains(NEW_HOST));
        }
        self.server.route(PAGE, vec![Reply::ok(page.as_bytes())]);
        let tags =
            std::fs::read(common::data("servicetags/ServiceTags_Public_20251013.json")).unwrap();
        self.server
            .route(&common::tags_path(), vec![Reply::ok(&tags)]);
    }

    /// Flags that point refresh at the local server instead of Microsoft.
    fn local_bases(&self) -> String {
        format!(
            " --no-proxy --timeout 5 --retries 0 --docs-base {} --download-base {} --download-pages-base {}",
            self.server.url("/docs"),
            self.server.base,
            self.server.url("/pages")
        )
    }

    /// One line of the section as it runs here (see the module's words).
    fn map(&self, line: &str) -> Option<String> {
        if line.starts_with("sudo useradd ") {
            return None;
        }
        if line.starts_with("sudo systemctl enable --now ") {
            for unit in line.split_whitespace().skip(4) {
                assert!(repo().join("contrib").join(unit).is_file(), "{unit}");
            }
            return None;
        }
        let mut l = line
            .replace("sudo -u egressgen ", "")
            .replace("sudo ", "")
            .replace("install -d -o egressgen ", "install -d ")
            .replace(
                "rulesets/production.toml",
                &repo()
                    .join("rulesets/production.toml")
                    .display()
                    .to_string(),
            );
        for dir in MOVED {
            l = l.replace(dir, &self.at(dir).display().to_string());
        }
        let bin = env!("CARGO_BIN_EXE_egressgen");
        if let Some(rest) = l.strip_prefix("egressgen ") {
            l = format!("{bin} {rest}");
        }
        l = l.replace(
            "squid -k ",
            &format!("squid -f {} -k ", self.wrapper().display()),
        );
        if l.contains(" refresh ") {
            l.push_str(&self.local_bases());
        }
        if l.contains(" verify ") {
            l.push_str(" --admission-only --timeout 8 --deadline 120 --format json");
        }
        Some(l)
    }

    /// The site's edits to the installed example: the proxy is this
    /// test's Squid, the devices are at CLIENT.
    fn edit_ruleset(&self) {
        let path = self.at("/etc/egressgen/site.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        let port = self.port;
        let edited = text
            .replace("proxy.contoso.com:3128", &format!("{CLIENT}:{port}"))
            .replace(
                "listen = 3128",
                &format!("listen = {port}\nclients = [\"{CLIENT}/32\"]"),
            )
            .replace(
                "/var/lib/egressgen",
                &self.at("/var/lib/egressgen").display().to_string(),
            );
        assert_ne!(text, edited);
        std::fs::write(&path, edited).unwrap();
    }

    /// Debian's squid.conf, as installed by the package, with its paths
    /// moved under the root and its port this test's.
    fn install_stock_squid(&self) {
        let stock = std::fs::read_to_string("/etc/squid/squid.conf")
            .expect("the squid package's squid.conf");
        assert!(stock.contains("\ninclude /etc/squid/conf.d/*.conf\n"));
        assert!(stock.contains("\nhttp_port 3128\n"));
        let conf = stock
            .replace(
                "/etc/squid/",
                &format!("{}/", self.at("/etc/squid").display()),
            )
            .replace(
                "\nhttp_port 3128\n",
                &format!("\nhttp_port {}\n", self.port),
            );
        let dir = self.at("/etc/squid/conf.d");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(self.at("/etc/squid/squid.conf"), conf).unwrap();
        for e in std::fs::read_dir("/etc/squid/conf.d").unwrap().flatten() {
            std::fs::copy(e.path(), dir.join(e.file_name())).unwrap();
        }
    }

    /// The Squid already running on the proxy: Debian's configuration,
    /// before egressgen is included.
    fn start_squid(&self, hosts: &std::collections::BTreeSet<String>) -> SquidProcess {
        let run = self.wrapper().parent().unwrap().to_path_buf();
        std::fs::create_dir_all(&run).unwrap();
        let mut d = run.as_path();
        while d.starts_with(self.tmp.path()) {
            chmod(d, 0o755);
            d = d.parent().unwrap();
        }
        start_squid(
            &run,
            &self.at("/etc/squid"),
            self.port,
            &Wrapper {
                conf: "squid.conf",
                address: NOWHERE,
                hosts,
                extra: "dns_timeout 2 seconds\nconnect_timeout 2 seconds\n",
            },
        )
    }
}

fn sh(line: &str) -> Output {
    Command::new("sh")
        .arg("-c")
        .arg(line)
        .current_dir(repo())
        .env_remove("EGRESSGEN_CACHE")
        .output()
        .unwrap()
}

fn said(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
}

/// Whether Squid refuses a device's tunnel to `host` by its ACLs, once it
/// has settled on an answer (a reconfigure takes a moment).
fn refused(port: u16, host: &str, want: bool) -> bool {
    let start = Instant::now();
    loop {
        // While it reconfigures, Squid stops listening for a moment.
        if let Ok((_, denied)) = try_ask_at(CLIENT, port, &connect(host, 443)) {
            if denied == want || start.elapsed() > Duration::from_secs(15) {
                return denied;
            }
        } else {
            assert!(
                start.elapsed() < Duration::from_secs(15),
                "squid stopped listening"
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn the_production_section_runs_as_written_and_a_change_reaches_squid() {
    let site = Site {
        tmp: tempfile::tempdir().unwrap(),
        server: Server::start(),
        port: free_port(),
    };
    site.serve(false);
    site.install_stock_squid();
    let mut hosts: std::collections::BTreeSet<String> =
        ["winatp-gw-weu.microsoft.com", NEW_HOST, "example.com"]
            .iter()
            .map(|h| h.to_string())
            .collect();
    hosts.insert("egressgen-probe.microsoft.com".into());
    let squid = site.start_squid(&hosts);
    // Before egressgen: Debian's Squid refuses the devices.
    assert!(refused(site.port, "winatp-gw-weu.microsoft.com", true));

    let cache = site.at("/var/cache/egressgen");
    let mut ran = Vec::new();
    for line in readme_lines() {
        let Some(mapped) = site.map(&line) else {
            continue;
        };
        let out = sh(&mapped);
        // The first refresh publishes (10); every other line succeeds.
        let want = if line.contains("egressgen refresh ") {
            10
        } else {
            0
        };
        assert_eq!(
            out.status.code(),
            Some(want),
            "{line}\n{mapped}\n{}",
            said(&out)
        );
        if line.contains("egressgen verify ") {
            let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            assert!(
                !report["summary"].as_array().unwrap().is_empty(),
                "{report}"
            );
        }
        if line.contains("install -D -m 0644 rulesets/production.toml") {
            site.edit_ruleset();
        }
        if line.starts_with("egressgen ") {
            // Every command says which copy of the live source it used.
            assert!(
                said(&out).contains(&format!(
                    "live:learn-standard-commercial: the last good copy in the cache {}",
                    cache.display()
                )),
                "{line}\n{}",
                said(&out)
            );
        }
        ran.push(line);
    }
    // All but `useradd` and `systemctl enable` (see the module's words).
    assert_eq!(ran.len() + 2, readme_lines().len(), "{ran:#?}");
    // Squid serves the published list to the devices, not the new host.
    assert!(!refused(site.port, "winatp-gw-weu.microsoft.com", false));
    assert!(refused(site.port, NEW_HOST, true));

    // Microsoft adds a gateway. The timer runs the refresh unit's line,
    // whose post-change the path unit sees; the reload unit's lines run.
    site.serve(true);
    let unit = |name: &str| std::fs::read_to_string(repo().join("contrib").join(name)).unwrap();
    let words_to_line = |words: Vec<String>| -> String {
        words
            .iter()
            .map(|w| format!("'{}'", w.replace('\'', "'\\''")))
            .collect::<Vec<_>>()
            .join(" ")
    };
    for words in exec_lines(&unit("egressgen-refresh.service")) {
        let words: Vec<String> = words
            .into_iter()
            .map(|w| {
                let mut w = w.replace("/usr/bin/egressgen", env!("CARGO_BIN_EXE_egressgen"));
                for dir in MOVED {
                    w = w.replace(dir, &site.at(dir).display().to_string());
                }
                w
            })
            .collect();
        let line = format!(
            "{} --cache {}{}",
            words_to_line(words),
            cache.display(),
            site.local_bases()
        );
        let out = sh(&line);
        assert_eq!(out.status.code(), Some(10), "{line}\n{}", said(&out));
    }
    assert!(
        site.at("/var/lib/egressgen/published").exists(),
        "the post-change ran"
    );
    for words in exec_lines(&unit("egressgen-reload.service")) {
        let mut words = words;
        assert!(words[0].ends_with("/squid"), "{words:?}");
        words.splice(
            1..1,
            ["-f".to_string(), site.wrapper().display().to_string()],
        );
        let out = sh(&words_to_line(words));
        assert!(out.status.success(), "{}", said(&out));
    }
    assert!(
        !refused(site.port, NEW_HOST, false),
        "the new list is served"
    );
    assert!(!refused(site.port, "winatp-gw-weu.microsoft.com", false));

    // explain reads the new copy from the cache.
    let explained = sh(&format!(
        "{} explain {NEW_HOST} --ruleset {} --cache {}",
        env!("CARGO_BIN_EXE_egressgen"),
        site.at("/etc/egressgen/site.toml").display(),
        cache.display()
    ));
    assert_eq!(explained.status.code(), Some(0), "{}", said(&explained));
    drop(squid);
}

#[test]
fn the_production_example_is_the_one_the_section_installs() {
    let text = std::fs::read_to_string(repo().join("rulesets/production.toml")).unwrap();
    assert!(text.contains("\"live:learn-standard-commercial\""));
    let lines = readme_lines();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("rulesets/production.toml /etc/egressgen/site.toml"))
    );
    // The directory the section includes in Squid is the example's.
    let published = "/var/lib/egressgen/out/site";
    assert!(text.contains(&format!("dir = \"{published}\"")));
    assert!(text.contains(&format!("install_dir = \"{published}\"")));
    assert!(
        lines
            .iter()
            .any(|l| l.contains(&format!("include {published}/")))
    );
}
