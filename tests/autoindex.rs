//! `--autoindex` over real TCP: off by default (403), an escaped, sorted listing with
//! sizes and dates when on, hidden files and escaping symlinks left out.

mod common;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

use common::{Server, get, request_with, site};

/// The (href, text, date, size) rows of a listing page.
fn rows(html: &str) -> Vec<(String, String, String, String)> {
    html.lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("<tr><td><a href=\"")?;
            let (href, rest) = rest.split_once("\">")?;
            let (text, rest) = rest.split_once("</a></td><td>")?;
            let (date, rest) = rest.split_once("</td><td>")?;
            let size = rest.strip_suffix("</td></tr>")?;
            Some((href.into(), text.into(), date.into(), size.into()))
        })
        .collect()
}

fn listing_site() -> tempfile::TempDir {
    let root = site();
    let d = root.path().join("files");
    std::fs::create_dir(&d).unwrap();
    std::fs::write(d.join("b.txt"), "bb").unwrap();
    std::fs::write(d.join("a.txt"), "a").unwrap();
    std::fs::write(d.join("<img src=x onerror=alert(1)>.html"), "xss").unwrap();
    std::fs::write(d.join("100% & \"q\".txt"), "pct").unwrap();
    std::fs::write(d.join(".hidden"), "h").unwrap();
    std::fs::create_dir(d.join("zdir")).unwrap();
    std::fs::create_dir(d.join("adir")).unwrap();
    std::fs::write(d.join(OsStr::from_bytes(b"bad\xff.txt")), "latin").unwrap();
    std::os::unix::fs::symlink("/etc", d.join("out")).unwrap();
    std::os::unix::fs::symlink("a.txt", d.join("link.txt")).unwrap();
    root
}

#[test]
fn directories_without_index_are_403_by_default() {
    let root = listing_site();
    let s = Server::start(root.path(), &["-w", "1"]);
    assert_eq!(s.get("/files/").status, 403);
    assert_eq!(s.get("/noindex/").status, 403);
}

#[test]
fn listing_is_sorted_with_directories_first_and_shows_sizes_and_dates() {
    let root = listing_site();
    let s = Server::start(root.path(), &["-w", "1", "--autoindex"]);
    let r = s.get("/files/");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    let html = String::from_utf8(r.body).unwrap();
    assert!(html.contains("<title>Index of /files/</title>"), "{html}");
    let rows = rows(&html);
    let hrefs: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(
        hrefs,
        [
            "../",
            "adir/",
            "zdir/",
            "100%25%20%26%20%22q%22.txt",
            "%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E.html",
            "a.txt",
            "b.txt",
            "bad%FF.txt",
            "link.txt",
        ],
        "{html}"
    );
    let by_href = |h: &str| rows.iter().find(|r| r.0 == h).unwrap().clone();
    assert_eq!(by_href("b.txt").3, "2");
    assert_eq!(
        by_href("link.txt").3,
        "1",
        "a symlink inside the root shows its target"
    );
    assert_eq!(by_href("adir/").3, "-");
    let mtime = std::fs::metadata(root.path().join("files/b.txt"))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(by_href("b.txt").2, httpdate::fmt_http_date(mtime));
    // Hidden files and a symlink out of the root are not shown.
    assert!(!html.contains(".hidden"));
    assert!(!html.contains("href=\"out"));
}

#[test]
fn names_are_escaped_and_links_lead_to_the_files() {
    let root = listing_site();
    let s = Server::start(root.path(), &["-w", "1", "--autoindex"]);
    let html = String::from_utf8(s.get("/files/").body).unwrap();
    assert!(!html.contains("<img"), "{html}");
    assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;.html</a>"));
    assert!(html.contains("100% &amp; &quot;q&quot;.txt</a>"));
    assert!(html.contains("bad\u{fffd}.txt</a>"));
    for (href, _, _, _) in rows(&html) {
        if href == "../" || href.ends_with('/') {
            continue;
        }
        let r = get(s.addr, &format!("/files/{href}"));
        assert_eq!(r.status, 200, "{href}");
    }
    assert_eq!(s.get("/files/bad%FF.txt").body, b"latin");
    assert_eq!(s.get("/files/100%25%20%26%20%22q%22.txt").body, b"pct");
}

#[test]
fn index_html_still_wins_and_the_root_can_be_listed() {
    let root = listing_site();
    std::fs::remove_file(root.path().join("index.html")).unwrap();
    let s = Server::start(root.path(), &["-w", "1", "--autoindex"]);
    assert_eq!(s.get("/dir/").body, b"<p>dir index</p>\n");
    let r = s.get("/");
    assert_eq!(r.status, 200);
    let html = String::from_utf8(r.body).unwrap();
    assert!(html.contains("<title>Index of /</title>"));
    assert!(!html.contains("href=\"../\""), "no parent link at the root");
    assert!(html.contains("href=\"files/\""));
    assert!(html.contains("href=\"page.html\""));
    // Without the trailing slash it is still a redirect.
    assert_eq!(s.get("/files").status, 301);
}

#[test]
fn hidden_entries_are_listed_only_with_serve_hidden() {
    let root = listing_site();
    let s = Server::start(root.path(), &["-w", "1", "--autoindex", "--serve-hidden"]);
    let html = String::from_utf8(s.get("/files/").body).unwrap();
    assert!(html.contains("href=\".hidden\""), "{html}");
}

#[test]
fn head_of_a_listing_has_the_same_headers_and_no_body() {
    let root = listing_site();
    let s = Server::start(root.path(), &["-w", "1", "--autoindex"]);
    let g = s.get("/files/");
    let h = request_with(s.addr, "HEAD", "/files/", &[]);
    assert_eq!(h.status, 200);
    assert!(h.body.is_empty());
    assert_eq!(h.header("content-length"), g.header("content-length"));
    assert_eq!(h.header("content-type"), g.header("content-type"));
}
