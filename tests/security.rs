//! Nothing outside the document root is ever served, whatever the spelling.

mod common;

use common::{Server, parse_responses, site};

/// A root inside a parent directory that holds a secret next to it.
fn root_with_secret_beside() -> (tempfile::TempDir, std::path::PathBuf) {
    let parent = tempfile::tempdir().unwrap();
    std::fs::write(parent.path().join("secret.txt"), "TOP SECRET").unwrap();
    let root = parent.path().join("www");
    std::fs::create_dir(&root).unwrap();
    std::fs::write(root.join("page.html"), "page").unwrap();
    std::fs::create_dir(root.join("sub")).unwrap();
    std::fs::write(root.join("sub/inner.html"), "inner").unwrap();
    (parent, root)
}

fn raw_target(s: &Server, target: &str) -> (u16, Vec<u8>) {
    let raw = format!("GET {target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    let bytes = s.request(raw.as_bytes());
    let r = parse_responses(&bytes, false)
        .into_iter()
        .next()
        .expect("a response");
    (r.status, r.body)
}

#[test]
fn traversal_in_every_spelling_is_refused() {
    let (_parent, root) = root_with_secret_beside();
    let s = Server::start(&root, &["-w", "1"]);
    for target in [
        "/../secret.txt",
        "/sub/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E/secret.txt",
        "/..%2fsecret.txt",
        "/..%2Fsecret.txt",
        "/sub/%2e%2e/%2e%2e/secret.txt",
        "/.%2e/secret.txt",
        "/%2e./secret.txt",
        "/sub/..%2f..%2fsecret.txt",
        "//../secret.txt",
        "/page.html%00.txt",
        "/%00",
        "//etc/passwd",
        "/%2fetc%2fpasswd",
        "/etc/passwd",
        "/../../../../../../etc/passwd",
    ] {
        let (status, body) = raw_target(&s, target);
        assert!(matches!(status, 400 | 403 | 404), "{target}: {status}");
        assert!(
            !String::from_utf8_lossy(&body).contains("TOP SECRET"),
            "{target}"
        );
        assert!(
            !String::from_utf8_lossy(&body).contains("root:"),
            "{target}"
        );
    }
    // Dot segments that stay inside the root are fine.
    assert_eq!(raw_target(&s, "/sub/../page.html"), (200, b"page".to_vec()));
}

#[test]
fn symlinks_out_of_the_root_are_refused() {
    let (parent, root) = root_with_secret_beside();
    std::os::unix::fs::symlink(parent.path().join("secret.txt"), root.join("abs.txt")).unwrap();
    std::os::unix::fs::symlink("../secret.txt", root.join("rel.txt")).unwrap();
    std::os::unix::fs::symlink(parent.path(), root.join("updir")).unwrap();
    std::os::unix::fs::symlink("/etc", root.join("etc")).unwrap();
    std::os::unix::fs::symlink("page.html", root.join("inside.html")).unwrap();
    let s = Server::start(&root, &["-w", "1"]);
    for target in ["/abs.txt", "/rel.txt", "/updir/secret.txt", "/etc/passwd"] {
        let (status, body) = raw_target(&s, target);
        assert!(matches!(status, 403 | 404), "{target}: {status}");
        assert!(!String::from_utf8_lossy(&body).contains("TOP SECRET"));
    }
    // A symlink that stays inside the root is followed by default.
    assert_eq!(raw_target(&s, "/inside.html"), (200, b"page".to_vec()));
}

#[test]
fn symlink_policy_never() {
    let (_parent, root) = root_with_secret_beside();
    std::os::unix::fs::symlink("page.html", root.join("inside.html")).unwrap();
    let s = Server::start(&root, &["-w", "1", "--follow-symlinks", "never"]);
    assert_eq!(raw_target(&s, "/inside.html").0, 403);
    assert_eq!(raw_target(&s, "/page.html").0, 200);
}

#[test]
fn hidden_files_are_not_served_by_default() {
    let root = site();
    std::fs::write(root.path().join(".env"), "SECRET=1").unwrap();
    std::fs::create_dir(root.path().join(".git")).unwrap();
    std::fs::write(root.path().join(".git/config"), "[core]").unwrap();
    let s = Server::start(root.path(), &["-w", "1"]);
    assert_eq!(raw_target(&s, "/.env").0, 404);
    assert_eq!(raw_target(&s, "/.git/config").0, 404);
    assert_eq!(raw_target(&s, "/%2egit/config").0, 404);
    drop(s);
    let s = Server::start(root.path(), &["-w", "1", "--serve-hidden"]);
    assert_eq!(raw_target(&s, "/.env"), (200, b"SECRET=1".to_vec()));
}

#[test]
fn nul_and_invalid_utf8_in_paths() {
    let root = site();
    let s = Server::start(root.path(), &["-w", "1"]);
    assert_eq!(raw_target(&s, "/page%00.html").0, 400);
    assert_eq!(raw_target(&s, "/%ff%fe.html").0, 404);
    let bytes = s.request(b"GET /\xff\xfe.html HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    let r = &parse_responses(&bytes, false)[0];
    assert!(matches!(r.status, 400 | 404), "{}", r.status);
    let bytes = s.request(b"GET /a\0b HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    assert_eq!(parse_responses(&bytes, false)[0].status, 400);
}

/// The slash redirect names a path on this server whatever the target looked like: a
/// `Location` starting with `//` or `/\` would send a browser to another host.
#[test]
fn the_slash_redirect_never_leaves_the_origin() {
    let root = site();
    let s = Server::start(root.path(), &["-w", "1"]);
    for target in [
        "//evil.example/../dir",
        "//evil.example/%2e%2e/dir",
        "/\\evil.example/../dir",
        "///evil.example/../dir",
        "/%2F%2Fevil.example/..%2Fdir",
        "/\\/evil.example/../../dir",
        "//evil.example/../dir?x=//evil.example",
        "http://evil.example//dir",
        "/dir",
    ] {
        let raw = format!("GET {target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
        let bytes = s.request(raw.as_bytes());
        let r = &parse_responses(&bytes, false)[0];
        assert_eq!(r.status, 301, "{target}");
        assert_eq!(r.header("location"), Some("/dir/"), "{target}");
    }
    // Names that need escaping come back escaped, as one path on this server.
    std::fs::create_dir_all(root.path().join("dir/a b\\c")).unwrap();
    let raw = "GET /dir/a%20b%5Cc HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    let bytes = s.request(raw.as_bytes());
    let r = &parse_responses(&bytes, false)[0];
    assert_eq!(r.header("location"), Some("/dir/a%20b%5Cc/"));
}
