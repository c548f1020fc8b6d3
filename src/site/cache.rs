//! A per-worker cache of what a URL path names: the open file, its metadata, its bytes
//! when small, and its pre-compressed sidecars.
//!
//! Resolving a path costs `openat2` + `fstat` for the file and one `openat2` per sidecar
//! probe, and a small body costs a `pread`: several syscalls for a response that is
//! otherwise one `read` and one `write`. Like nginx's `open_file_cache`, an entry is
//! trusted for [`REVALIDATE_AFTER`]; after that the path is resolved again, and the bytes
//! are kept only if the file's size, mtime and inode are unchanged. So a changed file is
//! served fresh within about a second, and a deleted one stops being served likewise.
//! A file not held in memory is also checked with `fstat` on every hit, so a response
//! never starts with the length of a version that was rewritten in place.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fs::File;
use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::http::encoding::Coding;
use crate::http::status::Status;
use crate::site::root::{OpenFile, Resolved, Root};

/// How long an entry is served without looking at the file system again.
pub const REVALIDATE_AFTER: Duration = Duration::from_secs(1);
/// Files up to this size are kept in memory; larger ones only as an open descriptor.
pub const MAX_FILE_BYTES: u64 = 32 * 1024;
/// Bounds on one worker's cache; when either is reached the cache starts afresh.
const MAX_ENTRIES: usize = 1000;
const MAX_TOTAL_BYTES: usize = 8 * 1024 * 1024;

/// A file and the pre-compressed variants found beside it.
#[derive(Clone)]
pub struct Representations {
    pub plain: OpenFile,
    pub br: Option<OpenFile>,
    pub gz: Option<OpenFile>,
}

impl Representations {
    /// Whether every file would still be announced truly (see [`OpenFile::still_current`]).
    fn still_current(&self) -> bool {
        [Some(&self.plain), self.br.as_ref(), self.gz.as_ref()]
            .into_iter()
            .flatten()
            .all(OpenFile::still_current)
    }

    pub fn sidecar(&self, coding: Coding) -> Option<&OpenFile> {
        match coding {
            Coding::Br => self.br.as_ref(),
            Coding::Gzip => self.gz.as_ref(),
        }
    }
}

/// What a path resolved to, through the cache.
/// Only regular files are cached; the other answers are resolved every time.
pub enum Lookup {
    File(Representations),
    /// A directory asked for without its slash.
    AddSlash,
    /// A directory without an index, opened for a listing.
    Directory(File),
}

struct Entry {
    /// The normalized path relative to the root (for a directory, its index.html).
    rel: Box<[u8]>,
    files: Representations,
    checked: Instant,
}

#[derive(Default)]
pub struct FileCache {
    entries: RefCell<HashMap<Box<[u8]>, Entry>>,
    bytes: RefCell<usize>,
}

impl FileCache {
    /// Resolves `raw_path` (as sent, without the query) under `root`. On success with a
    /// file, `rel` holds its normalized path relative to the root.
    pub fn resolve(
        &self,
        root: &Root,
        raw_path: &[u8],
        rel: &mut Vec<u8>,
        now: Instant,
    ) -> Result<Lookup, Status> {
        let mut entries = self.entries.borrow_mut();
        let stale = match entries.get(raw_path) {
            Some(e)
                if now.duration_since(e.checked) < REVALIDATE_AFTER && e.files.still_current() =>
            {
                rel.clear();
                rel.extend_from_slice(&e.rel);
                return Ok(Lookup::File(e.files.clone()));
            }
            Some(_) => entries.remove(raw_path),
            None => None,
        };
        if let Some(old) = &stale {
            *self.bytes.borrow_mut() -= held_bytes(&old.files);
        }
        let plain = match root.resolve(raw_path, rel)? {
            Resolved::File(f) => f,
            Resolved::AddSlash => return Ok(Lookup::AddSlash),
            Resolved::Directory(dir) => return Ok(Lookup::Directory(dir)),
        };
        let plain_type = plain.content_type;
        let files = Representations {
            plain: keep_bytes(plain, stale.as_ref().map(|e| &e.files.plain)),
            br: sidecar(
                root,
                rel,
                Coding::Br,
                plain_type,
                stale.as_ref().and_then(|e| e.files.br.as_ref()),
            ),
            gz: sidecar(
                root,
                rel,
                Coding::Gzip,
                plain_type,
                stale.as_ref().and_then(|e| e.files.gz.as_ref()),
            ),
        };
        let size = held_bytes(&files);
        let mut total = self.bytes.borrow_mut();
        if entries.len() >= MAX_ENTRIES || *total + size > MAX_TOTAL_BYTES {
            entries.clear();
            *total = 0;
        }
        *total += size;
        entries.insert(
            raw_path.into(),
            Entry {
                rel: rel.as_slice().into(),
                files: files.clone(),
                checked: now,
            },
        );
        Ok(Lookup::File(files))
    }
}

/// A request for `x.br` itself gets no sidecar of its own.
fn sidecar(
    root: &Root,
    rel: &mut Vec<u8>,
    coding: Coding,
    content_type: &'static str,
    old: Option<&OpenFile>,
) -> Option<OpenFile> {
    if rel.ends_with(b".br") || rel.ends_with(b".gz") {
        return None;
    }
    let f = root.sidecar(rel, coding.extension(), content_type)?;
    Some(keep_bytes(f, old))
}

/// Loads a small file's bytes, or keeps the ones already held if the file is unchanged.
fn keep_bytes(f: OpenFile, old: Option<&OpenFile>) -> OpenFile {
    if let Some(old) = old
        && old.size == f.size
        && old.modified == f.modified
        && old.inode == f.inode
    {
        return OpenFile {
            file: Rc::clone(&old.file),
            ..f
        };
    }
    if f.size > MAX_FILE_BYTES {
        return f;
    }
    match Rc::try_unwrap(f.file) {
        Ok(content) => OpenFile {
            file: Rc::new(content.load(f.size)),
            ..f
        },
        Err(shared) => OpenFile { file: shared, ..f },
    }
}

fn held_bytes(r: &Representations) -> usize {
    [Some(&r.plain), r.br.as_ref(), r.gz.as_ref()]
        .into_iter()
        .flatten()
        .map(|f| f.file.bytes().map_or(0, <[u8]>::len))
        .sum()
}
