//! Atomic publication of an output directory: everything is written into a
//! temporary directory beside the target, then swapped in by rename. A
//! failure at any point before the swap removes the temporary directory
//! and leaves the previous output exactly as it was.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
#[error("{}: {detail}", path.display())]
pub struct PublishError {
    pub path: PathBuf,
    pub detail: String,
}

fn fail(path: &Path, detail: impl ToString) -> PublishError {
    PublishError {
        path: path.to_path_buf(),
        detail: detail.to_string(),
    }
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
            crate::normalize::text::display_escape(name)
        ))
    }
}

/// Writes `files` (in order) as the new content of directory `out`.
pub fn publish(out: &Path, files: &[(String, Vec<u8>)]) -> Result<(), PublishError> {
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let leaf = out
        .file_name()
        .ok_or_else(|| fail(out, "output directory has no name"))?
        .to_string_lossy()
        .into_owned();
    fs::create_dir_all(&parent).map_err(|e| fail(&parent, e))?;
    let tmp = parent.join(format!(".{leaf}.tmp-{}", std::process::id()));
    if tmp.exists() {
        fs::remove_dir_all(&tmp).map_err(|e| fail(&tmp, e))?;
    }
    fs::create_dir(&tmp).map_err(|e| fail(&tmp, e))?;
    let written = write_all(&tmp, files).and_then(|()| swap(&tmp, out, &parent, &leaf));
    if written.is_err() {
        let _ = fs::remove_dir_all(&tmp);
    }
    written
}

fn write_all(dir: &Path, files: &[(String, Vec<u8>)]) -> Result<(), PublishError> {
    for (name, bytes) in files {
        check_name(name).map_err(|e| fail(dir, e))?;
        let path = dir.join(name);
        // create_new: two outputs that want the same file name are an
        // error, not a silent overwrite.
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| fail(&path, format!("{e} (two outputs write {name}?)")))?;
        f.write_all(bytes).map_err(|e| fail(&path, e))?;
        f.sync_all().map_err(|e| fail(&path, e))?;
    }
    Ok(())
}

/// Replaces `out` with `tmp`. The old directory is moved aside first and
/// put back if the second rename fails.
fn swap(tmp: &Path, out: &Path, parent: &Path, leaf: &str) -> Result<(), PublishError> {
    if !out.exists() {
        return fs::rename(tmp, out).map_err(|e| fail(out, e));
    }
    if !out.is_dir() {
        return Err(fail(out, "exists and is not a directory"));
    }
    let old = parent.join(format!(".{leaf}.old-{}", std::process::id()));
    if old.exists() {
        fs::remove_dir_all(&old).map_err(|e| fail(&old, e))?;
    }
    fs::rename(out, &old).map_err(|e| fail(out, e))?;
    if let Err(e) = fs::rename(tmp, out) {
        let _ = fs::rename(&old, out);
        return Err(fail(out, e));
    }
    fs::remove_dir_all(&old).map_err(|e| fail(&old, e))
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
