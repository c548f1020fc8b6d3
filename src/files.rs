//! URL path -> a safe path under the document root -> an open file, its metadata and type.
//!
//! Safety rests on two layers: [`normalize`] turns the percent-decoded path into plain
//! segments (no `..` above the root, no NUL, no empty or `.` segments), and the kernel's
//! `openat2(RESOLVE_BENEATH)` refuses any symlink or path that would leave the root, so
//! no race between checking and opening exists.

use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::SystemTime;

use nix::errno::Errno;
use nix::fcntl::{OFlag, OpenHow, ResolveFlag, openat2};
use nix::sys::stat::Mode;

use crate::http::status::Status;

/// How symlinks under the root are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Symlinks {
    /// Never follow a symlink.
    Never,
    /// Follow a symlink only when its target stays inside the root (the default).
    Inside,
    /// Follow every symlink, even out of the root (trusts whoever writes the root).
    Always,
}

/// The document root, opened once per worker.
pub struct Root {
    dir: OwnedFd,
    symlinks: Symlinks,
    serve_hidden: bool,
}

/// What a request path names.
pub enum Resolved {
    /// A regular file, opened for reading.
    File(OpenFile),
    /// A directory asked for without its trailing slash: redirect to `path + "/"`.
    AddSlash,
}

/// An open regular file and what the response needs to know about it.
pub struct OpenFile {
    pub file: File,
    pub size: u64,
    pub modified: SystemTime,
    pub inode: u64,
    pub content_type: &'static str,
}

/// The most bytes a decoded path may have; longer names no file on Linux.
const MAX_PATH: usize = 4096;

impl Root {
    /// Opens the root directory; the error text names the problem for the start-up message.
    pub fn open(path: &Path, symlinks: Symlinks, serve_hidden: bool) -> std::io::Result<Root> {
        let dir = File::open(path)?;
        if !dir.metadata()?.is_dir() {
            return Err(std::io::Error::other("not a directory"));
        }
        Ok(Root {
            dir: dir.into(),
            symlinks,
            serve_hidden,
        })
    }

    /// Resolves a raw request path (percent-encoded, no query) to what it names.
    pub fn resolve(&self, raw_path: &[u8], scratch: &mut Vec<u8>) -> Result<Resolved, Status> {
        let trailing_slash = normalize(raw_path, scratch)?;
        if !self.serve_hidden && has_hidden_segment(scratch) {
            return Err(Status::NotFound);
        }
        let rel: &[u8] = if scratch.is_empty() { b"." } else { scratch };
        let fd = self.open_beneath(self.dir.as_fd(), rel)?;
        let file = File::from(fd);
        let meta = file.metadata().map_err(|_| Status::Forbidden)?;
        if meta.is_dir() {
            if !trailing_slash {
                return Ok(Resolved::AddSlash);
            }
            let index = self
                .open_beneath(file.as_fd(), b"index.html")
                .map_err(|_| Status::Forbidden)?;
            let index = File::from(index);
            let meta = index.metadata().map_err(|_| Status::Forbidden)?;
            if !meta.is_file() {
                return Err(Status::Forbidden);
            }
            return Ok(Resolved::File(open_file(index, &meta, b"index.html")));
        }
        if !meta.is_file() {
            // FIFOs, sockets, devices: never read them for a client.
            return Err(Status::Forbidden);
        }
        if trailing_slash {
            return Err(Status::NotFound);
        }
        Ok(Resolved::File(open_file(file, &meta, scratch)))
    }

    fn open_beneath(
        &self,
        dir: std::os::fd::BorrowedFd<'_>,
        rel: &[u8],
    ) -> Result<OwnedFd, Status> {
        let resolve = match self.symlinks {
            Symlinks::Never => ResolveFlag::RESOLVE_BENEATH | ResolveFlag::RESOLVE_NO_SYMLINKS,
            Symlinks::Inside => ResolveFlag::RESOLVE_BENEATH | ResolveFlag::RESOLVE_NO_MAGICLINKS,
            Symlinks::Always => ResolveFlag::RESOLVE_NO_MAGICLINKS,
        };
        // O_NONBLOCK so that opening a FIFO cannot block the worker; it is refused after fstat.
        let how = OpenHow::new()
            .flags(OFlag::O_RDONLY | OFlag::O_CLOEXEC | OFlag::O_NOCTTY | OFlag::O_NONBLOCK)
            .mode(Mode::empty())
            .resolve(resolve);
        let path = std::ffi::OsStr::from_bytes(rel);
        openat2(dir, path, how).map_err(|e| match e {
            Errno::ENOENT | Errno::ENOTDIR | Errno::ENAMETOOLONG => Status::NotFound,
            // EXDEV: the path left the root; ELOOP: a symlink we may not follow.
            Errno::EACCES | Errno::EPERM | Errno::EXDEV | Errno::ELOOP => Status::Forbidden,
            _ => Status::NotFound,
        })
    }
}

fn open_file(file: File, meta: &std::fs::Metadata, name: &[u8]) -> OpenFile {
    OpenFile {
        size: meta.len(),
        modified: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
        inode: meta.ino(),
        content_type: content_type(name),
        file,
    }
}

/// Percent-decodes `raw` and rewrites it as `a/b/c` relative to the root into `out`.
/// Returns whether the path names a directory (it ends with `/`, `.` or `..`).
/// Dot segments are resolved as RFC 3986 §5.2.4 does, but a path that would climb
/// above the root is refused rather than clamped, since only an attack sends one.
pub fn normalize(raw: &[u8], out: &mut Vec<u8>) -> Result<bool, Status> {
    out.clear();
    if raw.first() != Some(&b'/') {
        return Err(Status::BadRequest);
    }
    // `out` always holds whole segments each followed by '/', then the segment being read.
    let mut segment_start = 0;
    let mut i = 1;
    loop {
        let byte = match raw.get(i) {
            None => None,
            Some(b'%') => {
                let hi = raw.get(i + 1).and_then(|&b| hex(b));
                let lo = raw.get(i + 2).and_then(|&b| hex(b));
                let (Some(h), Some(l)) = (hi, lo) else {
                    return Err(Status::BadRequest);
                };
                i += 2;
                Some((h << 4) | l)
            }
            Some(&b) => Some(b),
        };
        i += 1;
        match byte {
            Some(0) => return Err(Status::BadRequest),
            Some(b'/') | None => {
                let segment = &out[segment_start..];
                let is_dir_segment = matches!(segment, b"" | b"." | b"..");
                match segment {
                    b"" | b"." => out.truncate(segment_start),
                    b".." => {
                        if segment_start == 0 {
                            return Err(Status::BadRequest);
                        }
                        out.truncate(segment_start - 1);
                        let parent = out.iter().rposition(|&b| b == b'/').map_or(0, |p| p + 1);
                        out.truncate(parent);
                    }
                    _ => {
                        if byte.is_some() {
                            out.push(b'/');
                        }
                    }
                }
                segment_start = out.len();
                if byte.is_none() {
                    if out.last() == Some(&b'/') {
                        out.pop();
                    }
                    return Ok(is_dir_segment || out.is_empty());
                }
            }
            Some(b) => out.push(b),
        }
        if out.len() > MAX_PATH {
            return Err(Status::NotFound);
        }
    }
}

fn has_hidden_segment(rel: &[u8]) -> bool {
    rel.split(|&b| b == b'/').any(|s| s.first() == Some(&b'.'))
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// The Content-Type for a file name: fixed for the types the contract names, the
/// `mime_guess` table for the rest, `application/octet-stream` when unknown.
pub fn content_type(name: &[u8]) -> &'static str {
    let ext = match name.iter().rposition(|&b| b == b'.') {
        Some(dot) if !name[dot + 1..].contains(&b'/') => &name[dot + 1..],
        _ => return "application/octet-stream",
    };
    let Ok(ext) = std::str::from_utf8(ext) else {
        return "application/octet-stream";
    };
    let lower = ext.to_ascii_lowercase();
    match lower.as_str() {
        "html" | "htm" => "text/html",
        "css" => "text/css",
        "js" | "mjs" => "text/javascript",
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "swf" => "application/x-shockwave-flash",
        "txt" => "text/plain",
        _ => mime_guess::from_ext(&lower)
            .first_raw()
            .unwrap_or("application/octet-stream"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(raw: &str) -> Result<(String, bool), Status> {
        let mut out = Vec::new();
        let slash = normalize(raw.as_bytes(), &mut out)?;
        Ok((String::from_utf8(out).unwrap(), slash))
    }

    #[test]
    fn plain_paths() {
        assert_eq!(norm("/"), Ok((String::new(), true)));
        assert_eq!(norm("/a.html"), Ok(("a.html".into(), false)));
        assert_eq!(norm("/dir/"), Ok(("dir".into(), true)));
        assert_eq!(norm("/a//b/./c"), Ok(("a/b/c".into(), false)));
        assert_eq!(norm("/text..txt"), Ok(("text..txt".into(), false)));
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(norm("/a%20b.html"), Ok(("a b.html".into(), false)));
        assert_eq!(norm("/%70%61%67%65.html"), Ok(("page.html".into(), false)));
        assert_eq!(norm("/%2fetc%2fpasswd"), Ok(("etc/passwd".into(), false)));
        assert_eq!(norm("/%2Fetc%2Fpasswd"), Ok(("etc/passwd".into(), false)));
        assert_eq!(norm("/a%"), Err(Status::BadRequest));
        assert_eq!(norm("/a%2"), Err(Status::BadRequest));
        assert_eq!(norm("/a%zz"), Err(Status::BadRequest));
        assert_eq!(norm("/a%00b"), Err(Status::BadRequest));
    }

    #[test]
    fn dot_segments_never_climb_out() {
        for raw in [
            "/..",
            "/../etc/passwd",
            "/%2e%2e/etc/passwd",
            "/%2E%2E%2fetc",
            "/..%2fetc%2fpasswd",
            "/a/../../etc",
            "/a/%2e%2e/%2e%2e/etc",
        ] {
            assert_eq!(norm(raw), Err(Status::BadRequest), "{raw}");
        }
        assert_eq!(norm("/a/../b.html"), Ok(("b.html".into(), false)));
        assert_eq!(norm("/a/b/.."), Ok(("a".into(), true)));
        assert_eq!(norm("//etc/passwd"), Ok(("etc/passwd".into(), false)));
    }

    #[test]
    fn not_origin_form() {
        assert_eq!(norm("a.html"), Err(Status::BadRequest));
        assert_eq!(norm(""), Err(Status::BadRequest));
    }

    #[test]
    fn hidden_segments() {
        assert!(has_hidden_segment(b".git/config"));
        assert!(has_hidden_segment(b"a/.env"));
        assert!(!has_hidden_segment(b"a/b.c"));
    }

    #[test]
    fn content_types() {
        assert_eq!(content_type(b"a.html"), "text/html");
        assert_eq!(content_type(b"A.HTML"), "text/html");
        assert_eq!(content_type(b"a.css"), "text/css");
        assert_eq!(content_type(b"a.js"), "text/javascript");
        assert_eq!(content_type(b"a.jpg"), "image/jpeg");
        assert_eq!(content_type(b"a.jpeg"), "image/jpeg");
        assert_eq!(content_type(b"a.png"), "image/png");
        assert_eq!(content_type(b"a.gif"), "image/gif");
        assert_eq!(content_type(b"a.swf"), "application/x-shockwave-flash");
        assert_eq!(content_type(b"a.unknownext"), "application/octet-stream");
        assert_eq!(content_type(b"noext"), "application/octet-stream");
        assert_eq!(content_type(b"dir.d/noext"), "application/octet-stream");
    }
}
