//! The path normalizer and resolver. For any bytes, `normalize` errors or yields a
//! relative path of plain segments, and `Root::resolve` (with the default symlink
//! policy, and with `never`) opens nothing outside the root, although the root holds
//! symlinks that point out of it.
#![no_main]

use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use preforkd::config::Symlinks;
use preforkd::site::path::normalize;
use preforkd::site::root::{Resolved, Root};

struct Fixture {
    root: PathBuf,
    inside: Root,
    never: Root,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let base = std::env::temp_dir().join(format!("preforkd-fuzz-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let root = base.join("www");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::write(base.join("secret.txt"), "secret").unwrap();
        std::fs::write(root.join("a.txt"), "a").unwrap();
        std::fs::write(root.join(".env"), "hidden").unwrap();
        std::fs::write(root.join("sub/index.html"), "i").unwrap();
        std::fs::write(root.join("sub/b.txt"), "b").unwrap();
        let link = |target: &str, name: &str| {
            std::os::unix::fs::symlink(target, root.join(name)).unwrap();
        };
        link("../secret.txt", "out");
        link("/etc/passwd", "abs");
        link("a.txt", "in");
        link("..", "up");
        link("sub", "subl");
        link("loop", "loop");
        link("../../secret.txt", "sub/deep");
        let root = std::fs::canonicalize(&root).unwrap();
        Fixture {
            inside: Root::open(&root, Symlinks::Inside, false).unwrap(),
            never: Root::open(&root, Symlinks::Never, false).unwrap(),
            root,
        }
    })
}

fn opened_path(fd: &impl AsRawFd) -> PathBuf {
    std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).unwrap()
}

fn check_inside(root: &Path, fd: &impl AsRawFd) {
    let p = opened_path(fd);
    assert!(p.starts_with(root), "opened {p:?} outside {root:?}");
}

fuzz_target!(|data: &[u8]| {
    let mut out = Vec::new();
    if normalize(data, &mut out).is_ok() {
        assert!(!out.starts_with(b"/") && !out.ends_with(b"/"));
        assert!(!out.contains(&0));
        if !out.is_empty() {
            for seg in out.split(|&b| b == b'/') {
                assert!(!seg.is_empty() && seg != b"." && seg != b"..", "{out:?}");
            }
        }
    }
    let f = fixture();
    for root in [&f.inside, &f.never] {
        let mut scratch = Vec::new();
        match root.resolve(data, &mut scratch) {
            Ok(Resolved::File(file)) => check_inside(&f.root, file.file.file()),
            Ok(Resolved::Directory(dir)) => check_inside(&f.root, &dir),
            Ok(Resolved::AddSlash) | Err(_) => {}
        }
    }
});
