//! Publishing never destroys what it does not own: real directories, real
//! permissions, concurrent runs, and a SIGKILL injected by strace at every
//! rename and flush (fsync, syncfs) of a publish.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::tools::require;
use egressgen::publish::MANIFEST;

use common::egressgen;

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

/// A small ruleset (one output) in `dir`; `extra` goes at the end.
fn ruleset(dir: &Path, name: &str, extra: &str) -> PathBuf {
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(
        &path,
        format!(
            "name = \"{name}\"\n[scope]\ncloud = \"commercial\"\nproducts = [\"mdi\"]\n\
             [site]\nmdi_instances = [\"contoso\"]\n[outputs.plain]\n{extra}"
        ),
    )
    .unwrap();
    path
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Every file of a directory and its bytes (the manifest included).
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

/// Names in `dir` that start with `.NAME.` (our temporary and old trees,
/// and the lock file).
fn leftovers(parent: &Path, leaf: &str) -> Vec<String> {
    let prefix = format!(".{leaf}.");
    let mut names: Vec<String> = std::fs::read_dir(parent)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&prefix) && !n.ends_with(".lock"))
        .collect();
    names.sort();
    names
}

#[test]
fn a_directory_we_did_not_write_is_refused_then_taken_over_only_with_force() {
    let tmp = tempfile::tempdir().unwrap();
    let r = ruleset(tmp.path(), "site", "");
    let mine = tmp.path().join("mine");
    std::fs::create_dir(&mine).unwrap();
    std::fs::write(mine.join("notes.txt"), "my own notes").unwrap();
    let out = egressgen(&["generate", s(&r), "--out", s(&mine)]);
    assert_eq!(out.status.code(), Some(5), "{}", text(&out));
    assert!(
        text(&out).contains("egressgen did not write"),
        "{}",
        text(&out)
    );
    assert!(text(&out).contains("notes.txt") && text(&out).contains("--force"));
    assert_eq!(
        tree(&mine).len(),
        1,
        "nothing written beside the user's file"
    );
    assert_eq!(
        std::fs::read(mine.join("notes.txt")).unwrap(),
        b"my own notes"
    );

    let out = egressgen(&["generate", s(&r), "--out", s(&mine), "--force"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("--force: removed files egressgen did not write: notes.txt"));
    assert!(mine.join(MANIFEST).is_file() && !mine.join("notes.txt").exists());

    // Ours now: a second run replaces it without --force; an edited file
    // makes it foreign again.
    assert!(
        egressgen(&["generate", s(&r), "--out", s(&mine)])
            .status
            .success()
    );
    std::fs::write(mine.join("allowlist-443.txt"), "edited by hand\n").unwrap();
    let out = egressgen(&["generate", s(&r), "--out", s(&mine)]);
    assert_eq!(out.status.code(), Some(5), "{}", text(&out));
    assert!(text(&out).contains("allowlist-443.txt"), "{}", text(&out));
    assert_eq!(
        std::fs::read(mine.join("allowlist-443.txt")).unwrap(),
        b"edited by hand\n"
    );
    // An empty directory is taken over.
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    assert!(
        egressgen(&["generate", s(&r), "--out", s(&empty)])
            .status
            .success()
    );
}

#[test]
fn outputs_never_land_over_their_own_ruleset_or_sources() {
    let tmp = tempfile::tempdir().unwrap();
    let proj = tmp.path().join("proj");
    let rules = proj.join("rules");
    std::fs::create_dir_all(&rules).unwrap();
    let before_proj = std::fs::read_dir(&proj).unwrap().count();
    // --out at the ruleset's own folder.
    let r = ruleset(&rules, "site", "");
    let ruleset_bytes = std::fs::read(&r).unwrap();
    let out = egressgen(&["generate", s(&r), "--out", s(&rules)]);
    assert_eq!(out.status.code(), Some(5), "{}", text(&out));
    assert!(
        text(&out).contains("an input of this run"),
        "{}",
        text(&out)
    );
    assert_eq!(std::fs::read(&r).unwrap(), ruleset_bytes);
    // A target whose path runs through itself: dir = "../../proj".
    let r = ruleset(&rules, "through", "[outputs]\ndir = \"../../proj\"\n");
    let r = {
        // [outputs] must come before [outputs.plain] in TOML: rewrite.
        let body = std::fs::read_to_string(&r).unwrap().replace(
            "[outputs.plain]\n[outputs]\ndir = \"../../proj\"\n",
            "[outputs]\ndir = \"../../proj\"\n[outputs.plain]\n",
        );
        std::fs::write(&r, body).unwrap();
        r
    };
    let out = egressgen(&["generate", s(&r)]);
    assert_eq!(out.status.code(), Some(5), "{}", text(&out));
    assert!(
        text(&out).contains("an input of this run"),
        "{}",
        text(&out)
    );
    assert!(proj.is_dir() && rules.join("site.toml").is_file());
    assert_eq!(std::fs::read_dir(&proj).unwrap().count(), before_proj);
    // A source file inside the target.
    let src = tmp.path().join("srcdir");
    std::fs::create_dir(&src).unwrap();
    std::fs::copy(
        common::data("servicetags/ServiceTags_Public_20251013.json"),
        src.join("tags.json"),
    )
    .unwrap();
    let r = ruleset(&src, "withsrc", "");
    let body = std::fs::read_to_string(&r).unwrap().replace(
        "[scope]",
        "[sources]\nfiles = [\"baseline\", \"tags.json\"]\n[scope]",
    );
    std::fs::write(&r, body).unwrap();
    let out = egressgen(&["generate", s(&r), "--out", s(&src)]);
    assert_eq!(out.status.code(), Some(5), "{}", text(&out));
    assert!(src.join("tags.json").is_file());
}

#[test]
fn two_rulesets_of_one_run_never_write_the_same_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a");
    let b = tmp.path().join("b");
    std::fs::create_dir_all(&a).unwrap();
    std::fs::create_dir_all(&b).unwrap();
    let ra = ruleset(&a, "same", "");
    let rb = ruleset(&b, "same", "[[allow]]\nurl = \"other.example.com\"\n");
    let rb = {
        let body = std::fs::read_to_string(&rb).unwrap().replace(
            "[outputs.plain]\n[[allow]]\nurl = \"other.example.com\"\n",
            "[[allow]]\nurl = \"other.example.com\"\n[outputs.plain]\n",
        );
        std::fs::write(&rb, body).unwrap();
        rb
    };
    let out_dir = tmp.path().join("out");
    let out = egressgen(&["generate", s(&ra), s(&rb), "--out", s(&out_dir)]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("already wrote in this run"),
        "{}",
        text(&out)
    );
    let first = std::fs::read_to_string(out_dir.join("same/allowlist-443.txt")).unwrap();
    assert!(
        !first.contains("other.example.com"),
        "the first ruleset's output survives"
    );
}

#[test]
fn leftovers_of_crashed_runs_are_cleaned_and_foreign_ones_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let r = ruleset(tmp.path(), "site", "");
    let out_dir = tmp.path().join("out");
    assert!(
        egressgen(&["generate", s(&r), "--out", s(&out_dir)])
            .status
            .success()
    );
    // A crashed run's tree (ours: it has the manifest), an empty one, and
    // a directory that only looks like ours.
    let ours = tmp.path().join(".out.tmp-99999-0");
    std::fs::create_dir(&ours).unwrap();
    std::fs::copy(out_dir.join(MANIFEST), ours.join(MANIFEST)).unwrap();
    std::fs::write(ours.join("allowlist-443.txt"), "x").unwrap();
    std::fs::create_dir(tmp.path().join(".out.old-99999-0")).unwrap();
    let foreign = tmp.path().join(".out.tmp-lookalike");
    std::fs::create_dir(&foreign).unwrap();
    std::fs::write(foreign.join("keep.txt"), "not ours").unwrap();
    let out = egressgen(&["generate", s(&r), "--out", s(&out_dir)]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("left by an earlier run that did not finish"));
    assert_eq!(leftovers(tmp.path(), "out"), [".out.tmp-lookalike"]);
    assert!(foreign.join("keep.txt").is_file());
}

#[test]
fn baseline_out_failure_leaves_no_temporary_file() {
    let tmp = tempfile::tempdir().unwrap();
    let target = tmp.path().join("existing-dir");
    std::fs::create_dir(&target).unwrap();
    let out = egressgen(&[
        "baseline",
        "--data-dir",
        s(&common::shared_data()),
        "--out",
        s(&target),
    ]);
    assert!(!out.status.success(), "{}", text(&out));
    let names: Vec<String> = std::fs::read_dir(tmp.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["existing-dir"], "{}", text(&out));
}

/// Runs `generate` as the unprivileged user `nobody` (root ignores
/// permission bits, so the read-only case needs another user).
fn as_nobody(args: &[&str]) -> Output {
    Command::new(require("setpriv", "util-linux"))
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_egressgen"))
        .args(args)
        .output()
        .expect("setpriv")
}

fn chown_nobody(path: &Path) {
    let status = Command::new("chown")
        .args(["-R", "65534:65534"])
        .arg(path)
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn a_read_only_old_tree_is_reported_exactly_and_cleaned_next_time() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let r = ruleset(&work, "site", "");
    let out_dir = work.join("out");
    chown_nobody(tmp.path());
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let first = as_nobody(&["generate", s(&r), "--out", s(&out_dir)]);
    assert!(first.status.success(), "{}", text(&first));
    let old = tree(&out_dir);
    std::fs::set_permissions(&out_dir, std::fs::Permissions::from_mode(0o555)).unwrap();
    std::fs::write(
        &r,
        std::fs::read_to_string(&r)
            .unwrap()
            .replace("contoso", "fabrikam"),
    )
    .unwrap();
    let out = as_nobody(&["generate", s(&r), "--out", s(&out_dir)]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out)
            .contains("the new output is in place, but the previous one could not be removed"),
        "{}",
        text(&out)
    );
    let new = tree(&out_dir);
    assert_ne!(new, old);
    assert!(String::from_utf8_lossy(&new["allowlist-443.txt"]).contains("fabrikam"));
    let left = leftovers(&work, "out");
    assert_eq!(left.len(), 1, "{left:?}");
    // Make it removable again: the next run cleans it.
    std::fs::set_permissions(work.join(&left[0]), std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = as_nobody(&["generate", s(&r), "--out", s(&out_dir)]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(leftovers(&work, "out").is_empty());
}

#[test]
fn concurrent_runs_on_one_target_take_turns() {
    let tmp = tempfile::tempdir().unwrap();
    let r = ruleset(tmp.path(), "site", "");
    let out_dir = tmp.path().join("out");
    let children: Vec<_> = (0..4)
        .map(|_| {
            Command::new(env!("CARGO_BIN_EXE_egressgen"))
                .args(["generate", s(&r), "--out", s(&out_dir)])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(leftovers(tmp.path(), "out").is_empty());
    assert!(out_dir.join(MANIFEST).is_file());
}

/// How many times a run makes `syscall`.
fn count_calls(syscall: &str, args: &[&str]) -> usize {
    let log = tempfile::NamedTempFile::new().unwrap();
    let out = Command::new(require("strace", "strace"))
        .args(["-f", "-qq", "-e"])
        .arg(format!("trace={syscall}"))
        .arg("-o")
        .arg(log.path())
        .arg(env!("CARGO_BIN_EXE_egressgen"))
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    std::fs::read_to_string(log.path())
        .unwrap()
        .lines()
        .filter(|l| l.contains(&format!("{syscall}(")))
        .count()
}

#[test]
fn a_kill_at_any_rename_or_flush_leaves_the_old_tree_or_the_new_one() {
    let tmp = tempfile::tempdir().unwrap();
    let r = ruleset(tmp.path(), "site", "");
    let out_dir = tmp.path().join("out");
    let gen_args = ["generate", s(&r), "--out", s(&out_dir)];
    assert!(egressgen(&gen_args).status.success());
    let old = tree(&out_dir);
    let old_text = std::fs::read_to_string(&r).unwrap();
    let new_text = old_text.replace("contoso", "fabrikam");
    // The new tree, made once without interference.
    std::fs::write(&r, &new_text).unwrap();
    assert!(egressgen(&gen_args).status.success());
    let new = tree(&out_dir);
    assert_ne!(old, new);

    let mut outcomes = BTreeMap::new();
    for syscall in ["fsync", "syncfs", "rename", "renameat", "renameat2"] {
        // Counted on a run that replaces an existing tree.
        let calls = count_calls(syscall, &gen_args);
        for when in 1..=calls {
            // Back to the old tree, by a normal run of the old ruleset.
            std::fs::write(&r, &old_text).unwrap();
            assert!(egressgen(&gen_args).status.success());
            assert_eq!(tree(&out_dir), old);
            std::fs::write(&r, &new_text).unwrap();
            let killed = Command::new(require("strace", "strace"))
                .args(["-f", "-qq", "-o", "/dev/null", "-e"])
                .arg(format!("inject={syscall}:signal=KILL:when={when}"))
                .arg(env!("CARGO_BIN_EXE_egressgen"))
                .args(gen_args)
                .output()
                .unwrap();
            let after = tree(&out_dir);
            let state = if after == old {
                "old"
            } else if after == new {
                "new"
            } else {
                panic!(
                    "{syscall} #{when}: the target is neither tree: {:?}\n{}",
                    after.keys().collect::<Vec<_>>(),
                    text(&killed)
                );
            };
            *outcomes.entry(state).or_insert(0) += 1;
        }
    }
    // Kills happened before and after the swap.
    assert!(
        outcomes.get("old").copied().unwrap_or(0) > 0,
        "{outcomes:?}"
    );
    assert!(
        outcomes.get("new").copied().unwrap_or(0) > 0,
        "{outcomes:?}"
    );

    // A first publish: the target is absent or complete.
    let fresh = tmp.path().join("fresh");
    let fresh_args = ["generate", s(&r), "--out", s(&fresh)];
    let mut first = 0;
    for syscall in ["fsync", "syncfs", "rename", "renameat", "renameat2"] {
        let calls = count_calls(syscall, &fresh_args);
        let _ = std::fs::remove_dir_all(&fresh);
        for when in 1..=calls {
            first += 1;
            let _ = Command::new(require("strace", "strace"))
                .args(["-f", "-qq", "-o", "/dev/null", "-e"])
                .arg(format!("inject={syscall}:signal=KILL:when={when}"))
                .arg(env!("CARGO_BIN_EXE_egressgen"))
                .args(fresh_args)
                .output()
                .unwrap();
            if fresh.exists() {
                assert_eq!(tree(&fresh), new, "{syscall} #{when}");
                std::fs::remove_dir_all(&fresh).unwrap();
            }
        }
    }
    // The flush of the new tree, the rename, the flush of the rename.
    assert_eq!(first, 3, "kill points on a first publish");
    // And a normal run cleans up whatever the kills left.
    assert!(egressgen(&gen_args).status.success());
    assert!(leftovers(tmp.path(), "out").is_empty());
}

/// Durability without one flush per file: a run of several rulesets makes
/// one `syncfs` before its first swap (every new tree is on disk before any
/// target changes) and one after its last, and no `fsync` at all.
#[test]
fn a_fleet_is_flushed_once_before_and_once_after_its_swaps() {
    let tmp = tempfile::tempdir().unwrap();
    let rulesets: Vec<PathBuf> = (1..=5)
        .map(|i| ruleset(tmp.path(), &format!("site{i}"), ""))
        .collect();
    let out_dir = tmp.path().join("out");
    let mut args = vec!["generate".to_string()];
    args.extend(rulesets.iter().map(|r| s(r).to_string()));
    args.extend(["--out".to_string(), s(&out_dir).to_string()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    // Twice: a first publish (renames) and a replacement (exchanges).
    for _ in 0..2 {
        let log = tempfile::NamedTempFile::new().unwrap();
        let out = Command::new(require("strace", "strace"))
            .args([
                "-f",
                "-qq",
                "-e",
                "trace=fsync,fdatasync,syncfs,sync,rename,renameat,renameat2",
            ])
            .arg("-o")
            .arg(log.path())
            .arg(env!("CARGO_BIN_EXE_egressgen"))
            .args(&args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out));
        let calls: Vec<String> = std::fs::read_to_string(log.path())
            .unwrap()
            .lines()
            .filter_map(|l| {
                l.split_once('(')
                    .map(|(name, _)| name.rsplit(' ').next().unwrap_or("").to_string())
            })
            .collect();
        let flushes: Vec<usize> = calls
            .iter()
            .enumerate()
            .filter(|(_, c)| *c == "syncfs")
            .map(|(i, _)| i)
            .collect();
        let swaps: Vec<usize> = calls
            .iter()
            .enumerate()
            .filter(|(_, c)| c.starts_with("rename"))
            .map(|(i, _)| i)
            .collect();
        assert_eq!(flushes.len(), 2, "{calls:?}");
        assert_eq!(swaps.len(), 5, "{calls:?}");
        assert!(flushes[0] < swaps[0] && swaps[4] < flushes[1], "{calls:?}");
        assert!(
            !calls.iter().any(|c| c.contains("fsync") || c == "sync"),
            "{calls:?}"
        );
        for i in 1..=5 {
            assert!(out_dir.join(format!("site{i}")).join(MANIFEST).is_file());
        }
    }
}

/// A batch can take a while between the check of a target and its swap:
/// a file dropped into the target meanwhile is refused at commit, and the
/// target keeps it and its old tree.
#[test]
fn a_file_added_to_the_target_after_staging_is_not_swapped_away() {
    use egressgen::publish::{Request, commit, publish, stage};
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("out");
    let req = Request {
        ruleset: "site".into(),
        ruleset_file: tmp.path().join("site.toml"),
        inputs: Vec::new(),
        force: false,
    };
    let first = vec![("a.txt".to_string(), b"one\n".to_vec())];
    publish(&out_dir, &first, &req).unwrap();
    let before = tree(&out_dir);
    let second = vec![("a.txt".to_string(), b"two\n".to_vec())];
    let staged = stage(&out_dir, &second, &req).unwrap();
    std::fs::write(out_dir.join("local.conf"), b"mine\n").unwrap();
    let result = commit(vec![staged]).pop().unwrap();
    let err = result.unwrap_err().to_string();
    assert!(err.contains("local.conf"), "{err}");
    let mut expected = before;
    expected.insert("local.conf".into(), b"mine\n".to_vec());
    assert_eq!(tree(&out_dir), expected);
    assert!(
        leftovers(tmp.path(), "out").is_empty(),
        "the staged tree is removed"
    );
}

/// Two rulesets naming one directory in two spellings are one target.
#[test]
fn one_directory_spelt_two_ways_is_refused_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    for d in ["a", "b"] {
        std::fs::create_dir(tmp.path().join(d)).unwrap();
    }
    let ra = ruleset(&tmp.path().join("a"), "one", "");
    let rb = ruleset(&tmp.path().join("b"), "two", "");
    for (r, name) in [(&ra, "one"), (&rb, "two")] {
        let text = std::fs::read_to_string(r).unwrap();
        let text = text.replace(
            &format!("name = \"{name}\"\n"),
            &format!("name = \"{name}\"\n[outputs]\ndir = \"../shared\"\n"),
        );
        std::fs::write(r, text).unwrap();
    }
    let out = egressgen(&["generate", s(&ra), s(&rb)]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    // Refused by the check, not after a wait for its own lock.
    assert!(
        text(&out).contains("already wrote in this run"),
        "{}",
        text(&out)
    );
    assert!(tmp.path().join("shared").join(MANIFEST).is_file());
}

/// `commit_all` (refresh's publish): every target is checked before the
/// first swap, and a swap that fails takes back those already made, so a
/// fleet ends all new or all as it was.
#[test]
fn a_batch_goes_in_whole_or_not_at_all() {
    use egressgen::publish::{Request, commit_all, publish, stage};
    let tmp = tempfile::tempdir().unwrap();
    let req = |name: &str| Request {
        ruleset: name.into(),
        ruleset_file: tmp.path().join(format!("{name}.toml")),
        inputs: Vec::new(),
        force: false,
    };
    let dirs: Vec<PathBuf> = ["one", "two", "three"]
        .iter()
        .map(|n| tmp.path().join(n))
        .collect();
    let old = vec![("a.txt".to_string(), b"old\n".to_vec())];
    let new = vec![("a.txt".to_string(), b"new\n".to_vec())];
    // "three" has never been published: a fresh target.
    for (d, n) in dirs.iter().zip(["one", "two"]) {
        publish(d, &old, &req(n)).unwrap();
    }
    let snapshot = || -> Vec<BTreeMap<String, Vec<u8>>> {
        dirs.iter()
            .map(|d| if d.exists() { tree(d) } else { BTreeMap::new() })
            .collect()
    };
    let before = snapshot();
    let stage_all = || -> Vec<_> {
        dirs.iter()
            .zip(["one", "two", "three"])
            .map(|(d, n)| stage(d, &new, &req(n)).unwrap())
            .collect()
    };

    // A target found foreign at commit: nothing is swapped.
    let batch = stage_all();
    std::fs::write(dirs[1].join("local.conf"), b"mine\n").unwrap();
    let err = commit_all(batch).unwrap_err().to_string();
    assert!(err.contains("local.conf"), "{err}");
    std::fs::remove_file(dirs[1].join("local.conf")).unwrap();
    assert_eq!(snapshot(), before);

    // The last swap fails (its staged tree vanished): the first two are
    // swapped back, and the fresh target is not left behind.
    let batch = stage_all();
    let staged_three: Vec<PathBuf> = std::fs::read_dir(tmp.path())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(".three.tmp-")
        })
        .collect();
    assert_eq!(staged_three.len(), 1);
    std::fs::remove_dir_all(&staged_three[0]).unwrap();
    assert!(commit_all(batch).is_err());
    assert_eq!(snapshot(), before);
    for (d, n) in dirs.iter().zip(["one", "two", "three"]) {
        assert!(leftovers(tmp.path(), n).is_empty(), "{}", d.display());
    }

    // Nothing in the way: all three are new.
    let published = commit_all(stage_all()).unwrap();
    assert_eq!(published.len(), 3);
    for d in &dirs {
        assert_eq!(std::fs::read(d.join("a.txt")).unwrap(), b"new\n");
    }
}

/// A crash between the two renames of the fallback swap leaves the old
/// tree at `.NAME.old-*` and no target. The next publish puts it back
/// first; before, it was cleaned up as a leftover and the output was gone.
#[test]
fn an_old_tree_left_aside_by_a_crash_is_put_back_not_cleaned() {
    use egressgen::publish::{Request, publish, stage};
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("out");
    let req = Request {
        ruleset: "site".into(),
        ruleset_file: tmp.path().join("site.toml"),
        inputs: Vec::new(),
        force: false,
    };
    let v1 = vec![("a.txt".to_string(), b"one\n".to_vec())];
    publish(&out_dir, &v1, &req).unwrap();
    let before = tree(&out_dir);
    let aside = tmp.path().join(".out.old-4242-0");
    std::fs::rename(&out_dir, &aside).unwrap();

    // A run that stages and then fails (dropped before its commit).
    let v2 = vec![("a.txt".to_string(), b"two\n".to_vec())];
    let staged = stage(&out_dir, &v2, &req).unwrap();
    drop(staged);
    assert_eq!(tree(&out_dir), before, "the old tree is back");
    assert!(!aside.exists());

    // The same crash, then a run that goes through.
    std::fs::rename(&out_dir, &aside).unwrap();
    let done = publish(&out_dir, &v2, &req).unwrap();
    assert_eq!(done.restored.as_deref(), Some(aside.as_path()));
    assert_eq!(std::fs::read(out_dir.join("a.txt")).unwrap(), b"two\n");
    assert!(leftovers(tmp.path(), "out").is_empty());
}
