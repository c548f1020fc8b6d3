//! URL path -> a safe path under the document root -> an open file, its metadata and type.
//!
//! Safety rests on two layers: [`normalize`] turns the percent-decoded path into plain
//! segments (no `..` above the root, no NUL, no empty or `.` segments), and the kernel's
//! `openat2(RESOLVE_BENEATH)` refuses any symlink or path that would leave the root, so
//! no race between checking and opening exists.

use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::rc::Rc;
use std::time::SystemTime;

use nix::errno::Errno;
use nix::fcntl::{OFlag, OpenHow, ResolveFlag, openat2};
use nix::sys::stat::Mode;

use super::mime::content_type;
use super::path::{has_hidden_segment, normalize};
use crate::config::Symlinks;
use crate::http::autoindex::Entry as DirEntry;
use crate::http::conditional::Validators;
use crate::http::status::Status;

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
    /// A directory (asked for with its slash) that has no `index.html`: listed when
    /// `--autoindex` is on, refused otherwise.
    Directory(File),
}

/// An open regular file and what the response needs to know about it.
#[derive(Clone)]
pub struct OpenFile {
    /// Shared: the worker's file cache hands the same open file to many responses.
    pub file: Rc<Content>,
    pub size: u64,
    pub modified: SystemTime,
    pub inode: u64,
    pub content_type: &'static str,
    /// ETag and Last-Modified, worked out once per open file (a sidecar's ETag names
    /// its coding).
    pub validators: Rc<Validators>,
}

impl OpenFile {
    /// Whether what a response would announce for this file is still true. Bytes held in
    /// memory are one consistent version; an open file rewritten in place (same inode,
    /// new length) is not, so it is checked with `fstat` on the descriptor itself: one
    /// syscall beside sending more than [`crate::site::cache::MAX_FILE_BYTES`].
    pub fn still_current(&self) -> bool {
        if self.file.bytes().is_some() {
            return true;
        }
        match self.file.file().metadata() {
            Ok(meta) => {
                meta.len() == self.size
                    && meta.modified().ok() == Some(self.modified)
                    && meta.ino() == self.inode
            }
            Err(_) => false,
        }
    }
}

/// An open file and, once the cache has loaded a small one, its bytes in memory.
pub struct Content {
    file: File,
    bytes: Option<Box<[u8]>>,
}

impl Content {
    pub fn new(file: File) -> Content {
        Content { file, bytes: None }
    }

    /// Reads the first `size` bytes into memory, so later responses copy instead of
    /// reading; if the read fails (the file shrank), it stays a plain open file.
    pub fn load(mut self, size: u64) -> Content {
        let Ok(len) = usize::try_from(size) else {
            return self;
        };
        let mut buf = vec![0u8; len];
        if self.file.read_exact_at(&mut buf, 0).is_ok() {
            self.bytes = Some(buf.into_boxed_slice());
        }
        self
    }

    pub fn file(&self) -> &File {
        &self.file
    }

    /// The bytes held in memory, if any.
    pub fn bytes(&self) -> Option<&[u8]> {
        self.bytes.as_deref()
    }

    /// Appends `len` bytes from `offset` to `out` (straight from memory when loaded);
    /// on error `out` is left as it was.
    pub fn append_to(&self, out: &mut Vec<u8>, offset: u64, len: usize) -> std::io::Result<()> {
        if let Some(bytes) = &self.bytes {
            let src = usize::try_from(offset)
                .ok()
                .and_then(|start| bytes.get(start..start.checked_add(len)?))
                .ok_or(std::io::ErrorKind::UnexpectedEof)?;
            out.extend_from_slice(src);
            return Ok(());
        }
        let start = out.len();
        out.resize(start + len, 0);
        let read = self.file.read_exact_at(&mut out[start..], offset);
        if read.is_err() {
            out.truncate(start);
        }
        read
    }
}

impl AsFd for Content {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.file.as_fd()
    }
}

/// The most entries one listing shows, so a huge directory cannot make a huge page.
pub const MAX_LISTING: usize = 10_000;

impl Root {
    /// Opens the root directory; the error text names the problem for the start-up message.
    pub fn open(path: &Path, symlinks: Symlinks, serve_hidden: bool) -> std::io::Result<Root> {
        let dir = File::open(path)?;
        if !dir.metadata()?.is_dir() {
            return Err(std::io::Error::other("not a directory"));
        }
        let root = Root {
            dir: dir.into(),
            symlinks,
            serve_hidden,
        };
        // Every file is opened with openat2 (Linux 5.6+). Where it is missing or
        // filtered (an old kernel, a strict seccomp profile, valgrind), say so at start
        // instead of answering every request with 404.
        let how = OpenHow::new()
            .flags(OFlag::O_RDONLY | OFlag::O_CLOEXEC | OFlag::O_DIRECTORY)
            .resolve(ResolveFlag::RESOLVE_BENEATH);
        if let Err(e) = openat2(root.dir.as_fd(), ".", how) {
            return Err(std::io::Error::other(format!(
                "openat2 is not available ({e}); preforkd needs Linux 5.6 or later"
            )));
        }
        Ok(root)
    }

    /// Resolves a raw request path (percent-encoded, no query) to what it names.
    /// On success `scratch` holds the normalized path relative to the root of what was
    /// opened (for a directory index, `dir/index.html`), which [`Root::sidecar`] extends.
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
            let index = match self.open_beneath(file.as_fd(), b"index.html") {
                Ok(index) => File::from(index),
                Err(Status::NotFound) => return Ok(Resolved::Directory(file)),
                Err(_) => return Err(Status::Forbidden),
            };
            let meta = index.metadata().map_err(|_| Status::Forbidden)?;
            if !meta.is_file() {
                return Err(Status::Forbidden);
            }
            if !scratch.is_empty() {
                scratch.push(b'/');
            }
            scratch.extend_from_slice(b"index.html");
            return Ok(Resolved::File(open_file(
                index,
                &meta,
                content_type(b"index.html"),
                None,
            )));
        }
        if !meta.is_file() {
            // FIFOs, sockets, devices: never read them for a client.
            return Err(Status::Forbidden);
        }
        if trailing_slash {
            return Err(Status::NotFound);
        }
        Ok(Resolved::File(open_file(
            file,
            &meta,
            content_type(scratch),
            None,
        )))
    }

    /// Opens `rel` + `.` + `ext` (e.g. `page.html.br`) when it is a regular file; `rel`
    /// is the path [`Root::resolve`] left in its scratch buffer and comes back unchanged.
    /// The sidecar gets the original's Content-Type: it is the same content, encoded.
    pub fn sidecar(
        &self,
        rel: &mut Vec<u8>,
        ext: &str,
        content_type: &'static str,
    ) -> Option<OpenFile> {
        let len = rel.len();
        rel.push(b'.');
        rel.extend_from_slice(ext.as_bytes());
        let opened = self.open_beneath(self.dir.as_fd(), rel);
        rel.truncate(len);
        let file = File::from(opened.ok()?);
        let meta = file.metadata().ok()?;
        if !meta.is_file() {
            return None;
        }
        Some(open_file(file, &meta, content_type, Some(ext)))
    }

    /// The entries of a directory from [`Resolved::Directory`], for a listing: regular
    /// files and directories only, hidden ones only with `--serve-hidden`, symlinks only
    /// when the symlink policy would follow them (and then as what they point to), at
    /// most [`MAX_LISTING`] of them. The second value is true when some were left out
    /// because of that bound.
    pub fn list(&self, dir: &File) -> std::io::Result<(Vec<DirEntry>, bool)> {
        // std cannot read a directory from a descriptor; /proc names this very one, so
        // nothing is resolved by path again.
        let proc_path = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(dir));
        let mut entries = Vec::new();
        let mut truncated = false;
        for entry in std::fs::read_dir(proc_path)? {
            let Ok(entry) = entry else { continue };
            let name = entry.file_name();
            let name = name.as_bytes();
            if !self.serve_hidden && name.first() == Some(&b'.') {
                continue;
            }
            let Ok(ft) = entry.file_type() else { continue };
            let meta = if ft.is_symlink() {
                match self.open_beneath(dir.as_fd(), name) {
                    Ok(fd) => match File::from(fd).metadata() {
                        Ok(m) => m,
                        Err(_) => continue,
                    },
                    Err(_) => continue,
                }
            } else {
                match entry.metadata() {
                    Ok(m) => m,
                    Err(_) => continue,
                }
            };
            if !meta.is_file() && !meta.is_dir() {
                continue;
            }
            if entries.len() >= MAX_LISTING {
                truncated = true;
                break;
            }
            entries.push(DirEntry {
                name: name.to_vec(),
                is_dir: meta.is_dir(),
                size: meta.len(),
                modified: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
            });
        }
        Ok((entries, truncated))
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

/// `variant` names a sidecar's coding, so its ETag differs from the plain file's.
fn open_file(
    file: File,
    meta: &std::fs::Metadata,
    content_type: &'static str,
    variant: Option<&str>,
) -> OpenFile {
    let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
    OpenFile {
        size: meta.len(),
        modified,
        inode: meta.ino(),
        validators: Rc::new(Validators::new(meta.len(), modified, meta.ino(), variant)),
        content_type,
        file: Rc::new(Content::new(file)),
    }
}

#[cfg(test)]
mod props {
    //! Property tests: whatever the request path, nothing outside the root is opened.

    use super::*;
    use proptest::prelude::*;
    use std::os::fd::AsRawFd;
    use std::path::PathBuf;

    /// Pieces that make traversal attempts likely, mixed with arbitrary bytes.
    fn hostile_path() -> impl Strategy<Value = Vec<u8>> {
        let piece = prop_oneof![
            Just(b"/".to_vec()),
            Just(b"..".to_vec()),
            Just(b".".to_vec()),
            Just(b"%2e".to_vec()),
            Just(b"%2E%2e".to_vec()),
            Just(b"%2f".to_vec()),
            Just(b"%2F".to_vec()),
            Just(b"%00".to_vec()),
            Just(b"%".to_vec()),
            Just(b"out".to_vec()),
            Just(b"abs".to_vec()),
            Just(b"up".to_vec()),
            Just(b"in".to_vec()),
            Just(b"sub".to_vec()),
            Just(b"subl".to_vec()),
            Just(b"deep".to_vec()),
            Just(b"secret.txt".to_vec()),
            Just(b"a.txt".to_vec()),
            Just(b"index.html".to_vec()),
            Just(b".env".to_vec()),
            proptest::collection::vec(any::<u8>(), 0..4),
        ];
        proptest::collection::vec(piece, 0..12).prop_map(|pieces| {
            let mut p = vec![b'/'];
            pieces.into_iter().for_each(|x| p.extend(x));
            p
        })
    }

    struct Fixture {
        _dir: tempfile::TempDir,
        root: PathBuf,
        inside: Root,
        never: Root,
    }

    /// A root whose parent holds a secret, with symlinks that point out of the root
    /// (relative, absolute, through a subdirectory) and some that stay inside.
    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("secret.txt"), "secret").unwrap();
        let root = dir.path().join("www");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::write(root.join("a.txt"), "a").unwrap();
        std::fs::write(root.join(".env"), "hidden").unwrap();
        std::fs::write(root.join("sub/index.html"), "i").unwrap();
        let link =
            |target: &str, name: &str| std::os::unix::fs::symlink(target, root.join(name)).unwrap();
        link("../secret.txt", "out");
        link("/etc/passwd", "abs");
        link("..", "up");
        link("a.txt", "in");
        link("sub", "subl");
        link("../../secret.txt", "sub/deep");
        link("../up", "sub/up2");
        let root = std::fs::canonicalize(root).unwrap();
        Fixture {
            inside: Root::open(&root, Symlinks::Inside, false).unwrap(),
            never: Root::open(&root, Symlinks::Never, false).unwrap(),
            root,
            _dir: dir,
        }
    }

    fn assert_inside(root: &Path, fd: &impl AsRawFd, input: &[u8]) {
        let opened = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).unwrap();
        assert!(
            opened.starts_with(root),
            "{:?} opened {opened:?}",
            String::from_utf8_lossy(input)
        );
    }

    fn check_normalized(input: &[u8]) {
        let mut out = Vec::new();
        if normalize(input, &mut out).is_ok() {
            assert!(!out.contains(&0), "{input:?} -> {out:?}");
            assert!(
                !out.starts_with(b"/") && !out.ends_with(b"/"),
                "{input:?} -> {out:?}"
            );
            if !out.is_empty() {
                for seg in out.split(|&b| b == b'/') {
                    assert!(
                        !seg.is_empty() && seg != b"." && seg != b"..",
                        "{input:?} -> {out:?}"
                    );
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn normalize_yields_plain_relative_segments(input in proptest::collection::vec(any::<u8>(), 0..64)) {
            check_normalized(&input);
        }

        #[test]
        fn normalize_hostile_paths(input in hostile_path()) {
            check_normalized(&input);
        }
    }

    #[test]
    fn resolve_never_opens_outside_the_root() {
        let f = fixture();
        let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(3000));
        runner
            .run(&hostile_path(), |input| {
                for root in [&f.inside, &f.never] {
                    let mut scratch = Vec::new();
                    match root.resolve(&input, &mut scratch) {
                        Ok(Resolved::File(file)) => {
                            assert_inside(&f.root, file.file.file(), &input)
                        }
                        Ok(Resolved::Directory(dir)) => assert_inside(&f.root, &dir, &input),
                        Ok(Resolved::AddSlash) | Err(_) => {}
                    }
                }
                Ok(())
            })
            .unwrap();
        // The fixture's escape hatches really are there: `always` does leave the root.
        let always = Root::open(&f.root, Symlinks::Always, false).unwrap();
        let mut scratch = Vec::new();
        assert!(matches!(
            always.resolve(b"/out", &mut scratch),
            Ok(Resolved::File(_))
        ));
        assert!(matches!(
            f.inside.resolve(b"/out", &mut scratch),
            Err(Status::Forbidden)
        ));
        assert!(matches!(
            f.inside.resolve(b"/in", &mut scratch),
            Ok(Resolved::File(_))
        ));
    }
}
