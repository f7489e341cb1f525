//! A refresh killed (SIGKILL) at every rename and every flush it makes,
//! in the cache and in the publish of two rulesets: every output
//! directory is afterwards its old tree or its new one, never a mix, the
//! cache still reads, and the next run completes the change.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::http::{Reply, Server};
use common::tools::require;

const PAGE: &str = "/docs/defender-endpoint/standard-device-connectivity-urls-commercial.md";

fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.path().is_file() {
                out.insert(
                    e.file_name().to_string_lossy().into_owned(),
                    std::fs::read(e.path()).unwrap(),
                );
            }
        }
    }
    out
}

fn copy_dir(from: &Path, to: &Path) {
    let _ = std::fs::remove_dir_all(to);
    let ok = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .unwrap()
        .success();
    assert!(ok);
}

/// The `.NAME.tmp-*` and `.NAME.old-*` directories beside each output.
fn leftovers(outs: &[PathBuf]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for out in outs {
        let leaf = out.file_name().unwrap().to_string_lossy().into_owned();
        let prefixes = [format!(".{leaf}.tmp-"), format!(".{leaf}.old-")];
        for e in std::fs::read_dir(out.parent().unwrap()).unwrap().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if prefixes.iter().any(|p| name.starts_with(p.as_str())) {
                found.push(e.path());
            }
        }
    }
    found.sort();
    found
}

struct Fleet {
    dir: PathBuf,
    args: Vec<String>,
    outs: Vec<PathBuf>,
}

impl Fleet {
    fn new(dir: &Path, server: &Server) -> Fleet {
        let mut args = vec!["refresh".to_string()];
        let mut outs = Vec::new();
        for name in ["north", "south"] {
            let r = dir.join(format!("{name}.toml"));
            std::fs::write(
                &r,
                format!("name = \"{name}\"\n[sources]\nfiles = [\"live:learn-standard-commercial\"]\n[scope]\ncloud = \"commercial\"\n[outputs.plain]\n[outputs.squid]\n"),
            )
            .unwrap();
            args.push(r.display().to_string());
            outs.push(dir.join("out").join(name));
        }
        args.extend(
            [
                "--out",
                &dir.join("out").display().to_string(),
                "--cache",
                &dir.join("cache").display().to_string(),
                "--no-proxy",
                "--docs-base",
                &server.url("/docs"),
                "--retries",
                "0",
            ]
            .map(String::from),
        );
        Fleet {
            dir: dir.to_path_buf(),
            args,
            outs,
        }
    }

    fn run(&self) -> std::process::Output {
        Command::new(env!("CARGO_BIN_EXE_egressgen"))
            .args(&self.args)
            .output()
            .unwrap()
    }

    fn trees(&self) -> Vec<BTreeMap<String, Vec<u8>>> {
        self.outs.iter().map(|o| tree(o)).collect()
    }

    /// Back to the state after the first refresh.
    fn restore(&self, saved: &Path) {
        copy_dir(&saved.join("out"), &self.dir.join("out"));
        copy_dir(&saved.join("cache"), &self.dir.join("cache"));
    }

    fn save(&self, saved: &Path) {
        std::fs::create_dir_all(saved).unwrap();
        copy_dir(&self.dir.join("out"), &saved.join("out"));
        copy_dir(&self.dir.join("cache"), &saved.join("cache"));
    }

    fn strace(&self, extra: &[&str]) -> std::process::Output {
        Command::new(require("strace", "strace"))
            .args(["-f", "-qq"])
            .args(extra)
            .arg(env!("CARGO_BIN_EXE_egressgen"))
            .args(&self.args)
            .output()
            .unwrap()
    }
}

fn page(name: &str) -> Reply {
    Reply::ok(&std::fs::read(common::fixture(&format!("refresh/{name}"))).unwrap())
}

#[test]
fn a_refresh_killed_at_any_rename_or_flush_leaves_every_output_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start();
    let fleet = Fleet::new(tmp.path(), &server);
    server.route(PAGE, vec![page("learn-v1.md")]);
    assert_eq!(fleet.run().status.code(), Some(10));
    let old = fleet.trees();
    let saved = tmp.path().join("saved");
    fleet.save(&saved);
    // The new trees, made once without interference.
    server.route(PAGE, vec![page("learn-v2.md")]);
    assert_eq!(fleet.run().status.code(), Some(10));
    let new = fleet.trees();
    assert!(old.iter().zip(&new).all(|(o, n)| o != n));

    let mut runs = 0;
    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    for syscall in [
        "fsync",
        "fdatasync",
        "syncfs",
        "rename",
        "renameat",
        "renameat2",
    ] {
        fleet.restore(&saved);
        let log = tmp.path().join("count.log");
        let counted = fleet.strace(&[
            "-o",
            log.to_str().unwrap(),
            "-e",
            &format!("trace={syscall}"),
        ]);
        assert_eq!(counted.status.code(), Some(10));
        let calls = std::fs::read_to_string(&log)
            .unwrap()
            .lines()
            .filter(|l| l.contains(&format!("{syscall}(")))
            .count();
        for when in 1..=calls {
            fleet.restore(&saved);
            let killed = fleet.strace(&[
                "-o",
                "/dev/null",
                "-e",
                &format!("inject={syscall}:signal=KILL:when={when}"),
            ]);
            runs += 1;
            let after = fleet.trees();
            let mut states = Vec::new();
            for (i, t) in after.iter().enumerate() {
                let state = if *t == old[i] {
                    "old"
                } else if *t == new[i] {
                    "new"
                } else {
                    panic!(
                        "{syscall} #{when}: {} is neither tree: {:?}\n{}",
                        fleet.outs[i].display(),
                        t.keys().collect::<Vec<_>>(),
                        String::from_utf8_lossy(&killed.stderr)
                    );
                };
                states.push(state);
            }
            *outcomes.entry(states.join("+")).or_default() += 1;
            // The next run reads the cache it left and completes the change,
            // and removes the trees the killed run left (saying so), also
            // when there is nothing left to publish.
            let before = leftovers(&fleet.outs);
            let next = fleet.run();
            let stderr = String::from_utf8_lossy(&next.stderr);
            assert!(
                matches!(next.status.code(), Some(0 | 10)),
                "{syscall} #{when}: {stderr}"
            );
            assert_eq!(fleet.trees(), new, "{syscall} #{when}: after the next run");
            let after = leftovers(&fleet.outs);
            for gone in before.iter().filter(|p| !after.contains(p)) {
                assert!(
                    stderr.contains(&format!("removed {}", gone.display())),
                    "{syscall} #{when}: {} removed silently: {stderr}",
                    gone.display()
                );
            }
            for kept in &after {
                let ours = kept.join(".egressgen-manifest.json").exists()
                    || std::fs::read_dir(kept).is_ok_and(|mut d| d.next().is_none());
                assert!(!ours, "{syscall} #{when}: {} left in place", kept.display());
            }
            if !before.is_empty() {
                *outcomes.entry("leftovers cleaned".into()).or_default() += 1;
            }
        }
    }
    // And at 24 moments spread over a whole run (fetch, vetting, cache
    // writes, rendering, staging, swapping), by the clock.
    fleet.restore(&saved);
    let started = std::time::Instant::now();
    assert_eq!(fleet.run().status.code(), Some(10));
    let whole = started.elapsed();
    for k in 0..24u32 {
        fleet.restore(&saved);
        let mut child = Command::new(env!("CARGO_BIN_EXE_egressgen"))
            .args(&fleet.args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(whole * k / 24);
        let _ = child.kill();
        let _ = child.wait();
        runs += 1;
        let after = fleet.trees();
        let mut states = Vec::new();
        for (i, t) in after.iter().enumerate() {
            assert!(
                *t == old[i] || *t == new[i],
                "kill at {k}/24 of {whole:?}: {} is neither tree",
                fleet.outs[i].display()
            );
            states.push(if *t == old[i] { "old" } else { "new" });
        }
        *outcomes.entry(states.join("+")).or_default() += 1;
        let next = fleet.run();
        assert!(matches!(next.status.code(), Some(0 | 10)));
        assert_eq!(fleet.trees(), new, "kill at {k}/24: after the next run");
    }
    assert!(runs >= 20, "only {runs} kill points");
    assert!(outcomes.contains_key("old+old"), "{outcomes:?}");
    assert!(outcomes.contains_key("new+new"), "{outcomes:?}");
    eprintln!("{runs} kills: {outcomes:?}");
}
