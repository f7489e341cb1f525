//! The only writer of output directories: owned, atomic, and honest about what happened.
//!
//! The only writer of output directories. egressgen writes where live
//! proxies read, often from a timer, so it replaces only a directory it
//! created, in one step, and says exactly what state the target is in when
//! anything fails.
//!
//! - **Ownership**: every output directory holds a manifest
//!   ([`MANIFEST`]: tool version, ruleset, each file and its SHA-256). An
//!   existing directory is replaced only when its manifest is ours and
//!   every file in it is one the manifest lists, unchanged; an empty
//!   directory is taken over; anything else is refused unless `force`, and
//!   then the files removed are listed. A directory that contains the
//!   ruleset or one of its source files is never a target.
//! - **Atomic replacement**: the new tree is written beside the target
//!   (manifest first, so a crashed run's leftovers are recognisable), made
//!   durable, then swapped with the old one by
//!   `renameat2(RENAME_EXCHANGE)`, and the swap made durable. A kill at any
//!   point leaves the complete old tree or the complete new one. Where the
//!   filesystem has no exchange (EINVAL, ENOSYS), two renames are the
//!   fallback: a kill between them leaves no directory at the target, and
//!   the next run finds the old tree beside it.
//! - **Leftovers**: `.NAME.tmp-*` and `.NAME.old-*` directories of earlier
//!   crashed runs are removed when they carry our manifest (or are empty).
//! - **Concurrency**: a lock file `.NAME.lock` beside the target; a second
//!   run waits for it, then fails clearly.
//! - **Durability, cheaply**: a publish is staged ([`stage`]: lock, checks,
//!   new tree written but not flushed) and committed in batches
//!   ([`commit`]). A commit flushes each filesystem the staged trees are on
//!   with one `syncfs(2)` before any swap, then swaps every tree, then
//!   flushes again with one `syncfs` so the renames are on disk before
//!   the run reports success. One `fsync` per file and directory gave the
//!   same guarantee at about 31 flushes per ruleset, which bounded a fleet
//!   run; `syncfs` also flushes other dirty data of that filesystem, so on
//!   a busy disk one call can take longer than our few files would, but it
//!   never does less. `syncfs` reports write-back errors of the
//!   filesystem since the file was opened (Linux 5.8 and later); an error
//!   leaves every staged target untouched.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::io::Errno;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::model::text::display_escape;

/// The manifest's file name inside every output directory.
pub const MANIFEST: &str = ".egressgen-manifest.json";
const MANIFEST_FORMAT: &str = "egressgen-manifest";
/// How long a second run waits for the lock before giving up.
const LOCK_WAIT: Duration = Duration::from_secs(60);

/// What state the target is left in, said in every error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TargetState {
    /// Nothing at the target changed.
    Untouched,
    /// The new output is in place; the old one could not be removed.
    NewInPlace { leftover: PathBuf },
    /// The fallback's first rename happened and putting it back failed:
    /// the previous output is at `aside`, nothing is at the target.
    Aside { aside: PathBuf },
}

impl std::fmt::Display for TargetState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TargetState::Untouched => f.write_str("the previous output is untouched"),
            TargetState::NewInPlace { leftover } => write!(
                f,
                "the new output is in place; the previous one is left at {} (the next run removes it)",
                leftover.display()
            ),
            TargetState::Aside { aside } => write!(
                f,
                "nothing is at the target; the previous output is at {}: move it back",
                aside.display()
            ),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("{}: {detail}; {state}", path.display())]
    Io {
        path: PathBuf,
        detail: String,
        state: TargetState,
    },
    #[error(
        "{}: holds {} egressgen did not write or that changed since ({}); nothing was changed. \
         Choose another output directory, empty this one, or pass --force to replace it \
         (which removes them)",
        dir.display(), if foreign.len() == 1 { "a file" } else { "files" }, list(foreign)
    )]
    NotOurs { dir: PathBuf, foreign: Vec<String> },
    #[error(
        "{}: contains {}, an input of this run; outputs never land in a directory holding \
         their own ruleset or sources. Nothing was changed",
        dir.display(), input.display()
    )]
    ContainsInput { dir: PathBuf, input: PathBuf },
    #[error(
        "{}: another egressgen run is publishing here (lock {} held for {}s); nothing was changed",
        dir.display(), lock.display(), LOCK_WAIT.as_secs()
    )]
    Locked { dir: PathBuf, lock: PathBuf },
}

fn list(names: &[String]) -> String {
    let shown: Vec<String> = names.iter().take(10).map(|n| display_escape(n)).collect();
    match names.len() {
        n if n > 10 => format!("{}, and {} more", shown.join(", "), n - 10),
        _ => shown.join(", "),
    }
}

fn io_err(path: &Path, e: impl ToString, state: TargetState) -> PublishError {
    PublishError::Io {
        path: path.to_path_buf(),
        detail: e.to_string(),
        state,
    }
}

fn untouched(path: &Path, e: impl ToString) -> PublishError {
    io_err(path, e, TargetState::Untouched)
}

/// One file of the manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestFile {
    pub name: String,
    pub sha256: String,
}

/// What marks a directory as ours.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub version: u32,
    pub tool_version: String,
    pub ruleset: String,
    pub ruleset_file: String,
    pub files: Vec<ManifestFile>,
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Who is publishing, and what must never be overwritten.
#[derive(Clone, Debug, Default)]
pub struct Request {
    pub ruleset: String,
    pub ruleset_file: PathBuf,
    /// The ruleset and its source files: the target may not contain them.
    pub inputs: Vec<PathBuf>,
    /// Take over a directory that is not ours (its files are listed in
    /// [`Published::removed`]).
    pub force: bool,
}

/// What a publish did besides writing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Published {
    /// Files of a directory that was not ours, removed under `force`.
    pub removed: Vec<String>,
    /// Leftovers of earlier crashed runs that were cleaned up.
    pub cleaned: Vec<PathBuf>,
    /// Set when the old tree could not be removed after the swap.
    pub leftover: Option<PathBuf>,
    /// An old tree a crash had left aside, put back as the target before
    /// this publish.
    pub restored: Option<PathBuf>,
}

/// A file name inside the output directory: no separators, no `..`, no
/// dot files, printable ASCII.
fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "refusing output file name {:?}",
            display_escape(name)
        ))
    }
}

/// The target as an absolute path with `..` resolved through the parts
/// that exist, so "a directory that contains the ruleset" is decided on
/// real paths, symlinks included.
pub fn resolve(out: &Path) -> io::Result<PathBuf> {
    let abs = std::path::absolute(out)?;
    let mut existing = abs.clone();
    let mut rest = Vec::new();
    while !existing.exists() {
        let Some(name) = existing.file_name() else {
            break;
        };
        rest.push(name.to_os_string());
        existing.pop();
    }
    let mut real = existing.canonicalize()?;
    for part in rest.iter().rev() {
        if part == ".." {
            real.pop();
        } else if part != "." {
            real.push(part);
        }
    }
    Ok(real)
}

/// Writes `files` (in order) as the new content of directory `out`: a
/// batch of one.
pub fn publish(
    out: &Path,
    files: &[(String, Vec<u8>)],
    req: &Request,
) -> Result<Published, PublishError> {
    let staged = stage(out, files, req)?;
    commit(vec![staged])
        .pop()
        .unwrap_or_else(|| Err(untouched(out, "nothing was staged")))
}

/// A new tree written beside its target, not yet flushed or swapped in.
/// The target's lock is held until it is committed or dropped; dropping
/// it uncommitted removes the new tree and leaves the target untouched.
pub struct Staged {
    out: PathBuf,
    target: PathBuf,
    parent: PathBuf,
    leaf: String,
    tmp: PathBuf,
    done: Published,
    force: bool,
    committed: bool,
    /// The parent directory, opened before the tree is written: `syncfs`
    /// reports the write-back errors of its filesystem since this open,
    /// so an error while the batch waits is not missed.
    flush: File,
    _lock: File,
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_dir_all(&self.tmp);
        }
    }
}

/// Everything a publish does before it changes the target: checks, lock,
/// cleanup of earlier leftovers, the new tree written beside the target.
pub fn stage(
    out: &Path,
    files: &[(String, Vec<u8>)],
    req: &Request,
) -> Result<Staged, PublishError> {
    let target = checked_target(out, req)?;
    // Refused before the lock too: a directory that is not ours gets no
    // lock file made beside it. Asked again under the lock below.
    check_owned(&target, req.force)?;
    let (parent, leaf) = match (target.parent(), target.file_name()) {
        (Some(p), Some(l)) => (p.to_path_buf(), l.to_string_lossy().into_owned()),
        _ => return Err(untouched(out, "the output directory has no name")),
    };
    fs::create_dir_all(&parent).map_err(|e| untouched(&parent, e))?;
    let lock = lock(&parent, &leaf, out)?;
    // A crash between the two renames of the fallback swap leaves the old
    // tree aside and no target: it goes back before anything is cleaned.
    let restored = restore_aside(&parent, &leaf, &target);
    let mut done = Published {
        cleaned: clean_leftovers(&parent, &leaf),
        restored,
        ..Default::default()
    };
    done.removed = check_owned(&target, req.force)?;
    let tmp = unique(&parent, &leaf, "tmp");
    let flush = File::open(&parent).map_err(|e| untouched(&parent, e))?;
    // Made here, before there is a `Staged` whose drop removes it: a
    // directory of that name made by someone else in between (EEXIST) is
    // theirs, and stays.
    fs::create_dir(&tmp).map_err(|e| untouched(&tmp, e))?;
    let staged = Staged {
        out: out.to_path_buf(),
        target,
        parent,
        leaf,
        tmp,
        done,
        force: req.force,
        committed: false,
        flush,
        _lock: lock,
    };
    // On an error `staged` is dropped and the partial tree removed.
    write_tree(&staged.tmp, files, req)?;
    Ok(staged)
}

/// What [`stage`] refuses before it changes anything (a target holding
/// an input, or one that is not ours), checked without a lock or a
/// write: `check` fails where `generate` would. A run between the two
/// can still change the answer; `stage` asks again under its lock.
pub fn preflight(out: &Path, req: &Request) -> Result<(), PublishError> {
    let target = checked_target(out, req)?;
    check_owned(&target, req.force).map(|_| ())
}

/// The target's real path, refused when it holds one of the run's inputs.
fn checked_target(out: &Path, req: &Request) -> Result<PathBuf, PublishError> {
    let target = resolve(out).map_err(|e| untouched(out, e))?;
    for input in &req.inputs {
        if let Ok(real) = input.canonicalize()
            && real.starts_with(&target)
        {
            return Err(PublishError::ContainsInput {
                dir: out.to_path_buf(),
                input: input.clone(),
            });
        }
    }
    Ok(target)
}

/// Flushes the staged trees (one `syncfs` per filesystem), swaps each in,
/// and flushes the swaps; one result per staged tree, in order.
pub fn commit(batch: Vec<Staged>) -> Vec<Result<Published, PublishError>> {
    let flushed = flush_filesystems(batch.iter().map(|s| (s.parent.as_path(), &s.flush)));
    tracing::debug!(
        staged = batch.len(),
        ok = flushed.is_ok(),
        "new trees flushed"
    );
    let mut results = Vec::with_capacity(batch.len());
    let mut swapped = Vec::new();
    for mut staged in batch {
        if let Err((dir, e)) = &flushed {
            results.push(Err(untouched(
                &staged.out,
                format!("flushing {}: {e}", dir.display()),
            )));
            continue;
        }
        // The target was checked when staged; a file dropped into it since
        // (the batch may have taken a while) is refused or listed too.
        match check_owned(&staged.target, staged.force) {
            Ok(removed) => staged.done.removed = merge(&staged.done.removed, removed),
            Err(e) => {
                results.push(Err(e));
                continue;
            }
        }
        match swap(&staged.tmp, &staged.target, &staged.parent, &staged.leaf) {
            Ok(leftover) => {
                tracing::info!(dir = %staged.out.display(), "published");
                staged.committed = true;
                staged.done.leftover = leftover;
                results.push(Ok(staged.done.clone()));
                swapped.push(staged);
            }
            Err(e) => results.push(Err(e)),
        }
    }
    // The renames themselves. A failure here cannot undo a swap that is
    // already visible; it is as if the machine had stopped a moment
    // earlier, which the atomic swap already allows for.
    let _ = flush_filesystems(swapped.iter().map(|s| (s.parent.as_path(), &s.flush)));
    results
}

/// How one tree of an all-or-none batch went in, so it can be taken back
/// out while later trees fail.
enum Installed {
    /// There was no target: the new tree was renamed in.
    Fresh,
    /// Exchanged: the old tree is at the staging path.
    Exchanged,
    /// The two-rename fallback: the old tree is at this path.
    Renamed(PathBuf),
}

/// Flushes the staged trees and swaps all of them in, or none: every
/// target is checked before the first swap, and when a swap fails the
/// trees already swapped are swapped back, so every target holds its old
/// tree again. Each directory is whole at every moment (old or new); a
/// kill between two swaps leaves some old and some new, and the next run
/// brings them together.
pub fn commit_all(mut batch: Vec<Staged>) -> Result<Vec<Published>, PublishError> {
    flush_filesystems(batch.iter().map(|s| (s.parent.as_path(), &s.flush)))
        .map_err(|(dir, e)| untouched(&dir, format!("flushing: {e}")))?;
    for staged in &mut batch {
        let removed = check_owned(&staged.target, staged.force)?;
        staged.done.removed = merge(&staged.done.removed, removed);
    }
    let mut installed: Vec<Installed> = Vec::with_capacity(batch.len());
    for i in 0..batch.len() {
        match install(&batch[i]) {
            Ok(how) => installed.push(how),
            Err(e) => {
                let failed_out = batch[i].out.clone();
                let mut undone = Vec::new();
                for (s, how) in batch.iter_mut().zip(&installed).rev() {
                    if let Err(why) = uninstall(s, how) {
                        // Its old tree may be at the staging path now:
                        // dropping `s` must not remove it.
                        s.committed = true;
                        undone.push(format!(
                            "{why} (the old tree is kept at {})",
                            s.tmp.display()
                        ));
                    }
                }
                if undone.is_empty() {
                    return Err(e);
                }
                return Err(untouched(
                    &failed_out,
                    format!(
                        "{e}; and taking back the trees already swapped failed: {}",
                        undone.join("; ")
                    ),
                ));
            }
        }
    }
    let mut results = Vec::with_capacity(batch.len());
    for (mut staged, how) in batch.into_iter().zip(installed) {
        let old = match how {
            Installed::Fresh => None,
            Installed::Exchanged => Some(staged.tmp.clone()),
            Installed::Renamed(old) => Some(old),
        };
        staged.done.leftover = old.filter(|o| fs::remove_dir_all(o).is_err());
        staged.committed = true;
        tracing::info!(dir = %staged.out.display(), "published");
        results.push(staged);
    }
    let _ = flush_filesystems(results.iter().map(|s| (s.parent.as_path(), &s.flush)));
    Ok(results.iter().map(|s| s.done.clone()).collect())
}

fn install(s: &Staged) -> Result<Installed, PublishError> {
    if fs::symlink_metadata(&s.target).is_err() {
        fs::rename(&s.tmp, &s.target).map_err(|e| untouched(&s.target, e))?;
        return Ok(Installed::Fresh);
    }
    match exchange(&s.tmp, &s.target) {
        Ok(()) => Ok(Installed::Exchanged),
        Err(e) if e == Errno::INVAL || e == Errno::NOSYS => {
            two_renames(&s.tmp, &s.target, &s.parent, &s.leaf).map(Installed::Renamed)
        }
        Err(e) => Err(untouched(&s.target, io::Error::from(e))),
    }
}

/// Puts the old tree back; the new one returns to the staging path, which
/// the dropped `Staged` removes.
fn uninstall(s: &Staged, how: &Installed) -> Result<(), String> {
    let fail = |e: &dyn std::fmt::Display| format!("{}: {e}", s.target.display());
    match how {
        Installed::Fresh => fs::rename(&s.target, &s.tmp).map_err(|e| fail(&e)),
        Installed::Exchanged => exchange(&s.tmp, &s.target).map_err(|e| fail(&e)),
        Installed::Renamed(old) => {
            fs::rename(&s.target, &s.tmp).map_err(|e| fail(&e))?;
            fs::rename(old, &s.target).map_err(|e| fail(&e))
        }
    }
}

/// The files `force` removes, from the check at staging and at commit.
fn merge(first: &[String], second: Vec<String>) -> Vec<String> {
    let mut all: Vec<String> = first.iter().cloned().chain(second).collect();
    all.sort();
    all.dedup();
    all
}

/// `syncfs` once per filesystem holding one of `dirs`, through the handle
/// opened at staging (filesystems told apart by device number).
fn flush_filesystems<'a>(
    dirs: impl Iterator<Item = (&'a Path, &'a File)>,
) -> Result<(), (PathBuf, io::Error)> {
    let mut seen = std::collections::BTreeSet::new();
    for (dir, handle) in dirs {
        let fail = |e: io::Error| (dir.to_path_buf(), e);
        let dev = rustix::fs::fstat(handle)
            .map_err(|e| fail(e.into()))?
            .st_dev;
        if seen.insert(dev) {
            rustix::fs::syncfs(handle).map_err(|e| fail(e.into()))?;
        }
    }
    Ok(())
}

/// `.NAME.KIND-PID-N` beside the target, not yet existing.
fn unique(parent: &Path, leaf: &str, kind: &str) -> PathBuf {
    let pid = std::process::id();
    (0u32..)
        .map(|n| parent.join(format!(".{leaf}.{kind}-{pid}-{n}")))
        .find(|p| fs::symlink_metadata(p).is_err())
        .unwrap_or_else(|| parent.join(format!(".{leaf}.{kind}-{pid}")))
}

/// Holds `.NAME.lock` beside the target until dropped.
fn lock(parent: &Path, leaf: &str, out: &Path) -> Result<File, PublishError> {
    let path = parent.join(format!(".{leaf}.lock"));
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| untouched(&path, e))?;
    let start = Instant::now();
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(fs::TryLockError::WouldBlock) if start.elapsed() < LOCK_WAIT => {
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(fs::TryLockError::WouldBlock) => {
                return Err(PublishError::Locked {
                    dir: out.to_path_buf(),
                    lock: path,
                });
            }
            Err(fs::TryLockError::Error(e)) => return Err(untouched(&path, e)),
        }
    }
}

/// Whether `dir` is a whole tree of ours: a manifest, and every file it
/// lists present with its hash.
fn intact(dir: &Path) -> bool {
    read_manifest(dir).is_some_and(|m| {
        m.files
            .iter()
            .all(|f| fs::read(dir.join(&f.name)).is_ok_and(|b| sha256_hex(&b) == f.sha256))
    })
}

/// The files an output directory of ours holds, by name, with their
/// SHA-256, as its manifest lists them and only when every one is intact;
/// `None` for anything else. An old tree a killed run left aside is put
/// back first (under the directory's lock), so a refresh right after a
/// crash compares with what was published, not with nothing.
pub fn published_files(out: &Path) -> Option<std::collections::BTreeMap<String, String>> {
    let target = resolve(out).ok()?;
    let (parent, leaf) = (
        target.parent()?,
        target.file_name()?.to_string_lossy().into_owned(),
    );
    if fs::symlink_metadata(&target).is_err() {
        let _lock = lock(parent, &leaf, out).ok()?;
        restore_aside(parent, &leaf, &target);
    }
    if !intact(&target) {
        return None;
    }
    let m = read_manifest(&target)?;
    Some(m.files.into_iter().map(|f| (f.name, f.sha256)).collect())
}

/// Removes what killed runs left beside an output directory that is not
/// being published now (`.NAME.tmp-*`, `.NAME.old-*` of ours, or empty),
/// under the directory's lock so a run in progress keeps its own tree.
/// Returns what was removed; nothing when the lock is not to be had.
pub fn tidy(out: &Path) -> Vec<PathBuf> {
    let Ok(target) = resolve(out) else {
        return Vec::new();
    };
    let (Some(parent), Some(leaf)) = (target.parent(), target.file_name()) else {
        return Vec::new();
    };
    let leaf = leaf.to_string_lossy().into_owned();
    let Ok(_lock) = lock(parent, &leaf, out) else {
        return Vec::new();
    };
    clean_leftovers(parent, &leaf)
}

fn read_manifest(dir: &Path) -> Option<Manifest> {
    let bytes = fs::read(dir.join(MANIFEST)).ok()?;
    let m: Manifest = serde_json::from_slice(&bytes).ok()?;
    (m.format == MANIFEST_FORMAT).then_some(m)
}

/// When the target is missing and an old tree of ours was left aside
/// (`.NAME.old-*`, with our manifest), the newest one is renamed back.
fn restore_aside(parent: &Path, leaf: &str, target: &Path) -> Option<PathBuf> {
    if fs::symlink_metadata(target).is_ok() {
        return None;
    }
    let prefix = format!(".{leaf}.old-");
    let newest = fs::read_dir(parent)
        .ok()?
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()) && intact(&e.path()))
        .max_by_key(|e| e.metadata().and_then(|m| m.modified()).ok())?
        .path();
    fs::rename(&newest, target).ok()?;
    tracing::warn!(from = %newest.display(), to = %target.display(), "an old tree left aside by a crash was put back");
    Some(newest)
}

/// Leftovers of earlier runs: ours by name, and by manifest or emptiness.
fn clean_leftovers(parent: &Path, leaf: &str) -> Vec<PathBuf> {
    let prefixes = [format!(".{leaf}.tmp-"), format!(".{leaf}.old-")];
    let Ok(entries) = fs::read_dir(parent) else {
        return Vec::new();
    };
    let mut cleaned = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if !is_dir || !prefixes.iter().any(|p| name.starts_with(p.as_str())) {
            continue;
        }
        let empty = fs::read_dir(&path).is_ok_and(|mut d| d.next().is_none());
        if (empty || read_manifest(&path).is_some()) && fs::remove_dir_all(&path).is_ok() {
            cleaned.push(path);
        }
    }
    cleaned.sort();
    cleaned
}

/// Whether an existing target may be replaced: absent, empty, or ours and
/// unchanged. Returns what `force` will remove.
fn check_owned(target: &Path, force: bool) -> Result<Vec<String>, PublishError> {
    let meta = match fs::symlink_metadata(target) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(untouched(target, e)),
        Ok(m) => m,
    };
    if meta.file_type().is_symlink() {
        return Err(untouched(
            target,
            "is a symbolic link: point the output at the real directory",
        ));
    }
    if !meta.is_dir() {
        return Err(untouched(target, "exists and is not a directory"));
    }
    let foreign = foreign_entries(target).map_err(|e| untouched(target, e))?;
    if foreign.is_empty() || force {
        Ok(foreign)
    } else {
        Err(PublishError::NotOurs {
            dir: target.to_path_buf(),
            foreign,
        })
    }
}

/// Entries of `dir` that its manifest does not vouch for.
fn foreign_entries(dir: &Path) -> io::Result<Vec<String>> {
    let listed: BTreeMap<String, String> = read_manifest(dir)
        .map(|m| m.files.into_iter().map(|f| (f.name, f.sha256)).collect())
        .unwrap_or_default();
    let mut foreign = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == MANIFEST && !listed.is_empty() {
            continue;
        }
        let ours = entry.file_type()?.is_file()
            && listed
                .get(&name)
                .is_some_and(|sum| fs::read(entry.path()).is_ok_and(|b| sha256_hex(&b) == *sum));
        if !ours {
            foreign.push(name);
        }
    }
    // A manifest alone (no files listed) vouches for nothing but itself.
    if foreign == [MANIFEST] && read_manifest(dir).is_some() {
        foreign.clear();
    }
    foreign.sort();
    Ok(foreign)
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<File, PublishError> {
    // create_new: two outputs that want the same file name are an error,
    // not a silent overwrite.
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| untouched(path, format!("{e} (two outputs write one file?)")))?;
    f.write_all(bytes).map_err(|e| untouched(path, e))?;
    Ok(f)
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// The new tree: manifest first, then the files; flushed by [`commit`].
/// Fills the staging directory (made empty by [`stage`]).
fn write_tree(dir: &Path, files: &[(String, Vec<u8>)], req: &Request) -> Result<(), PublishError> {
    let mut manifest = Manifest {
        format: MANIFEST_FORMAT.to_string(),
        version: 1,
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        ruleset: req.ruleset.clone(),
        ruleset_file: display_escape(&req.ruleset_file.display().to_string()),
        files: Vec::new(),
    };
    for (name, bytes) in files {
        check_name(name).map_err(|e| untouched(dir, e))?;
        manifest.files.push(ManifestFile {
            name: name.clone(),
            sha256: sha256_hex(bytes),
        });
    }
    let mut text = serde_json::to_vec_pretty(&manifest).map_err(|e| untouched(dir, e))?;
    text.push(b'\n');
    write_file(&dir.join(MANIFEST), &text)?;
    for (name, bytes) in files {
        write_file(&dir.join(name), bytes)?;
    }
    Ok(())
}

/// Swaps the new tree in. Returns where the old tree was left when it
/// could not be removed.
fn swap(
    tmp: &Path,
    target: &Path,
    parent: &Path,
    leaf: &str,
) -> Result<Option<PathBuf>, PublishError> {
    if fs::symlink_metadata(target).is_err() {
        fs::rename(tmp, target).map_err(|e| untouched(target, e))?;
        return Ok(None);
    }
    let old = match exchange(tmp, target) {
        // The old tree is now at `tmp`.
        Ok(()) => tmp.to_path_buf(),
        // No exchange on this filesystem or kernel.
        Err(e) if e == Errno::INVAL || e == Errno::NOSYS => two_renames(tmp, target, parent, leaf)?,
        Err(e) => return Err(untouched(target, io::Error::from(e))),
    };
    match fs::remove_dir_all(&old) {
        Ok(()) => Ok(None),
        Err(_) => Ok(Some(old)),
    }
}

/// `renameat2(RENAME_EXCHANGE)`: both paths swap in one step.
fn exchange(a: &Path, b: &Path) -> Result<(), Errno> {
    rustix::fs::renameat_with(
        rustix::fs::CWD,
        a,
        rustix::fs::CWD,
        b,
        rustix::fs::RenameFlags::EXCHANGE,
    )
}

/// The fallback: old aside, new in, old back if the second step fails.
fn two_renames(
    tmp: &Path,
    target: &Path,
    parent: &Path,
    leaf: &str,
) -> Result<PathBuf, PublishError> {
    let old = unique(parent, leaf, "old");
    fs::rename(target, &old).map_err(|e| untouched(target, e))?;
    if let Err(e) = fs::rename(tmp, target) {
        let state = match fs::rename(&old, target) {
            Ok(()) => TargetState::Untouched,
            Err(_) => TargetState::Aside { aside: old.clone() },
        };
        return Err(io_err(target, e, state));
    }
    Ok(old)
}

/// Replaces one file atomically (temporary file beside it, fsync, rename,
/// fsync of the directory); on any failure the temporary file is removed
/// and the old file is left as it was.
pub fn write_file_atomically(path: &Path, bytes: &[u8]) -> Result<(), PublishError> {
    if fs::symlink_metadata(path).is_ok_and(|m| m.is_dir()) {
        return Err(untouched(path, "is a directory: give a file name"));
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let leaf = path
        .file_name()
        .ok_or_else(|| untouched(path, "has no file name"))?
        .to_string_lossy()
        .into_owned();
    let tmp = unique(&parent, &leaf, "tmp");
    let result = write_file(&tmp, bytes)
        .and_then(|f| f.sync_all().map_err(|e| untouched(&tmp, e)))
        .and_then(|()| fs::rename(&tmp, path).map_err(|e| untouched(path, e)));
    match result {
        Ok(()) => {
            let _ = sync_dir(&parent);
            Ok(())
        }
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert!(check_name("allowlist-443.txt").is_ok());
        for bad in ["", "../x", "a/b", ".hidden", "x\ny", "policy json"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }
}
