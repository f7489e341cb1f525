//! Reading an input file: regular files only, never blocking, never more than a limit.
//!
//! Reading an input file (a source, a ruleset): regular files only, never
//! blocking, never more than a limit. The limit is enforced while reading,
//! not only against the size the file claims: `/dev/zero`, a FIFO or a
//! symbolic link to either is refused before a byte is read.

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::Path;

use rustix::fs::{Mode, OFlags};

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("is {0}, not a regular file")]
    NotRegular(&'static str),
    #[error("is more than {limit} bytes")]
    TooLarge { size: u64, limit: u64 },
}

/// What a non-regular file is, in words.
fn kind(meta: &fs::Metadata) -> Option<&'static str> {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_file() {
        None
    } else if t.is_dir() {
        Some("a directory")
    } else if t.is_fifo() {
        Some("a FIFO (named pipe)")
    } else if t.is_char_device() {
        Some("a character device")
    } else if t.is_block_device() {
        Some("a block device")
    } else if t.is_socket() {
        Some("a socket")
    } else {
        Some("not a regular file")
    }
}

fn regular(meta: &fs::Metadata) -> Result<(), ReadError> {
    match kind(meta) {
        None => Ok(()),
        Some(k) => Err(ReadError::NotRegular(k)),
    }
}

/// The whole file, if it is a regular file (symbolic links followed) of
/// at most `limit` bytes.
pub fn read_limited(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    let meta = fs::metadata(path)?;
    regular(&meta)?;
    if meta.len() > limit {
        return Err(ReadError::TooLarge {
            size: meta.len(),
            limit,
        });
    }
    // Non-blocking, so a FIFO swapped in after the check cannot hang the
    // open; the opened file is checked again.
    let fd = rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(io::Error::from)?;
    let file = File::from(fd);
    regular(&file.metadata()?)?;
    let mut bytes = Vec::new();
    file.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(ReadError::TooLarge {
            size: bytes.len() as u64,
            limit,
        });
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_holds_while_reading() {
        // /proc files are regular files that claim a size of 0: only the
        // bounded read stops them.
        let maps = Path::new("/proc/self/maps");
        assert_eq!(fs::metadata(maps).unwrap().len(), 0);
        match read_limited(maps, 16) {
            Err(ReadError::TooLarge { size, limit }) => assert!(size == 17 && limit == 16),
            other => panic!("{other:?}"),
        }
        assert!(read_limited(maps, 1 << 20).is_ok_and(|b| !b.is_empty()));
    }
}
